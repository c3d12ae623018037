import { type Card, listAll, memoryStore, type Owner, toArray } from '@cardport/core'
import { stripeProvider, stripeWebhookHandler } from '@cardport/stripe'
import { signStripeEvent, stripeEmulator } from '@cardport/testing/emulators'
import { setupServer } from 'msw/node'
import Stripe from 'stripe'
import { request } from 'undici'
import { createWebhookApp, listen } from './server.js'

/** What the demo saw, for its test. */
export interface DemoSummary {
  /** The HTTP status of every delivery, in order. */
  statuses: number[]
  /** The action the handler reported for each delivery. */
  actions: string[]
  /** Whether, for every owner, the store holds exactly Stripe's cards, default included. */
  inStep: boolean
  /** The answer to a request signed with the wrong secret. */
  forged: { status: number; body: unknown }
}

/**
 * The whole loop, offline: the Stripe emulator answers the Stripe SDK (through MSW), an Express
 * server on a random loopback port receives the events the emulator signs and delivers
 * (shuffled, some twice, as Stripe may), and the store ends up equal to Stripe.
 */
export async function runDemo(log: (line: string) => void): Promise<DemoSummary> {
  const emulator = stripeEmulator()
  const mock = setupServer(...emulator.handlers)
  mock.listen({ onUnhandledRequest: 'error' })
  const stripe = new Stripe('sk_test_express_webhooks', { maxNetworkRetries: 0 })
  const provider = stripeProvider({ stripe })
  const store = memoryStore()
  // In production: endpointSecret from the Dashboard (Webhooks → your endpoint → Signing secret).
  const webhooks = stripeWebhookHandler({ stripe, endpointSecret: emulator.events.secret, store })
  const server = await listen(createWebhookApp({ webhooks, store }))
  const endpoint = `${server.url}/webhooks/stripe`

  try {
    log(`webhook endpoint: ${endpoint}`)

    // Changes made elsewhere (the Dashboard, another service): the store learns of them by webhook.
    const customer: Owner = { type: 'customer', id: (await stripe.customers.create({})).id }
    const account: Owner = {
      type: 'account',
      id: (await stripe.accounts.create({ type: 'custom', country: 'US' })).id,
    }
    const visa = await provider.createCard(customer, { source: 'tok_visa' })
    const amex = await provider.createCard(customer, { source: 'tok_amex' })
    await provider.setDefaultCard(customer, amex.id)
    await provider.updateCard(customer, visa.id, { holderName: 'Jenny Rosen' })
    await provider.deleteCard(customer, amex.id)
    const payout = await provider.createCard(account, { source: 'tok_visa_debit' })
    const spare = await provider.createCard(account, { source: 'tok_mastercard_debit' })
    await provider.setDefaultCard(account, spare.id)
    await provider.deleteCard(account, payout.id)

    const deliveries = await emulator.events.deliver(endpoint, { shuffle: 2024, duplicate: 0.25 })
    log(`${deliveries.length} deliveries, shuffled, some repeated:`)
    const actions: string[] = []
    for (const delivery of deliveries) {
      const action = (JSON.parse(delivery.body ?? '{}') as { action?: string }).action ?? '-'
      actions.push(action)
      log(`  ${delivery.event.id}  ${delivery.event.type.padEnd(34)} ${delivery.status} ${action}`)
    }

    let inStep = true
    for (const owner of [customer, account]) {
      const atStripe = await toArray(listAll(provider, owner), { limit: 100 })
      const stored = await store.listByOwner({ provider: 'stripe', owner })
      const same = sameCards(atStripe, stored)
      inStep &&= same
      const defaults = stored.filter((card) => card.isDefault).map((card) => card.id)
      log(
        `${owner.type} ${owner.id}: ${stored.length} card(s) stored, default ${defaults.join(', ') || 'none'}: ${same ? 'same as Stripe' : 'DIFFERENT from Stripe'}`,
      )
    }

    // A request that did not come from Stripe: refused with a 400, nothing changed.
    const [event] = emulator.events.list({ type: 'customer.source.created' })
    const body = JSON.stringify(event, null, 2)
    const response = await request(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripeEvent(body, 'whsec_not_this_endpoint'),
      },
      body,
    })
    const forged = { status: response.statusCode, body: await response.body.json() }
    log(`a forged request: ${forged.status} ${JSON.stringify(forged.body)}`)

    return {
      statuses: deliveries.map((delivery) => delivery.status),
      actions,
      inStep,
      forged,
    }
  } finally {
    await server.close()
    mock.close()
  }
}

/** The same cards, ignoring order and the store's bookkeeping. */
function sameCards(atStripe: Card[], stored: Card[]): boolean {
  const plain = (cards: Card[]) =>
    cards
      .map(
        ({ version: _v, updatedAt: _u, observedAt: _o, ...card }: Card & Record<string, unknown>) =>
          JSON.stringify(card),
      )
      .sort()
  return JSON.stringify(plain(atStripe)) === JSON.stringify(plain(stored))
}
