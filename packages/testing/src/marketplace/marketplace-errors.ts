import { redact } from '@cardport/core'

/** The category types of the marketplace reference: malformed, banking, or logically inconsistent. */
export type MarketplaceCategoryType = 'request' | 'banking' | 'logical'

/**
 * The error body the marketplace emulator writes, with the fields of the errors reference, every
 * one present. `status_code` is a number, as the reference's `:status_code: 409` entries show
 * it (its field list types every field as a string). `description` ends with "Your request id
 * is …", as the API words it. Not `@cardport/marketplace`'s `MarketplaceErrorBody`, what the
 * adapter reads from any answer (every field optional, `status_code` a string or a number): an
 * emulator body is one of those, not the other way round.
 */
export interface MarketplaceEmulatorErrorBody {
  /** The HTTP reason phrase: `'Conflict'`, `'Payment Required'` … */
  status: string
  /** The HTTP status, a number. */
  status_code: number
  /** The error's code (`'card-declined'`, `'card-not-validated'` …): what the adapter maps. */
  category_code: string
  /** Malformed (`request`), banking, or logically inconsistent (`logical`). */
  category_type: MarketplaceCategoryType
  /** What went wrong, ending "Your request id is …". */
  description: string
  /** How to resolve the issue, when the emulator can say more than the description. */
  additional: string | null
  /** Field-level details of a 400: `{ postal_code: '…' }`. */
  extras: Record<string, string>
  /** The request's id (`OHM…`), also sent as the `X-Request-Id` header. */
  request_id: string
}

/**
 * An error the marketplace emulator answers with. State rules throw it; the route wrapper turns
 * it into a response with the request id, so no handler ever throws to MSW. Its texts never
 * hold a card number, a security code or an API key: they quote ids and paths from the request,
 * where a client may have put a card number by mistake, so they pass through core's `redact`.
 */
export class MarketplaceRequestError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number
  /** The body's `category_code`. */
  readonly categoryCode: string
  /** The body's `category_type`. */
  readonly categoryType: MarketplaceCategoryType
  /** The description without the trailing request id. */
  readonly description: string
  /** The body's `additional`: how to resolve the issue, or null. */
  readonly additional: string | null
  /** The body's `extras`: field-level details, `{}` when none. */
  readonly extras: Record<string, string>
  /** Extra response headers (`Allow` on a 405). */
  readonly headers: Record<string, string>

  constructor(
    status: number,
    categoryCode: string,
    categoryType: MarketplaceCategoryType,
    description: string,
    options: {
      /** {@link MarketplaceRequestError.additional}. Default null. */
      additional?: string | null | undefined
      /** {@link MarketplaceRequestError.extras}. Default `{}`. */
      extras?: Record<string, string> | undefined
      /** {@link MarketplaceRequestError.headers}. Default `{}`. */
      headers?: Record<string, string> | undefined
    } = {},
  ) {
    const masked = redact(description)
    super(`${categoryCode}: ${masked}`)
    this.name = 'MarketplaceRequestError'
    this.status = status
    this.categoryCode = categoryCode
    this.categoryType = categoryType
    this.description = masked
    this.additional = options.additional == null ? null : redact(options.additional)
    this.extras = Object.fromEntries(
      Object.entries(options.extras ?? {}).map(([field, problem]) => [field, redact(problem)]),
    )
    this.headers = options.headers ?? {}
  }

  /** The response body for the request `requestId`. */
  body(requestId: string): MarketplaceEmulatorErrorBody {
    return {
      status: STATUS_TEXT[this.status] ?? 'Error',
      status_code: this.status,
      category_code: this.categoryCode,
      category_type: this.categoryType,
      description: `${this.description} Your request id is ${requestId}.`,
      additional: this.additional,
      extras: { ...this.extras },
      request_id: requestId,
    }
  }
}

/** 409 `card-not-validated`; `reason` (never the number) goes to `additional`. */
export function cardNotValidated(reason: string): MarketplaceRequestError {
  return new MarketplaceRequestError(
    409,
    'card-not-validated',
    'logical',
    'The card could not be validated -- either the card number or security code may be wrong.',
    { additional: reason },
  )
}

/** 402 `card-declined`. */
export function cardDeclined(): MarketplaceRequestError {
  return new MarketplaceRequestError(
    402,
    'card-declined',
    'banking',
    'This card was declined by the processor.',
    { additional: 'Ask the card holder for another card.' },
  )
}

/** 409 `card-already-funding-src`. */
export function cardAlreadyFundingSource(cardId: string): MarketplaceRequestError {
  return new MarketplaceRequestError(
    409,
    'card-already-funding-src',
    'logical',
    `The card ${cardId} is already associated with an account -- it cannot be associated again.`,
    { additional: 'Tokenize the card again to associate it with another account.' },
  )
}

/** 409 `cannot-associate-card`: the card belongs to another marketplace. */
export function cannotAssociateCard(cardId: string): MarketplaceRequestError {
  return new MarketplaceRequestError(
    409,
    'cannot-associate-card',
    'logical',
    `The card ${cardId} was tokenized on a different marketplace than the one used for this request.`,
    { additional: 'Tokenize the card on this marketplace.' },
  )
}

/** 409 `card-not-valid`: the card was invalidated, for good. */
export function cardNotValid(cardId: string): MarketplaceRequestError {
  return new MarketplaceRequestError(
    409,
    'card-not-valid',
    'logical',
    `The card ${cardId} has already been marked as invalid/deactivated. It cannot be used again.`,
    { additional: 'Invalidation cannot be undone: tokenize the card again.' },
  )
}

/** 409 `card-not-associated`: the card is not the given account's. */
export function cardNotAssociated(cardId: string, accountId: string): MarketplaceRequestError {
  return new MarketplaceRequestError(
    409,
    'card-not-associated',
    'logical',
    `The card ${cardId} is not associated with the account ${accountId}.`,
  )
}

/** 409 `duplicate-email-address`. */
export function duplicateEmailAddress(): MarketplaceRequestError {
  return new MarketplaceRequestError(
    409,
    'duplicate-email-address',
    'logical',
    'An account with the given email address already exists.',
    { additional: 'Email addresses are unique among the accounts of a marketplace.' },
  )
}

/** 409 `account-already-merchant`. */
export function accountAlreadyMerchant(accountId: string): MarketplaceRequestError {
  return new MarketplaceRequestError(
    409,
    'account-already-merchant',
    'logical',
    `The account ${accountId} is already a merchant.`,
  )
}

/**
 * 400 `incomplete-account-info`: an account created with neither a card (`card`, `card_uri`) nor
 * a merchant (`merchant`, `merchant_uri`), in the reference's words.
 */
export function incompleteAccountInfo(): MarketplaceRequestError {
  return new MarketplaceRequestError(
    400,
    'incomplete-account-info',
    'request',
    'No buyer or merchant info was provided. Either "merchant/merchant_uri" or "card/card_uri" fields must be present.',
  )
}

/** 404 for an unknown resource or path. */
export function notFound(description: string): MarketplaceRequestError {
  return new MarketplaceRequestError(404, 'not-found', 'request', description)
}

/** 400 for malformed input; `extras` maps each field to what is wrong with it. */
export function badRequest(extras: Record<string, string>): MarketplaceRequestError {
  const fields = Object.entries(extras)
    .map(([field, problem]) => `Invalid field [${field}] - ${problem}`)
    .join(' ')
  return new MarketplaceRequestError(400, 'request', 'request', fields, { extras })
}

/** 400 for a body the emulator cannot read. */
export function unreadableBody(problem: string): MarketplaceRequestError {
  return new MarketplaceRequestError(400, 'request', 'request', problem)
}

/** 401: no, or a wrong, API key secret (the secret is never echoed). */
export function authenticationRequired(description: string): MarketplaceRequestError {
  return new MarketplaceRequestError(401, 'authentication-required', 'request', description, {
    additional:
      'Send the API key secret as the user name of HTTP basic auth, with an empty password.',
    headers: { 'WWW-Authenticate': 'Basic realm="marketplace"' },
  })
}

/** 405 for a method the path does not allow. */
export function methodNotAllowed(
  method: string,
  path: string,
  allowed: readonly string[],
): MarketplaceRequestError {
  return new MarketplaceRequestError(
    405,
    'method-not-allowed',
    'request',
    `The method ${method} is not allowed for ${path}. Allowed: ${allowed.join(', ')}.`,
    { headers: { Allow: allowed.join(', ') } },
  )
}

/**
 * The body of an injected fault status (see `../faults.ts`). The reference documents no 429, so
 * its `too-many-requests` code is an emulator convention; `category_type` stays within the
 * reference's three values.
 */
export function faultError(status: number): MarketplaceRequestError {
  if (status === 402) return cardDeclined()
  if (status === 401) return authenticationRequired('The request could not be authenticated.')
  if (status === 404) return notFound('The requested resource was not found.')
  if (status === 429) {
    return new MarketplaceRequestError(
      429,
      'too-many-requests',
      'request',
      'Too many requests: slow down and retry after the Retry-After delay.',
    )
  }
  const text = STATUS_TEXT[status] ?? `Status ${status}`
  const code = text.toLowerCase().replace(/[^a-z0-9]+/g, '-')
  const type: MarketplaceCategoryType = status === 409 ? 'logical' : 'request'
  const description =
    status >= 500
      ? "Something went wrong on the marketplace's side. Retry the request later."
      : `The request failed with status ${status}.`
  return new MarketplaceRequestError(status, code, type, description)
}

/** Reason phrases of the statuses the emulator sends. */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}
