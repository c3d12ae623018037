// The package files check fails where it should: each case lays out a repository in a temporary
// folder (a root LICENSE, packages with their package.json, LICENSE and README) and runs the
// script on it as `pnpm lint` runs it on this one.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const script = fileURLToPath(new URL('./check-package-files.mjs', import.meta.url))
const folder = mkdtempSync(join(tmpdir(), 'cardport-package-files-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

const LICENSE = 'MIT License\n\nCopyright (c) 2026 the cardport contributors\n'
const repository = {
  type: 'git',
  url: 'git+https://github.com/cardport/cardport.git',
  directory: 'packages/a',
}
let runs = 0

/** Writes `files` (path to text, or to an object written as JSON) and runs the script there. */
function check(files) {
  const root = join(folder, `repo-${runs++}`)
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true })
    const text = typeof content === 'string' ? content : JSON.stringify(content)
    writeFileSync(join(root, path), text)
  }
  const run = spawnSync(process.execPath, [script, root], { encoding: 'utf8' })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr }
}

/** One published package `a` with the root's LICENSE and the README given. */
function repo(readme, extra = {}) {
  return {
    LICENSE,
    'packages/a/package.json': { name: '@cardport/a', repository },
    'packages/a/LICENSE': LICENSE,
    'packages/a/README.md': readme.join('\n'),
    ...extra,
  }
}

describe('check-package-files', () => {
  it('passes copies of the root LICENSE and links that stay in the package', () => {
    const { status, stdout, stderr } = check(
      repo(
        [
          '# a',
          'See [the options](#options), [Stripe](https://stripe.com/docs), [mail](mailto:a@b.c),',
          '[the licence](./LICENSE), [a file](docs/x.md#part) and [`the code`](https://github.com/cardport/cardport/blob/main/examples/x.ts).',
          '```md',
          '[in a code block](../../examples/x.ts)',
          '```',
          'Or `[in code](../../x.md)`.',
        ],
        // A private package is not published: its files are not checked.
        { 'packages/b/package.json': { name: 'b', private: true } },
      ),
    )
    expect(stderr).toBe('')
    expect(stdout).toContain('package files: 1 packages ship the root LICENSE and no link out')
    expect(status).toBe(0)
  })

  it("fails on a package without a LICENSE, or with one that is not the root's", () => {
    const { status, stderr } = check({
      ...repo(['# a']),
      'packages/b/package.json': { name: '@cardport/b' },
      'packages/c/package.json': { name: '@cardport/c' },
      'packages/c/LICENSE': LICENSE.replace('2026', '2025'),
    })
    expect(stderr).toContain('packages/b/LICENSE is missing')
    expect(stderr).toContain('packages/c/LICENSE differs from the root LICENSE')
    expect(stderr).not.toContain('packages/a/')
    expect(stderr).toContain('package files: 2 problems')
    expect(status).toBe(1)
  })

  it('fails without a root LICENSE', () => {
    const files = repo(['# a'])
    delete files.LICENSE
    const { status, stderr } = check(files)
    expect(stderr).toContain('LICENSE is missing at the root')
    expect(status).toBe(1)
  })

  it('fails on relative links that leave the package, at their line, with the GitHub address', () => {
    const { status, stderr } = check(
      repo([
        '# a',
        '[`checkout.test.ts`](../../examples/testing-with-msw/src/checkout.test.ts) does it.',
        '![diagram](<../../docs/a diagram.png> "title")',
        '[guide]: ../../docs/adapter-authors.md#conformance',
        '<a href="../core/README.md">core</a> and [root](/README.md)',
      ]),
    )
    expect(stderr).toContain(
      'packages/a/README.md:2: ../../examples/testing-with-msw/src/checkout.test.ts leaves the package: the tarball and the npm page have no such file; link to https://github.com/cardport/cardport/blob/main/examples/testing-with-msw/src/checkout.test.ts',
    )
    expect(stderr).toContain('packages/a/README.md:3: ../../docs/a diagram.png leaves the package')
    expect(stderr).toContain(
      'packages/a/README.md:4: ../../docs/adapter-authors.md#conformance leaves the package: the tarball and the npm page have no such file; link to https://github.com/cardport/cardport/blob/main/docs/adapter-authors.md',
    )
    expect(stderr).toContain(
      'link to https://github.com/cardport/cardport/blob/main/packages/core/README.md',
    )
    expect(stderr).toContain('packages/a/README.md:5: /README.md leaves the package')
    expect(stderr).toContain('package files: 5 problems')
    expect(status).toBe(1)
  })
})
