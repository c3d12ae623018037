export type { SqliteDatabase, SqliteStatement, SqliteTransaction } from './sqlite-database.js'
export {
  migrate,
  pendingMigrations,
  SQLITE_MIGRATIONS,
  type SqliteMigration,
} from './sqlite-migrations.js'
export { type SqliteStoreOptions, sqliteStore, type UnusableFileReason } from './sqlite-store.js'
