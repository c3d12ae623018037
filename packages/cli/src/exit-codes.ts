import { type CardportErrorCode, isCardportError } from '@cardport/core'

/**
 * The exit codes of `cardport`, the same for every command, so that scripts can branch on them.
 *
 * | code | name          | meaning                                                                   |
 * | ---- | ------------- | ------------------------------------------------------------------------- |
 * | 0    | `ok`          | the command did what it was asked                                         |
 * | 1    | `failure`     | it failed for another reason (an unknown owner, a store error, owners that could not be reconciled) |
 * | 2    | `usage`       | the command line is wrong: an unknown flag or command, a malformed value  |
 * | 3    | `config`      | configuration is missing or refused: no credentials, no store, a rejected key |
 * | 4    | `unreachable` | the provider could not be reached, kept failing or kept rate limiting     |
 * | 5    | `drift`       | only with `reconcile --exit-code`: drift was found                        |
 * | 129  | `hangup`      | stopped by SIGHUP (its terminal closed, an ssh session dropped)           |
 * | 130  | `interrupted` | stopped by Ctrl+C (SIGINT) before it finished                             |
 * | 143  | `terminated`  | stopped by SIGTERM (`kill`, systemd, Docker, CI) before it finished       |
 *
 * A signal's code is 128 + the signal's number, the status a shell reports for a process the
 * signal killed: `cardport` catches SIGHUP, SIGINT and SIGTERM, closes what it opened (a store
 * is left whole and closed), and then dies by that same signal, which it sends itself (see
 * `exit-process.ts`), whichever command was running and wherever it was (before its store was
 * opened included). A shell shows that code in `$?`, and, killed by SIGINT rather than exiting
 * 130, cardport stops a shell loop over it on Ctrl+C as any program does; a parent process
 * sees the signal (Node's `child.signalCode`), not the code. `emulate` alone exits 0 on each:
 * serving until stopped is its job. A second signal, while cardport closes, ends it at once, as
 * Node does by default.
 *
 * Drift has its own code only on request (`--exit-code`, as `git diff --exit-code` does) so that
 * a script that runs `reconcile --dry-run` for its report is not stopped by `set -e`.
 */
export const EXIT_CODES = Object.freeze({
  ok: 0,
  failure: 1,
  usage: 2,
  config: 3,
  unreachable: 4,
  drift: 5,
  hangup: 129,
  interrupted: 130,
  terminated: 143,
} as const)

/** One of {@link EXIT_CODES}' values. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES]

/**
 * An error the CLI raises itself (a bad flag value, a missing variable), carrying the exit code
 * to end with. Its message is printed as it is, on one line.
 */
export class CliError extends Error {
  override readonly name = 'CliError'
  readonly exitCode: ExitCode

  constructor(exitCode: ExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.exitCode = exitCode
  }
}

/** A usage error (exit 2): the command line itself is wrong. */
export function usageError(message: string): CliError {
  return new CliError(EXIT_CODES.usage, message)
}

/** A configuration error (exit 3): something that must be configured is missing or wrong. */
export function configError(message: string): CliError {
  return new CliError(EXIT_CODES.config, message)
}

/** The exit code for an error of a given cardport code. */
export function exitCodeForCardportCode(code: string): ExitCode {
  switch (code as CardportErrorCode) {
    case 'authentication':
    case 'permission':
      return EXIT_CODES.config
    case 'provider_unavailable':
    // Still rate limited after the retries waited it out: as with a provider that keeps
    // failing, the thing to do is to try again later.
    case 'rate_limited':
      return EXIT_CODES.unreachable
    default:
      return EXIT_CODES.failure
  }
}

/**
 * The signals that stop a command: Ctrl+C (SIGINT), what `kill`, systemd or Docker send
 * (SIGTERM), and what a closed terminal or a dropped ssh session sends (SIGHUP).
 */
export type StopSignal = 'SIGHUP' | 'SIGINT' | 'SIGTERM'

/** Each stop signal's exit code: 128 + its number. */
const SIGNAL_EXIT_CODES = Object.freeze({
  SIGHUP: EXIT_CODES.hangup,
  SIGINT: EXIT_CODES.interrupted,
  SIGTERM: EXIT_CODES.terminated,
} as const satisfies Record<StopSignal, ExitCode>)

/** The stop signals, in the order of their numbers. */
export const STOP_SIGNALS = Object.freeze(Object.keys(SIGNAL_EXIT_CODES) as StopSignal[])

/** The exit code of a command stopped by `signal`: 128 + its number (129, 130, 143). */
export function exitCodeForSignal(signal: StopSignal): ExitCode {
  return SIGNAL_EXIT_CODES[signal]
}

/**
 * The stop signal whose exit code `code` is (`SIGINT` for 130), or `undefined` for any other
 * code: the signal a command stopped by it ends the process with.
 */
export function signalForExitCode(code: number): StopSignal | undefined {
  return STOP_SIGNALS.find((signal) => SIGNAL_EXIT_CODES[signal] === code)
}

/** The exit code to end with after `error`. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode
  if (isCardportError(error)) return exitCodeForCardportCode(error.code)
  return EXIT_CODES.failure
}
