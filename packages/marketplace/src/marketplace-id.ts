import { z } from 'zod'

/**
 * A marketplace id, as `marketplaceProvider` takes it in `marketplaceId`: letters, digits, `_`
 * and `-`, such as `TEST-MP6xDq5coY66zGqeAztpK2Sj`. The id goes into the path of every request
 * (`/v1/marketplaces/:mp/…`), so a `/`, a `?` or a space is refused before any request rather
 * than sent to another route. Its message never repeats the value, and names no option: put the
 * name of what you checked before it (a flag, a variable, a form field).
 *
 * @example
 * ```ts
 * MarketplaceIdSchema.safeParse('TEST-MP6xDq5coY66zGqeAztpK2Sj').success // true
 * MarketplaceIdSchema.safeParse('MP/1').success // false
 * ```
 */
export const MarketplaceIdSchema: z.ZodString = z
  .string()
  .regex(
    /^[A-Za-z0-9_-]+$/,
    'must be a marketplace id: letters, digits, _ and - (such as TEST-MP6xDq5coY66zGqeAztpK2Sj)',
  )
