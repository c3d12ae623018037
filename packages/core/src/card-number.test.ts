import { describe, expect, it } from 'vitest'
import { maskCard } from './card-number.js'

describe('maskCard', () => {
  it.each([
    ['4242', '•••• 4242'],
    ['4000056655665556', '•••• 5556'],
    ['4000 0566 5566 5556', '•••• 5556'],
    // 19 digits grouped 4-4-4-4-3: the last four digits span two groups.
    ['4242 4242 4242 4242 424', '•••• 2424'],
    ['4242-4242-4242-4242-424', '•••• 2424'],
    ['42', '•••• ••42'],
  ])('shows %j as %j', (last4OrNumber, masked) => {
    expect(maskCard(last4OrNumber)).toBe(masked)
  })
})
