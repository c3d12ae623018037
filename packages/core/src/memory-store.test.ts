import { beforeEach, describe, expect, it } from 'vitest'
import { rejection } from './__fixtures__/errors.js'
import { sampleCard } from './__fixtures__/sample-card.js'
import { type Card, EMPTY_ADDRESS, type Owner } from './card.js'
import { memoryStore } from './memory-store.js'
import { toArray } from './pagination.js'
import type { CardScope, CardStore } from './store.js'

const alice: Owner = { type: 'customer', id: 'cus_alice' }
const bob: Owner = { type: 'customer', id: 'cus_bob' }
const shop: Owner = { type: 'account', id: 'acct_shop' }
const aliceScope: CardScope = { provider: 'memory', owner: alice }
const bobScope: CardScope = { provider: 'memory', owner: bob }
const shopScope: CardScope = { provider: 'memory', owner: shop }

let store: CardStore
beforeEach(() => {
  store = memoryStore()
})

describe('memoryStore: owner scoping', () => {
  it("never shows one owner's card through another owner's scope", async () => {
    await store.upsert(sampleCard('card_a', alice))
    expect(await store.get(bobScope, 'card_a')).toBeNull()
    expect(await store.listByOwner(bobScope)).toEqual([])
    expect(await store.getDefault(bobScope)).toBeNull()
    expect((await store.get(aliceScope, 'card_a'))?.id).toBe('card_a')
  })

  it("does not delete one owner's card through another owner's scope", async () => {
    await store.upsert(sampleCard('card_a', alice))
    expect(await store.delete(bobScope, 'card_a')).toBe(false)
    expect((await store.get(aliceScope, 'card_a'))?.id).toBe('card_a')
    expect(await store.delete(aliceScope, 'card_a')).toBe(true)
    expect(await store.get(aliceScope, 'card_a')).toBeNull()
    expect(await store.delete(aliceScope, 'card_a')).toBe(false)
  })

  it('keeps the same owner apart at two providers, and the same id apart at two owners', async () => {
    await store.upsert(sampleCard('card_a', alice))
    await store.upsert({ ...sampleCard('card_a', alice), provider: 'stripe', last4: '1111' })
    await store.upsert({ ...sampleCard('card_a', bob), last4: '2222' })
    expect((await store.get(aliceScope, 'card_a'))?.last4).toBe('4242')
    expect((await store.get({ provider: 'stripe', owner: alice }, 'card_a'))?.last4).toBe('1111')
    expect((await store.get(bobScope, 'card_a'))?.last4).toBe('2222')
  })

  it('does not make a default of one owner clear the default of another', async () => {
    await store.upsert(sampleCard('card_a', alice, { isDefault: true }))
    await store.upsert(sampleCard('card_b', bob, { isDefault: true }))
    expect((await store.getDefault(aliceScope))?.id).toBe('card_a')
    expect((await store.getDefault(bobScope))?.id).toBe('card_b')
  })
})

describe('memoryStore: defaults', () => {
  it('keeps one default per customer: upserting a default clears the old one', async () => {
    await store.upsert(sampleCard('card_1', alice, { isDefault: true }))
    await store.upsert(sampleCard('card_2', alice))
    expect((await store.getDefault(aliceScope))?.id).toBe('card_1')
    await store.upsert(sampleCard('card_2', alice, { isDefault: true }))
    expect((await store.getDefault(aliceScope))?.id).toBe('card_2')
    expect((await store.get(aliceScope, 'card_1'))?.isDefault).toBe(false)
    expect(await defaultIds(aliceScope)).toEqual(['card_2'])
  })

  it('keeps one default per currency for account cards', async () => {
    await store.upsert(sampleCard('usd_1', shop, { currency: 'usd', isDefault: true }))
    await store.upsert(sampleCard('eur_1', shop, { currency: 'eur', isDefault: true }))
    expect(await defaultIds(shopScope)).toEqual(['eur_1', 'usd_1'])
    await store.upsert(sampleCard('usd_2', shop, { currency: 'usd', isDefault: true }))
    expect(await defaultIds(shopScope)).toEqual(['eur_1', 'usd_2'])
    expect((await store.get(shopScope, 'usd_1'))?.isDefault).toBe(false)
  })

  it('setDefault moves the default, per currency for accounts', async () => {
    await store.upsert(sampleCard('card_1', alice, { isDefault: true }))
    await store.upsert(sampleCard('card_2', alice))
    await store.setDefault(aliceScope, 'card_2')
    expect(await defaultIds(aliceScope)).toEqual(['card_2'])

    await store.upsert(sampleCard('usd_1', shop, { currency: 'usd', isDefault: true }))
    await store.upsert(sampleCard('usd_2', shop, { currency: 'usd' }))
    await store.upsert(sampleCard('eur_1', shop, { currency: 'eur', isDefault: true }))
    await store.setDefault(shopScope, 'usd_2')
    expect(await defaultIds(shopScope)).toEqual(['eur_1', 'usd_2'])
  })

  it('setDefault(null) clears every default of the owner, and only of that owner', async () => {
    await store.upsert(sampleCard('usd_1', shop, { currency: 'usd', isDefault: true }))
    await store.upsert(sampleCard('eur_1', shop, { currency: 'eur', isDefault: true }))
    await store.upsert(sampleCard('card_a', alice, { isDefault: true }))
    await store.setDefault(shopScope, null)
    expect(await defaultIds(shopScope)).toEqual([])
    expect(await store.getDefault(shopScope)).toBeNull()
    expect(await store.listByOwner(shopScope)).toHaveLength(2)
    expect((await store.getDefault(aliceScope))?.id).toBe('card_a')
  })

  it('setDefault with an id the owner does not hold changes nothing', async () => {
    await store.upsert(sampleCard('card_1', alice, { isDefault: true }))
    await store.upsert(sampleCard('card_b', bob))
    await store.setDefault(aliceScope, 'card_b')
    expect(await defaultIds(aliceScope)).toEqual(['card_1'])
    expect((await store.get(bobScope, 'card_b'))?.isDefault).toBe(false)
  })
})

describe('memoryStore: ordering of writes', () => {
  it('refuses a write older than the stored one', async () => {
    await store.upsert(sampleCard('card_1', alice, { holderName: 'new' }), { observedAt: 2000 })
    const stale = await store.upsert(sampleCard('card_1', alice, { holderName: 'old' }), {
      observedAt: 1000,
    })
    expect(stale.applied).toBe(false)
    expect(stale.card?.holderName).toBe('new')
    expect((await store.get(aliceScope, 'card_1'))?.holderName).toBe('new')

    const newer = await store.upsert(sampleCard('card_1', alice, { holderName: 'newer' }), {
      observedAt: 3000,
    })
    expect(newer.applied).toBe(true)
    expect(newer.card).toMatchObject({ holderName: 'newer', observedAt: 3000 })
  })

  it('refuses a delete older than the stored row', async () => {
    await store.upsert(sampleCard('card_1', alice), { observedAt: 2000 })
    expect(await store.delete(aliceScope, 'card_1', { observedAt: 1000 })).toBe(false)
    expect((await store.get(aliceScope, 'card_1'))?.id).toBe('card_1')
  })

  it('refuses to re-create a card from a write older than its deletion (tombstone)', async () => {
    await store.upsert(sampleCard('card_1', alice), { observedAt: 1000 })
    expect(await store.delete(aliceScope, 'card_1', { observedAt: 3000 })).toBe(true)
    const late = await store.upsert(sampleCard('card_1', alice), { observedAt: 2000 })
    expect(late).toEqual({ applied: false, card: null })
    expect(await store.get(aliceScope, 'card_1')).toBeNull()

    const recreated = await store.upsert(sampleCard('card_1', alice), { observedAt: 4000 })
    expect(recreated.applied).toBe(true)
    expect((await store.get(aliceScope, 'card_1'))?.observedAt).toBe(4000)
  })

  it('keeps a tombstone for a deletion that found no row', async () => {
    expect(await store.delete(aliceScope, 'card_1', { observedAt: 3000 })).toBe(false)
    expect((await store.upsert(sampleCard('card_1', alice), { observedAt: 2000 })).applied).toBe(
      false,
    )
    expect(await store.get(aliceScope, 'card_1')).toBeNull()
  })

  it('refuses an observedAt that is no number by its kind alone, and writes nothing', async () => {
    const wrong: Array<[unknown, string]> = [
      [new Date(2000), 'a Date'],
      ['4242424242424242', 'a string'],
      [{ ms: 2000 }, 'an object'],
      [[2000], 'an array'],
      [null, 'null'],
    ]
    for (const [observedAt, kind] of wrong) {
      const error = await rejection(
        store.upsert(sampleCard('card_1', alice), { observedAt: observedAt as number }),
      )
      expect(error.code, kind).toBe('invalid_request')
      expect(error.message).toBe(
        `memoryStore: observedAt must be a whole number of ms since the epoch, as Date.now() gives (got ${kind}); nothing was written`,
      )
    }
    expect(await store.get(aliceScope, 'card_1')).toBeNull()
  })

  it('always applies a write without observedAt, and keeps the stored observedAt', async () => {
    await store.upsert(sampleCard('card_1', alice), { observedAt: 2000 })
    const result = await store.upsert(sampleCard('card_1', alice, { holderName: 'x' }))
    expect(result.applied).toBe(true)
    expect(result.card).toMatchObject({ holderName: 'x', observedAt: 2000 })
  })

  it('increments the version on every write of a row', async () => {
    const first = await store.upsert(sampleCard('card_1', alice))
    expect(first.card?.version).toBe(1)
    const second = await store.upsert(sampleCard('card_1', alice, { holderName: 'x' }))
    expect(second.card?.version).toBe(2)
    await store.setDefault(aliceScope, 'card_1')
    expect((await store.get(aliceScope, 'card_1'))?.version).toBe(3)
    // Displacing a default is a write of the displaced row too.
    await store.upsert(sampleCard('card_2', alice, { isDefault: true }))
    expect((await store.get(aliceScope, 'card_1'))?.version).toBe(4)
    expect((await store.get(aliceScope, 'card_2'))?.version).toBe(1)
    expect(Date.parse((await store.get(aliceScope, 'card_1'))?.updatedAt ?? '')).not.toBeNaN()
  })
})

describe('memoryStore: listing and batches', () => {
  it('lists the owners of one provider, each once', async () => {
    await store.upsert(sampleCard('card_1', alice))
    await store.upsert(sampleCard('card_2', alice))
    await store.upsert(sampleCard('card_3', bob))
    await store.upsert({ ...sampleCard('card_4', shop), provider: 'stripe' })
    expect(await toArray(store.listOwners('memory'), { limit: 10_000 })).toEqual([alice, bob])
    expect(await toArray(store.listOwners('stripe'), { limit: 10_000 })).toEqual([shop])
    expect(await toArray(store.listOwners('nobody'), { limit: 10_000 })).toEqual([])
  })

  it('forgets an owner whose last card is deleted', async () => {
    await store.upsert(sampleCard('card_1', alice))
    await store.upsert(sampleCard('card_3', bob))
    await store.delete(aliceScope, 'card_1')
    expect(await toArray(store.listOwners('memory'), { limit: 10_000 })).toEqual([bob])
  })

  it('upsertMany writes every card, displacing defaults as upsert does', async () => {
    await store.upsert(sampleCard('card_0', alice, { isDefault: true }))
    await store.upsertMany([
      sampleCard('card_1', alice),
      sampleCard('card_2', alice, { isDefault: true }),
      sampleCard('card_3', bob),
    ])
    expect((await store.listByOwner(aliceScope)).map((c) => c.id).sort()).toEqual([
      'card_0',
      'card_1',
      'card_2',
    ])
    expect(await defaultIds(aliceScope)).toEqual(['card_2'])
    expect((await store.get(bobScope, 'card_3'))?.id).toBe('card_3')
  })

  it('upsertMany honours observedAt like upsert', async () => {
    await store.upsert(sampleCard('card_1', alice, { holderName: 'new' }), { observedAt: 2000 })
    await store.upsertMany(
      [sampleCard('card_1', alice, { holderName: 'old' }), sampleCard('card_2', alice)],
      {
        observedAt: 1000,
      },
    )
    expect((await store.get(aliceScope, 'card_1'))?.holderName).toBe('new')
    expect((await store.get(aliceScope, 'card_2'))?.observedAt).toBe(1000)
  })

  it('writes nothing of a batch, or an upsert, with a card it cannot read', async () => {
    // A card whose getter throws stands for any failure part-way: the batch is all or nothing.
    const unreadable = (card: Card): Card =>
      Object.defineProperty({ ...card }, 'metadata', {
        enumerable: true,
        get: () => {
          throw new Error('unreadable')
        },
      })
    await store.upsert(sampleCard('card_0', alice, { isDefault: true }))
    const batch = [
      sampleCard('card_0', alice, { holderName: 'changed', isDefault: false }),
      sampleCard('card_1', alice, { isDefault: true }),
      sampleCard('card_2', bob),
      unreadable(sampleCard('card_3', alice)),
    ]
    await expect(store.upsertMany(batch)).rejects.toThrow('unreadable')
    await expect(
      store.upsert(unreadable(sampleCard('card_4', alice, { isDefault: true }))),
    ).rejects.toThrow('unreadable')
    expect(await store.listByOwner(aliceScope)).toEqual([
      expect.objectContaining({ id: 'card_0', holderName: null, isDefault: true, version: 1 }),
    ])
    expect(await store.listByOwner(bobScope)).toEqual([])
  })

  it('writes nothing of a batch with a card whose owner it cannot read', async () => {
    // A store that reads a batch up front, but each card's owner only as it writes the card,
    // writes the cards before such a card, and displaces the stored default, before it fails.
    const owners = {
      null: null,
      'an id that throws': Object.defineProperty({ type: 'customer' }, 'id', {
        get: () => {
          throw new Error('unreadable owner')
        },
      }),
    }
    await store.upsert(sampleCard('card_0', alice, { isDefault: true }))
    for (const [what, owner] of Object.entries(owners)) {
      const batch = [
        sampleCard('card_1', alice, { isDefault: true }),
        sampleCard('card_2', bob),
        { ...sampleCard('card_3', alice), owner: owner as unknown as Owner },
      ]
      await expect(store.upsertMany(batch), what).rejects.toThrow()
      expect(await store.listByOwner(aliceScope), what).toEqual([
        expect.objectContaining({ id: 'card_0', isDefault: true, version: 1 }),
      ])
      expect(await store.listByOwner(bobScope), what).toEqual([])
    }
  })

  it('lists the most recently added card first', async () => {
    await store.upsert(sampleCard('card_1', alice))
    await store.upsert(sampleCard('card_2', alice))
    await store.upsert(sampleCard('card_3', alice))
    expect((await store.listByOwner(aliceScope)).map((c) => c.id)).toEqual([
      'card_3',
      'card_2',
      'card_1',
    ])
  })
})

describe('memoryStore: stored objects are copies', () => {
  it('is not changed by mutating a card it returned', async () => {
    const result = await store.upsert(sampleCard('card_1', alice, { metadata: { a: '1' } }))
    result.card!.metadata.a = 'changed'
    result.card!.address.city = 'changed'
    result.card!.owner.id = 'changed'

    const got = await store.get(aliceScope, 'card_1')
    got!.metadata.a = 'changed'
    got!.holderName = 'changed'
    const listed = await store.listByOwner(aliceScope)
    listed[0]!.checks.cvc = 'fail'
    const byDefault = await store.getDefault(aliceScope)
    expect(byDefault).toBeNull()

    const fresh = await store.get(aliceScope, 'card_1')
    expect(fresh).toMatchObject({
      metadata: { a: '1' },
      holderName: null,
      address: EMPTY_ADDRESS,
      owner: alice,
      checks: { cvc: null },
    })
  })

  it('is not changed by mutating the card that was written', async () => {
    const input = sampleCard('card_1', alice, { metadata: { a: '1' } })
    await store.upsert(input)
    input.metadata.a = 'changed'
    input.owner.id = 'changed'
    const batch = [sampleCard('card_2', alice)]
    await store.upsertMany(batch)
    batch[0]!.last4 = '0000'
    expect((await store.get(aliceScope, 'card_1'))?.metadata).toEqual({ a: '1' })
    expect((await store.get(aliceScope, 'card_2'))?.last4).toBe('4242')
  })

  it('hands out parts a caller can change alone, where stored cards hold the same values', async () => {
    // Rows with the same owner, an empty address, no metadata or the same checks share one
    // object for each inside the store: what a caller gets must still be its own.
    const input = sampleCard('card_2', alice)
    await store.upsertMany([sampleCard('card_1', alice), input])
    await store.upsert(sampleCard('card_3', alice, { metadata: { a: '1' } }))
    input.owner.id = 'changed'

    const got = await store.get(aliceScope, 'card_1')
    for (const part of [got!.owner, got!.address, got!.checks, got!.metadata]) {
      expect(Object.isFrozen(part)).toBe(false)
    }
    got!.owner.id = 'changed'
    got!.address.city = 'changed'
    got!.checks.cvc = 'fail'
    got!.metadata.added = 'changed'
    const [listed] = await store.listByOwners!([aliceScope])
    listed![0]!.metadata.a = 'changed'

    for (const cardId of ['card_1', 'card_2']) {
      expect(await store.get(aliceScope, cardId)).toMatchObject({
        owner: alice,
        address: EMPTY_ADDRESS,
        checks: { cvc: null },
        metadata: {},
      })
    }
    expect((await store.get(aliceScope, 'card_3'))?.metadata).toEqual({ a: '1' })
    expect(await toArray(store.listOwners('memory'), { limit: 10_000 })).toEqual([alice])
  })

  it('reads back the checks each card was written with, for every combination of results', async () => {
    // Stored checks share one object per combination: no two combinations may share one.
    const results: Card['checks']['cvc'][] = [null, 'pass', 'fail', 'unavailable', 'unchecked']
    const cards = results.flatMap((cvc) =>
      results.flatMap((addressLine1) =>
        results.map((postalCode) => {
          const card = sampleCard(`card_${cvc}_${addressLine1}_${postalCode}`, alice)
          return { ...card, checks: { cvc, addressLine1, postalCode } }
        }),
      ),
    )
    expect(cards).toHaveLength(125)
    await store.upsertMany(cards)
    for (const card of cards) {
      expect((await store.get(aliceScope, card.id))?.checks).toEqual(card.checks)
    }
  })

  it('stores the fields of a card and nothing else the object carries', async () => {
    const first = await store.upsert(sampleCard('card_1', alice))
    // A stored card written back, as an application might: its bookkeeping is the store's own.
    const stray = { ...first.card!, version: 99, extra: 'not a card field' } as Card
    await store.upsert(stray)
    const stored = await store.get(aliceScope, 'card_1')
    expect(stored?.version).toBe(2)
    expect(stored).not.toHaveProperty('extra')
  })

  it('is not changed by mutating an owner it listed', async () => {
    await store.upsert(sampleCard('card_1', alice))
    const [listed] = await toArray(store.listOwners('memory'), { limit: 10_000 })
    listed!.id = 'changed'
    expect(await toArray(store.listOwners('memory'), { limit: 10_000 })).toEqual([alice])
  })
})

describe('memoryStore: close', () => {
  it('refuses every call after close() with invalid_request naming it, and closes twice', async () => {
    await store.upsert(sampleCard('card_1', alice))
    const owners = store.listOwners('memory')[Symbol.asyncIterator]()
    await store.close()
    await expect(store.close()).resolves.toBeUndefined()
    const refused = {
      code: 'invalid_request',
      message: expect.stringMatching(/^memoryStore is closed/),
    }
    await expect(store.get(aliceScope, 'card_1')).rejects.toMatchObject(refused)
    await expect(store.upsertMany([sampleCard('card_2', alice)])).rejects.toMatchObject(refused)
    await expect(store.retirements!.load(aliceScope, 'key')).rejects.toMatchObject(refused)
    await expect(owners.next()).rejects.toMatchObject(refused)
  })
})

// --- helpers ---

async function defaultIds(scope: CardScope): Promise<string[]> {
  return (await store.listByOwner(scope))
    .filter((stored) => stored.isDefault)
    .map((stored) => stored.id)
    .sort()
}
