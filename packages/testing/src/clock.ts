import { types } from 'node:util'
import { kindOf } from '@cardport/core'

/**
 * The clock an emulator runs on: `now`, its `now` option, checked, or the system clock when it
 * has none. `now` is read once here, so that a clock that returns no valid Date (`Date.now`'s
 * milliseconds, the clock `stripeWebhookHandler` takes, or an Invalid Date) throws at the
 * emulator's creation, in the test that made it; and every later read is checked too, for a
 * clock that goes wrong later. The error is a `TypeError` naming the emulator and what it got
 * (its kind, never the value). @internal
 */
export function emulatorClock(now: (() => Date) | undefined, emulator: string): () => Date {
  if (now === undefined) return () => new Date()
  const checked = () => {
    const date: unknown = now()
    // A Date of another realm (a vm context) is one too: `instanceof` refused it, and the error
    // would say it returned `a Date`.
    if (types.isDate(date) && !Number.isNaN(date.getTime())) return date
    throw clockError(emulator, date)
  }
  checked()
  return checked
}

/** What an emulator's `now` throws when it returns no valid Date. */
function clockError(emulator: string, got: unknown): TypeError {
  return new TypeError(
    `${emulator}: now must return a valid Date, and it returned ${kindOf(got)}` +
      (typeof got === 'number'
        ? " (a clock of milliseconds, as stripeWebhookHandler's now is, goes as () => new Date(ms()))"
        : ''),
  )
}
