import { runInNewContext } from 'node:vm'
import { describe, expect, it } from 'vitest'
import { kindOf } from './kind-of.js'

describe('kindOf', () => {
  it.each([
    [null, 'null'],
    [undefined, 'undefined'],
    [4242424242424242, 'a number'],
    [Number.NaN, 'a number'],
    ['4242424242424242', 'a string'],
    ['', 'a string'],
    [false, 'a boolean'],
    [10n, 'a bigint'],
    [Symbol('sk_live_pasted'), 'a symbol'],
    [['card_4242424242424242'], 'an array'],
    [[], 'an array'],
    [{ id: 'card_4242424242424242' }, 'an object'],
    [Object.create(null), 'an object'],
    [new Map(), 'an object'],
    [new Date(0), 'a Date'],
    [new Date(Number.NaN), 'an Invalid Date'],
    [() => 4242, 'a function'],
    [class Card {}, 'a function'],
  ])('names %o as %s, never quoting it', (value, kind) => {
    expect(kindOf(value)).toBe(kind)
  })

  it('names a Date and an array of another realm (a vm context) as one of this realm', () => {
    expect(kindOf(runInNewContext('new Date(0)'))).toBe('a Date')
    expect(kindOf(runInNewContext('new Date(NaN)'))).toBe('an Invalid Date')
    expect(kindOf(runInNewContext('["card_1"]'))).toBe('an array')
    expect(kindOf(runInNewContext('({ id: "card_1" })'))).toBe('an object')
  })

  it('reads the time of a Date through Date.prototype, not through the Date', () => {
    const date = new Date(Number.NaN)
    Object.defineProperty(date, 'getTime', { value: () => 0 })
    expect(kindOf(date)).toBe('an Invalid Date')
    const valid = new Date(0)
    Object.defineProperty(valid, 'getTime', {
      get() {
        throw new Error('4242424242424242')
      },
    })
    expect(kindOf(valid)).toBe('a Date')
  })

  it('names a Proxy by its target, and a revoked one without throwing', () => {
    expect(kindOf(new Proxy([], {}))).toBe('an array')
    expect(kindOf(new Proxy({}, {}))).toBe('an object')
    const { proxy: array, revoke: revokeArray } = Proxy.revocable([], {})
    revokeArray()
    expect(kindOf(array)).toBe('an object')
    const { proxy: fn, revoke: revokeFn } = Proxy.revocable(() => 1, {})
    revokeFn()
    expect(kindOf(fn)).toBe('a function')
  })
})
