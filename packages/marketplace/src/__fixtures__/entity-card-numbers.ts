// A card number written with HTML character references, as an HTML error page or description
// may quote one, and a check that a text holds none in either reading. The test titles name the
// forms by label: neither the number nor its encoded forms appear in a test's name or failure.
import { isLuhnValid } from '@cardport/core'

const DIGITS = '4111111111111111'

const groups = (separator: string) => DIGITS.match(/\d{4}/g)?.join(separator) ?? ''
const everyDigit = (write: (char: string) => string) => [...DIGITS].map(write).join('')

/** A Luhn-valid test card number (Visa's), each way an HTML text may write it, by label. */
export const ENTITY_CARD_NUMBERS: ReadonlyArray<readonly [label: string, text: string]> = [
  ['named no-break spaces between groups', groups('&nbsp;')],
  ['named en dashes between groups', groups('&ndash;')],
  ['decimal no-break spaces between groups', groups('&#160;')],
  [
    'hexadecimal spaces and dashes between groups',
    `${DIGITS.slice(0, 4)}&#x20;${DIGITS.slice(4, 8)}&#X2d;${DIGITS.slice(8, 12)}&#x0020;${DIGITS.slice(12)}`,
  ],
  ['the first digit as a decimal reference', `&#52;${DIGITS.slice(1)}`],
  ['the first digit as a hexadecimal reference', `&#x34;${DIGITS.slice(1)}`],
  ['every digit as a decimal reference', everyDigit((char) => `&#${char.charCodeAt(0)};`)],
  [
    'every digit as an upper-case hexadecimal reference with leading zeros',
    everyDigit((char) => `&#X00${char.charCodeAt(0).toString(16)};`),
  ],
  ['references mixed, for digits and separators', `&#52;111&nbsp;1111&#x2D;&#49;111 1111`],
]

// The references the forms above use, and those the tests' texts use: decoded independently of
// the code under test, so that a mistake there cannot hide itself here.
const NAMED: Readonly<Record<string, string>> = {
  nbsp: '\u00a0',
  ndash: '\u2013',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
}

function decoded(text: string): string {
  return text.replace(
    /&(?:#([0-9]+)|#[xX]([0-9a-fA-F]+)|([A-Za-z]+));/g,
    (reference, dec, hex, name) =>
      dec !== undefined
        ? String.fromCodePoint(Number(dec))
        : hex !== undefined
          ? String.fromCodePoint(Number.parseInt(hex, 16))
          : (NAMED[name as string] ?? reference),
  )
}

// Digit groups joined by white space, dashes or invisible format characters.
const DIGIT_RUN = /\d(?:[\s\p{Pd}\p{Cf}]*\d)*/gu

/**
 * Whether `text` holds a card number: once its character references are decoded, a run of 12–19
 * digits that passes the Luhn check (separators between groups allowed); or, as written, with
 * each reference read as a separator, a run of 12 digits or more (the digits the encoding left).
 */
export function holdsCardDigits(text: string): boolean {
  for (const run of decoded(text).match(DIGIT_RUN) ?? []) {
    const digits = run.replace(/\D/g, '')
    for (let length = 12; length <= 19; length++) {
      for (let start = 0; start + length <= digits.length; start++) {
        if (isLuhnValid(digits.slice(start, start + length))) return true
      }
    }
  }
  const written = text.replace(/&#?[0-9A-Za-z]+;/g, ' ')
  return (written.match(DIGIT_RUN) ?? []).some((run) => run.replace(/\D/g, '').length >= 12)
}
