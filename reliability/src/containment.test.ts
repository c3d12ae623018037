// The containment check must fail on each thing it exists to catch, or a hostile-input
// property built on it proves nothing: a leak in a log line, an error's cause, a result or a
// stored row; a throw that is not a CardportError; a write by a call that failed.
import { type Card, InvalidRequestError } from '@cardport/core'
import { type MarketplaceEmulator, sampleCard } from '@cardport/testing/emulators'
import { describe, expect, it } from 'vitest'
import { contained, withStore } from './support/containment.js'
import { ALL_SECRETS, MARKETPLACE_SECRET } from './support/hostile-arbitraries.js'
import { SECRETS, TEST_CARD_NUMBERS } from './support/leak-scan.js'
import { providersUnderTest } from './support/providers.js'

const NUMBER = '4242 4242 4242 4242'
expect(NUMBER.replaceAll(' ', '')).toBe(TEST_CARD_NUMBERS[0])

const card: Card = sampleCard(
  'card_contained',
  { type: 'customer', id: 'cus_contained' },
  { provider: 'stripe' },
)

describe('contained', () => {
  it('passes a call that returns clean data or throws a clean CardportError', async () => {
    await expect(contained(() => ({ last4: '4242' }))).resolves.toEqual({
      result: { last4: '4242' },
    })
    await withStore(async (db, store) => {
      await store.upsert(card)
      const { error } = await contained(() => {
        throw new InvalidRequestError('refused')
      }, db)
      expect(error).toBeInstanceOf(InvalidRequestError)
    })
  })

  it.each([
    ['a card number logged', () => console.warn('payload', { number: NUMBER }), /leaks in the log/],
    ['a key logged', () => console.log(`key ${SECRETS.stripeKey}`), /leaks in the log/],
    ['a card number in the result', () => ({ holderName: NUMBER }), /leaks in the result/],
    [
      "a card number in the error's cause",
      () => {
        throw new InvalidRequestError('bad token', { cause: new Error(`No such token: ${NUMBER}`) })
      },
      /leaks in the error/,
    ],
    [
      'a throw that is no CardportError',
      () => {
        throw new TypeError('Cannot read properties of null')
      },
      /threw TypeError/,
    ],
  ])('fails on %s', async (_what, call, message) => {
    await expect(contained(call)).rejects.toThrow(message)
  })

  it('fails on a stored row holding a card number or a key', async () => {
    for (const holderName of [NUMBER, SECRETS.webhookSecret]) {
      await withStore(async (db, store) => {
        const write = async () => {
          await store.upsert({ ...card, holderName })
        }
        await expect(contained(write, db)).rejects.toThrow(/leaks in the stored rows/)
      })
    }
  })

  it('fails on a write by a call that failed', async () => {
    await withStore(async (db, store) => {
      const call = async () => {
        await store.upsert(card)
        throw new InvalidRequestError('refused after a write')
      }
      await expect(contained(call, db)).rejects.toThrow(/the store after a failed call/)
    })
  })
})

describe('the secrets scanned for', () => {
  it('are the ones the providers under test use', () => {
    // The marketplace secret is the emulator's: were it to change, the scan would look for one
    // that no request carries.
    const { marketplace } = providersUnderTest()
    expect((marketplace.emulator as MarketplaceEmulator).secret).toBe(MARKETPLACE_SECRET)
    expect(ALL_SECRETS).toEqual(expect.arrayContaining([SECRETS.stripeKey, SECRETS.webhookSecret]))
  })
})
