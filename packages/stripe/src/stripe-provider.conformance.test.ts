import { describeCardProvider } from '@cardport/testing'
import { stripeEmulator } from '@cardport/testing/emulators'
import { describe } from 'vitest'
import { type ConformanceStripe, stripeConformanceSuite } from './conformance-fixture.js'
import { STRIPE_CLIENT_KINDS, useStripe } from './test-harness.js'

// The cardport conformance suite, for both owner kinds (customers and Connect accounts), over
// the Stripe emulator, with the lowest and highest supported SDK and each of their HTTP
// clients. The same suite runs against Stripe's test mode in stripe-provider.live.test.ts.
const emulator = stripeEmulator()

describe.each(STRIPE_CLIENT_KINDS)('$name', (kind) => {
  // After each test: the emulator is reset and no request may have failed its OpenAPI check.
  const target = useStripe(kind, emulator)
  describeCardProvider(
    stripeConformanceSuite({
      name: 'stripeProvider conformance over the Stripe emulator',
      client: () => target.client() as ConformanceStripe,
    }),
  )
})
