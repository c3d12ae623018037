// Checks the files each published package (packages/*, not private) ships beside its build, as
// npm packs them: the tarball holds the package's folder only (`files`, plus package.json,
// README and LICENSE), and the npm page renders that README. Run by `pnpm lint`.
//
// - LICENSE: npm ships a package's own LICENSE, never the repository's. Each package keeps a
//   copy of the root LICENSE, the one source of truth: a copy missing or differing fails.
// - README links: a relative link that leaves the package's folder (`../../examples/…`) points
//   at a file neither the tarball nor the npm page has. Link to the repository on GitHub
//   instead; the error gives the address.
//
// `node scripts/check-package-files.mjs [root]` checks the repository at `root` (this one by
// default).
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url)))
const problems = []
const packages = publishedPackages()

const license = join(root, 'LICENSE')
if (!existsSync(license)) problems.push('LICENSE is missing at the root')
else for (const folder of packages) checkLicense(folder, readFileSync(license))
for (const folder of packages) checkReadmeLinks(folder)

for (const problem of problems) console.error(problem)
if (problems.length > 0) {
  console.error(`package files: ${problems.length} problems`)
  process.exitCode = 1
} else {
  console.log(`package files: ${packages.length} packages ship the root LICENSE and no link out`)
}

/** The folders under packages/ whose package.json is not private. */
function publishedPackages() {
  const base = join(root, 'packages')
  if (!existsSync(base)) return []
  return readdirSync(base, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(base, entry.name))
    .filter((folder) => existsSync(join(folder, 'package.json')))
    .filter(
      (folder) => JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')).private !== true,
    )
    .sort()
}

/** The package's LICENSE is a byte-for-byte copy of the root's. */
function checkLicense(folder, expected) {
  const file = join(folder, 'LICENSE')
  if (!existsSync(file)) {
    problems.push(
      `${show(file)} is missing: copy the root LICENSE there (npm ships the package's own)`,
    )
  } else if (!readFileSync(file).equals(expected)) {
    problems.push(`${show(file)} differs from the root LICENSE: copy the root LICENSE there again`)
  }
}

/** Every relative link of the package's README stays inside the package's folder. */
function checkReadmeLinks(folder) {
  const file = join(folder, 'README.md')
  if (!existsSync(file)) return
  const lines = readFileSync(file, 'utf8').split(/\r?\n/)
  let fence = null // the marker of the code block the line is in
  for (const [index, line] of lines.entries()) {
    const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1]
    if (marker && (fence === null || marker.startsWith(fence))) {
      fence = fence === null ? marker : null
      continue
    }
    if (fence !== null) continue
    for (const target of linkTargets(line)) {
      if (/^[a-z][a-z\d+.-]*:/i.test(target) || target.startsWith('#')) continue
      const path = target.replace(/[?#].*$/, '')
      if (path === '') continue
      // A link from `/` is from the repository's root on GitHub, and nowhere on npm.
      const resolved = path.startsWith('/')
        ? join(root, decodeURI(path))
        : resolve(folder, decodeURI(path))
      const inside = relative(folder, resolved)
      if (!path.startsWith('/') && inside.split(sep)[0] !== '..' && !isAbsolute(inside)) continue
      const address = githubAddress(folder, relative(root, resolved))
      problems.push(
        `${show(file)}:${index + 1}: ${target} leaves the package: the tarball and the npm page have no such file${address ? `; link to ${address}` : ''}`,
      )
    }
  }
}

/** The targets of a line's Markdown links, images, reference definitions and HTML links. */
function linkTargets(line) {
  const text = line.replace(/`+[^`]*`+/g, (code) => ' '.repeat(code.length))
  return [
    ...[...text.matchAll(/\]\(\s*<([^>]*)>/g)].map((match) => match[1]),
    ...[...text.matchAll(/\]\(\s*([^)\s<][^)\s]*)/g)].map((match) => match[1]),
    ...[...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)/g)].map((match) => match[1]),
    ...[...text.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/gi)].map((match) => match[1]),
  ]
}

/** The file's address on GitHub, from the package's `repository`, on branch main. */
function githubAddress(folder, path) {
  const { repository } = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8'))
  const url = typeof repository === 'string' ? repository : repository?.url
  const base = /github\.com[/:]([^/]+\/[^/]+?)(?:\.git)?$/.exec(url ?? '')?.[1]
  return base ? `https://github.com/${base}/blob/main/${path.split('\\').join('/')}` : undefined
}

function show(file) {
  return relative(root, file)
}
