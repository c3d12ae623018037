import { randomBytes } from 'node:crypto'
import type { Owner } from '@cardport/core'
import { sampleCard } from '@cardport/testing'
import pg from 'pg'
import { describe, expect, it, onTestFinished } from 'vitest'
import type { PostgresClient } from './postgres-client.js'
import { migrate, POSTGRES_MIGRATIONS, pendingMigrations } from './postgres-migrations.js'
import { postgresStore } from './postgres-store.js'
import {
  describePostgres,
  killWaitingBackend,
  PG_CONFIG,
  poolDefaultingTo,
} from './postgres-test-databases.js'

const alice: Owner = { type: 'customer', id: 'cus_alice' }

const VERSIONS = POSTGRES_MIGRATIONS.map((migration) => migration.version)

describePostgres('postgres migrations', (db) => {
  const tablesOf = async (schema: string) => {
    const { rows } = await db.client.query(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
      [schema],
    )
    return rows.map((row: { table_name: string }) => row.table_name)
  }

  const indexesOf = async (schema: string, table: string) => {
    const { rows } = await db.client.query(
      'SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY 1',
      [schema, table],
    )
    return rows.map((row: { indexname: string }) => row.indexname)
  }

  it('creates the schema and the tables, then finds nothing left to do', async () => {
    expect(await migrate(db.client, { schema: db.schema })).toEqual(VERSIONS)
    expect(await migrate(db.client, { schema: db.schema })).toEqual([])
    expect(await tablesOf(db.schema)).toEqual([
      'cardport_card_owners',
      'cardport_card_retirements',
      'cardport_card_tombstones',
      'cardport_cards',
      'cardport_migrations',
    ])
    const { rows } = await db.client.query(
      `SELECT version, name FROM "${db.schema}".cardport_migrations ORDER BY version`,
    )
    expect(rows).toEqual(POSTGRES_MIGRATIONS.map(({ version, name }) => ({ version, name })))
  })

  it('runs on open, and opening again applies nothing', async () => {
    const first = await postgresStore({ client: db.client, schema: db.schema })
    await first.upsert(sampleCard('card_1', alice))
    const second = await postgresStore({ client: db.client, schema: db.schema })
    expect((await second.get(scope, 'card_1'))?.version).toBe(1)
    const { rows } = await db.client.query(
      `SELECT count(*)::int AS n FROM "${db.schema}".cardport_migrations`,
    )
    expect(rows[0].n).toBe(VERSIONS.length)
  })

  it('lets two stores migrate the same schema at once, from two clients', async () => {
    const other = await db.openClient()
    const stores = await Promise.all([
      postgresStore({ client: db.client, schema: db.schema }),
      postgresStore({ client: other, schema: db.schema }),
    ])
    await stores[0].upsert(sampleCard('card_1', alice, { isDefault: true }))
    expect((await stores[1].getDefault(scope))?.id).toBe('card_1')
    const { rows } = await db.client.query(
      `SELECT version FROM "${db.schema}".cardport_migrations ORDER BY version`,
    )
    expect(rows.map((row: { version: number }) => row.version)).toEqual(VERSIONS)
  })

  it('applies each migration exactly once when ten processes migrate at once', async () => {
    const clients = [db.client, await db.openClient(), await db.openClient()]
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        migrate(clients[i % clients.length]!, { schema: db.schema }),
      ),
    )
    expect(results.filter((applied) => applied.length > 0)).toEqual([VERSIONS])
    expect(results.filter((applied) => applied.length === 0)).toHaveLength(9)
  })

  it.runIf(db.name === 'pg Pool')(
    'applies each migration once when ten processes whose default isolation is repeatable read migrate at once',
    async () => {
      // Each waited for the lock with a snapshot from before the first committed: the schema it
      // did not see, it created again, and failed.
      const clients = [0, 1, 2].map(() => poolDefaultingTo('repeatable read'))
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          migrate(clients[i % clients.length]!, { schema: db.schema }),
        ),
      )
      const outcomes = results.map((result) =>
        result.status === 'fulfilled' ? result.value : String(result.reason?.message),
      )
      expect(outcomes.filter((outcome) => typeof outcome === 'string')).toEqual([])
      expect(outcomes.filter((applied) => applied.length > 0)).toEqual([VERSIONS])
    },
  )

  it('creates a new schema once when stores with different prefixes open it at once', async () => {
    const clients = [db.client, await db.openClient(), await db.openClient()]
    const prefixes = ['a_', 'b_', 'c_', 'd_', 'e_', 'f_']
    const results = await Promise.all(
      prefixes.map((tablePrefix, i) =>
        migrate(clients[i % clients.length]!, { schema: db.schema, tablePrefix }),
      ),
    )
    expect(results).toEqual(prefixes.map(() => VERSIONS))
  })

  it('keeps stores with different table prefixes apart in one schema', async () => {
    const plain = await postgresStore({ client: db.client, schema: db.schema })
    const other = await postgresStore({
      client: db.client,
      schema: db.schema,
      tablePrefix: 'billing_',
    })
    const bare = await postgresStore({ client: db.client, schema: db.schema, tablePrefix: '' })
    await plain.upsert(sampleCard('card_1', alice))
    await other.upsert(sampleCard('card_2', alice))
    expect((await plain.listByOwner(scope)).map((c) => c.id)).toEqual(['card_1'])
    expect((await other.listByOwner(scope)).map((c) => c.id)).toEqual(['card_2'])
    expect(await bare.listByOwner(scope)).toEqual([])
    expect(await tablesOf(db.schema)).toEqual([
      'billing_card_owners',
      'billing_card_retirements',
      'billing_card_tombstones',
      'billing_cards',
      'billing_migrations',
      'card_owners',
      'card_retirements',
      'card_tombstones',
      'cardport_card_owners',
      'cardport_card_retirements',
      'cardport_card_tombstones',
      'cardport_cards',
      'cardport_migrations',
      'cards',
      'migrations',
    ])
  })

  it('brings tables of schema version 1 up to date, keeping their cards', async () => {
    const older = await postgresStore({ client: db.client, schema: db.schema })
    await older.upsert(sampleCard('card_1', alice))
    // The tables as version 1 left them: the later table and records removed, the index back.
    await db.client.query(`DROP TABLE "${db.schema}".cardport_card_retirements`)
    await db.client.query(
      `CREATE INDEX cardport_cards_by_seq ON "${db.schema}".cardport_cards (provider, owner_type, owner_id, seq)`,
    )
    await db.client.query(`DELETE FROM "${db.schema}".cardport_migrations WHERE version > 1`)

    expect(await indexesOf(db.schema, 'cardport_cards')).toContain('cardport_cards_by_seq')

    expect(await migrate(db.client, { schema: db.schema })).toEqual([2, 3])
    expect(await indexesOf(db.schema, 'cardport_cards')).toEqual([
      'cardport_cards_one_default',
      'cardport_cards_pkey',
    ])
    const store = await postgresStore({ client: db.client, schema: db.schema })
    // Without the by-seq index, an owner's cards still list newest first (not by id).
    await store.upsert(sampleCard('card_0', alice))
    await store.upsert(sampleCard('card_2', alice))
    expect((await store.listByOwner(scope)).map((card) => card.id)).toEqual([
      'card_2',
      'card_0',
      'card_1',
    ])
    await store.retirements!.save(scope, 'key', [{ cardId: 'card_1', currency: null }])
    expect(await store.retirements!.load(scope, 'key')).toEqual([
      { cardId: 'card_1', currency: null },
    ])
  })

  it('leaves nothing of migrations whose connection is killed mid-way; the next open applies them', async () => {
    // PGlite has one connection, in process: nothing can kill it mid-transaction.
    if (db.name === 'PGlite') return
    await migrate(db.client, { schema: db.schema })
    // The tables as version 1 left them (see above).
    await db.client.query(`DROP TABLE "${db.schema}".cardport_card_retirements`)
    await db.client.query(
      `CREATE INDEX cardport_cards_by_seq ON "${db.schema}".cardport_cards (provider, owner_type, owner_id, seq)`,
    )
    await db.client.query(`DELETE FROM "${db.schema}".cardport_migrations WHERE version > 1`)
    // Another session reads the cards table: migration 2 is made, and migration 3's DROP INDEX
    // waits for that session, until the migrating process dies (a deploy killed, a failover).
    const other = (await db.openClient()) as pg.Pool
    const holder = await other.connect()
    try {
      await holder.query('BEGIN')
      await holder.query(`LOCK TABLE "${db.schema}".cardport_cards IN ACCESS SHARE MODE`)
      const migrating = migrate(db.client, { schema: db.schema }).then(
        () => undefined,
        (error: unknown) => error,
      )
      await killWaitingBackend(other, db.client as pg.Pool, `DROP INDEX IF EXISTS "${db.schema}".`)
      expect(await migrating).toMatchObject({ code: '57P01' })
    } finally {
      await holder.query('ROLLBACK')
      holder.release()
    }
    expect(await tablesOf(db.schema)).not.toContain('cardport_card_retirements')
    const { rows } = await db.client.query(
      `SELECT version FROM "${db.schema}".cardport_migrations ORDER BY 1`,
    )
    expect(rows).toEqual([{ version: 1 }])
    expect(await migrate(db.client, { schema: db.schema })).toEqual([2, 3])
    expect(await tablesOf(db.schema)).toContain('cardport_card_retirements')
  }, 30_000)

  it('with migrate: false, refuses tables that lack migrations, naming them, and creates nothing', async () => {
    const schemaExists = async () =>
      (await db.client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [db.schema])).rows
        .length > 0
    const opening = () => postgresStore({ client: db.client, schema: db.schema, migrate: false })
    // No schema at all: every version pending, and not a 42P01 on the first call.
    await expect(opening()).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/migrate: false .* has no cardport tables.*migrate it first/),
      details: { pendingMigrations: VERSIONS },
    })
    expect(await schemaExists()).toBe(false)
    await migrate(db.client, { schema: db.schema })
    const store = await opening()
    expect(await store.get(scope, 'card_1')).toBeNull()
    // Tables an older version made: migration 1 only.
    await db.client.query(`DROP TABLE "${db.schema}".cardport_card_retirements`)
    await db.client.query(`DELETE FROM "${db.schema}".cardport_migrations WHERE version > 1`)
    await expect(opening()).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/need migrations 2, 3/),
      details: { pendingMigrations: [2, 3] },
    })
    expect(await tablesOf(db.schema)).not.toContain('cardport_card_retirements')
  })

  it('with migrate: false, refuses tables of a newer version with the conflict of migrate: true', async () => {
    await migrate(db.client, { schema: db.schema })
    await db.client.query(
      `INSERT INTO "${db.schema}".cardport_migrations (version, name) VALUES (999, 'future')`,
    )
    await expect(
      postgresStore({ client: db.client, schema: db.schema, migrate: false }),
    ).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/schema version 999.*upgrade @cardport\/store-postgres/),
    })
    const { rows } = await db.client.query(
      `SELECT count(*)::int AS n FROM "${db.schema}".cardport_cards`,
    )
    expect(rows).toEqual([{ n: 0 }])
  })

  it('pendingMigrations() says which migrations the tables lack, creating nothing', async () => {
    const schemaExists = async () =>
      (await db.client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [db.schema])).rows
        .length > 0
    expect(await pendingMigrations(db.client, { schema: db.schema })).toEqual(VERSIONS)
    // Not even the schema is made, nor, in an existing one, the migrations table.
    expect(await schemaExists()).toBe(false)
    await db.client.query(`CREATE SCHEMA "${db.schema}"`)
    expect(await pendingMigrations(db.client, { schema: db.schema })).toEqual(VERSIONS)
    expect(await tablesOf(db.schema)).toEqual([])
    await migrate(db.client, { schema: db.schema })
    expect(await pendingMigrations(db.client, { schema: db.schema })).toEqual([])
    // Another prefix in the same schema has its own tables, none of them made yet.
    expect(
      await pendingMigrations(db.client, { schema: db.schema, tablePrefix: 'other_' }),
    ).toEqual(VERSIONS)
    await db.client.query(`DELETE FROM "${db.schema}".cardport_migrations WHERE version > 1`)
    expect(await pendingMigrations(db.client, { schema: db.schema })).toEqual([2, 3])
  })

  it('pendingMigrations() refuses tables of a newer version, and checks its options', async () => {
    await migrate(db.client, { schema: db.schema })
    await db.client.query(
      `INSERT INTO "${db.schema}".cardport_migrations (version, name) VALUES (999, 'future')`,
    )
    await expect(pendingMigrations(db.client, { schema: db.schema })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/schema version 999.*upgrade @cardport\/store-postgres/),
    })
    await expect(pendingMigrations(db.client, { schema: 'Billing' })).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/^Invalid pendingMigrations options/),
    })
  })

  it('refuses tables migrated by a newer version, with a conflict that says what to do', async () => {
    await migrate(db.client, { schema: db.schema })
    await db.client.query(
      `INSERT INTO "${db.schema}".cardport_migrations (version, name) VALUES (999, 'future')`,
    )
    await expect(postgresStore({ client: db.client, schema: db.schema })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/upgrade @cardport\/store-postgres/),
    })
  })

  it.each([
    [
      'with other columns (TypeORM)',
      ['CREATE TABLE "{schema}".migrations (id serial PRIMARY KEY, "timestamp" bigint, name text)'],
      /its columns are not version, name and applied_at/,
    ],
    [
      "holding other migrations under cardport's versions",
      [
        'CREATE TABLE "{schema}".migrations (version integer PRIMARY KEY, name text, applied_at timestamptz)',
        `INSERT INTO "{schema}".migrations (version, name) VALUES (1, 'users'), (2, 'orders'), (3, 'x')`,
      ],
      /its version 1 is not cardport's migration/,
    ],
    [
      'with the same columns, made but empty (nothing applied yet)',
      [
        'CREATE TABLE "{schema}".migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
      ],
      /it records no cardport migration, and cardport did not create it/,
    ],
  ])(
    "refuses, with tablePrefix '', another tool's migrations table %s, creating nothing",
    async (_, statements, reason) => {
      await db.client.query(`CREATE SCHEMA "${db.schema}"`)
      for (const sql of statements) await db.client.query(sql.replaceAll('{schema}', db.schema))
      const opening = postgresStore({ client: db.client, schema: db.schema, tablePrefix: '' })
      await expect(opening).rejects.toMatchObject({
        code: 'conflict',
        message: expect.stringMatching(reason),
      })
      await expect(opening).rejects.toThrow(/give the store a tablePrefix of its own/)
      expect(await tablesOf(db.schema)).toEqual(['migrations'])
    },
  )

  // PGlite has one user: roles and their privileges need the server.
  it.skipIf(db.name === 'PGlite')(
    "says that its role may not read the migrations table, not that the table is another tool's",
    async () => {
      await migrate(db.client, { schema: db.schema })
      const role = `${db.schema}_app`
      await db.client.query(`CREATE ROLE ${role} LOGIN`)
      const pool = new pg.Pool({ ...PG_CONFIG, user: role, max: 2 })
      onTestFinished(async () => {
        await pool.end()
        await db.client.query(`DROP OWNED BY ${role}`)
        await db.client.query(`DROP ROLE ${role}`)
      })
      // An application role with rights on the card tables but not on the migrations table, and
      // CREATE on the schema, as PostgreSQL 14 and earlier give every role in `public`.
      await db.client.query(`GRANT USAGE, CREATE ON SCHEMA "${db.schema}" TO ${role}`)
      const tables = ['cards', 'card_owners', 'card_tombstones', 'card_retirements']
      await db.client.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ${tables.map((table) => `"${db.schema}".cardport_${table}`).join(', ')} TO ${role}`,
      )
      const opening = postgresStore({ client: pool, schema: db.schema })
      // Not a conflict asking for a tablePrefix of its own: a new prefix would open empty tables.
      await expect(opening).rejects.toThrow(/permission denied for table cardport_migrations/)
      const store = await postgresStore({ client: pool, schema: db.schema, migrate: false })
      expect(await store.get({ provider: 'memory', owner: alice }, 'card_1')).toBeNull()
    },
  )

  // A role of its own needs the server (PGlite has one user, and no logins).
  it.skipIf(db.name === 'PGlite')(
    'opens, with the default migrate, tables a deploy step brought up to date, as a role that may not create tables in the schema',
    async () => {
      expect(await migrate(db.client, { schema: db.schema })).toEqual(VERSIONS)
      const role = `cardport_app_${randomBytes(6).toString('hex')}`
      await db.client.query(`CREATE ROLE ${role} LOGIN`)
      let app: pg.Pool | undefined
      try {
        // What an application's role is given: to read and write the tables, not to make them.
        await db.client.query(`GRANT USAGE ON SCHEMA "${db.schema}" TO ${role}`)
        await db.client.query(
          `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${db.schema}" TO ${role}`,
        )
        app = new pg.Pool({ ...PG_CONFIG, user: role, max: 2 })
        const store = await postgresStore({ client: app, schema: db.schema })
        await store.upsert(sampleCard('card_1', alice, { isDefault: true }))
        expect((await store.getDefault(scope))?.id).toBe('card_1')
        expect(await migrate(app, { schema: db.schema })).toEqual([])
      } finally {
        await app?.end()
        await db.client.query(`DROP OWNED BY ${role}`)
        await db.client.query(`DROP ROLE ${role}`)
      }
    },
  )

  it("opens, with tablePrefix '', a migrations table an earlier version made, without its mark", async () => {
    await migrate(db.client, { schema: db.schema, tablePrefix: '' })
    // What the code before the mark left: no comment; its rows say the table is cardport's.
    await db.client.query(`COMMENT ON TABLE "${db.schema}".migrations IS NULL`)
    await db.client.query(`DROP TABLE "${db.schema}".card_retirements`)
    await db.client.query(`DELETE FROM "${db.schema}".migrations WHERE version > 1`)
    expect(await pendingMigrations(db.client, { schema: db.schema, tablePrefix: '' })).toEqual([
      2, 3,
    ])
    const store = await postgresStore({ client: db.client, schema: db.schema, tablePrefix: '' })
    expect(await store.get({ provider: 'memory', owner: alice }, 'card_1')).toBeNull()
    const { rows } = await db.client.query(
      `SELECT version FROM "${db.schema}".migrations ORDER BY 1`,
    )
    expect(rows.map((row: { version: number }) => row.version)).toEqual(VERSIONS)
  })

  it("opens, with tablePrefix '', a schema whose migrations table is its own", async () => {
    await migrate(db.client, { schema: db.schema, tablePrefix: '' })
    expect(await migrate(db.client, { schema: db.schema, tablePrefix: '' })).toEqual([])
    const store = await postgresStore({ client: db.client, schema: db.schema, tablePrefix: '' })
    expect(await store.get({ provider: 'memory', owner: alice }, 'card_1')).toBeNull()
  })

  it('has no column that could hold a card number or a CVC', async () => {
    await migrate(db.client, { schema: db.schema })
    const { rows } = await db.client.query(
      `SELECT table_name || '.' || column_name AS name FROM information_schema.columns
       WHERE table_schema = $1`,
      [db.schema],
    )
    const columns = rows.map((row: { name: string }) => row.name)
    expect(columns).toContain('cardport_cards.last4')
    expect(columns).toContain('cardport_cards.checks')
    expect(columns.filter((name) => /number|pan\b|cvc|cvv|cvn|security|track/i.test(name))).toEqual(
      [],
    )
  })
})

describe('postgres options', () => {
  const client = {
    query: async () => ({ rows: [] }),
    transaction: async () => undefined,
  } as unknown as PostgresClient

  it('refuses unsafe or unusable schema names and table prefixes before any query', async () => {
    const bad = [
      { schema: 'Billing' },
      { schema: '1billing' },
      { schema: 'billing"; DROP TABLE x; --' },
      { schema: 'pg_billing' },
      { schema: 'information_schema' },
      { schema: 'a'.repeat(64) },
      { tablePrefix: 'Cards_' },
      { tablePrefix: 'my prefix' },
      { tablePrefix: 'a'.repeat(33) },
    ]
    for (const options of bad) {
      await expect(postgresStore({ client, ...options })).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringMatching(/^Invalid postgresStore options/),
      })
      await expect(migrate(client, options)).rejects.toMatchObject({ code: 'invalid_request' })
    }
  })

  it('refuses a concurrentWrites that is not an integer from 1 to 64 before any query', async () => {
    for (const concurrentWrites of [0, 65, 1.5, Number.NaN]) {
      await expect(postgresStore({ client, concurrentWrites })).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringMatching(/^Invalid postgresStore options: concurrentWrites/),
      })
    }
  })

  it('refuses a single pg Client: in its type, and when its connect() gives no connection', async () => {
    // Compile-time: a pg.Client's connect() resolves to void, not to a pooled connection.
    // @ts-expect-error a single pg.Client cannot hold one connection per transaction
    const typeOnly = () => postgresStore({ client: new pg.Client() })
    expect(typeof typeOnly).toBe('function')

    const clientLike = { query: async () => ({ rows: [] }), connect: async () => undefined }
    await expect(postgresStore({ client: clientLike as never })).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/pass a pg Pool \(not a single pg Client\) or a PGlite/),
    })
  })

  it('refuses a client that is neither a pool nor PGlite', async () => {
    for (const bad of [null, {}, { query: async () => ({ rows: [] }) }]) {
      await expect(postgresStore({ client: bad as never })).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringMatching(/client must be a pg Pool or a PGlite instance/),
      })
    }
  })
})

// --- helpers ---

const scope = { provider: 'memory', owner: { type: 'customer' as const, id: 'cus_alice' } }
