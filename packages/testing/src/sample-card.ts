import { type Card, EMPTY_ADDRESS, type Owner } from '@cardport/core'
import { definedFields } from './defined-fields.js'

/**
 * A valid normalized {@link Card} of `owner` for tests: a Visa ending 4242 at the `memory`
 * provider, every optional field null, accounts' cards in `usd`. `overrides` replaces any
 * field; one given as `undefined` keeps its default. Every call returns new objects, so a test
 * may change what it gets.
 *
 * @example
 * ```ts
 * await store.upsert(sampleCard('card_1', { type: 'customer', id: 'cus_1' }, { isDefault: true }))
 * ```
 */
export function sampleCard(
  id: string,
  owner: Owner,
  overrides: { [K in keyof Card]?: Card[K] | undefined } = {},
): Card {
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
    ...definedFields(overrides),
  }
}
