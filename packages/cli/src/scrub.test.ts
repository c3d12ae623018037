import { describe, expect, it } from 'vitest'
import { scrub } from './scrub.js'

describe('scrub', () => {
  it.each([
    // Key-shaped up to its second underscore: redactSecrets alone would leave `_emulator`.
    ['sk_test_cardport_emulator', 'key sk_test_cardport_emulator refused'],
    // Holds a card-shaped run: masking it first would leave the rest of the secret around it.
    ['ak-live-4242424242424242-x9', 'key ak-live-4242424242424242-x9 refused'],
  ])('removes a configured secret whole, whatever its shape (%s)', (secret, text) => {
    const scrubbed = scrub(text, new Set([secret]))
    expect(scrubbed).toBe('key [redacted] refused')
  })

  it('still masks card numbers and key-shaped strings that are not configured', () => {
    expect(scrub('card 4242 4242 4242 4242, key sk_live_abc123', new Set())).toBe(
      'card •••• 4242, key sk_live_[redacted]',
    )
  })
})
