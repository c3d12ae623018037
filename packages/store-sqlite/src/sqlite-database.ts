/**
 * A prepared statement, as much of better-sqlite3's `Statement` as the store uses. Typed
 * structurally so that the declaration files do not pull in `@types/better-sqlite3`.
 */
export interface SqliteStatement {
  /** Runs a statement that writes; `changes` says how many rows it touched. */
  run(...params: unknown[]): {
    /** How many rows the statement inserted, updated or deleted. */
    changes: number
  }
  /** The first row the statement reads, or `undefined` when there is none. */
  get(...params: unknown[]): unknown
  /** Every row the statement reads. */
  all(...params: unknown[]): unknown[]
  /** Whether integers come back as BigInts (`true`) or numbers, whatever the database's default. */
  safeIntegers(toggle?: boolean): SqliteStatement
}

/** A function wrapped by `database.transaction()`: calling it runs it in a transaction. */
export interface SqliteTransaction {
  // biome-ignore lint/suspicious/noExplicitAny: better-sqlite3 declares transactions over any[]
  (...args: any[]): unknown
  /** Runs it in a `BEGIN IMMEDIATE` transaction (a savepoint when one is already open). */
  // biome-ignore lint/suspicious/noExplicitAny: better-sqlite3 declares transactions over any[]
  immediate(...args: any[]): unknown
}

/**
 * A better-sqlite3 `Database` (versions 11 and 12), as much of it as the store uses. Pass your
 * own to `sqliteStore({ database })` to share a connection with the rest of your application.
 */
export interface SqliteDatabase {
  /** Whether the connection is open. */
  readonly open: boolean
  /** Whether the database lives in memory (`:memory:` or an empty file name). */
  readonly memory: boolean
  /** Compiles one statement, once, for the store to run many times. */
  prepare(source: string): SqliteStatement
  /** Runs SQL without parameters, several statements at once: the migrations. */
  exec(source: string): unknown
  /** Runs a PRAGMA: `journal_mode = WAL`, for a database in a file. */
  pragma(
    source: string,
    options?: {
      /** Return the first column of the first row instead of every row. */
      simple?: boolean
    },
  ): unknown
  /** Wraps `fn` so that each call runs in one transaction, which is how a default switches. */
  // biome-ignore lint/suspicious/noExplicitAny: better-sqlite3 declares transactions over any[]
  transaction(fn: (...args: any[]) => unknown): SqliteTransaction
  /** Closes the connection; the store only closes a database it opened itself. */
  close(): unknown
}
