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
  const result = schema.safeParse(input)
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
