import { inspect } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { luhnCheckDigit } from './__fixtures__/luhn.js'
import {
  AuthenticationError,
  CARDPORT_ERROR_CODES,
  CardDeclinedError,
  CardInvalidError,
  CardNotFoundError,
  CardportError,
  type CardportErrorCode,
  ConflictError,
  IdempotencyConflictError,
  InvalidRequestError,
  isCardportError,
  isOwnerDeleted,
  OwnerNotFoundError,
  PermissionError,
  ProviderUnavailableError,
  RateLimitedError,
  UnsupportedOperationError,
} from './errors.js'

describe('CardportError', () => {
  it('carries its code, message and options', () => {
    const cause = new Error('socket hang up')
    const error = new CardportError('card_declined', 'The card was declined.', {
      provider: 'stripe',
      status: 402,
      providerCode: 'card_declined',
      declineCode: 'insufficient_funds',
      requestId: 'req_123',
      details: { param: 'source' },
      cause,
    })
    expect(error).toBeInstanceOf(Error)
    expect(error.name).toBe('CardportError')
    expect(error.code).toBe('card_declined')
    expect(error.message).toBe('The card was declined.')
    expect(error.provider).toBe('stripe')
    expect(error.status).toBe(402)
    expect(error.providerCode).toBe('card_declined')
    expect(error.declineCode).toBe('insufficient_funds')
    expect(error.requestId).toBe('req_123')
    expect(error.details).toEqual({ param: 'source' })
    expect(error.cause).toBe(cause)
    expect(error.retryable).toBe(false)
  })

  it('has no cause property when none was given', () => {
    expect('cause' in new CardportError('conflict', 'x')).toBe(false)
  })

  it.each(
    CARDPORT_ERROR_CODES.map((code) => [
      code,
      code === 'rate_limited' || code === 'provider_unavailable',
    ]),
  )('%s is retryable by default: %s', (code, retryable) => {
    expect(new CardportError(code, 'x').retryable).toBe(retryable)
  })

  it('lets the caller override the default', () => {
    expect(new CardportError('provider_unavailable', 'x', { retryable: false }).retryable).toBe(
      false,
    )
    expect(new CardportError('conflict', 'x', { retryable: true }).retryable).toBe(true)
  })

  it('keeps retryAfterMs for rate limits', () => {
    const error = new RateLimitedError('Slow down.', { retryAfterMs: 1500 })
    expect(error.retryAfterMs).toBe(1500)
    expect(error.retryable).toBe(true)
  })
})

describe('subclasses', () => {
  it.each([
    [CardDeclinedError, 'card_declined', 'CardDeclinedError'],
    [CardInvalidError, 'card_invalid', 'CardInvalidError'],
    [CardNotFoundError, 'card_not_found', 'CardNotFoundError'],
    [OwnerNotFoundError, 'owner_not_found', 'OwnerNotFoundError'],
    [ConflictError, 'conflict', 'ConflictError'],
    [AuthenticationError, 'authentication', 'AuthenticationError'],
    [PermissionError, 'permission', 'PermissionError'],
    [RateLimitedError, 'rate_limited', 'RateLimitedError'],
    [ProviderUnavailableError, 'provider_unavailable', 'ProviderUnavailableError'],
    [InvalidRequestError, 'invalid_request', 'InvalidRequestError'],
    [UnsupportedOperationError, 'unsupported_operation', 'UnsupportedOperationError'],
    [IdempotencyConflictError, 'idempotency_conflict', 'IdempotencyConflictError'],
  ] as const)('%o sets code %s', (ErrorClass, code, name) => {
    const error = new ErrorClass('message', { provider: 'memory' })
    expect(error.code).toBe(code)
    expect(error.name).toBe(name)
    expect(error.provider).toBe('memory')
    expect(error).toBeInstanceOf(CardportError)
    expect(isCardportError(error, code)).toBe(true)
  })

  it('covers every code', () => {
    expect(CARDPORT_ERROR_CODES).toHaveLength(12)
  })
})

describe('isCardportError', () => {
  const declined = new CardDeclinedError('declined')

  it('recognizes any cardport error without codes', () => {
    expect(isCardportError(declined)).toBe(true)
    expect(isCardportError(new CardportError('conflict', 'x'))).toBe(true)
  })

  it('matches one of the given codes', () => {
    expect(isCardportError(declined, 'card_declined')).toBe(true)
    expect(isCardportError(declined, 'conflict', 'card_declined')).toBe(true)
    expect(isCardportError(declined, 'conflict')).toBe(false)
    expect(isCardportError(declined, 'rate_limited', 'provider_unavailable')).toBe(false)
  })

  it('refuses what is not a cardport error', () => {
    for (const value of [null, undefined, 'card_declined', 42, new Error('x'), {}]) {
      expect(isCardportError(value)).toBe(false)
    }
  })

  it('refuses a forged object that has a code but lacks the brand', () => {
    const forged = Object.assign(new Error('forged'), {
      name: 'CardportError',
      code: 'card_declined' satisfies CardportErrorCode,
      retryable: false,
    })
    expect(isCardportError(forged)).toBe(false)
    expect(isCardportError(forged, 'card_declined')).toBe(false)
    expect(isCardportError({ ...declined })).toBe(false)
  })

  it('recognizes an error from another copy of the library by its shared brand', () => {
    // Another copy of @cardport/core has its own classes but marks errors with the same
    // registered symbol, so its errors are recognized without instanceof.
    const foreign = Object.defineProperty(
      Object.assign(new Error('declined elsewhere'), { code: 'card_declined' }),
      Symbol.for('@cardport/core/error'),
      { value: true },
    )
    expect(foreign).not.toBeInstanceOf(CardportError)
    expect(isCardportError(foreign, 'card_declined')).toBe(true)
    expect(isCardportError(foreign, 'conflict')).toBe(false)
  })
})

describe('toJSON', () => {
  it('gives the public fields and no stack, cause or details', () => {
    const error = new InvalidRequestError('Invalid card: last4: last4 is exactly four digits', {
      provider: 'stripe',
      status: 400,
      requestId: 'req_9',
      issues: [{ path: ['last4'], message: 'last4 is exactly four digits' }],
      details: { internal: 'x' },
      cause: new Error('inner'),
    })
    const json = error.toJSON()
    expect(json).toEqual({
      name: 'InvalidRequestError',
      code: 'invalid_request',
      message: 'Invalid card: last4: last4 is exactly four digits',
      provider: 'stripe',
      status: 400,
      providerCode: undefined,
      declineCode: undefined,
      requestId: 'req_9',
      retryable: false,
      retryAfterMs: undefined,
      issues: [{ path: ['last4'], message: 'last4 is exactly four digits' }],
    })
    expect('stack' in json).toBe(false)
    expect('cause' in json).toBe(false)
    const serialized = JSON.stringify(error)
    expect(serialized).not.toContain('inner')
    expect(serialized).not.toContain('"stack"')
  })

  it("gives a decline's codes and a rate limit's wait", () => {
    const declined = new CardDeclinedError('The card was declined.', {
      providerCode: 'card_declined',
      declineCode: 'insufficient_funds',
    })
    expect(declined.toJSON()).toMatchObject({
      providerCode: 'card_declined',
      declineCode: 'insufficient_funds',
    })
    const limited = new RateLimitedError('Slow down.', { retryAfterMs: 1500 })
    expect(limited.toJSON()).toMatchObject({ retryable: true, retryAfterMs: 1500 })
  })
})

describe('isOwnerDeleted', () => {
  it('is true for owner_not_found with details.ownerDeleted true', () => {
    const error = new OwnerNotFoundError('gone', { details: { ownerDeleted: true } })
    expect(isOwnerDeleted(error)).toBe(true)
  })

  it('is false for an owner the provider merely does not know', () => {
    expect(isOwnerDeleted(new OwnerNotFoundError('unknown'))).toBe(false)
    expect(isOwnerDeleted(new OwnerNotFoundError('unknown', { details: {} }))).toBe(false)
  })

  it('is false for ownerDeleted that is not true, or on another code', () => {
    for (const ownerDeleted of ['yes', 1, 'false']) {
      const error = new OwnerNotFoundError('gone?', { details: { ownerDeleted } })
      expect(isOwnerDeleted(error), String(ownerDeleted)).toBe(false)
    }
    // A card not found says nothing of its owner, whatever its details hold.
    const card = new CardNotFoundError('no card', { details: { ownerDeleted: true } })
    expect(isOwnerDeleted(card)).toBe(false)
  })

  it('is false for what is not a cardport error', () => {
    const forged = Object.assign(new Error('gone'), {
      code: 'owner_not_found',
      details: { ownerDeleted: true },
    })
    expect(isOwnerDeleted(forged)).toBe(false)
    expect(isOwnerDeleted(null)).toBe(false)
  })
})

describe('redaction in the constructor', () => {
  const number = '4242424242424242'
  const key = 'sk_live_51HqLyjWDarjtT1zdp7dcXYZ'

  it('removes a card number and a live key from the message', () => {
    const error = new CardportError(
      'authentication',
      `Card ${number} refused for key ${key} (also 4242 4242 4242 4242)`,
    )
    expect(error.message).toBe('Card •••• 4242 refused for key sk_live_[redacted] (also •••• 4242)')
    expect(String(error)).not.toContain(number)
    expect(error.stack ?? '').not.toContain(number)
    expect(error.stack ?? '').not.toContain(key)
  })

  it("masks a card number in the provider's code and decline code, which loggers print", () => {
    // Short vocabulary words from the provider's answer: an answer that echoed the form in them
    // (a gateway in the way, a hostile server) would put the number in every log line.
    const error = new CardDeclinedError('declined', {
      providerCode: `invalid_number_${number}`,
      declineCode: '4000 0566 5566 5556',
    })
    expect(error.providerCode).toBe('invalid_number_•••• 4242')
    expect(error.declineCode).toBe('•••• 5556')
    expect(inspect(error)).not.toMatch(/4242424242424242|4000 0566/)
    expect(JSON.stringify(error.toJSON())).not.toMatch(/4242424242424242|4000 0566/)
    // Codes without a number stay as the provider sent them.
    const plain = new CardDeclinedError('declined', {
      providerCode: 'card_declined',
      declineCode: 'insufficient_funds',
    })
    expect([plain.providerCode, plain.declineCode]).toEqual(['card_declined', 'insufficient_funds'])
  })

  it("removes a key, a webhook secret or an Authorization value from the provider's code and decline code", () => {
    // Found by the reliability suite: a Stripe answer whose `code` quoted the key kept it in the
    // mapped error's providerCode, which toJSON() and loggers print.
    const error = new CardDeclinedError('declined', {
      providerCode: `refused ${key}`,
      declineCode: 'whsec_0123456789abcdefABCDEF Basic YWstdGVzdDo=',
    })
    expect(error.providerCode).toBe('refused sk_live_[redacted]')
    expect(error.declineCode).toBe('whsec_[redacted] Basic [redacted]')
    expect(JSON.stringify(error.toJSON())).not.toMatch(/51HqLyj|0123456789abcdef|YWstdGVzdDo/)
    expect(inspect(error)).not.toMatch(/51HqLyj|0123456789abcdef|YWstdGVzdDo/)
  })

  it('removes them from the issues too, keeping the paths', () => {
    const error = new InvalidRequestError('Invalid input', {
      issues: [
        { path: ['source', 'number'], message: `${number} is not accepted` },
        { path: ['apiKey'], message: `key ${key} is not allowed here` },
      ],
    })
    expect(error.issues).toEqual([
      { path: ['source', 'number'], message: '•••• 4242 is not accepted' },
      { path: ['apiKey'], message: 'key sk_live_[redacted] is not allowed here' },
    ])
    const serialized = JSON.stringify(error)
    expect(serialized).not.toContain(number)
    expect(serialized).not.toContain('51HqLyjWDarjtT1zdp7dcXYZ')
  })

  it('removes them from the details too, at any depth, keys included', () => {
    const error = new CardportError('invalid_request', 'Refused', {
      details: {
        param: `metadata[${number}]`,
        additional: `use another key than ${key}`,
        extras: { [number]: ['ok', { said: `card 4242-4242-4242-4242` }], count: 2 },
        ownerDeleted: true,
      },
    })
    expect(error.details).toEqual({
      param: 'metadata[•••• 4242]',
      additional: 'use another key than sk_live_[redacted]',
      extras: { '•••• 4242': ['ok', { said: 'card •••• 4242' }], count: 2 },
      ownerDeleted: true,
    })
  })

  it('copies eight levels of objects in the details, the details object the first, and cuts the ninth', () => {
    const nest = (depth: number, leaf: unknown): unknown =>
      depth === 0 ? leaf : { echo: nest(depth - 1, leaf) }
    const kept = new CardportError('invalid_request', 'Refused', {
      details: { raw: nest(6, { number: '4242 4242 4242 4242' }) },
    })
    expect(kept.details).toEqual({ raw: nest(6, { number: '•••• 4242' }) })
    const cut = new CardportError('invalid_request', 'Refused', {
      details: { raw: nest(7, { number: '4242 4242 4242 4242' }) },
    })
    expect(cut.details).toEqual({ raw: nest(7, '[nested too deep]') })
  })

  it('masks a card number given as a number in the details, and leaves other numbers', () => {
    const error = new CardportError('invalid_request', 'Refused', {
      details: {
        echoed: [4242424242424242, 4242424242424242n, 9792100000000050],
        at: 1700000000004,
        amount: 1999,
        ratio: 0.5,
      },
    })
    expect(error.details).toEqual({
      echoed: ['•••• 4242', '•••• 4242', '•••• 0050'],
      at: 1700000000004,
      amount: 1999,
      ratio: 0.5,
    })
  })

  it('masks the text inside maps, sets, URLs, forms, errors and class instances in the details', () => {
    class Attempt {
      constructor(readonly body: string) {}
    }
    const at = new Date(0)
    const bytes = Buffer.from('binary')
    const error = new CardportError('invalid_request', 'Refused', {
      details: {
        map: new Map([[number, { said: `card ${number}` }]]),
        set: new Set([`key ${key}`]),
        url: new URL(`https://api.example.test/cards?number=${number}`),
        form: new URLSearchParams({ number, exp_month: '12' }),
        error: new Error(`declined ${number}`),
        attempt: new Attempt(`number=${number}`),
        at,
        bytes,
      },
    })
    const details = error.details!
    expect(details.map).toEqual(new Map([['•••• 4242', { said: 'card •••• 4242' }]]))
    expect(details.set).toEqual(new Set(['key sk_live_[redacted]']))
    expect(details.url).toBe('https://api.example.test/cards?number=•••• 4242')
    expect(details.form).toBe('number=•••• 4242&exp_month=12')
    expect(details.error).toEqual({ name: 'Error', message: 'declined •••• 4242' })
    expect(details.attempt).toEqual({ body: 'number=•••• 4242' })
    expect(details.at).toBe(at)
    expect(details.bytes).toBe(bytes)
    const printed = inspect(error, { depth: null })
    expect(printed).not.toContain(number)
    expect(printed).not.toContain(key)
  })

  it('never lets a card number through the details to a logged error (property)', () => {
    // Luhn-valid numbers of a card network, as typed: plain, or grouped by four.
    const cardNumberArb = fc
      .tuple(
        fc.constantFrom('4', '51', '55', '2221', '34', '6011'),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 }),
        fc.constantFrom('', ' ', '-', '\u00a0'),
      )
      .map(([prefix, digits, separator]) => {
        const body = (prefix + digits.join('')).slice(0, 15)
        const number = body + luhnCheckDigit(body)
        return { number, typed: (number.match(/.{1,4}/g) ?? []).join(separator) }
      })
    const placeArb = fc.constantFrom(
      (text: string) => ({ param: text }),
      (text: string) => ({ extras: { field: text } }),
      (text: string) => ({ extras: { [text]: 'value' } }),
      (text: string) => ({ list: [1, `before ${text} after`] }),
    )
    fc.assert(
      fc.property(cardNumberArb, placeArb, ({ number, typed }, place) => {
        const error = new CardportError('invalid_request', 'Refused', { details: place(typed) })
        const logged = `${inspect(error, { depth: 10 })}${JSON.stringify({ ...error })}`
        expect(logged.replace(/[\s\u00a0-]/g, '')).not.toContain(number)
      }),
    )
  })
})
