// What the adapter's package would publish: the factory, its capabilities and its pieces.
export { mapVaultError } from './map-error.js'
export { toVaultCard, VAULT_PROVIDER_NAME } from './parse-card.js'
export { VaultApiError, VaultConnectionError, type VaultFetch } from './vault-client.js'
export {
  VAULT_CAPABILITIES,
  type VaultProvider,
  type VaultProviderOptions,
  vaultProvider,
} from './vault-provider.js'
