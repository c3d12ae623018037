import { InvalidRequestError, redactInPlace } from '@cardport/core'
import { z } from 'zod'
import { withoutRowValues } from './postgres-errors.js'

/** What a query answers. `pg`'s `QueryResult` and PGlite's `Results` both have `rows`. */
export interface PostgresQueryResult {
  /** The rows the statement returned, one object per row keyed by column name. */
  // biome-ignore lint/suspicious/noExplicitAny: pg and PGlite both type rows as any[]
  rows: any[]
}

/**
 * Anything that runs one parameterized statement (`$1`, `$2` …): a `pg` Pool, a `pg` PoolClient,
 * PGlite or a PGlite transaction. Typed structurally so that the declaration files pull in
 * neither `pg` nor PGlite.
 */
export interface PostgresQueryable {
  /** Runs one statement with `params` bound to `$1`, `$2` …, so that no value goes into SQL. */
  query(text: string, params?: unknown[]): Promise<PostgresQueryResult>
}

/** A connection checked out of a pool: `pg`'s `PoolClient`. */
export interface PostgresPoolClient extends PostgresQueryable {
  /** Returns the connection to the pool; with an error (or true), the pool discards it. */
  release(error?: Error | boolean): void
  /**
   * Optional: listens for the connection's `'error'` events (`pg`'s clients are
   * EventEmitters). A transaction listens while it holds the connection: pg emits a connection
   * lost then (a server restart, a failover, `pg_terminate_backend`) as an `'error'` event of
   * the client checked out, and an event that nothing hears is an uncaught exception.
   */
  on?(event: 'error', listener: (error: Error) => void): unknown
  /** Optional: stops listening, before the connection goes back to the pool. */
  removeListener?(event: 'error', listener: (error: Error) => void): unknown
}

/**
 * A pool: `pg`'s `Pool` (or anything with its `query` and `connect`). A transaction checks out
 * one connection with `connect()`, runs `BEGIN` … `COMMIT` on it, and releases it: a pool's
 * own `query()` may run each statement on a different connection, so it cannot hold one.
 */
export interface PostgresPool extends PostgresQueryable {
  /** Checks out one connection, for a transaction that must run on it from start to end. */
  connect(): Promise<PostgresPoolClient>
}

/**
 * A client that runs transactions itself: PGlite (`transaction(async (tx) => …)`), which has one
 * connection and runs its transactions one at a time. The callback must use only `tx`.
 */
export interface PostgresTransactional extends PostgresQueryable {
  /**
   * Runs `callback` in one transaction: committed when it resolves, rolled back when it
   * throws.
   */
  transaction<T>(callback: (tx: PostgresQueryable) => Promise<T>): Promise<T>
}

/**
 * The client a Postgres store runs on: a `pg` Pool, PGlite, or anything with the same shape.
 * A single `pg.Client` is not enough: it has one connection, which concurrent transactions
 * would share.
 */
export type PostgresClient = PostgresPool | PostgresTransactional

/** Whether a value looks like a {@link PostgresClient}. */
export function isPostgresClient(value: unknown): value is PostgresClient {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Record<string, unknown>
  return (
    typeof candidate.query === 'function' &&
    (typeof candidate.transaction === 'function' || typeof candidate.connect === 'function')
  )
}

/** Checks that a value looks like a {@link PostgresClient}. */
export const PostgresClientSchema = z.custom<PostgresClient>(
  isPostgresClient,
  'client must be a pg Pool or a PGlite instance: query() plus connect() or transaction()',
)

/**
 * Runs `work` in one transaction: PGlite's `transaction()` when the client has it, else
 * `BEGIN`/`COMMIT` on a connection checked out of the pool (`ROLLBACK` when `work` throws).
 * `first`, a statement without parameters, runs before `work`; on a pool it goes with `BEGIN`
 * in one round trip (the simple query protocol takes several statements).
 *
 * On a pool the transaction is read committed whatever the connection's default: the store's
 * writes (and the migrations) take an advisory lock first and rely on each later statement
 * seeing what the previous holder committed. Under a `default_transaction_isolation` of
 * repeatable read or serializable, the snapshot predates the wait for the lock: writes of one
 * owner from two connections failed with serialization errors, and processes migrating at once
 * created the schema again. PGlite runs its transactions one after the other on its one
 * connection, so no snapshot there can predate another's commit.
 *
 * On a pool, a `BEGIN` (with `first`) that fails with the connection lost
 * ({@link isConnectionLost}: an idle connection whose backend was terminated) releases that
 * connection with the error, so the pool discards it, and the transaction runs again on another
 * connection (up to {@link MAX_RETRIES_ON_LOST_CONNECTION} times): nothing of `work` was sent. A
 * failure after `BEGIN` succeeded is never retried: a write may have reached the server.
 *
 * What it throws is the driver's error, of its class and with its SQLSTATE `code`, without the
 * values the statements were given (`withoutRowValues`: PostgreSQL quotes a refused row's columns
 * in the error's `detail`, a customer's name and address among them) and with every card number
 * left in it masked (`redactInPlace`).
 */
export async function inTransaction<T>(
  client: PostgresClient,
  work: (tx: PostgresQueryable) => Promise<T>,
  first?: string,
): Promise<T> {
  try {
    return await transact(client, work, first)
  } catch (error) {
    throw cleaned(error)
  }
}

/**
 * Runs one statement on `client` outside a transaction, never twice (a write: see
 * {@link readCleaned} for reads), its error cleaned as
 * {@link inTransaction}'s are: a value the caller gave the read (an owner or card id, which may
 * be a card number) is quoted in a refused batch's JSON (`where`) and kept in PGlite's `params`.
 */
export async function queryCleaned(
  client: PostgresQueryable,
  text: string,
  params?: unknown[],
): Promise<PostgresQueryResult> {
  try {
    return await client.query(text, params)
  } catch (error) {
    throw cleaned(error)
  }
}

/**
 * Runs one read-only statement on `client` as {@link queryCleaned} does, but over a pool
 * (a client with `connect()`) runs it again (up to {@link MAX_RETRIES_ON_LOST_CONNECTION} times)
 * when it fails with the connection lost ({@link isConnectionLost}): a pool hands out an idle
 * connection whose backend was terminated (`pg_terminate_backend`, a server restart) before it
 * has read the news, and a pg Pool's `query()` releases such a connection with the error, so the
 * next try runs on another. A read changes nothing, so running it again is safe; a statement that
 * writes must use {@link queryCleaned}, never this.
 */
export async function readCleaned(
  client: PostgresClient,
  text: string,
  params?: unknown[],
): Promise<PostgresQueryResult> {
  try {
    for (let retries = 0; ; retries++) {
      try {
        return await client.query(text, params)
      } catch (error) {
        const again =
          'connect' in client && retries < MAX_RETRIES_ON_LOST_CONNECTION && isConnectionLost(error)
        if (!again) throw error
      }
    }
  } catch (error) {
    throw cleaned(error)
  }
}

/**
 * Whether `error` says that the connection to the server is gone, so that the statement it
 * answers was not run, or was rolled back with the session: SQLSTATE 57P01
 * (`pg_terminate_backend`, a fast shutdown), 57P02, 57P03 (the server is shutting down or
 * starting), 08000, 08003, 08006 (connection exceptions), and the errors without a SQLSTATE that
 * `pg` throws when the socket closes or fails under it (`Connection terminated unexpectedly`,
 * `ECONNRESET`, `EPIPE`, and a client `not queryable` after such an error).
 */
export function isConnectionLost(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code, message } = error as { code?: unknown; message?: unknown }
  if (typeof code === 'string') return CONNECTION_LOST_CODES.has(code)
  return (
    typeof message === 'string' &&
    (message === 'Connection terminated unexpectedly' ||
      message === 'Client has encountered a connection error and is not queryable')
  )
}

/** The SQLSTATEs and socket error codes of a lost connection (see {@link isConnectionLost}). */
const CONNECTION_LOST_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  'ECONNRESET',
  'EPIPE',
])

/**
 * A driver's error without the values its statement was given, and with every card number left
 * in it masked, in place. A row the database refuses (a check constraint) comes back with every
 * column quoted in the error's `detail` ("Failing row contains (…)"), and PGlite's error keeps the
 * query's parameters: a card number a caller's card held in its free text went into both, as did
 * the holder's name, address and metadata.
 */
function cleaned(error: unknown): unknown {
  withoutRowValues(error)
  if (typeof error === 'object' && error !== null) redactInPlace(error)
  return error
}

/** {@link inTransaction}, its errors as the driver threw them. */
async function transact<T>(
  client: PostgresClient,
  work: (tx: PostgresQueryable) => Promise<T>,
  first?: string,
): Promise<T> {
  if ('transaction' in client && typeof client.transaction === 'function') {
    if (first === undefined) return client.transaction(work)
    return client.transaction(async (tx) => {
      await tx.query(first)
      return work(tx)
    })
  }
  for (let retries = 0; ; retries++) {
    try {
      return await onConnection(client as PostgresPool, work, first)
    } catch (error) {
      // BEGIN (with `first`, a lock statement that writes nothing) failed with the connection
      // lost: nothing of `work` was sent, the connection has been discarded, and the transaction
      // runs again on another connection. A pool hands out an idle connection whose backend was
      // terminated (`pg_terminate_backend`, a restart) before it has read the news, and after a
      // restart every idle connection of the pool is such a one.
      if (!(error instanceof BeginFailed)) throw error
      if (retries === MAX_RETRIES_ON_LOST_CONNECTION) throw error.lost
    }
  }
}

/**
 * How many times a pool transaction whose `BEGIN` failed with the connection lost, or a read that
 * did, runs again, each time on another connection (the lost one discarded): enough for a pool
 * of pg's default size (10) whose idle connections were all terminated at once, and a bound when
 * the server keeps dropping connections.
 */
const MAX_RETRIES_ON_LOST_CONNECTION = 10

/**
 * Why a pool transaction's `BEGIN` (with its `first` statement) failed, the connection lost
 * ({@link isConnectionLost}): before any statement of its work was sent, so it may run again.
 */
class BeginFailed extends Error {
  constructor(readonly lost: unknown) {
    super('BEGIN failed: the connection was lost')
  }
}

/**
 * {@link transact} on one connection checked out of `pool`: throws {@link BeginFailed}, the
 * connection released with the error (the pool discards it), when `BEGIN` fails with the
 * connection lost.
 */
async function onConnection<T>(
  pool: PostgresPool,
  work: (tx: PostgresQueryable) => Promise<T>,
  first?: string,
): Promise<T> {
  const connection = await pool.connect()
  if (typeof connection?.release !== 'function' || typeof connection.query !== 'function') {
    throw new InvalidRequestError(
      'The Postgres client’s connect() did not return a pooled connection: pass a pg Pool ' +
        '(not a single pg Client) or a PGlite instance.',
    )
  }
  let discard: Error | undefined
  // The connection lost while held: the statement in flight fails with it (or the next one
  // does), the transaction is rolled back by the server, and the pool must not reuse it.
  const onError = (error: Error) => {
    discard ??= error
  }
  connection.on?.('error', onError)
  let begun = false
  try {
    await connection.query(first === undefined ? BEGIN : `${BEGIN};\n${first}`)
    begun = true
    const result = await work(connection)
    await connection.query('COMMIT')
    return result
  } catch (error) {
    if (!begun && isConnectionLost(error)) {
      // A connection that is gone cannot roll back: discarded with the error.
      discard = error instanceof Error ? error : new Error(String(error))
      throw new BeginFailed(error)
    }
    await rollBack()
    throw error
  } finally {
    connection.removeListener?.('error', onError)
    connection.release(discard)
  }

  async function rollBack(): Promise<void> {
    try {
      await connection.query('ROLLBACK')
    } catch (rollbackError) {
      // A connection that cannot roll back is in an unknown state: the pool must not reuse it.
      discard = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
    }
  }
}

/**
 * How a pool transaction begins: read committed, so that a statement run after the owner's lock
 * (or the migrations' lock) sees what the previous holder committed (see {@link inTransaction}).
 */
const BEGIN = 'BEGIN ISOLATION LEVEL READ COMMITTED'
