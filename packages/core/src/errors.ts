import {
  maskCardNumbers,
  maskPrimitive,
  NESTED_TOO_DEEP,
  redactSecrets,
  removeSecrets,
} from './redact.js'

/**
 * Every error code cardport raises. Test `error.code`, not `instanceof`: two copies of
 * `@cardport/core` in one application each have their own classes, but the codes are the same.
 */
export const CARDPORT_ERROR_CODES = [
  'card_declined',
  'card_invalid',
  'card_not_found',
  'owner_not_found',
  'conflict',
  'authentication',
  'permission',
  'rate_limited',
  'provider_unavailable',
  'invalid_request',
  'unsupported_operation',
  'idempotency_conflict',
] as const

/** One of {@link CARDPORT_ERROR_CODES}. */
export type CardportErrorCode = (typeof CARDPORT_ERROR_CODES)[number]

/** A validation problem found before any request was made (from zod, with the input left out). */
export interface ValidationIssue {
  /** Where the problem is, as a path into the input (`['metadata', 'order_id']`). */
  readonly path: readonly PropertyKey[]
  /** What is wrong, in words; never contains the offending value. */
  readonly message: string
}

/** What can be said about an error when raising it. */
export interface CardportErrorOptions {
  /** The provider that raised it (`'stripe'`, `'marketplace'`), when one did. */
  provider?: string | undefined
  /** The HTTP status the provider answered with. */
  status?: number | undefined
  /** The provider's own code (`'card_declined'`, `'card-not-validated'` …). */
  providerCode?: string | undefined
  /** For declines: the issuer's reason (`'insufficient_funds'` …), when the provider gives one. */
  declineCode?: string | undefined
  /** The provider's request id, to quote to its support. */
  requestId?: string | undefined
  /** Whether the same call may succeed if made again later. Defaults by code. */
  retryable?: boolean | undefined
  /** For `rate_limited`: how long the provider asked to wait. */
  retryAfterMs?: number | undefined
  /** For `invalid_request` raised locally: what was wrong with the input. */
  issues?: readonly ValidationIssue[] | undefined
  /** Extra, non-secret facts from the provider (the marketplace's `additional`, a param name). */
  details?: Readonly<Record<string, unknown>> | undefined
  /** The original error. */
  cause?: unknown
}

/**
 * What {@link CardportError.toJSON} gives, for logs and JSON responses: the public fields, and
 * no stack, cause or `details`.
 */
export interface CardportErrorJSON {
  /** The class's name (`'CardDeclinedError'` …), {@link CardportError.name}. */
  name: string
  /** The error code, {@link CardportError.code}: what to branch on. */
  code: CardportErrorCode
  /** What went wrong and what to do; card numbers and API keys removed. */
  message: string
  /** The provider that raised it, {@link CardportError.provider}. */
  provider: string | undefined
  /** The provider's HTTP status, {@link CardportError.status}. */
  status: number | undefined
  /** The provider's own code, {@link CardportError.providerCode}. */
  providerCode: string | undefined
  /** The issuer's decline reason, {@link CardportError.declineCode}. */
  declineCode: string | undefined
  /** The provider's request id, {@link CardportError.requestId}. */
  requestId: string | undefined
  /** Whether the same call may succeed later, {@link CardportError.retryable}. */
  retryable: boolean
  /** For `rate_limited`: milliseconds to wait, {@link CardportError.retryAfterMs}. */
  retryAfterMs: number | undefined
  /** For local validation: what was wrong, {@link CardportError.issues}. */
  issues: readonly ValidationIssue[] | undefined
}

const BRAND = Symbol.for('@cardport/core/error')

const RETRYABLE_BY_DEFAULT: ReadonlySet<CardportErrorCode> = new Set([
  'rate_limited',
  'provider_unavailable',
])

/**
 * The one error type of cardport. Every failure that crosses a cardport API from a provider or
 * from local validation (a store's options and input included) is a `CardportError` with a
 * string `code`. A store's own failures while it runs (its driver's errors: a lost connection,
 * a full disk, a lock timeout) pass through as the driver raised them, for the operator to
 * read; `reconcile` records them as failures with the store as their `source` and the code
 * `store_failed`, their messages redacted.
 * Each subclass (`CardDeclinedError`, …) has its one code as its type: `instanceof` narrows
 * `code` too.
 *
 * The message says what went wrong and what to do. It never contains a card number or an API
 * key: they are removed here, whatever the caller passed. A CVC cannot be told from other short
 * numbers in free text: an adapter masks those its provider's messages quote (the marketplace
 * adapter does), and cardport's own messages never quote one.
 *
 * @example
 * ```ts
 * try {
 *   await provider.createCard(owner, { source: 'tok_chargeDeclined' })
 * } catch (error) {
 *   if (isCardportError(error, 'card_declined')) showDecline(error.declineCode)
 *   else throw error
 * }
 * ```
 */
export class CardportError extends Error {
  /** The class's name (`'CardDeclinedError'` …), for logs; branch on `code` instead. */
  override readonly name: string = 'CardportError'
  /** What went wrong, one of {@link CARDPORT_ERROR_CODES}: the field to test, across copies. */
  readonly code: CardportErrorCode
  /** The provider that raised it (`'stripe'`, `'marketplace'`), or undefined for local errors. */
  readonly provider: string | undefined
  /** The HTTP status the provider answered with; undefined when no answer came or none was sent. */
  readonly status: number | undefined
  /**
   * The provider's own code (`'card_declined'`, `'card-not-validated'` …), when it gave one, with
   * any card number in it masked (`maskCardNumbers`) and any API key, webhook secret or
   * `Authorization` value removed, as in the message.
   */
  readonly providerCode: string | undefined
  /**
   * For declines: the issuer's reason (`'insufficient_funds'` …), when the provider gives one,
   * with any card number in it masked and any secret removed, as in {@link CardportError.providerCode}.
   */
  readonly declineCode: string | undefined
  /** The provider's request id, to quote to its support. */
  readonly requestId: string | undefined
  /**
   * Whether the same call may succeed if made again later: by default true for `rate_limited`
   * and `provider_unavailable` only. `withRetry` retries only such errors.
   */
  readonly retryable: boolean
  /** For `rate_limited`: how long the provider asked to wait, in milliseconds, when it said. */
  readonly retryAfterMs: number | undefined
  /**
   * For `invalid_request` raised locally: what was wrong with the input, one issue per problem,
   * card numbers removed from paths and messages.
   */
  readonly issues: readonly ValidationIssue[] | undefined
  /**
   * Extra, non-secret facts from the provider (the marketplace's `additional`, a param name,
   * `ownerDeleted`). Left out of {@link CardportError.toJSON}. A copy of what was given, card
   * numbers and keys removed from every text in it (keys of objects included, at any depth).
   */
  readonly details: Readonly<Record<string, unknown>> | undefined

  constructor(code: CardportErrorCode, message: string, options: CardportErrorOptions = {}) {
    super(
      redactSecrets(message),
      options.cause === undefined ? undefined : { cause: options.cause },
    )
    this.code = code
    this.provider = options.provider
    this.status = options.status
    // Read from the provider's answer, and printed by loggers with the error: a card number or a
    // key an answer echoed in them is masked, as in the message. Codes hold none, and stay as
    // they are.
    this.providerCode = maskOptional(options.providerCode)
    this.declineCode = maskOptional(options.declineCode)
    this.requestId = options.requestId
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code)
    this.retryAfterMs = options.retryAfterMs
    this.issues = options.issues?.map((issue) => ({
      // A path can hold the caller's own keys (a metadata key): redacted like the message.
      path: issue.path.map((part) => (typeof part === 'string' ? redactSecrets(part) : part)),
      message: redactSecrets(issue.message),
    }))
    // Logged with the error (`console.error`, a logger's serializer), though not by toJSON: a
    // provider's field-level details may quote the request.
    this.details =
      options.details === undefined
        ? undefined
        : (redactedCopy(options.details, 0) as Readonly<Record<string, unknown>>)
    Object.defineProperty(this, BRAND, { value: true })
  }

  /** A plain object for logs and JSON responses: no stack, no cause, nothing secret. */
  toJSON(): CardportErrorJSON {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      provider: this.provider,
      status: this.status,
      providerCode: this.providerCode,
      declineCode: this.declineCode,
      requestId: this.requestId,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      issues: this.issues,
    }
  }
}

// Details are a few facts, not a document (and may hold a cycle): deeper levels are left out.
const MAX_DETAILS_DEPTH = 8

/**
 * `value` with `redactSecrets` applied to every string in it, and a number that is a card number
 * (a server that read a form's number as a number quotes it so; a `bigint` too) masked to the
 * string `•••• 4242`.
 * Plain objects (their keys too), arrays, maps and sets are copied. Of other objects: a `Date`
 * and binary data (no text to print) are kept; a `URL` or `URLSearchParams` (a request's form)
 * becomes its masked text; an error or any other instance, a plain object of its own fields
 * (an error's name and message first), so that no text in it is printed unmasked.
 */
function redactedCopy(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return maskPrimitive(value)
  if (depth >= MAX_DETAILS_DEPTH) return NESTED_TOO_DEEP
  const copy = (item: unknown) => redactedCopy(item, depth + 1)
  if (Array.isArray(value)) return value.map(copy)
  if (value instanceof Date || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return value
  }
  if (value instanceof Map) return new Map([...value].map(([key, item]) => [copy(key), copy(item)]))
  if (value instanceof Set) return new Set([...value].map(copy))
  if (value instanceof URL || value instanceof URLSearchParams) return redactSecrets(String(value))
  const fields = Object.entries(value)
  if (value instanceof Error) fields.unshift(['name', value.name], ['message', value.message])
  // fromEntries defines each key as data: a `__proto__` key stays a key.
  return Object.fromEntries(fields.map(([key, item]) => [redactSecrets(key), copy(item)]))
}

/**
 * Whether `error` is a {@link CardportError} (from any copy of `@cardport/core`), optionally
 * with one of the given codes. With codes, `error.code` is narrowed to them, so a `switch` on it
 * or an assignment to a code type needs no cast.
 */
export function isCardportError<Code extends CardportErrorCode = CardportErrorCode>(
  error: unknown,
  ...codes: Code[]
): error is CardportError & {
  /** One of `codes`, when they are given. */
  readonly code: Code
} {
  if (typeof error !== 'object' || error === null || !(BRAND in error)) return false
  return (
    codes.length === 0 ||
    (codes as CardportErrorCode[]).includes((error as unknown as CardportError).code)
  )
}

/** The card was declined by the issuer or the provider; `declineCode` says why when known. */
export class CardDeclinedError extends CardportError {
  /** `'CardDeclinedError'`. */
  override readonly name = 'CardDeclinedError'
  /** Always `'card_declined'`. */
  declare readonly code: 'card_declined'
  constructor(message: string, options?: CardportErrorOptions) {
    super('card_declined', message, options)
  }
}

/** The card details are wrong: number, expiry or CVC failed validation. */
export class CardInvalidError extends CardportError {
  /** `'CardInvalidError'`. */
  override readonly name = 'CardInvalidError'
  /** Always `'card_invalid'`. */
  declare readonly code: 'card_invalid'
  constructor(message: string, options?: CardportErrorOptions) {
    super('card_invalid', message, options)
  }
}

/** No card with that id belongs to that owner. */
export class CardNotFoundError extends CardportError {
  /** `'CardNotFoundError'`. */
  override readonly name = 'CardNotFoundError'
  /** Always `'card_not_found'`. */
  declare readonly code: 'card_not_found'
  constructor(message: string, options?: CardportErrorOptions) {
    super('card_not_found', message, options)
  }
}

/**
 * The customer or account does not exist at the provider. An adapter that knows the owner was
 * deleted there, not merely unknown (a key of another account knows none of the owners), says
 * so with `details: { ownerDeleted: true }` (see {@link isOwnerDeleted}).
 */
export class OwnerNotFoundError extends CardportError {
  /** `'OwnerNotFoundError'`. */
  override readonly name = 'OwnerNotFoundError'
  /** Always `'owner_not_found'`. */
  declare readonly code: 'owner_not_found'
  constructor(message: string, options?: CardportErrorOptions) {
    super('owner_not_found', message, options)
  }
}

/**
 * Whether `error` says the owner was deleted at the provider (`owner_not_found` with
 * `details.ownerDeleted`): `CardSync.reconcile` then removes the owner's local cards. An owner
 * the provider merely does not know (a wrong key, account or endpoint makes every owner unknown)
 * is a failure instead, and the local cards stay.
 */
export function isOwnerDeleted(error: unknown): boolean {
  return isCardportError(error, 'owner_not_found') && error.details?.ownerDeleted === true
}

/** The request conflicts with the resource's state (a default that cannot be deleted …). */
export class ConflictError extends CardportError {
  /** `'ConflictError'`. */
  override readonly name = 'ConflictError'
  /** Always `'conflict'`. */
  declare readonly code: 'conflict'
  constructor(message: string, options?: CardportErrorOptions) {
    super('conflict', message, options)
  }
}

/** The provider did not accept the credentials. */
export class AuthenticationError extends CardportError {
  /** `'AuthenticationError'`. */
  override readonly name = 'AuthenticationError'
  /** Always `'authentication'`. */
  declare readonly code: 'authentication'
  constructor(message: string, options?: CardportErrorOptions) {
    super('authentication', message, options)
  }
}

/** The credentials are valid but may not do this. */
export class PermissionError extends CardportError {
  /** `'PermissionError'`. */
  override readonly name = 'PermissionError'
  /** Always `'permission'`. */
  declare readonly code: 'permission'
  constructor(message: string, options?: CardportErrorOptions) {
    super('permission', message, options)
  }
}

/** Too many requests; wait `retryAfterMs` (when known) before trying again. */
export class RateLimitedError extends CardportError {
  /** `'RateLimitedError'`. */
  override readonly name = 'RateLimitedError'
  /** Always `'rate_limited'`. */
  declare readonly code: 'rate_limited'
  constructor(message: string, options?: CardportErrorOptions) {
    super('rate_limited', message, options)
  }
}

/** The provider failed or could not be reached (5xx, network error, timeout). */
export class ProviderUnavailableError extends CardportError {
  /** `'ProviderUnavailableError'`. */
  override readonly name = 'ProviderUnavailableError'
  /** Always `'provider_unavailable'`. */
  declare readonly code: 'provider_unavailable'
  constructor(message: string, options?: CardportErrorOptions) {
    super('provider_unavailable', message, options)
  }
}

/** The request is malformed; `issues` lists what local validation found. */
export class InvalidRequestError extends CardportError {
  /** `'InvalidRequestError'`. */
  override readonly name = 'InvalidRequestError'
  /** Always `'invalid_request'`. */
  declare readonly code: 'invalid_request'
  constructor(message: string, options?: CardportErrorOptions) {
    super('invalid_request', message, options)
  }
}

/** The provider does not support this operation; its `capabilities` say what it does support. */
export class UnsupportedOperationError extends CardportError {
  /** `'UnsupportedOperationError'`. */
  override readonly name = 'UnsupportedOperationError'
  /** Always `'unsupported_operation'`. */
  declare readonly code: 'unsupported_operation'
  constructor(message: string, options?: CardportErrorOptions) {
    super('unsupported_operation', message, options)
  }
}

/** An idempotency key was reused with a different request. */
export class IdempotencyConflictError extends CardportError {
  /** `'IdempotencyConflictError'`. */
  override readonly name = 'IdempotencyConflictError'
  /** Always `'idempotency_conflict'`. */
  declare readonly code: 'idempotency_conflict'
  constructor(message: string, options?: CardportErrorOptions) {
    super('idempotency_conflict', message, options)
  }
}

function maskOptional(text: string | undefined): string | undefined {
  // Keys first, as in redactSecrets: masking a digit run inside a key would hide the key.
  return text === undefined ? undefined : maskCardNumbers(removeSecrets(text))
}
