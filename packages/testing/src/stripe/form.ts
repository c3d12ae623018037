import qs from 'qs'
import { FORM_KEY_OPTIONS, formKey, setEntry } from '../form-keys.js'
import { bracketedMetadataKey, stripeError } from './stripe-errors.js'

/**
 * The limits the emulator parses Stripe forms with. Stripe's deepest card-related parameter is
 * three brackets deep (`individual[verification][document][front]`), its longest arrays are far
 * below 100 entries, and a request with thousands of parameters is a bug in the caller.
 */
export const STRIPE_FORM_LIMITS = Object.freeze({
  /** Bracket levels below a top-level name. */
  depth: 10,
  /** Highest array index parsed as an array; above it, the entries form a hash. */
  arrayLimit: 100,
  /** `&`-separated pairs per request. */
  parameterLimit: 2000,
})

const QS_OPTIONS: qs.IParseOptions = {
  depth: STRIPE_FORM_LIMITS.depth,
  // A request nested deeper than the limit is refused rather than silently flattened.
  strictDepth: true,
  arrayLimit: STRIPE_FORM_LIMITS.arrayLimit,
  // Infinity here: the pair count is checked before parsing, so that qs never drops pairs.
  parameterLimit: Number.POSITIVE_INFINITY,
  // Keeps the holes of `metadata[0]=a&metadata[5]=b` so that the keys can be restored below.
  allowSparse: true,
  // Stripe's servers keep the last value of a repeated name (`email=a&email=b` is `b`);
  // bracketed arrays (`expand[]=a&expand[]=b`) are not repeats and still collect every value.
  duplicates: 'last',
  // Every key is kept, as Stripe keeps any metadata key (`metadata[constructor]`,
  // `metadata[__proto__]`): objects without a prototype, so no key reaches Object.prototype.
  ...FORM_KEY_OPTIONS,
}

/**
 * Parses a Stripe request body or query string the way Stripe's servers read it, with the `qs`
 * library (whose bracket format the `stripe` SDK emits): `card[exp_month]=12` is
 * `{ card: { exp_month: '12' } }`, `expand[0]=sources` and `expand[]=sources` are arrays, and
 * every value stays a string (the request check coerces them against the OpenAPI schema).
 *
 * Metadata keys are arbitrary strings, so `metadata[0]=a` stays the hash `{ '0': 'a' }` rather
 * than becoming an array; any other numerically indexed hash is an array, holes removed. A key
 * named like a member of `Object.prototype` (`metadata[constructor]`, `metadata[__proto__]`) is
 * kept as an own key, as Stripe keeps it, and never reaches the prototype.
 *
 * Throws a 400 `StripeRequestError` for a body nested deeper than {@link STRIPE_FORM_LIMITS}
 * allows or with more pairs than it allows, and for a metadata key holding a square bracket
 * (Stripe's rule: `metadata[a[b]]=1` and `metadata[x]]=1` are refused, where `qs` would read the
 * keys `a[b]` and `x`, storing the second under another name).
 *
 * @example
 * ```ts
 * parseStripeForm('source=tok_visa&metadata[order]=42&expand[]=customer')
 * // { source: 'tok_visa', metadata: { order: '42' }, expand: ['customer'] }
 * ```
 */
export function parseStripeForm(body: string | URLSearchParams): Record<string, unknown> {
  const text = typeof body === 'string' ? body : body.toString()
  if (text === '' || text === '?') return {}
  const pairs = text.split('&').filter((pair) => pair !== '').length
  if (pairs > STRIPE_FORM_LIMITS.parameterLimit) {
    throw stripeError(
      400,
      'invalid_request_error',
      `The request has ${pairs} parameters; the Stripe emulator accepts at most ${STRIPE_FORM_LIMITS.parameterLimit}. Send fewer parameters.`,
    )
  }
  refuseBracketedMetadataKeys(text)
  let parsed: Record<string, unknown>
  try {
    parsed = qs.parse(text, { ...QS_OPTIONS, ignoreQueryPrefix: true })
  } catch (error) {
    if (error instanceof RangeError) {
      throw stripeError(
        400,
        'invalid_request_error',
        `The request nests parameters more than ${STRIPE_FORM_LIMITS.depth} brackets deep, which no Stripe parameter does. Check the parameter names.`,
      )
    }
    throw error
  }
  return normalize(parsed, undefined) as Record<string, unknown>
}

// A metadata pair's name, top-level (`metadata[key]`) or nested (`card[metadata][key]`): the key
// is everything between the first bracket after `metadata` and the last one of the name.
const METADATA_PAIR = /^(?:metadata|.*\[metadata\])\[(.*)\]$/s

/**
 * Refuses a metadata key holding `[` or `]`, read from the pair names as sent: once parsed, the
 * key `x]` of `metadata[x]]` has become `x`. The message does not quote the key.
 */
function refuseBracketedMetadataKeys(text: string) {
  for (const pair of text.replace(/^\?/, '').split('&')) {
    const name = decodeName(pair.split('=', 1)[0]!)
    const key = METADATA_PAIR.exec(name)?.[1]
    if (key !== undefined && /[[\]]/.test(key)) throw bracketedMetadataKey()
  }
}

/** A pair's name as `qs` decodes it: `+` is a space, then percent-decoding (kept as is if bad). */
function decodeName(raw: string): string {
  const spaced = raw.replaceAll('+', ' ')
  try {
    return decodeURIComponent(spaced)
  } catch {
    return spaced
  }
}

/**
 * Restores metadata hashes that qs read as arrays, and removes the holes of other arrays; the
 * objects qs built without a prototype become ordinary ones, with the keys as sent.
 */
function normalize(value: unknown, key: string | undefined): unknown {
  if (Array.isArray(value)) {
    if (key === 'metadata') {
      const hash: Record<string, unknown> = {}
      value.forEach((entry, index) => {
        hash[String(index)] = normalize(entry, undefined)
      })
      return hash
    }
    // `Array.prototype.map` skips holes and keeps them; `Object.values` drops them.
    return Object.values(value).map((entry) => normalize(entry, undefined))
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [escaped, inner] of Object.entries(value)) {
      const name = formKey(escaped)
      setEntry(out, name, normalize(inner, name))
    }
    return out
  }
  return value
}
