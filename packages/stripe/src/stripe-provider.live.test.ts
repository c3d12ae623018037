import { describeCardProvider } from '@cardport/testing'
import Stripe from 'stripe'
import { describe } from 'vitest'
import { type ConformanceStripe, stripeConformanceSuite } from './conformance-fixture.js'

// The conformance suite against Stripe itself, in test mode, when STRIPE_SECRET_KEY holds a
// test-mode key (sk_test_… or rk_test_…) of an account with Connect enabled (the suite makes
// Custom connected accounts). No MSW here: requests go to api.stripe.com. The owners it makes
// are deleted after each test and carry `metadata[cardport]=conformance`.
//
// Without the key (in CI, on machines without network) these tests are skipped.
const key = process.env.STRIPE_SECRET_KEY

if (key && !/^(sk|rk)_test_/.test(key)) {
  throw new Error('STRIPE_SECRET_KEY must be a test-mode key (sk_test_… or rk_test_…)')
}
if (!key) {
  console.info(
    '[@cardport/stripe] live conformance skipped: set STRIPE_SECRET_KEY to a test-mode key to run it against Stripe',
  )
}

describe.runIf(key)('against Stripe test mode', () => {
  describeCardProvider(
    stripeConformanceSuite({
      name: 'stripeProvider conformance over Stripe test mode',
      client: () => new Stripe(key as string) as unknown as ConformanceStripe,
      // Real round trips: a test makes owners, cards, and deletes them.
      timeout: 60_000,
    }),
  )
})
