/**
 * Waits for `work`, or rejects with the signal's reason as soon as the signal aborts, whichever
 * comes first. What `work` does is not stopped: it runs to its end unobserved (a request to a
 * provider that gives no way to cancel it, a read of the caller's owners), its answer dropped
 * and its failure caught, so that an abort never waits for a request's timeout. Use it only for
 * work whose answer may be dropped: reads.
 *
 * @internal
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work
  // A `work` that is no promise (a hand-written provider's) is awaited as `await` would.
  const pending = Promise.resolve(work)
  if (signal.aborted) {
    pending.catch(() => {})
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    // The listener goes once the work settles: a signal that lives long (a job's) gathers none.
    pending.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}
