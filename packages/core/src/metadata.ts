import { z } from 'zod'

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

const MetadataValueSchema = z
  .string()
  .max(
    METADATA_LIMITS.maxValueLength,
    `a metadata value is at most ${METADATA_LIMITS.maxValueLength} characters`,
  )

const withKeyLimit = <T extends z.ZodType<Record<string, string>>>(schema: T) =>
  schema.refine((pairs) => Object.keys(pairs).length <= METADATA_LIMITS.maxKeys, {
    message: `metadata holds at most ${METADATA_LIMITS.maxKeys} keys`,
  })

/**
 * Metadata as stored on a card: string keys to non-empty string values, at most 50 keys,
 * keys at most 40 characters, values at most 500.
 */
export const MetadataSchema = withKeyLimit(
  z.record(MetadataKeySchema, MetadataValueSchema.min(1, 'a stored metadata value is never empty')),
)

/** Stored card metadata. */
export type Metadata = z.infer<typeof MetadataSchema>

/**
 * Metadata sent in a create or an update: as {@link MetadataSchema}, except that an empty value
 * unsets its key (Stripe's rule, applied by every adapter).
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
