import { createHash } from 'node:crypto'
import {
  type Card,
  type CardScope,
  type CardStore,
  type Owner,
  type UpsertResult,
  validate,
} from '@cardport/core'
import { z } from 'zod'
import {
  CARD_CASTS,
  CARD_COLUMNS,
  type CardRow,
  cardValues,
  rowToCard,
  SELECT_COLUMNS,
} from './card-row.js'
import {
  inTransaction,
  type PostgresClient,
  PostgresClientSchema,
  type PostgresQueryable,
} from './postgres-client.js'
import { runMigrations } from './postgres-migrations.js'
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
  schema?: string
  /** Prepended to every table and index name. Default `'cardport_'`. */
  tablePrefix?: string
  /**
   * Run the migrations on open. Default true. Set false when the application's role may not run
   * DDL, and run {@link migrate} from a deploy step instead.
   */
  migrate?: boolean
}

const OptionsSchema = z
  .object({
    client: PostgresClientSchema,
    schema: SchemaNameSchema.default(DEFAULT_SCHEMA),
    tablePrefix: TablePrefixSchema.default(DEFAULT_TABLE_PREFIX),
    migrate: z.boolean().default(true),
  })
  .strict()

/** How many owners `listOwners` reads per query. */
const OWNER_PAGE = 500

/**
 * A {@link CardStore} on PostgreSQL, over a `pg` Pool or PGlite: the durable store for many
 * processes sharing one database. Opening it runs the versioned migrations (under an advisory
 * lock, so that processes starting together do not race). Every write is one transaction that
 * first locks the owner's row in the owners table, so that writes of one owner are serialized
 * across processes; a partial unique index holds at most one default per owner (and currency)
 * whatever the code does; an update older than the row (`observedAt`) is refused by the upsert
 * itself; reads are always scoped by provider and owner; no column can hold a card number or a
 * CVC. See the package README for the table layout.
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
export async function postgresStore(options: PostgresStoreOptions): Promise<CardStore> {
  const valid = validate(OptionsSchema, options, 'postgresStore options')
  const client = valid.client
  const t = tableNames(valid)
  if (valid.migrate) await runMigrations(client, t)
  const sql = statements(t)

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
    if (existing) return existing.observed_at === null ? null : Number(existing.observed_at)
    const { rows } = await tx.query(sql.selectTombstone, [...key, cardId])
    return rows[0] ? Number(rows[0].observed_at) : null
  }

  /**
   * Takes the owners' transaction-level advisory locks, in one global order (so that two batches
   * cannot deadlock): every write of an owner takes its lock first, so writes of one owner happen
   * one after the other, in every process, and a default switch never meets a concurrent one.
   */
  const lockOwners = async (tx: PostgresQueryable, keys: Iterable<ScopeParams>) => {
    const ids = [...new Set([...keys].map((key) => lockId(key)))].sort((a, b) => a - b)
    await tx.query(sql.lockOwners, [t.ownerLockClass, ids])
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
    // The old default goes first: the partial unique index allows one default at any moment.
    if (card.isDefault)
      await tx.query(sql.clearDefaultsOfCurrency, [...key, card.id, card.currency])
    // The owner's row records when it first got a card: listOwners streams in that order.
    if (!existing) await tx.query(sql.insertOwner, [...key])
    const { rows } = await tx.query(sql.upsertCard, [...cardValues(card), observedAt ?? null])
    if (!existing) await tx.query(sql.deleteTombstone, [...key, card.id])
    // The upsert's own WHERE refuses an older write too; under the owner's lock it cannot fire
    // after the check above.
    return rows[0] ? { applied: true, card: rowToCard(rows[0]) } : { applied: false, card: null }
  }

  const store: CardStore = {
    async get(scope, cardId) {
      const row = await select(client, scopeParams(scope), cardId)
      return row ? rowToCard(row) : null
    },

    async listByOwner(scope) {
      const { rows } = await client.query(sql.listCards, [...scopeParams(scope)])
      return rows.map(rowToCard)
    },

    async getDefault(scope) {
      const { rows } = await client.query(sql.selectDefault, [...scopeParams(scope)])
      return rows[0] ? rowToCard(rows[0]) : null
    },

    async upsert(card, writeOptions = {}) {
      return inTransaction(client, async (tx) => {
        await lockOwners(tx, [scopeParams({ provider: card.provider, owner: card.owner })])
        return write(tx, card, writeOptions.observedAt)
      })
    },

    async upsertMany(cards, writeOptions = {}) {
      if (cards.length === 0) return
      await inTransaction(client, async (tx) => {
        await lockOwners(
          tx,
          cards.map((card) => scopeParams({ provider: card.provider, owner: card.owner })),
        )
        for (const card of cards) await write(tx, card, writeOptions.observedAt)
      })
    },

    async delete(scope, cardId, writeOptions = {}) {
      const { observedAt } = writeOptions
      return inTransaction(client, async (tx) => {
        const key = scopeParams(scope)
        await lockOwners(tx, [key])
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

    async setDefault(scope, cardId) {
      await inTransaction(client, async (tx) => {
        const key = scopeParams(scope)
        await lockOwners(tx, [key])
        if (cardId === null) {
          await tx.query(sql.clearAllDefaults, [...key])
        } else {
          const target = await select(tx, key, cardId)
          if (target) {
            await tx.query(sql.clearDefaultsOfCurrency, [...key, cardId, target.currency])
            await tx.query(sql.makeDefault, [...key, cardId])
          }
        }
      })
    },

    async *listOwners(provider) {
      // Keyset pages, one query each: no cursor or connection is held between pages, and the
      // caller (reconcile) may write in between.
      let after = '0'
      for (;;) {
        const { rows } = await client.query(sql.listOwners, [provider, after, OWNER_PAGE])
        for (const row of rows as OwnerRow[]) yield { type: row.owner_type, id: row.owner_id }
        if (rows.length < OWNER_PAGE) return
        after = String((rows.at(-1) as OwnerRow).seq)
      }
    },

    async close() {
      // The client is the caller's: the store opened no connection of its own.
    },
  }
  return Object.freeze(store)
}

// --- internals ---

type ScopeParams = readonly [provider: string, ownerType: Owner['type'], ownerId: string]

interface OwnerRow {
  seq: string | number
  owner_type: Owner['type']
  owner_id: string
}

/** The 32-bit advisory lock id of an owner (two owners may share one: they then wait in turn). */
function lockId(key: ScopeParams): number {
  return createHash('sha256').update(key.join('\u0000')).digest().readInt32BE(0)
}

function scopeParams(scope: CardScope): ScopeParams {
  return [scope.provider, scope.owner.type, scope.owner.id]
}

const SCOPE = 'provider = $1 AND owner_type = $2 AND owner_id = $3'
const KEY = `${SCOPE} AND card_id = $4`

function statements(t: TableNames) {
  const updatable = CARD_COLUMNS.slice(4)
  const values = CARD_COLUMNS.map((column, i) => `$${i + 1}${CARD_CASTS[column] ?? ''}`)
  const observed = `$${CARD_COLUMNS.length + 1}::bigint`
  return {
    selectCard: `SELECT ${SELECT_COLUMNS} FROM ${t.cards} WHERE ${KEY}`,
    listCards: `SELECT ${SELECT_COLUMNS} FROM ${t.cards} WHERE ${SCOPE} ORDER BY seq DESC`,
    // The earliest default stands for the owner (accounts have one per currency).
    selectDefault: `SELECT ${SELECT_COLUMNS} FROM ${t.cards}
      WHERE ${SCOPE} AND is_default ORDER BY seq LIMIT 1`,
    upsertCard: `INSERT INTO ${t.cards} AS c (${CARD_COLUMNS.join(', ')}, observed_at)
      VALUES (${values.join(', ')}, ${observed})
      ON CONFLICT (provider, owner_type, owner_id, card_id) DO UPDATE SET
        ${updatable.map((column) => `${column} = EXCLUDED.${column}`).join(', ')},
        version = c.version + 1,
        updated_at = now(),
        observed_at = coalesce(EXCLUDED.observed_at, c.observed_at)
      WHERE EXCLUDED.observed_at IS NULL
        OR c.observed_at IS NULL
        OR EXCLUDED.observed_at >= c.observed_at
      RETURNING ${SELECT_COLUMNS}`,
    clearDefaultsOfCurrency: `UPDATE ${t.cards}
      SET is_default = false, version = version + 1, updated_at = now()
      WHERE ${SCOPE} AND is_default AND card_id <> $4 AND currency IS NOT DISTINCT FROM $5`,
    clearAllDefaults: `UPDATE ${t.cards}
      SET is_default = false, version = version + 1, updated_at = now()
      WHERE ${SCOPE} AND is_default`,
    makeDefault: `UPDATE ${t.cards}
      SET is_default = true, version = version + 1, updated_at = now()
      WHERE ${KEY}`,
    deleteCard: `DELETE FROM ${t.cards} WHERE ${KEY}`,
    selectTombstone: `SELECT observed_at FROM ${t.tombstones} WHERE ${KEY}`,
    upsertTombstone: `INSERT INTO ${t.tombstones} (provider, owner_type, owner_id, card_id, observed_at)
      VALUES ($1, $2, $3, $4, $5::bigint)
      ON CONFLICT (provider, owner_type, owner_id, card_id)
      DO UPDATE SET observed_at = EXCLUDED.observed_at`,
    deleteTombstone: `DELETE FROM ${t.tombstones} WHERE ${KEY}`,
    insertOwner: `INSERT INTO ${t.owners} (provider, owner_type, owner_id) VALUES ($1, $2, $3)
      ON CONFLICT (provider, owner_type, owner_id) DO NOTHING`,
    // ORDER BY in a subquery: the locks are taken in the order of the ids, sorted by the caller.
    lockOwners: `SELECT pg_advisory_xact_lock($1::int, id)
      FROM (SELECT id FROM unnest($2::int[]) AS id ORDER BY id) AS ids`,
    deleteOwnerIfEmpty: `DELETE FROM ${t.owners} o WHERE o.provider = $1 AND o.owner_type = $2
      AND o.owner_id = $3 AND NOT EXISTS (SELECT 1 FROM ${t.cards} c
        WHERE c.provider = $1 AND c.owner_type = $2 AND c.owner_id = $3)`,
    listOwners: `SELECT seq, owner_type, owner_id FROM ${t.owners}
      WHERE provider = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3`,
  }
}
