import { createHash } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { type Card, EMPTY_ADDRESS, type Owner } from './card.js'
import { isCardportError } from './errors.js'
import {
  type CursorState,
  decodeCursor,
  encodeCursor,
  listAll,
  type Page,
  TO_ARRAY_HARD_CAP,
  toArray,
} from './pagination.js'
import type { ListOptions } from './provider.js'

const owner: Owner = { type: 'customer', id: 'cus_many' }

describe('listAll options', () => {
  it.each([
    ['a page size of 0', { pageSize: 0 }],
    ['a page size of 101', { pageSize: 101 }],
    ['a page size of 1.5', { pageSize: 1.5 }],
    // Misspelt, it would page 100 at a time while the caller meant another size.
    ['a misspelt option', { page_size: 10 }],
    ['a signal that is not one', { signal: 'stop' }],
  ])('refuses %s with invalid_request before any request', async (_label, options) => {
    const provider = lazyProvider(10)
    const error = await listAll(provider, owner, options as never)
      .next()
      .then(
        () => undefined,
        (caught: unknown) => caught,
      )
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect(error).toMatchObject({ provider: 'lazy' })
    expect(provider.calls).toEqual([])
  })
})

describe('listAll over thousands of cards', () => {
  it('streams 5,000 cards across 50 pages, in order, each once', async () => {
    const provider = lazyProvider(5000)
    let count = 0
    let previous = -1
    for await (const card of listAll(provider, owner)) {
      const index = Number(card.id.slice('card_'.length))
      expect(index).toBe(previous + 1)
      previous = index
      count++
    }
    expect(count).toBe(5000)
    expect(provider.calls).toHaveLength(50)
    expect(provider.calls.every((call) => call.limit === 100)).toBe(true)
    expect(provider.calls[0]?.cursor).toBeUndefined()
    expect(provider.calls[1]?.cursor).toBe(encodeCursor('lazy', { offset: 100 }))
  })

  it('requests exactly one page before the consumer has finished the first', async () => {
    const provider = lazyProvider(5000)
    const iterator = listAll(provider, owner)[Symbol.asyncIterator]()
    expect(provider.calls).toHaveLength(0)
    const first = await iterator.next()
    expect(first.value?.id).toBe('card_0')
    expect(provider.calls).toHaveLength(1)
    for (let taken = 1; taken < 100; taken++) {
      await iterator.next()
      expect(provider.calls).toHaveLength(1)
    }
    const hundredFirst = await iterator.next()
    expect(hundredFirst.value?.id).toBe('card_100')
    expect(provider.calls).toHaveLength(2)
    await iterator.return?.()
  })

  it('asks for page N+1 only after the consumer took all of page N', async () => {
    const provider = lazyProvider(5000)
    let consumed = 0
    provider.onCall = () => provider.consumedAtCall.push(consumed)
    for await (const _card of listAll(provider, owner)) consumed++
    expect(consumed).toBe(5000)
    expect(provider.consumedAtCall).toEqual(Array.from({ length: 50 }, (_, page) => page * 100))
  })

  it('holds no more than one page: earlier pages are garbage-collected', async () => {
    const gc = exposeGc()
    const provider = lazyProvider(2000)
    const pages: Array<WeakRef<Card[]>> = []
    provider.onPage = (_index, page) => pages.push(new WeakRef(page.data))
    let alive: number[] = []
    for await (const item of listAll(provider, owner)) {
      if (item.id !== 'card_1000') continue
      // WeakRefs keep their targets until the current job ends: yield to the event loop first.
      await new Promise((resolve) => setImmediate(resolve))
      gc()
      alive = pages.flatMap((ref, index) => (ref.deref() === undefined ? [] : [index]))
    }
    expect(pages).toHaveLength(20)
    expect(alive).toEqual([10])
  })

  it('passes the page size it is given', async () => {
    const provider = lazyProvider(20)
    const cards = await toArray(listAll(provider, owner, { pageSize: 7 }), { limit: 100 })
    expect(cards).toHaveLength(20)
    expect(provider.calls.map((call) => call.limit)).toEqual([7, 7, 7])
  })

  it('makes one request for an owner with no cards', async () => {
    const provider = lazyProvider(0)
    expect(await toArray(listAll(provider, owner), { limit: 10 })).toEqual([])
    expect(provider.calls).toHaveLength(1)
  })

  it('stops between pages when its signal is aborted', async () => {
    const provider = lazyProvider(500)
    const controller = new AbortController()
    let consumed = 0
    const run = async () => {
      for await (const _card of listAll(provider, owner, { signal: controller.signal })) {
        consumed++
        if (consumed === 100) controller.abort()
      }
    }
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' })
    expect(consumed).toBe(100)
    expect(provider.calls).toHaveLength(1)
  })

  it("does not wait for a page on its way when its signal aborts: it throws the signal's reason", async () => {
    const controller = new AbortController()
    const reason = new Error('interrupted')
    let answer!: (page: Page<Card>) => void
    // A request that hangs until its timeout: it answers only when the test says so.
    const hanging = {
      name: 'hanging',
      listCards: () =>
        new Promise<Page<Card>>((resolve) => {
          answer = resolve
        }),
    }
    const next = listAll(hanging, owner, { signal: controller.signal })[Symbol.asyncIterator]()
    const first = next.next()
    controller.abort(reason)
    await expect(first).rejects.toBe(reason)
    // Its answer, arriving later, goes nowhere.
    answer({ data: [], hasMore: false, nextCursor: null })
    expect(await next.next()).toEqual({ done: true, value: undefined })
  })

  it('fails with provider_unavailable, not retryable, when a page says more follow but gives no cursor', async () => {
    const provider = {
      name: 'broken',
      listCards: async (): Promise<Page<Card>> => ({
        data: [card(0), card(1)],
        hasMore: true,
        nextCursor: null,
      }),
    }
    const seen: string[] = []
    let thrown: unknown
    try {
      for await (const item of listAll(provider, owner)) seen.push(item.id)
    } catch (error) {
      thrown = error
    }
    expect(seen).toEqual(['card_0', 'card_1'])
    // An answer cardport cannot read, as defineCardProvider reports an unreadable card: the
    // caller's request was fine, and asking again gives the same page.
    expect(isCardportError(thrown, 'provider_unavailable')).toBe(true)
    expect(thrown).toMatchObject({ provider: 'broken', retryable: false })
    expect((thrown as Error).message).toBe(
      "broken said more cards follow but gave no cursor: report this to the adapter's authors",
    )
  })

  it('fails with provider_unavailable, not retryable, when a cursor leads to itself', async () => {
    let calls = 0
    const provider = {
      name: 'stuck',
      // The first page moves on to `c1`; `c1` answers with `c1` again, for ever.
      listCards: async (): Promise<Page<Card>> => {
        calls++
        return { data: [card(calls)], hasMore: true, nextCursor: 'c1' }
      },
    }
    const seen: string[] = []
    const thrown = await (async () => {
      for await (const item of listAll(provider, owner)) seen.push(item.id)
    })().catch((error: unknown) => error)
    expect(calls).toBe(2)
    expect(seen).toEqual(['card_1', 'card_2'])
    expect(thrown).toMatchObject({ code: 'provider_unavailable', retryable: false })
    expect((thrown as Error).message).toBe(
      "stuck gave the same cursor for the next page as for this one: report this to the adapter's authors",
    )
  })

  it.each([
    ['two', ['c1', 'c2']],
    ['three', ['c1', 'c2', 'c3']],
  ])(
    'fails with provider_unavailable, not retryable, when %s cursors go round in a cycle',
    async (_label, cycle) => {
      const asked: (string | undefined)[] = []
      const provider = {
        name: 'circling',
        // The first page leads to c1, and each cursor to the next one of the cycle, the last back
        // to c1: each page's cursor differs from the one it was asked with.
        listCards: async (_owner: Owner, options: ListOptions = {}): Promise<Page<Card>> => {
          asked.push(options.cursor)
          // Its answers settle at once, so a listing that went round for ever would never give
          // the event loop a turn, and the test's timeout could not end it: this does.
          if (asked.length > 20) throw new Error('still listing after 20 pages')
          const at = options.cursor === undefined ? -1 : cycle.indexOf(options.cursor)
          const next = cycle[(at + 1) % cycle.length] as string
          return { data: [card(asked.length)], hasMore: true, nextCursor: next }
        },
      }
      const seen: string[] = []
      const thrown = await (async () => {
        for await (const item of listAll(provider, owner)) seen.push(item.id)
      })().catch((error: unknown) => error)
      // Each cursor asked for once, then the one leading back to c1 ends the listing.
      expect(asked).toEqual([undefined, ...cycle])
      expect(seen).toHaveLength(cycle.length + 1)
      expect(isCardportError(thrown, 'provider_unavailable')).toBe(true)
      expect(thrown).toMatchObject({ provider: 'circling', retryable: false })
      expect((thrown as Error).message).toBe(
        "circling gave a cursor for the next page that an earlier page of this list gave already, so its pages go round in a cycle: report this to the adapter's authors",
      )
    },
  )

  it('ends when a page says no more follow, whatever its cursor', async () => {
    let calls = 0
    const provider = {
      name: 'lax',
      listCards: async (): Promise<Page<Card>> => {
        calls++
        return { data: [card(0)], hasMore: false, nextCursor: 'ignored' }
      },
    }
    expect(await toArray(listAll(provider, owner), { limit: 10 })).toHaveLength(1)
    expect(calls).toBe(1)
  })
})

describe('toArray', () => {
  it.each([
    ['missing', undefined],
    ['0', 0],
    ['negative', -1],
    ['10,001', 10_001],
    ['fractional', 2.5],
    ['NaN', Number.NaN],
  ])('refuses a limit that is %s with invalid_request', async (_label, limit) => {
    const provider = lazyProvider(10)
    const options = { limit } as { limit: number }
    const error = await toArray(listAll(provider, owner), options).catch((caught) => caught)
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect((error as Error).message).toBe(
      'toArray needs a limit between 1 and 10000; iterate with for await to go further',
    )
    expect(provider.calls).toHaveLength(0)
  })

  it('refuses a call without options (from JavaScript) with invalid_request, not a TypeError', async () => {
    const provider = lazyProvider(10)
    const call = toArray as (
      iterable: AsyncIterable<unknown>,
      options?: unknown,
    ) => Promise<unknown>
    const error = await call(listAll(provider, owner)).catch((caught) => caught)
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect(provider.calls).toHaveLength(0)
  })

  it('refuses an option other than limit, before the iterable is read', async () => {
    const provider = lazyProvider(10)
    const options = { limit: 5, limt: 1 } as { limit: number }
    const error = await toArray(listAll(provider, owner), options).catch((caught) => caught)
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect((error as Error).message).toBe(
      'Invalid toArray options: unknown option "limt": the options are limit',
    )
    expect(provider.calls).toHaveLength(0)
  })

  it('requires the limit in its type', async () => {
    const empty = (async function* () {})()
    // @ts-expect-error the limit is required
    await expect(toArray(empty, {})).rejects.toMatchObject({ code: 'invalid_request' })
  })

  it('stops at the limit and requests no page past it', async () => {
    const provider = lazyProvider(5000)
    const cards = await toArray(listAll(provider, owner), { limit: 150 })
    expect(cards).toHaveLength(150)
    expect(cards.at(-1)?.id).toBe('card_149')
    expect(provider.calls).toHaveLength(2)
  })

  it('closes the iterable when it stops early', async () => {
    let closed = false
    async function* numbers() {
      try {
        for (let n = 0; ; n++) yield n
      } finally {
        closed = true
      }
    }
    expect(await toArray(numbers(), { limit: 3 })).toEqual([0, 1, 2])
    expect(closed).toBe(true)
  })

  it('accepts the hard cap and returns everything when there is less', async () => {
    expect(TO_ARRAY_HARD_CAP).toBe(10_000)
    const cards = await toArray(listAll(lazyProvider(250), owner), { limit: TO_ARRAY_HARD_CAP })
    expect(cards).toHaveLength(250)
  })

  it('collects exactly the hard cap from a larger list', async () => {
    const cards = await toArray(listAll(lazyProvider(12_000), owner), {
      limit: TO_ARRAY_HARD_CAP,
    })
    expect(cards).toHaveLength(10_000)
  })
})

describe('encodeCursor / decodeCursor', () => {
  it('round-trips the paging state', () => {
    const state = { offset: 200, after: 'card_1NGTaT2eZvKYlo2CZWSctn5n' }
    const cursor = encodeCursor('stripe', state)
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{12}$/) // safe in a URL as it is
    expect(decodeCursor('stripe', cursor)).toEqual(state)
  })

  it("refuses another provider's cursor", () => {
    const cursor = encodeCursor('stripe', { offset: 10 })
    const error = catchError(() => decodeCursor('marketplace', cursor))
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect(error).toMatchObject({ provider: 'marketplace' })
    expect((error as Error).message).toBe(
      'this cursor was not made by marketplace: pass the nextCursor of a page marketplace returned',
    )
  })

  it('refuses a cursor made for another list once a list is named', () => {
    const cursor = encodeCursor('stripe', { after: 'card_1' }, { list: 'customer:cus_1' })
    expect(decodeCursor('stripe', cursor, { list: 'customer:cus_1' })).toEqual({ after: 'card_1' })
    for (const list of ['customer:cus_2', 'account:cus_1', '']) {
      const error = catchError(() => decodeCursor('stripe', cursor, { list }))
      expect(isCardportError(error, 'invalid_request'), list).toBe(true)
      expect(error).toMatchObject({ provider: 'stripe' })
      expect((error as Error).message).toBe(
        'this cursor belongs to another list: pass the nextCursor of a page of the same list',
      )
    }
    // A cursor made for no list is another list's too, once the reader names one.
    const unscoped = encodeCursor('stripe', { after: 'card_1' })
    expect(isCardportError(catchError(() => decodeCursor('stripe', unscoped, { list: '' })))).toBe(
      true,
    )
  })

  it('refuses an option it does not know: a misspelt list would skip the owner check', () => {
    const cursor = encodeCursor('stripe', { after: 'card_1' }, { list: 'customer:cus_A' })
    const misspelt = catchError(() =>
      decodeCursor('stripe', cursor, { lists: 'customer:cus_B' } as never),
    )
    expect(isCardportError(misspelt, 'invalid_request')).toBe(true)
    expect(misspelt).toMatchObject({ provider: 'stripe' })
    expect((misspelt as Error).message).toBe(
      'Invalid decodeCursor options: unknown option "lists": the options are list, read',
    )
    const encoding = catchError(() => encodeCursor('stripe', { a: 1 }, { lst: 'x' } as never))
    expect(isCardportError(encoding, 'invalid_request')).toBe(true)
    expect((encoding as Error).message).toBe(
      'Invalid encodeCursor options: unknown option "lst": the options are list',
    )
    // A list or a read of the wrong type is refused too, not sealed or called.
    for (const options of [{ list: 42 }, { read: 'offset' }]) {
      expect(
        isCardportError(catchError(() => decodeCursor('stripe', cursor, options as never))),
      ).toBe(true)
    }
    expect(
      isCardportError(catchError(() => encodeCursor('stripe', {}, { list: 1 } as never))),
    ).toBe(true)
  })

  it('reads the state through `read`, and refuses a state it does not take', () => {
    const read = ({ offset }: Record<string, string | number>) =>
      typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0 ? offset : undefined
    expect(decodeCursor('marketplace', encodeCursor('marketplace', { offset: 20 }), { read })).toBe(
      20,
    )
    for (const offset of [-1, 1.5, 1e20, '20']) {
      const cursor = encodeCursor('marketplace', { offset })
      const error = catchError(() => decodeCursor('marketplace', cursor, { read }))
      expect(isCardportError(error, 'invalid_request'), String(offset)).toBe(true)
      expect((error as Error).message).toBe(
        'this cursor was not made by marketplace: pass the nextCursor of a page marketplace returned',
      )
    }
  })

  it('refuses a cursor changed or cut on its way, in any character', () => {
    const cursor = encodeCursor(
      'stripe',
      { after: 'card_1MvoXJ2eZvKYlo2C' },
      { list: 'customer:cus_1' },
    )
    const read = (state: CursorState) => state
    expect(decodeCursor('stripe', cursor, { list: 'customer:cus_1', read })).toEqual({
      after: 'card_1MvoXJ2eZvKYlo2C',
    })
    const changed = [...cursor].map((character, index) => {
      const other = character === 'A' ? 'B' : 'A'
      return cursor.slice(0, index) + other + cursor.slice(index + 1)
    })
    const damaged = [
      ...changed,
      `${cursor}!!`,
      `${cursor} `,
      `!${cursor}`,
      cursor.slice(0, -1),
      cursor.slice(1),
      cursor.slice(0, cursor.indexOf('.')),
      // The state a hand-made cursor would hold, without the checksum.
      Buffer.from(JSON.stringify({ p: 'stripe', l: 'customer:cus_1', s: { after: 'x' } })).toString(
        'base64url',
      ),
    ]
    for (const cursor of damaged) {
      const error = catchError(() => decodeCursor('stripe', cursor, { list: 'customer:cus_1' }))
      expect(isCardportError(error, 'invalid_request'), cursor).toBe(true)
    }
  })

  it.each([
    ['garbage', 'not a cursor!'],
    ['empty', ''],
    ['base64 of text', Buffer.from('hello').toString('base64url')],
    ['JSON null', base64Json(null)],
    ['a number', base64Json(42)],
    ['no state', base64Json({ p: 'stripe' })],
    ['a null state', base64Json({ p: 'stripe', s: null })],
    ['an array state', base64Json({ p: 'stripe', s: [1, 2] })],
    ['a nested state', base64Json({ p: 'stripe', s: { offset: { $gt: 1 } } })],
    ['no provider', base64Json({ s: { offset: 1 } })],
  ])('refuses %s with invalid_request', (_label, cursor) => {
    const error = catchError(() => decodeCursor('stripe', cursor))
    expect(isCardportError(error, 'invalid_request')).toBe(true)
  })
})

interface LazyProvider {
  readonly name: string
  readonly calls: ListOptions[]
  readonly consumedAtCall: number[]
  onCall?: () => void
  onPage?: (index: number, page: Page<Card>) => void
  listCards(owner: Owner, options?: ListOptions): Promise<Page<Card>>
}

/** A provider with `total` cards that builds each page only when asked, and keeps none. */
function lazyProvider(total: number): LazyProvider {
  const provider: LazyProvider = {
    name: 'lazy',
    calls: [],
    consumedAtCall: [],
    async listCards(_owner, options = {}) {
      provider.calls.push({ ...options })
      provider.onCall?.()
      const limit = options.limit ?? 10
      const offset =
        options.cursor === undefined ? 0 : Number(decodeCursor('lazy', options.cursor).offset)
      const end = Math.min(offset + limit, total)
      const data = Array.from({ length: end - offset }, (_, index) => card(offset + index))
      const page: Page<Card> = {
        data,
        hasMore: end < total,
        nextCursor: end < total ? encodeCursor('lazy', { offset: end }) : null,
      }
      provider.onPage?.(offset / limit, page)
      return page
    },
  }
  return provider
}

function card(index: number): Card {
  return {
    id: `card_${index}`,
    provider: 'lazy',
    owner,
    brand: 'visa',
    last4: String(index % 10_000).padStart(4, '0'),
    expMonth: 12,
    expYear: 2030,
    holderName: null,
    address: EMPTY_ADDRESS,
    country: null,
    fingerprint: null,
    funding: 'unknown',
    checks: { cvc: null, addressLine1: null, postalCode: null },
    currency: null,
    isDefault: index === 0,
    status: 'active',
    metadata: {},
    createdAt: null,
  }
}

/** V8's gc(), exposed at run time so that the test needs no special node flags. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

/** `value` as a cursor's payload, with the checksum `encodeCursor` writes: past that check. */
function base64Json(value: unknown): string {
  const payload = Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${payload}.${createHash('sha256').update(payload).digest('base64url').slice(0, 12)}`
}

function catchError(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected a throw')
}
