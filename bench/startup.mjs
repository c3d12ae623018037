// Benchmark 5: start-up and size. A cold import of @cardport/core in a fresh Node process,
// against a cold import of zod alone (the schema library core is built on: what an
// application validating cards by hand would load anyway), and core's minified+gzipped size
// with zod left out of the bundle. Also the first card checked after the import, by the
// compiled Card schema (compiled then) and by the plain one.
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { main } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)

/** Runs `script` in `runs` fresh Node processes; the median of the milliseconds each prints. */
function medianOfFreshRuns(script, runs) {
  const times = []
  for (let i = 0; i < runs; i++) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: here })
    times.push(Number(out.toString()))
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}

function coldImportMs(specifier, runs) {
  return medianOfFreshRuns(
    `const t = performance.now(); await import(${JSON.stringify(specifier)}); process.stdout.write(String(performance.now() - t))`,
    runs,
  )
}

// A valid card, for the first parse after a cold import.
const CARD = {
  id: 'card_1',
  provider: 'stripe',
  owner: { type: 'customer', id: 'cus_1' },
  brand: 'visa',
  last4: '4242',
  expMonth: 12,
  expYear: 2040,
  holderName: 'Jenny Rosen',
  address: {
    line1: '510 Townsend St',
    line2: null,
    city: 'San Francisco',
    state: 'CA',
    postalCode: '94103',
    country: 'US',
  },
  country: 'US',
  fingerprint: 'Xt5EWLLDS7FJjR1c',
  funding: 'credit',
  checks: { cvc: 'pass', addressLine1: null, postalCode: null },
  currency: null,
  isDefault: true,
  status: 'active',
  metadata: { nickname: 'work' },
  createdAt: null,
}

/**
 * The first card checked in a fresh process, after the import: `compiledCardSchema()` compiles
 * the Card schema then (not at import), so its first card carries that cost once.
 */
function firstCardMs(schemaExpression, runs) {
  return medianOfFreshRuns(
    `const core = await import('@cardport/core'); const card = ${JSON.stringify(CARD)}; const t = performance.now(); ${schemaExpression}.parse(card); process.stdout.write(String(performance.now() - t))`,
    runs,
  )
}

async function gzippedSize(external) {
  const result = await build({
    entryPoints: [require.resolve('@cardport/core')],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    external,
    write: false,
  })
  const code = result.outputFiles[0].contents
  return { minified: code.byteLength, gzipped: gzipSync(code).byteLength }
}

export async function run({ runs = 15 } = {}) {
  // Alternate so that neither side always runs on the warmer disk cache.
  const core = []
  const zod = []
  for (let i = 0; i < 3; i++) {
    core.push(coldImportMs('@cardport/core', Math.ceil(runs / 3)))
    zod.push(coldImportMs('zod', Math.ceil(runs / 3)))
  }
  const median = (values) => values.toSorted((a, b) => a - b)[1]
  const coreMs = median(core)
  const zodMs = median(zod)
  const firstCompiled = firstCardMs('core.compiledCardSchema()', 5)
  const firstPlain = firstCardMs('core.CardSchema', 5)
  const withoutZod = await gzippedSize(['zod'])
  const withoutDeps = await gzippedSize(['zod', 'iso-3166'])
  console.log('\nstart-up and size: @cardport/core')
  console.log(`  cold import @cardport/core       median ${coreMs.toFixed(1).padStart(7)} ms`)
  console.log(`  cold import zod (alone)          median ${zodMs.toFixed(1).padStart(7)} ms`)
  console.log(`  ratio ${(coreMs / zodMs).toFixed(3)}`)
  console.log(
    `  first card after the import: compiledCardSchema() ${firstCompiled.toFixed(1)} ms (compiling included), CardSchema ${firstPlain.toFixed(1)} ms`,
  )
  console.log(
    `  bundle without zod: ${(withoutZod.minified / 1024).toFixed(1)} KiB minified, ${(withoutZod.gzipped / 1024).toFixed(1)} KiB gzipped` +
      ` (of which country data: ${((withoutZod.gzipped - withoutDeps.gzipped) / 1024).toFixed(1)} KiB gzipped)`,
  )
  return {
    title: 'start-up and size',
    coldImportMs: coreMs,
    zodImportMs: zodMs,
    ratio: coreMs / zodMs,
    firstCardCompiledMs: firstCompiled,
    firstCardPlainMs: firstPlain,
    gzippedBytesWithoutZod: withoutZod.gzipped,
    minifiedBytesWithoutZod: withoutZod.minified,
  }
}

await main(import.meta.url, run)
