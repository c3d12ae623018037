import { types } from 'node:util'

/**
 * What kind of value `value` is, for an error message that must not quote the value: what a
 * caller passed where it should not have, or a clock's wrong answer, may be a card number or a
 * secret. A Date is told apart from an Invalid Date (`new Date(NaN)`), and an array from an
 * object; a Date or an array from another realm (a `vm` context, an iframe) is named as one too.
 * It never throws, so that building an error cannot fail: a revoked Proxy is `an object`, or
 * `a function`.
 *
 * @example
 * ```ts
 * kindOf(null) // 'null'
 * kindOf(undefined) // 'undefined'
 * kindOf(4242424242424242) // 'a number'
 * kindOf('sk_live_…') // 'a string'
 * kindOf(true) // 'a boolean'
 * kindOf(10n) // 'a bigint'
 * kindOf(Symbol('s')) // 'a symbol'
 * kindOf(['card_1']) // 'an array'
 * kindOf({ id: 'card_1' }) // 'an object'
 * kindOf(new Date()) // 'a Date'
 * kindOf(new Date(Number.NaN)) // 'an Invalid Date'
 * kindOf(() => 1) // 'a function'
 *
 * throw new InvalidRequestError(`myProvider: now must return a Date, not ${kindOf(got)}`)
 * ```
 */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value)
  // Read through Date.prototype, not the value: a Date's own `getTime` may be anything.
  if (types.isDate(value)) {
    return Number.isNaN(Date.prototype.getTime.call(value)) ? 'an Invalid Date' : 'a Date'
  }
  const type = typeof value
  if (type === 'object' && isArray(value)) return 'an array'
  return `${type === 'object' ? 'an' : 'a'} ${type}`
}

/** `Array.isArray(value)`, false where it throws (a revoked Proxy). */
function isArray(value: unknown): boolean {
  try {
    return Array.isArray(value)
  } catch {
    return false
  }
}
