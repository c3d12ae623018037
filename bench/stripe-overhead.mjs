// Benchmark 1: adapter overhead, Stripe. `getCard` and `listCards` (100 per page) through
// `stripeProvider`, against the same calls through the bare `stripe` SDK
// (`customers.retrieveSource`, `customers.listSources({ object: 'card', limit: 100 })`). Each
// side has a `Stripe` instance of its own, made with the same settings (API version, the SDK's
// default HTTP client and its keep-alive agent, maxNetworkRetries 0): `stripeProvider` sets a
// guard around the HTTP client of the instance it is given (http-client-guard.ts), and the bare
// SDK's calls go through an instance no provider touches, so that they do not pay for it. Both
// talk to ONE Stripe emulator served on loopback in a child process, seeded with a customer
// holding 120 cards. Target: median latency ratio ≤ 1.10.
//
// The adapter asks for more than the bare calls: a card's `isDefault` lives on the customer.
// `getCard` expands it (`expand: ['customer']`); the first page of `listCards` is read from the
// customer with its 10 most recent sources expanded (`customers.retrieve`, `expand: ['sources']`),
// then, past those 10, a plain list of the rest of the page. Further lines compare with the bare
// SDK sending those same requests, which isolates what the adapter itself costs, and compare the
// ways of learning the default while listing.
import { STRIPE_API_VERSION, stripeProvider } from '@cardport/stripe'
import Stripe from 'stripe'
import { spawnEmulatorServer } from './emulator-process.mjs'
import { compare, main, report } from './lib.mjs'

const TARGET = { text: '≤ 1.10', met: (ratio) => ratio <= 1.1 }
const CARDS = 120
const listExpanded = (limit) => ({ object: 'card', limit, expand: ['data.customer'] })

/** The adapter's first page through the bare SDK: the customer and its sources, then the rest. */
async function customerThenRest(stripe, customerId, limit) {
  const customer = await stripe.customers.retrieve(customerId, { expand: ['sources'] })
  const cards = customer.sources.data.filter((source) => source.object === 'card')
  if (!customer.sources.has_more || cards.length >= limit) return cards.slice(0, limit)
  const params = { object: 'card', limit: limit - cards.length, starting_after: cards.at(-1).id }
  const rest = await stripe.customers.listSources(customerId, params)
  return [...cards, ...rest.data]
}

export async function run({ time = 5000, rounds = 5 } = {}) {
  const server = await spawnEmulatorServer({ kind: 'stripe-customer', cards: CARDS })
  try {
    // Two instances made alike: the provider's, whose HTTP client it guards, and the bare SDK's,
    // which no provider touches. Both use the SDK's default client and keep-alive agent.
    const makeStripe = () =>
      new Stripe('sk_test_cardport_bench', {
        apiVersion: STRIPE_API_VERSION,
        host: '127.0.0.1',
        port: server.port,
        protocol: 'http',
        maxNetworkRetries: 0,
      })
    const stripe = makeStripe()
    const provider = stripeProvider({ stripe: makeStripe(), maxNetworkRetries: 0 })
    const owner = { type: 'customer', id: server.customerId }
    const cardId = server.cardIds[Math.floor(CARDS / 2)]

    // Both sides must read the same thing, or the comparison means nothing.
    const card = await provider.getCard(owner, cardId)
    const raw = await stripe.customers.retrieveSource(owner.id, cardId)
    if (card.id !== raw.id || card.last4 !== raw.last4) throw new Error('getCard disagrees')
    const page = await provider.listCards(owner, { limit: 100 })
    const rawPage = await stripe.customers.listSources(owner.id, { object: 'card', limit: 100 })
    if (page.data.length !== 100 || rawPage.data.length !== 100 || !page.hasMore) {
      throw new Error(`listCards read ${page.data.length} cards, the SDK ${rawPage.data.length}`)
    }

    // Warm every path first (JIT, keep-alive connections, the server's own caches), so that
    // the first comparison does not pay for the machine waking up.
    const warm = [
      () => provider.getCard(owner, cardId),
      () => stripe.customers.retrieveSource(owner.id, cardId),
      () => stripe.customers.retrieveSource(owner.id, cardId, { expand: ['customer'] }),
      () => provider.listCards(owner, { limit: 100 }),
      () => stripe.customers.listSources(owner.id, { object: 'card', limit: 100 }),
      () => stripe.customers.retrieve(owner.id),
      () => customerThenRest(stripe, owner.id, 100),
      () => customerThenRest(stripe, owner.id, 10),
      () => stripe.customers.listSources(owner.id, listExpanded(100)),
      () => stripe.customers.listSources(owner.id, listExpanded(10)),
      () => stripe.customers.listSources(owner.id, { object: 'card', limit: 10 }),
    ]
    for (let i = 0; i < 100; i++) for (const fn of warm) await fn()

    const options = { time, rounds }
    const results = [
      await compare(
        'Stripe getCard: adapter vs bare SDK',
        {
          candidate: {
            name: 'stripeProvider().getCard',
            fn: () => provider.getCard(owner, cardId),
          },
          baseline: {
            name: 'stripe.customers.retrieveSource',
            fn: () => stripe.customers.retrieveSource(owner.id, cardId),
          },
        },
        options,
      ),
      await compare(
        'Stripe listCards (100 per page): adapter vs bare SDK',
        {
          candidate: {
            name: 'stripeProvider().listCards({ limit: 100 })',
            fn: () => provider.listCards(owner, { limit: 100 }),
          },
          baseline: {
            name: 'stripe.customers.listSources',
            fn: () => stripe.customers.listSources(owner.id, { object: 'card', limit: 100 }),
          },
        },
        options,
      ),
    ]
    // The same requests on both sides: what the adapter itself costs (validation, mapping,
    // the Card schema on each card).
    const sameRequest = [
      await compare(
        'Stripe getCard: adapter vs the same request through the bare SDK',
        {
          candidate: {
            name: 'stripeProvider().getCard',
            fn: () => provider.getCard(owner, cardId),
          },
          baseline: {
            name: 'retrieveSource({ expand: [customer] })',
            fn: () => stripe.customers.retrieveSource(owner.id, cardId, { expand: ['customer'] }),
          },
        },
        options,
      ),
      await compare(
        'Stripe listCards (100 per page): adapter vs the same request through the bare SDK',
        {
          candidate: {
            name: 'stripeProvider().listCards({ limit: 100 })',
            fn: () => provider.listCards(owner, { limit: 100 }),
          },
          baseline: {
            name: 'customers.retrieve({ expand: [sources] }) + listSources',
            fn: () => customerThenRest(stripe, owner.id, 100),
          },
        },
        options,
      ),
    ]
    // How the adapter learns the default while listing: the customer with its sources expanded
    // (then the rest of the page: what it does), the customer expanded on each card (one
    // request, what it did before), or a second request for the customer in parallel.
    const design = []
    for (const limit of [100, 10]) {
      const perCard = {
        name: 'listSources({ expand: [data.customer] })',
        fn: () => stripe.customers.listSources(owner.id, listExpanded(limit)),
      }
      design.push(
        await compare(
          `bare SDK, ${limit} per page: customer with its sources (+ the rest) vs expand data.customer`,
          {
            candidate: {
              name: 'customers.retrieve({ expand: [sources] }) + listSources',
              fn: () => customerThenRest(stripe, owner.id, limit),
            },
            baseline: perCard,
          },
          options,
        ),
        await compare(
          `bare SDK, ${limit} per page: expand data.customer vs listSources + customers.retrieve`,
          {
            candidate: perCard,
            baseline: {
              name: 'listSources + customers.retrieve (parallel)',
              fn: () =>
                Promise.all([
                  stripe.customers.listSources(owner.id, { object: 'card', limit }),
                  stripe.customers.retrieve(owner.id),
                ]),
            },
          },
          options,
        ),
      )
    }
    const informational = [...sameRequest, ...design]
    for (const result of results) report(result, TARGET)
    for (const result of informational) report(result)
    return [
      ...results.map((result) => ({
        ...result,
        target: TARGET.text,
        met: TARGET.met(result.ratio),
      })),
      ...informational.map((result) => ({ ...result, informational: true })),
    ]
  } finally {
    await server.close()
  }
}

await main(import.meta.url, run)
