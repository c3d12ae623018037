import { type CardStore, closableStore } from '@cardport/core'
import type { StoreConfig } from './config.js'

/**
 * Opens the store a configuration names, running its migrations. The caller closes it with
 * `store.close()`, which also ends the PostgreSQL pool opened here, once: a second `close()`
 * resolves, and calls after it are refused, as every store's are. Only the driver in use is
 * imported.
 */
export async function openStore(config: StoreConfig): Promise<CardStore> {
  if (config.kind === 'sqlite') {
    const { sqliteStore } = await import('@cardport/store-sqlite')
    return sqliteStore({ filename: config.path })
  }
  const [{ postgresStore }, { default: pg }] = await Promise.all([
    import('@cardport/store-postgres'),
    import('pg'),
  ])
  // reconcile reads four owners at once (core's default); their store reads and grouped writes
  // (one transaction for several owners) share these connections.
  const pool = new pg.Pool({ connectionString: config.connectionString, max: 4 })
  try {
    const store = await postgresStore({ client: pool })
    return closableStore('postgresStore', {
      ...store,
      async close() {
        await store.close()
        await pool.end()
      },
    })
  } catch (error) {
    await pool.end()
    throw error
  }
}
