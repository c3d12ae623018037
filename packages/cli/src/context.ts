import type { ProgressStream } from './progress.js'

/** A stream the CLI writes to. */
export interface OutputStream {
  /**
   * Writes text as it is (no newline added). `callback`, where the stream takes one (as
   * `process.stdout` does), runs once the text is taken, with the error when the write failed.
   */
  write(text: string, callback?: (error?: Error | null) => void): unknown
}

/**
 * What every command runs with: where to write, the environment, and the secrets it has read
 * (so that the error handler can scrub them from anything it prints, whatever their shape).
 */
export interface CliContext {
  /** Results only (tables, `--json`), so that they can be piped. */
  readonly stdout: OutputStream
  /** Errors, notes and the progress bar. */
  readonly stderr: ProgressStream
  /** The environment the configuration is read from (`process.env`, or a test's). */
  readonly env: NodeJS.ProcessEnv
  /** Secret values read from the configuration; never printed. */
  readonly secrets: Set<string>
  /** Set by a command that succeeds with a code other than 0 (`reconcile --exit-code`). */
  exitCode: number | undefined
  /**
   * Set by a command that goes on once its output is written (`emulate`, which serves until a
   * signal): a reader that closes stdout (`cardport emulate | head -1`, EPIPE) does not end it.
   * Unset, such a closed pipe ends the process at once with exit 0 (`cardport list | head`).
   */
  outlivesItsReader?: boolean
}

/** Writes a line to a stream. */
export function writeLine(stream: OutputStream, text = ''): void {
  stream.write(`${text}\n`)
}
