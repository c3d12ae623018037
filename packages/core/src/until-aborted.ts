import { setMaxListeners } from 'node:events'

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

/** A signal of one run, that follows the caller's; see {@link followSignal}. */
export interface FollowedSignal {
  /** Aborts with the caller's reason when the caller's signal aborts. */
  readonly signal: AbortSignal
  /** Stops following the caller's signal: call it when the run ends. */
  release(): void
}

/**
 * A signal for one run's many waits, that aborts with `signal`'s reason. The run's waits (a page
 * per owner read, the next owner, the sleeps before retries: hundreds at once) listen to it, and
 * the caller's signal gets one listener, removed by `release()`: Node warns past 10 listeners
 * on one signal (`MaxListenersExceededWarning`, on stderr), and a listener left behind by each
 * run would add up on a signal that lives long.
 *
 * @internal
 */
export function followSignal(signal: AbortSignal): FollowedSignal {
  const controller = new AbortController()
  // Ours, and listened to by every wait of the run: no count of listeners means a leak here.
  setMaxListeners(0, controller.signal)
  const onAbort = () => controller.abort(signal.reason)
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, { once: true })
  return {
    signal: controller.signal,
    release: () => signal.removeEventListener('abort', onAbort),
  }
}
