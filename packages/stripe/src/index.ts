export { mapStripeError } from './map-error.js'
export { STRIPE_PROVIDER_NAME, toStripeCard } from './parse-card.js'
export type { StripeClient, StripeParams, StripeRequestOptions } from './stripe-client.js'
export {
  STRIPE_API_VERSION,
  STRIPE_CAPABILITIES,
  type StripeProvider,
  type StripeProviderOptions,
  stripeProvider,
} from './stripe-provider.js'
