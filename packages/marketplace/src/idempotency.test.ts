import { isCardportError, type Owner } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import { createIdempotencyLog } from './idempotency.js'

const MINUTE_MS = 60_000
const DAY_MS = 24 * 60 * MINUTE_MS
const owner: Owner = { type: 'account', id: 'AC1' }

/** A log with the default window, on a clock the test sets. */
function logAt(start: number) {
  const clock = { now: start }
  const log = createIdempotencyLog({ now: () => clock.now })
  return { log, clock }
}

describe('createIdempotencyLog', () => {
  it('remembers a key for 24 hours: the same record at 23 h 59 min, and exactly at 24 h', () => {
    const { log, clock } = logAt(1_000_000)
    const record = log.begin('key-1', owner, { source: 'CC1' })
    record.cardId = 'CC1'
    clock.now += DAY_MS - MINUTE_MS
    expect(log.begin('key-1', owner, { source: 'CC1' })).toBe(record)
    clock.now += MINUTE_MS
    expect(log.begin('key-1', owner, { source: 'CC1' })).toBe(record)
  })

  it('forgets a key past 24 hours: a fresh record, and the key free for other parameters', () => {
    const { log, clock } = logAt(1_000_000)
    const record = log.begin('key-1', owner, { source: 'CC1' })
    record.cardId = 'CC1'
    clock.now += DAY_MS + 1
    const fresh = log.begin('key-1', owner, { source: 'CC1' })
    expect(fresh).not.toBe(record)
    expect(fresh).toEqual({})

    // Within the window the key stays bound to its parameters; past it, it is anyone's.
    clock.now += DAY_MS - MINUTE_MS
    let conflict: unknown
    try {
      log.begin('key-1', owner, { source: 'CC2' })
    } catch (error) {
      conflict = error
    }
    expect(isCardportError(conflict, 'idempotency_conflict')).toBe(true)
    clock.now += 2 * MINUTE_MS
    expect(log.begin('key-1', owner, { source: 'CC2' })).toEqual({})
  })
})
