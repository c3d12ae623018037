import type { CardScope, CardStore } from '@cardport/core'
import { type CardStoreCheck, cardStoreChecks } from './card-store-checks.js'
import { registerChecks, type SkipCheck } from './register-checks.js'

/**
 * What `setup` returns for one test: a store, and the read-back hook and clean-up the suite
 * uses. Every test calls `setup` once and `teardown` once.
 */
export interface CardStoreFixture {
  /** The store under test. Migrations run on open, so it is ready to use. */
  store: CardStore
  /**
   * Read-back hook: the card's row as the store keeps it (the SQL row, the JSON document).
   * When given, the suite checks that the row has no column for a card number or a CVC.
   */
  readRow?: ((scope: CardScope, cardId: string) => Promise<unknown>) | undefined
  /**
   * Opens a second store over the same data as `store` (the same file, schema or server), which
   * stays readable after `store.close()`. The suite closes `store`, tries every call on it, and
   * reads through the second store that none of them wrote anything; it closes the second store
   * itself. Leave it out for a store whose data does not outlive it (`memoryStore()`): that
   * check is then reported skipped.
   */
  reopen?: (() => CardStore | Promise<CardStore>) | undefined
  /**
   * Runs after each test, failed or not: drop the schema, close what `setup` opened. When
   * absent, the suite calls `store.close()` instead. Some tests close the store themselves: a
   * `teardown` must not fail on a closed store.
   */
  teardown?: (() => void | Promise<void>) | undefined
}

/** Options of {@link describeCardStore}. */
export interface CardStoreSuiteOptions {
  /** The name of the `describe` block, e.g. `'sqliteStore (in memory)'`. */
  name: string
  /** Builds a fresh fixture; called once per test. */
  setup: () => CardStoreFixture | Promise<CardStoreFixture>
  /** Per-test timeout in milliseconds. Default: Vitest's. */
  timeout?: number | undefined
}

/**
 * Registers the conformance tests of a {@link CardStore}: reads and writes scoped by owner
 * (another owner's card id gives null; `delete`, `setDefault`, a new default and a deletion's
 * tombstone reach no other owner's card, not even one of the same id and owner id under the
 * other owner type or at another provider), ids compared case included (owner ids, and card ids,
 * that differ only in case are two), text read back unchanged (metadata at the core's limits,
 * characters beyond U+FFFF), inserts and updates with versions and an
 * `updatedAt` that every write moves on, an ISO 8601 date and time with its offset (as the
 * `Card` schema's `createdAt`) in every read, out-of-order writes refused by `observedAt` (deletions
 * included, and a refused default write leaving the owner's default), `upsertMany` (all or
 * nothing: a batch that fails part-way writes none of it), `delete` (deleting a default makes no
 * other card the default; a deleted card leaves every read; an older deletion keeps the later
 * tombstone), reads that return copies (changing any part of a card `get`, `getDefault`,
 * `listByOwner` or `listByOwners` gave, or of an upsert's answer, applied or refused, changes
 * nothing stored) and writes that keep no part of
 * the cards given, listings of 1,201 cards or owners in full, one default per owner (per
 * currency for accounts: a stored card written as the default in another currency clears that
 * currency's) kept atomically, `getDefault` giving an account's default the store
 * first saw, also under 50 concurrent `setDefault` calls, under pairs of a default switch and
 * a write or deletion of a card it reads (started at once, once the first call's microtasks have
 * run, or a `setImmediate` or `setTimeout` turn later, in both orders: a store that reads rows
 * and writes them back such a turn later fails every time) and under races of every
 * kind of default write at once on one owner (a customer, and an account with two currencies:
 * upserts and a batch of defaults, `setDefault` of a card and of null, a deletion of the
 * default, with and without `observedAt`), after which no write is lost, no deleted card is back
 * and versions count the writes, `listOwners` (each owner once, also
 * while owners listed before leave and new ones come, and none twice when one listed before
 * loses its last card and gets a new one, nor an owner sharing its id with one of the other
 * owner type), no field for a card number or CVC, and
 * `close`: from the moment it is called (while its promise is pending too), every call (the
 * `retirements` log's and the first page of `listOwners` included) rejects with
 * `invalid_request` and, as a store opened again over the same data shows (`reopen`), writes
 * nothing; `close()` again resolves; the calls begun before `close()`
 * (writes, reads, the first page of `listOwners`) have all succeeded by the time it resolves,
 * and (`reopen`) what they wrote is there. The optional `listByOwners` and `retirements` are
 * checked when the store has them, and reported skipped when it has not; `concurrentWrites`
 * batches (at least two) of other owners written at once must all land.
 *
 * Every test writes under a provider name and owner ids of its own, so a durable store shared
 * by all tests still gives each a clean slate.
 *
 * @example
 * ```ts
 * import { describeCardStore } from '@cardport/testing'
 * import { sqliteStore } from '@cardport/store-sqlite'
 * import Database from 'better-sqlite3'
 *
 * describeCardStore({
 *   name: 'sqliteStore',
 *   setup: () => {
 *     const database = new Database(':memory:')
 *     return {
 *       store: sqliteStore({ database }),
 *       // A second store over the same database: what the first wrote after close() shows.
 *       reopen: () => sqliteStore({ database }),
 *       // A card id is unique only within its owner: the row is the one of the scope's owner.
 *       readRow: async (scope, cardId) =>
 *         database
 *           .prepare(
 *             `select * from cardport_cards
 *               where provider = ? and owner_type = ? and owner_id = ? and card_id = ?`,
 *           )
 *           .get(scope.provider, scope.owner.type, scope.owner.id, cardId),
 *       teardown: () => database.close(),
 *     }
 *   },
 * })
 * ```
 */
export function describeCardStore(options: CardStoreSuiteOptions): void {
  registerChecks(
    options.name,
    cardStoreChecks(),
    (check, skip) => runCardStoreCheck(options, check, skip),
    options.timeout,
  )
}

/**
 * Runs one check of the store suite against a fresh fixture, outside of `describeCardStore`:
 * the suite's own tests use it to prove that a broken store fails the check it breaks.
 *
 * @internal
 */
export async function runCardStoreCheck(
  options: Pick<CardStoreSuiteOptions, 'setup'>,
  check: CardStoreCheck,
  skip: SkipCheck = cannotSkip,
): Promise<void> {
  const fixture = await options.setup()
  let closed = false
  try {
    await check.run(
      fixture,
      () => {
        closed = true
      },
      skip,
    )
  } finally {
    if (fixture.teardown) await fixture.teardown()
    else if (!closed) await fixture.store.close()
  }
}

/** Outside a Vitest test there is nothing to mark skipped: a skipped check is a failed one. */
const cannotSkip: SkipCheck = (note) => {
  throw new Error(`check not run: ${note}`)
}
