import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CardScope } from '@cardport/core'
import { describeCardStore } from '@cardport/testing'
import Database from 'better-sqlite3'
import { sqliteStore } from './sqlite-store.js'

const SELECT_ROW = `SELECT * FROM cardport_cards
  WHERE provider = ? AND owner_type = ? AND owner_id = ? AND card_id = ?`

const rowOf = (db: Database.Database, scope: CardScope, cardId: string) =>
  db.prepare(SELECT_ROW).get(scope.provider, scope.owner.type, scope.owner.id, cardId)

describeCardStore({
  name: 'sqliteStore (a file in a temporary directory)',
  setup: () => {
    const dir = mkdtempSync(join(tmpdir(), 'cardport-sqlite-conformance-'))
    const filename = join(dir, 'cards.db')
    const store = sqliteStore({ filename })
    // The rows are read through a second connection, as another process would see them.
    const reader = new Database(filename, { readonly: true })
    return {
      store,
      readRow: async (scope, cardId) => rowOf(reader, scope, cardId),
      // Another store on the same file; the suite closes it.
      reopen: () => sqliteStore({ filename }),
      teardown: async () => {
        reader.close()
        await store.close()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  },
})

describeCardStore({
  name: 'sqliteStore (:memory:, a Database the caller owns)',
  setup: () => {
    const database = new Database(':memory:')
    const store = sqliteStore({ database })
    return {
      store,
      readRow: async (scope, cardId) => rowOf(database, scope, cardId),
      // close() leaves the Database open: another store on it reads what the first left.
      reopen: () => sqliteStore({ database }),
      teardown: async () => {
        await store.close()
        database.close()
      },
    }
  },
})

describeCardStore({
  name: "sqliteStore ({ filename: ':memory:' })",
  setup: () => ({ store: sqliteStore({ filename: ':memory:' }) }),
})
