import { createHmac, randomBytes } from 'node:crypto'
import { IdempotencyConflictError, type Owner } from '@cardport/core'
import { MARKETPLACE_PROVIDER_NAME } from './map-error.js'

/** What is known of one create (or tokenize): the card it tokenized, and the card it returned. */
export interface CreateRecord {
  /** The tokenized card, once tokenizing succeeded. */
  tokenId?: string
  /**
   * Whether an association was sent and its outcome is not known (no answer came back), until
   * an answer about the card settles it: a 429 or a 401 in between leaves it set.
   */
  associating?: boolean
  /** The card returned to the caller, once associating succeeded. */
  cardId?: string
  /** Whether the metadata of an associated card is still to be set (a `PUT` after associating). */
  metadataPending?: boolean
  /**
   * Settles when the last attempt with this key ends: an attempt waits for the one before it,
   * so that two creates sent at once with one key (a double submit) make one card.
   */
  turn?: Promise<void>
}

/** Options of {@link createIdempotencyLog}. */
export interface IdempotencyLogOptions {
  /** Keys remembered at most; the oldest are forgotten first. Default 1000. */
  maxEntries?: number
  /** How long a key is remembered. Default 24 hours (Stripe's window). */
  ttlMs?: number
  now?: () => number
  /** The operation the keys are for, as the `idempotency_conflict` message names it. */
  operation?: string
  /** The provider the `idempotency_conflict` error names. Default `'marketplace'`. */
  name?: string
}

/** The in-process record of creates (or tokenizes) by idempotency key. @internal */
export interface IdempotencyLog {
  /**
   * The record of `key`, made empty on first use. Throws `idempotency_conflict` when the key
   * was used for other parameters (`owner` among them: null for a card no account holds).
   */
  begin(key: string, owner: Owner | null, request: unknown): CreateRecord
}

/**
 * The marketplace reference promises no idempotency, so the adapter keeps its own, in the
 * process: a create retried with the same key reuses the card it tokenized and the association
 * it made, instead of making a second card. Requests are compared by an HMAC with a key of this
 * process, so no card number is kept, not even hashed in a way that could be looked up. The HMAC
 * is of the request's JSON with the keys of every object sorted (arrays keep their order), so
 * that a retry whose metadata was rebuilt in another key order (read back from a store or a
 * queue) is the same request, not `idempotency_conflict`.
 *
 * It covers retries by the same process (the common case: a dropped connection); a create
 * retried by another process after a crash is not covered: `reconcile` and the account's card
 * list are the way back from that.
 */
export function createIdempotencyLog(options: IdempotencyLogOptions = {}): IdempotencyLog {
  const maxEntries = options.maxEntries ?? 1000
  const ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000
  const now = options.now ?? Date.now
  const operation = options.operation ?? 'createCard'
  const name = options.name ?? MARKETPLACE_PROVIDER_NAME
  const secret = randomBytes(32)
  const entries = new Map<string, { fingerprint: string; at: number; record: CreateRecord }>()

  const fingerprintOf = (owner: Owner | null, request: unknown) =>
    createHmac('sha256', secret)
      .update(canonicalJson([owner?.type ?? null, owner?.id ?? null, request]))
      .digest('base64url')

  return {
    begin(key, owner, request) {
      const fingerprint = fingerprintOf(owner, request)
      const at = now()
      for (const [stored, entry] of entries) {
        // Map order is insertion order: the first fresh entry ends the sweep.
        if (at - entry.at <= ttlMs) break
        entries.delete(stored)
      }
      const found = entries.get(key)
      if (found) {
        if (found.fingerprint !== fingerprint) {
          throw new IdempotencyConflictError(
            `${name}: this idempotency key was used for another ${operation}; use a new key for a new card`,
            { provider: name },
          )
        }
        return found.record
      }
      const record: CreateRecord = {}
      entries.set(key, { fingerprint, at, record })
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string)
      return record
    },
  }
}

/** The requests an idempotency key goes out with (see {@link idempotencyHeader}). */
export type IdempotencyStep = 'tokenize' | 'associate' | 'tokenize-card'

/**
 * The `Idempotency-Key` header of the request `step` for the caller's key `key`: the step, a
 * colon, then the key. `createCard` sends `tokenize:<key>` and `associate:<key>`,
 * `tokenizeCard` sends `tokenize-card:<key>`. No step's name followed by a colon begins
 * another's, so two different requests never share a header, whatever keys the caller picks:
 * suffixes (`order-7:tokenize`, once sent by `createCard` for `order-7`) would let `tokenizeCard`
 * with the key `order-7:tokenize` reuse the header of another card's tokenize, which a server
 * honouring the header would answer with that other card.
 */
export function idempotencyHeader(step: IdempotencyStep, key: string): string {
  return `${step}:${key}`
}

/**
 * Runs `attempt` once the attempts before it with the same record have ended, so that it reads
 * what they recorded (the token, the card) instead of racing them to make another card.
 */
export async function inTurn<T>(record: CreateRecord, attempt: () => Promise<T>): Promise<T> {
  const before = record.turn
  let done!: () => void
  record.turn = new Promise<void>((resolve) => {
    done = resolve
  })
  try {
    await before
    return await attempt()
  } finally {
    done()
  }
}

/**
 * `value` as `JSON.stringify` writes it, the keys of every object in sorted order (arrays keep
 * theirs): one text for one request, however its objects were built.
 */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) => {
    if (typeof field !== 'object' || field === null || Array.isArray(field)) return field
    const sorted: Record<string, unknown> = {}
    for (const key of Object.keys(field).sort()) {
      // defineProperty: a `__proto__` key is an own field here, as JSON.stringify reads it.
      Object.defineProperty(sorted, key, {
        value: (field as Record<string, unknown>)[key],
        enumerable: true,
      })
    }
    return sorted
  })
}
