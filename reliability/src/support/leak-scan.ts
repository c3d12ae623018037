// The leak detector of the reliability suite: finds card numbers and the test's secrets in any
// text. Written independently of `@cardport/core` (its own Luhn check), so that a bug in the
// code under test (`redact`, `isLuhnValid`) cannot hide itself from the scan.

import { inspect } from 'node:util'

/**
 * Card numbers the suite embeds in inputs: Stripe's and the marketplace's test numbers, which
 * the emulators accept, so that inputs carrying them reach as deep as real ones would; then
 * Luhn-valid numbers of the networks that `brandFromNumber` gives no brand of its own (core's
 * `OTHER_NETWORKS`), which are card numbers all the same and must be masked as such: without
 * them, a core that masked only the branded networks passed.
 */
export const TEST_CARD_NUMBERS = [
  '4242424242424242',
  '4000056655665556',
  '5555555555554444',
  '378282246310005',
  '6011111111111117',
  '3056930009020004',
  '36227206271667',
  '3566002020360505',
  '6200000000000005',
  '4111111111111111',
  '5105105105105100',
  '341111111111111',
  // Maestro (67, 63, 50, 56, 58; 13 to 19 digits)
  '6759649826438453',
  '6304000000000000000',
  '5018000000000009',
  '5641820000000005',
  '5893000000003',
  // Mir (2200–2204)
  '2200000000000004',
  '2204300000000000003',
  // RuPay (60, 82), Verve (506, 507), Dankort (5019), Hipercard (606282)
  '6073840000000008',
  '8200000000000001',
  '5061040000000000009',
  '5078650000000008',
  '5019123456789013',
  '6062828888666688',
  // UzCard (8600), Humo (9860), Troy (9792)
  '8600040000000003',
  '9860010000000009',
  '9792000000000003',
] as const

/**
 * The secrets of the suite: each must never appear in an error, a log line or a stored row.
 * Stripe's restricted keys (`rk_live_…`, `rk_test_…`) are keys as much as `sk_…` ones: an
 * application may give one to `stripeProvider`, and an error may quote it.
 */
export const SECRETS = {
  stripeKey: 'sk_test_51ReliabilitySuiteKeyNeverLogged',
  restrictedKey: 'rk_live_51ReliabilitySuiteRestrictedKey',
  restrictedTestKey: 'rk_test_51ReliabilitySuiteRestrictedKey',
  webhookSecret: 'whsec_reliabilitySuiteWebhookSecret',
} as const

/** One thing a scan found. */
export interface Leak {
  kind: 'card number' | 'secret'
  /** The card number's last four digits, or the secret's first characters: never the whole. */
  hint: string
  /** Where in the scanned text, for the failure message. */
  at: number
  /** The text just before it, to tell where it sits (a field name, a message). */
  after: string
}

/**
 * Random ids whose digits can read as a Luhn-valid number, left out of the digit scan: an id,
 * not a leak.
 * - A version-4 UUID, as `crypto.randomUUID()` makes the idempotency keys of `createCard`
 *   (which the APIs echo in their response headers, and so in an error's `cause`): about one in
 *   a few thousand has all-digit groups that pass the Luhn check.
 * - A marketplace request id, `OHM` and 32 hex digits (an error's `requestId`): 13 digits in a
 *   row, passing the check, about once in a few hundred.
 */
const RANDOM_IDS =
  /\b[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\b|\bOHM[0-9a-f]{32}\b/gi

/**
 * What may stand between the digit groups of a card number: written, pasted, URL-encoded, or
 * escaped as the suite's texts are serialised. `JSON.stringify` and `util.inspect` write the
 * white space they escape (tab, line feed, vertical tab, form feed, carriage return: no other
 * gap character) as `\t`, `\n`, `\u000b` or `\x0B`, `\f`, `\r`; a backslash is no gap, so without
 * these a number grouped by line breaks reads as four short numbers. More backslashes: the
 * escape of an escape, as `JSON.stringify` writes a column that holds JSON text (a stored
 * card's metadata). After a line break, `inspect` may end a long string's line and go on with
 * the next one quoted anew (`'4242\n' +`, a new line, `'4242'`).
 */
const GAP =
  /(?:[\s\p{Pd}\p{Cf}+]|%(?:20|2[dD]|[cC]2%[aA][0dD]|0[9aAdD])|\\+(?:[tfr]|u000[bB]|x0[bB])|\\+n(?:['"`] \+\n *['"`])?)+/u

/**
 * Finds card numbers and secrets in `text`:
 * - in every run of digit groups (in ASCII digits, or those of another script of `ZEROS`: the
 *   full-width digits of a Japanese input method, Arabic-Indic ones) joined by white space (any: no-break spaces, tabs, line breaks)
 *   or dashes (any), also as a URL or a form encodes them (`4242 4242 4242 4242`, `4242-4242…`,
 *   `4242%204242…`, `4242+4242…`, `4242%C2%A04242…`, `4242424242424242`) or as `JSON.stringify`
 *   and `util.inspect` escape them (`4242\n4242…`, `4242\t4242…`, `4242\r\n4242…`), every span of whole
 *   groups holding 13 to 19 digits that passes the Luhn check is a card number;
 *   random ids (UUID idempotency keys, marketplace request ids) are left out of this scan;
 * - each secret, as is or in base64 (as an HTTP basic-auth header carries it).
 */
export function findLeaks(text: string, secrets: readonly string[]): Leak[] {
  const leaks: Leak[] = []
  const scanned = text.replace(RANDOM_IDS, (id) => 'u'.repeat(id.length))
  for (const match of scanned.matchAll(new RegExp(`\\p{Nd}+(?:${GAP.source}\\p{Nd}+)*`, 'gu'))) {
    const found = cardIn(match[0].split(GAP))
    if (found) leaks.push(leak('card number', `…${found.slice(-4)}`, text, match.index))
  }
  for (const secret of secrets) {
    for (const form of [secret, Buffer.from(`${secret}:`).toString('base64').replace(/=+$/, '')]) {
      const at = text.indexOf(form)
      if (at >= 0) leaks.push(leak('secret', `${secret.slice(0, 6)}…`, text, at))
    }
  }
  return leaks
}

/**
 * Everything an error carries out of the library, as a log would show it: its message and
 * stack, its `toJSON()`, its own fields (`details`, `issues`) and `console.error`'s rendering,
 * which includes the `cause` chain, read whole at any depth.
 */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return inspectWhole(error)
  const json =
    typeof (error as { toJSON?: unknown }).toJSON === 'function'
      ? safeJson((error as unknown as { toJSON(): unknown }).toJSON())
      : ''
  return [error.message, error.stack ?? '', json, safeJson({ ...error }), inspectWhole(error)].join(
    '\n',
  )
}

/**
 * `console.error`'s rendering with nothing cut: a logger set deeper than Node's default, or one
 * that walks the cause itself, prints what a fixed depth would show as `[Object]` (an error
 * body quoting the request it refused nests it ten levels down). `inspect` marks cycles.
 */
function inspectWhole(value: unknown): string {
  return inspect(value, {
    depth: Number.POSITIVE_INFINITY,
    maxArrayLength: Number.POSITIVE_INFINITY,
    maxStringLength: Number.POSITIVE_INFINITY,
  })
}

/** `JSON.stringify` that survives cycles and BigInts: what a structured logger would write. */
export function safeJson(value: unknown): string {
  const seen = new WeakSet<object>()
  try {
    const json: string | undefined = JSON.stringify(value, (_key, item: unknown) => {
      if (typeof item === 'bigint') return item.toString()
      if (typeof item === 'object' && item !== null) {
        if (seen.has(item)) return '[cycle]'
        seen.add(item)
      }
      return item
    })
    return json ?? ''
  } catch {
    return inspectWhole(value)
  }
}

function leak(kind: Leak['kind'], hint: string, text: string, at: number): Leak {
  return { kind, hint, at, after: text.slice(Math.max(0, at - 60), at) }
}

/** The first span of whole digit groups with 13 to 19 digits that passes the Luhn check. */
function cardIn(written: readonly string[]): string | null {
  const groups = written.map(asciiDigits)
  for (let start = 0; start < groups.length; start++) {
    let digits = ''
    for (let end = start; end < groups.length; end++) {
      digits += groups[end]
      if (digits.length > 19) break
      if (digits.length >= 13 && luhn(digits)) return digits
    }
  }
  return null
}

/**
 * The zero of each script whose digits the suite writes numbers in (ASCII, Arabic-Indic,
 * Eastern Arabic-Indic, Devanagari, Bengali, Thai, full-width): a table of its own rather than
 * core's reading of Unicode, so that a bug there cannot hide itself.
 */
const ZEROS = [0x30, 0x660, 0x6f0, 0x966, 0x9e6, 0xe50, 0xff10]

/** A digit group in ASCII digits; a digit of a script not in {@link ZEROS} reads as `x`. */
function asciiDigits(group: string): string {
  let ascii = ''
  for (const char of group) {
    const code = char.codePointAt(0) ?? 0
    const zero = ZEROS.find((start) => code >= start && code <= start + 9)
    ascii += zero === undefined ? 'x' : String(code - zero)
  }
  return ascii
}

function luhn(digits: string): boolean {
  if (!/^[0-9]+$/.test(digits)) return false
  let sum = 0
  for (let index = 0; index < digits.length; index++) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48
    if (index % 2 === 1) {
      digit *= 2
      if (digit > 9) digit -= 9
    }
    sum += digit
  }
  return sum % 10 === 0
}
