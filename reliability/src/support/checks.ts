import {
  type Card,
  type CardProvider,
  type CardScope,
  type CardStore,
  listAll,
  type Owner,
  type StoredCard,
  sameCard,
  toArray,
} from '@cardport/core'
import { expect } from 'vitest'

/** The store's scope for an owner's cards at a provider. */
export function scopeFor(provider: CardProvider, owner: Owner): CardScope {
  return { provider: provider.name, owner }
}

/** A stored card without the store's bookkeeping: what the provider's card looks like. */
export function withoutBookkeeping(card: StoredCard): Card {
  const { version: _version, updatedAt: _updatedAt, observedAt: _observedAt, ...rest } = card
  return rest
}

/**
 * The store holds exactly the provider's cards for the owner: the same ids, each field equal
 * (`sameCard`), the same default(s), and the store's `getDefault` names the provider's
 * default. No id appears twice on either side.
 */
export async function expectStoreEqualsProvider(
  provider: CardProvider,
  store: CardStore,
  owner: Owner,
): Promise<void> {
  const atProvider = await toArray(listAll(provider, owner), { limit: 1000 })
  const stored = await store.listByOwner(scopeFor(provider, owner))
  const ids = (cards: readonly { id: string }[]) => cards.map((card) => card.id).sort()
  expect(new Set(ids(atProvider)).size, 'no card listed twice by the provider').toBe(
    atProvider.length,
  )
  expect(new Set(ids(stored)).size, 'no card stored twice').toBe(stored.length)
  expect(ids(stored), 'the stored cards are the provider cards').toEqual(ids(atProvider))

  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)
  expect(stored.map(withoutBookkeeping).sort(byId)).toEqual([...atProvider].sort(byId))
  for (const card of atProvider) {
    const copy = stored.find((candidate) => candidate.id === card.id)
    expect(copy && sameCard(copy, card), `the stored copy of ${card.id}`).toBe(true)
  }

  const defaults = (cards: readonly Card[]) =>
    cards
      .filter((card) => card.isDefault)
      .map((card) => card.id)
      .sort()
  expect(defaults(stored), 'the stored defaults are the provider defaults').toEqual(
    defaults(atProvider),
  )
  const providerDefault = await provider.getDefaultCard(owner)
  const storedDefault = await store.getDefault(scopeFor(provider, owner))
  expect(storedDefault?.id ?? null, "the store's default card").toBe(providerDefault?.id ?? null)
}
