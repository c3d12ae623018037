import { memoryStore, type Owner } from '@cardport/core'
import { stripeProvider } from '@cardport/stripe'
import { setupCardportServer, stripeEmulator } from '@cardport/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureCheckoutCard } from './checkout.js'

// Tests that run at once share this emulator's state, request log and faults. So the emulator
// is reset once, after the file, not after each test (a reset would end the other tests'
// customers, requests and faults mid-way); each test makes its own customer, reads back only
// what concerns it, and aims its faults at its own customer's paths.
const stripe = stripeEmulator()
const server = setupCardportServer(...stripe.handlers)
beforeAll(() => server.listen())
afterAll(() => {
  stripe.reset()
  server.close()
})

/** A customer of this test's own, with what the test reads back about it. */
function setup(tokens: string[]) {
  const customer = stripe.seed.customer()
  for (const token of tokens) stripe.seed.card(customer.id, token)
  const owner: Owner = { type: 'customer', id: customer.id }
  const deps = {
    provider: stripeProvider({ apiKey: 'sk_test_checkout', maxNetworkRetries: 0 }),
    store: memoryStore(),
    retry: { sleep: async () => {} },
  }
  // A route name matches every customer's request: a RegExp on the path matches this one's.
  const sourcesRoute = new RegExp(`^POST /v1/customers/${customer.id}/sources$`)
  const requests = () => stripe.state.requests().filter((r) => r.path.includes(customer.id))
  const sourcesAtStripe = () => stripe.state.sources(customer.id).map((source) => source.id)
  return { owner, deps, sourcesRoute, requests, sourcesAtStripe }
}

const TOKENS = ['tok_visa', 'tok_mastercard', 'tok_amex', 'tok_discover']

describe.concurrent('ensureCheckoutCard, tests run at once', () => {
  for (const [index, token] of TOKENS.entries()) {
    it(`replaces the default with ${token} through a 500 (test ${index + 1})`, async () => {
      const { owner, deps, sourcesRoute, requests, sourcesAtStripe } = setup(['tok_jcb'])
      // `fired` has one entry per fault injected, in order: this fault's is the next one.
      const slot = stripe.faults.fired.length
      stripe.faults.inject({ route: sourcesRoute, status: 500 })
      // The tests list a different number of times first, so that they end one after the other
      // while the rest still run.
      for (let round = 0; round < 3 * index; round++) await deps.provider.listCards(owner)

      const result = await ensureCheckoutCard(deps, owner, token)

      expect(result).toMatchObject({ status: 'ready' })
      expect(stripe.faults.fired[slot]).toBe(1)
      const creates = requests().filter((r) => r.method === 'POST' && r.path.endsWith('/sources'))
      expect(creates.map((r) => r.status)).toEqual([500, 200])
      expect(sourcesAtStripe()).toEqual([result.status === 'ready' ? result.cardId : ''])
    })
  }
})
