import { HttpResponse, http } from 'msw'
import Stripe from 'stripe'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import type { Emulator } from './emulator.js'
import { type EmulatorServer, startEmulatorServer } from './emulator-server.js'
import { createFaultRunner } from './faults.js'
import { stripeEmulator } from './stripe/stripe-emulator.js'

describe('startEmulatorServer', () => {
  let server: EmulatorServer
  beforeAll(async () => {
    server = await startEmulatorServer()
  })
  afterEach(() => server.reset())
  afterAll(() => server.close())

  const clients = [
    { name: 'node http client', httpClient: undefined },
    { name: 'fetch client', httpClient: Stripe.createFetchHttpClient() },
  ]

  it('listens on a random loopback port by default', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
    expect(server.port).toBeGreaterThan(0)
    expect(server.stripe).toBeDefined()
    expect(server.marketplace).toBeDefined()
    expect(server.emulators).toHaveLength(2)
  })

  it.each(clients)('serves the official stripe SDK over HTTP ($name)', async ({ httpClient }) => {
    const stripe = new Stripe('sk_test_123', {
      host: '127.0.0.1',
      port: server.port,
      protocol: 'http',
      maxNetworkRetries: 0,
      ...(httpClient ? { httpClient } : {}),
    })
    const customer = await stripe.customers.create({ email: 'jenny@example.com' })
    const card = await stripe.customers.createSource(customer.id, { source: 'tok_mastercard' })
    expect(card).toMatchObject({ object: 'card', brand: 'MasterCard', customer: customer.id })
    expect(server.stripe?.state.customer(customer.id)?.default_source).toBe(card.id)
    const declined = await stripe.customers
      .createSource(customer.id, { source: 'tok_chargeDeclined' })
      .catch((error: unknown) => error)
    expect(declined).toMatchObject({ type: 'StripeCardError', code: 'card_declined' })
  })

  it('answers an unknown path with a loud 404 JSON error', async () => {
    const response = await fetch(`${server.url}/nope?x=1`)
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toBe('application/json')
    const body = (await response.json()) as { error: { message: string; code: string } }
    expect(body.error.code).toBe('emulator_route_not_found')
    expect(body.error.message).toContain('No emulator serves GET /nope')
    expect(body.error.message).toContain('https://api.stripe.com at /v1/tokens')
    expect(body.error.message).toContain('/v1/marketplaces')
  })

  it('lets Stripe answer an unknown Stripe-looking path, as api.stripe.com would', async () => {
    const response = await fetch(`${server.url}/v1/charges`, {
      headers: { authorization: 'Bearer sk_test_123' },
    })
    expect(response.status).toBe(404)
    const body = (await response.json()) as { error: { message: string } }
    expect(body.error.message).toContain('Unrecognized request URL (GET: /v1/charges)')
    expect(response.headers.get('request-id')).toMatch(/^req_/)
  })

  it('sends /v1/marketplaces/… to the marketplace emulator, known route or not', async () => {
    const marketplace = server.marketplace!
    const base = `${server.url}/v1/marketplaces/${marketplace.marketplaceId}`
    const headers = { authorization: marketplace.authorization() }
    const cards = await fetch(`${base}/cards`, { headers })
    expect(cards.status).toBe(200)
    await fetch(`${base}/no-such-resource`, { headers })
    expect(marketplace.state.requests()).toHaveLength(2)
    expect(server.stripe?.state.requests()).toEqual([])
  })

  it('drops the connection when a fault says so', async () => {
    server.stripe!.faults.inject({ route: 'POST /v1/customers', drop: 'after-commit' })
    const error = await fetch(`${server.url}/v1/customers`, {
      method: 'POST',
      headers: {
        authorization: 'Bearer sk_test_123',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'email=jenny%40example.com',
    }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(TypeError)
    expect(server.stripe!.state.customers()).toHaveLength(1)
  })
})

describe('startEmulatorServer options', () => {
  it('serves the emulators it is given, in order', async () => {
    const ping: Emulator = {
      origin: 'https://ping.test',
      handlers: [http.get('https://ping.test/ping', () => HttpResponse.json({ pong: true }))],
      faults: createFaultRunner(),
      reset() {},
    }
    const stripe = stripeEmulator()
    const server = await startEmulatorServer({ emulators: [ping, stripe] })
    try {
      expect(server.stripe).toBe(stripe)
      expect(server.marketplace).toBeUndefined()
      expect(await (await fetch(`${server.url}/ping`)).json()).toEqual({ pong: true })
      const customers = await fetch(`${server.url}/v1/customers`, {
        headers: { authorization: 'Bearer sk_test_123' },
      })
      expect(customers.status).toBe(200)
    } finally {
      await server.close()
    }
  })

  it('takes options given as undefined as not given: both emulators on a free loopback port', async () => {
    const server = await startEmulatorServer({
      port: undefined,
      host: undefined,
      emulators: undefined,
    })
    try {
      expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(server.port).toBeGreaterThan(0)
      expect([server.stripe, server.marketplace].every(Boolean)).toBe(true)
    } finally {
      await server.close()
    }
  })

  it('frees its port on close()', async () => {
    const first = await startEmulatorServer()
    const { port, url } = first
    await first.close()
    await expect(fetch(`${url}/v1/customers`)).rejects.toThrow()
    // The same port can be bound again at once.
    const second = await startEmulatorServer({ port })
    try {
      expect(second.port).toBe(port)
    } finally {
      await second.close()
    }
  })

  it('ends a request waiting out a latency fault on close(), clearing its timer', async () => {
    // A latency no test waits out: its timer is told apart from every other by its delay.
    const latencyMs = 987_654
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout')
    const clearTimeoutSpy = vi.spyOn(globalThis, 'clearTimeout')
    const server = await startEmulatorServer()
    try {
      server.stripe!.faults.inject({ route: 'POST /v1/customers', latencyMs })
      const answer = postCustomer(server.url).catch((caught: unknown) => caught)
      await vi.waitFor(() => expect(server.stripe!.state.requests()).toHaveLength(1))
      await server.close()
      expect(await answer).toBeInstanceOf(TypeError)
      const timers = setTimeoutSpy.mock.calls.flatMap(([, ms], index) =>
        ms === latencyMs ? [setTimeoutSpy.mock.results[index]!.value] : [],
      )
      expect(timers).toHaveLength(1)
      expect(clearTimeoutSpy.mock.calls.map(([timer]) => timer)).toContain(timers[0])
    } finally {
      setTimeoutSpy.mockRestore()
      clearTimeoutSpy.mockRestore()
      await server.close()
    }
  })

  it('lets a Stripe request waiting out a latency when close() is called commit nothing', async () => {
    const server = await startEmulatorServer()
    server.stripe!.faults.inject({ route: 'POST /v1/customers', latencyMs: 100 })
    const answer = postCustomer(server.url).catch((caught: unknown) => caught)
    await vi.waitFor(() => expect(server.stripe!.state.requests()).toHaveLength(1))
    await server.close()
    expect(await answer).toBeInstanceOf(TypeError)
    // Past the latency: the request did not go on to create the customer once the server closed.
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(server.stripe!.state.customers()).toEqual([])
    expect(server.stripe!.state.requests()).toMatchObject([{ status: 0 }])
  })

  it('lets a marketplace request waiting out a latency when close() is called commit nothing', async () => {
    const server = await startEmulatorServer()
    const marketplace = server.marketplace!
    const route = 'POST /v1/marketplaces/:marketplace/accounts'
    marketplace.faults.inject({ route, latencyMs: 100 })
    const answer = fetch(`${server.url}/v1/marketplaces/${marketplace.marketplaceId}/accounts`, {
      method: 'POST',
      headers: { authorization: marketplace.authorization(), 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'Benny Riemann',
        merchant: {
          type: 'person',
          phone_number: '+16505551234',
          dob: '1842-01-01',
          postal_code: '10023',
          street_address: '167 West 74th Street',
        },
      }),
    }).catch((caught: unknown) => caught)
    await vi.waitFor(() => expect(marketplace.state.requests()).toHaveLength(1))
    await server.close()
    expect(await answer).toBeInstanceOf(TypeError)
    await new Promise((resolve) => setTimeout(resolve, 250))
    expect(marketplace.state.accounts()).toEqual([])
    expect(marketplace.state.requests()).toMatchObject([{ status: 0 }])
  })

  it('refuses invalid options with an invalid_request error', async () => {
    for (const port of [-1, 65_536, 80.5]) {
      await expect(startEmulatorServer({ port }), String(port)).rejects.toMatchObject({
        code: 'invalid_request',
        message: expect.stringContaining('port must be an integer'),
      })
    }
    await expect(
      startEmulatorServer({ emulators: [{} as unknown as Emulator] }),
    ).rejects.toMatchObject({ code: 'invalid_request' })
  })

  it('refuses an option it does not know, naming it and the options there are', async () => {
    await expect(startEmulatorServer({ prot: 1234 } as never)).rejects.toMatchObject({
      code: 'invalid_request',
      message:
        'Invalid startEmulatorServer options: unknown option "prot": the options are port, host, emulators',
    })
    await expect(startEmulatorServer({ Host: '127.0.0.1' } as never)).rejects.toMatchObject({
      code: 'invalid_request',
      message:
        'Invalid startEmulatorServer options: unknown option "Host" (did you mean host?): the options are port, host, emulators',
    })
    // Every option it documents, given.
    const all = await startEmulatorServer({
      port: 0,
      host: '127.0.0.1',
      emulators: [stripeEmulator()],
    })
    try {
      expect(all.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      expect(all.stripe).toBeDefined()
    } finally {
      await all.close()
    }
  })
})

function postCustomer(url: string): Promise<Response> {
  return fetch(`${url}/v1/customers`, {
    method: 'POST',
    headers: {
      authorization: 'Bearer sk_test_123',
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'email=jenny%40example.com',
  })
}
