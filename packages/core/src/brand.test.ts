import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { brandFromNumber, CARD_BRANDS, type CardBrand, normalizeBrand } from './brand.js'
import { isLuhnValid } from './card-number.js'

describe('normalizeBrand', () => {
  it.each([
    ['American Express', 'amex'],
    ['MasterCard', 'mastercard'],
    ['Mastercard', 'mastercard'],
    ['Visa', 'visa'],
    ['Diners Club', 'diners'],
    ['Discover', 'discover'],
    ['JCB', 'jcb'],
    ['UnionPay', 'unionpay'],
    ['Unknown', 'unknown'],
  ] as const)('reads Stripe and marketplace brand %j as %j', (name, brand) => {
    expect(normalizeBrand(name)).toBe(brand)
  })

  it.each([
    ['visa', 'visa'],
    ['amex', 'amex'],
    ['master', 'mastercard'],
  ] as const)('reads the marketplace card_type %j as %j', (cardType, brand) => {
    expect(normalizeBrand(cardType)).toBe(brand)
  })

  it.each([
    ['MC', 'mastercard'],
    ['CUP', 'unionpay'],
    ['China UnionPay', 'unionpay'],
  ] as const)('reads the short or long name %j as %j', (name, brand) => {
    expect(normalizeBrand(name)).toBe(brand)
  })

  it('ignores case, spaces and punctuation', () => {
    expect(normalizeBrand('AMERICAN  EXPRESS')).toBe('amex')
    expect(normalizeBrand('diners-club')).toBe('diners')
    expect(normalizeBrand(' visa ')).toBe('visa')
  })

  it('gives unknown for missing and unrecognized names', () => {
    expect(normalizeBrand(null)).toBe('unknown')
    expect(normalizeBrand(undefined)).toBe('unknown')
    expect(normalizeBrand('')).toBe('unknown')
    expect(normalizeBrand('Maestro')).toBe('unknown')
    expect(normalizeBrand('visa electron')).toBe('unknown')
  })

  // The spellings were an object literal: "constructor" found Object.prototype's constructor.
  it.each(['constructor', 'Constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])(
    'gives unknown for %j, a name of an object member',
    (name) => {
      expect(normalizeBrand(name)).toBe('unknown')
    },
  )

  // The names providers send are looked up as they come; any other spelling goes through case
  // and punctuation folding. Both ways must agree, and always give a brand. (fast-check's
  // strings are ASCII: changing their case keeps their length.)
  it('gives the same brand for a name however it is spelled, and always one of CARD_BRANDS', () => {
    const known = ['American Express', 'MasterCard', 'Visa', 'Diners Club', 'JCB', 'UnionPay']
    const spelling = fc.oneof(
      fc.constantFrom(...known, 'master', 'amex', 'cup', 'constructor', 'Unknown'),
      fc.string(),
    )
    const respelled = (name: string, upper: boolean[]) =>
      [...name].map((char, i) => (upper[i] ? char.toUpperCase() : char.toLowerCase())).join('')
    fc.assert(
      fc.property(
        spelling,
        fc.array(fc.boolean()),
        fc.constantFrom('', ' ', '-'),
        (name, upper, pad) => {
          const brand = normalizeBrand(name)
          expect(CARD_BRANDS).toContain(brand)
          expect(normalizeBrand(`${pad}${respelled(name, upper)}${pad}`)).toBe(brand)
        },
      ),
    )
  })
})

// Stripe's documented test card numbers and the brand Stripe reports for each.
const STRIPE_TEST_NUMBERS: ReadonlyArray<readonly [string, CardBrand]> = [
  ['4242424242424242', 'visa'],
  ['4000056655665556', 'visa'],
  ['5555555555554444', 'mastercard'],
  ['2223003122003222', 'mastercard'],
  ['5200828282828210', 'mastercard'],
  ['5105105105105100', 'mastercard'],
  ['378282246310005', 'amex'],
  ['371449635398431', 'amex'],
  ['6011111111111117', 'discover'],
  ['6011000990139424', 'discover'],
  ['3056930009020004', 'diners'],
  ['36227206271667', 'diners'],
  ['3566002020360505', 'jcb'],
  ['6200000000000005', 'unionpay'],
]

describe('brandFromNumber and isLuhnValid on Stripe test numbers', () => {
  it.each(STRIPE_TEST_NUMBERS)('%s is a Luhn-valid %s', (number, brand) => {
    expect(brandFromNumber(number)).toBe(brand)
    expect(isLuhnValid(number)).toBe(true)
  })

  it('ignores white space and dashes', () => {
    expect(brandFromNumber('4242 4242 4242 4242')).toBe('visa')
    expect(brandFromNumber('3782-822463-10005')).toBe('amex')
    expect(isLuhnValid('4242 4242 4242 4242')).toBe(true)
    expect(isLuhnValid('3782-822463-10005')).toBe(true)
    // A number pasted from a table or a list: tabs and line breaks between its groups.
    expect(isLuhnValid('4242\t4242\t4242\t4242')).toBe(true)
    expect(isLuhnValid('4242\n4242\n4242\n4242')).toBe(true)
  })
})

describe("brandFromNumber: Mastercard's 2221–2720 range", () => {
  it.each([
    ['2220000000000000', 'unknown'],
    ['2220999999999999', 'unknown'],
    ['2221000000000000', 'mastercard'],
    ['2720999999999999', 'mastercard'],
    ['2721000000000000', 'unknown'],
  ] as const)('%s is %s', (number, brand) => {
    expect(brandFromNumber(number)).toBe(brand)
  })

  it('covers 51–55 and not 50 or 56', () => {
    expect(brandFromNumber('5100000000000000')).toBe('mastercard')
    expect(brandFromNumber('5599999999999999')).toBe('mastercard')
    expect(brandFromNumber('5000000000000000')).toBe('unknown')
    expect(brandFromNumber('5600000000000000')).toBe('unknown')
  })
})

describe('brandFromNumber: the edges of the other ranges', () => {
  it.each([
    ['6440000000000000', 'discover'],
    ['6499999999999999', 'discover'],
    ['6439999999999999', 'unknown'],
    ['6500000000000000', 'discover'],
    ['3528000000000000', 'jcb'],
    ['3589999999999999', 'jcb'],
    ['3527999999999999', 'unknown'],
    ['3590000000000000', 'unknown'],
    ['3800000000000000', 'diners'],
    ['3999999999999999', 'diners'],
    ['3095000000000000', 'diners'],
    ['3094999999999999', 'unknown'],
    ['3096000000000000', 'unknown'],
    ['8100000000000000', 'unionpay'],
    ['8200000000000000', 'unknown'],
  ] as const)('%s is %s', (number, brand) => {
    expect(brandFromNumber(number)).toBe(brand)
  })
})

describe('brandFromNumber: other inputs', () => {
  it('gives unknown for what is not a number of 6 to 19 digits', () => {
    expect(brandFromNumber('')).toBe('unknown')
    expect(brandFromNumber('42424')).toBe('unknown')
    expect(brandFromNumber('4242x42424242424')).toBe('unknown')
    expect(brandFromNumber('42424242424242424242')).toBe('unknown')
  })

  it('reads a brand from the first six digits alone', () => {
    expect(brandFromNumber('424242')).toBe('visa')
    expect(brandFromNumber('601100')).toBe('discover')
  })
})

describe('isLuhnValid: failures', () => {
  it.each([
    ['one digit changed', '4242424242424241'],
    ['two digits swapped', '4242424242424224'],
    ['amex with a wrong check digit', '378282246310006'],
    ['Luhn-valid but 11 digits', '42424242420'],
    ['Luhn-valid but 20 digits', '42424242424242424242'],
    ['a letter inside', '4242a24242424242'],
    ['a dot inside', '4242.4242.4242.4242'],
    ['empty', ''],
  ])('%s fails', (_label, number) => {
    expect(isLuhnValid(number)).toBe(false)
  })

  it('accepts all zeros of a valid length (the check is arithmetic only)', () => {
    expect(isLuhnValid('000000000000')).toBe(true)
  })
})
