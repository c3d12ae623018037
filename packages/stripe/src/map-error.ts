import { CardportError, type CardportErrorCode } from '@cardport/core'
import { isObject, STRIPE_PROVIDER_NAME } from './parse-card.js'

// Card errors that mean the details are wrong rather than refused by the issuer.
const INVALID_CARD_CODES = new Set([
  'incorrect_number',
  'invalid_number',
  'invalid_expiry_month',
  'invalid_expiry_year',
  'invalid_cvc',
  'incorrect_cvc',
  'expired_card',
  'incorrect_zip',
  'invalid_card_type',
])

const HINTS: Record<CardportErrorCode, string> = {
  card_declined: 'ask the customer for another card',
  card_invalid: 'ask the customer to check the card details',
  card_not_found: "list the owner's cards to find a current id",
  owner_not_found: 'check the customer or account id, and the API key (live or test)',
  conflict: 'change the card that blocks it first',
  authentication: 'check the Stripe secret key',
  permission: 'use a key allowed to manage this customer or account',
  rate_limited: 'retry after the delay Stripe asked for',
  provider_unavailable: 'retry later',
  invalid_request: 'fix the request',
  unsupported_operation: 'check the provider capabilities',
  idempotency_conflict: 'use a new idempotency key for a new request',
}

/**
 * Maps an error thrown by the `stripe` SDK to a `CardportError`, keeping Stripe's request id,
 * status and code, the decline code for declines, `Retry-After` for rate limits, and the
 * original error as `cause`. Returns undefined for errors that did not come from the SDK.
 *
 * | Stripe | cardport |
 * |---|---|
 * | `card_error` `card_declined` | `card_declined` (with `declineCode`) |
 * | `card_error` invalid/incorrect number, expiry, CVC, zip; `invalid_card_type` | `card_invalid` |
 * | `resource_missing` on a customer or account | `owner_not_found` |
 * | `resource_missing` otherwise, any 404 | `card_not_found` |
 * | deleting the default external account of a currency | `conflict` |
 * | other `invalid_request_error` | `invalid_request` |
 * | `idempotency_error` | `idempotency_conflict` |
 * | 401 / 403 | `authentication` / `permission` |
 * | 429, `rate_limit`, `lock_timeout` | `rate_limited` (with `retryAfterMs`) |
 * | `api_error`, 5xx, connection errors | `provider_unavailable` |
 */
export function mapStripeError(error: unknown): CardportError | undefined {
  if (!isObject(error) || typeof error.type !== 'string' || !error.type.startsWith('Stripe')) {
    return undefined
  }
  const status = typeof error.statusCode === 'number' ? error.statusCode : undefined
  const code = typeof error.code === 'string' ? error.code : undefined
  const declineCode = typeof error.decline_code === 'string' ? error.decline_code : undefined
  const message = typeof error.message === 'string' ? error.message : 'Stripe returned an error'
  const retryAfterMs = retryAfter(error.headers)
  const cardportCode = classify(error.type, status, code, message)
  return new CardportError(cardportCode, `Stripe: ${message} (${HINTS[cardportCode]})`, {
    provider: STRIPE_PROVIDER_NAME,
    status,
    providerCode: code ?? (typeof error.rawType === 'string' ? error.rawType : undefined),
    declineCode,
    requestId: typeof error.requestId === 'string' ? error.requestId : undefined,
    retryAfterMs: cardportCode === 'rate_limited' ? retryAfterMs : undefined,
    details: typeof error.param === 'string' ? { param: error.param } : undefined,
    cause: error,
  })
}

function classify(
  type: string,
  status: number | undefined,
  code: string | undefined,
  message: string,
): CardportErrorCode {
  if (type === 'StripeCardError') {
    return code && INVALID_CARD_CODES.has(code) ? 'card_invalid' : 'card_declined'
  }
  if (type === 'StripeIdempotencyError' || code === 'idempotency_key_in_use') {
    return 'idempotency_conflict'
  }
  if (type === 'StripeAuthenticationError' || status === 401) return 'authentication'
  if (type === 'StripePermissionError' || status === 403) return 'permission'
  if (type === 'StripeRateLimitError' || status === 429 || code === 'rate_limit') {
    return 'rate_limited'
  }
  if (code === 'lock_timeout') return 'rate_limited'
  if (type === 'StripeConnectionError' || type === 'StripeAPIError') return 'provider_unavailable'
  if (status !== undefined && status >= 500) return 'provider_unavailable'
  if (code === 'resource_missing' || status === 404) {
    return /no such (customer|account)/i.test(message) ? 'owner_not_found' : 'card_not_found'
  }
  if (code === 'invalid_card_type') return 'card_invalid'
  if (/default external account/i.test(message)) return 'conflict'
  return 'invalid_request'
}

function retryAfter(headers: unknown): number | undefined {
  if (!isObject(headers)) return undefined
  const value = headers['retry-after'] ?? headers['Retry-After']
  const seconds = Number(value)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}
