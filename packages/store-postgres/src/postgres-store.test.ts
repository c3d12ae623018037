import { inspect } from 'node:util'
import {
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
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { expect, it, onTestFinished, vi } from 'vitest'
import { inTransaction, type PostgresClient } from './postgres-client.js'
import { postgresStore } from './postgres-store.js'
import { tableNames } from './postgres-tables.js'
import {
  describePostgres,
  killWaitingBackend,
  PG_CONFIG,
  poolDefaultingTo,
} from './postgres-test-databases.js'

const alice: Owner = { type: 'customer', id: 'cus_alice' }
const bob: Owner = { type: 'customer', id: 'cus_bob' }
const shop: Owner = { type: 'account', id: 'acct_shop' }
const aliceScope: CardScope = { provider: 'memory', owner: alice }
const bobScope: CardScope = { provider: 'memory', owner: bob }
const shopScope: CardScope = { provider: 'memory', owner: shop }

describePostgres('postgresStore', (db) => {
  const open = (): Promise<CardStore> => postgresStore({ client: db.client, schema: db.schema })
  const cards = () => `"${db.schema}".cardport_cards`

  it('reads back exactly the card written (json keeps the key order of metadata)', async () => {
    const store = await open()
    const written = sampleCard('card_1', alice, {
      metadata: { zeta: '1', alpha: '2', mid: '3' },
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

  it('reads back, from a batch write, text that JSON and array literals escape', async () => {
    // The batch goes as one JSON array a column: quotes, backslashes, control characters, the
    // text NULL, an empty string, characters outside the BMP and big numbers come back as given.
    const store = await open()
    const awkward = [
      'say "hi"',
      'back\\slash \\"',
      'line\nbreak\ttab\r\u0001\u001f',
      'NULL',
      '',
      '{"a":[1,2]}',
      '{a,b}',
      'é ß 東京 🂡 \u2028\u2029',
      ' padded ',
    ]
    const cards = awkward.map((text, i) =>
      sampleCard(`card_${i}`, i % 2 === 0 ? alice : shop, {
        holderName: text,
        fingerprint: text === '' ? null : text,
        metadata: { [`k${text}`]: text, plain: 'x' },
        address: { ...EMPTY_ADDRESS, line1: text, city: text === 'NULL' ? null : text },
        isDefault: i < 2,
        expYear: 2099,
      }),
    )
    await store.upsertMany(cards, { observedAt: 9_007_199_254_740_000 })
    const read = [...(await store.listByOwners!([aliceScope, shopScope])).flat()].sort(
      (a, b) => Number(a.id.slice(5)) - Number(b.id.slice(5)),
    )
    expect(read.map(({ version, updatedAt, observedAt, ...card }) => card)).toEqual(cards)
    expect(read.map((card) => card.observedAt)).toEqual(cards.map(() => 9_007_199_254_740_000))
  })

  it("never returns one owner's card through another owner's scope", async () => {
    const store = await open()
    await store.upsert(sampleCard('card_a', alice, { isDefault: true }))
    await store.upsert(sampleCard('card_a', bob, { last4: '2222' }))
    expect((await store.get(aliceScope, 'card_a'))?.last4).toBe('4242')
    expect((await store.get(bobScope, 'card_a'))?.last4).toBe('2222')
    expect(await store.get({ provider: 'stripe', owner: alice }, 'card_a')).toBeNull()
    expect(await store.get(shopScope, 'card_a')).toBeNull()
    expect(await store.getDefault(bobScope)).toBeNull()
    await store.setDefault(bobScope, null)
    expect(await store.delete(shopScope, 'card_a')).toBe(false)
    expect(await store.delete(bobScope, 'card_a')).toBe(true)
    expect(await store.get(aliceScope, 'card_a')).toMatchObject({ isDefault: true, version: 1 })
  })

  it('holds one default per owner and currency even against raw SQL (partial unique index)', async () => {
    const store = await open()
    await store.upsert(sampleCard('card_1', alice, { isDefault: true }))
    await store.upsert(sampleCard('card_2', alice))
    await expect(
      db.client.query(`UPDATE ${cards()} SET is_default = true WHERE card_id = 'card_2'`),
    ).rejects.toThrow(/unique/i)
    await store.upsert(sampleCard('usd_1', shop, { currency: 'usd', isDefault: true }))
    await store.upsert(sampleCard('eur_1', shop, { currency: 'eur' }))
    await db.client.query(`UPDATE ${cards()} SET is_default = true WHERE card_id = 'eur_1'`)
    expect((await store.listByOwner(shopScope)).filter((c) => c.isDefault)).toHaveLength(2)
  })

  it('switches a default atomically: a failure half-way leaves the old default in place', async () => {
    const store = await open()
    await store.upsert(sampleCard('card_1', alice, { isDefault: true }))
    await store.upsert(sampleCard('card_2', alice))
    // Fails the second half of the switch, after the old default was cleared.
    await db.client.query(`CREATE FUNCTION "${db.schema}".refuse() RETURNS trigger
      LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by test trigger'; END $$`)
    await db.client.query(`CREATE TRIGGER refuse_card_2 BEFORE UPDATE OF is_default ON ${cards()}
      FOR EACH ROW WHEN (NEW.is_default AND NEW.card_id = 'card_2')
      EXECUTE FUNCTION "${db.schema}".refuse()`)
    await expect(store.setDefault(aliceScope, 'card_2')).rejects.toThrow(/refused/)
    expect((await store.getDefault(aliceScope))?.id).toBe('card_1')
    expect((await store.get(aliceScope, 'card_1'))?.version).toBe(1)
    // The connection went back to the pool in a usable state.
    await store.setDefault(aliceScope, 'card_1')
    expect((await store.get(aliceScope, 'card_1'))?.version).toBe(2)
  })

  it('writes upsertMany in one transaction: a bad card rolls the whole batch back', async () => {
    const store = await open()
    await store.upsert(sampleCard('card_0', alice, { isDefault: true }))
    const batch = [
      sampleCard('card_1', alice, { isDefault: true }),
      sampleCard('card_2', bob),
      sampleCard('card_3', alice, { last4: '42' }),
    ]
    await expect(store.upsertMany(batch)).rejects.toThrow(/check constraint/i)
    expect((await store.listByOwner(aliceScope)).map((c) => c.id)).toEqual(['card_0'])
    expect((await store.getDefault(aliceScope))?.id).toBe('card_0')
    expect(await store.listByOwner(bobScope)).toEqual([])
    expect(await toArray(store.listOwners('memory'), { limit: 10_000 })).toEqual([alice])
  })

  it("keeps a card number out of the error of a row the database refuses (its 'Failing row')", async () => {
    // The store does not parse the cards it is given: a caller's card that breaks a check
    // constraint got PostgreSQL's error, whose detail quotes every column of the row.
    const store = await open()
    const number = '4242 4242 4242 4242'
    const bad = sampleCard('card_1', alice, { last4: '42', holderName: number })
    const inMonth = sampleCard('card_2', alice, { expMonth: 13, metadata: { note: number } })
    const failures = [
      await store.upsert(bad).catch((error: unknown) => error),
      await store.upsertMany([bad]).catch((error: unknown) => error),
      await store.upsertMany([inMonth, inMonth]).catch((error: unknown) => error),
    ]
    for (const failure of failures) {
      expect(failure).toMatchObject({ message: expect.stringMatching(/check constraint/) })
      const printed = inspect(failure, { depth: 10 })
      expect(printed).not.toMatch(/4242\D?4242\D?4242\D?4242/)
    }
    expect(await store.listByOwner(aliceScope)).toEqual([])
  })

  it("keeps the holder's name, address and metadata out of a refused write's error", async () => {
    // PostgreSQL quotes a refused row's columns in `detail` ("Failing row contains (…)"), a batch's
    // JSON in `where` ("JSON data, line 1: …"), a value of the wrong type in the message, and
    // PGlite's error keeps the query's parameters: a customer's name and address went to logs.
    const store = await open()
    const personal = {
      holderName: 'Ottoline Brackenbury',
      address: {
        ...EMPTY_ADDRESS,
        line1: '17 Quillfeather Row',
        line2: 'Lanternwick Attic',
        city: 'Pemberthorpe',
      },
      metadata: { note: 'Marigoldtrust' },
    }
    const words = [
      'Ottoline',
      'Brackenbury',
      'Quillfeather',
      'Lanternwick',
      'Pemberthorpe',
      'Marigoldtrust',
    ]
    const refused = sampleCard('card_1', alice, { ...personal, last4: '42' })
    const inMonth = sampleCard('card_2', alice, { ...personal, expMonth: 13 })
    // A NUL cannot be stored in text: the batch's JSON is quoted in the error's context.
    const withNul = sampleCard('card_3', alice, {
      ...personal,
      holderName: 'Ottoline\u0000Brackenbury',
    })
    const mistyped = sampleCard('card_4', alice, { ...personal, expYear: 'Ottoline' as never })
    const failures = [
      await store.upsert(refused).catch((error: unknown) => error),
      await store.upsertMany([refused]).catch((error: unknown) => error),
      await store.upsertMany([inMonth, inMonth]).catch((error: unknown) => error),
      await store.upsertMany([withNul]).catch((error: unknown) => error),
      await store.upsert(mistyped).catch((error: unknown) => error),
    ]
    for (const [i, failure] of failures.entries()) {
      expect(failure, `failure ${i}`).toBeInstanceOf(Error)
      expect(failure, `failure ${i}`).toMatchObject({ code: expect.stringMatching(/^2[23]/) })
      const texts = [inspect(failure, { depth: 10 }), ...errorTexts(failure)].join('\n')
      for (const word of words) expect(texts, `failure ${i}`).not.toContain(word)
    }
    // What a user needs stays: the SQLSTATE, the constraint, the table, and that values were cut.
    expect(failures[0]).toMatchObject({
      code: '23514',
      constraint: 'cardport_cards_last4_check',
      table: 'cardport_cards',
      detail: expect.stringMatching(/^Failing row contains \(.*left out.*\)/),
      message: expect.stringContaining('check constraint "cardport_cards_last4_check"'),
    })
    expect(failures[3]).toMatchObject({ code: '22P05', where: expect.stringMatching(/^JSON data/) })
    expect(failures[4]).toMatchObject({
      message: expect.stringMatching(/^invalid input syntax for type smallint/),
    })
    expect(await store.listByOwner(aliceScope)).toEqual([])
  })

  it.runIf(db.name === 'pg Pool')(
    "keeps a parameter's value out of a write's error where the server quotes it",
    async () => {
      // log_parameter_max_length_on_error (any role may set it) makes the server quote the
      // value of the parameter it could not read in the error's context.
      const pool = new pg.Pool({
        ...PG_CONFIG,
        max: 2,
        options: '-c log_parameter_max_length_on_error=-1',
      })
      onTestFinished(() => pool.end())
      const store = await postgresStore({ client: pool, schema: db.schema })
      const mistyped = sampleCard('card_1', alice, { expYear: 'Ottoline Brackenbury' as never })
      const failure = await store.upsert(mistyped).catch((error: unknown) => error)
      expect(failure).toMatchObject({
        code: '22P02',
        where: expect.stringMatching(/parameter \$8 = /),
      })
      expect(errorTexts(failure).join('\n')).not.toContain('Ottoline')
      // A batch's JSON it cannot read: the server lists every parameter of the statement.
      const withNul = sampleCard('card_2', alice, { holderName: 'Ottoline\u0000Brackenbury' })
      const batch = await store.upsertMany([withNul]).catch((error: unknown) => error)
      expect(batch).toMatchObject({
        code: '22P05',
        where: expect.stringMatching(/with parameters: /),
      })
      expect(errorTexts(batch).join('\n')).not.toContain('Ottoline')
    },
  )

  it('keeps a card number given as an id out of the error of a read the database refuses', async () => {
    // Reads (and retirements.remove) run outside a transaction, whose cleaning they lacked: an id
    // with a NUL (text cannot hold one) or a lone surrogate (invalid JSON) made the server quote
    // a batch's JSON in `where`, and PGlite's error kept the query's parameters: a card number
    // given as an owner or card id went along.
    const store = await open()
    const number = '4242424242424242'
    const withNul = `${number}\u0000`
    const scope = (id: string): CardScope => ({
      provider: 'memory',
      owner: { type: 'customer', id },
    })
    const reads: Array<[string, () => Promise<unknown>]> = [
      ['get', () => store.get(aliceScope, withNul)],
      ['listByOwner', () => store.listByOwner(scope(withNul))],
      ['listByOwners', () => store.listByOwners!([scope(withNul)])],
      ['listByOwners (surrogate)', () => store.listByOwners!([scope(`${number}\ud800`)])],
      ['getDefault', () => store.getDefault(scope(withNul))],
      ['listOwners', () => toArray(store.listOwners(withNul), { limit: 10 })],
      ['retirements.load', () => store.retirements!.load(aliceScope, withNul)],
      ['retirements.remove', () => store.retirements!.remove(aliceScope, withNul)],
    ]
    for (const [name, read] of reads) {
      const failure = await read().catch((error: unknown) => error)
      expect(failure, name).toMatchObject({ code: expect.stringMatching(/^22/) })
      const texts = [inspect(failure, { depth: 10 }), ...errorTexts(failure)].join('\n')
      expect(texts, name).not.toContain(number)
    }
  })

  it("keeps a unique violation's key, which holds only ids, in a write's error", async () => {
    await open() // creates the schema
    const table = `"${db.schema}".h8_keys`
    await db.client.query(`CREATE TABLE ${table} (id text PRIMARY KEY, holder text NOT NULL)`)
    await db.client.query(`INSERT INTO ${table} VALUES ('card_1', 'Ottoline')`)
    const failure = await inTransaction(db.client, (tx) =>
      tx.query(`INSERT INTO ${table} VALUES ($1, $2)`, ['card_1', 'Brackenbury']),
    ).catch((error: unknown) => error)
    expect(failure).toMatchObject({
      code: '23505',
      constraint: 'h8_keys_pkey',
      detail: 'Key (id)=(card_1) already exists.',
    })
    expect(errorTexts(failure).join('\n')).not.toContain('Brackenbury')
  })

  it("masks a card number given as an owner id in a unique violation's key, which a write's error keeps", async () => {
    // Another tool's unique index on the owner: the server quotes the owner id in the error's
    // detail ("Key (owner_id)=(…) already exists."), kept as holding only ids. An owner id that
    // is a card number must be masked there, as everywhere else.
    await open() // creates the schema
    await db.client.query(`CREATE UNIQUE INDEX h8_one_card_per_owner ON ${cards()} (owner_id)`)
    const number = '4242424242424242'
    const owner: Owner = { type: 'customer', id: number }
    const store = await open()
    await store.upsert(sampleCard('card_1', owner))
    const failure = await store.upsert(sampleCard('card_2', owner)).catch((error: unknown) => error)
    expect(failure).toMatchObject({
      code: '23505',
      constraint: 'h8_one_card_per_owner',
      detail: expect.stringMatching(/^Key \(owner_id\)=\(.+\) already exists\.$/),
    })
    const texts = [inspect(failure, { depth: 10 }), ...errorTexts(failure)].join('\n')
    expect(texts).not.toContain(number)
  })

  it('refuses an out-of-order update in the database, and remembers deletions', async () => {
    const store = await open()
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
    expect(await store.upsert(sampleCard('card_1', alice), { observedAt: 3000 })).toMatchObject({
      applied: true,
      card: { version: 1, observedAt: 3000 },
    })
    const { rows } = await db.client.query(
      `SELECT count(*)::int AS n FROM "${db.schema}".cardport_card_tombstones`,
    )
    expect(rows[0].n).toBe(0)
  })

  it('keeps 50 concurrent default switches on one owner to exactly one default', async () => {
    const store = await open()
    const ids = Array.from({ length: 50 }, (_, i) => `card_${i}`)
    await store.upsertMany(ids.map((id) => sampleCard(id, alice, { isDefault: id === 'card_0' })))
    const results = await Promise.allSettled(ids.map((id) => store.setDefault(aliceScope, id)))
    expect(results.filter((result) => result.status === 'rejected')).toEqual([])
    const defaults = (await store.listByOwner(aliceScope)).filter((c) => c.isDefault)
    expect(defaults).toHaveLength(1)
    expect((await store.getDefault(aliceScope))?.id).toBe(defaults[0]!.id)
  })

  it('keeps one default when two clients switch it 50 times at once, by setDefault and upsert', async () => {
    const [first, second] = [
      await open(),
      await postgresStore({
        client: await db.openClient(),
        schema: db.schema,
      }),
    ]
    expect(await switchDefaultsAtOnce(first, second)).toEqual({ failures: [], defaults: 1 })
  })

  // A database, role or connection string may make every transaction repeatable read or
  // serializable (default_transaction_isolation). The owner's lock serializes the writes only if
  // each statement after it sees what the writer before committed: under repeatable read, a write
  // that waited for the lock read the rows as they were before it waited.
  for (const level of ['repeatable read', 'serializable'] as const) {
    it.runIf(db.name === 'pg Pool')(
      `keeps 50 concurrent default switches from two pools whose default isolation is ${level}`,
      async () => {
        // Opened one after the other: the migrations' own race has a test of its own.
        const first = await postgresStore({ client: poolDefaultingTo(level), schema: db.schema })
        const second = await postgresStore({ client: poolDefaultingTo(level), schema: db.schema })
        expect(await switchDefaultsAtOnce(first, second)).toEqual({ failures: [], defaults: 1 })
      },
    )
  }

  it("does not lose an owner when its last card's deletion races a new card", async () => {
    const store = await open()
    const other = await postgresStore({ client: await db.openClient(), schema: db.schema })
    for (let round = 0; round < 10; round++) {
      const owner: Owner = { type: 'customer', id: `cus_${round}` }
      await store.upsert(sampleCard('card_old', owner))
      await Promise.all([
        store.delete({ provider: 'memory', owner }, 'card_old'),
        other.upsert(sampleCard('card_new', owner)),
      ])
    }
    const owners = await toArray(store.listOwners('memory'), { limit: 10_000 })
    expect(owners.map((owner) => owner.id).sort()).toEqual(
      Array.from({ length: 10 }, (_, round) => `cus_${round}`).sort(),
    )
    const { rows } = await db.client.query(
      `SELECT count(*)::int AS n FROM "${db.schema}".cardport_card_owners`,
    )
    expect(rows[0].n).toBe(10)
  })

  it('writes a batch of 20,000 owners in one transaction (one lock each ran out of shared memory)', async () => {
    // PostgreSQL keeps advisory locks in one table shared by every session, 64 a connection by
    // default (max_locks_per_transaction): a lock for each owner failed such a batch whole.
    const store = await open()
    await store.upsertMany(manyOwners(20_000).map((owner) => sampleCard('card_1', owner)))
    const { rows } = await db.client.query(
      `SELECT (SELECT count(*)::int FROM ${cards()}) AS cards,
        (SELECT count(*)::int FROM "${db.schema}".cardport_card_owners) AS owners`,
    )
    expect(rows).toEqual([{ cards: 20_000, owners: 20_000 }])
  }, 60_000)

  // PGlite has one connection: nothing else can look at its locks while a batch holds them.
  it.runIf(db.name === 'pg Pool')(
    "holds the store's write lock shared and one lock an owner, or the store's lock alone for a batch of many owners",
    async () => {
      const store = await open()
      const owner = (i: number): Owner => ({ type: 'customer', id: `cus_${i}` })
      await store.upsert(sampleCard('card_1', owner(0)))
      // Another session holds the first owner's card: the batch waits there, holding its locks.
      const other = (await db.openClient()) as pg.Pool
      const waiting = `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'
        AND query LIKE $1 AND pid <> pg_backend_pid()`
      const held = `SELECT l.objsubid, l.mode, count(*)::int AS n FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.granted AND l.pid = $1
        GROUP BY l.objsubid, l.mode ORDER BY l.objsubid, l.mode`
      const locksOf = async (owners: number) => {
        const holder = await other.connect()
        try {
          await holder.query('BEGIN')
          await holder.query(`SELECT 1 FROM ${cards()} WHERE owner_id = 'cus_0' FOR UPDATE`)
          const batch = Array.from({ length: owners }, (_, i) => sampleCard('card_1', owner(i)))
          const writing = store.upsertMany(batch).then(
            () => 'written',
            (error: unknown) => error,
          )
          const pid = vi.waitFor(
            async () => {
              const { rows } = await other.query(waiting, [
                `%INSERT INTO "${db.schema}"."cardport_cards"%`,
              ])
              expect(rows).toHaveLength(1)
              return rows[0].pid as number
            },
            { timeout: 15_000, interval: 20 },
          )
          // A batch that fails before it waits (out of shared memory) ends the test at once.
          const first = await Promise.race([pid, writing])
          expect(first).toBeTypeOf('number')
          const { rows } = await other.query(held, [first])
          await holder.query('ROLLBACK')
          expect(await writing).toBe('written')
          return rows
        } finally {
          holder.release()
        }
      }
      expect(await locksOf(3)).toEqual([
        { objsubid: 1, mode: 'ShareLock', n: 1 },
        { objsubid: 2, mode: 'ExclusiveLock', n: 3 },
      ])
      expect(await locksOf(20_000)).toEqual([{ objsubid: 1, mode: 'ExclusiveLock', n: 1 }])
      const { rows } = await db.client.query(`SELECT count(*)::int AS n FROM ${cards()}`)
      expect(rows).toEqual([{ n: 20_000 }])
    },
    60_000,
  )

  it.runIf(db.name === 'pg Pool')(
    "keeps the store's write lock to its schema and prefix: other stores' writes do not wait",
    async () => {
      const store = await open()
      const elsewhere = await postgresStore({ client: db.client, schema: db.freshSchema() })
      const prefixed = await postgresStore({
        client: db.client,
        schema: db.schema,
        tablePrefix: 'other_',
      })
      // Another session holds the store's write lock, as a batch of many owners does.
      const key = tableNames({ schema: db.schema, tablePrefix: 'cardport_' }).writeLockKey
      const other = (await db.openClient()) as pg.Pool
      const holder = await other.connect()
      try {
        await holder.query('BEGIN')
        await holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [key])
        await elsewhere.upsert(sampleCard('card_1', alice))
        await prefixed.upsertMany([sampleCard('card_1', alice), sampleCard('card_1', bob)])
        let settled = false
        const writing = store.upsert(sampleCard('card_1', alice)).finally(() => {
          settled = true
        })
        await vi.waitFor(
          async () => {
            const { rows } = await other.query(
              `SELECT 1 FROM pg_stat_activity WHERE wait_event = 'advisory' AND query LIKE $1`,
              [`%pg_advisory_xact_lock_shared('${key}'::bigint)%`],
            )
            expect(rows).toHaveLength(1)
          },
          { timeout: 15_000, interval: 20 },
        )
        expect(settled).toBe(false)
        await holder.query('ROLLBACK')
        await expect(writing).resolves.toMatchObject({ applied: true })
      } finally {
        holder.release()
      }
    },
  )

  it('serializes a batch of many owners with other writes of its owners, from two clients', async () => {
    // A batch of more owners than it locks one by one takes the store's lock exclusive: the
    // other writes, which take it shared before their owners', wait for it, and it for them.
    const first = await open()
    const second = await postgresStore({ client: await db.openClient(), schema: db.schema })
    const owners = manyOwners(300)
    const scopes = owners.map((owner): CardScope => ({ provider: 'memory', owner }))
    await first.upsertMany(owners.map((owner) => sampleCard('card_0', owner, { isDefault: true })))
    await first.upsertMany(owners.map((owner) => sampleCard('card_s', owner)))
    for (let round = 1; round <= 3; round++) {
      const results = await Promise.allSettled([
        first.upsertMany(
          owners.map((owner) => sampleCard(`card_${round}`, owner, { isDefault: true })),
        ),
        // Small batches, in the other order of owners, and single writes on both clients.
        second.upsertMany(
          owners
            .slice(0, 20)
            .reverse()
            .map((owner) => sampleCard(`card_b${round}`, owner, { isDefault: true })),
        ),
        ...scopes
          .slice(0, 40)
          .map((scope, i) =>
            i % 2 === 0
              ? second.setDefault(scope, 'card_s')
              : first.upsert(sampleCard(`card_u${round}`, scope.owner, { isDefault: true })),
          ),
      ])
      expect(results.filter((result) => result.status === 'rejected')).toEqual([])
    }
    const { rows } = await db.client.query(
      `SELECT count(*)::int AS n FROM ${cards()} WHERE is_default GROUP BY owner_id HAVING count(*) <> 1`,
    )
    expect(rows).toEqual([])
    const defaults = await first.listByOwners!(scopes)
    expect(defaults.map((owned) => owned.filter((card) => card.isDefault).length)).toEqual(
      owners.map(() => 1),
    )
  }, 60_000)

  it('lists owners in pages, each once, in the order they first got a card', async () => {
    const store = await open()
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
    let deleted = 0
    for await (const owner of store.listOwners('memory')) {
      listed.push(owner)
      // A few writes while the listing is open (reconcile does this) must not disturb it.
      if (deleted++ % 100 === 0) await store.delete({ provider: 'memory', owner }, 'card_1')
    }
    expect(listed).toEqual(owners)
    expect(await toArray(store.listOwners('memory'), { limit: 10_000 })).toHaveLength(1203 - 13)
    expect(await toArray(store.listOwners('stripe'), { limit: 10_000 })).toEqual([alice])
  }, 60_000)

  it('never writes the card number or CVC given to the provider into a table', async () => {
    const store = await open()
    const provider = memoryProvider()
    const sync = createCardSync({ provider, store })
    const owner: Owner = { type: 'customer', id: 'cus_raw' }
    const created = await provider.createCard(owner, {
      source: { number: '4000056655665556', expMonth: 12, expYear: 2040, cvc: '987' },
    })
    await sync.sync(owner, created.id)
    const { rows } = await db.client.query(`SELECT row_to_json(c)::text AS row FROM ${cards()} c`)
    expect(rows).toHaveLength(1)
    expect(rows[0].row).toContain('cus_raw')
    expect(rows[0].row).toContain('5556')
    expect(rows[0].row).not.toContain('4000056655665556')
    expect(rows[0].row).not.toMatch(/"987"|[:,]987[,}]/)
  })

  it('stores, through CardSync, a payload with a NUL or an unpaired surrogate, and keeps owners apart', async () => {
    const store = await open()
    const provider = memoryProvider()
    const sync = createCardSync({ provider, store })
    const payload = sampleCard('card_odd', alice, {
      holderName: 'Jenny\u0000Rosen',
      address: { ...EMPTY_ADDRESS, line1: '1 Main St\uD800' },
    })
    // PostgreSQL refuses a NUL in text (a DatabaseError, not a CardportError, before the core
    // replaced it), and would store the surrogate as U+FFFD.
    const stored = await sync.syncFromProviderData(alice, payload)
    expect(stored).toMatchObject({ holderName: 'Jenny\uFFFDRosen' })
    expect((await store.get(aliceScope, 'card_odd'))?.address.line1).toBe('1 Main St\uFFFD')
    // Two owner ids that differ in an unpaired surrogate would be one owner in PostgreSQL.
    await sync
      .syncFromProviderData({ type: 'customer', id: 'cus_\uD800' }, sampleCard('card_a', alice))
      .then(
        () => expect.unreachable('an owner id with an unpaired surrogate was stored'),
        (error) => expect(error).toMatchObject({ code: 'invalid_request' }),
      )
    expect(
      await sync.getForOwner({ type: 'customer', id: 'cus_\uDBFF' }).catch((error) => error.code),
    ).toBe('invalid_request')
    const { rows } = await db.client.query(`SELECT count(*)::int AS n FROM ${cards()}`)
    expect(rows).toEqual([{ n: 1 }])
  })

  it('runs two batch writes at once over a pg Pool, one over PGlite, or as many as asked', async () => {
    expect((await open()).concurrentWrites).toBe(db.name === 'PGlite' ? 1 : 2)
    const store = await postgresStore({ client: db.client, schema: db.schema, concurrentWrites: 4 })
    expect(store.concurrentWrites).toBe(4)
  })

  // PGlite runs in the process: it has no connection to lose.
  it.runIf(db.name === 'pg Pool')(
    'rolls a batch back whole when its connection is lost half-way, without an uncaught error',
    async () => {
      // pg emits a lost connection as an 'error' event of the client checked out: unheard, it
      // is an uncaught exception, which ends an application's process.
      const uncaught: unknown[] = []
      const onUncaught = (error: unknown) => uncaught.push(error)
      process.on('uncaughtException', onUncaught)
      onTestFinished(() => {
        process.off('uncaughtException', onUncaught)
      })
      const store = await open()
      await store.upsert(sampleCard('card_locked', alice))
      // Another session holds the row of the batch's last card: the batch waits there, with
      // its first cards written, until its connection is killed (a server restart, a failover).
      const other = (await db.openClient()) as pg.Pool
      const holder = await other.connect()
      try {
        await holder.query('BEGIN')
        await holder.query(`SELECT 1 FROM ${cards()} WHERE card_id = 'card_locked' FOR UPDATE`)
        // The same card twice: the card-by-card path, one statement per card.
        const batch = ['card_1', 'card_2', 'card_1', 'card_locked'].map((id) =>
          sampleCard(id, alice, { holderName: 'Batch' }),
        )
        const writing = store.upsertMany(batch).then(
          () => undefined,
          (error: unknown) => error,
        )
        // This test's schema only: other test files may run on the same server meanwhile.
        await killWaitingBackend(other, db.client as pg.Pool, `INSERT INTO "${db.schema}".`)
        expect(await writing).toMatchObject({ code: '57P01' })
      } finally {
        await holder.query('ROLLBACK')
        holder.release()
      }
      expect(uncaught).toEqual([])
      expect((await store.listByOwner(aliceScope)).map((card) => card.id)).toEqual(['card_locked'])
      expect((await store.get(aliceScope, 'card_locked'))?.holderName).toBeNull()
    },
  )

  it.runIf(db.name === 'pg Pool')(
    'writes and reads on another connection when the pool hands out one whose backend was terminated while idle',
    async () => {
      // The pool's own connections only: named after this test's schema.
      const pool = new pg.Pool({ ...PG_CONFIG, max: 3, application_name: db.schema })
      // pg reports a connection lost while idle in the pool as the pool's 'error' event, which
      // an application must listen to (pg's rule: unheard, it is an uncaught exception).
      pool.on('error', () => {})
      onTestFinished(() => pool.end())
      const store = await postgresStore({ client: pool, schema: db.schema })
      await store.upsert(sampleCard('card_1', alice))
      const terminateIdle = async () => {
        // Three idle connections in the pool, all of them terminated (a restart, a failover).
        const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
        for (const connection of held) connection.release()
        const { rows } = await db.client.query(
          `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
            WHERE application_name = $1`,
          [db.schema],
        )
        expect(rows).toEqual([{ n: 3 }])
      }
      // Before, the next write failed at BEGIN with 57P01 (terminating connection due to
      // administrator command), before any of it was sent, and the next read likewise.
      await terminateIdle()
      await store.upsert(sampleCard('card_2', alice, { holderName: 'After' }))
      const { rows } = await db.client.query(
        `SELECT card_id, holder_name FROM ${cards()} ORDER BY card_id`,
      )
      expect(rows).toEqual([
        { card_id: 'card_1', holder_name: null },
        { card_id: 'card_2', holder_name: 'After' },
      ])
      await terminateIdle()
      expect((await store.get(aliceScope, 'card_2'))?.holderName).toBe('After')
    },
  )

  it.runIf(db.name === 'pg Pool')(
    'writes and reads on another connection when the connection is lost without a SQLSTATE',
    async () => {
      // pg throws "Connection terminated unexpectedly", with no code, when the socket closes
      // with no FATAL message first (a proxy dropping it, a crashed backend): BEGIN and reads
      // that fail so were not run, and go again on another connection.
      const real = new pg.Pool({ ...PG_CONFIG, max: 2 })
      onTestFinished(() => real.end())
      const lost = () => new Error('Connection terminated unexpectedly')
      let lostConnections = 0
      let lostReads = 0
      let connects = 0
      let queries = 0
      // What each lost connection's BEGIN threw, and what it was released with: that error, so
      // that a pool discards it (pg's Pool does when given one).
      const thrown: Error[] = []
      const released: unknown[] = []
      const pool: PostgresClient = {
        async query(text, params) {
          queries += 1
          if (lostReads > 0) {
            lostReads -= 1
            throw lost()
          }
          return real.query(text, params)
        },
        async connect() {
          connects += 1
          const connection = await real.connect()
          if (lostConnections === 0) return connection
          lostConnections -= 1
          return {
            query: async () => {
              const error = lost()
              thrown.push(error)
              throw error
            },
            release: (error) => {
              released.push(error)
              connection.release(error ?? true)
            },
          }
        },
      }
      const store = await postgresStore({ client: pool, schema: db.schema })
      ;[lostConnections, connects] = [2, 0]
      expect(
        await store.upsert(sampleCard('card_1', alice, { holderName: 'After' })),
      ).toMatchObject({
        applied: true,
      })
      expect({ connects, lostConnections }).toEqual({ connects: 3, lostConnections: 0 })
      expect(released).toHaveLength(2)
      for (const [i, error] of released.entries()) {
        expect(error).toBe(thrown[i])
      }
      // Ten times again (every idle connection of a pool of pg's default size), not eleven: the
      // eleventh lost BEGIN's error is the caller's, as the driver threw it.
      ;[lostConnections, connects] = [10, 0]
      expect(await store.upsert(sampleCard('card_2', alice))).toMatchObject({ applied: true })
      expect({ connects, lostConnections }).toEqual({ connects: 11, lostConnections: 0 })
      ;[lostConnections, connects, thrown.length] = [11, 0, 0]
      const error = await store.upsert(sampleCard('card_3', alice)).then(
        () => expect.unreachable('a write went through 11 lost connections'),
        (rejected: unknown) => rejected,
      )
      expect({ connects, lostConnections }).toEqual({ connects: 11, lostConnections: 0 })
      expect(error).toBe(thrown[10])
      ;[lostReads, queries] = [2, 0]
      expect((await store.get(aliceScope, 'card_1'))?.holderName).toBe('After')
      expect({ queries, lostReads }).toEqual({ queries: 3, lostReads: 0 })
    },
  )

  it.runIf(db.name === 'pg Pool')(
    "stops listening to a connection's errors when a transaction gives it back to the pool",
    async () => {
      // One connection, which every transaction checks out: a listener left on it by each would
      // pile up (Node warns of a leak past ten).
      const pool = new pg.Pool({ ...PG_CONFIG, max: 1 })
      onTestFinished(() => pool.end())
      const store = await postgresStore({ client: pool, schema: db.schema })
      const listeners = async () => {
        const connection = await pool.connect()
        try {
          return connection.listenerCount('error')
        } finally {
          connection.release()
        }
      }
      const before = await listeners()
      for (let i = 1; i <= 12; i++) await store.upsert(sampleCard(`card_${i}`, alice))
      // Rolled back too: a card the database refuses.
      const bad = sampleCard('card_bad', alice, { last4: '42' })
      for (let i = 1; i <= 12; i++) await expect(store.upsert(bad)).rejects.toThrow(/check/)
      expect(await listeners()).toBe(before)
    },
  )

  it.runIf(db.name === 'pg Pool')(
    'runs a read that fails with the connection still there once (a statement timeout)',
    async () => {
      // Only a lost connection is worth another try: a read cancelled by statement_timeout
      // (57014) would wait out the timeout again on each one.
      const real = new pg.Pool({ ...PG_CONFIG, max: 2 })
      onTestFinished(() => real.end())
      let timeouts = 0
      let queries = 0
      const pool: PostgresClient = {
        async query(text, params) {
          queries += 1
          if (timeouts > 0) {
            timeouts -= 1
            throw Object.assign(new Error('canceling statement due to statement timeout'), {
              code: '57014',
            })
          }
          return real.query(text, params)
        },
        connect: () => real.connect(),
      }
      const store = await postgresStore({ client: pool, schema: db.schema })
      await store.upsert(sampleCard('card_1', alice))
      ;[timeouts, queries] = [1, 0]
      await expect(store.get(aliceScope, 'card_1')).rejects.toMatchObject({ code: '57014' })
      expect(queries).toBe(1)
    },
  )

  it.runIf(db.name === 'pg Pool')(
    'refuses a call made after end() began on the pool you passed, while a connection is still out',
    async () => {
      // pg's Pool is `ending` from end() until its last connection comes back, then `ended`:
      // a call in between must get the store's refusal, not pg's "Cannot use a pool after
      // calling end on the pool".
      const pool = new pg.Pool({ ...PG_CONFIG, max: 2 })
      const store = await postgresStore({ client: pool, schema: db.schema })
      const held = await pool.connect()
      const ending = pool.end()
      try {
        expect({ ending: pool.ending, ended: pool.ended }).toEqual({ ending: true, ended: false })
        for (const call of [
          () => store.get(aliceScope, 'card_1'),
          () => store.upsert(sampleCard('card_1', alice)),
        ]) {
          const error = await call().then(
            () => undefined,
            (thrown: unknown) => thrown,
          )
          expect(isCardportError(error, 'invalid_request'), String(error)).toBe(true)
          expect((error as Error).message).toMatch(/client passed to postgresStore is closed/)
        }
      } finally {
        held.release()
        await ending
      }
    },
  )

  it('refuses every call once the client you passed is closed, saying whose it is', async () => {
    // A client of its own, closed here: a pg Pool ended, or a PGlite instance closed.
    const client: PostgresClient =
      db.name === 'PGlite' ? await PGlite.create() : new pg.Pool({ ...PG_CONFIG, max: 2 })
    const store = await postgresStore({ client, schema: db.schema })
    await store.upsert(sampleCard('card_1', alice, { isDefault: true }))
    const owners = store.listOwners('memory')[Symbol.asyncIterator]()
    await owners.next()
    await ('end' in client ? (client as pg.Pool).end() : (client as PGlite).close())
    const calls: Record<string, () => Promise<unknown>> = {
      get: () => store.get(aliceScope, 'card_1'),
      listByOwner: () => store.listByOwner(aliceScope),
      listByOwners: () => store.listByOwners!([aliceScope]),
      getDefault: () => store.getDefault(aliceScope),
      upsert: () => store.upsert(sampleCard('card_2', alice)),
      upsertMany: () => store.upsertMany([sampleCard('card_2', alice)]),
      delete: () => store.delete(aliceScope, 'card_1'),
      setDefault: () => store.setDefault(aliceScope, null),
      'listOwners (next page)': () => owners.next(),
      'retirements.save': () => store.retirements!.save(aliceScope, 'key', []),
      'retirements.load': () => store.retirements!.load(aliceScope, 'key'),
    }
    const outcomes: string[] = []
    for (const [name, call] of Object.entries(calls)) {
      const error = await call().then(
        () => undefined,
        (thrown: unknown) => thrown,
      )
      // A CardportError saying what to do, not pg's "Cannot use a pool after calling end".
      if (
        !isCardportError(error, 'invalid_request') ||
        !/client passed to postgresStore is closed/.test(error.message)
      ) {
        outcomes.push(`${name}: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
    expect(outcomes).toEqual([])
  }, 60_000)

  it('lets the calls begun before close() finish: the client can be closed once close() resolves', async () => {
    // The shutdown order the README gives: the store first, then the client you passed. More
    // writes and reads than the pool has connections: some of them still wait for one when
    // close() is called.
    const client: PostgresClient =
      db.name === 'PGlite' ? await PGlite.create() : new pg.Pool({ ...PG_CONFIG, max: 2 })
    const store = await postgresStore({ client, schema: db.schema })
    const cards = Array.from({ length: 12 }, (_, i) =>
      sampleCard(`card_${i}`, i % 2 === 0 ? alice : bob, { isDefault: i < 2 }),
    )
    const calls = [
      ...cards.map((card) => store.upsert(card)),
      store.upsertMany([sampleCard('card_batch', shop)]),
      store.listByOwner(aliceScope),
      store.retirements!.save(aliceScope, 'key', [{ cardId: 'card_0', currency: null }]),
    ]
    const settled = Promise.allSettled(calls)
    await store.close()
    await ('end' in client ? (client as pg.Pool).end() : (client as PGlite).close())
    const failed = (await settled).flatMap((outcome, i) =>
      outcome.status === 'rejected' ? [`call ${i}: ${String(outcome.reason)}`] : [],
    )
    expect(failed, 'calls begun before close()').toEqual([])
    // What they wrote, read by a new store: on the server (a PGlite instance of its own is gone).
    if (db.name === 'PGlite') return
    const again = await postgresStore({ client: db.client, schema: db.schema })
    const listed = await again.listByOwners!([aliceScope, bobScope, shopScope])
    expect(listed.map((owned) => owned.length)).toEqual([6, 6, 1])
  }, 60_000)

  it('leaves the client alone on close(), open and untouched, and refuses calls after it', async () => {
    const store = await open()
    await store.upsert(sampleCard('card_1', alice))
    // Every member of the client (a pg Pool's query, connect and end; PGlite's close too).
    const client = db.client as unknown as Record<string, unknown>
    const members = ['query', 'connect', 'end', 'close', 'transaction', 'exec']
    const spies = members
      .filter((name) => typeof client[name] === 'function')
      .map((name) => vi.spyOn(client as Record<string, () => unknown>, name))
    onTestFinished(() => {
      for (const spy of spies) spy.mockRestore()
    })
    await store.close()
    await store.close()
    await expect(store.get(aliceScope, 'card_1')).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/^postgresStore is closed/),
    })
    expect(
      spies.filter((spy) => spy.mock.calls.length > 0).map((spy) => spy.getMockName()),
    ).toEqual([])
    const { rows } = await db.client.query('SELECT 1 AS one')
    expect(rows).toEqual([{ one: 1 }])
    await expect((await open()).get(aliceScope, 'card_1')).resolves.toMatchObject({ id: 'card_1' })
  })
})

// --- helpers ---

/** `count` customers, `cus_0` … in order. */
function manyOwners(count: number): Owner[] {
  return Array.from({ length: count }, (_, i): Owner => ({ type: 'customer', id: `cus_${i}` }))
}

/**
 * Gives Alice 50 cards through `first`, then makes each her default at once, by turns with
 * `first.setDefault` and `second.upsert`: the messages of the calls that failed, and how many
 * defaults she has after.
 */
async function switchDefaultsAtOnce(
  first: CardStore,
  second: CardStore,
): Promise<{ failures: string[]; defaults: number }> {
  const ids = Array.from({ length: 50 }, (_, i) => `card_${i}`)
  await first.upsertMany(ids.map((id) => sampleCard(id, alice)))
  const results = await Promise.allSettled(
    ids.map((id, i) =>
      i % 2 === 0
        ? first.setDefault(aliceScope, id)
        : second.upsert(sampleCard(id, alice, { isDefault: true })),
    ),
  )
  const failures = results.flatMap((result) =>
    result.status === 'rejected' ? [String(result.reason?.message)] : [],
  )
  const defaults = (await first.listByOwner(aliceScope)).filter((card) => card.isDefault).length
  return { failures, defaults }
}

/** Every string an error carries, own properties (enumerable or not) and nested ones, `cause` too. */
function errorTexts(value: unknown, seen = new Set<unknown>()): string[] {
  if (typeof value === 'string') return [value]
  if (typeof value !== 'object' || value === null || seen.has(value)) return []
  seen.add(value)
  return Object.getOwnPropertyNames(value).flatMap((key) =>
    errorTexts((value as Record<string, unknown>)[key], seen),
  )
}
