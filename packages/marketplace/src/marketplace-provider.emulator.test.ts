import { inspect } from 'node:util'
import {
  type CardProvider,
  type CardportError,
  createCardSync,
  isCardportError,
  listAll,
  memoryStore,
  toArray,
} from '@cardport/core'
import { marketplaceEmulator, setupCardportServer } from '@cardport/testing'
import { HttpResponse, http } from 'msw'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { MISSING_CARD_ID, testCard } from './__fixtures__/conformance-fixture.js'
import {
  listAllMarketplaceCards,
  listMarketplaceCards,
  type MarketplaceProvider,
  type MarketplaceProviderOptions,
  marketplaceProvider,
  tokenizeCard,
} from './marketplace-provider.js'

/** The owners the marketplace holds cards for. */
type AccountOwner = { type: 'account'; id: string }

const VISA = '4111111111111111'
const MASTERCARD = '5105105105105100'
const DECLINED = '4444444444444448'
const NOT_VALIDATED = '4222222222222220'
/** A wait no test outlasts: what only an abort can end in time. */
const HOUR_MS = 3_600_000
/**
 * For `vi.waitFor`, whose own default gives up after a second, which a slow machine can take:
 * a hang guard only, within the test's timeout.
 */
const PATIENTLY = { timeout: 15_000, interval: 5 }

const marketplace = marketplaceEmulator()
/** A marketplace that requires `postal_code`, as the reference's request list marks it. */
const strict = marketplaceEmulator({
  origin: 'https://strict.marketplace.test',
  requirePostalCode: true,
})
const server = setupCardportServer(...marketplace.handlers, ...strict.handlers)
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  vi.restoreAllMocks()
  server.resetHandlers()
  marketplace.reset()
  strict.reset()
})
afterAll(() => server.close())

/** A provider over the emulator; the waits its retries ask for are recorded, not slept. */
function setup(options: Partial<MarketplaceProviderOptions> = {}) {
  const waits: number[] = []
  const provider = marketplaceProvider({
    baseUrl: marketplace.origin,
    marketplaceId: marketplace.marketplaceId,
    secret: marketplace.secret,
    dispatcher: server.dispatcher,
    retry: {
      sleep: async (ms) => {
        waits.push(ms)
      },
      random: () => 0,
    },
    ...options,
  })
  const account = (): AccountOwner => ({ type: 'account', id: marketplace.seed.account().id })
  return { provider, waits, account }
}

/** The forms the marketplace's tokenize requests send from now on, each then answered as usual. */
function recordTokenizeForms(): unknown[] {
  const forms: unknown[] = []
  server.use(
    http.post(`${marketplace.origin}/v1/marketplaces/:marketplace/cards`, async ({ request }) => {
      if (isPassedThrough(request)) return undefined
      forms.push(await request.clone().json())
      return emulatorAnswer(request)
    }),
  )
  return forms
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

const requests = () => marketplace.state.requests()

/** `count` metadata keys `${prefix}0` … with the value `'v'`. */
const keys = (prefix: string, count: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: count }, (_, index) => [`${prefix}${index}`, 'v']))

/** Every text an error carries out of the library. */
function textOf(error: CardportError): string {
  return [error.message, error.stack ?? '', JSON.stringify(error.toJSON())].join('\n')
}

/**
 * Every text an error carries out of the library, its `details` and its `cause` included: as a
 * logger prints it, and as JSON.
 */
function everythingOf(error: CardportError): string {
  return [
    textOf(error),
    JSON.stringify(error.details),
    JSON.stringify(error.cause),
    inspect(error, { depth: null }),
  ].join('\n')
}

/** Whether `text` holds `code` as a whole token, as a CVC would be quoted. */
const holdsCode = (text: string, code: string) =>
  new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`).test(text)

const PASS_THROUGH = 'x-emulator-answer'

/**
 * The emulator's own answer to `request`, for a handler put in front of it with `server.use`
 * that must answer after it (the request is sent again, marked, and the handler lets the marked
 * one through: see {@link isPassedThrough}).
 */
async function emulatorAnswer(request: Request): Promise<Response> {
  const headers = new Headers(request.headers)
  headers.set(PASS_THROUGH, '1')
  const body = request.method === 'GET' ? undefined : await request.text()
  return fetch(request.url, { method: request.method, headers, body })
}

/** Whether `request` is one {@link emulatorAnswer} sent: a handler returns undefined for it. */
const isPassedThrough = (request: Request) => request.headers.has(PASS_THROUGH)

describe('createCard', () => {
  it('tokenizes the details, then associates the card with the account', async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, {
      source: testCard(VISA, {
        address: { line1: '167 West 74th Street', postalCode: '10023', country: 'US' },
      }),
      metadata: { plan: 'pro' },
    })
    expect(card).toMatchObject({
      provider: 'marketplace',
      owner,
      brand: 'visa',
      last4: '1111',
      holderName: 'Benny Riemann',
      address: { line1: '167 West 74th Street', postalCode: '10023', country: 'US' },
      checks: { cvc: 'pass', postalCode: 'pass' },
      metadata: { plan: 'pro' },
      status: 'active',
      isDefault: true,
    })
    expect(requests().map((entry) => entry.route)).toEqual([
      'POST /v1/marketplaces/:marketplace/cards',
      'POST /v1/marketplaces/:marketplace/accounts/:account/cards',
    ])
    // The emulator stored the alpha-3 country the adapter sent.
    expect(marketplace.state.card(card.id)?.country_code).toBe('USA')
  })

  it("sends city and state, which the marketplace's card view does not show: they read back null", async () => {
    const { provider, account } = setup()
    const address = {
      line1: '167 West 74th Street',
      city: 'New York',
      state: 'NY',
      postalCode: '10023',
      country: 'US',
    }
    const forms = recordTokenizeForms()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA, { address }) })
    expect(forms).toMatchObject([{ city: 'New York', region: 'NY' }])
    expect(card.address).toEqual({ ...address, line2: null, city: null, state: null })
    expect(await provider.getCard(owner, card.id)).toMatchObject({ address: card.address })
  })

  // '' unsets a key (MetadataPatch): a new card has none to unset, so the key is not sent.
  it("tokenizes with the metadata's set keys only, none of those unset with ''", async () => {
    const { provider, account } = setup()
    const forms = recordTokenizeForms()
    const owner = account()
    const card = await provider.createCard(owner, {
      source: testCard(VISA),
      metadata: { plan: 'pro', note: '' },
    })
    expect(forms).toHaveLength(1)
    expect(JSON.stringify((forms[0] as { meta?: unknown } | undefined)?.meta)).toBe(
      '{"plan":"pro"}',
    )
    expect(card.metadata).toEqual({ plan: 'pro' })
    expect(marketplace.state.card(card.id)?.meta).toEqual({ plan: 'pro' })
  })

  it('keeps a second address line on a second line of street_address', async () => {
    const { provider, account } = setup()
    const owner = account()
    const address = { line1: '1 Main St', line2: 'Suite 2', postalCode: '62701', country: 'US' }
    const card = await provider.createCard(owner, { source: testCard(VISA, { address }) })
    expect(card.address).toMatchObject(address)
    expect(marketplace.state.card(card.id)?.street_address).toBe('1 Main St\nSuite 2')
  })

  it('refuses a card number in the idempotency key of tokenizeCard, sending nothing', async () => {
    const { provider } = setup()
    const before = requests().length
    const error = await tokenizeCard(provider, testCard(VISA), {
      idempotencyKey: 'order-4111111111111111',
    }).catch((caught: unknown) => caught)
    expect(error).toMatchObject({ code: 'invalid_request' })
    expect(requests()).toHaveLength(before)
  })

  it('leaves no card number nor CVC in the last regular-expression match after tokenizeCard', async () => {
    // The engine keeps the last match's text (`RegExp.input`, `RegExp.lastMatch`), which any
    // code can read: after the details are checked, the number or the CVC.
    const { provider } = setup()
    const held = () =>
      [RegExp.input, RegExp.lastMatch].filter((text) => text.includes('1111') || text === '12a')
    await tokenizeCard(provider, testCard(VISA))
    expect(held()).toEqual([])
    const refused = await tokenizeCard(provider, { ...testCard(VISA), cvc: '12a' }).catch(
      (caught: unknown) => caught,
    )
    expect(refused).toMatchObject({ code: 'invalid_request' })
    expect(held()).toEqual([])
  })

  it('associates a card tokenized earlier, by id or by URI', async () => {
    const { provider, account } = setup()
    const owner = account()
    const first = await tokenizeCard(provider, testCard(VISA))
    expect(first.owner).toBeNull()
    const byId = await provider.createCard(owner, { source: first.id, metadata: { via: 'id' } })
    expect(byId).toMatchObject({ id: first.id, owner, metadata: { via: 'id' } })

    const second = await tokenizeCard(provider, testCard(MASTERCARD))
    const uri = `/v1/marketplaces/${marketplace.marketplaceId}/cards/${second.id}`
    const byUri = await provider.createCard(owner, { source: uri })
    expect(byUri).toMatchObject({ id: second.id, owner, brand: 'mastercard' })

    // Without its leading slash, or with two: the card_uri goes with one, as the marketplace asks.
    for (const slashes of ['', '//']) {
      const token = await tokenizeCard(provider, testCard(VISA))
      const card = await provider.createCard(owner, {
        source: `${slashes}v1/marketplaces/${marketplace.marketplaceId}/cards/${token.id}`,
      })
      expect(card).toMatchObject({ id: token.id, owner })
    }
  })

  it('a create retried with its key after the answer was lost makes one card', async () => {
    const { provider, account } = setup()
    const owner = account()
    // The association commits, then the connection drops: the client never sees the card.
    marketplace.faults.inject({
      route: 'POST /v1/marketplaces/:marketplace/accounts/:account/cards',
      drop: 'after-commit',
    })
    const input = { source: testCard(VISA) }
    const lost = await rejection(() =>
      provider.createCard(owner, input, { idempotencyKey: 'create-1' }),
    )
    expect(lost.code).toBe('provider_unavailable')
    // A POST is never retried by the adapter on its own.
    expect(requests().filter((entry) => entry.method === 'POST')).toHaveLength(2)

    const card = await provider.createCard(owner, input, { idempotencyKey: 'create-1' })
    expect(marketplace.state.accountCards(owner.id).map((entry) => entry.id)).toEqual([card.id])
    // One card tokenized in all: the retry reused it.
    expect(marketplace.state.cards()).toHaveLength(1)
  })

  it.each([
    ['a 429', 429, 'rate_limited'],
    ['a 401', 401, 'authentication'],
    ['a 400', 400, 'invalid_request'],
  ])(
    'a create whose answer was lost stays one card when %s comes in between',
    async (_name, status, code) => {
      const { provider, account } = setup()
      const owner = account()
      const route = 'POST /v1/marketplaces/:marketplace/accounts/:account/cards'
      const input = { source: testCard(VISA) }
      const create = () =>
        provider.createCard(owner, input, { idempotencyKey: 'lost-then-refused' })
      // The association commits, then the connection drops: the client never sees the card.
      marketplace.faults.inject({ route, drop: 'after-commit' })
      expect((await rejection(create)).code).toBe('provider_unavailable')
      // The next attempt is refused for a reason that says nothing of the card.
      marketplace.faults.inject({ route, status, retryAfter: 1 })
      expect((await rejection(create)).code).toBe(code)

      // The third is told the card is associated already: the first attempt's doing.
      const card = await create()
      expect(card).toMatchObject({ owner, isDefault: true })
      expect(marketplace.state.accountCards(owner.id).map((entry) => entry.id)).toEqual([card.id])
      expect(marketplace.state.cards()).toHaveLength(1)
    },
  )

  it("a card another account holds stays a conflict, however the create's first answer was lost", async () => {
    const { provider, account } = setup()
    const owner = account()
    const other = account()
    const token = await tokenizeCard(provider, testCard(VISA))
    await provider.createCard(other, { source: token.id })
    const route = 'POST /v1/marketplaces/:marketplace/accounts/:account/cards'
    const create = () => provider.createCard(owner, { source: token.id }, { idempotencyKey: 'k' })
    marketplace.faults.inject({ route, drop: 'before-commit' })
    expect((await rejection(create)).code).toBe('provider_unavailable')
    marketplace.faults.inject({ route, status: 429 })
    expect((await rejection(create)).code).toBe('rate_limited')
    const conflict = await rejection(create)
    expect(conflict).toMatchObject({ code: 'conflict', providerCode: 'card-already-funding-src' })
  })

  it('a token associated with metadata, retried with its key after the metadata failed, gets the metadata', async () => {
    const { provider, account } = setup({ retry: { retries: 0 } })
    const owner = account()
    const token = await tokenizeCard(provider, testCard(VISA))
    // The association succeeds; the PUT of the metadata that follows fails.
    marketplace.faults.inject({
      route: 'PUT /v1/marketplaces/:marketplace/accounts/:account/cards/:card',
      status: 503,
    })
    const input = { source: token.id, metadata: { plan: 'pro' } }
    const failed = await rejection(() =>
      provider.createCard(owner, input, { idempotencyKey: 'assoc-1' }),
    )
    expect(failed.code).toBe('provider_unavailable')

    const card = await provider.createCard(owner, input, { idempotencyKey: 'assoc-1' })
    expect(card.metadata).toEqual({ plan: 'pro' })
    expect(marketplace.state.card(token.id)?.meta).toEqual({ plan: 'pro' })
  })

  it('a token associated with metadata, retried with its key after it succeeded, does not write the metadata again over an update', async () => {
    const { provider, account } = setup({ retry: { retries: 0 } })
    const owner = account()
    const token = await tokenizeCard(provider, testCard(VISA))
    const input = { source: token.id, metadata: { plan: 'basic' } }
    const card = await provider.createCard(owner, input, { idempotencyKey: 'assoc-2' })
    expect(card.metadata).toEqual({ plan: 'basic' })
    await provider.updateCard(owner, card.id, { metadata: { plan: 'pro' } })
    const puts = () =>
      requests().filter(
        (entry) =>
          entry.route === 'PUT /v1/marketplaces/:marketplace/accounts/:account/cards/:card',
      ).length
    const before = puts()

    // The caller sends the create again with its key (its own retry after a timeout, say): the
    // answer is the card created, with the metadata it holds now, and nothing is written.
    const again = await provider.createCard(owner, input, { idempotencyKey: 'assoc-2' })
    expect(again).toMatchObject({ id: card.id, metadata: { plan: 'pro' } })
    expect(marketplace.state.card(token.id)?.meta).toEqual({ plan: 'pro' })
    expect(puts()).toBe(before)
  })

  it('refuses, before associating, a card whose meta and the metadata given would make more than 50 keys', async () => {
    const { provider, account } = setup()
    const owner = account()
    // Tokenized earlier with 45 keys, by cardport or by another client of the API.
    const token = marketplace.seed.card({ meta: keys('t', 45) })
    const before = requests().length
    // Six keys are within the limits alone: only the card's metadata after the merge is not.
    for (const source of [
      token.id,
      `/v1/marketplaces/${marketplace.marketplaceId}/cards/${token.id}`,
    ]) {
      const error = await rejection(() =>
        provider.createCard(owner, { source, metadata: keys('c', 6) }),
      )
      // The error updateCard gives for the same merge (and memoryProvider() and Stripe's).
      expect(error).toMatchObject({
        code: 'invalid_request',
        provider: 'marketplace',
        details: { param: 'metadata' },
      })
      expect(error.message).toContain('at most 50 metadata keys')
      expect(error.message).toContain('would leave it with 51')
    }
    // The card's meta was read, and nothing was written: the card is not associated.
    expect(
      requests()
        .slice(before)
        .map((entry) => entry.method),
    ).toEqual(['GET', 'GET'])
    expect(marketplace.state.card(token.id)).toMatchObject({ account: null, meta: keys('t', 45) })
    expect(marketplace.state.accountCards(owner.id)).toEqual([])
  })

  it('associates a card whose merged metadata is exactly 50 keys, or fewer with keys unset', async () => {
    const { provider, account } = setup()
    const owner = account()
    const token = marketplace.seed.card({ meta: keys('t', 45) })
    const fifty = await provider.createCard(owner, { source: token.id, metadata: keys('c', 5) })
    expect(fifty).toMatchObject({ id: token.id, owner })
    expect(fifty.metadata).toEqual({ ...keys('t', 45), ...keys('c', 5) })
    expect(marketplace.state.card(token.id)?.meta).toEqual(fifty.metadata)

    // 48 + 4 new - 2 unset: 50, though the patch alone would make 52.
    const other = marketplace.seed.card({ card_number: MASTERCARD, meta: keys('t', 48) })
    const swapped = await provider.createCard(owner, {
      source: other.id,
      metadata: { ...keys('c', 4), t0: '', t1: '' },
    })
    expect(Object.keys(swapped.metadata)).toHaveLength(50)
    expect(marketplace.state.card(other.id)).toMatchObject({ account: { id: owner.id } })
    expect(Object.keys(marketplace.state.card(other.id)?.meta ?? {})).toHaveLength(50)
  })

  it('associates a card another client gave more than 50 keys, as long as the metadata adds none', async () => {
    const { provider, account } = setup()
    const owner = account()
    const token = marketplace.seed.card({ meta: keys('t', 60) })
    const card = await provider.createCard(owner, {
      source: token.id,
      metadata: { t0: 'changed', t1: '' },
    })
    expect(Object.keys(card.metadata)).toHaveLength(59)
    const other = marketplace.seed.card({ card_number: MASTERCARD, meta: keys('t', 60) })
    const error = await rejection(() =>
      provider.createCard(owner, { source: other.id, metadata: { another: 'key' } }),
    )
    expect(error).toMatchObject({ code: 'invalid_request', details: { param: 'metadata' } })
    expect(marketplace.state.card(other.id)).toMatchObject({ account: null, meta: keys('t', 60) })
  })

  it('a card an account already holds stays a conflict with metadata over the merge limit, and says nothing of its meta', async () => {
    const { provider, account } = setup()
    const owner = account()
    const other = account()
    const held = marketplace.seed.card({ meta: keys('t', 45) })
    await provider.createCard(other, { source: held.id })
    const mine = marketplace.seed.card({ card_number: MASTERCARD, meta: keys('t', 45) })
    await provider.createCard(owner, { source: mine.id })
    // Associating either again is refused as it is without metadata: the card is held, not the
    // caller's to merge into (and how many keys another account's card has is not the caller's
    // to learn).
    for (const card of [held, mine]) {
      const error = await rejection(() =>
        provider.createCard(owner, { source: card.id, metadata: keys('c', 6) }),
      )
      expect(error).toMatchObject({ code: 'conflict', providerCode: 'card-already-funding-src' })
      expect(textOf(error)).not.toContain('metadata keys')
    }
    expect(marketplace.state.card(held.id)).toMatchObject({
      account: { id: other.id },
      meta: keys('t', 45),
    })
    expect(marketplace.state.card(mine.id)).toMatchObject({
      account: { id: owner.id },
      meta: keys('t', 45),
    })
  })

  it('meta written by another client between the read and the association: the card stays associated, its meta untouched', async () => {
    const { provider, account } = setup()
    const owner = account()
    const token = marketplace.seed.card({ meta: keys('t', 10) })
    // Another client of the API writes 45 keys just before the association arrives.
    server.use(
      http.post(
        `${marketplace.origin}/v1/marketplaces/:marketplace/accounts/:account/cards`,
        async () => {
          const response = await fetch(
            `${marketplace.origin}/v1/marketplaces/${marketplace.marketplaceId}/cards/${token.id}`,
            {
              method: 'PUT',
              headers: {
                Authorization: marketplace.authorization(),
                'Content-Type': 'application/json',
              },
              body: JSON.stringify({ meta: keys('t', 45) }),
            },
          )
          expect(response.status).toBe(200)
          // Nothing returned: the emulator answers the association itself.
        },
        { once: true },
      ),
    )
    const input = { source: token.id, metadata: keys('c', 6) }
    const error = await rejection(() =>
      provider.createCard(owner, input, { idempotencyKey: 'race-1' }),
    )
    expect(error).toMatchObject({ code: 'invalid_request', details: { param: 'metadata' } })
    // It says what was done, so that the caller does not look for a card that is not there.
    expect(error.message).toContain('is now associated with the account')
    // Nothing lost: the association stands (undoing it would invalidate the card for good),
    // and the meta is the other client's, neither merged nor cut.
    expect(marketplace.state.card(token.id)).toMatchObject({
      account: { id: owner.id },
      meta: keys('t', 45),
    })
    expect(
      requests()
        .filter((entry) => entry.method === 'PUT')
        .map((entry) => entry.route),
    ).toEqual(['PUT /v1/marketplaces/:marketplace/cards/:card'])
    // Retried with the key, the metadata is still refused, and nothing more is associated.
    const again = await rejection(() =>
      provider.createCard(owner, input, { idempotencyKey: 'race-1' }),
    )
    expect(again).toMatchObject({ code: 'invalid_request', details: { param: 'metadata' } })
    expect(marketplace.state.accountCards(owner.id).map((card) => card.id)).toEqual([token.id])
  })

  it('two creates sent at once with the same key make one card', async () => {
    const { provider, account } = setup()
    const owner = account()
    const input = { source: testCard(VISA) }
    const [first, second] = await Promise.all([
      provider.createCard(owner, input, { idempotencyKey: 'double-submit' }),
      provider.createCard(owner, input, { idempotencyKey: 'double-submit' }),
    ])
    expect(second.id).toBe(first.id)
    expect(marketplace.state.cards()).toHaveLength(1)
  })

  it('the same key with other parameters is idempotency_conflict', async () => {
    const { provider, account } = setup()
    const owner = account()
    await provider.createCard(owner, { source: testCard(VISA) }, { idempotencyKey: 'k' })
    const error = await rejection(() =>
      provider.createCard(owner, { source: testCard(MASTERCARD) }, { idempotencyKey: 'k' }),
    )
    expect(error.code).toBe('idempotency_conflict')
  })

  it('a create retried with its key and its metadata in another key order is the same create: one card', async () => {
    const { provider, account } = setup()
    const owner = account()
    const route = 'POST /v1/marketplaces/:marketplace/accounts/:account/cards'
    marketplace.faults.inject({ route, status: 503 })
    const failed = await rejection(() =>
      provider.createCard(
        owner,
        { source: testCard(VISA), metadata: { order: '7', plan: 'pro' } },
        { idempotencyKey: 'order-7' },
      ),
    )
    expect(failed.code).toBe('provider_unavailable')
    // The same request, its metadata rebuilt in another key order (read back from a store or a
    // queue that sorts keys).
    const card = await provider.createCard(
      owner,
      { source: testCard(VISA), metadata: { plan: 'pro', order: '7' } },
      { idempotencyKey: 'order-7' },
    )
    expect(card.metadata).toEqual({ order: '7', plan: 'pro' })
    expect(marketplace.state.cards()).toHaveLength(1)
  })

  it('a create refused for its currency leaves its idempotency key free for the corrected call', async () => {
    const { provider, account } = setup()
    const owner = account()
    const refused = await rejection(() =>
      provider.createCard(
        owner,
        { source: testCard(VISA), currency: 'usd' },
        { idempotencyKey: 'order-currency' },
      ),
    )
    expect(refused).toMatchObject({ code: 'invalid_request' })
    expect(requests()).toEqual([])
    const card = await provider.createCard(
      owner,
      { source: testCard(VISA) },
      { idempotencyKey: 'order-currency' },
    )
    expect(card).toMatchObject({ owner, currency: null, isDefault: true })
  })

  it('a key with a line break, which no header can carry, is invalid_request, and nothing is sent', async () => {
    const { provider, account, waits } = setup()
    const owner = account()
    const error = await rejection(() =>
      provider.createCard(owner, { source: testCard(VISA) }, { idempotencyKey: 'order\n42' }),
    )
    expect(error).toMatchObject({ code: 'invalid_request', retryable: false })
    expect(requests()).toEqual([])
    expect(waits).toEqual([])
    expect(marketplace.state.cards()).toEqual([])
  })
})

describe('tokenizeCard', () => {
  it('repeated with its idempotency key makes one card, read again from the marketplace', async () => {
    const { provider, account } = setup()
    const first = await tokenizeCard(provider, testCard(VISA), { idempotencyKey: 'tok-1' })
    expect(first.owner).toBeNull()
    // Associated meanwhile: the repeat reads the card as it is now.
    const owner = account()
    await provider.createCard(owner, { source: first.id })
    const again = await tokenizeCard(provider, testCard(VISA), { idempotencyKey: 'tok-1' })
    expect(again).toMatchObject({ id: first.id, owner })
    expect(marketplace.state.cards()).toHaveLength(1)
    expect(
      requests().filter((entry) => entry.route === 'POST /v1/marketplaces/:marketplace/cards'),
    ).toHaveLength(1)
  })

  it('two calls at once with one key make one card; without a key, each makes its own', async () => {
    const { provider } = setup()
    const [first, second] = await Promise.all([
      tokenizeCard(provider, testCard(VISA), { idempotencyKey: 'double-submit' }),
      tokenizeCard(provider, testCard(VISA), { idempotencyKey: 'double-submit' }),
    ])
    expect(second.id).toBe(first.id)
    expect(marketplace.state.cards()).toHaveLength(1)
    const [third, fourth] = [
      await tokenizeCard(provider, testCard(VISA)),
      await tokenizeCard(provider, testCard(VISA)),
    ]
    expect(third.id).not.toBe(fourth.id)
    expect(marketplace.state.cards()).toHaveLength(3)
  })

  it('the same key with other details or metadata is idempotency_conflict, without a request', async () => {
    const { provider } = setup()
    await tokenizeCard(provider, testCard(VISA), { idempotencyKey: 'k' })
    const before = requests().length
    for (const [details, metadata] of [
      [testCard(MASTERCARD), undefined],
      [testCard(VISA), { plan: 'pro' }],
    ] as const) {
      const error = await rejection(() =>
        tokenizeCard(provider, details, { idempotencyKey: 'k', ...(metadata ? { metadata } : {}) }),
      )
      expect(error.code).toBe('idempotency_conflict')
      expect(error.message).toContain('tokenizeCard')
    }
    expect(requests()).toHaveLength(before)
    // A createCard key is another record: the same key there is not a conflict.
    const owner = { type: 'account' as const, id: marketplace.seed.account().id }
    await provider.createCard(owner, { source: testCard(MASTERCARD) }, { idempotencyKey: 'k' })
  })

  it('a key that is not 1 to 255 characters is invalid_request, without a request', async () => {
    const { provider } = setup()
    for (const idempotencyKey of ['', 'k'.repeat(256)]) {
      const error = await rejection(() =>
        tokenizeCard(provider, testCard(VISA), { idempotencyKey }),
      )
      expect(error.code).toBe('invalid_request')
    }
    expect(requests()).toEqual([])
  })
})

describe('each marketplace error', () => {
  it('card-declined (402) is card_declined, with the request id, and adds no card', async () => {
    const { provider, account } = setup()
    const owner = account()
    const error = await rejection(() => provider.createCard(owner, { source: testCard(DECLINED) }))
    expect(error).toMatchObject({
      code: 'card_declined',
      status: 402,
      providerCode: 'card-declined',
      provider: 'marketplace',
    })
    expect(error.requestId).toBe(requests().at(-1)?.requestId)
    expect(error.details).toMatchObject({ categoryType: 'banking' })
    expect(marketplace.state.accountCards(owner.id)).toEqual([])
    expect(textOf(error)).not.toContain(DECLINED)
  })

  it('card-not-validated (409) is card_invalid', async () => {
    const { provider, account } = setup()
    const error = await rejection(() =>
      provider.createCard(account(), { source: testCard(NOT_VALIDATED) }),
    )
    expect(error).toMatchObject({
      code: 'card_invalid',
      status: 409,
      providerCode: 'card-not-validated',
    })
    expect(typeof error.details?.additional).toBe('string')
    expect(textOf(error)).not.toContain(NOT_VALIDATED)
    expect(textOf(error)).not.toMatch(/(?<![0-9A-Za-z])919(?![0-9A-Za-z])/)
  })

  it('card-already-funding-src (409) is conflict: a card already associated', async () => {
    const { provider, account } = setup()
    const first = await provider.createCard(account(), { source: testCard(VISA) })
    const error = await rejection(() => provider.createCard(account(), { source: first.id }))
    expect(error).toMatchObject({ code: 'conflict', providerCode: 'card-already-funding-src' })
  })

  it("cannot-associate-card (409) is conflict: another marketplace's card", async () => {
    const { provider, account } = setup()
    const other = marketplace.seed.marketplace()
    const foreign = marketplace.seed.card({ marketplace: other.id })
    const error = await rejection(() =>
      provider.createCard(account(), {
        source: `/v1/marketplaces/${other.id}/cards/${foreign.id}`,
      }),
    )
    expect(error).toMatchObject({ code: 'conflict', providerCode: 'cannot-associate-card' })
  })

  it("a card the account does not hold is card_not_found (404, or another account's card)", async () => {
    const { provider, account } = setup()
    const owner = account()
    const missing = await rejection(() => provider.getCard(owner, MISSING_CARD_ID))
    expect(missing).toMatchObject({ code: 'card_not_found', status: 404 })
    const others = await provider.createCard(account(), { source: testCard(VISA) })
    const notHeld = await rejection(() => provider.getCard(owner, others.id))
    expect(notHeld).toMatchObject({ code: 'card_not_found', providerCode: 'card-not-associated' })
  })

  // No card of that id to associate: the source is wrong, not a card of the owner's gone, as
  // Stripe's "No such token". CardSync.setDefaultCard reads card_not_found from createCard as
  // "the card this key made is gone" and moves on to the next key: it sent 32 associations
  // (and 32 account look-ups), then said the token was made the default 32 times.
  it('a source card the marketplace does not know is invalid_request saying to tokenize first', async () => {
    const { provider, account } = setup()
    const owner = account()
    for (const source of [
      MISSING_CARD_ID,
      `/v1/marketplaces/${marketplace.marketplaceId}/cards/${MISSING_CARD_ID}`,
    ]) {
      const error = await rejection(() => provider.createCard(owner, { source }))
      expect(error, source).toMatchObject({
        code: 'invalid_request',
        status: 404,
        retryable: false,
      })
      expect(error.message).toContain(MISSING_CARD_ID)
      expect(error.message).toContain('tokenize')
    }
    expect(marketplace.state.accountCards(owner.id)).toEqual([])
  })

  // With metadata, the card is read first, to check the merge of its meta (at most 50 keys): a
  // card the marketplace does not know is left to the association, which says the same.
  it('a source card the marketplace does not know, given with metadata, is invalid_request too', async () => {
    const { provider, account } = setup()
    const owner = account()
    const error = await rejection(() =>
      provider.createCard(owner, { source: MISSING_CARD_ID, metadata: { plan: 'pro' } }),
    )
    expect(error).toMatchObject({ code: 'invalid_request', status: 404, retryable: false })
    expect(error.message).toContain('tokenize')
    expect(requests().map((entry) => `${entry.route} ${entry.status}`)).toEqual([
      'GET /v1/marketplaces/:marketplace/cards/:card 404',
      'POST /v1/marketplaces/:marketplace/accounts/:account/cards 404',
      'GET /v1/marketplaces/:marketplace/accounts/:account 200',
    ])
    expect(marketplace.state.accountCards(owner.id)).toEqual([])
  })

  it('CardSync.setDefaultCard with a card id the marketplace does not know fails at once', async () => {
    const { provider, account } = setup()
    const owner = account()
    const sync = createCardSync({ provider, store: memoryStore() })
    const error = await rejection(() => sync.setDefaultCard(owner, MISSING_CARD_ID))
    expect(error).toMatchObject({ code: 'invalid_request', status: 404 })
    expect(error.message).toContain(MISSING_CARD_ID)
    const associations = marketplace.state
      .requests()
      .filter(
        (request) => request.route === 'POST /v1/marketplaces/:marketplace/accounts/:account/cards',
      )
    expect(associations).toHaveLength(1)
  })

  // The tokenize route and the marketplace-wide list have no per-card resource: a 404 there
  // means nothing answers for this marketplace at this address, whatever the card.
  const MARKETPLACE_ROUTES = [
    [
      'createCard (its tokenize)',
      'POST /v1/marketplaces/:marketplace/cards',
      (provider: MarketplaceProvider, owner: AccountOwner) =>
        provider.createCard(owner, { source: testCard(VISA) }),
    ],
    [
      'tokenizeCard',
      'POST /v1/marketplaces/:marketplace/cards',
      (provider: MarketplaceProvider) => tokenizeCard(provider, testCard(VISA)),
    ],
    [
      'listMarketplaceCards',
      'GET /v1/marketplaces/:marketplace/cards',
      (provider: MarketplaceProvider) => listMarketplaceCards(provider),
    ],
    [
      'listAllMarketplaceCards',
      'GET /v1/marketplaces/:marketplace/cards',
      (provider: MarketplaceProvider) => toArray(listAllMarketplaceCards(provider), { limit: 100 }),
    ],
  ] as const

  it.each(MARKETPLACE_ROUTES)(
    'a 404 on the route of %s is invalid_request naming baseUrl and marketplaceId, not card_not_found',
    async (_name, route, call) => {
      const { provider, account } = setup()
      const owner = account()
      marketplace.faults.inject({ route, status: 404 })
      const error = await rejection(() => call(provider, owner))
      expect(error).toMatchObject({ code: 'invalid_request', status: 404, retryable: false })
      expect(error.message).toContain(`baseUrl (${marketplace.origin})`)
      expect(error.message).toContain(`marketplaceId (${marketplace.marketplaceId})`)
      expect(textOf(error)).not.toContain(marketplace.secret)
      expect(marketplace.state.cards()).toEqual([])
    },
  )

  it.each(MARKETPLACE_ROUTES)(
    'a baseUrl with a path the API does not have: %s is invalid_request naming it',
    async (_name, _route, call) => {
      const baseUrl = `${marketplace.origin}/api`
      const { provider, account } = setup({ baseUrl })
      const error = await rejection(() => call(provider, account()))
      expect(error).toMatchObject({ code: 'invalid_request', status: 404 })
      expect(error.message).toContain(`baseUrl (${baseUrl})`)
      expect(textOf(error)).not.toContain(marketplace.secret)
      expect(marketplace.state.cards()).toEqual([])
    },
  )

  it('an id holding a percent sign names that id, not the card its escape spells', async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    // `%` and the hex code of the id's third character: decoded twice, it would be the card.
    const spelled = `${card.id.slice(0, 2)}%${card.id.charCodeAt(2).toString(16)}${card.id.slice(3)}`
    for (const id of [spelled, 'CC%', 'CC%zz']) {
      const error = await rejection(() => provider.getCard(owner, id))
      expect(error, id).toMatchObject({ code: 'card_not_found', status: 404 })
      expect(error.message).toContain(id)
    }
  })

  it('an account that does not exist is owner_not_found, for every operation', async () => {
    const { provider } = setup()
    const owner: AccountOwner = { type: 'account', id: 'ACnoSuchAccount' }
    for (const call of [
      () => provider.getCard(owner, MISSING_CARD_ID),
      () => provider.listCards(owner),
      () => provider.createCard(owner, { source: testCard(VISA) }),
      () => provider.invalidateCard(owner, MISSING_CARD_ID),
      () => provider.updateCard(owner, MISSING_CARD_ID, { metadata: { a: 'b' } }),
    ]) {
      expect((await rejection(call)).code).toBe('owner_not_found')
    }
  })

  it('a wrong secret (401) is authentication, and the secret is never in the error', async () => {
    const { provider } = setup({ secret: 'ak-test-wrongSecretValue' })
    const error = await rejection(() => provider.listCards({ type: 'account', id: 'AC1' }))
    expect(error).toMatchObject({ code: 'authentication', status: 401 })
    expect(textOf(error)).not.toContain('wrongSecretValue')
  })

  // A secret opens one marketplace: a MARKETPLACE_ID of another (or a typo in it) is answered
  // 401 like a wrong secret, and the hint named the secret alone.
  it('a marketplaceId the secret does not open (401): the hint names the marketplace id too', async () => {
    const { provider } = setup({ marketplaceId: 'TEST-MPnotTheSecretsMarketplace' })
    const error = await rejection(() => provider.listCards({ type: 'account', id: 'AC1' }))
    expect(error).toMatchObject({ code: 'authentication', status: 401 })
    expect(error.message).toContain('marketplace id')
  })

  // A server that cannot read a request quotes it back: the tokenize request's body is the card
  // form, whose CVC no card-number mask finds.
  it('a 400 whose description quotes the tokenize body holds neither its card number nor its CVC', async () => {
    const { provider, account } = setup()
    server.use(
      http.post(`${marketplace.origin}/v1/marketplaces/:marketplace/cards`, async ({ request }) => {
        const sent = await request.text()
        return HttpResponse.json(
          {
            status_code: 400,
            category_code: 'request',
            category_type: 'request',
            description: `Could not parse request body: ${sent}`,
            // The same body quoted inside a JSON string: its quotes escaped once more.
            extras: { request: JSON.stringify(sent) },
            request_id: 'OHMecho',
          },
          { status: 400 },
        )
      }),
    )
    const error = await rejection(() =>
      provider.createCard(account(), { source: testCard(VISA, { cvc: '987' }) }),
    )
    expect(error).toMatchObject({ code: 'invalid_request', status: 400, requestId: 'OHMecho' })
    // What went wrong, and where the body stood, without the body.
    expect(error.message).toBe(
      'marketplace: Could not parse request body: [the request body] [request] (fix the request)',
    )
    const everything = everythingOf(error)
    expect(everything).not.toContain(VISA)
    expect(holdsCode(everything, '987')).toBe(false)
    // The body is taken out whole, wherever the answer quotes it, rather than masked in part.
    expect((error.cause as { body?: unknown }).body).toMatchObject({
      description: 'Could not parse request body: [the request body]',
      extras: { request: '"[the request body]"' },
    })
    expect(error.details?.extras).toEqual({ request: '"[the request body]"' })
  })

  it.each([
    ['a form in additional', { additional: 'number=4111111111111111&cvc=123' }, 'cvc=•••'],
    [
      'JSON in the description',
      {
        description:
          'Could not parse request body: {"card_number":"4111111111111111","security_code":"123","expir',
      },
      '"security_code":"•••"',
    ],
    [
      'JSON inside a JSON string in extras',
      {
        extras: { raw: '{\\"card_number\\":\\"4111111111111111\\",\\"security_code\\":\\"123\\"}' },
      },
      '\\"security_code\\":\\"•••\\"',
    ],
    [
      'a form in extras',
      { extras: { form: 'card_number=4111111111111111&security_code=123' } },
      'security_code=•••',
    ],
  ])(
    'a 400 that quotes part of the tokenize body in %s: the CVC is masked, its key kept',
    async (_, fields, kept) => {
      const { provider, account } = setup()
      marketplace.faults.inject({
        route: 'POST /v1/marketplaces/:marketplace/cards',
        status: 400,
        body: JSON.stringify({
          status_code: 400,
          category_code: 'request',
          description: 'The request could not be read',
          ...fields,
        }),
      })
      const error = await rejection(() =>
        provider.createCard(account(), { source: testCard(VISA) }),
      )
      expect(error).toMatchObject({ code: 'invalid_request', status: 400, providerCode: 'request' })
      expect(error.message).toMatch(
        /^marketplace: (The request could not be read|Could not parse request body)/,
      )
      const everything = everythingOf(error)
      expect(everything).not.toContain(VISA)
      expect(holdsCode(everything, '123')).toBe(false)
      expect(everything).toContain(JSON.stringify(kept).slice(1, -1))
    },
  )

  it('403 is permission', async () => {
    const { provider, account } = setup()
    const owner = account()
    marketplace.faults.inject({ status: 403 })
    expect((await rejection(() => provider.listCards(owner))).code).toBe('permission')
  })

  it('5xx is provider_unavailable after the retries', async () => {
    const { provider, account, waits } = setup({ retry: { retries: 1, sleep: async () => {} } })
    const owner = account()
    marketplace.faults.inject({ status: 503, times: 2 })
    const error = await rejection(() => provider.listCards(owner))
    expect(error).toMatchObject({ code: 'provider_unavailable', status: 503 })
    expect(error.requestId).toMatch(/^OHM/)
    expect(waits).toEqual([])
    expect(requests()).toHaveLength(2)
  })
})

describe('a card given by its URI', () => {
  it("reads, updates and invalidates a card by its URI as by its id: the card is the URI's", async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    const uri = `/v1/marketplaces/${marketplace.marketplaceId}/cards/${card.id}`
    const sent = requests().length
    // The provider says which card a URI names, without a request: CardSync stores under it.
    expect(provider.cardIdOf?.(uri)).toBe(card.id)
    expect(provider.cardIdOf?.(card.id)).toBe(card.id)
    expect(requests()).toHaveLength(sent)
    expect(await provider.getCard(owner, uri)).toEqual(card)
    const updated = await provider.updateCard(owner, uri, { metadata: { via: 'uri' } })
    expect(updated).toMatchObject({ id: card.id, metadata: { via: 'uri' } })
    expect(await provider.invalidateCard(owner, uri)).toMatchObject({
      id: card.id,
      status: 'invalid',
    })
  })
})

describe("a card of another account on an account's route", () => {
  it('is card_not_found for the account asked about, not its card', async () => {
    const { provider, account } = setup()
    const owner = account()
    const other = account()
    const card = await provider.createCard(other, { source: testCard(VISA) })
    // A server that answers the route of `owner` with the card `other` holds.
    server.use(
      http.get(
        `${marketplace.origin}/v1/marketplaces/:marketplace/accounts/:account/cards/:card`,
        async ({ request }) => {
          if (isPassedThrough(request)) return undefined
          const url = new URL(request.url)
          url.pathname = url.pathname.replace(owner.id, other.id)
          return emulatorAnswer(new Request(url, { headers: request.headers }))
        },
      ),
    )
    const error = await provider.getCard(owner, card.id).catch((thrown: unknown) => thrown)
    expect(error).toMatchObject({ code: 'card_not_found', provider: 'marketplace' })
  })

  it("refuses a list of the account's cards that holds another account's card, rather than label it the account's", async () => {
    const { provider, account } = setup()
    const owner = account()
    const other = account()
    await provider.createCard(owner, { source: testCard(VISA) })
    const card = await provider.createCard(other, { source: testCard(MASTERCARD) })
    // A server that answers the list of `owner` with the cards `other` holds (each names
    // `other` as its account), as a route that reached another list would.
    server.use(
      http.get(
        `${marketplace.origin}/v1/marketplaces/:marketplace/accounts/:account/cards`,
        async ({ request }) => {
          if (isPassedThrough(request)) return undefined
          const url = new URL(request.url)
          url.pathname = url.pathname.replace(owner.id, other.id)
          return emulatorAnswer(new Request(url, { headers: request.headers }))
        },
      ),
    )
    for (const run of [() => provider.listCards(owner), () => provider.getDefaultCard(owner)]) {
      const error = await rejection(run)
      expect(error).toMatchObject({
        code: 'provider_unavailable',
        provider: 'marketplace',
        retryable: false,
      })
      expect(error.message).toContain(`card ${card.id} of account:${other.id}`)
    }
  })
})

describe('the cards of tokenizeCard and the marketplace-wide list are read with the Card schema', () => {
  /** Answers of the marketplace's own card routes, each card changed by `change`. */
  function changeCards(change: (card: Record<string, unknown>) => Record<string, unknown>) {
    const route = `${marketplace.origin}/v1/marketplaces/:marketplace/cards`
    const changed = async ({ request }: { request: Request }) => {
      if (isPassedThrough(request)) return undefined
      const answer = await emulatorAnswer(request)
      const body = (await answer.json()) as Record<string, unknown>
      const items = body.items as Record<string, unknown>[] | undefined
      return Response.json(items ? { ...body, items: items.map(change) } : change(body), {
        status: answer.status,
      })
    }
    server.use(http.get(route, changed), http.post(route, changed))
  }

  it('masks a card number in the holder name or a meta value, as listCards does', async () => {
    const { provider } = setup()
    changeCards((card) => ({ ...card, name: '4111 1111 1111 1111', meta: { note: VISA } }))
    const token = await tokenizeCard(provider, testCard(MASTERCARD))
    const page = await listMarketplaceCards(provider)
    const all: unknown[] = []
    for await (const card of listAllMarketplaceCards(provider)) all.push(card)
    expect(page.data).toHaveLength(1)
    expect(all).toHaveLength(1)
    for (const card of [token, page.data[0], all[0]]) {
      expect(card).toMatchObject({ holderName: '•••• 1111', metadata: { note: '•••• 1111' } })
      expect(JSON.stringify(card)).not.toContain(VISA)
    }
  })

  it.each([
    ['tokenizeCard', (provider: MarketplaceProvider) => tokenizeCard(provider, testCard(VISA))],
    [
      'listMarketplaceCards',
      async (provider: MarketplaceProvider) => {
        marketplace.seed.card()
        return listMarketplaceCards(provider)
      },
    ],
    [
      'listAllMarketplaceCards',
      async (provider: MarketplaceProvider) => {
        marketplace.seed.card()
        for await (const _ of listAllMarketplaceCards(provider)) {
          // read every card
        }
      },
    ],
  ])(
    '%s refuses a card the schema refuses (a month of "April"), not NaN',
    async (operation, run) => {
      const { provider } = setup()
      changeCards((card) => ({ ...card, expiration_month: 'April' }))
      const error = await rejection(() => run(provider))
      expect(error).toMatchObject({
        code: 'provider_unavailable',
        provider: 'marketplace',
        retryable: false,
      })
      // listAllMarketplaceCards reads the pages of listMarketplaceCards.
      const read = operation === 'tokenizeCard' ? operation : 'listMarketplaceCards'
      expect(error.message).toContain(`(${read}): expMonth`)
    },
  )
})

describe('retries', () => {
  it('a GET is retried after a dropped connection', async () => {
    const { provider, account, waits } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    marketplace.faults.inject({
      route: 'GET /v1/marketplaces/:marketplace/accounts/:account/cards/:card',
      drop: 'before-commit',
    })
    expect(await provider.getCard(owner, card.id)).toEqual(card)
    expect(waits).toHaveLength(1)
    const gets = requests().filter((entry) => entry.method === 'GET')
    expect(gets.map((entry) => entry.status)).toEqual([0, 200])
  })

  it('a 429 is retried after the Retry-After it asks for', async () => {
    const { provider, account, waits } = setup()
    const owner = account()
    marketplace.faults.inject({
      route: 'GET /v1/marketplaces/:marketplace/accounts/:account/cards',
      status: 429,
      retryAfter: 2,
    })
    const page = await provider.listCards(owner)
    expect(page.data).toEqual([])
    // random() = 0: the jittered backoff is 0, so the wait is Retry-After exactly.
    expect(waits).toEqual([2000])
  })

  it('a 429 that outlasts the retries is rate_limited with retryAfterMs', async () => {
    const { provider, account } = setup({ retry: { retries: 0 } })
    const owner = account()
    marketplace.faults.inject({ status: 429, retryAfter: 7 })
    const error = await rejection(() => provider.listCards(owner))
    expect(error).toMatchObject({ code: 'rate_limited', retryAfterMs: 7000, retryable: true })
  })

  it('the PUT of an invalidation is retried after a dropped connection', async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    marketplace.faults.inject({
      route: 'PUT /v1/marketplaces/:marketplace/accounts/:account/cards/:card',
      drop: 'after-commit',
    })
    expect((await provider.invalidateCard(owner, card.id)).status).toBe('invalid')
  })

  it('the PUT of an update is retried after a 503', async () => {
    const { provider, account, waits } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    marketplace.faults.inject({
      route: 'PUT /v1/marketplaces/:marketplace/accounts/:account/cards/:card',
      status: 503,
    })
    const updated = await provider.updateCard(owner, card.id, { metadata: { plan: 'pro' } })
    expect(updated.metadata).toEqual({ plan: 'pro' })
    expect(waits).toHaveLength(1)
    const puts = requests().filter((entry) => entry.method === 'PUT')
    expect(puts.map((entry) => entry.status)).toEqual([503, 200])
  })
})

describe('invalidation', () => {
  it('is final: the card stays invalid whatever follows', async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    const invalid = await provider.invalidateCard(owner, card.id)
    expect(invalid).toMatchObject({ id: card.id, status: 'invalid', isDefault: false })
    // Again: done, not an error.
    expect((await provider.invalidateCard(owner, card.id)).status).toBe('invalid')
    // Its metadata may still change; it stays invalid.
    const updated = await provider.updateCard(owner, card.id, { metadata: { reason: 'lost' } })
    expect(updated).toMatchObject({ status: 'invalid', metadata: { reason: 'lost' } })
    expect((await provider.getCard(owner, card.id)).status).toBe('invalid')
    // The marketplace itself refuses to make it valid again.
    expect(marketplace.state.card(card.id)?.is_valid).toBe(false)
    // An invalidated card cannot be associated anywhere.
    const error = await rejection(() => provider.createCard(account(), { source: card.id }))
    expect(error.code).toBe('conflict')
  })

  /** The PUT of the next invalidation answered 409 `card-not-valid`, as the marketplace words it. */
  function refuseNextInvalidation() {
    marketplace.faults.inject({
      route: 'PUT /v1/marketplaces/:marketplace/accounts/:account/cards/:card',
      status: 409,
      body: JSON.stringify({
        status: 'Conflict',
        status_code: 409,
        category_code: 'card-not-valid',
        category_type: 'logical',
        description: 'The card has already been marked as invalid/deactivated.',
        request_id: 'OHMnotvalid',
      }),
    })
  }

  it('a second invalidation answered 409 card-not-valid is done: the card, read again, invalid', async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    await provider.invalidateCard(owner, card.id)
    refuseNextInvalidation()
    expect(await provider.invalidateCard(owner, card.id)).toMatchObject({
      id: card.id,
      status: 'invalid',
    })
    expect(marketplace.faults.fired).toEqual([1])
  })

  it('409 card-not-valid for a card that reads back valid stays a conflict', async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    refuseNextInvalidation()
    const error = await rejection(() => provider.invalidateCard(owner, card.id))
    expect(error).toMatchObject({ code: 'conflict', providerCode: 'card-not-valid' })
    expect(marketplace.state.card(card.id)?.is_valid).toBe(true)
  })
})

describe("the account's chosen card (defaultPolicy 'latest-card')", () => {
  it('is the most recently associated valid card; invalidating it falls back', async () => {
    const { provider, account } = setup()
    const owner = account()
    const first = await provider.createCard(owner, { source: testCard(VISA) })
    expect(first.isDefault).toBe(true)
    const second = await provider.createCard(owner, { source: testCard(MASTERCARD) })
    expect(second.isDefault).toBe(true)
    expect((await provider.getCard(owner, first.id)).isDefault).toBe(false)
    expect((await provider.getDefaultCard(owner))?.id).toBe(second.id)

    await provider.invalidateCard(owner, second.id)
    const fallback = await provider.getDefaultCard(owner)
    expect(fallback).toMatchObject({ id: first.id, isDefault: true })
    const listed = (await provider.listCards(owner, { limit: 10 })).data
    expect(listed.map((card) => [card.id, card.isDefault])).toEqual([
      [first.id, true],
      [second.id, false],
    ])

    await provider.invalidateCard(owner, first.id)
    expect(await provider.getDefaultCard(owner)).toBeNull()
  })
})

describe("the account's chosen card when the list answers without the embedded customer", () => {
  /**
   * The account's card list, answered by the emulator but without each card's `customer` (the
   * field that names the chosen card), as a payload may come: getDefaultCard then applies the
   * rule itself, the last valid card associated, paging through every card.
   */
  function listWithoutCustomer() {
    const pages: string[] = []
    server.use(
      http.get(
        `${marketplace.origin}/v1/marketplaces/:marketplace/accounts/:account/cards`,
        async ({ request }) => {
          // The emulator's own answer, stripped.
          if (isPassedThrough(request)) return undefined
          const answer = await emulatorAnswer(request)
          const body = (await answer.json()) as { items: Array<{ customer?: unknown }> }
          pages.push(new URL(request.url).searchParams.get('offset') ?? '0')
          const items = body.items.map(({ customer: _, ...card }) => card)
          return Response.json({ ...body, items }, { status: answer.status })
        },
      ),
    )
    return pages
  }

  it('finds the last valid card on a later page', async () => {
    const { provider, account } = setup()
    const owner = account()
    for (let index = 0; index < 150; index++) marketplace.seed.card({ account: owner.id })
    const cards = marketplace.state.accountCards(owner.id)
    const latest = cards.at(-1)!
    const pages = listWithoutCustomer()
    expect(await provider.getDefaultCard(owner)).toMatchObject({ id: latest.id, isDefault: true })
    // One card to learn the payload has no customer, then every page of 100.
    expect(pages).toEqual(['0', '0', '100'])
  })

  it('finds it on the first page when every card after it was invalidated', async () => {
    const { provider, account } = setup()
    const owner = account()
    for (let index = 0; index < 150; index++) marketplace.seed.card({ account: owner.id })
    const cards = marketplace.state.accountCards(owner.id)
    for (const card of cards.slice(60)) await provider.invalidateCard(owner, card.id)
    const pages = listWithoutCustomer()
    expect(await provider.getDefaultCard(owner)).toMatchObject({
      id: cards[59]!.id,
      isDefault: true,
    })
    expect(pages).toEqual(['0', '0', '100'])
  })
})

describe('CardSync over the marketplace (no deleteCard, no setDefaultCard)', () => {
  it('replaces the default by invalidating the old one, and deletes by invalidating; reconcile finds no drift', async () => {
    const { provider, account } = setup()
    const owner = account()
    const store = memoryStore()
    const sync = createCardSync({ provider, store })
    const scope = { provider: provider.name, owner }
    const first = await provider.createCard(owner, { source: testCard(VISA) })
    await sync.sync(owner, first.id)
    const tokenized = await tokenizeCard(provider, testCard(MASTERCARD))

    // setDefaultCard: the new card is the chosen one by itself; the old default is invalidated.
    const second = await sync.setDefaultCard(owner, tokenized.id)
    expect(second).toMatchObject({ id: tokenized.id, isDefault: true, status: 'active' })
    expect(marketplace.state.card(first.id)?.is_valid).toBe(false)
    expect(await store.get(scope, first.id)).toMatchObject({ status: 'invalid', isDefault: false })

    const third = await provider.createCard(owner, { source: testCard(VISA) })
    await sync.sync(owner, third.id)
    await sync.sync(owner, second.id)
    expect((await sync.getForOwner(owner))?.id).toBe(third.id)

    // deleteCard: invalidated, kept as invalid, and the account falls back to the second card.
    await sync.deleteCard(owner, third.id)
    expect(marketplace.state.card(third.id)?.is_valid).toBe(false)
    expect(await store.get(scope, third.id)).toMatchObject({ status: 'invalid', isDefault: false })
    expect((await sync.getForOwner(owner))?.id).toBe(second.id)

    const report = await sync.reconcile(owner, { dryRun: true })
    expect(report).toMatchObject({
      cardsSeen: 3,
      added: [],
      updated: [],
      removed: [],
      defaultRepaired: [],
      failed: [],
    })
  })
})

describe('CardSync over the marketplace, a card given by its URI', () => {
  /** A sync over the emulator for a new account, and the account's stored cards. */
  function syncSetup() {
    const { provider, account } = setup()
    const owner = account()
    const store = memoryStore()
    const sync = createCardSync({ provider, store })
    const stored = () => store.listByOwner({ provider: provider.name, owner })
    const uriOf = (cardId: string) =>
      `/v1/marketplaces/${marketplace.marketplaceId}/cards/${cardId}`
    return { provider, owner, store, sync, stored, uriOf }
  }

  it('deleteCard by URI invalidates the card and stores it as invalid under its id; reconcile finds no drift', async () => {
    const { provider, owner, sync, stored, uriOf } = syncSetup()
    const kept = await provider.createCard(owner, { source: testCard(VISA) })
    const doomed = await provider.createCard(owner, { source: testCard(MASTERCARD) })
    await sync.reconcile(owner)
    await sync.deleteCard(owner, uriOf(doomed.id))
    expect(marketplace.state.card(doomed.id)?.is_valid).toBe(false)
    const cards = await stored()
    expect(
      cards.map(({ id, status }) => ({ id, status })).sort((a, b) => a.id.localeCompare(b.id)),
    ).toEqual(
      [
        { id: kept.id, status: 'active' },
        { id: doomed.id, status: 'invalid' },
      ].sort((a, b) => a.id.localeCompare(b.id)),
    )
    expect((await sync.getForOwner(owner))?.id).toBe(kept.id)
    const report = await sync.reconcile(owner, { dryRun: true })
    expect(report).toMatchObject({ added: [], updated: [], removed: [], defaultRepaired: [] })
  })

  // A copy the store holds of a card the account does not hold (tokenized, never associated with
  // it): the marketplace answers card-not-associated, card_not_found, for its URI.
  async function strayCopy(s: ReturnType<typeof syncSetup>) {
    const stray = await tokenizeCard(s.provider, testCard(VISA))
    await s.sync.sync(s.owner, { ...stray, owner: s.owner })
    expect((await s.stored()).map((card) => card.id)).toEqual([stray.id])
    return stray
  }

  it('deleteCard by URI of a card the account does not hold deletes the local copy', async () => {
    const s = syncSetup()
    const stray = await strayCopy(s)
    await s.sync.deleteCard(s.owner, s.uriOf(stray.id))
    expect(await s.stored()).toEqual([])
    // The deletion is recorded under the card's id: a copy observed before it is not stored.
    const before = Date.now() - 60_000
    expect(
      (await s.store.upsert({ ...stray, owner: s.owner }, { observedAt: before })).card,
    ).toBeNull()
  })

  it('sync by URI of a card the account does not hold deletes the local copy', async () => {
    const s = syncSetup()
    const stray = await strayCopy(s)
    expect(await s.sync.sync(s.owner, s.uriOf(stray.id))).toBeNull()
    expect(await s.stored()).toEqual([])
  })

  it('deleteLocal by URI deletes the local copy of the card, and sends no request', async () => {
    const s = syncSetup()
    const card = await s.provider.createCard(s.owner, { source: testCard(VISA) })
    await s.sync.sync(s.owner, s.uriOf(card.id))
    expect((await s.stored()).map(({ id }) => id)).toEqual([card.id])
    const sent = requests().length
    expect(await s.sync.deleteLocal(s.owner, s.uriOf(card.id))).toBe(true)
    expect(await s.stored()).toEqual([])
    expect(requests()).toHaveLength(sent)
  })

  it("setDefaultCard with a tokenized card's URI stores the card under its id", async () => {
    const s = syncSetup()
    const tokenized = await tokenizeCard(s.provider, testCard(MASTERCARD))
    const card = await s.sync.setDefaultCard(s.owner, s.uriOf(tokenized.id))
    expect(card).toMatchObject({ id: tokenized.id, isDefault: true })
    expect((await s.stored()).map(({ id }) => id)).toEqual([tokenized.id])
  })
})

describe('parseCard and syncFromProviderData', () => {
  it('a payload without its customer keeps the stored default; one with it decides', async () => {
    const { provider, account } = setup()
    const owner = account()
    const sync = createCardSync({ provider, store: memoryStore() })
    const payload = (cardId: string, chosen: string | undefined) => ({
      ...marketplace.state.card(cardId)!,
      customer:
        chosen === undefined ? null : { source_uri: `/v1/customers/${owner.id}/cards/${chosen}` },
    })
    const first = await provider.createCard(owner, { source: testCard(VISA) })
    await sync.sync(owner, first.id)
    expect((await sync.getForOwner(owner))?.id).toBe(first.id)

    // A copy of the card (a webhook's, say) without the customer that names the chosen card.
    expect(provider.parseCard(payload(first.id, undefined), owner)?.isDefault).toBe(false)
    await sync.syncFromProviderData(owner, payload(first.id, undefined))
    expect((await sync.getForOwner(owner))?.id).toBe(first.id)

    // With its customer, the payload tells: the second card is the chosen one now …
    const second = await provider.createCard(owner, { source: testCard(MASTERCARD) })
    await sync.syncFromProviderData(owner, payload(second.id, second.id))
    expect((await sync.getForOwner(owner))?.id).toBe(second.id)
    // … and a copy of the first without it does not make the first the default again.
    await sync.syncFromProviderData(owner, payload(first.id, undefined))
    expect((await sync.getForOwner(owner))?.id).toBe(second.id)
  })

  it("refuses another account's card, and stores nothing", async () => {
    const { provider, account } = setup()
    const store = memoryStore()
    const sync = createCardSync({ provider, store })
    const alice = account()
    const bob = account()
    const bobs = await provider.createCard(bob, { source: testCard(VISA) })
    // The payload names bob's account: read as alice's, it would be listed among her cards.
    const raw = { ...marketplace.state.card(bobs.id)! }
    const error = await rejection(() => sync.syncFromProviderData(alice, raw))
    expect(error.code).toBe('invalid_request')
    expect((await rejection(async () => provider.parseCard(raw, alice))).code).toBe(
      'invalid_request',
    )
    expect(await store.listByOwner({ provider: 'marketplace', owner: alice })).toEqual([])
    expect(await store.listByOwner({ provider: 'marketplace', owner: bob })).toEqual([])
    // A payload that names no account (a tokenized card's copy) is the owner's given.
    expect(provider.parseCard({ ...raw, account: null }, alice)?.owner).toEqual(alice)
  })
})

describe('updateCard', () => {
  it("merges metadata into the card's meta; an empty value unsets a key", async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, {
      source: testCard(VISA),
      metadata: { keep: '1', drop: '2' },
    })
    const updated = await provider.updateCard(owner, card.id, {
      metadata: { drop: '', added: '3' },
    })
    expect(updated.metadata).toEqual({ keep: '1', added: '3' })
    expect(marketplace.state.card(card.id)?.meta).toEqual({ keep: '1', added: '3' })
  })

  it('refuses, before any write, an update that would leave the card more than 50 metadata keys, as Stripe does', async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, {
      source: testCard(VISA),
      metadata: keys('a', 30),
    })
    const before = requests().length
    // Each patch is within the limits alone: only the card's metadata after it is not.
    const error = await rejection(() =>
      provider.updateCard(owner, card.id, { metadata: keys('b', 21) }),
    )
    // What memoryProvider() and stripeProvider() answer too.
    expect(error).toMatchObject({
      code: 'invalid_request',
      provider: 'marketplace',
      details: { param: 'metadata' },
    })
    expect(error.message).toContain('at most 50 metadata keys')
    // The card's meta was read (the merge needs it), and nothing was written.
    expect(
      requests()
        .slice(before)
        .map((entry) => entry.method),
    ).toEqual(['GET'])
    expect(marketplace.state.card(card.id)?.meta).toEqual(keys('a', 30))
    // Exactly 50 after the update, or fewer with keys unset in the same patch: accepted.
    const fifty = await provider.updateCard(owner, card.id, { metadata: keys('b', 20) })
    expect(Object.keys(fifty.metadata)).toHaveLength(50)
    const swapped = await provider.updateCard(owner, card.id, {
      metadata: { ...keys('c', 2), a0: '', a1: '' },
    })
    expect(Object.keys(swapped.metadata)).toHaveLength(50)
    expect(Object.keys(marketplace.state.card(card.id)?.meta ?? {})).toHaveLength(50)
  })

  // The merge started from the Card's metadata, which leaves out empty values and masks card
  // numbers: the marketplace replaces meta whole, so such a key was deleted, such a value masked.
  it("keeps the meta keys an update does not touch as the marketplace holds them, '' values included", async () => {
    const { provider, account } = setup()
    const owner = account()
    const meta = { 'gift-note': '', source: 'pos', note: `paid with ${VISA}` }
    const seeded = marketplace.seed.card({ account: owner.id, meta })
    const updated = await provider.updateCard(owner, seeded.id, { metadata: { plan: 'pro' } })
    expect(marketplace.state.card(seeded.id)?.meta).toEqual({ ...meta, plan: 'pro' })
    expect(updated.metadata).toEqual({ source: 'pos', note: 'paid with •••• 1111', plan: 'pro' })
    // createCard's metadata on a card tokenized earlier is merged the same way.
    const token = marketplace.seed.card({ meta })
    const created = await provider.createCard(owner, {
      source: token.id,
      metadata: { source: '' },
    })
    expect(created.metadata).toEqual({ note: 'paid with •••• 1111' })
    expect(marketplace.state.card(token.id)?.meta).toEqual({
      'gift-note': '',
      note: `paid with ${VISA}`,
    })
  })

  it('updates a card that another client gave more than 50 keys, as long as the update adds none', async () => {
    const { provider, account } = setup()
    const owner = account()
    const meta = Object.fromEntries(Array.from({ length: 60 }, (_, index) => [`k${index}`, 'v']))
    const seeded = marketplace.seed.card({ account: owner.id, meta })
    const changed = await provider.updateCard(owner, seeded.id, {
      metadata: { k0: 'changed', k1: '', plan: 'pro' },
    })
    expect(Object.keys(changed.metadata)).toHaveLength(60)
    expect(changed.metadata).toMatchObject({ k0: 'changed', plan: 'pro' })
    const error = await rejection(() =>
      provider.updateCard(owner, seeded.id, { metadata: { another: 'key' } }),
    )
    expect(error).toMatchObject({ code: 'invalid_request', details: { param: 'metadata' } })
    expect(marketplace.state.card(seeded.id)?.meta).toEqual(changed.metadata)
  })

  it('updates of one card made at once each keep the keys of the others, as Stripe merges them', async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    const other = await provider.createCard(owner, { source: testCard(MASTERCARD) })
    // The marketplace replaces meta whole: each update reads the card, merges, writes it back.
    const [first, second, tooMany, third, elsewhere] = await Promise.allSettled([
      provider.updateCard(owner, card.id, { metadata: { a: '1' } }),
      provider.updateCard(owner, card.id, { metadata: { b: '2' } }),
      provider.updateCard(owner, card.id, { metadata: keys('x', 49) }),
      provider.updateCard(owner, card.id, { metadata: { c: '3', a: '' } }),
      provider.updateCard(owner, other.id, { metadata: { d: '4' } }),
    ])
    expect(first).toMatchObject({ status: 'fulfilled', value: { metadata: { a: '1' } } })
    expect(second).toMatchObject({
      status: 'fulfilled',
      value: { metadata: { a: '1', b: '2' } },
    })
    // Refused on the merge with the two keys written before it; the next update still runs.
    expect(tooMany).toMatchObject({ status: 'rejected', reason: { code: 'invalid_request' } })
    expect(third).toMatchObject({ status: 'fulfilled', value: { metadata: { b: '2', c: '3' } } })
    expect(elsewhere).toMatchObject({ status: 'fulfilled', value: { metadata: { d: '4' } } })
    expect(marketplace.state.card(card.id)?.meta).toEqual({ b: '2', c: '3' })
    expect(marketplace.state.card(other.id)?.meta).toEqual({ d: '4' })
  })

  it("an update of a token's card while its createCard is on its way keeps both their keys", async () => {
    // The caller knows a token's card id before createCard returns: an update of it may land
    // between the association and the create's metadata write, which merged into the meta
    // the association answered with and so wrote the update's key away.
    const { provider, account } = setup()
    const owner = account()
    const token = marketplace.seed.card({ meta: { seeded: '1' } })
    let updated: Promise<unknown> = Promise.resolve()
    server.use(
      http.post(
        `${marketplace.origin}/v1/marketplaces/:marketplace/accounts/:account/cards`,
        async ({ request }) => {
          if (isPassedThrough(request)) return undefined
          const association = await emulatorAnswer(request)
          // Associated: the update runs now, and its answer reaches the caller first.
          updated = provider.updateCard(owner, token.id, { metadata: { updated: '1' } })
          await updated
          return new Response(await association.text(), {
            status: association.status,
            headers: association.headers,
          })
        },
        { once: true },
      ),
    )
    const card = await provider.createCard(owner, { source: token.id, metadata: { created: '1' } })
    await updated
    const both = { seeded: '1', updated: '1', created: '1' }
    expect(card.metadata).toEqual(both)
    expect(marketplace.state.card(token.id)?.meta).toEqual(both)
  })

  it("an update of a token's card queued behind its createCard's metadata write keeps both keys", async () => {
    const { provider, account } = setup()
    const owner = account()
    const token = marketplace.seed.card({ meta: { seeded: '1' } })
    let updated: Promise<unknown> = Promise.resolve()
    server.use(
      http.put(
        `${marketplace.origin}/v1/marketplaces/:marketplace/accounts/:account/cards/:card`,
        () => {
          // The create's metadata write is on its way: an update asked for now reads the card
          // only once it is written.
          updated = provider.updateCard(owner, token.id, { metadata: { updated: '1' } })
          return undefined
        },
        { once: true },
      ),
    )
    await provider.createCard(owner, { source: token.id, metadata: { created: '1' } })
    await updated
    expect(marketplace.state.card(token.id)?.meta).toEqual({
      seeded: '1',
      updated: '1',
      created: '1',
    })
  })

  it("reads and keeps meta beyond Stripe's limits, which the marketplace does not have", async () => {
    const { provider, account } = setup()
    const owner = account()
    // Written by another client of the API: a key of 41 characters, a value of 600.
    const meta = { ['k'.repeat(41)]: 'long key', note: 'n'.repeat(600) }
    const seeded = marketplace.seed.card({ account: owner.id, meta })
    const page = await provider.listCards(owner)
    expect(page.data.map((card) => [card.id, card.metadata])).toEqual([[seeded.id, meta]])
    const updated = await provider.updateCard(owner, seeded.id, { metadata: { plan: 'pro' } })
    expect(updated.metadata).toEqual({ ...meta, plan: 'pro' })
    expect(marketplace.state.card(seeded.id)?.meta).toEqual({ ...meta, plan: 'pro' })
  })

  it('cannot change the address, expiry or name: unsupported_operation, no request', async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    const before = requests().length
    // updatableFields is ['metadata']: the typed provider does not take these patches.
    const general: CardProvider = provider
    for (const patch of [{ address: { city: 'X' } }, { expYear: 2040 }, { holderName: 'J' }]) {
      expect((await rejection(() => general.updateCard(owner, card.id, patch))).code).toBe(
        'unsupported_operation',
      )
    }
    expect(requests()).toHaveLength(before)
  })
})

describe('paging', () => {
  it("walks an account's cards across several pages, in association order", async () => {
    const { provider, account } = setup()
    const owner = account()
    const created: string[] = []
    for (let index = 0; index < 7; index++) {
      created.push((await provider.createCard(owner, { source: testCard(VISA) })).id)
    }
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await provider.listCards(owner, cursor ? { limit: 3, cursor } : { limit: 3 })
      pages += 1
      seen.push(...page.data.map((card) => card.id))
      expect(page.hasMore).toBe(page.nextCursor !== null)
      cursor = page.nextCursor ?? undefined
    } while (cursor)
    expect(pages).toBe(3)
    expect(seen).toEqual(created)
    expect((await toArray(listAll(provider, owner, { pageSize: 2 }), { limit: 100 })).length).toBe(
      7,
    )
  })

  it('lists the whole marketplace, tokens no account holds included', async () => {
    const { provider, account } = setup()
    const owner = account()
    const held = await provider.createCard(owner, { source: testCard(VISA) })
    const loose = await tokenizeCard(provider, testCard(MASTERCARD))
    const first = await listMarketplaceCards(provider, { limit: 1 })
    expect(first.hasMore).toBe(true)
    const all = []
    for await (const card of listAllMarketplaceCards(provider, { pageSize: 1 })) all.push(card)
    expect(all.map((card) => [card.id, card.owner?.id ?? null])).toEqual([
      [held.id, owner.id],
      [loose.id, null],
    ])
  })
})

describe('listAllMarketplaceCards with a signal', () => {
  const route = 'GET /v1/marketplaces/:marketplace/cards'

  /** Drains the iteration; what it handed over, and how it ended. */
  async function drain(provider: ReturnType<typeof setup>['provider'], signal: AbortSignal) {
    const seen: string[] = []
    try {
      for await (const card of listAllMarketplaceCards(provider, { signal, pageSize: 100 })) {
        seen.push(card.id)
      }
      return { seen, outcome: 'completed' as unknown }
    } catch (error) {
      return { seen, outcome: error }
    }
  }

  // No duration is measured: the page or the wait lasts an hour, far past the test's timeout,
  // so that only the abort can end the iteration in time (emulator.reset() ends the latency).
  it('an abort during a slow page ends the request: the reason, no card of the page', async () => {
    const { provider } = setup()
    marketplace.seed.card()
    marketplace.faults.inject({ route, latencyMs: HOUR_MS })
    const controller = new AbortController()
    const reason = new Error('stopped by the caller')
    const draining = drain(provider, controller.signal)
    // The emulator holds the page in its latency.
    await vi.waitFor(() => expect(marketplace.faults.fired).toEqual([1]), PATIENTLY)
    controller.abort(reason)
    const { seen, outcome } = await draining
    expect(outcome).toBe(reason)
    expect(seen).toEqual([])
  })

  it("an abort during a Retry-After wait ends the wait (the default sleep's)", async () => {
    const { provider } = setup({ retry: { maxDelayMs: HOUR_MS } })
    marketplace.seed.card()
    marketplace.faults.inject({ route, status: 429, retryAfter: HOUR_MS / 1000 })
    const timers = vi.spyOn(globalThis, 'setTimeout')
    const controller = new AbortController()
    const draining = drain(provider, controller.signal)
    // The 429 is read and the default sleep waits the hour it asked for.
    await vi.waitFor(
      () => expect(timers).toHaveBeenCalledWith(expect.any(Function), HOUR_MS),
      PATIENTLY,
    )
    controller.abort()
    const { seen, outcome } = await draining
    expect(outcome).toBe(controller.signal.reason)
    expect((outcome as Error).name).toBe('AbortError')
    expect(seen).toEqual([])
    expect(requests()).toHaveLength(1)
  })

  it('an abort while cards of a page are handed over stops before the next card', async () => {
    const { provider } = setup()
    marketplace.seed.card()
    marketplace.seed.card()
    const controller = new AbortController()
    const seen: string[] = []
    const iteration = (async () => {
      for await (const card of listAllMarketplaceCards(provider, { signal: controller.signal })) {
        seen.push(card.id)
        controller.abort()
      }
    })()
    const outcome = await iteration.then(
      () => 'completed',
      (error: unknown) => error,
    )
    expect(outcome).toBe(controller.signal.reason)
    expect(seen).toHaveLength(1)
  })

  it('a signal that is not an AbortSignal, or a pageSize outside 1–100, is invalid_request', async () => {
    const { provider } = setup()
    for (const options of [{ signal: {} as AbortSignal }, { pageSize: 0 }, { pageSize: 101 }]) {
      const error = await rejection(() => listAllMarketplaceCards(provider, options).next())
      expect(error.code).toBe('invalid_request')
    }
    expect(requests()).toEqual([])
  })
})

describe('bad card details are refused without a request', () => {
  it.each([
    ['a Luhn failure', { number: '4111111111111112' }],
    ['an expired card', { expMonth: 1, expYear: 2020 }],
    ['a CVC of the wrong length', { cvc: '9191' }],
    ['a postal code without a country', { address: { postalCode: '10023' } }],
    ['a street without a postal code', { address: { line1: '1 Main St', country: 'US' } }],
    ['a name over 128 characters', { holderName: 'x'.repeat(129) }],
    ['a phone that is not E.164', { phone: '6509241212' }],
  ])('%s', async (_name, overrides) => {
    const { provider, account } = setup()
    const owner = account()
    const error = await rejection(() =>
      provider.createCard(owner, { source: testCard(VISA, overrides) }),
    )
    expect(error.code).toBe('invalid_request')
    expect(requests()).toEqual([])
    expect(textOf(error)).not.toContain(VISA)
    expect(textOf(error)).not.toContain('4111111111111112')
  })
})

describe('postal_code: optional by default, required where the marketplace requires it', () => {
  const withPostalCode = { address: { postalCode: '10023', country: 'US' } }

  /** A provider over the emulator that requires postal_code, and a fresh account of it. */
  function strictSetup() {
    const provider = marketplaceProvider({
      baseUrl: strict.origin,
      marketplaceId: strict.marketplaceId,
      secret: strict.secret,
      dispatcher: server.dispatcher,
    })
    const owner: AccountOwner = { type: 'account', id: strict.seed.account().id }
    return { provider, owner }
  }

  it('by default a card without a postal code is tokenized and associated', async () => {
    const { provider, account } = setup()
    const owner = account()
    const card = await provider.createCard(owner, { source: testCard(VISA) })
    expect(card).toMatchObject({ owner, address: { postalCode: null }, isDefault: true })
    expect(marketplace.state.card(card.id)?.postal_code).toBeNull()
    const token = await tokenizeCard(provider, testCard(MASTERCARD))
    expect(marketplace.state.card(token.id)?.postal_code).toBeNull()
  })

  it.each([
    [
      'createCard',
      (provider: MarketplaceProvider, owner: AccountOwner) =>
        provider.createCard(owner, { source: testCard(VISA) }),
    ],
    ['tokenizeCard', (provider: MarketplaceProvider) => tokenizeCard(provider, testCard(VISA))],
  ] as const)(
    "where it is required, %s without one is the marketplace's invalid_request naming postal_code, and writes nothing",
    async (_name, call) => {
      const { provider, owner } = strictSetup()
      const error = await rejection(() => call(provider, owner))
      expect(error).toMatchObject({
        code: 'invalid_request',
        provider: 'marketplace',
        status: 400,
        retryable: false,
        details: { extras: { postal_code: 'is required' } },
      })
      expect(error.requestId).toMatch(/^OHM/)
      expect(error.message).toContain('postal_code')
      expect(textOf(error)).not.toContain(VISA)
      expect(textOf(error)).not.toContain(strict.secret)
      // The tokenize was refused: no card, and no association was attempted.
      expect(strict.state.cards()).toEqual([])
      expect(strict.state.requests().map((entry) => entry.route)).toEqual([
        'POST /v1/marketplaces/:marketplace/cards',
      ])
    },
  )

  it('where it is required, a card with a postal code and its country is created', async () => {
    const { provider, owner } = strictSetup()
    const card = await provider.createCard(owner, { source: testCard(VISA, withPostalCode) })
    expect(card).toMatchObject({ owner, address: { postalCode: '10023', country: 'US' } })
    expect(strict.state.card(card.id)).toMatchObject({ postal_code: '10023', country_code: 'USA' })
  })
})
