import { readFileSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'
import { SQLITE_MIGRATIONS } from '../sqlite-migrations.js'

/**
 * Writes a SQLite database at `filename` whose header is intact and whose pages after it are
 * garbage, as a torn or overwritten file would be, and returns its bytes. For the tests of the
 * store and of the CLI, which both refuse such a file.
 */
export function corruptDatabaseFile(filename: string): Buffer {
  const db = new Database(filename)
  db.exec('CREATE TABLE notes (body TEXT)')
  db.prepare('INSERT INTO notes VALUES (?)').run('x'.repeat(20_000))
  db.close()
  const bytes = readFileSync(filename)
  // The 100-byte file header stays; the rest of page 1 (the schema) and every later page do not.
  for (let i = 100; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff
  writeFileSync(filename, bytes)
  return bytes
}

/**
 * Gives `db` the cardport tables as version 2 of the schema left them (a file an older cardport
 * made): migrations 1 and 2 applied and recorded, migration 3 pending.
 */
export function writeVersionTwo(db: Database.Database): void {
  db.exec(`CREATE TABLE cardport_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL
  )`)
  const record = db.prepare('INSERT INTO cardport_migrations VALUES (?, ?, ?)')
  for (const migration of SQLITE_MIGRATIONS.slice(0, 2)) {
    db.exec(migration.sql)
    record.run(migration.version, migration.name, new Date().toISOString())
  }
}

/**
 * Writes a SQLite database at `filename` with the cardport tables at schema version 2 (see
 * {@link writeVersionTwo}), and beside them a table of the application's own with
 * AUTOINCREMENT, whose `sqlite_sequence` (SQLite's table of the last numbers handed out) is
 * damaged: declared with a column too many. Reading the file works; the next AUTOINCREMENT
 * insert (migration 3's, on open) fails with `SQLITE_CORRUPT_SEQUENCE`, one of the extended
 * codes of `SQLITE_CORRUPT`. Returns its bytes.
 */
export function damagedSequenceFile(filename: string): Buffer {
  const db = new Database(filename)
  try {
    writeVersionTwo(db)
    db.exec('CREATE TABLE app_log (id INTEGER PRIMARY KEY AUTOINCREMENT, message TEXT)')
    db.exec("INSERT INTO app_log (message) VALUES ('started')")
    db.unsafeMode(true)
    db.pragma('writable_schema = ON')
    db.exec(`UPDATE sqlite_master SET sql = 'CREATE TABLE sqlite_sequence(name,seq,extra)'
      WHERE name = 'sqlite_sequence'`)
  } finally {
    db.close()
  }
  return readFileSync(filename)
}
