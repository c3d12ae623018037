/**
 * The shortest secret the provider takes: a shorter one could not be masked (see
 * {@link secretMask}). @internal
 */
export const MIN_SECRET_LENGTH = 4

/**
 * The `Authorization` header of HTTP basic auth with the secret as the user name and an empty
 * password (RFC 7617), as the marketplace API takes its API key. @internal
 */
export function basicAuthorization(secret: string): string {
  return `Basic ${credentialsOf(secret)}`
}

/**
 * A function that replaces the secret, wherever a text holds it, with `[redacted]`. The secret
 * has no format a pattern could find, so every form in which a server, a proxy or a dispatcher
 * may quote it back is searched for:
 *
 * - the secret, and the basic-auth credentials the client sends (`base64(secret + ':')`), as
 *   they are;
 * - the secret, `secret:` (what the credentials encode) or the credentials encoded in base64 or
 *   base64url, alone or inside a longer base64 text, at any of the three offsets a byte can have
 *   in it (a request, or its `Authorization` header, dumped in base64): every base64 character
 *   that holds a bit of them is masked, the ones holding only the bytes around stay;
 * - in all of these, any character written in any of the ways a text quoting it may write it:
 *   URL-encoded (`%2F`, `%2f`, any character's UTF-8 bytes), as a JSON string escapes it (`\"`,
 *   `\\`, `\/`), or as an HTML character reference (`&#47;`, `&#x2F;`, `&#X002f;`, and the named
 *   references of ASCII punctuation: `&sol;`, `&plus;`, `&equals;`, `&amp;`, `&lt;`, `&gt;` …).
 *
 * Longest forms first, so that the credentials are masked whole rather than around the secret.
 * A form shorter than {@link MIN_SECRET_LENGTH} characters is left: it would take ordinary words
 * with it. Not searched for: base64 broken across lines (MIME's 76 columns), and encodings
 * applied twice (a URL-encoded entity).
 * @internal
 */
export function secretMask(secret: string): (text: string) => string {
  const credentials = credentialsOf(secret)
  const written = [secret, credentials].map((form) => [...form].map((char) => [char]))
  // `secret:` is what the credentials encode: masked in base64, they are masked without their
  // `=` padding, and in base64url, whose last digit holds the `:`.
  const inBase64 = [secret, `${secret}:`, credentials].flatMap((form) =>
    ([0, 1, 2] as const).map((offset) => base64Positions(Buffer.from(form), offset)),
  )
  const forms = [...written, ...inBase64]
    .filter((positions) => positions.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length)
  if (forms.length === 0) return (text) => text
  const pattern = new RegExp(forms.map((positions) => positions.map(anyOf).join('')).join('|'), 'g')
  // Each position takes a character at least: a shorter text holds no form (a response's request
  // id, read with every answer, is most often shorter than the secret), and is not searched.
  const shortest = forms.at(-1)?.length ?? 0
  return (text) => (text.length < shortest ? text : text.replace(pattern, '[redacted]'))
}

/** The basic-auth credentials `secret:` in base64, the value after `Basic `. */
function credentialsOf(secret: string): string {
  return Buffer.from(`${secret}:`).toString('base64')
}

/** Each base64 digit's characters: `+` and `/` in base64 are `-` and `_` in base64url. */
const BASE64_DIGITS = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'].map(
  (char) => [char],
)
BASE64_DIGITS.push(['+', '-'], ['/', '_'])

/**
 * The characters `bytes` become in base64 (or base64url) when they start `offset` bytes after a
 * 3-byte boundary of a longer text: for each character that holds a bit of `bytes`, every
 * character it can be. One holding only bits of `bytes` is one digit (two characters, for the
 * two alphabets); the first and last may also hold bits of the bytes around, unknown here, so
 * they are every digit whose bits from `bytes` match.
 */
function base64Positions(bytes: Uint8Array, offset: 0 | 1 | 2): string[][] {
  const start = offset * 8
  const end = start + bytes.length * 8
  const bitAt = (index: number): number | undefined => {
    if (index < start || index >= end) return undefined
    const at = index - start
    return ((bytes[at >> 3] ?? 0) >> (7 - (at & 7))) & 1
  }
  const positions: string[][] = []
  for (let digit = Math.floor(start / 6); digit * 6 < end; digit++) {
    const chars: string[] = []
    for (let value = 0; value < 64; value++) {
      let fits = true
      for (let bit = 0; bit < 6 && fits; bit++) {
        const known = bitAt(digit * 6 + bit)
        fits = known === undefined || known === ((value >> (5 - bit)) & 1)
      }
      if (fits) chars.push(...(BASE64_DIGITS[value] ?? []))
    }
    positions.push(chars)
  }
  return positions
}

/**
 * A regular expression source matching one of `chars`, each as it is or written in any way
 * {@link secretMask} lists: percent-encoded, JSON-escaped, or as an HTML character reference.
 */
function anyOf(chars: readonly string[]): string {
  const literal = chars.map((char) => char.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&'))
  const ways = [
    literal.length === 1 ? (literal[0] ?? '') : `[${literal.join('')}]`,
    ...chars.map((char) =>
      [...Buffer.from(char)].map((byte) => `%${caseless(hexOf(byte).padStart(2, '0'))}`).join(''),
    ),
    ...chars
      .map((char) => JSON.stringify(char).slice(1, -1))
      .filter((escaped, index) => escaped !== chars[index])
      .map((escaped) => escaped.replace(/\\/g, '\\\\')),
    ...(chars.includes('/') ? ['\\\\/'] : []),
    `&#0*(?:${chars.map((char) => codeOf(char)).join('|')});`,
    `&#[xX]0*(?:${chars.map((char) => caseless(hexOf(codeOf(char)))).join('|')});`,
    ...chars.flatMap((char) => NAMED_REFERENCES[char] ?? []).map((name) => `&${name};`),
  ]
  return `(?:${ways.join('|')})`
}

function codeOf(char: string): number {
  return char.codePointAt(0) ?? 0
}

function hexOf(value: number): string {
  return value.toString(16)
}

/** A hexadecimal number's source with its letters in either case: `2[fF]`. */
function caseless(hex: string): string {
  return hex.replace(/[a-f]/g, (letter) => `[${letter}${letter.toUpperCase()}]`)
}

/** HTML's named character references of ASCII punctuation (WHATWG's table), by character. */
const NAMED_REFERENCES: Readonly<Record<string, readonly string[]>> = {
  '!': ['excl'],
  '"': ['quot', 'QUOT'],
  '#': ['num'],
  $: ['dollar'],
  '%': ['percnt'],
  '&': ['amp', 'AMP'],
  "'": ['apos'],
  '(': ['lpar'],
  ')': ['rpar'],
  '*': ['ast', 'midast'],
  '+': ['plus'],
  ',': ['comma'],
  '.': ['period'],
  '/': ['sol'],
  ':': ['colon'],
  ';': ['semi'],
  '<': ['lt', 'LT'],
  '=': ['equals'],
  '>': ['gt', 'GT'],
  '?': ['quest'],
  '@': ['commat'],
  '[': ['lsqb', 'lbrack'],
  '\\': ['bsol'],
  ']': ['rsqb', 'rbrack'],
  '^': ['Hat'],
  _: ['lowbar', 'UnderBar'],
  '`': ['grave', 'DiacriticalGrave'],
  '{': ['lcub', 'lbrace'],
  '|': ['verbar', 'vert', 'VerticalLine'],
  '}': ['rcub', 'rbrace'],
  '\n': ['NewLine'],
  '\t': ['Tab'],
}
