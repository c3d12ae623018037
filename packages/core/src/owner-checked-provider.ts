import { type Card, formatOwner, type Owner, sameOwner } from './card.js'
import { InvalidRequestError, ProviderUnavailableError } from './errors.js'
import type { CardProvider } from './provider.js'

/**
 * What makes `card` no card of `owner` at the provider named `name` ("a card of provider
 * 'stripe'", "a card of customer:cus_2"), or undefined when it is one. Without `owner`, only the
 * provider's name is checked.
 */
export function notOwnCard(card: Card, name: string, owner?: Owner): string | undefined {
  if (card.provider !== name) return `a card of provider '${card.provider}'`
  if (owner && !sameOwner(card.owner, owner)) {
    return `a card of ${formatOwner(card.owner)}`
  }
  return undefined
}

/**
 * The error for a card that a provider answered `operation` for `owner` with, and that is not
 * `owner`'s card under the provider's name (`mismatch`, from {@link notOwnCard}): an adapter's bug,
 * which a retry does not mend.
 */
export function notOwnCardError(
  name: string,
  operation: string,
  owner: Owner,
  mismatch: string,
): ProviderUnavailableError {
  return new ProviderUnavailableError(
    `${name} answered ${operation} for ${formatOwner(owner)} with ${mismatch}: the adapter must return the owner's own cards, under its own name`,
    { provider: name, retryable: false },
  )
}

/**
 * `provider`, with every card its operations answer for an owner checked to be that owner's card
 * under the provider's name, as `defineCardProvider` checks them: `CardSync` stores a card under
 * its own owner and provider, so another owner's card, answered by a provider written by hand
 * that does not check, would be stored among that owner's cards, where the asked owner's calls
 * and reconcile never look. A card of another owner is `provider_unavailable`, not retryable
 * (`invalid_request` from `parseCard`, whose payload is the caller's). The other members are
 * `provider`'s, each method called on `provider`.
 */
export function ownerCheckedProvider(provider: CardProvider): CardProvider {
  const { name } = provider
  const checked = (operation: string, owner: Owner, card: Card): Card => {
    const mismatch = notOwnCard(card, name, owner)
    if (mismatch === undefined) return card
    throw notOwnCardError(name, operation, owner, mismatch)
  }
  // Typed loosely: an operation the capabilities leave out is typed `UnsupportedOperation`.
  const inner = provider as unknown as Record<string, (...args: unknown[]) => unknown>
  const answering =
    (operation: string) =>
    async (owner: Owner, ...rest: unknown[]): Promise<Card> =>
      checked(operation, owner, (await inner[operation]!.call(provider, owner, ...rest)) as Card)
  const wrapper = {
    ...provider,
    name,
    capabilities: provider.capabilities,
    createCard: answering('createCard'),
    getCard: answering('getCard'),
    updateCard: answering('updateCard'),
    setDefaultCard: answering('setDefaultCard'),
    invalidateCard: answering('invalidateCard'),
    deleteCard: (owner: Owner, cardId: string) => inner.deleteCard!.call(provider, owner, cardId),
    async listCards(owner: Owner, options?: unknown) {
      const page = (await inner.listCards!.call(provider, owner, options)) as { data: Card[] }
      for (const card of page.data) checked('listCards', owner, card)
      return page
    },
    async getDefaultCard(owner: Owner) {
      const card = (await inner.getDefaultCard!.call(provider, owner)) as Card | null
      return card && checked('getDefaultCard', owner, card)
    },
    parseCard(raw: unknown, owner?: Owner): Card | null {
      const card = provider.parseCard(raw, owner)
      // The provider's name is `CardSync`'s to check here, with its own message.
      if (!card || !owner || sameOwner(card.owner, owner)) return card
      throw new InvalidRequestError(
        `${name} read this payload as a card of ${formatOwner(card.owner)}, not of ${formatOwner(owner)}: pass the payload's own owner`,
        { provider: name, issues: [{ path: ['owner'], message: 'the owner the payload names' }] },
      )
    },
  }
  return Object.freeze(wrapper) as unknown as CardProvider
}
