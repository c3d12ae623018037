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
export {
  StripeWebhookError,
  type StripeWebhookEvent,
  type StripeWebhookRejection,
  type StripeWebhookVerifier,
  type VerifyStripeWebhookOptions,
  verifyStripeWebhook,
} from './webhook-events.js'
export {
  type SeenEventIds,
  type StripeWebhookAction,
  type StripeWebhookClient,
  type StripeWebhookHandler,
  type StripeWebhookHandlerOptions,
  type StripeWebhookResult,
  stripeWebhookHandler,
} from './webhook-handler.js'
