import { brandFromNumber } from './brand.js'
import { isLuhnValid } from './card-number.js'

// Groups of digits joined by separators: "4242 4242 4242 4242", "1 4242…". A separator is one or
// more spaces or dashes as typed or pasted (any Unicode white space, such as the no-break spaces
// of a web page, tabs and line breaks; any Unicode dash, such as an en dash or the full-width
// hyphen of an East Asian keyboard, and the minus sign and the katakana long-vowel mark that
// stand in for a hyphen; invisible format characters (`\p{Cf}`: zero-width spaces, soft hyphens
// from a web page, the direction marks and isolates of text copied from a right-to-left page),
// with which the number reads whole), or as a URL or a form encodes them (`+`, and any of
// those characters percent-encoded: `%20`, `%2D`, `%C2%A0`, `%E2%80%93`, `%0A` …): a number a
// caller typed where a token or an id goes reaches messages inside a request's URL.
const GAP_CHAR = /[\s+\p{Pd}\p{Cf}\u2212\u30fc]/u
// One character percent-encoded as UTF-8 (1 to 4 bytes). Which of them are separators is decided
// by decoding them (`isGap`): an encoded slash or letter between two numbers joins nothing.
const ENCODED_CHAR =
  '%(?:[0-7][0-9A-Fa-f]|[cCdD][0-9A-Fa-f]%[89aAbB][0-9A-Fa-f]|[eE][0-9A-Fa-f](?:%[89aAbB][0-9A-Fa-f]){2}|[fF][0-4](?:%[89aAbB][0-9A-Fa-f]){3})'
const SEPARATOR = new RegExp(`((?:${GAP_CHAR.source}|${ENCODED_CHAR})+)`, 'u')
// A digit is one of any script (`\p{Nd}`): a Japanese input method types full-width digits
// (`４２４２`), an Arabic keyboard Eastern Arabic ones (`٤٢٤٢`), and the number is the same card's.
// Digit groups joined by separators. Its capturing group (the first of a pattern starting with
// it) holds a separator inside the run: undefined when the run is one group.
const DIGIT_GROUPS = `\\p{Nd}+(?:${SEPARATOR.source}\\p{Nd}+)*`
// A run of digit groups, and the separators after it that no digit follows (its second group),
// taken with it so that the search goes on after them. Left behind, they were searched again from
// each digit one of them encodes (the `2` and the `0` of each `%20`), each search reading the rest
// of them: a text of 100,000 characters took seconds. Those digits, two at most before the next
// `%`, start no card number, and the separators are given back as they were.
const DIGIT_RUN = new RegExp(`${DIGIT_GROUPS}${SEPARATOR.source}?`, 'gu')
// A text that is one run of digit groups, separators before or after it allowed.
const WHOLE_RUN = new RegExp(`^${SEPARATOR.source}?${DIGIT_GROUPS}${SEPARATOR.source}?$`, 'u')
// A letter at the end or the start of a text (the digits of a random id touch one).
// Not a separator (`ー`, the katakana long-vowel mark, is a letter that stands in for a hyphen).
const LETTER_LAST = /(?![\u30fc])\p{L}$/u
const LETTER_FIRST = /^(?![\u30fc])\p{L}/u
const ANY_DIGIT = /\p{Nd}/gu
const ONE_DIGIT = /^\p{Nd}$/u
const ASCII_DIGITS = /^[0-9]*$/
// No word boundary before a key: in a URL a key may follow a letter or digit (`/cards/%20sk_…`,
// a space escaped), and hiding a few characters too many costs nothing. Underscores belong to
// the key: Stripe's hold none after the head, but emulators' and tools' keys do
// (`sk_test_cardport_emulator`), and a key cut at one printed its tail.
const API_KEY = /(?:sk|rk|pk)_(?:live|test)_\w+/g
const WEBHOOK_SECRET = /whsec_\w+/g
const BASIC_AUTH = /\b(Basic|Bearer)\s+[A-Za-z0-9+/=._-]{8,}/g

/**
 * Removes every card number from a text: any run of 12–19 digits, with or without spaces or
 * dashes between them (any Unicode white space or dash, the minus sign and `ー` too, and
 * invisible format characters such as soft hyphens and direction marks; also URL-encoded: `%20`,
 * `%E2%80%93` …), that passes the Luhn check or starts with a known card
 * prefix is replaced by its masked form (`•••• 4242`). Digits of any script count (full-width
 * `４２４２`, Arabic-Indic `٤٢٤٢` …); the mask shows ASCII digits. Other numbers (timestamps,
 * amounts, ids) are left.
 *
 * @example
 * ```ts
 * redact('card 4242-4242-4242-4242 was declined') // 'card •••• 4242 was declined'
 * ```
 */
export function redact(text: string): string {
  if (!hasDigits(text, 12)) return text
  return maskRuns(text, 12, looksLikeCard)
}

/**
 * Whether a text holds a card number, as the core's free-text fields (holder name, address,
 * metadata values) refuse it: a span of whole digit groups, joined by spaces or dashes (any white
 * space, such as a no-break space or a line break, and any dash, such as an en dash or a
 * full-width hyphen, the minus sign and `ー` too, and invisible format characters such as soft
 * hyphens and direction marks; also URL-encoded), of 13 to 19 digits (of any
 * script, full-width and Arabic-Indic included) that passes the Luhn check and starts with a card
 * network's prefix (those of `brandFromNumber`, and of Maestro, Mir, RuPay, Verve, Dankort,
 * UzCard, Humo and Troy, which have no brand of their own in a Card). Narrower than
 * {@link redact} (no 12-digit runs, no prefix-only or
 * Luhn-only matches) so that order numbers, millisecond timestamps and the like stay allowed.
 *
 * @example
 * ```ts
 * containsCardNumber('paid with 4242 4242 4242 4242') // true
 * containsCardNumber('order 1234-5678') // false
 * ```
 */
export function containsCardNumber(text: string): boolean {
  return maskCardNumbers(text) !== text
}

/**
 * Whether a whole text is a card number as a person types it, and nothing else: digit groups
 * joined by the separators {@link redact} reads, holding a number {@link containsCardNumber}
 * finds. An id with a prefix (`card_…`) or letters is never one, whatever digits it holds, so
 * that a provider's random ids are not taken for card numbers by chance. Not exported from the
 * package: the core refuses an owner id or a fingerprint that is one (`OwnerInputSchema`,
 * `CardSchema`), and a card id that is or holds one (`CardIdInputSchema`).
 */
export function isWholeCardNumber(text: string): boolean {
  return WHOLE_RUN.test(text) && containsCardNumber(text)
}

/**
 * A number that is a card number (what {@link maskCardNumbers} masks: Luhn-valid with a card
 * network's prefix, so that a millisecond timestamp stays) as its masked text; any other number
 * (an amount, a timestamp) as it is. For answers that quote a form's card number as a JSON number
 * (or a `bigint`). An integer beyond 2^53 of up to 19 digits is masked whatever its digits: a
 * double no longer holds the digits that were sent (a 19-digit number loses its last ones), so
 * nothing tells that it is not a card number.
 *
 * @example
 * ```ts
 * maskCardNumberValue(4242424242424242) // '•••• 4242'
 * maskCardNumberValue(1700000000004)    // 1700000000004
 * ```
 */
export function maskCardNumberValue(value: number): number | string
export function maskCardNumberValue(value: bigint): bigint | string
export function maskCardNumberValue(value: number | bigint): number | bigint | string
export function maskCardNumberValue(value: number | bigint): number | bigint | string {
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || Math.abs(value) < 1e12 || Math.abs(value) >= 1e19) return value
  } else if (value > -1_000_000_000_000n && value < 1_000_000_000_000n) return value
  const text = String(value)
  const masked = maskCardNumbers(text)
  if (masked !== text) return masked
  if (typeof value === 'number' && !Number.isSafeInteger(value)) return `•••• ${text.slice(-4)}`
  return value
}

/**
 * A value that is no object with its secrets masked: a text as {@link redactSecrets} gives it, a
 * number or `bigint` as {@link maskCardNumberValue} does; anything else as it is. What every
 * masking of an error's parts (its `cause`, its `details`, the fields of a client's error) does
 * to the values it meets. Not exported from the package.
 */
export function maskPrimitive(value: unknown): unknown {
  if (typeof value === 'string') return redactSecrets(value)
  if (typeof value === 'number' || typeof value === 'bigint') return maskCardNumberValue(value)
  return value
}

/**
 * Masks, in place, every text reachable from `target`: each string of its own enumerable fields
 * (symbol-keyed ones too, and an error's `message`, `stack` and `cause`, and an `AggregateError`'s
 * `errors`) becomes its {@link redactSecrets} form, and each number that is a card number its
 * {@link maskCardNumberValue} text. Plain objects, arrays and errors are entered, six levels deep.
 * `Map`s (keys too), `Set`s, `URL`s, `URLSearchParams`, `Headers`, and a fetch `Response` or
 * `Request` (its URL, status text and headers) are read but never written: a client's own (its
 * headers, its base URL) may serve the requests still to come, and a header cannot hold the mask's
 * `•`; one that holds a secret makes the answer false (the plain objects in a map or set are masked
 * in place as any others). An instance of any other class (a client's request object, a socket)
 * is neither read nor written: one with own enumerable fields (symbol-keyed too) or a
 * `util.inspect.custom` method, which `util.inspect` prints, makes the answer false, as it may
 * quote a card number. A buffer, a typed array or a `Date` is left alone (no text of it is
 * printed). For an HTTP client's error kept as a `CardportError`'s `cause` (which loggers print,
 * fields and nested cause included) when its message or the request it keeps quotes a card
 * number: `defineCardProvider` does it to the cause of every error an adapter raises. What nests
 * deeper than six levels is not read but replaced by `'[nested too deep]'` (as a `CardportError`'s
 * `details` are cut), so that no text is left there unmasked.
 *
 * @returns false when a text that needed masking could not be written (a frozen error, a field
 * without a setter, a `URL`, `Map` or `Headers` holding it), or when `target` holds a class
 * instance that prints what was not read: replace such an object with a masked copy instead.
 *
 * @example
 * ```ts
 * const error = new Error("No such token: '4242424242424242'")
 * redactInPlace(error) // true; error.message is "No such token: '•••• 4242'"
 * ```
 */
export function redactInPlace(target: object): boolean {
  return maskTexts(target, new WeakSet(), 0)
}

// A client's error nests a request, an answer and their bodies, and its own `cause`: a few levels.
const MAX_DEPTH = 6

/**
 * What stands in for plain data nested deeper than a redaction reads (`redactInPlace`, a
 * `CardportError`'s `details`, an adapter's copy of an error body): a level nobody read cannot be
 * shown, as it may hold a card number.
 */
export const NESTED_TOO_DEEP = '[nested too deep]'

function maskTexts(target: object, seen: WeakSet<object>, depth: number): boolean {
  if (seen.has(target)) return true
  seen.add(target)
  // A client's own containers (its headers, its base URL, a map it reuses) may serve the requests
  // still to come: they are read, never written. One holding a secret makes the answer false, and
  // the caller shows a masked copy of the whole cause instead.
  if (target instanceof URL) return redactSecrets(target.href) === target.href
  if (target instanceof URLSearchParams || target instanceof Headers) {
    for (const [name, value] of target) {
      if (redactSecrets(name) !== name || redactSecrets(value) !== value) return false
    }
    return true
  }
  if (target instanceof Map || target instanceof Set) return isCleanCollection(target, seen, depth)
  // A fetch answer or request, read as `util.inspect` prints it: its URL, status text and
  // headers (its body is a stream, printed without its bytes).
  if (target instanceof Response || target instanceof Request) {
    const texts = [target.url, target instanceof Response ? target.statusText : target.method]
    if (texts.some((text) => redactSecrets(text) !== text)) return false
    return maskTexts(target.headers, seen, depth)
  }
  // Symbol-keyed fields too: `util.inspect` (`console.error`, loggers) prints the enumerable ones.
  const fields = new Set<PropertyKey>([...Object.keys(target), ...enumerableSymbols(target)])
  if (target instanceof Error) for (const field of ['message', 'stack', 'cause']) fields.add(field)
  // An `AggregateError`'s errors, which `util.inspect` prints, are no enumerable field.
  if (target instanceof AggregateError) fields.add('errors')
  const record = target as Record<PropertyKey, unknown>
  let complete = true
  for (const field of fields) {
    let value: unknown
    try {
      value = record[field]
    } catch {
      continue
    }
    if (!maskValue(value, seen, depth, (masked) => replaceField(record, field, masked))) {
      complete = false
    }
  }
  return complete
}

/**
 * Masks one value held at `depth`: a text or number through `write` (its masked form), an object
 * by entering it. False when something that needed masking could not be written.
 */
function maskValue(
  value: unknown,
  seen: WeakSet<object>,
  depth: number,
  write: (masked: unknown) => boolean,
): boolean {
  const masked = maskPrimitive(value)
  if (masked !== value) return write(masked)
  // What is not entered is clean only when nothing of it is printed (see `hasUnreadFields`).
  if (!isTraversable(value)) return !hasUnreadFields(value)
  if (depth < MAX_DEPTH) return maskTexts(value, seen, depth + 1)
  // Not read, so not known to be clean (an answer nesting the request it quotes): cut.
  return seen.has(value) || write(NESTED_TOO_DEEP)
}

/**
 * Whether nothing in a `Map` (its keys too) or a `Set` needs masking; the plain objects it holds
 * are masked in place as any others.
 */
function isCleanCollection(
  collection: Map<unknown, unknown> | Set<unknown>,
  seen: WeakSet<object>,
  depth: number,
): boolean {
  const unwritable = () => false
  let clean = true
  for (const [key, value] of collection.entries()) {
    if (typeof key === 'string' && redactSecrets(key) !== key) clean = false
    if (!maskValue(value, seen, depth, unwritable)) clean = false
  }
  return clean
}

/** Writes `value` into `record[field]`: false when the write threw or did not hold. */
function replaceField(
  record: Record<PropertyKey, unknown>,
  field: PropertyKey,
  value: unknown,
): boolean {
  try {
    record[field] = value
    // A setter may ignore the write without throwing.
    return record[field] === value
  } catch {
    return false
  }
}

/**
 * Whether `value`, an object redaction does not enter, has fields `util.inspect` prints and that
 * were not read: an instance of a class (a client's request, its body; a socket) or a function
 * with own enumerable fields, symbol-keyed ones included, or one that prints itself (a
 * `util.inspect.custom` method). Such an object is left as it is, so it may hold a card number: the
 * answer is true, and the caller shows a masked copy instead. The bytes of a buffer or typed
 * array are printed as numbers, never as the text they encode.
 */
function hasUnreadFields(value: unknown): boolean {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false
  if (ArrayBuffer.isView(value)) return false
  try {
    if (typeof (value as Record<symbol, unknown>)[INSPECT] === 'function') return true
    return Object.keys(value).length > 0 || enumerableSymbols(value).length > 0
  } catch {
    // A proxy whose traps throw: nothing known of it.
    return true
  }
}

// `util.inspect.custom`, without importing `node:util`.
const INSPECT = Symbol.for('nodejs.util.inspect.custom')

/** The own enumerable symbol-keyed fields of `target`, which `util.inspect` prints. */
function enumerableSymbols(target: object): symbol[] {
  return Object.getOwnPropertySymbols(target).filter((symbol) =>
    Object.prototype.propertyIsEnumerable.call(target, symbol),
  )
}

function isTraversable(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false
  if (Array.isArray(value) || value instanceof Error) return true
  if (value instanceof Map || value instanceof Set || value instanceof URL) return true
  if (value instanceof URLSearchParams || value instanceof Headers) return true
  if (value instanceof Response || value instanceof Request) return true
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

/**
 * Masks exactly what {@link containsCardNumber} finds (`•••• 4242`), leaving the rest of the
 * text as is. The core applies it to the free text of cards read from a provider.
 */
export function maskCardNumbers(text: string): string {
  if (!hasDigits(text, 13)) return text
  return maskRuns(text, 13, isCardNumber)
}

/**
 * `text` with the digits of random ids written as letters (`x`): each group of digits that
 * touches a letter (`card_1MvoXJ2eZvKYlo2C`, a hex digest), which {@link containsCardNumber}
 * would now and then read as a card number. Such a group is kept only when it looks like the
 * first or last group of a number written out, its other groups glued to the text beside it
 * (`card_x4242 4242 4242 4242`): at least 3 digits, and joined by a separator that
 * {@link containsCardNumber} reads across (a space, a dash, `%20` …) to a group that touches no
 * letter. So the digits of `checkout-u4-1700000079190` (a key of an id and a time) and of
 * `tok-3d47bfba0f829312-20667825d1e261fc` (hex joined by a dash) stay set aside, as they were.
 * Not exported from the package: the core's checks of card ids and idempotency keys use it.
 *
 * @example
 * ```ts
 * blankGluedDigitGroups('ab4242424242424242') // 'abxxxxxxxxxxxxxxxx'
 * blankGluedDigitGroups('x4242 4242 4242 4242') // as it is
 * ```
 */
export function blankGluedDigitGroups(text: string): string {
  return text.replace(
    DIGIT_RUN,
    (match: string, inside: string | undefined, after: string | undefined, offset: number) => {
      const run = after === undefined ? match : match.slice(0, -after.length)
      // Even indices are digit groups, odd indices the separator after each, as in `maskRun`.
      const parts = inside === undefined ? [run] : run.split(SEPARATOR)
      const glued: boolean[] = []
      let start = offset
      for (const [index, part] of parts.entries()) {
        glued.push(index % 2 === 0 && touchesLetter(text, start, start + part.length))
        start += part.length
      }
      // A group joined by a separator to a neighbouring group that touches no letter.
      const joinedToLoose = (index: number, step: -2 | 2) => {
        const neighbour = index + step
        if (neighbour < 0 || neighbour >= parts.length || glued[neighbour]) return false
        return isGap(parts[index + step / 2] ?? '')
      }
      let output = ''
      for (const [index, part] of parts.entries()) {
        const kept =
          !glued[index] ||
          (part.length >= 3 && (joinedToLoose(index, -2) || joinedToLoose(index, 2)))
        output += kept ? part : 'x'.repeat(part.length)
      }
      return output + (after ?? '')
    },
  )
}

/** `text` with the card numbers of each run of digit groups masked (see {@link maskRun}). */
function maskRuns(text: string, minDigits: number, isCard: (digits: string) => boolean): string {
  return text.replace(
    DIGIT_RUN,
    (run: string, _inside: string | undefined, after: string | undefined) =>
      after === undefined
        ? maskRun(run, minDigits, isCard)
        : maskRun(run.slice(0, -after.length), minDigits, isCard) + after,
  )
}

/**
 * {@link redact}, and also removes API keys (`sk_live_…`, `rk_test_…`), webhook secrets and
 * HTTP `Authorization` values. Every cardport error message passes through it.
 */
export function redactSecrets(text: string): string {
  // Keys first: masking a digit run inside a key would hide the key from its pattern.
  return redact(removeSecrets(text))
}

/**
 * `text` with API keys, webhook secrets and HTTP `Authorization` values removed, its digits
 * otherwise as they were: what {@link redactSecrets} does before it masks numbers. Not exported
 * from the package: `CardportError` reads a provider's codes through it.
 */
export function removeSecrets(text: string): string {
  return text
    .replace(API_KEY, (key) => `${key.slice(0, key.indexOf('_', 3) + 1)}[redacted]`)
    .replace(WEBHOOK_SECRET, 'whsec_[redacted]')
    .replace(BASIC_AUTH, '$1 [redacted]')
}

/**
 * Masks the card numbers in one run of digit groups. A card may share its run with a nearby
 * number ("qty 1 4242 4242 4242 4242"), so every span of whole groups holding `minDigits`–19
 * digits is tried, and the union of the spans that look like a card is masked: where spans overlap, the
 * mask errs on the side of hiding a neighbour rather than leaving digits of a card behind.
 *
 * An encoded character that is no separator (`%60`, `%40`) may be a `%` typed before a number
 * (`2%6011111111111117`, `100%4242…`): its digits are then the number's first ones. So a span
 * after one is tried twice, from its group and from the digits that end the encoded character.
 */
function maskRun(run: string, minDigits: number, isCard: (digits: string) => boolean): string {
  // Even indices are digit groups, odd indices the single separator after each.
  const parts = run.split(SEPARATOR)
  // The digit groups in ASCII digits, whatever script they were written in.
  const groups = parts.map((part, index) => (index % 2 ? part : asciiDigits(part)))
  // Whether each separator joins the groups beside it, and the digits that end one that does not.
  const joins = parts.map((part, index) => index % 2 === 0 || isGap(part))
  const heads = parts.map((part, index) => (joins[index] ? '' : trailingDigits(part)))
  const digitCount = groups.reduce(
    (sum, part, index) => sum + (index % 2 ? (heads[index] ?? '').length : part.length),
    0,
  )
  if (digitCount < minDigits) return run
  const hidden = new Array<boolean>(parts.length).fill(false)
  // Separators whose last digits start a masked span, and so are masked with it.
  const headHidden = new Array<boolean>(parts.length).fill(false)
  for (let start = 0; start < parts.length; start += 2) {
    const head = heads[start - 1] ?? ''
    for (const first of head ? [head, ''] : ['']) {
      let digits = first
      for (let end = start; end < parts.length; end += 2) {
        // A span of groups does not reach across an encoded character that is no separator.
        if (end > start && !joins[end - 1]) break
        digits += groups[end]
        if (digits.length > 19) break
        if (digits.length >= minDigits && isCard(digits)) {
          hidden.fill(true, start, end + 1)
          if (first) headHidden[start - 1] = true
        }
      }
    }
  }
  // `masked` collects the digits of the hidden span (separators left out: `%20` holds digits).
  let output = ''
  let masked = ''
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index] ?? ''
    if (hidden[index]) {
      if (index % 2 === 0) masked += groups[index]
      continue
    }
    if (masked) output += `•••• ${masked.slice(-4)}`
    masked = ''
    if (headHidden[index]) {
      const head = heads[index] ?? ''
      output += part.slice(0, -head.length)
      masked = head
    } else output += part
  }
  if (masked) output += `•••• ${masked.slice(-4)}`
  return output
}

/** The ASCII digits that end a separator (`60` of `%60`, none of `%2F`), at most two. */
function trailingDigits(separator: string): string {
  let start = separator.length
  while (start > separator.length - 2 && /[0-9]/.test(separator.charAt(start - 1))) start--
  return separator.slice(start)
}

/**
 * Whether `text` holds at least `count` digits (of any script). Most text holds no card-sized run
 * of digits: a scan of its characters, far cheaper than the regular expression, lets it through
 * untouched (every card read from a provider passes here). Not exported from the package.
 */
export function hasDigits(text: string, count: number): boolean {
  let found = 0
  let otherScripts = false
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code >= 48 && code <= 57) {
      if (++found >= count) return true
    } else if (code >= 0x660) otherScripts = true
  }
  // U+0660 (Arabic-Indic zero) is the first digit outside ASCII: only text with characters from
  // there on can hold other digits, and is counted again, every script's digits.
  return otherScripts && (text.match(ANY_DIGIT)?.length ?? 0) >= count
}

/** Digits of any script as ASCII digits (`４２` and `٤٢` are `42`). */
function asciiDigits(digits: string): string {
  if (ASCII_DIGITS.test(digits)) return digits
  let ascii = ''
  for (const digit of digits) ascii += digitValue(digit.codePointAt(0) ?? 48)
  return ascii
}

/**
 * A decimal digit's value. Unicode encodes each script's digits 0 to 9 at consecutive code
 * points, and where two scripts' digits touch (the mathematical digits) each set is whole: the
 * value is the distance from the start of the unbroken run of digits, modulo 10.
 */
function digitValue(codePoint: number): number {
  if (codePoint <= 57) return codePoint - 48
  let start = codePoint
  while (ONE_DIGIT.test(String.fromCodePoint(start - 1))) start--
  return (codePoint - start) % 10
}

/** Whether a letter stands just before `start` or just after `end` in `text`. */
function touchesLetter(text: string, start: number, end: number): boolean {
  // Two code units: a letter outside the Basic Multilingual Plane takes two.
  return (
    LETTER_LAST.test(text.slice(Math.max(0, start - 2), start)) ||
    LETTER_FIRST.test(text.slice(end, end + 2))
  )
}

/** Whether a separator the pattern found decodes to separators only (`%2F`, a slash, does not). */
function isGap(separator: string): boolean {
  if (!separator.includes('%')) return true
  let decoded: string
  try {
    decoded = decodeURIComponent(separator)
  } catch {
    return false
  }
  for (const char of decoded) if (!GAP_CHAR.test(char)) return false
  return true
}

function looksLikeCard(digits: string): boolean {
  return isLuhnValid(digits) || brandFromNumber(digits) !== 'unknown'
}

/**
 * Networks whose numbers `brandFromNumber` gives no brand of their own (`'unknown'` in a Card),
 * which are card numbers all the same: Maestro (50, 56–59, 63, 67), Mir and Borica (2200–2205),
 * RuPay and Hipercard (60, 82), Verve (506, 507), Dankort (5019), UzCard (8600), Humo (9860),
 * Troy (9792). Not UATP (1): millisecond timestamps start with 1.
 */
const OTHER_NETWORKS = /^(?:50|5[6-9]|60|63|67|82|220[0-5]|8600|9860|9792)/

function isCardNumber(digits: string): boolean {
  return (
    isLuhnValid(digits) && (brandFromNumber(digits) !== 'unknown' || OTHER_NETWORKS.test(digits))
  )
}
