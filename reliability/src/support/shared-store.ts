import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CardStore } from '@cardport/core'
import { postgresStore } from '@cardport/store-postgres'
import { sqliteStore } from '@cardport/store-sqlite'
import pg from 'pg'

/** One store opened twice, as two processes would: what each writes through, and the clean-up. */
export interface SharedStore {
  stores: [CardStore, CardStore]
  close(): Promise<void>
}

/** One SQLite file in a fresh temporary folder, opened twice; `close` closes both and removes it. */
export function sqliteFileOpenedTwice(prefix: string): SharedStore {
  const dir = mkdtempSync(join(tmpdir(), `cardport-${prefix}-`))
  const filename = join(dir, 'cards.db')
  const stores: [CardStore, CardStore] = [sqliteStore({ filename }), sqliteStore({ filename })]
  return {
    stores,
    async close() {
      for (const store of stores) await store.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** The PostgreSQL server the suite uses when it is there (trust auth, database `test`). */
export const PG_CONFIG = {
  host: '127.0.0.1',
  port: 5432,
  user: 'postgres',
  database: 'test',
  connectionTimeoutMillis: 3000,
} as const

/** Why the PostgreSQL server of {@link PG_CONFIG} cannot be used here, or null when it can. */
export async function probePostgres(): Promise<string | null> {
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

/**
 * A fresh schema on the PostgreSQL server, opened twice through two pools (two connections, as
 * two processes would); `close` drops the schema and ends both pools.
 */
export async function postgresSchemaOpenedTwice(prefix: string): Promise<SharedStore> {
  const schema = `cardport_${prefix}_${randomBytes(6).toString('hex')}`
  const pools = [new pg.Pool({ ...PG_CONFIG, max: 4 }), new pg.Pool({ ...PG_CONFIG, max: 4 })]
  const close = async () => {
    await pools[0]!.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await Promise.all(pools.map((pool) => pool.end()))
  }
  try {
    const stores: [CardStore, CardStore] = [
      await postgresStore({ client: pools[0]!, schema }),
      await postgresStore({ client: pools[1]!, schema }),
    ]
    return { stores, close }
  } catch (error) {
    await close()
    throw error
  }
}
