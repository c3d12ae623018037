// Fails when a field of a public type inferred from a zod schema shows no documentation in an
// editor's hover over the published declarations (`dist/index.d.ts`). TypeScript prints an
// inferred schema type with its fields bare: the comments reach the declarations only through a
// named shape (`z.ZodObject<typeof cardShape>`). Asks the TypeScript language service, as an
// editor does, for each field of each type below. Run by `pnpm lint`, after `pnpm build`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import ts from 'typescript'

/** Each public type, and its fields (nested ones by path), as a consumer of the package reads them. */
const TYPES = {
  '@cardport/core': {
    Card: [
      'id',
      'provider',
      'owner',
      'owner.type',
      'owner.id',
      'brand',
      'last4',
      'expMonth',
      'expYear',
      'holderName',
      'address',
      'address.line1',
      'address.country',
      'country',
      'fingerprint',
      'funding',
      'checks',
      'checks.cvc',
      'checks.addressLine1',
      'checks.postalCode',
      'currency',
      'isDefault',
      'status',
      'metadata',
      'createdAt',
    ],
    StoredCard: ['last4', 'owner.id', 'address.postalCode'],
    Owner: ['type', 'id'],
    CardAddress: ['line1', 'line2', 'city', 'state', 'postalCode', 'country'],
    CardDetailsInput: ['number', 'expMonth', 'expYear', 'cvc', 'holderName', 'phone', 'address'],
    CardDetails: ['number', 'expMonth', 'expYear', 'cvc', 'holderName', 'address'],
    CreateCardInput: ['source', 'metadata', 'makeDefault', 'currency'],
    CardUpdate: ['holderName', 'expMonth', 'expYear', 'address', 'metadata'],
  },
}

const root = resolve(import.meta.dirname, '..')
const folder = mkdtempSync(join(root, 'node_modules', '.check-declaration-docs-'))
const file = join(folder, 'consumer.ts')
try {
  // One consumer file: a declared value of each type, and each field read from it. A probe is
  // the position of a field's last character, where the hover is asked for.
  let text = ''
  const probes = []
  for (const [pkg, types] of Object.entries(TYPES)) {
    text += `import type { ${Object.keys(types).join(', ')} } from '${pkg}'\n`
    for (const [type, fields] of Object.entries(types)) {
      text += `declare const the${type}: ${type}\n`
      for (const field of fields) {
        const read = `the${type}.${field}`
        probes.push({ what: `${type}.${field}`, position: text.length + read.length - 1 })
        text += `${read}\n`
      }
    }
  }
  writeFileSync(file, text)
  const service = languageService(file, root)
  const bare = probes.filter(({ position }) => {
    const info = service.getQuickInfoAtPosition(file, position)
    return ts.displayPartsToString(info?.documentation).trim() === ''
  })
  const errors = service.getSemanticDiagnostics(file)
  if (errors.length > 0) {
    for (const error of errors)
      console.error(ts.flattenDiagnosticMessageText(error.messageText, '\n'))
    throw new Error(
      'check-declaration-docs: the consumer file does not compile (is `pnpm build` done?)',
    )
  }
  if (bare.length > 0) {
    console.error(`${bare.length} of ${probes.length} fields show no documentation in a hover:`)
    for (const { what } of bare) console.error(`  ${what}`)
    process.exitCode = 1
  } else {
    console.log(`declaration docs: all ${probes.length} fields show their documentation`)
  }
} finally {
  rmSync(folder, { recursive: true, force: true })
}

function languageService(file, cwd) {
  const options = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    skipLibCheck: true,
    noEmit: true,
  }
  return ts.createLanguageService({
    getScriptFileNames: () => [file],
    getScriptVersion: () => '1',
    getScriptSnapshot: (name) =>
      ts.sys.fileExists(name) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(name)) : undefined,
    getCurrentDirectory: () => cwd,
    getCompilationSettings: () => options,
    getDefaultLibFileName: ts.getDefaultLibFilePath,
    fileExists: ts.sys.fileExists,
    readFile: ts.sys.readFile,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
    realpath: ts.sys.realpath,
  })
}
