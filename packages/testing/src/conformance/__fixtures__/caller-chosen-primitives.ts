import type { Card, CardProviderPrimitives, Owner } from '@cardport/core'

type All = Required<CardProviderPrimitives>

/** The primitives {@link callerChosenPrimitives} reads through, and gives. */
type Primitives = Pick<
  All,
  'createCard' | 'getCard' | 'listCards' | 'setDefaultCard' | 'invalidateCard'
> &
  Partial<Pick<All, 'deleteCard' | 'updateCard'>>

const ownerKey = (owner: Owner) => `${owner.type}:${owner.id}`

/**
 * A `'caller-chosen'` adapter's primitives over the memory provider's (`deleteCard` and
 * `updateCard` where `memory` has them), which promotes a card when the default is deleted or
 * invalidated, as Stripe does: the adapter notes that the caller's default is gone, so the card the
 * memory provider promoted reads as no default.
 *
 * With `nextTakesOver` (rule 1, the default), a card created for an owner with cards but no
 * default becomes the default; without it, only an owner's very first card does: a broken
 * adapter, for the suite's own tests.
 */
export function callerChosenPrimitives(
  memory: Primitives,
  { nextTakesOver = true }: { nextTakesOver?: boolean } = {},
): Primitives {
  // Owners whose default was deleted or invalidated: they have none until the caller picks one.
  const cleared = new Set<string>()
  const view = (card: Card): Card =>
    cleared.has(ownerKey(card.owner)) ? { ...card, isDefault: false } : card
  const isDefault = async (owner: Owner, cardId: string) =>
    view(await memory.getCard(owner, cardId)).isDefault

  const primitives: Primitives = {
    async createCard(owner, input, context) {
      const key = ownerKey(owner)
      if (cleared.has(key) && (nextTakesOver || input.makeDefault === true)) {
        const card = await memory.createCard(owner, { ...input, makeDefault: true }, context)
        cleared.delete(key)
        return card
      }
      return view(await memory.createCard(owner, input, context))
    },
    getCard: async (owner, cardId) => view(await memory.getCard(owner, cardId)),
    async listCards(owner, options) {
      const page = await memory.listCards(owner, options)
      return { ...page, data: page.data.map(view) }
    },
    async setDefaultCard(owner, cardId) {
      const card = await memory.setDefaultCard(owner, cardId)
      cleared.delete(ownerKey(owner))
      return card
    },
    async invalidateCard(owner, cardId) {
      const wasDefault = await isDefault(owner, cardId)
      const card = await memory.invalidateCard(owner, cardId)
      if (wasDefault) cleared.add(ownerKey(owner))
      return view(card)
    },
  }
  const { deleteCard, updateCard } = memory
  if (updateCard) {
    primitives.updateCard = async (owner, cardId, patch) =>
      view(await updateCard(owner, cardId, patch))
  }
  if (deleteCard) {
    primitives.deleteCard = async (owner, cardId) => {
      const wasDefault = await isDefault(owner, cardId)
      await deleteCard(owner, cardId)
      const left = (await memory.listCards(owner, { limit: 1 })).data.length
      if (wasDefault && left > 0) cleared.add(ownerKey(owner))
      if (left === 0) cleared.delete(ownerKey(owner))
    }
  }
  return primitives
}
