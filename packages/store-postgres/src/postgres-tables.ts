import { createHash } from 'node:crypto'
import { z } from 'zod'

/** The default table prefix: tables are `cardport_cards`, `cardport_card_owners` … */
export const DEFAULT_TABLE_PREFIX = 'cardport_'

/** The default schema. */
export const DEFAULT_SCHEMA = 'public'

/**
 * A schema name, as `postgresStore` and `migrate` check their `schema` option: lower-case
 * letters, digits and underscores, as Postgres folds unquoted names, so that the tables can be
 * queried by hand without quotes. At most 63 bytes, Postgres's limit; `pg_` names and
 * `information_schema` are reserved for the system. Exported so that code reading a schema name
 * from a flag, a URL or a variable refuses up front what the store would refuse on open. Its
 * messages start with `schema` (or `the schema`) and never repeat the value.
 *
 * @example
 * ```ts
 * import { SchemaNameSchema } from '@cardport/store-postgres'
 *
 * const result = SchemaNameSchema.safeParse(process.env.CARDS_SCHEMA)
 * if (!result.success) throw new Error(`CARDS_SCHEMA: ${result.error.issues[0]!.message}`)
 * ```
 */
export const SchemaNameSchema = z
  .string()
  .regex(
    /^[a-z_][a-z0-9_]*$/,
    'schema must be lower-case letters, digits and underscores, not starting with a digit',
  )
  .max(63, 'schema is at most 63 characters')
  .refine((name) => !name.startsWith('pg_'), 'schema names starting with pg_ are reserved')
  // The SQL standard's views of the catalog: a superuser's store created its tables among them.
  .refine((name) => name !== 'information_schema', 'the schema information_schema is reserved')

/** A table prefix: like a schema name, possibly empty, short enough for every table name. */
export const TablePrefixSchema = z
  .string()
  .regex(
    /^([a-z_][a-z0-9_]*)?$/,
    'tablePrefix must be lower-case letters, digits and underscores, not starting with a digit',
  )
  .max(32, 'tablePrefix is at most 32 characters')

/** Where a store's tables live. */
export interface TableLocation {
  schema: string
  tablePrefix: string
}

/** The quoted, schema-qualified names of a store's tables and the names of its indexes. */
export interface TableNames {
  /** The schema, unquoted (`'public'` by default). */
  schema: string
  /** `"schema"` */
  quotedSchema: string
  /** The cards table, one row per card (`"schema"."<prefix>cards"`). */
  cards: string
  /** The owners table, each owner with cards once, for `listOwners` (`…card_owners`). */
  owners: string
  /** When deleted cards were observed gone, to refuse older writes (`…card_tombstones`). */
  tombstones: string
  /** The retirement notes of `CardSync.setDefaultCard` (`…card_retirements`). */
  retirements: string
  /** The applied migrations, by version (`…migrations`). */
  migrations: string
  /** The migrations table's own name, unquoted and unqualified (for the catalog). */
  migrationsTable: string
  /** Index names (unqualified: an index lives in its table's schema). */
  oneDefaultIndex: string
  /** The cards-by-owner-and-insertion index of migration 1, dropped by migration 3. */
  cardsBySeqIndex: string
  /** The owners-by-provider-and-insertion index that `listOwners` pages through. */
  ownersBySeqIndex: string
  /** The key of the advisory lock that serializes migrations of these tables. */
  migrationLockKey: string
  /**
   * The key of the advisory lock that serializes creating the schema: stores with other table
   * prefixes in the same schema hold other migration locks.
   */
  schemaLockKey: string
  /**
   * The first half of the two-key advisory locks that serialize the writes of one owner (the
   * second is the owner's). Two-key locks never collide with the one-key migration lock.
   */
  ownerLockClass: number
  /**
   * The key of the one-key advisory lock on all the writes of these tables: every write takes it
   * shared before its owners' locks, a batch of too many owners to lock one by one takes it alone,
   * exclusive. Stores with another schema or prefix hold another.
   */
  writeLockKey: string
}

/** The names of the tables at a location. The inputs are validated already. */
export function tableNames({ schema, tablePrefix }: TableLocation): TableNames {
  const table = (name: string) => `${quote(schema)}.${quote(`${tablePrefix}${name}`)}`
  const index = (name: string) => quote(`${tablePrefix}${name}`)
  return {
    schema,
    quotedSchema: quote(schema),
    cards: table('cards'),
    owners: table('card_owners'),
    tombstones: table('card_tombstones'),
    retirements: table('card_retirements'),
    migrations: table('migrations'),
    migrationsTable: `${tablePrefix}migrations`,
    oneDefaultIndex: index('cards_one_default'),
    cardsBySeqIndex: index('cards_by_seq'),
    ownersBySeqIndex: index('card_owners_by_seq'),
    migrationLockKey: digest(`cardport-migrations\u0000${schema}\u0000${tablePrefix}`)
      .readBigInt64BE(0)
      .toString(),
    schemaLockKey: digest(`cardport-schema\u0000${schema}`).readBigInt64BE(0).toString(),
    ownerLockClass: digest(`cardport-owners\u0000${schema}\u0000${tablePrefix}`).readInt32BE(0),
    writeLockKey: digest(`cardport-writes\u0000${schema}\u0000${tablePrefix}`)
      .readBigInt64BE(0)
      .toString(),
  }
}

/** Quotes an identifier for SQL (the names are validated, quoting is a second line). */
function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`
}

/** Advisory lock keys are read from a name's SHA-256: stable across processes and versions. */
function digest(name: string): Buffer {
  return createHash('sha256').update(name).digest()
}
