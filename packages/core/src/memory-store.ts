import type { Card, Owner } from './card.js'
import { type CardScope, type CardStore, type StoredCard, scopeKey, scopeOf } from './store.js'

/**
 * A {@link CardStore} in process memory: the embedded default, for demos, tests and
 * short-lived processes. It follows every rule of the contract, including owner scoping, one
 * default per owner and currency, and refusing out-of-order writes (deletions leave a
 * tombstone holding their `observedAt`).
 *
 * @example
 * ```ts
 * const sync = createCardSync({ provider, store: memoryStore() })
 * ```
 */
export function memoryStore(): CardStore {
  const owners = new Map<
    string,
    { provider: string; owner: Owner; cards: Map<string, StoredCard> }
  >()
  const tombstones = new Map<string, number>()

  const cardsOf = (scope: CardScope) => owners.get(scopeKey(scope))?.cards

  const isStale = (key: string, existing: StoredCard | undefined, observedAt?: number) => {
    if (observedAt === undefined) return false
    const last = existing?.observedAt ?? tombstones.get(key)
    return last !== undefined && last !== null && observedAt < last
  }

  const write = (card: Card, observedAt?: number) => {
    const scope = scopeOf(card)
    const key = `${scopeKey(scope)}\u0000${card.id}`
    let entry = owners.get(scopeKey(scope))
    const existing = entry?.cards.get(card.id)
    if (isStale(key, existing, observedAt)) {
      return { applied: false, card: existing ? structuredClone(existing) : null }
    }
    if (!entry) {
      entry = { provider: card.provider, owner: { ...card.owner }, cards: new Map() }
      owners.set(scopeKey(scope), entry)
    }
    if (card.isDefault) clearDefaults(entry.cards, card.currency, card.id)
    tombstones.delete(key)
    const stored: StoredCard = {
      ...structuredClone(card),
      version: (existing?.version ?? 0) + 1,
      updatedAt: new Date().toISOString(),
      observedAt: observedAt ?? existing?.observedAt ?? null,
    }
    entry.cards.set(card.id, stored)
    return { applied: true, card: structuredClone(stored) }
  }

  return {
    async get(scope, cardId) {
      const card = cardsOf(scope)?.get(cardId)
      return card ? structuredClone(card) : null
    },

    async listByOwner(scope) {
      return [...(cardsOf(scope)?.values() ?? [])].reverse().map((card) => structuredClone(card))
    },

    async getDefault(scope) {
      for (const card of cardsOf(scope)?.values() ?? []) {
        if (card.isDefault) return structuredClone(card)
      }
      return null
    },

    async upsert(card, options = {}) {
      return write(card, options.observedAt)
    },

    async upsertMany(cards, options = {}) {
      // Memory writes cannot fail half-way once the input is in hand, so the batch is atomic.
      for (const card of cards) write(card, options.observedAt)
    },

    async delete(scope, cardId, options = {}) {
      const key = `${scopeKey(scope)}\u0000${cardId}`
      const cards = cardsOf(scope)
      const existing = cards?.get(cardId)
      if (isStale(key, existing, options.observedAt)) return false
      if (options.observedAt !== undefined) tombstones.set(key, options.observedAt)
      if (!cards || !existing) return false
      cards.delete(cardId)
      if (cards.size === 0) owners.delete(scopeKey(scope))
      return true
    },

    async setDefault(scope, cardId) {
      const cards = cardsOf(scope)
      if (!cards) return
      const target = cardId === null ? undefined : cards.get(cardId)
      if (cardId !== null && !target) return
      if (target) {
        clearDefaults(cards, target.currency, target.id)
        cards.set(target.id, bump({ ...target, isDefault: true }))
      } else {
        clearDefaults(cards, undefined, undefined)
      }
    },

    async *listOwners(provider) {
      for (const entry of [...owners.values()]) {
        if (entry.provider === provider) yield { ...entry.owner }
      }
    },

    async close() {},
  }
}

/** Clears the defaults that `keep` would displace: same currency, or all when currency is undefined. */
function clearDefaults(
  cards: Map<string, StoredCard>,
  currency: string | null | undefined,
  keep: string | undefined,
) {
  for (const card of cards.values()) {
    if (!card.isDefault || card.id === keep) continue
    if (currency !== undefined && card.currency !== currency) continue
    cards.set(card.id, bump({ ...card, isDefault: false }))
  }
}

function bump(card: StoredCard): StoredCard {
  return { ...card, version: card.version + 1, updatedAt: new Date().toISOString() }
}
