import { setMaxListeners } from 'node:events'

/**
 * Waits for `work`, or rejects with the signal's reason as soon as the signal aborts, whichever
 * comes first. What `work` does is not stopped: it runs to its end unobserved (a request to a
 * provider that gives no way to cancel it, a read of the caller's owners), its failure caught,
 * so that an abort never waits for a request's timeout. Its answer, when it comes after the
 * abort, is dropped, or given to `dropped` when the answer holds something to let go of (a store
 * that opened: `dropped` closes it). Without `dropped`, use it only for work whose answer may be
 * dropped: reads.
 *
 * @param work - What to wait for.
 * @param signal - Stops the wait; without one, `work` itself is returned.
 * @param dropped - Called with `work`'s answer when it comes after the signal aborted (once the
 *   wait has rejected); what it throws is ignored.
 *
 * @example
 * ```ts
 * // Should the store open after the abort, its connections must not keep the process alive.
 * const store = await untilAborted(openMyStore(), signal, (late) => late.close())
 * ```
 */
export function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  dropped?: (value: T) => void,
): Promise<T> {
  if (signal === undefined) return work
  // A `work` that is no promise (a hand-written provider's) is awaited as `await` would.
  const pending = Promise.resolve(work)
  const drop = () => {
    if (dropped) pending.then(dropped).catch(() => {})
    else pending.catch(() => {})
  }
  if (signal.aborted) {
    drop()
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason)
      drop()
    }
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
  /** Aborts with the caller's reason when one of the caller's signals aborts. */
  readonly signal: AbortSignal
  /** Stops following the caller's signals: call it when the run ends. */
  release(): void
}

/**
 * A signal for one run's many waits, that aborts with the reason of the first of `signals` to
 * abort (an aborted one at once). The run's waits (a page per owner read, the next owner, the
 * sleeps before retries: hundreds at once) listen to it, and each of the caller's signals gets
 * one listener, removed by `release()`: Node warns past 10 listeners on one signal
 * (`MaxListenersExceededWarning`, on stderr), and a listener left behind by each run would add up
 * on a signal that lives long (a sync's own `retry.signal`).
 *
 * @internal
 */
export function followSignal(...signals: AbortSignal[]): FollowedSignal {
  const controller = new AbortController()
  // Ours, and listened to by every wait of the run: no count of listeners means a leak here.
  setMaxListeners(0, controller.signal)
  const followed: Array<[AbortSignal, () => void]> = []
  const release = () => {
    for (const [signal, onAbort] of followed) signal.removeEventListener('abort', onAbort)
    followed.length = 0
  }
  for (const signal of signals) {
    if (signal.aborted) {
      controller.abort(signal.reason)
      break
    }
    const onAbort = () => {
      controller.abort(signal.reason)
      // The run is stopped: the other signals need not be listened to any more.
      release()
    }
    signal.addEventListener('abort', onAbort, { once: true })
    followed.push([signal, onAbort])
  }
  if (controller.signal.aborted) release()
  return { signal: controller.signal, release }
}
