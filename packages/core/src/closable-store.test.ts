import { describe, expect, it, vi } from 'vitest'
import type { Owner } from './card.js'
import { closableStore } from './closable-store.js'
import { InvalidRequestError, isCardportError } from './errors.js'
import { memoryStore } from './memory-store.js'
import type { CardScope, CardStore } from './store.js'

const alice: Owner = { type: 'customer', id: 'cus_alice' }
const scope: CardScope = { provider: 'memory', owner: alice }

/** A store whose every method answers at once, and counts its calls. */
function countingStore() {
  const calls: string[] = []
  const record =
    <T>(name: string, value: T) =>
    async () => {
      calls.push(name)
      return value
    }
  const store: CardStore = {
    get: record('get', null),
    listByOwner: record('listByOwner', []),
    listByOwners: record('listByOwners', []),
    getDefault: record('getDefault', null),
    upsert: record('upsert', { applied: true, card: null }),
    upsertMany: record('upsertMany', undefined),
    concurrentWrites: 2,
    delete: record('delete', true),
    setDefault: record('setDefault', undefined),
    async *listOwners() {
      calls.push('listOwners')
      yield alice
      yield alice
    },
    retirements: {
      save: record('retirements.save', undefined),
      load: record('retirements.load', []),
      remove: record('retirements.remove', undefined),
    },
    close: record('close', undefined),
  }
  return { store, calls }
}

/** One call of each method, by name. */
const everyCall = (store: CardStore): Record<string, () => Promise<unknown>> => ({
  get: () => store.get(scope, 'card_1'),
  listByOwner: () => store.listByOwner(scope),
  listByOwners: () => store.listByOwners!([scope]),
  getDefault: () => store.getDefault(scope),
  upsert: () => store.upsert({} as never),
  upsertMany: () => store.upsertMany([]),
  delete: () => store.delete(scope, 'card_1'),
  setDefault: () => store.setDefault(scope, null),
  listOwners: () => store.listOwners('memory')[Symbol.asyncIterator]().next(),
  'retirements.save': () => store.retirements!.save(scope, 'key', []),
  'retirements.load': () => store.retirements!.load(scope, 'key'),
  'retirements.remove': () => store.retirements!.remove(scope, 'key'),
})

async function refusal(call: () => Promise<unknown>): Promise<unknown> {
  return call().then(
    () => 'resolved',
    (error: unknown) => error,
  )
}

describe('closableStore', () => {
  it('passes every call through while open, with its arguments, and keeps other members', async () => {
    const { store: inner, calls } = countingStore()
    const upsert = vi.spyOn(inner, 'upsert')
    const store = closableStore('countingStore', inner)
    expect(store.concurrentWrites).toBe(2)
    for (const call of Object.values(everyCall(store))) await call()
    expect(calls).toEqual([
      'get',
      'listByOwner',
      'listByOwners',
      'getDefault',
      'upsert',
      'upsertMany',
      'delete',
      'setDefault',
      'listOwners',
      'retirements.save',
      'retirements.load',
      'retirements.remove',
    ])
    await store.upsert({ id: 'card_1' } as never, { observedAt: 5 })
    expect(upsert).toHaveBeenLastCalledWith({ id: 'card_1' }, { observedAt: 5 })
  })

  it('leaves out the optional members the store does not have', () => {
    const { listByOwners: _l, retirements: _r, concurrentWrites: _c, ...bare } = memoryStore()
    const store = closableStore('bare', bare)
    expect(Object.keys(store).sort()).toEqual(Object.keys(bare).sort())
  })

  it('refuses every call after close() with invalid_request naming the store, without calling it', async () => {
    const { store: inner, calls } = countingStore()
    const store = closableStore('countingStore', inner)
    await store.close()
    expect(calls).toEqual(['close'])
    for (const [name, call] of Object.entries(everyCall(store))) {
      const error = await refusal(call)
      expect(isCardportError(error, 'invalid_request'), name).toBe(true)
      expect(error, name).toMatchObject({
        retryable: false,
        message: expect.stringMatching(/^countingStore is closed/),
      })
    }
    expect(calls).toEqual(['close'])
  })

  it('closes once: a second close() resolves without calling the store again', async () => {
    const { store: inner, calls } = countingStore()
    const store = closableStore('countingStore', inner)
    await Promise.all([store.close(), store.close()])
    await expect(store.close()).resolves.toBeUndefined()
    expect(calls).toEqual(['close'])
  })

  it('refuses calls from the moment close() is called, before the store has released anything', async () => {
    const { store: inner } = countingStore()
    let release!: () => void
    const closing = new Promise<void>((resolve) => {
      release = resolve
    })
    const store = closableStore('slowStore', { ...inner, close: () => closing })
    const closed = store.close()
    await expect(store.get(scope, 'card_1')).rejects.toThrow(/slowStore is closed/)
    release()
    await closed
  })

  it('lets every call begun before close() finish, and releases the store only once they have', async () => {
    // Each call answers when the test says so: they are all still running when close() is called.
    const events: string[] = []
    const answers: (() => void)[] = []
    const later =
      (name: string, value: unknown = undefined) =>
      (): Promise<never> =>
        new Promise((resolve) => {
          answers.push(() => {
            events.push(name)
            resolve(value as never)
          })
        })
    const { store: inner } = countingStore()
    const store = closableStore<CardStore>('slowStore', {
      ...inner,
      upsert: later('upsert', { applied: true, card: null }),
      upsertMany: later('upsertMany'),
      get: later('get', null),
      async *listOwners() {
        await new Promise<void>((resolve) => answers.push(resolve))
        events.push('listOwners')
        yield alice
      },
      retirements: { ...inner.retirements!, save: later('retirements.save') },
      async close() {
        events.push('close')
      },
    })
    const begun = [
      store.upsert({} as never),
      store.upsertMany([]),
      store.get(scope, 'card_1'),
      store.listOwners('memory')[Symbol.asyncIterator]().next(),
      store.retirements!.save(scope, 'key', []),
    ]
    let closed = false
    const closing = store.close().then(() => {
      closed = true
    })
    // Refused from the moment close() is called, though the others still run.
    await expect(store.get(scope, 'card_2')).rejects.toThrow(/slowStore is closed/)
    for (const answer of answers.splice(0, 4)) answer()
    await Promise.all(begun.slice(0, 4))
    // Nothing here waits on a timer: a close() that did not wait for the last call would have
    // settled within these turns.
    await nextTurns(10)
    expect(closed, 'close() before the last call has settled').toBe(false)
    expect(events).not.toContain('close')
    answers.shift()!()
    await closing
    expect(await Promise.all(begun)).toEqual([
      { applied: true, card: null },
      undefined,
      null,
      { done: false, value: alice },
      undefined,
    ])
    expect(events.at(-1)).toBe('close')
    expect(events).toHaveLength(6)
  })

  it('waits for a call begun before close() that fails, and leaves its rejection to its caller', async () => {
    let fail!: (error: Error) => void
    const { store: inner, calls } = countingStore()
    const store = closableStore<CardStore>('failingStore', {
      ...inner,
      delete: () =>
        new Promise<boolean>((_, reject) => {
          fail = reject
        }),
    })
    const deleting = store.delete(scope, 'card_1')
    const closing = store.close()
    // As above: a close() that did not wait would have called the store's within these turns.
    await nextTurns(10)
    expect(calls).toEqual([])
    fail(new Error('the connection was lost'))
    await expect(deleting).rejects.toThrow('the connection was lost')
    await closing
    expect(calls).toEqual(['close'])
  })

  it('waits for a page of owners being read when close() is called, and releases the store after it', async () => {
    const events: string[] = []
    let answer!: () => void
    const { store: inner } = countingStore()
    const store = closableStore<CardStore>('slowStore', {
      ...inner,
      async *listOwners() {
        await new Promise<void>((resolve) => {
          answer = resolve
        })
        events.push('page')
        yield alice
      },
      async close() {
        events.push('close')
      },
    })
    const page = store.listOwners('memory')[Symbol.asyncIterator]().next()
    const closing = store.close()
    // No timer here: a close() that did not wait for the page would have closed the store by now.
    await nextTurns(10)
    expect(events).toEqual([])
    answer()
    expect(await page).toEqual({ done: false, value: alice })
    await closing
    expect(events).toEqual(['page', 'close'])
  })

  it("refuses the next owner of a listOwners begun before close(), and ends the store's iteration", async () => {
    let finish!: () => void
    const finished = new Promise<void>((resolve) => {
      finish = resolve
    })
    const { store: inner } = countingStore()
    const store = closableStore('countingStore', {
      ...inner,
      async *listOwners(_provider: string) {
        try {
          yield alice
          yield alice
        } finally {
          finish()
        }
      },
    })
    const owners = store.listOwners('memory')[Symbol.asyncIterator]()
    expect(await owners.next()).toEqual({ done: false, value: alice })
    await store.close()
    await expect(owners.next()).rejects.toMatchObject({ code: 'invalid_request' })
    // The store's iteration ends (its finally runs); an iteration left open times the test out.
    await finished
    await expect(owners.next()).rejects.toMatchObject({ code: 'invalid_request' })
  })

  it('lets a for await loop end the iteration early, as the store would', async () => {
    let finished = false
    const { store: inner } = countingStore()
    const store = closableStore('countingStore', {
      ...inner,
      async *listOwners(_provider: string) {
        try {
          for (;;) yield alice
        } finally {
          finished = true
        }
      },
    })
    for await (const owner of store.listOwners('memory')) {
      expect(owner).toEqual(alice)
      break
    }
    expect(finished).toBe(true)
  })

  it('refuses a call that checkOpen throws for, with its error, while open', async () => {
    const { store: inner, calls } = countingStore()
    let open = true
    const store = closableStore('countingStore', inner, {
      checkOpen: () => {
        if (!open) throw new InvalidRequestError('the connection you passed is closed')
      },
    })
    await store.get(scope, 'card_1')
    open = false
    for (const [name, call] of Object.entries(everyCall(store))) {
      await expect(call(), name).rejects.toThrow('the connection you passed is closed')
    }
    expect(calls).toEqual(['get'])
    // close() is never refused, and after it the store says it is closed.
    await store.close()
    await expect(store.get(scope, 'card_1')).rejects.toThrow(/countingStore is closed/)
  })

  it("finds a class's methods on its prototype, and calls them with the store as this", async () => {
    const { get: _, ...rest } = countingStore().store
    class ClassStore {
      readonly held = 'card_1'
      async get(_scope: CardScope, cardId: string) {
        return cardId === this.held ? ({ id: cardId } as never) : null
      }
    }
    const instance = Object.assign(new ClassStore(), rest) as unknown as CardStore
    const store = closableStore('classStore', instance)
    await expect(store.get(scope, 'card_1')).resolves.toEqual({ id: 'card_1' })
    await store.close()
    await expect(store.get(scope, 'card_1')).rejects.toThrow(/classStore is closed/)
  })
})

/** Lets `count` turns of the event loop go by. */
async function nextTurns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve))
}
