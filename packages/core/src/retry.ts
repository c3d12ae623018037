import { isCardportError } from './errors.js'

/** How {@link withRetry} retries. */
export interface RetryPolicy {
  /** Retries after the first attempt. Default 2. */
  retries?: number | undefined
  /** The first backoff, doubled on each retry before jitter. Default 200 ms. */
  baseDelayMs?: number | undefined
  /** The longest wait, `Retry-After` included. Default 20 s. */
  maxDelayMs?: number | undefined
  /**
   * Whether an error may be retried. Default: a `CardportError` marked `retryable`
   * (`rate_limited`, `provider_unavailable`).
   */
  shouldRetry?: ((error: unknown, attempt: number) => boolean) | undefined
  /** Waits; replace it in tests. */
  sleep?: ((ms: number) => Promise<void>) | undefined
  /** A number in [0, 1); replace it in tests. */
  random?: (() => number) | undefined
  /** Stops the retries: no attempt starts once it aborts, and the default `sleep` ends early. */
  signal?: AbortSignal | undefined
}

/**
 * Runs `operation`, retrying it on retryable failures with exponential backoff and full
 * jitter. A `rate_limited` error's `retryAfterMs` is honoured as the least wait. Only use it
 * for operations that are safe to repeat: reads, and writes that carry an idempotency key.
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
  const retries = policy.retries ?? 2
  const base = policy.baseDelayMs ?? 200
  const max = policy.maxDelayMs ?? 20_000
  const shouldRetry =
    policy.shouldRetry ?? ((error: unknown) => isCardportError(error) && error.retryable)
  const { signal } = policy
  // The default wait ends when the signal aborts: a Retry-After may ask for 20 s.
  const sleep = policy.sleep ?? ((ms: number) => defaultSleep(ms, signal))
  const random = policy.random ?? Math.random
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted()
    try {
      return await operation(attempt)
    } catch (error) {
      if (attempt >= retries || !shouldRetry(error, attempt)) throw error
      const backoff = random() * Math.min(max, base * 2 ** attempt)
      const asked = isCardportError(error) ? (error.retryAfterMs ?? 0) : 0
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
