import { Server } from 'node:net'
import { describe, expect, it, vi } from 'vitest'
import { EXIT_CODES } from './exit-codes.js'
import { run } from './program.js'
import { captureContext } from './test-context.js'

describe('run', () => {
  it('prints the version and exits 0', async () => {
    const cli = captureContext()
    expect(await run(['--version'], cli.value)).toBe(EXIT_CODES.ok)
    expect(cli.stdout()).toMatch(/^\d+\.\d+\.\d+\n$/)
  })

  it('states the default of reconcile --owner once, in words', async () => {
    const cli = captureContext()
    expect(await run(['reconcile', '--help'], cli.value)).toBe(EXIT_CODES.ok)
    const help = cli.stdout().replace(/\s+/g, ' ')
    expect(help).toContain('repeatable (default: every owner in the store)')
    expect(help).not.toContain('(default: [])')
  })

  it("says in list --help that CARDPORT_STORE is reconcile's default only", async () => {
    const cli = captureContext()
    expect(await run(['list', '--help'], cli.value)).toBe(EXIT_CODES.ok)
    const help = cli.stdout().replace(/\s+/g, ' ')
    expect(help).toContain("CARDPORT_STORE reconcile's default --store")
    expect(help).toContain('list reads a store only when given --store')
  })

  it('turns commander errors into one usage line with a pointer to --help', async () => {
    const cli = captureContext()
    expect(await run(['reconcile', '--provider', 'stripe', '--dry-rum'], cli.value)).toBe(
      EXIT_CODES.usage,
    )
    expect(cli.stderr()).toBe(
      "cardport: unknown option '--dry-rum' (Did you mean --dry-run?) (see `cardport reconcile --help`)\n",
    )
  })

  it('exits 2 with the usage on stderr when no command is given', async () => {
    const cli = captureContext()
    expect(await run([], cli.value)).toBe(EXIT_CODES.usage)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toMatch(/^Usage: cardport /)
    expect(cli.stderr()).not.toContain('cardport: ')
  })

  it.each([
    [['help', 'nope'], "unknown command 'nope'"],
    [['help', 'lsit'], "unknown command 'lsit' (Did you mean list?)"],
    [['--debug', 'help', 'ak-live-9f8e7d6c5b4a3f2e1d0c'], 'unknown command'],
  ])('reports %j as an unknown command, on one line, without the help', async (args, message) => {
    const cli = captureContext()
    expect(await run(args, cli.value)).toBe(EXIT_CODES.usage)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toBe(`cardport: ${message} (see \`cardport --help\`)\n`)
  })

  it.each([
    [[], /^Usage: cardport \[options\] \[command\]\n/],
    [['list'], /^Usage: cardport list \[options\]\n/],
  ])('prints the help of help %j on stdout and exits 0', async (name, usage) => {
    const cli = captureContext()
    expect(await run(['help', ...name], cli.value)).toBe(EXIT_CODES.ok)
    expect(cli.stdout()).toMatch(usage)
    expect(cli.stderr()).toBe('')
  })

  it('lists the help command in the help', async () => {
    const cli = captureContext()
    expect(await run(['--help'], cli.value)).toBe(EXIT_CODES.ok)
    expect(cli.stdout()).toMatch(/\n {2}help \[command\] +display help for command\n/)
  })

  it.each([
    [
      '',
      "option '--host <host>': the value is invalid. a host is a local address or name, such as 127.0.0.1. (see `cardport emulate --help`)",
    ],
    ['fe80::1%nope', 'cannot listen on --host fe80::1%nope: no such local address'],
    ['nosuchhost.invalid', 'cannot listen on --host nosuchhost.invalid: no such local address'],
  ])('refuses emulate --host %j as a usage error', async (host, message) => {
    const cli = captureContext()
    const code = await run(['emulate', '--port', '0', '--host', host], cli.value)
    expect(code).toBe(EXIT_CODES.usage)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toBe(`cardport: ${message}\n`)
  })

  it.each(['65536', 'abc', '-1', '80.5'])(
    'refuses emulate --port %s as a usage error, before listening',
    async (port) => {
      const cli = captureContext()
      expect(await run(['emulate', '--port', port], cli.value)).toBe(EXIT_CODES.usage)
      expect(cli.stdout()).toBe('')
      expect(cli.stderr()).toBe(
        "cardport: option '--port <port>': the value is invalid. a port is a number from 0 to 65535. (see `cardport emulate --help`)\n",
      )
    },
  )

  // Errors Node raises only on some machines (no DNS, no IPv6, not root: this one runs as root),
  // so listen() is made to fail with each, as Node's own listen does: an 'error' event.
  it.each([
    [
      ['--host', 'cards.example'],
      'EAI_AGAIN',
      EXIT_CODES.usage,
      'cannot listen on --host cards.example: the name could not be resolved (DNS did not answer): pass a local address such as 127.0.0.1',
    ],
    [
      ['--host', 'cards.example'],
      'EAI_FAIL',
      EXIT_CODES.usage,
      'cannot listen on --host cards.example: the name could not be resolved (DNS did not answer): pass a local address such as 127.0.0.1',
    ],
    [
      ['--port', '80'],
      'EACCES',
      EXIT_CODES.failure,
      'port 80 on 127.0.0.1 is not allowed for this user (ports below 1024 are privileged): pick one from 1024 up with --port, or --port 0 for a free one',
    ],
    [
      ['--port', '8080'],
      'EACCES',
      EXIT_CODES.failure,
      'port 8080 on 127.0.0.1 is not allowed for this user: pick another with --port, or --port 0 for a free one',
    ],
    [
      ['--host', '::1'],
      'EAFNOSUPPORT',
      EXIT_CODES.usage,
      'cannot listen on --host ::1: this machine does not support its address family (IPv6 turned off?): pass an IPv4 address such as 127.0.0.1',
    ],
  ])('reports emulate %j failing with %s on one line', async (args, code, exitCode, message) => {
    const listen = vi.spyOn(Server.prototype, 'listen').mockImplementation(function (this: Server) {
      const error = Object.assign(new Error(`listen ${code}: raw message from Node`), { code })
      process.nextTick(() => this.emit('error', error))
      return this
    })
    try {
      const cli = captureContext()
      expect(await run(['emulate', ...args], cli.value)).toBe(exitCode)
      expect(listen).toHaveBeenCalledOnce()
      expect(cli.stdout()).toBe('')
      expect(cli.stderr()).toBe(`cardport: ${message}\n`)
    } finally {
      listen.mockRestore()
    }
  })

  // Its details are the only way to reach it (the port of --port 0, the credentials).
  it.each([[['--json']], [[]]])(
    'emulate %j closes its server and returns at once when its details could not be written',
    async (flags) => {
      const cli = captureContext()
      const written: string[] = []
      const full = Object.assign(new Error('ENOSPC: no space left on device, write'), {
        code: 'ENOSPC',
      })
      let guard: NodeJS.Timeout | undefined
      let stoppedByGuard = false
      const stdout = {
        write(text: string, callback?: (error?: Error | null) => void) {
          written.push(text)
          process.nextTick(() => callback?.(full))
          // Should it serve on, a Ctrl+C ends it, and the test fails.
          guard ??= setTimeout(() => {
            stoppedByGuard = true
            process.emit('SIGINT')
          }, 5_000)
          return false
        },
      }
      try {
        // The exit code (1) is the executable's, which reports the failed write (exitAfterOutput).
        expect(await run(['emulate', '--port', '0', ...flags], { ...cli.value, stdout })).toBe(
          EXIT_CODES.ok,
        )
      } finally {
        clearTimeout(guard)
      }
      expect(stoppedByGuard).toBe(false)
      // Not the note of a stop by a signal.
      expect(cli.stderr()).toBe('')
      const url = written.join('').match(/http:\/\/127\.0\.0\.1:\d+/)?.[0]
      expect(url).toBeDefined()
      // Closed: nothing answers there.
      await expect(fetch(`${url}/v1/customers`)).rejects.toThrow()
    },
  )

  it('never prints a secret read from the environment, whatever its shape', async () => {
    const cli = captureContext({
      MARKETPLACE_URL: 'not a url',
      MARKETPLACE_ID: 'MP1',
      MARKETPLACE_SECRET: 'plain-secret-value',
    })
    // A user pasting the secret where the owner goes: the message says what is wrong with it.
    const code = await run(
      ['list', '--provider', 'marketplace', '--owner', 'plain-secret-value'],
      cli.value,
    )
    expect(code).toBe(EXIT_CODES.usage)
    expect(cli.stderr()).toBe(
      "cardport: --owner must be customer:<id> or account:<id> (for example customer:cus_123): the value has no ':'\n",
    )
  })

  // A secret no variable holds (none is set when it is pasted in the wrong place) and of no
  // shape `redactSecrets` knows: only leaving the value out keeps it from the terminal and logs.
  it.each([
    [
      ['--provider', 'ak-live-7Hq2xPm9Lk3', '--owner', 'account:AC1'],
      "option '--provider <name>': the value is invalid. Allowed choices are stripe, marketplace.",
    ],
    [
      ['--provider', 'marketplace', '--owner', 'ak-live-7Hq2xPm9Lk3'],
      "--owner must be customer:<id> or account:<id> (for example customer:cus_123): the value has no ':'",
    ],
    [
      ['--provider', 'marketplace', '--owner', "ak-live:7Hq2x' is invalid.Pm9Lk3"],
      "--owner must be customer:<id> or account:<id> (for example customer:cus_123): it starts with neither 'customer:' nor 'account:'",
    ],
    [
      ['--provider', 'marketplace', '--owner', 'customer:'],
      "--owner must be customer:<id> or account:<id> (for example customer:cus_123): the id after ':' is empty or holds a character no id holds",
    ],
  ])(
    'never quotes a value it refuses, which may be a pasted secret: %j',
    async (flags, message) => {
      const cli = captureContext()
      expect(await run(['list', ...flags], cli.value)).toBe(EXIT_CODES.usage)
      expect(cli.stderr()).toMatch(new RegExp(`^cardport: ${escapeRegExp(message)}( \\(see|\\n)`))
      expect(cli.stderr()).not.toContain('7Hq2x')
    },
  )

  it.each([
    [
      ['--marketplace-secret=ak-live-9f8e7d6c5b4a3f2e1d0c'],
      "unknown option '--marketplace-secret'",
    ],
    [
      ['--marketplace-secret', 'ak-live-9f8e7d6c5b4a3f2e1d0c'],
      "unknown option '--marketplace-secret'",
    ],
    [['-sak-live-9f8e7d6c5b4a3f2e1d0c'], "unknown option '-s'"],
    [
      ['--marketplace-idd', 'x'],
      "unknown option '--marketplace-idd' (Did you mean --marketplace-id?)",
    ],
  ])('names an unknown option without the value typed with it: %j', async (flags, message) => {
    const cli = captureContext()
    const args = ['list', '--provider', 'marketplace', '--owner', 'account:AC1', ...flags]
    expect(await run(args, cli.value)).toBe(EXIT_CODES.usage)
    expect(cli.stderr()).toBe(`cardport: ${message} (see \`cardport list --help\`)\n`)
  })

  it('quotes an unknown command only when it is a plain word', async () => {
    const secret = captureContext()
    expect(await run(['ak-live-9f8e7d6c5b4a3f2e1d0c'], secret.value)).toBe(EXIT_CODES.usage)
    expect(secret.stderr()).toBe('cardport: unknown command (see `cardport --help`)\n')
    const typo = captureContext()
    expect(await run(['lsit'], typo.value)).toBe(EXIT_CODES.usage)
    expect(typo.stderr()).toBe(
      "cardport: unknown command 'lsit' (Did you mean list?) (see `cardport --help`)\n",
    )
  })

  it('never prints the password of a connection string given on the command line', async () => {
    const cli = captureContext({ CARDPORT_STORE: 'postgres://app:env%40Pass@db/app' })
    const args = [
      'reconcile',
      '--provider',
      'stripe',
      '--store',
      'postgres://app:fl%40gPass@db/app',
    ]
    for (const owner of ['fl%40gPass', 'fl@gPass', 'env%40Pass', 'env@Pass']) {
      await run([...args, '--owner', owner], cli.value)
    }
    expect(cli.stderr().match(/the value has no ':'/g)).toHaveLength(4)
    expect(cli.stderr()).not.toMatch(/Pass/)
  })

  it('refuses a second --owner to list as a usage error', async () => {
    const cli = captureContext()
    const args = [
      'list',
      '--provider',
      'stripe',
      '--owner',
      'customer:cus_1',
      '--owner',
      'customer:cus_2',
    ]
    expect(await run(args, cli.value)).toBe(EXIT_CODES.usage)
    expect(cli.stderr()).toContain('list takes one --owner')
  })

  it.each([
    ['list', '--owner', 'customer:cus_1'],
    [
      'reconcile',
      '--store',
      'sqlite::memory:',
      '--owner',
      'account:AC1',
      '--owner',
      'customer:cus_1',
    ],
  ])(
    'refuses an owner type the provider does not hold as a usage error, before any request (%s)',
    async (...args) => {
      // Port 9 (discard) on loopback: nothing answers, so a request would fail with exit 4.
      const cli = captureContext({
        MARKETPLACE_URL: 'http://127.0.0.1:9',
        MARKETPLACE_ID: 'MP1',
        MARKETPLACE_SECRET: 'plain-secret-value',
      })
      expect(await run([...args, '--provider', 'marketplace'], cli.value)).toBe(EXIT_CODES.usage)
      expect(cli.stderr()).toBe(
        'cardport: --owner customer:cus_1: marketplace holds cards of account owners only\n',
      )
    },
  )

  // Commander lets the last one win: `--store a.db --store b.db` repaired b.db, unseen.
  it.each([
    [
      'reconcile',
      '--store',
      ['--provider', 'stripe', '--store', 'sqlite:a.db', '--store', 'sqlite:b.db'],
    ],
    [
      'reconcile',
      '--provider',
      ['--provider', 'stripe', '--provider', 'marketplace', '--store', 'sqlite:a.db'],
    ],
    ['reconcile', '--name', ['--provider', 'stripe', '--name', 'stripe-eu', '--name', 'stripe-us']],
    [
      'list',
      '--store',
      [
        '--provider',
        'stripe',
        '--owner',
        'customer:cus_1',
        '--store',
        'sqlite:a.db',
        '--store=sqlite:b.db',
      ],
    ],
    [
      'list',
      '--marketplace-id',
      [
        '--provider',
        'marketplace',
        '--owner',
        'account:AC1',
        '--marketplace-id',
        'MP1',
        '--marketplace-id',
        'MP2',
      ],
    ],
    [
      'list',
      '--stripe-api-base',
      [
        '--provider',
        'stripe',
        '--owner',
        'customer:cus_1',
        '--stripe-api-base',
        'http://127.0.0.1:1',
        '--stripe-api-base',
        'http://127.0.0.1:2',
      ],
    ],
  ])(
    'refuses %s %s given twice as a usage error naming neither value',
    async (command, flag, flags) => {
      const cli = captureContext()
      expect(await run([command, ...flags], cli.value)).toBe(EXIT_CODES.usage)
      expect(cli.stdout()).toBe('')
      expect(cli.stderr()).toBe(
        `cardport: ${command} takes one ${flag}, not several: pass it once (see \`cardport ${command} --help\`)\n`,
      )
    },
  )

  it.each([
    ['--port', ['--port', '0', '--port', '0']],
    // The default (12111) is no value given: the first --port is taken.
    ['--host', ['--port', '0', '--host', '127.0.0.1', '--host', '127.0.0.2']],
  ])('refuses emulate %s given twice, before listening', async (flag, flags) => {
    // A listen that fails as a port in use would: only a run that listened could reach it.
    const listen = vi.spyOn(Server.prototype, 'listen').mockImplementation(function (this: Server) {
      const error = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })
      process.nextTick(() => this.emit('error', error))
      return this
    })
    try {
      const cli = captureContext()
      expect(await run(['emulate', ...flags], cli.value)).toBe(EXIT_CODES.usage)
      expect(listen).not.toHaveBeenCalled()
      expect(cli.stderr()).toBe(
        `cardport: emulate takes one ${flag}, not several: pass it once (see \`cardport emulate --help\`)\n`,
      )
    } finally {
      listen.mockRestore()
    }
  })

  it('still takes reconcile --owner more than once', async () => {
    const cli = captureContext()
    const owners = ['--owner', 'customer:cus_1', '--owner', 'customer:cus_2']
    // No credentials: the configuration error (exit 3) comes after the flags were taken.
    expect(await run(['reconcile', '--provider', 'stripe', ...owners], cli.value)).toBe(
      EXIT_CODES.config,
    )
    expect(cli.stderr()).toMatch(/^cardport: STRIPE_SECRET_KEY is not set/)
  })

  it.each([
    ['reconcile', ['--provider', 'stripe', '--dry-run=true'], '--dry-run'],
    ['list', ['--provider', 'stripe', '--owner', 'customer:cus_1', '--json=true'], '--json'],
    ['emulate', ['--no-seed=false'], '--no-seed'],
    // The program's own flag, after the command.
    ['list', ['--provider', 'stripe', '--owner', 'customer:cus_1', '--debug=yes'], '--debug'],
  ])(
    'says that a flag of %s given a value (%j) takes none, quoting no value',
    async (command, flags, flag) => {
      const cli = captureContext()
      expect(await run([command, ...flags], cli.value)).toBe(EXIT_CODES.usage)
      expect(cli.stdout()).toBe('')
      expect(cli.stderr()).toBe(
        `cardport: option '${flag}' takes no value: pass ${flag} without '=' (see \`cardport ${command} --help\`)\n`,
      )
    },
  )

  it('never prints a configured secret that an error quotes, in the stack --debug prints either', async () => {
    // Of no shape redactSecrets knows: only the by-value scrub of MARKETPLACE_SECRET removes it.
    const secret = 'plain-marketplace-secret-0042'
    const cli = captureContext({ MARKETPLACE_SECRET: secret })
    const store = `sqlite:/nonexistent/${secret}/cards.db`
    const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_1', '--store', store]
    expect(await run([...args, '--debug'], cli.value)).toBe(EXIT_CODES.failure)
    const [line, ...stack] = cli.stderr().split('\n')
    expect(line).toContain('sqlite:/nonexistent/[redacted]/cards.db')
    // The stack quotes the path too: it is there, without the secret.
    expect(stack.join('\n')).toMatch(/\n\s+at /)
    expect(stack.join('\n')).toContain('[redacted]')
    expect(cli.stderr()).not.toContain(secret)
  })

  it('masks a card number that reaches an error message', async () => {
    const cli = captureContext({
      STRIPE_SECRET_KEY: 'sk_test_x',
      STRIPE_API_BASE: 'http://127.0.0.1:1',
    })
    const store = 'sqlite:/nonexistent/4242424242424242.db'
    const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_1', '--store', store]
    expect(await run(args, cli.value)).toBe(EXIT_CODES.failure)
    expect(cli.stderr()).toContain('sqlite:/nonexistent/•••• 4242.db')
    expect(cli.stderr()).not.toContain('4242424242424242')
  })
})

/** `text` as a regular expression that matches it literally. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
