import { isCardportError, type Owner } from '@cardport/core'
import { stripeEmulator } from '@cardport/testing/emulators'
import { setupServer } from 'msw/node'
import Stripe from 'stripe'
import { afterAll, afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest'
import { STRIPE_CAPABILITIES, stripeProvider } from './stripe-provider.js'
import { rejection, thrownBy } from './test-harness.js'

const emulator = stripeEmulator()
const server = setupServer(...emulator.handlers)
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  server.resetHandlers()
  emulator.reset()
})
afterAll(() => server.close())

describe('stripeProvider options', () => {
  it.each([
    ['nothing', {}],
    ['both an instance and a key', { stripe: new Stripe('sk_test_x'), apiKey: 'sk_test_x' }],
    ['a publishable key', { apiKey: 'pk_test_publishable' }],
    ['something that is not a Stripe instance', { stripe: { customers: 1 } }],
    ['a test double without accounts', { stripe: { customers: {} } }],
    ['too many retries', { apiKey: 'sk_test_x', maxNetworkRetries: 11 }],
    ['a timeout of zero', { apiKey: 'sk_test_x', timeoutMs: 0 }],
  ])('refuses %s, naming the adapter and never the key', (_case, options) => {
    const error = thrownBy(() => stripeProvider(options as never))
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect((error as Error).message).toContain('stripeProvider options')
    expect((error as Error).message).not.toContain('pk_test_publishable')
  })

  it.each([
    [
      'a misspelt option',
      { apiKey: 'sk_test_notForMessages', maxNetworkRetry: 5 },
      'maxNetworkRetry',
    ],
    [
      'an option of the SDK given beside the key',
      { apiKey: 'sk_test_notForMessages', host: 'localhost' },
      'host',
    ],
  ])(
    'refuses %s instead of running on the default, naming the key and never the API key',
    (_case, options, key) => {
      const error = thrownBy(() => stripeProvider(options as never))
      expect(isCardportError(error, 'invalid_request')).toBe(true)
      expect((error as Error).message).toContain(`"${key}"`)
      expect(
        JSON.stringify({ ...(error as object), message: (error as Error).message }),
      ).not.toContain('notForMessages')
    },
  )

  it('takes a Stripe instance as it is typed by the SDK, and declares its capabilities', () => {
    const provider = stripeProvider({ stripe: new Stripe('sk_test_x') })
    expect(provider.name).toBe('stripe')
    expect(provider.capabilities).toBe(STRIPE_CAPABILITIES)
    expect(STRIPE_CAPABILITIES).toMatchObject({
      ownerTypes: ['customer', 'account'],
      invalidateCard: false,
      externalAccounts: true,
      defaultPolicy: 'first-card',
    })
    // Invalidation is not Stripe's: calling it does not compile.
    expectTypeOf(provider.invalidateCard).parameters.toEqualTypeOf<never[]>()
  })

  it('makes its own SDK instance from an API key, with network retries on by default', async () => {
    const provider = stripeProvider({
      apiKey: 'sk_test_cardport',
      // After listen(): the fetch client keeps the fetch it finds.
      stripeConfig: { httpClient: Stripe.createFetchHttpClient() },
    })
    const owner: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.faults.inject({ route: 'POST /v1/customers/:customer/sources', drop: 'after-commit' })
    const card = await provider.createCard(owner, { source: 'tok_visa' })
    expect(emulator.state.sources(owner.id).map((source) => source.id)).toEqual([card.id])
    expect(emulator.state.requests().filter((request) => request.replayed)).toHaveLength(1)
  })

  it('gives up on a request after timeoutMs, as provider_unavailable', async () => {
    const provider = stripeProvider({
      stripe: new Stripe('sk_test_cardport', { httpClient: Stripe.createFetchHttpClient() }),
      maxNetworkRetries: 0,
      timeoutMs: 20,
    })
    const owner: Owner = { type: 'customer', id: emulator.seed.customer().id }
    emulator.faults.inject({ latencyMs: 500 })
    const error = await rejection(provider.listCards(owner))
    expect(error).toMatchObject({ code: 'provider_unavailable', retryable: true })
    expect(error.cause).toMatchObject({ type: 'StripeConnectionError' })
  })
})
