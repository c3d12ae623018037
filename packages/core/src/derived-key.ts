import { createHash } from 'node:crypto'
import { formatOwner, type Owner } from './card.js'

/**
 * The idempotency key `CardSync` sends for a call made without one of the caller's: the same
 * for the same operation, provider, owner and input (a token), different otherwise, so that a
 * retried call is replayed by the provider instead of making a second card.
 *
 * Its 128 bits of SHA-256 are written in the letters `a` to `p`, one a half-byte, and hold no
 * digit: the key is sent to the provider as a header and kept in the store's retirement notes,
 * and in hex about one key in 1,400 held a digit run that reads as a card number, which a scan
 * of stored rows for card numbers would report.
 */
export function deriveIdempotencyKey(
  operation: string,
  provider: string,
  owner: Owner,
  input: string,
): string {
  const digest = createHash('sha256')
    .update(`${operation}\u0000${provider}\u0000${formatOwner(owner)}\u0000${input}`)
    .digest()
  let letters = ''
  for (const byte of digest.subarray(0, 16)) letters += LETTERS[byte >> 4]! + LETTERS[byte & 15]!
  return `cardport-${operation}-${letters}`
}

const LETTERS = 'abcdefghijklmnop'
