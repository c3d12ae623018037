import { iso31661 } from 'iso-3166'

let alpha3ToAlpha2: Map<string, string> | undefined
let alpha2Codes: Set<string> | undefined

/** A code as written: two or three ASCII letters. */
const ASCII_CODE = /^[A-Za-z]{2,3}$/

/**
 * Normalizes a country code to ISO 3166-1 alpha-2 (`'US'`). Accepts alpha-2 and alpha-3
 * (`'USA'`, as the marketplace sends), in any case. Returns `null` for anything that is not an
 * assigned ISO 3166-1 code, so a typo never reaches a stored card.
 *
 * The table comes from the maintained `iso-3166` package, built once on first use.
 *
 * @example
 * ```ts
 * toCountryAlpha2('USA') // 'US'
 * toCountryAlpha2('gb')  // 'GB'
 * toCountryAlpha2('XX')  // null
 * ```
 */
export function toCountryAlpha2(code: string | null | undefined): string | null {
  if (!code) return null
  if (!alpha3ToAlpha2 || !alpha2Codes) {
    alpha3ToAlpha2 = new Map(iso31661.map((country) => [country.alpha3, country.alpha2]))
    alpha2Codes = new Set(iso31661.map((country) => country.alpha2))
  }
  // Most codes come as they should: no new strings for those.
  if (alpha2Codes.has(code)) return code
  const trimmed = code.trim()
  // ASCII letters only: Unicode upper-casing makes `ıt` `IT` and `ﬁ` `FI`.
  if (!ASCII_CODE.test(trimmed)) return null
  const upper = trimmed.toUpperCase()
  if (upper.length === 2) return alpha2Codes.has(upper) ? upper : null
  return alpha3ToAlpha2.get(upper) ?? null
}

/**
 * The ISO 3166-1 alpha-3 code for an alpha-2 (or alpha-3) code, or `null` when unknown. The
 * marketplace API wants alpha-3.
 */
export function toCountryAlpha3(code: string | null | undefined): string | null {
  const alpha2 = toCountryAlpha2(code)
  if (!alpha2) return null
  return iso31661.find((country) => country.alpha2 === alpha2)?.alpha3 ?? null
}
