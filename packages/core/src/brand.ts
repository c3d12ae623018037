/** The card brands cardport knows; anything else is `'unknown'`. */
export const CARD_BRANDS = [
  'visa',
  'mastercard',
  'amex',
  'discover',
  'jcb',
  'diners',
  'unionpay',
  'unknown',
] as const

/** One of {@link CARD_BRANDS}. */
export type CardBrand = (typeof CARD_BRANDS)[number]

/**
 * Every spelling of a brand the providers use, reduced to lower-case letters only, mapped to
 * the normalized brand. Stripe says "American Express", "MasterCard", "Diners Club"; the
 * marketplace says "American Express" in `brand` and "amex" or "master" in the deprecated
 * `card_type`. A `Map`, not an object: a name such as "constructor" must not find
 * `Object.prototype`'s members.
 */
const BRAND_SPELLINGS: ReadonlyMap<string, CardBrand> = new Map([
  ['visa', 'visa'],
  ['mastercard', 'mastercard'],
  ['master', 'mastercard'],
  ['mc', 'mastercard'],
  ['americanexpress', 'amex'],
  ['amex', 'amex'],
  ['discover', 'discover'],
  ['jcb', 'jcb'],
  ['dinersclub', 'diners'],
  ['diners', 'diners'],
  ['unionpay', 'unionpay'],
  ['chinaunionpay', 'unionpay'],
  ['cup', 'unionpay'],
])

/**
 * The names as providers send them, mapped without lower-casing and stripping them first (a
 * tenth of a Stripe `parseCard` went there): Stripe's `brand` values and the marketplace's.
 */
const EXACT_NAMES: ReadonlyMap<string, CardBrand> = new Map([
  ['Visa', 'visa'],
  ['MasterCard', 'mastercard'],
  ['American Express', 'amex'],
  ['Discover', 'discover'],
  ['JCB', 'jcb'],
  ['Diners Club', 'diners'],
  ['UnionPay', 'unionpay'],
  ...BRAND_SPELLINGS,
])

/**
 * Normalizes a provider's brand name (`"American Express"`, `"MasterCard"`, `"Visa"`,
 * `"Diners Club"` …) to a {@link CardBrand}. Unknown or missing names give `'unknown'`.
 *
 * @example
 * ```ts
 * normalizeBrand('American Express') // 'amex'
 * normalizeBrand('MasterCard')       // 'mastercard'
 * ```
 */
export function normalizeBrand(name: string | null | undefined): CardBrand {
  if (!name) return 'unknown'
  return (
    EXACT_NAMES.get(name) ??
    BRAND_SPELLINGS.get(name.toLowerCase().replace(/[^a-z]/g, '')) ??
    'unknown'
  )
}

/**
 * The brand of a card number from its issuer identification number (IIN) ranges: Visa (4),
 * Mastercard (51–55, 2221–2720), Amex (34, 37), Discover (6011, 644–649, 65), JCB (3528–3589),
 * Diners Club (300–305, 3095, 36, 38–39) and UnionPay (62, 81). Spaces and dashes are ignored.
 *
 * @example
 * ```ts
 * brandFromNumber('4242 4242 4242 4242') // 'visa'
 * brandFromNumber('2223003122003222')    // 'mastercard'
 * ```
 */
export function brandFromNumber(number: string): CardBrand {
  const digits = number.replace(/[\s-]/g, '')
  if (!/^\d{6,19}$/.test(digits)) return 'unknown'
  for (const [brand, ranges] of IIN_RANGES) {
    for (const [low, high] of ranges) {
      const width = String(low).length
      const prefix = Number(digits.slice(0, width))
      if (prefix >= low && prefix <= high) return brand
    }
  }
  return 'unknown'
}

/** Inclusive prefix ranges; a range's width is the number of digits of its bounds. */
const IIN_RANGES: ReadonlyArray<readonly [CardBrand, ReadonlyArray<readonly [number, number]>]> = [
  ['visa', [[4, 4]]],
  [
    'mastercard',
    [
      [51, 55],
      [2221, 2720],
    ],
  ],
  [
    'amex',
    [
      [34, 34],
      [37, 37],
    ],
  ],
  [
    'discover',
    [
      [6011, 6011],
      [644, 649],
      [65, 65],
    ],
  ],
  ['jcb', [[3528, 3589]]],
  [
    'diners',
    [
      [300, 305],
      [3095, 3095],
      [36, 36],
      [38, 39],
    ],
  ],
  [
    'unionpay',
    [
      [62, 62],
      [81, 81],
    ],
  ],
]
