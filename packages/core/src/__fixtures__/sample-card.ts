import { type Card, EMPTY_ADDRESS, type Owner } from '../card.js'

/**
 * A valid card of `owner` at the `memory` provider, every optional field null, for the core's
 * own tests. `@cardport/testing` exports the same builder as `sampleCard` for everyone else;
 * the core cannot import it (the testing package depends on the core).
 */
export function sampleCard(id: string, owner: Owner, overrides: Partial<Card> = {}): Card {
  return {
    id,
    provider: 'memory',
    owner: { type: owner.type, id: owner.id },
    brand: 'visa',
    last4: '4242',
    expMonth: 12,
    expYear: 2040,
    holderName: null,
    address: { ...EMPTY_ADDRESS },
    country: 'US',
    fingerprint: null,
    funding: 'credit',
    checks: { cvc: null, addressLine1: null, postalCode: null },
    currency: owner.type === 'account' ? 'usd' : null,
    isDefault: false,
    status: 'active',
    metadata: {},
    createdAt: null,
    ...overrides,
  }
}
