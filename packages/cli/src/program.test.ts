import { describe, expect, it } from 'vitest'
import type { CliContext } from './context.js'
import { EXIT_CODES } from './exit-codes.js'
import { run } from './program.js'

function context(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = []
  const err: string[] = []
  const value: CliContext = {
    stdout: { write: (text: string) => out.push(text) },
    stderr: { isTTY: false, write: (text: string) => err.push(text) },
    env,
    secrets: new Set(),
    exitCode: undefined,
  }
  return { value, stdout: () => out.join(''), stderr: () => err.join('') }
}

describe('run', () => {
  it('prints the version and exits 0', async () => {
    const cli = context()
    expect(await run(['--version'], cli.value)).toBe(EXIT_CODES.ok)
    expect(cli.stdout()).toMatch(/^\d+\.\d+\.\d+\n$/)
  })

  it('turns commander errors into one usage line with a pointer to --help', async () => {
    const cli = context()
    expect(await run(['reconcile', '--provider', 'stripe', '--dry-rum'], cli.value)).toBe(
      EXIT_CODES.usage,
    )
    expect(cli.stderr()).toBe(
      "cardport: unknown option '--dry-rum' (Did you mean --dry-run?) (see `cardport reconcile --help`)\n",
    )
  })

  it('exits 2 with the usage on stderr when no command is given', async () => {
    const cli = context()
    expect(await run([], cli.value)).toBe(EXIT_CODES.usage)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toMatch(/^Usage: cardport /)
    expect(cli.stderr()).not.toContain('cardport: ')
  })

  it('never prints a secret read from the environment, whatever its shape', async () => {
    const cli = context({
      MARKETPLACE_URL: 'not a url',
      MARKETPLACE_ID: 'MP1',
      MARKETPLACE_SECRET: 'plain-secret-value',
    })
    // A user pasting the secret where the owner goes: the message quotes the value it refuses.
    const code = await run(
      ['list', '--provider', 'marketplace', '--owner', 'plain-secret-value'],
      cli.value,
    )
    expect(code).toBe(EXIT_CODES.usage)
    expect(cli.stderr()).toBe(
      "cardport: --owner must be customer:<id> or account:<id> (for example customer:cus_123), not '[redacted]'\n",
    )
  })

  it('masks a card number that reaches an error message', async () => {
    const cli = context()
    await run(['list', '--provider', 'stripe', '--owner', '4242424242424242'], cli.value)
    expect(cli.stderr()).toContain('•••• 4242')
    expect(cli.stderr()).not.toContain('4242424242424242')
  })
})
