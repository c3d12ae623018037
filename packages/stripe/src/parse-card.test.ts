import { inspect } from 'node:util'
import {
  type Card,
  CardSchema,
  isCardportError,
  isDefaultUnknown,
  type Owner,
} from '@cardport/core'
import { describe, expect, it } from 'vitest'
import { stripeSeedCards } from '../../core/src/__fixtures__/seed-cards.js'
import fixtures from './__fixtures__/stripe-fixtures-cards.json' with { type: 'json' }
import { toStripeCard } from './parse-card.js'
import { stripeProvider } from './stripe-provider.js'

// parseCard makes no request: any object with the SDK's shape will do as the client.
const provider = stripeProvider({ apiKey: 'sk_test_cardport' })

const customer: Owner = { type: 'customer', id: 'cus_Oaxlz8kB0PJWGa' }
const account: Owner = { type: 'account', id: 'acct_1Nnlp9GPxmnHQRkJ' }

/** Every object with `object: 'card'` in a JSON document, with where it was found. */
function cardsIn(
  value: unknown,
  path = '$',
): Array<{ path: string; raw: Record<string, unknown> }> {
  if (Array.isArray(value))
    return value.flatMap((item, index) => cardsIn(item, `${path}[${index}]`))
  if (typeof value !== 'object' || value === null) return []
  const record = value as Record<string, unknown>
  const found = record.object === 'card' ? [{ path, raw: record }] : []
  return [
    ...found,
    ...Object.entries(record).flatMap(([key, inner]) => cardsIn(inner, `${path}.${key}`)),
  ]
}

/** A card payload as Stripe sends it, with `fields` changed. */
function stripeCard(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...fixtures.resources.card, customer: customer.id, ...fields }
}

describe('parseCard over the seeds (001 customer sources, 004 external accounts)', () => {
  const seeds = stripeSeedCards.filter((seed) => seed.normalized.provider === 'stripe')

  it('has the seed payloads to check', () => {
    expect(seeds.length).toBeGreaterThanOrEqual(8)
  })

  it.each(seeds)('$name', (seed) => {
    expect(provider.parseCard(seed.raw, seed.owner)).toEqual(seed.normalized)
    // The payload names its owner: parseCard finds it without being told.
    expect(provider.parseCard(seed.raw)).toEqual(seed.normalized)
  })
})

describe('parseCard over Stripe fixtures (stripe-fixtures-cards.json, API 2023-08-16)', () => {
  const cards = cardsIn(fixtures.resources)

  it('finds the card objects of the fixtures: the card and the token card', () => {
    expect(cards.map((card) => card.path)).toEqual(['$.card', '$.token.card'])
  })

  it.each(cards)('normalizes $path for a customer and for an account', ({ raw }) => {
    const forCustomer = provider.parseCard(raw, customer)
    expect(CardSchema.parse(forCustomer)).toEqual(forCustomer)
    expect(forCustomer).toMatchObject({
      id: raw.id,
      provider: 'stripe',
      owner: customer,
      brand: 'visa',
      last4: '4242',
      expMonth: 8,
      expYear: 2024,
      holderName: raw.name ?? null,
      country: 'US',
      fingerprint: raw.fingerprint,
      funding: 'credit',
      checks: { cvc: 'pass', addressLine1: null, postalCode: null },
      currency: null,
      isDefault: false,
      status: 'active',
      metadata: {},
      createdAt: null,
    })
    expect(forCustomer?.address).toEqual({
      line1: null,
      line2: null,
      city: null,
      state: null,
      postalCode: null,
      country: null,
    })
    expect(provider.parseCard(raw, account)?.owner).toEqual(account)
  })

  it('refuses a card that names no owner when none is given, saying what to pass', () => {
    // The fixture card has `customer: null`; a token's card has no owner field at all.
    for (const { raw } of cards) {
      let thrown: unknown
      try {
        provider.parseCard(raw)
      } catch (error) {
        thrown = error
      }
      expect(isCardportError(thrown, 'invalid_request')).toBe(true)
      expect((thrown as Error).message).toContain('pass its owner')
    }
  })

  it.each([
    ['bank_account', fixtures.resources.bank_account],
    ['external_account (a bank account)', fixtures.resources.external_account],
    ['deleted_external_account', fixtures.resources.deleted_external_account],
    ['deleted_payment_source', fixtures.resources.deleted_payment_source],
    ['source (ACH credit transfer)', fixtures.resources.source],
    ['customer', fixtures.resources.customer],
    ['deleted_customer', fixtures.resources.deleted_customer],
    ['account', fixtures.resources.account],
    ['token', fixtures.resources.token],
  ])('returns null for a %s', (_name, raw) => {
    expect(provider.parseCard(raw, customer)).toBeNull()
    expect(provider.parseCard(raw)).toBeNull()
  })

  it('returns null for a deleted card and for values that are no object', () => {
    const deleted = { id: 'card_1NGTaT2eZvKYlo2CZWSctn5n', object: 'card', deleted: true }
    for (const raw of [deleted, null, undefined, 42, 'card', [], {}]) {
      expect(provider.parseCard(raw, customer)).toBeNull()
    }
  })
})

describe('parseCard field by field', () => {
  it.each([
    ['Visa', 'visa'],
    ['MasterCard', 'mastercard'],
    ['Mastercard', 'mastercard'],
    ['American Express', 'amex'],
    ['Discover', 'discover'],
    ['JCB', 'jcb'],
    ['Diners Club', 'diners'],
    ['UnionPay', 'unionpay'],
    ['Unknown', 'unknown'],
    ['Cartes Bancaires', 'unknown'],
    [null, 'unknown'],
  ])('reads the brand %j as %j', (brand, expected) => {
    expect(provider.parseCard(stripeCard({ brand }), customer)?.brand).toBe(expected)
  })

  it('reads every address field, and the billing country as ISO alpha-2', () => {
    const card = provider.parseCard(
      stripeCard({
        address_line1: '510 Townsend St',
        address_line2: 'Floor 2',
        address_city: 'San Francisco',
        address_state: 'CA',
        address_zip: '94103',
        address_country: 'US',
      }),
      customer,
    )
    expect(card?.address).toEqual({
      line1: '510 Townsend St',
      line2: 'Floor 2',
      city: 'San Francisco',
      state: 'CA',
      postalCode: '94103',
      country: 'US',
    })
  })

  it.each([
    ['us', 'US'],
    ['USA', 'US'],
    ['GBR', 'GB'],
    // Stripe keeps whatever the caller sent: a name is not a code, and no code is invented.
    ['United States', null],
    ['', null],
    [null, null],
  ])('reads the billing country %j as %j', (country, expected) => {
    const card = provider.parseCard(stripeCard({ address_country: country }), customer)
    expect(card?.address.country).toBe(expected)
  })

  it('reads empty strings as null and the issuing country as alpha-2', () => {
    const card = provider.parseCard(
      stripeCard({ name: '', address_line1: '', address_zip: '', country: 'jp' }),
      customer,
    )
    expect(card).toMatchObject({
      holderName: null,
      address: { line1: null, postalCode: null },
      country: 'JP',
    })
  })

  it.each([
    ['pass', 'pass'],
    ['fail', 'fail'],
    ['unavailable', 'unavailable'],
    ['unchecked', 'unchecked'],
    [null, null],
    ['something new', null],
  ])('reads the check %j as %j for CVC, line 1 and postal code', (check, expected) => {
    const card = provider.parseCard(
      stripeCard({ cvc_check: check, address_line1_check: check, address_zip_check: check }),
      customer,
    )
    expect(card?.checks).toEqual({ cvc: expected, addressLine1: expected, postalCode: expected })
  })

  it.each([
    ['pass', 'fail', 'unavailable'],
    ['fail', 'unavailable', 'pass'],
    ['unavailable', 'pass', 'fail'],
  ])(
    'reads each check from its own field (CVC %j, line 1 %j, postal code %j)',
    (cvc, line1, zip) => {
      const card = provider.parseCard(
        stripeCard({ cvc_check: cvc, address_line1_check: line1, address_zip_check: zip }),
        customer,
      )
      expect(card?.checks).toEqual({ cvc, addressLine1: line1, postalCode: zip })
    },
  )

  it.each([
    ['credit', 'credit'],
    ['debit', 'debit'],
    ['prepaid', 'prepaid'],
    ['unknown', 'unknown'],
    [null, 'unknown'],
  ])('reads the funding %j as %j', (funding, expected) => {
    expect(provider.parseCard(stripeCard({ funding }), customer)?.funding).toBe(expected)
  })

  it('keeps string metadata and drops what Stripe never stores (empty, non-string)', () => {
    const card = provider.parseCard(
      stripeCard({ metadata: { order: '6735', empty: '', count: 3 } }),
      customer,
    )
    expect(card?.metadata).toEqual({ order: '6735' })
  })

  it('reads an external account card: currency in lower case, default_for_currency', () => {
    const raw = {
      ...fixtures.resources.card,
      customer: null,
      account: account.id,
      currency: 'USD',
      default_for_currency: true,
    }
    expect(provider.parseCard(raw)).toMatchObject({
      owner: account,
      currency: 'usd',
      isDefault: true,
    })
    expect(provider.parseCard({ ...raw, default_for_currency: false })?.isDefault).toBe(false)
  })

  it("reads a customer card's default from an expanded customer, or from the id given", () => {
    const expanded = stripeCard({
      customer: { id: customer.id, object: 'customer', default_source: fixtures.resources.card.id },
    })
    expect(provider.parseCard(expanded)).toMatchObject({ owner: customer, isDefault: true })
    const other = stripeCard({
      customer: { id: customer.id, object: 'customer', default_source: 'card_other' },
    })
    expect(provider.parseCard(other)?.isDefault).toBe(false)
    const raw = stripeCard()
    expect(toStripeCard(raw, customer, String(raw.id))?.isDefault).toBe(true)
    expect(toStripeCard(raw, customer, null)?.isDefault).toBe(false)
    // A customer card carries no currency, whatever the payload says.
    expect(provider.parseCard(stripeCard({ currency: 'usd' }), customer)?.currency).toBeNull()
  })

  it('marks a customer card whose payload cannot tell the default, and only such a card', () => {
    // `customer` as a plain id (createSource, retrieveSource, webhooks): unknown, not "not default".
    const plain = provider.parseCard(stripeCard(), customer)!
    expect(plain.isDefault).toBe(false)
    expect(isDefaultUnknown(plain)).toBe(true)
    expect(isDefaultUnknown(toStripeCard(stripeCard(), customer)!)).toBe(true)
    // Known: an expanded customer (with or without a default), the id given, an external account.
    for (const default_source of ['card_other', null]) {
      const expanded = stripeCard({
        customer: { id: customer.id, object: 'customer', default_source },
      })
      expect(isDefaultUnknown(provider.parseCard(expanded)!)).toBe(false)
    }
    expect(isDefaultUnknown(toStripeCard(stripeCard(), customer, null)!)).toBe(false)
    expect(isDefaultUnknown(toStripeCard(stripeCard(), customer, 'card_other')!)).toBe(false)
    const external = stripeCard({
      customer: null,
      account: account.id,
      default_for_currency: false,
    })
    expect(isDefaultUnknown(provider.parseCard(external)!)).toBe(false)
  })

  it('leaves the default unknown when an expanded customer does not give its default_source', () => {
    // A deleted customer's stub, or a customer expanded without its default: nothing to read.
    for (const expandedCustomer of [
      { id: customer.id, object: 'customer' },
      { id: customer.id, object: 'customer', deleted: true },
    ]) {
      const card = provider.parseCard(stripeCard({ customer: expandedCustomer }), customer)!
      expect(card.isDefault, JSON.stringify(expandedCustomer)).toBe(false)
      expect(isDefaultUnknown(card), JSON.stringify(expandedCustomer)).toBe(true)
    }
  })

  it("refuses, given an owner, a card the payload names as another owner's", () => {
    // CardSync.syncFromProviderData would store it among the given owner's cards: another
    // customer's card (or a connected account's payout card) listed as theirs.
    const payloads: Array<[Record<string, unknown>, Owner]> = [
      [stripeCard({ customer: 'cus_SomeoneElse' }), customer],
      [stripeCard({ customer: { id: 'cus_SomeoneElse', object: 'customer' } }), customer],
      [stripeCard({ customer: null, account: account.id, currency: 'usd' }), customer],
      [stripeCard(), account],
    ]
    for (const [raw, owner] of payloads) {
      let thrown: unknown
      try {
        provider.parseCard(raw, owner)
      } catch (error) {
        thrown = error
      }
      expect(isCardportError(thrown, 'invalid_request'), JSON.stringify(raw.customer)).toBe(true)
      expect((thrown as Error).message).toContain("pass the payload's own owner")
    }
    // A payload that names no owner (`customer: null`, a token's card) is the owner's given.
    const ownerless = { ...fixtures.resources.card, customer: null }
    expect(provider.parseCard(ownerless, account)?.owner).toEqual(account)
    expect(provider.parseCard(stripeCard(), customer)?.owner).toEqual(customer)
  })

  it('refuses a card payload the Card schema cannot hold, with invalid_request', () => {
    let thrown: unknown
    try {
      provider.parseCard(stripeCard({ exp_month: 13 }), customer)
    } catch (error) {
      thrown = error
    }
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
  })

  it('never holds more than the last four digits', () => {
    const card = provider.parseCard(stripeCard({ last4: '4242' }), customer) as Card
    expect(JSON.stringify(card)).not.toMatch(/\d{5,}/)
  })
})

describe('toStripeCard', () => {
  it('reads the card with the Card schema: card numbers in text come back masked', () => {
    const raw = stripeCard({
      name: 'Jenny 4242 4242 4242 4242',
      address_line1: '4242424242424242 Main St',
      address_city: '4000-0566-5566-5556',
      metadata: { note: '4242-4242-4242-4242', plain: 'pro' },
    })
    const card = toStripeCard(raw, customer)!
    expect(JSON.stringify(card)).not.toMatch(/(\d[ -]?){13,}/)
    expect(card).toMatchObject({
      holderName: 'Jenny •••• 4242',
      address: { line1: '•••• 4242 Main St', city: '•••• 5556' },
      metadata: { note: '•••• 4242', plain: 'pro' },
    })
    // As the provider reads it.
    expect(card).toEqual(provider.parseCard(raw, customer))
    expect(isDefaultUnknown(card)).toBe(true)
  })

  it('refuses, with invalid_request, a payload the Card schema cannot hold', () => {
    const broken = [
      stripeCard({ last4: 42 }),
      stripeCard({ exp_month: 0 }),
      stripeCard({ exp_year: 'soon' }),
      stripeCard({ exp_year: undefined }),
    ]
    for (const raw of broken) {
      let thrown: unknown
      try {
        toStripeCard(raw, customer)
      } catch (error) {
        thrown = error
      }
      expect(isCardportError(thrown, 'invalid_request'), JSON.stringify(raw)).toBe(true)
      expect((thrown as Error).message).toMatch(/^Invalid stripe card payload: /)
    }
  })

  it('refuses, with invalid_request as parseCard does, a payload whose getter throws, its card number masked', () => {
    const raw = stripeCard()
    Object.defineProperty(raw, 'name', {
      enumerable: true,
      get() {
        throw new TypeError('cannot read 4242 4242 4242 4242')
      },
    })
    let thrown: unknown
    try {
      toStripeCard(raw, customer)
    } catch (error) {
      thrown = error
    }
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    expect((thrown as Error).message).toBe('stripe could not read this payload as a card')
    // What the getter threw, its card number masked, as parseCard keeps it.
    expect(inspect(thrown, { depth: 10 })).toContain('cannot read •••• 4242')
    expect(inspect(thrown, { depth: 10 })).not.toMatch(/4242 4242/)
  })

  it('reads defaultSourceId given as a string, null or undefined', () => {
    const raw = stripeCard()
    const chosen = toStripeCard(raw, customer, raw.id as string)!
    expect([chosen.isDefault, isDefaultUnknown(chosen)]).toEqual([true, false])
    const other = toStripeCard(raw, customer, 'card_other')!
    expect([other.isDefault, isDefaultUnknown(other)]).toEqual([false, false])
    const none = toStripeCard(raw, customer, null)!
    expect([none.isDefault, isDefaultUnknown(none)]).toEqual([false, false])
    const unknown = toStripeCard(raw, customer, undefined)!
    expect([unknown.isDefault, isDefaultUnknown(unknown)]).toEqual([false, true])
  })

  it('refuses, with invalid_request naming the argument, a defaultSourceId that is not a string, null or undefined', () => {
    const raw = stripeCard()
    // `{ defaultSourceId }` is the shape toMarketplaceCard's options take: read as "the default
    // is known and is not this card", it would clear a stored default.
    const wrong: Array<[unknown, string]> = [
      [{ defaultSourceId: raw.id }, 'an object'],
      [{ defaultCardId: raw.id }, 'an object'],
      [['card_4242424242424242'], 'an array'],
      [4242424242424242, 'a number'],
      [true, 'a boolean'],
    ]
    for (const [given, kind] of wrong) {
      let thrown: unknown
      try {
        toStripeCard(raw, customer, given as string)
      } catch (error) {
        thrown = error
      }
      expect(isCardportError(thrown, 'invalid_request'), kind).toBe(true)
      expect((thrown as Error).message).toBe(
        `Invalid toStripeCard defaultSourceId: the third argument (defaultSourceId) must be the customer's default source id (a string), null (the customer has none) or undefined (not known), not ${kind}`,
      )
      // The value is never quoted: it may hold anything (here a card number).
      expect(inspect(thrown, { depth: 10 })).not.toMatch(/4242|card_/)
    }
    // Refused before the payload is read: not a card either way.
    expect(() => toStripeCard({ object: 'bank_account' }, customer, {} as string)).toThrow(
      /defaultSourceId/,
    )
  })
})
