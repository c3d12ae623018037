/**
 * `fields` without its `undefined` entries, for the seed helpers and `sampleCard`, which spread
 * what the caller gives over their defaults: `{ name: 'Test Account', ...fields }` would let
 * `{ name: undefined }` (what `exactOptionalPropertyTypes` lets a caller write for a value it
 * may not have) replace the default, where an absent `name` keeps it. With this, both mean
 * "not given". Returns a new object; `fields` is left as it is.
 *
 * @internal
 */
export function definedFields<T extends object>(
  fields: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined) out[key] = value
  }
  return out as { [K in keyof T]?: Exclude<T[K], undefined> }
}
