import type qs from 'qs'

/**
 * The `qs` options under which a form keeps every key it was sent, `constructor`, `toString`,
 * `hasOwnProperty` and `__proto__` included, with no way to reach `Object.prototype`: objects
 * are built without a prototype (`plainObjects`), so a key named like one of its members is
 * plain data, and the key decoder writes `__proto__` as a key `qs` does not drop (it drops that
 * one whatever the options). {@link formValue} turns the result into ordinary objects with the
 * keys as sent. Both emulators parse their form bodies with these, as the APIs they emulate
 * keep any string key (Stripe's `metadata[constructor]=…`, the marketplace's `meta[…]`).
 *
 * @internal
 */
export const FORM_KEY_OPTIONS = Object.freeze({
  plainObjects: true,
  decoder: (text, defaultDecoder, charset, type) => {
    const decoded: unknown = defaultDecoder(text, defaultDecoder, charset)
    return type === 'key' && typeof decoded === 'string' ? escapeKey(decoded) : decoded
  },
} satisfies qs.IParseOptions)

/**
 * A key as `qs` parsed it under {@link FORM_KEY_OPTIONS}, back as it was sent.
 *
 * @internal
 */
export function formKey(key: string): string {
  return key.includes('__proto__') ? key.replace(ESCAPED, '__proto__$1') : key
}

/**
 * What `qs` parsed under {@link FORM_KEY_OPTIONS} as ordinary objects and arrays, each key as
 * sent ({@link formKey}), an own `__proto__` key as data ({@link setEntry}). For a parser with
 * no other work to do on the result (Stripe's form reader restores its own shapes on the way).
 *
 * @internal
 */
export function formValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(formValue)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, inner] of Object.entries(value)) setEntry(out, formKey(key), formValue(inner))
  return out
}

/**
 * `target[key] = value`, except that a `__proto__` key is stored as an own field: an assignment
 * would call `Object.prototype`'s `__proto__` setter instead, dropping a string and making an
 * object the target's prototype. For copies of maps whose keys a client chose (metadata).
 *
 * @internal
 */
export function setEntry(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    })
  } else target[key] = value
}

// Each `__proto__` in a key gets one more NUL after it (`__proto__` → `__proto__\0`, and a sent
// `__proto__\0` → `__proto__\0\0`), so that no key `qs` splits is `__proto__` and each maps back.
const SENT = /__proto__(\0*)/g
const ESCAPED = /__proto__\0(\0*)/g

function escapeKey(key: string): string {
  return key.includes('__proto__') ? key.replace(SENT, '__proto__$1\0') : key
}
