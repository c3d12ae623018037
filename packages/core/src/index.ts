export { brandFromNumber, CARD_BRANDS, type CardBrand, normalizeBrand } from './brand.js'
export {
  type Card,
  type CardAddress,
  CardAddressSchema,
  CardIdInputSchema,
  CardSchema,
  type CheckResult,
  CheckResultSchema,
  compiledCardSchema,
  EMPTY_ADDRESS,
  FUNDING_TYPES,
  formatOwner,
  IdempotencyKeySchema,
  isDefaultUnknown,
  markDefaultUnknown,
  type Owner,
  OwnerInputSchema,
  OwnerSchema,
  type OwnerType,
  ProviderNameSchema,
  sameOwner,
} from './card.js'
export {
  CARD_COLUMNS,
  type CardColumn,
  type CardColumnsRow,
  cardColumnValues,
  cardFromColumns,
} from './card-columns.js'
export {
  type CardDetails,
  type CardDetailsInput,
  CardDetailsSchema,
  type CardUpdate,
  type CardUpdateFor,
  CardUpdateSchema,
  type CreateCardInput,
  CreateCardInputSchema,
  isExpiryValid,
  UPDATABLE_FIELDS,
  type UpdatableField,
  type ValidCreateCardInput,
} from './card-details.js'
export { isLuhnValid, maskCard } from './card-number.js'
export {
  type CardSync,
  type CardSyncOptions,
  createCardSync,
  type ReconcileOptions,
  sameCard,
} from './card-sync.js'
export { type ClosableStoreOptions, closableStore } from './closable-store.js'
export { toCountryAlpha2, toCountryAlpha3 } from './country.js'
export {
  type CardProviderDefinition,
  type CardProviderPrimitives,
  cardNotFound,
  defineCardProvider,
  forgetLastMatch,
  ListOptionsSchema,
  parseCardPayload,
} from './define-provider.js'
export type {
  DriftChange,
  DriftCounts,
  DriftEntry,
  DriftFailure,
  DriftReport,
} from './drift-report.js'
export * from './errors.js'
export { type KeyedQueue, keyedQueue } from './keyed-queue.js'
export { kindOf } from './kind-of.js'
export {
  MEMORY_PROVIDER_CAPABILITIES,
  MEMORY_PROVIDER_TOKENS,
  type MemoryProvider,
  type MemoryProviderOptions,
  memoryProvider,
} from './memory-provider.js'
export { memoryStore } from './memory-store.js'
export {
  applyMetadataPatch,
  METADATA_LIMITS,
  type Metadata,
  type MetadataPatch,
  MetadataPatchSchema,
  MetadataSchema,
  ProviderMetadataSchema,
  providerMetadata,
} from './metadata.js'
export {
  type CardLister,
  type CursorState,
  type DecodeCursorOptions,
  decodeCursor,
  type EncodeCursorOptions,
  encodeCursor,
  type ListAllOptions,
  ListAllOptionsSchema,
  type ListedOwner,
  listAll,
  type Page,
  TO_ARRAY_HARD_CAP,
  toArray,
} from './pagination.js'
export type {
  CardProvider,
  DefaultPolicy,
  ListOptions,
  OwnerOf,
  ProviderCapabilities,
  RequestOptions,
  UnsupportedOperation,
} from './provider.js'
export { PROVIDER_OPERATIONS } from './provider.js'
export { payloadFailure } from './provider-failure.js'
export {
  containsCardNumber,
  maskCardNumbers,
  maskCardNumberValue,
  NESTED_TOO_DEEP,
  redact,
  redactInPlace,
  redactSecrets,
} from './redact.js'
export { type RetryPolicy, RetryPolicySchema, withRetry } from './retry.js'
export type {
  CardScope,
  CardStore,
  CompleteCardStore,
  RetirementLog,
  RetiringCard,
  StoredCard,
  UpsertResult,
  WriteOptions,
} from './store.js'
export { observedAtOf, scopeKey, scopeOf } from './store.js'
export { untilAborted } from './until-aborted.js'
export { optionsObject, validate } from './validate.js'
