import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { errorOf } from './__fixtures__/errors.js'
import {
  type CardDetailsInput,
  CardDetailsSchema,
  CardUpdateSchema,
  CreateCardInputSchema,
  isExpiryValid,
} from './card-details.js'
import { validate } from './validate.js'

// Every test below runs on 15 June 2025 (UTC), so "the past" and "this month" are fixed.
const NOW = new Date('2025-06-15T12:00:00Z')

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(NOW)
})
afterEach(() => {
  vi.useRealTimers()
})

const TOO_FAR = 'the expiry is more than 50 years ahead: check the year'

const valid: CardDetailsInput = {
  number: '4242 4242 4242 4242',
  expMonth: 12,
  expYear: 2030,
  cvc: '987',
  holderName: 'Jenny Rosen',
  phone: '+14155550123',
}

describe('isExpiryValid', () => {
  it('is valid through the last day of the expiry month, the current month included', () => {
    expect(isExpiryValid(6, 2025, NOW)).toBe(true)
    expect(isExpiryValid(6, 2025, new Date('2025-06-30T23:59:59Z'))).toBe(true)
  })

  it('holds a card valid until its month has ended in every time zone (midnight at UTC−12)', () => {
    // Midnight UTC: already July in London, still 30 June west of it.
    expect(isExpiryValid(6, 2025, new Date('2025-07-01T00:00:00Z'))).toBe(true)
    expect(isExpiryValid(6, 2025, new Date('2025-07-01T11:59:59.999Z'))).toBe(true)
    expect(isExpiryValid(6, 2025, new Date('2025-07-01T12:00:00Z'))).toBe(false)
    // December ends the same way, in the next year.
    expect(isExpiryValid(12, 2025, new Date('2026-01-01T11:59:59.999Z'))).toBe(true)
    expect(isExpiryValid(12, 2025, new Date('2026-01-01T12:00:00Z'))).toBe(false)
  })

  it('accepts a card on the evening of its last day in Los Angeles', () => {
    // 31 January at 20:00 in Los Angeles is 1 February at 04:00 UTC.
    expect(isExpiryValid(1, 2026, new Date('2026-01-31T20:00:00-08:00'))).toBe(true)
  })

  it('refuses the previous month and accepts the next', () => {
    expect(isExpiryValid(5, 2025, NOW)).toBe(false)
    expect(isExpiryValid(7, 2025, NOW)).toBe(true)
  })

  it('compares years before months', () => {
    expect(isExpiryValid(12, 2024, NOW)).toBe(false)
    expect(isExpiryValid(1, 2026, NOW)).toBe(true)
    expect(isExpiryValid(12, 2025, NOW)).toBe(true)
  })

  it('reads two-digit years as 20xx', () => {
    expect(isExpiryValid(6, 25, NOW)).toBe(true)
    expect(isExpiryValid(5, 25, NOW)).toBe(false)
    expect(isExpiryValid(1, 30, NOW)).toBe(true)
  })

  it('refuses a year more than 50 years ahead', () => {
    expect(isExpiryValid(1, 2075, NOW)).toBe(true)
    expect(isExpiryValid(1, 2076, NOW)).toBe(false)
  })

  it('refuses months outside 1–12 and non-integers', () => {
    expect(isExpiryValid(0, 2030, NOW)).toBe(false)
    expect(isExpiryValid(13, 2030, NOW)).toBe(false)
    expect(isExpiryValid(6.5, 2030, NOW)).toBe(false)
    expect(isExpiryValid(6, 2030.5, NOW)).toBe(false)
    expect(isExpiryValid(Number.NaN, 2030, NOW)).toBe(false)
  })

  it('uses the current date when none is given', () => {
    expect(isExpiryValid(6, 2025)).toBe(true)
    expect(isExpiryValid(5, 2025)).toBe(false)
  })

  it('still accepts the month east of Greenwich has left', () => {
    // Still 31 May in UTC, already 1 June east of Greenwich.
    expect(isExpiryValid(5, 2025, new Date('2025-05-31T23:30:00Z'))).toBe(true)
  })
})

describe('CardDetailsSchema', () => {
  it('accepts valid details and keeps only the digits of the number', () => {
    expect(CardDetailsSchema.parse(valid)).toEqual({ ...valid, number: '4242424242424242' })
    expect(CardDetailsSchema.parse({ ...valid, number: '4242-4242-4242-4242' }).number).toBe(
      '4242424242424242',
    )
  })

  it('accepts the least it needs: number and expiry', () => {
    expect(
      CardDetailsSchema.parse({ number: '4000056655665556', expMonth: 6, expYear: 2025 }),
    ).toEqual({ number: '4000056655665556', expMonth: 6, expYear: 2025 })
  })

  it('accepts a 12-digit number, the shortest a card has (a Maestro)', () => {
    expect(issuesOf({ ...valid, number: '5018 0000 0009' })).toEqual([])
    expect(CardDetailsSchema.parse({ ...valid, number: '501800000009' }).number).toBe(
      '501800000009',
    )
  })

  it('refuses a number that fails the Luhn check', () => {
    expect(issuesOf({ ...valid, number: '4242424242424241' })).toEqual([
      { path: ['number'], message: 'the card number fails the Luhn check: ask for it again' },
    ])
  })

  it('refuses a number that is not 12 to 19 digits, without running the Luhn check', () => {
    for (const number of ['4242', '42424242424242424242', '4242 4242 abcd 4242', '']) {
      expect(issuesOf({ ...valid, number })).toEqual([
        { path: ['number'], message: 'a card number is 12 to 19 digits' },
      ])
    }
  })

  it('refuses an expiry in the past and accepts the current month', () => {
    expect(issuesOf({ ...valid, expMonth: 5, expYear: 2025 })).toEqual([
      { path: ['expYear'], message: 'the card has expired' },
    ])
    expect(issuesOf({ ...valid, expMonth: 12, expYear: 2024 })).toEqual([
      { path: ['expYear'], message: 'the card has expired' },
    ])
    expect(CardDetailsSchema.safeParse({ ...valid, expMonth: 6, expYear: 2025 }).success).toBe(true)
  })

  it('refuses the month just ended only once it has ended in every time zone', () => {
    const lastMonth = { ...valid, expMonth: 5, expYear: 2025 }
    // Past midnight UTC on 1 June, still 31 May at UTC−12: accepted, the issuer judges it.
    vi.setSystemTime(new Date('2025-06-01T11:59:59.999Z'))
    expect(CardDetailsSchema.safeParse(lastMonth).success).toBe(true)
    expect(CardUpdateSchema.safeParse({ expMonth: 5, expYear: 2025 }).success).toBe(true)
    vi.setSystemTime(new Date('2025-06-01T12:00:00Z'))
    expect(issuesOf(lastMonth)).toEqual([{ path: ['expYear'], message: 'the card has expired' }])
    expect(CardUpdateSchema.safeParse({ expMonth: 5, expYear: 2025 }).success).toBe(false)
  })

  it('refuses an expiry more than 50 years ahead as too far ahead, not as expired', () => {
    // 2075 is the last year accepted on 15 June 2025 (Stripe's limit too).
    expect(CardDetailsSchema.safeParse({ ...valid, expMonth: 12, expYear: 2075 }).success).toBe(
      true,
    )
    for (const expYear of [2076, 2099, 9999]) {
      expect(issuesOf({ ...valid, expMonth: 1, expYear })).toEqual([
        { path: ['expYear'], message: TOO_FAR },
      ])
    }
    const error = errorOf(() =>
      validate(CreateCardInputSchema, { source: { ...valid, expYear: 2076 } }, 'card input'),
    )
    expect(error.code).toBe('invalid_request')
    expect(error.message).toBe(`Invalid card input: source.expYear: ${TOO_FAR}`)
    expect(error.message).not.toContain('expired')
  })

  it('refuses months outside 1–12 and years before 2000, each reported once', () => {
    expect(pathsOf({ ...valid, expMonth: 0 })).toEqual([['expMonth']])
    expect(pathsOf({ ...valid, expMonth: 13 })).toEqual([['expMonth']])
    expect(pathsOf({ ...valid, expYear: 1999 })).toEqual([['expYear']])
    expect(pathsOf({ ...valid, expMonth: '12' })).toEqual([['expMonth']])
  })

  it('wants a 3-digit CVC for Visa and a 4-digit one for Amex', () => {
    expect(CardDetailsSchema.safeParse({ ...valid, cvc: '987' }).success).toBe(true)
    expect(issuesOf({ ...valid, cvc: '9876' })).toEqual([
      { path: ['cvc'], message: "this card's CVC is 3 digits" },
    ])
    const amex = { ...valid, number: '378282246310005' }
    expect(CardDetailsSchema.safeParse({ ...amex, cvc: '9876' }).success).toBe(true)
    expect(issuesOf({ ...amex, cvc: '987' })).toEqual([
      { path: ['cvc'], message: "this card's CVC is 4 digits" },
    ])
  })

  it('refuses a CVC that is not 3 or 4 digits', () => {
    expect(issuesOf({ ...valid, cvc: '98' })).toEqual([
      { path: ['cvc'], message: 'a CVC is 3 or 4 digits' },
    ])
    expect(pathsOf({ ...valid, cvc: '98a' })).toEqual([['cvc']])
  })

  it('accepts a 128-character name and refuses a 129-character one', () => {
    expect(CardDetailsSchema.safeParse({ ...valid, holderName: 'n'.repeat(128) }).success).toBe(
      true,
    )
    expect(issuesOf({ ...valid, holderName: 'n'.repeat(129) })).toEqual([
      { path: ['holderName'], message: 'a cardholder name is at most 128 characters' },
    ])
    expect(pathsOf({ ...valid, holderName: '' })).toEqual([['holderName']])
  })

  it('accepts E.164 phone numbers only', () => {
    for (const phone of ['+14155550123', '+442071838750', '+123456789012345']) {
      expect(CardDetailsSchema.safeParse({ ...valid, phone }).success, phone).toBe(true)
    }
    for (const phone of ['4155550123', '+04155550123', '+1 415 555 0123', '+1234567890123456']) {
      expect(pathsOf({ ...valid, phone }), phone).toEqual([['phone']])
    }
  })

  it('never puts the card number or CVC in issues or messages', () => {
    const cases: CardDetailsInput[] = [
      { ...valid, number: '4242424242424241', cvc: '98765' },
      { ...valid, number: '4242 4242 4242 4242 9', cvc: '9x' },
      { ...valid, number: 'card 4242424242424242', cvc: '9876', expYear: 2020 },
      { ...valid, number: '378282246310005', cvc: '987' },
      { ...valid, cvc: '9876', expMonth: 13 },
    ]
    for (const input of cases) {
      const result = CardDetailsSchema.safeParse(input)
      expect(result.success).toBe(false)
      const everything = [
        JSON.stringify(result.error?.issues),
        result.error?.message,
        String(result.error),
      ].join('\n')
      const digits = input.number.replace(/\D/g, '')
      expect(everything).not.toContain(digits)
      expect(everything).not.toContain(digits.slice(0, 12))
      expect(everything).not.toContain(input.cvc)

      let thrown: unknown
      try {
        validate(CardDetailsSchema, input, 'card details')
      } catch (error) {
        thrown = error
      }
      expect(thrown).toMatchObject({ code: 'invalid_request' })
      const serialized = `${(thrown as Error).message}\n${JSON.stringify(thrown)}`
      expect(serialized).not.toContain(digits.slice(0, 12))
      expect(serialized).not.toContain(input.cvc)
    }
  })
})

describe('createCard input: a key it does not know is refused, not dropped', () => {
  it('refuses an unknown key in card details, their address, or the input, naming the key only', () => {
    const cases: Array<[unknown, PropertyKey[], string]> = [
      // `cvv` dropped: the card was made without the CVC the caller typed, and no CVC check.
      [{ source: { ...valid, cvc: undefined, cvv: '987' } }, ['source'], 'cvv'],
      // `zip` dropped: the card was made without the postal code the issuer checks.
      [
        { source: { ...valid, address: { line1: '1 Main St', zip: '94107' } } },
        ['source', 'address'],
        'zip',
      ],
      // A misspelt option dropped: the new card did not become the default.
      [{ source: 'tok_visa', make_default: true }, [], 'make_default'],
    ]
    for (const [input, path, key] of cases) {
      const error = errorOf(() => validate(CreateCardInputSchema, input, 'card input'))
      expect(error.code).toBe('invalid_request')
      expect(error.issues?.map((issue) => issue.path)).toEqual([path])
      expect(error.issues?.[0]?.message).toMatch(new RegExp(`^unknown key "${key}": the keys are `))
      const serialized = `${error.message}\n${JSON.stringify(error)}`
      expect(serialized).not.toContain('4242')
      expect(serialized).not.toContain('987')
      expect(serialized).not.toContain('94107')
    }
  })

  it('refuses them in CardDetailsSchema alone, as the marketplace tokenizes with it', () => {
    const error = errorOf(() =>
      validate(CardDetailsSchema, { ...valid, address: { postal_code: '94107' } }, 'card details'),
    )
    expect(error.issues).toEqual([
      {
        path: ['address'],
        message:
          'unknown key "postal_code": the keys are line1, line2, city, state, postalCode, country',
      },
    ])
  })
})

describe('createCard input: currency', () => {
  it('takes a lower-case ISO 4217 code and refuses any other, upper case included', () => {
    expect(CreateCardInputSchema.parse({ source: 'tok_visa', currency: 'usd' })).toEqual({
      source: 'tok_visa',
      currency: 'usd',
    })
    for (const currency of ['USD', 'Usd', 'us', 'usdt', '']) {
      const result = CreateCardInputSchema.safeParse({ source: 'tok_visa', currency })
      expect(
        result.error?.issues.map((issue) => ({ path: issue.path, message: issue.message })),
        currency,
      ).toEqual([
        { path: ['currency'], message: 'a currency is a lower-case ISO 4217 code such as "usd"' },
      ])
    }
  })
})

describe('CardUpdateSchema', () => {
  it('refuses an empty update', () => {
    for (const patch of [{}, { holderName: undefined }]) {
      const result = CardUpdateSchema.safeParse(patch)
      expect(result.success).toBe(false)
      expect(result.error?.issues.map((issue) => issue.message)).toEqual([
        'an update changes at least one field',
      ])
    }
  })

  it('accepts any one of address, expiry, name and metadata', () => {
    expect(CardUpdateSchema.parse({ holderName: null })).toEqual({ holderName: null })
    expect(CardUpdateSchema.parse({ expMonth: 1 })).toEqual({ expMonth: 1 })
    expect(CardUpdateSchema.parse({ address: { city: 'Paris' } })).toEqual({
      address: { city: 'Paris' },
    })
    expect(CardUpdateSchema.parse({ metadata: { order_id: '' } })).toEqual({
      metadata: { order_id: '' },
    })
  })

  it('checks each field it changes', () => {
    expect(CardUpdateSchema.safeParse({ expMonth: 13 }).success).toBe(false)
    expect(CardUpdateSchema.safeParse({ expYear: 1999 }).success).toBe(false)
    expect(CardUpdateSchema.safeParse({ holderName: 'n'.repeat(129) }).success).toBe(false)
    expect(CardUpdateSchema.safeParse({ holderName: '' }).error?.issues[0]?.message).toBe(
      'a cardholder name cannot be empty: pass null to remove it',
    )
    expect(CardUpdateSchema.safeParse({ address: { country: 'USA' } }).success).toBe(false)
    expect(CardUpdateSchema.safeParse({ metadata: { ['k'.repeat(41)]: 'v' } }).success).toBe(false)
  })

  it('refuses an expiry in the past when it is given whole, as at creation', () => {
    const result = CardUpdateSchema.safeParse({ expMonth: 1, expYear: 2000 })
    expect(result.error?.issues.map((issue) => [issue.path, issue.message])).toEqual([
      [['expYear'], 'the card has expired'],
    ])
    const next = new Date().getUTCFullYear() + 1
    expect(CardUpdateSchema.parse({ expMonth: 1, expYear: next })).toEqual({
      expMonth: 1,
      expYear: next,
    })
    // Half of it: the provider judges it with the card's other half.
    expect(CardUpdateSchema.parse({ expYear: 2001 })).toEqual({ expYear: 2001 })
  })

  it('refuses an expiry year more than 50 years ahead as too far ahead, whole or alone', () => {
    for (const patch of [{ expMonth: 1, expYear: 2076 }, { expYear: 2076 }, { expYear: 9999 }]) {
      const error = errorOf(() => validate(CardUpdateSchema, patch, 'card update'))
      expect(error.code).toBe('invalid_request')
      expect(error.issues).toEqual([{ path: ['expYear'], message: TOO_FAR }])
    }
    // No month makes a year that far ahead right, so the year alone is judged here.
    expect(CardUpdateSchema.parse({ expYear: 2075 })).toEqual({ expYear: 2075 })
    expect(CardUpdateSchema.parse({ expMonth: 12, expYear: 2075 })).toEqual({
      expMonth: 12,
      expYear: 2075,
    })
  })

  it('refuses a key an update does not know, in the patch or its address, naming the key only', () => {
    const cases: Array<[unknown, PropertyKey[], string]> = [
      // A field no update changes: dropped, the caller would believe it changed.
      [{ holderName: 'Jenny Rosen', last4: '4242' }, [], 'last4'],
      // A misspelt field: dropped, the update changed nothing the caller meant.
      [{ holdername: 'Jenny Rosen' }, [], 'holdername'],
      [{ holderName: 'Jenny Rosen', number: '4242424242424242', cvc: '987' }, [], 'number'],
      [{ address: { city: 'Paris', zip: '75001' } }, ['address'], 'zip'],
    ]
    for (const [patch, path, key] of cases) {
      const error = errorOf(() => validate(CardUpdateSchema, patch, 'card update'))
      expect(error.code).toBe('invalid_request')
      const unknown = error.issues?.find((issue) => issue.message.startsWith('unknown key'))
      expect(unknown?.path).toEqual(path)
      expect(unknown?.message).toContain(`"${key}"`)
      const serialized = `${error.message}\n${JSON.stringify(error)}`
      expect(serialized).not.toContain('4242424242424242')
      expect(serialized).not.toContain('987')
      expect(serialized).not.toContain('75001')
    }
    // Every unknown key is named, in one issue.
    const both = errorOf(() => validate(CardUpdateSchema, { number: 'x', cvc: 'y' }, 'card update'))
    expect(both.message).toContain('unknown keys "number", "cvc"')
    // A key given as undefined is no change, but a misspelt one all the same.
    expect(CardUpdateSchema.safeParse({ holderName: 'Ada', holdername: undefined }).success).toBe(
      false,
    )
  })

  it('masks a card number written as an unknown key', () => {
    const number = '4242424242424242'
    const result = CardUpdateSchema.safeParse({ holderName: 'Ada', [number]: '1' })
    expect(result.success).toBe(false)
    expect(JSON.stringify(result.error?.issues.map((issue) => issue.message))).not.toContain(number)
    const error = errorOf(() =>
      validate(CardUpdateSchema, { address: { [number]: '1' } }, 'card update'),
    )
    expect(error.message).toContain('unknown key "•••• 4242"')
  })

  it('quotes an unknown key of up to 64 characters whole, and cuts a longer one there', () => {
    const key = 'k'.repeat(64)
    const whole = errorOf(() => validate(CardUpdateSchema, { [key]: '1' }, 'card update'))
    expect(whole.message).toContain(`unknown key "${key}": the keys are `)
    const cut = errorOf(() => validate(CardUpdateSchema, { [`${key}x`]: '1' }, 'card update'))
    expect(cut.message).toContain(`unknown key "${key}…": the keys are `)
  })
})

function issuesOf(input: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const result = CardDetailsSchema.safeParse(input)
  return (result.error?.issues ?? []).map((issue) => ({ path: issue.path, message: issue.message }))
}

function pathsOf(input: unknown): PropertyKey[][] {
  return (CardDetailsSchema.safeParse(input).error?.issues ?? []).map((issue) => issue.path)
}

describe('free text holding a card number is refused (DESIGN: no field holds one)', () => {
  const CARD_NUMBERS = ['4242 4242 4242 4242', '4000-0566-5566-5556', '378282246310005']

  it.each(CARD_NUMBERS)(
    'refuses %s in the holder name or the address of card details',
    (number) => {
      const fields: Array<[PropertyKey[], CardDetailsInput]> = [
        [['holderName'], { ...valid, holderName: `Jenny ${number}` }],
        [['address', 'line1'], { ...valid, address: { line1: `ref ${number}` } }],
        [['address', 'city'], { ...valid, address: { city: number } }],
      ]
      for (const [path, input] of fields) {
        expect(pathsOf(input)).toEqual([path])
        const error = errorOf(() => validate(CardDetailsSchema, input, 'card details'))
        expect(error.message).toContain('a card number is not allowed in')
        expect(JSON.stringify(error)).not.toContain(number)
        expect(JSON.stringify(error)).not.toContain(number.replace(/\D/g, ''))
      }
    },
  )

  it.each(CARD_NUMBERS)('refuses %s in an update: name, address, metadata value', (number) => {
    for (const patch of [
      { holderName: number },
      { address: { line2: `c/o ${number}` } },
      { metadata: { note: `paid with ${number}` } },
    ]) {
      const error = errorOf(() => validate(CardUpdateSchema, patch, 'card update'))
      expect(error.code).toBe('invalid_request')
      expect(error.message).toContain('a card number is not allowed in')
      expect(JSON.stringify(error)).not.toContain(number)
    }
  })

  it.each(CARD_NUMBERS)('refuses %s as the source of createCard, where a token goes', (number) => {
    for (const source of [number, `tok_${number}`, `/cards/${number}`]) {
      const error = errorOf(() => validate(CreateCardInputSchema, { source }, 'card input'))
      expect(error.code).toBe('invalid_request')
      expect(error.issues?.map((issue) => issue.path)).toEqual([['source']])
      expect(error.message).toContain('a card number is not allowed in a card source')
      expect(JSON.stringify(error)).not.toContain(number)
    }
    expect(CreateCardInputSchema.parse({ source: 'tok_visa' })).toEqual({ source: 'tok_visa' })
  })

  it('still accepts other numbers: order ids, phone-like runs, a Luhn-invalid 16 digits', () => {
    const text = 'order 1234-5678, ref 4242424242424241, 12 Main St'
    expect(CardDetailsSchema.safeParse({ ...valid, holderName: 'Jenny Rosen 2nd' }).success).toBe(
      true,
    )
    expect(CardUpdateSchema.parse({ address: { line1: text }, metadata: { note: text } })).toEqual({
      address: { line1: text },
      metadata: { note: text },
    })
  })
})
