import { createRequire } from 'node:module'
import {
  type Card,
  type CardStore,
  createCardSync,
  isCardportError,
  listAll,
  memoryStore,
  type Owner,
  OwnerSchema,
  type StoredCard,
  toArray,
} from '@cardport/core'
import { stripeEmulator } from '@cardport/testing/emulators'
import fc from 'fast-check'
import { setupServer } from 'msw/node'
import Stripe from 'stripe'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  deliverStripeEvents,
  type StripeEvent,
  signStripeEvent,
  stripeEventPayload,
} from '../../testing/src/stripe/stripe-events.js'
import { STRIPE_PROVIDER_NAME } from './parse-card.js'
import { type StripeProvider, stripeProvider } from './stripe-provider.js'
import type { StripeWebhookError, StripeWebhookVerifier } from './webhook-events.js'
import {
  type SeenEventIds,
  type StripeWebhookHandler,
  type StripeWebhookHandlerOptions,
  type StripeWebhookResult,
  stripeWebhookHandler,
} from './webhook-handler.js'

// The emulator's clock stamps each event's `created`; tests move it a second per change, or
// hold it still to put every change in the same second.
let clock = Date.now()
const tick = () => {
  clock += 1000
}
const emulator = stripeEmulator({ now: () => new Date(clock) })
const server = setupServer(...emulator.handlers)
const secret = emulator.events.secret

// stripe 16 (the lowest SDK of the peer range) verifies too; its types would clash with 23's.
const StripeV16 = createRequire(import.meta.url)('stripe-v16') as {
  webhooks: StripeWebhookVerifier
}

let sdk: Stripe
let provider: StripeProvider

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
beforeEach(() => {
  clock = Date.now()
  sdk = new Stripe('sk_test_webhooks', { maxNetworkRetries: 0 })
  provider = stripeProvider({ stripe: sdk, maxNetworkRetries: 0 })
})
afterEach(() => {
  server.resetHandlers()
  emulator.reset()
})
afterAll(() => server.close())

type Mode = 'events' | 'confirm'

function handlerFor(
  store: CardStore,
  mode: Mode,
  extra: Partial<StripeWebhookHandlerOptions> = {},
): StripeWebhookHandler {
  const common = { endpointSecret: secret, store, ...extra }
  return mode === 'confirm'
    ? stripeWebhookHandler({ ...common, stripe: sdk } as StripeWebhookHandlerOptions)
    : stripeWebhookHandler({ ...common, webhooks: Stripe.webhooks } as StripeWebhookHandlerOptions)
}

const strip = ({ version: _v, updatedAt: _u, observedAt: _o, ...card }: StoredCard): Card => card
const byId = (a: Card, b: Card) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
const scope = (owner: Owner) => ({ provider: STRIPE_PROVIDER_NAME, owner })

/** The owner's cards as Stripe lists them, and as the store holds them. */
async function compare(store: CardStore, owner: Owner) {
  const atStripe = (await toArray(listAll(provider, owner), { limit: 1000 })).sort(byId)
  const stored = (await store.listByOwner(scope(owner))).map(strip).sort(byId)
  return { atStripe, stored }
}

/** Every row of the owners, bookkeeping included: to show that a refused request changed nothing. */
async function snapshot(store: CardStore, owners: Owner[]) {
  return Promise.all(owners.map((owner) => store.listByOwner(scope(owner))))
}

/**
 * Changes through the adapter, for two customers and a connected account: creations, default
 * switches, updates, deletions (of defaults too), bank accounts among the cards. Returns the
 * owners. `step` runs between changes.
 */
async function scenario(step: () => void): Promise<Owner[]> {
  const c1: Owner = { type: 'customer', id: (await sdk.customers.create({})).id }
  const c2: Owner = { type: 'customer', id: (await sdk.customers.create({})).id }
  const a1: Owner = {
    type: 'account',
    id: (await sdk.accounts.create({ type: 'custom', country: 'US' })).id,
  }
  step()

  const a = await provider.createCard(c1, { source: 'tok_visa' })
  step()
  const b = await provider.createCard(c1, { source: 'tok_mastercard' })
  step()
  await provider.setDefaultCard(c1, b.id)
  step()
  await provider.updateCard(c1, a.id, { holderName: 'Jenny Rosen', metadata: { plan: 'pro' } })
  step()
  const c = await provider.createCard(c1, { source: 'tok_amex', makeDefault: true })
  step()
  await provider.deleteCard(c1, c.id) // the default: Stripe promotes the most recent card, b
  step()
  await provider.updateCard(c1, a.id, { expMonth: 4, expYear: new Date(clock).getFullYear() + 3 })
  step()
  await provider.deleteCard(c1, a.id)
  step()
  await provider.updateCard(c1, b.id, { metadata: { nickname: 'work' } })
  step()
  await provider.updateCard(c1, b.id, { holderName: 'Primary' })
  step()

  const d = await provider.createCard(c2, { source: 'tok_discover' })
  step()
  await provider.createCard(c2, { source: 'tok_jcb' })
  step()
  emulator.seed.bankAccount(c2.id)
  step()
  // The default goes, and Stripe promotes the most recent source: the bank account.
  await provider.deleteCard(c2, d.id)
  step()

  const x = await provider.createCard(a1, { source: 'tok_visa_debit' })
  step()
  const y = await provider.createCard(a1, { source: 'tok_mastercard_debit' })
  step()
  await provider.setDefaultCard(a1, y.id)
  step()
  await provider.updateCard(a1, x.id, { holderName: 'Payouts' })
  step()
  await provider.createCard(a1, {
    source: { number: '4000056655665556', expMonth: 12, expYear: 2031 },
    currency: 'eur',
  })
  step()
  const z = await provider.createCard(a1, { source: 'tok_visa_debit', makeDefault: true })
  step()
  await provider.deleteCard(a1, x.id)
  step()
  await provider.updateCard(a1, z.id, { metadata: { bank: 'main' } })
  step()
  emulator.seed.bankAccount(a1.id, { currency: 'usd' })
  step()
  // y was the default until z took over: a card whose flag went back and forth.
  await provider.updateCard(a1, y.id, { holderName: 'Spare' })
  step()
  return [c1, c2, a1]
}

async function expectInStep(store: CardStore, owners: Owner[]) {
  for (const owner of owners) {
    // The lists hold `isDefault`: an account's default per currency is compared with the rest.
    const { atStripe, stored } = await compare(store, owner)
    expect(stored).toEqual(atStripe)
    if (owner.type === 'customer') {
      expect((await store.getDefault(scope(owner)))?.id ?? null).toBe(
        (await provider.getDefaultCard(owner))?.id ?? null,
      )
    }
  }
}

describe('end to end: emulator changes → signed events, shuffled and duplicated → the store', () => {
  it('applies events alone when each change has its own second', async () => {
    const owners = await scenario(tick)
    const events = emulator.events.take()
    expect(events.length).toBeGreaterThan(30)

    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (seed, duplicate) => {
          const store = memoryStore()
          const deliveries = await deliverStripeEvents(events, handlerFor(store, 'events'), {
            shuffle: seed,
            duplicate,
          })
          expect(deliveries.every((delivery) => delivery.status === 200)).toBe(true)
          await expectInStep(store, owners)
        },
      ),
      { numRuns: 25 },
    )
  })

  it('stays correct without remembering event ids: the timestamps alone refuse old events', async () => {
    const owners = await scenario(tick)
    const events = emulator.events.take()
    const forgetful: SeenEventIds = { has: () => false, add: () => undefined }

    for (const seed of [3, 17, 101]) {
      const store = memoryStore()
      const deliveries = await deliverStripeEvents(
        events,
        handlerFor(store, 'events', { seen: forgetful }),
        { shuffle: seed, duplicate: 1 },
      )
      const actions = deliveries.map((delivery) => (delivery.result as StripeWebhookResult).action)
      expect(actions).not.toContain('duplicate')
      expect(actions).toContain('stale')
      await expectInStep(store, owners)
    }
  })

  it('confirms with Stripe, each change in its own second', async () => {
    const owners = await scenario(tick)
    const events = emulator.events.take()

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const store = memoryStore()
        await deliverStripeEvents(events, handlerFor(store, 'confirm'), {
          shuffle: seed,
          duplicate: 0.3,
        })
        await expectInStep(store, owners)
      }),
      { numRuns: 10 },
    )
  })

  it('confirms with Stripe when every change falls in the same second', async () => {
    const owners = await scenario(() => undefined)
    const events = emulator.events.take()
    expect(new Set(events.map((event) => event.created)).size).toBe(1)

    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), async (seed) => {
        const store = memoryStore()
        await deliverStripeEvents(events, handlerFor(store, 'confirm'), {
          shuffle: seed,
          duplicate: 0.3,
        })
        await expectInStep(store, owners)
      }),
      { numRuns: 10 },
    )
  })

  it('confirms correctly with deliveries in flight at once', async () => {
    const owners = await scenario(() => undefined)
    const events = emulator.events.take()
    const store = memoryStore()
    const deliveries = await deliverStripeEvents(events, handlerFor(store, 'confirm'), {
      shuffle: 5,
      duplicate: 0.5,
      concurrency: 6,
    })
    expect(deliveries.every((delivery) => delivery.status === 200)).toBe(true)
    await expectInStep(store, owners)
  })
})

describe('what the handler reports', () => {
  const deliver = async (handler: StripeWebhookHandler, event: StripeEvent) => {
    const { payload, signature } = emulator.events.sign(event)
    return handler.handle(payload, signature)
  }

  it('upserts a card, switches the default, deletes, and ignores bank accounts', async () => {
    const store = memoryStore()
    const handler = handlerFor(store, 'events')
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.events.take()
    const card = await provider.createCard(customer, { source: 'tok_visa' })
    const [created, defaulted] = emulator.events.take() as [StripeEvent, StripeEvent]

    expect(await deliver(handler, created)).toEqual({
      eventId: created.id,
      type: 'customer.source.created',
      action: 'upserted',
      owner: customer,
      cardId: card.id,
    })
    expect(await deliver(handler, defaulted)).toEqual({
      eventId: defaulted.id,
      type: 'customer.updated',
      action: 'default-changed',
      owner: customer,
      cardId: card.id,
    })
    expect((await store.getDefault(scope(customer)))?.id).toBe(card.id)

    const bank = emulator.seed.bankAccount(customer.id)
    const [bankCreated] = emulator.events.take() as [StripeEvent]
    expect(await deliver(handler, bankCreated)).toMatchObject({
      action: 'ignored',
      reason: 'a bank_account is not a card',
      cardId: bank.id,
    })

    await provider.deleteCard(customer, card.id)
    const results = []
    for (const event of emulator.events.take()) results.push(await deliver(handler, event))
    expect(results.map((result) => [result.type, result.action, result.cardId])).toEqual([
      ['customer.source.deleted', 'deleted', card.id],
      // The bank account became the default: the customer has no default card.
      ['customer.updated', 'default-changed', undefined],
    ])
    expect(await store.listByOwner(scope(customer))).toEqual([])
  })

  for (const [title, handlerAheadMs, outcome] of [
    ['leaves a default another process stored from a later read', 0, 'kept'],
    // This host's clock (`now`) is two minutes ahead of the machine's: its read is the later.
    ["stamps the store with the handler's clock (`now`)", 120_000, 'cleared'],
  ] as const) {
    it(`confirming "no default" ${title}`, async () => {
      const store = memoryStore()
      const handler = handlerFor(store, 'confirm', { now: () => Date.now() + handlerAheadMs })
      const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
      const card = await provider.createCard(customer, { source: 'tok_visa' })
      await provider.deleteCard(customer, card.id)
      const noDefault = emulator.events
        .take()
        .filter((event) => event.type === 'customer.updated')
        .at(-1)
      expect(noDefault?.data.object).toMatchObject({ default_source: null })
      // Another process stored a default from a read a minute ahead of the machine's clock.
      const other: Card = { ...card, id: 'card_storedByAnotherProcess', isDefault: true }
      await store.upsert(other, { observedAt: Date.now() + 60_000 })
      // A kept default is the later state: the owner has a default, so the event is stale.
      expect(await deliver(handler, noDefault!)).toMatchObject(
        outcome === 'kept'
          ? { action: 'stale', cardId: other.id, confirmed: true }
          : { action: 'default-changed', confirmed: true },
      )
      const stored = await store.getDefault(scope(customer))
      expect(stored?.id ?? null).toBe(outcome === 'kept' ? other.id : null)
    })
  }

  for (const mode of ['events', 'confirm'] as const) {
    it(`ignores a card marked deleted in an updated event, and keeps the stored card (${mode})`, async () => {
      const store = memoryStore()
      const handler = handlerFor(store, mode)
      const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
      const account: Owner = {
        type: 'account',
        id: (await sdk.accounts.create({ type: 'custom', country: 'US' })).id,
      }
      emulator.events.take()
      for (const [owner, token] of [
        [customer, 'tok_visa'],
        [account, 'tok_visa_debit'],
      ] as const) {
        const card = await provider.createCard(owner, { source: token })
        for (const event of emulator.events.take()) await deliver(handler, event)
        tick()
        await provider.updateCard(owner, card.id, { holderName: 'Jenny Rosen' })
        const [updated] = emulator.events.take() as [StripeEvent]
        const before = await snapshot(store, [owner])

        const object = { ...(updated.data.object as object), deleted: true }
        const marked = { ...updated, data: { ...updated.data, object } } as unknown as StripeEvent
        expect(await deliver(handler, marked)).toEqual({
          eventId: updated.id,
          type: updated.type,
          action: 'ignored',
          reason: `a deleted card in a ${updated.type} event`,
          owner,
          cardId: card.id,
        })
        expect(await snapshot(store, [owner])).toEqual(before)
        expect(before[0]!.map((stored) => stored.id)).toEqual([card.id])
      }
    })
  }

  for (const mode of ['events', 'confirm'] as const) {
    it(`refuses with invalid_request, or confirms with Stripe, a card whose fields are objects naming toString (${mode})`, async () => {
      // `String` and `Number` of `{"toString": 0}` (JSON that names a method of every object)
      // throw a TypeError: the handler threw it instead of a CardportError.
      const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
      emulator.events.take()
      const card = await provider.createCard(customer, { source: 'tok_visa' })
      const [created] = emulator.events.take() as [StripeEvent]
      for (const field of ['last4', 'exp_month', 'exp_year']) {
        const store = memoryStore()
        const handler = handlerFor(store, mode)
        const object = { ...(created.data.object as object), [field]: { toString: 0 } }
        const event = { ...created, data: { ...created.data, object } } as unknown as StripeEvent
        const outcome = await deliver(handler, event).catch((error: unknown) => error)
        if (mode === 'events') {
          expect(isCardportError(outcome, 'invalid_request'), `${field}: ${outcome}`).toBe(true)
          expect(await store.listByOwner(scope(customer))).toEqual([])
        } else {
          expect(outcome, field).toMatchObject({ action: 'upserted', cardId: card.id })
        }
      }
    })
  }

  it('acknowledges unknown types and customer changes that leave the default alone', async () => {
    const handler = handlerFor(memoryStore(), 'events')
    const customer = emulator.seed.customer()
    await sdk.customers.update(customer.id, { email: 'jenny@example.com' })
    const [, emailChanged] = emulator.events.take() as [StripeEvent, StripeEvent]
    expect(emailChanged.type).toBe('customer.updated')
    expect(await deliver(handler, emailChanged)).toMatchObject({
      action: 'ignored',
      reason: 'the default source did not change',
    })

    const unknown = { ...emailChanged, id: 'evt_unknown', type: 'invoice.paid' } as unknown
    expect(await deliver(handler, unknown as StripeEvent)).toMatchObject({
      eventId: 'evt_unknown',
      type: 'invoice.paid',
      action: 'ignored',
    })
  })

  for (const mode of ['events', 'confirm'] as const) {
    it(`ignores the events of a connected account's customers, writing nothing (${mode})`, async () => {
      // A Connect endpoint also receives customer events of its connected accounts (`account`
      // set): those customers are not the platform's, and its key cannot reach them.
      const store = memoryStore()
      const handler = handlerFor(store, mode)
      const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
      emulator.events.take()
      const card = await provider.createCard(customer, { source: 'tok_visa' })
      tick()
      await provider.updateCard(customer, card.id, { holderName: 'Jenny Rosen' })
      tick()
      await sdk.customers.del(customer.id)
      const events = emulator.events.take()
      const types = [
        'customer.source.created',
        'customer.updated',
        'customer.source.updated',
        'customer.deleted',
      ]
      expect(events.map((event) => event.type)).toEqual(expect.arrayContaining(types))
      const requests = emulator.state.requests().length

      for (const event of events) {
        const connected = { ...event, account: 'acct_connected1' } as StripeEvent
        expect(await deliver(handler, connected)).toEqual({
          eventId: event.id,
          type: event.type,
          action: 'ignored',
          reason: "a connected account's customer",
        })
      }
      expect(await store.listByOwner(scope(customer))).toEqual([])
      expect(await toArray(store.listOwners(STRIPE_PROVIDER_NAME), { limit: 10 })).toEqual([])
      // Not even a read: the platform's key would be answered "No such customer".
      expect(emulator.state.requests()).toHaveLength(requests)
    })
  }

  /** What Stripe sends a platform when a connected account disconnects from it, or is deleted. */
  const deauthorization = (account: string | null): StripeEvent =>
    ({
      id: `evt_deauthorized_${clock}`,
      object: 'event',
      ...(account ? { account } : {}),
      api_version: '2023-08-16',
      created: Math.floor(clock / 1000),
      data: { object: { id: 'ca_platform', object: 'application', name: 'Platform' } },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type: 'account.application.deauthorized',
    }) as unknown as StripeEvent

  const newAccount = async (): Promise<Owner> => ({
    type: 'account',
    id: (await sdk.accounts.create({ type: 'custom', country: 'US' })).id,
  })

  for (const mode of ['events', 'confirm'] as const) {
    it(`removes the cards of an account that disconnected, and refuses its older events (${mode})`, async () => {
      const store = memoryStore()
      const handler = handlerFor(store, mode)
      const [account, other] = [await newAccount(), await newAccount()]
      const x = await provider.createCard(account, { source: 'tok_visa_debit' })
      const y = await provider.createCard(account, { source: 'tok_mastercard_debit' })
      await provider.createCard(other, { source: 'tok_visa_debit' })
      for (const event of emulator.events.take()) await deliver(handler, event)
      expect(await store.listByOwner(scope(account))).toHaveLength(2)
      tick()
      // A card made before the disconnection, whose event arrives after it.
      await provider.createCard(account, { source: 'tok_visa_debit' })
      const [late] = emulator.events.take() as [StripeEvent]
      tick()

      const deauthorized = deauthorization(account.id)
      expect(await deliver(handler, deauthorized)).toEqual({
        eventId: deauthorized.id,
        type: 'account.application.deauthorized',
        action: 'deleted',
        owner: account,
      })
      expect(await store.listByOwner(scope(account))).toEqual([])
      expect(await store.listByOwner(scope(other))).toHaveLength(1)

      const requests = emulator.state.requests().length
      expect(await deliver(handler, late)).toMatchObject({
        action: 'stale',
        reason: 'the account disconnected from the platform',
      })
      // Not read from Stripe: the platform's key no longer reaches the account.
      expect(emulator.state.requests()).toHaveLength(requests)
      expect(await store.listByOwner(scope(account))).toEqual([])

      // Connected again: its later events apply, over the removed card's marker too.
      tick()
      await provider.updateCard(account, y.id, { holderName: 'Again' })
      const [updated] = emulator.events.take() as [StripeEvent]
      expect(await deliver(handler, updated)).toMatchObject({ action: 'upserted', cardId: y.id })
      const stored = await store.listByOwner(scope(account))
      expect(stored.map((card) => [card.id, card.holderName])).toEqual([[y.id, 'Again']])
      expect(stored.map((card) => card.id)).not.toContain(x.id)
    })

    it(`keeps a card observed after the disconnection when its event arrives late (${mode})`, async () => {
      const store = memoryStore()
      // The deauthorization is delivered a minute after the reconnected account's change.
      const handler = handlerFor(store, mode, { now: () => clock + 60_000 })
      const account = await newAccount()
      const card = await provider.createCard(account, { source: 'tok_visa_debit' })
      for (const event of emulator.events.take()) await deliver(handler, event)
      tick()
      const deauthorized = deauthorization(account.id)
      tick()
      await provider.updateCard(account, card.id, { holderName: 'Reconnected' })
      for (const event of emulator.events.take()) await deliver(handler, event)

      expect(await deliver(handler, deauthorized)).toMatchObject({
        action: 'deleted',
        owner: account,
      })
      const stored = await store.listByOwner(scope(account))
      expect(stored.map((row) => [row.id, row.holderName])).toEqual([[card.id, 'Reconnected']])
    })
    it(`refuses a card's late event made between two disconnections, after the second (${mode})`, async () => {
      const store = memoryStore()
      const handler = handlerFor(store, mode)
      const account = await newAccount()
      emulator.events.take()
      tick()
      const first = deauthorization(account.id)
      expect(await deliver(handler, first)).toMatchObject({ action: 'deleted', owner: account })
      // Connected again: a card is made, whose event arrives after the next disconnection.
      tick()
      const card = await provider.createCard(account, { source: 'tok_visa_debit' })
      const [late] = emulator.events.take() as [StripeEvent]
      tick()
      const second = deauthorization(account.id)
      expect(await deliver(handler, second)).toMatchObject({ action: 'deleted', owner: account })

      // The second disconnection, not the first, says which events came too late.
      expect(await deliver(handler, late)).toMatchObject({
        action: 'stale',
        cardId: card.id,
        reason: 'the account disconnected from the platform',
      })
      expect(await store.listByOwner(scope(account))).toEqual([])
    })

    it(`refuses a card's late event made between two disconnections, after both delivered newest first (${mode})`, async () => {
      const store = memoryStore()
      const handler = handlerFor(store, mode)
      const account = await newAccount()
      emulator.events.take()
      tick()
      const first = deauthorization(account.id)
      tick()
      const card = await provider.createCard(account, { source: 'tok_visa_debit' })
      const [late] = emulator.events.take() as [StripeEvent]
      tick()
      const second = deauthorization(account.id)
      expect(await deliver(handler, second)).toMatchObject({ action: 'deleted', owner: account })
      expect(await deliver(handler, first)).toMatchObject({ action: 'deleted', owner: account })

      // The first disconnection, delivered last, is the older: the second still decides.
      expect(await deliver(handler, late)).toMatchObject({
        action: 'stale',
        cardId: card.id,
        reason: 'the account disconnected from the platform',
      })
      expect(await store.listByOwner(scope(account))).toEqual([])
    })
  }

  it('ignores a deauthorization that names no account', async () => {
    const store = memoryStore()
    const event = deauthorization(null)
    expect(await deliver(handlerFor(store, 'events'), event)).toEqual({
      eventId: event.id,
      type: 'account.application.deauthorized',
      action: 'ignored',
      reason: 'the event names no account',
    })
  })

  /**
   * Ids that no store keeps as sent (PostgreSQL stores an unpaired surrogate as U+FFFD, so that
   * `cus_A\uD800` would name the customer stored as `cus_A\uFFFD`), and a card number in an id
   * field (a deletion's tombstone would keep it, the logged result would show it).
   */
  const BAD_IDS = [
    (id: string) => `${id}\uD800`,
    (id: string) => `${id.slice(0, 4)}\uDC00${id.slice(4)}`,
    (id: string) => `${id}\u0000`,
    () => '4242 4242 4242 4242',
  ]

  /**
   * Card ids holding a card number that stands apart (after the prefix's `_`, amid text, in
   * full-width digits): refused only whole, such an id was stored and echoed in the result.
   */
  const BAD_CARD_IDS = [
    'card_x 4242 4242 4242 4242',
    'card_4242424242424242',
    ' ４２４２４２４２４２４２４２４２ :',
  ]

  /** A store that records every call made to it, passing each to the store it wraps. */
  const recordingStore = (inner: CardStore) => {
    const calls: string[] = []
    const store = new Proxy(inner, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) => {
          calls.push(String(key))
          return (value as (...args: unknown[]) => unknown).apply(target, args)
        }
      },
    })
    return { store, calls }
  }

  for (const mode of ['events', 'confirm'] as const) {
    it(`ignores, without the store or Stripe, an event whose owner or card id is no valid id (${mode})`, async () => {
      const { store, calls } = recordingStore(memoryStore())
      const handler = handlerFor(store, mode)
      const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
      const account = await newAccount()
      emulator.events.take()
      const card = await provider.createCard(customer, { source: 'tok_visa' })
      const external = await provider.createCard(account, { source: 'tok_visa_debit' })
      const events = emulator.events.take()
      const cardEvent = events.find((event) => event.type === 'customer.source.created')!
      const externalEvent = events.find(
        (event) => event.type === 'account.external_account.created',
      )!
      const cardObject = cardEvent.data.object
      const externalObject = externalEvent.data.object
      let count = 0
      const event = (
        type: string,
        object: Record<string, unknown>,
        extra: Record<string, unknown> = {},
      ) =>
        ({
          ...cardEvent,
          id: `evt_invalid_id_${++count}`,
          type,
          data: { object },
          ...extra,
        }) as unknown as StripeEvent
      const customerObject = (id: unknown, defaultSource: unknown = card.id) => ({
        id,
        object: 'customer',
        default_source: defaultSource,
      })

      const cases: StripeEvent[] = [
        // `id` missing or not a string: the handler read it as the customer "undefined" or "42".
        event('customer.deleted', { object: 'customer' }),
        event('customer.deleted', customerObject(42)),
      ]
      for (const bad of BAD_IDS) {
        cases.push(
          event('customer.source.created', { ...cardObject, customer: bad(customer.id) }),
          event('customer.source.updated', { ...cardObject, id: bad(card.id) }),
          event('customer.source.deleted', { ...cardObject, customer: bad(customer.id) }),
          event('customer.source.deleted', { ...cardObject, id: bad(card.id) }),
          event('account.external_account.updated', {
            ...externalObject,
            account: bad(account.id),
          }),
          event('account.external_account.deleted', { ...externalObject, id: bad(external.id) }),
          event(
            'account.external_account.deleted',
            { ...externalObject, account: undefined },
            { account: bad(account.id) },
          ),
          event('customer.created', customerObject(bad(customer.id))),
          {
            ...event('customer.updated', customerObject(customer.id, bad(card.id))),
            data: {
              object: customerObject(customer.id, bad(card.id)),
              previous_attributes: { default_source: null },
            },
          },
          event('customer.deleted', customerObject(bad(customer.id))),
          event(
            'account.application.deauthorized',
            { id: 'ca_platform', object: 'application' },
            { account: bad(account.id) },
          ),
        )
      }
      for (const bad of BAD_CARD_IDS) {
        cases.push(
          event('customer.source.created', { ...cardObject, id: bad }),
          event('customer.source.updated', { ...cardObject, id: bad }),
          event('customer.source.deleted', { ...cardObject, id: bad }),
          event('account.external_account.created', { ...externalObject, id: bad }),
          event('account.external_account.deleted', { ...externalObject, id: bad }),
          {
            ...event('customer.updated', customerObject(customer.id, bad)),
            data: {
              object: customerObject(customer.id, bad),
              previous_attributes: { default_source: null },
            },
          },
        )
      }
      const requests = emulator.state.requests().length
      for (const invalid of cases) {
        const result = await deliver(handler, invalid)
        // A valid owner is reported (a bad card id of a customer's), never an invalid id.
        const owner = result.owner ? { owner: expect.objectContaining(result.owner) } : {}
        if (result.owner) expect(OwnerSchema.safeParse(result.owner).success).toBe(true)
        expect(result, `${invalid.type} ${JSON.stringify(invalid.data.object)}`).toEqual({
          eventId: invalid.id,
          type: invalid.type,
          ...owner,
          action: 'ignored',
          reason: expect.stringMatching(
            /^the event names no valid (customer|card|account|customer or account|default source) id$/,
          ),
        })
      }
      expect(calls).toEqual([])
      expect(emulator.state.requests()).toHaveLength(requests)
      // The genuine events still apply.
      for (const genuine of events) await deliver(handler, genuine)
      expect((await store.listByOwner(scope(customer))).map((row) => row.id)).toEqual([card.id])
    })
  }

  it('reports a repeated event as a duplicate, and an older one as stale', async () => {
    const store = memoryStore()
    const handler = handlerFor(store, 'events')
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    const card = await provider.createCard(customer, { source: 'tok_visa' })
    tick()
    await provider.updateCard(customer, card.id, { holderName: 'First' })
    tick()
    await provider.updateCard(customer, card.id, { holderName: 'Second' })
    const events = emulator.events
      .take()
      .filter((event) => event.type.startsWith('customer.source'))
    const [created, first, second] = events as [StripeEvent, StripeEvent, StripeEvent]

    expect((await deliver(handler, second)).action).toBe('upserted')
    expect((await deliver(handler, second)).action).toBe('duplicate')
    expect(await deliver(handler, first)).toMatchObject({
      action: 'stale',
      reason: 'the store holds a newer state',
    })
    expect((await deliver(handler, created)).action).toBe('stale')
    expect((await store.get(scope(customer), card.id))?.holderName).toBe('Second')
  })

  it('with the API, reads a card whose stored state looks newer, however far ahead (clocks differ)', async () => {
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    const card = await provider.createCard(customer, { source: 'tok_visa' })
    const before = await provider.getCard(customer, card.id)
    tick()
    await provider.updateCard(customer, card.id, { holderName: 'Jenny Rosen' })
    const [update] = emulator.events
      .take()
      .filter((event) => event.type === 'customer.source.updated')
    const at = update!.created * 1000
    for (const [mode, aheadMs, action, holderName] of [
      // This host's clock 2 s ahead of Stripe's: the state read before the update looks newer.
      ['confirm', 2_000, 'upserted', 'Jenny Rosen'],
      ['events', 2_000, 'stale', null],
      // Newer by more than the clocks can explain: a row's time may still have moved without
      // its fields being read (a default cleared from a read of the customer), so it is read.
      ['confirm', 6_000, 'upserted', 'Jenny Rosen'],
      ['events', 6_000, 'stale', null],
    ] as const) {
      const store = memoryStore()
      await store.upsert(before, { observedAt: at + aheadMs })
      const result = await deliver(handlerFor(store, mode), update!)
      expect(result.action, `${mode}, ${aheadMs} ms`).toBe(action)
      expect((await store.get(scope(customer), card.id))?.holderName).toBe(holderName)
    }
  })

  it('with the API, stores a card update delivered late, after the default moved to a bank account', async () => {
    const store = memoryStore()
    // How far this host's handling runs behind the events' times.
    let late = 0
    const handler = handlerFor(store, 'confirm', { now: () => clock + late })
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    const card = await provider.createCard(customer, { source: 'tok_visa' })
    tick()
    const bank = emulator.seed.bankAccount(customer.id)
    for (const event of emulator.events.take()) await deliver(handler, event)
    tick()
    await provider.updateCard(customer, card.id, { holderName: 'New Name' })
    const [update] = emulator.events.take().filter((e) => e.type === 'customer.source.updated')
    tick()
    await sdk.customers.update(customer.id, { default_source: bank.id })
    const [moved] = emulator.events.take().filter((e) => e.type === 'customer.updated')
    // The move is handled 10 s after it happened: the default cleared from that read of the
    // customer gives the card's row that time. The update's first delivery failed, and Stripe's
    // retry comes later: the row looks newer than the update, though its fields are older.
    late = 10_000
    expect(await deliver(handler, moved!)).toMatchObject({ action: 'default-changed' })
    late = 40_000
    expect(await deliver(handler, update!)).toMatchObject({ action: 'upserted', confirmed: true })
    expect(await store.get(scope(customer), card.id)).toMatchObject({
      holderName: 'New Name',
      isDefault: false,
    })
  })

  it('answers a delivery made at the same moment as another of the event a duplicate, with an asynchronous seen', async () => {
    const ids = new Set<string>()
    // A seen set over a table or Redis answers a moment later.
    const seen: SeenEventIds = {
      has: async (id) => ids.has(id),
      add: (id) => ids.add(id),
    }
    const store = memoryStore()
    const handler = handlerFor(store, 'events', { seen })
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.events.take()
    await provider.createCard(customer, { source: 'tok_visa' })
    const [created] = emulator.events.take() as [StripeEvent]

    const results = await Promise.all([deliver(handler, created), deliver(handler, created)])
    expect(results.map((result) => result.action).sort()).toEqual(['duplicate', 'upserted'])
  })

  it('fails a repeat delivered while the first delivery fails, so that Stripe retries it', async () => {
    const store = memoryStore()
    let failing = true
    // The first attempt's write waits until the repeat is in: the test orders them, not a delay.
    let writing = () => {}
    const firstWrites = new Promise<void>((resolve) => {
      writing = resolve
    })
    let fail = () => {}
    const mayFail = new Promise<void>((resolve) => {
      fail = resolve
    })
    let writes = 0
    const flaky: CardStore = {
      ...store,
      async upsert(card, options) {
        if (++writes === 1) {
          writing()
          await mayFail
        }
        if (failing) throw new Error('the database is down')
        return store.upsert(card, options)
      },
    }
    // The repeat's signature checked: what it does next, up to waiting for the first attempt,
    // takes no I/O.
    let verified = 0
    let repeatVerified = () => {}
    const repeatIn = new Promise<void>((resolve) => {
      repeatVerified = resolve
    })
    const handler = stripeWebhookHandler({
      endpointSecret: secret,
      store: flaky,
      webhooks: {
        constructEventAsync: async (
          ...args: Parameters<typeof Stripe.webhooks.constructEventAsync>
        ) => {
          const event = await Stripe.webhooks.constructEventAsync(...args)
          if (++verified === 2) repeatVerified()
          return event
        },
      },
    })
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.events.take()
    const card = await provider.createCard(customer, { source: 'tok_visa' })
    const [created] = emulator.events.take() as [StripeEvent]

    // Stripe's retry (its first attempt timed out) arrives while the first attempt runs.
    const delivering = deliver(handler, created)
    await firstWrites
    const repeating = deliver(handler, created)
    await repeatIn
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
    fail()
    const [first, repeat] = await Promise.allSettled([delivering, repeating])
    expect(first.status).toBe('rejected')
    // A 2xx for the repeat would tell Stripe the event was delivered: it would never be applied.
    expect(repeat.status).toBe('rejected')

    failing = false
    expect((await deliver(handler, created)).action).toBe('upserted')
    expect((await store.get(scope(customer), card.id))?.id).toBe(card.id)
  })

  it('confirms a same-second change with Stripe, and says so', async () => {
    const store = memoryStore()
    const handler = handlerFor(store, 'confirm')
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    const card = await provider.createCard(customer, { source: 'tok_visa' })
    await provider.updateCard(customer, card.id, { holderName: 'First' })
    await provider.updateCard(customer, card.id, { holderName: 'Second' })
    const [created, first, second] = emulator.events
      .take()
      .filter((event) => event.type.startsWith('customer.source.'))

    expect((await deliver(handler, created!)).action).toBe('upserted')
    expect(await deliver(handler, second!)).toMatchObject({ action: 'upserted', confirmed: true })
    expect(await deliver(handler, first!)).toMatchObject({ action: 'upserted', confirmed: true })
    expect((await store.get(scope(customer), card.id))?.holderName).toBe('Second')
  })

  it('removes a card whose same-second update it confirms with Stripe, which no longer holds it, and says so', async () => {
    const store = memoryStore()
    const handler = handlerFor(store, 'confirm')
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    const a = await provider.createCard(customer, { source: 'tok_visa' })
    const b = await provider.createCard(customer, { source: 'tok_mastercard' })
    for (const event of emulator.events.take()) await deliver(handler, event)
    expect((await store.listByOwner(scope(customer))).map((row) => row.id).sort()).toEqual(
      [a.id, b.id].sort(),
    )
    // Updated, then deleted, in the same second: the update's delivery comes first.
    await provider.updateCard(customer, b.id, { holderName: 'Jenny Rosen' })
    await provider.deleteCard(customer, b.id)
    const [updated] = emulator.events
      .take()
      .filter((event) => event.type === 'customer.source.updated')
    expect(await deliver(handler, updated!)).toEqual({
      eventId: updated!.id,
      type: 'customer.source.updated',
      action: 'deleted',
      owner: customer,
      cardId: b.id,
      confirmed: true,
    })
    expect(await store.get(scope(customer), b.id)).toBeNull()
    await expectInStep(store, [customer])
  })

  /**
   * A customer with a default card A (and, with `withB`, a second card B), delivered in order;
   * then, 600 ms into the next second, the application reads A and stores it as of that read, as
   * `CardSync.sync` does. The handler's clock is the emulator's, so that the events' seconds and
   * the reads' ms are on one line.
   */
  async function readBeforeSameSecondChange(withB: boolean) {
    const store = memoryStore()
    const handler = handlerFor(store, 'confirm', { now: () => clock })
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.events.take()
    const a = await provider.createCard(customer, { source: 'tok_visa' })
    const b = withB ? await provider.createCard(customer, { source: 'tok_mastercard' }) : null
    for (const event of emulator.events.take()) await deliver(handler, event)
    expect((await store.getDefault(scope(customer)))?.id).toBe(a.id)
    tick()
    clock = Math.floor(clock / 1000) * 1000 + 600
    const readAt = clock
    await store.upsert(await provider.getCard(customer, a.id), { observedAt: readAt })
    // The change comes 50 ms after the read, in the same second; the handler reads 50 ms later.
    clock += 50
    return { store, handler, customer, a, b: b!, readAt, handled: () => (clock += 50) }
  }

  it('with the API, stores the default it read after a read the application made in the same second', async () => {
    const { store, handler, customer, b, readAt, handled } = await readBeforeSameSecondChange(true)
    await provider.setDefaultCard(customer, b.id)
    const [moved] = emulator.events.take().filter((event) => event.type === 'customer.updated')
    // The event is dated 500 ms into the second: before the application's read of A.
    expect(moved!.created * 1000 + 500).toBeLessThan(readAt)
    handled()
    expect(await deliver(handler, moved!)).toMatchObject({
      action: 'default-changed',
      cardId: b.id,
      confirmed: true,
    })
    expect((await store.getDefault(scope(customer)))?.id).toBe(b.id)
  })

  it('with the API, stores a new default card it read after a read the application made in the same second', async () => {
    const { store, handler, customer, handled } = await readBeforeSameSecondChange(false)
    const b = await provider.createCard(customer, { source: 'tok_mastercard', makeDefault: true })
    const [created] = emulator.events
      .take()
      .filter((event) => event.type === 'customer.source.created')
    handled()
    // The card is not stored yet: it is read from Stripe, where it is the default now.
    expect(await deliver(handler, created!)).toMatchObject({
      action: 'upserted',
      cardId: b.id,
      confirmed: true,
    })
    expect((await store.getDefault(scope(customer)))?.id).toBe(b.id)
  })

  it('with the API, reports stale a default it read when the store keeps one observed later', async () => {
    const { store, handler, customer, a, b, handled } = await readBeforeSameSecondChange(true)
    await provider.setDefaultCard(customer, b.id)
    const [moved] = emulator.events.take().filter((event) => event.type === 'customer.updated')
    // Another process reads A as the default again, after this handler's read is made.
    await provider.setDefaultCard(customer, a.id)
    await store.upsert(await provider.getCard(customer, a.id), { observedAt: clock + 10_000 })
    await provider.setDefaultCard(customer, b.id)
    handled()
    expect(await deliver(handler, moved!)).toMatchObject({
      action: 'stale',
      cardId: b.id,
      confirmed: true,
      reason: 'a default observed later is stored',
    })
    expect((await store.getDefault(scope(customer)))?.id).toBe(a.id)
  })

  it('with the API, reports stale a default it read when the store keeps a state of that card observed after the read', async () => {
    const { store, customer, b, handled } = await readBeforeSameSecondChange(true)
    await provider.setDefaultCard(customer, b.id)
    const [moved] = emulator.events.take().filter((event) => event.type === 'customer.updated')
    // Another process reads B after this handler's read is made (its row is stored before the
    // handler writes), and stores it as it found it then, renamed since. A row stored before
    // the handler's request is older than its read, which wins over it (dated no earlier).
    let later = 0
    let raced = false
    const racing: CardStore = Object.assign(Object.create(store) as CardStore, {
      async upsert(...[card, options]: Parameters<CardStore['upsert']>) {
        if (!raced && card.id === b.id) {
          raced = true
          const renamed = await provider.updateCard(customer, b.id, { holderName: 'Jenny Rosen' })
          later = clock + 10
          await store.upsert(renamed, { observedAt: later })
        }
        return store.upsert(card, options)
      },
    })
    const handler = handlerFor(racing, 'confirm', { now: () => clock })
    handled()
    expect(await deliver(handler, moved!)).toMatchObject({
      action: 'stale',
      cardId: b.id,
      confirmed: true,
      reason: 'a state of the card observed later is stored',
    })
    expect(raced).toBe(true)
    expect(await store.get(scope(customer), b.id)).toMatchObject({
      holderName: 'Jenny Rosen',
      observedAt: later,
    })
  })

  it('with the API, reports stale a clearing of the default it read when the store keeps one observed later', async () => {
    const base = memoryStore()
    let injected: Card | null = null
    let cleared = 0
    // Another process, which read Stripe after this handler, stores its default just before
    // the handler clears the default its own read found gone.
    const store: CardStore = Object.assign(Object.create(base) as CardStore, {
      async setDefault(...[at, cardId, options]: Parameters<CardStore['setDefault']>) {
        if (cardId === null && injected) {
          cleared++
          await base.upsert(injected, { observedAt: options!.observedAt! + 500 })
        }
        return base.setDefault(at, cardId, options)
      },
    })
    const handler = handlerFor(store, 'confirm', { now: () => clock })
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.events.take()
    const a = await provider.createCard(customer, { source: 'tok_visa' })
    for (const event of emulator.events.take()) await deliver(handler, event)
    tick()
    await provider.deleteCard(customer, a.id)
    const [clearing] = emulator.events.take().filter((event) => event.type === 'customer.updated')
    expect(clearing!.data.object.default_source).toBeNull()
    tick()
    // The later default (read by the other process), gone from Stripe again when this handler
    // reads: the handler's read finds no default.
    injected = await provider.createCard(customer, { source: 'tok_mastercard' })
    expect(injected.isDefault).toBe(true)
    await provider.deleteCard(customer, injected.id)
    emulator.events.take()
    expect(await deliver(handler, clearing!)).toMatchObject({
      action: 'stale',
      cardId: injected.id,
      confirmed: true,
      reason: 'a default observed later is stored',
    })
    expect(cleared).toBe(1)
    expect((await base.getDefault(scope(customer)))?.id).toBe(injected.id)
  })

  for (const mode of ['events', 'confirm'] as const) {
    it(`switches the default when an update of the old default arrives before the switch (${mode})`, async () => {
      const store = memoryStore()
      const handler = handlerFor(store, mode)
      const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
      emulator.events.take()
      const old = await provider.createCard(customer, { source: 'tok_visa' })
      // Delivered in order: the store holds the first card as the default.
      for (const event of emulator.events.take()) await deliver(handler, event)
      expect((await store.getDefault(scope(customer)))?.id).toBe(old.id)
      tick()
      const next = await provider.createCard(customer, { source: 'tok_mastercard' })
      tick()
      await provider.setDefaultCard(customer, next.id)
      tick()
      await provider.updateCard(customer, old.id, { holderName: 'Jenny Rosen' })
      const events = emulator.events.take()
      const of = (type: string) => events.find((event) => event.type === type)!
      // The old default's update (the latest change) first, then the new card and the switch.
      await deliver(handler, of('customer.source.updated'))
      await deliver(handler, of('customer.source.created'))
      expect(await deliver(handler, of('customer.updated'))).toMatchObject({
        action: 'default-changed',
        cardId: next.id,
      })
      expect((await store.getDefault(scope(customer)))?.id).toBe(next.id)
      await expectInStep(store, [customer])
    })
  }

  it('removes every card of a deleted customer, and refuses its late events', async () => {
    const store = memoryStore()
    const handler = handlerFor(store, 'events')
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    await provider.createCard(customer, { source: 'tok_visa' })
    await provider.createCard(customer, { source: 'tok_amex' })
    const [first, defaulted, late] = emulator.events.take().slice(1) as StripeEvent[]
    await deliver(handler, first!)
    await deliver(handler, defaulted!)
    tick()
    await sdk.customers.del(customer.id)
    const [deleted] = emulator.events.take() as [StripeEvent]

    expect(await deliver(handler, deleted)).toMatchObject({ action: 'deleted', owner: customer })
    expect(await store.listByOwner(scope(customer))).toEqual([])
    expect(await deliver(handler, late!)).toMatchObject({ action: 'stale' })
    expect(await store.listByOwner(scope(customer))).toEqual([])
  })

  for (const mode of ['events', 'confirm'] as const) {
    it(`reports stale a default change delivered after the customer's deletion (${mode})`, async () => {
      const store = memoryStore()
      const handler = handlerFor(store, mode)
      const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
      emulator.events.take()
      await provider.createCard(customer, { source: 'tok_visa' })
      const second = await provider.createCard(customer, { source: 'tok_amex' })
      for (const event of emulator.events.take()) await deliver(handler, event)
      tick()
      await provider.setDefaultCard(customer, second.id)
      const [switched] = emulator.events.take() as [StripeEvent]
      expect(switched.type).toBe('customer.updated')
      tick()
      await sdk.customers.del(customer.id)
      const [deleted] = emulator.events.take() as [StripeEvent]
      expect(await deliver(handler, deleted)).toMatchObject({ action: 'deleted', owner: customer })

      expect(await deliver(handler, switched)).toEqual({
        eventId: switched.id,
        type: 'customer.updated',
        action: 'stale',
        owner: customer,
        reason: 'the customer was deleted',
      })
      expect(await store.listByOwner(scope(customer))).toEqual([])
    })
  }

  it("confirms a card it holds no row of, so that another process cannot bring back a deleted customer's card", async () => {
    const store = memoryStore()
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.events.take()
    await provider.createCard(customer, { source: 'tok_visa' })
    tick()
    await sdk.customers.del(customer.id)
    const events = emulator.events.take()
    const created = events.find((event) => event.type === 'customer.source.created')!
    const deleted = events.find((event) => event.type === 'customer.deleted')!

    // Two processes (or one, restarted): one handles the deletion, the other the late creation.
    expect((await deliver(handlerFor(store, 'confirm'), deleted)).action).toBe('deleted')
    expect(await deliver(handlerFor(store, 'confirm'), created)).toMatchObject({
      action: 'deleted',
      confirmed: true,
    })
    expect(await store.listByOwner(scope(customer))).toEqual([])
  })

  for (const mode of ['events', 'confirm'] as const) {
    for (const deletion of ['card', 'customer'] as const) {
      it(`dates a ${deletion} deletion by its clock: a read from before it, stored after, stays out when this host is ahead of Stripe (${mode})`, async () => {
        const store = memoryStore()
        // This host's clock, a minute ahead of Stripe's (the emulator's `clock`).
        let host = clock + 60_000
        const handler = handlerFor(store, mode, { now: () => host })
        const sync = createCardSync({ provider, store })
        const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
        emulator.events.take()
        const card = await provider.createCard(customer, { source: 'tok_visa' })
        for (const event of emulator.events.take()) await deliver(handler, event)
        expect((await store.listByOwner(scope(customer))).map((row) => row.id)).toEqual([card.id])

        // A CardSync read begins (the time taken before its request), before the deletion.
        const readAt = host
        const read = await sdk.customers.retrieveSource(customer.id, card.id)
        tick()
        host += 2000
        if (deletion === 'card') await provider.deleteCard(customer, card.id)
        else await sdk.customers.del(customer.id)
        const deleted = emulator.events.take().find((event) => event.type.endsWith('.deleted'))!
        expect(await deliver(handler, deleted)).toMatchObject({ action: 'deleted' })
        // The deletion event's time is before readAt by Stripe's clock; by this host's, after.
        expect(deleted.created * 1000).toBeLessThan(readAt)

        expect(await sync.syncFromProviderData(customer, read, { observedAt: readAt })).toBeNull()
        expect(await store.listByOwner(scope(customer))).toEqual([])
      })

      it(`removes on a ${deletion} deletion a card whose row is dated ahead of this host's clock (${mode})`, async () => {
        const store = memoryStore()
        const handler = handlerFor(store, mode)
        const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
        emulator.events.take()
        const card = await provider.createCard(customer, { source: 'tok_visa' })
        emulator.events.take()
        // Stored by another host, whose clock runs a minute ahead of this one's.
        expect((await store.upsert(card, { observedAt: Date.now() + 60_000 })).applied).toBe(true)
        tick()
        if (deletion === 'card') await provider.deleteCard(customer, card.id)
        else await sdk.customers.del(customer.id)
        const deleted = emulator.events.take().find((event) => event.type.endsWith('.deleted'))!
        expect(await deliver(handler, deleted)).toMatchObject({ action: 'deleted' })
        // Ids are never reused: the deletion is no earlier than the row, or the store refuses it.
        expect(await store.listByOwner(scope(customer))).toEqual([])
      })
    }
  }
})

describe("the store's times and this host's clock: CardSync's writes right after an event", () => {
  const deliver = async (handler: StripeWebhookHandler, event: StripeEvent) => {
    const { payload, signature } = emulator.events.sign(event)
    return handler.handle(payload, signature)
  }
  afterEach(() => {
    vi.useRealTimers()
  })

  /**
   * This host's clock and Stripe's on one line, `clock`: the handler's `now`, the emulator's, and
   * `Date` (faked, and frozen: CardSync reads `Date.now`), moved by hand.
   */
  const setClock = (ms: number) => {
    clock = ms
    vi.setSystemTime(ms)
  }

  /**
   * A customer with a default card A and a card B, both stored by CardSync; then, 100 ms into the
   * next second, a Dashboard change of each (their events are dated 500 ms into that second),
   * delivered at once (10 ms later). Returns what the handler answered.
   */
  async function changedEarlyInASecond(mode: Mode) {
    vi.useFakeTimers({ toFake: ['Date'] })
    setClock(Math.floor(Date.now() / 1000) * 1000 + 300)
    const store = memoryStore()
    const sync = createCardSync({ provider, store })
    const handler = handlerFor(store, mode, { now: () => clock })
    const customer: Owner = { type: 'customer', id: (await sdk.customers.create({})).id }
    const a = await sync.setDefaultCard(customer, 'tok_visa')
    const b = await provider.createCard(customer, { source: 'tok_mastercard' })
    expect((await sync.sync(customer, b.id))?.isDefault).toBe(false)
    emulator.events.take()

    const second = Math.floor(clock / 1000) * 1000 + 1000
    setClock(second + 100)
    await provider.updateCard(customer, a.id, { holderName: 'Jenny Rosen' })
    await provider.updateCard(customer, b.id, { holderName: 'Jenny Rosen' })
    const events = emulator.events.take()
    expect(events.map((event) => [event.type, event.created * 1000])).toEqual([
      ['customer.source.updated', second],
      ['customer.source.updated', second],
    ])
    setClock(clock + 10)
    const results = []
    for (const event of events) results.push(await deliver(handler, event))
    return { store, sync, handler, customer, a, b, results }
  }

  it("with the API, stores no card ahead of this host's clock: a deleteCard right after removes the card, and the default Stripe promoted is stored", async () => {
    const { store, sync, customer, a, b, results } = await changedEarlyInASecond('confirm')
    expect(results.map((result) => [result.cardId, result.action, result.confirmed])).toEqual([
      [a.id, 'upserted', true], // the stored default: read from Stripe
      [b.id, 'upserted', undefined], // taken from the event
    ])
    for (const row of await store.listByOwner(scope(customer))) {
      expect(row).toMatchObject({ holderName: 'Jenny Rosen' })
    }

    // The application deletes A 10 ms later: Stripe promotes B.
    setClock(clock + 10)
    await sync.deleteCard(customer, a.id)
    expect(await store.get(scope(customer), a.id)).toBeNull()
    expect((await store.getDefault(scope(customer)))?.id).toBe(b.id)
    await expectInStep(store, [customer])

    // And a sync of B 10 ms later stores what it reads.
    await provider.updateCard(customer, b.id, { holderName: 'Primary' })
    setClock(clock + 10)
    expect((await sync.sync(customer, b.id))?.holderName).toBe('Primary')
    expect((await store.get(scope(customer), b.id))?.holderName).toBe('Primary')
  })

  it('without the API, a deleteCard right after an event dated ahead of this host removes the card, and the events bring the rest', async () => {
    const { store, sync, handler, customer, a, b, results } = await changedEarlyInASecond('events')
    expect(results.map((result) => [result.cardId, result.action])).toEqual([
      [a.id, 'upserted'],
      [b.id, 'upserted'],
    ])
    // Without the API the events' times are all there is: 500 ms into their second.
    expect((await store.get(scope(customer), b.id))?.observedAt).toBeGreaterThan(clock)

    setClock(clock + 10)
    await sync.deleteCard(customer, a.id)
    // Removed, though its row is dated ahead: Stripe no longer has it, and ids are not reused.
    expect(await store.get(scope(customer), a.id)).toBeNull()
    // B, promoted by Stripe, is the default once the deletion's events are delivered (its row,
    // dated ahead, refused deleteCard's read of it).
    for (const event of emulator.events.take()) await deliver(handler, event)
    const { atStripe, stored } = await compare(store, customer)
    expect(stored).toEqual(atStripe)
    expect(stored).toMatchObject([{ id: b.id, isDefault: true }])
  })

  it('with the API, a read made after a CardSync write of the same second wins over it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    setClock(Math.floor(Date.now() / 1000) * 1000 + 1100)
    const store = memoryStore()
    const sync = createCardSync({ provider, store })
    const handler = handlerFor(store, 'confirm', { now: () => clock })
    const customer: Owner = { type: 'customer', id: (await sdk.customers.create({})).id }
    const a = await sync.setDefaultCard(customer, 'tok_visa')
    const b = await provider.createCard(customer, { source: 'tok_mastercard' })
    emulator.events.take()

    // The application stores both cards 200 ms into a second; a Dashboard change of each comes
    // 50 ms later, and the handler reads them 50 ms after that.
    setClock(clock + 100)
    await sync.sync(customer, a.id)
    await sync.sync(customer, b.id)
    const written = clock
    setClock(clock + 50)
    await provider.updateCard(customer, a.id, { holderName: 'Jenny Rosen' })
    await provider.updateCard(customer, b.id, { holderName: 'Jenny Rosen' })
    setClock(clock + 50)
    for (const event of emulator.events.take()) {
      expect(await deliver(handler, event)).toMatchObject({ action: 'upserted', confirmed: true })
    }
    for (const row of await store.listByOwner(scope(customer))) {
      expect(row).toMatchObject({ holderName: 'Jenny Rosen', observedAt: clock })
      expect(row.observedAt).toBeGreaterThan(written)
    }
    expect((await store.getDefault(scope(customer)))?.id).toBe(a.id)
  })

  it('with the API, a change taken from its event after a CardSync write of an earlier second wins over it, dated no later than now', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    setClock(Math.floor(Date.now() / 1000) * 1000 + 900)
    const store = memoryStore()
    const sync = createCardSync({ provider, store })
    const handler = handlerFor(store, 'confirm', { now: () => clock })
    const customer: Owner = { type: 'customer', id: (await sdk.customers.create({})).id }
    await sync.setDefaultCard(customer, 'tok_visa')
    const b = await provider.createCard(customer, { source: 'tok_mastercard' })
    await sync.sync(customer, b.id)
    emulator.events.take()

    setClock(clock + 200) // 100 ms into the next second
    await provider.updateCard(customer, b.id, { holderName: 'Jenny Rosen' })
    const [updated] = emulator.events.take()
    setClock(clock + 10)
    expect(await deliver(handler, updated!)).toMatchObject({ action: 'upserted', cardId: b.id })
    expect(await store.get(scope(customer), b.id)).toMatchObject({
      holderName: 'Jenny Rosen',
      observedAt: clock,
    })
  })

  /**
   * Stripe's clock (`clock`, the emulator's) and this host's (the handlers' `now`, and `Date`,
   * which CardSync reads), `offset` ms apart, moved together by `at`; then a customer with a
   * default card A and a card B, stored by `handler` from their events, delivered in order.
   * Returns the start of a second 10 s later, when the changes under test begin.
   */
  const clocks = () => {
    const host = { offset: 0 }
    const at = (ms: number) => {
      clock = ms
      vi.setSystemTime(ms + host.offset)
    }
    vi.useFakeTimers({ toFake: ['Date'] })
    at(Math.floor(Date.now() / 1000) * 1000)
    return { host, at, now: () => clock + host.offset }
  }
  async function twoCards(handler: StripeWebhookHandler, at: (ms: number) => void) {
    const customer: Owner = { type: 'customer', id: (await sdk.customers.create({})).id }
    const a = await provider.createCard(customer, { source: 'tok_visa' })
    at(clock + 1000)
    const b = await provider.createCard(customer, { source: 'tok_mastercard' })
    for (const event of emulator.events.take()) await deliver(handler, event)
    return { customer, a, b, second: Math.floor(clock / 1000) * 1000 + 10_000 }
  }
  const take = (type: string) => emulator.events.take().filter((event) => event.type === type)

  for (const behind of [300, 2000]) {
    it(`with the API and this host's clock ${behind} ms behind Stripe's, a default switch delivered after an update of its card of the next second is stored`, async () => {
      const { host, at, now } = clocks()
      const store = memoryStore()
      const handler = handlerFor(store, 'confirm', { now })
      const { customer, a, b, second } = await twoCards(handler, at)
      expect((await store.getDefault(scope(customer)))?.id).toBe(a.id)

      host.offset = -behind
      at(second - 100) // the Dashboard makes B the default
      await provider.setDefaultCard(customer, b.id)
      const [switched] = take('customer.updated')
      at(second + 100) // and renames B, in the next second
      await provider.updateCard(customer, b.id, { holderName: 'Jenny Rosen' })
      const [updated] = take('customer.source.updated')
      at(second + 150)
      expect(await deliver(handler, updated!)).toMatchObject({ action: 'upserted', cardId: b.id })
      // Taken from its event: dated at the start of its second, ahead of this host's clock.
      expect((await store.get(scope(customer), b.id))?.observedAt).toBe(second)
      at(second + 200) // the switch, delivered late
      expect(await deliver(handler, switched!)).toMatchObject({
        action: 'default-changed',
        cardId: b.id,
        confirmed: true,
      })
      expect((await store.getDefault(scope(customer)))?.id).toBe(b.id)
      await expectInStep(store, [customer])
    })
  }

  it('with the API, a default switch is stored after an update of its card that an events-only process stored at its event time', async () => {
    const { at, now } = clocks()
    const store = memoryStore()
    const confirming = handlerFor(store, 'confirm', { now })
    const eventsOnly = handlerFor(store, 'events', { now })
    const { customer, a, b, second } = await twoCards(confirming, at)
    expect((await store.getDefault(scope(customer)))?.id).toBe(a.id)

    at(second + 50) // the Dashboard renames B, then makes it the default
    await provider.updateCard(customer, b.id, { holderName: 'Jenny Rosen' })
    at(second + 100)
    await provider.setDefaultCard(customer, b.id)
    const events = emulator.events.take()
    const updated = events.find((event) => event.type === 'customer.source.updated')
    const switched = events.find((event) => event.type === 'customer.updated')
    at(second + 110)
    expect(await deliver(eventsOnly, updated!)).toMatchObject({ action: 'upserted', cardId: b.id })
    // Without the API, at the event's time: 500 ms into its second, ahead of the clocks.
    expect((await store.get(scope(customer), b.id))?.observedAt).toBe(second + 500)
    at(second + 120)
    expect(await deliver(confirming, switched!)).toMatchObject({
      action: 'default-changed',
      cardId: b.id,
      confirmed: true,
    })
    expect((await store.getDefault(scope(customer)))?.id).toBe(b.id)
    await expectInStep(store, [customer])
  })

  it("with the API, a default read that is not the one its event names (a later switch) is dated at the read, and the later switch's event stores it", async () => {
    const { host, at, now } = clocks()
    const store = memoryStore()
    const sync = createCardSync({ provider, store })
    const handler = handlerFor(store, 'confirm', { now: () => clock }) // in step with Stripe
    const { customer, a, b, second } = await twoCards(handler, at)
    const c = await provider.createCard(customer, { source: 'tok_amex' })
    for (const event of emulator.events.take()) await deliver(handler, event)
    expect((await store.getDefault(scope(customer)))?.id).toBe(a.id)

    host.offset = 300 // CardSync's host (`Date`) runs ahead: it stores C dated ahead
    at(second)
    expect(await sync.sync(customer, c.id)).toMatchObject({ isDefault: false })
    expect((await store.get(scope(customer), c.id))?.observedAt).toBe(now())
    at(second + 100) // the Dashboard makes B the default, then C
    await provider.setDefaultCard(customer, b.id)
    await provider.setDefaultCard(customer, c.id)
    const [toB, toC] = take('customer.updated')
    at(second + 200)
    // B's event reads C: the row of C is no floor for it (C's own event is yet to come).
    expect(await deliver(handler, toB!)).toMatchObject({
      action: 'stale',
      cardId: c.id,
      confirmed: true,
      reason: 'a state of the card observed later is stored',
    })
    at(second + 210)
    expect(await deliver(handler, toC!)).toMatchObject({
      action: 'default-changed',
      cardId: c.id,
      confirmed: true,
    })
    expect((await store.getDefault(scope(customer)))?.id).toBe(c.id)
    await expectInStep(store, [customer])
  })

  it('with the API, a default switch is stored after a CardSync read of its card on another host whose clock runs ahead', async () => {
    const { host, at, now } = clocks()
    const store = memoryStore()
    const sync = createCardSync({ provider, store })
    const handler = handlerFor(store, 'confirm', { now: () => clock }) // in step with Stripe
    const { customer, a, b, second } = await twoCards(handler, at)
    expect((await store.getDefault(scope(customer)))?.id).toBe(a.id)

    host.offset = 300 // CardSync's host (`Date`), not the handler's
    at(second)
    expect(await sync.sync(customer, b.id)).toMatchObject({ isDefault: false })
    expect((await store.get(scope(customer), b.id))?.observedAt).toBe(now())
    at(second + 100) // the Dashboard makes B the default
    await provider.setDefaultCard(customer, b.id)
    const [switched] = take('customer.updated')
    at(second + 200)
    expect(await deliver(handler, switched!)).toMatchObject({
      action: 'default-changed',
      cardId: b.id,
      confirmed: true,
    })
    expect((await store.getDefault(scope(customer)))?.id).toBe(b.id)
    await expectInStep(store, [customer])
  })
})

describe('events alone: changes within one second, ordered by previous_attributes', () => {
  const deliver = async (handler: StripeWebhookHandler, event: StripeEvent) => {
    const { payload, signature } = emulator.events.sign(event)
    return handler.handle(payload, signature)
  }

  /**
   * A customer with `count` cards, each added in its own second and delivered in order (the
   * first is the default); then the default moves through `path` (card indexes) within one
   * second. Returns the cards and the `customer.updated` events of those moves, in the order made.
   */
  async function movesInOneSecond(count: number, path: number[]) {
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.events.take()
    const cards: Card[] = []
    for (let i = 0; i < count; i++) {
      tick()
      cards.push(await provider.createCard(customer, { source: 'tok_visa' }))
    }
    const setUp = emulator.events.take()
    tick()
    for (const index of path) await provider.setDefaultCard(customer, cards[index]!.id)
    const moves = emulator.events.take().filter((event) => event.type === 'customer.updated')
    expect(moves).toHaveLength(path.length)
    expect(new Set(moves.map((event) => event.created)).size).toBe(1)
    return { customer, cards, setUp, moves }
  }

  /** Every order of the items. */
  function orders<T>(items: T[]): T[][] {
    if (items.length <= 1) return [items]
    return items.flatMap((item, i) =>
      orders([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
    )
  }

  it('keeps the later of A→B and B→C delivered in either order', async () => {
    const { customer, cards, setUp, moves } = await movesInOneSecond(3, [1, 2])
    const [toB, toC] = moves as [StripeEvent, StripeEvent]
    for (const [first, second, last] of [
      [toB, toC, { action: 'default-changed', cardId: cards[2]!.id }],
      // B→C's previous default is the one A→B set: A→B is the older, whatever its delivery.
      [toC, toB, { action: 'stale', reason: 'a newer default was applied' }],
    ] as const) {
      const store = memoryStore()
      const handler = handlerFor(store, 'events')
      for (const event of setUp) await deliver(handler, event)
      expect(await deliver(handler, first)).toMatchObject({ action: 'default-changed' })
      expect(await deliver(handler, second)).toMatchObject(last)
      expect((await store.getDefault(scope(customer)))?.id).toBe(cards[2]!.id)
      await expectInStep(store, [customer])
    }
  })

  it('chains three moves in one second, in every delivery order, the cards first or last', async () => {
    const { customer, cards, setUp, moves } = await movesInOneSecond(4, [1, 2, 3])
    const [creations, initial] = [
      setUp.filter((event) => event.type === 'customer.source.created'),
      setUp.filter((event) => event.type === 'customer.updated'),
    ]
    for (const order of orders(moves)) {
      for (const cardsFirst of [true, false]) {
        const store = memoryStore()
        const handler = handlerFor(store, 'events')
        const sequence = cardsFirst
          ? [...creations, ...initial, ...order]
          : [...initial, ...order, ...creations]
        for (const event of sequence) await deliver(handler, event)
        const label = `${order.map((event) => moves.indexOf(event)).join('')} ${cardsFirst}`
        expect((await store.getDefault(scope(customer)))?.id, label).toBe(cards[3]!.id)
      }
    }
  })

  it("keeps the later of two updates of a card's fields within one second, in either order", async () => {
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    const account: Owner = {
      type: 'account',
      id: (await sdk.accounts.create({ type: 'custom', country: 'US' })).id,
    }
    for (const [owner, source] of [
      [customer, 'tok_visa'],
      [account, 'tok_visa_debit'],
    ] as const) {
      emulator.events.take()
      const card = await provider.createCard(owner, { source })
      const setUp = emulator.events.take()
      tick()
      await provider.updateCard(owner, card.id, { holderName: 'First' })
      await provider.updateCard(owner, card.id, { holderName: 'Second', metadata: { plan: 'pro' } })
      const [first, second] = emulator.events.take() as [StripeEvent, StripeEvent]
      expect(second.data.previous_attributes).toMatchObject({ name: 'First' })
      for (const [a, b, last] of [
        [first, second, 'upserted'],
        // The second replaced the name the first set: the first is the older.
        [second, first, 'stale'],
      ] as const) {
        const store = memoryStore()
        const handler = handlerFor(store, 'events')
        for (const event of setUp) await deliver(handler, event)
        expect((await deliver(handler, a)).action).toBe('upserted')
        expect((await deliver(handler, b)).action, `${owner.type} ${last}`).toBe(last)
        expect(await store.get(scope(owner), card.id)).toMatchObject({
          holderName: 'Second',
          metadata: { plan: 'pro' },
        })
        await expectInStep(store, [owner])
      }
    }
  })

  it('keeps an update of a card over its creation in the same second, delivered after it', async () => {
    const store = memoryStore()
    const handler = handlerFor(store, 'events')
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.events.take()
    const card = await provider.createCard(customer, { source: 'tok_visa' })
    await provider.updateCard(customer, card.id, { holderName: 'Updated' })
    const events = emulator.events.take()
    expect(new Set(events.map((event) => event.created)).size).toBe(1)
    const of = (type: string) => events.find((event) => event.type === type)!
    expect((await deliver(handler, of('customer.source.updated'))).action).toBe('upserted')
    // A creation is a card's oldest state, whatever its second.
    expect(await deliver(handler, of('customer.source.created'))).toMatchObject({
      action: 'stale',
      cardId: card.id,
      reason: 'the card is already stored',
    })
    expect((await store.get(scope(customer), card.id))?.holderName).toBe('Updated')
    await deliver(handler, of('customer.updated'))
    await expectInStep(store, [customer])
  })

  it("chains three updates of a card's name in one second, in every delivery order", async () => {
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.events.take()
    const card = await provider.createCard(customer, { source: 'tok_visa' })
    const setUp = emulator.events.take()
    tick()
    for (const holderName of ['C', 'B', 'A']) {
      await provider.updateCard(customer, card.id, { holderName })
    }
    const updates = emulator.events.take()
    expect(updates.map((event) => event.data.previous_attributes)).toEqual([
      { name: null },
      { name: 'C' },
      { name: 'B' },
    ])
    expect(new Set(updates.map((event) => event.created)).size).toBe(1)
    // Without the API, whether with `webhooks` or with `stripe` and `confirm: false`. A stale
    // update is remembered too: null→C delivered after B→A and C→B is older than C→B, which
    // replaced C; and C→B delivered after B→A and null→C shows null→C older than B→A.
    for (const extra of [{}, { confirm: false }] as const) {
      for (const order of orders(updates)) {
        const store = memoryStore()
        const handler = handlerFor(store, 'confirm' in extra ? 'confirm' : 'events', extra)
        for (const event of [...setUp, ...order]) await deliver(handler, event)
        const label = `${order.map((event) => updates.indexOf(event)).join('')} ${'confirm' in extra}`
        expect((await store.get(scope(customer), card.id))?.holderName, label).toBe('A')
        await expectInStep(store, [customer])
      }
    }
  })

  it("chains a card's name that goes back and then changes again in one second, in every delivery order", async () => {
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.events.take()
    const card = await provider.createCard(customer, { source: 'tok_visa' })
    await provider.updateCard(customer, card.id, { holderName: 'A' })
    const setUp = emulator.events.take()
    tick()
    for (const holderName of ['B', 'A', 'C']) {
      await provider.updateCard(customer, card.id, { holderName })
    }
    const updates = emulator.events.take()
    expect(new Set(updates.map((event) => event.created)).size).toBe(1)
    // A→B and B→A each replaced the other's value, so neither looks older; A→C after them
    // settles it: only A→B, B→A, A→C chains all three.
    for (const order of orders(updates)) {
      const store = memoryStore()
      const handler = handlerFor(store, 'events')
      for (const event of [...setUp, ...order]) await deliver(handler, event)
      const label = order.map((event) => updates.indexOf(event)).join('')
      expect((await store.get(scope(customer), card.id))?.holderName, label).toBe('C')
      await expectInStep(store, [customer])
    }
  })

  it('keeps the last delivery where previous_attributes cannot decide: a default that goes back', async () => {
    const { customer, cards, setUp, moves } = await movesInOneSecond(2, [1, 0])
    const [toB, backToA] = moves as [StripeEvent, StripeEvent]
    // A→B and B→A fit either order: each one's previous default is the other's new one.
    for (const [first, second, expected] of [
      [toB, backToA, cards[0]!],
      [backToA, toB, cards[1]!],
    ] as const) {
      const store = memoryStore()
      const handler = handlerFor(store, 'events')
      for (const event of setUp) await deliver(handler, event)
      await deliver(handler, first)
      expect(await deliver(handler, second)).toMatchObject({
        action: 'default-changed',
        cardId: expected.id,
      })
      expect((await store.getDefault(scope(customer)))?.id).toBe(expected.id)
    }
  })
})

describe.each([
  { sdk: 'stripe 23', webhooks: Stripe.webhooks as StripeWebhookVerifier },
  { sdk: 'stripe 16', webhooks: StripeV16.webhooks },
])('rejections ($sdk), each changing nothing', ({ webhooks }) => {
  let store: CardStore
  let handler: StripeWebhookHandler
  let owners: Owner[]
  let pending: StripeEvent
  let cardId: string
  const now = () => Date.now()

  beforeEach(async () => {
    store = memoryStore()
    handler = stripeWebhookHandler({ webhooks, endpointSecret: secret, store, now })
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    const card = await provider.createCard(customer, { source: 'tok_visa' })
    await provider.createCard(customer, { source: 'tok_mastercard' })
    await deliverStripeEvents(emulator.events.take(), handler)
    tick()
    // A genuine change, which each rejected request below tries to deliver.
    await provider.updateCard(customer, card.id, { holderName: 'Mallory' })
    pending = emulator.events.take()[0]!
    owners = [customer]
    cardId = card.id
  })

  /** Each attempt must be refused with `reason` and leave the store as it was. */
  async function expectRejected(
    reason: StripeWebhookError['reason'],
    ...attempts: Array<() => Promise<unknown>>
  ): Promise<void> {
    for (const attempt of attempts) {
      const before = await snapshot(store, owners)
      const error = await attempt().then(
        () => {
          throw new Error('expected a rejection')
        },
        (caught: unknown) => caught as StripeWebhookError,
      )
      expect(isCardportError(error, 'invalid_request')).toBe(true)
      expect(error).toMatchObject({ reason, status: 400, details: { reason }, provider: 'stripe' })
      const text = `${error.message} ${JSON.stringify(error.toJSON())}`
      expect(text).not.toContain(secret)
      expect(text).not.toContain('Mallory')
      expect(text).not.toMatch(/\d{12,}/)
      expect(await snapshot(store, owners)).toEqual(before)
    }
    // Nothing was remembered either: the genuine delivery still applies.
    const { payload, signature } = emulator.events.sign(pending)
    expect((await handler.handle(payload, signature)).action).toBe('upserted')
    expect((await store.get(scope(owners[0]!), cardId))?.holderName).toBe('Mallory')
  }

  it('a signature made with another secret', async () => {
    const payload = stripeEventPayload(pending)
    await expectRejected('bad_signature', () =>
      handler.handle(payload, signStripeEvent(payload, 'whsec_someone_else')),
    )
  })

  it('a body changed after signing, or parsed and re-serialized on the way', async () => {
    const { payload, signature } = emulator.events.sign(pending)
    await expectRejected(
      'bad_signature',
      () => handler.handle(payload.replace('Mallory', 'Mallorx'), signature),
      () => handler.handle(JSON.stringify(JSON.parse(payload)), signature),
    )
  })

  it('a missing or empty Stripe-Signature header', async () => {
    const payload = stripeEventPayload(pending)
    await expectRejected(
      'missing_signature',
      () => handler.handle(payload, undefined),
      () => handler.handle(payload, null),
      () => handler.handle(payload, ''),
    )
  })

  it('a header without a timestamp and a v1 signature, or several headers', async () => {
    const payload = stripeEventPayload(pending)
    const { signature } = emulator.events.sign(pending)
    await expectRejected(
      'malformed_signature',
      () => handler.handle(payload, 'v0=abc'),
      () => handler.handle(payload, signature.replace(/^t=\d+,/, '')),
      () => handler.handle(payload, [signature, signature]),
    )
  })

  it('a signature older than the tolerance', async () => {
    const payload = stripeEventPayload(pending)
    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600
    await expectRejected('stale_timestamp', () =>
      handler.handle(payload, signStripeEvent(payload, secret, tenMinutesAgo)),
    )
  })

  it('a body that is JSON but not an event', async () => {
    const bodies = [
      JSON.stringify({ id: 'card_1', object: 'card', last4: '4242' }),
      JSON.stringify({ ...pending, data: 'nothing' }),
      '[1, 2]',
    ]
    await expectRejected(
      'not_an_event',
      ...bodies.map((body) => () => handler.handle(body, signStripeEvent(body, secret))),
    )
  })

  it('a body that is not JSON', async () => {
    const body = 'id=evt_1&type=customer.updated'
    await expectRejected('malformed_body', () =>
      handler.handle(body, signStripeEvent(body, secret)),
    )
  })

  it('a body already parsed into an object', async () => {
    const { payload, signature } = emulator.events.sign(pending)
    const parsed = JSON.parse(payload) as unknown as string
    await expectRejected('body_not_raw', () => handler.handle(parsed, signature))
  })

  it('no body', async () => {
    const { signature } = emulator.events.sign(pending)
    await expectRejected(
      'empty_body',
      () => handler.handle('', signature),
      () => handler.handle(Buffer.alloc(0), signature),
      () => handler.handle(undefined as unknown as string, signature),
    )
  })
})

describe('verification options', () => {
  const event = (): StripeEvent => {
    emulator.seed.customer()
    return emulator.events.take()[0]!
  }

  it('takes a Buffer body, several secrets, and a wider tolerance', async () => {
    const handler = stripeWebhookHandler({
      webhooks: Stripe.webhooks,
      endpointSecret: ['whsec_platform_endpoint', secret],
      store: memoryStore(),
      toleranceSeconds: 3600,
    })
    const { payload } = emulator.events.sign(event())
    const tenMinutesAgo = Math.floor(Date.now() / 1000) - 600
    const result = await handler.handle(
      Buffer.from(payload),
      signStripeEvent(payload, secret, tenMinutesAgo),
    )
    expect(result.action).toBe('ignored')
  })

  it('takes a header with a v1 per secret while one is rolled, and a timestamp ahead of the clock', async () => {
    const handler = stripeWebhookHandler({
      webhooks: Stripe.webhooks,
      endpointSecret: secret,
      store: memoryStore(),
    })
    const { payload } = emulator.events.sign(event())
    const now = Math.floor(Date.now() / 1000)
    const v1 = (key: string, t = now) => signStripeEvent(payload, key, t).split(',v1=')[1]
    // Stripe signs with the expiring secret and the new one: either may come first.
    for (const header of [
      `t=${now},v1=${v1('whsec_expiring_secret')},v1=${v1(secret)}`,
      `t=${now},v1=${v1(secret)},v1=${v1('whsec_expiring_secret')}`,
      // Only the age is checked: a host clock an hour behind Stripe's.
      signStripeEvent(payload, secret, now + 3600),
    ]) {
      // Accepted: the first delivery applied, the repeats answered as such.
      expect(['ignored', 'duplicate']).toContain((await handler.handle(payload, header)).action)
    }
    await expect(
      handler.handle(payload, `t=${now},v1=${v1('whsec_expiring_secret')},v1=${v1('whsec_x')}`),
    ).rejects.toMatchObject({ reason: 'bad_signature' })
  })

  it('measures the signature age with the given clock', async () => {
    const handler = stripeWebhookHandler({
      webhooks: Stripe.webhooks,
      endpointSecret: secret,
      store: memoryStore(),
      now: () => Date.now() + 301_000,
    })
    const { payload, signature } = emulator.events.sign(event())
    await expect(handler.handle(payload, signature)).rejects.toMatchObject({
      reason: 'stale_timestamp',
    })
  })

  it('verifies only, or applies a verified event, for queue-based setups', async () => {
    const store = memoryStore()
    const handler = handlerFor(store, 'events')
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    await provider.createCard(customer, { source: 'tok_visa' })
    const [, created] = emulator.events.take() as [StripeEvent, StripeEvent]
    const { payload, signature } = emulator.events.sign(created)

    const verified = await handler.verify(payload, signature)
    expect(verified).toMatchObject({ id: created.id, type: 'customer.source.created' })
    expect(await store.listByOwner(scope(customer))).toEqual([])
    expect((await handler.apply(verified)).action).toBe('upserted')
  })

  it('refuses, as verify does, an object given to apply that is not an event', async () => {
    const store = memoryStore()
    const handler = handlerFor(store, 'events')
    for (const notAnEvent of [
      { id: 'evt_no_data', object: 'event', type: 'customer.deleted', created: 1_700_000_000 },
      { id: 'evt_no_object', type: 'customer.source.deleted', data: {} },
      null,
    ]) {
      await expect(handler.apply(notAnEvent as never)).rejects.toMatchObject({
        code: 'invalid_request',
        reason: 'not_an_event',
        status: 400,
      })
    }
    expect(await toArray(store.listOwners(STRIPE_PROVIDER_NAME), { limit: 10 })).toEqual([])
  })

  it('refuses an event whose id no store keeps as sent, without the seen set or the store', async () => {
    // A seen set over PostgreSQL: an unpaired surrogate is stored as U+FFFD (and a NUL too, as
    // some wrappers do), so that `evt_A\uD800` would make a genuine `evt_A\uFFFD` a duplicate.
    const ids = new Set<string>()
    const calls: string[] = []
    const asStored = (id: string) => id.toWellFormed().replaceAll('\u0000', '\uFFFD')
    const seen: SeenEventIds = {
      has(id) {
        calls.push('has')
        return ids.has(asStored(id))
      },
      add(id) {
        calls.push('add')
        ids.add(asStored(id))
      },
    }
    const store = memoryStore()
    const handler = handlerFor(store, 'events', { seen })
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    await provider.createCard(customer, { source: 'tok_visa' })
    const created = emulator.events
      .take()
      .find((event) => event.type === 'customer.source.created')!
    const genuine = { ...created, id: 'evt_A\uFFFD' }
    for (const id of ['evt_A\uD800', 'evt_\uDC00A', 'evt_A\u0000', 'evt_4242424242424242']) {
      await expect(handler.apply({ ...created, id } as never)).rejects.toMatchObject({
        code: 'invalid_request',
        reason: 'not_an_event',
        status: 400,
      })
      // Signed alike, `handle` refuses it as `verify` does.
      const payload = stripeEventPayload({ ...created, id })
      await expect(handler.handle(payload, signStripeEvent(payload, secret))).rejects.toMatchObject(
        { reason: 'not_an_event' },
      )
    }
    expect(calls).toEqual([])
    expect(await store.listByOwner(scope(customer))).toEqual([])
    expect((await handler.apply(genuine as never)).action).toBe('upserted')
  })

  it('refuses an event whose type is not Stripe’s or holds a card number, which the logged result would echo', async () => {
    const store = memoryStore()
    const handler = handlerFor(store, 'events')
    const customer: Owner = { type: 'customer', id: emulator.seed.customer().id }
    await provider.createCard(customer, { source: 'tok_visa' })
    const created = emulator.events
      .take()
      .find((event) => event.type === 'customer.source.created')!
    const digits = /4242\D?4242\D?4242\D?4242/
    for (const type of [
      'customer.source.4242424242424242',
      'customer.source.x4242424242424242',
      'customer.source.x4242_4242_4242_4242',
      'customer.source.created 4242 4242 4242 4242',
      'Customer.Source.Created',
      'customer..created',
      '',
    ]) {
      const event = { ...created, id: `evt_type_${type.length}`, type }
      let caught: unknown
      try {
        await handler.apply(event as never)
      } catch (error) {
        caught = error
      }
      expect(caught, type).toMatchObject({
        code: 'invalid_request',
        reason: 'not_an_event',
        status: 400,
      })
      expect(JSON.stringify((caught as StripeWebhookError).toJSON()), type).not.toMatch(digits)
      expect((caught as Error).message, type).not.toMatch(digits)
      // Signed alike, `handle` refuses it as `verify` does.
      const payload = stripeEventPayload(event as StripeEvent)
      await expect(
        handler.handle(payload, signStripeEvent(payload, secret)),
        type,
      ).rejects.toMatchObject({ reason: 'not_an_event' })
    }
    expect(await store.listByOwner(scope(customer))).toEqual([])

    // Stripe's own types, those cardport does not apply included, are acknowledged as before.
    for (const type of [
      'charge.succeeded',
      'customer.source.expiring',
      'three_d_secure.authentication.succeeded',
      'financial_connections.account.supported_payment_method_types_updated',
      'ping',
    ]) {
      const event = { ...created, id: `evt_${type}`, type }
      expect(await handler.apply(event as never), type).toMatchObject({
        eventId: `evt_${type}`,
        type,
        action: 'ignored',
      })
    }
    expect((await handler.apply(created as never)).action).toBe('upserted')
  })

  it('refuses an option it does not know (a misspelt tolerance), naming it, without echoing the secret', () => {
    let caught: unknown
    try {
      stripeWebhookHandler({
        webhooks: Stripe.webhooks,
        endpointSecret: secret,
        store: memoryStore(),
        tolerance: 600,
      } as never)
    } catch (error) {
      caught = error
    }
    expect(isCardportError(caught, 'invalid_request')).toBe(true)
    expect((caught as Error).message).toMatch(/stripeWebhookHandler options/)
    expect((caught as Error).message).toContain('"tolerance"')
    expect((caught as Error).message).not.toContain(secret)
  })

  it('refuses bad options by name, without echoing the secret', () => {
    const store = memoryStore()
    const attempts: Array<() => unknown> = [
      () =>
        stripeWebhookHandler({ webhooks: Stripe.webhooks, endpointSecret: 'sk_test_oops', store }),
      () =>
        stripeWebhookHandler({
          webhooks: Stripe.webhooks,
          endpointSecret: secret,
          store,
          toleranceSeconds: 0,
        }),
      () => stripeWebhookHandler({ endpointSecret: secret, store } as never),
      () =>
        stripeWebhookHandler({
          webhooks: Stripe.webhooks,
          endpointSecret: secret,
          store,
          confirm: true,
        } as never),
      () =>
        stripeWebhookHandler({
          webhooks: Stripe.webhooks,
          endpointSecret: secret,
          store: {} as CardStore,
        }),
    ]
    for (const attempt of attempts) {
      let caught: unknown
      try {
        attempt()
      } catch (error) {
        caught = error
      }
      expect(isCardportError(caught, 'invalid_request')).toBe(true)
      expect((caught as Error).message).toMatch(/stripeWebhookHandler options/)
      expect((caught as Error).message).not.toContain('sk_test_oops')
    }
  })
})
