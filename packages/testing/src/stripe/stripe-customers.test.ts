import type Stripe from 'stripe'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { rejection } from '../__fixtures__/thrown.js'
import { rawStripe, STRIPE_CLIENTS, useStripeEmulator } from './stripe-test-harness.js'

const START = new Date('2025-03-14T12:00:00Z')
/** The emulator's clock: tests that let time pass move it, and it is put back after each. */
let clock = START
const emulator = useStripeEmulator({ now: () => clock })
afterEach(() => {
  clock = START
})

const CUSTOMER_CARD_KEYS = [
  'id',
  'object',
  'address_city',
  'address_country',
  'address_line1',
  'address_line1_check',
  'address_line2',
  'address_state',
  'address_zip',
  'address_zip_check',
  'brand',
  'country',
  'customer',
  'cvc_check',
  'dynamic_last4',
  'exp_month',
  'exp_year',
  'fingerprint',
  'funding',
  'last4',
  'metadata',
  'name',
  'tokenization_method',
  'wallet',
]

const CUSTOMER_KEYS = [
  'id',
  'object',
  'address',
  'balance',
  'created',
  'currency',
  'default_source',
  'delinquent',
  'description',
  'discount',
  'email',
  'invoice_prefix',
  'invoice_settings',
  'livemode',
  'metadata',
  'name',
  'next_invoice_sequence',
  'phone',
  'preferred_locales',
  'shipping',
  'tax_exempt',
  'test_clock',
]

describe.each(STRIPE_CLIENTS)('customers and sources through the stripe SDK ($name)', (client) => {
  // After server.listen(): the fetch client keeps the `fetch` it finds when it is created.
  let stripe: Stripe
  beforeAll(() => {
    stripe = client.create()
  })

  it('creates, retrieves, updates and deletes a customer with Stripe shapes', async () => {
    const created = await stripe.customers.create({
      email: 'jenny@example.com',
      name: 'Jenny Rosen',
      metadata: { plan: 'pro' },
    })
    expect(Object.keys(created)).toEqual(CUSTOMER_KEYS)
    expect(created.id).toMatch(/^cus_[0-9A-Za-z]{14}$/)
    expect(created).toMatchObject({
      object: 'customer',
      email: 'jenny@example.com',
      name: 'Jenny Rosen',
      metadata: { plan: 'pro' },
      default_source: null,
      livemode: false,
      balance: 0,
      created: Date.parse('2025-03-14T12:00:00Z') / 1000,
      invoice_settings: {
        custom_fields: null,
        default_payment_method: null,
        footer: null,
        rendering_options: null,
      },
    })
    expect(created.lastResponse.requestId).toMatch(/^req_[0-9A-Za-z]{14}$/)

    const retrieved = await stripe.customers.retrieve(created.id)
    expect(retrieved).toMatchObject({ id: created.id, email: 'jenny@example.com' })

    const updated = await stripe.customers.update(created.id, {
      description: 'VIP',
      metadata: { plan: '', seats: '3' },
    })
    expect(updated.description).toBe('VIP')
    expect(updated.metadata).toEqual({ seats: '3' })

    const deleted = await stripe.customers.del(created.id)
    expect({ ...deleted }).toEqual({ id: created.id, object: 'customer', deleted: true })
    expect(emulator.state.customer(created.id)).toBeUndefined()
    // Stripe still answers the id of a deleted customer, with its stub.
    const stub = await stripe.customers.retrieve(created.id)
    expect(stub).toMatchObject({ id: created.id, deleted: true })
  })

  it('changes nothing, and sends no event, when it refuses a customer update', async () => {
    const customer = emulator.seed.customer({ email: 'jenny@example.com' })
    const card = emulator.seed.card(customer.id, 'tok_visa')
    const other = emulator.seed.card(customer.id, 'tok_mastercard')
    emulator.events.take()
    const error = await rejection(
      stripe.customers.update(customer.id, {
        email: 'new@example.com',
        default_source: other.id,
        metadata: { ['k'.repeat(41)]: 'v' },
      }),
    )
    expect(error).toMatchObject({ statusCode: 400, param: `metadata[${'k'.repeat(41)}]` })
    expect(emulator.state.customer(customer.id)).toMatchObject({
      email: 'jenny@example.com',
      default_source: card.id,
    })
    expect(emulator.events.take()).toEqual([])
  })

  it('answers an unknown customer with 404 resource_missing', async () => {
    const error = await rejection(stripe.customers.retrieve('cus_missing0000000'))
    expect(error.type).toBe('StripeInvalidRequestError')
    expect(error.statusCode).toBe(404)
    expect(error.code).toBe('resource_missing')
    expect(error.param).toBe('id')
    expect(error.message).toBe("No such customer: 'cus_missing0000000'")
    expect(error.requestId).toMatch(/^req_/)
    expect(error.doc_url).toBe('https://stripe.com/docs/error-codes/resource-missing')
  })

  it('attaches a test token as a card with every field of the card object', async () => {
    const customer = emulator.seed.customer()
    const card = (await stripe.customers.createSource(customer.id, {
      source: 'tok_visa',
    })) as Stripe.Card
    expect(Object.keys(card)).toEqual(CUSTOMER_CARD_KEYS)
    expect(card.id).toMatch(/^card_[0-9A-Za-z]{24}$/)
    expect({ ...card, id: 'x', fingerprint: 'f' }).toEqual({
      id: 'x',
      object: 'card',
      address_city: null,
      address_country: null,
      address_line1: null,
      address_line1_check: null,
      address_line2: null,
      address_state: null,
      address_zip: null,
      address_zip_check: null,
      brand: 'Visa',
      country: 'US',
      customer: customer.id,
      cvc_check: 'pass',
      dynamic_last4: null,
      exp_month: 3,
      exp_year: 2026,
      fingerprint: 'f',
      funding: 'credit',
      last4: '4242',
      metadata: {},
      name: null,
      tokenization_method: null,
      wallet: null,
    })
    expect(card.fingerprint).toMatch(/^[0-9A-Za-z]{16}$/)
    expect(emulator.state.customer(customer.id)?.default_source).toBe(card.id)
  })

  it('creates a card from a card hash, with address checks', async () => {
    const customer = emulator.seed.customer()
    const card = (await stripe.customers.createSource(customer.id, {
      // The SDK types `source` as a string; Stripe also takes a card hash.
      source: {
        object: 'card',
        number: '5555555555554444',
        exp_month: 12,
        exp_year: 2030,
        cvc: '123',
        name: 'Jenny Rosen',
        address_line1: '1 Main St',
        address_zip: '94107',
      } as unknown as string,
      metadata: { nickname: 'work' },
    })) as Stripe.Card
    expect(card).toMatchObject({
      brand: 'MasterCard',
      funding: 'credit',
      last4: '4444',
      exp_month: 12,
      exp_year: 2030,
      name: 'Jenny Rosen',
      address_line1: '1 Main St',
      address_line1_check: 'pass',
      address_zip: '94107',
      address_zip_check: 'pass',
      cvc_check: 'pass',
      metadata: { nickname: 'work' },
    })
  })

  it('keeps the first card the default, promotes the most recent on delete, and nulls it', async () => {
    const customer = emulator.seed.customer()
    const first = await stripe.customers.createSource(customer.id, { source: 'tok_visa' })
    const second = await stripe.customers.createSource(customer.id, { source: 'tok_mastercard' })
    const third = await stripe.customers.createSource(customer.id, { source: 'tok_amex' })
    expect((await stripe.customers.retrieve(customer.id)) as Stripe.Customer).toMatchObject({
      default_source: first.id,
    })

    const deleted = await stripe.customers.deleteSource(customer.id, first.id)
    expect({ ...deleted }).toEqual({ id: first.id, object: 'card', deleted: true })
    // The most recently added remaining source, not the oldest.
    expect(emulator.state.customer(customer.id)?.default_source).toBe(third.id)

    await stripe.customers.deleteSource(customer.id, third.id)
    expect(emulator.state.customer(customer.id)?.default_source).toBe(second.id)
    await stripe.customers.deleteSource(customer.id, second.id)
    expect(emulator.state.customer(customer.id)?.default_source).toBeNull()
    expect(emulator.state.sources(customer.id)).toEqual([])
  })

  it('promotes the most recent remaining source on delete, a bank account before an older card (seed 001)', async () => {
    // Stripe's "Delete a card": "If you delete a card that is currently the default source, then
    // the most recently added source will become the new default". A source, not a card.
    const customer = emulator.seed.customer()
    const first = await stripe.customers.createSource(customer.id, { source: 'tok_visa' })
    const kept = await stripe.customers.createSource(customer.id, { source: 'tok_mastercard' })
    const bank = emulator.seed.bankAccount(customer.id)
    expect(emulator.state.customer(customer.id)?.default_source).toBe(first.id)

    await stripe.customers.deleteSource(customer.id, first.id)
    const after = (await stripe.customers.retrieve(customer.id, {
      expand: ['default_source'],
    })) as Stripe.Customer
    expect(after.default_source).toMatchObject({ id: bank.id, object: 'bank_account' })
    const cards = await stripe.customers.listSources(customer.id, { object: 'card' })
    expect(cards.data.map((s) => s.id)).toEqual([kept.id])
  })

  it('answers the detached Source object, consumed, when a src_ source is deleted', async () => {
    // The OpenAPI description answers DELETE /v1/customers/{customer}/sources/{id} with
    // `payment_source` or `deleted_payment_source`, and the deleted variants are a bank account's
    // and a card's only; Stripe's "Detach a source": "The status of a source is changed to
    // consumed when it is detached … Returns the detached Source object."
    const customer = emulator.seed.customer()
    const source = emulator.seed.source(customer.id)
    const card = emulator.seed.card(customer.id)
    const detached = await stripe.customers.deleteSource(customer.id, source.id as string)
    expect({ ...detached }).toEqual({
      ...source,
      status: 'consumed',
      customer: customer.id,
    })
    expect(detached).not.toHaveProperty('deleted')
    expect(emulator.state.sources(customer.id).map((entry) => entry.id)).toEqual([card.id])
    expect(emulator.state.customer(customer.id)?.default_source).toBe(card.id)
  })

  it('updates a card: address, expiry, name and metadata with unsetting', async () => {
    const customer = emulator.seed.customer()
    const card = emulator.seed.card(customer.id, 'tok_visa', { metadata: { a: '1', b: '2' } })
    const updated = (await stripe.customers.updateSource(customer.id, card.id, {
      name: 'Jenny Rosen',
      address_city: 'Paris',
      address_country: 'FR',
      exp_month: '7',
      exp_year: '2031',
      metadata: { a: '', c: '3' },
    })) as Stripe.Card
    expect(updated).toMatchObject({
      id: card.id,
      name: 'Jenny Rosen',
      address_city: 'Paris',
      address_country: 'FR',
      exp_month: 7,
      exp_year: 2031,
      metadata: { b: '2', c: '3' },
    })
    const cleared = (await stripe.customers.updateSource(customer.id, card.id, {
      metadata: '',
    })) as Stripe.Card
    expect(cleared.metadata).toEqual({})
    expect(emulator.state.source(card.id)).toMatchObject({ name: 'Jenny Rosen', metadata: {} })
  })

  it('refuses a metadata key with a square bracket, as Stripe does, and stores nothing', async () => {
    const customer = emulator.seed.customer()
    const card = emulator.seed.card(customer.id, 'tok_visa', { metadata: { a: '1' } })
    emulator.events.take()
    // `metadata[x]]=2` read as a form is the key `x`: refused, not stored under another name.
    for (const key of ['a[b]', 'x]', '[y', 'plan[0]']) {
      const update = await rejection(
        stripe.customers.updateSource(customer.id, card.id, { metadata: { [key]: '2' } }),
      )
      expect(update).toMatchObject({
        statusCode: 400,
        code: 'parameter_invalid',
        param: 'metadata',
      })
      const create = await rejection(
        stripe.customers.createSource(customer.id, {
          source: 'tok_visa',
          metadata: { [key]: '2' },
        }),
      )
      expect(create).toMatchObject({ statusCode: 400, param: 'metadata' })
      const other = await rejection(
        stripe.customers.update(customer.id, { metadata: { [key]: '2' } }),
      )
      expect(other).toMatchObject({ statusCode: 400, param: 'metadata' })
    }
    expect(emulator.state.source(card.id)?.metadata).toEqual({ a: '1' })
    expect(emulator.state.sources(customer.id)).toHaveLength(1)
    expect(emulator.state.customer(customer.id)?.metadata).toEqual({})
    expect(emulator.events.take()).toEqual([])
  })

  it('keeps metadata keys named like Object.prototype members, as Stripe keeps any key', async () => {
    const customer = await stripe.customers.create({
      metadata: { constructor: 'Acme Corp', valueOf: '1', order: '42' },
    })
    expect(customer.metadata).toEqual({ constructor: 'Acme Corp', valueOf: '1', order: '42' })
    const card = (await stripe.customers.createSource(customer.id, {
      source: 'tok_visa',
      metadata: { toString: 'x', hasOwnProperty: 'y' },
    })) as Stripe.Card
    expect(card.metadata).toEqual({ toString: 'x', hasOwnProperty: 'y' })
    expect(emulator.state.customer(customer.id)?.metadata).toEqual(customer.metadata)
    expect(emulator.state.source(card.id)?.metadata).toEqual(card.metadata)
  })

  it('refuses an update to an expiry that has passed, as it refuses such a card (now: 2025-03)', async () => {
    const customer = emulator.seed.customer()
    const card = emulator.seed.card(customer.id, 'tok_visa')
    const error = await rejection(
      stripe.customers.updateSource(customer.id, card.id, { exp_month: '2', exp_year: '2025' }),
    )
    expect(error).toMatchObject({
      type: 'StripeCardError',
      statusCode: 402,
      code: 'invalid_expiry_month',
      param: 'exp_month',
    })
    expect(emulator.state.source(card.id)).toMatchObject({ exp_month: 3, exp_year: 2026 })
    const updated = (await stripe.customers.updateSource(customer.id, card.id, {
      exp_month: '3',
      exp_year: '2025',
    })) as Stripe.Card
    expect(updated).toMatchObject({ exp_month: 3, exp_year: 2025 })
  })

  it('updates the name, address or metadata of a card that has expired since it was stored', async () => {
    const customer = emulator.seed.customer()
    const card = emulator.seed.card(customer.id, 'tok_visa') // expires 03/2026
    clock = new Date('2027-01-10T00:00:00Z')
    const updated = (await stripe.customers.updateSource(customer.id, card.id, {
      metadata: { nickname: 'old' },
    })) as Stripe.Card
    expect(updated).toMatchObject({ metadata: { nickname: 'old' }, exp_month: 3, exp_year: 2026 })
    const legacy = await rawStripe('POST', `/v1/customers/${customer.id}/cards/${card.id}`, {
      body: 'name=Jenny+Rosen&address_zip=94107',
    })
    expect(legacy.status).toBe(200)
    expect(legacy.body).toMatchObject({ name: 'Jenny Rosen', exp_month: 3, exp_year: 2026 })

    // Sending one of the two checks the expiry it makes with the stored other.
    const monthOnly = await rejection(
      stripe.customers.updateSource(customer.id, card.id, { exp_month: '12' }),
    )
    expect(monthOnly).toMatchObject({ statusCode: 402, code: 'invalid_expiry_year' })
    const yearOnly = (await stripe.customers.updateSource(customer.id, card.id, {
      exp_year: '2028',
    })) as Stripe.Card
    expect(yearOnly).toMatchObject({ exp_month: 3, exp_year: 2028 })
  })

  it('changes nothing, and sends no event, when it refuses a card update', async () => {
    const customer = emulator.seed.customer()
    const card = emulator.seed.card(customer.id, 'tok_visa', { metadata: { a: '1' } })
    emulator.events.take()
    const before = emulator.state.source(card.id)
    const refusals = [
      { name: 'Jenny Rosen', address_zip: '75001', exp_year: '2001' },
      { name: 'Jenny Rosen', address_city: 'Paris', exp_month: '13' },
      { name: 'Jenny Rosen', exp_month: '8', metadata: { ['k'.repeat(41)]: 'v' } },
    ]
    for (const params of refusals) {
      const error = await rejection(stripe.customers.updateSource(customer.id, card.id, params))
      expect(error).toHaveProperty('statusCode')
      expect(emulator.state.source(card.id)).toEqual(before)
    }
    expect(emulator.events.take()).toEqual([])
  })

  it("refuses, changing nothing, an update whose metadata merged with the card's passes 50 keys", async () => {
    const keys = (prefix: string, count: number) =>
      Object.fromEntries(Array.from({ length: count }, (_, index) => [`${prefix}${index}`, 'v']))
    const customer = emulator.seed.customer()
    const card = emulator.seed.card(customer.id, 'tok_visa', { metadata: keys('a', 30) })
    const before = emulator.state.source(card.id)
    const error = await rejection(
      stripe.customers.updateSource(customer.id, card.id, {
        name: 'Jenny Rosen',
        metadata: keys('b', 21),
      }),
    )
    expect(error).toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      param: 'metadata',
    })
    expect(emulator.state.source(card.id)).toEqual(before)
    // With keys unset in the same update, 50 or fewer after the merge: accepted.
    const unsetting = (await stripe.customers.updateSource(customer.id, card.id, {
      metadata: { ...keys('b', 21), a0: '', a1: '' },
    })) as Stripe.Card
    expect(Object.keys(unsetting.metadata ?? {})).toHaveLength(49)
  })

  it('switches default_source, and refuses a source the customer does not hold', async () => {
    const customer = emulator.seed.customer()
    const other = emulator.seed.customer()
    const first = emulator.seed.card(customer.id)
    const second = emulator.seed.card(customer.id, 'tok_mastercard')
    const foreign = emulator.seed.card(other.id)
    const switched = await stripe.customers.update(customer.id, { default_source: second.id })
    expect(switched.default_source).toBe(second.id)

    const error = await rejection(
      stripe.customers.update(customer.id, { default_source: foreign.id }),
    )
    expect(error).toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      code: 'resource_missing',
      param: 'default_source',
      message: `No such source: '${foreign.id}'`,
    })
    expect(emulator.state.customer(customer.id)?.default_source).toBe(second.id)
    expect(emulator.state.sources(customer.id).map((s) => s.id)).toEqual([second.id, first.id])
  })

  it('replaces the default card when a customer is updated with `source`', async () => {
    const customer = emulator.seed.customer()
    const old = emulator.seed.card(customer.id)
    const kept = emulator.seed.card(customer.id, 'tok_discover')
    const updated = await stripe.customers.update(customer.id, { source: 'tok_jcb' })
    const sources = emulator.state.sources(customer.id)
    expect(sources.map((s) => s.id)).toEqual([updated.default_source, kept.id])
    expect(sources[0]).toMatchObject({ brand: 'JCB', last4: '0505' })
    expect(emulator.state.source(old.id)).toBeUndefined()
  })

  it('makes `source` the default and deletes the old default when `default_source` comes with it', async () => {
    const customer = emulator.seed.customer()
    const old = emulator.seed.card(customer.id)
    const named = emulator.seed.card(customer.id, 'tok_discover')
    const updated = await stripe.customers.update(customer.id, {
      source: 'tok_jcb',
      default_source: named.id,
    })
    const sources = emulator.state.sources(customer.id)
    expect(sources.map((s) => s.id)).toEqual([updated.default_source, named.id])
    expect(sources[0]).toMatchObject({ brand: 'JCB', last4: '0505' })
    expect(emulator.state.source(old.id)).toBeUndefined()
    expect(emulator.state.customer(customer.id)?.default_source).toBe(sources[0]!.id)
  })

  it('lists sources newest first in the list envelope and filters object=card', async () => {
    const customer = emulator.seed.customer()
    const card1 = emulator.seed.card(customer.id)
    const bank = emulator.seed.bankAccount(customer.id)
    const card2 = emulator.seed.card(customer.id, 'tok_mastercard')

    const all = await stripe.customers.listSources(customer.id)
    expect(all.object).toBe('list')
    expect(all.url).toBe(`/v1/customers/${customer.id}/sources`)
    expect(all.has_more).toBe(false)
    expect(all.data.map((s) => [s.id, s.object])).toEqual([
      [card2.id, 'card'],
      [bank.id, 'bank_account'],
      [card1.id, 'card'],
    ])
    expect(bank.id).toMatch(/^ba_[0-9A-Za-z]{24}$/)

    const cards = await stripe.customers.listSources(customer.id, { object: 'card' })
    expect(cards.data.map((s) => s.id)).toEqual([card2.id, card1.id])
  })

  it('creates a customer with a source that becomes the default', async () => {
    const customer = await stripe.customers.create({ source: 'tok_amex' })
    const [card] = emulator.state.sources(customer.id)
    expect(card).toMatchObject({ brand: 'American Express', last4: '0005' })
    expect(customer.default_source).toBe(card?.id)
  })

  it('creates no customer when the card given as `source` is declined', async () => {
    const error = await rejection(stripe.customers.create({ source: 'tok_chargeDeclined' }))
    expect(error).toMatchObject({
      statusCode: 402,
      code: 'card_declined',
      decline_code: 'generic_decline',
    })
    expect(emulator.state.customers()).toEqual([])
  })

  it('answers a missing source on a customer with 404', async () => {
    const customer = emulator.seed.customer()
    const error = await rejection(stripe.customers.retrieveSource(customer.id, 'card_nope'))
    expect(error).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      param: 'id',
      message: "No such source: 'card_nope'",
    })
    const noCustomer = await rejection(
      stripe.customers.createSource('cus_nobody0000000', { source: 'tok_visa' }),
    )
    expect(noCustomer).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      message: "No such customer: 'cus_nobody0000000'",
    })
  })
})

describe('metadata keys named like Object.prototype members, in form bodies', () => {
  const KEYS = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__']
  const body = [...KEYS.map((key, i) => `metadata[${key}]=v${i}`), 'metadata[0]=zero'].join('&')
  const expected = Object.fromEntries([['0', 'zero'], ...KEYS.map((key, i) => [key, `v${i}`])])

  it('stores, answers, replays and unsets them as any other key', async () => {
    const headers = { 'Idempotency-Key': 'proto-keys' }
    const created = await rawStripe('POST', '/v1/customers', { body, headers })
    expect(created.status).toBe(200)
    const metadata = created.body.metadata as Record<string, string>
    expect(Object.keys(metadata).sort()).toEqual(['0', ...KEYS].sort())
    expect({ ...metadata }).toEqual(expected)
    const id = created.body.id as string
    // The read-back and a replay are copies, which must keep `__proto__` too.
    const stored = emulator.state.customer(id)!.metadata
    expect(Object.hasOwn(stored, '__proto__')).toBe(true)
    expect({ ...stored }).toEqual(expected)
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype)
    const replay = await rawStripe('POST', '/v1/customers', { body, headers })
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect({ ...(replay.body.metadata as object) }).toEqual(expected)

    const card = await rawStripe('POST', `/v1/customers/${id}/sources`, {
      body: `source=tok_visa&${body}`,
    })
    expect(card.status).toBe(200)
    expect({ ...(card.body.metadata as object) }).toEqual(expected)

    const unset = await rawStripe('POST', `/v1/customers/${id}`, {
      body: 'metadata[__proto__]=&metadata[constructor]=',
    })
    expect(Object.keys(unset.body.metadata as object).sort()).toEqual(
      ['0', 'toString', 'valueOf', 'hasOwnProperty'].sort(),
    )
    expect(Object.hasOwn(Object.prototype, 'v4')).toBe(false)
  })

  it('refuses an object sent as a value or a parameter, and never writes to a prototype', async () => {
    const customer = emulator.seed.customer()
    const nested = await rawStripe('POST', `/v1/customers/${customer.id}`, {
      body: 'metadata[__proto__][polluted]=yes',
    })
    expect(nested.status).toBe(400)
    const topLevel = await rawStripe('POST', `/v1/customers/${customer.id}`, {
      body: '__proto__[polluted]=yes&constructor[prototype][polluted]=yes',
    })
    expect(topLevel.status).toBe(400)
    expect(topLevel.body.error).toMatchObject({
      code: 'parameter_unknown',
      message: 'Received unknown parameter: __proto__',
    })
    const query = await rawStripe('GET', '/v1/customers?__proto__[polluted]=yes')
    expect(query.status).toBe(400)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false)
    expect(emulator.state.customer(customer.id)?.metadata).toEqual({})
  })
})

describe('paging and the legacy /cards paths', () => {
  let stripe: Stripe
  beforeAll(() => {
    stripe = STRIPE_CLIENTS[0].create()
  })

  it('pages through more than 100 cards with starting_after and ending_before', async () => {
    const customer = emulator.seed.customer()
    const ids: string[] = []
    for (let i = 0; i < 105; i++) ids.push(emulator.seed.card(customer.id).id)
    const newest = [...ids].reverse()

    const page1 = await stripe.customers.listSources(customer.id, { object: 'card', limit: 100 })
    expect(page1.data.map((s) => s.id)).toEqual(newest.slice(0, 100))
    expect(page1.has_more).toBe(true)

    const page2 = await stripe.customers.listSources(customer.id, {
      object: 'card',
      limit: 100,
      starting_after: page1.data.at(-1)!.id,
    })
    expect(page2.data.map((s) => s.id)).toEqual(newest.slice(100))
    expect(page2.has_more).toBe(false)

    const back = await stripe.customers.listSources(customer.id, {
      limit: 3,
      ending_before: page2.data[0]!.id,
    })
    expect(back.data.map((s) => s.id)).toEqual(newest.slice(97, 100))
    expect(back.has_more).toBe(true)

    const defaults = await stripe.customers.listSources(customer.id)
    expect(defaults.data).toHaveLength(10)

    const viaIterator: string[] = []
    for await (const source of stripe.customers.listSources(customer.id, { limit: 40 })) {
      viaIterator.push(source.id)
    }
    expect(viaIterator).toEqual(newest)
  })

  it('refuses a limit outside 1–100', async () => {
    const customer = emulator.seed.customer()
    for (const [limit, message] of [
      [0, 'This value must be greater than or equal to 1.'],
      [101, 'This value must be less than or equal to 100.'],
    ] as const) {
      const error = await rejection(stripe.customers.listSources(customer.id, { limit }))
      expect(error).toMatchObject({ statusCode: 400, param: 'limit', message })
    }
  })

  it('serves /v1/customers/:customer/cards like sources, cards only', async () => {
    const customer = emulator.seed.customer()
    emulator.seed.bankAccount(customer.id)
    const created = await rawStripe('POST', `/v1/customers/${customer.id}/cards`, {
      body: 'card=tok_visa',
    })
    expect(created.status).toBe(200)
    expect(created.body).toMatchObject({ object: 'card', customer: customer.id, last4: '4242' })
    const id = created.body.id as string

    const list = await rawStripe('GET', `/v1/customers/${customer.id}/cards?limit=3`)
    expect(list.body).toMatchObject({
      object: 'list',
      url: `/v1/customers/${customer.id}/cards`,
      has_more: false,
    })
    expect((list.body.data as Array<{ id: string }>).map((c) => c.id)).toEqual([id])

    const updated = await rawStripe('POST', `/v1/customers/${customer.id}/cards/${id}`, {
      body: 'name=Jenny+Rosen',
    })
    expect(updated.body.name).toBe('Jenny Rosen')
    const fetched = await rawStripe('GET', `/v1/customers/${customer.id}/cards/${id}`)
    expect(fetched.body).toMatchObject({ id, name: 'Jenny Rosen' })
    const deleted = await rawStripe('DELETE', `/v1/customers/${customer.id}/cards/${id}`)
    expect(deleted.body).toEqual({ id, object: 'card', deleted: true })
    const gone = await rawStripe('GET', `/v1/customers/${customer.id}/cards/${id}`)
    expect(gone.status).toBe(404)
    expect(gone.body).toMatchObject({
      error: {
        type: 'invalid_request_error',
        code: 'resource_missing',
        message: `No such card: '${id}'`,
      },
    })
  })

  it('pages /cards and /sources?object=card back with ending_before past a bank account, cards only', async () => {
    const customer = emulator.seed.customer()
    const older = emulator.seed.card(customer.id)
    emulator.seed.bankAccount(customer.id)
    const newer = emulator.seed.card(customer.id)
    for (const path of [
      `/v1/customers/${customer.id}/cards?ending_before=${older.id}`,
      `/v1/customers/${customer.id}/sources?object=card&ending_before=${older.id}`,
    ]) {
      const page = await rawStripe('GET', path)
      expect(page.status, path).toBe(200)
      const data = page.body.data as Array<{ id: string; object: string }>
      expect(
        data.map((item) => item.object),
        path,
      ).toEqual(['card'])
      expect(
        data.map((item) => item.id),
        path,
      ).toEqual([newer.id])
      expect(page.body.has_more, path).toBe(false)
    }
  })

  it('serves no bank account or Sources API object through the /cards paths: 404 No such card', async () => {
    const customer = emulator.seed.customer()
    const bank = emulator.seed.bankAccount(customer.id)
    const source = emulator.seed.source(customer.id)
    for (const id of [bank.id, source.id as string]) {
      const path = `/v1/customers/${customer.id}/cards/${id}`
      for (const [method, body] of [
        ['GET', undefined],
        ['POST', 'metadata[a]=b'],
        ['DELETE', undefined],
      ] as const) {
        const answer = await rawStripe(method, path, body === undefined ? {} : { body })
        expect(answer.status, `${method} ${id}`).toBe(404)
        expect(answer.body.error).toMatchObject({
          type: 'invalid_request_error',
          code: 'resource_missing',
          message: `No such card: '${id}'`,
          param: 'id',
        })
      }
    }
    // Untouched, and still served through /sources.
    expect(emulator.state.sources(customer.id).map((entry) => entry.id)).toEqual([
      source.id,
      bank.id,
    ])
    expect(emulator.state.source(bank.id)?.metadata).toEqual({})
    const viaSources = await rawStripe('GET', `/v1/customers/${customer.id}/sources/${bank.id}`)
    expect(viaSources.body).toMatchObject({ id: bank.id, object: 'bank_account' })
  })

  it('expands sources and default_source on a customer', async () => {
    const customer = emulator.seed.customer()
    const card = emulator.seed.card(customer.id)
    const expanded = (await stripe.customers.retrieve(customer.id, {
      expand: ['sources', 'default_source'],
    })) as Stripe.Customer
    expect(expanded.sources).toMatchObject({
      object: 'list',
      url: `/v1/customers/${customer.id}/sources`,
      has_more: false,
      data: [{ id: card.id }],
    })
    expect(expanded.default_source).toMatchObject({ id: card.id, object: 'card' })
  })
})
