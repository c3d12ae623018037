import { existsSync } from 'node:fs'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { postgresStore } from '@cardport/store-postgres'
import { sqliteStore } from '@cardport/store-sqlite'
import { sampleCard } from '@cardport/testing'
import { type EmulatorServer, startEmulatorServer } from '@cardport/testing/emulators'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { EXIT_CODES } from '../exit-codes.js'
import { run } from '../program.js'
import { captureContext, UNUSABLE_MARKETPLACE_CONFIGS } from '../test-context.js'

/** A latency no test outlasts: what only an interrupt can cut short in time. */
const HOUR_MS = 3_600_000
/**
 * For `vi.waitFor`, whose own default gives up after a second, which a slow machine can take:
 * a hang guard only, within the test's timeout.
 */
const PATIENTLY = { timeout: 15_000, interval: 5 }

let server: EmulatorServer
let dir: string

beforeEach(async () => {
  server = await startEmulatorServer()
  dir = await mkdtemp(join(tmpdir(), 'cardport-reconcile-'))
})

afterEach(async () => {
  // Ends the requests a test left waiting out a latency: no timer outlives the test.
  server.reset()
  await server.close()
  await rm(dir, { recursive: true, force: true })
})

function context(
  env: NodeJS.ProcessEnv = { STRIPE_API_BASE: server.url, STRIPE_SECRET_KEY: 'sk_test_interrupt' },
) {
  return captureContext(env)
}

describe('cardport reconcile', () => {
  it('exits 130 when interrupted while an owner is being read, and prints no report', async () => {
    const customer = server.stripe!.seed.customer({ name: 'Slow Owner' })
    server.stripe!.seed.card(customer.id, 'tok_visa')
    // An hour: a run that finished before the interrupt (400 ms could, on a slow machine)
    // would prove nothing; only the interrupt can end this one in time.
    server.stripe!.faults.inject({ latencyMs: HOUR_MS, times: 10 })
    const cli = context()
    const store = `sqlite:${join(dir, 'cards.db')}`
    const args = ['reconcile', '--provider', 'stripe', '--store', store]
    const done = run([...args, '--owner', `customer:${customer.id}`], cli.value)
    // Ctrl+C while the owner's first page is on its way: the store is open by then.
    await vi.waitFor(() => expect(server.stripe!.faults.fired[0]).toBeGreaterThan(0), PATIENTLY)
    process.emit('SIGINT')
    expect(await done).toBe(EXIT_CODES.interrupted)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toMatch(/^cardport: interrupted/)
  })

  it.each(['stripe', 'marketplace'] as const)(
    'exits 130 at once when interrupted while a %s page takes long, its store closed',
    async (name) => {
      const file = join(dir, `${name}.db`)
      let env: NodeJS.ProcessEnv
      let owner: string
      if (name === 'stripe') {
        owner = `customer:${server.stripe!.seed.customer({ name: 'Slow Owner' }).id}`
        env = { STRIPE_API_BASE: server.url, STRIPE_SECRET_KEY: 'sk_test_interrupt' }
        server.stripe!.faults.inject({ latencyMs: HOUR_MS, times: 10 })
      } else {
        const marketplace = server.marketplace!
        owner = `account:${marketplace.seed.account().id}`
        env = {
          MARKETPLACE_URL: server.url,
          MARKETPLACE_ID: marketplace.marketplaceId,
          MARKETPLACE_SECRET: marketplace.secret,
        }
        marketplace.faults.inject({ latencyMs: HOUR_MS, times: 10 })
      }
      const cli = context(env)
      const done = run(
        ['reconcile', '--provider', name, '--store', `sqlite:${file}`, '--owner', owner],
        cli.value,
      )
      // The page is on its way: the emulator holds it in its latency (an hour; the CLI's own
      // timeout, 30 s, is past the test's too). Ctrl+C must not wait for it: only the
      // interrupt can end the run before the test times out. No duration is measured.
      const emulator = name === 'stripe' ? server.stripe! : server.marketplace!
      await vi.waitFor(() => expect(emulator.faults.fired).toEqual([1]), PATIENTLY)
      process.emit('SIGINT')
      expect(await done).toBe(EXIT_CODES.interrupted)
      expect(cli.stderr()).toMatch(/^cardport: interrupted/)
      // The store was closed: SQLite's last connection checkpointed the WAL and removed it.
      expect(existsSync(`${file}-wal`)).toBe(false)
      expect(existsSync(`${file}-shm`)).toBe(false)
    },
  )

  it.each([
    ['SIGHUP', EXIT_CODES.hangup],
    ['SIGINT', EXIT_CODES.interrupted],
    ['SIGTERM', EXIT_CODES.terminated],
  ] as const)(
    'exits with the code of %s when it comes before the store is opened, and makes no store file',
    async (signal, code) => {
      const file = join(dir, 'never-opened.db')
      const cli = context()
      const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${file}`]
      const done = run([...args, '--owner', 'customer:cus_neverRead'], cli.value)
      // run() has not reached its first await's end: the provider and the store are not open.
      process.emit(signal)
      expect(await done).toBe(code)
      expect(cli.stdout()).toBe('')
      expect(cli.stderr()).toBe(`cardport: interrupted (${signal})\n`)
      expect(existsSync(file)).toBe(false)
    },
  )

  it('reconciles an owner named twice once: the report counts its cards once', async () => {
    const customer = server.stripe!.seed.customer({ name: 'Named Twice' })
    for (const token of ['tok_visa', 'tok_mastercard']) server.stripe!.seed.card(customer.id, token)
    const owner = `customer:${customer.id}`
    const cli = context()
    const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${join(dir, 'twice.db')}`]

    expect(await run([...args, '--owner', owner, '--owner', owner, '--json'], cli.value)).toBe(
      EXIT_CODES.ok,
    )
    const report = JSON.parse(cli.stdout())
    expect(report).toMatchObject({ owners: 1, cardsSeen: 2 })
    expect(report.counts).toMatchObject({ added: 2, defaultRepaired: 1, failed: 0 })
  })

  it('stores under --name, and lists what is stored under it, apart from the default name', async () => {
    const customer = server.stripe!.seed.customer({ name: 'Named Account' })
    server.stripe!.seed.card(customer.id, 'tok_visa')
    const owner = `customer:${customer.id}`
    const file = join(dir, 'named.db')
    const args = ['--provider', 'stripe', '--store', `sqlite:${file}`, '--owner', owner]

    const cli = context()
    expect(await run(['reconcile', ...args, '--name', 'stripe-eu'], cli.value)).toBe(EXIT_CODES.ok)
    expect(cli.stdout()).toContain(`stripe-eu (${server.url}) → sqlite:${file}`)
    const json = context()
    expect(await run(['reconcile', ...args, '--name', 'stripe-eu', '--json'], json.value)).toBe(
      EXIT_CODES.ok,
    )
    expect(JSON.parse(json.stdout())).toMatchObject({ provider: 'stripe-eu', cardsSeen: 1 })
    const named = context({})
    expect(await run(['list', ...args, '--name', 'stripe-eu', '--json'], named.value)).toBe(
      EXIT_CODES.ok,
    )
    expect(JSON.parse(named.stdout())).toEqual([
      expect.objectContaining({
        provider: 'stripe-eu',
        owner: { type: 'customer', id: customer.id },
      }),
    ])
    // Nothing under the adapter's own name, which the store holds no card under at all: the
    // --name left out is named, rather than "no cards stored" (see list.test.ts).
    const plain = context({})
    expect(await run(['list', ...args], plain.value)).toBe(EXIT_CODES.usage)
    expect(plain.stdout()).toBe('')
    expect(plain.stderr()).toContain(
      `holds no cards under the provider name stripe, only under stripe-eu: check --provider and --name`,
    )
  })

  it.each([
    ['a key', 'sk_live_pastedHere', 'cannot hold a key'],
    ['a space', 'stripe eu', 'letters, digits'],
  ])(
    'refuses a --name holding %s (exit 2), quoting none of it, before anything is opened',
    async (_case, name, message) => {
      const file = join(dir, 'never.db')
      for (const command of ['reconcile', 'list']) {
        const cli = context()
        const args = [command, '--provider', 'stripe', '--store', `sqlite:${file}`]
        const owner = ['--owner', 'customer:cus_1']
        expect(await run([...args, ...owner, '--name', name], cli.value)).toBe(EXIT_CODES.usage)
        expect(cli.stderr()).toContain(`--name: `)
        expect(cli.stderr()).toContain(message)
        expect(cli.stderr()).not.toContain(name)
        expect(existsSync(file)).toBe(false)
      }
    },
  )

  it.each(UNUSABLE_MARKETPLACE_CONFIGS)(
    'refuses a customer owner at the marketplace (exit 2) before reading its configuration or opening the store (%s)',
    async (_case, env) => {
      const file = join(dir, 'never.db')
      for (const dryRun of [[], ['--dry-run']]) {
        // Mending the configuration (exit 3) first would only lead to this usage error.
        const cli = context(env)
        const args = ['reconcile', '--provider', 'marketplace', '--store', `sqlite:${file}`]
        const owners = ['--owner', 'account:AC1', '--owner', 'customer:cus_1']
        expect(await run([...args, ...owners, ...dryRun], cli.value)).toBe(EXIT_CODES.usage)
        expect(cli.stderr()).toBe(
          'cardport: --owner customer:cus_1: marketplace holds cards of account owners only\n',
        )
        expect(existsSync(file)).toBe(false)
      }
    },
  )

  it.each([
    ['stripe', 'customer:<id>'],
    ['marketplace', 'account:<id>'],
  ] as const)(
    'on a store with no %s owners, says how to name one of an owner type the provider holds',
    async (name, hint) => {
      const marketplace = server.marketplace!
      const env: NodeJS.ProcessEnv =
        name === 'stripe'
          ? { STRIPE_API_BASE: server.url, STRIPE_SECRET_KEY: 'sk_test_new_store' }
          : {
              MARKETPLACE_URL: server.url,
              MARKETPLACE_ID: marketplace.marketplaceId,
              MARKETPLACE_SECRET: marketplace.secret,
            }
      const cli = context(env)
      const store = `sqlite:${join(dir, 'new.db')}`
      const args = ['reconcile', '--provider', name, '--store', store]

      expect(await run(args, cli.value)).toBe(EXIT_CODES.ok)
      expect(cli.stdout()).toContain(`No owners to reconcile`)
      expect(cli.stdout()).toContain(`Name owners with --owner ${hint}.`)
    },
  )

  describe('with no --owner, on a store that holds cards under other provider names only', () => {
    /** A SQLite store holding one card of a Stripe customer under each of `names`, closed. */
    const storeHolding = async (...names: string[]) => {
      const file = join(dir, 'others.db')
      const store = sqliteStore({ filename: file })
      for (const name of names) {
        await store.upsert(
          sampleCard('card_1', { type: 'customer', id: 'cus_1' }, { provider: name }),
        )
      }
      await store.close()
      return file
    }

    it.each([
      ['a mistyped --name', ['--provider', 'stripe', '--name', 'strpie'], 'strpie', 'customer'],
      ['the other --provider', ['--provider', 'marketplace'], 'marketplace', 'account'],
    ])(
      'refuses %s as a usage error (exit 2) naming the names it holds, not as "no owners", exit 0',
      async (_case, provider, name, ownerType) => {
        const file = await storeHolding('stripe', 'stripe-eu')
        const marketplace = server.marketplace!
        for (const output of [[], ['--json']]) {
          const cli = context({
            STRIPE_API_BASE: server.url,
            STRIPE_SECRET_KEY: 'sk_test_other_names',
            MARKETPLACE_URL: server.url,
            MARKETPLACE_ID: marketplace.marketplaceId,
            MARKETPLACE_SECRET: marketplace.secret,
          })
          const args = ['reconcile', ...provider, '--store', `sqlite:${file}`]
          // The check a cron or CI job runs: it must not pass.
          expect(await run([...args, '--dry-run', '--exit-code', ...output], cli.value)).toBe(
            EXIT_CODES.usage,
          )
          expect(cli.stdout()).toBe('')
          expect(cli.stderr()).toBe(
            `cardport: the store sqlite:${file} holds no cards under the provider name ${name}, only under stripe, stripe-eu: check --provider and --name, or, to start ${name} in this store, name its owners with --owner ${ownerType}:<id>\n`,
          )
        }
      },
    )

    it('counts a name no adapter would give (a key) without quoting it', async () => {
      const key = 'sk_live_pastedAsAName'
      const file = await storeHolding('stripe', key)
      const cli = context()
      const args = ['reconcile', '--provider', 'stripe', '--name', 'stripe-eu']
      expect(await run([...args, '--store', `sqlite:${file}`, '--dry-run'], cli.value)).toBe(
        EXIT_CODES.usage,
      )
      expect(cli.stderr()).toContain('only under stripe and 1 more: ')
      expect(cli.stderr()).not.toContain('sk_live')
    })

    it('still reconciles an owner named under a new provider name there', async () => {
      const file = await storeHolding('stripe')
      const customer = server.stripe!.seed.customer({ name: 'New Name' })
      server.stripe!.seed.card(customer.id, 'tok_visa')
      const cli = context()
      const args = ['reconcile', '--provider', 'stripe', '--name', 'stripe-eu']
      const owner = ['--owner', `customer:${customer.id}`]
      expect(await run([...args, '--store', `sqlite:${file}`, ...owner, '--json'], cli.value)).toBe(
        EXIT_CODES.ok,
      )
      expect(JSON.parse(cli.stdout())).toMatchObject({ provider: 'stripe-eu', owners: 1 })
    })

    it('refuses it on a PostgreSQL store too', async () => {
      const database = 'postgres://postgres@127.0.0.1:5432/test'
      const schema = `cardport_cli_names_${uniqueSuffix()}`
      const pool = new pg.Pool({ connectionString: database, max: 1 })
      try {
        const held = await postgresStore({ client: pool, schema })
        await held.upsert(
          sampleCard('card_1', { type: 'customer', id: 'cus_1' }, { provider: 'stripe' }),
        )
        await held.close()
        const cli = context()
        const store = `${database}?schema=${schema}`
        const args = ['reconcile', '--provider', 'stripe', '--name', 'strpie', '--store', store]
        expect(await run([...args, '--dry-run', '--exit-code'], cli.value)).toBe(EXIT_CODES.usage)
        expect(cli.stdout()).toBe('')
        expect(cli.stderr()).toContain(
          `cardport: the store ${store} holds no cards under the provider name strpie, only under stripe: `,
        )
      } finally {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
        await pool.end()
      }
    })
  })

  it.each([
    [[], 'Reconcile failed for every owner: '],
    [['--dry-run'], 'Dry run failed for every owner (nothing changed): '],
  ])(
    'heads the report with what happened when every owner failed (a wrong secret) %j',
    async (flags, header) => {
      const marketplace = server.marketplace!
      const account = marketplace.seed.account()
      const file = join(dir, 'refused.db')
      // The store exists: a dry run refuses a missing file.
      await run(['reconcile', '--provider', 'stripe', '--store', `sqlite:${file}`], context().value)
      const cli = context({
        MARKETPLACE_URL: server.url,
        MARKETPLACE_ID: marketplace.marketplaceId,
        MARKETPLACE_SECRET: 'not-the-marketplace-secret-0000',
      })
      const args = ['reconcile', '--provider', 'marketplace', '--store', `sqlite:${file}`]
      const owner = ['--owner', `account:${account.id}`]
      expect(await run([...args, ...owner, ...flags], cli.value)).toBe(EXIT_CODES.config)
      const [first, second] = cli.stdout().split('\n')
      expect(first).toBe(`${header}marketplace (${server.url}) → sqlite:${file}`)
      // Its cards were never counted: the line does not say the provider holds none.
      expect(second).toBe('1 owner, none reconciled')
      expect(cli.stdout()).toMatch(/^failed\s+1$/m)
    },
  )

  it('blames the store, not the provider, when the store fails while writing: exit 1, not 4', async () => {
    const schema = `cardport_cli_store_fails_${uniqueSuffix()}`
    const role = `${schema}_reader`
    const database = 'postgres://postgres@127.0.0.1:5432/test'
    const customer = server.stripe!.seed.customer({ name: 'Unwritable Owner' })
    for (const token of ['tok_visa', 'tok_mastercard']) server.stripe!.seed.card(customer.id, token)
    const pool = new pg.Pool({ connectionString: database, max: 1 })
    try {
      // Made and migrated by the owner of the schema, then run as a role that may only SELECT:
      // PostgreSQL refuses its writes with "permission denied", which is no provider's failure.
      await (await postgresStore({ client: pool, schema })).close()
      await pool.query(`CREATE ROLE "${role}" LOGIN`)
      await pool.query(`GRANT USAGE ON SCHEMA "${schema}" TO "${role}"`)
      await pool.query(`GRANT SELECT ON ALL TABLES IN SCHEMA "${schema}" TO "${role}"`)
      const store = `postgres://${role}@127.0.0.1:5432/test?schema=${schema}`
      const args = ['reconcile', '--provider', 'stripe', '--store', store]
      const owner = `customer:${customer.id}`

      const cli = context()
      expect(await run([...args, '--owner', owner], cli.value)).toBe(EXIT_CODES.failure)
      expect(cli.stderr()).toBe(
        `cardport: 1 owner of 1 could not be reconciled: the store ${store} failed; first, ${owner}: permission denied for table cardport_cards [store_failed]\n`,
      )
      const [, second] = cli.stdout().split('\n')
      expect(second).toBe('1 owner, none reconciled')
      expect(cli.stdout()).toMatch(
        new RegExp(
          `^failed +${owner} +store_failed: permission denied for table cardport_cards$`,
          'm',
        ),
      )

      const json = context()
      expect(await run([...args, '--owner', owner, '--json'], json.value)).toBe(EXIT_CODES.failure)
      expect(JSON.parse(json.stdout()).failed).toEqual([
        {
          owner: { type: 'customer', id: customer.id },
          source: 'store',
          code: 'store_failed',
          message: 'permission denied for table cardport_cards',
        },
      ])

      // An owner the provider does not know besides: both are named, the exit code is 1.
      const mixed = context()
      const owners = ['--owner', owner, '--owner', 'customer:cus_unknownOwner']
      expect(await run([...args, ...owners], mixed.value)).toBe(EXIT_CODES.failure)
      expect(mixed.stderr()).toMatch(
        new RegExp(
          `^cardport: 2 owners of 2 could not be reconciled \\(1 because the store ${literally(store)} failed, 1 by stripe at ${literally(server.url)}\\); first, `,
        ),
      )
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await pool.query(`DROP ROLE IF EXISTS "${role}"`)
      await pool.end()
    }
  })

  it('heads the report "Reconciled with failures" when some owners failed and others did not', async () => {
    const customer = server.stripe!.seed.customer({ name: 'Known Owner' })
    server.stripe!.seed.card(customer.id, 'tok_visa')
    const cli = context()
    const store = `sqlite:${join(dir, 'some.db')}`
    const args = ['reconcile', '--provider', 'stripe', '--store', store]
    const owners = ['--owner', `customer:${customer.id}`, '--owner', 'customer:cus_unknownOwner']
    expect(await run([...args, ...owners], cli.value)).toBe(EXIT_CODES.failure)
    expect(cli.stdout().split('\n').slice(0, 2)).toEqual([
      `Reconciled with failures: stripe (${server.url}) → ${store}`,
      // The failed owner's cards are not counted, and the line says whose are.
      '2 owners, 1 not reconciled; 1 card at the provider for the 1 reconciled',
    ])
    expect(cli.stdout()).toMatch(/^added\s+1$/m)
    expect(cli.stdout()).toMatch(/^failed\s+1$/m)
  })

  it('exits 1, not the code of the first failure, when owners failed for different reasons', async () => {
    const refused = server.stripe!.seed.customer({ name: 'Refused Owner' })
    const unreachable = server.stripe!.seed.customer({ name: 'Unreachable Owner' })
    // Exit 3 alone for the one, 4 alone for the other: together, neither says what happened.
    server.stripe!.faults.inject({
      route: new RegExp(`^GET /v1/customers/${refused.id}`),
      status: 401,
      body: JSON.stringify({ error: { type: 'invalid_request_error', message: 'Invalid key' } }),
      times: 100,
    })
    server.stripe!.faults.inject({
      route: new RegExp(`^GET /v1/customers/${unreachable.id}`),
      status: 503,
      times: 100,
    })
    const cli = context()
    const store = `sqlite:${join(dir, 'mixed.db')}`
    const args = ['reconcile', '--provider', 'stripe', '--store', store, '--json']
    const owners = ['--owner', `customer:${refused.id}`, '--owner', `customer:${unreachable.id}`]
    expect(await run([...args, ...owners], cli.value)).toBe(EXIT_CODES.failure)
    const failed = JSON.parse(cli.stdout()).failed as Array<{ code: string }>
    expect(failed.map((failure) => failure.code).sort()).toEqual([
      'authentication',
      'provider_unavailable',
    ])
  })

  it('with --exit-code, exits 5 when only the default differs from the provider', async () => {
    const customer = server.stripe!.seed.customer({ name: 'Two Cards' })
    server.stripe!.seed.card(customer.id, 'tok_visa')
    const other = server.stripe!.seed.card(customer.id, 'tok_mastercard')
    const file = join(dir, 'default.db')
    const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${file}`]
    const owner = ['--owner', `customer:${customer.id}`]
    expect(await run([...args, ...owner], context().value)).toBe(EXIT_CODES.ok)
    // The store's default moved to the card that is not the provider's.
    const store = sqliteStore({ filename: file })
    await store.setDefault(
      { provider: 'stripe', owner: { type: 'customer', id: customer.id } },
      other.id,
    )
    await store.close()

    const cli = context()
    const check = [...args, ...owner, '--dry-run', '--exit-code', '--json']
    expect(await run(check, cli.value)).toBe(EXIT_CODES.drift)
    expect(JSON.parse(cli.stdout()).counts).toEqual({
      added: 0,
      updated: 0,
      removed: 0,
      defaultRepaired: 1,
      failed: 0,
    })
  })

  it('stores to --store, not to CARDPORT_STORE, when both are given', async () => {
    const customer = server.stripe!.seed.customer({ name: 'Flag Wins' })
    const card = server.stripe!.seed.card(customer.id, 'tok_visa')
    const fromEnv = join(dir, 'a.db')
    const fromFlag = join(dir, 'b.db')
    const cli = context({
      STRIPE_API_BASE: server.url,
      STRIPE_SECRET_KEY: 'sk_test_flag_wins',
      CARDPORT_STORE: `sqlite:${fromEnv}`,
    })
    const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${fromFlag}`]
    expect(await run([...args, '--owner', `customer:${customer.id}`], cli.value)).toBe(
      EXIT_CODES.ok,
    )
    const store = sqliteStore({ filename: fromFlag })
    const stored = await store.listByOwner({
      provider: 'stripe',
      owner: { type: 'customer', id: customer.id },
    })
    await store.close()
    expect(stored.map((held) => held.id)).toEqual([card.id])
    expect(existsSync(fromEnv)).toBe(false)
  })

  // CardSync's own retries (2) came on top of the adapter's (2): 9 attempts of an owner's read
  // for a provider that keeps failing, ~4.5 min where each attempt waits out the 30 s timeout.
  it("reads a failing owner only as often as the adapter's retries do: 3 requests, not 9", async () => {
    const customer = server.stripe!.seed.customer({ name: 'Failing Owner' })
    server.stripe!.faults.inject({ route: /^GET \/v1\/customers\//, status: 500, times: 100 })
    const cli = context()
    const store = `sqlite:${join(dir, 'failing.db')}`
    const args = ['reconcile', '--provider', 'stripe', '--store', store]
    const code = await run([...args, '--owner', `customer:${customer.id}`], cli.value)
    expect(code).toBe(EXIT_CODES.unreachable)
    expect(cli.stdout()).toMatch(/^failed\s+1$/m)
    expect(server.stripe!.faults.fired).toEqual([3])
  })

  it("never prints a configured secret that a provider's failure message quotes, in the table or in --json", async () => {
    // The marketplace's secret, left in a shell that now runs the Stripe provider: the Stripe
    // adapter does not know it and it has no key shape, so only the CLI's by-value scrub (every
    // configured secret, whichever provider runs) can remove it. A test on the marketplace's own
    // secret would pass without that scrub: its adapter masks that secret itself.
    const secret = 'plain-marketplace-secret-0042'
    const customer = server.stripe!.seed.customer({ name: 'Quoted Owner' })
    // A server (or a proxy in front of it) that quotes what it was sent.
    server.stripe!.faults.inject({
      route: /^GET \/v1\/customers\//,
      status: 404,
      body: JSON.stringify({
        error: {
          type: 'invalid_request_error',
          code: 'resource_missing',
          message: `No such customer: '${customer.id}' (sent with ${secret})`,
        },
      }),
      times: 100,
    })
    const env = {
      STRIPE_API_BASE: server.url,
      STRIPE_SECRET_KEY: 'sk_test_quoted',
      MARKETPLACE_SECRET: secret,
    }
    const store = `sqlite:${join(dir, 'quoted.db')}`
    const args = ['reconcile', '--provider', 'stripe', '--store', store]
    const owner = ['--owner', `customer:${customer.id}`]

    for (const output of [[], ['--json']]) {
      const cli = context(env)
      expect(await run([...args, ...owner, ...output], cli.value)).toBe(EXIT_CODES.failure)
      expect(cli.stdout()).toContain('owner_not_found')
      expect(cli.stdout()).toContain('(sent with [redacted])')
      expect(cli.stdout()).not.toContain(secret)
      expect(cli.stderr()).toContain('could not be reconciled')
      expect(cli.stderr()).toContain('(sent with [redacted])')
      expect(cli.stderr()).not.toContain(secret)
      if (output.length > 0) {
        expect(JSON.parse(cli.stdout()).failed).toEqual([
          {
            owner: { type: 'customer', id: customer.id },
            source: 'provider',
            code: 'owner_not_found',
            message: expect.stringContaining('(sent with [redacted])'),
          },
        ])
      }
    }
  })

  it("keeps the report's keys and words when the store's password is a common word (cards), and removes it from messages", async () => {
    const database = 'postgres://postgres@127.0.0.1:5432/test'
    const schema = `cardport_cli_pw_${uniqueSuffix()}`
    const customer = server.stripe!.seed.customer({ name: 'Password Owner' })
    for (const token of ['tok_visa', 'tok_mastercard']) server.stripe!.seed.card(customer.id, token)
    // A development DSN (PostgreSQL here trusts any password), quoted whole by a server that
    // echoes what it was told, as a proxy or a misconfigured provider might.
    const store = `postgres://postgres:cards@127.0.0.1:5432/test?schema=${schema}`
    server.stripe!.faults.inject({
      route: /^GET \/v1\/customers\/cus_quoting/,
      status: 404,
      body: JSON.stringify({
        error: {
          type: 'invalid_request_error',
          code: 'resource_missing',
          message: `No such customer (store ${store})`,
        },
      }),
      times: 100,
    })
    const pool = new pg.Pool({ connectionString: database, max: 1 })
    try {
      const args = ['reconcile', '--provider', 'stripe', '--owner', `customer:${customer.id}`]
      const env = {
        STRIPE_API_BASE: server.url,
        STRIPE_SECRET_KEY: 'sk_test_pw',
        CARDPORT_STORE: store,
      }

      const real = context(env)
      expect(await run([...args, '--json'], real.value)).toBe(EXIT_CODES.ok)
      const report = JSON.parse(real.stdout())
      expect(Object.keys(report).sort()).toEqual([
        'added',
        'cardsSeen',
        'counts',
        'defaultRepaired',
        'dryRun',
        'failed',
        'owners',
        'provider',
        'removed',
        'truncated',
        'updated',
      ])
      expect(report).toMatchObject({ cardsSeen: 2, counts: { added: 2 } })
      expect(real.stdout()).not.toContain('[redacted]')

      const human = context(env)
      expect(await run([...args, '--dry-run'], human.value)).toBe(EXIT_CODES.ok)
      expect(human.stdout().split('\n')[1]).toBe('1 owner, 2 cards at the provider')

      // A message that quotes the URL: its password is gone, on stdout and on stderr.
      const quoted = context(env)
      const both = [...args, '--owner', 'customer:cus_quoting', '--json']
      expect(await run(both, quoted.value)).toBe(EXIT_CODES.failure)
      const [failure] = JSON.parse(quoted.stdout()).failed
      expect(failure.message).toContain('postgres://postgres:[redacted]@127.0.0.1')
      for (const output of [quoted.stdout(), quoted.stderr()]) {
        expect(output).not.toContain('postgres:cards@')
      }
      expect(quoted.stderr()).toContain('postgres:[redacted]@127.0.0.1')
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await pool.end()
    }
  })

  it('refuses, on a dry run, a SQLite file that does not exist: exit 1, one line, no file made', async () => {
    // A typo in a cron check: the run must not make an empty store and report "no owners".
    const file = join(dir, 'typo.db')
    const cli = context()
    const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${file}`]
    expect(await run([...args, '--dry-run', '--exit-code'], cli.value)).toBe(EXIT_CODES.failure)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toBe(
      `cardport: could not open the store sqlite:${file}: no such file, and a dry run creates nothing: check the path, or run once without --dry-run to make a new store there\n`,
    )
    expect(existsSync(file)).toBe(false)
  })

  it('names a file that is not a SQLite database, with what to do: exit 1, one line', async () => {
    const file = join(dir, 'notes.txt')
    const text = 'not a database, only some text that is long enough to be read\n'.repeat(20)
    await writeFile(file, text)
    const cli = context()
    const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${file}`]
    expect(await run([...args, '--owner', 'customer:cus_1'], cli.value)).toBe(EXIT_CODES.failure)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toBe(
      `cardport: could not open the store sqlite:${file}: sqliteStore could not open its database file (SQLITE_NOTADB: it is not a SQLite database): check that the path names a cardport store, or name a new file to make one [invalid_request]\n`,
    )
    // Left as it was.
    expect(await readFile(file, 'utf8')).toBe(text)
    expect(existsSync(`${file}-wal`)).toBe(false)
  })

  it('refuses, on a dry run, a file that is not a SQLite database with what a dry run can do', async () => {
    const file = join(dir, 'notes.txt')
    const text = 'not a database, only some text that is long enough to be read\n'.repeat(20)
    await writeFile(file, text)
    const cli = context()
    const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${file}`, '--dry-run']
    expect(await run([...args, '--owner', 'customer:cus_1'], cli.value)).toBe(EXIT_CODES.failure)
    expect(cli.stdout()).toBe('')
    // Not the store's "name a new file to make one": a dry run refuses a new file.
    expect(cli.stderr()).toBe(
      `cardport: could not open the store sqlite:${file}: it is not a SQLite database (SQLITE_NOTADB), and a dry run makes no store: check that the path names a cardport store, or run once without --dry-run on a new file to make one [invalid_request]\n`,
    )
    expect(await readFile(file, 'utf8')).toBe(text)
  })

  it('refuses a ?schema= the store would refuse as a usage error, before opening anything: exit 2', async () => {
    const cli = context()
    // Port 1: were the store opened, the connection would fail, with exit 1.
    const store = 'postgres://app:hunter2@127.0.0.1:1/test?schema=Billing'
    const args = ['reconcile', '--provider', 'stripe', '--store', store]
    expect(await run([...args, '--owner', 'customer:cus_1'], cli.value)).toBe(EXIT_CODES.usage)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toMatch(
      /^cardport: --store names a schema postgresStore refuses \(\?schema=\): schema must be lower-case letters/,
    )
    expect(cli.stderr()).not.toContain('hunter2')
  })

  it.each([
    ['user info', 'postgres://app:hunter2@127.0.0.1:1/test'],
    ['?password=', 'postgres://app@127.0.0.1:1/test?password=hunter2'],
  ])(
    'warns, before anything else, that a password in --store (%s) shows in ps and shell history',
    async (_where, store) => {
      const cli = context()
      const args = ['reconcile', '--provider', 'stripe', '--store', store]
      expect(await run([...args, '--owner', 'customer:cus_1'], cli.value)).toBe(EXIT_CODES.failure)
      const [warning, failure] = cli.stderr().split('\n')
      expect(warning).toBe(
        'cardport: warning: --store holds a password, which other users of this machine see in ps and which stays in your shell history: put the connection string in CARDPORT_STORE, or the password in PGPASSWORD or ~/.pgpass',
      )
      expect(failure).toMatch(/^cardport: could not open the store /)
      expect(cli.stderr()).not.toContain('hunter2')
    },
  )

  it('gives no warning for a password in CARDPORT_STORE, nor for a --store without one', async () => {
    for (const [store, variable] of [
      [undefined, 'postgres://app:hunter2@127.0.0.1:1/test'],
      ['postgres://app@127.0.0.1:1/test', undefined],
    ] as const) {
      const cli = context({
        STRIPE_API_BASE: server.url,
        STRIPE_SECRET_KEY: 'sk_test_interrupt',
        ...(variable === undefined ? {} : { CARDPORT_STORE: variable }),
      })
      const args = ['reconcile', '--provider', 'stripe', ...(store ? ['--store', store] : [])]
      expect(await run([...args, '--owner', 'customer:cus_1'], cli.value)).toBe(EXIT_CODES.failure)
      expect(cli.stderr()).toMatch(/^cardport: could not open the store [^\n]*\n$/)
    }
  })

  it('writes a PostgreSQL store to the schema named by ?schema=, made when missing', async () => {
    // The test server: trust auth on loopback, database `test`; a schema of this test's own.
    const schema = `cardport_cli_${uniqueSuffix()}`
    const database = 'postgres://postgres@127.0.0.1:5432/test'
    const customer = server.stripe!.seed.customer({ name: 'Schema Owner' })
    const card = server.stripe!.seed.card(customer.id, 'tok_visa')
    const pool = new pg.Pool({ connectionString: database, max: 1 })
    try {
      const cli = context()
      const store = `${database}?schema=${schema}`
      const args = ['reconcile', '--provider', 'stripe', '--store', store]
      expect(await run([...args, '--owner', `customer:${customer.id}`], cli.value)).toBe(
        EXIT_CODES.ok,
      )
      expect(cli.stdout().split('\n')[0]).toBe(`Reconciled: stripe (${server.url}) → ${store}`)
      const { rows } = await pool.query(`SELECT card_id FROM "${schema}".cardport_cards`)
      expect(rows).toEqual([{ card_id: card.id }])
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await pool.end()
    }
  })

  it.each([
    ['SQLite file in a folder that does not exist', () => `sqlite:${join(dir, 'missing', 'c.db')}`],
    // A closed port: the connection is refused at once.
    ['PostgreSQL server that cannot be reached', () => 'postgres://app:hunter2@127.0.0.1:1/test'],
  ])(
    'a store that cannot be opened (%s): one line with its [code] when it has one, exit 1, no password',
    async (_what, store) => {
      const cli = context()
      const args = [
        'reconcile',
        '--provider',
        'stripe',
        '--store',
        store(),
        '--owner',
        'customer:cus_1',
      ]
      expect(await run(args, cli.value)).toBe(EXIT_CODES.failure)
      // A password in --store is warned of first (see the test of that warning).
      const [line, ...rest] = cli
        .stderr()
        .split('\n')
        .filter((text) => !text.startsWith('cardport: warning:'))
      expect(rest).toEqual([''])
      expect(line).toMatch(/^cardport: could not open the store /)
      if (store().startsWith('sqlite:')) {
        expect(line).toMatch(
          /: sqliteStore could not open its database file .* \[invalid_request\]$/,
        )
      } else {
        expect(line).toContain('postgres://app:***@127.0.0.1:1/test')
        expect(line).toContain('ECONNREFUSED')
        expect(line).not.toContain('hunter2')
      }
      expect(cli.stdout()).toBe('')
    },
  )
})

describe('cardport reconcile --dry-run writes nothing', () => {
  const database = 'postgres://postgres@127.0.0.1:5432/test'

  /** A SQLite store holding one card of `owner` the provider lacks (drift to report), closed. */
  const sqliteFile = async (name: string, owner = 'cus_1') => {
    const file = join(dir, name)
    const store = sqliteStore({ filename: file })
    await store.upsert(
      sampleCard('card_gone', { type: 'customer', id: owner }, { provider: 'stripe' }),
    )
    await store.close()
    return file
  }

  it('refuses a SQLite file that needs migrations, runs none: exit 1, one line', async () => {
    const file = await sqliteFile('older.db')
    // As an older cardport left it: migrations 2 and 3 not recorded.
    const db = new Database(file)
    db.prepare('DELETE FROM cardport_migrations WHERE version > 1').run()
    db.close()
    const before = await readFile(file)
    const cli = context()
    const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${file}`, '--dry-run']
    expect(await run(args, cli.value)).toBe(EXIT_CODES.failure)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toBe(
      `cardport: could not open the store sqlite:${file}: the store needs migrations 2-3, and a dry run runs none: run once without --dry-run, or call migrate()\n`,
    )
    expect(await readFile(file)).toEqual(before)
  })

  it('refuses a SQLite file without cardport tables, makes none: exit 1, one line', async () => {
    const file = join(dir, 'other.db')
    new Database(file).exec('CREATE TABLE notes (body TEXT)').close()
    const before = await readFile(file)
    const cli = context()
    const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${file}`, '--dry-run']
    expect(await run(args, cli.value)).toBe(EXIT_CODES.failure)
    expect(cli.stderr()).toBe(
      `cardport: could not open the store sqlite:${file}: the store has no cardport tables, and a dry run makes none: run once without --dry-run to make them, or call migrate()\n`,
    )
    expect(await readFile(file)).toEqual(before)
  })

  it('reports the drift of an up-to-date SQLite file that may only be read (0444), leaving it as it was', async () => {
    const customer = server.stripe!.seed.customer({ name: 'Read Only' })
    const card = server.stripe!.seed.card(customer.id, 'tok_visa')
    const file = await sqliteFile('readonly.db', customer.id)
    await chmod(file, 0o444)
    const before = await readFile(file)
    const cli = context()
    const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${file}`, '--dry-run']
    // Every owner the store holds: listed from the file.
    expect(await run([...args, '--json'], cli.value)).toBe(EXIT_CODES.ok)
    expect(cli.stderr()).toBe('')
    expect(JSON.parse(cli.stdout())).toMatchObject({
      dryRun: true,
      counts: { added: 1, removed: 1, failed: 0 },
      added: [{ cardId: card.id }],
      removed: [{ cardId: 'card_gone' }],
    })
    expect(await readFile(file)).toEqual(before)
  })

  it('refuses a PostgreSQL schema without cardport tables, and creates neither schema nor tables', async () => {
    const schema = `cardport_cli_dry_${uniqueSuffix()}`
    const pool = new pg.Pool({ connectionString: database, max: 1 })
    try {
      const cli = context()
      const store = `${database}?schema=${schema}`
      const args = ['reconcile', '--provider', 'stripe', '--store', store, '--dry-run']
      expect(await run([...args, '--owner', 'customer:cus_1'], cli.value)).toBe(EXIT_CODES.failure)
      expect(cli.stderr()).toBe(
        `cardport: could not open the store ${store}: the store has no cardport tables, and a dry run makes none: run once without --dry-run to make them, or call migrate()\n`,
      )
      const { rows } = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
      expect(rows).toEqual([])
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await pool.end()
    }
  })

  it('reports the drift of an up-to-date PostgreSQL store as a role that may only SELECT', async () => {
    const schema = `cardport_cli_ro_${uniqueSuffix()}`
    const role = `${schema}_reader`
    const customer = server.stripe!.seed.customer({ name: 'Read Only' })
    const card = server.stripe!.seed.card(customer.id, 'tok_visa')
    const pool = new pg.Pool({ connectionString: database, max: 1 })
    try {
      // Made and migrated by the owner (a real run), then read by a role with SELECT only.
      const owner = await postgresStore({ client: pool, schema })
      await owner.close()
      await pool.query(`CREATE ROLE "${role}" LOGIN`)
      await pool.query(`GRANT USAGE ON SCHEMA "${schema}" TO "${role}"`)
      await pool.query(`GRANT SELECT ON ALL TABLES IN SCHEMA "${schema}" TO "${role}"`)
      const cli = context()
      const store = `postgres://${role}@127.0.0.1:5432/test?schema=${schema}`
      const args = ['reconcile', '--provider', 'stripe', '--store', store, '--dry-run', '--json']
      expect(await run([...args, '--owner', `customer:${customer.id}`], cli.value)).toBe(
        EXIT_CODES.ok,
      )
      expect(cli.stderr()).toBe('')
      expect(JSON.parse(cli.stdout())).toMatchObject({
        dryRun: true,
        counts: { added: 1, failed: 0 },
        added: [{ cardId: card.id }],
      })
      const { rows } = await pool.query(`SELECT card_id FROM "${schema}".cardport_cards`)
      expect(rows).toEqual([])
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await pool.query(`DROP ROLE IF EXISTS "${role}"`)
      await pool.end()
    }
  })
})

/**
 * A schema name's unique part in base 36 (`k3x9…`): the pid and the time written as digits
 * (`16050_1796568727111`) make an 18-digit run that is Luhn-valid one time in ten, which the CLI
 * masks as a card number in its messages, and the expected message then differs.
 */
function uniqueSuffix(): string {
  return `${process.pid.toString(36)}${Date.now().toString(36)}`
}

/** `text` as a regular expression that matches it literally. */
function literally(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
