import { type CardDetailsInput, CardDetailsSchema, isCardportError } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import { testCard } from './__fixtures__/conformance-fixture.js'
import { toAddressForm, toTokenizeForm } from './card-form.js'

/** The tokenize form of a Visa with `overrides`, checked by the core first as the provider does. */
const formOf = (overrides: Partial<CardDetailsInput>) =>
  toTokenizeForm(
    CardDetailsSchema.parse(testCard('4111111111111111', overrides)),
    undefined,
    'marketplace',
  )

describe('toTokenizeForm', () => {
  it("sends the address's state as region, with the city and the alpha-3 country", () => {
    const address = {
      line1: '167 West 74th Street',
      city: 'New York',
      state: 'NY',
      postalCode: '10023',
      country: 'US',
    }
    expect(formOf({ address })).toMatchObject({
      street_address: '167 West 74th Street',
      city: 'New York',
      region: 'NY',
      postal_code: '10023',
      country_code: 'USA',
    })
    expect(formOf({ address: { state: 'NY' } })).toMatchObject({ region: 'NY' })
  })

  it("sends the metadata's set keys as meta, not those unset with '', and no meta for none", () => {
    const details = CardDetailsSchema.parse(testCard('4111111111111111'))
    const form = toTokenizeForm(details, { plan: 'pro', note: '' }, 'marketplace')
    expect(JSON.stringify(form.meta)).toBe('{"plan":"pro"}')
    expect(toTokenizeForm(details, { note: '' }, 'marketplace')).not.toHaveProperty('meta')
  })

  it('sends a phone of 15 characters, "+" included, as phone_number', () => {
    const phone = '+12345678901234'
    expect(phone).toHaveLength(15)
    expect(formOf({ phone }).phone_number).toBe(phone)
  })

  it('refuses a phone of 16 characters, which E.164 allows, at source.phone', () => {
    const phone = '+123456789012345'
    expect(phone).toHaveLength(16)
    let refused: unknown
    try {
      formOf({ phone })
    } catch (error) {
      refused = error
    }
    expect(isCardportError(refused, 'invalid_request')).toBe(true)
    expect(refused).toMatchObject({ issues: [{ path: ['source', 'phone'] }] })
    expect(String((refused as Error).message)).not.toContain(phone)
  })
})

describe('toAddressForm', () => {
  it('refuses a second address line without a first at line1, rather than drop it', () => {
    let refused: unknown
    try {
      toAddressForm(
        { line2: 'Apt 1', postalCode: '10023', country: 'US' },
        ['source', 'address'],
        'marketplace',
      )
    } catch (error) {
      refused = error
    }
    expect(isCardportError(refused, 'invalid_request')).toBe(true)
    expect(refused).toMatchObject({ issues: [{ path: ['source', 'address', 'line1'] }] })
  })
})
