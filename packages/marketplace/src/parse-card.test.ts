import { inspect } from 'node:util'
import { CardSchema, isCardportError, isDefaultUnknown } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import {
  accountListResponse,
  accountsPage,
  associateResponse,
  buyerAccount,
  emptyListResponse,
  invalidateResponse,
  retrieveResponse,
  tokenizeResponse,
  updateRequestBody,
} from './__fixtures__/reference-payloads.js'
import {
  isCardPayload,
  lastSegment,
  marketplaceCardOf,
  marketplaceCardTokenOf,
  toMarketplaceCard,
  toMarketplaceCardToken,
} from './parse-card.js'

const account = { type: 'account', id: 'AC6zdJPkzqXpIxTgvxpYse4G' } as const

describe('toMarketplaceCard on the reference payloads', () => {
  it('reads a tokenized card (Tokenize a Card response) for the owner given', () => {
    const card = toMarketplaceCard(tokenizeResponse, account)
    expect(card).toEqual({
      id: 'CC1qCvr5tiysnnoCL9Z1Xwgf',
      provider: 'marketplace',
      owner: account,
      brand: 'visa',
      last4: '1111',
      expMonth: 4,
      expYear: 2014,
      holderName: 'Benny Riemann',
      address: {
        line1: '167 West 74th Street',
        line2: null,
        city: null,
        state: null,
        postalCode: '10023',
        country: 'US',
      },
      country: null,
      fingerprint: null,
      funding: 'unknown',
      checks: { cvc: 'pass', addressLine1: null, postalCode: 'pass' },
      currency: null,
      isDefault: false,
      status: 'active',
      metadata: {},
      createdAt: '2013-06-24T19:28:01.208Z',
    })
    expect(CardSchema.safeParse(card).success).toBe(true)
  })

  it('reads a last_four that is an object as no value, rather than throwing from its toString', () => {
    // JSON can name an object's `toString` (`{"toString": 0}`): `String()` of it throws a
    // TypeError, which an application calling these mappers directly would get instead of a card
    // the Card schema refuses.
    const hostile = { ...retrieveResponse, last_four: { toString: 0 } }
    expect(marketplaceCardOf('marketplace', hostile, account)?.last4).toBe('')
    expect(marketplaceCardTokenOf('marketplace', hostile)?.last4).toBe('')
    // Which the Card schema refuses: invalid_request, naming the field.
    for (const read of [
      () => toMarketplaceCard(hostile, account),
      () => toMarketplaceCardToken(hostile),
    ]) {
      expect(read).toThrowError(
        expect.objectContaining({
          code: 'invalid_request',
          message: expect.stringContaining('last4'),
        }),
      )
    }
  })

  it('reads the retrieve payload the same way', () => {
    const card = toMarketplaceCard(retrieveResponse, account)
    expect(card?.id).toBe('CC1r5mBshGbcVTgPCob33dfV')
    expect(CardSchema.parse(card)).toEqual(card)
  })

  it("takes the owner from the card's account, and the default from customer.source_uri", () => {
    const item = accountListResponse.items[0]
    const card = toMarketplaceCard(item)
    expect(card?.owner).toEqual({ type: 'account', id: 'AC6zdJPkzqXpIxTgvxpYse4G' })
    expect(card?.id).toBe('CC6yRp58mJCIbulhcxSGauXk')
    // customer.source_uri names this very card: it is the account's chosen card.
    expect(card?.isDefault).toBe(true)
    expect(CardSchema.safeParse(card).success).toBe(true)
  })

  it('reads the associate response: owner from account, default from the customer', () => {
    const card = toMarketplaceCard(associateResponse)
    expect(card?.owner).toEqual({ type: 'account', id: 'AC5eJN3HJIMGOLlhGFZLmbrN' })
    expect(card?.isDefault).toBe(true)
  })

  it('a card that customer.source_uri does not name is not the default', () => {
    const other = {
      ...associateResponse,
      customer: { ...associateResponse.customer, source_uri: '/v1/customers/AC5/cards/CCother' },
    }
    expect(toMarketplaceCard(other)?.isDefault).toBe(false)
  })

  it('a payload without its customer cannot tell the default: not it, marked as unknown', () => {
    // The tokenize answer embeds no customer; an associated card may come without one too.
    const { customer: _customer, ...withoutCustomer } = associateResponse
    const noSourceUri = { ...associateResponse, customer: { id: 'AC5eJN3HJIMGOLlhGFZLmbrN' } }
    for (const raw of [
      tokenizeResponse,
      withoutCustomer,
      { ...associateResponse, customer: null },
      noSourceUri,
    ]) {
      const card = toMarketplaceCard(raw, account)
      expect(card?.isDefault).toBe(false)
      expect(isDefaultUnknown(card!)).toBe(true)
    }
    // A customer that names a card, or none (source_uri null), tells: no mark.
    expect(isDefaultUnknown(toMarketplaceCard(associateResponse)!)).toBe(false)
    const none = {
      ...associateResponse,
      customer: { ...associateResponse.customer, source_uri: null },
    }
    expect(toMarketplaceCard(none)?.isDefault).toBe(false)
    expect(isDefaultUnknown(toMarketplaceCard(none)!)).toBe(false)
    // A defaultCardId given tells.
    const told = toMarketplaceCard(tokenizeResponse, account, { defaultCardId: null })
    expect(isDefaultUnknown(told!)).toBe(false)
  })

  it('defaultCardId, when given, decides over the embedded customer', () => {
    const item = accountListResponse.items[0]
    expect(
      toMarketplaceCard(item, undefined, { defaultCardId: 'CCsomethingElse' })?.isDefault,
    ).toBe(false)
    expect(
      toMarketplaceCard(tokenizeResponse, account, { defaultCardId: tokenizeResponse.id })
        ?.isDefault,
    ).toBe(true)
  })

  it('refuses an option it does not know, or a defaultCardId that is no id, with invalid_request', () => {
    const thrown = (read: () => unknown) => {
      try {
        read()
      } catch (error) {
        return error
      }
      return undefined
    }
    const refused: Array<[() => unknown, string]> = [
      [
        () => toMarketplaceCard(tokenizeResponse, account, { default_card_id: 'CC1' } as never),
        'Invalid toMarketplaceCard options: unknown option "default_card_id" (did you mean defaultCardId?): the options are defaultCardId',
      ],
      [
        () => toMarketplaceCard(tokenizeResponse, account, { defaultSourceId: 'CC1' } as never),
        'Invalid toMarketplaceCard options: unknown option "defaultSourceId": the options are defaultCardId',
      ],
      [
        () => toMarketplaceCardToken(tokenizeResponse, { default_card_id: 'CC1' } as never),
        'Invalid toMarketplaceCardToken options: unknown option "default_card_id" (did you mean defaultCardId?): the options are defaultCardId',
      ],
      // Not even a card: the options are refused all the same.
      [
        () => toMarketplaceCard(accountsPage, account, { defaultcardid: 'CC1' } as never),
        'Invalid toMarketplaceCard options: unknown option "defaultcardid" (did you mean defaultCardId?): the options are defaultCardId',
      ],
    ]
    for (const [read, message] of refused) {
      const error = thrown(read)
      expect(isCardportError(error, 'invalid_request'), message).toBe(true)
      expect((error as Error).message).toBe(message)
    }
    // The id as the options (toStripeCard's shape), or an id that is not a string.
    for (const options of ['CC1', { defaultCardId: 42 }]) {
      const error = thrown(() => toMarketplaceCard(tokenizeResponse, account, options as never))
      expect(isCardportError(error, 'invalid_request'), JSON.stringify(options)).toBe(true)
      expect((error as Error).message).toMatch(/^Invalid toMarketplaceCard options: /)
    }
    // What it does take, written out or left out.
    expect(toMarketplaceCard(tokenizeResponse, account, { defaultCardId: undefined })).toEqual(
      toMarketplaceCard(tokenizeResponse, account),
    )
  })

  it('reads an invalidated card as status invalid, with its meta as metadata', () => {
    const card = toMarketplaceCard(invalidateResponse, account)
    expect(card?.status).toBe('invalid')
    expect(card?.metadata).toEqual({ 'my-own-field': 'Customer request' })
  })

  it.each([
    ['2026-01-02T03:04:05.000Z', '2026-01-02T03:04:05.000Z'],
    ['2026-01-02T03:04:05Z', '2026-01-02T03:04:05.000Z'],
    ['2026-01-02T05:04:05.000+02:00', '2026-01-02T03:04:05.000Z'],
    ['2026-02-30T00:00:00.000Z', '2026-03-02T00:00:00.000Z'], // rolled over, as Date reads it
    ['2026-01-01T24:00:00.000Z', '2026-01-02T00:00:00.000Z'],
    ['not a date', null],
    // Read, these fall outside the years 0000-9999, which no Card's createdAt holds: the card
    // is read without its time rather than refused whole.
    ['0000-01-01T00:00:00+02:00', null],
    ['9999-12-31T23:00:00-05:30', null],
  ])('reads created_at %s as %s', (createdAt, expected) => {
    const card = toMarketplaceCard({ ...updateRequestBody, created_at: createdAt }, account)
    expect(card?.createdAt).toBe(expected)
  })

  it('reads created_at as Date reads it, written by toISOString, for every edge of every field', () => {
    // The short path for what the API answers must give what Date and toISOString give.
    const asDateReadsIt = (raw: string) => {
      const date = new Date(raw.replace(/([+-]\d{2}:\d{2})Z$/, '$1'))
      // A year outside 0000-9999 is written with a sign, which no Card holds: no time.
      return Number.isNaN(date.getTime()) || !/^\d{4}-/.test(date.toISOString())
        ? null
        : date.toISOString()
    }
    const edges = {
      year: ['0000', '0050', '1900', '1969', '2000', '2024', '2025', '9999'],
      month: ['00', '01', '02', '12', '13'],
      day: ['00', '01', '28', '29', '30', '31', '32'],
      hour: ['00', '23', '24', '25'],
      minute: ['00', '59', '60'],
      second: ['00', '59', '60'],
      fraction: ['', '.9', '.123', '.999999', '.000001', '.123456789'],
      zone: ['Z', '+02:00', '+00:00Z', '-05:30Z', ''],
    }
    let checked = 0
    const differing: string[] = []
    for (const year of edges.year)
      for (const month of edges.month)
        for (const day of edges.day)
          for (const hour of edges.hour)
            for (const minute of edges.minute)
              for (const second of edges.second)
                for (const fraction of edges.fraction)
                  for (const zone of edges.zone) {
                    const raw = `${year}-${month}-${day}T${hour}:${minute}:${second}${fraction}${zone}`
                    // Through the Card schema: every time read is one a Card holds.
                    const card = toMarketplaceCard(
                      { ...updateRequestBody, created_at: raw },
                      account,
                    )
                    if (card?.createdAt !== asDateReadsIt(raw)) differing.push(raw)
                    checked++
                  }
    expect(differing).toEqual([])
    expect(checked).toBe(302_400)
  })

  it('reads is_valid "False" and a "+00:00Z" timestamp (the update request body)', () => {
    const card = toMarketplaceCard(updateRequestBody, account)
    expect(card?.status).toBe('invalid')
    expect(card?.createdAt).toBe('2013-06-24T21:33:36.296Z')
    // Without `uri`, the id comes from `id`.
    expect(card?.id).toBe('CC5Fp7HQtnealHtJW56eB51Z')
  })

  it('reads is_valid true, "True", or no is_valid at all as status active: only false is invalid', () => {
    for (const isValid of [true, 'True', 'true']) {
      expect(toMarketplaceCard({ ...retrieveResponse, is_valid: isValid }, account)?.status).toBe(
        'active',
      )
    }
    const { is_valid: _, ...withoutFlag } = retrieveResponse
    expect(toMarketplaceCard(withoutFlag, account)?.status).toBe('active')
  })

  it('refuses to invent an owner for a card no account holds', () => {
    expect(() => toMarketplaceCard(tokenizeResponse)).toThrowError(
      expect.objectContaining({ code: 'invalid_request' }),
    )
    expect(toMarketplaceCardToken(tokenizeResponse)?.owner).toBeNull()
  })
})

describe('toMarketplaceCard field rules', () => {
  const base = { ...tokenizeResponse, account: { id: 'AC1' } }

  it('reads expiration strings as numbers (the fields are documented as strings)', () => {
    const card = toMarketplaceCard({ ...base, expiration_month: '09', expiration_year: '2031' })
    expect(card).toMatchObject({ expMonth: 9, expYear: 2031 })
  })

  it.each([
    ['American Express', 'amex'],
    ['MasterCard', 'mastercard'],
    ['Discover', 'discover'],
    ['Visa', 'visa'],
  ])('brand %s is %s', (brand, expected) => {
    expect(toMarketplaceCard({ ...base, brand })?.brand).toBe(expected)
  })

  it('falls back to the deprecated card_type when brand is missing', () => {
    const { brand: _brand, ...withoutBrand } = base
    expect(toMarketplaceCard({ ...withoutBrand, card_type: 'amex' })?.brand).toBe('amex')
  })

  it.each([
    ['passed', 'pass'],
    ['failed', 'fail'],
    ['unknown', 'unavailable'],
    ['true', 'pass'],
    ['false', 'fail'],
    [undefined, null],
  ])('check %s is %s', (value, expected) => {
    const card = toMarketplaceCard({
      ...base,
      security_code_check: value,
      postal_code_check: value,
    })
    expect(card?.checks).toEqual({ cvc: expected, addressLine1: null, postalCode: expected })
  })

  // Each check read from its own field: with the values told apart, one read for another shows.
  it.each([
    ['passed', 'failed', { cvc: 'pass', addressLine1: null, postalCode: 'fail' }],
    ['failed', 'passed', { cvc: 'fail', addressLine1: null, postalCode: 'pass' }],
    ['unknown', undefined, { cvc: 'unavailable', addressLine1: null, postalCode: null }],
    [undefined, 'unknown', { cvc: null, addressLine1: null, postalCode: 'unavailable' }],
  ])('security_code_check %s and postal_code_check %s are read apart', (cvc, postal, checks) => {
    const card = toMarketplaceCard({
      ...base,
      security_code_check: cvc,
      postal_code_check: postal,
    })
    expect(card?.checks).toEqual(checks)
  })

  it('converts alpha-3 countries to alpha-2 and drops codes that are not ISO', () => {
    expect(toMarketplaceCard({ ...base, country_code: 'GBR' })?.address.country).toBe('GB')
    expect(toMarketplaceCard({ ...base, country_code: 'XYZ' })?.address.country).toBeNull()
  })

  it('reads region (or the deprecated state) as the address state', () => {
    expect(toMarketplaceCard({ ...base, region: 'NY' })?.address.state).toBe('NY')
    expect(toMarketplaceCard({ ...base, state: 'CA' })?.address.state).toBe('CA')
  })

  it('keeps only non-empty string meta values', () => {
    const card = toMarketplaceCard({ ...base, meta: { a: '1', b: '', c: 3, d: { e: 'f' } } })
    expect(card?.metadata).toEqual({ a: '1' })
  })

  it('takes the id from the uri when id is missing, and the account from account_uri', () => {
    const { id: _id, account: _account, ...rest } = base
    const card = toMarketplaceCard({
      ...rest,
      account_uri: '/v1/marketplaces/MP1/accounts/AC77',
    })
    expect(card?.id).toBe('CC1qCvr5tiysnnoCL9Z1Xwgf')
    expect(card?.owner).toEqual({ type: 'account', id: 'AC77' })
  })

  it('never holds a card number, whatever the payload carries', () => {
    const card = toMarketplaceCard({
      ...base,
      card_number: '4111111111111111',
      security_code: '323',
    })
    expect(JSON.stringify(card)).not.toContain('4111111111111111')
    expect(JSON.stringify(card)).not.toContain('323')
  })
})

describe('toMarketplaceCard and toMarketplaceCardToken read the card with the Card schema', () => {
  it('refuse, with invalid_request as parseCard does, a payload whose getter throws, its card number masked', () => {
    const raw = { ...tokenizeResponse }
    Object.defineProperty(raw, 'name', {
      enumerable: true,
      get() {
        throw new TypeError('card 4111111111111111')
      },
    })
    for (const read of [() => toMarketplaceCard(raw, account), () => toMarketplaceCardToken(raw)]) {
      let thrown: unknown
      try {
        read()
      } catch (error) {
        thrown = error
      }
      expect(isCardportError(thrown, 'invalid_request')).toBe(true)
      expect((thrown as Error).message).toBe('marketplace could not read this payload as a card')
      expect(inspect(thrown, { depth: 10 })).toContain('card •••• 1111')
      expect(inspect(thrown, { depth: 10 })).not.toContain('4111111111111111')
    }
  })

  // A payload whose texts hold a card number, as a holder name typed in the wrong field would.
  const leaky = {
    ...tokenizeResponse,
    name: '4111 1111 1111 1111',
    street_address: '4111111111111111',
    meta: { note: '4111111111111111', plan: 'pro' },
  }

  it('masks a card number in the holder name, the address and a meta value', () => {
    const owned = toMarketplaceCard(leaky, account)
    const token = toMarketplaceCardToken(leaky)
    for (const card of [owned, token]) {
      expect(card).toMatchObject({
        holderName: '•••• 1111',
        address: { line1: '•••• 1111' },
        metadata: { note: '•••• 1111', plan: 'pro' },
      })
      expect(JSON.stringify(card)).not.toMatch(/4111[ -]?1111[ -]?1111[ -]?1111/)
    }
    expect(token?.owner).toBeNull()
    expect(CardSchema.parse(owned)).toEqual(owned)
  })

  it.each([
    ['an expiration_month that is no number', { expiration_month: 'April' }, 'expMonth'],
    ['an expiration_month past 12', { expiration_month: '13' }, 'expMonth'],
    ['a last_four of five digits', { last_four: '11111' }, 'last4'],
  ])('refuses %s: invalid_request naming the field, never NaN', (_, fields, field) => {
    const raw = { ...tokenizeResponse, ...fields }
    for (const read of [() => toMarketplaceCard(raw, account), () => toMarketplaceCardToken(raw)]) {
      expect(read).toThrowError(
        expect.objectContaining({
          code: 'invalid_request',
          message: expect.stringContaining(field),
        }),
      )
    }
  })

  it('keeps the mark of a payload that cannot tell the default', () => {
    expect(isDefaultUnknown(toMarketplaceCard(tokenizeResponse, account)!)).toBe(true)
  })
})

describe('non-cards', () => {
  it.each([
    ['an account', buyerAccount],
    ['a page of cards', emptyListResponse],
    ['a page of accounts', accountsPage],
    [
      'a bank account',
      { _type: 'bank_account', id: 'BA1', last_four: '6789', account: { id: 'AC1' } },
    ],
    ['null', null],
    ['a string', 'card'],
    ['an array', [tokenizeResponse]],
    ['an empty object', {}],
  ])('%s is not a card', (_name, payload) => {
    expect(isCardPayload(payload)).toBe(false)
    expect(toMarketplaceCard(payload, account)).toBeNull()
    expect(toMarketplaceCardToken(payload)).toBeNull()
  })

  it('a card payload without _type is still a card', () => {
    const { _type: _ignored, ...untyped } = tokenizeResponse
    expect(isCardPayload(untyped)).toBe(true)
  })
})

describe('lastSegment', () => {
  it.each([
    ['/v1/marketplaces/MP/cards/CC1', 'CC1'],
    ['/v1/marketplaces/MP/cards/CC1/', 'CC1'],
    ['/v1/x/cards?limit=2', 'cards'],
    ['CC9', 'CC9'],
    ['/v1/x/CC2//?q=/a', 'CC2'],
    ['/', null],
    ['?q', null],
    ['', null],
    [null, null],
  ])('%s → %s', (uri, expected) => {
    expect(lastSegment(uri)).toBe(expected)
  })
})
