import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { sampleCard } from './__fixtures__/sample-card.js'
import { marketplaceSeedCards, stripeSeedCards } from './__fixtures__/seed-cards.js'
import { normalizeBrand } from './brand.js'
import {
  type Card,
  CardIdInputSchema,
  CardSchema,
  compiledCardSchema,
  EMPTY_ADDRESS,
  formatOwner,
  IdempotencyKeySchema,
  isDefaultUnknown,
  markDefaultUnknown,
  OwnerInputSchema,
  OwnerSchema,
  ProviderNameSchema,
  sameOwner,
} from './card.js'
import { toCountryAlpha2 } from './country.js'
import { validate } from './validate.js'

/**
 * Card ids holding a card number that stands apart (after a prefix's `_`, amid other text, in
 * full-width digits): stored, the number would be a key of the store and of its tombstones.
 */
const NUMBER_IN_IDS = [
  'card_x 4242 4242 4242 4242',
  'card_4242424242424242',
  'card_4242-4242-4242-4242',
  ' ４２４２４２４２４２４２４２４２ :',
  'card_４２４２４２４２４２４２４２４２',
  'id:4242424242424242/x',
  // The first or the last group glued to a letter: joined to the others, it is no random id's.
  'card_x4242 4242 4242 4242',
  'card_4242-4242-4242-4242x',
  // A 13-digit Visa, the shortest card number: the check is skipped only below 13 digits.
  'card_4222222222222',
]

/**
 * A length no id or key comes near, in characters: a check whose time grew with the square of the
 * length took minutes over it, a check in proportion to it takes milliseconds.
 */
const LONG = 200_000

/** The 62 characters of a Stripe id's random part. */
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

describe('CardSchema on the seed cards', () => {
  it('has every example card of the seeds and cards.rst', () => {
    expect(stripeSeedCards.map((seed) => seed.raw.id)).toEqual([
      'card_1NGTaT2eZvKYlo2CZWSctn5n',
      'card_1NBLeN2eZvKYlo2CIq1o7Pzs',
      'card_1MvoiELkdIwHu7ixOeFGbN9D',
      'card_1MvoiELkdIwHu7ixOeFGbN9D',
      'card_1NAiaG2eZvKYlo2CDXvcMb6m',
      'card_1NBLeN2eZvKYlo2CIq1o7Pzs',
      'card_1NAinb2eZvKYlo2C1Fm9mZsu',
      'card_1NAz2x2eZvKYlo2C75wJ1YUs',
    ])
    expect(marketplaceSeedCards.map((seed) => seed.raw.id)).toEqual([
      'CC6yRp58mJCIbulhcxSGauXk',
      'CC5HM8orI8cTnj6dEdbXMoKP',
      'CC1qCvr5tiysnnoCL9Z1Xwgf',
      'CC1r5mBshGbcVTgPCob33dfV',
      'CC5G2Twslgw2EGzt9SdyIj1t',
      'CC6yRp58mJCIbulhcxSGauXk',
    ])
  })

  it.each([...stripeSeedCards, ...marketplaceSeedCards].map((seed) => [seed.name, seed] as const))(
    'accepts the normalized card of %s unchanged',
    (_name, seed) => {
      expect(CardSchema.parse(seed.normalized)).toEqual(seed.normalized)
      expect(seed.normalized.owner).toEqual(seed.owner)
    },
  )
})

describe('the Stripe seed cards follow the DESIGN.md table', () => {
  it.each(stripeSeedCards.map((seed) => [seed.name, seed] as const))('%s', (_name, seed) => {
    const { raw, normalized } = seed
    expect(normalized.provider).toBe('stripe')
    expect(normalized.id).toBe(raw.id)
    // The owner is the payload's customer, or else its account.
    if (typeof raw.customer === 'string') {
      expect(normalized.owner).toEqual({ type: 'customer', id: raw.customer })
    } else {
      expect(normalized.owner).toEqual({ type: 'account', id: raw.account })
    }
    expect(normalized.brand).toBe(normalizeBrand(raw.brand as string))
    expect(normalized.last4).toBe(raw.last4)
    expect([normalized.expMonth, normalized.expYear]).toEqual([raw.exp_month, raw.exp_year])
    expect(normalized.holderName).toBe(raw.name)
    expect(normalized.country).toBe(toCountryAlpha2(raw.country as string))
    expect(normalized.fingerprint).toBe(raw.fingerprint)
    expect(normalized.funding).toBe(raw.funding)
    expect(normalized.checks).toEqual({
      cvc: raw.cvc_check,
      addressLine1: raw.address_line1_check,
      postalCode: raw.address_zip_check,
    })
    expect(normalized.address).toEqual(EMPTY_ADDRESS)
    expect(normalized.metadata).toEqual(raw.metadata)
    expect(normalized.status).toBe('active')
    expect(normalized.createdAt).toBeNull()
    expect(normalized.currency).toBeNull()
  })

  it('reads "Visa", "US", "pass" and a null cvc_check as visa, US, pass and null', () => {
    const [created, , retrieved] = stripeSeedCards
    expect(created?.normalized).toMatchObject({
      brand: 'visa',
      country: 'US',
      checks: { cvc: 'pass', addressLine1: null, postalCode: null },
      owner: { type: 'customer', id: 'cus_9s6XGDTHzA66Po' },
    })
    expect(retrieved?.normalized.checks.cvc).toBeNull()
  })

  it('keeps metadata and the holder name of the updated external account card', () => {
    const updated = stripeSeedCards[5]?.normalized
    expect(updated?.metadata).toEqual({ order_id: '6735' })
    expect(updated?.holderName).toBe('Jenny Rosen')
    expect(updated?.owner).toEqual({ type: 'account', id: 'acct_1032D82eZvKYlo2C' })
  })
})

describe('the marketplace seed cards follow the DESIGN.md table', () => {
  it.each(marketplaceSeedCards.map((seed) => [seed.name, seed] as const))('%s', (_name, seed) => {
    const { raw, normalized } = seed
    expect(normalized.provider).toBe('marketplace')
    expect(normalized.id).toBe(raw.id)
    const account = raw.account as { id?: string } | null
    if (account) expect(normalized.owner).toEqual({ type: 'account', id: account.id })
    // brand wins; the deprecated card_type agrees with it.
    expect(normalized.brand).toBe(normalizeBrand(raw.brand as string))
    expect(normalized.brand).toBe(normalizeBrand(raw.card_type as string))
    expect(normalized.last4).toBe(raw.last_four)
    expect(normalized.expMonth).toBe(Number(raw.expiration_month))
    expect(normalized.expYear).toBe(Number(raw.expiration_year))
    expect(normalized.holderName).toBe(raw.name)
    expect(normalized.address).toEqual({
      line1: raw.street_address,
      line2: null,
      city: null,
      state: null,
      postalCode: raw.postal_code,
      country: toCountryAlpha2(raw.country_code as string),
    })
    expect(normalized.address.country).toBe('US')
    expect([normalized.country, normalized.fingerprint, normalized.funding]).toEqual([
      null,
      null,
      'unknown',
    ])
    expect(normalized.checks.cvc).toBe(checkOf(raw.security_code_check))
    expect(normalized.checks.postalCode).toBe(checkOf(raw.postal_code_check))
    expect(normalized.checks.addressLine1).toBeNull()
    expect(normalized.currency).toBeNull()
    expect(normalized.status).toBe(raw.is_valid === true ? 'active' : 'invalid')
    expect(normalized.metadata).toEqual(raw.meta)
    expect(normalized.createdAt).toBe(raw.created_at)
  })

  it('reads the invalidated card as invalid, with its meta', () => {
    const invalidated = marketplaceSeedCards[4]?.normalized
    expect(invalidated?.status).toBe('invalid')
    expect(invalidated?.metadata).toEqual({ 'my-own-field': 'Customer request' })
  })

  it('reads the documented string expiry and "passed"/"failed" checks', () => {
    const typed = marketplaceSeedCards[5]
    expect(typed?.raw).toMatchObject({
      expiration_month: '04',
      expiration_year: '2014',
      security_code_check: 'passed',
      postal_code_check: 'failed',
    })
    expect(typed?.normalized).toMatchObject({
      expMonth: 4,
      expYear: 2014,
      checks: { cvc: 'pass', postalCode: 'fail' },
    })
  })
})

describe('CardSchema rejects malformed cards and names the field', () => {
  const base = stripeSeedCards[0]!.normalized
  const { owner: _owner, ...withoutOwner } = base

  it.each([
    ['last4 of two digits', { ...base, last4: '42' }, 'last4', 'last4 is exactly four digits'],
    ['last4 of five digits', { ...base, last4: '42424' }, 'last4', 'last4 is exactly four digits'],
    ['last4 after a letter', { ...base, last4: 'x4242' }, 'last4', 'last4 is exactly four digits'],
    ['expMonth 13', { ...base, expMonth: 13 }, 'expMonth', 'Too big: expected number to be <=12'],
    ['expMonth 0', { ...base, expMonth: 0 }, 'expMonth', 'Too small: expected number to be >=1'],
    [
      'expMonth 1.5',
      { ...base, expMonth: 1.5 },
      'expMonth',
      'Invalid input: expected int, received number',
    ],
    [
      'expYear 1969',
      { ...base, expYear: 1969 },
      'expYear',
      'Too small: expected number to be >=1970',
    ],
    [
      'expYear 10000',
      { ...base, expYear: 10000 },
      'expYear',
      'Too big: expected number to be <=9999',
    ],
    [
      'provider ""',
      { ...base, provider: '' },
      'provider',
      'Too small: expected string to have >=1 characters',
    ],
    ['brand "Visa"', { ...base, brand: 'Visa' }, 'brand', 'Invalid option: expected one of'],
    [
      'country "USA"',
      { ...base, country: 'USA' },
      'country',
      'a country is an ISO 3166-1 alpha-2 code such as "US"',
    ],
    [
      'address.country "USA"',
      { ...base, address: { ...base.address, country: 'USA' } },
      'address.country',
      'a country is an ISO 3166-1 alpha-2 code such as "US"',
    ],
    [
      'country "us"',
      { ...base, country: 'us' },
      'country',
      'a country is an ISO 3166-1 alpha-2 code such as "US"',
    ],
    [
      'address.country "us"',
      { ...base, address: { ...base.address, country: 'us' } },
      'address.country',
      'a country is an ISO 3166-1 alpha-2 code such as "US"',
    ],
    [
      'an empty address line (null says there is none)',
      { ...base, address: { ...base.address, line1: '' } },
      'address.line1',
      'Too small: expected string to have >=1 characters',
    ],
    [
      'a metadata value that is not a string',
      { ...base, metadata: { plan: 3 } },
      'metadata.plan',
      'a metadata value is a string',
    ],
    [
      'a missing owner',
      withoutOwner,
      'owner',
      'Invalid input: expected object, received undefined',
    ],
    [
      'an owner of an unknown type',
      { ...base, owner: { type: 'merchant', id: 'm_1' } },
      'owner.type',
      'Invalid option: expected one of "customer"|"account"',
    ],
    [
      'a createdAt that is not ISO 8601',
      { ...base, createdAt: '24/06/2013' },
      'createdAt',
      'Invalid ISO datetime',
    ],
    [
      'an upper-case currency',
      { ...base, owner: { type: 'account', id: 'acct_1' }, currency: 'USD' },
      'currency',
      'a currency is a lower-case ISO 4217 code such as "usd"',
    ],
    [
      'a currency of four letters',
      { ...base, owner: { type: 'account', id: 'acct_1' }, currency: 'usdd' },
      'currency',
      'a currency is a lower-case ISO 4217 code such as "usd"',
    ],
    [
      "a customer's card with a currency (a second default per currency in a store)",
      { ...base, owner: { type: 'customer', id: 'cus_1' }, currency: 'usd' },
      'currency',
      "only an account's card (an external account) has a currency; a customer's has none",
    ],
    [
      'an owner id with an unpaired surrogate',
      { ...base, owner: { type: 'customer', id: 'cus_\uD800' } },
      'owner.id',
      'an owner id cannot hold a NUL character or an unpaired surrogate',
    ],
    [
      'a card id with a NUL character',
      { ...base, id: 'card_\u0000' },
      'id',
      'a card id cannot hold a NUL character or an unpaired surrogate',
    ],
    [
      'a card id "..", which a URL reads as a step up its path',
      { ...base, id: '..' },
      'id',
      'a card id cannot be "." or "..", which a URL reads as a step along its path',
    ],
    [
      'an owner id "."',
      { ...base, owner: { type: 'customer', id: '.' } },
      'owner.id',
      'an owner id cannot be "." or "..", which a URL reads as a step along its path',
    ],
  ])('refuses %s', (_label, input, path, words) => {
    const result = CardSchema.safeParse(input)
    expect(result.success).toBe(false)
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual([path])

    const message = invalidRequestMessage(input)
    expect(message.startsWith('Invalid card: ')).toBe(true)
    expect(message).toContain(`${path}: ${words}`)
  })

  it('takes the edges of each range: expMonth 1 and 12, expYear 1970 and 9999', () => {
    for (const edges of [
      { expMonth: 1, expYear: 1970 },
      { expMonth: 12, expYear: 9999 },
    ]) {
      expect(CardSchema.safeParse({ ...base, ...edges }).success, JSON.stringify(edges)).toBe(true)
    }
  })

  it('lists every bad field of one card', () => {
    const result = CardSchema.safeParse({ ...base, last4: '42', expMonth: 13, brand: 'Visa' })
    expect(result.error?.issues.map((issue) => issue.path.join('.')).sort()).toEqual([
      'brand',
      'expMonth',
      'last4',
    ])
  })

  it('refuses what is not an object', () => {
    expect(CardSchema.safeParse(null).success).toBe(false)
    expect(CardSchema.safeParse('card_123').success).toBe(false)
  })
})

describe('owners', () => {
  it('compares owners by type and id', () => {
    expect(sameOwner({ type: 'customer', id: 'a' }, { type: 'customer', id: 'a' })).toBe(true)
    expect(sameOwner({ type: 'customer', id: 'a' }, { type: 'account', id: 'a' })).toBe(false)
    expect(sameOwner({ type: 'customer', id: 'a' }, { type: 'customer', id: 'b' })).toBe(false)
  })

  it('formats an owner for logs', () => {
    expect(formatOwner({ type: 'account', id: 'acct_1' })).toBe('account:acct_1')
  })
})

function checkOf(value: unknown): Card['checks']['cvc'] {
  if (value === 'true' || value === 'passed') return 'pass'
  if (value === 'false' || value === 'failed') return 'fail'
  return null
}

function invalidRequestMessage(input: unknown): string {
  try {
    validate(CardSchema, input, 'card')
  } catch (error) {
    expect(error).toMatchObject({ code: 'invalid_request' })
    return (error as Error).message
  }
  throw new Error('validate accepted a malformed card')
}

describe('CardSchema masks a card number a provider put in free text', () => {
  const base = stripeSeedCards[0]!.normalized

  it('masks the holder name, the address lines and metadata values, and nothing else', () => {
    const card = CardSchema.parse({
      ...base,
      holderName: 'Jenny 4242 4242 4242 4242',
      address: { ...base.address, line1: '4000-0566-5566-5556', city: 'Paris 75001' },
      metadata: { note: 'paid with 378282246310005', order: '1234-5678' },
    })
    expect(card.holderName).toBe('Jenny •••• 4242')
    expect(card.address).toMatchObject({ line1: '•••• 5556', city: 'Paris 75001' })
    expect(card.metadata).toEqual({ note: 'paid with •••• 0005', order: '1234-5678' })
    expect(JSON.stringify(card)).not.toMatch(/4242 4242|5566-5556|378282246310005/)
  })

  it('masks a number written in full-width or Arabic-Indic digits', () => {
    const card = CardSchema.parse({
      ...base,
      holderName: '山田 ４２４２ ４２４２ ４２４２ ４２４２',
      metadata: { note: '٤٠٠٠٠٥٦٦٥٥٦٦٥٥٥٦' },
    })
    expect(card.holderName).toBe('山田 •••• 4242')
    expect(card.metadata).toEqual({ note: '•••• 5556' })
  })

  it('leaves free text without a card number as it is', () => {
    expect(CardSchema.parse(base)).toEqual(base)
  })
})

describe('CardSchema refuses a card number as an id, a fingerprint or an owner id', () => {
  const base = stripeSeedCards[0]!.normalized

  it.each([
    ['id', '4242424242424242'],
    ['id', '4242 4242 4242 4242'],
    ['fingerprint', '4000-0566-5566-5556'],
  ])('refuses %s %s, naming the field and not the number', (field, value) => {
    for (const schema of [CardSchema, compiledCardSchema()]) {
      const result = schema.safeParse({ ...base, [field]: value })
      expect(result.success).toBe(false)
      expect(result.error?.issues.map((issue) => issue.path)).toEqual([[field]])
      expect(JSON.stringify(result.error?.issues)).not.toMatch(/4242|5556/)
    }
  })

  it.each(NUMBER_IN_IDS)('refuses the id %j, a card number standing apart in it', (id) => {
    for (const schema of [CardSchema, compiledCardSchema()]) {
      const result = schema.safeParse({ ...base, id })
      expect(result.success).toBe(false)
      expect(result.error?.issues).toEqual([
        expect.objectContaining({ path: ['id'], message: 'a card id cannot be a card number' }),
      ])
      expect(JSON.stringify(result.error?.issues)).not.toMatch(/4242|４２４２/)
    }
  })

  it.each(['4242424242424242', '5555-5555-5555-4444', ' 378282246310005 '])(
    'refuses an owner id %s, naming owner.id and not the number',
    (id) => {
      for (const schema of [CardSchema, compiledCardSchema()]) {
        for (const type of ['customer', 'account'] as const) {
          // An account's card, so that the currency rule has nothing to say of it.
          const result = schema.safeParse({ ...base, owner: { type, id }, currency: null })
          expect(result.success).toBe(false)
          expect(result.error?.issues).toEqual([
            expect.objectContaining({
              path: ['owner', 'id'],
              message: 'an owner id cannot be a card number',
            }),
          ])
          expect(JSON.stringify(result.error?.issues)).not.toMatch(/4242|4444|0005/)
        }
      }
    },
  )

  it.each([
    ['id', 'card_1MvoXJ24242424242424242'],
    ['id', '123e4567-e89b-12d3-a456-426614174000'],
    ['fingerprint', 'Xt5EWLLDS7FJjR1c'],
  ])('keeps %s %s: no card number standing apart in it', (field, value) => {
    expect(compiledCardSchema().parse({ ...base, [field]: value })).toMatchObject({
      [field]: value,
    })
  })

  it.each(['cus_4242424242424242', 'AC4242424242424242', '123456789012'])(
    'keeps an owner id %s: only a text of digit groups alone is a card number',
    (id) => {
      const owner = { type: 'customer', id }
      expect(compiledCardSchema().parse({ ...base, owner })).toMatchObject({ owner })
    },
  )
})

describe('CardIdInputSchema: a card id a caller gives', () => {
  it('refuses a card number typed as the id, however it is grouped', () => {
    for (const id of [
      '4242424242424242',
      '4242 4242 4242 4242',
      '5555-5555-5555-4444',
      ' 378282246310005 ',
      '6011\u00a01111\u00a01111\u00a01117',
    ]) {
      const result = CardIdInputSchema.safeParse(id)
      expect(result.success, id).toBe(false)
      expect(result.error?.issues.map((issue) => issue.message)).toEqual([
        'a card id cannot be a card number: pass the id the provider gave the card',
      ])
    }
  })

  it('takes the ids providers give, whatever digits they hold', () => {
    const hex = fc.string({
      unit: fc.constantFrom(...'0123456789abcdef'),
      minLength: 24,
      maxLength: 24,
    })
    fc.assert(
      fc.property(
        fc.oneof(
          hex.map((digits) => `card_${digits}`),
          fc.uuid(),
          fc.stringMatching(/^CC[0-9]{13,19}$/),
          // Numbers that are no card: 12 digits, or more than 19 in one group.
          fc.stringMatching(/^[0-9]{1,12}$|^[0-9]{20,30}$/),
        ),
        (id) => {
          expect(CardIdInputSchema.safeParse(id).success).toBe(true)
        },
      ),
    )
    expect(CardIdInputSchema.safeParse('4242424242424241').success).toBe(true)
  })

  it('refuses a card number standing apart in the id, after a prefix or amid other text', () => {
    for (const id of NUMBER_IN_IDS) {
      const result = CardIdInputSchema.safeParse(id)
      expect(result.success, id).toBe(false)
      expect(result.error?.issues.map((issue) => issue.message)).toEqual([
        'a card id cannot be a card number: pass the id the provider gave the card',
      ])
    }
  })

  it('refuses a number whose first or last group touches a letter, in any separator', () => {
    for (const id of [
      'card_x4242 4242 4242 4242',
      'card_4242-4242-4242-4242x',
      'card_x4242\u00a04242\u00a04242\u00a04242',
      'card_x4242%204242%204242%204242',
      'card_4242ー4242ー4242ー4242',
      'card_a5555 5555 5555 4444b',
    ]) {
      expect(CardIdInputSchema.safeParse(id).success, id).toBe(false)
    }
  })

  // Each digit of a run with no letter after it started a search that read the rest of the run:
  // 100,000 digits in a request's path blocked the event loop for 20 s.
  it('reads an id of any length in one pass', () => {
    expect(CardIdInputSchema.safeParse('7'.repeat(LONG)).success).toBe(true)
    expect(CardIdInputSchema.safeParse(`card_x${'4'.repeat(LONG)}`).success).toBe(true)
    // Full-width digits: slower to read, a quarter as many.
    expect(CardIdInputSchema.safeParse('４'.repeat(LONG / 4)).success).toBe(true)
    expect(CardIdInputSchema.safeParse(`card_1${'%20'.repeat(Math.ceil(LONG / 3))}x`).success).toBe(
      true,
    )
    const card = { ...stripeSeedCards[0]!.normalized, id: '7'.repeat(LONG) }
    expect(CardSchema.safeParse(card).success).toBe(true)
  })

  it('takes a card number glued to letters: part of a random id, not a number written out', () => {
    for (const id of [
      'card_1MvoXJ24242424242424242',
      'card_4242424242424242x',
      'ab4242424242424242',
    ]) {
      expect(CardIdInputSchema.safeParse(id).success, id).toBe(true)
    }
  })

  it('takes every Stripe-like, hex and UUID id, whatever digits land where', () => {
    const chars = (alphabet: string, length: number) =>
      fc.string({ unit: fc.constantFrom(...alphabet), minLength: length, maxLength: length })
    const digitsFirst = fc
      .tuple(fc.stringMatching(/^[0-9]{13,19}$/), chars(BASE62, 8))
      .map(([digits, rest]) => `card_${digits}${rest}`)
    fc.assert(
      fc.property(
        fc.oneof(
          chars(BASE62, 24).map((rest) => `card_${rest}`),
          // Digits weighted heavily, so that long digit runs come up.
          chars(`${'0123456789'.repeat(6)}${BASE62}`, 24).map((rest) => `card_${rest}`),
          digitsFirst,
          chars('0123456789abcdef', 32),
          chars(`${'0123456789'.repeat(4)}abcdef`, 32),
          fc.uuid(),
        ),
        (id) => {
          expect(CardIdInputSchema.safeParse(id).success).toBe(true)
          const card = { ...stripeSeedCards[0]!.normalized, id }
          expect(compiledCardSchema().parse(card)).toMatchObject({ id })
        },
      ),
      { numRuns: 500 },
    )
    // A UUID's digit groups, joined by its dashes, read as a card number about once in 900.
    const digest = (seed: string) => createHash('sha256').update(seed).digest('hex')
    const ids = Array.from({ length: 20_000 }, (_, index) => digest(`id ${index}`))
    const refused = [
      ...ids.map((hex) => hex.slice(0, 32)),
      ...ids.map(
        (hex) =>
          `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`,
      ),
    ].filter((id) => !CardIdInputSchema.safeParse(id).success)
    expect(refused).toEqual([])
  })
})

describe('OwnerInputSchema: an owner a caller gives', () => {
  it('refuses a card number typed as the owner id, however it is grouped', () => {
    for (const id of ['4242424242424242', '5555-5555-5555-4444', ' 378282246310005 ']) {
      const result = OwnerInputSchema.safeParse({ type: 'customer', id })
      expect(result.success, id).toBe(false)
      expect(result.error?.issues).toEqual([
        expect.objectContaining({
          path: ['id'],
          message:
            "an owner id cannot be a card number: pass the provider's customer or account id",
        }),
      ])
    }
  })

  it('takes the owner ids providers give, whatever digits they hold, as OwnerSchema does', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('customer', 'account'),
        fc.oneof(
          fc.stringMatching(/^cus_[0-9A-Za-z]{14}$/),
          fc.stringMatching(/^acct_[0-9]{16}$/),
          fc.stringMatching(/^(AC|CU)[0-9]{13,19}$/),
          fc.uuid(),
          fc.stringMatching(/^[0-9]{1,12}$|^[0-9]{20,30}$/),
        ),
        (type, id) => {
          expect(OwnerInputSchema.parse({ type, id })).toEqual(OwnerSchema.parse({ type, id }))
        },
      ),
    )
    // A card number is still an owner id a provider may have given: reading one is not refused.
    expect(OwnerSchema.safeParse({ type: 'customer', id: '4242424242424242' }).success).toBe(true)
  })
})

describe("ProviderNameSchema: an adapter's name option", () => {
  it('takes 1 to 64 letters, digits, ".", "-" and "_", a letter first', () => {
    for (const name of ['stripe', 'stripe-eu', 'mp_2', 'Stripe.US', 'a', `a${'b'.repeat(63)}`]) {
      expect(ProviderNameSchema.safeParse(name).success, name).toBe(true)
    }
  })

  it.each([
    ['empty', '', 'letters, digits'],
    ['a digit first', '2stripe', 'starting with a letter'],
    ['65 characters', `a${'b'.repeat(64)}`, '1 to 64'],
    ['a space', 'stripe eu', 'letters, digits'],
    ['a slash', 'stripe/eu', 'letters, digits'],
    ['an API key', 'sk_live_51Hxyz', 'cannot hold a key'],
    ['a restricted key', 'rk_test_abc', 'cannot hold a key'],
    ['a card number inside', 'x4242424242424242', 'card number'],
  ])('refuses a name with %s', (_case, name, message) => {
    const result = ProviderNameSchema.safeParse(name)
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.message).toContain(message)
  })
})

describe('CardSchema keeps to text every store can hold', () => {
  const base = stripeSeedCards[0]!.normalized

  it('replaces a NUL or an unpaired surrogate in free text with U+FFFD (PostgreSQL refuses a NUL)', () => {
    const card = CardSchema.parse({
      ...base,
      holderName: 'Jenny\u0000Rosen',
      address: { ...base.address, line1: '1 Main St\uD800', city: 'Zoë 💳' },
    })
    expect(card.holderName).toBe('Jenny\uFFFDRosen')
    expect(card.address).toMatchObject({ line1: '1 Main St\uFFFD', city: 'Zoë 💳' })
  })

  it('refuses such ids instead: two owners differing there would be one owner in PostgreSQL', () => {
    for (const id of ['cus_\uD800', 'cus_\uDBFF', 'cus_\u0000']) {
      expect(CardSchema.safeParse({ ...base, owner: { type: 'customer', id } }).success).toBe(false)
    }
    expect(CardSchema.safeParse({ ...base, fingerprint: 'fp\uDC00' }).success).toBe(false)
    expect(
      CardSchema.safeParse({ ...base, owner: { type: 'customer', id: 'cus_💳' } }).success,
    ).toBe(true)
  })
})

describe('compiledCardSchema', () => {
  const seeds = [...stripeSeedCards, ...marketplaceSeedCards].map((seed) => seed.normalized)

  it('is CardSchema compiled by zod, once: zod does not refuse to compile it', () => {
    expect(() => z.compile(CardSchema, { strict: true })).not.toThrow()
    expect(compiledCardSchema()).not.toBe(CardSchema)
    expect(compiledCardSchema()).toBe(compiledCardSchema())
  })

  // z.compile came in zod 4.5.0, and changed much up to 4.6.7, the version this property was
  // run on when the core took it up. With 4.1 to 4.4, which `^4.1.0` allowed, every card read
  // from a provider threw "z.compile is not a function".
  it('comes with a zod whose z.compile the property below was run on', () => {
    const manifest = JSON.parse(
      readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
    ) as { dependencies: Record<string, string> }
    const range = /^\^4\.(\d+)\.(\d+)$/.exec(manifest.dependencies.zod ?? '')
    expect(range).not.toBeNull()
    expect(Number(range?.[1]) * 1000 + Number(range?.[2])).toBeGreaterThanOrEqual(6 * 1000 + 7)
  })

  it('returns a copy of a valid card, never the card or one of its objects', () => {
    const card = seeds[0] as Card
    const parsed = compiledCardSchema().parse(card)
    expect(parsed).toStrictEqual(CardSchema.parse(card))
    expect(parsed).not.toBe(card)
    expect(parsed.owner).not.toBe(card.owner)
    expect(parsed.address).not.toBe(card.address)
    expect(parsed.metadata).not.toBe(card.metadata)
  })

  it('answers as CardSchema for cards that are not plain data', () => {
    const card = seeds[0] as Card
    const withGetter = { ...card }
    Object.defineProperty(withGetter, 'last4', { get: () => '4242', enumerable: true })
    const throwing = { ...card }
    Object.defineProperty(throwing, 'currency', {
      get: () => {
        throw new Error('currency unavailable')
      },
    })
    const consistentProxy = new Proxy(
      { ...card },
      { get: (target, key) => Reflect.get(target, key), has: (target, key) => key in target },
    )
    const inputs: unknown[] = [
      withGetter,
      Object.freeze({ ...card, owner: Object.freeze({ ...card.owner }) }),
      Object.create(card),
      { ...card, toJSON: () => ({}) },
      {
        ...card,
        metadata: new (class Pairs {
          nickname = 'work'
        })(),
      },
      { ...card, metadata: { nickname: 'work', [Symbol('tag')]: 'x' } },
      { ...card, createdAt: new Date(0) },
      consistentProxy,
    ]
    for (const input of inputs) {
      expect(outcome(compiledCardSchema(), input)).toStrictEqual(outcome(CardSchema, input))
    }
    expect(() => compiledCardSchema().safeParse(throwing)).toThrow('currency unavailable')
    expect(() => CardSchema.safeParse(throwing)).toThrow('currency unavailable')
  })

  // The fast path reads a valid card once, as CardSchema does. It gives up at the first field it
  // refuses and zod's ordinary parse reads the card again, for the issues: a getter runs twice,
  // and one that answers otherwise the second time is judged on what the second read gives.
  // Cards read from providers are plain data.
  it('reads each field of a valid card once, and of an invalid card twice', () => {
    const card = seeds[0] as Card
    const reads = (expMonth: number) => {
      let count = 0
      const input = { ...card, expMonth }
      Object.defineProperty(input, 'brand', {
        get: () => {
          count++
          return card.brand
        },
        enumerable: true,
      })
      compiledCardSchema().safeParse(input)
      return count
    }
    expect(reads(1)).toBe(1)
    expect(reads(13)).toBe(2)
  })

  // Values on the edge of one of the Card's rules, or across it.
  const edgeValue = fc.oneof(
    fc.constantFrom<unknown>(
      undefined,
      null,
      '',
      'x',
      'a\u0000b',
      'a\uD800',
      '\uD83D\uDE00',
      '4242 4242 4242 4242',
      'paid with 4000-0566-5566-5556',
      0,
      1,
      12,
      13,
      1.5,
      -1,
      1969,
      1970,
      9999,
      10000,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      2 ** 53,
      true,
      [],
      {},
      'US',
      'us',
      'USA',
      'usd',
      'USD',
      '4242',
      '424',
      'visa',
      'Visa',
      'pass',
      'customer',
      'account',
      'active',
      'invalid',
      '2026-01-02T03:04:05.000Z',
      '2026-01-02T03:04:05+02:00',
      '2026-02-30T00:00:00Z',
      '2026-01-02',
      { nickname: 'work' },
      { nickname: '' },
      { nickname: 4 },
      { '': 'x' },
    ),
    fc.anything({
      withNullPrototype: true,
      withDate: true,
      withMap: true,
      withBoxedValues: true,
      withSparseArray: true,
    }),
  )
  const field = (object: string, keys: readonly string[]) =>
    fc.constantFrom(...keys).map((key) => [object, key])
  const path = fc.oneof(
    fc.constantFrom(...Object.keys(CardSchema.shape), 'unknownKey').map((key) => [key]),
    field('owner', ['type', 'id', 'extra']),
    field('address', Object.keys(CardSchema.shape.address.shape)),
    field('checks', Object.keys(CardSchema.shape.checks.shape)),
    fc.string().map((key) => ['metadata', key]),
  )
  const DELETE = Symbol('delete')
  const mutation = fc.tuple(path, fc.oneof(edgeValue, fc.constant(DELETE)))

  const outcome = (schema: typeof CardSchema, input: unknown) => {
    const result = schema.safeParse(input)
    return result.success ? { data: result.data } : { issues: result.error.issues }
  }

  it('gives the output and the issues CardSchema gives, on valid and broken cards alike', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...seeds),
        fc.array(mutation, { maxLength: 3 }),
        (seed, mutations) => {
          const input: Record<string, unknown> = structuredClone(seed)
          for (const [[first, second], value] of mutations) {
            let target = input
            let key = first as string
            if (second !== undefined) {
              const inner = input[key]
              if (typeof inner !== 'object' || inner === null) continue
              target = inner as Record<string, unknown>
              key = second
            }
            if (value === DELETE) delete target[key]
            // defineProperty: an assignment to `__proto__` would set the prototype instead.
            else
              Object.defineProperty(target, key, {
                value,
                enumerable: true,
                writable: true,
                configurable: true,
              })
          }
          expect(outcome(compiledCardSchema(), input)).toStrictEqual(outcome(CardSchema, input))
        },
      ),
      { numRuns: 2000 },
    )
  })
})

describe('markDefaultUnknown', () => {
  const owner = { type: 'customer', id: 'cus_1' } as const

  it('marks the card itself and leaves what it reads as unchanged', () => {
    const card = sampleCard('card_1', owner)
    const before = JSON.stringify(card)
    expect(markDefaultUnknown(card)).toBe(card)
    expect(isDefaultUnknown(card)).toBe(true)
    expect(JSON.stringify(card)).toBe(before)
    expect(Object.keys(card)).toEqual(Object.keys(sampleCard('card_1', owner)))
    expect(card).toStrictEqual(sampleCard('card_1', owner))
    expect(isDefaultUnknown(sampleCard('card_1', owner))).toBe(false)
  })

  it('does not follow a copy: a spread, a structured clone, a parse by the Card schema', () => {
    const card = markDefaultUnknown(sampleCard('card_1', owner))
    expect(isDefaultUnknown({ ...card })).toBe(false)
    expect(isDefaultUnknown(structuredClone(card))).toBe(false)
    expect(isDefaultUnknown(CardSchema.parse(card))).toBe(false)
    expect(isDefaultUnknown(compiledCardSchema().parse(card))).toBe(false)
  })

  it('marks a frozen or sealed card too, and a card marked twice stays marked', () => {
    const frozen = markDefaultUnknown(Object.freeze(sampleCard('card_1', owner)))
    const sealed = markDefaultUnknown(Object.seal(sampleCard('card_2', owner)))
    expect(isDefaultUnknown(frozen)).toBe(true)
    expect(isDefaultUnknown(sealed)).toBe(true)
    const twice = markDefaultUnknown(markDefaultUnknown(sampleCard('card_3', owner)))
    expect(isDefaultUnknown(Object.freeze(markDefaultUnknown(twice)))).toBe(true)
    expect(isDefaultUnknown(Object.freeze(sampleCard('card_4', owner)))).toBe(false)
  })

  it('answers false for what is not an object, and refuses to mark it', () => {
    for (const value of [null, undefined, 'card_1', 42]) {
      expect(isDefaultUnknown(value as unknown as Card)).toBe(false)
      expect(() => markDefaultUnknown(value as unknown as Card)).toThrow(TypeError)
    }
  })
})

describe('IdempotencyKeySchema', () => {
  const digest = (seed: string) => createHash('sha256').update(seed).digest('hex')
  /** A version-4 UUID's shape, from a digest: deterministic, so that the test is too. */
  const uuidOf = (hex: string) =>
    `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`

  // Callers key their calls with `crypto.randomUUID()` or a digest. Their digit groups, joined by
  // a UUID's dashes or glued to its letters, read as a card number about once in 900 UUIDs and
  // 1,400 digests: such a key, refused, failed one call in several hundred at random.
  it('accepts random keys: UUIDs, and hex digests alone or in a key', () => {
    const keys = Array.from({ length: 20_000 }, (_, index) => digest(`key ${index}`))
    const refused = [
      ...keys.map(uuidOf),
      ...keys.map((hex) => hex.slice(0, 32)),
      ...keys.map((hex) => `order-${uuidOf(hex)}-1`),
    ].filter((key) => !IdempotencyKeySchema.safeParse(key).success)
    expect(refused).toEqual([])
  })

  it('refuses a card number written out in a key, also beside a UUID', () => {
    const uuid = uuidOf(digest('a'))
    for (const key of [
      '4242424242424242',
      'order-4242424242424242',
      'order_4242 4242 4242 4242',
      'retry:4242-4242-4242-4242:2',
      `${uuid}-4242424242424242`,
      `4242424242424242.${uuid}`,
    ]) {
      expect(IdempotencyKeySchema.safeParse(key).success, key).toBe(false)
    }
  })

  it('refuses a card number whose first or last group touches a letter', () => {
    for (const key of [
      'card_x4242 4242 4242 4242',
      'card_4242-4242-4242-4242x',
      'order-x4242 4242 4242 4242',
      `${uuidOf(digest('a'))}4242 4242 4242 4242`,
    ]) {
      const result = IdempotencyKeySchema.safeParse(key)
      expect(result.success, key).toBe(false)
      expect(result.error?.issues.map((issue) => issue.message)).toEqual([
        'a card number is not allowed in an idempotency key',
      ])
    }
  })

  it('accepts keys of an id and a time, and hex ids joined by dashes, whose digits read together would pass the Luhn check', () => {
    // Read with the digits glued to the letter beside them, each of these makes a Luhn-valid
    // run with a card network's prefix: a key of `${orderId}-${Date.now()}` was refused about
    // once in 50. A group of fewer than 3 digits, or one joined only to digits that touch a
    // letter too, is part of a random id.
    const keys = [
      'checkout-u4-1700000079190',
      'checkout-u4-1700000134623',
      'tok-3d47bfba0f829312-20667825d1e261fc',
      'tok-16bb393a1b252618-9877212b0bd3c311',
    ]
    for (const key of keys) {
      expect(IdempotencyKeySchema.safeParse(key).success, key).toBe(true)
      expect(CardIdInputSchema.safeParse(key).success, key).toBe(true)
    }
  })

  it('refuses a key longer than 255 characters before reading it for a card number', () => {
    for (const key of ['7'.repeat(LONG), `4242424242424242 ${'7'.repeat(LONG)}`]) {
      const result = IdempotencyKeySchema.safeParse(key)
      expect(result.error?.issues).toEqual([
        expect.objectContaining({ code: 'too_big', maximum: 255 }),
      ])
    }
  })
})
