import { existsSync, statSync } from 'node:fs'
import {
  type CardStore,
  closableStore,
  InvalidRequestError,
  isCardportError,
  untilAborted,
} from '@cardport/core'
import type { UnusableFileReason } from '@cardport/store-sqlite'
import type { StoreConfig } from './config.js'
import { describeError } from './describe-error.js'
import { CliError, EXIT_CODES } from './exit-codes.js'

/** How {@link openStore} opens a store. */
export interface OpenStoreOptions {
  /**
   * Open the store to read it only, for the command named (`reconcile --dry-run`, which must
   * change nothing, or `list --store`): no SQLite file is made, no migration runs, and a store
   * that would need one is refused, with what to do in that command's words. Default: open it
   * to write.
   */
  readonly?: ReadOnlyUse | undefined
}

/** The commands that open a store to read it only, and how each refuses a store it cannot read. */
const READ_ONLY_USES = {
  'dry-run': { name: 'a dry run', remedy: 'run once without --dry-run' },
  list: { name: 'list --store', remedy: 'run cardport reconcile once' },
} as const

/** A command that opens a store to read it only: a key of {@link READ_ONLY_USES}. */
export type ReadOnlyUse = keyof typeof READ_ONLY_USES

/**
 * A store {@link openStore} opened: a {@link CardStore}, and what the contract has no call for.
 */
export interface OpenedStore extends CardStore {
  /**
   * Every provider name the store holds cards under, sorted. The contract lists the owners of
   * one name (`listOwners`) and no more, so a mistyped `--name` finds an empty store where one
   * full of another name's cards lies: `reconcile` asks this to tell the two apart. Read from
   * the cards table, whose layout the store's README documents (`cardport_cards`, its
   * `provider` column), all of it: `reconcile` asks only once it found no owner to read. Call
   * it while the store is open. An in-memory SQLite store, which starts empty, gives none.
   */
  providerNames(): Promise<string[]>
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
 * With `readonly` (a dry run, `list --store`), nothing is written: a SQLite file that does not
 * exist is refused instead of made (a mistyped path would otherwise become an empty store,
 * silently reported as holding no owners); one that exists is opened read-only
 * (`sqliteStore({ readonly: true })`); a PostgreSQL store is opened with `migrate: false`, after
 * `pendingMigrations` found nothing to run, so a role that may only SELECT can run it. Tables
 * that need migrations, or no cardport tables at all, are refused with what to do, in the
 * command's words. So is a file that is not a SQLite database, or is damaged (`invalid_request`):
 * `sqliteStore`'s own advice, to name a new file, is for a run that writes, which keeps it.
 * (`:memory:` opens as for a real run: it starts empty and is gone with the process.) A SQLite
 * path that names a folder is refused as such, whether the store is opened to write or to read.
 */
export async function openStore(
  config: StoreConfig,
  stop?: AbortSignal,
  options: OpenStoreOptions = {},
): Promise<OpenedStore> {
  if (config.kind === 'sqlite') {
    const { sqliteStore } = await import('@cardport/store-sqlite')
    stop?.throwIfAborted()
    const use = config.path === ':memory:' ? undefined : options.readonly
    // SQLite's own words for a folder differ by mode and name no folder (SQLITE_IOERR_READ
    // read-only: "an existing file … that this user may read"); said plainly, alike for both.
    if (config.path !== ':memory:' && isFolder(config.path)) {
      throw new Error(
        "the path names a folder, not a file: name the store's file, such as cards.db in that folder",
      )
    }
    if (use && !existsSync(config.path)) {
      const { name, remedy } = READ_ONLY_USES[use]
      throw new Error(
        `no such file, and ${name} creates nothing: check the path, or ${remedy} to make a new store there`,
      )
    }
    let store: CardStore
    try {
      store = sqliteStore({ filename: config.path, readonly: use !== undefined })
    } catch (error) {
      const pending = isCardportError(error) ? error.details?.pendingMigrations : undefined
      if (use && Array.isArray(pending)) throw needsMigrations(pending, use)
      throw (use && unusableFile(error, use)) ?? error
    }
    const { path } = config
    return { ...store, providerNames: () => sqliteProviderNames(path) }
  }
  const [postgres, { default: pg }] = await Promise.all([
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
        const pending = await postgres.pendingMigrations(pool, { schema: config.schema })
        if (pending.length > 0) throw needsMigrations(pending, options.readonly)
      }
      const store = await postgres.postgresStore({
        client: pool,
        schema: config.schema,
        migrate: options.readonly === undefined,
      })
      return closableStore('postgresStore', {
        ...store,
        async providerNames() {
          // Named as postgresStore names it: a schema SchemaNameSchema took, the default prefix.
          const cards = `"${config.schema ?? postgres.DEFAULT_SCHEMA}".${postgres.DEFAULT_TABLE_PREFIX}cards`
          const { rows } = await pool.query<{ provider: string }>(
            `SELECT DISTINCT provider FROM ${cards} ORDER BY provider`,
          )
          return rows.map((row) => row.provider)
        },
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

/** Whether `path` names a folder; false when it cannot be known (SQLite then says why). */
function isFolder(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false
  } catch {
    return false
  }
}

/**
 * The provider names a SQLite store's file holds cards under (see
 * {@link OpenedStore.providerNames}), read on a connection of its own, read-only, closed before
 * it returns: the store keeps its connection to itself. An in-memory database is not shared with
 * another connection: it holds none.
 */
async function sqliteProviderNames(path: string): Promise<string[]> {
  if (path === ':memory:') return []
  const { default: Database } = await import('better-sqlite3')
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    const rows = db
      .prepare('SELECT DISTINCT provider FROM cardport_cards ORDER BY provider')
      .all() as Array<{ provider: string }>
    return rows.map((row) => row.provider)
  } finally {
    db.close()
  }
}

/**
 * Why a command that only reads (`use`) cannot use a store whose tables lack the migrations
 * `pending` (every one: it has none), and what to do.
 */
function needsMigrations(pending: readonly number[], use: ReadOnlyUse): Error {
  const { name, remedy } = READ_ONLY_USES[use]
  if (pending.includes(1)) {
    return new Error(
      `the store has no cardport tables, and ${name} makes none: ${remedy} to make them, or call migrate()`,
    )
  }
  const first = pending[0]!
  const last = pending.at(-1)!
  const versions =
    pending.length === 1
      ? `migration ${first}`
      : `migrations ${last - first + 1 === pending.length ? `${first}-${last}` : pending.join(', ')}`
  return new Error(
    `the store needs ${versions}, and ${name} runs none: ${remedy}, or call migrate()`,
  )
}

/** What a command that only reads says of a file `sqliteStore` refused, by its `details.unusableFile`. */
const UNUSABLE_FILES: Record<UnusableFileReason, { why: string; fix: string }> = {
  not_a_database: {
    why: 'it is not a SQLite database',
    fix: 'check that the path names a cardport store',
  },
  damaged: { why: 'it is damaged', fix: 'restore it from a backup' },
}

/**
 * Why a command that only reads (`use`) cannot use a file that `sqliteStore` found not to be a
 * SQLite database or damaged (its error's `details.unusableFile`), and what to do; undefined
 * for any other error. The store's own advice, to name a new file to make one, is what this
 * command cannot do: it makes no store.
 */
function unusableFile(error: unknown, use: ReadOnlyUse): InvalidRequestError | undefined {
  if (!isCardportError(error, 'invalid_request')) return undefined
  const reason = error.details?.unusableFile
  if (typeof reason !== 'string' || !Object.hasOwn(UNUSABLE_FILES, reason)) return undefined
  const { why, fix } = UNUSABLE_FILES[reason as UnusableFileReason]
  const code = error.details?.sqliteCode
  const { name, remedy } = READ_ONLY_USES[use]
  return new InvalidRequestError(
    `${why} (${code}), and ${name} makes no store: ${fix}, or ${remedy} on a new file to make one`,
    { cause: error },
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
