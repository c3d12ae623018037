import { ConflictError } from '@cardport/core'
import type { SqliteDatabase } from './sqlite-database.js'

/** One step of the schema: applied once, in order, and recorded in `cardport_migrations`. */
export interface SqliteMigration {
  /** The migration's number, one more than the previous one's: recorded once applied. */
  version: number
  /** What the migration does, in words; recorded with the version. */
  name: string
  /** The statements, run together with `exec`, in the migration's transaction. */
  sql: string
}

/**
 * The schema, as an append-only list: a released migration is never edited, a change is a new
 * entry. There is deliberately no column for a card number or a CVC (`checks` holds only the
 * results of the provider's checks, as JSON).
 */
export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = Object.freeze([
  {
    version: 1,
    name: 'cards, card owners and card tombstones',
    sql: `
      CREATE TABLE cardport_cards (
        seq INTEGER PRIMARY KEY,
        provider TEXT NOT NULL,
        owner_type TEXT NOT NULL CHECK (owner_type IN ('customer', 'account')),
        owner_id TEXT NOT NULL,
        card_id TEXT NOT NULL,
        brand TEXT NOT NULL,
        last4 TEXT NOT NULL CHECK (length(last4) = 4),
        exp_month INTEGER NOT NULL,
        exp_year INTEGER NOT NULL,
        holder_name TEXT,
        address_line1 TEXT,
        address_line2 TEXT,
        address_city TEXT,
        address_state TEXT,
        address_postal_code TEXT,
        address_country TEXT,
        country TEXT,
        fingerprint TEXT,
        funding TEXT NOT NULL,
        checks TEXT NOT NULL,
        currency TEXT,
        is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
        status TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at TEXT,
        version INTEGER NOT NULL DEFAULT 1,
        updated_at TEXT NOT NULL,
        observed_at INTEGER,
        UNIQUE (provider, owner_type, owner_id, card_id)
      );
      CREATE UNIQUE INDEX cardport_cards_one_default
        ON cardport_cards (provider, owner_type, owner_id, ifnull(currency, ''))
        WHERE is_default = 1;
      CREATE TABLE cardport_card_owners (
        seq INTEGER PRIMARY KEY,
        provider TEXT NOT NULL,
        owner_type TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        UNIQUE (provider, owner_type, owner_id)
      );
      CREATE INDEX cardport_card_owners_by_provider ON cardport_card_owners (provider, seq);
      CREATE TABLE cardport_card_tombstones (
        provider TEXT NOT NULL,
        owner_type TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        card_id TEXT NOT NULL,
        observed_at INTEGER NOT NULL,
        PRIMARY KEY (provider, owner_type, owner_id, card_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    name: 'retirement notes of setDefaultCard',
    sql: `
      CREATE TABLE cardport_card_retirements (
        provider TEXT NOT NULL,
        owner_type TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        call_key TEXT NOT NULL,
        position INTEGER NOT NULL,
        card_id TEXT NOT NULL,
        currency TEXT,
        PRIMARY KEY (provider, owner_type, owner_id, call_key, position)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 3,
    name: 'card owners numbered with AUTOINCREMENT: a number is never handed out twice',
    // A plain INTEGER PRIMARY KEY hands a new row the largest number left plus one: once the
    // owners numbered last had left, an owner getting a card again mid-listOwners was numbered
    // below the listing's end and listed twice. SQLite cannot add AUTOINCREMENT to a table: the
    // table is made again, with its rows and their numbers (sqlite_sequence starts at the
    // largest), and its index.
    sql: `
      CREATE TABLE cardport_card_owners_v3 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        provider TEXT NOT NULL,
        owner_type TEXT NOT NULL,
        owner_id TEXT NOT NULL,
        UNIQUE (provider, owner_type, owner_id)
      );
      INSERT INTO cardport_card_owners_v3 (seq, provider, owner_type, owner_id)
        SELECT seq, provider, owner_type, owner_id FROM cardport_card_owners ORDER BY seq;
      DROP TABLE cardport_card_owners;
      ALTER TABLE cardport_card_owners_v3 RENAME TO cardport_card_owners;
      CREATE INDEX cardport_card_owners_by_provider ON cardport_card_owners (provider, seq);
    `,
  },
])

/**
 * Brings the cardport tables of `database` up to date. It first asks, with reads only
 * ({@link pendingMigrations}), whether anything is to be done: tables already up to date cost no
 * write lock, so that a process opening the file while another holds a long write (an
 * `upsertMany`) does not wait for it. Only when a migration is pending does it take the write
 * lock, in one `BEGIN IMMEDIATE` transaction that looks again at what is applied: a second
 * process migrating the same file waits for the first (better-sqlite3's busy timeout) and then
 * finds nothing left to do. `sqliteStore()` calls it on open; call it yourself to migrate ahead
 * of a deployment. Returns the versions it applied. Tables at a version newer than this package
 * knows are refused with a `conflict` error.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3'
 * import { migrate } from '@cardport/store-sqlite'
 *
 * migrate(new Database('cards.db')) // [1, 2, 3] the first time, [] afterwards
 * ```
 */
export function migrate(database: SqliteDatabase): number[] {
  // Up to date: no lock taken, nothing written (not even the migrations table).
  if (pendingMigrations(database).length === 0) return []
  const run = database.transaction(() => {
    // Under the lock, again: another process may have migrated since the look above.
    database.exec(`
      CREATE TABLE IF NOT EXISTS cardport_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TEXT NOT NULL
      )
    `)
    const applied = appliedVersions(database)
    const record = database.prepare(
      'INSERT INTO cardport_migrations (version, name, applied_at) VALUES (?, ?, ?)',
    )
    const done: number[] = []
    for (const migration of SQLITE_MIGRATIONS) {
      if (applied.has(migration.version)) continue
      database.exec(migration.sql)
      record.run(migration.version, migration.name, new Date().toISOString())
      done.push(migration.version)
    }
    return done
  })
  return run.immediate() as number[]
}

/**
 * The versions of {@link SQLITE_MIGRATIONS} that `database` lacks, in order, found without
 * writing anything (not even the migrations table): every version for a database without
 * cardport tables, `[]` for one up to date. A read-only connection can ask, which is how
 * `sqliteStore({ readonly: true })` checks the file it opens. Tables at a version newer than this
 * package knows are refused with a `conflict` error, as {@link migrate} refuses them.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3'
 * import { pendingMigrations } from '@cardport/store-sqlite'
 *
 * const db = new Database('cards.db', { readonly: true, fileMustExist: true })
 * pendingMigrations(db) // [2, 3] for a file an older cardport made, [] once it is up to date
 * ```
 */
export function pendingMigrations(database: SqliteDatabase): number[] {
  const hasTable = database
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cardport_migrations'")
    .get()
  const applied = hasTable === undefined ? new Set<number>() : appliedVersions(database)
  return SQLITE_MIGRATIONS.map((migration) => migration.version).filter(
    (version) => !applied.has(version),
  )
}

// --- internals ---

/**
 * The versions recorded in `cardport_migrations`, which must exist; a version newer than this
 * package knows is refused with a conflict that says to upgrade.
 */
function appliedVersions(database: SqliteDatabase): Set<number> {
  const rows = database
    .prepare('SELECT version FROM cardport_migrations')
    .safeIntegers(false)
    .all() as Array<{ version: number }>
  const applied = new Set(rows.map((row) => row.version))
  const latest = SQLITE_MIGRATIONS.at(-1)?.version ?? 0
  const newest = Math.max(0, ...applied)
  if (newest > latest) {
    throw new ConflictError(
      `The cardport tables are at schema version ${newest}, newer than this version of ` +
        `@cardport/store-sqlite knows (${latest}): upgrade @cardport/store-sqlite.`,
    )
  }
  return applied
}
