import { type CardportError, createCardSync, isCardportError, memoryStore } from '@cardport/core'
import {
  type EmulatorServer,
  marketplaceAuthorization,
  marketplaceEmulator,
  sampleCard,
  startEmulatorServer,
} from '@cardport/testing'
import { HttpResponse, http } from 'msw'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { testCard } from './__fixtures__/conformance-fixture.js'
import {
  listAllMarketplaceCards,
  listMarketplaceCards,
  type MarketplaceProvider,
  marketplaceProvider,
  tokenizeCard,
} from './marketplace-provider.js'

/** The owners the marketplace holds cards for. */
type AccountOwner = { type: 'account'; id: string }

// Faults over a real loopback socket, through the provider's own undici Agent: a dropped
// connection is a destroyed socket here, and Retry-After a real response header.

let server: EmulatorServer
const providers: MarketplaceProvider[] = []
/** The requests to hold at the server, in order of arrival (see {@link holdNextRequest}). */
const holds: { arrived: () => void; released: Promise<void> }[] = []
beforeAll(async () => {
  const marketplace = marketplaceEmulator()
  // Ahead of the emulator's own handlers: a request it holds answers nothing, so MSW goes on
  // to the emulator's handler once it is released.
  const hold = http.all('*', async () => {
    const held = holds.shift()
    if (!held) return
    held.arrived()
    await held.released
  })
  // A server other than the emulator, for what it never answers (see {@link standIn}).
  const stand = http.all('*', ({ request }) => {
    for (const answer of standIns) {
      const response = answer(request)
      if (response) return response
    }
  })
  server = await startEmulatorServer({
    emulators: [{ ...marketplace, handlers: [hold, stand, ...marketplace.handlers] }],
  })
})
afterEach(async () => {
  vi.restoreAllMocks()
  holds.splice(0)
  standIns.splice(0)
  await Promise.all(providers.splice(0).map((provider) => provider.close()))
  server.reset()
})

/**
 * Holds the next request at the server, before the emulator sees it, until `release()`: the
 * test knows that the request is in flight (`arrived`) and decides when it is answered, however
 * slow the machine.
 */
function holdNextRequest(): { arrived: Promise<void>; release: () => void } {
  let arrived!: () => void
  let release!: () => void
  const arrival = new Promise<void>((resolve) => {
    arrived = resolve
  })
  const released = new Promise<void>((resolve) => {
    release = resolve
  })
  holds.push({ arrived, released })
  return { arrived: arrival, release }
}
afterAll(() => server.close())

/** What answers a request ahead of the emulator: a response, or undefined to let it through. */
type StandIn = (request: Request) => Response | undefined
/** The stand-ins of the test running, tried in order (see {@link standIn}). */
const standIns: StandIn[] = []

/**
 * Answers the requests `route` matches (`METHOD /path`) with `status`, `body` as it is (its bytes
 * as given, a byte order mark included) and an `X-Request-Id` of `requestId`, in place of the
 * emulator: what a server unlike it answers. Every later request of the route, until the test
 * ends.
 */
function standIn(route: RegExp, status: number, body: string, requestId: string): void {
  standIns.push((request) => {
    if (!route.test(`${request.method} ${new URL(request.url).pathname}`)) return undefined
    return new HttpResponse(body, {
      status,
      headers: { 'Content-Type': 'application/json', 'X-Request-Id': requestId },
    })
  })
}

function setup() {
  const marketplace = server.marketplace!
  const waits: number[] = []
  const provider = marketplaceProvider({
    baseUrl: server.url,
    marketplaceId: marketplace.marketplaceId,
    secret: marketplace.secret,
    retry: {
      sleep: async (ms) => {
        waits.push(ms)
      },
      random: () => 0,
    },
  })
  providers.push(provider)
  const owner: AccountOwner = { type: 'account', id: marketplace.seed.account().id }
  return { marketplace, provider, owner, waits }
}

async function rejection(run: () => Promise<unknown>): Promise<CardportError> {
  try {
    await run()
  } catch (error) {
    if (isCardportError(error)) return error
    throw error
  }
  throw new Error('expected a rejection')
}

describe('over real HTTP', () => {
  it('a GET is retried after the server drops the connection', async () => {
    const { marketplace, provider, owner, waits } = setup()
    const card = await provider.createCard(owner, { source: testCard('4111111111111111') })
    marketplace.faults.inject({
      route: 'GET /v1/marketplaces/:marketplace/accounts/:account/cards/:card',
      drop: 'before-commit',
    })
    expect(await provider.getCard(owner, card.id)).toEqual(card)
    expect(waits).toHaveLength(1)
  })

  it('a dropped POST is not retried: provider_unavailable', async () => {
    const { marketplace, provider, owner } = setup()
    marketplace.faults.inject({
      route: 'POST /v1/marketplaces/:marketplace/cards',
      drop: 'before-commit',
    })
    const error = await rejection(() =>
      provider.createCard(owner, { source: testCard('4111111111111111') }),
    )
    expect(error.code).toBe('provider_unavailable')
    expect(marketplace.state.requests()).toHaveLength(1)
  })

  it("a 429's Retry-After header is honoured", async () => {
    const { marketplace, provider, owner, waits } = setup()
    marketplace.faults.inject({ status: 429, retryAfter: 3 })
    expect((await provider.listCards(owner)).data).toEqual([])
    expect(waits).toEqual([3000])
  })

  it('error bodies keep their request id from the real response', async () => {
    const { marketplace, provider, owner } = setup()
    const error = await rejection(() =>
      provider.createCard(owner, { source: testCard('4444444444444448') }),
    )
    expect(error.code).toBe('card_declined')
    expect(error.requestId).toBe(marketplace.state.requests().at(-1)?.requestId)
  })
})

describe('close()', () => {
  it('lets the requests in flight finish, then refuses every call at once, and closes twice without fault', async () => {
    const { marketplace, provider, owner, waits } = setup()
    const card = await provider.createCard(owner, { source: testCard('4111111111111111') })
    const held = holdNextRequest()
    const inFlight = provider.listCards(owner)
    // The request is at the server, which answers it only once close() was called: close()
    // must wait for it (the Agent closes gracefully).
    await held.arrived
    let closed = false
    const closing = provider.close().then(() => {
      closed = true
    })
    const refusedWhileClosing = await rejection(() => provider.getCard(owner, card.id))
    expect(closed).toBe(false)
    held.release()
    expect((await inFlight).data).toEqual([card])
    await closing
    await expect(provider.close()).resolves.toBeUndefined()

    const before = marketplace.state.requests().length
    const calls = [
      () => provider.getCard(owner, card.id),
      () => provider.listCards(owner),
      () => provider.getDefaultCard(owner),
      () => provider.createCard(owner, { source: testCard('4111111111111111') }),
      () => provider.updateCard(owner, card.id, { metadata: { a: 'b' } }),
      () => provider.invalidateCard(owner, card.id),
    ]
    for (const error of [refusedWhileClosing, ...(await Promise.all(calls.map(rejection)))]) {
      // Not "the connection failed (UND_ERR_DESTROYED); retry later", after retries that
      // cannot succeed: the mistake is the caller's, and it says so.
      expect(error).toMatchObject({ code: 'invalid_request', retryable: false })
      expect(error.message).toMatch(/marketplaceProvider is closed/)
    }
    expect(marketplace.state.requests().length).toBe(before)
    expect(waits).toEqual([])
  })

  it.each([
    ['a call', (provider: MarketplaceProvider, owner: AccountOwner) => provider.listCards(owner)],
    // Its wait ends with the call's signal or with close(), whichever comes first.
    [
      'a call with its own signal (listAllMarketplaceCards)',
      async (provider: MarketplaceProvider) => {
        const signal = new AbortController().signal
        for await (const _ of listAllMarketplaceCards(provider, { signal })) {
          // no card: the first page is answered 429
        }
      },
    ],
  ] as const)(
    'ends the wait before a retry (a Retry-After) of %s at once when close() is called',
    async (_name, call) => {
      const marketplace = server.marketplace!
      // The provider's own waits, not the test's: a Retry-After of an hour is waited in full, far
      // past the test's timeout, so that only close() can end the call in time. No duration is
      // measured.
      const hour = 3_600_000
      const provider = marketplaceProvider({
        baseUrl: server.url,
        marketplaceId: marketplace.marketplaceId,
        secret: marketplace.secret,
        retry: { maxDelayMs: hour },
      })
      providers.push(provider)
      const owner: AccountOwner = { type: 'account', id: marketplace.seed.account().id }
      marketplace.faults.inject({ status: 429, retryAfter: hour / 1000 })
      const timers = vi.spyOn(globalThis, 'setTimeout')
      const waiting = rejection(() => call(provider, owner))
      // The 429 is read and the provider waits the hour it asked for.
      // (vi.waitFor's own default gives up after a second, which a slow machine can take.)
      await vi.waitFor(() => expect(timers).toHaveBeenCalledWith(expect.any(Function), hour), {
        timeout: 15_000,
        interval: 5,
      })
      await provider.close()
      const error = await waiting
      expect(error).toMatchObject({ code: 'invalid_request', retryable: false })
      expect(marketplace.state.requests()).toHaveLength(1)
    },
  )

  it('does not retry a GET that failed in flight once close() was called', async () => {
    const { marketplace, provider, owner, waits } = setup()
    marketplace.faults.inject({ status: 503 })
    const held = holdNextRequest()
    const inFlight = rejection(() => provider.listCards(owner))
    // The 503 is answered only once close() was called.
    await held.arrived
    const closing = provider.close()
    held.release()
    await Promise.all([closing, inFlight])
    expect((await inFlight).code).toBe('provider_unavailable')
    expect(waits).toEqual([])
  })
})

describe('answers that are no resource (a proxy or a gateway in the way)', () => {
  /** Every request answered with `body` from now on. */
  const answerAll = (status: number, body: string) =>
    server.marketplace!.faults.inject({ status, body, times: Number.POSITIVE_INFINITY })

  it.each(['{}', 'null', '[]', '"ok"', '{"items":[]}'])(
    '200 %s: provider_unavailable, never "no such card" nor "no cards"',
    async (body) => {
      const { provider, owner } = setup()
      answerAll(200, body)
      for (const call of [
        () => provider.getCard(owner, 'CC_1'),
        () => provider.listCards(owner),
        () => provider.getDefaultCard(owner),
      ]) {
        expect((await rejection(call)).code).toBe('provider_unavailable')
      }
    },
  )

  // Another resource than the one asked for (found on 2026-12-03): read as "no such card",
  // CardSync.sync removed the local copy. The marketplace answers a card it lacks with a 404.
  it.each([
    '{"_type":"account","id":"AC1"}',
    '{"_type":"customer","id":"CU1"}',
    '{"_type":"bank_account","id":"BA1","account":{"id":"AC1"}}',
    '{"_type":"account","id":"AC1","items":[],"offset":0,"total":0}',
  ])('200 %s: provider_unavailable, never "no such card" nor "no cards"', async (body) => {
    const { provider, owner } = setup()
    answerAll(200, body)
    for (const call of [
      () => provider.getCard(owner, 'CC_1'),
      () => provider.listCards(owner),
      () => provider.getDefaultCard(owner),
      () => provider.updateCard(owner, 'CC_1', { metadata: { a: 'b' } }),
      () => provider.invalidateCard(owner, 'CC_1'),
    ]) {
      expect(await rejection(call)).toMatchObject({
        code: 'provider_unavailable',
        retryable: false,
      })
    }
  })

  it('a server stuck on one page is refused, not paged until its total', async () => {
    const { marketplace, provider, owner } = setup()
    await provider.createCard(owner, { source: testCard('4111111111111111') })
    const first = await fetch(
      `${server.url}/v1/marketplaces/${marketplace.marketplaceId}/accounts/${owner.id}/cards?limit=1&offset=0`,
      { headers: { authorization: marketplaceAuthorization(marketplace.secret) } },
    ).then((answer) => answer.json() as Promise<{ uri: string; items: object[] }>)
    // The first page whatever the offset, claiming 19,644 cards and a next page; without the
    // embedded customer, getDefaultCard pages through the cards to find the default.
    const items = first.items.map(({ customer: _, ...card }: { customer?: unknown }) => card)
    const next_uri = first.uri.replace('offset=0', 'offset=1')
    answerAll(200, JSON.stringify({ ...first, items, total: 19_644, next_uri }))
    const before = marketplace.state.requests().length
    expect((await rejection(() => provider.getDefaultCard(owner))).code).toBe(
      'provider_unavailable',
    )
    expect(marketplace.state.requests().length - before).toBe(3)
  })

  it.each(['{}', '{"_type":"account","id":"AC1"}'])(
    'CardSync keeps the local cards when 200 %s comes back',
    async (body) => {
      const { provider, owner } = setup()
      const store = memoryStore()
      await store.upsert({ ...sampleCard('CC_1', owner), provider: 'marketplace', isDefault: true })
      const sync = createCardSync({ provider, store, retry: { retries: 0 } })
      answerAll(200, body)
      expect((await rejection(() => sync.sync(owner, 'CC_1'))).code).toBe('provider_unavailable')
      const report = await sync.reconcile(owner)
      expect(report.failed).toMatchObject([{ owner, code: 'provider_unavailable' }])
      expect(report.removed).toEqual([])
      expect(await store.listByOwner({ provider: 'marketplace', owner })).toMatchObject([
        { id: 'CC_1', isDefault: true },
      ])
    },
  )
})

describe('a page without next_uri: hasMore from its total', () => {
  /**
   * The account's page at `offset` as the emulator answers it, without `next_uri` (which a
   * server need not send): the provider then reads `total` to know whether more follow.
   */
  async function pageWithoutNextUri(ownerId: string, limit: number, offset: number) {
    const marketplace = server.marketplace!
    const page = await fetch(
      `${server.url}/v1/marketplaces/${marketplace.marketplaceId}/accounts/${ownerId}/cards?limit=${limit}&offset=${offset}`,
      { headers: { authorization: marketplaceAuthorization(marketplace.secret) } },
    ).then((answer) => answer.json() as Promise<Record<string, unknown>>)
    const { next_uri: _, ...rest } = page
    return rest
  }
  const route = 'GET /v1/marketplaces/:marketplace/accounts/:account/cards'

  /** Two cards, and the first page of `limit` of them answered without its `next_uri`. */
  async function twoCardsPagedWithoutNextUri(limit: number) {
    const { marketplace, provider, owner } = setup()
    const first = await provider.createCard(owner, { source: testCard('4111111111111111') })
    const second = await provider.createCard(owner, { source: testCard('5105105105105100') })
    const page = await pageWithoutNextUri(owner.id, limit, 0)
    expect(page).toMatchObject({ offset: 0, total: 2 })
    marketplace.faults.inject({ route, body: JSON.stringify(page) })
    return { marketplace, provider, owner, first, second }
  }

  it('a page whose items reach the total has no more, and no next cursor', async () => {
    const { marketplace, provider, owner, first, second } = await twoCardsPagedWithoutNextUri(2)
    const listed = await provider.listCards(owner, { limit: 2 })
    expect(listed.data.map((card) => card.id)).toEqual([first.id, second.id])
    expect(listed).toMatchObject({ hasMore: false, nextCursor: null })
    // The page read was the one without next_uri.
    expect(marketplace.faults.fired).toEqual([1])
  })

  it('a page short of the total has more, and its cursor reads the rest', async () => {
    const { marketplace, provider, owner, first, second } = await twoCardsPagedWithoutNextUri(1)
    const listed = await provider.listCards(owner, { limit: 1 })
    expect(listed).toMatchObject({ data: [{ id: first.id }], hasMore: true })
    expect(marketplace.faults.fired).toEqual([1])
    const rest = await provider.listCards(owner, { limit: 1, cursor: listed.nextCursor! })
    expect(rest.data.map((card) => card.id)).toEqual([second.id])
  })

  // Its total says five more, but a page of nothing moves no offset on: its cursor would ask for
  // the same page again, for ever.
  it('a page of no items has no more, whatever its total says', async () => {
    const { marketplace, provider, owner } = setup()
    marketplace.faults.inject({
      route,
      body: JSON.stringify({ _type: 'page', items: [], offset: 0, limit: 10, total: 5 }),
    })
    const listed = await provider.listCards(owner, { limit: 10 })
    expect(listed).toEqual({ data: [], hasMore: false, nextCursor: null })
    expect(marketplace.faults.fired).toEqual([1])
  })
})

/** The card `id` of the account `ownerId`, as the emulator answers it: its JSON text. */
async function cardAnswer(ownerId: string, id: string): Promise<string> {
  const marketplace = server.marketplace!
  const answer = await fetch(
    `${server.url}/v1/marketplaces/${marketplace.marketplaceId}/accounts/${ownerId}/cards/${id}`,
    { headers: { authorization: marketplaceAuthorization(marketplace.secret) } },
  )
  expect(answer.status).toBe(200)
  return answer.text()
}

const TOKENIZE = /^POST \/v1\/marketplaces\/[^/]+\/cards$/
const ACCOUNT_CARD = /^(GET|PUT) \/v1\/marketplaces\/[^/]+\/accounts\/[^/]+\/cards\/[^/]+$/

describe('an answer that starts with a byte order mark (U+FEFF), as fetch and undici read it', () => {
  const BOM = '\uFEFF'

  it('a card is read as it would be without the mark', async () => {
    const { provider, owner } = setup()
    const card = await provider.createCard(owner, { source: testCard('4111111111111111') })
    standIn(ACCOUNT_CARD, 200, BOM + (await cardAnswer(owner.id, card.id)), 'OHMbom200')
    expect(await provider.getCard(owner, card.id)).toEqual(card)
  })

  it('an error keeps its category_code and request id: 409 card-not-validated is card_invalid, not conflict', async () => {
    const { provider, owner } = setup()
    const body = {
      status: 'Error',
      status_code: 409,
      category_code: 'card-not-validated',
      category_type: 'logical',
      description: 'Card not validated. Your request id is OHMbody409.',
      request_id: 'OHMbody409',
    }
    standIn(TOKENIZE, 409, BOM + JSON.stringify(body), 'OHMheader409')
    const error = await rejection(() =>
      provider.createCard(owner, { source: testCard('4111111111111111') }),
    )
    // The body's request id, not the header's: the body was read.
    expect(error).toMatchObject({
      code: 'card_invalid',
      providerCode: 'card-not-validated',
      status: 409,
      requestId: 'OHMbody409',
    })
  })

  it('one mark only: an answer with two is not JSON', async () => {
    const { provider, owner } = setup()
    const card = await provider.createCard(owner, { source: testCard('4111111111111111') })
    standIn(ACCOUNT_CARD, 200, BOM + BOM + (await cardAnswer(owner.id, card.id)), 'OHMbom2')
    const error = await rejection(() => provider.getCard(owner, card.id))
    expect(error).toMatchObject({ code: 'provider_unavailable', requestId: 'OHMbom2' })
    expect(error.message).toMatch(/not JSON/)
  })
})

describe('invalidateCard answered with the card still valid', () => {
  it('is provider_unavailable, not retried, and CardSync.deleteCard keeps the card active', async () => {
    const { marketplace, provider, owner, waits } = setup()
    const card = await provider.createCard(owner, { source: testCard('4111111111111111') })
    const store = memoryStore()
    const sync = createCardSync({ provider, store })
    await sync.sync(owner, card.id)
    // A server (or a cache in the way) that answers the PUT with the card unchanged.
    const unchanged = await cardAnswer(owner.id, card.id)
    expect(JSON.parse(unchanged)).toMatchObject({ is_valid: true })
    const puts = () => marketplace.state.requests().filter((entry) => entry.method === 'PUT')
    let answered = 0
    standIns.push((request) => {
      if (request.method !== 'PUT') return undefined
      answered++
      return new HttpResponse(unchanged, {
        status: 200,
        headers: { 'Content-Type': 'application/json', 'X-Request-Id': `OHMput${answered}` },
      })
    })

    const error = await rejection(() => provider.invalidateCard(owner, card.id))
    expect(error).toMatchObject({
      code: 'provider_unavailable',
      retryable: false,
      requestId: 'OHMput1',
    })
    expect(error.message).toMatch(/answered the invalidation of card .* with the card still valid/)
    expect(error.message).not.toMatch(/4111/)
    expect(answered).toBe(1)
    expect(waits).toEqual([])

    const refused = await rejection(() => sync.deleteCard(owner, card.id))
    expect(refused).toMatchObject({ code: 'provider_unavailable', requestId: 'OHMput2' })
    expect(await store.listByOwner({ provider: 'marketplace', owner })).toMatchObject([
      { id: card.id, status: 'active' },
    ])
    // The stand-in answered every PUT: the emulator never saw one, and holds the card valid.
    expect(puts()).toEqual([])
    expect(marketplace.state.card(card.id)).toMatchObject({ is_valid: true })
  })
})

describe('the Idempotency-Key header', () => {
  it('is never the same for two different requests, whatever keys the caller picks', async () => {
    const { provider, owner } = setup()
    const sent: string[] = []
    standIns.push((request) => {
      const key = request.headers.get('idempotency-key')
      if (key !== null) sent.push(key)
      return undefined
    })
    // createCard's tokenize step once went out as `order-7:tokenize`: the key of this
    // tokenizeCard, for another card.
    await provider.createCard(
      owner,
      { source: testCard('4111111111111111') },
      {
        idempotencyKey: 'order-7',
      },
    )
    await tokenizeCard(provider, testCard('5105105105105100'), {
      idempotencyKey: 'order-7:tokenize',
    })
    await tokenizeCard(provider, testCard('5105105105105100'), { idempotencyKey: 'order-7' })
    expect(new Set(sent).size).toBe(sent.length)
    expect(sent).toEqual([
      'tokenize:order-7',
      'associate:order-7',
      'tokenize-card:order-7:tokenize',
      'tokenize-card:order-7',
    ])
  })
})

describe('an answer refused as unreadable carries its request id, as its message asks', () => {
  /** A card of another account, as the account's list or a card route could answer it. */
  async function othersCard() {
    const { provider } = setup()
    const other: AccountOwner = { type: 'account', id: server.marketplace!.seed.account().id }
    const card = await provider.createCard(other, { source: testCard('5105105105105100') })
    return JSON.parse(await cardAnswer(other.id, card.id)) as Record<string, unknown>
  }
  const page = (items: unknown[]) =>
    JSON.stringify({ _type: 'page', offset: 0, limit: 10, total: items.length, items })
  const LIST = /^GET \/v1\/marketplaces\/[^/]+\/(accounts\/[^/]+\/)?cards$/

  it.each([
    ['getCard, answered {}', ACCOUNT_CARD, '{}', 'getCard'],
    ['updateCard, its PUT answered {}', /^PUT /, '{}', 'updateCard'],
    ['listCards, answered a page without its offset', LIST, '{"items":[]}', 'listCards'],
    ['tokenizeCard, answered {}', TOKENIZE, '{}', 'tokenizeCard'],
    ['listMarketplaceCards, answered {"items":[]}', LIST, '{"items":[]}', 'listMarketplaceCards'],
  ] as const)('%s', async (_name, route, body, operation) => {
    const { provider, owner } = setup()
    const card = await provider.createCard(owner, { source: testCard('4111111111111111') })
    standIn(route, 200, body, 'OHMunreadable')
    const calls = {
      getCard: () => provider.getCard(owner, card.id),
      updateCard: () => provider.updateCard(owner, card.id, { metadata: { a: 'b' } }),
      listCards: () => provider.listCards(owner),
      tokenizeCard: () => tokenizeCard(provider, testCard('4111111111111111')),
      listMarketplaceCards: () => listMarketplaceCards(provider),
    }
    const error = await rejection(calls[operation])
    expect(error).toMatchObject({
      code: 'provider_unavailable',
      retryable: false,
      requestId: 'OHMunreadable',
    })
    expect(error.message).toMatch(/cannot read .*report it with the request id/)
  })

  it("listCards, answered a page holding another account's card", async () => {
    const item = await othersCard()
    const { provider, owner } = setup()
    standIn(LIST, 200, page([item]), 'OHMmixed')
    const error = await rejection(() => provider.listCards(owner))
    expect(error).toMatchObject({ code: 'provider_unavailable', requestId: 'OHMmixed' })
    expect(error.message).toMatch(/cannot trust that page/)
  })

  it.each([
    ['tokenizeCard', TOKENIZE],
    ['listMarketplaceCards', LIST],
  ] as const)(
    '%s, answered a card the Card schema refuses (an expiry month of "April")',
    async (operation, route) => {
      const item = { ...(await othersCard()), account: null, expiration_month: 'April' }
      const { provider } = setup()
      standIn(route, 200, route === LIST ? page([item]) : JSON.stringify(item), 'OHMschema')
      const error = await rejection(() =>
        operation === 'tokenizeCard'
          ? tokenizeCard(provider, testCard('4111111111111111'))
          : listMarketplaceCards(provider),
      )
      expect(error).toMatchObject({ code: 'provider_unavailable', requestId: 'OHMschema' })
      expect(error.message).toContain(`returned a card cardport cannot read (${operation})`)
    },
  )
})

describe('an account list holding items that are no cards (a bank account)', () => {
  const LIST = /^GET \/v1\/marketplaces\/[^/]+\/accounts\/[^/]+\/cards$/
  const BANK = { _type: 'bank_account', id: 'BA1', account: { id: 'AC1' } }

  /**
   * The account's list answered from `items`, page by page as asked (`limit`, `offset`), with
   * `total` and no `next_uri`; the offsets asked for are kept in order.
   */
  function listOf(items: unknown[], total = items.length): number[] {
    const offsets: number[] = []
    standIns.push((request) => {
      const url = new URL(request.url)
      if (!LIST.test(`${request.method} ${url.pathname}`)) return undefined
      const limit = Number(url.searchParams.get('limit'))
      const offset = Number(url.searchParams.get('offset'))
      offsets.push(offset)
      return HttpResponse.json({
        _type: 'page',
        items: items.slice(offset, offset + limit),
        offset,
        limit,
        total,
      })
    })
    return offsets
  }

  // Found on 2026-12-07: getDefaultCard read one item of the list, and a bank account there left
  // it no card: the account read as having no default while listCards marked its card so.
  it('getDefaultCard answers the card listCards marks the default, past a bank account first', async () => {
    const { provider, owner } = setup()
    const card = await provider.createCard(owner, { source: testCard('4111111111111111') })
    listOf([BANK, JSON.parse(await cardAnswer(owner.id, card.id))])
    const listed = await provider.listCards(owner, { limit: 10 })
    expect(listed.data).toMatchObject([{ id: card.id, isDefault: true }])
    expect(await provider.getDefaultCard(owner)).toEqual(listed.data[0])
  })

  it('the next page starts after the bank account too: no card is read twice', async () => {
    const { provider, owner } = setup()
    const first = await provider.createCard(owner, { source: testCard('4111111111111111') })
    const second = await provider.createCard(owner, { source: testCard('5105105105105100') })
    const [one, two] = await Promise.all([
      cardAnswer(owner.id, first.id),
      cardAnswer(owner.id, second.id),
    ])
    const offsets = listOf([BANK, JSON.parse(one), JSON.parse(two)])
    const page = await provider.listCards(owner, { limit: 2 })
    expect(page).toMatchObject({ data: [{ id: first.id }], hasMore: true })
    const rest = await provider.listCards(owner, { limit: 2, cursor: page.nextCursor! })
    expect(rest).toMatchObject({ data: [{ id: second.id }], hasMore: false })
    expect(offsets).toEqual([0, 2])
  })
})

describe('a page with next_uri: hasMore from it, whatever its total says', () => {
  /** The account's list answered with `page` (its `_type`, items and offset 0 added). */
  async function answeredWith(page: Record<string, unknown>) {
    const { provider, owner } = setup()
    const card = await provider.createCard(owner, { source: testCard('4111111111111111') })
    const item = JSON.parse(await cardAnswer(owner.id, card.id))
    standIn(
      /^GET \/v1\/marketplaces\/[^/]+\/accounts\/[^/]+\/cards$/,
      200,
      JSON.stringify({ _type: 'page', items: [item], offset: 0, limit: 1, ...page }),
      'OHMnext',
    )
    return provider.listCards(owner, { limit: 1 })
  }

  it('a next_uri without a total has more, and a next cursor', async () => {
    const listed = await answeredWith({
      next_uri: '/v1/marketplaces/MP1/accounts/AC1/cards?offset=1',
    })
    expect(listed.hasMore).toBe(true)
    expect(listed.nextCursor).toEqual(expect.any(String))
  })

  it('a next_uri of null has no more, though its total says five', async () => {
    const listed = await answeredWith({ next_uri: null, total: 5 })
    expect(listed).toMatchObject({ hasMore: false, nextCursor: null })
  })
})
