import { describe, expect, it } from 'vitest'
import type { Owner } from './card.js'
import { deriveIdempotencyKey } from './derived-key.js'
import { containsCardNumber } from './redact.js'

const owners = (count: number): Owner[] =>
  Array.from({ length: count }, (_, index) => ({ type: 'customer', id: `cus_${index}` }))

describe('deriveIdempotencyKey', () => {
  it('is the same for the same call, and differs by operation, provider, owner and input', () => {
    const alice: Owner = { type: 'customer', id: 'cus_alice' }
    const key = deriveIdempotencyKey('set-default', 'stripe', alice, 'tok_visa')
    expect(deriveIdempotencyKey('set-default', 'stripe', alice, 'tok_visa')).toBe(key)
    const others = [
      deriveIdempotencyKey('create', 'stripe', alice, 'tok_visa'),
      deriveIdempotencyKey('set-default', 'marketplace', alice, 'tok_visa'),
      deriveIdempotencyKey(
        'set-default',
        'stripe',
        { type: 'account', id: 'cus_alice' },
        'tok_visa',
      ),
      deriveIdempotencyKey('set-default', 'stripe', alice, 'tok_amex'),
    ]
    expect(new Set([key, ...others]).size).toBe(5)
  })

  // The key is sent to the provider as a header and kept in the store's retirement notes
  // (`call_key`), which a scan of stored rows for card numbers reads. A hex digest holds a digit
  // run that reads as a card number about once in 1,400 keys: these 20,000 owners hold several.
  it('never holds a digit run that reads as a card number', () => {
    const keys = owners(20_000).map((owner) =>
      deriveIdempotencyKey('set-default', 'stripe', owner, 'tok_visa'),
    )
    expect(new Set(keys).size).toBe(keys.length)
    expect(keys.filter(containsCardNumber)).toEqual([])
    expect(keys.filter((key) => /\d/.test(key))).toEqual([])
  })

  // 128 bits, a letter for each half-byte: 32 letters, and each of the 16 in every place.
  it('writes 128 bits of the digest in the letters a to p', () => {
    const keys = owners(2_000).map((owner) =>
      deriveIdempotencyKey('set-default', 'stripe', owner, 'tok_visa'),
    )
    for (const key of keys) expect(key).toMatch(/^cardport-set-default-[a-p]{32}$/)
    for (let place = 0; place < 32; place++) {
      const letters = new Set(keys.map((key) => key.slice(-32)[place]))
      expect(letters.size, `place ${place}`).toBe(16)
    }
  })
})
