import { z } from 'zod'
import { InvalidRequestError } from './errors.js'

// What reads as an option's name (`timeoutMs`, `maxNetworkRetries`): letters only. A key with
// digits, `_` or `-` may be a secret pasted in the wrong place (`sk_test_…`, `ak-live-…`, a hex
// token), and is not quoted, unless it is a known option written another way (below).
const OPTION_NAME = /^[A-Za-z]{1,40}$/

/** A name without case, `_` and `-`: `idempotency_key` and `IdempotencyKey` are `idempotencykey`. */
const squashed = (name: string) => name.replace(/[-_]/g, '').toLowerCase()

/**
 * The schema of a factory's options: a key it does not know is refused (`invalid_request` through
 * {@link validate}) instead of dropped, where a misspelt option (`timeoutMS`) would run on its
 * default without a word. The message names an unknown key that reads as an option name (letters
 * only, up to 40), or that is a known option written another way (`idempotency_key`: "did you
 * mean idempotencyKey?"), and the options there are; any other key is counted, not quoted, as it
 * may be a secret pasted as a key. For adapter authors' own options too.
 *
 * @example
 * ```ts
 * const OptionsSchema = optionsObject({ apiKey: z.string(), timeoutMs: z.number().optional() })
 * validate(OptionsSchema, { apiKey, timeoutMS: 500 }, 'myProvider options')
 * // invalid_request: Invalid myProvider options: unknown option "timeoutMS" (did you mean
 * // timeoutMs?): the options are apiKey, timeoutMs
 * ```
 */
export function optionsObject<Shape extends z.core.$ZodLooseShape>(
  shape: Shape,
): z.ZodObject<Shape, z.core.$strict> {
  return strictObjectSaying(shape, (keys, known) => unknownKeys(keys, known))
}

/**
 * A zod object of `shape` that refuses a key it does not know, its issue's message
 * `unknown(keys, known)`: the keys it does not know, and its own.
 * @internal
 */
export function strictObjectSaying<Shape extends z.core.$ZodLooseShape>(
  shape: Shape,
  unknown: (keys: readonly string[], known: readonly string[]) => string,
): z.ZodObject<Shape, z.core.$strict> {
  const known = Object.keys(shape)
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? unknown(issue.keys, known) : undefined),
  })
}

/**
 * `unknown options "tiemout", 1 more whose name is not shown (…): the options are …`, as
 * {@link optionsObject} words it; with `noun` (`['capability', 'capabilities']`), of other keys.
 * @internal
 */
export function unknownKeys(
  keys: readonly string[],
  known: readonly string[],
  [one, many]: readonly [string, string] = ['option', 'options'],
): string {
  const named: string[] = []
  for (const key of keys) {
    const meant = known.find((option) => squashed(option) === squashed(key))
    if (meant !== undefined) named.push(`"${key}" (did you mean ${meant}?)`)
    else if (OPTION_NAME.test(key)) named.push(`"${key}"`)
  }
  const hidden = keys.length - named.length
  const unshown = `whose name${hidden > 1 ? 's are' : ' is'} not shown (not ${/^[aeiou]/.test(one) ? 'an' : 'a'} ${one} name: it may be a secret)`
  const listed =
    named.length === 0
      ? `${hidden > 1 ? `${hidden} unknown ${many}` : `an unknown ${one}`} ${unshown}`
      : `unknown ${keys.length > 1 ? many : one} ${[...named, ...(hidden > 0 ? [`${hidden} more ${unshown}`] : [])].join(', ')}`
  return `${listed}: the ${many} are ${known.join(', ')}`
}

/**
 * Parses `input` with a zod schema, or throws `invalid_request` naming each problem. The
 * offending values are never echoed (zod 4 leaves inputs out of issues), so a bad card
 * number cannot leak through an error.
 */
export function validate<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  provider?: string,
): z.output<S> {
  const result = safeParseOf(schema, input)
  if (result === undefined) throw unreadable(what, provider)
  if (result.success) return result.data
  const issues = result.error.issues.map((issue) => ({
    path: issue.path,
    message: issue.message,
  }))
  const summary = issues
    .map((issue) =>
      issue.path.length ? `${issue.path.join('.')}: ${issue.message}` : issue.message,
    )
    .join('; ')
  throw new InvalidRequestError(`Invalid ${what}: ${summary}`, { issues, provider })
}

/**
 * `schema.safeParse(input)`, or undefined when reading `input` threw (a getter, a Proxy trap):
 * what it threw is not kept, as its message may quote the card number it could not read.
 */
export function safeParseOf<S extends z.ZodType>(schema: S, input: unknown) {
  try {
    return schema.safeParse(input)
  } catch {
    return undefined
  }
}

/**
 * A shallow copy of `input`, an object the caller gave, read once: a getter or a Proxy trap that
 * throws makes it `invalid_request` ("Invalid <what>: reading it threw"), as {@link validate}
 * does, what it threw not kept (it may quote a card number).
 */
export function copyOf(input: object, what: string, provider?: string): Record<string, unknown> {
  try {
    return { ...input }
  } catch {
    throw unreadable(what, provider)
  }
}

/**
 * The error for an input whose getter or Proxy trap threw while it was read: what it threw may
 * quote a card number, and is not kept.
 */
function unreadable(what: string, provider: string | undefined): InvalidRequestError {
  return new InvalidRequestError(`Invalid ${what}: reading it threw`, {
    issues: [{ path: [], message: 'reading it threw' }],
    provider,
  })
}
