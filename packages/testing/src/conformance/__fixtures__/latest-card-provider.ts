import {
  type Card,
  type CardProviderPrimitives,
  defineCardProvider,
  listAll,
  memoryProvider,
  type Owner,
  type ProviderCapabilities,
  type UpdatableField,
} from '@cardport/core'

/**
 * A marketplace-like provider's capabilities, for the suite's own tests: the default is the
 * most recently added valid card (`'latest-card'`), which the caller cannot choose; only the
 * name and metadata of a card can change. Unlike the marketplace it also deletes, and holds
 * customers, so that the suite's `'latest-card'` delete check runs too.
 */
export const LATEST_CARD_CAPABILITIES = {
  ownerTypes: ['customer'],
  createCard: true,
  getCard: true,
  listCards: true,
  updateCard: true,
  deleteCard: true,
  setDefaultCard: false,
  invalidateCard: true,
  cardDetails: true,
  externalAccounts: false,
  defaultPolicy: 'latest-card',
  updatableFields: ['holderName', 'metadata'],
} as const satisfies ProviderCapabilities

/** Picks the default card's id from an owner's cards, newest first; null for none. */
export type DefaultRule = (cardsNewestFirst: readonly Card[]) => string | null

/** The `'latest-card'` rule: the most recently added card that is still valid. */
export const latestValidCard: DefaultRule = (cards) =>
  cards.find((card) => card.status === 'active')?.id ?? null

/**
 * A `'latest-card'` provider over the memory provider (which keeps Stripe's first-card rule):
 * every card it returns has `isDefault` worked out again by `rule` from the owner's cards.
 * Each primitive call counts as a request. Give another `rule` to break the policy, or other
 * `updatableFields` for the core to enforce.
 */
export function latestCardProvider(
  options: { rule?: DefaultRule; updatableFields?: readonly UpdatableField[] } = {},
) {
  const rule = options.rule ?? latestValidCard
  const inner = memoryProvider({ name: 'memory-latest' })
  const counter = { requests: 0 }

  const marked = async (owner: Owner, card: Card): Promise<Card> => {
    const cards: Card[] = []
    for await (const each of listAll(inner, owner, { pageSize: 100 })) cards.push(each)
    return { ...card, isDefault: card.id === rule(cards) }
  }

  const primitives: Partial<CardProviderPrimitives> = {
    // The memory provider's own default is ignored: `marked` decides.
    createCard: async (owner, input, context) =>
      marked(owner, await inner.createCard(owner, input, context)),
    getCard: async (owner, cardId) => marked(owner, await inner.getCard(owner, cardId)),
    listCards: async (owner, listOptions) => {
      const page = await inner.listCards(owner, listOptions)
      const data: Card[] = []
      for (const card of page.data) data.push(await marked(owner, card))
      return { ...page, data }
    },
    updateCard: async (owner, cardId, patch) =>
      marked(owner, await inner.updateCard(owner, cardId, patch)),
    deleteCard: (owner, cardId) => inner.deleteCard(owner, cardId),
    invalidateCard: async (owner, cardId) =>
      marked(owner, await inner.invalidateCard(owner, cardId)),
  }
  for (const [name, primitive] of Object.entries(primitives)) {
    ;(primitives as Record<string, unknown>)[name] = (...args: unknown[]) => {
      counter.requests += 1
      return (primitive as (...args: unknown[]) => unknown)(...args)
    }
  }

  const provider = defineCardProvider({
    name: 'memory-latest',
    capabilities: {
      ...LATEST_CARD_CAPABILITIES,
      updatableFields: options.updatableFields ?? LATEST_CARD_CAPABILITIES.updatableFields,
    },
    ...primitives,
    parseCard: (raw, owner) => inner.parseCard(raw, owner),
  })
  return { provider, inner, requestCount: () => counter.requests }
}
