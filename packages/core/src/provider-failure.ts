import {
  type CardportError,
  InvalidRequestError,
  isCardportError,
  ProviderUnavailableError,
} from './errors.js'
import { maskPrimitive, redactInPlace, redactSecrets } from './redact.js'

/**
 * What a provider named `name` threw during `operation`, as the `CardportError` its caller gets,
 * card numbers and keys masked in it: one place for `defineCardProvider` (for every error of its
 * primitives) and `ownerCheckedProvider` (for a provider written by hand), so both raise the same.
 * - A `CardportError` is raised as it is, the same object (its class, code, `retryable` and
 *   `details` kept; its message was masked when it was made), its `cause` masked
 *   ({@link maskCause}).
 * - Anything else goes to `mapError` (the adapter's, when there is one), and a `CardportError`
 *   it returns is raised so, its cause masked; what it does not map (or throws on) becomes
 *   `provider_unavailable`, retryable, with a masked copy of the error as its cause
 *   ({@link redactedCause}). Retryable as `provider_unavailable` is by default: an error no one
 *   recognised is most often the client's (a reset connection, a timeout), which a retry mends;
 *   an adapter's bug is retried a few times in vain, as many as the caller's retry policy allows.
 */
export function providerFailure(
  error: unknown,
  name: string,
  operation: string,
  mapError?: (error: unknown) => CardportError | undefined,
): CardportError {
  if (isCardportError(error)) return maskCause(error)
  let mapped: CardportError | undefined
  try {
    mapped = mapError?.(error) ?? undefined
  } catch {
    // A mapper that cannot read this error (it expected a response): as if unmapped.
  }
  if (mapped && isCardportError(mapped)) return maskCause(mapped)
  return new ProviderUnavailableError(
    `${name} failed during ${operation} with an unexpected error; see cause`,
    { provider: name, cause: redactedCause(error) },
  )
}

/**
 * What a provider named `name` threw reading a caller's payload (`parseCard`), as the
 * `CardportError` its caller gets: a `CardportError` is raised as it is, its `cause` masked (it
 * may be the payload, card number and all); anything else is `invalid_request`, not retryable
 * (the payload is the caller's), with a masked copy of the error as its cause.
 *
 * For an adapter's own mapping helpers exported beside its provider (`toStripeCard`,
 * `toMarketplaceCard`), which read a payload as `parseCard` does: a getter of the payload that
 * throws, or a `TypeError` of the mapping, reaches the caller as `parseCard` would raise it.
 *
 * @example
 * ```ts
 * import { payloadFailure } from '@cardport/core'
 *
 * try {
 *   return mapVaultCard(raw)
 * } catch (error) {
 *   throw payloadFailure(error, 'vault') // invalid_request: vault could not read this payload as a card
 * }
 * ```
 */
export function payloadFailure(error: unknown, name: string): CardportError {
  if (isCardportError(error)) return maskCause(error)
  return new InvalidRequestError(`${name} could not read this payload as a card`, {
    provider: name,
    cause: redactedCause(error),
  })
}

/**
 * `error`, the same object, with card numbers and keys masked in its `cause` (loggers print a
 * cause, its fields and its own cause): an adapter's error (mapped or thrown as a
 * `CardportError`) may keep a client's error whole, whose message or request body quotes the
 * card number. The cause is masked in place, keeping its class and fields: it belongs to the one
 * failed request. A cause some text of which cannot be changed (a frozen error), or that holds
 * an instance of a class with fields `redactInPlace` does not read (a client's request object,
 * whose body may quote the card number), is replaced by a masked copy of its name, message and
 * stack, as an unmapped error's is (`redactedCause`).
 */
function maskCause(error: CardportError): CardportError {
  const cause: unknown = error.cause
  let masked = maskPrimitive(cause)
  if (typeof cause === 'object' && cause !== null && !redactInPlace(cause)) {
    masked = redactedCause(cause)
  }
  if (masked === cause) return error
  try {
    // `cause` is an own field an error's constructor defines: writable, not enumerable.
    Object.defineProperty(error, 'cause', {
      value: masked,
      writable: true,
      enumerable: false,
      configurable: true,
    })
  } catch {
    // A frozen CardportError keeps its cause: nothing else could be raised in its place.
  }
  return error
}

/**
 * What a provider threw that is no `CardportError`, to keep as a `cause`: loggers print a
 * cause's message and stack, so an `Error` is copied with both cleared of card numbers and keys
 * (`redactSecrets`); anything else (a string, a plain object, `undefined`) is described by its
 * type only.
 */
function redactedCause(error: unknown): Error {
  if (!(error instanceof Error)) return new Error(`a thrown ${typeof error}`)
  const copy = new Error(redactSecrets(error.message))
  copy.name = error.name
  copy.stack = redactSecrets(error.stack ?? '')
  return copy
}
