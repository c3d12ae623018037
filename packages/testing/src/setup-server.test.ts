import https from 'node:https'
import { HttpResponse, http } from 'msw'
import Stripe from 'stripe'
import {
  Agent,
  getGlobalDispatcher,
  request,
  setGlobalDispatcher,
  fetch as undiciFetch,
} from 'undici'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { rejection } from './__fixtures__/thrown.js'
import { setupCardportServer } from './setup-server.js'
import { stripeEmulator } from './stripe/stripe-emulator.js'
import { createUndiciBridge } from './undici-bridge.js'

const ORIGIN = 'https://api.example.test'
const ping = http.get(`${ORIGIN}/ping`, ({ request: r }) =>
  HttpResponse.json({ pong: true, client: r.headers.get('x-client') }),
)

/**
 * A GET with node:http(s), as the stripe SDK's default client makes them: through the module
 * object, which MSW patches (a destructured import would keep the unpatched function).
 */
function nodeGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { headers: { 'x-client': 'node:http' } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        body += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('setupCardportServer lifecycle', () => {
  it('installs the bridge as undici’s global dispatcher while listening, then restores', () => {
    const before = getGlobalDispatcher()
    const server = setupCardportServer(ping)
    server.listen()
    try {
      expect(getGlobalDispatcher()).toBe(server.dispatcher)
    } finally {
      server.close()
    }
    expect(getGlobalDispatcher()).toBe(before)
  })

  // Putting the one from before listen() back would undo the other library's setup.
  it('leaves in place a global dispatcher another library installed after listen()', async () => {
    const before = getGlobalDispatcher()
    const server = setupCardportServer(ping)
    server.listen()
    const other = new Agent()
    try {
      setGlobalDispatcher(other)
      server.close()
      expect(getGlobalDispatcher()).toBe(other)
    } finally {
      setGlobalDispatcher(before)
      await other.close()
    }
  })

  it('fails unhandled requests under listen({ onUnhandledRequest: undefined }), as under listen()', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
    const server = setupCardportServer(ping)
    server.listen({ onUnhandledRequest: undefined })
    try {
      const viaUndici = await rejection(request(`${ORIGIN}/unknown`))
      expect(viaUndici.code).toBe('CARDPORT_UNHANDLED_REQUEST')
    } finally {
      server.close()
      printed.mockRestore()
    }
  })

  it('installs the bridge again on a listen() after close()', () => {
    const before = getGlobalDispatcher()
    const server = setupCardportServer(ping)
    server.listen()
    server.close()
    server.listen()
    try {
      expect(getGlobalDispatcher()).toBe(server.dispatcher)
    } finally {
      server.close()
    }
    expect(getGlobalDispatcher()).toBe(before)
  })

  it("fails unhandled requests under a bare listen() after a listen({ onUnhandledRequest: 'bypass' })", async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
    const server = setupCardportServer(ping)
    server.listen({ onUnhandledRequest: 'bypass' })
    server.close()
    server.listen()
    try {
      const viaUndici = await rejection(request(`${ORIGIN}/unknown`))
      expect(viaUndici.code).toBe('CARDPORT_UNHANDLED_REQUEST')
    } finally {
      server.close()
      printed.mockRestore()
    }
  })

  it("keeps failing unhandled requests after a refused second listen({ onUnhandledRequest: 'bypass' })", async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
    const server = setupCardportServer(ping)
    server.listen()
    try {
      expect(() => server.listen({ onUnhandledRequest: 'bypass' })).toThrow()
      const viaUndici = await rejection(request(`${ORIGIN}/unknown`))
      expect(viaUndici.code).toBe('CARDPORT_UNHANDLED_REQUEST')
    } finally {
      server.close()
      printed.mockRestore()
    }
  })

  it("sends unhandled undici requests under 'bypass' to the global dispatcher from before listen()", async () => {
    const before = getGlobalDispatcher()
    // The "network" is another bridge: nothing leaves the process.
    const network = createUndiciBridge({
      handlers: [http.get(`${ORIGIN}/unknown`, () => HttpResponse.text('network'))],
    })
    setGlobalDispatcher(network)
    const server = setupCardportServer(ping)
    server.listen({ onUnhandledRequest: 'bypass' })
    try {
      const response = await request(`${ORIGIN}/unknown`)
      expect(await response.body.text()).toBe('network')
    } finally {
      server.close()
      setGlobalDispatcher(before)
    }
  })
})

describe('setupCardportServer', () => {
  const stripe = stripeEmulator()
  const server = setupCardportServer(ping, ...stripe.handlers)
  beforeAll(() => server.listen())
  afterEach(() => {
    server.resetHandlers()
    stripe.reset()
    vi.restoreAllMocks()
  })
  afterAll(() => server.close())

  it("answers undici's request() and fetch() through the global dispatcher", async () => {
    const viaRequest = await request(`${ORIGIN}/ping`, { headers: { 'x-client': 'undici' } })
    expect(await viaRequest.body.json()).toEqual({ pong: true, client: 'undici' })
    const viaFetch = await undiciFetch(`${ORIGIN}/ping`, { headers: { 'x-client': 'fetch' } })
    expect(await viaFetch.json()).toEqual({ pong: true, client: 'fetch' })
  })

  it('answers global fetch and node:http from the same handlers', async () => {
    const viaFetch = await fetch(`${ORIGIN}/ping`, { headers: { 'x-client': 'global fetch' } })
    expect(await viaFetch.json()).toEqual({ pong: true, client: 'global fetch' })
    const viaNode = await nodeGet(`${ORIGIN}/ping`)
    expect(viaNode.status).toBe(200)
    expect(JSON.parse(viaNode.body)).toEqual({ pong: true, client: 'node:http' })
  })

  it('answers undici with the Stripe emulator, as the stripe SDK sees it over node:http', async () => {
    const sdk = new Stripe('sk_test_123', { maxNetworkRetries: 0 })
    const customer = await sdk.customers.create({ email: 'jenny@example.com' })
    const response = await request(`https://api.stripe.com/v1/customers/${customer.id}`, {
      headers: { authorization: 'Bearer sk_test_123' },
    })
    expect(response.statusCode).toBe(200)
    expect(await response.body.json()).toMatchObject({
      id: customer.id,
      email: 'jenny@example.com',
    })
  })

  it('fails an unhandled request for every client', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => {})
    const viaUndici = await rejection(request(`${ORIGIN}/unknown`))
    expect(viaUndici.code).toBe('CARDPORT_UNHANDLED_REQUEST')
    // MSW's own refusal, not any rejection: with no network here, a request MSW let through
    // would reject too (the name does not resolve).
    const refused = /Cannot bypass a request when using the "error" strategy/
    await expect(fetch(`${ORIGIN}/unknown`)).rejects.toThrow(refused)
    await expect(nodeGet(`${ORIGIN}/unknown`)).rejects.toThrow(refused)
    expect(printed.mock.calls.length).toBeGreaterThanOrEqual(3)
  })

  it('applies use() and resetHandlers() to undici too', async () => {
    server.use(http.get(`${ORIGIN}/ping`, () => HttpResponse.json({ overridden: true })))
    expect(await (await request(`${ORIGIN}/ping`)).body.json()).toEqual({ overridden: true })
    expect(await (await fetch(`${ORIGIN}/ping`)).json()).toEqual({ overridden: true })
    server.resetHandlers()
    expect(await (await request(`${ORIGIN}/ping`)).body.json()).toMatchObject({ pong: true })
  })

  it('answers a client that takes the dispatcher explicitly', async () => {
    const response = await request(`${ORIGIN}/ping`, { dispatcher: server.dispatcher })
    expect(await response.body.json()).toMatchObject({ pong: true })
  })

  it('surfaces a dropped-connection fault as a network error through undici', async () => {
    const post = () =>
      request('https://api.stripe.com/v1/customers', {
        method: 'POST',
        headers: {
          authorization: 'Bearer sk_test_123',
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'email=jenny%40example.com',
      })

    stripe.faults.inject({ route: 'POST /v1/customers', drop: 'before-commit' })
    const before = await rejection(post())
    expect(before.code).toBe('UND_ERR_SOCKET')
    expect(stripe.state.customers()).toEqual([])

    stripe.faults.inject({ route: 'POST /v1/customers', drop: 'after-commit' })
    const after = await rejection(post())
    expect(after.code).toBe('UND_ERR_SOCKET')
    // The change was committed; the client just never heard about it.
    expect(stripe.state.customers()).toHaveLength(1)
  })
})
