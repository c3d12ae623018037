import { ConflictError, optionsObject, validate } from '@cardport/core'
import {
  inTransaction,
  type PostgresClient,
  PostgresClientSchema,
  type PostgresQueryable,
} from './postgres-client.js'
import {
  DEFAULT_SCHEMA,
  DEFAULT_TABLE_PREFIX,
  SchemaNameSchema,
  type TableNames,
  TablePrefixSchema,
  tableNames,
} from './postgres-tables.js'

/** One step of the schema: applied once, in order, and recorded in the migrations table. */
export interface PostgresMigration {
  /** The migration's number, one more than the previous one's: recorded once applied. */
  version: number
  /** What the migration does, in words; recorded with the version. */
  name: string
  /** The statements, one per `query()` (PGlite runs one statement per query). */
  statements: (tables: TableNames) => string[]
}

/**
 * The schema, as an append-only list: a released migration is never edited, a change is a new
 * entry. There is deliberately no column for a card number or a CVC (`checks` holds only the
 * results of the provider's checks).
 */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = Object.freeze([
  {
    version: 1,
    name: 'cards, card owners and card tombstones',
    statements: (t: TableNames) => [
      `CREATE TABLE ${t.cards} (
        seq bigint GENERATED ALWAYS AS IDENTITY,
        provider text NOT NULL,
        owner_type text NOT NULL CHECK (owner_type IN ('customer', 'account')),
        owner_id text NOT NULL,
        card_id text NOT NULL,
        brand text NOT NULL,
        last4 text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
        exp_month smallint NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
        exp_year smallint NOT NULL,
        holder_name text,
        address_line1 text,
        address_line2 text,
        address_city text,
        address_state text,
        address_postal_code text,
        address_country text,
        country text,
        fingerprint text,
        funding text NOT NULL,
        checks json NOT NULL,
        currency text,
        is_default boolean NOT NULL DEFAULT false,
        status text NOT NULL,
        metadata json NOT NULL DEFAULT '{}',
        created_at text,
        version integer NOT NULL DEFAULT 1,
        updated_at timestamptz NOT NULL DEFAULT now(),
        observed_at bigint,
        PRIMARY KEY (provider, owner_type, owner_id, card_id)
      )`,
      `CREATE UNIQUE INDEX ${t.oneDefaultIndex} ON ${t.cards}
        (provider, owner_type, owner_id, (coalesce(currency, ''))) WHERE is_default`,
      `CREATE INDEX ${t.cardsBySeqIndex} ON ${t.cards} (provider, owner_type, owner_id, seq)`,
      `CREATE TABLE ${t.owners} (
        seq bigint GENERATED ALWAYS AS IDENTITY,
        provider text NOT NULL,
        owner_type text NOT NULL,
        owner_id text NOT NULL,
        PRIMARY KEY (provider, owner_type, owner_id)
      )`,
      `CREATE INDEX ${t.ownersBySeqIndex} ON ${t.owners} (provider, seq)`,
      `CREATE TABLE ${t.tombstones} (
        provider text NOT NULL,
        owner_type text NOT NULL,
        owner_id text NOT NULL,
        card_id text NOT NULL,
        observed_at bigint NOT NULL,
        PRIMARY KEY (provider, owner_type, owner_id, card_id)
      )`,
    ],
  },
  {
    version: 2,
    name: 'retirement notes of setDefaultCard',
    statements: (t: TableNames) => [
      `CREATE TABLE ${t.retirements} (
        provider text NOT NULL,
        owner_type text NOT NULL,
        owner_id text NOT NULL,
        call_key text NOT NULL,
        position integer NOT NULL,
        card_id text NOT NULL,
        currency text,
        PRIMARY KEY (provider, owner_type, owner_id, call_key, position)
      )`,
    ],
  },
  {
    version: 3,
    name: 'cards listed through the primary key: the by-seq index dropped',
    // Every insert of a card wrote this third index, and no query needs it: an owner's cards are
    // found through the primary key's first three columns and sorted by `seq` (a few rows). A
    // reconcile into PostgreSQL ran ~5 % faster without it (bench/HISTORY.md).
    statements: (t: TableNames) => [`DROP INDEX IF EXISTS ${t.quotedSchema}.${t.cardsBySeqIndex}`],
  },
])

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The schema of the tables; created when missing. Default `'public'`. */
  schema?: string
  /** Prepended to every table and index name. Default `'cardport_'`. */
  tablePrefix?: string
}

const MigrateOptionsSchema = optionsObject({
  schema: SchemaNameSchema.default(DEFAULT_SCHEMA),
  tablePrefix: TablePrefixSchema.default(DEFAULT_TABLE_PREFIX),
})

/**
 * Brings the cardport tables up to date, in one transaction that first takes a transaction-level
 * advisory lock (`pg_advisory_xact_lock`) keyed by schema and prefix: when several processes
 * start at once, one migrates and the others wait, then find nothing left to do. Postgres DDL
 * is transactional, so a failed migration leaves nothing half-made. `postgresStore()` calls it
 * on open (unless `migrate: false`); call it yourself from a deploy step when the application's
 * role may not run DDL: tables already up to date cost no DDL, so that role can then open the
 * store with the default `migrate: true`. Returns the versions it applied.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { migrate } from '@cardport/store-postgres'
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 * await migrate(pool, { schema: 'billing' }) // [1, 2, 3] the first time, [] afterwards
 * ```
 */
export async function migrate(
  client: PostgresClient,
  options: MigrateOptions = {},
): Promise<number[]> {
  validate(PostgresClientSchema, client, 'migrate client')
  const location = validate(MigrateOptionsSchema, options, 'migrate options')
  return runMigrations(client, tableNames(location))
}

/** {@link migrate} over validated names. @internal */
export async function runMigrations(client: PostgresClient, t: TableNames): Promise<number[]> {
  return inTransaction(client, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [t.migrationLockKey])
    // CREATE SCHEMA IF NOT EXISTS still needs the CREATE privilege on the database: ask first,
    // so that a role without it can use a schema made for it.
    const hasSchema = async () =>
      (await tx.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [t.schema])).rows.length > 0
    if (!(await hasSchema())) {
      // Stores with another table prefix may be creating it too, under another migration lock:
      // the schema's own lock (always taken last, so no deadlock), then a second look.
      await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [t.schemaLockKey])
      if (!(await hasSchema())) await tx.query(`CREATE SCHEMA ${t.quotedSchema}`)
    }
    // Asked first too: CREATE TABLE IF NOT EXISTS needs the CREATE privilege on the schema even
    // when the table is there, and an application's role that only reads and writes the tables a
    // deploy step migrated has none. Up to date, a migration runs no DDL at all.
    if (!(await hasMigrationsTable(tx, t))) {
      await tx.query(`CREATE TABLE ${t.migrations} (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`)
      // The mark that tells cardport's table from another tool's of the same name and columns
      // (with tablePrefix '', `migrations`) while it holds no rows yet.
      await tx.query(`COMMENT ON TABLE ${t.migrations} IS '${MIGRATIONS_TABLE_MARK}'`)
    }
    const applied = await appliedVersions(tx, t)
    const done: number[] = []
    for (const migration of POSTGRES_MIGRATIONS) {
      if (applied.has(migration.version)) continue
      for (const statement of migration.statements(t)) await tx.query(statement)
      await tx.query(`INSERT INTO ${t.migrations} (version, name) VALUES ($1, $2)`, [
        migration.version,
        migration.name,
      ])
      done.push(migration.version)
    }
    return done
  })
}

/**
 * The versions of {@link POSTGRES_MIGRATIONS} that the tables of `schema` and `tablePrefix` lack,
 * in order, found with reads only: no lock taken, nothing created (not the schema, not the
 * migrations table), so a role that may only read can ask. Every version when the schema or its
 * migrations table is missing, `[]` when the tables are up to date. A migrations table that is
 * not cardport's, or at a version newer than this package knows, is refused with a `conflict`
 * error, as {@link migrate} refuses it. `postgresStore({ migrate: false })` runs this check on
 * open, and refuses tables that would need migrations with `invalid_request`.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { pendingMigrations } from '@cardport/store-postgres'
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL })
 * const pending = await pendingMigrations(pool, { schema: 'billing' }) // [] when up to date
 * if (pending.length > 0) console.log(`migrations ${pending.join(', ')} to run on deploy`)
 * ```
 */
export async function pendingMigrations(
  client: PostgresClient,
  options: MigrateOptions = {},
): Promise<number[]> {
  validate(PostgresClientSchema, client, 'pendingMigrations client')
  const t = tableNames(validate(MigrateOptionsSchema, options, 'pendingMigrations options'))
  return pendingVersions(client, t)
}

/** {@link pendingMigrations} over validated names. @internal */
export async function pendingVersions(db: PostgresQueryable, t: TableNames): Promise<number[]> {
  const applied = (await hasMigrationsTable(db, t))
    ? await appliedVersions(db, t)
    : new Set<number>()
  return POSTGRES_MIGRATIONS.map((migration) => migration.version).filter(
    (version) => !applied.has(version),
  )
}

/**
 * The comment `migrate()` gives the migrations table it creates, so that an empty table of the
 * same name and columns (another tool's, with `tablePrefix: ''`) is not taken for cardport's.
 * Tables made before it carry none: their rows (cardport's migration 1 at least, recorded in the
 * transaction that made the table) say they are cardport's.
 */
const MIGRATIONS_TABLE_MARK = 'cardport migrations'

/** Whether the migrations table exists (in a schema that exists): a catalog read. */
async function hasMigrationsTable(db: PostgresQueryable, t: TableNames): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2`,
    [t.schema, t.migrationsTable],
  )
  return rows.length > 0
}

/**
 * The versions recorded in the migrations table, once the table is known to be cardport's: with
 * `tablePrefix: ''` it is plainly `migrations`, a name other tools use. A table without
 * cardport's columns, whose rows name other migrations than cardport's of the same version, or
 * which has neither cardport's mark (the comment {@link MIGRATIONS_TABLE_MARK}, given at
 * creation) nor a row of a cardport migration (so another tool's, empty yet), is refused with a
 * conflict before anything is created beside it or recorded in it; so are versions newer than
 * this package knows.
 */
async function appliedVersions(tx: PostgresQueryable, t: TableNames): Promise<Set<number>> {
  const notOurs = (why: string) =>
    new ConflictError(
      `The table ${t.migrations} is not cardport's (${why}): give the store a tablePrefix of its ` +
        `own, so that its tables do not meet another tool's.`,
    )
  // The catalog, not information_schema: that lists only the columns the role has a right to,
  // none for a role that may not read the table, which was then called another tool's (and a
  // new prefix would have opened empty tables). Such a role now fails on the read below.
  const { rows: columns } = await tx.query(
    `SELECT a.attname FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
        AND a.attname IN ('version', 'name', 'applied_at')`,
    [t.schema, t.migrationsTable],
  )
  if (columns.length !== 3) throw notOurs('its columns are not version, name and applied_at')
  const { rows } = await tx.query(`SELECT version, name FROM ${t.migrations}`)
  const names = new Map(POSTGRES_MIGRATIONS.map((migration) => [migration.version, migration.name]))
  for (const row of rows as Array<{ version: number | string; name: string }>) {
    const known = names.get(Number(row.version))
    if (known !== undefined && known !== row.name) {
      throw notOurs(`its version ${row.version} is not cardport's migration "${known}"`)
    }
  }
  const ownRows = (rows as Array<{ version: number | string; name: string }>).some(
    (row) => names.get(Number(row.version)) === row.name,
  )
  if (!ownRows) {
    const { rows: marks } = await tx.query(
      `SELECT obj_description(c.oid, 'pg_class') AS mark FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2`,
      [t.schema, t.migrationsTable],
    )
    if ((marks[0] as { mark: string | null } | undefined)?.mark !== MIGRATIONS_TABLE_MARK) {
      throw notOurs('it records no cardport migration, and cardport did not create it')
    }
  }
  const applied = new Set(rows.map((row: { version: number | string }) => Number(row.version)))
  const latest = POSTGRES_MIGRATIONS.at(-1)?.version ?? 0
  const newest = Math.max(0, ...applied)
  if (newest > latest) {
    throw new ConflictError(
      `The cardport tables in schema "${t.schema}" are at schema version ${newest}, newer than ` +
        `this version of @cardport/store-postgres knows (${latest}): upgrade @cardport/store-postgres` +
        ` (or, if ${t.migrations} is another tool's table, give the store a tablePrefix of its own).`,
    )
  }
  return applied
}
