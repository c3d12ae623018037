import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type CardportError,
  type CardScope,
  type CardStore,
  createCardSync,
  EMPTY_ADDRESS,
  isCardportError,
  memoryProvider,
  type Owner,
  toArray,
} from '@cardport/core'
import { sampleCard } from '@cardport/testing'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  corruptDatabaseFile,
  damagedSequenceFile,
  writeVersionTwo,
} from './__fixtures__/damaged-database.js'
import { bundleForWorkers, inWorkers } from './__fixtures__/store-workers.js'
import { migrate, pendingMigrations, SQLITE_MIGRATIONS } from './sqlite-migrations.js'
import { sqliteStore } from './sqlite-store.js'

const alice: Owner = { type: 'customer', id: 'cus_alice' }
const bob: Owner = { type: 'customer', id: 'cus_bob' }
const shop: Owner = { type: 'account', id: 'acct_shop' }
const aliceScope: CardScope = { provider: 'memory', owner: alice }
const bobScope: CardScope = { provider: 'memory', owner: bob }
const shopScope: CardScope = { provider: 'memory', owner: shop }

let dir: string
let opened: CardStore[]
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cardport-sqlite-'))
  opened = []
})
afterEach(async () => {
  for (const store of opened) await store.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A store on a fresh file of this test's directory, closed after the test. */
function fileStore(name = 'cards.db', options: { wal?: boolean } = {}) {
  const filename = join(dir, name)
  const store = sqliteStore({ filename, ...options })
  opened.push(store)
  return { store, filename }
}

describe('sqliteStore: opening', () => {
  it('runs the migrations on open, once: a second open of the same file applies nothing', () => {
    const { filename } = fileStore()
    fileStore()
    const db = new Database(filename)
    try {
      const rows = db.prepare('SELECT version, name FROM cardport_migrations').all()
      expect(rows).toEqual(SQLITE_MIGRATIONS.map(({ version, name }) => ({ version, name })))
      expect(migrate(db)).toEqual([])
    } finally {
      db.close()
    }
  })

  it('migrate() applies every migration to a new database and reports them', () => {
    const db = new Database(':memory:')
    try {
      expect(migrate(db)).toEqual(SQLITE_MIGRATIONS.map((migration) => migration.version))
      expect(migrate(db)).toEqual([])
      const tables = db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .pluck()
        .all()
      expect(tables).toEqual([
        'cardport_card_owners',
        'cardport_card_retirements',
        'cardport_card_tombstones',
        'cardport_cards',
        'cardport_migrations',
      ])
    } finally {
      db.close()
    }
  })

  it('brings a database of schema version 1 up to date, keeping its cards and owners', async () => {
    const db = new Database(':memory:')
    try {
      // A database as version 1 left it, with a card: the later tables and their records removed.
      const older = sqliteStore({ database: db })
      await older.upsert(sampleCard('card_1', bob))
      await older.upsert(sampleCard('card_1', alice))
      db.exec('DROP TABLE cardport_card_retirements')
      db.exec('DROP TABLE cardport_card_owners')
      db.exec(`CREATE TABLE cardport_card_owners (
        seq INTEGER PRIMARY KEY, provider TEXT NOT NULL, owner_type TEXT NOT NULL,
        owner_id TEXT NOT NULL, UNIQUE (provider, owner_type, owner_id))`)
      db.exec(
        'CREATE INDEX cardport_card_owners_by_provider ON cardport_card_owners (provider, seq)',
      )
      db.exec(`INSERT INTO cardport_card_owners (seq, provider, owner_type, owner_id)
        VALUES (7, 'memory', 'customer', 'cus_bob'), (9, 'memory', 'customer', 'cus_alice')`)
      db.prepare('DELETE FROM cardport_migrations WHERE version > 1').run()

      expect(migrate(db)).toEqual([2, 3])
      const store = sqliteStore({ database: db })
      expect((await store.listByOwner(aliceScope)).map((card) => card.id)).toEqual(['card_1'])
      // The owners keep their numbers, so their order, and the next one is numbered after them.
      expect(await toArray(store.listOwners('memory'), { limit: 10 })).toEqual([bob, alice])
      await store.upsert(sampleCard('card_1', shop))
      const seqs = db.prepare('SELECT seq FROM cardport_card_owners ORDER BY seq').pluck().all()
      expect(seqs).toEqual([7, 9, 10])
      await store.retirements!.save(aliceScope, 'key', [{ cardId: 'card_1', currency: null }])
      expect(await store.retirements!.load(aliceScope, 'key')).toEqual([
        { cardId: 'card_1', currency: null },
      ])
    } finally {
      db.close()
    }
  })

  it("keeps setDefaultCard's retirement notes across a reopen of the file", async () => {
    const { store, filename } = fileStore('notes.db')
    await store.retirements!.save(aliceScope, 'key', [{ cardId: 'card_old', currency: null }])
    await store.close()
    const reopened = sqliteStore({ filename })
    opened.push(reopened)
    expect(await reopened.retirements!.load(aliceScope, 'key')).toEqual([
      { cardId: 'card_old', currency: null },
    ])
  })

  it('refuses a database migrated by a newer version, with a conflict that says what to do', () => {
    const db = new Database(':memory:')
    try {
      migrate(db)
      db.prepare('INSERT INTO cardport_migrations VALUES (999, ?, ?)').run('future', 'now')
      expect(() => sqliteStore({ database: db })).toThrow(
        expect.objectContaining({ code: 'conflict', message: expect.stringMatching(/upgrade/) }),
      )
    } finally {
      db.close()
    }
  })

  it('refuses a file at the very next schema version (a roll-back after an upgrade), everywhere', () => {
    const next = SQLITE_MIGRATIONS.at(-1)!.version + 1
    const filename = join(dir, 'next.db')
    const db = new Database(filename)
    try {
      migrate(db)
      db.prepare('INSERT INTO cardport_migrations VALUES (?, ?, ?)').run(next, 'next', 'now')
      for (const open of [
        () => sqliteStore({ filename }),
        () => sqliteStore({ filename, readonly: true }),
        () => sqliteStore({ database: db }),
        () => migrate(db),
        () => pendingMigrations(db),
      ]) {
        const thrown = thrownBy(open)
        expect(isCardportError(thrown, 'conflict')).toBe(true)
        expect(thrown.message).toContain(`schema version ${next}, newer`)
      }
    } finally {
      db.close()
    }
  })

  it('leaves a file migrated by a newer version as it was: not even its journal mode changes', () => {
    // An older deployment still running must not touch a file it refuses: WAL is a property of
    // the file, kept for every later connection.
    const filename = join(dir, 'newer.db')
    const db = new Database(filename)
    try {
      migrate(db)
      db.prepare('INSERT INTO cardport_migrations VALUES (999, ?, ?)').run('future', 'now')
    } finally {
      db.close()
    }
    const before = readFileSync(filename)
    expect(() => sqliteStore({ filename })).toThrow(expect.objectContaining({ code: 'conflict' }))
    const after = new Database(filename)
    try {
      expect(after.pragma('journal_mode', { simple: true })).toBe('delete')
    } finally {
      after.close()
    }
    expect(readFileSync(filename).equals(before)).toBe(true)
  })

  it('gives a file migrated from schema version 2 the schema of a new file, indexes included', () => {
    // Its statements as SQLite keeps them, spaces and line breaks aside.
    const schemaOf = (db: Database.Database) =>
      (
        db.prepare('SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name').all() as {
          sql: string | null
        }[]
      ).map((entry) => ({ ...entry, sql: entry.sql?.replace(/\s+/g, ' ') }))
    const fresh = new Database(':memory:')
    const older = new Database(':memory:')
    try {
      migrate(fresh)
      writeVersionTwo(older)
      expect(migrate(older)).toEqual([3])
      expect(schemaOf(older)).toEqual(schemaOf(fresh))
      // Both went through migration 3, which makes the owners' table again: its index with it
      // (listOwners pages by provider and seq), and the one default per owner and currency.
      const indexes = fresh
        .prepare(
          "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .all()
      expect(indexes).toEqual([
        { name: 'cardport_card_owners_by_provider', tbl_name: 'cardport_card_owners' },
        { name: 'cardport_cards_one_default', tbl_name: 'cardport_cards' },
      ])
      const columns = fresh
        .prepare('SELECT name FROM pragma_index_info(?)')
        .pluck()
        .all('cardport_card_owners_by_provider')
      expect(columns).toEqual(['provider', 'seq'])
    } finally {
      fresh.close()
      older.close()
    }
  })

  it('turns on WAL for a file (a property of the file, seen by every connection)', () => {
    const { filename } = fileStore()
    const db = new Database(filename)
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
    } finally {
      db.close()
    }
  })

  it('syncs each commit to disk on its own connection, also when it reopens a file in WAL', () => {
    // better-sqlite3 opens a file already in WAL with synchronous = NORMAL, where a power loss or
    // an operating system crash may roll back the last commits.
    const { filename } = fileStore()
    const pragma = vi.spyOn(Database.prototype, 'pragma')
    try {
      opened.push(sqliteStore({ filename }))
      const own = pragma.mock.contexts[0] as Database.Database
      expect(own.pragma('journal_mode', { simple: true })).toBe('wal')
      expect(own.pragma('synchronous', { simple: true })).toBe(2) // FULL
    } finally {
      pragma.mockRestore()
    }
  })

  it('waits busyTimeoutMs for a lock on its own connection, 5000 ms unless told', () => {
    const prepare = vi.spyOn(Database.prototype, 'prepare')
    try {
      const timeoutOf = (options: { busyTimeoutMs?: number; readonly?: boolean }) => {
        prepare.mockClear()
        opened.push(sqliteStore({ filename: join(dir, 'busy.db'), ...options }))
        const own = prepare.mock.contexts[0] as Database.Database
        return own.pragma('busy_timeout', { simple: true })
      }
      expect(timeoutOf({})).toBe(5000)
      expect(timeoutOf({ busyTimeoutMs: 200 })).toBe(200)
      expect(timeoutOf({ busyTimeoutMs: 0 })).toBe(0)
      expect(timeoutOf({ busyTimeoutMs: 60_000, readonly: true })).toBe(60_000)
    } finally {
      prepare.mockRestore()
    }
  })

  it('gives up migrating a file another connection holds locked after busyTimeoutMs, not 5 s', () => {
    const filename = join(dir, 'locked.db')
    opened.push(sqliteStore({ filename }))
    const locker = new Database(filename)
    try {
      // A file an older version made: migration 3 is pending, and needs the write lock.
      locker.exec('DELETE FROM cardport_migrations WHERE version = 3')
      // Another process writes: its lock outlasts the new store's migrations' wait.
      locker.exec('BEGIN IMMEDIATE')
      const started = performance.now()
      expect(() => sqliteStore({ filename, busyTimeoutMs: 100 })).toThrow(
        expect.objectContaining({ code: 'SQLITE_BUSY' }),
      )
      expect(performance.now() - started).toBeLessThan(2500)
    } finally {
      locker.close()
    }
  })

  it.each([
    ['in WAL', {}],
    ['with a rollback journal', { wal: false }],
  ])(
    'opens an up-to-date file %s while another connection holds the write lock, taking no lock',
    (_, options) => {
      const filename = join(dir, 'busy-writer.db')
      const first = sqliteStore({ filename, ...options })
      opened.push(first)
      const locker = new Database(filename)
      try {
        // Another process is in the middle of a long write (an upsertMany).
        locker.exec('BEGIN IMMEDIATE')
        const store = sqliteStore({ filename, busyTimeoutMs: 10, ...options })
        opened.push(store)
        locker.exec('COMMIT')
        const db = new Database(filename, { readonly: true })
        try {
          expect(pendingMigrations(db)).toEqual([])
          const { n } = db.prepare('SELECT count(*) AS n FROM cardport_migrations').get() as {
            n: number
          }
          expect(n).toBe(SQLITE_MIGRATIONS.length)
        } finally {
          db.close()
        }
        expect(migrate(locker)).toEqual([])
      } finally {
        locker.close()
      }
    },
  )

  it('refuses a file at a newer version without taking the write lock', () => {
    const filename = join(dir, 'newer.db')
    opened.push(sqliteStore({ filename }))
    const locker = new Database(filename)
    try {
      locker
        .prepare('INSERT INTO cardport_migrations (version, name, applied_at) VALUES (?, ?, ?)')
        .run(999, 'future', new Date().toISOString())
      locker.exec('BEGIN IMMEDIATE')
      expect(() => sqliteStore({ filename, busyTimeoutMs: 10 })).toThrow(
        expect.objectContaining({ code: 'conflict' }),
      )
    } finally {
      locker.close()
    }
  })

  it.skipIf(process.platform === 'win32')(
    'makes a new file, and its -wal and -shm, readable by its owner only, whatever the umask',
    async () => {
      // Holder names, billing addresses, last four digits and expiry dates: not for other users.
      const umask = process.umask(0o022)
      try {
        const { store, filename } = fileStore()
        await store.upsert(sampleCard('card_1', alice))
        for (const file of [filename, `${filename}-wal`, `${filename}-shm`]) {
          expect({ file, mode: statSync(file).mode & 0o777 }).toEqual({ file, mode: 0o600 })
        }
      } finally {
        process.umask(umask)
      }
    },
  )

  it.skipIf(process.platform === 'win32')(
    "leaves an existing file's mode as its owner set it",
    () => {
      const filename = join(dir, 'shared.db')
      new Database(filename).close()
      chmodSync(filename, 0o640)
      opened.push(sqliteStore({ filename }))
      expect(statSync(filename).mode & 0o777).toBe(0o640)
    },
  )

  it('leaves the journal mode alone with wal: false', () => {
    const { filename } = fileStore('plain.db', { wal: false })
    const db = new Database(filename)
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('delete')
    } finally {
      db.close()
    }
  })

  it('leaves a Database of yours the synchronous setting you gave it', async () => {
    const db = new Database(join(dir, 'yours.db'))
    try {
      db.pragma('synchronous = OFF')
      const store = sqliteStore({ database: db })
      await store.upsert(sampleCard('card_1', alice))
      expect(db.pragma('synchronous', { simple: true })).toBe(0) // OFF
    } finally {
      db.close()
    }
  })

  it('does not close a Database the caller passed in, and closes its own', async () => {
    const db = new Database(':memory:')
    try {
      const shared = sqliteStore({ database: db })
      await shared.upsert(sampleCard('card_1', alice))
      await shared.close()
      expect(db.open).toBe(true)
      expect(db.prepare('SELECT count(*) FROM cardport_cards').pluck().get()).toBe(1)
    } finally {
      db.close()
    }

    const own = sqliteStore({ filename: ':memory:' })
    await own.close()
    await own.close()
    await expect(own.get(aliceScope, 'card_1')).rejects.toThrow(/sqliteStore is closed/)
  })

  it('answers numbers on a Database of yours that answers BigInts (defaultSafeIntegers)', async () => {
    const db = new Database(':memory:')
    db.defaultSafeIntegers(true)
    try {
      const store = sqliteStore({ database: db })
      await store.upsert(sampleCard('card_1', shop), { observedAt: 1_700_000_000_000 })
      await store.delete(shopScope, 'card_gone', { observedAt: 1_700_000_000_001 })
      const stored = (await store.get(shopScope, 'card_1'))!
      expect(stored).toMatchObject({ version: 1, observedAt: 1_700_000_000_000, expMonth: 12 })
      expect(typeof stored.expYear).toBe('number')
      expect(JSON.parse(JSON.stringify(stored))).toEqual(stored)
      // A stale write is judged against the tombstone's time read as a number.
      expect((await store.upsert(sampleCard('card_gone', shop), { observedAt: 1 })).applied).toBe(
        false,
      )
      expect(await toArray(store.listOwners('memory'), { limit: 10 })).toEqual([shop])
      // Opening it again finds every migration applied.
      expect(() => sqliteStore({ database: db })).not.toThrow()
    } finally {
      db.close()
    }
  })

  it('validates its options once, naming the store', () => {
    const bad = [
      {},
      { filename: '' },
      { filename: 'a.db', database: new Database(':memory:') },
      { database: { prepare: () => null } },
      { filename: 'a.db', wal: 'yes' },
      { filename: 'a.db', busyTimeoutMs: -1 },
      { filename: 'a.db', busyTimeoutMs: 1.5 },
      { filename: 'a.db', busyTimeoutMs: Number.NaN },
      { filename: 'a.db', busyTimeoutMs: 2 ** 31 },
      { filename: 'a.db', busyTimeoutMs: '200' },
      { database: new Database(':memory:'), busyTimeoutMs: 200 },
    ]
    for (const options of bad) {
      expect(() => sqliteStore(options as never)).toThrow(
        expect.objectContaining({
          code: 'invalid_request',
          message: expect.stringMatching(/^Invalid sqliteStore options/),
        }),
      )
    }
  })
})

describe('sqliteStore: closed', () => {
  /** Every call of the store, each to be refused once it is closed. */
  const calls = (store: CardStore): Record<string, () => Promise<unknown>> => ({
    get: () => store.get(aliceScope, 'card_1'),
    listByOwner: () => store.listByOwner(aliceScope),
    listByOwners: () => store.listByOwners!([aliceScope]),
    getDefault: () => store.getDefault(aliceScope),
    upsert: () => store.upsert(sampleCard('card_2', alice)),
    upsertMany: () => store.upsertMany([sampleCard('card_2', alice)]),
    'upsertMany (no cards)': () => store.upsertMany([]),
    delete: () => store.delete(aliceScope, 'card_1'),
    setDefault: () => store.setDefault(aliceScope, 'card_1'),
    listOwners: () => toArray(store.listOwners('memory'), { limit: 10 }),
    'retirements.save': () => store.retirements!.save(aliceScope, 'key', []),
    'retirements.load': () => store.retirements!.load(aliceScope, 'key'),
    'retirements.remove': () => store.retirements!.remove(aliceScope, 'key'),
  })

  async function expectClosed(call: () => Promise<unknown>, what: RegExp) {
    const error = await call().then(
      () => undefined,
      (thrown: unknown) => thrown,
    )
    // A CardportError saying what to do, not better-sqlite3's TypeError ("not open").
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect(error).toMatchObject({ retryable: false, message: expect.stringMatching(what) })
  }

  // That every call after close() is refused, and writes nothing, is describeCardStore's check
  // (sqlite-store.conformance.test.ts), over a file and over a Database of the caller's.

  it('refuses the next page of owners when it is closed while they are listed', async () => {
    const { store } = fileStore()
    const owners = Array.from({ length: 501 }, (_, i): Owner => ({ type: 'customer', id: `c${i}` }))
    await store.upsertMany(owners.map((owner, i) => sampleCard(`card_${i}`, owner)))
    const listed = store.listOwners('memory')[Symbol.asyncIterator]()
    for (let i = 0; i < 500; i++) await listed.next()
    await store.close()
    await expectClosed(() => listed.next(), /sqliteStore is closed/)
  })

  it('refuses every call once the Database you passed is closed, saying whose it is', async () => {
    const db = new Database(':memory:')
    const store = sqliteStore({ database: db })
    db.close()
    for (const call of Object.values(calls(store))) {
      await expectClosed(call, /Database passed to sqliteStore is closed/)
    }
  })

  it('settles a reconcile whose store is closed mid-run with invalid_request, not a TypeError', async () => {
    const { store } = fileStore()
    const owners = Array.from({ length: 600 }, (_, i): Owner => ({ type: 'customer', id: `c${i}` }))
    await store.upsertMany(owners.map((owner, i) => sampleCard(`card_${i}`, owner)))
    let done = 0
    const run = createCardSync({ provider: memoryProvider(), store }).reconcile(undefined, {
      onOwner: () => {
        if (++done === 10) void store.close()
      },
    })
    await expectClosed(() => run, /sqliteStore is closed/)
  })
})

describe('sqliteStore: the database enforces the rules', () => {
  it('has no column that could hold a card number or a CVC', () => {
    const db = new Database(':memory:')
    try {
      migrate(db)
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .pluck()
        .all() as string[]
      const columns = tables.flatMap((table) =>
        (db.pragma(`table_info(${table})`) as Array<{ name: string }>).map(
          (column) => `${table}.${column.name}`,
        ),
      )
      expect(columns).toContain('cardport_cards.last4')
      expect(columns).toContain('cardport_cards.checks')
      expect(
        columns.filter((column) => /number|pan\b|cvc|cvv|cvn|security|track/i.test(column)),
      ).toEqual([])
    } finally {
      db.close()
    }
  })

  it('never writes the card number or CVC given to the provider into the file', async () => {
    const { store, filename } = fileStore()
    const provider = memoryProvider()
    const sync = createCardSync({ provider, store })
    const owner: Owner = { type: 'customer', id: 'cus_raw' }
    const created = await provider.createCard(owner, {
      source: { number: '4000056655665556', expMonth: 12, expYear: 2040, cvc: '987' },
    })
    await sync.sync(owner, created.id)
    expect((await store.get({ provider: provider.name, owner }, created.id))?.last4).toBe('5556')
    await store.close()
    const bytes = readFileSync(filename).toString('latin1')
    expect(bytes).toContain('cus_raw')
    expect(bytes).not.toContain('4000056655665556')
    expect(bytes).not.toMatch(/"?cvc"?\s*:\s*"987"/)
  })

  it('holds one default per owner and currency even against raw SQL (partial unique index)', async () => {
    const db = new Database(':memory:')
    try {
      const store = sqliteStore({ database: db })
      await store.upsert(sampleCard('card_1', alice, { isDefault: true }))
      await store.upsert(sampleCard('card_2', alice))
      await store.upsert(sampleCard('card_3', bob, { isDefault: true }))
      expect(() =>
        db.prepare("UPDATE cardport_cards SET is_default = 1 WHERE card_id = 'card_2'").run(),
      ).toThrow(/UNIQUE/)
      // Another currency of the same account may have its own default.
      await store.upsert(sampleCard('usd_1', shop, { currency: 'usd', isDefault: true }))
      await store.upsert(sampleCard('eur_1', shop, { currency: 'eur' }))
      db.prepare("UPDATE cardport_cards SET is_default = 1 WHERE card_id = 'eur_1'").run()
      expect((await store.listByOwner(shopScope)).filter((c) => c.isDefault)).toHaveLength(2)
    } finally {
      db.close()
    }
  })

  it('switches a default atomically: a failure half-way leaves the old default in place', async () => {
    const db = new Database(':memory:')
    try {
      const store = sqliteStore({ database: db })
      await store.upsert(sampleCard('card_1', alice, { isDefault: true }))
      await store.upsert(sampleCard('card_2', alice))
      // Fails the second half of the switch, after the old default was cleared.
      db.exec(`
        CREATE TRIGGER refuse_card_2 BEFORE UPDATE OF is_default ON cardport_cards
        WHEN NEW.is_default = 1 AND NEW.card_id = 'card_2'
        BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END
      `)
      await expect(store.setDefault(aliceScope, 'card_2')).rejects.toThrow(/refused/)
      expect((await store.getDefault(aliceScope))?.id).toBe('card_1')
      expect((await store.get(aliceScope, 'card_1'))?.version).toBe(1)
    } finally {
      db.close()
    }
  })

  it('writes upsertMany in one transaction: a bad card rolls the whole batch back', async () => {
    const { store } = fileStore()
    await store.upsert(sampleCard('card_0', alice, { isDefault: true }))
    const batch = [
      sampleCard('card_1', alice, { isDefault: true }),
      sampleCard('card_2', bob),
      sampleCard('card_3', alice, { last4: '42' }),
    ]
    await expect(store.upsertMany(batch)).rejects.toThrow(/CHECK/)
    expect((await store.listByOwner(aliceScope)).map((c) => c.id)).toEqual(['card_0'])
    expect((await store.getDefault(aliceScope))?.id).toBe('card_0')
    expect(await store.listByOwner(bobScope)).toEqual([])
  })

  it('keeps 50 concurrent default switches on one owner to exactly one default', async () => {
    const { store } = fileStore()
    const ids = Array.from({ length: 50 }, (_, i) => `card_${i}`)
    await store.upsertMany(ids.map((id) => sampleCard(id, alice, { isDefault: id === 'card_0' })))
    await Promise.all(ids.map((id) => store.setDefault(aliceScope, id)))
    const defaults = (await store.listByOwner(aliceScope)).filter((c) => c.isDefault)
    expect(defaults.map((c) => c.id)).toEqual(['card_49'])
    expect((await store.getDefault(aliceScope))?.id).toBe('card_49')
  })

  it('keeps one default when two connections to one file switch it in turns', async () => {
    const first = fileStore('shared.db').store
    const second = fileStore('shared.db').store
    const ids = Array.from({ length: 50 }, (_, i) => `card_${i}`)
    await first.upsertMany(ids.map((id) => sampleCard(id, alice)))
    await Promise.all(ids.map((id, i) => (i % 2 === 0 ? first : second).setDefault(aliceScope, id)))
    for (const store of [first, second]) {
      expect((await store.listByOwner(aliceScope)).filter((c) => c.isDefault)).toHaveLength(1)
    }
  })
})

describe('sqliteStore: scoping, ordering and versions', () => {
  it("never returns one owner's card through another owner's scope", async () => {
    const { store } = fileStore()
    await store.upsert(sampleCard('card_a', alice, { isDefault: true }))
    expect(await store.get(bobScope, 'card_a')).toBeNull()
    expect(await store.get({ provider: 'stripe', owner: alice }, 'card_a')).toBeNull()
    expect(await store.getDefault(bobScope)).toBeNull()
    expect(await store.delete(bobScope, 'card_a')).toBe(false)
    await store.setDefault(bobScope, 'card_a')
    await store.setDefault(bobScope, null)
    expect((await store.get(aliceScope, 'card_a'))?.isDefault).toBe(true)
  })

  it('keeps the same card id apart for two owners', async () => {
    const { store } = fileStore()
    await store.upsert(sampleCard('card_a', alice, { last4: '1111' }))
    await store.upsert(sampleCard('card_a', bob, { last4: '2222' }))
    expect((await store.get(aliceScope, 'card_a'))?.last4).toBe('1111')
    expect((await store.get(bobScope, 'card_a'))?.last4).toBe('2222')
    await store.delete(bobScope, 'card_a')
    expect((await store.get(aliceScope, 'card_a'))?.last4).toBe('1111')
  })

  it('reads back exactly the card written (key order of metadata included)', async () => {
    const { store } = fileStore()
    const written = sampleCard('card_1', alice, {
      metadata: { zeta: '1', alpha: '2' },
      address: { ...EMPTY_ADDRESS, line1: '1 Main St', postalCode: '94107', country: 'US' },
      checks: { cvc: 'pass', addressLine1: 'unchecked', postalCode: null },
      createdAt: '2024-01-02T03:04:05Z',
      holderName: 'Jenny Rosen',
    })
    await store.upsert(written, { observedAt: 1_700_000_000_123 })
    const { version, updatedAt, observedAt, ...read } = (await store.get(aliceScope, 'card_1'))!
    expect(JSON.stringify(read)).toBe(JSON.stringify(written))
    expect({ version, observedAt }).toEqual({ version: 1, observedAt: 1_700_000_000_123 })
    expect(new Date(updatedAt).toISOString()).toBe(updatedAt)
  })

  it('refuses out-of-order writes and deletions, and remembers deletions', async () => {
    const { store } = fileStore()
    await store.upsert(sampleCard('card_1', alice, { holderName: 'new' }), { observedAt: 2000 })
    const stale = await store.upsert(sampleCard('card_1', alice, { holderName: 'old' }), {
      observedAt: 1000,
    })
    expect(stale).toMatchObject({ applied: false, card: { holderName: 'new', version: 1 } })
    expect(await store.delete(aliceScope, 'card_1', { observedAt: 1500 })).toBe(false)
    expect(await store.delete(aliceScope, 'card_1', { observedAt: 3000 })).toBe(true)
    expect(await store.upsert(sampleCard('card_1', alice), { observedAt: 2500 })).toEqual({
      applied: false,
      card: null,
    })
    expect(await toArray(store.listOwners('memory'), { limit: 10_000 })).toEqual([])
    const recreated = await store.upsert(sampleCard('card_1', alice), { observedAt: 3000 })
    expect(recreated).toMatchObject({ applied: true, card: { version: 1, observedAt: 3000 } })
  })

  it('refuses an observedAt that is no whole number of ms from 0, also with no cards to write', async () => {
    const { store } = fileStore()
    for (const observedAt of [1.5, '2024', -0.5]) {
      for (const cards of [[], [sampleCard('card_1', alice)]]) {
        const error = await store.upsertMany(cards, { observedAt } as never).then(
          () => undefined,
          (thrown: unknown) => thrown,
        )
        expect(isCardportError(error, 'invalid_request')).toBe(true)
        expect(error).toMatchObject({ message: expect.stringMatching(/observedAt must be/) })
      }
    }
    expect(await store.listByOwner(aliceScope)).toEqual([])
  })

  it('lists owners in pages, each once, in the order they first got a card', async () => {
    const { store } = fileStore()
    const owners = Array.from(
      { length: 1203 },
      (_, i): Owner => ({
        type: i % 3 === 0 ? 'account' : 'customer',
        id: `own_${String(1203 - i).padStart(5, '0')}`,
      }),
    )
    await store.upsertMany(owners.map((owner) => sampleCard('card_1', owner)))
    await store.upsert({ ...sampleCard('card_1', alice), provider: 'stripe' })
    const listed: Owner[] = []
    for await (const owner of store.listOwners('memory')) {
      listed.push(owner)
      // Writes while the listing is open (reconcile does this) must not disturb it.
      await store.delete({ provider: 'memory', owner }, 'card_1')
    }
    expect(listed).toEqual(owners)
    expect(await toArray(store.listOwners('memory'), { limit: 10_000 })).toEqual([])
    expect(await toArray(store.listOwners('stripe'), { limit: 10_000 })).toEqual([alice])
  })

  it('does not list an owner twice when it comes back under a number a released owner had', async () => {
    const { store } = fileStore()
    const owners = Array.from(
      { length: 1200 },
      (_, i): Owner => ({ type: 'customer', id: `own_${i}` }),
    )
    await store.upsertMany(owners.map((owner) => sampleCard('card_1', owner)))
    const first = owners[0]!
    const listed: string[] = []
    for await (const owner of store.listOwners('memory')) {
      listed.push(owner.id)
      if (listed.length > 1) continue
      // The owners numbered last leave, then the first owner, listed already, replaces its only
      // card: a rowid without AUTOINCREMENT is the largest left plus one, a number the listing
      // has not reached yet.
      for (const gone of owners.slice(1000)) {
        await store.delete({ provider: 'memory', owner: gone }, 'card_1')
      }
      await store.delete({ provider: 'memory', owner: first }, 'card_1')
      await store.upsert(sampleCard('card_2', first))
    }
    expect(listed.filter((id) => id === first.id)).toEqual([first.id])
    expect(listed).toHaveLength(1000)
  })
})

describe('sqliteStore: processes writing one file at once', () => {
  // Worker threads, each with its own connection, as separate processes would be: better-sqlite3
  // is synchronous, so connections of one thread never overlap.
  let bundle: Awaited<ReturnType<typeof bundleForWorkers>>
  beforeAll(async () => {
    bundle = await bundleForWorkers()
  })
  afterAll(() => bundle?.remove())

  it('makes each write wait for the lock another process holds, so none fails (BEGIN IMMEDIATE)', async () => {
    // A deferred BEGIN reads the card's row first, and its write then finds another connection
    // committed since: SQLITE_BUSY at once, whatever the busy timeout.
    const filename = join(dir, 'shared.db')
    await sqliteStore({ filename }).close()
    const writes = 100
    const cardsOf = (n: number) =>
      Array.from({ length: writes }, (_, i) =>
        sampleCard(`card_${n}_${i % 20}`, alice, { isDefault: i % 3 === 0 }),
      )
    const [reports] = await inWorkers(bundle.url, [
      [
        { task: 'upsert', filename, cards: cardsOf(0) },
        { task: 'upsert', filename, cards: cardsOf(1) },
      ],
    ])
    expect(reports).toEqual([
      { done: writes, errors: {} },
      { done: writes, errors: {} },
    ])
    const store = sqliteStore({ filename })
    opened.push(store)
    const cards = await store.listByOwner(aliceScope)
    expect(cards).toHaveLength(40)
    expect(cards.filter((card) => card.isDefault)).toHaveLength(1)
  })

  it('has processes opening one older file at once wait for the one migrating it (BEGIN IMMEDIATE)', async () => {
    // Each migrate() reads what is applied, then writes: deferred, all but one would fail with
    // SQLITE_BUSY instead of waiting and finding nothing left to do.
    const files = Array.from({ length: 5 }, (_, round) => {
      const filename = join(dir, `older-${round}.db`)
      const db = new Database(filename)
      db.pragma('journal_mode = WAL')
      writeVersionTwo(db)
      db.close()
      return filename
    })
    const rounds = await inWorkers(
      bundle.url,
      files.map((filename) =>
        Array.from({ length: 4 }, () => ({
          task: 'migrate' as const,
          filename,
          busyTimeoutMs: 5000,
        })),
      ),
    )
    for (const [round, reports] of rounds.entries()) {
      expect({ round, errors: reports.map((report) => report.errors) }).toEqual({
        round,
        errors: [{}, {}, {}, {}],
      })
      expect(reports.flatMap((report) => report.done)).toEqual([3])
    }
    for (const filename of files) {
      const check = new Database(filename, { readonly: true })
      try {
        expect(pendingMigrations(check)).toEqual([])
      } finally {
        check.close()
      }
    }
  })
})

describe('sqliteStore: reconcile into a file another connection holds locked', () => {
  it('stops writing after a few busy timeouts, not one more per owner of the group', async () => {
    const filename = join(dir, 'locked.db')
    // A short busy timeout: every write waits this long, the event loop blocked, then fails.
    const db = new Database(filename, { timeout: 25 })
    const locker = new Database(filename)
    try {
      const inner = sqliteStore({ database: db })
      const writes: number[] = []
      const store: CardStore = {
        ...inner,
        upsertMany(cards, options) {
          writes.push(cards.length)
          return inner.upsertMany(cards, options)
        },
      }
      const provider = memoryProvider()
      const owners = Array.from(
        { length: 30 },
        (_, i): Owner => ({ type: 'customer', id: `cus_${i}` }),
      )
      for (const owner of owners) await provider.createCard(owner, { source: 'tok_visa' })
      // Another process writes: it holds the file's write lock for the whole run.
      locker.exec('BEGIN IMMEDIATE')
      const report = await createCardSync({ provider, store }).reconcile(owners, {
        concurrency: 8,
      })
      locker.exec('ROLLBACK')

      expect(report.failed.map((failure) => failure.owner)).toEqual(expect.arrayContaining(owners))
      expect(report.failed).toHaveLength(30)
      for (const failure of report.failed) {
        expect(failure).toMatchObject({
          source: 'store',
          code: 'store_failed',
          message: 'database is locked',
        })
      }
      // Each group: its write, and two of its owners' on their own before the writer stops.
      const groups = writes.filter((cards) => cards > 1).length
      expect(groups).toBeGreaterThan(0)
      expect(writes.length).toBeLessThanOrEqual(3 * groups)
      expect(writes.length).toBeLessThan(owners.length)

      // Once the lock is gone, a reconcile writes every owner.
      const again = await createCardSync({ provider, store }).reconcile(owners)
      expect(again.failed).toEqual([])
      expect(again.counts.added).toBe(30)
    } finally {
      locker.close()
      db.close()
    }
  })
})

describe('sqliteStore: read-only (readonly: true)', () => {
  /** A file as an older cardport left it: migrated, then its records past `version` removed. */
  const olderFile = async (version: number) => {
    const filename = join(dir, `v${version}.db`)
    const store = sqliteStore({ filename })
    await store.upsert(sampleCard('card_1', alice))
    await store.close()
    const db = new Database(filename)
    db.prepare('DELETE FROM cardport_migrations WHERE version > ?').run(version)
    db.close()
    return filename
  }

  it('pendingMigrations() says which migrations a database lacks, writing nothing', async () => {
    const db = new Database(':memory:')
    try {
      expect(pendingMigrations(db)).toEqual([1, 2, 3])
      // Not even the migrations table is made.
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([])
      migrate(db)
      expect(pendingMigrations(db)).toEqual([])
    } finally {
      db.close()
    }
    const older = new Database(await olderFile(1), { readonly: true })
    try {
      expect(pendingMigrations(older)).toEqual([2, 3])
    } finally {
      older.close()
    }
  })

  it('pendingMigrations() refuses tables of a newer version, as migrate() does', () => {
    const db = new Database(':memory:')
    try {
      migrate(db)
      db.prepare("INSERT INTO cardport_migrations VALUES (99, 'from the future', '')").run()
      const thrown = thrownBy(() => pendingMigrations(db))
      expect(isCardportError(thrown, 'conflict')).toBe(true)
      expect(thrown.message).toMatch(/schema version 99.*upgrade @cardport\/store-sqlite/)
    } finally {
      db.close()
    }
  })

  it('reads a read-only (0444) file up to date, in WAL, refuses writes, and leaves its bytes as they were', async () => {
    const { store: writer, filename } = fileStore('ro.db')
    await writer.upsert(sampleCard('card_1', alice, { isDefault: true }))
    await writer.close()
    chmodSync(filename, 0o444)
    const before = readFileSync(filename)
    const store = sqliteStore({ filename, readonly: true })
    opened.push(store)
    expect((await store.getDefault(aliceScope))?.id).toBe('card_1')
    expect(await toArray(store.listOwners('memory'), { limit: 10 })).toEqual([alice])
    // Refused by SQLite itself, even for root, whom a 0444 file does not stop.
    await expect(store.upsert(sampleCard('card_2', alice))).rejects.toMatchObject({
      code: 'SQLITE_READONLY',
    })
    await store.close()
    expect(readFileSync(filename)).toEqual(before)
  })

  it('refuses a file that lacks migrations, naming them in details, and runs none', async () => {
    const filename = await olderFile(1)
    const before = readFileSync(filename)
    const thrown = thrownBy(() => sqliteStore({ filename, readonly: true }))
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    expect(thrown.message).toBe(
      'sqliteStore was opened read-only on a database that has cardport tables that need migrations 2, 3, which a read-only store does not run: migrate it first (migrate(), or a store opened without readonly)',
    )
    expect((thrown as CardportError).details).toEqual({ pendingMigrations: [2, 3] })
    expect(readFileSync(filename)).toEqual(before)
    // A reader of a file in WAL makes SQLite's -wal and -shm beside it; nothing is written there.
    expect(statSync(`${filename}-wal`).size).toBe(0)
  })

  it('refuses a SQLite file without cardport tables, making none', () => {
    const filename = join(dir, 'other.db')
    new Database(filename).exec('CREATE TABLE notes (body TEXT)').close()
    const thrown = thrownBy(() => sqliteStore({ filename, readonly: true }))
    expect(thrown.message).toMatch(/on a database that has no cardport tables, which a read-only/)
    expect((thrown as CardportError).details).toEqual({ pendingMigrations: [1, 2, 3] })
    const db = new Database(filename, { readonly: true })
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toEqual(
      ['notes'],
    )
    db.close()
  })

  it('makes no file: one that does not exist is refused', () => {
    const filename = join(dir, 'missing.db')
    const thrown = thrownBy(() => sqliteStore({ filename, readonly: true }))
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    expect(thrown.message).toBe(
      'sqliteStore could not open its database file (SQLITE_CANTOPEN): check that the path names an existing file (a read-only store makes none) that this user may read',
    )
    expect(existsSync(filename)).toBe(false)
  })

  it('refuses readonly with an in-memory database, naming the option', () => {
    const thrown = thrownBy(() => sqliteStore({ filename: ':memory:', readonly: true }))
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    expect(thrown.message).toMatch(/readonly needs a file/)
  })
})

// --- helpers ---

describe('sqliteStore: a file it cannot open', () => {
  /** What `sqliteStore({ filename })` throws; a store that opens fails the test. */
  const openFailure = (filename: string): CardportError => thrownBy(() => sqliteStore({ filename }))

  it('throws invalid_request without the path', () => {
    const thrown = openFailure(join(tmpdir(), 'no-such-folder-4242424242424242', 'cards.db'))
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    expect(thrown.message).toContain('could not open its database file')
    expect(thrown.message).not.toContain('4242424242424242')
    expect(thrown.cause).toBeUndefined()
  })

  it('says why: a folder that does not exist, or a path that is a folder', () => {
    // better-sqlite3 throws a TypeError for the first, which the message named as its reason.
    const missing = openFailure(join(dir, 'no-such-folder', 'cards.db'))
    expect(missing).toMatchObject({ code: 'invalid_request' })
    expect(missing.message).toMatch(/its folder does not exist/)
    expect(missing.message).not.toContain('TypeError')
    const folder = openFailure(dir)
    expect(folder).toMatchObject({ code: 'invalid_request' })
    expect(folder.message).toMatch(/not a folder/)
  })

  it('says a file that is not a SQLite database is none, with what to do, keeping the driver error as cause', () => {
    const filename = join(dir, 'notes-4242424242424242.txt')
    writeFileSync(filename, NOT_A_DATABASE)
    const thrown = openFailure(filename)
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    expect(thrown.message).toBe(
      'sqliteStore could not open its database file (SQLITE_NOTADB: it is not a SQLite database): check that the path names a cardport store, or name a new file to make one',
    )
    // better-sqlite3's own error, its code as SQLite gave it (its message quotes no path).
    expect(thrown.cause).toMatchObject({ code: 'SQLITE_NOTADB', message: 'file is not a database' })
    // Which it was, for a caller that words its own advice (the CLI does).
    expect(thrown.details).toEqual({ unusableFile: 'not_a_database', sqliteCode: 'SQLITE_NOTADB' })
    // Left as it was, and closed: no WAL beside it.
    expect(readFileSync(filename, 'utf8')).toBe(NOT_A_DATABASE)
    expect(existsSync(`${filename}-wal`)).toBe(false)
  })

  it('read-only, says what to do without naming a new file, which it would not make', () => {
    const notes = join(dir, 'notes.txt')
    writeFileSync(notes, NOT_A_DATABASE)
    const damagedFile = join(dir, 'cards.db')
    corruptDatabaseFile(damagedFile)
    expect(thrownBy(() => sqliteStore({ filename: notes, readonly: true })).message).toBe(
      'sqliteStore could not open its database file (SQLITE_NOTADB: it is not a SQLite database): check that the path names a cardport store (a read-only store makes no file: open a new one without readonly to make one)',
    )
    expect(thrownBy(() => sqliteStore({ filename: damagedFile, readonly: true })).message).toBe(
      'sqliteStore could not open its database file (SQLITE_CORRUPT: it is damaged): restore it from a backup (a read-only store makes no file: open a new one without readonly to make one)',
    )
  })

  // SQLITE_CORRUPT_SEQUENCE: the file's sqlite_sequence is damaged, which migration 3, on open, is
  // the first to need. An extended code is a damaged file as the plain one is.
  it.each([
    { code: 'SQLITE_CORRUPT', damage: corruptDatabaseFile },
    { code: 'SQLITE_CORRUPT_SEQUENCE', damage: damagedSequenceFile },
  ])(
    'says a damaged file ($code) is damaged, with what to do, keeping the driver error as cause',
    ({ code, damage }) => {
      const filename = join(dir, 'cards-4242424242424242.db')
      const damaged = damage(filename)
      const thrown = openFailure(filename)
      expect(isCardportError(thrown, 'invalid_request')).toBe(true)
      expect(thrown.message).toBe(
        `sqliteStore could not open its database file (${code}: it is damaged): restore it from a backup, or name a new file to make one`,
      )
      expect(thrown.cause).toMatchObject({ code })
      expect(thrown.details).toEqual({ unusableFile: 'damaged', sqliteCode: code })
      // Left as it was, and closed: no WAL beside it.
      expect(readFileSync(filename)).toEqual(damaged)
      expect(existsSync(`${filename}-wal`)).toBe(false)
      // A Database of the caller's over the same file: the same reason.
      const db = new Database(filename)
      try {
        expect(thrownBy(() => sqliteStore({ database: db })).details).toEqual({
          unusableFile: 'damaged',
          sqliteCode: code,
        })
      } finally {
        db.close()
      }
    },
  )
})

describe('sqliteStore: a Database it is given that it cannot use', () => {
  it.each([
    {
      code: 'SQLITE_NOTADB',
      reason: 'not_a_database',
      write: (filename: string) => writeFileSync(filename, NOT_A_DATABASE),
      message:
        'sqliteStore could not use the Database it was given (SQLITE_NOTADB: its file is not a SQLite database): check that it opens a cardport store, or open a new file',
    },
    {
      code: 'SQLITE_CORRUPT',
      reason: 'damaged',
      write: corruptDatabaseFile,
      message:
        'sqliteStore could not use the Database it was given (SQLITE_CORRUPT: its file is damaged): restore it from a backup, or open a new file',
    },
  ])(
    'refuses a Database whose file SQLite cannot read ($code), saying what to do, and leaves it open',
    ({ code, reason, write, message }) => {
      const filename = join(dir, 'cards-4242424242424242.db')
      write(filename)
      const db = new Database(filename)
      try {
        const thrown = thrownBy(() => sqliteStore({ database: db }))
        expect(isCardportError(thrown, 'invalid_request')).toBe(true)
        expect(thrown.message).toBe(message)
        // better-sqlite3's own error, its code as SQLite gave it.
        expect(thrown.cause).toMatchObject({ code })
        expect(thrown.details).toEqual({ unusableFile: reason, sqliteCode: code })
        expect(db.open).toBe(true)
      } finally {
        db.close()
      }
    },
  )

  it('refuses a Database that is closed already with invalid_request, not a TypeError', () => {
    const db = new Database(':memory:')
    db.close()
    const thrown = thrownBy(() => sqliteStore({ database: db }))
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    expect(thrown.message).toMatch(/^Invalid sqliteStore options/)
  })
})

/** What `open` throws; one that returns fails the test. */
function thrownBy(open: () => unknown): CardportError {
  try {
    open()
  } catch (error) {
    return error as CardportError
  }
  throw new Error('opened')
}

/** The contents of a file that is not a SQLite database, long enough for SQLite to read. */
const NOT_A_DATABASE = 'not a database, only some text that is long enough to be read\n'.repeat(20)
