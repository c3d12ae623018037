import type { Card, Owner, OwnerType } from './card.js'
import type { CardUpdateFor, CreateCardInput, UpdatableField } from './card-details.js'
import type { Page } from './pagination.js'

/**
 * Which card becomes the default, as the provider decides it.
 * - `'first-card'`: a card created for an owner with no default becomes the default; deleting
 *   the default makes the most recently added remaining card that is not invalid the default;
 *   with none left, there is none (Stripe customers). Where cards can be invalidated
 *   (`memoryProvider()`), invalidating the default promotes the same way: an invalid card is
 *   never the default. A provider whose owners hold other sources too may
 *   promote one of those instead (Stripe promotes the most recently added remaining source,
 *   which may be a bank account): then no card is the default and `getDefaultCard` answers
 *   null. For owners of type `account` on a provider with `externalAccounts`, the default is
 *   per currency and cannot be deleted.
 * - `'caller-chosen'`: the provider has no default of its own; the adapter records the caller's
 *   choice, a card created for an owner with no default (its first, or the next one after the
 *   default was deleted or invalidated) becomes the default and setting another replaces it;
 *   deleting the default, or invalidating it where cards can be invalidated, leaves none (no
 *   card is promoted).
 * - `'latest-card'`: the provider makes the most recently added valid card the default, and the
 *   caller cannot pick another: every new card becomes the default (whatever `makeDefault`
 *   says), and invalidating the default falls back to the most recently added valid card left,
 *   or none (the marketplace's chosen card, its customer's `source_uri`).
 * - `'none'`: cards have no default; `isDefault` is always false.
 */
export type DefaultPolicy = 'first-card' | 'caller-chosen' | 'latest-card' | 'none'

/**
 * What a provider can do, declared once. The core, the conformance suite and the type of
 * {@link CardProvider} all read it: a `false` operation is a compile error to call where the
 * capabilities are known statically, and an `UnsupportedOperationError` at run time.
 *
 * @example
 * ```ts
 * const capabilities = {
 *   ownerTypes: ['account'], createCard: true, getCard: true, listCards: true,
 *   updateCard: true, deleteCard: false, setDefaultCard: true, invalidateCard: true,
 *   cardDetails: true, externalAccounts: false, defaultPolicy: 'caller-chosen',
 *   updatableFields: ['metadata'],
 * } as const satisfies ProviderCapabilities
 * ```
 */
export interface ProviderCapabilities {
  /** The owner types the provider holds cards for. */
  readonly ownerTypes: readonly OwnerType[]
  /**
   * Whether `createCard` works. With `false`, it and `CardSync.setDefaultCard` (which creates
   * the card first) throw `unsupported_operation`.
   */
  readonly createCard: boolean
  /** Whether `getCard` works: one card read by id. */
  readonly getCard: boolean
  /**
   * Whether `listCards` works. `getDefaultCard`, `listAll`, `CardSync.reconcile`,
   * `CardSync.setDefaultCard` and `CardSync.sync` of the default need it: without it they are
   * unsupported too. `CardSync.deleteCard` works without it, but cannot read back the default the
   * provider chose: a deleted default leaves the owner with no stored default.
   */
  readonly listCards: boolean
  /** Whether `updateCard` works; `updatableFields` says which fields it changes. */
  readonly updateCard: boolean
  /**
   * Whether `deleteCard` works. A provider whose cards can only be retired says `false` and
   * `invalidateCard: true`; the error of a delete then says to invalidate instead.
   */
  readonly deleteCard: boolean
  /** Whether `setDefaultCard` works: false where the provider picks the default itself. */
  readonly setDefaultCard: boolean
  /** Whether `invalidateCard` works: the card stays listed with `status: 'invalid'`, for good. */
  readonly invalidateCard: boolean
  /** Whether `createCard` accepts raw card details as well as tokens. */
  readonly cardDetails: boolean
  /** Whether `account` owners are Connect-style external accounts (a default per currency). */
  readonly externalAccounts: boolean
  /**
   * How the provider picks the default card, which `CardSync` and the conformance suite
   * follow: see {@link DefaultPolicy}.
   */
  readonly defaultPolicy: DefaultPolicy
  /**
   * What `updateCard` can change: any of `'address'`, `'expiry'` (month and year),
   * `'holderName'` and `'metadata'`. `defineCardProvider` refuses a patch that touches a field
   * left out with `unsupported_operation`, before any request, saying what to do instead; with
   * a literal list, such a patch is a compile error too. Not empty when `updateCard` is true
   * (ignored when it is false: declare `[]`). A provider whose cards are fixed once tokenized
   * (the marketplace) lists `['metadata']`.
   */
  readonly updatableFields: readonly UpdatableField[]
}

/** Per-call options for requests that change something. */
export interface RequestOptions {
  /**
   * The idempotency key to send. Creates always carry one: when absent, a fresh one is made,
   * and retries of the same call reuse it. Pass your own to make a retried *call* safe too:
   * 1 to 255 characters. Keep card numbers out of it: it travels to the provider as a request
   * header (`IdempotencyKeySchema` checks a key you take from elsewhere).
   */
  idempotencyKey?: string | undefined
}

/**
 * Options of `listCards`. A key other than these is refused with `invalid_request` (a misspelt
 * `limt` would otherwise list the default 10 cards).
 */
export interface ListOptions {
  /** Page size, 1 to 100. Default 10. */
  limit?: number | undefined
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined
}

/** An owner whose type the provider supports. */
export type OwnerOf<C extends ProviderCapabilities> = Owner & {
  /** One of the provider's `ownerTypes`. */
  type: C['ownerTypes'][number]
}

/** The type of an operation the provider lacks: any call to it is a compile error. */
export type UnsupportedOperation = (...notSupportedByThisProvider: never[]) => never

// Method-style (bivariant) function types, so that a provider with a `false` capability is
// still assignable to the general `CardProvider`.
type Bivariant<Args extends unknown[], Result> = {
  operation(...args: Args): Result
}['operation']

type Operation<Flag extends boolean, Args extends unknown[], Result> = [Flag] extends [false]
  ? UnsupportedOperation
  : Bivariant<Args, Result>

/**
 * The contract every provider adapter fulfils. Build one with `defineCardProvider`, which
 * validates input, normalizes output with `CardSchema` and turns every failure into a
 * `CardportError`; adapters only write the primitives.
 *
 * `C` is the provider's {@link ProviderCapabilities}: with a literal type, operations the
 * provider lacks are typed {@link UnsupportedOperation} and owner types it does not hold are
 * rejected by the compiler.
 */
export interface CardProvider<C extends ProviderCapabilities = ProviderCapabilities> {
  /** The provider's name: `'stripe'`, `'marketplace'` … Stored with every card. */
  readonly name: string
  /** What the provider supports. */
  readonly capabilities: C
  /**
   * Adds a card to an owner from a token, an existing card id or raw details. The first card
   * becomes the default; `makeDefault` makes any card the default.
   */
  createCard: Operation<
    C['createCard'],
    [owner: OwnerOf<C>, input: CreateCardInput, options?: RequestOptions],
    Promise<Card>
  >
  /** One card of an owner; `card_not_found` when the owner has no such card. */
  getCard: Operation<C['getCard'], [owner: OwnerOf<C>, cardId: string], Promise<Card>>
  /**
   * One page of an owner's cards (only cards: bank accounts and other sources are skipped), in
   * the provider's own order, which the contract does not fix: Stripe lists newest first, the
   * marketplace oldest first.
   */
  listCards: Operation<
    C['listCards'],
    [owner: OwnerOf<C>, options?: ListOptions],
    Promise<Page<Card>>
  >
  /**
   * Changes address, expiry, name or metadata: the fields `capabilities.updatableFields` lists
   * (another field is a compile error where the capabilities are known, and
   * `unsupported_operation` at run time). Answers the card as the update left it: what the patch
   * does not name stays as it was (an address field left out is kept, a metadata key left out is
   * kept), except `checks.addressLine1` and `checks.postalCode`, which a changed address may
   * reset to `'unchecked'` (Stripe does). The provider conformance suite checks both.
   */
  updateCard: Operation<
    C['updateCard'],
    [owner: OwnerOf<C>, cardId: string, patch: CardUpdateFor<C['updatableFields'][number]>],
    Promise<Card>
  >
  /** Deletes a card; the provider's default policy picks the next default. */
  deleteCard: Operation<C['deleteCard'], [owner: OwnerOf<C>, cardId: string], Promise<void>>
  /**
   * Makes a card the owner's default (for external accounts: for its currency), and answers with
   * the card as it now stands: `isDefault: true` (false only under `defaultPolicy: 'none'`).
   * A provider built with `defineCardProvider` refuses any other answer (`provider_unavailable`,
   * not retryable), and `CardSync` refuses one from any provider before it retires the old
   * default.
   */
  setDefaultCard: Operation<C['setDefaultCard'], [owner: OwnerOf<C>, cardId: string], Promise<Card>>
  /** The owner's default card, or null when it has none. */
  getDefaultCard: Operation<C['listCards'], [owner: OwnerOf<C>], Promise<Card | null>>
  /**
   * Marks a card invalid for good (it cannot be made valid again), and answers with the card as it
   * now stands: `status: 'invalid'`. A provider built with `defineCardProvider` refuses a card
   * answered still active (a cache in the way, a server that ignored the change) with
   * `provider_unavailable`, not retryable, and `CardSync` refuses one from any provider and
   * stores nothing of it.
   */
  invalidateCard: Operation<C['invalidateCard'], [owner: OwnerOf<C>, cardId: string], Promise<Card>>
  /**
   * Normalizes a raw provider payload (an API response, a webhook's object). Returns null for
   * what is not a card (a bank account, another kind of source); throws `invalid_request` for
   * a card payload that cannot be read.
   */
  parseCard(raw: unknown, owner?: Owner): Card | null
  /**
   * Optional, on a provider that takes a card by more than its id (the marketplace takes the
   * card's URI, `/v1/marketplaces/MP…/cards/CC…`, too): the id of the card that `cardId`, as a
   * caller gives it to an operation that names a card, names (`'CC…'`). Its cards carry that id,
   * and so does a store: `CardSync` asks it once at the start of each call that takes a card id
   * (`deleteCard`, `sync` and `deleteLocal`, and `sync` of a card, for the card's id), then asks
   * the provider, stores and deletes under the id it answers, so that a URI given deletes the
   * stored card it names. It sends no request. Absent: every id names itself. For a card of the
   * provider's own, `cardIdOf(card.id)` is `card.id` (`describeCardProvider` checks it).
   *
   * A provider built with `defineCardProvider` has it when its definition declares it, checked:
   * what it throws is made a `CardportError` as a primitive's errors are, and an answer that is no
   * card id (not a non-empty string, a card number) is `provider_unavailable`, not retryable;
   * `CardSync` checks one written by hand alike.
   */
  cardIdOf?(cardId: string): string
}

/**
 * The operations a provider's capabilities name, one flag each (`getDefaultCard` follows
 * `listCards`): for code that goes over them, such as a conformance suite or a table of what a
 * provider supports.
 *
 * @example
 * ```ts
 * PROVIDER_OPERATIONS.filter((operation) => !provider.capabilities[operation]) // what it lacks
 * ```
 */
export const PROVIDER_OPERATIONS = [
  'createCard',
  'getCard',
  'listCards',
  'updateCard',
  'deleteCard',
  'setDefaultCard',
  'invalidateCard',
] as const satisfies readonly (keyof ProviderCapabilities & keyof CardProvider)[]

/**
 * The methods every {@link CardProvider} has: an operation its capabilities leave out is still
 * there, and rejects with `unsupported_operation`. `createCardSync` refuses a provider that lacks
 * one (a hand-written, untyped object), which would otherwise fail mid-run with a TypeError.
 *
 * @internal
 */
export const CARD_PROVIDER_METHODS = [
  ...PROVIDER_OPERATIONS,
  'getDefaultCard',
  'parseCard',
] as const satisfies readonly (keyof CardProvider)[]
