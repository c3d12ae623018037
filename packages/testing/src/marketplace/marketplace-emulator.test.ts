import { isCardportError } from '@cardport/core'
import { getResponse } from 'msw'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { thrownBy } from '../__fixtures__/thrown.js'
import { marketplaceAuthorization, marketplaceEmulator } from './marketplace-emulator.js'
import { MarketplaceRequestError } from './marketplace-errors.js'
import {
  api,
  cardForm,
  expectError,
  mp,
  TEST_MARKETPLACE_ID,
  TEST_MARKETPLACE_SECRET,
  TEST_NOW,
  tokenize,
} from './marketplace-test-harness.js'

const emulator = marketplaceEmulator({ now: () => TEST_NOW })
const STRICT_ORIGIN = 'https://strict.marketplace.test'
const strict = marketplaceEmulator({
  origin: `${STRICT_ORIGIN}/`,
  requirePostalCode: true,
  now: () => new Date('2030-01-02T03:04:05.678Z'),
})
const server = setupServer(...emulator.handlers, ...strict.handlers)
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  server.resetHandlers()
  emulator.reset()
  strict.reset()
})
afterAll(() => server.close())

describe('authentication', () => {
  it('answers 401 without credentials, with the error body, and changes nothing', async () => {
    const answer = await api('POST', mp('/cards'), { json: cardForm(), secret: null })
    expectError(answer, 401, 'Unauthorized', 'authentication-required', 'request')
    expect(answer.headers.get('www-authenticate')).toBe('Basic realm="marketplace"')
    expect(emulator.state.cards()).toEqual([])
  })

  it('accepts the secret as user name whatever the password', async () => {
    const answer = await api('GET', mp('/cards'), {
      secret: null,
      headers: { Authorization: `Basic ${btoa(`${TEST_MARKETPLACE_SECRET}:ignored`)}` },
    })
    expect(answer.status).toBe(200)
  })

  it('answers 401 for a wrong secret without echoing it, and for a bearer token', async () => {
    const wrong = await api('GET', mp('/cards'), { secret: 'ak-test-wrongSecret123' })
    expectError(wrong, 401, 'Unauthorized', 'authentication-required', 'request')
    expect(wrong.text).not.toContain('wrongSecret123')
    const bearer = await api('GET', mp('/cards'), {
      secret: null,
      headers: { Authorization: `Bearer ${TEST_MARKETPLACE_SECRET}` },
    })
    expectError(bearer, 401, 'Unauthorized', 'authentication-required', 'request')
    expect(bearer.text).not.toContain(TEST_MARKETPLACE_SECRET)
  })

  it('answers 401 for a secret of another marketplace, which opens its own', async () => {
    const other = emulator.seed.marketplace({ name: 'Other' })
    const cross = await api('GET', mp('/cards'), { secret: other.secret })
    expectError(cross, 401, 'Unauthorized', 'authentication-required', 'request')
    const own = await api('GET', mp('/cards', other.id), { secret: other.secret })
    expect(own.status).toBe(200)
  })

  it('authenticates before it looks the path up', async () => {
    const answer = await api('GET', '/v1/nowhere', { secret: null })
    expect(answer.status).toBe(401)
  })

  it('builds the Authorization header with marketplaceAuthorization and authorization()', () => {
    expect(emulator.authorization()).toBe(`Basic ${btoa(`${TEST_MARKETPLACE_SECRET}:`)}`)
    expect(marketplaceAuthorization('ak-test-x')).toBe(`Basic ${btoa('ak-test-x:')}`)
  })
})

describe('routing, methods and bodies', () => {
  it('answers 404 not-found for a path the API does not have', async () => {
    for (const path of ['/v1/nowhere', mp('/cards/CC1/extra'), mp()]) {
      const answer = await api('GET', path)
      expectError(answer, 404, 'Not Found', 'not-found', 'request')
    }
  })

  it('answers 405 with Allow for a method the path does not allow', async () => {
    const card = await tokenize()
    const remove = await api('DELETE', mp(`/cards/${card.id}`))
    expectError(remove, 405, 'Method Not Allowed', 'method-not-allowed', 'request')
    expect(remove.headers.get('allow')).toBe('HEAD, GET, PUT')
    const post = await api('POST', mp(`/accounts/ACx/cards/${card.id}`), { json: {} })
    expect(post.status).toBe(405)
    expect(emulator.state.card(card.id)?.is_valid).toBe(true)
  })

  it('reads each path parameter decoded once, as the client encoded it', async () => {
    const account = emulator.seed.account()
    const card = emulator.seed.card({ account: account.id })
    // encodeURIComponent of the id: what a client sends for the card it names.
    const found = await api(
      'GET',
      mp(`/accounts/${account.id}/cards/${encodeURIComponent(card.id)}`),
    )
    expect(found.body.id).toBe(card.id)
    // `%2541` is `%41` decoded once: an id that holds `%41`, not the card's `A`.
    const [head, tail] = [card.id.slice(0, 2), card.id.slice(3)]
    const third = card.id.charCodeAt(2).toString(16).toUpperCase()
    const twice = await api('GET', mp(`/accounts/${account.id}/cards/${head}%25${third}${tail}`))
    expectError(twice, 404, 'Not Found', 'not-found', 'request')
    expect(twice.text).toContain(`${head}%${third}${tail}`)
    // Escapes that name the very characters are the same id.
    const escaped = await api('GET', mp(`/accounts/${account.id}/cards/${head}%${third}${tail}`))
    expect(escaped.body.id).toBe(card.id)
  })

  it('answers 404, not 500, for an id or an account holding a percent sign', async () => {
    const account = emulator.seed.account()
    for (const path of [
      mp('/accounts/AC%25/cards'),
      mp(`/accounts/${account.id}/cards/CC%25`),
      mp('/cards/CC%25zz'),
      mp(`/accounts/${encodeURIComponent('AC%E0%A4%A')}`),
    ]) {
      const answer = await api('GET', path)
      expect(answer.status, path).toBe(404)
    }
  })

  it('never echoes a card number given where an id or a URI goes, in an answer or a record', async () => {
    // A number typed in place of a card id, as a client would put it in the path: digits,
    // spaces URL-encoded, dashes; and in a body's URI.
    const account = emulator.seed.account()
    const numbers = ['4111111111111111', '4111%201111%201111%201111', '4111-1111-1111-1111']
    const answers = []
    for (const number of numbers) {
      answers.push(
        await api('GET', mp(`/cards/${number}`)),
        await api('PUT', mp(`/cards/${number}`), { json: { is_valid: false } }),
        await api('GET', mp(`/accounts/${account.id}/cards/${number}`)),
        await api('GET', mp(`/nothing/${number}`)),
        await api('DELETE', mp(`/cards/${number}`)),
        await api('POST', mp(`/accounts/${account.id}/cards`), {
          json: { card_uri: mp(`/cards/${number}`) },
        }),
        await api('POST', mp(`/accounts/${account.id}/cards`), { json: { card_uri: number } }),
        await api('PUT', mp(`/accounts/${account.id}`), { json: { card_uri: number } }),
      )
    }
    expect(answers.map((answer) => answer.status)).not.toContain(200)
    const card = emulator.seed.card({ account: account.id })
    answers.push(await api('GET', mp(`/accounts/AC4111111111111111/cards/${card.id}`)))
    const texts = [
      ...answers.map((answer) => answer.text),
      JSON.stringify(emulator.state.requests()),
    ].join('\n')
    expect(texts).toContain('1111') // the last four are kept
    expect(texts).not.toMatch(/4111[^0-9]{0,3}1111[^0-9]{0,3}1111[^0-9]{0,3}1111/)
  })

  it('answers HEAD on a list with no body', async () => {
    const answer = await api('HEAD', mp('/accounts'))
    expect(answer.status).toBe(200)
    expect(answer.text).toBe('')
  })

  it('reads a JSON body sent without a content type', async () => {
    const answer = await api('POST', mp('/cards'), {
      json: cardForm(),
      headers: { 'Content-Type': '' },
    })
    expect(answer.status).toBe(201)
  })

  it('answers 400 for unreadable bodies, never echoing them', async () => {
    const broken = await api('POST', mp('/cards'), {
      form: '{"card_number": "4111111111111111", ',
      headers: { 'Content-Type': 'application/json' },
    })
    expectError(broken, 400, 'Bad Request', 'request', 'request')
    expect(broken.text).not.toContain('4111111111111111')
    const array = await api('POST', mp('/cards'), { json: [cardForm()] })
    expect(array.body.description).toMatch(/^The request body must be a JSON object\./)
    const plain = await api('POST', mp('/cards'), {
      form: 'card_number=4111111111111111',
      headers: { 'Content-Type': 'text/plain' },
    })
    expect(plain.status).toBe(400)
    expect(plain.text).not.toContain('4111111111111111')
    expect(emulator.state.cards()).toEqual([])
  })

  it('answers 400 for an empty create body', async () => {
    const answer = await api('POST', mp('/cards'))
    expectError(answer, 400, 'Bad Request', 'request', 'request')
    expect(Object.keys(answer.body.extras).sort()).toEqual([
      'card_number',
      'expiration_month',
      'expiration_year',
    ])
  })

  it('sends a fresh X-Request-Id with every answer, and records each request', async () => {
    const first = await api('GET', mp('/cards'))
    const second = await api('POST', mp('/cards'), { json: cardForm() })
    const missing = await api('GET', mp('/cards/CCnope'))
    const ids = [first, second, missing].map((answer) => answer.headers.get('x-request-id'))
    expect(new Set(ids).size).toBe(3)
    expect(emulator.state.requests()).toEqual([
      {
        method: 'GET',
        path: mp('/cards'),
        route: 'GET /v1/marketplaces/:marketplace/cards',
        status: 200,
        requestId: ids[0],
      },
      {
        method: 'POST',
        path: mp('/cards'),
        route: 'POST /v1/marketplaces/:marketplace/cards',
        status: 201,
        requestId: ids[1],
      },
      {
        method: 'GET',
        path: mp('/cards/CCnope'),
        route: 'GET /v1/marketplaces/:marketplace/cards/:card',
        status: 404,
        requestId: ids[2],
      },
    ])
  })
})

describe('faults', () => {
  it('answers an injected 503 with the error body, changes nothing, and fires once', async () => {
    emulator.faults.inject({ route: 'POST /v1/marketplaces/:marketplace/cards', status: 503 })
    const answer = await api('POST', mp('/cards'), { json: cardForm() })
    expectError(answer, 503, 'Service Unavailable', 'service-unavailable', 'request')
    expect(emulator.state.cards()).toEqual([])
    expect(emulator.faults.fired).toEqual([1])
    expect((await api('POST', mp('/cards'), { json: cardForm() })).status).toBe(201)
  })

  it('commits nothing of a request delayed across reset(): the next test starts empty', async () => {
    // An hour: only reset() can end the wait before the test times out (half a second could
    // run out before the reset on a slow machine, and the request commit).
    emulator.faults.inject({
      route: 'POST /v1/marketplaces/:marketplace/cards',
      latencyMs: 3_600_000,
    })
    const pending = api('POST', mp('/cards'), { json: cardForm() })
    // Reset once the request waits out its latency: under load, a fixed pause could end first
    // (and so could vi.waitFor's default second).
    await vi.waitFor(() => expect(emulator.faults.fired).toEqual([1]), {
      timeout: 15_000,
      interval: 5,
    })
    emulator.reset()
    await expect(pending).rejects.toThrow(TypeError)
    expect(emulator.state.cards()).toEqual([])
    expect(emulator.state.requests()).toEqual([])
  })

  it('answers an injected 429 with Retry-After, on the named route only', async () => {
    emulator.faults.inject({
      route: 'GET /v1/marketplaces/:marketplace/cards',
      status: 429,
      retryAfter: 7,
    })
    // Another route first, while the fault is still due: it answers, and the fault waits.
    expect((await api('GET', mp('/accounts'))).status).toBe(200)
    expect(emulator.faults.fired).toEqual([0])
    const limited = await api('GET', mp('/cards'))
    expectError(limited, 429, 'Too Many Requests', 'too-many-requests', 'request')
    expect(limited.headers.get('retry-after')).toBe('7')
    expect(emulator.faults.fired).toEqual([1])
  })

  it.each([
    [402, 'Payment Required', 'card-declined', 'banking'],
    [404, 'Not Found', 'not-found', 'request'],
    [409, 'Conflict', 'conflict', 'logical'],
    [500, 'Internal Server Error', 'internal-server-error', 'request'],
  ] as const)('answers an injected %i with its error body', async (status, text, code, type) => {
    emulator.faults.inject({ status })
    expectError(await api('GET', mp('/cards')), status, text, code, type)
  })

  it('answers an injected body as given, with its status (200 by default), and changes nothing', async () => {
    emulator.faults.inject({ route: 'POST /v1/marketplaces/:marketplace/cards', body: '{}' })
    const junk = await api('POST', mp('/cards'), { json: cardForm() })
    expect(junk.status).toBe(200)
    expect(junk.headers.get('content-type')).toBe('application/json')
    expect(junk.text).toBe('{}')
    expect(emulator.state.cards()).toEqual([])

    emulator.faults.inject({ status: 502, body: 'null' })
    const gateway = await api('GET', mp('/cards'))
    expect([gateway.status, gateway.text]).toEqual([502, 'null'])
    // requests() records the status each answer carried.
    expect(emulator.state.requests().map((record) => record.status)).toEqual([200, 502])
  })

  it('drops the connection before the commit: the client fails, nothing is stored', async () => {
    emulator.faults.inject({
      route: 'POST /v1/marketplaces/:marketplace/cards',
      drop: 'before-commit',
    })
    await expect(api('POST', mp('/cards'), { json: cardForm() })).rejects.toThrow(TypeError)
    expect(emulator.state.cards()).toEqual([])
    expect(emulator.state.requests().map((record) => record.status)).toEqual([0])
  })

  it('drops the connection after the commit: the client fails, the card exists', async () => {
    emulator.faults.inject({
      route: 'POST /v1/marketplaces/:marketplace/cards',
      drop: 'after-commit',
    })
    await expect(api('POST', mp('/cards'), { json: cardForm() })).rejects.toThrow(TypeError)
    expect(emulator.state.cards()).toHaveLength(1)
    expect(emulator.state.requests().map((record) => record.status)).toEqual([201])
  })

  it('drops an association after the commit: the retry answers card-already-funding-src', async () => {
    const account = emulator.seed.account()
    const card = emulator.seed.card()
    emulator.faults.inject({
      route: /^PUT \/v1\/marketplaces\/[^/]+\/cards\/CC/,
      drop: 'after-commit',
    })
    const associate = () =>
      api('PUT', mp(`/cards/${card.id}`), { json: { account_uri: account.uri } })
    await expect(associate()).rejects.toThrow(TypeError)
    expect(emulator.state.card(card.id)?.account?.id).toBe(account.id)
    expectError(await associate(), 409, 'Conflict', 'card-already-funding-src', 'logical')
  })

  it('skips `after` matching calls and fires `times` times', async () => {
    emulator.faults.inject({
      route: 'GET /v1/marketplaces/:marketplace/cards',
      status: 500,
      after: 1,
      times: 2,
    })
    const statuses: number[] = []
    for (let index = 0; index < 4; index++) statuses.push((await api('GET', mp('/cards'))).status)
    expect(statuses).toEqual([200, 500, 500, 200])
  })

  it('adds latency', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    try {
      emulator.faults.inject({
        route: 'GET /v1/marketplaces/:marketplace/accounts',
        latencyMs: 5000,
      })
      let settled = false
      const pending = api('GET', mp('/accounts')).then((answer) => {
        settled = true
        return answer
      })
      // The fault runner has started waiting once the request is recorded. (vi.waitFor would
      // advance the fake clock itself.)
      while (emulator.state.requests().length === 0) {
        await new Promise((resolve) => setImmediate(resolve))
      }
      await vi.advanceTimersByTimeAsync(4990)
      expect(settled).toBe(false)
      await vi.advanceTimersByTimeAsync(10)
      expect((await pending).status).toBe(200)
    } finally {
      vi.useRealTimers()
    }
  })

  it('refuses a route name it has no route for, instead of a fault that never fires', () => {
    for (const route of [
      'POST /v1/marketplaces/:marketplace_id/cards',
      `POST /v1/marketplaces/${TEST_MARKETPLACE_ID}/cards`,
      'post /v1/marketplaces/:marketplace/cards',
      'DELETE /v1/elsewhere',
    ]) {
      expect(() => emulator.faults.inject({ route, status: 503 }), route).toThrow(
        /no route named .*POST \/v1\/marketplaces\/:marketplace\/cards/s,
      )
    }
    expect(emulator.faults.fired).toEqual([])
    // Any method on a known path (405 answers are routes too), `METHOD *`, and a RegExp go.
    for (const route of [
      'DELETE /v1/marketplaces/:marketplace/cards/:card',
      'HEAD /v1/marketplaces/:marketplace/accounts',
      'PATCH *',
    ]) {
      emulator.faults.inject({ route, status: 503 })
    }
    emulator.faults.inject({ route: /cards/, status: 503 })
    expect(emulator.faults.fired).toEqual([0, 0, 0, 0])
  })

  it('reaches every route by its name, and unknown paths as `METHOD *`', async () => {
    const account = emulator.seed.account()
    const card = emulator.seed.card({ account: account.id })
    const calls: Array<[string, string, unknown?]> = [
      ['GET', mp('/cards')],
      ['POST', mp('/cards'), cardForm()],
      ['GET', mp(`/cards/${card.id}`)],
      ['PUT', mp(`/cards/${card.id}`), { is_valid: false }],
      ['GET', mp('/accounts')],
      ['POST', mp('/accounts'), { name: 'x' }],
      ['GET', mp(`/accounts/${account.id}`)],
      ['PUT', mp(`/accounts/${account.id}`), { name: 'y' }],
      ['GET', mp(`/accounts/${account.id}/cards`)],
      ['POST', mp(`/accounts/${account.id}/cards`), cardForm()],
      ['GET', mp(`/accounts/${account.id}/cards/${card.id}`)],
      ['PUT', mp(`/accounts/${account.id}/cards/${card.id}`), { is_valid: false }],
      ['HEAD', mp(`/cards/${card.id}`)],
      ['GET', '/v1/elsewhere'],
    ]
    const routes = [
      'GET /v1/marketplaces/:marketplace/cards',
      'POST /v1/marketplaces/:marketplace/cards',
      'GET /v1/marketplaces/:marketplace/cards/:card',
      'PUT /v1/marketplaces/:marketplace/cards/:card',
      'GET /v1/marketplaces/:marketplace/accounts',
      'POST /v1/marketplaces/:marketplace/accounts',
      'GET /v1/marketplaces/:marketplace/accounts/:account',
      'PUT /v1/marketplaces/:marketplace/accounts/:account',
      'GET /v1/marketplaces/:marketplace/accounts/:account/cards',
      'POST /v1/marketplaces/:marketplace/accounts/:account/cards',
      'GET /v1/marketplaces/:marketplace/accounts/:account/cards/:card',
      'PUT /v1/marketplaces/:marketplace/accounts/:account/cards/:card',
      'HEAD /v1/marketplaces/:marketplace/cards/:card',
      'GET *',
    ]
    for (const route of routes) emulator.faults.inject({ route, status: 503 })
    for (const [method, path, json] of calls) {
      const answer = await api(method, path, json === undefined ? {} : { json })
      expect(answer.status).toBe(503)
    }
    expect(emulator.faults.fired).toEqual(routes.map(() => 1))
    expect(emulator.state.requests().map((record) => record.route)).toEqual(routes)
    // Nothing changed under the faults.
    expect(emulator.state.card(card.id)?.is_valid).toBe(true)
    expect(emulator.state.accounts()).toHaveLength(1)
  })
})

describe('seed and state', () => {
  it('starts with the test marketplace, and creates more with their own secrets', () => {
    expect(emulator.marketplaceId).toBe(TEST_MARKETPLACE_ID)
    expect(emulator.secret).toBe(TEST_MARKETPLACE_SECRET)
    const other = emulator.seed.marketplace()
    expect(other).toEqual({
      id: expect.stringMatching(/^TEST-MP[0-9A-Za-z]{22}$/),
      name: 'Test Marketplace',
      secret: expect.stringMatching(/^ak-test-[0-9A-Za-z]{32}$/),
      uri: `/v1/marketplaces/${other.id}`,
      created_at: '2025-06-15T12:00:00.000000Z',
    })
    expect(emulator.state.marketplaces().map((entry) => entry.id)).toEqual([
      TEST_MARKETPLACE_ID,
      other.id,
    ])
    const named = emulator.seed.marketplace({ id: 'TEST-MPmine', secret: 'ak-test-mine' })
    expect(named).toMatchObject({ id: 'TEST-MPmine', secret: 'ak-test-mine' })
    expect(() => emulator.seed.marketplace({ id: 'TEST-MPmine' })).toThrow(/already been created/)
    expect(() => emulator.seed.marketplace({ secret: TEST_MARKETPLACE_SECRET })).toThrow(
      MarketplaceRequestError,
    )
  })

  it('seeds cards and accounts under the API rules', () => {
    const account = emulator.seed.account({ email_address: 'a@example.com' })
    const card = emulator.seed.card({ account: account.id, meta: { from: 'seed' } })
    expect(card).toMatchObject({
      last_four: '1111',
      expiration_month: 12,
      expiration_year: 2028,
      meta: { from: 'seed' },
      account: { id: account.id },
    })
    expect(emulator.state.accountCards(account.id)).toEqual([card])
    expect(emulator.state.defaultCard(account.id)).toEqual(card)

    const declined = thrownBy(() =>
      emulator.seed.card({ account: account.id, card_number: '4444444444444448' }),
    )
    expect(declined).toBeInstanceOf(MarketplaceRequestError)
    expect(declined).toMatchObject({ status: 402, categoryCode: 'card-declined' })
    expect(() => emulator.seed.card({ marketplace: 'TEST-MPnope' })).toThrow(/does not exist/)
    expect(() => emulator.seed.account({ email_address: 'A@example.com' })).toThrow(
      MarketplaceRequestError,
    )
  })

  // An undefined field is what `exactOptionalPropertyTypes` lets a caller write for a value it
  // may not have (`{ name: maybeName }`): it must not replace the seed's default.
  it('seeds an account with an undefined field as with an absent one', () => {
    const account = emulator.seed.account({
      marketplace: undefined,
      name: undefined,
      meta: undefined,
      merchant: undefined,
    })
    expect(account).toMatchObject({ name: 'Test Account', meta: {} })
  })

  it('seeds a card with an undefined field as with an absent one', () => {
    const card = emulator.seed.card({
      marketplace: undefined,
      account: undefined,
      card_number: undefined,
      expiration_month: undefined,
      expiration_year: undefined,
    })
    expect(card).toMatchObject({ last_four: '1111', expiration_month: 12, expiration_year: 2028 })
    expect(strict.seed.card({ postal_code: undefined }).postal_code).toBe('10023')
  })

  it('hands out copies', () => {
    const card = emulator.seed.card()
    const read = emulator.state.card(card.id)!
    read.meta.changed = 'yes'
    read.is_valid = false
    expect(emulator.state.card(card.id)).toEqual(card)
    expect(emulator.state.account('ACnope')).toBeUndefined()
    expect(emulator.state.accountCards('ACnope')).toEqual([])
  })

  it('reset() keeps only the test marketplace, and clears faults and records', async () => {
    const other = emulator.seed.marketplace()
    emulator.seed.card()
    await api('GET', mp('/cards'))
    emulator.faults.inject({ status: 500 })
    emulator.reset()
    expect(emulator.state.marketplaces().map((entry) => entry.id)).toEqual([TEST_MARKETPLACE_ID])
    expect(emulator.state.cards()).toEqual([])
    expect(emulator.state.requests()).toEqual([])
    expect(emulator.faults.fired).toEqual([])
    expect((await api('GET', mp('/cards'))).status).toBe(200)
    expect((await api('GET', mp('/cards', other.id), { secret: other.secret })).status).toBe(401)
  })
})

describe('options', () => {
  it('answers at another origin, with its own clock and a required postal code', async () => {
    const answer = await api('POST', mp('/cards'), {
      origin: STRICT_ORIGIN,
      json: cardForm({ postal_code: undefined, street_address: undefined, expiration_year: 2031 }),
    })
    expectError(answer, 400, 'Bad Request', 'request', 'request')
    expect(answer.body.extras).toEqual({ postal_code: 'is required' })

    const created = await api('POST', mp('/cards'), {
      origin: STRICT_ORIGIN,
      json: cardForm({ expiration_year: 2031 }),
    })
    expect(created.status).toBe(201)
    expect(created.body.created_at).toBe('2030-01-02T03:04:05.678000Z')
    // Its clock: a card valid in 2025 has expired in 2030.
    const expired = await api('POST', mp('/cards'), { origin: STRICT_ORIGIN, json: cardForm() })
    expect(expired.body.category_code).toBe('card-not-validated')
    // Each emulator has its own state.
    expect(strict.state.cards()).toHaveLength(1)
    expect(emulator.state.cards()).toEqual([])
  })

  it('seeds a card by default where a postal code is required', () => {
    const card = strict.seed.card()
    expect(card).toMatchObject({ last_four: '1111', postal_code: '10023', country_code: 'USA' })
    // Without the option, the default card keeps no address.
    expect(emulator.seed.card().postal_code).toBeNull()
  })

  it('takes options given as undefined as not given', () => {
    const unset = marketplaceEmulator({
      origin: undefined,
      now: undefined,
      requirePostalCode: undefined,
    })
    expect(unset.origin).toBe('https://api.marketplace.test')
    // The default clock is the system's: a fake one, so that no wall-clock time is compared.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2031-02-03T04:05:06.789Z') })
    try {
      const card = unset.seed.card()
      expect(card.postal_code).toBeNull()
      expect(card.created_at).toBe('2031-02-03T04:05:06.789000Z')
    } finally {
      vi.useRealTimers()
    }
  })

  it.each([
    [{ origin: 'not a url' }, /origin must be an absolute http\(s\) URL/],
    [{ origin: 'https://api.marketplace.test/v1' }, /origin must be an http\(s\) origin/],
    [{ origin: 'ftp://api.marketplace.test' }, /origin must be an http\(s\) origin/],
    [{ now: 'today' }, /now must be a function/],
    [{ requirePostalCode: 'yes' }, /requirePostalCode must be a boolean/],
  ])('refuses invalid options %o with an invalid_request error', (options, message) => {
    const thrown = thrownBy(() => marketplaceEmulator(options as never))
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    expect((thrown as Error).message).toMatch(/^marketplaceEmulator: /)
    expect((thrown as Error).message).toMatch(message)
  })

  it('refuses an option it does not know, naming it and the options there are', () => {
    for (const [options, message] of [
      [
        { orign: 'https://api.marketplace.test' },
        'Invalid marketplaceEmulator options: unknown option "orign": the options are origin, now, requirePostalCode',
      ],
      [
        { require_postal_code: true },
        'Invalid marketplaceEmulator options: unknown option "require_postal_code" (did you mean requirePostalCode?): the options are origin, now, requirePostalCode',
      ],
    ] as const) {
      const thrown = thrownBy(() => marketplaceEmulator(options as never))
      expect(isCardportError(thrown, 'invalid_request'), message).toBe(true)
      expect((thrown as Error).message).toBe(message)
    }
    // Every option it documents, given (the `strict` emulator above gives them too).
    const all = marketplaceEmulator({
      origin: 'https://all.marketplace.test',
      now: () => TEST_NOW,
      requirePostalCode: true,
    })
    expect(all.origin).toBe('https://all.marketplace.test')
  })
})

describe('the clock (now)', () => {
  const clockError = (kind: string) =>
    new RegExp(`^marketplaceEmulator: now must return a valid Date, and it returned ${kind}`)

  it('throws a TypeError from marketplaceEmulator() when now returns no valid Date', () => {
    const wrong: Array<[() => unknown, string]> = [
      [() => TEST_NOW.getTime(), 'a number \\(a clock of milliseconds'],
      [() => new Date(Number.NaN), 'an Invalid Date$'],
      [() => TEST_NOW.toISOString(), 'a string$'],
      [() => undefined, 'undefined$'],
    ]
    for (const [now, kind] of wrong) {
      expect(() => marketplaceEmulator({ now: now as () => Date })).toThrow(TypeError)
      expect(() => marketplaceEmulator({ now: now as () => Date })).toThrow(clockError(kind))
    }
  })

  it('throws the same from a seed, and answers a request with a 500 saying so, when the clock goes wrong later', async () => {
    let clock: unknown = TEST_NOW
    const later = marketplaceEmulator({ now: () => clock as Date })
    expect(later.seed.card().created_at).toBe('2025-06-15T12:00:00.000000Z')
    clock = TEST_NOW.getTime()
    expect(() => later.seed.card()).toThrow(TypeError)
    expect(() => later.seed.card()).toThrow(clockError('a number'))
    const response = await getResponse(
      later.handlers,
      new Request(`${later.origin}/v1/marketplaces/${later.marketplaceId}/cards`, {
        method: 'POST',
        headers: { Authorization: later.authorization(), 'Content-Type': 'application/json' },
        body: JSON.stringify(cardForm()),
      }),
    )
    expect(response?.status).toBe(500)
    const body = (await response?.json()) as { category_code: string; description: string }
    expect(body.category_code).toBe('internal-server-error')
    expect(body.description).toContain(
      'marketplaceEmulator: now must return a valid Date, and it returned a number',
    )
  })
})
