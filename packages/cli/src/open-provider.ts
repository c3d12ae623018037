import { type CardProvider, formatOwner, isCardportError, type Owner } from '@cardport/core'
import type { ProviderConfig, ProviderName } from './config.js'
import { describeError } from './describe-error.js'
import { CliError, EXIT_CODES, usageError } from './exit-codes.js'

/** How long one request may take before the CLI gives up on it (the SDK's default is 80 s). */
const REQUEST_TIMEOUT_MS = 30_000

/** Network retries per request: enough to ride out a blip, few enough to fail fast when down. */
const NETWORK_RETRIES = 2

/** A provider, and how to release its connections. */
export interface OpenProvider {
  /** The provider, with the CLI's timeout and network retries. */
  provider: CardProvider
  /** Closes the keep-alive connections the provider opened. */
  close(): Promise<void>
}

/**
 * Makes the provider a configuration names: the Stripe adapter over the official SDK (pointed
 * at `STRIPE_API_BASE` when set), or the marketplace adapter over undici. Each adapter is
 * imported when needed, so that a command starts without loading SDKs it will not use.
 */
export async function openProvider(config: ProviderConfig): Promise<OpenProvider> {
  if (config.provider === 'stripe') {
    const { stripeProvider } = await import('@cardport/stripe')
    const stripeConfig: Record<string, unknown> = {}
    if (config.apiBase) {
      stripeConfig.host = config.apiBase.host
      stripeConfig.port = config.apiBase.port
      stripeConfig.protocol = config.apiBase.protocol
    }
    const provider = stripeProvider({
      apiKey: config.secretKey,
      stripeConfig,
      maxNetworkRetries: NETWORK_RETRIES,
      timeoutMs: REQUEST_TIMEOUT_MS,
      name: config.name,
    })
    return { provider, close: async () => {} }
  }
  const { marketplaceProvider } = await import('@cardport/marketplace')
  const provider = marketplaceProvider({
    baseUrl: config.url,
    marketplaceId: config.marketplaceId,
    secret: config.secret,
    headersTimeoutMs: REQUEST_TIMEOUT_MS,
    bodyTimeoutMs: REQUEST_TIMEOUT_MS,
    retry: { retries: NETWORK_RETRIES },
    name: config.name,
  })
  return { provider, close: () => provider.close() }
}

/**
 * Closes a provider's connections once a command is done with it. Stopped by a signal, it does
 * not wait for a request still on its way (up to its 30 s timeout), as the marketplace's Agent
 * would on close: the process exits next, which ends it.
 */
export async function closeProvider(open: OpenProvider, stop: AbortSignal): Promise<void> {
  const closed = open.close()
  if (!stop.aborted) return closed
  closed.catch(() => {})
}

/**
 * Refuses an owner whose type the provider holds no cards for (a customer at the marketplace) as
 * a usage error (exit 2), before any request: the command line asks for what cannot be, which
 * the provider would otherwise refuse with `unsupported_operation` (exit 1) once running.
 */
export function checkOwnerTypes(
  provider: Pick<CardProvider, 'name' | 'capabilities'>,
  owners: readonly Owner[],
): void {
  const { ownerTypes } = provider.capabilities
  const unsupported = owners.find((owner) => !ownerTypes.includes(owner.type))
  if (unsupported === undefined) return
  throw usageError(
    `--owner ${formatOwner(unsupported)}: ${provider.name} holds cards of ${ownerTypes.join(' and ')} owners only`,
  )
}

/** Where a provider's requests go, for messages: never a key. */
export function describeEndpoint(config: ProviderConfig): string {
  if (config.provider === 'stripe') return config.apiBase?.url ?? 'https://api.stripe.com'
  return new URL(config.url).origin
}

/**
 * Says where the provider was, when an error says it could not be reached or kept failing: the
 * SDKs' own messages ("An error occurred with our connection to Stripe") do not name the host,
 * and a wrong `STRIPE_API_BASE` is the usual cause. Other errors are returned as they are.
 */
export function withEndpoint(error: unknown, config: ProviderConfig): unknown {
  if (!isCardportError(error, 'provider_unavailable')) return error
  const what = error.status === undefined ? 'could not be reached' : `answered ${error.status}`
  return new CliError(
    EXIT_CODES.unreachable,
    `${config.provider} at ${describeEndpoint(config)} ${what}: ${describeError(error)}`,
    { cause: error },
  )
}

/**
 * The name and capabilities of the provider `kind` names, without credentials or a connection:
 * what {@link checkOwnerTypes} needs before the provider's configuration is read, and what
 * `list --store` needs to read that provider's cards from a store. The name is `name` (the
 * checked `--name`) when given, else the adapter's own. Its adapter is imported, as by
 * {@link openProvider}, only when asked for.
 */
export async function providerDescription(
  kind: ProviderName,
  name?: string,
): Promise<Pick<CardProvider, 'name' | 'capabilities'>> {
  if (kind === 'stripe') {
    const { STRIPE_CAPABILITIES, STRIPE_PROVIDER_NAME } = await import('@cardport/stripe')
    return { name: name ?? STRIPE_PROVIDER_NAME, capabilities: STRIPE_CAPABILITIES }
  }
  const { MARKETPLACE_CAPABILITIES, MARKETPLACE_PROVIDER_NAME } = await import(
    '@cardport/marketplace'
  )
  return { name: name ?? MARKETPLACE_PROVIDER_NAME, capabilities: MARKETPLACE_CAPABILITIES }
}
