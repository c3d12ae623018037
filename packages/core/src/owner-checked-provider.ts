import { z } from 'zod'
import {
  type Card,
  CardIdInputSchema,
  compiledCardSchema,
  formatOwner,
  isDefaultUnknown,
  markDefaultUnknown,
  type Owner,
  sameOwner,
} from './card.js'
import { type CardportError, InvalidRequestError, ProviderUnavailableError } from './errors.js'
import type { Page } from './pagination.js'
import type { CardProvider, ProviderCapabilities } from './provider.js'
import { payloadFailure, providerFailure } from './provider-failure.js'
import { safeParseOf, validate } from './validate.js'

/**
 * What makes `card` no card of `owner` at the provider named `name` ("a card of provider
 * 'stripe'", "a card of customer:cus_2"), or not the card `cardId` asked for ("card card_2 where
 * card card_1 was asked for"), or undefined when it is that card. Without `owner`, the owner is
 * not checked; without `cardId` (an operation that names no card: createCard, listCards,
 * getDefaultCard, parseCard), the id is not. Ids are compared exactly: Stripe's and the
 * marketplace's are case-sensitive, so `card_1` and `CARD_1` are two cards.
 */
export function notOwnCard(
  card: Card,
  name: string,
  owner?: Owner,
  cardId?: string,
): string | undefined {
  if (card.provider !== name) return `a card of provider '${card.provider}'`
  if (owner && !sameOwner(card.owner, owner)) {
    return `a card of ${formatOwner(card.owner)}`
  }
  if (cardId !== undefined && card.id !== cardId) {
    return `card ${card.id} where card ${cardId} was asked for`
  }
  return undefined
}

/**
 * The error for a card that a provider answered `operation` for `owner` with, and that is not
 * `owner`'s card under the provider's name, or not the card asked for (`mismatch`, from
 * {@link notOwnCard}): an adapter's bug, which a retry does not mend.
 */
export function notOwnCardError(
  name: string,
  operation: string,
  owner: Owner,
  mismatch: string,
): ProviderUnavailableError {
  return new ProviderUnavailableError(
    `${name} answered ${operation} for ${formatOwner(owner)} with ${mismatch}: the adapter must return the owner's own cards (the one asked for, when the operation names one), under its own name`,
    { provider: name, retryable: false },
  )
}

/**
 * `candidate`, a card a provider answered `operation` for `owner` with, read with the Card schema
 * (a card number in its texts masked) and checked to be `owner`'s card under `name`, and the card
 * whose id is `cardId` when the operation names one (getCard, updateCard, setDefaultCard,
 * invalidateCard): a card cardport cannot read, another owner's, or another card than the one
 * asked for, is an adapter's bug that a retry does not mend (`provider_unavailable`, not
 * retryable). Passed on, another owner's card would be stored by CardSync under that owner (or
 * another provider's name), where `owner`'s calls never look; another card than the one asked
 * for would be stored as the answer about that one (as invalid, or as the new default).
 */
export function readCard(
  candidate: Card,
  name: string,
  operation: string,
  owner: Owner,
  cardId?: string,
): Card {
  const result = safeParseOf(compiledCardSchema(), candidate)
  if (!result?.success) {
    // The issues' paths may name a metadata key holding a card number: CardportError masks it.
    throw new ProviderUnavailableError(
      `${name} returned a card cardport cannot read (${operation}): ${
        result
          ? result.error.issues
              .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
              .join('; ')
          : READING_THREW
      }`,
      { provider: name, retryable: false },
    )
  }
  const mismatch = notOwnCard(result.data, name, owner, cardId)
  if (mismatch === undefined) return result.data
  throw notOwnCardError(name, operation, owner, mismatch)
}

/**
 * `card`, the card (read with {@link readCard}) that a provider named `name` answered `operation`
 * for `owner` with, when it shows the operation done: an `invalidateCard` answer `status:
 * 'invalid'`, a `setDefaultCard` answer `isDefault: true` where `capabilities.defaultPolicy` is not
 * `'none'` (see {@link notDoneCard}); any other operation's card as it is. One that shows it undone
 * is the card as it was, from a provider that ignored the change or a cache or proxy in the way,
 * which a retry does not mend: `provider_unavailable`, not retryable, naming the operation, the
 * card's id and the owner, and how to check the card ({@link notDoneCardError}). Taken, a caller
 * (and `CardSync`, which stores it) would hold a card it retired as active, or retire the old
 * default for a card that did not become it. `defineCardProvider` checks its `setDefaultCard` and
 * `invalidateCard` answers with it, and `ownerCheckedProvider` those of an operation written by
 * hand: each answer once.
 */
export function doneCard(
  card: Card,
  name: string,
  operation: string,
  owner: Owner,
  capabilities: ProviderCapabilities,
): Card {
  const undone = notDoneCard(card, operation, capabilities)
  if (undone === undefined) return card
  throw notDoneCardError(name, operation, owner, undone)
}

/**
 * The id of the card that `cardId`, as a caller gave it, names at the provider named `name`, by
 * the provider's `cardIdOf` (`mapError`: the adapter's, for what it throws). What it throws is
 * made a `CardportError` as a primitive's errors are (`providerFailure`: a `CardportError` as it
 * is, anything else `provider_unavailable`, retryable, its cause masked). What it answers must be
 * a card id as {@link CardIdInputSchema} reads one (a non-empty string, no NUL character or
 * unpaired surrogate, not a card number): anything else (`undefined`, `''`, a number) is an
 * adapter's bug that a retry does not mend (`provider_unavailable`, not retryable), named by what
 * is wrong with it, never by its value. Taken as it was, it would be the key `CardSync` stores and
 * deletes under (`undefined` made the text "undefined"), and the id the provider is asked for.
 */
export function cardIdNamed(
  cardIdOf: (cardId: string) => unknown,
  cardId: string,
  name: string,
  mapError?: (error: unknown) => CardportError | undefined,
): string {
  let answer: unknown
  try {
    answer = cardIdOf(cardId)
  } catch (error) {
    throw providerFailure(error, name, 'cardIdOf', mapError)
  }
  const result = safeParseOf(CardIdInputSchema, answer)
  if (result?.success) return result.data
  throw new ProviderUnavailableError(
    `${name} answered cardIdOf with no card id cardport can use (${
      result ? result.error.issues.map((issue) => issue.message).join('; ') : READING_THREW
    }): cardIdOf must answer the id of the card the given id names`,
    { provider: name, retryable: false },
  )
}

/**
 * What a failed read says when reading the answer threw ({@link safeParseOf}): passed on as it
 * was, it reached CardSync's callers as that raw error.
 */
const READING_THREW = 'reading it threw'

const PageShapeSchema = z.object({
  data: z.array(z.unknown()),
  hasMore: z.boolean(),
  nextCursor: z.string().nullable(),
})

/**
 * The three fields of a page a provider named `name` answered `listCards` with, checked: a page
 * without an array of cards, a boolean `hasMore` or a string-or-null `nextCursor` is an adapter's
 * bug that a retry does not mend (`provider_unavailable`, not retryable); read on, it would stop a
 * listing early or page it for ever. Nothing else an adapter put on the page comes along. Its
 * cards are not read here: each is one of `data`'s `unknown`s.
 */
export function readPage(
  answer: unknown,
  name: string,
): { data: unknown[]; hasMore: boolean; nextCursor: string | null } {
  const page = safeParseOf(PageShapeSchema, answer)
  if (page?.success) return page.data
  throw new ProviderUnavailableError(
    `${name} returned a page cardport cannot read (listCards): a page is { data: an array, hasMore: a boolean, nextCursor: a string or null }`,
    { provider: name, retryable: false },
  )
}

/**
 * `candidate`, what an adapter's `parseCard` read a caller's payload as, read with the Card
 * schema: a card cardport cannot read is `invalid_request`, as the payload is the caller's. The
 * adapter's "default unknown" mark is kept on the copy the schema makes.
 */
export function readPayloadCard(candidate: Card, name: string): Card {
  const card = validate(compiledCardSchema(), candidate, `${name} card payload`, name)
  return isDefaultUnknown(candidate) ? markDefaultUnknown(card) : card
}

/**
 * The operations `defineCardProvider` built: each reads every card it answers with through
 * {@link readCard} (and its `setDefaultCard` and `invalidateCard` check theirs with
 * {@link doneCard}), so `ownerCheckedProvider` does not read them again. Functions, not providers:
 * an adapter that spreads its defined provider into one with more members (the marketplace's,
 * `memoryProvider`) keeps them, and an operation written by hand beside them is not among them.
 */
const cardsRead = new WeakSet<object>()

/**
 * Notes the operations of `provider`, just built by `defineCardProvider`, as reading their
 * cards with the Card schema themselves: see {@link ownerCheckedProvider}.
 */
export function noteCardsRead(provider: object): void {
  for (const member of Object.values(provider)) {
    if (typeof member === 'function') cardsRead.add(member)
  }
}

/**
 * `provider`, with every card its operations answer for an owner checked to be that owner's card
 * under the provider's name, as `defineCardProvider` checks them: `CardSync` stores a card under
 * its own owner and provider, so another owner's card, answered by a provider written by hand
 * that does not check, would be stored among that owner's cards, where the asked owner's calls
 * and reconcile never look. An operation that names a card (`getCard`, `updateCard`,
 * `setDefaultCard`, `invalidateCard`) must answer with that card, its id the asked id exactly:
 * another card would be stored as the answer about the asked one (as invalid, as the new
 * default). `invalidateCard` must answer it `status: 'invalid'`, and `setDefaultCard` (where the
 * `defaultPolicy` is not `'none'`) `isDefault: true` (see {@link doneCard}): the card as it was,
 * from a provider that ignored the change or a cache in the way, would be stored as active while
 * its caller believes it retired, or have the old default retired for a card that is not the
 * default. A defined operation refuses such an answer itself; one written by hand is checked
 * here. A card of another owner, another card than the one asked for, or one that shows the
 * operation undone is `provider_unavailable`, not retryable (`invalid_request` from `parseCard`,
 * whose payload is the caller's). The other members are `provider`'s, each method called on
 * `provider`.
 *
 * An operation `defineCardProvider` did not build (a provider written by hand, or an operation
 * written by hand over a defined one) has its cards read with the Card schema too, as
 * `defineCardProvider` reads them: one cardport cannot read (a `last4` that is not four digits,
 * a `NaN` expiry) is refused alike, and the card passed on is the schema's copy, a card number in
 * its texts masked, so that none reaches the store. What such an operation throws is made a
 * `CardportError` as `defineCardProvider` makes its primitives' (`providerFailure`, without a
 * `mapError`): a `CardportError` as it is, its `cause` masked; anything else (an `Error` quoting a
 * card number or a key, a string, `undefined`) `provider_unavailable`, retryable, with a masked
 * copy as its cause (`invalid_request` from `parseCard`). Passed on as thrown, it reached
 * `CardSync`'s callers (and their logs) with the card number or key in it, and was no
 * `CardportError` to branch on. A defined operation's cards were read, and its errors made
 * `CardportError`s, already: neither is done twice, and reconcile's listings cost no more.
 *
 * Its `cardIdOf` is always there, for `CardSync` to ask which card an id given names: the
 * provider's own (a hand-written one checked as `defineCardProvider` checks one, see
 * {@link cardIdNamed}), or the id as given for a provider without one.
 */
export function ownerCheckedProvider(provider: CardProvider): CheckedProvider {
  const { name } = provider
  const ownCardIdOf: unknown = provider.cardIdOf
  /**
   * The provider's `cardIdOf`: a defined one as it is (it checks its answer itself), one written
   * by hand checked as `defineCardProvider` checks one ({@link cardIdNamed}); without one, the id
   * as given.
   */
  const cardIdOf: (cardId: string) => string =
    typeof ownCardIdOf !== 'function'
      ? (cardId) => cardId
      : cardsRead.has(ownCardIdOf)
        ? (cardId) => ownCardIdOf.call(provider, cardId) as string
        : (cardId) => cardIdNamed((id) => ownCardIdOf.call(provider, id), cardId, name)
  /**
   * A defined operation's card: its owner and name checked again. Its id was checked by
   * `defineCardProvider`, against what the adapter's `cardIdOf` says the asked id names (the
   * marketplace takes a card's URI for its id), which an exact comparison here would refuse.
   */
  const checked = (operation: string, owner: Owner, card: Card): Card => {
    const mismatch = notOwnCard(card, name, owner)
    if (mismatch === undefined) return card
    throw notOwnCardError(name, operation, owner, mismatch)
  }
  /** A hand-written operation's card, read whole: the card `cardId` when it asked for one. */
  const read = (operation: string, owner: Owner, card: Card, cardId?: string): Card =>
    readCard(card, name, operation, owner, cardId)
  /** How the cards `method` answers are checked: its own owner check only, or a whole read. */
  const checkOf = (method: object) => (cardsRead.has(method) ? checked : read)
  // Typed loosely: an operation the capabilities leave out is typed `UnsupportedOperation`.
  const inner = provider as unknown as Record<string, (...args: unknown[]) => unknown>
  type Method = (...args: unknown[]) => unknown
  /** What a hand-written `operation` answers, what it throws made a `CardportError`. */
  const byHand = async (operation: string, method: Method, args: unknown[]) => {
    try {
      // Awaited inside the try: a method that throws before it makes a promise is caught too.
      return await method.apply(provider, args)
    } catch (error) {
      throw providerFailure(error, name, operation)
    }
  }
  /**
   * Calls `method`, `provider`'s `operation`: one `defineCardProvider` built as it is (its errors
   * are `CardportError`s already), one written by hand through `byHand`.
   */
  const call = (operation: string, method: Method, args: unknown[]): Promise<unknown> =>
    cardsRead.has(method)
      ? (method.apply(provider, args) as Promise<unknown>)
      : byHand(operation, method, args)
  /** A hand-written `parseCard`'s answer, what it throws made a `CardportError`. */
  const parseByHand = (raw: unknown, owner?: Owner): Card | null => {
    try {
      return provider.parseCard(raw, owner)
    } catch (error) {
      throw payloadFailure(error, name)
    }
  }
  /**
   * `provider`'s `operation`, its card checked; `namesCard`: the operation's second argument is
   * the id of the card it asks for, and the card answered must have the id `cardIdOf` says that
   * one names (asked before the request: a `cardIdOf` that fails sends none).
   */
  const answering =
    (operation: string, namesCard: boolean) =>
    async (owner: Owner, ...rest: unknown[]): Promise<Card> => {
      const method = inner[operation]!
      if (cardsRead.has(method)) {
        // Its card was read, and shown done (setDefaultCard, invalidateCard), already.
        return checked(operation, owner, (await call(operation, method, [owner, ...rest])) as Card)
      }
      const cardId = namesCard ? cardIdOf(rest[0] as string) : undefined
      const card = read(
        operation,
        owner,
        (await byHand(operation, method, [owner, ...rest])) as Card,
        cardId,
      )
      return doneCard(card, name, operation, owner, provider.capabilities)
    }
  const wrapper = {
    ...provider,
    name,
    capabilities: provider.capabilities,
    cardIdOf,
    createCard: answering('createCard', false),
    getCard: answering('getCard', true),
    updateCard: answering('updateCard', true),
    setDefaultCard: answering('setDefaultCard', true),
    invalidateCard: answering('invalidateCard', true),
    deleteCard: (owner: Owner, cardId: string) =>
      call('deleteCard', inner.deleteCard!, [owner, cardId]),
    async listCards(owner: Owner, options?: unknown) {
      const method = inner.listCards!
      const answer = await call('listCards', method, [owner, options])
      if (cardsRead.has(method)) {
        const page = answer as Page<Card>
        for (const card of page.data) checked('listCards', owner, card)
        return page
      }
      const { data, hasMore, nextCursor } = readPage(answer, name)
      return {
        data: data.map((card) => read('listCards', owner, card as Card)),
        hasMore,
        nextCursor,
      }
    },
    async getDefaultCard(owner: Owner) {
      const method = inner.getDefaultCard!
      const card = (await call('getDefaultCard', method, [owner])) as Card | null
      // Only null is no default: `undefined`, `false` or `0` is an answer the schema refuses,
      // not a reason to clear the stored default.
      return card === null ? null : checkOf(method)('getDefaultCard', owner, card)
    },
    parseCard(raw: unknown, owner?: Owner): Card | null {
      const defined = cardsRead.has(provider.parseCard)
      const payload = defined ? provider.parseCard(raw, owner) : parseByHand(raw, owner)
      if (!payload) return payload
      const card = defined ? payload : readPayloadCard(payload, name)
      // The provider's name is `CardSync`'s to check here, with its own message.
      if (!owner || sameOwner(card.owner, owner)) return card
      throw new InvalidRequestError(
        `${name} read this payload as a card of ${formatOwner(card.owner)}, not of ${formatOwner(owner)}: pass the payload's own owner`,
        { provider: name, issues: [{ path: ['owner'], message: 'the owner the payload names' }] },
      )
    },
  }
  return Object.freeze(wrapper) as unknown as CheckedProvider
}

/**
 * A provider as {@link ownerCheckedProvider} gives it: its `cardIdOf` always there (the id as
 * given, for a provider without one).
 */
export type CheckedProvider = CardProvider & {
  /** The id of the card `cardId` names (see `CardProvider.cardIdOf`), checked. */
  cardIdOf(cardId: string): string
}

/**
 * What makes `card`, the card a provider answered `operation` (one that names a card) with, no
 * answer of an operation that did what it was asked, or undefined when it is one: an
 * `invalidateCard` answer not `status: 'invalid'` ("card card_1 still active"), a
 * `setDefaultCard` answer not `isDefault: true` ("card card_1 not the default") where the
 * provider has defaults at all (`defaultPolicy` other than `'none'`, under which `isDefault` is
 * always false). Such an answer is the card as it was, served by a provider that ignored the
 * change or by a cache or proxy in the way: taken, `CardSync` stored a card its caller had
 * retired as active, or retired the old default for a card that did not become it.
 */
function notDoneCard(
  card: Card,
  operation: string,
  capabilities: ProviderCapabilities,
): string | undefined {
  if (operation === 'invalidateCard' && card.status !== 'invalid') {
    return `card ${card.id} still ${card.status}`
  }
  if (
    operation === 'setDefaultCard' &&
    capabilities.defaultPolicy !== 'none' &&
    card.isDefault !== true
  ) {
    return `card ${card.id} not the default`
  }
  return undefined
}

/**
 * The error for a card that a provider answered `operation` for `owner` with, and that shows the
 * operation undone (`undone`, from {@link notDoneCard}): an adapter's bug, or a cache in the way,
 * which a retry does not mend. `CardSync` stores nothing of it: the card may not have changed.
 */
function notDoneCardError(
  name: string,
  operation: string,
  owner: Owner,
  undone: string,
): ProviderUnavailableError {
  const { left, check } = DONE_STATE[operation as keyof typeof DONE_STATE]
  return new ProviderUnavailableError(
    `${name} answered ${operation} for ${formatOwner(owner)} with ${undone}: the adapter must answer with the card as ${operation} left it (${left}); it may not have changed, so check it with ${check}`,
    { provider: name, retryable: false },
  )
}

/** What a card answered by each operation {@link notDoneCard} checks shows, and how to check. */
const DONE_STATE = {
  invalidateCard: { left: "status 'invalid'", check: 'getCard' },
  setDefaultCard: { left: 'isDefault true', check: 'getDefaultCard' },
} as const
