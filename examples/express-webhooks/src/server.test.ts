import { CardportError, memoryStore, type Owner } from '@cardport/core'
import { stripeWebhookHandler } from '@cardport/stripe'
import { signStripeEvent, stripeEmulator } from '@cardport/testing/emulators'
import { setupServer } from 'msw/node'
import Stripe from 'stripe'
import { request } from 'undici'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createWebhookApp, listen } from './server.js'

const emulator = stripeEmulator()
const mock = setupServer(...emulator.handlers)
const store = memoryStore()
let failing: Error | undefined
const failures: unknown[] = []
// The store the handler writes to, which throws `failing` while it is set.
const flaky = {
  ...store,
  async upsert(...args: Parameters<typeof store.upsert>) {
    if (failing) throw failing
    return store.upsert(...args)
  },
}
let server: Awaited<ReturnType<typeof listen>>
let endpoint: string

beforeAll(async () => {
  mock.listen({ onUnhandledRequest: 'error' })
  const stripe = new Stripe('sk_test_express', { maxNetworkRetries: 0 })
  const webhooks = stripeWebhookHandler({
    stripe,
    endpointSecret: emulator.events.secret,
    store: flaky,
  })
  const onError = (error: unknown) => failures.push(error)
  server = await listen(createWebhookApp({ webhooks, store, onError }))
  endpoint = `${server.url}/webhooks/stripe`
})
afterEach(() => {
  failing = undefined
  failures.length = 0
  mock.resetHandlers()
  emulator.reset()
})
afterAll(async () => {
  await server.close()
  mock.close()
})

describe('the Express webhook route', () => {
  let owner: Owner
  let cardId: string

  beforeEach(() => {
    const customer = emulator.seed.customer()
    cardId = emulator.seed.card(customer.id).id
    owner = { type: 'customer', id: customer.id }
  })

  const cards = async () => {
    const response = await request(`${server.url}/cards/customer/${owner.id}`)
    return (await response.body.json()) as Array<{ id: string; isDefault: boolean }>
  }

  it('applies signed events posted to it, raw body and all', async () => {
    const deliveries = await emulator.events.deliver(endpoint)

    expect(deliveries.map((delivery) => [delivery.event.type, delivery.status])).toEqual([
      ['customer.created', 200],
      ['customer.source.created', 200],
      ['customer.updated', 200],
    ])
    expect(deliveries.map((delivery) => JSON.parse(delivery.body!).action)).toEqual([
      'ignored',
      'upserted',
      'default-changed',
    ])
    expect(await cards()).toMatchObject([{ id: cardId, isDefault: true }])
  })

  it('answers 400 with the reason to a bad signature, and changes nothing', async () => {
    const [, created] = emulator.events.take()
    const { payload } = emulator.events.sign(created!)

    const response = await request(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripeEvent(payload, 'whsec_wrong'),
      },
      body: payload,
    })

    expect(response.statusCode).toBe(400)
    expect(await response.body.json()).toMatchObject({
      error: { code: 'invalid_request', reason: 'bad_signature' },
    })
    expect(await cards()).toEqual([])
  })

  it('answers 400 to a request without a signature or with another content type', async () => {
    const [, created] = emulator.events.take()
    const { payload, signature } = emulator.events.sign(created!)

    const unsigned = await request(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload,
    })
    // express.raw only reads application/json: another type leaves no body to verify.
    const form = await request(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'stripe-signature': signature },
      body: payload,
    })

    expect(unsigned.statusCode).toBe(400)
    expect(await unsigned.body.json()).toMatchObject({ error: { reason: 'missing_signature' } })
    expect(form.statusCode).toBe(400)
    expect(await form.body.json()).toMatchObject({ error: { reason: 'empty_body' } })
    expect(await cards()).toEqual([])
  })

  it('answers 413, not a 500 to retry, to a body over the route limit, and says how to raise it', async () => {
    const [, created] = emulator.events.take()
    // Signed, and so larger than express.raw's default limit of 100 kB.
    const payload = JSON.stringify({ ...created!, padding: 'x'.repeat(150_000) })
    const response = await request(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripeEvent(payload, emulator.events.secret),
      },
      body: payload,
    })

    expect(response.statusCode).toBe(413)
    const body = await response.body.json()
    expect(body).toEqual({
      error: { code: 'payload_too_large', message: expect.stringMatching(/bodyLimit/) },
    })
    expect(JSON.stringify(body)).not.toContain(emulator.events.secret)
    // Not an internal failure: nothing for the error log, and nothing written.
    expect(failures).toEqual([])
    expect(await cards()).toEqual([])
  })

  it('answers 400, not a 500 to retry, to a compressed body that does not decompress', async () => {
    const [, created] = emulator.events.take()
    const { signature } = emulator.events.sign(created!)
    const response = await request(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
        'stripe-signature': signature,
      },
      body: 'not gzip at all',
    })

    expect(response.statusCode).toBe(400)
    expect(await response.body.json()).toEqual({
      error: { code: 'bad_request', message: 'The webhook body could not be read (unreadable)' },
    })
    // Not an internal failure: nothing for the error log, and nothing written.
    expect(failures).toEqual([])
    expect(await cards()).toEqual([])
  })

  it('answers 500 when the store fails, reports the cause, and applies the event on the retry', async () => {
    const [, created] = emulator.events.take()
    failing = new Error('the database is down')
    const [failed] = await emulator.events.deliver(endpoint, { events: [created!] })

    expect(failed!.status).toBe(500)
    expect(JSON.parse(failed!.body!)).toEqual({
      error: { code: 'internal', message: 'try again later' },
    })
    expect(failures).toMatchObject([{ message: 'the database is down' }])
    expect(await cards()).toEqual([])

    // Stripe retries the event later: it was not remembered as handled.
    failing = undefined
    const [retried] = await emulator.events.deliver(endpoint, { events: [created!] })
    expect(retried!.status).toBe(200)
    expect(JSON.parse(retried!.body!).action).toBe('upserted')
    expect(await cards()).toMatchObject([{ id: cardId }])
  })

  it('answers 500, not 400, to an invalid_request the store throws while applying, and reports it', async () => {
    // Not a refusal of the request (it carries no `details.reason`): the event was valid, and
    // Stripe should retry it once the store is mended.
    const [, created] = emulator.events.take()
    failing = new CardportError('invalid_request', 'the store refused the card')
    const [failed] = await emulator.events.deliver(endpoint, { events: [created!] })

    expect(failed!.status).toBe(500)
    expect(JSON.parse(failed!.body!)).toEqual({
      error: { code: 'internal', message: 'try again later' },
    })
    expect(failures).toHaveLength(1)
    expect(failures[0]).toMatchObject({
      code: 'invalid_request',
      message: 'the store refused the card',
    })
    expect(await cards()).toEqual([])
  })
})
