import type { Card, Owner } from './card.js'
import { InvalidRequestError } from './errors.js'
import { kindOf } from './kind-of.js'

/** Whose cards: one owner at one provider. Every store read is scoped by it. */
export interface CardScope {
  /** The provider's name (`CardProvider.name`): one owner id at two providers is two owners. */
  provider: string
  /** The customer or account. */
  owner: Owner
}

/** A card as a store holds it: the card, plus the store's own bookkeeping. */
export type StoredCard = Card & {
  /** Increases by one on every write of the row. */
  version: number
  /**
   * When the store last wrote the row (ISO 8601, a date and time with its offset, as
   * {@link Card}'s `createdAt`: `'2026-12-06T05:55:57.123Z'`): every write of it moves it on, a
   * default switch or a new default that clears the row's included; a refused write leaves it.
   */
  updatedAt: string
  /**
   * When the provider state this row reflects was observed (ms since the epoch): a webhook
   * event's `created`, or the time of the API read. Older writes are refused.
   */
  observedAt: number | null
}

/** Options of a write. */
export interface WriteOptions {
  /**
   * When the data being written was observed at the provider: a whole number of ms since the
   * epoch (a safe integer, as `Date.now()` gives; a store refuses anything else with
   * `invalid_request`, see {@link observedAtOf}). A write
   * older than what the store holds for the card (including its deletion) is not applied, so
   * that webhooks delivered out of order cannot roll a card back. Nor can it undo a newer
   * default: a card written as the default while the owner's default of its currency was
   * observed later is stored as not the default, and `setDefault` changes no row observed
   * later (see {@link CardStore.setDefault}).
   */
  observedAt?: number | undefined
}

/** What a write did. */
export interface UpsertResult {
  /** False when the write was older than the stored row and was ignored. */
  applied: boolean
  /** The row as it now is in the store (null when an ignored write found a deleted card). */
  card: StoredCard | null
}

/**
 * Where cardport keeps its local copy of cards. Implementations: `memoryStore()` (here),
 * `sqliteStore()` and `postgresStore()`; `describeCardStore` from `@cardport/testing` checks any
 * other against the same rules:
 *
 * - reads and writes are scoped by owner, that is by provider, owner type and owner id:
 *   `get` never returns another owner's card, whatever the id, and `delete`, `setDefault`, a
 *   new default and a deletion's tombstone never touch another owner's card, not even one of
 *   the same id and owner id under the other owner type or at another provider;
 * - an owner has at most one default card per currency (customers' cards have none, so one
 *   default in all); writing a card with `isDefault: true`, new or already stored, clears the
 *   previous default in the same atomic step; deleting the default makes no other card the
 *   default (the store is a copy: the provider picks the next default, and `CardSync` writes it);
 * - writes of one owner that run at once (`upsert`, `upsertMany`, `delete` and `setDefault`, in
 *   one process or many) leave what some order of them, run one at a time, would leave: a store
 *   that reads rows and writes them back a moment later (a default switch in two steps, outside
 *   one transaction or lock) loses the writes that land in between, brings back a card deleted
 *   in between, or leaves two defaults;
 * - every card a read returns (`get`, `getDefault`, `listByOwner`, `listByOwners`, an upsert's
 *   `card`) is the caller's own copy: changing it, or any object in it, changes nothing stored;
 *   nor does changing a card the caller gave `upsert` or `upsertMany`, once written: the store
 *   keeps nothing of it;
 * - a write with an `observedAt` older than the stored one (or than the card's deletion) is
 *   refused and changes nothing, not the owner's default either; one older than the owner's
 *   stored default does not displace it (the card is written as not the default); an
 *   `observedAt` that is not a whole number of ms is refused with `invalid_request` (by an
 *   `upsertMany` of no cards too), and nothing is written ({@link observedAtOf});
 * - after `close()`, every call is refused with `invalid_request` (see {@link CardStore.close});
 * - no store has anywhere to put a card number or a CVC: `Card` holds neither.
 *
 * A store need not check the ids it is given: the core refuses an owner or card id with a NUL
 * character or an unpaired surrogate (which drivers read each their own way) before it reaches a
 * store, in `CardSync` and in `CardSchema`. Code that calls a store directly checks them itself
 * (`OwnerSchema`, `CardSchema.shape.id`, or `CardIdInputSchema` for an id a person typed, which
 * also refuses a card number).
 */
export interface CardStore {
  /** One card of an owner, or null. */
  get(scope: CardScope, cardId: string): Promise<StoredCard | null>
  /**
   * Every card of an owner, however many, the card the store first saw most recently first; an
   * update (a default switch included) keeps a card's place. This is not necessarily the
   * provider's order (a reconcile stores a provider's newest-first pages in turn): list the
   * provider when its order matters.
   */
  listByOwner(scope: CardScope): Promise<StoredCard[]>
  /**
   * Optional: {@link CardStore.listByOwner} for many owners in one read; entry `i` of the
   * result lists the cards of `scopes[i]`, exactly as `listByOwner(scopes[i])` would (an owner
   * named twice is listed twice). `CardSync.reconcile` reads its owners' stored cards with it,
   * a few dozen owners a read, when the store has it; on a database server that saves a round
   * trip per owner.
   */
  listByOwners?(scopes: readonly CardScope[]): Promise<StoredCard[][]>
  /**
   * The owner's default card: a customer's one default; for an account, which has one per
   * currency, the default the store first saw (whatever its currency). Read `listByOwner` for
   * the default of a given currency.
   */
  getDefault(scope: CardScope): Promise<StoredCard | null>
  /**
   * Inserts or replaces a card; a default card displaces the previous default atomically. The
   * displaced default keeps its own `observedAt`: the write observed its own card, not that one
   * (`setDefault`, which observes both, dates both), so a later write of the displaced card,
   * observed before this one, is still applied. `upsertMany` likewise.
   */
  upsert(card: Card, options?: WriteOptions): Promise<UpsertResult>
  /**
   * {@link CardStore.upsert} for many cards, all in one transaction: a batch that fails
   * part-way (a card the store refuses, a lost connection) writes none of its cards.
   */
  upsertMany(cards: readonly Card[], options?: WriteOptions): Promise<void>
  /**
   * Optional: how many `upsertMany` calls of different owners the store can usefully run at
   * once, an integer from 1 to 64 (default 1). `CardSync.reconcile` keeps up to this many group
   * writes in flight. A store on a database server with a pool of connections gains from two:
   * one group is written while the next is read and gathered; a store that writes on one
   * connection, or synchronously, gains nothing from more than one.
   */
  readonly concurrentWrites?: number
  /**
   * Deletes a card of an owner; returns whether a row was deleted. Deleting the owner's default
   * leaves it without one (for that currency): the store makes no other card the default.
   *
   * With `observedAt`, the store keeps the deletion (a tombstone) so that older writes of the
   * card are refused, even of a card it never held; a deletion older than the card's row, or
   * than an earlier deletion of it, changes nothing, and one observed at the row's own time
   * deletes it (Stripe's event times are whole seconds: a card added and removed in one second
   * is ordinary). A tombstone is no card: no read returns it (`get`, `getDefault`,
   * `listByOwner`, `listByOwners`), and an owner left with tombstones only is not listed by
   * `listOwners`. A write of the card without `observedAt` (the caller's word) ends its
   * tombstone: a later write older than the deletion is applied.
   */
  delete(scope: CardScope, cardId: string, options?: WriteOptions): Promise<boolean>
  /**
   * Makes `cardId` the owner's only default (for its currency), or clears the owner's defaults
   * with null, in one atomic step. A card the owner does not hold changes nothing.
   *
   * With `observedAt` (when the provider was read), nothing observed later changes, so that a
   * late answer of another process cannot undo a newer default: with null, each default whose
   * row was observed later stays the default, and the others are cleared; with a card id,
   * nothing changes when that card or a default it would clear was observed later. A row
   * observed at the call's own time is not later: the call applies to it. The rows it
   * changes take the later of their `observedAt` and this one, so that a write older than the
   * call cannot undo it either. Without `observedAt`, no row's `observedAt` changes.
   */
  setDefault(scope: CardScope, cardId: string | null, options?: WriteOptions): Promise<void>
  /**
   * Every owner with at least one card at a provider, streamed; one owner id under both owner
   * types is two owners, each listed. The listing may run while the store is written
   * (`reconcile` writes as it reads): each owner that holds a card throughout
   * the listing is listed exactly once; no owner is listed twice, not even one listed before
   * that loses its last card and gets a new one; an owner that gets its first card, or loses its
   * last, while the listing runs may be listed or not. The conformance suite of
   * `@cardport/testing` checks this.
   */
  listOwners(provider: string): AsyncIterable<Owner>
  /**
   * Optional: a durable note of the old defaults an unfinished `CardSync.setDefaultCard` has
   * still to retire. With it, a retried call retires them even when a `reconcile` ran in
   * between (which leaves them in the store as plain cards, no longer marked as the default);
   * without it, such a retry keeps the old default. See {@link RetirementLog}.
   */
  retirements?: RetirementLog
  /**
   * Closes the store. It releases what the store opened itself (a database file, a pool of its
   * own), and never a client or connection the caller passed in: that stays open, and the
   * caller's. From the moment it is called, every other call of the store (`retirements`'
   * included, and the next owner of a `listOwners` begun before) rejects with
   * `invalid_request`, naming the store, and writes nothing. The calls begun before it run on
   * and settle as they would have (a write lands, or fails for its own reasons): `close()`
   * resolves only once they all have, and only then releases what it releases, so that the
   * caller may close its own client next. Calling it again resolves. `closableStore` gives a
   * store all of this: its methods need not check.
   */
  close(): Promise<void>
}

/**
 * A {@link CardStore} that has the optional members `CardSync` uses when a store has them:
 * `retirements` (notes of the old defaults an unfinished `setDefaultCard` has to retire) and
 * `listByOwners` (many owners' cards in one read). What `memoryStore()`, `sqliteStore()` and
 * `postgresStore()` return, so that code calling them directly needs no check that they are there.
 * Still a `CardStore`: it goes wherever one does.
 *
 * @example
 * ```ts
 * const store = memoryStore()
 * await store.listByOwners([{ provider: 'stripe', owner }]) // no "possibly undefined"
 * ```
 */
export type CompleteCardStore = CardStore &
  Required<Pick<CardStore, 'retirements' | 'listByOwners'>>

/** An old default card that a `CardSync.setDefaultCard` call replaces. */
export interface RetiringCard {
  /** The provider's id for the old default card. */
  cardId: string
  /** Its currency: an external account's defaults are one per currency. Null for customers. */
  currency: string | null
}

/**
 * Notes, kept by a {@link CardStore} (`CardStore.retirements`), of the old default cards that
 * `CardSync.setDefaultCard` calls replace, one note per owner and idempotency key.
 *
 * `setDefaultCard` saves its note before it asks the provider for anything and removes it once
 * the old defaults are retired. A retry of a failed call (the same key) reads the note back: the
 * provider and a reconciled store may no longer say which card was the default, but the note
 * still does. A note whose call is never retried stays: a few bytes that only a call with the
 * same key reads. Like every read of a store, notes are scoped by owner.
 */
export interface RetirementLog {
  /** Saves the note of call `key`, replacing an earlier one of the same owner and key. */
  save(scope: CardScope, key: string, cards: readonly RetiringCard[]): Promise<void>
  /** The note of call `key` for this owner, in the order saved; empty when there is none. */
  load(scope: CardScope, key: string): Promise<RetiringCard[]>
  /** Removes the note of call `key` for this owner; removing a missing note does nothing. */
  remove(scope: CardScope, key: string): Promise<void>
}

/**
 * The `observedAt` of a write's options, checked: undefined, or a whole number of ms since the
 * epoch (a safe integer). Every store calls it before a write, so that all of them refuse what
 * one of them cannot keep: PostgreSQL's `bigint` column refused `1.5`, `NaN` or `2 ** 63` with
 * the driver's error, while the memory store kept them (a `NaN` then compared as neither older
 * nor newer than any write) and SQLite stored `NaN` as no time at all.
 *
 * @param store - How the error names the store: its factory's name, e.g. `'sqliteStore'`.
 * @throws `InvalidRequestError` for anything else, before the store writes.
 *
 * @example
 * ```ts
 * async upsert(card, options) {
 *   const observedAt = observedAtOf('myStore', options)
 *   // …
 * }
 * ```
 */
export function observedAtOf(store: string, options: WriteOptions | undefined): number | undefined {
  const observedAt = options?.observedAt
  if (observedAt === undefined || Number.isSafeInteger(observedAt)) return observedAt
  // The value only when it is a number: anything else may be text a caller should not see echoed.
  const given = typeof observedAt === 'number' ? String(observedAt) : kindOf(observedAt)
  throw new InvalidRequestError(
    `${store}: observedAt must be a whole number of ms since the epoch, as Date.now() gives (got ${given}); nothing was written`,
  )
}

/** The store key of an owner: `provider`, owner type and owner id. */
export function scopeKey(scope: CardScope): string {
  return `${scope.provider}\u0000${scope.owner.type}\u0000${scope.owner.id}`
}

/** The scope a card belongs to. */
export function scopeOf(card: Card): CardScope {
  return { provider: card.provider, owner: card.owner }
}

/**
 * The methods every {@link CardStore} has, `close` aside: what `createCardSync` checks a store
 * for, and what `closableStore` guards with the optional members. Internal: not exported from
 * the package.
 */
export const CARD_STORE_METHODS = [
  'get',
  'listByOwner',
  'getDefault',
  'upsert',
  'upsertMany',
  'delete',
  'setDefault',
  'listOwners',
] as const satisfies readonly (keyof CardStore)[]
