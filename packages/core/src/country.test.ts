import { describe, expect, it } from 'vitest'
import { toCountryAlpha2, toCountryAlpha3 } from './country.js'

describe('toCountryAlpha2', () => {
  it.each([
    ['USA', 'US'],
    ['gbr', 'GB'],
    ['US', 'US'],
    ['us', 'US'],
    ['DEU', 'DE'],
    [' fra ', 'FR'],
  ])('reads %j as %j', (code, alpha2) => {
    expect(toCountryAlpha2(code)).toBe(alpha2)
  })

  // Unicode upper-casing turns these into codes (`ı` → `I`, `ſ` → `S`, `ﬁ` → `FI`).
  it.each([
    ['XX'],
    ['ZZZ'],
    ['UK'],
    ['United States'],
    ['U'],
    [''],
    ['   '],
    ['ıt'],
    ['ſe'],
    ['ﬁ'],
    ['ﬆ'],
    ['ﬁn'],
    // Three characters, two of them ASCII letters: the whole code is read, not a part of it.
    ['ſwe'],
    ['ıta'],
  ])('gives null for %j', (code) => {
    expect(toCountryAlpha2(code)).toBeNull()
  })

  it('gives null for null and undefined', () => {
    expect(toCountryAlpha2(null)).toBeNull()
    expect(toCountryAlpha2(undefined)).toBeNull()
  })
})

describe('toCountryAlpha3', () => {
  it.each([
    ['US', 'USA'],
    ['gb', 'GBR'],
    ['USA', 'USA'],
    ['deu', 'DEU'],
  ])('reads %j as %j', (code, alpha3) => {
    expect(toCountryAlpha3(code)).toBe(alpha3)
  })

  it('gives null for unknown codes and empty input', () => {
    expect(toCountryAlpha3('XX')).toBeNull()
    expect(toCountryAlpha3('ZZZ')).toBeNull()
    expect(toCountryAlpha3('')).toBeNull()
    expect(toCountryAlpha3(null)).toBeNull()
  })

  it('round-trips with toCountryAlpha2', () => {
    for (const code of ['US', 'GB', 'FR', 'JP', 'BR', 'ZA']) {
      expect(toCountryAlpha2(toCountryAlpha3(code))).toBe(code)
    }
  })
})
