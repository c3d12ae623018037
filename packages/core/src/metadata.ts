import { z } from 'zod'
import { containsCardNumber, maskCardNumbers } from './redact.js'

/**
 * Stripe's limits, which cardport applies to the metadata callers send to every provider, so
 * that what an application writes fits anywhere. Metadata read from a provider is taken as the
 * provider holds it ({@link ProviderMetadataSchema}): a marketplace's `meta` has no such limits.
 */
export const METADATA_LIMITS = {
  /** The most keys one card's metadata holds. */
  maxKeys: 50,
  /** The longest key, in UTF-16 code units (`string.length`). */
  maxKeyLength: 40,
  /** The longest value, in UTF-16 code units (`string.length`). */
  maxValueLength: 500,
} as const

/**
 * What a metadata schema does: refuse or allow `''`, refuse or mask a card number, apply
 * {@link METADATA_LIMITS} (and no empty keys, no square brackets) or take the keys and sizes
 * as they come.
 */
interface MetadataRules {
  emptyValues: 'refuse' | 'allow'
  cardNumbers: 'refuse' | 'mask'
  limits: 'apply' | 'ignore'
}

/**
 * Metadata is checked in one pass over its pairs: `z.record` runs a key schema and a value
 * schema for each pair, which made metadata the dearest field of a card (2 µs for two pairs,
 * more than the rest of the Card schema together; `bench/normalize.mjs`). The rules and their
 * words are the same; each problem is an issue at the pair's key.
 *
 * The same pass makes the copy the schema gives, its keys listed once and each value read
 * once: the copy holds the very values checked. Checked in one pass and copied in another, a
 * getter (or a Proxy) that answered `'ok'` to the check and a card number to the copy had the
 * card number sent to the provider.
 */
function metadataSchema(rules: MetadataRules) {
  const mask = rules.cardNumbers === 'mask'
  return z
    .custom<Record<string, string>>(isPlainObject, 'metadata is an object of string values')
    .check((ctx) => {
      const pairs: Record<string, unknown> = ctx.value
      if (Object.getOwnPropertySymbols(pairs).some((key) => isEnumerable(pairs, key))) {
        ctx.issues.push({ code: 'custom', message: 'a metadata key is a string', input: pairs })
      }
      const copy: Record<string, string> = {}
      let count = 0
      for (const key of Object.keys(pairs)) {
        // Left out, as z.record did: a pair written `__proto__` would replace a copy's prototype.
        if (key === '__proto__') continue
        count++
        const value = pairs[key]
        const message =
          (rules.limits === 'apply' ? keyProblem(key) : undefined) ??
          keyCardNumberProblem(key, rules) ??
          valueProblem(value, rules)
        if (message) {
          ctx.issues.push({ code: 'custom', message, input: pairs, path: [key] })
          continue
        }
        // A key holding a card number is masked too: two such keys may mask alike, and the
        // later one's value wins.
        copy[mask ? maskCardNumbers(key) : key] = mask
          ? maskCardNumbers(value as string)
          : (value as string)
      }
      if (rules.limits === 'apply' && count > METADATA_LIMITS.maxKeys) {
        const message = `metadata holds at most ${METADATA_LIMITS.maxKeys} keys`
        ctx.issues.push({ code: 'custom', message, input: pairs })
      }
      // What the schema gives: the pairs only, as checked, never the caller's object.
      ctx.value = copy
    })
}

function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'a metadata key cannot be empty'
  if (key.length > METADATA_LIMITS.maxKeyLength) {
    return `a metadata key is at most ${METADATA_LIMITS.maxKeyLength} characters`
  }
  if (key.includes('[') || key.includes(']')) {
    return 'a metadata key cannot contain square brackets'
  }
  return undefined
}

function keyCardNumberProblem(key: string, rules: MetadataRules): string | undefined {
  if (rules.cardNumbers === 'refuse' && containsCardNumber(key)) {
    return 'a card number is not allowed in a metadata key: keep card numbers out of metadata'
  }
  return undefined
}

function valueProblem(value: unknown, rules: MetadataRules): string | undefined {
  if (typeof value !== 'string') return 'a metadata value is a string'
  if (rules.limits === 'apply' && value.length > METADATA_LIMITS.maxValueLength) {
    return `a metadata value is at most ${METADATA_LIMITS.maxValueLength} characters`
  }
  if (value.length === 0 && rules.emptyValues === 'refuse') {
    return 'a stored metadata value is never empty'
  }
  // No field ever holds a card number (DESIGN): refused before any request, never echoed.
  if (rules.cardNumbers === 'refuse' && containsCardNumber(value)) {
    return 'a card number is not allowed in a metadata value: keep card numbers out of metadata'
  }
  return undefined
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

const isEnumerable = (object: object, key: PropertyKey) =>
  Object.prototype.propertyIsEnumerable.call(object, key)

/**
 * Metadata as stored on a card: string keys to non-empty string values, at most 50 keys,
 * keys at most 40 characters without square brackets, values at most 500. A key or a value
 * holding a card number (a Luhn-valid run of 13 to 19 digits, spaces and dashes allowed) is
 * refused. It gives a copy of the pairs, never the object it was given, each key and value read
 * once: the copy holds the values checked, whatever a getter or a Proxy answers when asked again.
 */
export const MetadataSchema = metadataSchema({
  emptyValues: 'refuse',
  cardNumbers: 'refuse',
  limits: 'apply',
})

/** Stored card metadata. */
export type Metadata = z.infer<typeof MetadataSchema>

/**
 * The metadata of a card read from a provider (`CardSchema.metadata`): string keys to non-empty
 * string values, as the provider holds them. Unlike {@link MetadataSchema}, a card number in a
 * key or a value is masked (`•••• 4242`) rather than refused, and {@link METADATA_LIMITS} do not
 * apply (they are Stripe's rules for what is sent; a marketplace's `meta` has none): one card's
 * metadata can neither smuggle a card number into the store nor make a whole listing unreadable.
 * As {@link MetadataSchema}, it gives a copy holding the values checked, each read once.
 */
export const ProviderMetadataSchema = metadataSchema({
  emptyValues: 'refuse',
  cardNumbers: 'mask',
  limits: 'ignore',
})

/**
 * Metadata sent in a create or an update: as {@link MetadataSchema} (a card number in a key or a
 * value is refused), except that an empty value unsets its key (Stripe's rule, applied by every
 * adapter).
 */
export const MetadataPatchSchema = metadataSchema({
  emptyValues: 'allow',
  cardNumbers: 'refuse',
  limits: 'apply',
})

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

/**
 * The metadata of a provider's payload as a card holds it, for an adapter's mapping: the pairs
 * whose value is a non-empty string, in a new object. Anything else is dropped: an empty string
 * (Stripe's way of unsetting a key), a number, `null`, a nested object, and a `__proto__` key
 * (which `JSON.parse` makes an own property). A payload that is no object (missing, `null`,
 * a string) or an array gives `{}`. `CardSchema` then checks the result as
 * {@link ProviderMetadataSchema} (a card number in a value is masked).
 *
 * @example
 * ```ts
 * providerMetadata({ order: '42', empty: '', count: 3 }) // { order: '42' }
 * providerMetadata(undefined) // {}
 * ```
 */
export function providerMetadata(value: unknown): Metadata {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {}
  const source = value as Record<string, unknown>
  const pairs: Metadata = {}
  // `Object.keys`, not `Object.entries`: no array allocated for each pair.
  for (const key of Object.keys(source)) {
    const item = source[key]
    // A `__proto__` key is dropped here: assigning a string to it changes nothing.
    if (typeof item === 'string' && item !== '') pairs[key] = item
  }
  return pairs
}
