import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { customers } from './__fixtures__/owners.js'
import { sampleCard } from './__fixtures__/sample-card.js'
import type { Card, Owner } from './card.js'
import { createCardSync } from './card-sync.js'
import { InvalidRequestError, ProviderUnavailableError } from './errors.js'
import { createGroupWriter, MAX_GROUP_SPREAD_MS, type QueuedBatches } from './group-writer.js'
import { memoryProvider } from './memory-provider.js'
import { memoryStore } from './memory-store.js'
import type { CardProvider } from './provider.js'
import type { CardStore, WriteOptions } from './store.js'

// Reconcile writes each owner's batch as of when its reading began (Date.now()), and a group
// holds batches read within MAX_GROUP_SPREAD_MS of each other: on a slow machine, the owners of
// one group could be read further apart than that and the group be cut short. The clock stands
// still here, so that the groups the tests count are the ones holdFor makes; the spread has its
// own test, with the times given.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('createGroupWriter', () => {
  it('writes the batches handed over in one turn in one upsertMany, with the oldest observedAt', async () => {
    const { store, calls } = recordingStore()
    const write = createGroupWriter(store)
    await Promise.all([
      write([sampleCard('a1', customer('cus_a')), sampleCard('a2', customer('cus_a'))], 160),
      write([sampleCard('b1', customer('cus_b'))], 100),
      write([sampleCard('c1', customer('cus_c'))], 130),
    ])
    expect(calls).toEqual([{ ids: ['a1', 'a2', 'b1', 'c1'], observedAt: 100 }])
    expect(await ids(store, 'cus_a')).toEqual(['a2', 'a1'])
    expect(await ids(store, 'cus_b')).toEqual(['b1'])
  })

  it(`groups only batches read within ${MAX_GROUP_SPREAD_MS} ms of each other`, async () => {
    const { store, calls } = recordingStore()
    const write = createGroupWriter(store)
    await Promise.all([
      write([sampleCard('a1', customer('cus_a'))], 1_000),
      write([sampleCard('b1', customer('cus_b'))], 1_000 + MAX_GROUP_SPREAD_MS),
      write([sampleCard('c1', customer('cus_c'))], 1_001 + MAX_GROUP_SPREAD_MS),
      write([sampleCard('d1', customer('cus_d'))], 1_050),
    ])
    expect(calls).toEqual([
      { ids: ['a1', 'b1'], observedAt: 1_000 },
      { ids: ['c1', 'd1'], observedAt: 1_050 },
    ])
  })

  it('does not refuse a batch for what was stored before it was read but after its group began', async () => {
    const store = memoryStore()
    const b = customer('cus_b')
    // Stored (a webhook, say) at 150: after the batch of cus_a was read, before cus_b's.
    await store.upsert(sampleCard('b1', b, { last4: '1111' }), { observedAt: 150 })
    const write = createGroupWriter(store)
    await Promise.all([
      write([sampleCard('a1', customer('cus_a'))], 100),
      write([sampleCard('b1', b, { last4: '2222' })], 300),
    ])
    expect(await store.get({ provider: 'memory', owner: b }, 'b1')).toMatchObject({
      last4: '2222',
      observedAt: 300,
    })
  })

  it('groups the batches handed over while a write is in flight into the next write', async () => {
    const { store, calls, release } = recordingStore({ hold: true })
    const write = createGroupWriter(store)
    const first = write([sampleCard('a1', customer('cus_a'))], 1)
    await until(() => calls.length === 1)
    const later = [
      write([sampleCard('b1', customer('cus_b'))], 2),
      write([sampleCard('c1', customer('cus_c'))], 3),
    ]
    release()
    await Promise.all([first, ...later])
    expect(calls.map((call) => call.ids)).toEqual([['a1'], ['b1', 'c1']])
  })

  it('writes up to `concurrency` groups at once, and groups what comes while they are in flight', async () => {
    const gate = gatedStore()
    const write = createGroupWriter(gate.store, { concurrency: 2 })
    const written = [write([sampleCard('a1', customer('cus_a'))], 1)]
    await until(() => gate.calls.length === 1)
    written.push(write([sampleCard('b1', customer('cus_b'))], 2))
    await until(() => gate.calls.length === 2)
    written.push(
      write([sampleCard('c1', customer('cus_c'))], 3),
      write([sampleCard('d1', customer('cus_d'))], 4),
    )
    await nextTurns(3)
    expect(gate.calls).toEqual([['a1'], ['b1']])

    gate.open()
    await Promise.all(written)
    expect(gate.calls).toEqual([['a1'], ['b1'], ['c1', 'd1']])
    expect(gate.mostInFlight()).toBe(2)
  })

  it('writes at most 1,000 cards at once, never splitting a batch', async () => {
    const { store, calls } = recordingStore()
    const write = createGroupWriter(store)
    const batch = (owner: string) =>
      Array.from({ length: 400 }, (_, i) => sampleCard(`${owner}_${i}`, customer(owner)))
    await Promise.all(['cus_a', 'cus_b', 'cus_c'].map((owner) => write(batch(owner), 1)))
    expect(calls.map((call) => call.ids.length)).toEqual([800, 400])
  })

  it('after a failed group, writes each batch on its own: only the bad batch fails', async () => {
    const { store, calls } = recordingStore({ refuse: 'bad' })
    const write = createGroupWriter(store)
    const results = await Promise.allSettled([
      write([sampleCard('a1', customer('cus_a'))], 1),
      write([sampleCard('bad', customer('cus_b'))], 2),
      write([sampleCard('c1', customer('cus_c'))], 3),
    ])
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(RangeError)
    expect(calls.map((call) => call.ids)).toEqual([['a1', 'bad', 'c1'], ['a1'], ['bad'], ['c1']])
    expect(await ids(store, 'cus_a')).toEqual(['a1'])
    expect(await ids(store, 'cus_b')).toEqual([])
    expect(await ids(store, 'cus_c')).toEqual(['c1'])
  })
})

describe('createGroupWriter after a failed group', () => {
  it('stops writing batches on their own once two fail alike: a store that fails every write', async () => {
    const locked = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    const { store, calls } = recordingStore({ fail: locked })
    const write = createGroupWriter(store)
    const owners = Array.from({ length: 10 }, (_, i) => `cus_${i}`)
    const results = await Promise.allSettled(
      owners.map((owner, i) => write([sampleCard(`${owner}_1`, customer(owner))], i)),
    )
    // The group, then two batches on their own: not one more failing write per batch.
    expect(calls.map((call) => call.ids.length)).toEqual([10, 1, 1])
    for (const result of results) {
      expect(result.status).toBe('rejected')
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' })
    }
    for (const owner of owners) expect(await ids(store, owner)).toEqual([])
  })

  it('writes the next group of a store that stays down once, and apart again after a write went', async () => {
    const locked = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    let isDown = true
    const { store, calls } = recordingStore({ fail: () => (isDown ? locked() : undefined) })
    const write = createGroupWriter(store)
    const group = (from: number) =>
      Promise.allSettled(
        Array.from({ length: 5 }, (_, i) =>
          write([sampleCard(`c${from + i}`, customer(`cus_${from + i}`))], from + i),
        ),
      )
    const first = await group(0)
    const second = await group(10)
    expect(calls.map((call) => call.ids.length)).toEqual([5, 1, 1, 5])
    for (const result of [...first, ...second]) {
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' })
    }
    isDown = false
    await group(20)
    expect(await ids(store, 'cus_24')).toEqual(['c24'])
    // A write went through: a group failing alike is written apart again, as the first was.
    calls.length = 0
    isDown = true
    const fourth = await group(30)
    expect(calls.map((call) => call.ids.length)).toEqual([5, 1, 1])
    expect(fourth.map((result) => result.status)).toEqual(Array(5).fill('rejected'))
  })

  it('writes a group apart again after a batch written on its own went', async () => {
    const locked = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    let isDown = true
    const { store, calls } = recordingStore({
      fail: (cards) =>
        isDown || cards.some((card) => card.owner.id === 'cus_20') ? locked() : undefined,
    })
    const write = createGroupWriter(store)
    const group = (from: number) =>
      Promise.allSettled(
        Array.from({ length: 3 }, (_, i) =>
          write([sampleCard(`c${from + i}`, customer(`cus_${from + i}`))], from + i),
        ),
      )
    const first = await group(0)
    expect(first.map((result) => result.status)).toEqual(Array(3).fill('rejected'))
    isDown = false
    // A group of one is written on its own, and it goes through.
    await write([sampleCard('c10', customer('cus_10'))], 10)
    calls.length = 0
    // Only the batch of cus_20 fails, alike: the store is up again, so the others are written.
    const third = await group(20)
    expect(third.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'fulfilled'])
    expect(calls.map((call) => call.ids.length)).toEqual([3, 1, 1, 1])
    expect(await ids(store, 'cus_22')).toEqual(['c22'])
  })

  it('does not take two failures for the same kind for their message alone', async () => {
    const coded = Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    const pairs: [string, Error, Error][] = [
      ['a coded and an uncoded error', coded, new Error('database is locked')],
      ['errors of different classes', new TypeError('bad row'), new RangeError('bad row')],
    ]
    for (const [name, first, second] of pairs) {
      // The group fails, then the first two batches on their own, each with its own error.
      const { store, calls } = recordingStore({
        fail: (_, call) => (call <= 1 ? first : call === 2 ? second : undefined),
      })
      const write = createGroupWriter(store)
      const results = await Promise.allSettled(
        Array.from({ length: 4 }, (_, i) => write([sampleCard(`c${i}`, customer(`cus_${i}`))], i)),
      )
      expect(
        results.map((result) => result.status),
        name,
      ).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled'])
      expect(
        calls.map((call) => call.ids.length),
        name,
      ).toEqual([4, 1, 1, 1, 1])
    }
  })

  it('makes at most four writes of a group into a store that fails each write differently', async () => {
    const { store, calls } = recordingStore({ fail: (_, call) => new Error(`failure ${call}`) })
    const write = createGroupWriter(store)
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => write([sampleCard(`c${i}`, customer(`cus_${i}`))], i)),
    )
    expect(calls).toHaveLength(4)
    expect(results.map((result) => result.status)).toEqual(Array(10).fill('rejected'))
    // The batches written on their own fail with their own error; the others with the last.
    const reasons = results.map(
      (result) => ((result as PromiseRejectedResult).reason as Error).message,
    )
    expect(reasons).toEqual(['failure 1', 'failure 2', ...Array(8).fill('failure 3')])
  })

  it('counts a retryable CardportError of the store as a failure of the whole store', async () => {
    const { store, calls } = recordingStore({
      fail: () => new ProviderUnavailableError('the store is unreachable'),
    })
    const write = createGroupWriter(store)
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => write([sampleCard(`c${i}`, customer(`cus_${i}`))], i)),
    )
    expect(calls).toHaveLength(3)
    expect(results.map((result) => result.status)).toEqual(Array(6).fill('rejected'))
  })

  it("fails only the owner whose batch the store's driver refuses, first, middle or last", async () => {
    const constraint = () =>
      Object.assign(new Error('CHECK constraint failed'), { code: 'SQLITE_CONSTRAINT_CHECK' })
    for (const bad of [0, 2, 4]) {
      const { store, calls } = recordingStore({
        fail: (cards) =>
          cards.some((card) => card.owner.id === `cus_${bad}`) ? constraint() : undefined,
      })
      const write = createGroupWriter(store)
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) => write([sampleCard(`c${i}`, customer(`cus_${i}`))], i)),
      )
      expect(
        results.map((result) => result.status),
        `bad ${bad}`,
      ).toEqual(Array.from({ length: 5 }, (_, i) => (i === bad ? 'rejected' : 'fulfilled')))
      expect(calls, `bad ${bad}`).toHaveLength(6)
      for (let i = 0; i < 5; i++) {
        expect(await ids(store, `cus_${i}`), `bad ${bad}`).toEqual(i === bad ? [] : [`c${i}`])
      }
    }
  })

  it('writes on after two batches fail alike when a batch written between went', async () => {
    const constraint = () => Object.assign(new Error('constraint'), { code: 'SQLITE_CONSTRAINT' })
    const bad = new Set(['cus_0', 'cus_2', 'cus_4'])
    const { store, calls } = recordingStore({
      fail: (cards) => (cards.some((card) => bad.has(card.owner.id)) ? constraint() : undefined),
    })
    const write = createGroupWriter(store)
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => write([sampleCard(`c${i}`, customer(`cus_${i}`))], i)),
    )
    expect(results.map((result) => result.status)).toEqual([
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
      'fulfilled',
    ])
    expect(calls).toHaveLength(7)
  })

  it("keeps writing batches on their own through any number of the store's own refusals", async () => {
    // A CardportError that is not retryable (validation, a conflict) is about the batch's cards.
    const refused = new Set(['cus_1', 'cus_2', 'cus_3', 'cus_4'])
    const { store, calls } = recordingStore({
      fail: (cards) =>
        cards.some((card) => refused.has(card.owner.id))
          ? new InvalidRequestError('Invalid card: last4 must be 4 digits')
          : undefined,
    })
    const write = createGroupWriter(store)
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => write([sampleCard(`c${i}`, customer(`cus_${i}`))], i)),
    )
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      ...Array(4).fill('rejected'),
      'fulfilled',
    ])
    expect(calls).toHaveLength(7)
    expect(await ids(store, 'cus_5')).toEqual(['c5'])
  })

  it('writes each batch at most once when the store fails part-way through the batches', async () => {
    // The group fails for one bad batch; the store goes down after the first batch on its own.
    const locked = () => Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
    const { store, calls } = recordingStore({
      fail: (_, call) =>
        call === 0 ? new RangeError('bad card') : call >= 2 ? locked() : undefined,
    })
    const write = createGroupWriter(store)
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => write([sampleCard(`c${i}`, customer(`cus_${i}`))], i)),
    )
    expect(calls.map((call) => call.ids)).toEqual([
      ['c0', 'c1', 'c2', 'c3', 'c4', 'c5'],
      ['c0'],
      ['c1'],
      ['c2'],
    ])
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      ...Array(5).fill('rejected'),
    ])
    expect(await ids(store, 'cus_0')).toEqual(['c0'])
  })
})

describe('createGroupWriter holdFor', () => {
  it('keeps the batches back while holdFor waits, and writes them all at the nudge that ends it', async () => {
    const { store, calls } = recordingStore()
    let hold = true
    const asked: QueuedBatches[] = []
    const write = createGroupWriter(store, {
      holdFor: (queued) => {
        asked.push(queued)
        return hold
      },
    })
    const written = [
      write([sampleCard('a1', customer('cus_a')), sampleCard('a2', customer('cus_a'))], 1),
      write([sampleCard('b1', customer('cus_b'))], 2),
    ]
    await nextTurns(3)
    const later = write([sampleCard('c1', customer('cus_c'))], 3)
    await nextTurns(3)
    expect(calls).toEqual([])
    expect(asked.at(-1)).toEqual({ batches: 3, cards: 4 })

    hold = false
    write.nudge()
    await Promise.all([...written, later])
    expect(calls).toEqual([{ ids: ['a1', 'a2', 'b1', 'c1'], observedAt: 1 }])
  })

  it('asks holdFor again a turn after a write ends with batches left, without a nudge', async () => {
    // A batch handed over during a write is first asked about as the write ends; its owner may
    // still be finishing then (holdFor waits), and ends with its batch, so it nudges no one.
    const { store, calls, release } = recordingStore({ hold: true })
    let holds = 0
    const write = createGroupWriter(store, { holdFor: () => holds-- > 0 })
    const first = write([sampleCard('a1', customer('cus_a'))], 1)
    await until(() => calls.length === 1)
    holds = 1
    const second = write([sampleCard('b1', customer('cus_b'))], 2)
    release()
    await first
    // Turns of the event loop, not a time: the second write comes within them.
    await nextTurns(10)
    expect(calls.map((call) => call.ids)).toEqual([['a1'], ['b1']])
    await second
  })

  it('writes a full group of 1,000 cards even while holdFor waits', async () => {
    const { store, calls } = recordingStore()
    const write = createGroupWriter(store, { holdFor: () => true })
    const batch = (owner: string) =>
      Array.from({ length: 500 }, (_, i) => sampleCard(`${owner}_${i}`, customer(owner)))
    const first = write(batch('cus_a'), 1)
    await nextTurns(3)
    expect(calls).toEqual([])
    await Promise.all([first, write(batch('cus_b'), 2)])
    expect(calls.map((call) => call.ids.length)).toEqual([1000])
  })
})

describe('CardSync.reconcile holds batches for fuller groups', () => {
  it('writes many owners in a few groups', async () => {
    const memory = memoryProvider()
    const owners = customers(40)
    for (const owner of owners) await memory.createCard(owner, { source: 'tok_visa' })
    const provider = slowProvider(memory)
    const { store, calls } = recordingStore()
    const report = await createCardSync({ provider, store }).reconcile(owners, { concurrency: 4 })

    expect(report.failed).toEqual([])
    expect(report.cardsSeen).toBe(40)
    // 4 owners read at once, 4 × 8 in flight: most of the 40 wait for each other.
    expect(calls.length).toBeLessThanOrEqual(4)
    for (const owner of owners) expect(await ids(store, owner.id)).toHaveLength(1)
  })

  it('writes full groups into a store that takes its time, not a small one after each write', async () => {
    const memory = memoryProvider()
    const owners = customers(64)
    for (const owner of owners) await memory.createCard(owner, { source: 'tok_visa' })
    // Each write takes 10 ms, as a database server's would: while one is in flight every owner
    // in flight finishes reading and waits, and the owners that the write lets go have not begun
    // reading when it returns. 2 owners read at once and 14 (16 in flight, 2 places) make a
    // full group.
    const { store, calls } = recordingStore({ delay: 10 })
    const report = await createCardSync({ provider: slowProvider(memory), store }).reconcile(
      owners,
      { concurrency: 2 },
    )

    expect(report.failed).toEqual([])
    for (const owner of owners) expect(await ids(store, owner.id)).toHaveLength(1)
    // 64 owners in groups of at least 14 (more when two hand over in one turn), and the last
    // of what is left; not a group of one or two after each full one.
    const sizes = calls.map((call) => call.ids.length)
    expect(sizes.length).toBeLessThanOrEqual(5)
    for (const size of sizes.slice(0, -1)) expect(size).toBeGreaterThanOrEqual(14)
  })

  it('does not hold batches for owners that wait for their own write in the middle of reading', async () => {
    const memory = memoryProvider()
    const owners = customers(3)
    // 150 cards an owner: each writes its first 100 before it has read them all.
    for (const owner of owners) {
      for (let i = 0; i < 150; i++) await memory.createCard(owner, { source: 'tok_visa' })
    }
    const { store } = recordingStore()
    const report = await createCardSync({ provider: slowProvider(memory), store }).reconcile(
      owners,
      { concurrency: 2 },
    )
    expect(report.failed).toEqual([])
    for (const owner of owners) expect(await ids(store, owner.id)).toHaveLength(150)
  })

  it('writes the held batches when the last owner in flight finishes without a batch', async () => {
    const memory = memoryProvider()
    const [writer, deleter] = customers(2) as [Owner, Owner]
    await memory.createCard(writer, { source: 'tok_visa' })
    const { store: recording, calls } = recordingStore()
    // The deleter has no card at the provider and one left in the store: after reading, it
    // deletes that card, and the delete waits until the test lets it go.
    await recording.upsert(sampleCard('stale', deleter))
    const deleting = gate()
    const deleted = gate()
    const store: CardStore = {
      ...recording,
      async delete(scope, cardId, writeOptions) {
        deleting.open()
        await deleted.opened
        return recording.delete(scope, cardId, writeOptions)
      },
    }
    const reconciling = createCardSync({ provider: memory, store }).reconcile([writer, deleter], {
      concurrency: 2,
    })
    await deleting.opened
    // No timer runs now: the turns are enough for the writer's batch to be handed over, and held
    // while the deleter deletes (it might still hand one over).
    await nextTurns(10)
    expect(calls).toEqual([])
    deleted.open()
    const report = await reconciling

    expect(report.failed).toEqual([])
    expect(report.removed).toEqual([{ owner: deleter, cardId: 'stale' }])
    expect(await ids(store, writer.id)).toHaveLength(1)
  })

  it('writes the held batches when the last owner still reading fails', async () => {
    const memory = memoryProvider()
    const owners = customers(2)
    for (const owner of owners) await memory.createCard(owner, { source: 'tok_visa' })
    const [healthy, failing] = owners as [Owner, Owner]
    const failingReads = gate()
    const failingFails = gate()
    const provider: CardProvider = {
      ...memory,
      async listCards(owner, options) {
        if (owner.id !== failing.id) return memory.listCards(owner, options)
        // The failing owner fails when the test says so: after the healthy one has handed its
        // batch over.
        failingReads.open()
        await failingFails.opened
        throw new InvalidRequestError('no such owner here')
      },
    }
    const { store, calls } = recordingStore()
    const reconciling = createCardSync({ provider, store }).reconcile(owners, { concurrency: 2 })
    await failingReads.opened
    // As above: the healthy owner's batch is handed over within these turns, and held.
    await nextTurns(10)
    expect(calls).toEqual([])
    failingFails.open()
    const report = await reconciling

    expect(report.failed.map((failure) => failure.owner)).toEqual([failing])
    expect(await ids(store, healthy.id)).toHaveLength(1)
  })
})

describe('CardSync.reconcile writes as many groups at once as the store says', () => {
  it('has two groups in flight into a store of two concurrentWrites, one into a store without', async () => {
    const memory = memoryProvider()
    const owners = customers(64)
    for (const owner of owners) await memory.createCard(owner, { source: 'tok_visa' })
    // While the first group's write is in flight, the owners left read and wait; a second write
    // takes them, if the store allows two at once. The first write lasts until a second one is in
    // flight, or for turns of the event loop in which every owner left can read and hand its batch
    // over (the provider and the store use no timer): no machine is too slow for that.
    for (const concurrentWrites of [2, undefined]) {
      const { store } = recordingStore()
      let inFlight = 0
      let mostInFlight = 0
      let second = () => {}
      const secondWrite = new Promise<void>((resolve) => (second = resolve))
      const counted: CardStore = {
        ...store,
        concurrentWrites,
        async upsertMany(cards, writeOptions) {
          mostInFlight = Math.max(mostInFlight, ++inFlight)
          if (inFlight === 2) second()
          try {
            await Promise.race([secondWrite, nextTurns(20)])
            return await store.upsertMany(cards, writeOptions)
          } finally {
            inFlight--
          }
        },
      }
      const report = await createCardSync({ provider: memory, store: counted }).reconcile(owners, {
        concurrency: 2,
      })

      expect(report.failed).toEqual([])
      for (const owner of owners) expect(await ids(store, owner.id)).toHaveLength(1)
      expect(mostInFlight, `concurrentWrites ${concurrentWrites}`).toBe(concurrentWrites ?? 1)
    }
  })
})

describe('CardSync.reconcile writes owners together', () => {
  it('stores every owner in fewer writes than owners, and fails only the owner whose write fails', async () => {
    const provider = memoryProvider()
    const owners = customers(12)
    for (const owner of owners) {
      for (let i = 0; i < 3; i++) {
        await provider.createCard(owner, { source: 'tok_visa' })
      }
    }
    const badCardOwner = owners[5] as Owner
    const { store, calls } = recordingStore({ refuseOwner: badCardOwner.id })
    const report = await createCardSync({ provider, store }).reconcile(owners, { concurrency: 6 })

    expect(report.failed.map((failure) => failure.owner)).toEqual([badCardOwner])
    expect(report.cardsSeen).toBe(33) // the failed owner's are not counted
    for (const owner of owners) {
      const expected = owner === badCardOwner ? 0 : 3
      expect(await ids(store, owner.id), owner.id).toHaveLength(expected)
    }
    // Grouped: the successful writes hold more than one owner's cards.
    const owned = calls.filter((call) => call.ids.length > 3)
    expect(owned.length).toBeGreaterThan(0)
  })
})

describe('CardSync.reconcile overlaps reading and writing', () => {
  it('reads `concurrency` owners at once, and reads on while earlier owners wait for their writes', async () => {
    const memory = memoryProvider()
    const owners = customers(20)
    for (const owner of owners) await memory.createCard(owner, { source: 'tok_visa' })
    let reading = 0
    let mostReading = 0
    let listed = 0
    const provider: CardProvider = {
      ...memory,
      async listCards(owner, options) {
        listed++
        reading++
        mostReading = Math.max(mostReading, reading)
        await new Promise((resolve) => setTimeout(resolve, 2))
        try {
          return await memory.listCards(owner, options)
        } finally {
          reading--
        }
      },
    }
    // The first write (of the 14 owners that leave the readers their places, or 15 when two
    // hand over in one turn) is held: reading goes on, 2 owners at a time, until the 16 owners
    // in flight (8 × concurrency) all wait for their writes, and stops there.
    const { store, calls, release } = recordingStore({ hold: true })
    const reconciling = createCardSync({ provider, store }).reconcile(owners, { concurrency: 2 })
    await until(() => listed >= 16 && reading === 0)
    // No timer runs now (no owner is reading): an owner read beyond the 16 would have begun
    // within these turns, as the others did once a reader's place was free.
    await nextTurns(10)
    expect(listed).toBe(16)
    expect(calls).toHaveLength(1)
    expect(calls[0]?.ids.length).toBeGreaterThanOrEqual(14)
    release()
    const report = await reconciling

    expect(mostReading).toBe(2)
    expect(listed).toBe(20)
    expect(report.failed).toEqual([])
    expect(report.cardsSeen).toBe(20)
    for (const owner of owners) expect(await ids(store, owner.id)).toHaveLength(1)
  })
})

// --- helpers ---

interface Call {
  ids: string[]
  observedAt: number | undefined
}

/**
 * A memory store that records each upsertMany (its card ids and observedAt); `hold` makes the
 * first write wait for `release()`, `delay` makes every write take that many milliseconds,
 * `refuse` fails any batch holding that card id, `refuseOwner` any batch holding a card of that
 * owner, and `fail` any write it returns an error for (given the cards and the call's index).
 */
function recordingStore(
  options: {
    hold?: boolean
    delay?: number
    refuse?: string
    refuseOwner?: string
    fail?: (cards: readonly Card[], call: number) => unknown
  } = {},
): {
  store: CardStore
  calls: Call[]
  release: () => void
} {
  const inner = memoryStore()
  const calls: Call[] = []
  let release = () => {}
  let held = options.hold ? new Promise<void>((resolve) => (release = resolve)) : undefined
  const store: CardStore = {
    ...inner,
    async upsertMany(cards: readonly Card[], writeOptions: WriteOptions = {}) {
      calls.push({ ids: cards.map((each) => each.id), observedAt: writeOptions.observedAt })
      if (held) {
        const wait = held
        held = undefined
        await wait
      }
      if (options.delay) await new Promise((resolve) => setTimeout(resolve, options.delay))
      if (cards.some((each) => each.id === options.refuse)) throw new RangeError('refused')
      if (cards.some((each) => each.owner.id === options.refuseOwner)) {
        throw new RangeError('refused owner')
      }
      const failure = options.fail?.(cards, calls.length - 1)
      if (failure !== undefined) throw failure
      return inner.upsertMany(cards, writeOptions)
    },
  }
  return { store, calls, release: () => release() }
}

/**
 * A memory store whose every upsertMany waits until `open()`, recording each call's card ids
 * and the most calls in flight at once.
 */
function gatedStore(): {
  store: CardStore
  calls: string[][]
  open: () => void
  mostInFlight: () => number
} {
  const inner = memoryStore()
  const calls: string[][] = []
  const { opened, open } = gate()
  let inFlight = 0
  let most = 0
  const store: CardStore = {
    ...inner,
    async upsertMany(cards: readonly Card[], writeOptions: WriteOptions = {}) {
      calls.push(cards.map((each) => each.id))
      most = Math.max(most, ++inFlight)
      try {
        await opened
        return await inner.upsertMany(cards, writeOptions)
      } finally {
        inFlight--
      }
    },
  }
  return { store, calls, open, mostInFlight: () => most }
}

async function ids(store: CardStore, owner: string): Promise<string[]> {
  const cards = await store.listByOwner({
    provider: 'memory',
    owner: { type: 'customer', id: owner },
  })
  return cards.map((each) => each.id)
}

/**
 * Waits for `condition`. No deadline of its own: a slow machine may take long, and the test's
 * timeout guards against a condition never met.
 */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 1))
}

/** A promise that stays pending until `open()` is called. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {}
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { opened, open: () => open() }
}

/** Lets `count` turns of the event loop go by. */
async function nextTurns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve))
}

/** `memory`, with each page of cards a millisecond away, as over a network. */
function slowProvider(memory: CardProvider): CardProvider {
  return {
    ...memory,
    async listCards(owner, options) {
      await new Promise((resolve) => setTimeout(resolve, 1))
      return memory.listCards(owner, options)
    },
  }
}

function customer(id: string): Owner {
  return { type: 'customer', id }
}
