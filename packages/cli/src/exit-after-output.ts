import { EXIT_CODES, signalForExitCode } from './exit-codes.js'

/** The part of `process.stdout` that {@link exitAfterOutput} uses. */
export interface FlushableStream {
  /** Writes `text`; `callback` runs once it is taken, with the error when the write failed. */
  write(text: string, callback: (error?: Error | null) => void): unknown
}

/**
 * Exits with `code` once everything written to `stdout` has been taken, or failed. A write that
 * failed (a full disk: `cardport list --json > cards.json`) leaves the output incomplete, so the
 * command failed (exit 1, one line on stderr) whatever it returned; a pipe closed early
 * (`cardport list | head`) is what the reader asked for (exit 0). A command stopped by a signal
 * keeps its code (129, 130, 143) whatever the write did: its output was never complete, it has
 * said it was interrupted, and a closed terminal (SIGHUP) fails every write (EIO), so exit 1
 * would lose the signal the process must die by.
 */
export function exitAfterOutput(
  stdout: FlushableStream,
  stderr: { write(text: string): unknown },
  code: number,
  exit: (code: number) => void,
): void {
  stdout.write('', (error) => {
    if (!error || (error as NodeJS.ErrnoException).code === 'EPIPE') return exit(code)
    if (signalForExitCode(code) !== undefined) return exit(code)
    const reason = (error as NodeJS.ErrnoException).code ?? error.message
    stderr.write(`cardport: could not write the output (${reason}): it is incomplete\n`)
    exit(EXIT_CODES.failure)
  })
}
