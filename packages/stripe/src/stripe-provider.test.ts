import {
  type Card,
  type CursorState,
  createCardSync,
  encodeCursor,
  formatOwner,
  isDefaultUnknown,
  isOwnerDeleted,
  listAll,
  memoryStore,
  type Owner,
  toArray,
} from '@cardport/core'
import { stripeEmulator } from '@cardport/testing/emulators'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { STRIPE_API_VERSION, stripeProvider } from './stripe-provider.js'
import { rejection, STRIPE_CLIENT_KINDS, useStripe } from './test-harness.js'

const emulator = stripeEmulator()

const SOURCES = 'POST /v1/customers/:customer/sources'
const EXTERNAL_ACCOUNTS = 'POST /v1/accounts/:account/external_accounts'

/** A new customer at the emulator. */
function newCustomer(): Owner {
  return { type: 'customer', id: emulator.seed.customer().id }
}

/** A new Custom connected account at the emulator (US, usd unless told otherwise). */
function newAccount(fields: { default_currency?: string } = {}): Owner {
  return { type: 'account', id: emulator.seed.account(fields).id }
}

/** The customer's `default_source` as the emulator holds it. */
function defaultSourceOf(owner: Owner): string | null | undefined {
  return emulator.state.customer(owner.id)?.default_source
}

/** What `run` answers, and the emulator's route names of the requests it sent, in order. */
async function withRoutes<T>(run: () => Promise<T>): Promise<{ result: T; routes: string[] }> {
  const before = emulator.state.requests().length
  const result = await run()
  const routes = emulator.state.requests().slice(before)
  return { result, routes: routes.map((request) => request.route) }
}

/** The ids of the cards of a list, in order. */
const ids = (cards: readonly Card[]) => cards.map((card) => card.id)

/**
 * Sources of a customer, newest first: `c` a card, `b` a bank account, `s` a Sources API object.
 * Stripe embeds the 10 newest in the customer: the mixes put 0 to 10 cards among those 10, with
 * cards, other sources or nothing after them, then more mixes drawn from a fixed seed.
 */
const SOURCE_MIXES: readonly string[] = [
  '',
  'c',
  'b',
  'ccbbbbbbbbbb',
  'ccccccccccb',
  'ccccccccccsb',
  'ccccccccccbc',
  'bbbbbbbbbbcc',
  'cbcbcbcbcbcbcbcbcbcb',
  ...Array.from({ length: 11 }, (_, cards) => `${'c'.repeat(cards)}${'b'.repeat(11 - cards)}`),
  ...Array.from({ length: 11 }, (_, cards) => `${'c'.repeat(cards)}${'b'.repeat(12 - cards)}c`),
  ...Array.from({ length: 11 }, (_, cards) => `${'c'.repeat(cards)}${'s'.repeat(10 - cards)}bccc`),
  ...drawnMixes(12, 0x5eed),
]

/** `count` mixes of 0 to 24 sources, each source a card two times in three, drawn from `seed`. */
function drawnMixes(count: number, seed: number): string[] {
  const source = fc.constantFrom('c', 'c', 'c', 'c', 'b', 's')
  // A length drawn first: fast-check's own array lengths lean to the short.
  const mix = fc
    .integer({ min: 0, max: 24 })
    .chain((length) => fc.array(source, { minLength: length, maxLength: length }))
  return fc.sample(mix, { numRuns: count, seed }).map((sources) => sources.join(''))
}

/** Adds `mix`'s sources (newest first) to a customer, oldest first. */
function seedSources(owner: Owner, mix: string): void {
  for (const kind of [...mix].reverse()) {
    if (kind === 'c') emulator.seed.card(owner.id, 'tok_visa')
    else if (kind === 'b') emulator.seed.bankAccount(owner.id)
    else emulator.seed.source(owner.id)
  }
}

/** A card's details for an external account: a debit card, as Stripe requires for payouts. */
const DEBIT_DETAILS = { number: '4000056655665556', expMonth: 12, expYear: 2040, cvc: '123' }

describe.each(STRIPE_CLIENT_KINDS)('stripeProvider against the Stripe emulator ($name)', (kind) => {
  const target = useStripe(kind, emulator)

  describe('customers: the default rules of seed 001', () => {
    it('makes the first card the default, and a second card leaves the default as it is', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const first = await provider.createCard(owner, { source: 'tok_visa' })
      expect(first).toMatchObject({ owner, brand: 'visa', last4: '4242', isDefault: true })
      expect(defaultSourceOf(owner)).toBe(first.id)

      const second = await provider.createCard(owner, { source: 'tok_mastercard' })
      expect(second).toMatchObject({ brand: 'mastercard', last4: '4444', isDefault: false })
      expect(defaultSourceOf(owner)).toBe(first.id)
      expect((await provider.getDefaultCard(owner))?.id).toBe(first.id)
      expect((await provider.getCard(owner, second.id)).isDefault).toBe(false)
      const page = await provider.listCards(owner)
      expect(page.data.map((card) => [card.id, card.isDefault])).toEqual([
        [second.id, false],
        [first.id, true],
      ])
    })

    it('makes a new card the default when asked (makeDefault)', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const first = await provider.createCard(owner, { source: 'tok_visa' })
      const second = await provider.createCard(owner, { source: 'tok_amex', makeDefault: true })
      expect(second).toMatchObject({ brand: 'amex', isDefault: true })
      expect(defaultSourceOf(owner)).toBe(second.id)
      expect((await provider.getCard(owner, first.id)).isDefault).toBe(false)
      expect((await provider.getDefaultCard(owner))?.id).toBe(second.id)
    })

    it('reads whether a new card is the default from the create itself, in one request', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const first = await withRoutes(() => provider.createCard(owner, { source: 'tok_visa' }))
      expect(first.result.isDefault).toBe(true)
      const second = await withRoutes(() => provider.createCard(owner, { source: 'tok_jcb' }))
      expect(second.result.isDefault).toBe(false)
      // A second request, once the card is made, could fail and leave a card the caller thinks
      // was never made.
      expect([first.routes, second.routes]).toEqual([[SOURCES], [SOURCES]])
    })

    it('names the card it made when makeDefault fails after the create, and its key finishes the job', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const first = await provider.createCard(owner, { source: 'tok_visa' })
      emulator.faults.inject({ route: 'POST /v1/customers/:customer', status: 500 })
      const input = { source: 'tok_amex', makeDefault: true }
      const options = { idempotencyKey: 'amex-as-default' }
      const error = await rejection(provider.createCard(owner, input, options))
      const made = emulator.state.sources(owner.id).find((source) => source.id !== first.id)
      expect(made).toBeDefined()
      expect(error).toMatchObject({
        code: 'provider_unavailable',
        retryable: true,
        status: 500,
        details: { cardId: made?.id },
      })
      expect(error.message).toContain(`card ${made?.id} was added to ${formatOwner(owner)}`)
      expect(defaultSourceOf(owner)).toBe(first.id)
      const card = await provider.createCard(owner, input, options)
      expect(card).toMatchObject({ id: made?.id, isDefault: true })
      expect(emulator.state.sources(owner.id)).toHaveLength(2)
      expect(defaultSourceOf(owner)).toBe(made?.id)
    })

    it("gives the update's retryAfterMs, requestId and retryable when makeDefault fails after the create", async () => {
      const provider = target.provider()
      const input = { source: 'tok_amex', makeDefault: true }
      emulator.faults.inject({ route: 'POST /v1/customers/:customer', status: 503, retryAfter: 7 })
      const unavailable = await rejection(provider.createCard(newCustomer(), input))
      expect(unavailable).toMatchObject({
        code: 'provider_unavailable',
        status: 503,
        retryable: true,
        retryAfterMs: 7000,
        requestId: expect.stringMatching(/^req_/),
      })
      // A key still in use is an idempotency_conflict that Stripe says to retry.
      const inUse = {
        type: 'idempotency_error',
        code: 'idempotency_key_in_use',
        message: 'There is currently another in-progress request using this Idempotent Key.',
      }
      emulator.faults.inject({
        route: 'POST /v1/customers/:customer',
        status: 409,
        body: JSON.stringify({ error: inUse }),
      })
      const conflict = await rejection(provider.createCard(newCustomer(), input))
      expect(conflict).toMatchObject({
        code: 'idempotency_conflict',
        status: 409,
        providerCode: 'idempotency_key_in_use',
        retryable: true,
      })
      expect(conflict.message).toContain('was added to')
    })

    it('refuses an answer that is no card, and makes nothing the default', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const first = await provider.createCard(owner, { source: 'tok_visa' })
      // What Stripe answers a bank account token with: a proxy in the way, here.
      const bankAccount = { id: 'ba_1Answered', object: 'bank_account', customer: owner.id }
      emulator.faults.inject({ route: SOURCES, body: JSON.stringify(bankAccount) })
      const { result, routes } = await withRoutes(() =>
        rejection(provider.createCard(owner, { source: 'tok_amex', makeDefault: true })),
      )
      expect(result).toMatchObject({
        code: 'invalid_request',
        retryable: false,
        details: { sourceId: 'ba_1Answered' },
      })
      expect(result.message).toContain('a bank_account (ba_1Answered)')
      expect(routes).toEqual([SOURCES])
      expect(defaultSourceOf(owner)).toBe(first.id)
    })

    it('syncFromProviderData keeps the default of a card whose payload names its customer by id', async () => {
      const sync = createCardSync({ provider: target.provider(), store: memoryStore() })
      const owner = newCustomer()
      const card = await sync.setDefaultCard(owner, 'tok_visa')
      const raw = await target.client().customers.retrieveSource(owner.id, card.id)
      expect((raw as { customer?: unknown }).customer).toBe(owner.id)
      const stored = await sync.syncFromProviderData(owner, raw)
      expect(stored).toMatchObject({ id: card.id, isDefault: true })
      expect((await sync.getForOwner(owner))?.id).toBe(card.id)
      expect(defaultSourceOf(owner)).toBe(card.id)
    })

    it("syncFromProviderData refuses another customer's card, and stores nothing", async () => {
      const store = memoryStore()
      const sync = createCardSync({ provider: target.provider(), store })
      const alice = newCustomer()
      const bob = newCustomer()
      const bobs = await target.provider().createCard(bob, { source: 'tok_visa' })
      const raw = await target.client().customers.retrieveSource(bob.id, bobs.id)
      const error = await rejection(sync.syncFromProviderData(alice, raw))
      expect(error.code).toBe('invalid_request')
      expect(await store.listByOwner({ provider: 'stripe', owner: alice })).toEqual([])
      expect(await store.listByOwner({ provider: 'stripe', owner: bob })).toEqual([])
    })

    it('CardSync.setDefaultCard with a test token given again makes a new card', async () => {
      // Stripe replays a key for 24 hours: the key CardSync derives from owner and token names
      // the first call's card, deleted by the second call; the third call moves on.
      const sync = createCardSync({ provider: target.provider(), store: memoryStore() })
      const owner = newCustomer()
      const first = await sync.setDefaultCard(owner, 'tok_visa')
      await sync.setDefaultCard(owner, 'tok_mastercard')
      const again = await sync.setDefaultCard(owner, 'tok_visa')
      expect(again.id).not.toBe(first.id)
      expect(defaultSourceOf(owner)).toBe(again.id)
      const held = await toArray(listAll(target.provider(), owner), { limit: 10 })
      expect(held.map((card) => [card.id, card.isDefault])).toEqual([[again.id, true]])
    })

    it('switches the default with setDefaultCard', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const first = await provider.createCard(owner, { source: 'tok_visa' })
      const second = await provider.createCard(owner, { source: 'tok_discover' })
      const made = await provider.setDefaultCard(owner, second.id)
      expect(made).toMatchObject({ id: second.id, brand: 'discover', isDefault: true })
      expect(defaultSourceOf(owner)).toBe(second.id)
      expect((await provider.getCard(owner, first.id)).isDefault).toBe(false)
    })

    it('promotes the most recently added remaining card when the default is deleted', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const first = await provider.createCard(owner, { source: 'tok_visa' })
      const second = await provider.createCard(owner, { source: 'tok_mastercard' })
      const third = await provider.createCard(owner, { source: 'tok_amex' })
      const fourth = await provider.createCard(owner, { source: 'tok_jcb' })

      // Deleting a card that is not the default leaves the default alone.
      await provider.deleteCard(owner, fourth.id)
      expect(defaultSourceOf(owner)).toBe(first.id)

      await provider.deleteCard(owner, first.id)
      expect(defaultSourceOf(owner)).toBe(third.id)
      expect((await provider.getDefaultCard(owner))?.id).toBe(third.id)
      const page = await provider.listCards(owner)
      expect(page.data.map((card) => [card.id, card.isDefault])).toEqual([
        [third.id, true],
        [second.id, false],
      ])
    })

    it('leaves no default card when deleting the default promotes a newer bank account (seed 001)', async () => {
      // Stripe promotes the most recently added remaining source, which is not always a card.
      const provider = target.provider()
      const owner = newCustomer()
      const first = await provider.createCard(owner, { source: 'tok_visa' })
      const kept = await provider.createCard(owner, { source: 'tok_mastercard' })
      const bank = emulator.seed.bankAccount(owner.id)
      expect((await provider.getDefaultCard(owner))?.id).toBe(first.id)

      await provider.deleteCard(owner, first.id)
      expect(defaultSourceOf(owner)).toBe(bank.id)
      expect(await provider.getDefaultCard(owner)).toBeNull()
      expect((await provider.getCard(owner, kept.id)).isDefault).toBe(false)
      const page = await provider.listCards(owner)
      expect(page.data.map((card) => [card.id, card.isDefault])).toEqual([[kept.id, false]])
    })

    it('CardSync.deleteCard of the default leaves the store no default when Stripe promotes a bank account', async () => {
      const provider = target.provider()
      const store = memoryStore()
      const sync = createCardSync({ provider, store })
      const owner = newCustomer()
      const first = await sync.setDefaultCard(owner, 'tok_visa')
      const kept = await provider.createCard(owner, { source: 'tok_mastercard' })
      await sync.sync(owner, kept.id)
      emulator.seed.bankAccount(owner.id)
      expect((await sync.getForOwner(owner))?.id).toBe(first.id)

      await sync.deleteCard(owner, first.id)
      expect(await sync.getForOwner(owner)).toBeNull()
      const stored = await store.listByOwner({ provider: 'stripe', owner })
      expect(stored.map((card) => [card.id, card.isDefault])).toEqual([[kept.id, false]])
    })

    it('leaves no default once the last card is deleted', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const only = await provider.createCard(owner, { source: 'tok_visa' })
      await provider.deleteCard(owner, only.id)
      expect(defaultSourceOf(owner)).toBeNull()
      expect(await provider.getDefaultCard(owner)).toBeNull()
      expect(await provider.listCards(owner)).toEqual({
        data: [],
        hasMore: false,
        nextCursor: null,
      })
      const gone = await rejection(provider.getCard(owner, only.id))
      expect(gone).toMatchObject({ code: 'card_not_found', status: 404 })
    })

    it('creates a card from card details, with its holder and billing address', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const card = await provider.createCard(owner, {
        source: {
          number: '5555 5555 5555 4444',
          expMonth: 11,
          expYear: 2039,
          cvc: '314',
          holderName: 'Jenny Rosen',
          address: { line1: '510 Townsend St', postalCode: '94103', country: 'US' },
        },
        metadata: { plan: 'pro' },
      })
      expect(card).toMatchObject({
        brand: 'mastercard',
        last4: '4444',
        expMonth: 11,
        expYear: 2039,
        holderName: 'Jenny Rosen',
        address: { line1: '510 Townsend St', postalCode: '94103', country: 'US', city: null },
        checks: { cvc: 'pass', addressLine1: 'pass', postalCode: 'pass' },
        metadata: { plan: 'pro' },
        currency: null,
        isDefault: true,
      })
    })
  })

  describe("customers: a card's currency", () => {
    it('refuses a currency for a customer, with a token or card details, before any request', async () => {
      // Only Connect external accounts pay out in a currency; a customer's card was made
      // without the one asked for, and the caller read it as set.
      const provider = target.provider()
      const owner = newCustomer()
      for (const source of ['tok_visa', DEBIT_DETAILS]) {
        const error = await rejection(provider.createCard(owner, { source, currency: 'eur' }))
        expect(error).toMatchObject({ code: 'invalid_request', provider: 'stripe' })
        expect(error.issues).toEqual([{ path: ['currency'], message: "not for a customer's card" }])
        expect(error.message).toContain('external accounts')
        expect(JSON.stringify(error)).not.toContain(DEBIT_DETAILS.number)
      }
      expect(emulator.state.requests()).toEqual([])
    })
  })

  describe('accounts: external accounts and default_for_currency (seed 004)', () => {
    it('makes the first card of a currency its default; a second leaves it; makeDefault and setDefaultCard switch it', async () => {
      const provider = target.provider()
      const owner = newAccount()
      const first = await provider.createCard(owner, { source: 'tok_visa_debit' })
      expect(first).toMatchObject({
        owner,
        funding: 'debit',
        currency: 'usd',
        isDefault: true,
      })
      const second = await provider.createCard(owner, { source: 'tok_mastercard_debit' })
      expect(second).toMatchObject({ brand: 'mastercard', currency: 'usd', isDefault: false })
      expect((await provider.getDefaultCard(owner))?.id).toBe(first.id)

      const third = await provider.createCard(owner, {
        source: 'tok_visa_debit',
        makeDefault: true,
      })
      expect(third.isDefault).toBe(true)
      expect((await provider.getCard(owner, first.id)).isDefault).toBe(false)

      const switched = await provider.setDefaultCard(owner, second.id)
      expect(switched).toMatchObject({ id: second.id, isDefault: true })
      const page = await provider.listCards(owner)
      expect(page.data.map((card) => [card.id, card.isDefault])).toEqual([
        [third.id, false],
        [second.id, true],
        [first.id, false],
      ])
      expect(emulator.state.source(second.id)).toMatchObject({ default_for_currency: true })
    })

    it('refuses to delete the default for its currency with a conflict that says what to do', async () => {
      const provider = target.provider()
      const owner = newAccount()
      const first = await provider.createCard(owner, { source: 'tok_visa_debit' })
      const second = await provider.createCard(owner, { source: 'tok_mastercard_debit' })

      const refused = await rejection(provider.deleteCard(owner, first.id))
      expect(refused).toMatchObject({
        code: 'conflict',
        provider: 'stripe',
        status: 400,
        retryable: false,
        requestId: expect.stringMatching(/^req_/),
      })
      expect(refused.message).toContain('setDefaultCard')
      expect(emulator.state.sources(owner.id).map((source) => source.id)).toContain(first.id)

      // What the message says to do works.
      await provider.setDefaultCard(owner, second.id)
      await provider.deleteCard(owner, first.id)
      expect(ids((await provider.listCards(owner)).data)).toEqual([second.id])
      // The last card of the account's default currency is its default: it stays.
      const last = await rejection(provider.deleteCard(owner, second.id))
      expect(last).toMatchObject({ code: 'conflict' })
    })

    it("deletes the only card of a currency other than the account's, though it is that currency's default (seed 004)", async () => {
      const provider = target.provider()
      const owner = newAccount()
      const usd = await provider.createCard(owner, { source: 'tok_visa_debit' })
      const eur = await provider.createCard(owner, { source: DEBIT_DETAILS, currency: 'eur' })
      expect(eur).toMatchObject({ currency: 'eur', isDefault: true })
      await provider.deleteCard(owner, eur.id)
      expect(ids((await provider.listCards(owner)).data)).toEqual([usd.id])
    })

    it('pays a card out in the currency given with card details, as its own default', async () => {
      const provider = target.provider()
      const owner = newAccount()
      const usd = await provider.createCard(owner, { source: 'tok_visa_debit' })
      const eur = await provider.createCard(owner, { source: DEBIT_DETAILS, currency: 'eur' })
      expect(eur).toMatchObject({ currency: 'eur', isDefault: true, last4: '5556' })
      expect((await provider.getCard(owner, usd.id)).isDefault).toBe(true)
      // The only card of a currency that is not the account's default currency may go.
      await provider.deleteCard(owner, eur.id)
      expect(ids((await provider.listCards(owner)).data)).toEqual([usd.id])
    })

    it('refuses a currency with a token (set when the token is made) before any request', async () => {
      const provider = target.provider()
      const owner = newAccount()
      const before = emulator.state.requests().length
      const error = await rejection(
        provider.createCard(owner, { source: 'tok_visa_debit', currency: 'eur' }),
      )
      expect(error).toMatchObject({ code: 'invalid_request', provider: 'stripe' })
      expect(emulator.state.requests()).toHaveLength(before)
    })

    it('refuses a credit card, which cannot receive payouts, as card_invalid', async () => {
      const provider = target.provider()
      const owner = newAccount()
      const error = await rejection(provider.createCard(owner, { source: 'tok_visa' }))
      expect(error).toMatchObject({
        code: 'card_invalid',
        providerCode: 'invalid_card_type',
        status: 400,
      })
      expect(emulator.state.sources(owner.id)).toEqual([])
    })

    it('updates an account card, clears fields with null, and makes it the default', async () => {
      const provider = target.provider()
      const owner = newAccount()
      await provider.createCard(owner, { source: 'tok_visa_debit' })
      const card = await provider.createCard(owner, {
        source: { ...DEBIT_DETAILS, holderName: 'Jenny Rosen', address: { city: 'Paris' } },
      })
      const updated = await provider.updateCard(owner, card.id, {
        holderName: null,
        address: { city: null, line1: '1 Rue de Rivoli' },
        expMonth: 1,
        expYear: 2041,
        metadata: { payout: 'weekly' },
      })
      expect(updated).toMatchObject({
        holderName: null,
        address: { city: null, line1: '1 Rue de Rivoli' },
        expMonth: 1,
        expYear: 2041,
        metadata: { payout: 'weekly' },
        isDefault: false,
      })
    })
  })

  describe('lists', () => {
    it('pages over more than 100 cards with limit and an opaque cursor; listAll streams them all', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      for (let i = 0; i < 130; i++) emulator.seed.card(owner.id, i % 2 ? 'tok_visa' : 'tok_amex')
      const stored = emulator.state.sources(owner.id).map((source) => source.id)

      const first = await provider.listCards(owner, { limit: 100 })
      expect(first.data).toHaveLength(100)
      expect(first.hasMore).toBe(true)
      expect(first.nextCursor).toEqual(expect.any(String))
      expect(first.nextCursor).not.toContain(stored[99])
      const second = await provider.listCards(owner, {
        limit: 100,
        cursor: first.nextCursor as string,
      })
      expect(second).toMatchObject({ hasMore: false, nextCursor: null })
      expect([...ids(first.data), ...ids(second.data)]).toEqual(stored)
      // The default is the first card added, the last of the list (newest first).
      expect(second.data.filter((card) => card.isDefault).map((card) => card.id)).toEqual([
        stored.at(-1),
      ])

      const lists = (await target.sent()).length
      const all = await toArray(listAll(provider, owner), { limit: 1000 })
      expect(ids(all)).toEqual(stored)
      const pages = (await target.sent()).slice(lists)
      expect(pages.filter((request) => request.path.endsWith('/sources'))).toHaveLength(2)
    })

    it("lists a customer's first page from the customer with its sources, in one request", async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const visa = emulator.seed.card(owner.id, 'tok_visa')
      const mastercard = emulator.seed.card(owner.id, 'tok_mastercard')
      const amex = emulator.seed.card(owner.id, 'tok_amex')
      const { result: page, routes } = await withRoutes(() => provider.listCards(owner))
      expect(routes).toEqual(['GET /v1/customers/:customer'])
      expect(page.data.map((card) => [card.id, card.isDefault])).toEqual([
        [amex.id, false],
        [mastercard.id, false],
        [visa.id, true],
      ])
      expect(page).toMatchObject({ hasMore: false, nextCursor: null })
      // The customer says which card is the default: none of them is marked unknown.
      expect(page.data.some((card) => isDefaultUnknown(card))).toBe(false)
    })

    it('continues past the 10 sources a customer embeds, after its last card, without bank accounts', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      // Oldest first: 8 cards, then cards and bank accounts mixed. Newest first, the 10 sources
      // the customer embeds are 7 cards and 3 bank accounts, the last of them a bank account.
      const cards: string[] = []
      const card = () => cards.unshift(emulator.seed.card(owner.id, 'tok_visa').id)
      for (let i = 0; i < 8; i++) card()
      for (let i = 0; i < 3; i++) {
        emulator.seed.bankAccount(owner.id)
        card()
        card()
      }
      card()
      expect(cards).toHaveLength(15)

      const first = await withRoutes(() => provider.listCards(owner, { limit: 100 }))
      expect(first.routes).toEqual([
        'GET /v1/customers/:customer',
        'GET /v1/customers/:customer/sources',
      ])
      expect(ids(first.result.data)).toEqual(cards)
      expect(first.result).toMatchObject({ hasMore: false, nextCursor: null })
      expect(first.result.data.filter((entry) => entry.isDefault).map((entry) => entry.id)).toEqual(
        [cards.at(-1)],
      )

      // A page smaller than the embedded cards needs no second request; the next page goes on.
      const small = await withRoutes(() => provider.listCards(owner, { limit: 5 }))
      expect(small.routes).toEqual(['GET /v1/customers/:customer'])
      expect(ids(small.result.data)).toEqual(cards.slice(0, 5))
      expect(small.result.hasMore).toBe(true)
      const cursor = small.result.nextCursor as string
      const next = await provider.listCards(owner, { limit: 5, cursor })
      expect(ids(next.data)).toEqual(cards.slice(5, 10))
      const walked = await toArray(listAll(provider, owner, { pageSize: 4 }), { limit: 100 })
      expect(ids(walked)).toEqual(cards)
    })

    it('lists the cards of a customer whose 10 newest sources are all bank accounts', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const older = emulator.seed.card(owner.id, 'tok_visa')
      const newer = emulator.seed.card(owner.id, 'tok_mastercard')
      for (let i = 0; i < 10; i++) emulator.seed.bankAccount(owner.id)
      const page = await provider.listCards(owner, { limit: 10 })
      expect(page.data.map((card) => [card.id, card.isDefault])).toEqual([
        [newer.id, false],
        [older.id, true],
      ])
      expect(page).toMatchObject({ hasMore: false, nextCursor: null })
    })

    it('lists the cards of a customer answered without its sources, never reading it as no cards', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const older = emulator.seed.card(owner.id, 'tok_visa')
      const newer = emulator.seed.card(owner.id, 'tok_mastercard')
      // A customer as a proxy, a mock or a future API version might answer it: no `sources`.
      const body = JSON.stringify({ id: owner.id, object: 'customer', default_source: older.id })
      emulator.faults.inject({ route: 'GET /v1/customers/:customer', body })
      const { result: page, routes } = await withRoutes(() => provider.listCards(owner))
      expect(routes).toEqual(['GET /v1/customers/:customer', 'GET /v1/customers/:customer/sources'])
      expect(page.data.map((card) => [card.id, card.isDefault])).toEqual([
        [newer.id, false],
        [older.id, true],
      ])
      expect(page).toMatchObject({ hasMore: false, nextCursor: null })
    })

    it('walks every mix of cards and other sources with limits 1 to 12: each card once, in order, no empty page after the first', {
      timeout: 120_000,
    }, async () => {
      const provider = target.provider()
      for (const mix of SOURCE_MIXES) {
        const owner = newCustomer()
        seedSources(owner, mix)
        const cards = emulator.state
          .sources(owner.id)
          .filter((source) => source.object === 'card')
          .map((source) => source.id)
        for (let limit = 1; limit <= 12; limit++) {
          const where = `${mix || '(none)'}, limit ${limit}`
          const pages: Card[][] = []
          const requests: number[] = []
          let cursor: string | undefined
          do {
            const { result: page, routes } = await withRoutes(() =>
              provider.listCards(owner, cursor ? { limit, cursor } : { limit }),
            )
            pages.push(page.data)
            requests.push(routes.length)
            expect(page.nextCursor === null, `${where}: cursor as hasMore says`).toBe(!page.hasMore)
            cursor = page.nextCursor ?? undefined
          } while (cursor && pages.length <= cards.length)
          expect(
            pages.flat().map((card) => card.id),
            where,
          ).toEqual(cards)
          // Every page but the last is full, and the last is empty only as the only page.
          const sizes = pages.map((page) => page.length)
          const full = Math.max(1, Math.ceil(cards.length / limit))
          expect(sizes, where).toEqual(
            Array.from({ length: full }, (_, i) =>
              i < full - 1 ? limit : cards.length - limit * (full - 1),
            ),
          )
          // The first page is one request for a customer with up to 10 sources, or with more
          // embedded cards than the page holds; otherwise one more, for the cards after them.
          const embedded = [...mix.slice(0, 10)].filter((kind) => kind === 'c').length
          const oneRequest = mix.length <= 10 || embedded > limit
          expect(requests[0], `${where}: first page requests`).toBe(oneRequest ? 1 : 2)
        }
      }
    })

    it('pages small: limit 1 walks every card one by one', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      for (const token of ['tok_visa', 'tok_mastercard', 'tok_amex']) {
        emulator.seed.card(owner.id, token)
      }
      const seen: string[] = []
      let cursor: string | undefined
      do {
        const page = await provider.listCards(owner, cursor ? { limit: 1, cursor } : { limit: 1 })
        expect(page.data).toHaveLength(1)
        seen.push(...ids(page.data))
        cursor = page.nextCursor ?? undefined
      } while (cursor)
      expect(seen).toEqual(emulator.state.sources(owner.id).map((source) => source.id))
    })

    it('a cursor whose card was deleted since is invalid_request saying to list again, not card_not_found', async () => {
      const provider = target.provider()
      for (const owner of [newCustomer(), newAccount()]) {
        const token = owner.type === 'customer' ? 'tok_visa' : 'tok_visa_debit'
        for (let i = 0; i < 15; i++) emulator.seed.card(owner.id, token)
        // Past the customer's 10 embedded sources: later pages are plain lists of cards.
        const first = await provider.listCards(owner, { limit: 11 })
        const second = await provider.listCards(owner, {
          limit: 2,
          cursor: first.nextCursor as string,
        })
        const last = second.data.at(-1)!
        await provider.deleteCard(owner, last.id)
        const error = await rejection(
          provider.listCards(owner, { limit: 2, cursor: second.nextCursor as string }),
        )
        expect(error).toMatchObject({
          code: 'invalid_request',
          providerCode: 'resource_missing',
          details: { param: 'starting_after' },
        })
        expect(error.message).toContain('list again from the first page')
      }
    })

    it("refuses another owner's cursor, and one that was altered, before any request", async () => {
      const provider = target.provider()
      const owners = [newCustomer(), newCustomer(), newAccount()]
      for (const owner of owners) {
        const token = owner.type === 'customer' ? 'tok_visa' : 'tok_visa_debit'
        for (let i = 0; i < 3; i++) emulator.seed.card(owner.id, token)
      }
      const [customer, otherCustomer, account] = owners as [Owner, Owner, Owner]
      const cursor = (await provider.listCards(customer, { limit: 1 })).nextCursor!
      const altered = ([{}, { after: 5 }, { after: '' }] as CursorState[]).map((state) =>
        encodeCursor('stripe', state, { list: formatOwner(customer) }),
      )
      const before = (await target.sent()).length
      for (const [owner, given] of [
        [otherCustomer, cursor],
        [account, cursor],
        ...altered.map((given) => [customer, given] as const),
      ] as const) {
        const error = await rejection(provider.listCards(owner, { limit: 1, cursor: given }))
        expect(error.code, `${owner.id} ${given}`).toBe('invalid_request')
      }
      expect((await target.sent()).slice(before)).toEqual([])
    })

    it("pages over more than 100 of an account's external accounts", async () => {
      const provider = target.provider()
      const owner = newAccount()
      for (let i = 0; i < 101; i++) emulator.seed.card(owner.id, 'tok_visa_debit')
      const all = await toArray(listAll(provider, owner, { pageSize: 100 }), { limit: 1000 })
      expect(all).toHaveLength(101)
      expect(new Set(ids(all)).size).toBe(101)
      expect(all.filter((card) => card.isDefault)).toHaveLength(1)
      expect((await provider.getDefaultCard(owner))?.id).toBe(all.at(-1)?.id)
    })

    it("ignores bank accounts and other sources in a customer's sources", async () => {
      const provider = target.provider()
      const owner = newCustomer()
      // The first source is the customer's default: here a bank account.
      const bank = emulator.seed.bankAccount(owner.id)
      const ach = emulator.seed.source(owner.id)
      const older = emulator.seed.card(owner.id, 'tok_visa')
      const bank2 = emulator.seed.bankAccount(owner.id, { last4: '1116' })
      const newer = emulator.seed.card(owner.id, 'tok_mastercard')
      expect(defaultSourceOf(owner)).toBe(bank.id)

      const page = await provider.listCards(owner)
      expect(ids(page.data)).toEqual([newer.id, older.id])
      expect(page.data.every((card) => !card.isDefault)).toBe(true)
      expect(await provider.getDefaultCard(owner)).toBeNull()
      const walked = await toArray(listAll(provider, owner, { pageSize: 1 }), { limit: 10 })
      expect(ids(walked)).toEqual([newer.id, older.id])

      for (const other of [bank.id, ach.id as string, bank2.id]) {
        expect(await rejection(provider.getCard(owner, other))).toMatchObject({
          code: 'card_not_found',
        })
        // Nothing that is not a card is changed or deleted through the card API.
        expect(await rejection(provider.deleteCard(owner, other))).toMatchObject({
          code: 'card_not_found',
        })
        expect(await rejection(provider.setDefaultCard(owner, other))).toMatchObject({
          code: 'card_not_found',
        })
        expect(
          await rejection(provider.updateCard(owner, other, { metadata: { touched: 'yes' } })),
        ).toMatchObject({ code: 'card_not_found' })
      }
      expect(emulator.state.sources(owner.id)).toHaveLength(5)
      expect(emulator.state.source(bank.id)?.metadata).toEqual({})
      expect(defaultSourceOf(owner)).toBe(bank.id)

      // A card can take the default over from the bank account.
      await provider.setDefaultCard(owner, older.id)
      expect((await provider.getDefaultCard(owner))?.id).toBe(older.id)
    })

    it("ignores bank accounts among an account's external accounts", async () => {
      const provider = target.provider()
      const owner = newAccount()
      const bank = emulator.seed.bankAccount(owner.id)
      const card = await provider.createCard(owner, { source: 'tok_visa_debit' })
      // The bank account came first: it is the default for usd.
      expect(card.isDefault).toBe(false)
      expect(ids((await provider.listCards(owner)).data)).toEqual([card.id])
      expect(await provider.getDefaultCard(owner)).toBeNull()
      expect(await rejection(provider.getCard(owner, bank.id))).toMatchObject({
        code: 'card_not_found',
      })
      expect(await rejection(provider.deleteCard(owner, bank.id))).toMatchObject({
        code: 'card_not_found',
      })
      expect(emulator.state.source(bank.id)).toMatchObject({ default_for_currency: true })
      const made = await provider.setDefaultCard(owner, card.id)
      expect(made.isDefault).toBe(true)
      expect((await provider.getDefaultCard(owner))?.id).toBe(card.id)
      expect(emulator.state.source(bank.id)).toMatchObject({ default_for_currency: false })

      // Nothing that is not a card is made the default or changed through the card API.
      expect(await rejection(provider.setDefaultCard(owner, bank.id))).toMatchObject({
        code: 'card_not_found',
      })
      expect(
        await rejection(provider.updateCard(owner, bank.id, { metadata: { touched: 'yes' } })),
      ).toMatchObject({ code: 'card_not_found' })
      expect(emulator.state.source(bank.id)).toMatchObject({ default_for_currency: false })
      expect(emulator.state.source(bank.id)?.metadata).toEqual({})
      expect((await provider.getDefaultCard(owner))?.id).toBe(card.id)
    })
  })

  describe('updates', () => {
    it('updates address, expiry, name and metadata; an empty metadata value unsets its key', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const card = await provider.createCard(owner, {
        source: 'tok_visa',
        metadata: { plan: 'pro', seat: '3' },
      })
      const updated = await provider.updateCard(owner, card.id, {
        holderName: 'Jenny Rosen',
        expMonth: 4,
        expYear: 2042,
        address: {
          line1: '510 Townsend St',
          line2: 'Floor 2',
          city: 'San Francisco',
          state: 'CA',
          postalCode: '94103',
          country: 'US',
        },
        metadata: { seat: '', team: 'blue' },
      })
      expect(updated).toMatchObject({
        id: card.id,
        holderName: 'Jenny Rosen',
        expMonth: 4,
        expYear: 2042,
        address: {
          line1: '510 Townsend St',
          line2: 'Floor 2',
          city: 'San Francisco',
          state: 'CA',
          postalCode: '94103',
          country: 'US',
        },
        metadata: { plan: 'pro', team: 'blue' },
        isDefault: true,
      })
      expect(await provider.getCard(owner, card.id)).toEqual(updated)

      const cleared = await provider.updateCard(owner, card.id, {
        holderName: null,
        address: { line2: null },
      })
      expect(cleared).toMatchObject({
        holderName: null,
        address: { line2: null, city: 'San Francisco' },
      })
    })
  })

  describe('errors', () => {
    it.each([
      ['tok_chargeDeclined', 'generic_decline'],
      ['tok_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
      ['tok_chargeDeclinedLostCard', 'lost_card'],
      ['tok_chargeDeclinedStolenCard', 'stolen_card'],
    ])('%s is card_declined with decline code %s, request id and cause', async (token, decline) => {
      const provider = target.provider()
      const owner = newCustomer()
      const error = await rejection(provider.createCard(owner, { source: token }))
      const [record] = emulator.state.requests().filter((request) => request.route === SOURCES)
      expect(error).toMatchObject({
        name: 'CardportError',
        code: 'card_declined',
        provider: 'stripe',
        status: 402,
        providerCode: 'card_declined',
        declineCode: decline,
        requestId: record?.requestId,
        retryable: false,
      })
      expect(error.cause).toMatchObject({ type: 'StripeCardError', decline_code: decline })
      expect(emulator.state.sources(owner.id)).toEqual([])
    })

    it.each([
      ['tok_chargeDeclinedIncorrectCvc', 'incorrect_cvc'],
      ['tok_cvcCheckFail', 'incorrect_cvc'],
      ['tok_chargeDeclinedExpiredCard', 'expired_card'],
    ])('%s is card_invalid (%s)', async (token, code) => {
      const provider = target.provider()
      const error = await rejection(provider.createCard(newCustomer(), { source: token }))
      expect(error).toMatchObject({
        code: 'card_invalid',
        status: 402,
        providerCode: code,
        requestId: expect.stringMatching(/^req_/),
      })
      expect(error.cause).toMatchObject({ type: 'StripeCardError', code })
    })

    it('a metadata update that would leave the card more than 50 keys is invalid_request, and changes nothing', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const keys = (prefix: string, count: number) =>
        Object.fromEntries(Array.from({ length: count }, (_, index) => [`${prefix}${index}`, 'v']))
      const card = await provider.createCard(owner, { source: 'tok_visa', metadata: keys('a', 30) })
      const error = await rejection(
        provider.updateCard(owner, card.id, { holderName: 'Ada', metadata: keys('b', 21) }),
      )
      // What memoryProvider() answers too.
      expect(error).toMatchObject({
        code: 'invalid_request',
        provider: 'stripe',
        status: 400,
        details: { param: 'metadata' },
      })
      expect(await provider.getCard(owner, card.id)).toEqual(card)
    })

    it('an expiry Stripe refuses on update is card_invalid', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const card = await provider.createCard(owner, { source: 'tok_visa' })
      const error = await rejection(provider.updateCard(owner, card.id, { expYear: 2001 }))
      expect(error).toMatchObject({
        code: 'card_invalid',
        providerCode: 'invalid_expiry_year',
        details: { param: 'exp_year' },
      })
    })

    it('a missing card is card_not_found, a missing customer or account owner_not_found', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const missingCard = await rejection(provider.getCard(owner, 'card_0000000000000000missing'))
      expect(missingCard).toMatchObject({
        code: 'card_not_found',
        status: 404,
        providerCode: 'resource_missing',
        requestId: expect.stringMatching(/^req_/),
      })
      const noCustomer: Owner = { type: 'customer', id: 'cus_00000000missing' }
      // One call at a time: a call made before the one ahead of it settled could reject with
      // no handler yet (an unhandled rejection).
      for (const call of [
        () => provider.listCards(noCustomer),
        () => provider.createCard(noCustomer, { source: 'tok_visa' }),
        () => provider.getCard(noCustomer, 'card_0000000000000000missing'),
      ]) {
        expect(await rejection(call())).toMatchObject({ code: 'owner_not_found', status: 404 })
      }
      const noAccount: Owner = { type: 'account', id: 'acct_000000000missing' }
      expect(await rejection(provider.listCards(noAccount))).toMatchObject({
        code: 'owner_not_found',
        providerCode: 'resource_missing',
      })
      expect(await rejection(provider.setDefaultCard(owner, 'card_0000missing'))).toMatchObject({
        code: 'card_not_found',
      })
    })

    it('a deleted customer is owner_not_found for its default too, though Stripe answers its stub', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      await provider.createCard(owner, { source: 'tok_visa' })
      // Stripe answers GET /v1/customers/:id of a deleted customer with 200 and
      // `{ id, object: 'customer', deleted: true }` (OpenAPI: customer | deleted_customer).
      const sdk = target.client() as unknown as { customers: { del(id: string): Promise<unknown> } }
      await sdk.customers.del(owner.id)
      expect(await rejection(provider.listCards(owner))).toMatchObject({ code: 'owner_not_found' })
      expect(await rejection(provider.getDefaultCard(owner))).toMatchObject({
        code: 'owner_not_found',
        provider: 'stripe',
      })
    })

    it('tells a deleted customer (ownerDeleted) from one Stripe never had, and reconcile empties only the first', async () => {
      const provider = target.provider()
      const sdk = target.client() as unknown as { customers: { del(id: string): Promise<unknown> } }
      const gone = newCustomer()
      const unknown: Owner = { type: 'customer', id: 'cus_0000000000000000' }
      const store = memoryStore()
      const sync = createCardSync({ provider, store, retry: { retries: 0 } })
      await sync.setDefaultCard(gone, 'tok_visa')
      // A card stored for a customer of another account or mode (a key changed since).
      const stored = (await store.getDefault({ provider: 'stripe', owner: gone }))!
      await store.upsert({ ...stored, owner: unknown })
      await sdk.customers.del(gone.id)

      expect(await rejection(provider.listCards(gone))).toMatchObject({
        code: 'owner_not_found',
        details: { ownerDeleted: true },
      })
      const neverHad = await rejection(provider.listCards(unknown))
      expect(neverHad.code).toBe('owner_not_found')
      expect(isOwnerDeleted(neverHad)).toBe(false)

      const report = await sync.reconcile([gone, unknown])
      expect(report.removed.map((entry) => entry.owner.id)).toEqual([gone.id])
      expect(report.failed.map((entry) => [entry.owner.id, entry.code])).toEqual([
        [unknown.id, 'owner_not_found'],
      ])
      expect(await store.listByOwner({ provider: 'stripe', owner: unknown })).toHaveLength(1)
    })

    it('a customer deleted after the first page, or answered without its sources, is ownerDeleted on the plain list: reconcile empties it', async () => {
      const provider = target.provider()
      const sdk = target.client() as unknown as { customers: { del(id: string): Promise<unknown> } }
      const paged = newCustomer()
      for (let i = 0; i < 3; i++) emulator.seed.card(paged.id, 'tok_visa')
      const first = await provider.listCards(paged, { limit: 1 })
      await sdk.customers.del(paged.id)
      // The later page's plain list says "No such customer", as for one Stripe never had.
      expect(
        await rejection(provider.listCards(paged, { limit: 1, cursor: first.nextCursor! })),
      ).toMatchObject({ code: 'owner_not_found', details: { ownerDeleted: true } })

      // The customer's own answer from before the deletion (a proxy's cache), without sources:
      // the first page goes on to the plain list, which is what says the customer is gone.
      const unembedded = newCustomer()
      const card = emulator.seed.card(unembedded.id, 'tok_visa')
      await sdk.customers.del(unembedded.id)
      const body = JSON.stringify({
        id: unembedded.id,
        object: 'customer',
        default_source: card.id,
      })
      emulator.faults.inject({ route: 'GET /v1/customers/:customer', body })
      expect(await rejection(provider.listCards(unembedded))).toMatchObject({
        code: 'owner_not_found',
        details: { ownerDeleted: true },
      })

      // Reconcile reads more than a page (100 cards) and the customer is deleted after the first.
      const owner = newCustomer()
      for (let i = 0; i < 101; i++) emulator.seed.card(owner.id, 'tok_visa')
      const store = memoryStore()
      await createCardSync({ provider, store, retry: { retries: 0 } }).reconcile([owner])
      expect(await store.listByOwner({ provider: 'stripe', owner })).toHaveLength(101)
      const deletesAfterFirstPage: typeof provider = {
        ...provider,
        async listCards(...args: Parameters<typeof provider.listCards>) {
          const page = await provider.listCards(...args)
          if (args[1]?.cursor === undefined) await sdk.customers.del(owner.id)
          return page
        },
      }
      const sync = createCardSync({ provider: deletesAfterFirstPage, store, retry: { retries: 0 } })
      const report = await sync.reconcile([owner])
      expect(report.failed).toEqual([])
      expect(report.removed.filter((entry) => entry.owner.id === owner.id)).toHaveLength(101)
      expect(await store.listByOwner({ provider: 'stripe', owner })).toEqual([])
    })

    it('a deleted connected account: reconcile reports it failed and keeps its cards (README, Owners)', async () => {
      // Stripe answers no stub for a deleted account: its lists say "No such account" (or, on
      // real Stripe, a permission error), as for an account never connected to the platform.
      // Nothing tells the two apart, so reconcile keeps the cards; the README says to remove
      // them on `account.application.deauthorized` (which stripeWebhookHandler does).
      const provider = target.provider()
      const sdk = target.client() as unknown as { accounts: { del(id: string): Promise<unknown> } }
      const deleted = newAccount()
      const forbidden = newAccount()
      const store = memoryStore()
      const sync = createCardSync({ provider, store, retry: { retries: 0 } })
      for (const owner of [deleted, forbidden]) {
        await sync.sync(owner, await provider.createCard(owner, { source: 'tok_visa_debit' }))
      }
      await sdk.accounts.del(deleted.id)
      const error = await rejection(provider.listCards(deleted))
      expect(error.code).toBe('owner_not_found')
      expect(isOwnerDeleted(error)).toBe(false)
      // How real Stripe is reported to answer an account the key cannot reach (deleted or never
      // connected): "does not have access to account … (or that account does not exist)".
      emulator.faults.inject({
        route: new RegExp(`^GET /v1/accounts/${forbidden.id}/external_accounts`),
        status: 403,
        times: 10,
      })

      const report = await sync.reconcile([deleted, forbidden])
      expect(report.removed).toEqual([])
      const failed = new Map(report.failed.map((entry) => [entry.owner.id, entry.code]))
      expect(failed).toEqual(
        new Map([
          [deleted.id, 'owner_not_found'],
          [forbidden.id, 'permission'],
        ]),
      )
      for (const owner of [deleted, forbidden]) {
        expect(await store.listByOwner({ provider: 'stripe', owner })).toHaveLength(1)
      }
    })

    it('an unknown token is invalid_request, not a missing card', async () => {
      const provider = target.provider()
      const error = await rejection(provider.createCard(newCustomer(), { source: 'tok_nope' }))
      expect(error).toMatchObject({
        code: 'invalid_request',
        providerCode: 'resource_missing',
        details: { param: 'source' },
      })
    })

    it('a key Stripe refuses is authentication (401); a forbidden one permission (403)', async () => {
      const owner = newCustomer()
      emulator.faults.inject({ route: 'GET /v1/customers/:customer', status: 403 })
      expect(await rejection(target.provider().listCards(owner))).toMatchObject({
        code: 'permission',
        status: 403,
        requestId: expect.stringMatching(/^req_/),
      })
      const live = stripeProvider({
        stripe: target.client({}, 'sk_live_notAcceptedByTheEmulator'),
        maxNetworkRetries: 0,
      })
      const refused = await rejection(live.listCards(owner))
      expect(refused).toMatchObject({
        code: 'authentication',
        status: 401,
        providerCode: 'api_key_invalid',
      })
      expect(refused.message).not.toContain('sk_live_notAcceptedByTheEmulator')
    })

    it('429 is rate_limited with retryAfterMs from Retry-After', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      emulator.faults.inject({
        route: 'GET /v1/customers/:customer',
        status: 429,
        retryAfter: 7,
      })
      const error = await rejection(provider.listCards(owner))
      expect(error).toMatchObject({
        code: 'rate_limited',
        status: 429,
        providerCode: 'rate_limit',
        retryAfterMs: 7000,
        retryable: true,
        requestId: expect.stringMatching(/^req_/),
      })
    })

    it('an idempotency key reused with other parameters is idempotency_conflict', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const key = 'cardport-test-reused-key'
      await provider.createCard(owner, { source: 'tok_visa' }, { idempotencyKey: key })
      const error = await rejection(
        provider.createCard(owner, { source: 'tok_mastercard' }, { idempotencyKey: key }),
      )
      expect(error).toMatchObject({
        code: 'idempotency_conflict',
        status: 400,
        providerCode: 'idempotency_error',
        requestId: expect.stringMatching(/^req_/),
      })
      expect(emulator.state.sources(owner.id)).toHaveLength(1)
    })

    it('500 is provider_unavailable, and nothing was created', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      emulator.faults.inject({ route: SOURCES, status: 500 })
      const error = await rejection(provider.createCard(owner, { source: 'tok_visa' }))
      expect(error).toMatchObject({
        code: 'provider_unavailable',
        status: 500,
        providerCode: 'api_error',
        retryable: true,
        requestId: emulator.state.requests()[0]?.requestId,
      })
      expect(error.cause).toMatchObject({ type: 'StripeAPIError' })
      expect(emulator.state.sources(owner.id)).toEqual([])
    })

    it('a connection that keeps dropping is provider_unavailable', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      emulator.faults.inject({ route: SOURCES, drop: 'before-commit', times: 5 })
      const error = await rejection(provider.createCard(owner, { source: 'tok_visa' }))
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: true })
      expect(error.cause).toMatchObject({ type: 'StripeConnectionError' })
      expect(emulator.state.sources(owner.id)).toEqual([])
    })

    it('errors never hold a card number or a CVC', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const error = await rejection(
        provider.createCard(owner, {
          source: { number: '4000000000000002', expMonth: 12, expYear: 2040, cvc: '987' },
        }),
      )
      expect(error).toMatchObject({ code: 'card_declined', declineCode: 'generic_decline' })
      const text = `${String(error.message)} ${JSON.stringify(error)}`
      expect(text).not.toContain('4000000000000002')
      expect(text).not.toContain('987')
    })
  })

  describe('idempotency', () => {
    it("sends the caller's key with a create", async () => {
      const provider = target.provider()
      const owner = newCustomer()
      await provider.createCard(owner, { source: 'tok_visa' }, { idempotencyKey: 'order-42-card' })
      const creates = emulator.state.requests().filter((request) => request.route === SOURCES)
      expect(creates.map((request) => request.idempotencyKey)).toEqual(['order-42-card'])
    })

    it('gives every create a key of its own when the caller gives none', async () => {
      const provider = target.provider()
      const customer = newCustomer()
      const account = newAccount()
      await provider.createCard(customer, { source: 'tok_visa' })
      await provider.createCard(customer, { source: 'tok_visa' })
      await provider.createCard(account, { source: 'tok_visa_debit' })
      const keys = emulator.state
        .requests()
        .filter((request) => request.route === SOURCES || request.route === EXTERNAL_ACCOUNTS)
        .map((request) => request.idempotencyKey)
      expect(keys).toHaveLength(3)
      expect(keys.every((key) => typeof key === 'string' && key.length > 0)).toBe(true)
      expect(new Set(keys).size).toBe(3)
    })

    it('returns the same card when a create is repeated with its key', async () => {
      const provider = target.provider()
      const owner = newAccount()
      const input = { source: 'tok_visa_debit', metadata: { order: '42' } }
      const first = await provider.createCard(owner, input, { idempotencyKey: 'payout-card-42' })
      const again = await provider.createCard(owner, input, { idempotencyKey: 'payout-card-42' })
      expect(again).toEqual(first)
      expect(emulator.state.sources(owner.id)).toHaveLength(1)
      expect(emulator.state.requests().filter((r) => r.replayed)).toHaveLength(1)
    })

    it('reads a replayed create again: a card deleted since is card_not_found, not made again', async () => {
      const provider = target.provider()
      for (const [owner, source] of [
        [newCustomer(), 'tok_visa'],
        [newAccount(), 'tok_visa_debit'],
      ] as const) {
        const options = { idempotencyKey: `made-then-deleted-${owner.type}` }
        const card = await provider.createCard(owner, { source, makeDefault: true }, options)
        await provider.createCard(owner, { source, makeDefault: true })
        await provider.deleteCard(owner, card.id)
        // Stripe answers the key with its stored answer: the deleted card, as the default.
        const { result, routes } = await withRoutes(() =>
          rejection(provider.createCard(owner, { source, makeDefault: true }, options)),
        )
        expect(result).toMatchObject({ code: 'card_not_found', provider: 'stripe' })
        expect(result.message).toContain(
          `the card ${card.id} that this idempotency key made for ${formatOwner(owner)} was deleted since`,
        )
        const create = owner.type === 'customer' ? SOURCES : EXTERNAL_ACCOUNTS
        expect(routes[0]).toBe(create)
        expect(routes).toHaveLength(2)
        expect(emulator.state.sources(owner.id).map((source) => source.id)).not.toContain(card.id)
      }
    })

    it('reads a replayed create again: a re-read that fails is that failure, not card_not_found', async () => {
      const provider = target.provider()
      for (const [owner, source, read] of [
        [newCustomer(), 'tok_visa', 'GET /v1/customers/:customer/sources/:id'],
        [newAccount(), 'tok_visa_debit', 'GET /v1/accounts/:account/external_accounts/:id'],
      ] as const) {
        const options = { idempotencyKey: `made-then-unreadable-${owner.type}` }
        const card = await provider.createCard(owner, { source }, options)
        // The card is still held: only the read that checks it fails, which says nothing of
        // whether it was deleted, so a caller must not make another card under a new key.
        emulator.faults.inject({ route: read, status: 500 })
        const { result: unavailable, routes } = await withRoutes(() =>
          rejection(provider.createCard(owner, { source }, options)),
        )
        expect(unavailable).toMatchObject({ code: 'provider_unavailable', retryable: true })
        expect(routes).toEqual([owner.type === 'customer' ? SOURCES : EXTERNAL_ACCOUNTS, read])
        emulator.faults.inject({ route: read, status: 429, retryAfter: 3 })
        const limited = await rejection(provider.createCard(owner, { source }, options))
        expect(limited).toMatchObject({ code: 'rate_limited', retryAfterMs: 3000, retryable: true })
        for (const error of [unavailable, limited]) {
          expect(error.message).not.toContain('was deleted since')
        }
        expect(emulator.state.sources(owner.id).map((source) => source.id)).toEqual([card.id])
      }
    })

    it('answers a replayed create with the card as it is now, not as the stored answer was', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const options = { idempotencyKey: 'first-card' }
      const first = await provider.createCard(owner, { source: 'tok_visa' }, options)
      expect(first.isDefault).toBe(true)
      await provider.createCard(owner, { source: 'tok_amex', makeDefault: true })
      await provider.updateCard(owner, first.id, { holderName: 'Renamed Since' })
      const again = await provider.createCard(owner, { source: 'tok_visa' }, options)
      expect(again).toMatchObject({ id: first.id, isDefault: false, holderName: 'Renamed Since' })
    })

    it('CardSync.setDefaultCard with a test token given again makes a new external account card', async () => {
      const sync = createCardSync({ provider: target.provider(), store: memoryStore() })
      const owner = newAccount()
      const first = await sync.setDefaultCard(owner, 'tok_visa_debit')
      await sync.setDefaultCard(owner, 'tok_mastercard_debit')
      // The token's derived key is replayed with the first card, deleted since: a new key
      // makes a new card.
      const third = await sync.setDefaultCard(owner, 'tok_visa_debit')
      expect(third.id).not.toBe(first.id)
      expect(third).toMatchObject({ isDefault: true, brand: 'visa' })
      const held = emulator.state.sources(owner.id)
      expect(held.map((source) => source.id)).toEqual([third.id])
    })

    it('makes one card when the connection drops after the commit: the SDK retries with the same key', async () => {
      const provider = target.provider({ maxNetworkRetries: 2 })
      const owner = newCustomer()
      emulator.faults.inject({ route: SOURCES, drop: 'after-commit' })
      const card = await provider.createCard(owner, { source: 'tok_visa' })
      expect(emulator.state.sources(owner.id).map((source) => source.id)).toEqual([card.id])
      const creates = emulator.state.requests().filter((request) => request.route === SOURCES)
      expect(creates).toHaveLength(2)
      expect(creates[1]).toMatchObject({
        idempotencyKey: creates[0]?.idempotencyKey,
        replayed: true,
      })
      expect(card.isDefault).toBe(true)
    })

    it('makes one card when the caller retries a create that lost its answer, with its key', async () => {
      const provider = target.provider()
      const owner = newAccount()
      emulator.faults.inject({ route: EXTERNAL_ACCOUNTS, drop: 'after-commit' })
      const options = { idempotencyKey: 'retry-me' }
      const input = { source: 'tok_visa_debit' }
      // With retries off the call fails, unless the SDK's node:http client retries a closed
      // connection once by itself (stripe 16 with ECONNRESET), with the same key.
      const outcome = await provider.createCard(owner, input, options).catch((error) => error)
      if (!('last4' in outcome)) expect(outcome).toMatchObject({ code: 'provider_unavailable' })
      const retried = await provider.createCard(owner, input, options)
      expect(emulator.state.sources(owner.id).map((source) => source.id)).toEqual([retried.id])
      const keys = emulator.state
        .requests()
        .filter((request) => request.route === EXTERNAL_ACCOUNTS)
        .map((request) => request.idempotencyKey)
      expect(new Set(keys)).toEqual(new Set(['retry-me']))
    })
  })

  describe('validation before any request', () => {
    it.each([
      ['51 metadata keys', { metadata: Object.fromEntries(range(51).map((i) => [`k${i}`, 'v'])) }],
      ['a metadata key of 41 characters', { metadata: { ['k'.repeat(41)]: 'v' } }],
      ['a metadata value of 501 characters', { metadata: { note: 'v'.repeat(501) } }],
      ['a metadata key with brackets', { metadata: { 'a[b]': 'v' } }],
      ['an empty source', { source: '' }],
      [
        'a card number that fails the Luhn check',
        { source: { number: '4242424242424241', expMonth: 12, expYear: 2040 } },
      ],
      ['an expired card', { source: { number: '4242424242424242', expMonth: 1, expYear: 2001 } }],
      [
        'a CVC of the wrong length',
        { source: { number: '378282246310005', expMonth: 1, expYear: 2040, cvc: '123' } },
      ],
      ['an upper-case currency', { currency: 'USD' }],
    ])('refuses a create with %s', async (_case, input) => {
      const provider = target.provider()
      const owner = newCustomer()
      const error = await rejection(
        provider.createCard(owner, { source: 'tok_visa', ...input } as never),
      )
      expect(error).toMatchObject({ code: 'invalid_request', provider: 'stripe' })
      expect(error.issues).toEqual(expect.arrayContaining([expect.anything()]))
      expect(JSON.stringify(error)).not.toContain('4242424242424241')
      expect(emulator.state.requests()).toEqual([])
    })

    it.each(['btok_us_verified', 'ba_1NqBankAccount', 'src_1NqLegacySource', 'pm_card_visa'])(
      "refuses %s as a create's source: it is no card token",
      async (source) => {
        const provider = target.provider()
        for (const owner of [newCustomer(), newAccount()]) {
          const error = await rejection(provider.createCard(owner, { source, makeDefault: true }))
          expect(error).toMatchObject({
            code: 'invalid_request',
            provider: 'stripe',
            retryable: false,
          })
          expect(error.issues).toEqual([{ path: ['source'], message: 'not a card token (tok_…)' }])
          expect(JSON.stringify({ message: error.message, issues: error.issues })).not.toContain(
            source,
          )
        }
        expect(emulator.state.requests()).toEqual([])
      },
    )

    it('refuses bad owners, ids, updates, list limits and keys without a request', async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const calls: Array<() => Promise<unknown>> = [
        () => provider.listCards({ type: 'customer', id: '' }),
        () => provider.listCards({ type: 'merchant', id: 'x' } as never),
        () => provider.listCards(owner, { limit: 0 }),
        () => provider.listCards(owner, { limit: 101 }),
        () => provider.listCards(owner, { limit: 10, cursor: '' }),
        () => provider.getCard(owner, ''),
        () => provider.updateCard(owner, 'card_123', {}),
        () => provider.updateCard(owner, 'card_123', { expMonth: 13 }),
        () => provider.updateCard(owner, 'card_123', { metadata: { ['k'.repeat(41)]: 'v' } }),
        () => provider.deleteCard(owner, ''),
        () => provider.setDefaultCard(owner, ''),
        () => provider.createCard(owner, { source: 'tok_visa' }, { idempotencyKey: '' }),
      ]
      for (const call of calls) {
        expect(await rejection(call())).toMatchObject({ code: 'invalid_request' })
      }
      // Invalidation does not compile for Stripe; called anyway, it is refused at run time.
      const invalidate = provider.invalidateCard as unknown as (
        ...args: unknown[]
      ) => Promise<unknown>
      expect(await rejection(invalidate(owner, 'card_123'))).toMatchObject({
        code: 'unsupported_operation',
      })
      expect(emulator.state.requests()).toEqual([])
    })
  })

  describe('requests', () => {
    it(`pins every request to API version ${STRIPE_API_VERSION}`, async () => {
      const provider = target.provider()
      const owner = newCustomer()
      const card = await provider.createCard(owner, { source: 'tok_visa' })
      await provider.listCards(owner)
      await provider.updateCard(owner, card.id, { metadata: { a: 'b' } })
      await provider.getDefaultCard(owner)
      await provider.deleteCard(owner, card.id)
      const sent = await target.sent()
      expect(sent.length).toBeGreaterThanOrEqual(5)
      expect(new Set(sent.map((request) => request.apiVersion))).toEqual(
        new Set([STRIPE_API_VERSION]),
      )
    })
  })
})

function range(count: number): number[] {
  return Array.from({ length: count }, (_, index) => index)
}
