import { signalForExitCode } from './exit-codes.js'

/**
 * How long a process that sent itself its stop signal may still be alive before it exits with
 * the code instead. Death by the signal comes at once where signals are real; this is only a
 * guard, which does not keep the process alive.
 */
const FALLBACK_MS = 1_000

/** The part of `process` that {@link exitProcess} uses. */
export interface ExitingProcess {
  readonly pid: number
  readonly platform: NodeJS.Platform
  exitCode?: number | string | null | undefined
  removeAllListeners(event: NodeJS.Signals): unknown
  kill(pid: number, signal: NodeJS.Signals): unknown
  exit(code: number): unknown
}

/** Starts the fallback timer; what it returns is unref'd. `setTimeout` with the guard's delay. */
export type FallbackTimer = (callback: () => void) => { unref(): unknown }

/**
 * Ends the process with `code`, once the command has closed what it opened and its output is
 * flushed. The code of a stop signal (129, 130, 143: see `exit-codes.ts`) ends it by that signal
 * instead: every listener of it is removed (the command's are already, and a process that exits
 * would not run the others either) and the process sends it to itself, so that it dies by it, as
 * a program that does not catch the signal does. A shell still reports 128 + its number in `$?`,
 * and bash stops a loop on Ctrl+C only for a child that died by SIGINT: one that exited 130
 * looks as if it chose to, and the loop goes on. `process.exitCode` is set to the code as well,
 * and if the process is still alive shortly after (the signal could not be sent), it exits with
 * the code. On Windows, where a signal sent to itself would end it with exit 1, it exits with
 * the code at once.
 *
 * @example
 * exitAfterOutput(process.stdout, process.stderr, code, (exitCode) => exitProcess(exitCode))
 */
export function exitProcess(
  code: number,
  target: ExitingProcess = process,
  startFallback: FallbackTimer = (callback) => setTimeout(callback, FALLBACK_MS),
): void {
  const signal = signalForExitCode(code)
  if (signal === undefined || target.platform === 'win32') {
    target.exit(code)
    return
  }
  target.removeAllListeners(signal)
  target.exitCode = code
  startFallback(() => target.exit(code)).unref()
  try {
    target.kill(target.pid, signal)
  } catch {
    target.exit(code)
  }
}
