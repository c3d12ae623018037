// Errors as an application handles them: narrowed by code, and serialized.
import {
  CardDeclinedError,
  type CardportError,
  type CardportErrorCode,
  isCardportError,
  RateLimitedError,
} from '@cardport/core'
import type { MarketplaceErrorBody } from '@cardport/marketplace'
import type { MarketplaceEmulatorErrorBody } from '@cardport/testing'

export function narrowedByCode(error: unknown): number | undefined {
  if (isCardportError(error, 'rate_limited', 'provider_unavailable')) {
    const code: 'rate_limited' | 'provider_unavailable' = error.code
    void code
    return error.retryAfterMs
  }
  if (isCardportError(error)) {
    const code: CardportErrorCode = error.code
    const retryable: boolean = error.retryable
    const reason: unknown = error.details?.reason
    void [code, retryable, reason]
  }
  return undefined
}

export function alreadyAnError(error: CardportError): void {
  if (isCardportError(error, 'card_declined')) {
    const declineCode: string | undefined = error.declineCode
    void declineCode
  } else {
    const stillAnError: CardportError = error
    void stillAnError
  }
}

export function narrowedByClass(error: unknown): void {
  if (error instanceof CardDeclinedError) {
    const code: 'card_declined' = error.code
    void code
  }
  const rateLimited = new RateLimitedError('slow down')
  // @ts-expect-error a RateLimitedError's code is 'rate_limited', nothing else
  const wrong: 'card_declined' = rateLimited.code
  const general: CardportError = rateLimited
  void [wrong, general]
}

export function constructed(): CardportError {
  return new RateLimitedError('slow down', { retryAfterMs: 1000, provider: 'stripe' })
}

export function serialized(error: CardportError): string {
  const json = error.toJSON()
  const code: CardportErrorCode = json.code
  const retryable: boolean = json.retryable
  const requestId: string | undefined = json.requestId
  // @ts-expect-error toJSON leaves out the stack (and the cause and details)
  void json.stack
  void [code, retryable, requestId]
  return JSON.stringify(json)
}

// The marketplace error body has two types: what the emulator writes (every field, `status_code`
// a number) and what the adapter reads from any answer (every field optional). An emulator body
// is one the adapter reads; the two are not one type under one name.
export function emulatorBodyReadByTheAdapter(
  written: MarketplaceEmulatorErrorBody,
): MarketplaceErrorBody {
  const read: MarketplaceErrorBody = written
  // @ts-expect-error: what the adapter reads may lack fields the emulator always writes.
  const back: MarketplaceEmulatorErrorBody = read
  void back
  return read
}
