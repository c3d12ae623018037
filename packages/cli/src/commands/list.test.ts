import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Card, type CardProvider, type CardStore, TO_ARRAY_HARD_CAP } from '@cardport/core'
import { postgresStore } from '@cardport/store-postgres'
import { sqliteStore } from '@cardport/store-sqlite'
import { sampleCard } from '@cardport/testing'
import { type EmulatorServer, startEmulatorServer } from '@cardport/testing/emulators'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../exit-codes.js'
import { run } from '../program.js'
import { captureContext, runWrapping, UNUSABLE_MARKETPLACE_CONFIGS } from '../test-context.js'

let server: EmulatorServer

beforeEach(async () => {
  server = await startEmulatorServer()
})

afterEach(async () => {
  await server.close()
})

describe('cardport list', () => {
  it('never prints the configured secret that a card echoes back (metadata, holder name), in the table or in --json', async () => {
    const marketplace = server.marketplace!
    // Not key-shaped: only the by-value scrub of MARKETPLACE_SECRET can catch it.
    const secret = 'plain-marketplace-secret-0042'
    const mp = marketplace.seed.marketplace({ secret })
    const account = marketplace.seed.account({ marketplace: mp.id })
    // Someone pasted the key where it does not belong; the provider hands it back with the card.
    marketplace.seed.card({
      marketplace: mp.id,
      account: account.id,
      name: `Pat ${secret}`,
      meta: { note: `key ${secret}`, [secret]: 'as a key' },
    })
    const env = { MARKETPLACE_URL: server.url, MARKETPLACE_ID: mp.id, MARKETPLACE_SECRET: secret }
    const args = ['list', '--provider', 'marketplace', '--owner', `account:${account.id}`]

    for (const output of [[], ['--json']]) {
      const cli = captureContext(env)
      expect(await run([...args, ...output], cli.value)).toBe(EXIT_CODES.ok)
      expect(cli.stdout()).not.toContain(secret)
      expect(cli.stderr()).toBe('')
      if (output.length > 0) {
        const [card] = JSON.parse(cli.stdout())
        expect(card.holderName).toBe('Pat [redacted]')
        expect(card.metadata).toEqual({ note: 'key [redacted]', '[redacted]': 'as a key' })
      }
    }
  })

  it.each([
    [TO_ARRAY_HARD_CAP + 1, true],
    [TO_ARRAY_HARD_CAP, false],
  ])(
    "prints the first 10,000 of a provider's %i cards, and warns on stderr only when there were more",
    { timeout: 60_000 },
    async (count, warned) => {
      const customer = server.stripe!.seed.customer({ name: 'Many Cards' })
      for (let index = 0; index < count; index++) server.stripe!.seed.card(customer.id, 'tok_visa')
      const cli = captureContext({ STRIPE_API_BASE: server.url, STRIPE_SECRET_KEY: 'sk_test_many' })
      const args = ['list', '--provider', 'stripe', '--owner', `customer:${customer.id}`, '--json']
      expect(await run(args, cli.value)).toBe(EXIT_CODES.ok)
      expect(JSON.parse(cli.stdout())).toHaveLength(TO_ARRAY_HARD_CAP)
      expect(cli.stderr()).toBe(
        warned
          ? "cardport: showing the first 10000 cards only; use the library's listAll to read them all\n"
          : '',
      )
    },
  )

  it('exits 130 and prints no card when interrupted as the last page is read', async () => {
    const customer = server.stripe!.seed.customer({ name: 'Last Page' })
    server.stripe!.seed.card(customer.id, 'tok_visa')
    // The interrupt comes as listAll hands out the last page's last card, after it looked at the
    // signal for the last time (before the page, and in the page's race with it).
    const interrupted = await runWrapping<CardProvider>(
      '@cardport/stripe',
      'stripeProvider',
      (provider) => ({
        ...provider,
        listCards: async (...args) => {
          const page = await provider.listCards(...args)
          const data = function* () {
            yield* page.data
            process.emit('SIGINT')
          }
          return { ...page, data: { [Symbol.iterator]: data } as unknown as Card[] }
        },
      }),
    )
    const cli = captureContext({ STRIPE_API_BASE: server.url, STRIPE_SECRET_KEY: 'sk_test_late' })
    const args = ['list', '--provider', 'stripe', '--owner', `customer:${customer.id}`]
    expect(await interrupted(args, cli.value)).toBe(EXIT_CODES.interrupted)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toBe('cardport: interrupted (SIGINT)\n')
  })

  it.each(UNUSABLE_MARKETPLACE_CONFIGS)(
    'refuses a customer owner at the marketplace (exit 2) before reading its configuration (%s)',
    async (_case, env) => {
      // Mending the configuration (exit 3) first would only lead to this usage error.
      const cli = captureContext(env)
      const args = ['list', '--provider', 'marketplace', '--owner', 'customer:cus_1']
      expect(await run(args, cli.value)).toBe(EXIT_CODES.usage)
      expect(cli.stderr()).toBe(
        'cardport: --owner customer:cus_1: marketplace holds cards of account owners only\n',
      )
    },
  )
})

describe('cardport list --store', () => {
  const owner = { type: 'customer', id: 'cus_stored' } as const
  const stored = [
    sampleCard('card_one', owner, { provider: 'stripe', isDefault: true, last4: '4242' }),
    sampleCard('card_two', owner, { provider: 'stripe', brand: 'mastercard', last4: '4444' }),
  ]
  let dir: string

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cardport-list-'))
  })

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** A SQLite store file holding `stored`, and another provider's card of the same owner. */
  async function storeFile(): Promise<string> {
    const file = join(dir, 'cards.db')
    const store = sqliteStore({ filename: file })
    for (const card of stored) await store.upsert(card)
    await store.upsert(sampleCard('card_other', owner, { provider: 'marketplace' }))
    await store.close()
    return file
  }

  it("lists the store's cards of the provider and owner, asking no provider, the file unchanged", async () => {
    const file = await storeFile()
    const before = await readFile(file)
    // No credentials and no provider to reach: only the store is read.
    const cli = captureContext({})
    const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_stored']
    expect(await run([...args, '--store', `sqlite:${file}`], cli.value)).toBe(EXIT_CODES.ok)
    expect(cli.stderr()).toBe('')
    const lines = cli.stdout().trim().split('\n')
    expect(lines[0]).toMatch(/^ID\s+BRAND\s+LAST4\s+EXPIRY\s+DEFAULT\s+STATUS$/)
    expect(
      lines
        .slice(1)
        .map((line) => line.split(/\s+/)[0])
        .sort(),
    ).toEqual(['card_one', 'card_two'])
    expect(cli.stdout()).not.toContain('card_other')
    expect(await readFile(file)).toEqual(before)
  })

  it('prints the stored rows with --json', async () => {
    const file = await storeFile()
    const cli = captureContext({})
    const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_stored', '--json']
    expect(await run([...args, '--store', `sqlite:${file}`], cli.value)).toBe(EXIT_CODES.ok)
    const rows = JSON.parse(cli.stdout()) as Array<Record<string, unknown>>
    expect(rows.map((row) => row.id).sort()).toEqual(['card_one', 'card_two'])
    expect(rows.find((row) => row.id === 'card_one')).toMatchObject({
      ...stored[0],
      version: expect.any(Number),
      updatedAt: expect.any(String),
    })
  })

  it.each([
    [TO_ARRAY_HARD_CAP + 1, true],
    [TO_ARRAY_HARD_CAP, false],
  ])(
    'prints the first 10,000 of %i stored cards, and warns on stderr only when there were more',
    async (count, warned) => {
      const file = join(dir, 'many.db')
      const store = sqliteStore({ filename: file })
      await store.upsertMany(
        Array.from({ length: count }, (_, index) =>
          sampleCard(`card_${index}`, owner, { provider: 'stripe' }),
        ),
      )
      await store.close()
      const cli = captureContext({})
      const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_stored', '--json']
      expect(await run([...args, '--store', `sqlite:${file}`], cli.value)).toBe(EXIT_CODES.ok)
      expect(JSON.parse(cli.stdout())).toHaveLength(TO_ARRAY_HARD_CAP)
      expect(cli.stderr()).toBe(
        warned
          ? "cardport: showing the first 10000 cards only; use the store's listByOwner to read them all\n"
          : '',
      )
    },
  )

  it('exits 130 and prints no card when interrupted while the store reads them', async () => {
    const file = await storeFile()
    // A store whose answer arrives after the interrupt.
    const interrupted = await runWrapping<CardStore>(
      '@cardport/store-sqlite',
      'sqliteStore',
      (store) => ({
        ...store,
        listByOwner: async (...args) => {
          const cards = await store.listByOwner(...args)
          process.emit('SIGINT')
          return cards
        },
      }),
    )
    const cli = captureContext({})
    const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_stored']
    expect(await interrupted([...args, '--store', `sqlite:${file}`], cli.value)).toBe(
      EXIT_CODES.interrupted,
    )
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toBe('cardport: interrupted (SIGINT)\n')
  })

  it('says so for an owner without stored cards', async () => {
    const file = await storeFile()
    const cli = captureContext({})
    const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_none']
    expect(await run([...args, '--store', `sqlite:${file}`], cli.value)).toBe(EXIT_CODES.ok)
    expect(cli.stdout()).toBe(
      `customer:cus_none has no cards stored for stripe in sqlite:${file}.\n`,
    )
  })

  it('refuses a provider name the store holds no card under, naming those it holds (exit 2)', async () => {
    const file = await storeFile()
    const cli = captureContext({})
    const args = ['list', '--provider', 'stripe', '--name', 'strpie', '--owner', 'customer:cus_9']
    expect(await run([...args, '--store', `sqlite:${file}`], cli.value)).toBe(EXIT_CODES.usage)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toBe(
      `cardport: the store sqlite:${file} holds no cards under the provider name strpie, only under marketplace, stripe: check --provider and --name, or, to store the cards of customer:cus_9 under strpie first, run cardport reconcile with the same --provider and --name and --owner customer:cus_9\n`,
    )
  })

  it('says an owner has no stored cards when the store holds no card at all', async () => {
    const file = join(dir, 'empty.db')
    await sqliteStore({ filename: file }).close()
    const cli = captureContext({})
    const args = [
      'list',
      '--provider',
      'stripe',
      '--name',
      'stripe-eu',
      '--owner',
      'customer:cus_9',
    ]
    expect(await run([...args, '--store', `sqlite:${file}`], cli.value)).toBe(EXIT_CODES.ok)
    expect(cli.stdout()).toBe(
      `customer:cus_9 has no cards stored for stripe-eu in sqlite:${file}.\n`,
    )
  })

  it('refuses an owner type the provider has no cards of (exit 2), opening no store', async () => {
    const file = join(dir, 'absent.db')
    const cli = captureContext({})
    const args = ['list', '--provider', 'marketplace', '--owner', 'customer:cus_stored']
    expect(await run([...args, '--store', `sqlite:${file}`], cli.value)).toBe(EXIT_CODES.usage)
    expect(cli.stderr()).toContain('marketplace holds cards of account owners only')
    expect(existsSync(file)).toBe(false)
  })

  it('refuses a file that is not there, or has no cardport tables, and writes nothing', async () => {
    const absent = join(dir, 'absent.db')
    const missing = captureContext({})
    const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_stored', '--store']
    expect(await run([...args, `sqlite:${absent}`], missing.value)).toBe(EXIT_CODES.failure)
    // What to do, in list's words: it has no --dry-run to run without.
    expect(missing.stderr()).toContain(
      `could not open the store sqlite:${absent}: no such file, and list --store creates nothing: check the path, or run cardport reconcile once to make a new store there`,
    )
    expect(existsSync(absent)).toBe(false)

    const empty = join(dir, 'empty.db')
    new Database(empty).close()
    const before = await readFile(empty)
    const bare = captureContext({})
    expect(await run([...args, `sqlite:${empty}`], bare.value)).toBe(EXIT_CODES.failure)
    expect(bare.stderr()).toContain(
      'the store has no cardport tables, and list --store makes none: run cardport reconcile once to make them, or call migrate()',
    )
    expect(bare.stderr()).not.toContain('--dry-run')
    expect(await readFile(empty)).toEqual(before)
  })

  it('refuses a file that is not a SQLite database with what list can do, and writes nothing', async () => {
    const file = join(dir, 'notes.txt')
    const text = 'not a database, only some text that is long enough to be read\n'.repeat(20)
    await writeFile(file, text)
    const cli = captureContext({})
    const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_stored', '--store']
    expect(await run([...args, `sqlite:${file}`], cli.value)).toBe(EXIT_CODES.failure)
    // Not the store's "name a new file to make one": list --store refuses a new file.
    expect(cli.stderr()).toBe(
      `cardport: could not open the store sqlite:${file}: it is not a SQLite database (SQLITE_NOTADB), and list --store makes no store: check that the path names a cardport store, or run cardport reconcile once on a new file to make one [invalid_request]\n`,
    )
    expect(await readFile(file, 'utf8')).toBe(text)
  })

  it("prints brands and fields as they are when the store's password is a brand (visa), and removes it from free text", async () => {
    const database = 'postgres://postgres@127.0.0.1:5432/test'
    const schema = `cardport_cli_brand_${process.pid.toString(36)}${Date.now().toString(36)}`
    const owner = { type: 'customer', id: 'cus_pw' } as const
    const pool = new pg.Pool({ connectionString: database, max: 1 })
    try {
      const store = await postgresStore({ client: pool, schema })
      await store.upsert(
        sampleCard('card_one', owner, {
          provider: 'stripe',
          brand: 'visa',
          holderName: 'Pat visa',
          metadata: { visa: 'the visa one' },
        }),
      )
      await store.upsert(
        sampleCard('card_mc', owner, { provider: 'stripe', brand: 'mastercard', last4: '4444' }),
      )
      await store.close()
      // A development DSN whose password is a common word: PostgreSQL here trusts any password.
      const location = `postgres://postgres:visa@127.0.0.1:5432/test?schema=${schema}`
      const args = [
        'list',
        '--provider',
        'stripe',
        '--owner',
        'customer:cus_pw',
        '--store',
        location,
      ]

      const json = captureContext({})
      expect(await run([...args, '--json'], json.value)).toBe(EXIT_CODES.ok)
      // Only the warning that a password on the command line is seen by others, without it.
      expect(json.stderr()).toMatch(/^cardport: warning: --store holds a password[^\n]*\n$/)
      expect(json.stderr()).not.toContain(':visa@')
      const rows = JSON.parse(json.stdout()) as Array<Record<string, unknown>>
      expect(rows.map((row) => row.brand).sort()).toEqual(['mastercard', 'visa'])
      const visa = rows.find((row) => row.id === 'card_one')!
      expect(Object.keys(visa)).toEqual(expect.arrayContaining(['holderName', 'metadata', 'brand']))
      // Free text a provider or someone wrote: the password is removed from it, key and value.
      expect(visa.holderName).toBe('Pat [redacted]')
      expect(visa.metadata).toEqual({ '[redacted]': 'the [redacted] one' })

      const table = captureContext({})
      expect(await run(args, table.value)).toBe(EXIT_CODES.ok)
      expect(table.stdout()).toMatch(/^card_one\s+visa\s+4242\s/m)
      expect(table.stdout()).not.toContain('[redacted]')
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await pool.end()
    }
  })

  it('lists the cards of a PostgreSQL store, and creates no schema for one that has none', async () => {
    const database = 'postgres://postgres@127.0.0.1:5432/test'
    const schema = `cardport_cli_list_${process.pid.toString(36)}${Date.now().toString(36)}`
    const absent = `${schema}_absent`
    const pool = new pg.Pool({ connectionString: database, max: 1 })
    try {
      const store = await postgresStore({ client: pool, schema })
      for (const card of stored) await store.upsert(card)
      await store.close()
      const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_stored', '--json']
      const cli = captureContext({})
      const location = `${database}?schema=${schema}`
      expect(await run([...args, '--store', location], cli.value)).toBe(EXIT_CODES.ok)
      const rows = JSON.parse(cli.stdout()) as Array<{ id: string }>
      expect(rows.map((row) => row.id).sort()).toEqual(['card_one', 'card_two'])

      const none = captureContext({})
      expect(await run([...args, '--store', `${database}?schema=${absent}`], none.value)).toBe(
        EXIT_CODES.failure,
      )
      expect(none.stderr()).toContain('the store has no cardport tables')
      const { rows: schemas } = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [
        absent,
      ])
      expect(schemas).toEqual([])
    } finally {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
      await pool.query(`DROP SCHEMA IF EXISTS "${absent}" CASCADE`)
      await pool.end()
    }
  })
})
