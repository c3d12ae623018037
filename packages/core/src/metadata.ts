import { z } from 'zod'
import { containsCardNumber, maskCardNumbers } from './redact.js'

/** Stripe's limits, which cardport applies to every provider: a card's metadata fits anywhere. */
export const METADATA_LIMITS = { maxKeys: 50, maxKeyLength: 40, maxValueLength: 500 } as const

const MetadataKeySchema = z
  .string()
  .min(1, 'a metadata key cannot be empty')
  .max(
    METADATA_LIMITS.maxKeyLength,
    `a metadata key is at most ${METADATA_LIMITS.maxKeyLength} characters`,
  )
  .refine((key) => !key.includes('[') && !key.includes(']'), {
    message: 'a metadata key cannot contain square brackets',
  })

const MetadataTextSchema = z
  .string()
  .max(
    METADATA_LIMITS.maxValueLength,
    `a metadata value is at most ${METADATA_LIMITS.maxValueLength} characters`,
  )

// No field ever holds a card number (DESIGN): refused before any request, never echoed.
const MetadataValueSchema = MetadataTextSchema.refine((value) => !containsCardNumber(value), {
  message: 'a card number is not allowed in a metadata value: keep card numbers out of metadata',
})

const withKeyLimit = <T extends z.ZodType<Record<string, string>>>(schema: T) =>
  schema.refine((pairs) => Object.keys(pairs).length <= METADATA_LIMITS.maxKeys, {
    message: `metadata holds at most ${METADATA_LIMITS.maxKeys} keys`,
  })

/**
 * Metadata as stored on a card: string keys to non-empty string values, at most 50 keys,
 * keys at most 40 characters, values at most 500. A value holding a card number (a Luhn-valid
 * run of 13 to 19 digits, spaces and dashes allowed) is refused.
 */
export const MetadataSchema = withKeyLimit(
  z.record(MetadataKeySchema, MetadataValueSchema.min(1, 'a stored metadata value is never empty')),
)

/** Stored card metadata. */
export type Metadata = z.infer<typeof MetadataSchema>

/**
 * The metadata of a card read from a provider (`CardSchema.metadata`): as {@link MetadataSchema},
 * except that a card number in a value is masked (`•••• 4242`) rather than refused, so that a
 * provider payload can neither smuggle one into the store nor make a whole listing unreadable.
 */
export const ProviderMetadataSchema = withKeyLimit(
  z.record(
    MetadataKeySchema,
    MetadataTextSchema.min(1, 'a stored metadata value is never empty').overwrite(maskCardNumbers),
  ),
)

/**
 * Metadata sent in a create or an update: as {@link MetadataSchema} (a card number in a value is
 * refused), except that an empty value unsets its key (Stripe's rule, applied by every adapter).
 */
export const MetadataPatchSchema = withKeyLimit(z.record(MetadataKeySchema, MetadataValueSchema))

/** Metadata in a request; `''` unsets a key. */
export type MetadataPatch = z.infer<typeof MetadataPatchSchema>

/**
 * Applies a metadata patch to stored metadata: a key with `''` is removed, others are set.
 * Adapters whose provider replaces metadata whole (the marketplace's `meta`) use it to keep
 * Stripe's merge semantics.
 */
export function applyMetadataPatch(current: Metadata, patch: MetadataPatch): Metadata {
  const next: Record<string, string> = { ...current }
  for (const [key, value] of Object.entries(patch)) {
    if (value === '') delete next[key]
    else next[key] = value
  }
  return next
}
