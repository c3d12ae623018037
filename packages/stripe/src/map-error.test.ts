import { inspect } from 'node:util'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { mapStripeError } from './map-error.js'
import { STRIPE_SDKS } from './test-harness.js'

/**
 * The raw error the SDK builds from Stripe's answer (`error` of the body, plus the status,
 * headers and request id), for the cases the emulator cannot produce or that need exact input.
 */
function raw(
  statusCode: number,
  error: Record<string, unknown>,
  headers: Record<string, string> = {},
): Record<string, unknown> {
  return { statusCode, headers, requestId: 'req_cardport123', ...error }
}

afterEach(() => {
  vi.useRealTimers()
})

describe.each(Object.entries(STRIPE_SDKS))('mapStripeError (%s)', (_sdk, Stripe) => {
  const generate = (input: Record<string, unknown>) => Stripe.errors.StripeError.generate(input)

  it.each([
    ['generic_decline', 'card_declined', 'Your card was declined.'],
    ['insufficient_funds', 'card_declined', 'Your card has insufficient funds.'],
    ['lost_card', 'card_declined', 'Your card was declined.'],
    ['stolen_card', 'card_declined', 'Your card was declined.'],
  ])('a decline (%s) is card_declined with its decline code', (declineCode, code, message) => {
    const error = generate(
      raw(402, { type: 'card_error', code, decline_code: declineCode, message }),
    )
    expect(mapStripeError(error)).toMatchObject({
      code: 'card_declined',
      provider: 'stripe',
      status: 402,
      providerCode: 'card_declined',
      declineCode,
      requestId: 'req_cardport123',
      retryable: false,
      cause: error,
    })
  })

  it('a processing error is a decline that may succeed if retried', () => {
    const error = generate(
      raw(402, {
        type: 'card_error',
        code: 'processing_error',
        decline_code: 'processing_error',
        message: 'An error occurred while processing your card. Try again in a little bit.',
      }),
    )
    expect(mapStripeError(error)).toMatchObject({
      code: 'card_declined',
      providerCode: 'processing_error',
      retryable: true,
    })
  })

  it.each([
    ['incorrect_number', 'number'],
    ['invalid_number', 'number'],
    ['invalid_expiry_month', 'exp_month'],
    ['invalid_expiry_year', 'exp_year'],
    ['invalid_cvc', 'cvc'],
    ['incorrect_cvc', 'cvc'],
    ['expired_card', 'exp_month'],
    ['incorrect_zip', 'address_zip'],
  ])('%s is card_invalid, naming the parameter', (code, param) => {
    const error = generate(raw(402, { type: 'card_error', code, param, message: 'Bad card.' }))
    expect(mapStripeError(error)).toMatchObject({
      code: 'card_invalid',
      providerCode: code,
      details: { param },
      cause: error,
    })
    // stripe 23 sets `decline_code: ''` on a card error without one; stripe 16 leaves it out.
    expect(mapStripeError(error)?.declineCode).toBeUndefined()
  })

  it('a card an external account cannot take (invalid_card_type) is card_invalid', () => {
    const error = generate(
      raw(400, {
        type: 'invalid_request_error',
        code: 'invalid_card_type',
        param: 'external_account',
        message:
          'The card provided as an external account is not supported for payouts. Provide a non-prepaid debit card instead.',
      }),
    )
    expect(mapStripeError(error)).toMatchObject({ code: 'card_invalid', status: 400 })
  })

  it.each([
    ["No such customer: 'cus_missing'", 'id', 'owner_not_found'],
    ["No such customer: 'cus_missing'", 'customer', 'owner_not_found'],
    ["No such account: 'acct_missing'", 'account', 'owner_not_found'],
    ["No such source: 'card_missing'", 'id', 'card_not_found'],
    ["No such source: 'card_missing'", 'default_source', 'card_not_found'],
    ["No such external account: 'card_missing'", 'id', 'card_not_found'],
    ["No such token: 'tok_missing'", 'source', 'invalid_request'],
    ["No such token: 'tok_missing'", 'external_account', 'invalid_request'],
    // Worded otherwise (another API version, a proxy): the parameter alone says it was a token.
    ...['source', 'card', 'external_account', 'token'].map((param) => [
      "The resource 'tok_missing' could not be found.",
      param,
      'invalid_request',
    ]),
    // A list cursor naming a card deleted since: no card was asked for.
    ["No such source: 'card_gone'", 'starting_after', 'invalid_request'],
    ["No such external account: 'card_gone'", 'starting_after', 'invalid_request'],
    ["No such source: 'card_gone'", 'ending_before', 'invalid_request'],
  ])('resource_missing "%s" (param %s) is %s', (message, param, expected) => {
    const status = param === 'id' ? 404 : 400
    const error = generate(
      raw(status, { type: 'invalid_request_error', code: 'resource_missing', param, message }),
    )
    expect(mapStripeError(error)).toMatchObject({
      code: expected,
      status,
      providerCode: 'resource_missing',
      requestId: 'req_cardport123',
    })
  })

  it('any other 404 is card_not_found', () => {
    const error = generate(
      raw(404, { type: 'invalid_request_error', message: 'Resource not found.' }),
    )
    expect(mapStripeError(error)?.code).toBe('card_not_found')
  })

  it('deleting the default external account of a currency is a conflict that says what to do', () => {
    const error = generate(
      raw(400, {
        type: 'invalid_request_error',
        message:
          'You cannot delete the default external account for your default currency. Please make another external account the default using the `default_for_currency` param, and then delete this one.',
      }),
    )
    const mapped = mapStripeError(error)
    expect(mapped).toMatchObject({ code: 'conflict', status: 400, retryable: false })
    expect(mapped?.message).toContain(
      'make another card of the same currency the default with setDefaultCard, then delete this one',
    )
  })

  it('any other invalid request is invalid_request, naming the parameter', () => {
    const error = generate(
      raw(400, {
        type: 'invalid_request_error',
        code: 'parameter_unknown',
        param: 'colour',
        message: 'Received unknown parameter: colour',
      }),
    )
    expect(mapStripeError(error)).toMatchObject({
      code: 'invalid_request',
      providerCode: 'parameter_unknown',
      details: { param: 'colour' },
    })
  })

  it('an idempotency error is idempotency_conflict; a key still in use may be retried', () => {
    const mismatch = generate(
      raw(400, {
        type: 'idempotency_error',
        message:
          'Keys for idempotent requests can only be used with the same parameters they were first used with.',
      }),
    )
    expect(mapStripeError(mismatch)).toMatchObject({
      code: 'idempotency_conflict',
      providerCode: 'idempotency_error',
      retryable: false,
    })
    const inUse = generate(
      raw(409, {
        type: 'idempotency_error',
        code: 'idempotency_key_in_use',
        message: 'There is currently another in-progress request using this Idempotent Key.',
      }),
    )
    expect(mapStripeError(inUse)).toMatchObject({
      code: 'idempotency_conflict',
      providerCode: 'idempotency_key_in_use',
      retryable: true,
    })
  })

  it('401 is authentication and 403 permission, whatever the error type says', () => {
    const unauthorized = generate(
      raw(401, {
        type: 'invalid_request_error',
        code: 'api_key_invalid',
        message: 'Invalid API Key provided.',
      }),
    )
    expect(mapStripeError(unauthorized)).toMatchObject({ code: 'authentication', status: 401 })
    const forbidden = generate(
      raw(403, {
        type: 'invalid_request_error',
        message: 'The provided key does not have access.',
      }),
    )
    expect(mapStripeError(forbidden)).toMatchObject({ code: 'permission', status: 403 })
  })

  it("an error in a 2xx answer, or a proxy's 3xx, is provider_unavailable: Stripe sends none, so the answer is broken", () => {
    for (const status of [200, 201, 299, 302, 399]) {
      for (const error of [
        {},
        { message: 'x' },
        { type: 'invalid_request_error', message: 'x' },
        { type: 'invalid_request_error', code: 'resource_missing', message: 'x' },
      ]) {
        expect(mapStripeError(generate(raw(status, error))), `${status}`).toMatchObject({
          code: 'provider_unavailable',
          status,
          retryable: true,
        })
      }
    }
  })

  it('a 500 is provider_unavailable whatever its body says, a missing resource included', () => {
    const error = generate(
      raw(500, { type: 'invalid_request_error', code: 'resource_missing', message: 'x' }),
    )
    expect(mapStripeError(error)).toMatchObject({
      code: 'provider_unavailable',
      status: 500,
      providerCode: 'resource_missing',
      retryable: true,
    })
  })

  it('429 is rate_limited with Retry-After in milliseconds', () => {
    const error = generate(
      raw(
        429,
        { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests.' },
        { 'retry-after': '7' },
      ),
    )
    expect(mapStripeError(error)).toMatchObject({
      code: 'rate_limited',
      status: 429,
      retryAfterMs: 7000,
      retryable: true,
    })
    const noHeader = generate(
      raw(429, { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many.' }),
    )
    expect(mapStripeError(noHeader)?.retryAfterMs).toBeUndefined()
  })

  it("a 503's Retry-After is honoured too, as RFC 9110 has it", () => {
    const error = generate(
      raw(503, { type: 'api_error', message: 'Try again later.' }, { 'retry-after': '5' }),
    )
    expect(mapStripeError(error)).toMatchObject({
      code: 'provider_unavailable',
      status: 503,
      retryAfterMs: 5000,
      retryable: true,
    })
  })

  it('reads a Retry-After given as an HTTP date', () => {
    vi.useFakeTimers({ now: new Date('2025-03-14T12:00:00Z') })
    const error = generate(
      raw(
        429,
        { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests.' },
        { 'retry-after': 'Fri, 14 Mar 2025 12:00:30 GMT' },
      ),
    )
    expect(mapStripeError(error)?.retryAfterMs).toBe(30_000)
  })

  it('reads a Retry-After HTTP date already past as no delay', () => {
    vi.useFakeTimers({ now: new Date('2025-03-14T12:00:00Z') })
    const error = generate(
      raw(
        429,
        { type: 'invalid_request_error', code: 'rate_limit', message: 'Too many requests.' },
        { 'retry-after': 'Fri, 14 Mar 2025 11:59:30 GMT' },
      ),
    )
    expect(mapStripeError(error)?.retryAfterMs).toBe(0)
  })

  it('a lock timeout (409) is rate_limited', () => {
    const error = generate(
      raw(409, {
        type: 'invalid_request_error',
        code: 'lock_timeout',
        message: 'This object cannot be accessed right now.',
      }),
    )
    expect(mapStripeError(error)).toMatchObject({ code: 'rate_limited', status: 409 })
  })

  it.each([500, 502, 503])('%i is provider_unavailable and retryable', (status) => {
    const error = generate(raw(status, { type: 'api_error', message: 'An unknown error occurred' }))
    expect(mapStripeError(error)).toMatchObject({
      code: 'provider_unavailable',
      status,
      retryable: true,
      requestId: 'req_cardport123',
    })
  })

  it('never lets a card number or an API key through to the message', () => {
    const error = generate(
      raw(400, {
        type: 'invalid_request_error',
        message: 'Invalid string: 4242424242424242 with key sk_test_4eC39HqLyjWDarjtT1zdp7dc',
      }),
    )
    const message = mapStripeError(error)?.message ?? ''
    expect(message).not.toContain('4242424242424242')
    expect(message).not.toContain('sk_test_4eC39HqLyjWDarjtT1zdp7dc')
  })

  it('masks what the answer quoted in every field of the cause, not only its message', () => {
    // `console.error(error)` prints the cause with its `raw` error object: every field Stripe
    // (or a gateway in the way) put in the body's `error`, not only `message`.
    const error = generate(
      raw(400, {
        type: 'invalid_request_error',
        message: 'No such source.',
        user_message: 'No card 4242 4242 4242 4242 here',
        doc_url: 'https://example.test/?key=sk_live_4eC39HqLyjWDarjtT1zdp7dc',
        echo: { form: 'source[number]=4000056655665556&source[cvc]=123', number: 5555555555554444 },
      }),
    )
    const text = inspect(mapStripeError(error), { depth: 20 })
    expect(text).not.toMatch(/4242 4242 4242 4242|4000056655665556|5555555555554444/)
    expect(text).not.toContain('sk_live_4eC39HqLyjWDarjtT1zdp7dc')
    expect(text).toContain('•••• 4242')
  })
  it("masks the cause's stack, read before the mapping as a logger would have", () => {
    // Node builds an error's stack on first read, from the message of that moment: read before
    // the masking, it keeps the number unless the stack is masked too.
    const error = generate(
      raw(400, { type: 'invalid_request_error', message: "No such token: '4242424242424242'" }),
    )
    expect(error.stack).toContain('4242424242424242')
    const cause = mapStripeError(error)?.cause as Error
    expect(cause).toBe(error)
    expect(cause.stack).not.toContain('4242424242424242')
    expect(cause.stack).toContain('•••• 4242')
  })
})

describe('mapStripeError beyond the SDK error classes', () => {
  it('maps the SDK connection error to provider_unavailable', () => {
    const Stripe = STRIPE_SDKS['stripe 23']
    const errors = Stripe.errors as unknown as Record<string, new (raw: object) => Error>
    const error = new errors.StripeConnectionError!({
      message: 'An error occurred with our connection to Stripe.',
    })
    expect(mapStripeError(error)).toMatchObject({
      code: 'provider_unavailable',
      retryable: true,
      cause: error,
    })
  })

  it('masks the body of an answer that is no JSON, which the SDK keeps whole in the cause', () => {
    // A page that quotes the request path (a framework's "Cannot GET …" behind a wrong
    // STRIPE_API_BASE), where a card number was passed as a card id: the SDK keeps the body as
    // `raw.exception.rawBody`, which a logged error prints.
    const body = '<html><pre>Cannot GET /v1/customers/cus_1/sources/4000056655665556</pre></html>'
    const exception = Object.assign(new SyntaxError('Unexpected token'), { rawBody: body })
    for (const Stripe of Object.values(STRIPE_SDKS)) {
      const errors = Stripe.errors as unknown as Record<string, new (raw: object) => Error>
      const error = new errors.StripeAPIError!({
        message: 'Invalid JSON received from the Stripe API',
        exception,
      })
      const mapped = mapStripeError(error)
      expect(mapped).toMatchObject({ code: 'provider_unavailable', cause: error })
      const text = inspect(mapped, { depth: 20 })
      expect(text).not.toContain('4000056655665556')
      expect(text).toContain('/sources/•••• 5556')
    }
  })

  it('leaves errors that did not come from the SDK to the core', () => {
    expect(mapStripeError(new TypeError('boom'))).toBeUndefined()
    expect(mapStripeError({ type: 'card_error' })).toBeUndefined()
    expect(mapStripeError('Stripe')).toBeUndefined()
    expect(mapStripeError(null)).toBeUndefined()
  })
})
