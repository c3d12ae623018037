// The containment check must fail on each thing it exists to catch, or a hostile-input
// property built on it proves nothing: a leak in a log line, an error's cause, a result or a
// stored row; a throw that is not a CardportError; a write by a call that failed.
import { type Card, type CardStore, InvalidRequestError } from '@cardport/core'
import { type MarketplaceEmulator, sampleCard } from '@cardport/testing/emulators'
import type Database from 'better-sqlite3'
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
const scope = { provider: card.provider, owner: card.owner }

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

  it('fails on a stored card returned whose holder name holds a card number', async () => {
    // The result is a StoredCard: its bookkeeping is left out of the scan, not its card.
    await withStore(async (_db, store) => {
      await store.upsert({ ...card, holderName: NUMBER })
      const read = () => store.get(scope, card.id)
      await expect(contained(read)).rejects.toThrow(/leaks in the result/)
    })
  })

  it('fails on a stored row holding a card number or a key', async () => {
    const leaky: Partial<Card>[] = [
      { holderName: NUMBER },
      { holderName: SECRETS.webhookSecret },
      // A JSON column: the scan reads it, not only the plain text ones.
      { metadata: { note: NUMBER } },
    ]
    for (const fields of leaky) {
      await withStore(async (db, store) => {
        const write = async () => {
          await store.upsert({ ...card, ...fields })
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

  // Every cardport table is compared, not only the cards': a failed call that leaves a
  // tombstone, an owner or a retirement note behind has written too.
  it.each([
    [
      'only a tombstone',
      async (_db: Database.Database, store: CardStore) => {
        await store.delete(scope, 'card_never_stored', { observedAt: Date.now() })
      },
    ],
    [
      'only an owner row',
      async (db: Database.Database) => {
        db.prepare(
          'INSERT INTO cardport_card_owners (provider, owner_type, owner_id) VALUES (?, ?, ?)',
        ).run('memory', 'customer', 'cus_other')
      },
    ],
    [
      'only a retirement note',
      async (_db: Database.Database, store: CardStore) => {
        await store.retirements!.save(scope, 'key_1', [{ cardId: card.id, currency: null }])
      },
    ],
  ])('fails on a call that failed after writing %s', async (_what, write) => {
    await withStore(async (db, store) => {
      await store.upsert(card)
      const call = async () => {
        await write(db, store)
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
