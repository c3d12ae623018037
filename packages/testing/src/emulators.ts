// The part of @cardport/testing that does not need Vitest: emulators, faults, the undici bridge
// and the HTTP server. The CLI and non-Vitest scripts import this entry.

// memoryProvider ships in core; the design lists it with the testing kit, so it is here too.
export {
  MEMORY_PROVIDER_CAPABILITIES,
  MEMORY_PROVIDER_TOKENS,
  type MemoryProvider,
  type MemoryProviderOptions,
  memoryProvider,
} from '@cardport/core'
export type { Emulator } from './emulator.js'
// The HTTP server, the undici bridge and the one-call MSW set-up.
export {
  type EmulatorServer,
  type EmulatorServerOptions,
  startEmulatorServer,
} from './emulator-server.js'
export type { Fault, FaultContext, FaultController } from './faults.js'
// Marketplace emulator.
export {
  type MarketplaceEmulator,
  type MarketplaceEmulatorOptions,
  type MarketplaceEmulatorSeed,
  type MarketplaceEmulatorState,
  type MarketplaceRequestRecord,
  marketplaceAuthorization,
  marketplaceEmulator,
} from './marketplace/marketplace-emulator.js'
export {
  type MarketplaceCategoryType,
  type MarketplaceEmulatorErrorBody,
  MarketplaceRequestError,
} from './marketplace/marketplace-errors.js'
export type {
  MarketplaceAccountView,
  MarketplaceCardView,
  MarketplaceCheckOutcome,
  MarketplaceCustomerView,
  MarketplaceInfo,
  MarketplacePage,
  MarketplaceUriDescriptor,
} from './marketplace/marketplace-state.js'
export {
  findMarketplaceTestCard,
  MARKETPLACE_TEST_CARDS,
  type MarketplaceCardBrand,
  type MarketplaceTestCard,
  type MarketplaceTestOutcome,
  marketplaceBrandOf,
  TEST_MARKETPLACE_ID,
  TEST_MARKETPLACE_SECRET,
} from './marketplace/marketplace-test-cards.js'
// A valid card to write to a store in tests.
export { sampleCard } from './sample-card.js'
export {
  type CardportServer,
  type CardportServerListenOptions,
  setupCardportServer,
} from './setup-server.js'
// Stripe emulator (createFaultRunner stays internal: every emulator builds its own).
export {
  STRIPE_EMULATOR_API_VERSION,
  type StripeEmulator,
  type StripeEmulatorOptions,
  type StripeEmulatorSeed,
  type StripeEmulatorState,
  type StripeRequestRecord,
  stripeEmulator,
} from './stripe/stripe-emulator.js'
export {
  type StripeErrorBody,
  type StripeErrorObject,
  StripeRequestError,
} from './stripe/stripe-errors.js'
// Stripe's webhook events: recorded by the emulator, signed and delivered offline.
export {
  deliverStripeEvents,
  STRIPE_EMULATOR_WEBHOOK_SECRET,
  type StripeDelivery,
  type StripeDeliveryOptions,
  type StripeEmulatorEvents,
  type StripeEmulatorEventType,
  type StripeEvent,
  type StripeWebhookTarget,
  signStripeEvent,
  stripeEventPayload,
} from './stripe/stripe-events.js'
export type {
  StripeAccount,
  StripeAddress,
  StripeBankAccount,
  StripeCard,
  StripeCustomer,
  StripeList,
  StripeMetadata,
  StripeSource,
  StripeToken,
} from './stripe/stripe-state.js'
export {
  findStripeTestCard,
  findStripeTestToken,
  STRIPE_TEST_CARDS,
  type StripeCardBrand,
  type StripeCardFailure,
  type StripeCardFunding,
  type StripeTestCard,
  stripeBrandOf,
} from './stripe/stripe-test-cards.js'
export {
  createUndiciBridge,
  type UndiciBridgeOptions,
  UnhandledRequestError,
  type UnhandledRequestStrategy,
} from './undici-bridge.js'
