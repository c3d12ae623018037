import { redact } from '@cardport/core'
import type { StripeCardFailure } from './stripe-test-cards.js'

/** The `error` object of a Stripe error body (API 2023-08-16, schema `api_errors`). */
export interface StripeErrorObject {
  /** The kind of error: the SDK picks its error class (`StripeCardError` …) from it. */
  type: 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error'
  /** The error code (`'card_declined'`, `'resource_missing'` …), for errors that have one. */
  code?: string
  /** For an issuer's decline: its reason (`'insufficient_funds'` …), when it gives one. */
  decline_code?: string
  /** The documentation page of `code` (`https://stripe.com/docs/error-codes/…`). */
  doc_url?: string
  /** What went wrong, in words; for card errors, fit to show the cardholder. */
  message: string
  /** The request parameter the error is about (`'exp_month'`, `'metadata'` …), when one is. */
  param?: string
  /** The request's log page in the Dashboard, as Stripe links it. */
  request_log_url?: string
}

/** A Stripe error body: `{ error: { type, code, message, param, … } }`. */
export interface StripeErrorBody {
  /** The error; the SDK reads any answer with this member as a failure. */
  error: StripeErrorObject
}

/**
 * A Stripe error the emulator answers with. State rules throw it; the route wrapper turns it
 * into a response, so no handler ever throws to MSW.
 *
 * Its `message` and `param` pass through core's `redact`: they quote what the request sent (an
 * id, a path, a parameter name, a metadata key, an idempotency key), where a client may have put
 * a card number by mistake, and no error holds a full card number (`•••• 4242` instead).
 *
 * @example
 * ```ts
 * new StripeRequestError(404, {
 *   type: 'invalid_request_error',
 *   message: "No such customer: '4242424242424242'",
 * }).message // "No such customer: '•••• 4242'"
 * ```
 */
export class StripeRequestError extends Error {
  /** The HTTP status Stripe sends with this error. */
  readonly status: number
  /** The `error` object of the body, its `message` and `param` masked. */
  readonly error: StripeErrorObject

  constructor(status: number, error: StripeErrorObject) {
    const message = redact(error.message)
    super(message)
    this.name = 'StripeRequestError'
    this.status = status
    this.error = { ...error, message }
    if (error.param !== undefined) this.error.param = redact(error.param)
  }
}

/** Builds a Stripe error; `doc_url` follows from `code` as Stripe does. */
export function stripeError(
  status: number,
  type: StripeErrorObject['type'],
  message: string,
  fields: { code?: string; param?: string; decline_code?: string } = {},
): StripeRequestError {
  const error: StripeErrorObject = { type, message }
  if (fields.code !== undefined) {
    error.code = fields.code
    error.doc_url = `https://stripe.com/docs/error-codes/${fields.code.replaceAll('_', '-')}`
  }
  if (fields.decline_code !== undefined) error.decline_code = fields.decline_code
  if (fields.param !== undefined) error.param = fields.param
  return new StripeRequestError(status, error)
}

/** 404 (or 400 for a parameter that names a missing object): "No such customer: 'cus_…'". */
export function resourceMissing(
  noun: string,
  id: string,
  param: string,
  status = 404,
): StripeRequestError {
  return stripeError(status, 'invalid_request_error', `No such ${noun}: '${id}'`, {
    code: 'resource_missing',
    param,
  })
}

/** 400 for a missing required parameter. */
export function missingParam(param: string): StripeRequestError {
  return stripeError(400, 'invalid_request_error', `Missing required param: ${param}.`, {
    code: 'parameter_missing',
    param,
  })
}

/** 400 for a parameter with an invalid value. */
export function invalidParam(param: string, message: string): StripeRequestError {
  return stripeError(400, 'invalid_request_error', message, { code: 'parameter_invalid', param })
}

/**
 * A metadata key holding `[` or `]`, which Stripe does not allow in keys. The message does not
 * quote the key. @internal
 */
export function bracketedMetadataKey(): StripeRequestError {
  return invalidParam('metadata', 'Invalid metadata: keys cannot contain square brackets ([ or ]).')
}

/** The 402 `card_error` Stripe sends for a failing card. */
export function cardFailure(failure: StripeCardFailure): StripeRequestError {
  const { code, message, param, decline } = CARD_FAILURES[failure]
  return stripeError(402, 'card_error', message, {
    code,
    ...(param === undefined ? {} : { param }),
    ...(decline ? { decline_code: failure } : {}),
  })
}

/** 400 for a token used a second time. */
export function tokenAlreadyUsed(token: string, param: string): StripeRequestError {
  return stripeError(
    400,
    'invalid_request_error',
    `You cannot use a Stripe token more than once: ${token}.`,
    { code: 'token_already_used', param },
  )
}

/** 401 without an API key. */
export function missingApiKey(): StripeRequestError {
  return stripeError(
    401,
    'invalid_request_error',
    "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
  )
}

/** 401 for a key that is not a Stripe test key (the key itself is never echoed). */
export function invalidApiKey(): StripeRequestError {
  return stripeError(
    401,
    'invalid_request_error',
    'Invalid API Key provided. The Stripe emulator accepts test-mode secret keys (sk_test_…, rk_test_…), or publishable keys (pk_test_…) for creating tokens.',
    { code: 'api_key_invalid' },
  )
}

/** 401 for a live-mode key: the emulator is test mode only. */
export function liveApiKey(): StripeRequestError {
  return stripeError(
    401,
    'invalid_request_error',
    'Live-mode API keys (sk_live_…, rk_live_…, pk_live_…) are refused: the Stripe emulator runs in test mode only. Use a test key (sk_test_…).',
    { code: 'api_key_invalid' },
  )
}

/** 401 for a publishable key on an endpoint that needs a secret key. */
export function publishableKeyNotAllowed(): StripeRequestError {
  return stripeError(
    401,
    'invalid_request_error',
    'This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.',
    { code: 'secret_key_required' },
  )
}

/** 400 for an idempotency key reused with other parameters. */
export function idempotencyMismatch(key: string): StripeRequestError {
  return stripeError(
    400,
    'idempotency_error',
    `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
  )
}

/**
 * 400 for an idempotency key Stripe does not take: empty, or over 255 characters. The message
 * gives the length, not the key.
 */
export function idempotencyKeyLength(key: string): StripeRequestError {
  return stripeError(
    400,
    'invalid_request_error',
    `Idempotent key length is ${key.length}, which is outside accepted lengths. Idempotent Keys must be 1-255 characters long. If you're looking for a decent generator, try using a UUID defined by IETF RFC 4122.`,
  )
}

/** 400 for an idempotency key reused on another endpoint. */
export function idempotencyOtherEndpoint(
  key: string,
  first: string,
  now: string,
): StripeRequestError {
  return stripeError(
    400,
    'idempotency_error',
    `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${first}' vs '${now}'). Try using a key other than '${key}' if you meant to execute a different request.`,
  )
}

/** 409 while another request with the same idempotency key is still running. */
export function idempotencyInProgress(key: string): StripeRequestError {
  return stripeError(
    409,
    'idempotency_error',
    `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
    { code: 'idempotency_key_in_use' },
  )
}

/** 404 for a path Stripe does not serve. */
export function unrecognizedUrl(method: string, pathname: string): StripeRequestError {
  return stripeError(
    404,
    'invalid_request_error',
    `Unrecognized request URL (${method}: ${pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  )
}

/** The body of an injected fault status (see `./faults.ts`), as Stripe would send it. */
export function faultError(status: number): StripeRequestError {
  if (status === 429) {
    return stripeError(
      429,
      'invalid_request_error',
      'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
      { code: 'rate_limit' },
    )
  }
  if (status === 402) return cardFailure('generic_decline')
  if (status === 401) return invalidApiKey()
  if (status === 404) return stripeError(404, 'invalid_request_error', 'Resource not found.')
  if (status === 409) {
    return stripeError(
      409,
      'invalid_request_error',
      'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.',
      { code: 'lock_timeout' },
    )
  }
  if (status >= 500) {
    return stripeError(status, 'api_error', 'An unknown error occurred')
  }
  return stripeError(status, 'invalid_request_error', `The request failed with status ${status}.`)
}

const CARD_FAILURES: Record<
  StripeCardFailure,
  { code: string; message: string; param?: string; decline: boolean }
> = {
  generic_decline: { code: 'card_declined', message: 'Your card was declined.', decline: true },
  insufficient_funds: {
    code: 'card_declined',
    message: 'Your card has insufficient funds.',
    decline: true,
  },
  lost_card: { code: 'card_declined', message: 'Your card was declined.', decline: true },
  stolen_card: { code: 'card_declined', message: 'Your card was declined.', decline: true },
  incorrect_cvc: {
    code: 'incorrect_cvc',
    message: "Your card's security code is incorrect.",
    param: 'cvc',
    decline: true,
  },
  expired_card: {
    code: 'expired_card',
    message: 'Your card has expired.',
    param: 'exp_month',
    decline: true,
  },
  processing_error: {
    code: 'processing_error',
    message: 'An error occurred while processing your card. Try again in a little bit.',
    decline: true,
  },
  incorrect_number: {
    code: 'incorrect_number',
    message: 'Your card number is incorrect.',
    param: 'number',
    decline: false,
  },
}
