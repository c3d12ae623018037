import { closeSync, openSync } from 'node:fs'
import {
  type Card,
  type CardScope,
  type CardStore,
  closableStore,
  InvalidRequestError,
  type Owner,
  observedAtOf,
  optionsObject,
  redactSecrets,
  type StoredCard,
  type UpsertResult,
  validate,
} from '@cardport/core'
import Database from 'better-sqlite3'
import { z } from 'zod'
import { CARD_COLUMNS, type CardRow, cardValues, rowToCard } from './card-row.js'
import type { SqliteDatabase } from './sqlite-database.js'
import { migrate, pendingMigrations, SQLITE_MIGRATIONS } from './sqlite-migrations.js'

/**
 * Why {@link sqliteStore} refused a file, in its `invalid_request` error's
 * `details.unusableFile`: `'not_a_database'` (`SQLITE_NOTADB`) or `'damaged'` (`SQLITE_CORRUPT`,
 * or one of its extended codes; `details.sqliteCode` holds which).
 */
export type UnusableFileReason = 'not_a_database' | 'damaged'

/** Options of {@link sqliteStore}: a file to open, or a better-sqlite3 `Database` you own. */
export type SqliteStoreOptions = {
  /**
   * Switch the database to write-ahead logging (readers never wait for the writer). Default
   * true. WAL is a property of the file: it stays on for every later connection. In-memory
   * databases have no WAL and ignore it. The connection the store opens (`filename`) syncs every
   * commit to disk (`synchronous = FULL`), so that not even a power loss loses a committed write;
   * a `database` you pass keeps the `synchronous` you gave it.
   */
  wal?: boolean | undefined
  /**
   * Open the store to read only, changing nothing: no migration runs and the journal mode stays
   * as it is (`wal` is ignored). A `filename` is opened read-only and must exist: none is made.
   * A `database` you pass is used as you opened it (`{ readonly: true }` for the same
   * guarantee). Tables that are not up to date are refused with `invalid_request`, the versions
   * they lack in `details.pendingMigrations` (see {@link pendingMigrations}); every write is
   * refused by SQLite (`SQLITE_READONLY`) on a read-only connection. Default false. For a dry
   * run, or a reader on a file another process owns and migrates.
   */
  readonly?: boolean | undefined
} & (
  | {
      /** A file path, or `':memory:'`. The store opens it, and closes it on `close()`. */
      filename: string
      /** Not with `filename`: pass one of the two. */
      database?: never
      /**
       * How long a statement of the connection the store opens waits for another connection's
       * lock on the file (SQLite's busy timeout; better-sqlite3's `timeout`) before it fails with
       * `SQLITE_BUSY` (`database is locked`): every write, and opening a file that has migrations
       * to run (an up-to-date file opens with reads only, taking no lock).
       * Milliseconds, a whole number from 0 (fail at once) to 2147483647. Default 5000. Raise it
       * when several processes write one file and each commit waits for its sync to disk. Only
       * with `filename`: a `database` you pass has the timeout you opened it with.
       */
      busyTimeoutMs?: number | undefined
    }
  | {
      /** An open better-sqlite3 `Database`. The store never closes it: it is yours. */
      database: SqliteDatabase
      /** Not with `database`: pass one of the two. */
      filename?: never
      /**
       * Not with `database`: open your `Database` with its own (`new Database(file, { timeout })`).
       */
      busyTimeoutMs?: never
    }
)

/** better-sqlite3's default busy timeout, which the store keeps unless told otherwise. */
const DEFAULT_BUSY_TIMEOUT_MS = 5000
/** The longest busy timeout better-sqlite3 (and SQLite's `int`) takes: some 24.8 days. */
const MAX_BUSY_TIMEOUT_MS = 2_147_483_647

const OptionsSchema = optionsObject({
  filename: z.string().min(1, 'filename must be a file path or ":memory:"').optional(),
  database: z
    .custom<SqliteDatabase>(isOpenDatabase, 'database must be an open better-sqlite3 Database')
    .optional(),
  wal: z.boolean().default(true),
  readonly: z.boolean().default(false),
  busyTimeoutMs: z.number().int().min(0).max(MAX_BUSY_TIMEOUT_MS).optional(),
})
  .refine((options) => (options.filename === undefined) !== (options.database === undefined), {
    message: 'pass exactly one of filename and database',
  })
  // The store opens no connection then: it cannot set the timeout of one it is given.
  .refine((options) => !(options.busyTimeoutMs !== undefined && options.database !== undefined), {
    message: 'busyTimeoutMs is only for a filename: open your Database with its own timeout',
  })
  // better-sqlite3 refuses it with a TypeError; an in-memory database starts empty anyway.
  .refine((options) => !(options.readonly && options.filename === ':memory:'), {
    message: 'readonly needs a file: an in-memory database starts without tables',
  })

/** How many owners `listOwners` reads per query. */
const OWNER_PAGE = 500

/**
 * A {@link CardStore} on SQLite, over better-sqlite3: the durable store for one process (or a
 * few, sharing a file). Opening it runs the schema migrations and turns on WAL (with `readonly`,
 * neither: it opens an up-to-date file read-only and changes nothing); every write is
 * one `BEGIN IMMEDIATE` transaction, so that switching a default, and every `upsertMany`, is
 * atomic. A partial unique index holds at most one default per owner (and currency) whatever
 * the code does; reads are always scoped by provider and owner; no column can hold a card
 * number or a CVC. `close()` closes the database file the store opened, never a Database you
 * passed; after it (or once a Database you passed is closed), every call is refused with
 * `invalid_request`. A `filename` it cannot open, or a file (yours or a `database`'s) which is
 * not a SQLite database or is damaged, is refused with `invalid_request` saying why and what to
 * do (for the latter two, with better-sqlite3's `SQLITE_NOTADB` or `SQLITE_CORRUPT` error as
 * `cause`, and `details: { unusableFile, sqliteCode }`: see {@link UnusableFileReason}). When
 * better-sqlite3's native module does not load (missing, or built for another Node.js), the
 * `invalid_request` says so and to run `pnpm rebuild better-sqlite3`, not to check the path, with
 * a copy of the loader's error (secrets masked) as `cause`. See the package README for the table
 * layout. It always has `retirements` and `listByOwners`, and its type says so (core's
 * `CompleteCardStore`, spelt out so that a core in the peer range from before that type will do).
 *
 * @example
 * ```ts
 * import { createCardSync } from '@cardport/core'
 * import { sqliteStore } from '@cardport/store-sqlite'
 *
 * const store = sqliteStore({ filename: 'cards.db' })
 * const sync = createCardSync({ provider, store })
 * // …
 * await store.close()
 * ```
 *
 * @example Sharing your own connection (the store will not close it)
 * ```ts
 * import Database from 'better-sqlite3'
 *
 * const db = new Database('app.db')
 * const store = sqliteStore({ database: db })
 * ```
 */
export function sqliteStore(
  options: SqliteStoreOptions,
): CardStore & Required<Pick<CardStore, 'retirements' | 'listByOwners'>> {
  const valid = validate(OptionsSchema, options, 'sqliteStore options')
  const owned = valid.database === undefined
  const db =
    valid.database ??
    openDatabase(valid.filename!, valid.readonly, valid.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS)
  try {
    if (valid.readonly) checkUpToDate(db)
    else {
      // Every commit synced to disk: better-sqlite3 opens a file already in WAL with synchronous
      // = NORMAL, where a power loss or an OS crash may roll back the last commits. A connection
      // you pass keeps the setting you gave it.
      if (owned && !db.memory) db.pragma('synchronous = FULL')
      // Migrations first: a file a newer version migrated is refused as it was, not switched to
      // WAL (a property of the file) on the way.
      migrate(db)
      if (valid.wal && !db.memory) db.pragma('journal_mode = WAL')
    }
  } catch (error) {
    if (owned) db.close()
    throw unusableFile(error, owned, valid.readonly) ?? error
  }

  const sql = prepareStatements(db)
  const now = () => new Date().toISOString()

  const tombstoneOf = (key: ScopeParams, cardId: string): number | null => {
    const row = sql.selectTombstone.get(...key, cardId) as { observed_at: number } | undefined
    return row?.observed_at ?? null
  }

  /** The `observedAt` a write must not be older than: the row's, or its deletion's. */
  const lastObserved = (key: ScopeParams, cardId: string, existing: CardRow | undefined) =>
    existing ? existing.observed_at : tombstoneOf(key, cardId)

  /** Whether a write observed at `observedAt` is older than `last` (see {@link lastObserved}). */
  const isOlder = (observedAt: number | undefined, last: number | null) =>
    observedAt !== undefined && last !== null && observedAt < last

  /** Whether a write observed at `observedAt` is older than the card's row or its deletion. */
  const isStale = (
    key: ScopeParams,
    cardId: string,
    existing: CardRow | undefined,
    observedAt: number | undefined,
  ) => observedAt !== undefined && isOlder(observedAt, lastObserved(key, cardId, existing))

  /**
   * Writes a card that is not older than its row (see {@link isStale}): the owner's other
   * default first (the partial unique index allows one default at any moment), the owner's row,
   * the card, and away with its tombstone. `readBack` returns the row written, with
   * `RETURNING *`, which costs SQLite some 30 µs a card: only `upsert` asks for it.
   */
  const writeFresh = (
    key: ScopeParams,
    card: Card,
    existing: CardRow | undefined,
    observedAt: number | undefined,
    at: string,
    readBack: boolean,
  ): CardRow | undefined => {
    let written = card
    if (card.isDefault) {
      // A default of the owner observed later stands: the card is news, but not its default.
      if (hasLaterDefault(key, card.id, card.currency, observedAt)) {
        written = { ...card, isDefault: false }
      } else {
        sql.clearDefaultsOfCurrency.run(at, ...key, card.id, card.currency, { observed: null })
      }
    }
    sql.insertOwner.run(...key)
    const values = [...cardValues(written), at, observedAt ?? null]
    let row: CardRow | undefined
    if (readBack) row = sql.upsertCard.get(...values) as CardRow | undefined
    else sql.writeCard.run(...values)
    if (!existing) sql.deleteTombstone.run(...key, card.id)
    return row
  }

  const write = (card: Card, observedAt: number | undefined, at: string): UpsertResult => {
    const key = scopeParams({ provider: card.provider, owner: card.owner })
    const existing = sql.selectCard.get(...key, card.id) as CardRow | undefined
    if (isStale(key, card.id, existing, observedAt)) {
      return { applied: false, card: existing ? rowToCard(existing) : null }
    }
    const row = writeFresh(key, card, existing, observedAt, at, true)
    // The upsert's own WHERE refuses an older write too; it cannot fire after the check above.
    return row ? { applied: true, card: rowToCard(row) } : { applied: false, card: null }
  }

  /**
   * `upsertMany`'s path: the rules of {@link write} in fewer statements, and no row read back.
   * A card that is not a default displaces nothing, so it needs no look at its row first: the
   * upsert's own `WHERE` refuses a write older than the row, and a tombstone (which exists only
   * while there is no row) refuses an older write or is removed by a newer one. The owner's
   * tombstones are read in one query, the first time the batch meets the owner: a tombstone can
   * only go during the batch with a write of its card that it let in, and the batch has one
   * `observedAt`, so it would let that card in again. Each owner's row is written once per
   * batch. A default card checks its row's age (or its tombstone's, from the same read) before
   * it clears the owner's other default, as `upsert` does, without reading its row back.
   */
  const writeBatch = (cards: readonly Card[], observedAt: number | undefined, at: string) => {
    const ownersWritten = new Set<string>()
    const tombstonesByOwner = new Map<string, Map<string, number>>()
    const tombstonesOf = (key: ScopeParams, ownerKey: string) => {
      let tombstones = tombstonesByOwner.get(ownerKey)
      if (tombstones === undefined) {
        const rows = sql.listTombstones.all(...key) as { card_id: string; observed_at: number }[]
        tombstones = new Map(rows.map((row) => [row.card_id, row.observed_at]))
        tombstonesByOwner.set(ownerKey, tombstones)
      }
      return tombstones
    }
    for (const card of cards) {
      const key = scopeParams({ provider: card.provider, owner: card.owner })
      const ownerKey = key.join('\u0000')
      const tombstones = tombstonesOf(key, ownerKey)
      if (card.isDefault) {
        const existing = sql.selectCard.get(...key, card.id) as CardRow | undefined
        const last = existing ? existing.observed_at : (tombstones.get(card.id) ?? null)
        if (!isOlder(observedAt, last)) {
          writeFresh(key, card, existing, observedAt, at, false)
          ownersWritten.add(ownerKey)
        }
        continue
      }
      const tombstone = tombstones.get(card.id)
      if (isOlder(observedAt, tombstone ?? null)) continue
      if (!ownersWritten.has(ownerKey)) {
        sql.insertOwner.run(...key)
        ownersWritten.add(ownerKey)
      }
      sql.writeCard.run(...cardValues(card), at, observedAt ?? null)
      if (tombstone !== undefined) sql.deleteTombstone.run(...key, card.id)
    }
  }

  const remove = (scope: CardScope, cardId: string, observedAt: number | undefined): boolean => {
    const key = scopeParams(scope)
    const existing = sql.selectCard.get(...key, cardId) as CardRow | undefined
    if (isStale(key, cardId, existing, observedAt)) return false
    if (observedAt !== undefined) sql.upsertTombstone.run(...key, cardId, observedAt)
    if (!existing) return false
    sql.deleteCard.run(...key, cardId)
    sql.deleteOwnerIfEmpty.run(...key, ...key)
    return true
  }

  /** Whether a default that a default `cardId` would displace was observed after `observedAt`. */
  const hasLaterDefault = (
    key: ScopeParams,
    cardId: string,
    currency: string | null,
    observedAt: number | undefined,
  ) =>
    observedAt !== undefined &&
    sql.selectLaterDefault.get(...key, cardId, currency, observedAt) !== undefined

  const switchDefault = (
    scope: CardScope,
    cardId: string | null,
    at: string,
    observedAt: number | undefined,
  ) => {
    const key = scopeParams(scope)
    // The rows changed take the later of their observedAt and this one (see the statements).
    const observed = { observed: observedAt ?? null }
    if (cardId === null) {
      sql.clearAllDefaults.run(at, ...key, observed)
      return
    }
    const target = sql.selectCard.get(...key, cardId) as CardRow | undefined
    if (!target || isOlder(observedAt, target.observed_at)) return
    if (hasLaterDefault(key, cardId, target.currency, observedAt)) return
    sql.clearDefaultsOfCurrency.run(at, ...key, cardId, target.currency, observed)
    sql.makeDefault.run(at, ...key, cardId, observed)
  }

  /** Runs `work` in one `BEGIN IMMEDIATE` transaction (a savepoint inside the caller's own). */
  const inTransaction = <T>(work: () => T): T => db.transaction(work).immediate() as T

  const listCards = (scope: CardScope): StoredCard[] =>
    (sql.listCards.all(...scopeParams(scope)) as CardRow[]).map(rowToCard)

  const store: CardStore & Required<Pick<CardStore, 'retirements' | 'listByOwners'>> = {
    async get(scope, cardId) {
      const row = sql.selectCard.get(...scopeParams(scope), cardId) as CardRow | undefined
      return row ? rowToCard(row) : null
    },

    async listByOwner(scope) {
      return listCards(scope)
    },

    // In-process and synchronous: one statement an owner costs no round trip.
    async listByOwners(scopes) {
      return scopes.map(listCards)
    },

    async getDefault(scope) {
      const row = sql.selectDefault.get(...scopeParams(scope)) as CardRow | undefined
      return row ? rowToCard(row) : null
    },

    async upsert(card, writeOptions) {
      const observedAt = observedAtOf(NAME, writeOptions)
      return inTransaction(() => write(card, observedAt, now()))
    },

    async upsertMany(cards, writeOptions) {
      const observedAt = observedAtOf(NAME, writeOptions)
      if (cards.length === 0) return
      const at = now()
      inTransaction(() => writeBatch(cards, observedAt, at))
    },

    async delete(scope, cardId, writeOptions) {
      const observedAt = observedAtOf(NAME, writeOptions)
      return inTransaction(() => remove(scope, cardId, observedAt))
    },

    async setDefault(scope, cardId, writeOptions) {
      const observedAt = observedAtOf(NAME, writeOptions)
      inTransaction(() => switchDefault(scope, cardId, now(), observedAt))
    },

    async *listOwners(provider) {
      // Keyset pages rather than one open cursor: better-sqlite3 allows no other statement on
      // the connection while a cursor is open, and the caller (reconcile) writes in between.
      // The listing ends at the owners numbered when it began: an owner listed already that
      // loses its last card (its row goes) and gets a new one is numbered again, after every
      // number handed out before (AUTOINCREMENT, migration 3), and was listed a second time.
      const last = (sql.lastOwnerSeq.get(provider) as { seq: number | null }).seq ?? 0
      let after = 0
      for (;;) {
        const rows = sql.listOwners.all(provider, after, last, OWNER_PAGE) as OwnerRow[]
        for (const row of rows) yield { type: row.owner_type, id: row.owner_id }
        if (rows.length < OWNER_PAGE) return
        after = rows.at(-1)!.seq
      }
    },

    retirements: {
      async save(scope, key, cards) {
        const params = scopeParams(scope)
        inTransaction(() => {
          sql.deleteRetirements.run(...params, key)
          cards.forEach(({ cardId, currency }, position) => {
            sql.insertRetirement.run(...params, key, position, cardId, currency)
          })
        })
      },
      async load(scope, key) {
        const rows = sql.listRetirements.all(...scopeParams(scope), key) as RetirementRow[]
        return rows.map((row) => ({ cardId: row.card_id, currency: row.currency }))
      },
      async remove(scope, key) {
        sql.deleteRetirements.run(...scopeParams(scope), key)
      },
    },

    // A database you passed stays open; closableStore refuses every call after this one.
    async close() {
      if (owned) db.close()
    },
  }
  return Object.freeze(
    closableStore(NAME, store, {
      // A Database you passed may be closed under the store: better-sqlite3 would throw a
      // `TypeError` from deep in a statement. One the store opened closes only with close().
      checkOpen: owned ? undefined : () => checkOpen(db),
    }),
  )
}

// --- internals ---

/** How errors name the store. */
const NAME = 'sqliteStore'

type ScopeParams = readonly [provider: string, ownerType: Owner['type'], ownerId: string]

interface OwnerRow {
  seq: number
  owner_type: Owner['type']
  owner_id: string
}

interface RetirementRow {
  card_id: string
  currency: string | null
}

/**
 * Refuses, for a read-only store, tables that lack migrations: their statements would fail to
 * prepare (a table missing) or act on an older layout.
 */
function checkUpToDate(db: SqliteDatabase): void {
  const pending = pendingMigrations(db)
  if (pending.length === 0) return
  const what =
    pending[0] === SQLITE_MIGRATIONS[0]!.version
      ? 'has no cardport tables'
      : `has cardport tables that need migration${pending.length > 1 ? 's' : ''} ${pending.join(', ')}`
  throw new InvalidRequestError(
    `sqliteStore was opened read-only on a database that ${what}, which a read-only store does not run: migrate it first (migrate(), or a store opened without readonly)`,
    { details: { pendingMigrations: pending } },
  )
}

/** Refuses a call on a Database the caller passed in and has closed since. */
function checkOpen(db: SqliteDatabase): void {
  if (db.open) return
  throw new InvalidRequestError(
    'the better-sqlite3 Database passed to sqliteStore is closed: pass an open one to a new sqliteStore',
  )
}

function scopeParams(scope: CardScope): ScopeParams {
  return [scope.provider, scope.owner.type, scope.owner.id]
}

function isOpenDatabase(value: unknown): value is SqliteDatabase {
  if (typeof value !== 'object' || value === null) return false
  const candidate = value as Partial<Record<keyof SqliteDatabase, unknown>>
  return (
    typeof candidate.prepare === 'function' &&
    typeof candidate.transaction === 'function' &&
    typeof candidate.pragma === 'function' &&
    candidate.open === true
  )
}

const SCOPE = 'provider = ? AND owner_type = ? AND owner_id = ?'
const KEY = `${SCOPE} AND card_id = ?`
/** A row's observed_at after a write observed at `@observed` (null: unchanged). */
const OBSERVED = `observed_at = CASE WHEN @observed IS NULL THEN observed_at
  ELSE max(coalesce(observed_at, @observed), @observed) END`

function prepareStatements(database: SqliteDatabase) {
  // Integers as numbers, as the contract types them, also on a database of yours whose default
  // is BigInts (`defaultSafeIntegers(true)`): versions, times and expiry dates stay numbers.
  const db = { prepare: (source: string) => database.prepare(source).safeIntegers(false) }
  const updatable = CARD_COLUMNS.slice(4)
  // Inserts a card, or updates its row unless the write is older than the row.
  const upsert = `
    INSERT INTO cardport_cards (${CARD_COLUMNS.join(', ')}, version, updated_at, observed_at)
    VALUES (${CARD_COLUMNS.map(() => '?').join(', ')}, 1, ?, ?)
    ON CONFLICT (provider, owner_type, owner_id, card_id) DO UPDATE SET
      ${updatable.map((column) => `${column} = excluded.${column}`).join(',\n      ')},
      version = cardport_cards.version + 1,
      updated_at = excluded.updated_at,
      observed_at = coalesce(excluded.observed_at, cardport_cards.observed_at)
    WHERE excluded.observed_at IS NULL
      OR cardport_cards.observed_at IS NULL
      OR excluded.observed_at >= cardport_cards.observed_at`
  return {
    selectCard: db.prepare(`SELECT * FROM cardport_cards WHERE ${KEY}`),
    listCards: db.prepare(`SELECT * FROM cardport_cards WHERE ${SCOPE} ORDER BY seq DESC`),
    // The earliest default stands for the owner (accounts have one per currency).
    selectDefault: db.prepare(
      `SELECT * FROM cardport_cards WHERE ${SCOPE} AND is_default = 1 ORDER BY seq LIMIT 1`,
    ),
    upsertCard: db.prepare(`${upsert} RETURNING *`),
    writeCard: db.prepare(upsert),
    // The default statements take `@observed` (null, or when the provider was read): a row
    // they change keeps the later of its observed_at and that.
    clearDefaultsOfCurrency: db.prepare(`
      UPDATE cardport_cards SET is_default = 0, version = version + 1, updated_at = ?, ${OBSERVED}
      WHERE ${SCOPE} AND is_default = 1 AND card_id <> ? AND currency IS ?
    `),
    // A default observed after `@observed` stays.
    clearAllDefaults: db.prepare(`
      UPDATE cardport_cards SET is_default = 0, version = version + 1, updated_at = ?, ${OBSERVED}
      WHERE ${SCOPE} AND is_default = 1
        AND (@observed IS NULL OR observed_at IS NULL OR observed_at <= @observed)
    `),
    makeDefault: db.prepare(`
      UPDATE cardport_cards SET is_default = 1, version = version + 1, updated_at = ?, ${OBSERVED}
      WHERE ${KEY}
    `),
    selectLaterDefault: db.prepare(`
      SELECT 1 FROM cardport_cards
      WHERE ${SCOPE} AND is_default = 1 AND card_id <> ? AND currency IS ? AND observed_at > ?
      LIMIT 1
    `),
    deleteCard: db.prepare(`DELETE FROM cardport_cards WHERE ${KEY}`),
    selectTombstone: db.prepare(`SELECT observed_at FROM cardport_card_tombstones WHERE ${KEY}`),
    listTombstones: db.prepare(
      `SELECT card_id, observed_at FROM cardport_card_tombstones WHERE ${SCOPE}`,
    ),
    upsertTombstone: db.prepare(`
      INSERT INTO cardport_card_tombstones (provider, owner_type, owner_id, card_id, observed_at)
      VALUES (?, ?, ?, ?, ?)
      ON CONFLICT (provider, owner_type, owner_id, card_id)
      DO UPDATE SET observed_at = excluded.observed_at
    `),
    deleteTombstone: db.prepare(`DELETE FROM cardport_card_tombstones WHERE ${KEY}`),
    insertOwner: db.prepare(`
      INSERT INTO cardport_card_owners (provider, owner_type, owner_id) VALUES (?, ?, ?)
      ON CONFLICT (provider, owner_type, owner_id) DO NOTHING
    `),
    deleteOwnerIfEmpty: db.prepare(`
      DELETE FROM cardport_card_owners WHERE ${SCOPE}
        AND NOT EXISTS (SELECT 1 FROM cardport_cards WHERE ${SCOPE})
    `),
    // The owners' number the listing ends at (one index lookup): see listOwners.
    lastOwnerSeq: db.prepare('SELECT max(seq) AS seq FROM cardport_card_owners WHERE provider = ?'),
    listOwners: db.prepare(`
      SELECT seq, owner_type, owner_id FROM cardport_card_owners
      WHERE provider = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?
    `),
    insertRetirement: db.prepare(`
      INSERT INTO cardport_card_retirements
        (provider, owner_type, owner_id, call_key, position, card_id, currency)
      VALUES (?, ?, ?, ?, ?, ?, ?)
    `),
    listRetirements: db.prepare(`
      SELECT card_id, currency FROM cardport_card_retirements
      WHERE ${SCOPE} AND call_key = ? ORDER BY position
    `),
    deleteRetirements: db.prepare(
      `DELETE FROM cardport_card_retirements WHERE ${SCOPE} AND call_key = ?`,
    ),
  }
}

/**
 * Opens the store's own database file; `readonly`, only a file that exists, to read; each
 * statement waiting up to `busyTimeoutMs` for another connection's lock. better-sqlite3's
 * error quotes the path, which is the caller's text: the error thrown names only SQLite's code,
 * and keeps no cause. When it is better-sqlite3's native module that did not load (the path had
 * nothing to do with it), the error says so and how to rebuild it (see {@link nativeModuleFailure}).
 */
function openDatabase(filename: string, readonly: boolean, busyTimeoutMs: number): SqliteDatabase {
  // A read-only store makes no file: one that does not exist is refused below.
  if (!readonly) makeOwnerOnlyFile(filename)
  try {
    return new Database(filename, {
      readonly,
      fileMustExist: readonly,
      timeout: busyTimeoutMs,
    }) as unknown as SqliteDatabase
  } catch (error) {
    const native = nativeModuleFailure(error)
    if (native) throw native
    const fix = readonly
      ? 'check that the path names an existing file (a read-only store makes none) that this user may read'
      : 'check that the path names a file, not a folder, in a folder that exists and is writable'
    throw new InvalidRequestError(
      `sqliteStore could not open its database file (${openFailure(error)}): ${fix}`,
    )
  }
}

/**
 * The database's file is not a SQLite database (`SQLITE_NOTADB`) or is damaged
 * (`SQLITE_CORRUPT`, or one of its extended codes): better-sqlite3 opens a file without reading
 * it, and the first statement fails with `file is not a database` or `database disk image is
 * malformed`, which says neither which database nor what to do. The message quotes no path;
 * the driver's error is kept as the cause, its code with it. `owned`: the store opened the file
 * (`filename`), rather than being given a `database`; `readonly`: it makes no file, so naming a
 * new one is no way out. The error's `details` say which (`unusableFile`) and SQLite's code
 * (`sqliteCode`), so that a caller can word its own advice without sorting the codes again.
 */
function unusableFile(
  error: unknown,
  owned: boolean,
  readonly: boolean,
): InvalidRequestError | undefined {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return undefined
  const its = owned ? 'it' : 'its file'
  const orNew = readonly
    ? ' (a read-only store makes no file: open a new one without readonly to make one)'
    : ', or name a new file to make one'
  let unusable: UnusableFileReason
  let why: string
  let fix: string
  if (code === 'SQLITE_NOTADB') {
    unusable = 'not_a_database'
    why = `${its} is not a SQLite database`
    fix = owned
      ? `check that the path names a cardport store${orNew}`
      : 'check that it opens a cardport store, or open a new file'
  } else if (/^SQLITE_CORRUPT(_|$)/.test(code)) {
    unusable = 'damaged'
    why = `${its} is damaged`
    fix = owned
      ? `restore it from a backup${orNew}`
      : 'restore it from a backup, or open a new file'
  } else {
    return undefined
  }
  const failed = owned
    ? 'could not open its database file'
    : 'could not use the Database it was given'
  return new InvalidRequestError(`sqliteStore ${failed} (${code}: ${why}): ${fix}`, {
    cause: error,
    details: { unusableFile: unusable, sqliteCode: code },
  })
}

/**
 * better-sqlite3 loads its native module (`better_sqlite3.node`) when the first `Database` is
 * made, so a module that is missing or was built for another Node.js reaches `new Database()`
 * as its error: Node's `ERR_DLOPEN_FAILED` (another Node.js version, `NODE_MODULE_VERSION`;
 * another platform), or the `bindings` package's `Could not locate the bindings file` (the
 * install script built nothing). That is no problem with the path, and rebuilding the module
 * mends it: `invalid_request` saying so, its cause a copy of the error (name, `code`, message and
 * stack, card numbers and keys masked: the message quotes the module's path, not the
 * database's). Undefined for any other error.
 */
function nativeModuleFailure(error: unknown): InvalidRequestError | undefined {
  if (!(error instanceof Error)) return undefined
  const code = (error as { code?: unknown }).code
  let why: string
  if (/NODE_MODULE_VERSION|compiled against a different Node\.js version/.test(error.message)) {
    why = 'it was built for another Node.js version'
  } else if (/Could not locate the bindings file/.test(error.message)) {
    why = 'no built better_sqlite3.node was found'
  } else if (code === 'ERR_DLOPEN_FAILED' || /better_sqlite3\.node/.test(error.message)) {
    why = typeof code === 'string' ? code : error.name
  } else {
    return undefined
  }
  const cause = new Error(redactSecrets(error.message))
  cause.name = error.name
  cause.stack = redactSecrets(error.stack ?? '')
  if (typeof code === 'string') Object.assign(cause, { code })
  return new InvalidRequestError(
    `sqliteStore could not open its database: better-sqlite3's native module did not load (${why}): ` +
      'run `pnpm rebuild better-sqlite3` (or `npm rebuild better-sqlite3`) with the Node.js that runs ' +
      'this process; where no prebuilt binary fits the platform, that builds it from source, which ' +
      'needs python3, make and a C++ compiler (g++)',
    { cause },
  )
}

/**
 * Why better-sqlite3 could not open a file, without its message (which quotes the path): SQLite's
 * code, or, for the `TypeError` it throws before asking SQLite, that the folder does not exist.
 */
function openFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string') return code
  if (error instanceof TypeError && /directory does not exist/.test(error.message)) {
    return 'its folder does not exist'
  }
  return error instanceof Error ? error.name : 'unknown error'
}

/**
 * Makes the file of a new store readable and writable by its owner only (0600): SQLite would
 * make it 0644 less the umask, readable by every user of the machine, and the store holds
 * holder names, billing addresses, last four digits and expiry dates. SQLite gives the `-wal`,
 * `-shm` and `-journal` files the mode of the database's file. An existing file is left as its
 * owner set it.
 */
function makeOwnerOnlyFile(filename: string): void {
  if (filename === ':memory:') return
  try {
    closeSync(openSync(filename, 'wx', 0o600))
  } catch {
    // The file exists, or cannot be made: better-sqlite3 opens it, or says why it cannot.
  }
}
