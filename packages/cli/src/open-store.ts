import { existsSync } from 'node:fs'
import { type CardStore, closableStore, untilAborted } from '@cardport/core'
import type { StoreConfig } from './config.js'

/** How {@link openStore} opens a store. */
export interface OpenStoreOptions {
  /**
   * Whether a SQLite file that does not exist may be made. Default `true`; `false` on a dry
   * run, which must change nothing, the file system included.
   */
  create?: boolean | undefined
}

/** How long opening a PostgreSQL connection may take, TCP and the server's greeting included. */
const STORE_CONNECT_TIMEOUT_MS = 10_000

/**
 * Opens the store a configuration names, running its migrations. The caller closes it with
 * `store.close()`, which also ends the PostgreSQL pool opened here, once: a second `close()`
 * resolves, and calls after it are refused, as every store's are. Only the driver in use is
 * imported. A PostgreSQL connection that is not open within 10 s fails the call that needed it
 * (this one, or a later store call) with pg's timeout error.
 *
 * Once `stop` has aborted (SIGHUP, SIGINT, SIGTERM), nothing is opened: the call throws the
 * signal's reason, and creates no SQLite file. A SQLite store is made and migrated in one synchronous
 * call, which a signal cannot cut. A PostgreSQL store still opening when `stop` aborts is not
 * waited for (a server that does not answer would hold the command for the connect timeout):
 * the call throws at once, and the store is closed should it open before the process exits.
 * Its migrations run in one transaction, which PostgreSQL rolls back when the connection ends
 * with the process: no half-made schema is left.
 *
 * With `create: false` (a dry run), a SQLite file that does not exist is refused instead of
 * made: a mistyped path would otherwise become an empty store, silently reported as holding no
 * owners. A file that is not a SQLite database is refused by `sqliteStore` itself, with what to
 * do (`invalid_request`).
 */
export async function openStore(
  config: StoreConfig,
  stop?: AbortSignal,
  options: OpenStoreOptions = {},
): Promise<CardStore> {
  if (config.kind === 'sqlite') {
    const { sqliteStore } = await import('@cardport/store-sqlite')
    stop?.throwIfAborted()
    if (options.create === false && config.path !== ':memory:' && !existsSync(config.path)) {
      throw new Error(
        'no such file, and a dry run creates nothing: check the path, or run without --dry-run to make a new store there',
      )
    }
    return sqliteStore({ filename: config.path })
  }
  const [{ postgresStore }, { default: pg }] = await Promise.all([
    import('@cardport/store-postgres'),
    import('pg'),
  ])
  stop?.throwIfAborted()
  // reconcile reads four owners at once (core's default); their store reads and grouped writes
  // (one transaction for several owners) share these connections. pg waits for a connection
  // for ever by default: a server that accepts and never answers (stuck, or a wrong port behind
  // a proxy) or a host that drops packets would hang the command instead of failing it.
  const pool = new pg.Pool({
    connectionString: config.connectionString,
    max: 4,
    connectionTimeoutMillis: STORE_CONNECT_TIMEOUT_MS,
  })
  const opening = (async () => {
    try {
      const store = await postgresStore({ client: pool, schema: config.schema })
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
  })()
  // Should it open after `stop` aborts, before the process exits, its connections must not keep
  // it alive.
  return untilAborted(opening, stop, (store) => store.close())
}
