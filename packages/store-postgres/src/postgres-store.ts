import { createHash } from 'node:crypto'
import {
  type Card,
  type CardScope,
  type CardStore,
  closableStore,
  InvalidRequestError,
  type Owner,
  observedAtOf,
  optionsObject,
  type StoredCard,
  type UpsertResult,
  validate,
} from '@cardport/core'
import { z } from 'zod'
import {
  CARD_COLUMNS,
  type CardRow,
  cardValues,
  PARAMETER_TYPES,
  rowToCard,
  SELECT_COLUMNS,
} from './card-row.js'
import {
  inTransaction,
  type PostgresClient,
  PostgresClientSchema,
  type PostgresQueryable,
  queryCleaned,
  readCleaned,
} from './postgres-client.js'
import { POSTGRES_MIGRATIONS, pendingVersions, runMigrations } from './postgres-migrations.js'
import {
  DEFAULT_SCHEMA,
  DEFAULT_TABLE_PREFIX,
  SchemaNameSchema,
  type TableNames,
  TablePrefixSchema,
  tableNames,
} from './postgres-tables.js'

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /**
   * A `pg` Pool or a PGlite instance (see {@link PostgresClient}). The store never closes it:
   * `close()` leaves it open for the rest of your application.
   */
  client: PostgresClient
  /** The schema of the tables; created when missing. Default `'public'`. */
  schema?: string | undefined
  /** Prepended to every table and index name. Default `'cardport_'`. */
  tablePrefix?: string | undefined
  /**
   * Run the migrations on open. Default true. Tables already up to date cost no DDL, so a role
   * that may not create tables opens the store once a deploy step has run {@link migrate}. Set
   * false to run none, only check, with reads ({@link pendingMigrations}: no lock, nothing
   * created): tables that lack migrations (or a schema without them) are refused with
   * `invalid_request`, the versions they lack in `details.pendingMigrations`; tables of a newer
   * version, or a migrations table that is not cardport's, with the `conflict` of
   * `migrate: true`. A role that may not read the migrations table (`permission denied`) opens
   * the store unchecked, as before.
   */
  migrate?: boolean | undefined
  /**
   * How many `upsertMany` calls of different owners may run at once, 1 to 64 (see
   * `CardStore.concurrentWrites`): `CardSync.reconcile` keeps that many group writes in flight,
   * each on a connection of its own. Default 2 over a `pg` Pool (one group is written while the
   * next is gathered), 1 over PGlite, which runs one transaction at a time.
   */
  concurrentWrites?: number | undefined
}

const OptionsSchema = optionsObject({
  client: PostgresClientSchema,
  schema: SchemaNameSchema.default(DEFAULT_SCHEMA),
  tablePrefix: TablePrefixSchema.default(DEFAULT_TABLE_PREFIX),
  migrate: z.boolean().default(true),
  concurrentWrites: z.number().int().min(1).max(64).optional(),
})

/** How many owners `listOwners` reads per query. */
const OWNER_PAGE = 500

/**
 * Most owner locks one write transaction takes. A batch of more owners locks the store's writes
 * whole (exclusive) instead: PostgreSQL keeps every advisory lock in one shared table, of
 * `max_locks_per_transaction` (64 by default) times `max_connections` slots for every session of
 * the server, and a batch of 15,000 owners, one lock each, failed with `out of shared memory`
 * while its locks crowded out everyone else's. `CardSync.reconcile`'s groups hold at most the
 * owners it has in flight (32 at its default concurrency of 4), and keep their owners' locks.
 */
const MAX_OWNER_LOCKS = 256

/**
 * A {@link CardStore} on PostgreSQL, over a `pg` Pool or PGlite: the durable store for many
 * processes sharing one database. Opening it runs the versioned migrations (under an advisory
 * lock, so that processes starting together do not race); with `migrate: false`, it only checks
 * them, with reads, and refuses tables that lack some or are newer. Every write is one transaction that
 * first takes the owner's advisory lock (a batch of more than 256 owners, the store's), so that
 * writes of one owner are serialized across processes; a partial unique index holds at most one
 * default per owner (and currency) whatever the code does; an update older than the row (`observedAt`) is refused by the upsert
 * itself; reads are always scoped by provider and owner; no column can hold a card number or a
 * CVC. `close()` leaves the client open and untouched (it is yours), resolving once the calls
 * begun before it have settled (end your pool after it), and every call after it
 * (or once you have closed the client: a pool's `end()`, PGlite's `close()`) is refused with
 * `invalid_request`. See the package README for the table layout. It always has `retirements`
 * and `listByOwners`, and its type says so (core's `CompleteCardStore`, spelt out so that a core
 * in the peer range from before that type will do).
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { postgresStore } from '@cardport/store-postgres'
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 * const store = await postgresStore({ client: pool, schema: 'billing' })
 * const sync = createCardSync({ provider, store })
 * ```
 *
 * @example PGlite (Postgres in WebAssembly, in process)
 * ```ts
 * import { PGlite } from '@electric-sql/pglite'
 *
 * const store = await postgresStore({ client: await PGlite.create() })
 * ```
 */
export async function postgresStore(
  options: PostgresStoreOptions,
): Promise<CardStore & Required<Pick<CardStore, 'retirements' | 'listByOwners'>>> {
  const valid = validate(OptionsSchema, options, 'postgresStore options')
  const client = valid.client
  const t = tableNames(valid)
  if (valid.migrate) await runMigrations(client, t)
  else await checkUpToDate(client, t)
  const sql = statements(t)
  // Statements outside a transaction (the reads, and removing retirements), their errors
  // cleaned as a transaction's are: a card number given as an id is quoted in them too.
  const direct: PostgresQueryable = {
    query: (text, params) => queryCleaned(client, text, params),
  }
  // The reads: run once more over a pool when the connection was lost (a pool's idle connection
  // whose backend was terminated); a read changes nothing. Never a write.
  const reader: PostgresQueryable = {
    query: (text, params) => readCleaned(client, text, params),
  }

  const select = async (db: PostgresQueryable, key: ScopeParams, cardId: string) => {
    const { rows } = await db.query(sql.selectCard, [...key, cardId])
    return rows[0] as CardRow | undefined
  }

  /** The `observedAt` a write must not be older than: the row's, or its deletion's. */
  const lastObserved = async (
    tx: PostgresQueryable,
    key: ScopeParams,
    cardId: string,
    existing: CardRow | undefined,
  ): Promise<number | null> => {
    if (existing) return toMillis(existing.observed_at)
    const { rows } = await tx.query(sql.selectTombstone, [...key, cardId])
    return toMillis(rows[0]?.observed_at)
  }

  /**
   * Runs `work` in a transaction that first takes the owners' transaction-level advisory locks,
   * in one global order (so that two batches cannot deadlock): every write of an owner takes its
   * lock first, so writes of one owner happen one after the other, in every process, and a
   * default switch never meets a concurrent one. Before them it takes the store's write lock
   * shared; a batch of more than {@link MAX_OWNER_LOCKS} owners takes that lock exclusive instead,
   * and no owner's, so that a transaction holds a bounded number of locks whatever its size. No
   * deadlock: a write waits for the store's lock, shared or exclusive, holding no other, and the
   * owners' locks come after it in their one order. The lock statement goes with `BEGIN`.
   */
  const withOwnersLocked = <T>(
    keys: Iterable<ScopeParams>,
    work: (tx: PostgresQueryable) => Promise<T>,
  ): Promise<T> => {
    // Each owner hashed once: a batch holds ten or a hundred cards of an owner.
    const owners = new Set<string>()
    for (const key of keys) owners.add(key.join('\u0000'))
    const ids = [...new Set([...owners].map(lockId))].sort((a, b) => a - b)
    const locks = ids.length > MAX_OWNER_LOCKS ? sql.lockStore : sql.lockOwners(ids)
    return inTransaction(client, work, locks)
  }

  /** Whether a default that a default `cardId` would displace was observed after `observedAt`. */
  const hasLaterDefault = async (
    tx: PostgresQueryable,
    key: ScopeParams,
    cardId: string,
    currency: string | null,
    observedAt: number | undefined,
  ): Promise<boolean> => {
    if (observedAt === undefined) return false
    const { rows } = await tx.query(sql.selectLaterDefault, [...key, cardId, currency, observedAt])
    return rows.length > 0
  }

  /** Removes the owner's row when it has no cards left (the owner leaves `listOwners`). */
  const releaseOwner = (tx: PostgresQueryable, key: ScopeParams) =>
    tx.query(sql.deleteOwnerIfEmpty, [...key])

  const write = async (
    tx: PostgresQueryable,
    card: Card,
    observedAt: number | undefined,
  ): Promise<UpsertResult> => {
    const key = scopeParams({ provider: card.provider, owner: card.owner })
    const existing = await select(tx, key, card.id)
    if (observedAt !== undefined) {
      const last = await lastObserved(tx, key, card.id, existing)
      if (last !== null && observedAt < last) {
        return { applied: false, card: existing ? rowToCard(existing) : null }
      }
    }
    let written = card
    if (card.isDefault) {
      // A default of the owner observed later stands: the card is news, but not its default.
      if (await hasLaterDefault(tx, key, card.id, card.currency, observedAt)) {
        written = { ...card, isDefault: false }
      } else {
        // The old default goes first: the partial unique index allows one default at any moment.
        await tx.query(sql.clearDefaultsOfCurrency, [...key, card.id, card.currency, null])
      }
    }
    // The owner's row records when it first got a card: listOwners streams in that order.
    if (!existing) await tx.query(sql.insertOwner, [...key])
    const { rows } = await tx.query(sql.upsertCard, [...cardValues(written), observedAt ?? null])
    if (!existing) await tx.query(sql.deleteTombstone, [...key, card.id])
    // The upsert's own WHERE refuses an older write too; under the owner's lock it cannot fire
    // after the check above.
    return rows[0] ? { applied: true, card: rowToCard(rows[0]) } : { applied: false, card: null }
  }

  /**
   * Reads what the batch needs to know about its cards (existing rows, tombstones) in one query
   * and decides which cards are applied, or returns null when the cards interact and must be
   * written one by one.
   */
  const planBatch = async (
    tx: PostgresQueryable,
    cards: readonly Card[],
    observedAt: number | undefined,
  ): Promise<BatchPlan | null> => {
    const keys = new Set<string>()
    const defaults = new Map<string, Card>()
    for (const card of cards) {
      const key = cardKey(card)
      if (keys.has(key)) return null
      keys.add(key)
      if (card.isDefault) {
        const slot = defaultSlot(card, card.currency)
        if (defaults.has(slot)) return null
        defaults.set(slot, card)
      }
    }
    const { rows } = await tx.query(
      sql.selectBatchState,
      columnsOf(cards.map(keyParams), KEY_COLUMNS.length),
    )
    const state = new Map<number, BatchStateRow>()
    // The owners' stored defaults (ord 0), by slot: a new default clears only what is there, and
    // one observed after the batch stays.
    const storedDefaults = new Map<string, StoredDefault[]>()
    for (const row of rows as BatchStateRow[]) {
      const ord = Number(row.ord)
      if (ord > 0) {
        state.set(ord, row)
        continue
      }
      const owner = { type: row.owner_type, id: row.owner_id }
      const slot = defaultSlot({ provider: row.provider, owner }, row.currency)
      const stored = { cardId: row.card_id, observedAt: toMillis(row.row_observed) }
      storedDefaults.set(slot, [...(storedDefaults.get(slot) ?? []), stored])
    }
    const applied: Card[] = []
    const fresh: Card[] = []
    const displacing: Card[] = []
    let tombstones = false
    for (const [i, card] of cards.entries()) {
      const row = state.get(i + 1)
      const existing = row?.existing === true
      if (existing && row.is_default) {
        // The stored default this card's write would find: if another card of the batch takes
        // its place, the card-by-card path clears it between two writes of the batch.
        const rival = defaults.get(defaultSlot(card, row.currency))
        if (rival !== undefined && rival !== card) return null
      }
      if (observedAt !== undefined && row !== undefined) {
        const last = toMillis(existing ? row.row_observed : row.tombstone_observed)
        if (last !== null && observedAt < last) continue
      }
      const displaced =
        (card.isDefault && storedDefaults.get(defaultSlot(card, card.currency))) || []
      const others = displaced.filter((stored) => stored.cardId !== card.id)
      if (
        observedAt !== undefined &&
        others.some((stored) => stored.observedAt !== null && stored.observedAt > observedAt)
      ) {
        // A default of the owner observed later stands: the card is news, but not its default.
        applied.push({ ...card, isDefault: false })
      } else {
        applied.push(card)
        if (others.length > 0) displacing.push(card)
      }
      if (!existing) {
        fresh.push(card)
        if (row?.tombstone_observed !== null && row?.tombstone_observed !== undefined) {
          tombstones = true
        }
      }
    }
    return { applied, fresh, displacing, tombstones }
  }

  const applyBatch = async (
    tx: PostgresQueryable,
    plan: BatchPlan,
    observedAt: number | undefined,
  ) => {
    const { applied, fresh, displacing } = plan
    if (applied.length === 0) return
    // The old defaults go first: the partial unique index allows one default at any moment.
    if (displacing.length > 0) {
      await tx.query(
        sql.clearDefaultsOfBatch,
        columnsOf(
          displacing.map((card) => [...keyParams(card), card.currency]),
          KEY_COLUMNS.length + 1,
        ),
      )
    }
    // One statement, whatever the batch's size: the cards go as one JSON array a column, so its
    // text is the same for every batch and short for the server to parse. The owners'
    // rows (which record when they first got a card, in the order of the batch) and the fresh
    // cards' tombstones ride along: other tables, so one statement may write them all.
    await tx.query(
      fresh.length > 0 && plan.tombstones ? sql.upsertBatchClearingTombstones : sql.upsertBatch,
      columnsOf(
        applied.map((card) => [...cardValues(card), observedAt ?? null]),
        CARD_COLUMNS.length + 1,
      ),
    )
  }

  const store: CardStore & Required<Pick<CardStore, 'retirements' | 'listByOwners'>> = {
    concurrentWrites: valid.concurrentWrites ?? ('transaction' in client ? 1 : 2),

    async get(scope, cardId) {
      const row = await select(reader, scopeParams(scope), cardId)
      return row ? rowToCard(row) : null
    },

    async listByOwner(scope) {
      const { rows } = await reader.query(sql.listCards, [...scopeParams(scope)])
      return rows.map(rowToCard)
    },

    async listByOwners(scopes) {
      if (scopes.length === 0) return []
      const { rows } = await reader.query(
        sql.listCardsOfOwners,
        columnsOf(scopes.map(scopeParams), 3),
      )
      const lists: StoredCard[][] = scopes.map(() => [])
      for (const row of rows as (CardRow & { ord: string | number })[]) {
        lists[Number(row.ord) - 1]?.push(rowToCard(row))
      }
      return lists
    },

    async getDefault(scope) {
      const { rows } = await reader.query(sql.selectDefault, [...scopeParams(scope)])
      return rows[0] ? rowToCard(rows[0]) : null
    },

    async upsert(card, writeOptions) {
      const observedAt = observedAtOf(NAME, writeOptions)
      const key = scopeParams({ provider: card.provider, owner: card.owner })
      return withOwnersLocked([key], (tx) => write(tx, card, observedAt))
    },

    async upsertMany(cards, writeOptions) {
      const observedAt = observedAtOf(NAME, writeOptions)
      if (cards.length === 0) return
      const keys = cards.map((card) => scopeParams({ provider: card.provider, owner: card.owner }))
      await withOwnersLocked(keys, async (tx) => {
        // A handful of statements for the whole batch instead of several per card: the round
        // trips, not the server, were the cost. Batches whose cards interact (the same card
        // twice, a default displacing another card of the batch) take the card-by-card path,
        // whose order of effects (versions, defaults) the batched one cannot reproduce.
        const plan = await planBatch(tx, cards, observedAt)
        if (plan === null) {
          for (const card of cards) await write(tx, card, observedAt)
          return
        }
        await applyBatch(tx, plan, observedAt)
      })
    },

    async delete(scope, cardId, writeOptions) {
      const observedAt = observedAtOf(NAME, writeOptions)
      const key = scopeParams(scope)
      return withOwnersLocked([key], async (tx) => {
        const existing = await select(tx, key, cardId)
        let deleted = false
        const last = observedAt === undefined ? null : await lastObserved(tx, key, cardId, existing)
        if (observedAt === undefined || last === null || observedAt >= last) {
          if (observedAt !== undefined) {
            await tx.query(sql.upsertTombstone, [...key, cardId, observedAt])
          }
          if (existing) {
            await tx.query(sql.deleteCard, [...key, cardId])
            await releaseOwner(tx, key)
            deleted = true
          }
        }
        return deleted
      })
    },

    async setDefault(scope, cardId, writeOptions) {
      const observedAt = observedAtOf(NAME, writeOptions)
      const observed = observedAt ?? null
      const key = scopeParams(scope)
      await withOwnersLocked([key], async (tx) => {
        if (cardId === null) {
          await tx.query(sql.clearAllDefaults, [...key, observed])
          return
        }
        const target = await select(tx, key, cardId)
        if (!target) return
        const targetObserved = toMillis(target.observed_at)
        if (observedAt !== undefined && targetObserved !== null && targetObserved > observedAt) {
          return
        }
        if (await hasLaterDefault(tx, key, cardId, target.currency, observedAt)) return
        await tx.query(sql.clearDefaultsOfCurrency, [...key, cardId, target.currency, observed])
        await tx.query(sql.makeDefault, [...key, cardId, observed])
      })
    },

    async *listOwners(provider) {
      // Keyset pages, one query each: no cursor or connection is held between pages, and the
      // caller (reconcile) may write in between. The listing ends at the owners numbered when it
      // began: an owner listed already that loses its last card (its row goes) and gets a new
      // one is numbered again, after every number handed out before (an identity never goes
      // back), and without the bound was listed a second time.
      const { rows: bounds } = await reader.query(sql.lastOwnerSeq, [provider])
      const last = String((bounds[0] as { seq: string | number | null } | undefined)?.seq ?? 0)
      let after = '0'
      for (;;) {
        const { rows } = await reader.query(sql.listOwners, [provider, after, last, OWNER_PAGE])
        for (const row of rows as OwnerRow[]) yield { type: row.owner_type, id: row.owner_id }
        if (rows.length < OWNER_PAGE) return
        after = String((rows.at(-1) as OwnerRow).seq)
      }
    },

    retirements: {
      async save(scope, key, cards) {
        const owner = scopeParams(scope)
        await withOwnersLocked([owner], async (tx) => {
          await tx.query(sql.deleteRetirements, [...owner, key])
          if (cards.length === 0) return
          const [cardIds, currencies] = columnsOf(
            cards.map(({ cardId, currency }) => [cardId, currency]),
            2,
          )
          await tx.query(sql.insertRetirements, [...owner, key, cardIds, currencies])
        })
      },
      async load(scope, key) {
        const { rows } = await reader.query(sql.listRetirements, [...scopeParams(scope), key])
        return (rows as RetirementRow[]).map((row) => ({
          cardId: row.card_id,
          currency: row.currency,
        }))
      },
      async remove(scope, key) {
        await direct.query(sql.deleteRetirements, [...scopeParams(scope), key])
      },
    },

    // The client is the caller's, and stays open: the store opened no connection of its own.
    // closableStore refuses every call after this one.
    async close() {},
  }
  return Object.freeze(
    // Your client may be closed under the store (a pool's end(), PGlite's close()): its own
    // error ("Cannot use a pool after calling end on the pool") is not a CardportError.
    closableStore(NAME, store, { checkOpen: () => checkOpen(client) }),
  )
}

// --- internals ---

/** How errors name the store. */
const NAME = 'postgresStore'

/**
 * What `migrate: false` does on open: refuses tables that lack migrations with `invalid_request`
 * (the versions in `details.pendingMigrations`), and tables of a newer version or another tool's
 * migrations table with {@link pendingVersions}'s `conflict`, with reads only. A role that may
 * not read the migrations table (`42501`) is let through unchecked: `migrate: false` is what such
 * a role was told to open the store with.
 */
async function checkUpToDate(client: PostgresClient, t: TableNames): Promise<void> {
  let pending: number[]
  try {
    pending = await pendingVersions(client, t)
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === '42501') return
    throw error
  }
  if (pending.length === 0) return
  const what =
    pending[0] === POSTGRES_MIGRATIONS[0]!.version
      ? 'has no cardport tables'
      : `has cardport tables that need migration${pending.length > 1 ? 's' : ''} ${pending.join(', ')}`
  throw new InvalidRequestError(
    `postgresStore was opened with migrate: false on a schema ("${t.schema}", migrations table ${t.migrations}) that ${what}, which a store opened with migrate: false does not run: migrate it first (migrate(), or a store opened with migrate: true)`,
    { details: { pendingMigrations: pending } },
  )
}

/** Refuses a call on a client the caller passed in and has closed since. */
function checkOpen(client: PostgresClient): void {
  // A pg Pool's `ending` (end() called) and `ended`; PGlite's `closed`.
  const state = client as { ending?: unknown; ended?: unknown; closed?: unknown }
  if (state.ending !== true && state.ended !== true && state.closed !== true) return
  throw new InvalidRequestError(
    'the client passed to postgresStore is closed (a pg Pool after end(), PGlite after close()): pass an open one to a new postgresStore',
  )
}

type ScopeParams = readonly [provider: string, ownerType: Owner['type'], ownerId: string]

interface RetirementRow {
  card_id: string
  currency: string | null
}

interface OwnerRow {
  seq: string | number
  owner_type: Owner['type']
  owner_id: string
}

/** What {@link postgresStore}'s batched `upsertMany` writes. */
interface BatchPlan {
  /** The cards not refused as older than their row or tombstone, in the batch's order. */
  applied: Card[]
  /** The applied cards that have no row yet. */
  fresh: Card[]
  /** The applied default cards that displace a stored default of their owner and currency. */
  displacing: Card[]
  /** Whether any fresh card has a tombstone to remove. */
  tombstones: boolean
}

/** A stored default of a batch's owner: its id, and when its row was observed. */
interface StoredDefault {
  cardId: string
  observedAt: number | null
}

/** A bigint column as milliseconds (pg reads bigint as text), or null. */
function toMillis(value: string | number | null | undefined): number | null {
  return value === null || value === undefined ? null : Number(value)
}

/**
 * A row of `selectBatchState`: one per card of the batch that has a row or a tombstone, and
 * (ord 0) one per stored default of the batch's owners, `row_observed` its row's observed_at.
 */
interface BatchStateRow {
  /** The card's position in the batch (1-based), or 0 for a stored default of a batch owner. */
  ord: string | number
  provider: string
  owner_type: Owner['type']
  owner_id: string
  card_id: string
  existing: boolean
  is_default: boolean | null
  currency: string | null
  row_observed: string | number | null
  tombstone_observed: string | number | null
}

const KEY_COLUMNS = ['provider', 'owner_type', 'owner_id', 'card_id'] as const

function keyParams(card: Card): readonly [string, Owner['type'], string, string] {
  return [card.provider, card.owner.type, card.owner.id, card.id]
}

function cardKey(card: Card): string {
  return keyParams(card).join('\u0000')
}

/** The owner and currency a default belongs to (`currency IS NOT DISTINCT FROM`, as cleared). */
function defaultSlot(card: Pick<Card, 'provider' | 'owner'>, currency: string | null): string {
  const owner = [card.provider, card.owner.type, card.owner.id].join('\u0000')
  return currency === null ? `${owner}\u0001` : `${owner}\u0000${currency}`
}

/**
 * The 32-bit advisory lock id of an owner, from its scope's parameters joined by NUL (two owners
 * may share one: they then wait in turn).
 */
function lockId(owner: string): number {
  return createHash('sha256').update(owner).digest().readInt32BE(0)
}

/**
 * Rows as one JSON array a column: `width` parameters, whatever the number of rows, that a
 * statement reads back as a table with {@link jsonRows}. `JSON.stringify` writes each column in
 * one native pass, where the driver's encoding of a JS array as a text array (`$1::text[]`)
 * escapes and concatenates element by element: for 590 rows of 25 columns, 2.1-2.4 ms of the
 * client's CPU instead of 4.0-5.9 (the server's time the same), and a reconcile of 100,000 cards
 * allocates 1.37 GB instead of 1.94 (the array encoding alone was 0.64 GB).
 */
function columnsOf(rows: readonly (readonly unknown[])[], width: number): string[] {
  const columns: unknown[][] = Array.from({ length: width }, () => [])
  for (const row of rows) {
    for (let i = 0; i < width; i++) columns[i]!.push(row[i] ?? null)
  }
  return columns.map((column) => JSON.stringify(column))
}

/**
 * The rows of the JSON-array parameters `$first` … (one a column, from {@link columnsOf}), for a
 * FROM clause: element `i` of every array makes row `i`, each column as text (a JSON null as
 * NULL); cast what is not text.
 */
function jsonRows(first: number, count: number): string {
  const columns = Array.from(
    { length: count },
    (_, i) => `json_array_elements_text($${first + i}::json)`,
  )
  return `ROWS FROM (${columns.join(', ')})`
}

function scopeParams(scope: CardScope): ScopeParams {
  return [scope.provider, scope.owner.type, scope.owner.id]
}

const SCOPE = 'provider = $1 AND owner_type = $2 AND owner_id = $3'
const KEY = `${SCOPE} AND card_id = $4`
/** The batch's keys, one JSON array a column (`$1` … `$4`), in the batch's order. */
const BATCH_KEYS = jsonRows(1, 4)
/** The batch's owners (`$1` … `$3`, the first three of its keys). */
const BATCH_OWNERS = jsonRows(1, 3)

function statements(t: TableNames) {
  const updatable = CARD_COLUMNS.slice(4)
  // Every column a write sets, in order: core's card columns, then observed_at.
  const written = [...CARD_COLUMNS, 'observed_at'] as const
  const typeOf = (column: (typeof written)[number]): string =>
    PARAMETER_TYPES[column as keyof typeof PARAMETER_TYPES] ?? 'text'
  // An existing card is replaced unless the write is older than its row (`c`: the row).
  const updateUnlessOlder = `ON CONFLICT (provider, owner_type, owner_id, card_id) DO UPDATE SET
      ${updatable.map((column) => `${column} = EXCLUDED.${column}`).join(', ')},
      version = c.version + 1,
      updated_at = now(),
      observed_at = coalesce(EXCLUDED.observed_at, c.observed_at)
    WHERE EXCLUDED.observed_at IS NULL
      OR c.observed_at IS NULL
      OR EXCLUDED.observed_at >= c.observed_at`
  // The batch's columns, read from one JSON array each (text), cast to the column's type.
  const batchColumns = written
    .map((column) => (typeOf(column) === 'text' ? column : `${column}::${typeOf(column)}`))
    .join(', ')
  // A 64-bit key, quoted (the lowest one has no unquoted literal): checked, written inline.
  if (!/^-?\d+$/.test(t.writeLockKey)) throw new TypeError('advisory lock keys must be integers')
  const writeLock = `'${t.writeLockKey}'::bigint`
  const upsertBatch = (clearTombstones: boolean) => `WITH owners AS (
      INSERT INTO ${t.owners} (provider, owner_type, owner_id)
      SELECT provider, owner_type, owner_id
        FROM ${BATCH_OWNERS} WITH ORDINALITY AS k(provider, owner_type, owner_id, ord)
        GROUP BY provider, owner_type, owner_id
        ORDER BY min(ord)
      ON CONFLICT (provider, owner_type, owner_id) DO NOTHING)${
        clearTombstones
          ? `, tombstones AS (DELETE FROM ${t.tombstones} d
      USING ${BATCH_KEYS} AS k(provider, owner_type, owner_id, card_id)
      WHERE d.provider = k.provider AND d.owner_type = k.owner_type
        AND d.owner_id = k.owner_id AND d.card_id = k.card_id)`
          : ''
      }
    INSERT INTO ${t.cards} AS c (${written.join(', ')})
    SELECT ${batchColumns}
      FROM ${jsonRows(1, written.length)} WITH ORDINALITY AS k(${written.join(', ')}, ord)
      ORDER BY ord
    ${updateUnlessOlder}`
  return {
    selectCard: `SELECT ${SELECT_COLUMNS} FROM ${t.cards} WHERE ${KEY}`,
    listCards: `SELECT ${SELECT_COLUMNS} FROM ${t.cards} WHERE ${SCOPE} ORDER BY seq DESC`,
    // listCards for each owner of the arrays, tagged with the owner's position (1-based). The
    // subquery is kept apart (OFFSET 0) so that each owner is an index lookup: joined, the
    // planner may read the whole table for a few owners.
    listCardsOfOwners: `SELECT o.ord, c.*
      FROM ${BATCH_OWNERS} WITH ORDINALITY AS o(provider, owner_type, owner_id, ord)
      JOIN LATERAL (SELECT ${SELECT_COLUMNS}, seq FROM ${t.cards} c
        WHERE c.provider = o.provider AND c.owner_type = o.owner_type
          AND c.owner_id = o.owner_id OFFSET 0) c ON true
      ORDER BY o.ord, c.seq DESC`,
    // The earliest default stands for the owner (accounts have one per currency).
    selectDefault: `SELECT ${SELECT_COLUMNS} FROM ${t.cards}
      WHERE ${SCOPE} AND is_default ORDER BY seq LIMIT 1`,
    upsertCard: `INSERT INTO ${t.cards} AS c (${written.join(', ')})
      VALUES (${written.map((column, i) => `$${i + 1}::${typeOf(column)}`).join(', ')})
      ${updateUnlessOlder}
      RETURNING ${SELECT_COLUMNS}`,
    // The default statements take when the provider was read, or null, last: a row they change
    // keeps the later of its observed_at and that (greatest() ignores a null).
    clearDefaultsOfCurrency: `UPDATE ${t.cards}
      SET is_default = false, version = version + 1, updated_at = now(),
        observed_at = greatest(observed_at, $6::bigint)
      WHERE ${SCOPE} AND is_default AND card_id <> $4 AND currency IS NOT DISTINCT FROM $5`,
    // A default observed after $4 stays.
    clearAllDefaults: `UPDATE ${t.cards}
      SET is_default = false, version = version + 1, updated_at = now(),
        observed_at = greatest(observed_at, $4::bigint)
      WHERE ${SCOPE} AND is_default
        AND ($4::bigint IS NULL OR observed_at IS NULL OR observed_at <= $4::bigint)`,
    makeDefault: `UPDATE ${t.cards}
      SET is_default = true, version = version + 1, updated_at = now(),
        observed_at = greatest(observed_at, $5::bigint)
      WHERE ${KEY}`,
    selectLaterDefault: `SELECT 1 FROM ${t.cards}
      WHERE ${SCOPE} AND is_default AND card_id <> $4 AND currency IS NOT DISTINCT FROM $5
        AND observed_at > $6::bigint
      LIMIT 1`,
    deleteCard: `DELETE FROM ${t.cards} WHERE ${KEY}`,
    selectTombstone: `SELECT observed_at FROM ${t.tombstones} WHERE ${KEY}`,
    upsertTombstone: `INSERT INTO ${t.tombstones} (provider, owner_type, owner_id, card_id, observed_at)
      VALUES ($1, $2, $3, $4, $5::bigint)
      ON CONFLICT (provider, owner_type, owner_id, card_id)
      DO UPDATE SET observed_at = EXCLUDED.observed_at`,
    deleteTombstone: `DELETE FROM ${t.tombstones} WHERE ${KEY}`,
    // One row per card of the batch (its position, 1-based) that has a row or a tombstone.
    // LATERAL with LIMIT (which keeps the planner from flattening it into a join): one
    // primary-key lookup per card of the batch. A plain join let the planner hash the whole
    // cards table for every batch (11 ms at 32,000 rows, growing with the table).
    // Then (ord 0) the stored defaults of the batch's owners, looked up owner by owner in the
    // one-default index: \`is_default AND (owner) IN (…)\` was planned as a scan of every card
    // (4 ms a batch at 17,000 cards, growing with the table).
    selectBatchState: `SELECT k.ord, k.provider, k.owner_type, k.owner_id, k.card_id,
        c.card_id IS NOT NULL AS existing, c.is_default, c.currency,
        c.observed_at AS row_observed, d.observed_at AS tombstone_observed
      FROM ${BATCH_KEYS} WITH ORDINALITY AS k(provider, owner_type, owner_id, card_id, ord)
      LEFT JOIN LATERAL (SELECT card_id, is_default, currency, observed_at FROM ${t.cards} c
        WHERE c.provider = k.provider AND c.owner_type = k.owner_type
          AND c.owner_id = k.owner_id AND c.card_id = k.card_id LIMIT 1) c ON true
      LEFT JOIN LATERAL (SELECT card_id, observed_at FROM ${t.tombstones} d
        WHERE d.provider = k.provider AND d.owner_type = k.owner_type
          AND d.owner_id = k.owner_id AND d.card_id = k.card_id LIMIT 1) d ON true
      WHERE c.card_id IS NOT NULL OR d.card_id IS NOT NULL
      UNION ALL
      SELECT 0, o.provider, o.owner_type, o.owner_id, c.card_id, true, true, c.currency,
        c.observed_at, NULL
      FROM (SELECT DISTINCT * FROM ${BATCH_OWNERS} AS u(provider, owner_type, owner_id))
        AS o(provider, owner_type, owner_id)
      JOIN LATERAL (SELECT card_id, currency, observed_at FROM ${t.cards} c
        WHERE c.provider = o.provider AND c.owner_type = o.owner_type
          AND c.owner_id = o.owner_id AND c.is_default OFFSET 0) c ON true`,
    // Seq (identity) values follow the batch's order: the SELECT is ordered by ordinality.
    upsertBatch: upsertBatch(false),
    upsertBatchClearingTombstones: upsertBatch(true),
    clearDefaultsOfBatch: `UPDATE ${t.cards} c
      SET is_default = false, version = c.version + 1, updated_at = now()
      FROM ${jsonRows(1, 5)} AS d(provider, owner_type, owner_id, card_id, currency)
      WHERE c.provider = d.provider AND c.owner_type = d.owner_type AND c.owner_id = d.owner_id
        AND c.is_default AND c.card_id <> d.card_id AND c.currency IS NOT DISTINCT FROM d.currency`,
    insertOwner: `INSERT INTO ${t.owners} (provider, owner_type, owner_id) VALUES ($1, $2, $3)
      ON CONFLICT (provider, owner_type, owner_id) DO NOTHING`,
    // The store's write lock shared (the NULL, sorted first), then the owners' locks. ORDER BY
    // in a subquery: the locks are taken in that order, the ids sorted by the caller. No
    // parameters (it goes with BEGIN): the ids are 32-bit integers, checked, written inline.
    lockOwners: (ids: readonly number[]) => {
      const lockClass = t.ownerLockClass
      if (![lockClass, ...ids].every((id) => Number.isInteger(id) && Math.abs(id) <= 2 ** 31)) {
        throw new TypeError('advisory lock ids must be 32-bit integers')
      }
      return `SELECT CASE WHEN id IS NULL THEN pg_advisory_xact_lock_shared(${writeLock})
        ELSE pg_advisory_xact_lock(${lockClass}, id) END
      FROM (SELECT id FROM unnest(ARRAY[${['NULL', ...ids].join(', ')}]::int[]) AS id
        ORDER BY id NULLS FIRST) AS ids`
    },
    // A batch of too many owners to lock one by one: every write of the store waits.
    lockStore: `SELECT pg_advisory_xact_lock(${writeLock})`,
    deleteOwnerIfEmpty: `DELETE FROM ${t.owners} o WHERE o.provider = $1 AND o.owner_type = $2
      AND o.owner_id = $3 AND NOT EXISTS (SELECT 1 FROM ${t.cards} c
        WHERE c.provider = $1 AND c.owner_type = $2 AND c.owner_id = $3)`,
    // The owners' number the listing ends at (one index lookup): see listOwners.
    lastOwnerSeq: `SELECT max(seq) AS seq FROM ${t.owners} WHERE provider = $1`,
    listOwners: `SELECT seq, owner_type, owner_id FROM ${t.owners}
      WHERE provider = $1 AND seq > $2::bigint AND seq <= $3::bigint ORDER BY seq LIMIT $4`,
    insertRetirements: `INSERT INTO ${t.retirements}
        (provider, owner_type, owner_id, call_key, position, card_id, currency)
      SELECT $1, $2, $3, $4, n.ord - 1, n.card_id, n.currency
        FROM ${jsonRows(5, 2)} WITH ORDINALITY AS n(card_id, currency, ord)`,
    listRetirements: `SELECT card_id, currency FROM ${t.retirements}
      WHERE ${SCOPE} AND call_key = $4 ORDER BY position`,
    deleteRetirements: `DELETE FROM ${t.retirements} WHERE ${SCOPE} AND call_key = $4`,
  }
}
