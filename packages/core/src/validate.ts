import type { z } from 'zod'
import { InvalidRequestError } from './errors.js'

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
