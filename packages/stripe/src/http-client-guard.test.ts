import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import type { Owner } from '@cardport/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { guardHttpClient } from './http-client-guard.js'
import { stripeProvider } from './stripe-provider.js'
import { STRIPE_SDKS, settledWithin } from './test-harness.js'

// A Stripe API on a loopback port that answers every request with `answer`: no MSW, so that
// the SDK's own HTTP clients run as they do in production.
let answer = { status: 200, body: '{}' }
let server: Server
let port = 0
beforeAll(async () => {
  server = createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      response.writeHead(answer.status, {
        'content-type': 'application/json',
        'request-id': 'req_guard',
      })
      response.end(answer.body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
afterAll(() => new Promise((resolve) => server.close(resolve)))

const loopback = () => ({ host: '127.0.0.1', port, protocol: 'http' })
const owner: Owner = { type: 'customer', id: 'cus_guard' }
const CARD = '{"id":"card_1","object":"card","last4":"4242","brand":"Visa"}'

/** What the tests call on an SDK instance besides the adapter's methods. */
interface Sdk {
  getApiField(key: 'httpClient'): { getClientName(): string }
  customers: { retrieveSource(customer: string, id: string): Promise<unknown> }
}

const SDK_CLIENTS = Object.entries(STRIPE_SDKS).flatMap(([sdk, Stripe]) =>
  (['node http', 'fetch'] as const).map((http) => ({
    name: `${sdk}, ${http}`,
    make: () =>
      new Stripe('sk_test_guard', {
        ...loopback(),
        maxNetworkRetries: 0,
        ...(http === 'fetch' ? { httpClient: Stripe.createFetchHttpClient() } : {}),
      }) as unknown as Sdk,
    clientName: http === 'fetch' ? 'fetch' : 'node',
  })),
)

describe.each(SDK_CLIENTS)('the instance you pass ($name)', ({ make, clientName }) => {
  it('is guarded once, for its own calls too: JSON that is no object fails them', async () => {
    const stripe = make()
    stripeProvider({ stripe: stripe as never })
    const guarded = stripe.getApiField('httpClient')
    stripeProvider({ stripe: stripe as never })
    expect(stripe.getApiField('httpClient')).toBe(guarded)
    expect(guarded.getClientName()).toBe(clientName)

    for (const body of ['42', '"text"', 'true', 'null']) {
      answer = { status: 200, body }
      const outcome = await settledWithin(2000, stripe.customers.retrieveSource('cus_1', 'card_1'))
      expect(outcome, body).toMatchObject({
        error: { type: 'StripeAPIError', message: 'Invalid JSON received from the Stripe API' },
      })
    }
    // What the SDK read before, it reads as before.
    answer = { status: 200, body: CARD }
    const card = await stripe.customers.retrieveSource('cus_1', 'card_1')
    // `lastResponse`: node:http's response (`statusCode`), or stripe 16's fetch Response.
    const { lastResponse } = card as { lastResponse: { statusCode?: number; status?: number } }
    expect(card).toMatchObject({ id: 'card_1' })
    expect(lastResponse.statusCode ?? lastResponse.status).toBe(200)
    answer = { status: 200, body: '[]' }
    expect(await stripe.customers.retrieveSource('cus_1', 'card_1')).toEqual([])
  })
})

describe('guardHttpClient', () => {
  it('guards the instance a provider makes from an API key', async () => {
    const provider = stripeProvider({
      apiKey: 'sk_test_guard',
      maxNetworkRetries: 0,
      stripeConfig: loopback(),
    })
    answer = { status: 200, body: '7' }
    const outcome = await settledWithin(2000, provider.getCard(owner, 'card_1'))
    expect(outcome).toMatchObject({
      error: {
        code: 'provider_unavailable',
        retryable: true,
        requestId: 'req_guard',
        message: 'Stripe: Invalid JSON received from the Stripe API (retry later)',
        cause: { type: 'StripeAPIError' },
      },
    })
  })

  it('names the JSON type only, never the body', async () => {
    const provider = stripeProvider({
      apiKey: 'sk_test_guard',
      maxNetworkRetries: 0,
      stripeConfig: loopback(),
    })
    answer = { status: 402, body: '"4242 4242 4242 4242 sk_test_guard"' }
    const outcome = await settledWithin(2000, provider.getCard(owner, 'card_1'))
    expect(outcome).toMatchObject({ error: { code: 'provider_unavailable' } })
    const text = inspect(outcome, { depth: 20 })
    expect(text).toContain('The body is JSON of type string, not an object')
    expect(text).not.toMatch(/4242|sk_test_guard/)
  })

  it('leaves alone what is not an SDK instance with an HTTP client', () => {
    const httpClient = { getClientName: () => 'mine' }
    const set: unknown[] = []
    const withoutClient = {
      getApiField: () => httpClient,
      _setApiField: (...args: unknown[]) => set.push(args),
    }
    for (const value of [undefined, null, 7, {}, { getApiField: () => ({}) }, withoutClient]) {
      expect(() => guardHttpClient(value)).not.toThrow()
    }
    expect(set).toEqual([])
  })
})
