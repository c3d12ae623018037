// Type-checks every ```ts block of the READMEs (README.md, packages/*/README.md,
// examples/*/README.md) and of the guides (docs/*.md), as a user who copies it into a strict project would compile it. Run by
// `pnpm lint`, after `pnpm build`: `@cardport/*` resolve to the built declaration files, as in
// `type-tests/`. `node scripts/check-readme-snippets.mjs [README.md …]` checks the files given.
//
// Each block becomes a module of its own (an `export {}` is added) in a temporary folder inside
// the repository, and one `tsc --noEmit` run checks them all under type-tests' options (strict,
// `exactOptionalPropertyTypes`, `noUncheckedIndexedAccess`). An error is reported at its README
// line. A ```ts block must compile as it is; a line that shows a compile error on purpose says
// so with `// @ts-expect-error`, which fails when the error goes away.
//
// A block that shows a part of a program (a variable made earlier, a method of an object) says
// what it assumes in an HTML comment right before it, which GitHub does not render:
//
//   <!-- snippet-context
//   import { createCardSync, type CardProvider, memoryStore } from '@cardport/core'
//   declare const provider: CardProvider
//   -->
//
// The comment's lines are TypeScript put before the block, or around it where one of them is
// `/* snippet */` alone. Keep them to what the reader already has (imports, `declare`d names, and
// for a fragment such as one method of an object, the code around it), never code that makes a
// wrong snippet compile. A relative import is relative to a folder at the repository's root
// (`../examples/custom-provider/src/vault-api.js`); the workspace files it brings in are checked
// by their own package's typecheck, not here. HTML comments cannot hold `--`. A comment that no
// ```ts block follows is an error. A block that cannot be a module (shell, JSON, output) is not
// ```ts.
import { execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * Type packages of modules the snippets import that the root package does not depend on, from
 * the workspace package that installs each: linked into the folder's own `node_modules/@types`.
 */
const EXTRA_TYPES = {
  express: 'examples/express-webhooks',
  pg: 'packages/store-postgres',
  'better-sqlite3': 'packages/store-sqlite',
}

const CONTEXT_START = '<!-- snippet-context'
const PLACEHOLDER = '/* snippet */'

const readmes = process.argv.length > 2 ? process.argv.slice(2).map((p) => resolve(p)) : defaults()
const problems = []
const snippets = readmes.flatMap((file) => extract(file))

if (readmes.length > 0 && snippets.length === 0 && problems.length === 0) {
  problems.push(`no \`\`\`ts block found in ${readmes.map(show).join(', ')}`)
}
const missing = snippets
  .flatMap((s) => [s.code, ...(s.context?.before ?? []), ...(s.context?.after ?? [])])
  .flatMap((text) => [...text.matchAll(/from '@cardport\/([\w-]+)/g)].map((match) => match[1]))
  .filter((name, index, all) => all.indexOf(name) === index)
  .filter((name) => !existsSync(join(root, 'packages', name, 'dist')))
if (missing.length > 0) {
  console.error(`packages/{${missing.join(',')}}/dist is missing: run \`pnpm build\` first`)
  process.exit(1)
}

if (snippets.length > 0) problems.push(...typeCheck(snippets))
for (const problem of problems) console.error(problem)
if (problems.length > 0) {
  console.error(`readme snippets: ${problems.length} problems`)
  process.exitCode = 1
} else {
  console.log(
    `readme snippets: ${snippets.length} \`\`\`ts blocks in ${readmes.length} files compile`,
  )
}

/** README.md, packages/*\/README.md, examples/*\/README.md, docs/*.md. */
function defaults() {
  const inFolders = (folder) =>
    readdirSync(join(root, folder), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(root, folder, entry.name, 'README.md'))
      .filter((file) => existsSync(file))
      .sort()
  const guides = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(root, 'docs', name))
  return [join(root, 'README.md'), ...inFolders('packages'), ...inFolders('examples'), ...guides]
}

/** The ```ts blocks of one file, each with its context and where its lines are. */
function extract(file) {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/)
  const found = []
  let context = null // { line, before, after } of the last snippet-context comment
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.trim().startsWith(CONTEXT_START)) {
      if (context)
        problems.push(
          `${show(file)}:${context.line}: snippet-context not followed by a \`\`\`ts block`,
        )
      const end = lines.findIndex((l, j) => j >= i && l.includes('-->'))
      if (end === -1) {
        problems.push(`${show(file)}:${i + 1}: snippet-context comment not closed`)
        break
      }
      const body = lines.slice(i, end + 1)
      body[0] = body[0].trim().slice(CONTEXT_START.length)
      body[body.length - 1] = body[body.length - 1].replace(/-->.*$/, '')
      const at = body.findIndex((l) => l.trim() === PLACEHOLDER)
      context = {
        line: i + 1,
        before: at === -1 ? body : body.slice(0, at),
        after: at === -1 ? [] : body.slice(at + 1),
      }
      i = end
      continue
    }
    const fence = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(line)
    if (!fence) {
      if (context && line.trim() !== '') {
        problems.push(
          `${show(file)}:${context.line}: snippet-context not followed by a \`\`\`ts block`,
        )
        context = null
      }
      continue
    }
    const [, indent, marks, lang] = fence
    const close = new RegExp(`^\\s*${marks[0]}{${marks.length},}\\s*$`)
    let end = i + 1
    while (end < lines.length && !close.test(lines[end])) end++
    const isTs = lang === 'ts' || lang === 'typescript'
    if (isTs) {
      const code = lines
        .slice(i + 1, end)
        .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
      found.push({ file, fenceLine: i + 1, code: code.join('\n'), lines: code.length, context })
    } else if (context) {
      problems.push(
        `${show(file)}:${context.line}: snippet-context not followed by a \`\`\`ts block`,
      )
    }
    context = null
    i = end
  }
  if (context)
    problems.push(`${show(file)}:${context.line}: snippet-context not followed by a \`\`\`ts block`)
  return found
}

/** One tsc run over every snippet; its errors, at their README lines. */
function typeCheck(list) {
  const folder = mkdtempSync(join(root, '.readme-snippets-'))
  try {
    writeFileSync(join(folder, 'package.json'), '{ "type": "module" }\n')
    mkdirSync(join(folder, 'node_modules', '@types'), { recursive: true })
    for (const [name, workspacePackage] of Object.entries(EXTRA_TYPES)) {
      const types = join(root, workspacePackage, 'node_modules', '@types', name)
      symlinkSync(realpathSync(types), join(folder, 'node_modules', '@types', name), 'junction')
    }
    const compilerOptions = {
      target: 'ES2022',
      lib: ['ES2023'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      noImplicitOverride: true,
      verbatimModuleSyntax: true,
      isolatedModules: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
    }
    const files = new Map()
    list.forEach((snippet, index) => {
      const name = `snippet-${String(index).padStart(3, '0')}.ts`
      const before = snippet.context?.before ?? []
      const after = snippet.context?.after ?? []
      writeFileSync(
        join(folder, name),
        [...before, snippet.code, ...after, 'export {}', ''].join('\n'),
      )
      files.set(name, { ...snippet, offset: before.length })
    })
    writeFileSync(
      join(folder, 'tsconfig.json'),
      JSON.stringify({ compilerOptions, include: ['*.ts'] }, null, 2),
    )
    const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
    let output = ''
    try {
      execFileSync(process.execPath, [tsc, '-p', folder, '--pretty', 'false'], {
        cwd: folder, // tsc names files relative to it
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    } catch (error) {
      output = `${error.stdout ?? ''}${error.stderr ?? ''}`
      if (!output.trim()) throw error
    }
    return report(output, files, folder)
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

/** tsc's diagnostics, each at the README line it belongs to. */
function report(output, files, folder) {
  const messages = []
  let skipping = false // the continuation lines of a diagnostic left out
  for (const line of output.split(/\r?\n/)) {
    if (!line.trim()) continue
    const match = /^(.*?)\((\d+),(\d+)\): (.*)$/.exec(line)
    if (!match) {
      if (/^\s/.test(line) && (skipping || messages.length > 0)) {
        if (!skipping) messages[messages.length - 1] += `\n${line}`
      } else {
        skipping = false
        messages.push(line.replaceAll(folder, '<snippets>'))
      }
      continue
    }
    skipping = false
    const [, path, lineText, column, text] = match
    const snippet = files.get(relative(folder, resolve(folder, path)))
    // A workspace file a snippet imports (an example's source) is checked by its own package's
    // typecheck, under that package's options: only the snippets are this script's business.
    if (!snippet) {
      skipping = true
      continue
    }
    const at = Number(lineText) - 1 - snippet.offset
    if (at >= 0 && at < snippet.lines) {
      messages.push(`${show(snippet.file)}:${snippet.fenceLine + 1 + at}:${column}: ${text}`)
    } else {
      messages.push(
        `${show(snippet.file)}:${snippet.context?.line ?? snippet.fenceLine}: in the snippet-context of the block at line ${snippet.fenceLine}: ${text}`,
      )
    }
  }
  return messages
}

function show(file) {
  const path = relative(root, file)
  return path.startsWith('..') ? file : path
}
