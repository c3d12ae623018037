import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import Stripe from 'stripe'
import { describe, expect, it } from 'vitest'
import {
  createStripeEventRecorder,
  deliverStripeEvents,
  STRIPE_EMULATOR_WEBHOOK_SECRET,
  type StripeEvent,
  signStripeEvent,
  stripeEventPayload,
} from './stripe-events.js'
import { createStripeState } from './stripe-state.js'
import { lastResponseHeader, STRIPE_CLIENTS, useStripeEmulator } from './stripe-test-harness.js'

const T0 = Date.parse('2025-03-14T12:00:00Z')
let clock = T0
const emulator = useStripeEmulator({ now: () => new Date(clock) })
const client = () => STRIPE_CLIENTS[0].create()
const types = (events: StripeEvent[]) => events.map((event) => event.type)

describe('the events the Stripe emulator records', () => {
  it('records a source and the default it becomes, in Stripe’s envelope', async () => {
    clock = T0
    const stripe = client()
    const customer = await stripe.customers.create({ email: 'jenny@example.com' })
    emulator.events.take()
    clock = T0 + 5000
    const card = await stripe.customers.createSource(
      customer.id,
      { source: 'tok_visa' },
      { idempotencyKey: 'create-1' },
    )

    const events = emulator.events.take()
    expect(types(events)).toEqual(['customer.source.created', 'customer.updated'])
    const [created, updated] = events as [StripeEvent, StripeEvent]
    expect(created).toMatchObject({
      object: 'event',
      api_version: '2023-08-16',
      created: Math.floor((T0 + 5000) / 1000),
      livemode: false,
      pending_webhooks: 1,
      request: {
        id: lastResponseHeader(card, 'request-id'),
        idempotency_key: 'create-1',
      },
      data: { object: { id: card.id, object: 'card', customer: customer.id, last4: '4242' } },
    })
    expect(created.id).toMatch(/^evt_\w{24}$/)
    expect(created.data.previous_attributes).toBeUndefined()
    expect(created.account).toBeUndefined()
    expect(updated.data.object).toMatchObject({ id: customer.id, default_source: card.id })
    expect(updated.data.previous_attributes).toEqual({ default_source: null })
    expect(new Set(events.map((event) => event.id)).size).toBe(2)
  })

  it('records updates with the previous values of what changed, and nothing for reads', async () => {
    const stripe = client()
    const customer = await stripe.customers.create({})
    const card = await stripe.customers.createSource(customer.id, { source: 'tok_visa' })
    emulator.events.take()

    await stripe.customers.updateSource(customer.id, card.id, { name: 'Jenny Rosen' })
    await stripe.customers.retrieveSource(customer.id, card.id)
    await stripe.customers.listSources(customer.id, { object: 'card' })

    const [updated, ...rest] = emulator.events.take()
    expect(rest).toEqual([])
    expect(updated).toMatchObject({
      type: 'customer.source.updated',
      data: {
        object: { id: card.id, name: 'Jenny Rosen' },
        previous_attributes: { name: null },
      },
    })
  })

  it('records a deleted default and the promotion of the most recent remaining card', async () => {
    const stripe = client()
    const customer = await stripe.customers.create({})
    const first = await stripe.customers.createSource(customer.id, { source: 'tok_visa' })
    const second = await stripe.customers.createSource(customer.id, { source: 'tok_mastercard' })
    emulator.events.take()

    await stripe.customers.deleteSource(customer.id, first.id)

    const events = emulator.events.take()
    expect(types(events)).toEqual(['customer.source.deleted', 'customer.updated'])
    expect(events[0]!.data.object).toMatchObject({ id: first.id, object: 'card', last4: '4242' })
    expect(events[1]!.data.object).toMatchObject({ default_source: second.id })
    expect(events[1]!.data.previous_attributes).toEqual({ default_source: first.id })
  })

  it('records external accounts, and the old default that a new default displaces', async () => {
    const stripe = client()
    const account = await stripe.accounts.create({ type: 'custom', country: 'US' })
    const first = await stripe.accounts.createExternalAccount(account.id, {
      external_account: 'tok_visa_debit',
    })
    const second = await stripe.accounts.createExternalAccount(account.id, {
      external_account: 'tok_mastercard_debit',
      default_for_currency: true,
    })
    await stripe.accounts.deleteExternalAccount(account.id, first.id)

    const events = emulator.events.list({
      type: [
        'account.external_account.created',
        'account.external_account.updated',
        'account.external_account.deleted',
      ],
    })
    expect(types(events)).toEqual([
      'account.external_account.created',
      'account.external_account.created',
      'account.external_account.updated',
      'account.external_account.deleted',
    ])
    expect(events.every((event) => event.account === account.id)).toBe(true)
    expect(events[1]!.data.object).toMatchObject({ id: second.id, default_for_currency: true })
    expect(events[2]!.data).toMatchObject({
      object: { id: first.id, default_for_currency: false },
      previous_attributes: { default_for_currency: true },
    })
    expect(events[3]!.data.object).toMatchObject({ id: first.id })
  })

  it('records nothing for a refused request or an idempotent replay', async () => {
    const stripe = client()
    const customer = await stripe.customers.create({})
    emulator.events.take()

    await expect(
      stripe.customers.createSource(customer.id, { source: 'tok_chargeDeclined' }),
    ).rejects.toThrow()
    await stripe.customers.createSource(
      customer.id,
      { source: 'tok_visa' },
      { idempotencyKey: 'k' },
    )
    await stripe.customers.createSource(
      customer.id,
      { source: 'tok_visa' },
      { idempotencyKey: 'k' },
    )

    expect(types(emulator.events.take())).toEqual(['customer.source.created', 'customer.updated'])
  })

  it('records seeded changes with no request, and customer deletion as one event', async () => {
    const customer = emulator.seed.customer()
    const card = emulator.seed.card(customer.id)
    emulator.seed.bankAccount(customer.id)

    const seeded = emulator.events.take()
    expect(types(seeded)).toEqual([
      'customer.created',
      'customer.source.created',
      'customer.updated',
      'customer.source.created',
    ])
    expect(seeded[1]!.data.object).toMatchObject({ id: card.id })
    expect(seeded[3]!.data.object).toMatchObject({ object: 'bank_account' })
    expect(seeded.every((event) => event.request.id === null)).toBe(true)

    await client().customers.del(customer.id)
    expect(types(emulator.events.take())).toEqual(['customer.deleted'])
  })

  it('forgets every event on reset', () => {
    emulator.seed.customer()
    expect(emulator.events.list()).toHaveLength(1)
    emulator.reset()
    expect(emulator.events.list()).toEqual([])
    expect(emulator.events.take()).toEqual([])
  })
})

describe('signing and delivering events', () => {
  const event = (n: number): StripeEvent => ({
    id: `evt_${String(n).padStart(24, '0')}`,
    object: 'event',
    api_version: '2023-08-16',
    created: 1_700_000_000 + n,
    data: { object: { id: `cus_${n}`, object: 'customer' } },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type: 'customer.updated',
  })

  it('signs as the stripe SDK does, and the SDK verifies it', async () => {
    const payload = stripeEventPayload(event(1))
    const header = signStripeEvent(payload, 'whsec_test', 1_700_000_000)
    expect(header).toBe(
      Stripe.webhooks.generateTestHeaderString({
        payload,
        secret: 'whsec_test',
        timestamp: 1_700_000_000,
      }),
    )
    const verified = await Stripe.webhooks.constructEventAsync(
      payload,
      signStripeEvent(payload, 'whsec_test'),
      'whsec_test',
    )
    expect(verified.id).toBe(event(1).id)
    await expect(
      Stripe.webhooks.constructEventAsync(payload, header.replace(/.$/, '0'), 'whsec_test'),
    ).rejects.toThrow(/No signatures found/)
  })

  it('shuffles and duplicates from a seed, the same seed giving the same order', async () => {
    const events = Array.from({ length: 30 }, (_, n) => event(n))
    const received: string[] = []
    const handler = (payload: string) => {
      received.push((JSON.parse(payload) as StripeEvent).id)
    }

    const first = await deliverStripeEvents(events, handler, { shuffle: 42, duplicate: 0.5 })
    const again = await deliverStripeEvents(events, () => undefined, {
      shuffle: 42,
      duplicate: 0.5,
    })

    expect(first.map((delivery) => delivery.event.id)).toEqual(received)
    expect(again.map((delivery) => delivery.event.id)).toEqual(received)
    expect(new Set(received)).toEqual(new Set(events.map((e) => e.id)))
    expect(received.length).toBeGreaterThan(events.length)
    expect(received).not.toEqual([...new Set(received)].sort())
    expect(first.every((delivery) => delivery.status === 200)).toBe(true)
  })

  it('reports what a handler answered or threw', async () => {
    const failure = Object.assign(new Error('bad signature'), { status: 400 })
    const [ok, rejected, crashed] = await deliverStripeEvents(
      [event(1), event(2), event(3)],
      {
        handle: (payload: string) => {
          const id = (JSON.parse(payload) as StripeEvent).id
          if (id === event(2).id) throw failure
          if (id === event(3).id) throw new Error('boom')
          return { id }
        },
      },
      { secret: 'whsec_other', timestamp: 1_700_000_123 },
    )
    expect(ok).toMatchObject({ status: 200, result: { id: event(1).id } })
    expect(ok!.signature).toBe(signStripeEvent(ok!.payload, 'whsec_other', 1_700_000_123))
    expect(rejected).toMatchObject({ status: 400, error: failure })
    expect(crashed!.status).toBe(500)
  })

  it("signs with an undefined secret as with none: with the events' own secret", async () => {
    // stripeEmulator() signs with the default secret; a recorder made with another secret shows
    // that `{ secret: undefined }` does not replace it (with the default, or with undefined).
    const now = () => new Date(T0)
    const recorder = createStripeEventRecorder(createStripeState(now), {
      now,
      apiVersion: '2023-08-16',
      secret: 'whsec_recorder',
    })
    const signedWith = ({ payload, signature }: { payload: string; signature: string }) => {
      const timestamp = Number(/^t=(\d+),/.exec(signature)?.[1])
      return signature === signStripeEvent(payload, 'whsec_recorder', timestamp)
    }
    const [absent] = await recorder.events.deliver(() => undefined, { events: [event(1)] })
    const [given] = await recorder.events.deliver(() => undefined, {
      events: [event(1)],
      secret: undefined,
      timestamp: undefined,
    })
    const signed = recorder.events.sign(event(1), { secret: undefined, timestamp: undefined })
    expect([absent, given, signed].map((entry) => signedWith(entry!))).toEqual([true, true, true])
  })

  it('delivers with options given as undefined as with none: in order, with the default secret', async () => {
    const events = [event(1), event(2), event(3)]
    const deliveries = await deliverStripeEvents(events, () => undefined, {
      secret: undefined,
      timestamp: undefined,
      shuffle: undefined,
      duplicate: undefined,
      concurrency: undefined,
    })
    expect(deliveries.map((delivery) => delivery.event.id)).toEqual(events.map((e) => e.id))
    for (const { payload, signature } of deliveries) {
      const timestamp = Number(/^t=(\d+),/.exec(signature)?.[1])
      expect(signature).toBe(signStripeEvent(payload, STRIPE_EMULATOR_WEBHOOK_SECRET, timestamp))
    }
  })

  it('posts to a URL with undici, past MSW, with Stripe’s headers and the raw body', async () => {
    const seen: Array<{ headers: Record<string, unknown>; body: string }> = []
    const server = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk) => {
        body += chunk
      })
      request.on('end', () => {
        seen.push({ headers: request.headers, body })
        response.statusCode = seen.length === 1 ? 200 : 400
        response.end('{"received":true}')
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`
    try {
      emulator.seed.customer()
      emulator.seed.customer()
      const deliveries = await emulator.events.deliver(url)

      expect(deliveries.map((delivery) => delivery.status)).toEqual([200, 400])
      expect(deliveries[0]!.body).toBe('{"received":true}')
      expect(seen[0]!.body).toBe(deliveries[0]!.payload)
      expect(seen[0]!.headers).toMatchObject({
        'content-type': 'application/json; charset=utf-8',
        'stripe-signature': deliveries[0]!.signature,
      })
      const verified = await Stripe.webhooks.constructEventAsync(
        seen[0]!.body,
        String(seen[0]!.headers['stripe-signature']),
        STRIPE_EMULATOR_WEBHOOK_SECRET,
      )
      expect(verified.type).toBe('customer.created')
      // Delivered events leave the queue.
      expect(emulator.events.take()).toEqual([])
      expect(emulator.events.list()).toHaveLength(2)
    } finally {
      server.close()
    }
  })
})
