import {
  type CardProvider,
  type CardStore,
  memoryProvider,
  memoryStore,
  type Owner,
  type StoredCard,
} from '@cardport/core'
import { marketplaceProvider, tokenizeCard } from '@cardport/marketplace'
import {
  marketplaceEmulator,
  setupCardportServer,
  TEST_MARKETPLACE_ID,
  TEST_MARKETPLACE_SECRET,
} from '@cardport/testing/emulators'
import { describe, expect, it } from 'vitest'
import { walletTour } from './wallet.js'

/** The provider's cards and the local copy's, as [id, isDefault] pairs sorted by id. */
interface Snapshot {
  remote: [string, boolean][]
  local: [string, boolean][]
  localDefault: string | null
}

/**
 * The provider, with a look at both sides taken when the tour first removes a card (CardSync
 * writes the provider first, so the store is still as the step before left it): that is the
 * state right after the second card was added.
 */
function watchFirstRemoval(provider: CardProvider, store: CardStore, owner: Owner) {
  const seen: { snapshot?: Snapshot } = {}
  const pairs = (cards: readonly { id: string; isDefault: boolean }[]) =>
    cards
      .map((card): [string, boolean] => [card.id, card.isDefault])
      .sort(([a], [b]) => a.localeCompare(b))
  const look = async () => {
    if (seen.snapshot) return
    const scope = { provider: provider.name, owner }
    const remote = await provider.listCards(owner, { limit: 10 })
    const local: StoredCard[] = await store.listByOwner(scope)
    seen.snapshot = {
      remote: pairs(remote.data),
      local: pairs(local),
      localDefault: (await store.getDefault(scope))?.id ?? null,
    }
  }
  const watched: CardProvider = {
    ...provider,
    ...(provider.deleteCard && {
      deleteCard: async (...args: Parameters<NonNullable<CardProvider['deleteCard']>>) => {
        await look()
        return provider.deleteCard!(...args)
      },
    }),
    ...(provider.invalidateCard && {
      invalidateCard: async (...args: Parameters<NonNullable<CardProvider['invalidateCard']>>) => {
        await look()
        return provider.invalidateCard!(...args)
      },
    }),
  }
  return { provider: watched, seen }
}

describe('walletTour', () => {
  it('ends with one card, the replacement, as the default, at the provider and locally', async () => {
    const provider = memoryProvider({ name: 'memory' })
    const store = memoryStore()
    const owner = { type: 'customer', id: 'cus_tour' } as const
    const lines: string[] = []
    const local = await walletTour(
      provider,
      store,
      owner,
      { first: 'tok_visa', second: 'tok_mastercard', replacement: 'tok_amex' },
      (line) => lines.push(line),
    )

    const remote = await provider.listCards(owner, { limit: 10 })
    expect(remote.data.map((card) => [card.brand, card.isDefault])).toEqual([['amex', true]])
    expect(local).toMatchObject({ id: remote.data[0]!.id, brand: 'amex', isDefault: true })
    const stored = await store.listByOwner({ provider: 'memory', owner })
    expect(stored.map((card) => card.id)).toEqual([remote.data[0]!.id])
    expect(lines).toContain('  deleted •••• 4444')
    expect(lines.join('\n')).not.toMatch(/\d{12,}/)
  })

  // Not only at the end, where a reconcile would hide a lag: right after the second card is
  // added with provider.createCard, the local copy holds it, and the same default.
  it('stores the second card at once, where the first stays the default', async () => {
    const store = memoryStore()
    const owner = { type: 'customer', id: 'cus_tour' } as const
    const { provider, seen } = watchFirstRemoval(memoryProvider({ name: 'memory' }), store, owner)
    await walletTour(
      provider,
      store,
      owner,
      { first: 'tok_visa', second: 'tok_mastercard', replacement: 'tok_amex' },
      () => {},
    )

    expect(seen.snapshot).toBeDefined()
    const snapshot = seen.snapshot!
    expect(snapshot.remote).toHaveLength(2)
    expect(snapshot.local).toEqual(snapshot.remote)
    expect(snapshot.localDefault).toBe(snapshot.remote.find(([, isDefault]) => isDefault)![0])
  })

  it('stores the second card at once, where the newest card is the default (marketplace)', async () => {
    const api = marketplaceEmulator()
    const server = setupCardportServer(...api.handlers)
    server.listen()
    const marketplace = marketplaceProvider({
      baseUrl: api.origin,
      marketplaceId: TEST_MARKETPLACE_ID,
      secret: TEST_MARKETPLACE_SECRET,
      dispatcher: server.dispatcher,
    })
    try {
      const store = memoryStore()
      const owner = { type: 'account', id: api.seed.account({ name: 'Tour' }).id } as const
      const { provider, seen } = watchFirstRemoval(marketplace, store, owner)
      const tokenize = async (number: string, cvc = '123') =>
        (await tokenizeCard(marketplace, { number, expMonth: 12, expYear: 2034, cvc })).id
      await walletTour(
        provider,
        store,
        owner,
        {
          first: await tokenize('4111111111111111'),
          second: await tokenize('5105105105105100'),
          replacement: await tokenize('341111111111111', '1234'),
        },
        () => {},
      )

      expect(seen.snapshot).toBeDefined()
      const snapshot = seen.snapshot!
      expect(snapshot.remote).toHaveLength(2)
      expect(snapshot.local).toEqual(snapshot.remote)
      // The marketplace made the second card the default; the local copy says so too.
      const remoteDefault = snapshot.remote.find(([, isDefault]) => isDefault)![0]
      expect(snapshot.localDefault).toBe(remoteDefault)
    } finally {
      await marketplace.close()
      server.close()
    }
  })
})
