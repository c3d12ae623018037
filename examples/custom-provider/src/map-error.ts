import { CardportError, type CardportErrorCode } from '@cardport/core'
import { VAULT_PROVIDER_NAME } from './parse-card.js'
import { VaultApiError, VaultConnectionError } from './vault-client.js'

// The vault's error codes whose meaning their HTTP status alone does not give.
const BY_CODE: Readonly<Record<string, CardportErrorCode>> = {
  card_declined: 'card_declined',
  card_expired: 'card_invalid',
  token_invalid: 'invalid_request',
  customer_not_found: 'owner_not_found',
  card_not_found: 'card_not_found',
  idempotency_key_reused: 'idempotency_conflict',
  rate_limited: 'rate_limited',
}

// What the caller should do, by code: every message says what went wrong and what to do.
const HINTS: Record<CardportErrorCode, string> = {
  card_declined: 'ask the customer for another card',
  card_invalid: 'ask the customer for a card that has not expired',
  card_not_found: "list the customer's cards to find a current id",
  owner_not_found: 'check the customer id, and that the key is for the same mode (test or live)',
  conflict: 'read the card again and retry',
  authentication: 'check the vault API key',
  permission: 'use a key allowed to manage this customer',
  rate_limited: 'retry after the delay the vault asked for',
  provider_unavailable: 'retry later',
  invalid_request: 'fix the request',
  unsupported_operation: 'check the provider capabilities',
  idempotency_conflict: 'use a new idempotency key for a new request',
}

/**
 * Turns what the vault client threw into a `CardportError`, keeping the vault's status, code
 * (as `providerCode`), request id, decline reason, the parameter it named and `Retry-After`,
 * with the original error as `cause`. Returns undefined for anything else: the core then
 * wraps it as `provider_unavailable`.
 *
 * | vault | cardport |
 * |---|---|
 * | 402 `card_declined` | `card_declined` (with `declineCode`) |
 * | 402 `card_expired` | `card_invalid` |
 * | 404 `customer_not_found` | `owner_not_found` |
 * | 404 `card_not_found`, other 404 | `card_not_found` |
 * | 409 `idempotency_key_reused` | `idempotency_conflict` |
 * | 401 / 403 | `authentication` / `permission` |
 * | 429 | `rate_limited` (with `retryAfterMs`) |
 * | 5xx, no answer, timeout | `provider_unavailable` (retryable) |
 * | other 4xx, `token_invalid` | `invalid_request` |
 *
 * @example
 * ```ts
 * const error = mapVaultError(thrown)
 * if (error?.code === 'rate_limited') await sleep(error.retryAfterMs ?? 1000)
 * ```
 */
export function mapVaultError(error: unknown): CardportError | undefined {
  if (error instanceof VaultConnectionError) {
    return new CardportError(
      'provider_unavailable',
      `vault: ${error.message} (${HINTS.provider_unavailable}; a create retried with the same idempotency key is safe)`,
      { provider: VAULT_PROVIDER_NAME, cause: error },
    )
  }
  if (!(error instanceof VaultApiError)) return undefined
  const code = classify(error)
  const said = error.body?.message ?? `${error.target} answered ${error.status}`
  return new CardportError(code, `vault: ${said} (${HINTS[code]})`, {
    provider: VAULT_PROVIDER_NAME,
    status: error.status,
    providerCode: error.body?.code,
    declineCode: error.body?.decline_reason,
    requestId: error.requestId,
    retryAfterMs: code === 'rate_limited' ? retryAfterMs(error.retryAfter) : undefined,
    details: error.body?.param === undefined ? undefined : { param: error.body.param },
    cause: error,
  })
}

function classify(error: VaultApiError): CardportErrorCode {
  const byCode = error.body?.code === undefined ? undefined : BY_CODE[error.body.code]
  if (byCode) return byCode
  const { status } = error
  if (status === 401) return 'authentication'
  if (status === 403) return 'permission'
  if (status === 404) return 'card_not_found'
  if (status === 429) return 'rate_limited'
  if (status >= 500) return 'provider_unavailable'
  return 'invalid_request'
}

/** `Retry-After` in milliseconds: delay-seconds, or an HTTP date. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
