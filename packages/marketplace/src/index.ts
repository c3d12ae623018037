export type { MarketplaceDispatcher } from './http-client.js'
export {
  MARKETPLACE_PROVIDER_NAME,
  type MapErrorContext,
  MarketplaceApiError,
  type MarketplaceApiErrorInit,
  type MarketplaceErrorBody,
  mapMarketplaceError,
} from './map-error.js'
export { MarketplaceIdSchema } from './marketplace-id.js'
export {
  type ListAllMarketplaceCardsOptions,
  listAllMarketplaceCards,
  listMarketplaceCards,
  MARKETPLACE_CAPABILITIES,
  type MarketplaceProvider,
  type MarketplaceProviderOptions,
  marketplaceProvider,
  type TokenizeCardOptions,
  tokenizeCard,
} from './marketplace-provider.js'
export {
  chosenCardIdOf,
  isCardPayload,
  type MarketplaceCard,
  type ParseCardOptions,
  toMarketplaceCard,
  toMarketplaceCardToken,
} from './parse-card.js'
