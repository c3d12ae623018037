import { readFileSync, writeFileSync } from 'node:fs'
import Database from 'better-sqlite3'

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
