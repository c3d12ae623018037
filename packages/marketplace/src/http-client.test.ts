import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { type CardportError, isCardportError } from '@cardport/core'
import { Agent, MockAgent, ProxyAgent } from 'undici'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ENTITY_CARD_NUMBERS, holdsCardDigits } from './__fixtures__/entity-card-numbers.js'
import {
  createHttpClient,
  type HttpClientConfig,
  type MarketplaceDispatcher,
} from './http-client.js'
import { listMarketplaceCards, marketplaceProvider } from './marketplace-provider.js'

const ORIGIN = 'https://marketplace.test'
const SECRET = 'ak-test-httpClientSecret'
const PATH = '/v1/marketplaces/MP1/cards'

function mockAgent() {
  const agent = new MockAgent()
  agent.disableNetConnect()
  return { agent, pool: agent.get(ORIGIN) }
}

function client(agent: MarketplaceDispatcher, overrides: Partial<HttpClientConfig> = {}) {
  const waits: number[] = []
  const http = createHttpClient({
    baseUrl: ORIGIN,
    secret: SECRET,
    dispatcher: agent,
    headersTimeoutMs: 5_000,
    bodyTimeoutMs: 5_000,
    userAgent: 'cardport-test',
    retry: {
      retries: 2,
      baseDelayMs: 100,
      // No real waiting: the waits asked for are recorded instead.
      sleep: async (ms) => {
        waits.push(ms)
      },
      random: () => 0.5,
    },
    ...overrides,
  })
  return { http, waits }
}

/**
 * `agent`, reading the stack of each error it reports before the client sees it, as a logger or
 * a wrapper of the dispatcher may have: V8 formats a stack, message included, when it is first
 * read, so a stack read only after the client masked the message would hold the masked message
 * whether or not the client masked the stack too.
 */
function readingStacks(agent: MockAgent): MarketplaceDispatcher {
  const onError = new Set<PropertyKey>(['onError', 'onResponseError'])
  return {
    dispatch: (...[options, handler]: Parameters<MockAgent['dispatch']>) =>
      agent.dispatch(
        options,
        new Proxy(handler, {
          get(target, key) {
            const value: unknown = Reflect.get(target, key)
            if (typeof value !== 'function') return value
            if (!onError.has(key)) return value.bind(target)
            return (...args: unknown[]) => {
              for (const arg of args) if (arg instanceof Error) void arg.stack
              return value.apply(target, args)
            }
          },
        }),
      ),
  } as MarketplaceDispatcher
}

async function rejection(run: () => Promise<unknown>): Promise<CardportError> {
  try {
    await run()
  } catch (error) {
    if (isCardportError(error)) return error
    throw error
  }
  throw new Error('expected a rejection')
}

const errorBody = (status: number, category: string) => ({
  status: 'Error',
  status_code: status,
  category_code: category,
  category_type: 'request',
  description: `${category} happened. Your request id is OHM${status}.`,
  additional: null,
  extras: {},
  request_id: `OHM${status}`,
})

describe('requests', () => {
  it('sends JSON with basic auth (the secret as user name), and reads JSON back', async () => {
    const { agent, pool } = mockAgent()
    let seen: Record<string, string> = {}
    let sentBody = ''
    pool.intercept({ path: PATH, method: 'POST' }).reply(
      201,
      (options) => {
        seen = options.headers as Record<string, string>
        sentBody = String(options.body)
        return { id: 'CC1' }
      },
      { headers: { 'x-request-id': 'req-42' } },
    )
    const { http } = client(agent)
    const response = await http.send({
      method: 'POST',
      path: PATH,
      body: { name: 'Benny' },
      idempotencyKey: 'key-1',
    })
    expect(response).toEqual({ status: 201, body: { id: 'CC1' }, requestId: 'req-42' })
    expect(seen.authorization).toBe(`Basic ${Buffer.from(`${SECRET}:`).toString('base64')}`)
    expect(seen['content-type']).toBe('application/json')
    expect(seen.accept).toBe('application/json')
    expect(seen['idempotency-key']).toBe('key-1')
    expect(seen['user-agent']).toBe('cardport-test')
    expect(JSON.parse(sentBody)).toEqual({ name: 'Benny' })
  })

  it('puts the query on the URL', async () => {
    const { agent, pool } = mockAgent()
    pool.intercept({ path: `${PATH}?limit=2&offset=4`, method: 'GET' }).reply(200, { items: [] })
    const { http } = client(agent)
    const response = await http.send({ method: 'GET', path: PATH, query: { limit: 2, offset: 4 } })
    expect(response.body).toEqual({ items: [] })
  })

  it('an empty answer is a null body', async () => {
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'PUT' }).reply(204, '')
    const { http } = client(agent)
    expect((await http.send({ method: 'PUT', path: PATH })).body).toBeNull()
  })

  it('a body that is not JSON is provider_unavailable, and not retried', async () => {
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'GET' }).reply(200, '<html>oops</html>')
    const { http, waits } = client(agent)
    const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
    expect(error.code).toBe('provider_unavailable')
    expect(error.retryable).toBe(false)
    expect(waits).toEqual([])
    // Not retried, so not "retry later": the message says what to do instead.
    expect(error.message).not.toContain('retry later')
    expect(error.message).toContain('report it with the request id')
  })

  it('a 2xx body that is not JSON is quoted nowhere: the parser error, which quotes it, is no cause', async () => {
    // V8's SyntaxError quotes the body it could not parse ("Unexpected token …, "ak-…" is not
    // valid JSON"): the body may be anything, the secret or a card number included.
    const { agent, pool } = mockAgent()
    pool
      .intercept({ path: PATH, method: 'GET' })
      .reply(200, `${SECRET} 4111111111111111`, { headers: { 'x-request-id': 'OHMnotjson' } })
    const { http } = client(agent)
    const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
    expect(error).toMatchObject({ code: 'provider_unavailable', status: 200, retryable: false })
    expect(error.cause).toBeUndefined()
    expect(error.requestId).toBe('OHMnotjson')
    const logged = `${inspect(error, { depth: null })}${JSON.stringify(error)}${error.stack}`
    expect(logged).not.toContain(SECRET)
    expect(logged).not.toContain('4111')
  })

  it('an error answer that quotes the secret keeps it nowhere in the error (it has no format to mask by)', async () => {
    // A server (or a gateway before it) that says which credentials it refused: the secret, the
    // Authorization header, or the header's value alone.
    const basic = Buffer.from(`${SECRET}:`).toString('base64')
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'GET' }).reply(401, {
      ...errorBody(401, 'authentication-required'),
      description: `The API key ${SECRET} is not valid.`,
      additional: `Authorization: Basic ${basic}`,
      extras: { credentials: basic, key: encodeURIComponent(SECRET) },
    })
    const { http } = client(agent)
    const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
    expect(error.code).toBe('authentication')
    const logged = `${inspect(error, { depth: 10 })}${JSON.stringify(error)}`
    for (const form of [SECRET, basic, basic.replace(/=+$/, '')]) {
      expect(logged).not.toContain(form)
    }
    expect(error.message).toContain('The API key [redacted] is not valid.')
  })

  it("an answer's headers that quote the secret keep it nowhere (request id, Retry-After)", async () => {
    // A gateway before the API may echo what it was sent in headers of its own making.
    const { agent, pool } = mockAgent()
    const { request_id: _, ...withoutRequestId } = errorBody(401, 'authentication-required')
    pool.intercept({ path: PATH, method: 'GET' }).reply(401, withoutRequestId, {
      headers: { 'x-request-id': `gw-${SECRET}`, 'retry-after': SECRET },
    })
    pool
      .intercept({ path: PATH, method: 'GET' })
      .reply(200, { cards: [] }, { headers: { 'x-request-id': `gw-${SECRET}` } })
    const { http } = client(agent)
    const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
    expect(error.code).toBe('authentication')
    expect(error.requestId).toBe('gw-[redacted]')
    expect(`${inspect(error, { depth: 10 })}${JSON.stringify(error)}`).not.toContain(SECRET)
    const answer = await http.send({ method: 'GET', path: PATH })
    expect(answer.requestId).toBe('gw-[redacted]')
  })

  describe('a secret an error answer quotes re-encoded', () => {
    // A secret whose every form holds characters that JSON encoders and URL encoders rewrite:
    // `/` and `+` in it, `/` in its basic-auth value (YWstdGVzdC9zZWNyZXQra2V5Pzo=).
    const secret = 'ak-test/secret+key?'
    const basic = Buffer.from(`${secret}:`).toString('base64')
    const forms = [secret, basic, basic.replace(/=+$/, ''), encodeURIComponent(secret)]

    async function answered(text: string, given = secret) {
      const { agent, pool } = mockAgent()
      pool
        .intercept({ path: PATH, method: 'GET' })
        .reply(401, text, { headers: { 'content-type': 'application/json' } })
      const { http } = client(agent, { secret: given })
      const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
      expect(error.code).toBe('authentication')
      return `${inspect(error, { depth: 10 })}${JSON.stringify(error)}${error.message}`
    }

    function expectNoSecret(logged: string) {
      for (const form of forms) expect(logged).not.toContain(form)
      expect(logged).toContain('[redacted]')
    }

    const quoting = (values: { secret: string; basic: string }) => ({
      ...errorBody(401, 'authentication-required'),
      description: `The API key ${values.secret} is not valid.`,
      additional: `Authorization: ${values.basic}`,
      extras: { credentials: values.basic, [values.secret]: 'refused' },
    })

    it('with `/` escaped as `\\/` (PHP, and other JSON encoders)', async () => {
      const text = JSON.stringify(quoting({ secret, basic })).replaceAll('/', '\\/')
      expect(text).not.toContain(secret)
      expectNoSecret(await answered(text))
    })

    it('with every character escaped as \\uXXXX', async () => {
      const escaped = (value: string) =>
        [...value].map((char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`).join('')
      const text = JSON.stringify(quoting({ secret: 'SECRET', basic: 'BASIC' }))
        .replaceAll('SECRET', escaped(secret))
        .replaceAll('BASIC', escaped(basic))
      expectNoSecret(await answered(text))
    })

    it('through the provider and listMarketplaceCards too', async () => {
      const text = JSON.stringify(quoting({ secret, basic })).replaceAll('/', '\\/')
      const { agent, pool } = mockAgent()
      pool
        .intercept({ path: /^\/v1\/marketplaces\/MP1\//, method: 'GET' })
        .reply(401, text, { headers: { 'content-type': 'application/json' } })
        .times(2)
      const provider = marketplaceProvider({
        baseUrl: ORIGIN,
        marketplaceId: 'MP1',
        secret,
        dispatcher: agent,
        retry: { retries: 0 },
      })
      const errors = [
        await rejection(() => provider.listCards({ type: 'account', id: 'AC1' })),
        await rejection(() => listMarketplaceCards(provider)),
      ]
      for (const error of errors) {
        expect(error.code).toBe('authentication')
        expectNoSecret(`${inspect(error, { depth: 10 })}${JSON.stringify(error)}`)
      }
    })

    it('holding a quote and a backslash, which JSON always escapes', async () => {
      const quoted = 'ak-test"quoted\\key'
      const logged = await answered(
        JSON.stringify({
          ...errorBody(401, 'authentication-required'),
          description: `The API key ${quoted} is not valid.`,
        }),
        quoted,
      )
      expect(logged).not.toContain('quoted')
      expect(logged).toContain('The API key [redacted] is not valid.')
    })

    // Every form of the secret and of its credentials, after an HTML page's entities are
    // decoded, as a browser or a log viewer that renders HTML would.
    function expectNoSecretDecoded(logged: string) {
      expectNoSecret(logged)
      const decoded = logged
        .replace(/&#[xX]([0-9a-fA-F]+);/g, (_, hex: string) =>
          String.fromCodePoint(parseInt(hex, 16)),
        )
        .replace(/&#([0-9]+);/g, (_, decimal: string) => String.fromCodePoint(Number(decimal)))
        .replace(
          /&(sol|plus|equals|quest);/g,
          (_, name: string) => ({ sol: '/', plus: '+', equals: '=', quest: '?' })[name] ?? '',
        )
      for (const form of forms) expect(decoded).not.toContain(form)
    }

    it('as HTML character references, in a description that is HTML', async () => {
      // OWASP's encoder writes every character but a letter or a digit as `&#xHH;`.
      const owasp = (text: string) =>
        [...text]
          .map((char) =>
            /[A-Za-z0-9]/.test(char) ? char : `&#x${char.charCodeAt(0).toString(16)};`,
          )
          .join('')
      const decimal = (text: string) => [...text].map((char) => `&#${char.charCodeAt(0)};`).join('')
      const logged = await answered(
        JSON.stringify({
          ...errorBody(401, 'authentication-required'),
          description: `<p>The API key <code>${owasp(secret)}</code> is not valid.</p>`,
          additional: `<pre>Authorization: Basic ${owasp(basic)}</pre>`,
          extras: {
            key: decimal(secret),
            named: basic.replaceAll('/', '&sol;').replaceAll('=', '&equals;'),
          },
        }),
      )
      expectNoSecretDecoded(logged)
      expect(logged).toContain('The API key [redacted] is not valid.')
    })

    it('in base64url, or inside a longer base64 text (a request dumped in base64)', async () => {
      const dump = `GET ${PATH} HTTP/1.1\r\nauthorization: Basic ${basic}\r\n`
      const logged = await answered(
        JSON.stringify({
          ...errorBody(401, 'authentication-required'),
          additional: `token ${Buffer.from(`${secret}:`).toString('base64url')}`,
          extras: {
            request: Buffer.from(dump).toString('base64'),
            shifted: Buffer.from(`x${secret}`).toString('base64'),
          },
        }),
      )
      expectNoSecret(logged)
      expect(logged).toContain('token [redacted]')
      // None of the base64 texts, at any offset, decodes to the secret or its credentials.
      const shifted = Buffer.from(`x${secret}`).toString('base64')
      expect(logged).not.toContain(shifted.slice(2, -2))
      const request = Buffer.from(dump).toString('base64')
      const at = Math.ceil((Buffer.byteLength(dump.slice(0, dump.indexOf(basic))) * 8) / 6)
      expect(logged).not.toContain(request.slice(at, at + basic.length))
    })

    it('in an HTML error page (a proxy answering for the API): the page is kept nowhere', async () => {
      const { agent, pool } = mockAgent()
      const page = `<html><body><h1>502 Bad Gateway</h1><p>upstream refused Basic ${basic} for ${[...secret].map((char) => `&#${char.charCodeAt(0)};`).join('')}</p></body></html>`
      pool
        .intercept({ path: PATH, method: 'GET' })
        .reply(502, page, { headers: { 'content-type': 'text/html' } })
      const { http } = client(agent, { secret, retry: { retries: 0 } })
      const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
      expect(error.code).toBe('provider_unavailable')
      const logged = `${inspect(error, { depth: 10 })}${JSON.stringify(error)}`
      expect(logged).not.toContain('upstream refused')
      for (const form of forms) expect(logged).not.toContain(form)
    })

    it('percent-encoded in lower case', async () => {
      const lower = encodeURIComponent(secret).replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase())
      const text = JSON.stringify({
        ...errorBody(401, 'authentication-required'),
        description: `The request /v1/x?key=${lower} was refused.`,
      })
      const logged = await answered(text)
      expect(logged).not.toContain(lower)
      expect(logged).toContain('key=[redacted]')
    })

    // encodeURIComponent writes upper case (%2F %2B %3D); some encoders write lower case.
    it.each([
      ['upper case, as encodeURIComponent writes it', (text: string) => encodeURIComponent(text)],
      [
        'lower case',
        (text: string) =>
          encodeURIComponent(text).replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
      ],
    ])(
      'percent-encoded in %s: a secret with / + = and its credentials, in the message and the cause',
      async (_case, encode) => {
        const given = 'ak/test+key=1'
        const credentials = Buffer.from(`${given}:`).toString('base64')
        expect(credentials).toMatch(/[/+=]/)
        const quoted = [encode(given), encode(credentials), encode(`Basic ${credentials}`)]
        for (const form of quoted) expect(form).toMatch(/%(?:2F|2B|3D|2f|2b|3d)/)
        const { agent, pool } = mockAgent()
        pool.intercept({ path: PATH, method: 'GET' }).reply(401, {
          ...errorBody(401, 'authentication-required'),
          description: `The request /v1/x?key=${quoted[0]}&auth=${quoted[1]} was refused.`,
          additional: `Authorization=${quoted[2]}`,
          extras: { key: quoted[0], credentials: quoted[1] },
        })
        const { http } = client(agent, { secret: given })
        const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
        expect(error.code).toBe('authentication')
        expect(error.message).toContain('key=[redacted]&auth=[redacted] was refused.')
        const cause = JSON.stringify((error.cause as { body: unknown }).body)
        expect(cause).toContain('[redacted]')
        const logged = `${inspect(error, { depth: 10 })}${JSON.stringify(error)}${error.message}${cause}`
        for (const form of [given, credentials, ...quoted]) expect(logged).not.toContain(form)
      },
    )
  })

  it('a dispatcher error that quotes the request headers (MockAgent) keeps no secret in the cause', async () => {
    // MockAgent names the headers of a request no intercept matched, Authorization included.
    const basic = Buffer.from(`${SECRET}:`).toString('base64')
    const { agent, pool } = mockAgent()
    pool
      .intercept({
        path: (path) => path.startsWith(PATH),
        method: 'GET',
        headers: { authorization: 'Basic other' },
      })
      .reply(200, {})
    const { http } = client(readingStacks(agent), { retry: { retries: 0 } })
    const provider = marketplaceProvider({
      baseUrl: ORIGIN,
      marketplaceId: 'MP1',
      secret: SECRET,
      dispatcher: readingStacks(agent),
      retry: { retries: 0 },
    })
    // listMarketplaceCards is not one of the provider's methods, whose causes the core masks.
    for (const run of [
      () => http.send({ method: 'GET', path: PATH }),
      () => listMarketplaceCards(provider),
    ]) {
      const error = await rejection(run)
      const logged = `${inspect(error, { depth: 10 })}${JSON.stringify(error)}`
      expect(logged).toContain('Mock dispatch not matched for headers')
      expect(logged).not.toContain(basic.replace(/=+$/, ''))
    }
  })

  describe('a card number an error answer writes with HTML character references', () => {
    async function logged(status: number, page: string, contentType: string) {
      const { agent, pool } = mockAgent()
      pool
        .intercept({ path: PATH, method: 'GET' })
        .reply(status, page, { headers: { 'content-type': contentType } })
      const { http } = client(agent, { retry: { retries: 0 } })
      const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
      return {
        error,
        text: `${inspect(error, { depth: 10 })}${JSON.stringify(error)}${error.message}`,
      }
    }

    it.each(ENTITY_CARD_NUMBERS)('in an HTML error page (kept nowhere): %s', async (_, card) => {
      const page = `<html><body><h1>502 Bad Gateway</h1><p>upstream refused the card ${card}</p></body></html>`
      const { error, text } = await logged(502, page, 'text/html')
      expect(error.code).toBe('provider_unavailable')
      expect(holdsCardDigits(text)).toBe(false)
    })

    it.each(ENTITY_CARD_NUMBERS)('in a JSON error description: %s', async (_, card) => {
      const { error, text } = await logged(
        402,
        JSON.stringify({
          ...errorBody(402, 'card-declined'),
          description: `<p>The card <b>${card}</b> was declined.</p>`,
          additional: `Check the card ${card}.`,
          extras: { card },
        }),
        'application/json',
      )
      expect(error.code).toBe('card_declined')
      expect(holdsCardDigits(text)).toBe(false)
      expect(error.message.includes('The card •••• 1111 was declined.')).toBe(true)
    })
  })

  describe('a large error answer (a misbehaving gateway)', () => {
    const CARD = '4111 1111 1111 1111'
    // Each starts 5 characters before a cut: what a cut made before masking would leave.
    const leftByCut = (straddling: string) => straddling.slice(0, 5)
    const logged = (error: CardportError) =>
      `${inspect(error, { depth: 10 })}${JSON.stringify(error)}`

    it.each([
      ['the secret', SECRET],
      ['a card number', CARD],
    ])(
      'over 16 KiB is cut: kept nowhere, not even %s straddling the cut, and the message says so',
      async (_what, straddling) => {
        const head = `{"status_code":502,"category_code":"bad-gateway","request_id":"OHM502","description":"`
        // The quoted text starts 5 bytes before the 16 KiB cut and ends after it.
        const before = 'a'.repeat(16 * 1024 - 5 - head.length)
        const text = `${head}${before}${straddling} ${'b'.repeat(10 * 1024 * 1024)}"}`
        expect(text.indexOf(straddling)).toBe(16 * 1024 - 5)
        const { agent, pool } = mockAgent()
        pool
          .intercept({ path: PATH, method: 'GET' })
          .reply(502, text, { headers: { 'x-request-id': 'gw-1' } })
        const { http } = client(agent, { retry: { retries: 0 } })
        const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
        expect(error).toMatchObject({
          code: 'provider_unavailable',
          status: 502,
          requestId: 'gw-1',
        })
        expect(error.message).toBe(
          `marketplace: GET ${PATH} answered 502 with a body of more than 16 KiB, cut there and kept nowhere (retry later)`,
        )
        expect(error.cause).toMatchObject({ body: null, bodyCut: true })
        const kept = logged(error)
        expect(kept.length).toBeLessThan(8 * 1024)
        expect(kept).not.toContain('aaaa')
        expect(kept).not.toContain(leftByCut(straddling))
      },
    )

    it.each([
      ['the secret', SECRET],
      ['a card number', CARD],
    ])(
      'under 16 KiB is read whole, and its description quoted up to 1,000 characters, %s straddling that cut masked whole',
      async (_what, straddling) => {
        // The secret or number starts 5 characters before the quote's cut and ends after it.
        const description = `${'a'.repeat(1_000 - 5)}${straddling} ${'b'.repeat(8_000)}`
        const { agent, pool } = mockAgent()
        pool
          .intercept({ path: PATH, method: 'GET' })
          .reply(400, { ...errorBody(400, 'request'), description })
        const { http } = client(agent)
        const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
        expect(error).toMatchObject({ code: 'invalid_request', requestId: 'OHM400' })
        expect(error.message).toMatch(/^marketplace: a{995}/)
        expect(error.message).toContain('characters more, cut]')
        expect(error.message.length).toBeLessThan(1_200)
        expect(logged(error)).not.toContain(leftByCut(straddling))
      },
    )
  })

  it.each([
    // Within the 16 KiB an error body is read up to: objects ~2,700 levels, arrays ~8,000.
    ['objects', (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`, 2_700],
    ['arrays', (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`, 8_000],
    [
      'objects in arrays',
      (depth: number) => `${'[{"a":'.repeat(depth)}1${'}]'.repeat(depth)}`,
      1_900,
    ],
  ])(
    'an error answer nesting %s thousands of levels deep is a CardportError, cut deep down, not a stack overflow',
    async (_shape, nested, depth) => {
      const text = `{"category_code":"request","request_id":"OHM400","extras":{"CARD":"4111 1111 1111 1111","deep":${nested(depth)}}}`
      expect(text.length).toBeLessThan(16 * 1024)
      const { agent, pool } = mockAgent()
      pool.intercept({ path: PATH, method: 'GET' }).reply(400, text)
      const { http } = client(agent)
      const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
      expect(error).toMatchObject({ code: 'invalid_request', status: 400, requestId: 'OHM400' })
      // The body the cause keeps is cut where core cuts a CardportError's details.
      const kept = JSON.stringify((error.cause as { body: unknown }).body)
      expect(kept).toContain('[nested too deep]')
      expect(kept.length).toBeLessThan(300)
      expect(kept).toContain('•••• 1111')
    },
  )

  it('an error answer keeps the request id of its body, and maps 404 by context', async () => {
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'GET' }).reply(404, errorBody(404, 'not-found')).times(2)
    const { http } = client(agent)
    const asCard = await rejection(() => http.send({ method: 'GET', path: PATH }))
    expect(asCard).toMatchObject({ code: 'card_not_found', requestId: 'OHM404', status: 404 })
    const asOwner = await rejection(() =>
      http.send({ method: 'GET', path: PATH, notFound: 'owner' }),
    )
    expect(asOwner.code).toBe('owner_not_found')
  })

  it('an error answer without a request id in its body keeps that of its Request-Id header', async () => {
    const { agent, pool } = mockAgent()
    pool
      .intercept({ path: PATH, method: 'GET' })
      .reply(500, 'oops', { headers: { 'request-id': 'OHMheader500' } })
    const { http } = client(agent, { retry: { retries: 0 } })
    const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
    expect(error).toMatchObject({
      code: 'provider_unavailable',
      status: 500,
      requestId: 'OHMheader500',
    })
  })
})

/** A tokenize form, card number and CVC included: what no error may quote. */
const TOKENIZE_FORM = {
  card_number: '4242424242424242',
  expiration_month: 12,
  expiration_year: 2031,
  security_code: '987',
}

describe('retries', () => {
  it('retries a GET after a 5xx, with backoff', async () => {
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'GET' }).reply(503, errorBody(503, 'unavailable'))
    pool.intercept({ path: PATH, method: 'GET' }).reply(502, errorBody(502, 'bad-gateway'))
    pool.intercept({ path: PATH, method: 'GET' }).reply(200, { items: [] })
    const { http, waits } = client(agent)
    expect((await http.send({ method: 'GET', path: PATH })).body).toEqual({ items: [] })
    // Full jitter with random() = 0.5: half of 100, then half of 200.
    expect(waits).toEqual([50, 100])
  })

  // A load balancer's 408 (it gave up waiting for the request) and a 425 (Too Early) say nothing
  // against the request: they were read as `invalid_request`, "fix the request", never retried.
  it('retries a GET after a 408 or a 425, as after a 5xx, honouring its Retry-After', async () => {
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'GET' }).reply(408, '<html>Request Timeout</html>')
    pool
      .intercept({ path: PATH, method: 'GET' })
      .reply(425, 'Too Early', { headers: { 'retry-after': '2' } })
    pool.intercept({ path: PATH, method: 'GET' }).reply(200, { items: [] })
    const { http, waits } = client(agent)
    expect((await http.send({ method: 'GET', path: PATH })).body).toEqual({ items: [] })
    expect(waits).toEqual([50, 2000])
  })

  it('retries a GET after a dropped connection', async () => {
    const { agent, pool } = mockAgent()
    pool
      .intercept({ path: PATH, method: 'GET' })
      .replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
    pool.intercept({ path: PATH, method: 'GET' }).reply(200, { items: [] })
    const { http, waits } = client(agent)
    expect((await http.send({ method: 'GET', path: PATH })).body).toEqual({ items: [] })
    expect(waits).toHaveLength(1)
  })

  it("waits at least a 429's Retry-After before retrying", async () => {
    const { agent, pool } = mockAgent()
    pool
      .intercept({ path: PATH, method: 'GET' })
      .reply(429, errorBody(429, 'too-many-requests'), { headers: { 'retry-after': '3' } })
    pool.intercept({ path: PATH, method: 'GET' }).reply(200, { items: [] })
    const { http, waits } = client(agent)
    await http.send({ method: 'GET', path: PATH })
    expect(waits).toEqual([3000])
  })

  it('gives up after the retries, with the last error', async () => {
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'GET' }).reply(503, errorBody(503, 'unavailable')).times(3)
    const { http, waits } = client(agent)
    const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
    expect(error).toMatchObject({ code: 'provider_unavailable', status: 503, requestId: 'OHM503' })
    expect(waits).toHaveLength(2)
  })

  it('never retries a POST: the reference promises no idempotency', async () => {
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'POST' }).reply(503, errorBody(503, 'unavailable'))
    const { http, waits } = client(agent)
    const error = await rejection(() => http.send({ method: 'POST', path: PATH, body: {} }))
    expect(error.code).toBe('provider_unavailable')
    expect(waits).toEqual([])
  })

  it("keeps nothing of the request's body in a dispatcher's error that quotes it (a MockAgent mismatch)", async () => {
    // undici's MockAgent names the body it could not match: a test's card form, CVC included,
    // would be printed wherever the error is logged.
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'POST', body: 'another body' }).reply(201, {})
    const { http } = client(readingStacks(agent))
    const form = TOKENIZE_FORM
    const error = await rejection(() => http.send({ method: 'POST', path: PATH, body: form }))
    expect(error.code).toBe('provider_unavailable')
    const printed = inspect(error, { depth: 10 })
    // What went wrong still shows; what was sent does not.
    expect(printed).toContain('Mock dispatch not matched')
    for (const sent of [JSON.stringify(form), '4242424242424242', '"security_code":"987"']) {
      expect(printed).not.toContain(sent)
    }
  })

  it("keeps nothing of the request's body nor the secret in a cause of the dispatcher's error, two levels down", async () => {
    // A dispatcher (a wrapper, an interceptor) that reports a dropped connection with the error
    // it was given as the cause: that one quotes the request, its body and headers.
    const failing = {
      dispatch: (...[options, handler]: Parameters<MockAgent['dispatch']>) => {
        const quoted = new Error(
          `upstream refused ${options.method} body=${String(options.body)} headers=${JSON.stringify(options.headers)}`,
        )
        const reset = Object.assign(new Error('request failed', { cause: quoted }), {
          code: 'ECONNRESET',
        })
        queueMicrotask(() =>
          handler.onResponseError
            ? handler.onResponseError(null as never, reset)
            : handler.onError?.(reset),
        )
        return true
      },
    } as MarketplaceDispatcher
    const { http } = client(failing, { retry: { retries: 0 } })
    const form = TOKENIZE_FORM
    const error = await rejection(() => http.send({ method: 'POST', path: PATH, body: form }))
    expect(error.code).toBe('provider_unavailable')
    // The error, the dispatcher's error, and the error that one was given as its cause.
    const chain: unknown[] = []
    for (let current: unknown = error; current instanceof Error; current = current.cause) {
      chain.push(current)
    }
    expect(chain).toHaveLength(3)
    const basic = Buffer.from(`${SECRET}:`).toString('base64')
    for (const level of chain as Error[]) {
      for (const text of [level.message, level.stack ?? '']) {
        for (const held of ['4242424242424242', '"security_code":"987"', SECRET, basic]) {
          expect(text).not.toContain(held)
        }
      }
    }
    // What went wrong still shows, the body in its place.
    expect((chain[2] as Error).message).toContain('upstream refused POST body=[the request body]')
  })

  it('a request undici refuses to send (a header it cannot carry) is invalid_request, not retried', async () => {
    // A real Agent checks headers before it connects (a MockAgent does not); nothing listens on
    // port 1, so a request that got as far as connecting would fail as provider_unavailable.
    const agent = new Agent()
    try {
      const base = { baseUrl: 'http://127.0.0.1:1' } as const
      // A line break in a header value: undici throws InvalidArgumentError, nothing is sent.
      const { http, waits } = client(agent, { ...base, userAgent: 'cardport\r\nX-Injected: 1' })
      const read = await rejection(() => http.send({ method: 'GET', path: PATH }))
      expect(read).toMatchObject({ code: 'invalid_request', retryable: false })
      expect(read.message).toContain(`GET ${PATH}`)
      expect(waits).toEqual([])
      const { http: keyed } = client(agent, base)
      const create = await rejection(() =>
        keyed.send({ method: 'POST', path: PATH, body: {}, idempotencyKey: 'order\n42' }),
      )
      expect(create).toMatchObject({ code: 'invalid_request', retryable: false })
    } finally {
      await agent.close()
    }
  })

  it('retries a PUT marked safe to repeat', async () => {
    const { agent, pool } = mockAgent()
    pool
      .intercept({ path: PATH, method: 'PUT' })
      .replyWithError(Object.assign(new Error('reset'), { code: 'UND_ERR_SOCKET' }))
    pool.intercept({ path: PATH, method: 'PUT' }).reply(200, { ok: true })
    const { http } = client(agent)
    const response = await http.send({
      method: 'PUT',
      path: PATH,
      body: { is_valid: false },
      retry: true,
    })
    expect(response.body).toEqual({ ok: true })
  })

  it('an abort rejects with its reason, not as provider_unavailable, and stops the retries', async () => {
    const { agent, pool } = mockAgent()
    const controller = new AbortController()
    const reason = new Error('stopped by the caller')
    pool.intercept({ path: PATH, method: 'GET' }).reply(503, errorBody(503, 'unavailable'))
    const { http } = client(agent, {
      retry: {
        retries: 2,
        // The abort comes during the wait after the first 503: no second attempt starts.
        sleep: async () => controller.abort(reason),
      },
    })
    await expect(http.send({ method: 'GET', path: PATH, signal: controller.signal })).rejects.toBe(
      reason,
    )
    // A request sent with an aborted signal is not sent at all.
    await expect(http.send({ method: 'POST', path: PATH, signal: controller.signal })).rejects.toBe(
      reason,
    )
    agent.assertNoPendingInterceptors()
  })

  it('a 407 answer (a proxy in the way) is authentication, naming the proxy, not the secret', async () => {
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'GET' }).reply(407, '')
    const { http, waits } = client(agent)
    const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
    expect(error).toMatchObject({ code: 'authentication', retryable: false, status: 407 })
    expect(error.message).toContain('proxy')
    expect(error.message).not.toContain('API secret')
    expect(waits).toEqual([])
  })

  it('does not retry what cannot succeed later (a 409)', async () => {
    const { agent, pool } = mockAgent()
    pool.intercept({ path: PATH, method: 'GET' }).reply(409, errorBody(409, 'card-not-valid'))
    const { http, waits } = client(agent)
    expect((await rejection(() => http.send({ method: 'GET', path: PATH }))).code).toBe('conflict')
    expect(waits).toEqual([])
  })
})

describe('over a real loopback socket', () => {
  let server: Server | undefined
  afterEach(async () => {
    server?.closeAllConnections()
    await new Promise<void>((resolve) => server?.close(() => resolve()) ?? resolve())
    server = undefined
  })

  async function listen(handler: (request: IncomingMessage, response: ServerResponse) => void) {
    server = createServer(handler)
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }

  describe('a body larger than the client reads', () => {
    const MiB = 1024 * 1024
    /** Streams `total` bytes of one JSON string (chunked), stopping when the client hangs up. */
    function streamJson(total: number, status = 200) {
      const sent = { bytes: 0, closedEarly: false }
      const handler = (_request: IncomingMessage, response: ServerResponse) => {
        sent.bytes = 0
        response.writeHead(status, { 'content-type': 'application/json' })
        const chunk = Buffer.alloc(64 * 1024, 'x')
        response.write('{"pad":"')
        response.on('close', () => {
          sent.closedEarly = !response.writableFinished
        })
        const pump = () => {
          while (!response.destroyed && sent.bytes < total) {
            sent.bytes += chunk.byteLength
            if (!response.write(chunk)) return void response.once('drain', pump)
          }
          if (!response.destroyed) response.end('"}')
        }
        pump()
      }
      return { sent, handler }
    }

    it('a 2xx body past maxResponseBodyBytes (8 MiB by default) is not read further: the connection is dropped, provider_unavailable, not retried', async () => {
      const { sent, handler } = streamJson(48 * MiB)
      const baseUrl = await listen(handler)
      const agent = new Agent()
      try {
        const { http, waits } = client(agent, { baseUrl })
        const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
        expect(error).toMatchObject({ code: 'provider_unavailable', status: 200, retryable: false })
        expect(error.message).toBe(
          `marketplace: GET ${PATH} answered 200 with a body of more than 8 MiB, the most maxResponseBodyBytes lets it read: not read further, kept nowhere (raise the maxResponseBodyBytes option if your marketplace answers that much)`,
        )
        expect(waits).toEqual([])
        await vi.waitFor(() => expect(sent.closedEarly).toBe(true))
        expect(sent.bytes).toBeLessThan(24 * MiB)
      } finally {
        await agent.close()
      }
    })

    it('maxResponseBodyBytes raises the limit (and lowers it)', async () => {
      const { handler } = streamJson(10 * MiB)
      const baseUrl = await listen(handler)
      const agent = new Agent()
      try {
        const raised = client(agent, { baseUrl, maxResponseBodyBytes: 16 * MiB }).http
        const { body } = await raised.send({ method: 'GET', path: PATH })
        expect((body as { pad: string }).pad.length).toBeGreaterThanOrEqual(10 * MiB)
        const lowered = client(agent, { baseUrl, maxResponseBodyBytes: 1_000_000 }).http
        const error = await rejection(() => lowered.send({ method: 'GET', path: PATH }))
        expect(error.message).toContain('more than 1000000 bytes, the most maxResponseBodyBytes')
        const provider = marketplaceProvider({
          baseUrl,
          marketplaceId: 'MP1',
          secret: SECRET,
          maxResponseBodyBytes: 1024 * 1024,
        })
        try {
          const fromProvider = await rejection(() =>
            provider.getCard({ type: 'account', id: 'AC1' }, 'CC1'),
          )
          expect(fromProvider.code).toBe('provider_unavailable')
          expect(fromProvider.message).toContain('more than 1 MiB, the most maxResponseBodyBytes')
        } finally {
          await provider.close()
        }
      } finally {
        await agent.close()
      }
    })

    it.each([
      [200, 'maxResponseBodyBytes (8 MiB)'],
      [502, '16 KiB'],
    ])(
      'a %s whose Content-Length is past the limit is refused before a byte of its body is read',
      async (status, limit) => {
        let closed = false
        const baseUrl = await listen((_request, response) => {
          response.writeHead(status, { 'content-length': String(100 * MiB) })
          response.write('{"pad":"')
          response.on('close', () => {
            closed = true
          })
          // The rest never comes: reading it would wait for bodyTimeoutMs.
        })
        const agent = new Agent()
        try {
          const { http } = client(agent, { baseUrl, retry: { retries: 0 } })
          // Read, the body would end in a body timeout, whose message says none of what follows.
          const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
          expect(error).toMatchObject({ code: 'provider_unavailable', status })
          expect(error.message).toContain(`a body of ${100 * MiB} bytes (Content-Length)`)
          expect(error.message).toContain(limit)
          expect(error.message).toContain('skipped unread')
          await vi.waitFor(() => expect(closed).toBe(true))
        } finally {
          await agent.close()
        }
      },
    )

    /** A JSON object of exactly `bytes` bytes: `fields`, then a `pad` string filling the rest. */
    function jsonOf(bytes: number, fields: object = {}): string {
      const head = `${JSON.stringify(fields).slice(0, -1)}${Object.keys(fields).length > 0 ? ',' : ''}"pad":"`
      const text = `${head}${'x'.repeat(bytes - head.length - 2)}"}`
      expect(Buffer.byteLength(text)).toBe(bytes)
      return text
    }

    const LIMIT = 1_000
    const ERROR_LIMIT = 16 * 1024
    const errorFields = { status_code: 400, category_code: 'request', request_id: 'OHM400' }

    describe.each([
      ['with its Content-Length', true],
      ['without a Content-Length (chunked)', false],
    ])('a body of exactly the limit is read, one byte more refused: %s', (_case, withLength) => {
      async function answering(status: number, text: string) {
        const baseUrl = await listen((_request, response) => {
          response.writeHead(status, {
            'content-type': 'application/json',
            ...(withLength ? { 'content-length': String(Buffer.byteLength(text)) } : {}),
          })
          // Two writes: without a Content-Length, two chunks the client adds up.
          response.write(text.slice(0, 10))
          response.end(text.slice(10))
        })
        const agent = new Agent()
        const { http } = client(agent, {
          baseUrl,
          maxResponseBodyBytes: LIMIT,
          retry: { retries: 0 },
        })
        try {
          return await http.send({ method: 'GET', path: PATH }).then(
            (answer) => ({ answer, error: undefined }),
            (error: unknown) => {
              if (!isCardportError(error)) throw error
              return { answer: undefined, error }
            },
          )
        } finally {
          await agent.close()
        }
      }

      it(`a 2xx of maxResponseBodyBytes (${LIMIT} bytes) is read`, async () => {
        const { answer, error } = await answering(200, jsonOf(LIMIT))
        expect(error).toBeUndefined()
        expect((answer?.body as { pad?: string } | undefined)?.pad).toHaveLength(LIMIT - 10)
      })

      it(`a 2xx of maxResponseBodyBytes + 1 (${LIMIT + 1} bytes) is refused`, async () => {
        const { error } = await answering(200, jsonOf(LIMIT + 1))
        expect(error).toMatchObject({ code: 'provider_unavailable', status: 200 })
        expect(error?.message).toContain('maxResponseBodyBytes')
        expect(error?.message).toContain('kept nowhere')
      })

      it('an error answer of 16 KiB is read, and mapped by its category', async () => {
        const { error } = await answering(400, jsonOf(ERROR_LIMIT, errorFields))
        expect(error).toMatchObject({ code: 'invalid_request', status: 400, requestId: 'OHM400' })
        expect(error?.cause).toMatchObject({ bodyCut: false })
      })

      it('an error answer of 16 KiB + 1 byte is cut, kept nowhere', async () => {
        const { error } = await answering(400, jsonOf(ERROR_LIMIT + 1, errorFields))
        // Mapped by its status alone: its category and request id were not read.
        expect(error).toMatchObject({ status: 400, requestId: undefined })
        expect(error?.message).toContain('16 KiB')
        expect(error?.cause).toMatchObject({ body: null, bodyCut: true })
      })
    })
  })

  it('a proxy that wants credentials (407) is authentication, not retried, with no credential in it', async () => {
    let attempts = 0
    const proxy = await listen((_request, response) => {
      attempts += 1
      response.writeHead(407, { 'proxy-authenticate': 'Basic realm="proxy"' })
      response.end()
    })
    server!.on('connect', (_request, socket) => {
      attempts += 1
      socket.end(
        'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="proxy"\r\nContent-Length: 0\r\n\r\n',
      )
    })
    const uri = proxy.replace('http://', 'http://proxyuser:proxy-password-42@')
    // Tunnelled (CONNECT, undici's default) and forwarded (proxyTunnel: false): undici reports
    // each 407 its own way.
    for (const proxyTunnel of [true, false]) {
      attempts = 0
      const agent = new ProxyAgent({ uri, proxyTunnel })
      try {
        const { http, waits } = client(agent, { baseUrl: 'http://marketplace.test' })
        const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
        expect(error).toMatchObject({ code: 'authentication', retryable: false, status: 407 })
        expect(error.message).toContain('proxy')
        expect(error.message).not.toContain('proxy-password-42')
        expect(waits).toEqual([])
        expect(attempts).toBe(1)
      } finally {
        await agent.close()
      }
    }
  })

  it('a server that never answers is provider_unavailable after headersTimeoutMs', async () => {
    const baseUrl = await listen(() => {
      // never answers
    })
    const provider = marketplaceProvider({
      baseUrl,
      marketplaceId: 'MP1',
      secret: SECRET,
      headersTimeoutMs: 50,
      retry: { retries: 0 },
    })
    try {
      const error = await rejection(() => provider.getCard({ type: 'account', id: 'AC1' }, 'CC1'))
      expect(error.code).toBe('provider_unavailable')
      expect(error.message).toContain('headersTimeoutMs')
      expect(error.message).not.toContain(SECRET)
    } finally {
      await provider.close()
    }
  })

  // No duration is measured: with headersTimeoutMs used for the body too, the body would be
  // waited for 20 s, past the test's timeout.
  it('a body that stalls is provider_unavailable after bodyTimeoutMs, not headersTimeoutMs', async () => {
    const baseUrl = await listen((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"a":')
      // never ends
    })
    const agent = new Agent()
    try {
      const { http } = client(agent, {
        baseUrl,
        headersTimeoutMs: 20_000,
        bodyTimeoutMs: 1_000,
        retry: { retries: 0 },
      })
      const error = await rejection(() => http.send({ method: 'GET', path: PATH }))
      expect(error).toMatchObject({
        code: 'provider_unavailable',
        providerCode: 'UND_ERR_BODY_TIMEOUT',
      })
    } finally {
      await agent.close()
    }
  }, 10_000)

  it('the default Agent keeps the connection alive between requests, and close() ends it', async () => {
    const sockets = new Set<unknown>()
    let requests = 0
    const baseUrl = await listen((request, response) => {
      requests += 1
      sockets.add(request.socket)
      response.writeHead(404, { 'content-type': 'application/json' })
      response.end(JSON.stringify(errorBody(404, 'not-found')))
    })
    const provider = marketplaceProvider({ baseUrl, marketplaceId: 'MP1', secret: SECRET })
    const account = { type: 'account', id: 'AC1' } as const
    // getCard answers 404, then looks the account up: two requests, one connection.
    const error = await rejection(() => provider.getCard(account, 'CC1'))
    expect(error.code).toBe('owner_not_found')
    for (let index = 0; index < 4; index++) {
      expect((await rejection(() => provider.listCards(account))).code).toBe('owner_not_found')
    }
    // undici may open a second connection while the first finishes reading; no more than that.
    expect(requests).toBe(6)
    expect(sockets.size).toBeLessThanOrEqual(2)
    await provider.close()
    for (const socket of sockets as Set<{
      destroyed: boolean
      once(e: string, f: () => void): void
    }>) {
      if (!socket.destroyed) await new Promise<void>((resolve) => socket.once('close', resolve))
      expect(socket.destroyed).toBe(true)
    }
  })
})
