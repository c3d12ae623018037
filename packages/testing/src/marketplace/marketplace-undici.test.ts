import { request, fetch as undiciFetch } from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { rejection } from '../__fixtures__/thrown.js'
import { setupCardportServer } from '../setup-server.js'
import { marketplaceEmulator } from './marketplace-emulator.js'
import { cardForm, mp, TEST_NOW } from './marketplace-test-harness.js'

// The marketplace adapter talks undici: the emulator must answer undici's request() and fetch()
// through the bridge exactly as it answers global fetch.
const emulator = marketplaceEmulator({ now: () => TEST_NOW })
const server = setupCardportServer(...emulator.handlers)
beforeAll(() => server.listen())
afterEach(() => {
  server.resetHandlers()
  emulator.reset()
})
afterAll(() => server.close())

const url = (path: string) => `${emulator.origin}${path}`
const headers = () => ({
  authorization: emulator.authorization(),
  'content-type': 'application/json',
})

describe("undici's request()", () => {
  it('tokenizes, associates and lists an account’s cards', async () => {
    const account = emulator.seed.account()
    const tokenized = await request(url(mp('/cards')), {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(cardForm()),
    })
    expect(tokenized.statusCode).toBe(201)
    expect(tokenized.headers['x-request-id']).toMatch(/^OHM[0-9a-f]{32}$/)
    const card = (await tokenized.body.json()) as { id: string; uri: string; last_four: string }
    expect(card.last_four).toBe('1111')

    const associated = await request(url(mp(`/cards/${card.id}`)), {
      method: 'PUT',
      headers: headers(),
      body: JSON.stringify({ account_uri: account.uri }),
    })
    expect(associated.statusCode).toBe(200)
    await associated.body.dump()

    const listed = await request(url(mp(`/accounts/${account.id}/cards`)), {
      headers: headers(),
      query: { limit: 1, offset: 0 },
    })
    expect(listed.statusCode).toBe(200)
    expect(await listed.body.json()).toMatchObject({
      total: 1,
      items: [
        { id: card.id, customer: { source_uri: `/v1/customers/${account.id}/cards/${card.id}` } },
      ],
      first_uri: `${account.uri}/cards?limit=1&offset=0`,
      last_uri: `${account.uri}/cards?limit=1&offset=0`,
      next_uri: null,
    })
  })

  it('answers the error bodies: 409 card-not-validated, 402 card-declined, 401', async () => {
    const invalid = await request(url(mp('/cards')), {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(cardForm({ card_number: '4111111111111112' })),
    })
    expect(invalid.statusCode).toBe(409)
    const invalidText = await invalid.body.text()
    expect(JSON.parse(invalidText)).toMatchObject({
      status_code: 409,
      category_code: 'card-not-validated',
      category_type: 'logical',
      request_id: invalid.headers['x-request-id'],
    })
    expect(invalidText).not.toContain('4111111111111112')

    const account = emulator.seed.account()
    const declined = await request(url(mp(`/accounts/${account.id}/cards`)), {
      method: 'POST',
      headers: headers(),
      body: JSON.stringify(cardForm({ card_number: '4444444444444448' })),
    })
    expect(declined.statusCode).toBe(402)
    expect(await declined.body.json()).toMatchObject({
      category_code: 'card-declined',
      category_type: 'banking',
    })

    const anonymous = await request(url(mp('/cards')))
    expect(anonymous.statusCode).toBe(401)
    expect(await anonymous.body.json()).toMatchObject({ category_code: 'authentication-required' })
  })

  it('sees an injected 429 with Retry-After', async () => {
    emulator.faults.inject({
      route: 'GET /v1/marketplaces/:marketplace/accounts',
      status: 429,
      retryAfter: 3,
    })
    const limited = await request(url(mp('/accounts')), { headers: headers() })
    expect(limited.statusCode).toBe(429)
    expect(limited.headers['retry-after']).toBe('3')
    expect(await limited.body.json()).toMatchObject({ category_code: 'too-many-requests' })
  })

  it('sees a dropped connection before and after the commit as a socket error', async () => {
    const post = () =>
      request(url(mp('/cards')), {
        method: 'POST',
        headers: headers(),
        body: JSON.stringify(cardForm()),
      })
    emulator.faults.inject({
      route: 'POST /v1/marketplaces/:marketplace/cards',
      drop: 'before-commit',
    })
    expect((await rejection(post())).code).toBe('UND_ERR_SOCKET')
    expect(emulator.state.cards()).toEqual([])

    emulator.faults.inject({
      route: 'POST /v1/marketplaces/:marketplace/cards',
      drop: 'after-commit',
    })
    expect((await rejection(post())).code).toBe('UND_ERR_SOCKET')
    expect(emulator.state.cards()).toHaveLength(1)
  })

  it("fails a request whose answer is later than its headersTimeout, as undici's Agent would", async () => {
    emulator.faults.inject({ route: 'GET /v1/marketplaces/:marketplace/accounts', latencyMs: 300 })
    const late = await rejection(
      request(url(mp('/accounts')), { headers: headers(), headersTimeout: 50 }),
    )
    expect(late.code).toBe('UND_ERR_HEADERS_TIMEOUT')
    // Without a timeout that short, the same latency is only late.
    emulator.faults.inject({ route: 'GET /v1/marketplaces/:marketplace/accounts', latencyMs: 20 })
    const slow = await request(url(mp('/accounts')), { headers: headers(), headersTimeout: 5_000 })
    expect(slow.statusCode).toBe(200)
    await slow.body.dump()
  })

  it('answers a client given the dispatcher explicitly', async () => {
    const answer = await request(url(mp('/accounts')), {
      headers: headers(),
      dispatcher: server.dispatcher,
    })
    expect(answer.statusCode).toBe(200)
    expect(await answer.body.json()).toMatchObject({ _type: 'page', total: 0 })
  })

  it('fails a request to an origin no emulator answers', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      const error = await rejection(request('https://elsewhere.test/v1/marketplaces'))
      expect(error.code).toBe('CARDPORT_UNHANDLED_REQUEST')
    } finally {
      printed.mockRestore()
    }
  })
})

describe("undici's fetch()", () => {
  it('pages the marketplace’s cards by following next_uri', async () => {
    const ids = [1, 2, 3].map(() => emulator.seed.card().id)
    const seen: string[] = []
    let next: string | null = mp('/cards?limit=2')
    while (next) {
      const response = await undiciFetch(url(next), { headers: headers() })
      expect(response.status).toBe(200)
      const page = (await response.json()) as {
        items: Array<{ id: string }>
        next_uri: string | null
      }
      seen.push(...page.items.map((card) => card.id))
      next = page.next_uri
    }
    expect(seen).toEqual(ids)
  })

  it('invalidates a card for good', async () => {
    const card = emulator.seed.card()
    const put = (isValid: boolean) =>
      undiciFetch(url(mp(`/cards/${card.id}`)), {
        method: 'PUT',
        headers: headers(),
        body: JSON.stringify({ is_valid: isValid }),
      })
    const invalidated = await put(false)
    expect(await invalidated.json()).toMatchObject({ is_valid: false })
    const revalidated = await put(true)
    expect(revalidated.status).toBe(409)
    expect(revalidated.headers.get('x-request-id')).toMatch(/^OHM/)
    expect(await revalidated.json()).toMatchObject({ category_code: 'card-not-valid' })
  })

  it('sends a form body', async () => {
    const response = await undiciFetch(url(mp('/cards')), {
      method: 'POST',
      headers: { authorization: emulator.authorization() },
      body: new URLSearchParams({
        card_number: '6011111111111117',
        expiration_month: '1',
        expiration_year: '2029',
        'meta[source]': 'form',
      }),
    })
    expect(response.status).toBe(201)
    expect(await response.json()).toMatchObject({ brand: 'Discover', meta: { source: 'form' } })
  })
})
