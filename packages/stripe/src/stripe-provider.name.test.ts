import { createCardSync, isCardportError, memoryStore, type Owner } from '@cardport/core'
import { stripeEmulator } from '@cardport/testing/emulators'
import { setupServer } from 'msw/node'
import Stripe from 'stripe'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { StripeClient } from './stripe-client.js'
import { stripeProvider } from './stripe-provider.js'
import { rejection, thrownBy } from './test-harness.js'
import { stripeWebhookHandler } from './webhook-handler.js'

// Two Stripe accounts (a European and an American entity of one business), each its own
// emulator at its own host, their cards kept in one store.
const eu = stripeEmulator({ origin: 'https://eu.stripe.test' })
const us = stripeEmulator({ origin: 'https://us.stripe.test' })
const server = setupServer(...eu.handlers, ...us.handlers)
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  eu.reset()
  us.reset()
})
afterAll(() => server.close())

const ENDPOINT_SECRET = 'whsec_cardport_name_test'

function client(host: string): StripeClient {
  return new Stripe('sk_test_cardport', {
    host,
    httpClient: Stripe.createFetchHttpClient(),
  }) as unknown as StripeClient
}

const euClient = () => client('eu.stripe.test')
const usClient = () => client('us.stripe.test')

function customerOf(emulator: typeof eu): Owner {
  const owner: Owner = { type: 'customer', id: emulator.seed.customer().id }
  emulator.seed.card(owner.id, 'tok_visa')
  return owner
}

describe('stripeProvider name', () => {
  it("is 'stripe' by default, on the provider and on its cards", async () => {
    const owner = customerOf(eu)
    const provider = stripeProvider({ stripe: euClient() })
    expect(provider.name).toBe('stripe')
    const [card] = (await provider.listCards(owner)).data
    expect(card?.provider).toBe('stripe')
  })

  it('names the provider, every card it returns or parses, and its errors', async () => {
    const owner = customerOf(eu)
    const provider = stripeProvider({ stripe: euClient(), name: 'stripe-eu' })
    expect(provider.name).toBe('stripe-eu')

    const created = await provider.createCard(owner, { source: 'tok_mastercard' })
    const listed = (await provider.listCards(owner)).data
    const read = await provider.getCard(owner, created.id)
    const chosen = await provider.getDefaultCard(owner)
    const parsed = provider.parseCard(eu.state.source(created.id), owner)
    expect(listed).toHaveLength(2)
    const cards = [created, ...listed, read, chosen, parsed]
    expect(cards.map((card) => card?.provider)).toEqual(cards.map(() => 'stripe-eu'))

    // A card Stripe does not have, an owner it does not know, a key it refuses: each error names it.
    expect(await rejection(provider.getCard(owner, 'card_missing'))).toMatchObject({
      code: 'card_not_found',
      provider: 'stripe-eu',
    })
    expect(
      await rejection(provider.listCards({ type: 'customer', id: 'cus_missing' })),
    ).toMatchObject({ code: 'owner_not_found', provider: 'stripe-eu' })
  })

  it("refuses another Stripe provider's cursor, as another provider's", async () => {
    const owner = customerOf(eu)
    eu.seed.card(owner.id, 'tok_mastercard')
    const named = stripeProvider({ stripe: euClient(), name: 'stripe-eu' })
    const page = await named.listCards(owner, { limit: 1 })
    expect(page.nextCursor).not.toBeNull()

    const other = stripeProvider({ stripe: euClient() })
    const error = await rejection(other.listCards(owner, { cursor: page.nextCursor! }))
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect(error.message).toContain('not made by stripe')
    expect((await named.listCards(owner, { cursor: page.nextCursor! })).data).toHaveLength(1)
  })

  it.each([
    ['an empty name', ''],
    ['a name that starts with a digit', '1stripe'],
    ['a name with a space', 'stripe eu'],
    ['a name of 65 characters', `s${'x'.repeat(64)}`],
    ['an API key given as the name', 'sk_test_notForMessages'],
    ['a name holding a card number', 'stripe4242424242424242'],
    ['a name that is not a string', 42],
  ])('refuses %s with invalid_request, quoting neither key nor number', (_case, name) => {
    const thrown = thrownBy(() => stripeProvider({ stripe: euClient(), name: name as string }))
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    const message = (thrown as Error).message
    expect(message).toContain('stripeProvider options')
    expect(message).toContain('name')
    expect(message).not.toContain('notForMessages')
    expect(message).not.toContain('4242424242424242')
  })

  it('takes 64 characters, digits, ".", "-" and "_" after a first letter', () => {
    const name = `S.tripe_eu-2${'x'.repeat(52)}`
    expect(name).toHaveLength(64)
    expect(stripeProvider({ stripe: euClient(), name }).name).toBe(name)
  })
})

describe('two Stripe accounts in one store', () => {
  it('keep their cards apart: each reconcile reads and repairs its own owners only', async () => {
    const store = memoryStore()
    const euSync = createCardSync({
      provider: stripeProvider({ stripe: euClient(), name: 'stripe-eu' }),
      store,
    })
    const usSync = createCardSync({
      provider: stripeProvider({ stripe: usClient(), name: 'stripe-us' }),
      store,
    })
    const euOwner = customerOf(eu)
    const usOwner = customerOf(us)
    await euSync.reconcile(euOwner)
    await usSync.reconcile(usOwner)

    // Every stored owner of each name, as a nightly `reconcile()` without owners reads them.
    const euReport = await euSync.reconcile()
    const usReport = await usSync.reconcile()
    expect(euReport.failed).toEqual([])
    expect(usReport.failed).toEqual([])
    expect(euReport.owners).toBe(1)
    expect(usReport.owners).toBe(1)
    expect(await store.listByOwner({ provider: 'stripe-eu', owner: euOwner })).toHaveLength(1)
    expect(await store.listByOwner({ provider: 'stripe-us', owner: usOwner })).toHaveLength(1)
    expect(await store.listByOwner({ provider: 'stripe-eu', owner: usOwner })).toEqual([])
  })

  it("under one name, each reconcile asks its account for the other's owners, and fails on them", async () => {
    // Why the option exists: what this test shows goes away with a name for each account.
    const store = memoryStore()
    const euSync = createCardSync({ provider: stripeProvider({ stripe: euClient() }), store })
    const usSync = createCardSync({ provider: stripeProvider({ stripe: usClient() }), store })
    const usOwner = customerOf(us)
    await euSync.reconcile(customerOf(eu))
    await usSync.reconcile(usOwner)

    const report = await euSync.reconcile()
    expect(report.failed).toEqual([
      expect.objectContaining({ owner: usOwner, code: 'owner_not_found' }),
    ])
  })

  it("the webhook handler of each account writes its events under that account's name", async () => {
    const store = memoryStore()
    const handler = stripeWebhookHandler({
      stripe: euClient() as never,
      endpointSecret: ENDPOINT_SECRET,
      store,
      name: 'stripe-eu',
    })
    const owner: Owner = { type: 'customer', id: eu.seed.customer().id }
    await stripeProvider({ stripe: euClient() }).createCard(owner, { source: 'tok_visa' })
    const [created] = eu.events.list({ type: 'customer.source.created' })
    const { payload: body, signature } = eu.events.sign(created!, { secret: ENDPOINT_SECRET })
    const result = await handler.handle(body, signature)
    expect(result.action).toBe('upserted')

    const stored = await store.listByOwner({ provider: 'stripe-eu', owner })
    expect(stored.map((card) => card.provider)).toEqual(['stripe-eu'])
    expect(await store.listByOwner({ provider: 'stripe', owner })).toEqual([])

    // Its deletions are looked for, and made, under the name too.
    await stripeProvider({ stripe: euClient() }).deleteCard(owner, stored[0]!.id)
    const [deleted] = eu.events.list({ type: 'customer.source.deleted' })
    const deletion = eu.events.sign(deleted!, { secret: ENDPOINT_SECRET })
    expect((await handler.handle(deletion.payload, deletion.signature)).action).toBe('deleted')
    expect(await store.listByOwner({ provider: 'stripe-eu', owner })).toEqual([])

    // Its refusals name it too.
    const refused = await rejection(handler.handle(body, 't=1,v1=00'))
    expect(refused).toMatchObject({ code: 'invalid_request', provider: 'stripe-eu' })
  })

  it('the webhook handler refuses a name the provider would refuse', () => {
    const thrown = thrownBy(() =>
      stripeWebhookHandler({
        webhooks: Stripe.webhooks,
        endpointSecret: ENDPOINT_SECRET,
        store: memoryStore(),
        name: 'stripe eu',
      }),
    )
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    expect((thrown as Error).message).toContain('name')
  })
})
