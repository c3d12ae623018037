import { CardportError, type CardportErrorCode, redactInPlace } from '@cardport/core'
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
 * status and code (as `providerCode`), the decline code, `Retry-After` for rate limits, the
 * parameter Stripe named (in `details.param`), and the SDK's error as `cause` (with any card
 * number or key Stripe echoed from the request masked). Returns undefined for errors that did
 * not come from the SDK (the core then wraps them as `provider_unavailable`).
 *
 * | Stripe | cardport |
 * |---|---|
 * | `card_error` `card_declined`, `processing_error` (retryable) … | `card_declined` (with `declineCode`) |
 * | `card_error` invalid/incorrect number, expiry, CVC, zip, `expired_card`; `invalid_card_type` | `card_invalid` |
 * | `resource_missing` on a customer or account | `owner_not_found` |
 * | `resource_missing` on a token | `invalid_request` |
 * | `resource_missing` on a list cursor (its card deleted since) | `invalid_request` |
 * | `resource_missing` otherwise, any other 404 | `card_not_found` |
 * | deleting (or un-defaulting) the default external account of a currency | `conflict` |
 * | other `invalid_request_error` | `invalid_request` |
 * | `idempotency_error` (`idempotency_key_in_use`: retryable) | `idempotency_conflict` |
 * | 401 / 403 | `authentication` / `permission` |
 * | 429, `rate_limit`, `lock_timeout` | `rate_limited` (with `retryAfterMs`) |
 * | `api_error`, 5xx, connection errors and timeouts | `provider_unavailable` (a 503's `Retry-After` as `retryAfterMs`) |
 * | an `error` in an answer below 400 (a broken answer) | `provider_unavailable` |
 *
 * `provider` is the name the error gives as its `provider`: `'stripe'`, or the `name` option of
 * the provider the call was made for.
 *
 * @example
 * ```ts
 * try {
 *   await stripe.customers.createSource('cus_123', { source: 'tok_chargeDeclined' })
 * } catch (error) {
 *   const mapped = mapStripeError(error) // code 'card_declined', declineCode 'generic_decline'
 * }
 * ```
 */
export function mapStripeError(
  error: unknown,
  provider: string = STRIPE_PROVIDER_NAME,
): CardportError | undefined {
  if (!isObject(error) || typeof error.type !== 'string' || !error.type.startsWith('Stripe')) {
    return undefined
  }
  const status = typeof error.statusCode === 'number' ? error.statusCode : undefined
  const code = typeof error.code === 'string' ? error.code : undefined
  // stripe 23 sets `''` on a card error without a decline code; stripe 16 leaves it out.
  const declineCode =
    typeof error.decline_code === 'string' && error.decline_code !== ''
      ? error.decline_code
      : undefined
  const param = typeof error.param === 'string' ? error.param : undefined
  const message = typeof error.message === 'string' ? error.message : 'Stripe returned an error'
  const rawType = typeof error.rawType === 'string' ? error.rawType : undefined
  const cardportCode = classify({ type: error.type, rawType, status, code, param, message })
  const hint = defaultCurrencyConflict(message)
    ? DEFAULT_EXTERNAL_ACCOUNT_HINT
    : staleCursor(code, param)
      ? STALE_CURSOR_HINT
      : HINTS[cardportCode]
  return new CardportError(cardportCode, `Stripe: ${message} (${hint})`, {
    provider,
    status,
    providerCode: code ?? rawType,
    declineCode,
    requestId: typeof error.requestId === 'string' ? error.requestId : undefined,
    // Transient failures Stripe itself says to retry, beyond the codes retryable by default.
    retryable: code === 'processing_error' || code === 'idempotency_key_in_use' ? true : undefined,
    // RFC 9110: a 503 (or 429) may say when to come back; what else fails says nothing.
    retryAfterMs:
      cardportCode === 'rate_limited' || cardportCode === 'provider_unavailable'
        ? retryAfter(error.headers)
        : undefined,
    details: param === undefined ? undefined : { param },
    cause: redactEcho(error),
  })
}

/**
 * Masks what the answer echoed of the request in the SDK's error before it is kept as `cause`
 * (which a logged error prints, `console.error` and structured loggers alike): "No such token:
 * '4242…'" when a card number was passed as a token. Every text in it is masked, not only its
 * message: the SDK keeps the body's whole `error` object as `raw` (`user_message`, and whatever
 * else a gateway in the way put there), and the whole body of an answer that is no JSON as
 * `raw.exception.rawBody` (a page quoting the request path, where a card number was passed as a
 * card id). In place: the error belongs to this one failed request, and keeps its class.
 */
function redactEcho(error: Record<string, unknown>): Record<string, unknown> {
  // A frozen error (not one the SDK makes) keeps the texts it cannot have replaced.
  redactInPlace(error)
  return error
}

// Stripe words it "You cannot delete the default external account for …" and "You cannot set
// default_for_currency to false on the default external account for …".
const DEFAULT_EXTERNAL_ACCOUNT = /default external account/i

const DEFAULT_EXTERNAL_ACCOUNT_HINT =
  'make another card of the same currency the default with setDefaultCard, then delete this one'

function defaultCurrencyConflict(message: string): boolean {
  return DEFAULT_EXTERNAL_ACCOUNT.test(message)
}

// A list's cursor parameters: the id of the card a page continues from.
const CURSOR_PARAMS = new Set(['starting_after', 'ending_before'])

const STALE_CURSOR_HINT =
  'the card this cursor continues after was deleted meanwhile: list again from the first page'

function staleCursor(code: string | undefined, param: string | undefined): boolean {
  return code === 'resource_missing' && param !== undefined && CURSOR_PARAMS.has(param)
}

// The parameters that carry a token: a missing object there is a bad token, not a missing card.
const TOKEN_PARAMS = new Set(['source', 'card', 'external_account', 'token'])

/**
 * `type` is the SDK's class name, `rawType` Stripe's `error.type`. SDK versions pick classes
 * differently (stripe 16 by `rawType`, stripe 23 by status: a 409 is a `StripeAPIError` there),
 * so each rule reads the facts that do not depend on the version first.
 */
function classify(error: {
  type: string
  rawType: string | undefined
  status: number | undefined
  code: string | undefined
  param: string | undefined
  message: string
}): CardportErrorCode {
  const { type, rawType, status, code, param, message } = error
  // Stripe answers an error with 4xx or 5xx: an error in a 2xx answer is a broken answer (a
  // proxy's, a test double's), whatever it says. stripe 16 reads its type; stripe 23 its status.
  if (status !== undefined && status < 400) return 'provider_unavailable'
  if (type === 'StripeCardError' || rawType === 'card_error') {
    return code && INVALID_CARD_CODES.has(code) ? 'card_invalid' : 'card_declined'
  }
  if (
    type === 'StripeIdempotencyError' ||
    rawType === 'idempotency_error' ||
    code === 'idempotency_key_in_use'
  ) {
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
    if (/no such (customer|account)\b/i.test(message)) return 'owner_not_found'
    // The card a list cursor continues after was deleted since: no card was asked for.
    if (staleCursor(code, param)) return 'invalid_request'
    if (/no such token\b/i.test(message) || (param !== undefined && TOKEN_PARAMS.has(param))) {
      return 'invalid_request'
    }
    return 'card_not_found'
  }
  if (code === 'invalid_card_type') return 'card_invalid'
  if (defaultCurrencyConflict(message)) return 'conflict'
  return 'invalid_request'
}

/** `Retry-After` in milliseconds: delay-seconds, or an HTTP date. */
function retryAfter(headers: unknown): number | undefined {
  if (!isObject(headers)) return undefined
  const value = headers['retry-after'] ?? headers['Retry-After']
  const text = Array.isArray(value) ? value[0] : value
  if (typeof text !== 'string' && typeof text !== 'number') return undefined
  if (/^\s*\d+(\.\d+)?\s*$/.test(String(text))) return Math.round(Number(text) * 1000)
  const date = Date.parse(String(text))
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}
