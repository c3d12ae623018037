import { CardSchema } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import { sampleCard } from './sample-card.js'

describe('sampleCard', () => {
  it('is a valid Card for a customer and for an account (with a currency)', () => {
    const customer = sampleCard('card_1', { type: 'customer', id: 'cus_1' })
    const account = sampleCard('card_2', { type: 'account', id: 'acct_1' }, { isDefault: true })
    expect(CardSchema.parse(customer)).toEqual(customer)
    expect(CardSchema.parse(account)).toEqual(account)
    expect([customer.currency, account.currency, account.isDefault]).toEqual([null, 'usd', true])
  })

  it('shares no object between calls or with the owner given', () => {
    const owner = { type: 'customer', id: 'cus_1' } as const
    const first = sampleCard('card_1', owner)
    first.address.city = 'changed'
    first.owner.id = 'changed'
    expect(sampleCard('card_1', owner).address.city).toBeNull()
    expect(owner.id).toBe('cus_1')
  })

  it('keeps the default of a field whose override is undefined, as of one not given', () => {
    // What `exactOptionalPropertyTypes` lets a caller write: `{ holderName: maybeName }`.
    const owner = { type: 'account', id: 'acct_1' } as const
    const card = sampleCard('card_1', owner, {
      holderName: undefined,
      currency: undefined,
      isDefault: undefined,
    })
    expect(card).toStrictEqual(sampleCard('card_1', owner))
    expect(CardSchema.parse(card)).toStrictEqual(card)
  })
})
