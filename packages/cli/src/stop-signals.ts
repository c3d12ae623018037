import { CliError, exitCodeForSignal, STOP_SIGNALS } from './exit-codes.js'

/** What {@link listenForStopSignals} returns. */
export interface StopSignals {
  /**
   * Aborted by the first SIGHUP, SIGINT or SIGTERM, with a `CliError` that carries the signal's
   * exit code (129, 130, 143) and says `interrupted (SIGINT)`: a command stops its work, closes
   * what it opened and throws that reason. The executable then dies by that signal (see
   * `exit-process.ts`).
   */
  readonly signal: AbortSignal
  /** Stops listening: call it once the command has ended. */
  dispose(): void
}

/**
 * Listens for SIGHUP, SIGINT and SIGTERM while a command runs. The first one aborts the signal
 * and stops the listening, so that a second one ends the process at once, as Node does by
 * default: a close that hangs cannot keep a user's Ctrl+C from ending it. SIGHUP (a closed
 * terminal, a dropped ssh session) would otherwise kill the process before its store is closed.
 */
export function listenForStopSignals(): StopSignals {
  const controller = new AbortController()
  // One listener per signal, which knows its name: `process.emit('SIGINT')` passes none.
  const listeners = STOP_SIGNALS.map((name) => {
    const listener = () => {
      dispose()
      controller.abort(new CliError(exitCodeForSignal(name), `interrupted (${name})`))
    }
    return [name, listener] as const
  })
  const dispose = () => {
    for (const [name, listener] of listeners) process.off(name, listener)
  }
  for (const [name, listener] of listeners) process.on(name, listener)
  return { signal: controller.signal, dispose }
}

/** Resolves once `signal` aborts (at once when it has). */
export function stopped(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
