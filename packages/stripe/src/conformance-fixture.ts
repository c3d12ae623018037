// Test-only: the conformance suite's options for the Stripe adapter, shared by the run against
// the emulator and the run against Stripe's test mode, so that both run the same code. Not
// exported, not built.
import type { CardProviderSuiteOptions } from '@cardport/testing'
import fixtures from './__fixtures__/stripe-fixtures-cards.json' with { type: 'json' }
import type { StripeClient } from './stripe-client.js'
import { STRIPE_API_VERSION, STRIPE_CAPABILITIES, stripeProvider } from './stripe-provider.js'

/** The part of a `Stripe` instance the fixture uses besides what the adapter uses. */
export interface ConformanceStripe extends StripeClient {
  customers: StripeClient['customers'] & {
    create(params: object, options?: object): Promise<{ id: string }>
    del(id: string, params?: object, options?: object): Promise<unknown>
  }
  accounts: StripeClient['accounts'] & {
    create(params: object, options?: object): Promise<{ id: string }>
    del(id: string, params?: object, options?: object): Promise<unknown>
  }
  /** The SDK's request event: one per HTTP request it sends. */
  on(event: 'request', handler: () => void): unknown
}

/** Options of {@link stripeConformanceSuite}. */
export interface StripeConformanceOptions {
  name: string
  /** A new `Stripe` instance for one test. */
  client: () => ConformanceStripe
  /** Per-test timeout in milliseconds. */
  timeout?: number
  /** Cards in a second currency, where the Stripe under test takes them (see the suite's option). */
  otherCurrency?: CardProviderSuiteOptions['otherCurrency']
  /** The provider's `name` option: the suite then checks that its cards and errors carry it. */
  providerName?: string
}

// The owners the suite makes carry this, so that a test-mode account can be cleaned by hand if
// a run is interrupted before its teardown.
const MARK = { cardport: 'conformance' }
const PINNED = { apiVersion: STRIPE_API_VERSION }

/**
 * `describeCardProvider` options for the Stripe adapter: owners are made through the Stripe
 * API (a customer; a Custom connected account in the US with the `transfers` capability, which
 * external accounts need) and deleted after each test; requests are counted with the SDK's
 * `request` event.
 */
export function stripeConformanceSuite(
  options: StripeConformanceOptions,
): CardProviderSuiteOptions<typeof STRIPE_CAPABILITIES> {
  return {
    name: options.name,
    capabilities: STRIPE_CAPABILITIES,
    sources: {
      valid: ['tok_visa', 'tok_mastercard', 'tok_amex'],
      declined: 'tok_chargeDeclined',
      invalid: 'tok_chargeDeclinedExpiredCard',
      // Raw details that pass the core's checks and that Stripe declines when attached: the
      // adapter's own refusal of details must hold neither the number nor the CVC.
      declinedDetails: { number: '4000000000000002', expMonth: 12, expYear: 2035, cvc: '737' },
    },
    // External accounts receive payouts: Stripe takes debit cards only.
    accountSources: {
      valid: ['tok_visa_debit', 'tok_mastercard_debit'],
      details: { number: '4000056655665556', expMonth: 12, expYear: 2035, cvc: '737' },
    },
    nonCards: [
      fixtures.resources.bank_account,
      fixtures.resources.external_account,
      fixtures.resources.source,
      fixtures.resources.deleted_payment_source,
      fixtures.resources.customer,
      fixtures.resources.token,
    ],
    timeout: options.timeout,
    otherCurrency: options.otherCurrency,
    setup: () => {
      const stripe = options.client()
      let requests = 0
      stripe.on('request', () => {
        requests += 1
      })
      const cleanups: Array<() => Promise<unknown>> = []
      return {
        provider: stripeProvider({ stripe, name: options.providerName }),
        owners: {
          customer: async () => {
            const customer = await stripe.customers.create({ metadata: MARK }, PINNED)
            cleanups.push(() => stripe.customers.del(customer.id, {}, PINNED))
            return { type: 'customer', id: customer.id }
          },
          account: async () => {
            const account = await stripe.accounts.create(
              {
                type: 'custom',
                country: 'US',
                capabilities: { transfers: { requested: true } },
                metadata: MARK,
              },
              PINNED,
            )
            cleanups.push(() => stripe.accounts.del(account.id, {}, PINNED))
            return { type: 'account', id: account.id }
          },
        },
        readRawCard: (owner, cardId) =>
          owner.type === 'customer'
            ? stripe.customers.retrieveSource(owner.id, cardId, {}, PINNED)
            : stripe.accounts.retrieveExternalAccount(owner.id, cardId, {}, PINNED),
        requestCount: () => requests,
        teardown: async () => {
          const results = await Promise.allSettled(cleanups.map((cleanup) => cleanup()))
          const failed = results.filter((result) => result.status === 'rejected')
          if (failed.length > 0) {
            throw new Error(`could not delete ${failed.length} conformance owner(s) at Stripe`, {
              cause: failed[0]?.reason,
            })
          }
        },
      }
    },
  }
}
