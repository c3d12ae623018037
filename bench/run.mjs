// Runs the benchmarks, each in a child process of its own (`node bench/<name>.mjs --json=<file>`),
// and prints a summary of every ratio against its target. Benchmarks import the BUILT packages:
// `pnpm bench` builds them first.
//
//   node bench/run.mjs                       every benchmark
//   node bench/run.mjs --only reconcile      one (or a comma-separated list)
//   node bench/run.mjs --out results.json    also write every result there
//
// Other flags go to each benchmark (`--cards 20000` for reconcile, `--time 3000` …). A target
// not met is reported, not an error: the exit code is 1 only when a benchmark failed to run.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseFlags } from './lib.mjs'

const here = dirname(fileURLToPath(import.meta.url))

/** The benchmarks of the issue, in its order. */
const BENCHMARKS = ['stripe-overhead', 'marketplace-http', 'normalize', 'reconcile', 'startup']

const { only, out, ...rest } = parseFlags()
const chosen = only === undefined ? BENCHMARKS : String(only).split(',')
const unknown = chosen.filter((name) => !BENCHMARKS.includes(name))
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; there are: ${BENCHMARKS.join(', ')}`)
  process.exit(2)
}
const passed = Object.entries(rest).flatMap(([name, value]) =>
  value === true ? [`--${name}`] : [`--${name}`, String(value)],
)

const dir = mkdtempSync(join(tmpdir(), 'cardport-bench-results-'))
const results = {}
const failures = []
console.log(`cardport benchmarks on Node ${process.version}: ${chosen.join(', ')}`)
try {
  for (const name of chosen) {
    const file = join(dir, `${name}.json`)
    const started = performance.now()
    console.log(`\n=== ${name} ===`)
    const child = spawn(
      process.execPath,
      [join(here, `${name}.mjs`), `--json=${file}`, ...passed],
      { stdio: 'inherit' },
    )
    const [code, signal] = await once(child, 'exit')
    const seconds = ((performance.now() - started) / 1000).toFixed(0)
    if (code !== 0) {
      failures.push(`${name} (exit ${code ?? signal})`)
      console.log(`=== ${name} FAILED after ${seconds} s ===`)
      continue
    }
    results[name] = JSON.parse(readFileSync(file, 'utf8'))
    console.log(`=== ${name}: ${seconds} s ===`)
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

printSummary(rowsOf(results), failures)
if (out) writeFileSync(out, JSON.stringify(results, null, 2))
if (failures.length > 0) process.exitCode = 1

/** One summary row per measurement that has a target, plus the figures without one. */
function rowsOf(all) {
  const rows = []
  for (const [name, result] of Object.entries(all)) {
    for (const entry of [result].flat()) {
      if (entry.informational) continue
      if (entry.skipped) {
        rows.push({ name, measure: entry.title, value: 'skipped', target: '', verdict: '—' })
        continue
      }
      if (name === 'startup') {
        rows.push({
          name,
          measure: 'cold import @cardport/core / zod',
          value: `${entry.ratio.toFixed(2)}× (${entry.coldImportMs.toFixed(0)} ms)`,
          target: '(none)',
          verdict: '—',
        })
        rows.push({
          name,
          measure: 'core min+gzip without zod',
          value: `${(entry.gzippedBytesWithoutZod / 1024).toFixed(1)} KiB`,
          target: '(none)',
          verdict: '—',
        })
        continue
      }
      rows.push({
        name,
        measure: entry.title,
        value: `${entry.ratio.toFixed(3)}×`,
        target: entry.target,
        verdict: `${entry.met ? 'met' : 'NOT met'}${entry.note ? ` (${entry.note})` : ''}`,
      })
      if (entry.rssGrowthMb !== undefined) {
        rows.push({
          name,
          measure: `${entry.title}: RSS growth`,
          value: `${entry.rssGrowthMb.toFixed(1)} MB`,
          target: entry.memoryTarget,
          verdict: entry.memoryMet ? 'met' : 'NOT met',
        })
      }
    }
  }
  return rows
}

function printSummary(rows, failed) {
  const header = {
    name: 'benchmark',
    measure: 'measure',
    value: 'result',
    target: 'target',
    verdict: '',
  }
  const all = [header, ...rows]
  const width = (key) => Math.max(...all.map((row) => row[key].length))
  const line = (row) =>
    ['name', 'measure', 'value', 'target', 'verdict']
      .map((key) => row[key].padEnd(width(key)))
      .join('  ')
  console.log('\nsummary')
  console.log(line(header))
  console.log(
    ['name', 'measure', 'value', 'target', 'verdict']
      .map((key) => '-'.repeat(width(key)))
      .join('  '),
  )
  for (const row of rows) console.log(line(row))
  if (failed.length > 0) console.log(`\nfailed to run: ${failed.join(', ')}`)
}
