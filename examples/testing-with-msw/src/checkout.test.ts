import { memoryStore, type Owner } from '@cardport/core'
import { stripeProvider } from '@cardport/stripe'
import { setupCardportServer, stripeEmulator } from '@cardport/testing'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ensureCheckoutCard } from './checkout.js'

// The application code runs unchanged against the real Stripe adapter and the real `stripe`
// SDK; only Stripe's servers are replaced, by the emulator's MSW handlers. Every request the
// SDK sends is answered in-process, and one nobody answers fails the test.
const stripe = stripeEmulator()
const server = setupCardportServer(...stripe.handlers)
beforeAll(() => server.listen())
afterEach(() => {
  server.resetHandlers()
  stripe.reset() // the state, the request log and any fault left over
})
afterAll(() => server.close())

const SOURCES = 'POST /v1/customers/:customer/sources'

/** A fresh customer, provider, store and retry clock for one test. */
function setup(options: { cards?: string[]; now?: Date } = {}) {
  const customer = stripe.seed.customer({ email: 'jenny@example.com' })
  for (const token of options.cards ?? []) stripe.seed.card(customer.id, token)
  const waits: number[] = []
  const deps = {
    // The SDK's own network retries are off, so that each attempt is the application's and
    // the test sees it; `withRetry` in the application does the retrying.
    provider: stripeProvider({ apiKey: 'sk_test_checkout', maxNetworkRetries: 0 }),
    store: memoryStore(),
    // Waits are recorded, not slept: the test asserts what was asked for and runs instantly.
    retry: {
      sleep: async (ms: number) => {
        waits.push(ms)
      },
    },
    now: () => options.now ?? new Date(),
  }
  const owner: Owner = { type: 'customer', id: customer.id }
  const sourcesAtStripe = () => stripe.state.sources(customer.id).map((source) => source.id)
  const defaultAtStripe = () => stripe.state.customer(customer.id)?.default_source ?? null
  return { deps, owner, waits, sourcesAtStripe, defaultAtStripe }
}

describe('ensureCheckoutCard', () => {
  it('asks for a card when the customer has none', async () => {
    const { deps, owner, sourcesAtStripe } = setup()
    expect(await ensureCheckoutCard(deps, owner)).toEqual({ status: 'needs_card' })
    expect(sourcesAtStripe()).toEqual([])
  })

  it('makes a new card the default and removes the old one at Stripe and locally', async () => {
    const { deps, owner, sourcesAtStripe, defaultAtStripe } = setup({ cards: ['tok_visa'] })
    const [oldCard] = sourcesAtStripe()

    const result = await ensureCheckoutCard(deps, owner, 'tok_mastercard')

    expect(result).toMatchObject({
      status: 'ready',
      label: expect.stringMatching(/^Mastercard •••• 4444, expires \d\d\/\d{4}$/),
    })
    const newCard = result.status === 'ready' ? result.cardId : ''
    expect(sourcesAtStripe()).toEqual([newCard])
    expect(defaultAtStripe()).toBe(newCard)
    expect(await deps.store.get({ provider: 'stripe', owner }, oldCard!)).toBeNull()
    expect((await deps.store.getDefault({ provider: 'stripe', owner }))?.id).toBe(newCard)
  })

  it('reads the default from Stripe once, then from the local copy', async () => {
    const { deps, owner, defaultAtStripe } = setup({ cards: ['tok_amex'] })
    const first = await ensureCheckoutCard(deps, owner)
    const requests = stripe.state.requests().length
    const second = await ensureCheckoutCard(deps, owner)

    expect(first).toMatchObject({ status: 'ready', cardId: defaultAtStripe() })
    expect(first).toMatchObject({ label: expect.stringMatching(/^American Express •••• 0005/) })
    expect(second).toEqual(first)
    expect(stripe.state.requests().length, 'requests for the second checkout').toBe(requests)
  })

  it('flags an expired default card', async () => {
    // The clock is the application's, so "expired" needs no card from the past.
    const { deps, owner } = setup({ cards: ['tok_visa'], now: new Date('2199-01-01T00:00:00Z') })
    expect(await ensureCheckoutCard(deps, owner)).toMatchObject({ status: 'expired' })
  })

  it('shows a decline to the customer and keeps the old default', async () => {
    const { deps, owner, sourcesAtStripe, defaultAtStripe } = setup({ cards: ['tok_visa'] })
    const before = sourcesAtStripe()

    const result = await ensureCheckoutCard(deps, owner, 'tok_chargeDeclinedInsufficientFunds')

    expect(result).toEqual({
      status: 'declined',
      declineCode: 'insufficient_funds',
      message: 'Your bank declined this card. Please use another card.',
    })
    expect(sourcesAtStripe()).toEqual(before)
    expect(defaultAtStripe()).toBe(before[0])
  })
})

describe('ensureCheckoutCard under faults', () => {
  it('waits out a 429 for the Retry-After Stripe sent, and makes one card', async () => {
    const { deps, owner, waits, sourcesAtStripe, defaultAtStripe } = setup()
    stripe.faults.inject({ route: SOURCES, status: 429, retryAfter: 2 })

    const result = await ensureCheckoutCard(deps, owner, 'tok_visa')

    expect(result).toMatchObject({ status: 'ready' })
    expect(waits).toEqual([2000])
    expect(stripe.faults.fired).toEqual([1])
    const creates = stripe.state.requests().filter((request) => request.route === SOURCES)
    expect(creates.map((request) => request.status)).toEqual([429, 200])
    expect(sourcesAtStripe()).toHaveLength(1)
    expect(defaultAtStripe()).toBe(sourcesAtStripe()[0])
  })

  it('retries a connection lost after Stripe saved the card: the retry replays it', async () => {
    const { deps, owner, sourcesAtStripe } = setup({ cards: ['tok_visa'] })
    const [oldCard] = sourcesAtStripe()
    // Stripe creates the card, then the answer is lost: the SDK sees a reset connection.
    stripe.faults.inject({ route: SOURCES, drop: 'after-commit' })

    const result = await ensureCheckoutCard(deps, owner, 'tok_mastercard')

    const creates = stripe.state.requests().filter((request) => request.route === SOURCES)
    expect(creates).toHaveLength(2)
    expect(creates[1]).toMatchObject({ replayed: true, idempotencyKey: creates[0]!.idempotencyKey })
    // One new card, the default; the old one deleted: nothing made twice, nothing lost.
    expect(result).toMatchObject({ status: 'ready' })
    const cardId = result.status === 'ready' ? result.cardId : ''
    expect(sourcesAtStripe()).toEqual([cardId])
    expect(cardId).not.toBe(oldCard)
  })

  it('gives up after the retries with the provider error, when Stripe stays down', async () => {
    const { deps, owner, waits } = setup({ cards: ['tok_visa'] })
    stripe.faults.inject({ route: /^GET \/v1\/customers\//, status: 500, times: 10 })

    await expect(ensureCheckoutCard(deps, owner)).rejects.toMatchObject({
      code: 'provider_unavailable',
      provider: 'stripe',
    })
    expect(waits).toHaveLength(2) // core's default: two retries after the first attempt
  })
})
