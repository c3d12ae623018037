// The README snippet check fails where it should: each README here is written to a temporary
// folder and checked by the script as `pnpm lint` runs it. No snippet imports a workspace
// package, so no build is needed.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const script = fileURLToPath(new URL('./check-readme-snippets.mjs', import.meta.url))
const folder = mkdtempSync(join(tmpdir(), 'cardport-readme-snippets-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

/** Writes `lines` as a README and runs the script on the READMEs given. */
function check(...readmes) {
  const files = readmes.map(({ name, lines }) => {
    const file = join(folder, name)
    writeFileSync(file, `${lines.join('\n')}\n`)
    return file
  })
  const run = spawnSync(process.execPath, [script, ...files], { encoding: 'utf8' })
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, files }
}

const fence = '```'

describe('check-readme-snippets', () => {
  it('passes snippets that compile, with their context, and checks no other block', () => {
    const { status, stdout, stderr } = check({
      name: 'GOOD.md',
      lines: [
        '# good',
        `${fence}ts`,
        "import { readFileSync } from 'node:fs'",
        "const text: string = readFileSync('x', 'utf8')",
        fence,
        '<!-- snippet-context',
        'declare const owner: { id: string }',
        'async function wrapper() {',
        '/* snippet */',
        '}',
        '-->',
        '',
        `${fence}ts`,
        'return owner.id // a fragment of a function',
        fence,
        `${fence}ts`,
        '// @ts-expect-error: a number is not a string, as the README says',
        "const wrong: number = 'one'",
        fence,
        `${fence}sh`,
        'this is not TypeScript at all (',
        fence,
      ],
    })
    expect(stderr).toBe('')
    expect(stdout).toContain('3 ```ts blocks in 1 files compile')
    expect(status).toBe(0)
  })

  it('reports each broken snippet at its README line, and fails', () => {
    const { status, stderr, files } = check({
      name: 'BROKEN.md',
      lines: [
        '# broken', // 1
        '', // 2
        `${fence}ts`, // 3
        'const shared = 1', // 4
        "const count: number = 'one'", // 5: wrong type
        fence, // 6
        '', // 7
        `${fence}ts`, // 8
        'console.log(shared) // each block is a module of its own', // 9: not in scope here
        'const card = { last4: "4242" }', // 10
        'card.lastFour', // 11: a misspelt property
        fence, // 12
        `${fence}ts`, // 13
        '// @ts-expect-error: the error went away', // 14
        'const fine: string = "text"', // 15
        fence, // 16
      ],
    })
    const readme = files[0]
    expect(status).toBe(1)
    expect(stderr).toContain(`${readme}:5:7: error TS2322`)
    expect(stderr).toContain(`${readme}:9:13: error TS2304: Cannot find name 'shared'`)
    expect(stderr).toContain(`${readme}:11:6: error TS2339`)
    expect(stderr).toContain(`${readme}:14:1: error TS2578: Unused '@ts-expect-error' directive`)
    expect(stderr).toContain('readme snippets: 4 problems')
  })

  it('reports a context that fails to compile at the comment, and one that no ts block follows', () => {
    const { status, stderr, files } = check({
      name: 'CONTEXT.md',
      lines: [
        '<!-- snippet-context', // 1
        'declare const owner: UnknownType', // 2
        '-->', // 3
        '', // 4
        `${fence}ts`, // 5
        'export const id = owner', // 6
        fence, // 7
        '', // 8
        '<!-- snippet-context', // 9
        'declare const stale: string', // 10
        '-->', // 11
        '', // 12
        `${fence}sh`, // 13
        'echo the context above belongs to no ts block', // 14
        fence, // 15
      ],
    })
    const readme = files[0]
    expect(status).toBe(1)
    expect(stderr).toContain(
      `${readme}:1: in the snippet-context of the block at line 5: error TS2304: Cannot find name 'UnknownType'`,
    )
    expect(stderr).toContain(`${readme}:9: snippet-context not followed by a \`\`\`ts block`)
  })

  it('fails on READMEs that hold no ts block at all', () => {
    const { status, stderr } = check({ name: 'EMPTY.md', lines: ['# nothing', '', 'prose'] })
    expect(status).toBe(1)
    expect(stderr).toContain('no ```ts block found')
  })
})
