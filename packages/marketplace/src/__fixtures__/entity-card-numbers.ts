// A card number written with HTML character references, or split by HTML tags and comments, as
// an HTML error page or description may quote one, and a check that a text holds none in any
// reading. The test titles name the
// forms by label: neither the number nor its encoded forms appear in a test's name or failure.
import { isLuhnValid } from '@cardport/core'

const DIGITS = '4111111111111111'

const groups = (separator: string) => DIGITS.match(/\d{4}/g)?.join(separator) ?? ''
const everyDigit = (write: (char: string) => string) => [...DIGITS].map(write).join('')

/** A Luhn-valid test card number (Visa's), each way an HTML text may write it, by label. */
export const ENTITY_CARD_NUMBERS: ReadonlyArray<readonly [label: string, text: string]> = [
  ['named no-break spaces between groups', groups('&nbsp;')],
  // A legacy reference needs no `;`: a browser reads `&nbsp1111` as a no-break space and 1111.
  ['legacy no-break spaces without their ; between groups', groups('&nbsp')],
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

/**
 * The same test card number split by HTML tags or comments, which a page shows as one number (or
 * with spaces), by label.
 */
export const TAG_SPLIT_CARD_NUMBERS: ReadonlyArray<readonly [label: string, text: string]> = [
  ['tags between digit groups', groups('<b>')],
  ['opening and closing tags between digit groups', `<b>${groups('</b><b>')}</b>`],
  ['a tag around every digit', everyDigit((char) => `<span>${char}</span>`)],
  [
    'tags with attributes between groups',
    groups('<span class="group" data-n=\'2\' title="a &amp; b">'),
  ],
  ['self-closing tags between groups', groups('<br/>')],
  ['void tags with spaces and a slash between groups', groups(' <wbr /> ')],
  ['empty comments between groups', groups('<!---->')],
  ['comments that hold a > between groups', groups('<!-- a > b -->')],
  [
    'tags, comments, spaces and references mixed',
    `&#52;111 <i>1111</i>&nbsp;<!-- x -->1111<br>&#x31;111`,
  ],
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
    /&(?:#([0-9]+);|#[xX]([0-9a-fA-F]+);|([A-Za-z]+);?)/g,
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

// An HTML comment (its end the first `-->`), or a tag: what a page shows as nothing between two
// digits.
const TAG_OR_COMMENT = /<!--[\s\S]*?-->|<[^>]*>/g

/**
 * Whether `html` holds a card number: with its tags and comments read as separators and its
 * character references decoded, a run of 12–19 digits that passes the Luhn check (separators
 * between groups allowed); or, with each tag, comment and reference read as a separator, a run of
 * 12 digits or more (the digits the encoding left).
 */
export function holdsCardDigits(html: string): boolean {
  const text = html.replace(TAG_OR_COMMENT, ' ')
  for (const run of decoded(text).match(DIGIT_RUN) ?? []) {
    const digits = run.replace(/\D/g, '')
    for (let length = 12; length <= 19; length++) {
      for (let start = 0; start + length <= digits.length; start++) {
        if (isLuhnValid(digits.slice(start, start + length))) return true
      }
    }
  }
  const written = text.replace(/&#?[0-9A-Za-z]+;|&[A-Za-z]+/g, ' ')
  return (written.match(DIGIT_RUN) ?? []).some((run) => run.replace(/\D/g, '').length >= 12)
}
