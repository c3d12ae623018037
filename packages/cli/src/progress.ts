/** The stream a progress bar draws on: `process.stderr`, or a stand-in in tests. */
export interface ProgressStream {
  /** Whether the stream is a terminal: the bar is drawn only then. */
  readonly isTTY?: boolean | undefined
  /** The terminal's width in characters (default 80): the bar's line is cut to fit. */
  readonly columns?: number | undefined
  /** Writes text as it is (no newline added). */
  write(text: string): unknown
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** What is being counted, plural: `'owners'`. */
  unit: string
  /** What is happening: `'reconciling'`. */
  label: string
  /** How many there are, when known in advance; without it the bar shows a count only. */
  total?: number | null | undefined
  /** Default `process.stderr`. */
  stream?: ProgressStream
  /** The clock used to draw at most every `intervalMs`. Default `Date.now`. */
  now?: () => number
  /** Default 80 ms. */
  intervalMs?: number
}

/** A progress bar: `update` as work is done, `stop` before printing anything else. */
export interface Progress {
  /** Records that `done` units are finished; redraws at most every `intervalMs`, and at the end. */
  update(done: number): void
  /** Erases the bar, leaving the line free. */
  stop(): void
}

const NO_PROGRESS: Progress = Object.freeze({ update() {}, stop() {} })

/**
 * A one-line progress bar on stderr, drawn only when stderr is a terminal: piped or redirected
 * output (a CI log, `2> log.txt`) gets no carriage returns and no escape codes, and stdout is
 * never touched, so `--json` output stays clean.
 *
 * @example
 * ```ts
 * const progress = createProgress({ label: 'reconciling', unit: 'owners', total: 10 })
 * progress.update(3) // reconciling [######--------------] 3/10 owners
 * progress.stop()
 * ```
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr
  if (!stream.isTTY) return NO_PROGRESS
  const now = options.now ?? Date.now
  const intervalMs = options.intervalMs ?? 80
  const total = options.total ?? null
  let drawnAt = Number.NEGATIVE_INFINITY
  let drawn = false

  const draw = (done: number) => {
    const columns = Math.max(20, stream.columns ?? 80)
    const count = total === null ? `${done} ${options.unit}` : `${done}/${total} ${options.unit}`
    let line = `${options.label} ${count}`
    if (total !== null && total > 0) {
      const barWidth = Math.min(30, columns - line.length - 4)
      if (barWidth >= 5) {
        const filled = Math.round((Math.min(done, total) / total) * barWidth)
        line = `${options.label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${count}`
      }
    }
    // \r returns to the start of the line, ESC[2K clears it.
    stream.write(`\r\u001b[2K${line.slice(0, columns - 1)}`)
    drawn = true
  }

  return {
    update(done) {
      const time = now()
      if (time - drawnAt < intervalMs && done !== total) return
      drawnAt = time
      draw(done)
    },
    stop() {
      if (drawn) stream.write('\r\u001b[2K')
      drawn = false
    },
  }
}
