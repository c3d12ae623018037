export {
  type CardProviderFixture,
  type CardProviderSuiteOptions,
  type CardSource,
  type CardSources,
  describeCardProvider,
  type OwnerFactory,
} from './conformance/describe-card-provider.js'
export {
  type CardStoreFixture,
  type CardStoreSuiteOptions,
  describeCardStore,
} from './conformance/describe-card-store.js'
export * from './emulators.js'
