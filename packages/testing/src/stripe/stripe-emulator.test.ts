import { runInNewContext } from 'node:vm'
import { isCardportError } from '@cardport/core'
import { getResponse } from 'msw'
import Stripe from 'stripe'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { rejection, thrownBy } from '../__fixtures__/thrown.js'
import { stripeEmulator } from './stripe-emulator.js'
import { StripeRequestError } from './stripe-errors.js'
import {
  lastResponseHeader,
  rawStripe,
  STRIPE_CLIENTS,
  useStripeEmulator,
} from './stripe-test-harness.js'

/** The emulator's clock when a test sets it (the idempotency window), the real time otherwise. */
let clock: Date | undefined
const emulator = useStripeEmulator({ now: () => clock ?? new Date() })
afterEach(() => {
  vi.useRealTimers()
  clock = undefined
})

describe('API keys, errors and request ids', () => {
  it('answers a request without an API key with Stripe 401 body and a Request-Id', async () => {
    const response = await rawStripe('GET', '/v1/customers', { key: null })
    expect(response.status).toBe(401)
    expect(response.headers.get('request-id')).toMatch(/^req_[0-9A-Za-z]{14}$/)
    expect(response.body).toEqual({
      error: {
        type: 'invalid_request_error',
        message:
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        request_log_url: expect.stringMatching(
          new RegExp(
            `^https://dashboard.stripe.com/test/logs/${response.headers.get('request-id')}\\?t=\\d+$`,
          ),
        ),
      },
    })
  })

  it('accepts Basic auth with the key as user name', async () => {
    const response = await rawStripe('POST', '/v1/customers', {
      key: null,
      headers: { Authorization: `Basic ${btoa('sk_test_abc:')}` },
      body: 'email=a%40example.com',
    })
    expect(response.status).toBe(200)
    expect(response.body.email).toBe('a@example.com')
  })

  it('refuses Basic credentials that are not base64 with 401, not a server error', async () => {
    for (const value of ['%%%', 'c2tfdGVzdF9hYmM6=']) {
      const response = await rawStripe('GET', '/v1/customers', {
        key: null,
        headers: { Authorization: `Basic ${value}` },
      })
      expect(response.status).toBe(401)
      expect(response.headers.get('request-id')).toMatch(/^req_/)
      expect(response.body.error).toMatchObject({
        type: 'invalid_request_error',
        code: 'api_key_invalid',
      })
    }
  })

  it('refuses a live key with a clear message that does not echo the key', async () => {
    const stripe = STRIPE_CLIENTS[0].create('sk_live_supersecret123')
    const error = await rejection(stripe.customers.create({}))
    expect(error).toBeInstanceOf(Stripe.errors.StripeAuthenticationError)
    expect(error.statusCode).toBe(401)
    expect(error.message).toBe(
      'Live-mode API keys (sk_live_…, rk_live_…, pk_live_…) are refused: the Stripe emulator runs in test mode only. Use a test key (sk_test_…).',
    )
    expect(JSON.stringify(error.raw)).not.toContain('supersecret')
    expect(emulator.state.customers()).toEqual([])
  })

  it('refuses a key that is not a Stripe key', async () => {
    const response = await rawStripe('GET', '/v1/customers', { key: 'hunter2' })
    expect(response.status).toBe(401)
    expect(response.body.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'api_key_invalid',
    })
    expect(JSON.stringify(response.body)).not.toContain('hunter2')
  })

  it('answers an unknown path with 404 and an unknown resource with the full error shape', async () => {
    const unknown = await rawStripe('GET', '/v1/charges')
    expect(unknown.status).toBe(404)
    expect(unknown.headers.get('request-id')).toMatch(/^req_/)
    expect(unknown.body.error).toMatchObject({
      type: 'invalid_request_error',
      message:
        'Unrecognized request URL (GET: /v1/charges). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.',
    })
    const wrongMethod = await rawStripe('PUT', '/v1/customers')
    expect(wrongMethod.status).toBe(404)

    const missing = await rawStripe('GET', '/v1/customers/cus_doesnotexist')
    const requestId = missing.headers.get('request-id')
    expect(missing.status).toBe(404)
    expect(missing.body).toEqual({
      error: {
        type: 'invalid_request_error',
        code: 'resource_missing',
        doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
        message: "No such customer: 'cus_doesnotexist'",
        param: 'id',
        request_log_url: expect.stringContaining(`/test/logs/${requestId}?t=`),
      },
    })
  })

  it('reads path parameters decoded once: an id holding % is 404 under its literal id', async () => {
    const unknown = await rawStripe('GET', '/v1/customers/cus_%25zz')
    expect(unknown.status).toBe(404)
    expect(unknown.body.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'resource_missing',
      message: "No such customer: 'cus_%zz'",
      param: 'id',
    })
    const customer = emulator.seed.customer()
    for (const base of ['sources', 'cards']) {
      const card = await rawStripe('GET', `/v1/customers/${customer.id}/${base}/card_%2541`)
      expect(card.status).toBe(404)
      expect(card.body.error).toMatchObject({
        code: 'resource_missing',
        message: `No such ${base === 'cards' ? 'card' : 'source'}: 'card_%41'`,
      })
    }
  })

  it('refuses an unknown parameter as Stripe OpenAPI says', async () => {
    const response = await rawStripe('POST', '/v1/customers', { body: 'colour=blue' })
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({ type: 'invalid_request_error', param: 'colour' })
    expect(emulator.state.customers()).toEqual([])
  })
})

describe('a card number sent where an id, a name or a key goes', () => {
  const N = '4242424242424242'
  const MASKED = '•••• 4242'
  // Each request quotes what it was sent back in its error: the number must come back masked.
  const cases: Array<{
    what: string
    send: (ids: { customer: string }) => Promise<{ status: number; body: Record<string, unknown> }>
    status: number
    message: string
    param?: string
  }> = [
    {
      what: 'a customer id',
      send: () => rawStripe('GET', `/v1/customers/${N}`),
      status: 404,
      message: `No such customer: '${MASKED}'`,
      param: 'id',
    },
    {
      what: 'a customer id with encoded spaces',
      send: () => rawStripe('GET', '/v1/customers/4242%204242%204242%204242'),
      status: 404,
      message: `No such customer: '${MASKED}'`,
    },
    {
      what: 'a source id',
      send: ({ customer }) => rawStripe('GET', `/v1/customers/${customer}/sources/${N}`),
      status: 404,
      message: `No such source: '${MASKED}'`,
    },
    {
      what: 'a starting_after cursor',
      send: ({ customer }) =>
        rawStripe('GET', `/v1/customers/${customer}/sources?starting_after=${N}`),
      status: 400,
      message: `No such source: '${MASKED}'`,
      param: 'starting_after',
    },
    {
      what: 'an unknown parameter name',
      send: ({ customer }) => rawStripe('POST', `/v1/customers/${customer}`, { body: `x${N}=1` }),
      status: 400,
      message: `Received unknown parameter: x${MASKED}`,
      param: `x${MASKED}`,
    },
    {
      what: 'a metadata key over 40 characters',
      send: ({ customer }) =>
        rawStripe('POST', `/v1/customers/${customer}`, {
          body: `metadata[${N}${'x'.repeat(30)}]=1`,
        }),
      status: 400,
      message: `Metadata keys can have up to 40 characters; the key '${MASKED}${'x'.repeat(30)}' has 46.`,
      param: `metadata[${MASKED}${'x'.repeat(30)}]`,
    },
    {
      what: 'a default_source',
      send: ({ customer }) =>
        rawStripe('POST', `/v1/customers/${customer}`, { body: `default_source=${N}` }),
      status: 400,
      message: `No such source: '${MASKED}'`,
      param: 'default_source',
    },
    {
      what: 'a token',
      send: ({ customer }) =>
        rawStripe('POST', `/v1/customers/${customer}/sources`, { body: `source=${N}` }),
      status: 400,
      message: `No such token: '${MASKED}'`,
      param: 'source',
    },
    {
      what: 'an idempotency key reused with other parameters',
      send: async () => {
        const headers = { 'Idempotency-Key': N }
        await rawStripe('POST', '/v1/customers', { body: 'source=tok_visa', headers })
        return rawStripe('POST', '/v1/customers', { body: 'source=tok_mastercard', headers })
      },
      status: 400,
      message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${MASKED}' if you meant to execute a different request.`,
    },
    {
      what: 'a path Stripe does not serve',
      send: () => rawStripe('GET', `/v1/charges/${N}`),
      status: 404,
      message: `Unrecognized request URL (GET: /v1/charges/${MASKED}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
    },
    {
      what: 'an account id',
      send: () =>
        rawStripe('POST', `/v1/accounts/${N}/external_accounts`, {
          body: 'external_account=tok_visa_debit',
        }),
      status: 404,
      message: `No such account: '${MASKED}'`,
      param: 'account',
    },
  ]

  it.each(cases)('masks it as $what in the error and in state.requests()', async (entry) => {
    const customer = emulator.seed.customer().id
    const answer = await entry.send({ customer })
    expect(answer.status).toBe(entry.status)
    const error = answer.body.error as Record<string, unknown>
    expect(error.message).toBe(entry.message)
    if (entry.param !== undefined) expect(error.param).toBe(entry.param)
    expect(JSON.stringify(answer.body)).not.toMatch(/4242\D?4242\D?4242\D?4242/)
    const log = emulator.state.requests()
    expect(log.length).toBeGreaterThan(0)
    expect(JSON.stringify(log)).not.toMatch(/4242(\D|%20)?4242(\D|%20)?4242(\D|%20)?4242/)
  })

  it('records the masked path and idempotency key, and a random key as sent', async () => {
    await rawStripe('GET', `/v1/customers/${N}`)
    await rawStripe('POST', '/v1/customers', { headers: { 'Idempotency-Key': `order-${N}` } })
    // Its last group reads as a card number to `redact`; a UUID is kept whole all the same.
    const uuid = '3f2a1c9e-1b2c-4d3e-8f9a-424242424242'
    await rawStripe('POST', '/v1/customers', { headers: { 'Idempotency-Key': uuid } })
    expect(emulator.state.requests()).toMatchObject([
      { path: `/v1/customers/${MASKED}`, idempotencyKey: null },
      { path: '/v1/customers', idempotencyKey: `order-${MASKED}` },
      { path: '/v1/customers', idempotencyKey: uuid },
    ])
  })

  it('masks it in the errors the seed helpers throw', () => {
    const customer = emulator.seed.customer().id
    const thrown = thrownBy(() => emulator.seed.card(customer, N))
    expect(thrown).toBeInstanceOf(StripeRequestError)
    expect((thrown as StripeRequestError).message).toBe(`No such token: '${MASKED}'`)
    expect((thrown as StripeRequestError).error.message).toBe(`No such token: '${MASKED}'`)
  })
})

describe.each(STRIPE_CLIENTS)('idempotency ($name)', (client) => {
  let stripe: Stripe
  beforeAll(() => {
    stripe = client.create()
  })

  it('replays the stored response for the same key and body', async () => {
    const customer = emulator.seed.customer()
    const first = await stripe.customers.createSource(
      customer.id,
      { source: 'tok_visa' },
      { idempotencyKey: 'key-1' },
    )
    const again = await stripe.customers.createSource(
      customer.id,
      { source: 'tok_visa' },
      { idempotencyKey: 'key-1' },
    )
    expect({ ...again }).toEqual({ ...first })
    expect(lastResponseHeader(again, 'idempotent-replayed')).toBe('true')
    expect(lastResponseHeader(again, 'original-request')).toBe(first.lastResponse.requestId)
    expect(lastResponseHeader(first, 'idempotent-replayed')).toBeUndefined()
    expect(emulator.state.sources(customer.id)).toHaveLength(1)
    expect(emulator.state.requests().map((r) => [r.route, r.replayed])).toEqual([
      ['POST /v1/customers/:customer/sources', false],
      ['POST /v1/customers/:customer/sources', true],
    ])
  })

  it('refuses the same key with other parameters', async () => {
    const customer = emulator.seed.customer()
    await stripe.customers.createSource(
      customer.id,
      { source: 'tok_visa' },
      { idempotencyKey: 'k2' },
    )
    const error = await rejection(
      stripe.customers.createSource(customer.id, { source: 'tok_amex' }, { idempotencyKey: 'k2' }),
    )
    expect(error).toBeInstanceOf(Stripe.errors.StripeIdempotencyError)
    expect(error).toMatchObject({
      statusCode: 400,
      rawType: 'idempotency_error',
      message:
        "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'k2' if you meant to execute a different request.",
    })
    const otherEndpoint = await rejection(stripe.customers.create({}, { idempotencyKey: 'k2' }))
    expect(otherEndpoint).toMatchObject({ statusCode: 400, rawType: 'idempotency_error' })
    expect(otherEndpoint.message).toMatch(
      /^Keys for idempotent requests can only be used for the same endpoint/,
    )
    expect(emulator.state.sources(customer.id)).toHaveLength(1)
    expect(emulator.state.customers()).toHaveLength(1)
  })

  it('replays a decline, but not a request whose parameters failed validation', async () => {
    const customer = emulator.seed.customer()
    const declined = await rejection(
      stripe.customers.createSource(
        customer.id,
        { source: 'tok_chargeDeclined' },
        { idempotencyKey: 'd' },
      ),
    )
    const replayed = await rejection(
      stripe.customers.createSource(
        customer.id,
        { source: 'tok_chargeDeclined' },
        { idempotencyKey: 'd' },
      ),
    )
    expect(replayed).toMatchObject({ statusCode: 402, code: 'card_declined' })
    expect((replayed.headers as Record<string, string>)['idempotent-replayed']).toBe('true')
    expect(declined.requestId).not.toBe(replayed.requestId)

    // Parameters that fail validation save nothing ("If incoming parameters fail validation …
    // no idempotent result is saved"): the key can be sent again with them fixed. Metadata over
    // Stripe's limits and a missing `source` are refused by the route, an unknown parameter by
    // the OpenAPI check before it.
    type SourceParams = Parameters<Stripe['customers']['createSource']>[1]
    const refusals: Array<[SourceParams, string]> = [
      [{ source: 'tok_visa', metadata: { ['k'.repeat(41)]: 'v' } }, 'parameter_invalid'],
      [{} as SourceParams, 'parameter_missing'],
      [{ source: 'tok_visa', colour: 'blue' } as SourceParams, 'parameter_unknown'],
    ]
    for (const [index, [params, code]] of refusals.entries()) {
      const key = `v${index}`
      const invalid = await rejection(
        stripe.customers.createSource(customer.id, params, { idempotencyKey: key }),
      )
      expect(invalid).toMatchObject({ statusCode: 400, code })
      const fixed = await stripe.customers.createSource(
        customer.id,
        { source: 'tok_visa' },
        { idempotencyKey: key },
      )
      expect(fixed.object, code).toBe('card')
      expect(lastResponseHeader(fixed, 'idempotent-replayed'), code).toBeUndefined()
    }
  })

  it('replays a 400 of a request that ran, and refuses the key with other parameters', async () => {
    // Stripe "saves the resulting status code and body of the first request made for any given
    // idempotency key, regardless of whether it succeeds or fails", once "the execution of an
    // endpoint begins": an unknown token, a token used before, a credit card given as an
    // external account are found by the endpoint, and their 400 is kept.
    const customer = emulator.seed.customer()
    const account = emulator.seed.account()
    const nextYear = String(new Date().getUTCFullYear() + 1)
    const token = await stripe.tokens.create({
      card: { number: '4242424242424242', exp_month: '12', exp_year: nextYear },
    })
    await stripe.customers.createSource(customer.id, { source: token.id })
    const requests: Array<[string, () => Promise<unknown>]> = [
      [
        'resource_missing',
        () =>
          stripe.customers.createSource(
            customer.id,
            { source: 'tok_nope' },
            { idempotencyKey: 'ran-1' },
          ),
      ],
      [
        'token_already_used',
        () =>
          stripe.customers.createSource(
            customer.id,
            { source: token.id },
            { idempotencyKey: 'ran-2' },
          ),
      ],
      [
        'invalid_card_type',
        () =>
          stripe.accounts.createExternalAccount(
            account.id,
            { external_account: 'tok_visa' },
            { idempotencyKey: 'ran-3' },
          ),
      ],
    ]
    for (const [code, send] of requests) {
      const first = await rejection(send())
      expect(first).toMatchObject({ statusCode: 400, code })
      const again = await rejection(send())
      expect(again, code).toMatchObject({ statusCode: 400, code, message: first.message })
      const headers = again.headers as Record<string, string>
      expect(headers['idempotent-replayed'], code).toBe('true')
      expect(headers['original-request'], code).toBe(first.requestId)
    }
    // The saved 400 holds the key: the request sent again with other parameters is refused.
    const other = await rejection(
      stripe.customers.createSource(
        customer.id,
        { source: 'tok_visa' },
        { idempotencyKey: 'ran-1' },
      ),
    )
    expect(other).toBeInstanceOf(Stripe.errors.StripeIdempotencyError)
    expect(other).toMatchObject({ statusCode: 400, rawType: 'idempotency_error' })
    expect(emulator.state.sources(customer.id)).toHaveLength(1)
    expect(emulator.state.sources(account.id)).toEqual([])
  })
})

describe('idempotency key length', () => {
  // Stripe takes keys of 1 to 255 characters: a longer (or empty) one is refused before
  // anything runs, so code that builds its keys from long ids fails there, not here.
  it('refuses an empty key or one over 255 characters with a 400, creating nothing', async () => {
    for (const key of ['', 'k'.repeat(256)]) {
      const answer = await rawStripe('POST', '/v1/customers', {
        body: 'email=jenny%40example.com',
        headers: { 'Idempotency-Key': key },
      })
      expect(answer.status, `a key of ${key.length} characters`).toBe(400)
      expect(answer.body.error).toMatchObject({
        type: 'invalid_request_error',
        message: `Idempotent key length is ${key.length}, which is outside accepted lengths. Idempotent Keys must be 1-255 characters long. If you're looking for a decent generator, try using a UUID defined by IETF RFC 4122.`,
      })
    }
    expect(emulator.state.customers()).toEqual([])
    const longest = await rawStripe('POST', '/v1/customers', {
      body: 'email=jenny%40example.com',
      headers: { 'Idempotency-Key': 'k'.repeat(255) },
    })
    expect(longest.status).toBe(200)
  })
})

describe('idempotency keys over time and methods', () => {
  it('forgets a key 24 hours after its request: the same key then creates anew, not replayed', async () => {
    clock = new Date('2025-03-14T12:00:00.000Z')
    const request = {
      body: 'email=jenny%40example.com',
      headers: { 'Idempotency-Key': 'day-old' },
    }
    const first = await rawStripe('POST', '/v1/customers', request)
    clock = new Date(clock.getTime() + 24 * 60 * 60 * 1000)
    const sameDay = await rawStripe('POST', '/v1/customers', request)
    expect(sameDay.body.id).toBe(first.body.id)
    expect(sameDay.headers.get('idempotent-replayed')).toBe('true')

    clock = new Date(clock.getTime() + 1)
    const nextDay = await rawStripe('POST', '/v1/customers', request)
    expect(nextDay.status).toBe(200)
    expect(nextDay.body.id).not.toBe(first.body.id)
    expect(nextDay.headers.get('idempotent-replayed')).toBeNull()
    expect(emulator.state.customers()).toHaveLength(2)
  })

  it('keeps no key of a DELETE: the same key deletes again, and answers 404 the second time', async () => {
    const customer = emulator.seed.customer()
    const card = emulator.seed.card(customer.id)
    const path = `/v1/customers/${customer.id}/sources/${card.id}`
    const request = { headers: { 'Idempotency-Key': 'delete-once' } }
    const first = await rawStripe('DELETE', path, request)
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({ id: card.id, deleted: true })
    const second = await rawStripe('DELETE', path, request)
    expect(second.status).toBe(404)
    expect(second.body.error).toMatchObject({ code: 'resource_missing' })
    expect(second.headers.get('idempotent-replayed')).toBeNull()
    expect(emulator.state.requests().map((r) => r.replayed)).toEqual([false, false])
  })
})

describe.each(STRIPE_CLIENTS)('faults ($name)', (client) => {
  let stripe: Stripe
  beforeAll(() => {
    stripe = client.create()
  })

  it('answers an injected 500 with Stripe api_error and changes nothing', async () => {
    emulator.faults.inject({ route: 'POST /v1/customers', status: 500 })
    const error = await rejection(stripe.customers.create({ email: 'x@example.com' }))
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError)
    expect(error).toMatchObject({ statusCode: 500, rawType: 'api_error' })
    expect(error.requestId).toMatch(/^req_/)
    expect(emulator.state.customers()).toEqual([])
    expect(emulator.faults.fired).toEqual([1])
    // The fault fired once: the next call works.
    await stripe.customers.create({ email: 'x@example.com' })
    expect(emulator.state.customers()).toHaveLength(1)
  })

  it('answers an injected 402 as a generic card decline', async () => {
    emulator.faults.inject({ status: 402 })
    const error = await rejection(stripe.customers.create({ email: 'x@example.com' }))
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError)
    expect(error).toMatchObject({
      statusCode: 402,
      rawType: 'card_error',
      code: 'card_declined',
      decline_code: 'generic_decline',
    })
    expect(emulator.state.customers()).toEqual([])
  })

  it('answers an injected 429 with a Retry-After header the SDK exposes', async () => {
    const customer = emulator.seed.customer()
    emulator.faults.inject({
      route: 'GET /v1/customers/:customer/sources',
      status: 429,
      retryAfter: 7,
    })
    // Only the named route: another, called first while the fault is still due, answers.
    await expect(stripe.customers.retrieve(customer.id)).resolves.toMatchObject({ id: customer.id })
    expect(emulator.faults.fired).toEqual([0])
    const error = await rejection(stripe.customers.listSources(customer.id))
    expect(error).toBeInstanceOf(Stripe.errors.StripeRateLimitError)
    expect(error).toMatchObject({ statusCode: 429, code: 'rate_limit' })
    expect((error.headers as Record<string, string>)['retry-after']).toBe('7')
    expect(emulator.faults.fired).toEqual([1])
  })

  it('drops the connection before the commit: nothing is created', async () => {
    const customer = emulator.seed.customer()
    emulator.faults.inject({ route: 'POST /v1/customers/:customer/sources', drop: 'before-commit' })
    const error = await rejection(
      stripe.customers.createSource(customer.id, { source: 'tok_visa' }),
    )
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError)
    expect(emulator.state.sources(customer.id)).toEqual([])
  })

  it('drops the connection after the commit; a retry with the same key returns the same card', async () => {
    const customer = emulator.seed.customer()
    emulator.faults.inject({
      route: /^POST \/v1\/customers\/cus_\w+\/sources$/,
      drop: 'after-commit',
    })
    const error = await rejection(
      stripe.customers.createSource(
        customer.id,
        { source: 'tok_visa' },
        { idempotencyKey: 'drop-1' },
      ),
    )
    expect(error).toBeInstanceOf(Stripe.errors.StripeConnectionError)
    const [stored] = emulator.state.sources(customer.id)
    expect(stored?.object).toBe('card')
    expect(emulator.state.customer(customer.id)?.default_source).toBe(stored?.id)

    const retried = await stripe.customers.createSource(
      customer.id,
      { source: 'tok_visa' },
      { idempotencyKey: 'drop-1' },
    )
    expect(retried.id).toBe(stored?.id)
    expect(lastResponseHeader(retried, 'idempotent-replayed')).toBe('true')
    expect(emulator.state.sources(customer.id)).toHaveLength(1)
  })

  it('adds latency: nothing is answered or created until it has passed', async () => {
    emulator.faults.inject({ latencyMs: 60 })
    const customer = await afterLatency(
      60,
      () => stripe.customers.create({}),
      () => {
        expect(emulator.state.customers()).toEqual([])
      },
    )
    expect(emulator.state.customers().map(({ id }) => id)).toEqual([customer.id])
  })
})

describe('faults together', () => {
  it('counts every matching call towards `after`, also the calls another fault answered', async () => {
    emulator.faults.inject({ route: 'GET /v1/customers', status: 500 })
    emulator.faults.inject({ route: 'GET /v1/customers', status: 503, after: 1 })
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) statuses.push((await rawStripe('GET', '/v1/customers')).status)
    expect(statuses).toEqual([500, 503, 200])
    expect(emulator.faults.fired).toEqual([1, 1])
  })

  it.each(['before', 'after'] as const)(
    'adds standing latency to an injected status injected %s it',
    async (order) => {
      const latency = { latencyMs: 60, times: Number.POSITIVE_INFINITY }
      const status = { route: 'GET /v1/customers', status: 500 }
      for (const fault of order === 'before' ? [latency, status] : [status, latency]) {
        emulator.faults.inject(fault)
      }
      for (const expected of [500, 200]) {
        expect((await afterLatency(60, () => rawStripe('GET', '/v1/customers'))).status).toBe(
          expected,
        )
      }
    },
  )

  it('refuses a route name it has no route for, instead of a fault that never fires', async () => {
    // Stripe's reference writes `:id` where the emulator's route names say `:customer`, and a
    // real path is no route name: such a fault would never fire, and a test of the retry it
    // was meant to provoke would pass without one.
    for (const route of [
      'POST /v1/customers/:id/sources',
      'POST /v1/customers/cus_123/sources',
      'post /v1/customers',
      'PUT /v1/customers',
    ]) {
      expect(() => emulator.faults.inject({ route, status: 500 }), route).toThrow(
        /no route named .*POST \/v1\/customers\/:customer\/sources/s,
      )
    }
    expect(emulator.faults.fired).toEqual([])
    // Every route name, the catch-all's included, and a RegExp still go.
    emulator.faults.inject({ route: 'POST /v1/customers/:customer/sources', status: 500 })
    emulator.faults.inject({ route: 'unrecognized request URL', status: 500 })
    emulator.faults.inject({ route: /^POST \/v1\/customers\/[^/]+\/sources$/, status: 500 })
    expect(emulator.faults.fired).toEqual([0, 0, 0])
  })

  // A test that gives up on a slow request (its client timed out) ends, and the next test's
  // reset() runs while the request still waits out its latency: committed then, it would land
  // in the next test's state and request log.
  it('commits nothing of a request delayed across reset(): the next test starts empty', async () => {
    // An hour: only reset() can end the wait before the test times out.
    emulator.faults.inject({ route: 'POST /v1/customers', latencyMs: 3_600_000 })
    const pending = rawStripe('POST', '/v1/customers', { body: 'email=late%40example.com' })
    // Reset once the request waits out its latency: under load, a fixed pause could end first
    // (and so could vi.waitFor's default second).
    await vi.waitFor(() => expect(emulator.faults.fired).toEqual([1]), {
      timeout: 15_000,
      interval: 5,
    })
    emulator.reset()
    await expect(pending).rejects.toThrow(TypeError)
    expect(emulator.state.customers()).toEqual([])
    expect(emulator.state.requests()).toEqual([])
    expect(emulator.events.list()).toEqual([])
  })

  it('records the status an injected body answered with in requests()', async () => {
    for (const fault of [{ status: 502, body: '{}' }, { body: 'null' }, { status: 500 }]) {
      emulator.faults.inject({ route: 'GET /v1/customers', ...fault })
      await rawStripe('GET', '/v1/customers')
    }
    expect(emulator.state.requests().map((record) => record.status)).toEqual([502, 200, 500])
  })
})

// What the Faults section of the README says of timeouts: a client that times out by aborting
// (fetch) sees a latency fault as a timeout; a node:http socket timeout does not fire on MSW's
// mocked socket, so that client waits the latency out. Should an MSW upgrade change that, this
// test fails and the README's Faults section is to be corrected.
describe('a client timeout under a latency fault', () => {
  it.each([
    ['fetch client', Stripe.createFetchHttpClient(), 'StripeConnectionError'],
    ['node http client', undefined, 'resolved'],
  ] as const)('%s: %s', async (_name, httpClient, outcome) => {
    const stripe = new Stripe('sk_test_123', {
      maxNetworkRetries: 0,
      timeout: 50,
      ...(httpClient ? { httpClient } : {}),
    })
    emulator.faults.inject({ route: 'POST /v1/customers', latencyMs: 200 })
    const result = await stripe.customers.create({}).then(
      () => 'resolved',
      (error: { type?: string }) => error.type,
    )
    expect(result).toBe(outcome)
  })
})

describe('SDK retries against the emulator', () => {
  it('retries a dropped connection with the same idempotency key: one customer', async () => {
    const stripe = new Stripe('sk_test_123', {
      httpClient: Stripe.createFetchHttpClient(),
      maxNetworkRetries: 1,
    })
    emulator.faults.inject({ route: 'POST /v1/customers', drop: 'after-commit' })
    const customer = await stripe.customers.create({ email: 'retry@example.com' })
    expect(emulator.state.customers().map((c) => c.id)).toEqual([customer.id])
    const [first, second] = emulator.state.requests()
    expect(first?.idempotencyKey).toMatch(/^stripe-node-retry-/)
    expect(second).toMatchObject({ idempotencyKey: first?.idempotencyKey, replayed: true })
  })
})

describe('faults reach every route', () => {
  it('answers an injected 503 on each route by its name, with a Request-Id', async () => {
    const customer = emulator.seed.customer()
    const card = emulator.seed.card(customer.id)
    const account = emulator.seed.account()
    const external = emulator.seed.card(account.id)
    const token = 'tok_00000000000000000000000'
    const cases: Array<[string, string, string]> = [
      ['POST /v1/tokens', 'POST', '/v1/tokens'],
      ['GET /v1/tokens/:token', 'GET', `/v1/tokens/${token}`],
      ['GET /v1/customers', 'GET', '/v1/customers'],
      ['POST /v1/customers', 'POST', '/v1/customers'],
      ['GET /v1/customers/:customer', 'GET', `/v1/customers/${customer.id}`],
      ['POST /v1/customers/:customer', 'POST', `/v1/customers/${customer.id}`],
      ['DELETE /v1/customers/:customer', 'DELETE', `/v1/customers/${customer.id}`],
      ['GET /v1/customers/:customer/sources', 'GET', `/v1/customers/${customer.id}/sources`],
      ['POST /v1/customers/:customer/sources', 'POST', `/v1/customers/${customer.id}/sources`],
      [
        'GET /v1/customers/:customer/sources/:id',
        'GET',
        `/v1/customers/${customer.id}/sources/${card.id}`,
      ],
      [
        'POST /v1/customers/:customer/sources/:id',
        'POST',
        `/v1/customers/${customer.id}/sources/${card.id}`,
      ],
      [
        'DELETE /v1/customers/:customer/sources/:id',
        'DELETE',
        `/v1/customers/${customer.id}/sources/${card.id}`,
      ],
      ['GET /v1/customers/:customer/cards', 'GET', `/v1/customers/${customer.id}/cards`],
      ['POST /v1/customers/:customer/cards', 'POST', `/v1/customers/${customer.id}/cards`],
      [
        'GET /v1/customers/:customer/cards/:id',
        'GET',
        `/v1/customers/${customer.id}/cards/${card.id}`,
      ],
      [
        'POST /v1/customers/:customer/cards/:id',
        'POST',
        `/v1/customers/${customer.id}/cards/${card.id}`,
      ],
      [
        'DELETE /v1/customers/:customer/cards/:id',
        'DELETE',
        `/v1/customers/${customer.id}/cards/${card.id}`,
      ],
      ['GET /v1/accounts', 'GET', '/v1/accounts'],
      ['POST /v1/accounts', 'POST', '/v1/accounts'],
      ['GET /v1/accounts/:account', 'GET', `/v1/accounts/${account.id}`],
      ['POST /v1/accounts/:account', 'POST', `/v1/accounts/${account.id}`],
      ['DELETE /v1/accounts/:account', 'DELETE', `/v1/accounts/${account.id}`],
      [
        'GET /v1/accounts/:account/external_accounts',
        'GET',
        `/v1/accounts/${account.id}/external_accounts`,
      ],
      [
        'POST /v1/accounts/:account/external_accounts',
        'POST',
        `/v1/accounts/${account.id}/external_accounts`,
      ],
      [
        'GET /v1/accounts/:account/external_accounts/:id',
        'GET',
        `/v1/accounts/${account.id}/external_accounts/${external.id}`,
      ],
      [
        'POST /v1/accounts/:account/external_accounts/:id',
        'POST',
        `/v1/accounts/${account.id}/external_accounts/${external.id}`,
      ],
      [
        'DELETE /v1/accounts/:account/external_accounts/:id',
        'DELETE',
        `/v1/accounts/${account.id}/external_accounts/${external.id}`,
      ],
    ]
    for (const [route, method, path] of cases) {
      emulator.faults.inject({ route, status: 503 })
      const response = await rawStripe(method, path, method === 'POST' ? { body: '' } : {})
      expect([route, response.status]).toEqual([route, 503])
      expect(response.body.error).toMatchObject({ type: 'api_error' })
      expect(response.headers.get('request-id')).toMatch(/^req_/)
    }
    expect(emulator.faults.fired).toEqual(cases.map(() => 1))
    // Nothing changed under the faults.
    expect(emulator.state.customer(customer.id)?.default_source).toBe(card.id)
    expect(emulator.state.sources(account.id).map((s) => s.id)).toEqual([external.id])
  })
})

// An undefined field is what `exactOptionalPropertyTypes` lets a caller write for a value it may
// not have (`{ type: maybeType }`): it must not replace the seed's default.
describe('seeding with undefined fields, as with absent ones', () => {
  it('seeds a custom account for an undefined type', () => {
    const account = emulator.seed.account({
      type: undefined,
      country: undefined,
      default_currency: undefined,
      email: undefined,
      metadata: undefined,
    })
    expect(account).toMatchObject({
      type: 'custom',
      country: 'US',
      default_currency: 'usd',
      email: null,
      metadata: {},
    })
  })

  it("seeds a bank account with the defaults, and an account's currency, for undefined fields", () => {
    const customer = emulator.seed.customer()
    const account = emulator.seed.account({ default_currency: 'eur' })
    const fields = { account_holder_name: undefined, currency: undefined, last4: undefined }
    const expected = { account_holder_name: 'Jane Austen', last4: '6789', status: 'new' }
    expect(emulator.seed.bankAccount(customer.id, fields)).toMatchObject({
      ...expected,
      currency: 'usd',
    })
    expect(emulator.seed.bankAccount(account.id, fields)).toMatchObject({
      ...expected,
      currency: 'eur',
    })
  })

  it('seeds a source object with the defaults for undefined fields', () => {
    const customer = emulator.seed.customer()
    const source = emulator.seed.source(customer.id, { currency: undefined, type: undefined })
    expect(source).toMatchObject({ currency: 'usd', type: 'ach_credit_transfer' })
    expect(emulator.state.sources(customer.id)).toEqual([source])
  })

  it('takes emulator options given as undefined as not given', () => {
    const unset = stripeEmulator({ origin: undefined, now: undefined, events: undefined })
    expect(unset.origin).toBe('https://api.stripe.com')
    // The default clock is the system's: a fake one, so that no wall-clock time is compared.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2031-02-03T04:05:06.789Z') })
    const customer = unset.seed.customer()
    expect(customer.created).toBe(Date.UTC(2031, 1, 3, 4, 5, 6) / 1000)
    expect(unset.events.list().map((event) => event.type)).toEqual(['customer.created'])
  })

  it('takes every option it documents, and refuses one it does not know, naming it', () => {
    const all = stripeEmulator({
      origin: 'https://stripe.example.test/',
      now: () => new Date('2031-02-03T04:05:06Z'),
      events: false,
    })
    expect(all.origin).toBe('https://stripe.example.test')
    expect(all.seed.customer().created).toBe(Date.UTC(2031, 1, 3, 4, 5, 6) / 1000)
    expect(all.events.list()).toEqual([])
    for (const [options, message] of [
      [
        { orign: 'https://api.stripe.com' },
        'Invalid stripeEmulator options: unknown option "orign": the options are origin, now, events',
      ],
      [
        { Events: false },
        'Invalid stripeEmulator options: unknown option "Events" (did you mean events?): the options are origin, now, events',
      ],
      [
        { now: 'today' },
        'Invalid stripeEmulator options: now: must be a function returning a Date',
      ],
    ] as const) {
      const thrown = thrownBy(() => stripeEmulator(options as never))
      expect(isCardportError(thrown, 'invalid_request'), message).toBe(true)
      expect((thrown as Error).message).toBe(message)
    }
  })

  it('throws a TypeError from stripeEmulator() when now returns no valid Date', () => {
    const wrong: Array<[() => unknown, RegExp]> = [
      [
        () => Date.UTC(2031, 1, 3),
        /^stripeEmulator: now must return a valid Date, and it returned a number \(a clock of milliseconds, as stripeWebhookHandler's now is, goes as \(\) => new Date\(ms\(\)\)\)$/,
      ],
      [
        () => new Date(Number.NaN),
        /^stripeEmulator: now must return a valid Date, and it returned an Invalid Date$/,
      ],
      [() => null, /^stripeEmulator: now must return a valid Date, and it returned null$/],
      [() => [], /^stripeEmulator: now must return a valid Date, and it returned an array$/],
    ]
    for (const [now, message] of wrong) {
      expect(() => stripeEmulator({ now: now as () => Date })).toThrow(TypeError)
      expect(() => stripeEmulator({ now: now as () => Date })).toThrow(message)
    }
  })

  it('runs on a valid Date of another realm (a vm context), not refusing it as no Date', () => {
    const other = stripeEmulator({
      now: () => runInNewContext('new Date("2031-02-03T04:05:06Z")') as Date,
    })
    expect(other.seed.customer().created).toBe(Date.UTC(2031, 1, 3, 4, 5, 6) / 1000)
  })

  it('throws the same from a seed, and answers a request with a 500 saying so, when the clock goes wrong later', async () => {
    let clock: unknown = new Date('2031-02-03T04:05:06Z')
    const later = stripeEmulator({ now: () => clock as Date })
    const customer = later.seed.customer()
    clock = Date.UTC(2031, 1, 3)
    const said = /^stripeEmulator: now must return a valid Date, and it returned a number/
    expect(() => later.seed.customer()).toThrow(TypeError)
    expect(() => later.seed.customer()).toThrow(said)
    const response = await getResponse(
      later.handlers,
      new Request(`${later.origin}/v1/customers/${customer.id}/sources`, {
        method: 'POST',
        headers: {
          Authorization: 'Bearer sk_test_123',
          'Content-Type': 'application/x-www-form-urlencoded',
        },
        body: 'source=tok_visa',
      }),
    )
    expect(response?.status).toBe(500)
    const body = (await response?.json()) as { error: { type: string; message: string } }
    expect(body.error.type).toBe('api_error')
    expect(body.error.message).toContain(
      'stripeEmulator: now must return a valid Date, and it returned a number',
    )
  })

  it('seeds customers and cards with undefined fields and options as without them', () => {
    const customer = emulator.seed.customer({ email: undefined, name: undefined })
    expect(customer).toMatchObject({ email: null, name: null, metadata: {} })
    const card = emulator.seed.card(customer.id, undefined, {
      metadata: undefined,
      default_for_currency: undefined,
    })
    expect(card).toMatchObject({ brand: 'Visa', last4: '4242', metadata: {} })
    const account = emulator.seed.account()
    const external = emulator.seed.card(account.id, undefined, { default_for_currency: undefined })
    expect(external).toMatchObject({ funding: 'debit', default_for_currency: true })
  })

  it('seeds a card from a card hash whose object and other fields are undefined', () => {
    const customer = emulator.seed.customer()
    const hash = { object: undefined, number: '4242424242424242', exp_month: 12, exp_year: 2040 }
    const card = emulator.seed.card(customer.id, { ...hash, name: undefined })
    expect(card).toMatchObject({ object: 'card', last4: '4242', exp_year: 2040, name: null })
  })
})

/**
 * Sends a request on a fake clock and proves that the emulator holds its answer for exactly
 * `latencyMs`: once the emulator has the request, `latencyMs - 1` fake milliseconds pass and
 * the request is still unanswered (`pending` runs its own checks then); one more, and it
 * answers. No wall-clock time is measured: a slow machine only takes longer.
 */
async function afterLatency<T>(
  latencyMs: number,
  send: () => Promise<T>,
  pending: () => void = () => {},
): Promise<T> {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  const before = emulator.state.requests().length
  let settled = false
  const answer = send().finally(() => {
    settled = true
  })
  // The emulator logs a request as it takes it, and starts the latency's timer at once.
  while (emulator.state.requests().length === before) await turn()
  await vi.advanceTimersByTimeAsync(latencyMs - 1)
  // Turns enough for an answer given without the latency to reach the client.
  for (let i = 0; i < 20; i++) await turn()
  expect(settled).toBe(false)
  expect(emulator.state.requests()[before]?.status).toBe(0)
  pending()
  await vi.advanceTimersByTimeAsync(1)
  return answer
}

/** One turn of the event loop (`setImmediate` is never faked here). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
