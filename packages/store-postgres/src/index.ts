export type {
  PostgresClient,
  PostgresPool,
  PostgresPoolClient,
  PostgresQueryable,
  PostgresQueryResult,
  PostgresTransactional,
} from './postgres-client.js'
export {
  type MigrateOptions,
  migrate,
  POSTGRES_MIGRATIONS,
  type PostgresMigration,
  pendingMigrations,
} from './postgres-migrations.js'
export { type PostgresStoreOptions, postgresStore } from './postgres-store.js'
export {
  DEFAULT_SCHEMA,
  DEFAULT_TABLE_PREFIX,
  SchemaNameSchema,
  type TableNames,
} from './postgres-tables.js'
