// Test support (not exported): the databases the store's tests run on. Each test gets a schema
// of its own with a random name, dropped after it.
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  onTestFinished,
  vi,
} from 'vitest'
import type { PostgresClient } from './postgres-client.js'

/** The test server: trust auth on loopback, database `test`. */
export const PG_CONFIG = {
  host: '127.0.0.1',
  port: 5432,
  user: 'postgres',
  database: 'test',
  connectionTimeoutMillis: 3000,
} as const

/**
 * A pool on the test server whose connections run every transaction at `level` unless told
 * otherwise (`default_transaction_isolation`, as a database, a role or a connection string may
 * set it), ended when the running test finishes.
 */
export function poolDefaultingTo(level: 'repeatable read' | 'serializable'): pg.Pool {
  const pool = new pg.Pool({
    ...PG_CONFIG,
    max: 4,
    options: `-c default_transaction_isolation=${level.replace(' ', '\\ ')}`,
  })
  onTestFinished(() => pool.end())
  return pool
}

/**
 * Kills the one backend of the test server that waits for a lock in a statement starting with
 * `statement` (as a server restart or a failover would), asking through `other`, and resolves
 * once `pool` has let go of the lost connection: an `'error'` event that nobody heard would have
 * come by then, however slow the machine.
 */
export async function killWaitingBackend(
  other: pg.Pool,
  pool: pg.Pool,
  statement: string,
): Promise<void> {
  // Asked outside any transaction of the test, whose view of pg_stat_activity stays as it was.
  const waiting = `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'
    AND query LIKE $1 AND pid <> pg_backend_pid()`
  const params = [`${statement}%`]
  // A loaded server can take longer than vi.waitFor's default second to get there.
  await vi.waitFor(
    async () => {
      expect((await other.query(waiting, params)).rows).toHaveLength(1)
    },
    { timeout: 15_000, interval: 20 },
  )
  const removed = once(pool, 'remove')
  await other.query(`SELECT pg_terminate_backend(pid) FROM (${waiting}) AS w`, params)
  await removed
}

/** Why the real server cannot be used, or null when it can. Probed once per test file. */
export const postgresUnavailable: string | null = await probe()

/** One database engine under test, with a schema of its own for the running test. */
export interface TestDatabase {
  /** `'pg Pool'` or `'PGlite'`. */
  readonly name: string
  /** The engine's client (a pg Pool, or one PGlite instance per test file). */
  readonly client: PostgresClient
  /** The running test's schema (random, dropped after the test). */
  readonly schema: string
  /** Another random schema name, dropped after the test. */
  freshSchema(): string
  /** A second, independent client on the same database (another process, in effect). */
  openClient(): Promise<PostgresClient>
}

interface Engine {
  name: string
  available: boolean
  start(): Promise<PostgresClient>
  stop(client: PostgresClient): Promise<void>
  /** Another client on the same database: a new pool for the server; PGlite has one. */
  another(client: PostgresClient): Promise<{ client: PostgresClient; stop(): Promise<void> }>
}

const ENGINES: Engine[] = [
  {
    name: 'pg Pool',
    available: postgresUnavailable === null,
    start: async () => new pg.Pool({ ...PG_CONFIG, max: 12 }),
    stop: (client) => (client as pg.Pool).end(),
    another: async () => {
      const pool = new pg.Pool({ ...PG_CONFIG, max: 12 })
      return { client: pool, stop: () => pool.end() }
    },
  },
  {
    name: 'PGlite',
    available: true,
    start: () => PGlite.create(),
    stop: (client) => (client as PGlite).close(),
    // PGlite is one in-process database with one connection: "another client" is the same one.
    another: async (client) => ({ client, stop: async () => {} }),
  },
]

/**
 * Registers `body` once per engine (the real server through a pg Pool, and PGlite). Without the
 * server, the pg Pool suite is skipped with a printed reason, or fails under `CI=true`.
 */
export function describePostgres(title: string, body: (db: TestDatabase) => void): void {
  for (const engine of ENGINES) {
    if (!engine.available) {
      if (process.env.CI === 'true') {
        describe(`${title} (${engine.name})`, () => {
          it(`needs PostgreSQL on ${PG_CONFIG.host}:${PG_CONFIG.port}`, () => {
            throw new Error(`${postgresUnavailable} (CI=true: a missing server is a failure)`)
          })
        })
        continue
      }
      console.warn(`[store-postgres] skipping "${title} (${engine.name})": ${postgresUnavailable}`)
    }
    describe.skipIf(!engine.available)(`${title} (${engine.name})`, () => {
      body(useEngine(engine))
    })
  }
}

function useEngine(engine: Engine): TestDatabase {
  let client: PostgresClient | undefined
  let schema: string | undefined
  let schemas: string[] = []
  let extra: Array<() => Promise<void>> = []

  const fresh = () => {
    const name = `cardport_test_${randomBytes(6).toString('hex')}`
    schemas.push(name)
    return name
  }

  // PGlite compiles its WebAssembly on start: seconds on a busy machine.
  beforeAll(async () => {
    client = await engine.start()
  }, 60_000)
  afterAll(async () => {
    if (client) await engine.stop(client)
  })
  beforeEach(() => {
    schema = fresh()
  })
  afterEach(async () => {
    for (const stop of extra) await stop()
    extra = []
    for (const name of schemas) await client!.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`)
    schemas = []
  })

  return {
    name: engine.name,
    get client() {
      if (!client) throw new Error('the database is not started yet')
      return client
    },
    get schema() {
      if (!schema) throw new Error('no test is running')
      return schema
    },
    freshSchema: fresh,
    async openClient() {
      const other = await engine.another(client!)
      extra.push(other.stop)
      return other.client
    },
  }
}

async function probe(): Promise<string | null> {
  const client = new pg.Client(PG_CONFIG)
  try {
    await client.connect()
    await client.query('SELECT 1')
    return null
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return `PostgreSQL is not reachable at ${PG_CONFIG.host}:${PG_CONFIG.port} (user ${PG_CONFIG.user}, database ${PG_CONFIG.database}): ${reason}`
  } finally {
    await client.end().catch(() => {})
  }
}
