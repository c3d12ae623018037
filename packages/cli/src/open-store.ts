import { existsSync } from 'node:fs'
import { type CardStore, closableStore, isCardportError, untilAborted } from '@cardport/core'
import type { StoreConfig } from './config.js'
import { describeError } from './describe-error.js'
import { CliError, EXIT_CODES } from './exit-codes.js'

/** How {@link openStore} opens a store. */
export interface OpenStoreOptions {
  /**
   * Open the store to read it only (a dry run, which must change nothing): no SQLite file is
   * made, no migration runs, and a store that would need one is refused. Default `false`.
   */
  readonly?: boolean | undefined
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
 * With `readonly` (a dry run), nothing is written: a SQLite file that does not exist is refused
 * instead of made (a mistyped path would otherwise become an empty store, silently reported as
 * holding no owners); one that exists is opened read-only (`sqliteStore({ readonly: true })`); a
 * PostgreSQL store is opened with `migrate: false`, after `pendingMigrations` found nothing to
 * run, so a role that may only SELECT can run it. Tables that need migrations, or no cardport
 * tables at all, are refused with what to do. A file that is not a SQLite database is refused by
 * `sqliteStore` itself, with what to do (`invalid_request`). (`:memory:` opens as for a real run:
 * it starts empty and is gone with the process.)
 */
export async function openStore(
  config: StoreConfig,
  stop?: AbortSignal,
  options: OpenStoreOptions = {},
): Promise<CardStore> {
  if (config.kind === 'sqlite') {
    const { sqliteStore } = await import('@cardport/store-sqlite')
    stop?.throwIfAborted()
    const readonly = options.readonly === true && config.path !== ':memory:'
    if (readonly && !existsSync(config.path)) {
      throw new Error(
        'no such file, and a dry run creates nothing: check the path, or run without --dry-run to make a new store there',
      )
    }
    try {
      return sqliteStore({ filename: config.path, readonly })
    } catch (error) {
      const pending = isCardportError(error) ? error.details?.pendingMigrations : undefined
      if (Array.isArray(pending)) throw needsMigrations(pending)
      throw error
    }
  }
  const [{ pendingMigrations, postgresStore }, { default: pg }] = await Promise.all([
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
      if (options.readonly) {
        const pending = await pendingMigrations(pool, { schema: config.schema })
        if (pending.length > 0) throw needsMigrations(pending)
      }
      const store = await postgresStore({
        client: pool,
        schema: config.schema,
        migrate: options.readonly !== true,
      })
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

/**
 * Why a dry run cannot use a store whose tables lack the migrations `pending` (every one: it has
 * none), and what to do.
 */
function needsMigrations(pending: readonly number[]): Error {
  if (pending.includes(1)) {
    return new Error(
      'the store has no cardport tables, and a dry run makes none: run once without --dry-run to make them, or call migrate()',
    )
  }
  const first = pending[0]!
  const last = pending.at(-1)!
  const versions =
    pending.length === 1
      ? `migration ${first}`
      : `migrations ${last - first + 1 === pending.length ? `${first}-${last}` : pending.join(', ')}`
  return new Error(
    `the store needs ${versions}, and a dry run runs none: run once without --dry-run, or call migrate()`,
  )
}

/**
 * What a command throws when {@link openStore} failed with `error`: the signal's reason once
 * `stop` has aborted, else exit 1 naming the store (its label: never a password) and why.
 */
export function storeOpenFailure(error: unknown, config: StoreConfig, stop: AbortSignal): unknown {
  if (stop.aborted) return stop.reason
  return new CliError(
    EXIT_CODES.failure,
    `could not open the store ${config.label}: ${describeError(error)}`,
    { cause: error },
  )
}
