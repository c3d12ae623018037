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
  // What a spread copies, less the undefined entries: symbol keys too, and an own `__proto__`
  // as a field (an assignment would set the copy's prototype instead).
  const out: Record<PropertyKey, unknown> = {}
  for (const key of Reflect.ownKeys(fields)) {
    if (!Object.prototype.propertyIsEnumerable.call(fields, key)) continue
    const value = (fields as Record<PropertyKey, unknown>)[key]
    if (value === undefined) continue
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  }
  return out as { [K in keyof T]?: Exclude<T[K], undefined> }
}
