import { describe, expect, it } from 'vitest'
import { createOwnerDedupe } from './owner-dedupe.js'

describe('createOwnerDedupe', () => {
  it('takes each key once while it is pending, and while it is among the last done remembered', () => {
    const dedupe = createOwnerDedupe(2)
    expect(dedupe.take('a')).toBe(true)
    expect(dedupe.take('a')).toBe(false)
    dedupe.done('a')
    expect(dedupe.take('a')).toBe(false)
    for (const key of ['b', 'c']) {
      expect(dedupe.take(key)).toBe(true)
      dedupe.done(key)
    }
    // Two owners done since: a is forgotten, and taken again.
    expect(dedupe.take('a')).toBe(true)
  })

  it('remembers a key given again as the latest: a repeat keeps it from being forgotten', () => {
    const dedupe = createOwnerDedupe(2)
    for (const key of ['a', 'b']) {
      dedupe.take(key)
      dedupe.done(key)
    }
    expect(dedupe.take('a')).toBe(false)
    dedupe.take('c')
    dedupe.done('c')
    // b, the least recently given, went; a stayed.
    expect(dedupe.take('a')).toBe(false)
    expect(dedupe.take('b')).toBe(true)
  })

  it('never forgets a key that is not done, however many are done meanwhile', () => {
    const dedupe = createOwnerDedupe(1)
    dedupe.take('slow')
    for (let index = 0; index < 5; index++) {
      dedupe.take(`fast_${index}`)
      dedupe.done(`fast_${index}`)
    }
    expect(dedupe.take('slow')).toBe(false)
  })

  it('forgets nothing with Infinity, and ignores done for a key it did not take', () => {
    const dedupe = createOwnerDedupe(Number.POSITIVE_INFINITY)
    dedupe.done('never-taken')
    expect(dedupe.take('never-taken')).toBe(true)
    for (let index = 0; index < 1000; index++) {
      dedupe.take(`cus_${index}`)
      dedupe.done(`cus_${index}`)
    }
    expect(dedupe.take('cus_0')).toBe(false)
  })
})
