import { isCardportError, type Owner } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import { createIdempotencyLog, idempotencyHeader } from './idempotency.js'

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

  it('forgets its oldest key past maxEntries: the key free for other parameters', () => {
    const log = createIdempotencyLog({ maxEntries: 2 })
    const first = log.begin('a', null, { source: 'CC1' })
    log.begin('b', null, { source: 'CC1' })
    log.begin('c', null, { source: 'CC1' })
    // Not idempotency_conflict: the log holds b and c only.
    const fresh = log.begin('a', null, { source: 'CC2' })
    expect(fresh).not.toBe(first)
    expect(fresh).toEqual({})
  })
})

describe('createIdempotencyLog compares requests as values', () => {
  /** Whether `begin` refuses `again` after `first`, under one key. */
  function conflicts(first: unknown, again: unknown): boolean {
    const log = createIdempotencyLog()
    log.begin('key-1', owner, first)
    try {
      log.begin('key-1', owner, again)
    } catch (error) {
      if (isCardportError(error, 'idempotency_conflict')) return true
      throw error
    }
    return false
  }

  it('the same request with its objects in another key order, at every level, is the same request', () => {
    const details = { number: '4111111111111111', expMonth: 4, expYear: 2030 }
    expect(
      conflicts(
        { source: details, metadata: { order: '7', plan: 'pro' } },
        {
          metadata: { plan: 'pro', order: '7' },
          source: { expYear: 2030, expMonth: 4, number: '4111111111111111' },
        },
      ),
    ).toBe(false)
    expect(
      conflicts(
        { source: { address: { line1: 'a', city: 'b' } }, metadata: { '2': 'x', b: 'y', a: 'z' } },
        { source: { address: { city: 'b', line1: 'a' } }, metadata: { a: 'z', b: 'y', '2': 'x' } },
      ),
    ).toBe(false)
  })

  it('other values, other keys or an array in another order are another request', () => {
    expect(conflicts({ metadata: { a: '1', b: '2' } }, { metadata: { a: '2', b: '1' } })).toBe(true)
    expect(conflicts({ metadata: { a: '1' } }, { metadata: { a: '1', b: '' } })).toBe(true)
    expect(conflicts({ metadata: { a: '1' } }, { metadata: { b: '1' } })).toBe(true)
    expect(conflicts({ list: ['a', 'b'] }, { list: ['b', 'a'] })).toBe(true)
    expect(conflicts({ nested: { a: { b: 1 } } }, { nested: { a: { b: '1' } } })).toBe(true)
  })
})

describe('idempotencyHeader', () => {
  it('puts the step first, so that no two steps share a header whatever the keys', () => {
    expect(idempotencyHeader('tokenize', 'order-7')).toBe('tokenize:order-7')
    expect(idempotencyHeader('associate', 'order-7')).toBe('associate:order-7')
    expect(idempotencyHeader('tokenize-card', 'order-7')).toBe('tokenize-card:order-7')
    const keys = [
      'order-7',
      'order-7:tokenize',
      'order-7:associate',
      'card:order-7',
      'tokenize:x',
      '-card:x',
      'x',
    ]
    const headers = new Set<string>()
    for (const step of ['tokenize', 'associate', 'tokenize-card'] as const) {
      for (const key of keys) headers.add(idempotencyHeader(step, key))
    }
    expect(headers.size).toBe(3 * keys.length)
  })
})
