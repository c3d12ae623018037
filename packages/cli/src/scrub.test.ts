import { describe, expect, it } from 'vitest'
import { scrub, scrubData } from './scrub.js'

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

describe('scrubData', () => {
  it("keeps the data's keys and its fixed words, and scrubs its free text and a metadata key", () => {
    const secrets = new Set(['cards', 'visa'])
    const data = {
      cardsSeen: 2,
      counts: { added: 1 },
      failed: [
        {
          owner: { type: 'customer', id: 'cus_visa' },
          source: 'store',
          code: 'store_failed',
          message: 'no cards for visa',
        },
      ],
      card: {
        brand: 'visa',
        status: 'active',
        holderName: 'Visa visa',
        address: { city: 'cards town', postalCode: 'visa' },
        checks: { postalCode: 'pass' },
        metadata: { visa: 'cards' },
      },
    }
    expect(scrubData(data, secrets)).toEqual({
      cardsSeen: 2,
      counts: { added: 1 },
      failed: [
        {
          owner: { type: 'customer', id: 'cus_[redacted]' },
          source: 'store',
          code: 'store_failed',
          message: 'no [redacted] for [redacted]',
        },
      ],
      card: {
        brand: 'visa',
        status: 'active',
        holderName: 'Visa [redacted]',
        address: { city: '[redacted] town', postalCode: '[redacted]' },
        checks: { postalCode: 'pass' },
        metadata: { '[redacted]': '[redacted]' },
      },
    })
  })
})
