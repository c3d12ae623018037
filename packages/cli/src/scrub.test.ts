import { describe, expect, it } from 'vitest'
import { collectSecrets, scrub, scrubData } from './scrub.js'

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

describe('collectSecrets', () => {
  it('collects the password of --store=<url>, as typed and decoded, and its ?sslpassword=', () => {
    const secrets = new Set<string>()
    collectSecrets(['--store=postgres://u:p%40ss@h/db?sslpassword=k3y'], {}, secrets)
    expect(secrets).toEqual(new Set(['p%40ss', 'p@ss', 'k3y']))
  })

  it('decodes as pg does: a + of the user info is a +, one of ?password= a space', () => {
    const secrets = new Set<string>()
    // pg logs in with pa+ss@word (pg-connection-string's parse), and with a b@c for the query's.
    collectSecrets(['--store', 'postgres://app:pa+ss%40word@db/app'], {}, secrets)
    collectSecrets([], { CARDPORT_STORE: 'postgres://app@db/app?password=a+b%40c' }, secrets)
    expect(scrub('holder: pa+ss@word', secrets)).toBe('holder: [redacted]')
    expect(scrub('holder: a b@c', secrets)).toBe('holder: [redacted]')
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
