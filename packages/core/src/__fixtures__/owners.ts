import type { Owner } from '../card.js'

/** `count` customers, `cus_0` to `cus_<count - 1>`. */
export function customers(count: number): Owner[] {
  return Array.from({ length: count }, (_, index) => ({ type: 'customer', id: `cus_${index}` }))
}
