import { z } from 'zod'
import { isCardportError } from './errors.js'
import { untilAborted } from './until-aborted.js'
import { optionsObject, validate } from './validate.js'

/** How {@link withRetry} retries. */
export interface RetryPolicy {
  /** Retries after the first attempt. Default 2. */
  retries?: number | undefined
  /** The first backoff, doubled on each retry before jitter. Default 200 ms. */
  baseDelayMs?: number | undefined
  /**
   * The longest wait, `Retry-After` included: an error whose `retryAfterMs` asks for longer is
   * retried after this, so that no server's answer makes a call wait without bound. Default 20 s.
   */
  maxDelayMs?: number | undefined
  /**
   * Whether an error may be retried. Default: a `CardportError` marked `retryable`
   * (`rate_limited`, `provider_unavailable`).
   */
  shouldRetry?: ((error: unknown, attempt: number) => boolean) | undefined
  /**
   * Waits `ms` before a retry; replace it in tests. Given a `signal`, it is called with it as
   * its second argument, to clear its timer when the signal aborts (without one, with `ms`
   * alone); a wait it goes on with past the abort is not waited for: `withRetry` rejects with
   * the signal's reason at once.
   */
  sleep?: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined
  /** A number in [0, 1); replace it in tests. */
  random?: (() => number) | undefined
  /**
   * Stops the retries: no attempt starts once it aborts, and the wait before a retry (the
   * default `sleep`'s or a custom one's) ends at once, `withRetry` rejecting with its reason.
   */
  signal?: AbortSignal | undefined
}

const isFunction = (value: unknown) => typeof value === 'function'

/**
 * The longest wait a timer holds: 2^31 - 1 ms, 24.8 days. Node runs a longer `setTimeout` after
 * 1 ms, so a longer delay would be no wait at all.
 */
const MAX_TIMER_MS = 2_147_483_647

/**
 * What a {@link RetryPolicy} may hold: a whole number of retries from 0 to 100, delays from 0 to
 * 2^31 - 1 ms (24.8 days, the longest a timer waits: Node runs a longer one after 1 ms),
 * functions, an `AbortSignal`. `undefined` stands for the default. A `NaN` would retry without
 * end (`attempt >= NaN` is never true) or not wait at all. No other key: a misspelt one
 * (`retrys`) is refused, not dropped.
 */
export const RetryPolicySchema = optionsObject({
  /** A whole number from 0 to 100, {@link RetryPolicy.retries}. */
  retries: z.number().int().min(0).max(100).optional(),
  /** Milliseconds, from 0 to 2^31 - 1, {@link RetryPolicy.baseDelayMs}. */
  baseDelayMs: z.number().min(0).max(MAX_TIMER_MS).optional(),
  /** Milliseconds, from 0 to 2^31 - 1, {@link RetryPolicy.maxDelayMs}. */
  maxDelayMs: z.number().min(0).max(MAX_TIMER_MS).optional(),
  /** A function, {@link RetryPolicy.shouldRetry}. */
  shouldRetry: z.custom<NonNullable<RetryPolicy['shouldRetry']>>(isFunction).optional(),
  /** A function, {@link RetryPolicy.sleep}. */
  sleep: z.custom<NonNullable<RetryPolicy['sleep']>>(isFunction).optional(),
  /** A function, {@link RetryPolicy.random}. */
  random: z.custom<NonNullable<RetryPolicy['random']>>(isFunction).optional(),
  /** An `AbortSignal`, {@link RetryPolicy.signal}. */
  signal: z.custom<AbortSignal>((value) => value instanceof AbortSignal).optional(),
})

// A policy is usually one object reused for every call (an adapter's, a CardSync's): checked once,
// and again when it holds other values than those checked (a `retries` set to `NaN` since).
const checkedPolicies = new WeakMap<RetryPolicy, Readonly<Record<string, unknown>>>()

/**
 * Runs `operation`, retrying it on retryable failures with exponential backoff and full
 * jitter. An error's `retryAfterMs` (a `rate_limited` one's, or a 503's) is honoured as the least
 * wait, up to `maxDelayMs`. Only use it
 * for operations that are safe to repeat: reads, and writes that carry an idempotency key.
 * A policy outside {@link RetryPolicySchema} (a `NaN` or fractional `retries`, a negative
 * delay, a `sleep` that is no function) rejects with `invalid_request` before any attempt, a
 * policy object changed since an earlier call (its `retries` set to `NaN`) included.
 *
 * @example
 * ```ts
 * const page = await withRetry(() => provider.listCards(owner, { limit: 100 }), { retries: 3 })
 * ```
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy = {},
): Promise<T> {
  const checked = checkedPolicies.get(policy)
  if (checked === undefined || !sameEntries(checked, policy)) {
    validate(RetryPolicySchema, policy, 'retry policy')
    checkedPolicies.set(policy, { ...policy })
  }
  const retries = policy.retries ?? 2
  const base = policy.baseDelayMs ?? 200
  const max = policy.maxDelayMs ?? 20_000
  const shouldRetry =
    policy.shouldRetry ?? ((error: unknown) => isCardportError(error) && error.retryable)
  const { signal } = policy
  // The wait ends when the signal aborts, a custom sleep's too (a Retry-After may ask for 20 s):
  // the custom sleep is handed the signal to clear its timer, and is not waited for past it.
  // Without a signal it is called with `ms` alone, as before signals were handed to it.
  const custom = policy.sleep
  const sleep = custom
    ? (ms: number) => (signal ? untilAborted(custom(ms, signal), signal) : custom(ms))
    : (ms: number) => defaultSleep(ms, signal)
  const random = policy.random ?? Math.random
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted()
    try {
      return await operation(attempt)
    } catch (error) {
      if (attempt >= retries || !shouldRetry(error, attempt)) throw error
      const backoff = random() * Math.min(max, base * 2 ** attempt)
      // A `retryAfterMs` that is no wait (`NaN`, negative: a hand-written adapter's misread
      // header) asks for none: the backoff stands. `Math.max` with a `NaN` would wait 1 ms.
      const after = isCardportError(error) ? error.retryAfterMs : undefined
      const asked = typeof after === 'number' && after > 0 ? after : 0
      await sleep(Math.min(max, Math.max(backoff, asked)))
    }
  }
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts (the timer cleared). */
function defaultSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** Whether `policy` holds the same own keys and values as `checked`, its copy when checked. */
function sameEntries(checked: Readonly<Record<string, unknown>>, policy: RetryPolicy): boolean {
  const keys = Object.keys(policy)
  if (keys.length !== Object.keys(checked).length) return false
  const values = policy as Record<string, unknown>
  return keys.every((key) => Object.hasOwn(checked, key) && Object.is(checked[key], values[key]))
}
