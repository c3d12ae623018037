import pLimit, { type LimitFunction } from 'p-limit'
import { z } from 'zod'
import {
  type Card,
  CardIdInputSchema,
  CardSchema,
  callerText,
  compiledCardSchema,
  formatOwner,
  IdempotencyKeySchema,
  isDefaultUnknown,
  type Owner,
  OwnerInputSchema,
  sameOwner,
} from './card.js'
import { ProviderCapabilitiesSchema } from './define-provider.js'
import { deriveIdempotencyKey } from './derived-key.js'
import {
  createDriftRecorder,
  type DriftChange,
  type DriftReport,
  emptyOwnerDrift,
  type OwnerDrift,
} from './drift-report.js'
import {
  CardNotFoundError,
  InvalidRequestError,
  isCardportError,
  isOwnerDeleted,
  UnsupportedOperationError,
} from './errors.js'
import { createGroupWriter, type GroupWriter } from './group-writer.js'
import { keyedQueue } from './keyed-queue.js'
import { kindOf } from './kind-of.js'
import { type MetadataPatch, MetadataPatchSchema } from './metadata.js'
import { ownerCheckedProvider } from './owner-checked-provider.js'
import { createOwnerDedupe, REMEMBERED_OWNERS } from './owner-dedupe.js'
import { listAll } from './pagination.js'
import { CARD_PROVIDER_METHODS, type CardProvider } from './provider.js'
import { redactSecrets } from './redact.js'
import { type RetryPolicy, RetryPolicySchema, withRetry } from './retry.js'
import { isStorableText } from './storable-text.js'
import {
  CARD_STORE_METHODS,
  type CardScope,
  type CardStore,
  type StoredCard,
  scopeKey,
} from './store.js'
import { prefetchStoredCards } from './stored-prefetch.js'
import { followSignal, untilAborted } from './until-aborted.js'
import { copyOf, optionsObject, validate } from './validate.js'

/** Options of {@link createCardSync}. */
export interface CardSyncOptions {
  /** Where the cards live: every write goes there first, and `reconcile` reads it. */
  provider: CardProvider
  /** The local copy, kept in step with the provider; cards are stored under `provider.name`. */
  store: CardStore
  /**
   * Owners whose cards `reconcile` reads from the provider at once, 1 to 256. Default 4. Up to
   * seven times as many more wait for their store writes meanwhile (at most 1,024 in all).
   */
  concurrency?: number | undefined
  /**
   * How `reconcile` retries an owner after `rate_limited` or `provider_unavailable` (a whole
   * owner is re-read, which is always safe). Default: 3 retries, 250 ms doubling, full jitter,
   * `Retry-After` honoured up to `maxDelayMs` (20 s unless set). Its `signal` (one for the sync's life: a shutdown) stops every
   * `reconcile` in flight as a run's own {@link ReconcileOptions.signal} does (each rejects with
   * its reason), and makes a later `reconcile` reject before reading anything: once it has
   * aborted no owner can be tried, so no run goes on to list each owner left as failed.
   */
  retry?: RetryPolicy | undefined
  /**
   * The clock that dates this sync's writes, in ms since the epoch: a whole number from 0, as
   * `Date.now` answers. Default `Date.now`. It dates each read from the provider (taken before
   * the request: what the read finds is stored as observed then), each removal of a card the
   * provider no longer holds, the default `observedAt` of `syncFromProviderData` and
   * `deleteLocal`, and a card given to `sync`. A store keeps the state observed latest, so the
   * provider's clock (Stripe's; a `memoryProvider`'s or an emulator's `now`) and that of every
   * webhook handler over the same store (`stripeWebhookHandler`'s `now`) should agree with this
   * one: a write dated behind another's is refused as older, and one dated ahead outlives a
   * later change.
   *
   * A `now` that is not a function is refused here. An answer that is not a whole number of ms
   * from 0 (`NaN`, a fraction, a `Date`, a string) fails the call that asked with
   * `invalid_request`, not retryable, before the write it was to date. Every call that dates a
   * write asks the clock before it writes anything, at the provider or in the store, so a clock
   * that answers no time changes nothing; `reconcile` asks it before it reads anything, and a
   * clock that fails during a run rejects the run (as what `onDrift` throws does) instead of
   * counting as an owner's failure. What the clock throws reaches the caller as it is.
   *
   * @example
   * ```ts
   * // Tests: one clock for the provider and the sync.
   * let ms = Date.UTC(2030, 0, 1)
   * const provider = memoryProvider({ now: () => new Date(ms) })
   * const sync = createCardSync({ provider, store: memoryStore(), now: () => ms })
   * ```
   */
  now?: (() => number) | undefined
}

/** Options of `reconcile`. */
export interface ReconcileOptions {
  /** Report drift without changing the store. */
  dryRun?: boolean | undefined
  /** Overrides the sync's `concurrency` for this run: 1 to 256, as in {@link CardSyncOptions}. */
  concurrency?: number | undefined
  /**
   * Called after each owner, for progress bars. What it throws ends the run as what `onDrift`
   * throws does.
   */
  onOwner?:
    | ((
        owner: Owner,
        progress: {
          /** Owners finished so far in this run, this one included. */
          done: number
        },
      ) => void)
    | undefined
  /**
   * Stops the run, at once: `reconcile` then rejects with the signal's reason, whenever the
   * signal aborts before it returns (after the last owner too), and before reading anything
   * when it has aborted already. The next owner is not waited for, nor a page of cards on its
   * way (its request runs to its end unobserved, and nothing of it is written), nor the wait
   * before a retry; the owners given are closed (`return()`) as soon as a read of theirs in
   * flight lets them be. What owners finished before stays written. An owner being read keeps
   * the cards it handed over for writing before the abort (in batches of 100, as the provider
   * listed them; a batch is one transaction), and nothing of it is removed until it is
   * reconciled again. An owner whose stale cards are being removed (those the provider no longer
   * lists) keeps the removals made before the abort: the store call in flight ends, no other
   * starts, and the rest (its default's repair too) waits until it is reconciled again. The
   * sync's own `retry.signal` ({@link CardSyncOptions.retry}) stops the run alike: the run
   * rejects with the reason of whichever aborts first.
   */
  signal?: AbortSignal | undefined
  /**
   * How many entries each list of the report keeps: an integer from 0, or `Infinity`. Default
   * 1,000, so that the report of a run over millions of cards stays small; its `counts` count
   * every entry whatever this says, and `onDrift` receives every one.
   */
  maxEntries?: number | undefined
  /**
   * Called with every finding (a card added, updated or removed, a default repaired, an owner
   * failed) as each owner finishes: after its writes, and only for the attempt that succeeded
   * when an owner was retried. That attempt's findings are against the store as it was before
   * the owner's first attempt: a card or a default that a failed attempt wrote already is still
   * reported, once. For a report of any size without holding it: to log each one, or to write
   * it elsewhere. What it throws ends the run: `reconcile` rejects with it once the owners in
   * flight are done, and what owners finished before stays written. No owner starts after it: an
   * owner the owners given had yet to give (a queue's next) is not waited for, and one they give
   * later is neither read nor written; they are closed (`return()`) as soon as a read of theirs in
   * flight lets them be. A throw of `undefined` or `null`, which carries no error, rejects with
   * `invalid_request` naming the callback instead.
   */
  onDrift?: ((change: DriftChange) => void) | undefined
}

/**
 * Keeps a local copy of cards (a {@link CardStore}) in step with a provider. The provider is the
 * source of truth: each operation changes the provider first, then the store. If a process dies
 * in between, nothing is lost: `sync` or `reconcile` (or a webhook) brings the store back to
 * the provider's state, and creates carry deterministic idempotency keys so a retried call never
 * makes a second card.
 *
 * Every operation checks its owner and card id before anything else: an id with a NUL character
 * or an unpaired surrogate, which each store's driver would read its own way, is refused with
 * `invalid_request` before the store or the provider sees it. A card id is then the one the
 * provider's `cardIdOf` says it names (`CardProvider.cardIdOf`: a marketplace card's URI names
 * the card `CC…`; without it, the id as given): the provider is asked, and the store written and
 * deleted, under that id, which is the one its cards and the stored copies carry. An owner of a
 * type the provider does not declare (`capabilities.ownerTypes`) is `unsupported_operation`, in
 * every operation, before the provider or the store sees it.
 *
 * `setDefaultCard`, `deleteCard`, `sync`, `syncFromProviderData` and `deleteLocal` calls on one
 * owner run one at a time within a `CardSync`, in call order (other owners' alongside), so that
 * each acts on what the one before left: the second of two `setDefaultCard` calls retires the
 * first's card, and a webhook's payload is stored after a `setDefaultCard` of its owner, not amid
 * it. A call that fails lets the next one run. Two `CardSync` instances (two processes) are not
 * ordered: there, the later `setDefaultCard` call's card is the default, and the earlier call's
 * card stays, as a card that is not the default, until it is removed. `reconcile` makes the
 * store equal to the provider, so no card is lost, and none is left in the store that the
 * provider does not hold.
 */
export interface CardSync {
  /**
   * Adds the card behind `token`, makes it the default, and deletes the old default (or
   * invalidates it, on providers that cannot delete; on a provider that can do neither, it stays
   * as a card that is not the default, at the provider and in the store). Returns the stored new
   * card. The old default is the provider's: a card the store still names its default after the
   * default changed at the provider (its dashboard, a webhook not delivered yet) is a plain card
   * there, and stays.
   *
   * The card is created with `makeDefault`; the provider's `setDefaultCard` is called only when
   * the new card did not come back as the default. A `'latest-card'` provider makes every new
   * card the default, so it is never called there; a provider that did not make the card the
   * default and cannot be asked to (`capabilities.setDefaultCard` false) gets the new card
   * stored and `unsupported_operation`, with the old default kept. A new card deleted while
   * the call ran (a webhook of another process stored its deletion) rejects with
   * `card_not_found`. A provider that cannot list cards (`capabilities.listCards` false, and so
   * no `getDefaultCard`) cannot tell its old default: the call rejects with
   * `unsupported_operation` before anything is created, read or written.
   *
   * A token that is empty, not a string or a card number, `metadata` that `createCard` would
   * refuse, and an `idempotencyKey` that is not 1 to 255 characters or holds a card number
   * (`IdempotencyKeySchema`) are refused with `invalid_request` before anything is read or
   * written.
   *
   * Retrying a failed call (the same token, or the same `idempotencyKey`) finishes it without
   * a second card. On a store with `retirements` (the stores of cardport all have it), the call
   * notes the old defaults before it asks the provider, so the retry retires them even when a
   * `reconcile` ran in between; on a store without it, such a retry keeps the old card.
   *
   * Without an `idempotencyKey`, the key is derived from the owner, the token and the
   * `metadata`, so a later call with a reusable token (a test token such as `tok_visa`; live
   * tokens are single-use) and the same metadata gets the earlier call's card replayed while the
   * provider keeps its keys (24 hours at Stripe); other metadata makes a new card. When that
   * card was retired since, the call moves on to the next key of a chain derived from the first,
   * and makes a new card; after 32 such calls it asks for a key of your own
   * (`invalid_request`). A replayed card still held is made the default again.
   *
   * Calls on one owner run one at a time within this `CardSync`, in call order: of two calls at
   * once, the second retires the first's card, as it would a moment later. Across processes
   * nothing orders them: the later call's card is the default, and the earlier call's card stays
   * as a card that is not the default until it is removed (see {@link CardSync}).
   */
  setDefaultCard(
    owner: Owner,
    token: string,
    options?: {
      /** Metadata of the new card, as `createCard` takes it. */
      metadata?: MetadataPatch | undefined
      /** The create's idempotency key; without one, it is derived from the owner and token. */
      idempotencyKey?: string | undefined
    },
  ): Promise<StoredCard>
  /**
   * Deletes a card at the provider (a card already gone counts as deleted), stores the owner's
   * new default, and deletes the local copy. Once the provider has deleted the card, the local
   * copy goes even when reading the new default fails (`rate_limited`, `provider_unavailable`):
   * the call then rejects with that failure, and when the card was the stored default the store
   * names none for the owner (`getForOwner` answers null) until a `sync(owner)`, a `reconcile`
   * or a webhook stores the provider's new one. The default is read before the copy is deleted,
   * so that the deletion is the later write: a read that still named the card does not bring it
   * back.
   *
   * On a provider that cannot delete but can invalidate (the marketplace), the card is
   * invalidated instead, for good, and stored as invalid: the provider still lists it, so
   * keeping it makes the store equal to the provider and `reconcile` reports no drift. The
   * owner's default is then read back, as the provider's policy chose it; the card is stored as
   * invalid before that read, so a read that fails leaves it stored as the invalidation answered
   * it (not the active default), and the call rejects with that failure.
   *
   * On a provider that cannot list cards (`capabilities.listCards` false, and so no
   * `getDefaultCard`), the default is not read back: the card is deleted at the provider and
   * locally all the same (or invalidated, and stored as the invalidation answered it). The
   * provider may have promoted another card, which it cannot tell, so the store names no default
   * for the owner when the deleted card was the stored default (`getForOwner` answers null until
   * a `sync` of a card or a webhook stores the provider's new default); an invalidated card the
   * answer still calls the default stays it. The owner's other cards stay as they are.
   *
   * A card given by another id the provider takes for it (a marketplace card's URI) is deleted
   * under its own id, at the provider and in the store (see {@link CardSync}).
   *
   * Runs after this `CardSync`'s earlier calls on the owner, and before its later ones, so that
   * a `setDefaultCard` made at the same time acts on the default this call leaves (see
   * {@link CardSync}; across processes nothing orders them).
   */
  deleteCard(owner: Owner, cardId: string): Promise<void>
  /**
   * Normalizes a provider payload (an API response, a webhook's object) and stores it. Returns
   * null, and stores nothing, for a payload that is not a card, and refuses with
   * `invalid_request` a card the adapter's `parseCard` gives under another provider's name. When
   * the payload cannot tell
   * whether the card is the owner's default (`parseCard` marked it with `markDefaultUnknown`,
   * as Stripe's adapter does for a customer's card whose `customer` is a plain id), the stored
   * default flag is kept; a card not stored yet is stored as not the default.
   *
   * Runs after this `CardSync`'s earlier calls on the owner: the payload of a card that a
   * `setDefaultCard` in flight created is stored once that call has stored the card, and so
   * keeps it the default. Its `observedAt` default, now, is the time of the call, not of the
   * wait.
   */
  syncFromProviderData(
    owner: Owner,
    raw: unknown,
    options?: {
      /**
       * When the payload's state was observed, in ms since the epoch (a webhook event's
       * `created` × 1000): a store holding a newer state keeps it. Default: now, by the sync's
       * clock ({@link CardSyncOptions.now}). A whole number from 0: anything else (`NaN`,
       * `Infinity`, a fraction, a string) is refused with `invalid_request` naming
       * `syncFromProviderData options`, as are options that are no object, before anything is
       * read or stored.
       */
      observedAt?: number | undefined
    },
  ): Promise<StoredCard | null>
  /**
   * Stores the given card; given an id, fetches it from the provider first (a card the provider
   * no longer holds is removed locally); given nothing, fetches and stores the owner's default.
   * What the provider answers is stored as of when it was asked: a newer state stored meanwhile
   * (a webhook's) is kept and returned, and null is returned for a card deleted meanwhile.
   * Runs after this `CardSync`'s earlier calls on the owner (see {@link CardSync}): a read of the
   * default cannot clear a default a `setDefaultCard` made after it stored. A given card is as
   * of the call: a newer state stored while it waited is kept. A given card of another provider
   * (its `provider` is not this sync's provider's name) is refused with `invalid_request`: it
   * would be stored among that provider's cards. So is one of another owner (a card without an
   * `owner` is taken as `owner`'s): its id would be listed among `owner`'s cards. An id, or a
   * given card's id, that the provider takes for another card's (a marketplace card's URI) is
   * read, stored and removed as that card's id (see {@link CardSync}).
   */
  sync(owner: Owner, cardOrId?: Card | string): Promise<StoredCard | null>
  /** The owner's default card, from the store. */
  getForOwner(owner: Owner): Promise<StoredCard | null>
  /**
   * Deletes the local copy of a card only, as a deletion observed at `observedAt` (default:
   * now): a payload of the card observed before it (a webhook's update delivered after its
   * deletion) is not stored again; one observed after it is. Returns whether a copy was deleted:
   * false when there was none, and when the store holds a state of the card observed after
   * `observedAt`, which it keeps. Runs after this `CardSync`'s earlier calls on the owner, as
   * `syncFromProviderData` does.
   *
   * It asks the provider nothing, but reads the card id as the provider's other operations do:
   * an id the provider takes for another card's (a marketplace card's URI, as a webhook or a log
   * may quote it) deletes the copy of the card it names, through the provider's `cardIdOf`,
   * which sends no request (see {@link CardSync}). Taken as given, such an id deleted nothing,
   * and the card the caller meant stayed.
   */
  deleteLocal(
    owner: Owner,
    cardId: string,
    options?: {
      /**
       * When the deletion was observed, in ms since the epoch (a webhook event's `created` ×
       * 1000). Default: now, by the sync's clock ({@link CardSyncOptions.now}). A whole number
       * from 0: anything else is refused with `invalid_request` naming `deleteLocal options`,
       * before anything is deleted.
       */
      observedAt?: number | undefined
    },
  ): Promise<boolean>
  /**
   * Pages through the provider's cards for the given owners (default: every owner the store
   * knows for this provider), and makes the store equal to it: adds, updates and removes cards
   * and repairs the default. Owners are processed a few at a time, one page in memory each;
   * rate limits are waited out. The report is of constant size too: each of its lists keeps its
   * first `maxEntries` (1,000 unless told), its `counts` count every entry, and `onDrift`
   * receives each one as its owner finishes. Options other than those of {@link ReconcileOptions}
   * (a concurrency outside 1 to 256, a misspelt `dryrun`, …) reject with `invalid_request` naming
   * `reconcile options`, before anything is read.
   * An owner given more than once (the same type and id) is reconciled once, and counted once
   * (the report's `owners`, `cardsSeen` and findings, `onOwner`'s `done`); what is skipped:
   * - in an array, every repeat, wherever it is: the caller holds the array already, and the run
   *   keeps one key per distinct owner beside it;
   * - in any other iterable or async iterable, which may be endless: a repeat of an owner that is
   *   read ahead, waiting or being reconciled (so one owner never runs twice at once), or that is
   *   among the last 10,000 distinct owners done, counted from when each was last given (a repeat
   *   counts as given again). An owner given again once 10,000 other owners are done since it
   *   was last given is reconciled, and counted, again. The run keeps at most that many keys
   *   besides its owners in flight (about 2 MB with ids as long as Stripe's, 3.5 MB with ids of
   *   100 characters), so it stays in constant memory whatever the iterable's length.
   * A repeat is still checked (an invalid one ends the run as below), and counts in the index an
   * error names. Without `owners`, the store's `listOwners` lists each owner once, by contract.
   * The owners given are checked as they are read: the first that is no owner (an id with a NUL
   * or an unpaired surrogate, an unknown type) rejects the run with `invalid_request`, once the
   * owners in flight are done, and neither the store nor the provider sees it. What the owners
   * (or the store's `listOwners`) throw rejects the run alike, once the owners in flight are done;
   * a throw of `undefined` or `null`, which carries no error, as `invalid_request`. Its `signal`,
   * or the sync's own `retry.signal`, stops the run at once: it rejects with the reason of the
   * first to abort ({@link ReconcileOptions.signal}).
   */
  reconcile(
    owners?: Owner | Iterable<Owner> | AsyncIterable<Owner>,
    options?: ReconcileOptions,
  ): Promise<DriftReport>
}

/**
 * Creates a {@link CardSync} over a provider and a store. Options are checked once, here:
 * anything other than a provider (with every method of {@link CardProvider}, a `cardIdOf`
 * that is a function or absent, and a `name` a store can keep and errors can print: not empty,
 * without a NUL character, an unpaired surrogate, a key or a card number), a store, a
 * concurrency of 1 to 256, a retry policy and a clock (`now`) that is a function throws
 * `invalid_request` naming `createCardSync options`, and so does an option of another name (a
 * misspelt `concurency`), which would otherwise run with the default.
 *
 * Every card the provider answers with must be the asked owner's, under the provider's name, and,
 * from an operation that names a card (`getCard`, `setDefaultCard`, `invalidateCard`), that card,
 * its id the asked id exactly (or the id the provider's `cardIdOf` says the asked id names): another
 * is refused with `provider_unavailable`, not retryable, and nothing of it is stored. So is a card
 * that shows the operation undone: `invalidateCard`'s not `status: 'invalid'` (stored, a card the
 * caller retired with `deleteCard` would stay active), `setDefaultCard`'s not `isDefault: true`
 * under a `defaultPolicy` other than `'none'` (the old default would be retired for it). A
 * `cardIdOf` is checked as `defineCardProvider` checks one: what it throws is a `CardportError`,
 * and an answer that is no card id is `provider_unavailable`, not retryable, before the provider
 * or the store sees anything. A provider written by hand (a plain object, not built with
 * `defineCardProvider`) is held to what `defineCardProvider` enforces: its cards are read with the
 * Card schema, and what its operations throw reaches the caller as a `CardportError`, card numbers
 * and keys masked (a `CardportError` as it is, its cause masked; anything else
 * `provider_unavailable`, retryable; `invalid_request` from `parseCard`).
 *
 * @example
 * ```ts
 * const sync = createCardSync({ provider: stripeProvider({ stripe }), store: memoryStore() })
 * await sync.setDefaultCard({ type: 'customer', id: 'cus_123' }, 'tok_visa')
 * const card = await sync.getForOwner({ type: 'customer', id: 'cus_123' })
 * ```
 */
export function createCardSync(options: CardSyncOptions): CardSync {
  // Checked once, here: a wrong concurrency (NaN, a string) would make reconcile skip every owner.
  const valid = validate(CardSyncOptionsSchema, options, 'createCardSync options')
  const { store } = valid
  // Every card the provider answers is checked to be the asked owner's before it is stored, and
  // read with the Card schema where defineCardProvider did not read it (a provider by hand); what
  // a provider by hand throws is made a CardportError, card numbers and keys masked, as
  // defineCardProvider makes its primitives'.
  const provider = ownerCheckedProvider(valid.provider)
  const concurrency = valid.concurrency
  // A retry option given as `undefined` keeps its default, as its type allows.
  const retry: RetryPolicy = {
    ...valid.retry,
    retries: valid.retry?.retries ?? 3,
    baseDelayMs: valid.retry?.baseDelayMs ?? 250,
  }
  const scope = (owner: Owner): CardScope => ({ provider: provider.name, owner })
  // `Date.now` read at each call, not kept: a clock put in its place later (a test's fake
  // timers) dates this sync's writes as it dates everything else.
  const clock = valid.now ?? (() => Date.now())
  /** What the clock threw, or its answer's refusal: in `reconcile`, the run's failure. */
  const clockFailures = new WeakSet<object>()
  /**
   * The time that dates a write, from the sync's clock, checked: a store refuses an `observedAt`
   * that is no whole number of ms only once the provider has changed (a card created, an old
   * default deleted), and a `NaN` let through would be written where a store took it.
   */
  const now = (): number => {
    let at: unknown
    try {
      at = clock()
    } catch (error) {
      if (isObject(error)) clockFailures.add(error)
      throw error
    }
    if (typeof at === 'number' && Number.isSafeInteger(at) && at >= 0) return at
    // A number as it is; anything else by its kind alone, as it may be text not to echo.
    const got = typeof at === 'number' ? String(at) : kindOf(at)
    const refused = new InvalidRequestError(
      `${provider.name}: createCardSync's now must answer a whole number of ms since the epoch, from 0, as Date.now does (got ${got}): the call stopped before the write it was to date`,
      {
        provider: provider.name,
        retryable: false,
        issues: [{ path: ['now'], message: 'must answer a whole number of ms since the epoch' }],
      },
    )
    clockFailures.add(refused)
    throw refused
  }

  // Every operation checks its owner and card id first, as a provider checks them before any
  // request: an id a store cannot keep as it is (a NUL, an unpaired surrogate) would be read
  // otherwise by each store's driver, and must reach none, whatever the provider checks itself.
  const checkOwner = (owner: Owner, what = 'owner'): Owner =>
    declared(validate(OwnerInputSchema, owner, what, provider.name))
  // An owner of a type the provider does not declare is refused as defineCardProvider refuses
  // it, also for a provider written by hand (which may not check) and for the operations that
  // reach only the store: its cards would be stored where no call of this sync may read them.
  const ownerTypes: ReadonlySet<string> = new Set(provider.capabilities.ownerTypes)
  const declared = (owner: Owner): Owner => {
    if (!ownerTypes.has(owner.type)) {
      throw new UnsupportedOperationError(
        `${provider.name} does not support cards of owners of type '${owner.type}' (capabilities.ownerTypes); check provider.capabilities before calling it`,
        { provider: provider.name },
      )
    }
    return owner
  }
  // The card id is then the one the provider says the caller's names (a marketplace card's URI
  // names the card `CC…`): cards are stored under their own id, so a URI taken as it is deleted
  // nothing (the card stayed, active) and wrote a deletion's tombstone under the URI.
  const checkCard = (owner: Owner, cardId: string, what: string) => {
    const valid = validate(OwnerCardSchema, { owner, cardId }, what, provider.name)
    return { owner: declared(valid.owner), cardId: provider.cardIdOf(valid.cardId) }
  }
  // A NaN or an Infinity would be stored as the card's observedAt: Infinity refuses every later
  // write of the card, its deletion included, and NaN lets any older one through. Default: now,
  // when the call was made, not when the owner's earlier calls let it in.
  const observedAtOf = (options: unknown, operation: string): number =>
    validate(ObservedAtOptionsSchema, options, `${operation} options`, provider.name).observedAt ??
    now()

  /**
   * `card`, when it is one of this provider's: a card is stored under its own `provider`, so
   * another provider's card (a Stripe card handed to the marketplace's sync) would land among
   * that provider's cards, where this sync's queue does not order it and its reconcile never
   * looks.
   */
  const ownCard = <C extends Card>(card: C, operation: string): C => {
    if (card.provider === provider.name) return card
    throw new InvalidRequestError(
      `Invalid ${operation} input: the card is one of ${card.provider}'s, and this CardSync keeps ${provider.name}'s cards: sync it through a CardSync over ${card.provider}`,
      {
        provider: provider.name,
        issues: [{ path: ['provider'], message: `a card of ${provider.name}` }],
      },
    )
  }

  /**
   * `setDefaultCard`, `deleteCard`, `sync` and `syncFromProviderData` on one owner run one at a
   * time, in call order: each reads the owner's defaults (at the provider or in the store) and
   * then writes them, and two at once would each act on a state the other is changing. Two
   * `setDefaultCard` calls would retire the same old default, and both new cards would stay; a
   * `sync` of the default that read "none" before a `setDefaultCard` would clear the new default
   * after it; a webhook payload that cannot tell the default, read before `setDefaultCard` stored
   * its card, would store the card as not the default. Work inside a task calls the helpers
   * below, never these methods: a task waiting for its own owner's queue would never run. The
   * key is the owner's store key (`scopeKey`), which no two owners share.
   */
  const ownerQueue = keyedQueue()
  const oneAtATime = <T>(owner: Owner, task: () => Promise<T>): Promise<T> =>
    ownerQueue(scopeKey(scope(owner)), task)

  /**
   * Stores a card as the provider answered a request sent at `readAt` (`now()` taken before the
   * request): a webhook event or another process that stored a newer state meanwhile keeps
   * it. Returns the row the store holds afterwards, null when a newer deletion removed the card.
   */
  const storeCard = async (card: Card, readAt: number): Promise<StoredCard | null> =>
    (await store.upsert(card, { observedAt: readAt })).card

  /**
   * Removes a card the provider confirmed gone: for good (ids are never reused), as of now, and
   * never before the row it removes. A row dated ahead of this host's clock (a webhook handler
   * without the API dates a card by its event, ranked within Stripe's whole second; another
   * host's clock runs ahead) holds a state of a card that no longer exists: a deletion dated now
   * would be refused as older, and the store would keep the card, active. The deletion is then
   * dated 1 ms after the row, so that a write of that very time (its event redelivered) stays
   * out too; any write it refuses is a state of the gone card.
   */
  const removeCard = async (owner: Owner, cardId: string) => {
    const observedAt = now()
    const row = await store.get(scope(owner), cardId)
    const after = row?.observedAt == null ? observedAt : Math.max(observedAt, row.observedAt + 1)
    await store.delete(scope(owner), cardId, { observedAt: after })
  }

  /**
   * Reads the owner's default from the provider and stores it, or clears the stored default when
   * there is none (a default another process stored after the read stays): `sync(owner)`'s work,
   * and `deleteCard`'s last step. Returns what the store holds.
   */
  const syncDefault = async (owner: Owner): Promise<StoredCard | null> => {
    const readAt = now()
    const card = await provider.getDefaultCard(owner)
    if (!card) {
      await store.setDefault(scope(owner), null, { observedAt: readAt })
      return null
    }
    return storeCard(card, readAt)
  }

  /** The owner's defaults at the provider: one, or one per currency for external accounts. */
  const providerDefaults = async (owner: Owner): Promise<Card[]> => {
    if (!(provider.capabilities.externalAccounts && owner.type === 'account')) {
      const current = await provider.getDefaultCard(owner)
      return current ? [current] : []
    }
    const defaults: Card[] = []
    for await (const card of listAll(provider, owner)) if (card.isDefault) defaults.push(card)
    return defaults
  }

  /**
   * Creates the card `setDefaultCard` makes the default, under `key`. Without the caller's key,
   * `key` is derived from the owner and the token, so it names every call with that token for
   * that owner, not this call alone: with a reusable (test) token, a later call gets an earlier
   * call's card replayed. A replayed card retired since (gone: `card_not_found`; invalidated)
   * sends the call on to the next key of a chain derived from the first: the same chain for
   * this call and for its retries, so that a retry still makes no second card.
   */
  const createDefault = async (
    owner: Owner,
    token: string,
    options: { metadata?: MetadataPatch | undefined; idempotencyKey?: string | undefined },
    key: string,
  ): Promise<{ card: Card; readAt: number }> => {
    const derived = options.idempotencyKey === undefined
    for (let link = 0; ; link++) {
      const readAt = now()
      const idempotencyKey = link === 0 ? key : `${key}-${link}`
      try {
        const card = await provider.createCard(
          owner,
          { source: token, makeDefault: true, metadata: options.metadata },
          { idempotencyKey },
        )
        if (!derived || card.status !== 'invalid') return { card, readAt }
      } catch (error) {
        if (!derived || !isCardportError(error, 'card_not_found')) throw error
      }
      if (link + 1 >= MAX_KEY_CHAIN) {
        throw new InvalidRequestError(
          `${provider.name}: this token was made the default of ${formatOwner(owner)} ${MAX_KEY_CHAIN} times without an idempotencyKey: pass one of your own to each call that uses a token again`,
          {
            provider: provider.name,
            issues: [
              { path: ['options', 'idempotencyKey'], message: 'needed for a token used again' },
            ],
          },
        )
      }
    }
  }

  /**
   * Retires an old default at the provider: deletes it, or invalidates it where the provider
   * cannot delete. Gives back the card as the invalidation answered it (to store as it is: no
   * second request, and none the provider may lack, such as `getCard`), null when the card is
   * gone, or undefined when the provider can do neither and the card stays as it is.
   */
  const retire = async (
    owner: Owner,
    cardId: string,
  ): Promise<{ card: Card; readAt: number } | null | undefined> => {
    const readAt = now()
    try {
      if (provider.capabilities.deleteCard) {
        await provider.deleteCard(owner, cardId)
        return null
      }
      if (provider.capabilities.invalidateCard) {
        return { card: await provider.invalidateCard(owner, cardId), readAt }
      }
      return undefined
    } catch (error) {
      if (!isCardportError(error, 'card_not_found')) throw error
      return null
    }
  }

  /**
   * `setDefaultCard`'s work, once its input is checked and the owner's earlier calls are done
   * (see `oneAtATime`).
   */
  const replaceDefault = async (
    owner: Owner,
    token: string,
    callOptions: z.output<typeof SetDefaultCardCallSchema>['options'],
  ): Promise<StoredCard> => {
    // The clock is asked first: its first use, the new card's date, comes after the retirement
    // notes are saved, and a clock that answers no time would leave them saved for nothing.
    now()
    // Old defaults: the provider's (the truth), by id, with their currency: external accounts
    // have a default per currency, and only the new card's currency changes hands.
    const previous = new Map<string, string | null>()
    for (const card of await providerDefaults(owner)) previous.set(card.id, card.currency)
    const namedByProvider = new Set(previous.keys())

    const idempotencyKey =
      callOptions.idempotencyKey ??
      deriveIdempotencyKey('set-default', provider.name, owner, derivedKeyInput(token, callOptions))
    // A retry also retires what the failed call noted: a reconcile since may have left the
    // old default in the store as a plain card, and the provider no longer names it either.
    const notes = store.retirements
    for (const { cardId, currency } of (await notes?.load(scope(owner), idempotencyKey)) ?? []) {
      previous.set(cardId, currency)
    }
    // A store without notes: its defaults, which still name the old card if an earlier attempt
    // died after the provider switched but before the store did (see below).
    const storeDefaults =
      notes === undefined
        ? (await store.listByOwner(scope(owner))).filter((card) => card.isDefault)
        : []
    const noted = notes !== undefined && previous.size > 0
    if (noted) {
      const cards = [...previous].map(([cardId, currency]) => ({ cardId, currency }))
      await notes.save(scope(owner), idempotencyKey, cards)
    }

    let { card, readAt } = await createDefault(owner, token, callOptions, idempotencyKey)
    // The store's default is retired with the provider's only when the provider named this
    // very card its default before the call: an earlier attempt switched it and died before
    // the store followed. Otherwise the store's flag is out of date (the default changed at the
    // provider since: its dashboard, a webhook not delivered yet), and its card may be one the
    // owner still holds as a plain card, not this call's to delete.
    if (namedByProvider.has(card.id)) {
      for (const stored of storeDefaults) previous.set(stored.id, stored.currency)
    }
    if (!card.isDefault) {
      if (!provider.capabilities.setDefaultCard) {
        // The card exists at the provider now: keep the store in step before refusing. The
        // old default stays the default, so nothing is left to retire.
        await storeCard(card, readAt)
        if (noted) await notes.remove(scope(owner), idempotencyKey)
        throw new UnsupportedOperationError(
          `${provider.name} did not make card ${card.id} the default and cannot be asked to (capabilities.setDefaultCard is false, defaultPolicy '${provider.capabilities.defaultPolicy}'): the card was added and the old default kept`,
          { provider: provider.name },
        )
      }
      readAt = now()
      card = await provider.setDefaultCard(owner, card.id)
    }
    previous.delete(card.id)
    for (const [cardId, currency] of previous) {
      if (currency !== card.currency) previous.delete(cardId)
    }

    const retired = new Map<string, Awaited<ReturnType<typeof retire>>>()
    for (const cardId of previous.keys()) retired.set(cardId, await retire(owner, cardId))
    // Old defaults leave the store before the new card is stored: until then the store still
    // names the old default, so a retry after a crash here finds it and finishes the job.
    for (const [cardId, outcome] of retired) {
      if (outcome === null) await removeCard(owner, cardId)
      else if (outcome !== undefined) await storeCard(outcome.card, outcome.readAt)
      // Kept at the provider as a plain card: read back when the provider can read one card.
      // When it cannot, the new default's write below displaces it (a store keeps one default
      // per owner and currency, and only an old default of the new card's currency is here).
      else if (provider.capabilities.getCard) await syncCard(owner, cardId)
    }
    const stored = await storeCard(card, readAt)
    if (noted) await notes.remove(scope(owner), idempotencyKey)
    // Deleted since the provider answered (a webhook of another process, a deleteCard): the
    // store is right to hold no card, and there is no default to return.
    if (!stored) {
      throw new CardNotFoundError(
        `${provider.name}: card ${card.id} of ${formatOwner(owner)} was deleted while it was made the default`,
        { provider: provider.name },
      )
    }
    return stored
  }

  /** `deleteCard`'s work, once its ids are checked and the owner's earlier calls are done. */
  const deleteEverywhere = async (owner: Owner, cardId: string): Promise<void> => {
    const { deleteCard, invalidateCard, listCards } = provider.capabilities
    if (!deleteCard && invalidateCard) {
      let invalid: Card | null = null
      const readAt = now()
      try {
        invalid = await provider.invalidateCard(owner, cardId)
      } catch (error) {
        if (!isCardportError(error, 'card_not_found')) throw error
      }
      // The invalid card first, then the default the provider chose: if the provider keeps
      // an invalidated card as the default, the default read back has the last word.
      if (invalid) await storeCard(invalid, readAt)
      else await removeCard(owner, cardId)
      // A provider that cannot list cannot read its default either (getDefaultCard follows
      // listCards): the card as the invalidation answered it is all it tells.
      if (listCards) await syncDefault(owner)
      return
    }
    // The clock is asked before the card is deleted: it dates the reads and the removal after
    // the deletion, and a clock that answers no time would fail the call with the card gone at
    // the provider and still held, active, in the store.
    now()
    try {
      await provider.deleteCard(owner, cardId)
    } catch (error) {
      if (!isCardportError(error, 'card_not_found')) throw error
    }
    // Asked for its default, a provider that cannot list would fail the call after the card
    // is gone, and leave the store holding it with nothing to repair it (no reconcile): the
    // card goes without that read. The card it promoted, if any, is not known, so a deleted
    // default leaves the owner with no stored default; the other cards stay as they are.
    // The default is read before the card is removed, so that the removal's time is the later
    // one: a read that still named the card (a provider a moment behind) does not bring it back.
    // A read that fails (rate_limited) still lets the card go, or the store would keep it, as
    // the default, with the provider holding no such card; the call then rejects with it.
    try {
      if (listCards) await syncDefault(owner)
    } finally {
      await removeCard(owner, cardId)
    }
  }

  /** `sync(owner, cardId)`'s work, once its ids are checked and the owner's earlier calls done. */
  const syncCard = async (owner: Owner, cardId: string): Promise<StoredCard | null> => {
    const readAt = now()
    try {
      return await storeCard(await provider.getCard(owner, cardId), readAt)
    } catch (error) {
      if (!isCardportError(error, 'card_not_found')) throw error
      await removeCard(owner, cardId)
      return null
    }
  }

  const sync: CardSync = {
    async setDefaultCard(callerOwner, token, options) {
      // Checked before anything is read or noted, as createCard would check them.
      const valid = validate(
        SetDefaultCardCallSchema,
        { owner: callerOwner, token, options },
        'setDefaultCard input',
        provider.name,
      )
      const owner = declared(valid.owner)
      // The old default is read at the provider before anything changes there: a provider that
      // cannot read it is refused now, on what it declares, not once its new card was made.
      if (!provider.capabilities.listCards) {
        throw new UnsupportedOperationError(
          `${provider.name} cannot list cards (capabilities.listCards is false), so setDefaultCard cannot read the old default to retire it: nothing was created or changed; check provider.capabilities before calling it`,
          { provider: provider.name },
        )
      }
      return oneAtATime(owner, () => replaceDefault(owner, valid.token, valid.options))
    },

    async deleteCard(callerOwner, callerCardId) {
      const { owner, cardId } = checkCard(callerOwner, callerCardId, 'deleteCard input')
      return oneAtATime(owner, () => deleteEverywhere(owner, cardId))
    },

    async syncFromProviderData(owner, raw, callOptions) {
      const observedAt = observedAtOf(callOptions, 'syncFromProviderData')
      const payload = provider.parseCard(raw, checkOwner(owner))
      if (!payload) return null
      const parsed = ownCard(payload, 'syncFromProviderData')
      return oneAtATime(parsed.owner, async () => {
        let card = parsed
        if (isDefaultUnknown(card)) {
          // The payload cannot tell (a Stripe customer's card with `customer` as an id): its
          // `isDefault: false` must not clear the stored default. A card not stored yet is not
          // it.
          const stored = await store.get(scope(card.owner), card.id)
          card = { ...card, isDefault: stored?.isDefault ?? false }
        }
        return (await store.upsert(card, { observedAt })).card
      })
    },

    async sync(callerOwner, cardOrId) {
      if (typeof cardOrId === 'string') {
        const { owner, cardId } = checkCard(callerOwner, cardOrId, 'sync input')
        return oneAtATime(owner, () => syncCard(owner, cardId))
      }
      const owner = checkOwner(callerOwner)
      if (cardOrId === undefined) return oneAtATime(owner, () => syncDefault(owner))
      // The caller's card is as of the call: a newer state stored while it waited is kept.
      const readAt = now()
      // A card without its owner is the owner's given. Another owner's is refused: stored
      // under `owner`, its id would be listed among that owner's cards.
      // Read once, here: a getter that throws is input that cannot be read, not a raw error.
      const input = cardOrId === null ? null : copyOf(cardOrId as object, 'card', provider.name)
      const given = (input as Partial<Card> | null)?.owner
      if (given != null && !sameOwner(given, owner)) {
        throw new InvalidRequestError(
          `Invalid sync input: the card is another owner's, not ${formatOwner(owner)}'s: sync it with its own owner`,
          {
            provider: provider.name,
            issues: [{ path: ['owner'], message: `a card of ${formatOwner(owner)}` }],
          },
        )
      }
      const valid = ownCard(
        validate(compiledCardSchema(), { ...input, owner }, 'card', provider.name),
        'sync',
      )
      // Stored under the id its id names: a card given with its URI for its id is that card.
      const card = { ...valid, id: provider.cardIdOf(valid.id) }
      return oneAtATime(owner, () => storeCard(card, readAt))
    },

    async getForOwner(owner) {
      return store.getDefault(scope(checkOwner(owner)))
    },

    async deleteLocal(callerOwner, callerCardId, callOptions) {
      const { owner, cardId } = checkCard(callerOwner, callerCardId, 'deleteLocal input')
      const observedAt = observedAtOf(callOptions, 'deleteLocal')
      return oneAtATime(owner, () => store.delete(scope(owner), cardId, { observedAt }))
    },

    async reconcile(owners, options = {}) {
      // Checked like createCardSync's: a concurrency of NaN would reconcile no owner at all.
      const reconcileOptions = validate(ReconcileOptionsSchema, options, 'reconcile options')
      const { onDrift, onOwner } = reconcileOptions
      const recorder = createDriftRecorder(provider.name, reconcileOptions.dryRun ?? false, {
        maxEntries: reconcileOptions.maxEntries,
        onDrift:
          onDrift &&
          ((change) => {
            try {
              onDrift(change)
            } catch (error) {
              throw callerFailure(error, 'onDrift')
            }
          }),
      })
      const { report } = recorder
      if (owners !== undefined && !isOwner(owners) && !isOwnerSource(owners)) {
        throw new InvalidRequestError(
          'Invalid reconcile owners: pass an owner, an iterable or async iterable of owners, or nothing for every owner the store knows',
          { provider: provider.name, issues: [{ path: ['owners'], message: 'not owners' }] },
        )
      }
      // The sync's own retry.signal stops a run as the run's signal does: once it aborts, no
      // owner can be tried (withRetry starts no attempt), so going on would only record every
      // owner left as failed with the signal's reason.
      const signals = [reconcileOptions.signal, retry.signal].filter((s) => s !== undefined)
      // Aborted already: nothing is read, of the store (its owners) or of the provider.
      for (const given of signals) given.throwIfAborted()
      // The clock dates each owner's writes: one that answers no time fails the run before
      // anything is read, not each owner in turn.
      now()
      // The run's waits (hundreds at once) listen to a signal of its own, which follows the
      // caller's signals: each gets one listener, removed when the run ends.
      const stop = signals.length > 0 ? followSignal(...signals) : undefined
      const signal = stop?.signal
      try {
        // The caller's owners are checked as they are read, before the store or the provider sees
        // them, and one given again is skipped (an array's whole, an iterable's as far as
        // REMEMBERED_OWNERS goes); the store's own are ids it keeps, each listed once.
        const given = createOwnerDedupe(
          Array.isArray(owners) ? Number.POSITIVE_INFINITY : REMEMBERED_OWNERS,
        )
        const keyOf = (owner: Owner) => scopeKey(scope(owner))
        const source =
          owners === undefined
            ? store.listOwners(provider.name)
            : isOwner(owners)
              ? [checkOwner(owners, 'reconcile owner')]
              : checkedOwners(owners, provider.name, (owner) => given.take(keyOf(declared(owner))))
        let done = 0
        const limit = reconcileOptions.concurrency ?? concurrency
        // More owners than read at once: while some wait for their store write, others read,
        // and the waiting ones make group writes of several hundred cards.
        const inFlight = Math.min(limit * 8, 1024)
        const queue = prefetchStoredCards(source, store, provider.name, inFlight)
        // What the store's calls throw, told apart from the provider's when an owner fails.
        const storeErrors = new WeakSet<object>()
        const tracked = storeErrorsTracked(store, storeErrors)
        const run: ReconcileRun = {
          store: tracked,
          reading: pLimit(limit),
          readersWriting: 0,
          ownersInFlight: 0,
          ownersWriting: 0,
          // Owners write their cards together. The batches handed over wait for more while
          // another owner may still hand one over, and the owners waiting leave the readers their
          // places: a fuller group costs the store less per card.
          write: createGroupWriter(tracked, {
            holdFor: (queued) => queued.batches < inFlight - limit && mayHandOver(run, limit),
            concurrency: store.concurrentWrites,
          }),
          signal,
        }
        // What the owners' source throws ends the run: a throw of nothing, named for its source.
        const ownersName = owners === undefined ? "the store's listOwners" : 'the owners given'
        const unread = (error: unknown) => callerFailure(error, ownersName)
        await forEachConcurrently(queue, inFlight, signal, unread, async ({ owner, stored }) => {
          signal?.throwIfAborted()
          run.ownersInFlight++
          let found: OwnerDrift | undefined
          try {
            let attempts = 0
            /** The owner's cards as the store held them before its first attempt. */
            let before: StoredCard[] | undefined
            found = await withRetry(
              async () => {
                const attempt = emptyOwnerDrift()
                // A retry reads the store again: the attempt before may have written to it.
                const readAhead = attempts++ === 0 ? await stored() : null
                const storedCards = readAhead ?? (await run.store.listByOwner(scope(owner)))
                // What it reports is still what the store held before the first attempt: the
                // cards and the default that a failed attempt wrote are findings all the same.
                before ??= storedCards
                await reconcileOwner(owner, report.dryRun, attempt, run, storedCards, before)
                return attempt
              },
              { ...retry, signal },
            )
          } catch (error) {
            signal?.throwIfAborted()
            // The sync's clock failed: no owner of the run can be dated, and the provider is not
            // to blame. The run rejects with it, once the owners in flight are done.
            if (isObject(error) && clockFailures.has(error)) throw error
            // Every error of the provider's is a CardportError (ownerCheckedProvider makes it
            // one): any other is the store's (or a bug of cardport's), never the provider's.
            const fromStore = (isObject(error) && storeErrors.has(error)) || !isCardportError(error)
            recorder.failure({
              owner,
              source: fromStore ? 'store' : 'provider',
              code: isCardportError(error) ? error.code : STORE_FAILED,
              // A CardportError's message is redacted already; another error's (a store
              // driver's) may quote what it was given.
              message: error instanceof Error ? redactSecrets(error.message) : 'unknown error',
            })
          } finally {
            // One owner fewer that may hand a batch over: the held ones may have to go now.
            run.ownersInFlight--
            run.write.nudge()
            given.done(keyOf(owner))
          }
          // Outside the try: what onDrift throws is the caller's, not this owner's failure.
          if (found) recorder.owner(found)
          try {
            onOwner?.(owner, { done: ++done })
          } catch (error) {
            throw callerFailure(error, 'onOwner')
          }
        })
        // Aborted as the last owners finished: the caller asked to stop, and the run did not end
        // of itself. Rejecting says so, whatever the timing (a Ctrl+C during the last page).
        signal?.throwIfAborted()
        return report
      } finally {
        stop?.release()
      }
    },
  }

  /**
   * Reconciles one owner: writes what `storedCards` (the store's cards of it, as read for this
   * attempt) lacks or holds otherwise, and records in `drift` what `before` (the store's cards
   * before the owner's first attempt) lacked or held otherwise. They are one list on a first
   * attempt; a retry's own read holds what the failed attempt wrote, which it need not write
   * again, but must still report.
   */
  const reconcileOwner = async (
    owner: Owner,
    dryRun: boolean,
    drift: OwnerDrift,
    run: ReconcileRun,
    storedCards: StoredCard[],
    before: StoredCard[],
  ) => {
    const ownerScope = scope(owner)
    const stored = new Map(storedCards.map((card) => [card.id, card]))
    // Built only on a retry: a first attempt reports against the cards it writes against.
    const held = before === storedCards ? stored : new Map(before.map((card) => [card.id, card]))
    // Every default, not the first of each list: an account has one per currency, and the
    // store and the provider list cards in different orders.
    const storedDefaults = defaultsOf(stored)
    const providerDefaultIds = new Set<string>()
    const seen = new Set<string>()
    let providerDefault: string | null = null
    let batch: Card[] = []
    /** The provider said the owner was deleted (on any page): it holds no cards. */
    let ownerDeleted = false
    // When the owner's first page was asked for: its cards are written, and the cards it did not
    // list removed, as of then, so that what a webhook or another process stored meanwhile wins.
    let readAt = now()
    const flush = async () => {
      // Cards read after the abort are not written (a page that was on its way when it came).
      run.signal?.throwIfAborted()
      if (!dryRun && batch.length > 0) {
        run.ownersWriting++
        try {
          await run.write(batch, readAt)
        } finally {
          run.ownersWriting--
        }
      }
      batch = []
    }

    try {
      await run.reading(async () => {
        readAt = now()
        // The run's signal stops an owner between two pages, not only between owners.
        for await (const card of listAll(provider, owner, { signal: run.signal })) {
          // A card listed again (pages that overlap: an offset moved on by a card added between
          // two pages) is no second finding: its first listing is the one reported and written,
          // as of the same readAt as any later one would be.
          if (seen.has(card.id)) continue
          seen.add(card.id)
          drift.cardsSeen++
          if (card.isDefault && providerDefault === null) providerDefault = card.id
          if (card.isDefault) providerDefaultIds.add(card.id)
          const existing = stored.get(card.id)
          const same = existing !== undefined && sameCard(existing, card, { ignoreDefault: true })
          const previous = held === stored ? existing : held.get(card.id)
          if (!previous) drift.added.push({ owner, cardId: card.id })
          else if (
            previous === existing ? !same : !sameCard(previous, card, { ignoreDefault: true })
          ) {
            drift.updated.push({ owner, cardId: card.id })
          }
          if (same && existing.isDefault === card.isDefault) continue
          batch.push(card)
          if (batch.length >= 100) {
            // While it waits for its write, this owner reads nothing: no batch waits for it.
            run.readersWriting++
            try {
              await flush()
            } finally {
              run.readersWriting--
            }
          }
        }
        // The owner's place goes to the next one a turn of the event loop later: by then the
        // HTTP connection of its last page is back in the agent's pool, and the next owner's
        // request reuses it instead of opening one more.
        await nextTurn()
      })
    } catch (error) {
      // An owner deleted at the provider holds no cards: fall through and remove them locally.
      // One it does not know is a failure: a key of another account knows none of the owners,
      // and reading that as "no cards" would empty the store.
      if (!isOwnerDeleted(error)) throw error
      ownerDeleted = true
      // Deleted while its pages were read: what the pages before listed is no card of its
      // either. None of it is written from now on, and what was written goes below.
      batch = []
    }
    await flush()
    // Nothing is removed or repaired once the run is stopped: the owner's last page may have
    // arrived after the abort, and the batches written before it are the owner's whole share.
    // Checked again before each removal and the default's repair below, which each wait for the
    // store: an abort while they run stops the next one (the owner reports nothing, as the run
    // rejects, and what is left is removed when it is reconciled again).
    run.signal?.throwIfAborted()

    if (ownerDeleted) {
      // The cards the earlier pages added were written (as of readAt) in batches already.
      for (const cardId of seen) {
        if (!dryRun && !stored.has(cardId)) {
          run.signal?.throwIfAborted()
          await run.store.delete(ownerScope, cardId, { observedAt: readAt })
        }
      }
      seen.clear()
      providerDefaultIds.clear()
      providerDefault = null
      drift.cardsSeen = 0
      drift.added.length = 0
      drift.updated.length = 0
    }

    // Reported against the store before the owner's first attempt (on a retry, a card the failed
    // attempt removed already is not in this attempt's read), removed from this attempt's read.
    for (const cardId of held.keys()) {
      if (!seen.has(cardId)) drift.removed.push({ owner, cardId })
    }
    if (!dryRun) {
      for (const cardId of stored.keys()) {
        if (seen.has(cardId)) continue
        run.signal?.throwIfAborted()
        await run.store.delete(ownerScope, cardId, { observedAt: readAt })
      }
    }
    const defaultsDiffer = (defaults: string[]) =>
      defaults.length !== providerDefaultIds.size ||
      defaults.some((cardId) => !providerDefaultIds.has(cardId))
    const storeDiffers = defaultsDiffer(storedDefaults)
    // On a retry, a default the failed attempt repaired already is reported all the same.
    if (held === stored ? storeDiffers : defaultsDiffer(defaultsOf(held))) {
      drift.defaultRepaired.push({ owner, cardId: providerDefault })
    }
    if (storeDiffers && !dryRun && providerDefault === null) {
      run.signal?.throwIfAborted()
      await run.store.setDefault(ownerScope, null, { observedAt: readAt })
    }
  }

  return Object.freeze(sync)
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null
const isFunction = (value: unknown) => typeof value === 'function'

/** What `CardStore.retirements`, when a store has it, must have. */
const RETIREMENT_METHODS = ['save', 'load', 'remove'] as const

// Strict: an option misspelt (`concurency`, a reconcile's `dryrun`) is refused, not dropped, which
// would run with the default (a reconcile that writes where a dry run was asked for).
const CardSyncOptionsSchema = optionsObject({
  provider: z
    .custom<CardProvider>(
      (value) =>
        hasMethods(value, CARD_PROVIDER_METHODS) &&
        typeof value.name === 'string' &&
        isObject(value.capabilities) &&
        (value.cardIdOf === undefined || isFunction(value.cardIdOf)),
      'provider must be a CardProvider (stripeProvider(), marketplaceProvider(), memoryProvider() …)',
    )
    // Its name scopes every stored row and heads every error it gives: an empty one fails every
    // card the Card schema reads, a NUL fails the store's writes, and a key or card number would
    // be printed unmasked in each error's `provider`.
    .refine(
      ({ name }) => name !== '' && isStorableText(name) && redactSecrets(name) === name,
      'provider.name must be a name a store can keep and errors can print: not empty, no NUL character or unpaired surrogate, no key or card number',
    )
    // Every operation asks it which owners the provider serves.
    .refine(
      ({ capabilities: { ownerTypes } }) =>
        ProviderCapabilitiesSchema.shape.ownerTypes.safeParse(ownerTypes).success,
      'provider.capabilities.ownerTypes must list the owner types it serves: customer, account or both',
    ),
  store: z
    .custom<CardStore>(
      (value) =>
        hasMethods(value, CARD_STORE_METHODS) &&
        (value.retirements === undefined || hasMethods(value.retirements, RETIREMENT_METHODS)),
      'store must be a CardStore (memoryStore(), sqliteStore(), postgresStore() …)',
    )
    .refine(
      ({ concurrentWrites: writes }) =>
        writes === undefined || (Number.isInteger(writes) && writes >= 1 && writes <= 64),
      'store.concurrentWrites must be an integer from 1 to 64',
    ),
  concurrency: z.number().int().min(1).max(256).default(4),
  retry: RetryPolicySchema.optional(),
  now: z
    .custom<() => number>(
      isFunction,
      'now must be a function answering ms since the epoch, as Date.now',
    )
    .optional(),
})

/**
 * An owner and a card id, as a provider checks them (`deleteCard`, `sync`, `deleteLocal`): a
 * card number as the id is refused, as the provider would refuse it, before a "no such card"
 * answer could have it written to the store as a deletion's tombstone.
 */
const OwnerCardSchema = z.object({ owner: OwnerInputSchema, cardId: CardIdInputSchema })

const SetDefaultCardCallSchema = z.object({
  owner: OwnerInputSchema,
  token: callerText('a card token').min(1, 'a card token cannot be empty'),
  options: optionsObject({
    metadata: MetadataPatchSchema.optional(),
    idempotencyKey: IdempotencyKeySchema.optional(),
  }).default({}),
})

/** The options of `syncFromProviderData` and `deleteLocal`. */
const ObservedAtOptionsSchema = optionsObject({
  observedAt: z
    .number()
    .int("observedAt is a whole number of ms since the epoch (a webhook event's created × 1000)")
    .min(0)
    .max(Number.MAX_SAFE_INTEGER)
    .optional(),
})
  .optional()
  .transform((value) => value ?? {})

const ReconcileOptionsSchema = optionsObject({
  dryRun: z.boolean().optional(),
  concurrency: CardSyncOptionsSchema.shape.concurrency.unwrap().optional(),
  onOwner: z.custom<NonNullable<ReconcileOptions['onOwner']>>(isFunction).optional(),
  signal: RetryPolicySchema.shape.signal,
  maxEntries: z.union([z.number().int().min(0), z.literal(Number.POSITIVE_INFINITY)]).optional(),
  onDrift: z.custom<NonNullable<ReconcileOptions['onDrift']>>(isFunction).optional(),
})
  .optional()
  .transform((value) => value ?? {})

// Strict: a misspelt `ignore_default` dropped would compare `isDefault` after all.
const SameCardOptionsSchema = optionsObject({ ignoreDefault: z.boolean().optional() }).optional()

/**
 * Whether two cards hold the same data (store bookkeeping aside). Metadata is compared as pairs,
 * whatever the order of its keys: a provider may list them in another order from one read to
 * the next, and that is no change of the card. An option other than `ignoreDefault` is refused
 * with `invalid_request`.
 */
export function sameCard(
  a: Card,
  b: Card,
  options: {
    /** Leave `isDefault` out of the comparison. Default false. */
    ignoreDefault?: boolean
  } = {},
): boolean {
  const { ignoreDefault } = validate(SameCardOptionsSchema, options, 'sameCard options') ?? {}
  for (const key of Object.keys(CardSchema.shape) as (keyof Card)[]) {
    if (ignoreDefault && key === 'isDefault') continue
    if (key === 'metadata') {
      if (!samePairs(a.metadata, b.metadata)) return false
    } else if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) return false
  }
  return true
}

function samePairs(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  return keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key])
}

/** How many earlier calls with one reusable token `setDefaultCard` steps over by itself. */
const MAX_KEY_CHAIN = 32

/** Whether `value` is an object with a function under each of `methods`. */
function hasMethods(value: unknown, methods: readonly string[]): value is Record<string, unknown> {
  return isObject(value) && methods.every((method) => isFunction(value[method]))
}

function isOwner(value: unknown): value is Owner {
  return typeof value === 'object' && value !== null && 'type' in value && 'id' in value
}

/**
 * The caller's owners for `reconcile`, each checked as it is read: the first that is no owner (an
 * id with a NUL or an unpaired surrogate, a wrong type) ends the run with `invalid_request`
 * before the store or the provider sees it, and the owners are closed. `take` may throw (an
 * owner type the provider does not declare), which ends the run as a malformed owner does. An
 * owner `take` refuses (one given before: see `createOwnerDedupe`) is skipped; the index an error
 * names counts it.
 */
async function* checkedOwners(
  owners: Iterable<Owner> | AsyncIterable<Owner>,
  provider: string,
  take: (owner: Owner) => boolean,
): AsyncGenerator<Owner, void, undefined> {
  let index = 0
  for await (const owner of owners) {
    const valid = validate(OwnerInputSchema, owner, `reconcile owner ${index++}`, provider)
    if (take(valid)) yield valid
  }
}

/** An iterable or async iterable object (a string iterates characters, not owners). */
function isOwnerSource(value: unknown): value is Iterable<Owner> | AsyncIterable<Owner> {
  return (
    typeof value === 'object' &&
    value !== null &&
    (isFunction((value as Iterable<Owner>)[Symbol.iterator]) ||
      isFunction((value as AsyncIterable<Owner>)[Symbol.asyncIterator]))
  )
}

/** What the owners of one `reconcile` share. */
interface ReconcileRun {
  /** The sync's store, each error its calls throw noted (see {@link storeErrorsTracked}). */
  store: CardStore
  /** Admits an owner's provider reads: `concurrency` owners at once. */
  reading: LimitFunction
  /** Owners admitted by `reading` that wait for a write of their cards in the middle. */
  readersWriting: number
  /** Owners begun and not done: reading, writing, waiting for their turn or for a retry. */
  ownersInFlight: number
  /** Owners that wait for a write of their cards (`readersWriting` among them). */
  ownersWriting: number
  /** Writes an owner's batch, together with other owners' (see createGroupWriter). */
  write: GroupWriter
  /** The run's signal: checked before each page of an owner's cards. */
  signal: AbortSignal | undefined
}

/**
 * Whether an owner of the run may still hand a batch over without a write first: one reads
 * freely, or a reader's place is free and some owner in flight does not wait for a write (it
 * waits for its stored cards, a retry or a reader's place, or deletes cards). An owner reading
 * keeps its place while it waits for a write in the middle of its cards: when every place is
 * kept that way, no other owner can read until a write goes. Each owner that ends calls
 * `nudge`, so that batches held for it go.
 */
function mayHandOver(run: ReconcileRun, limit: number): boolean {
  if (run.reading.activeCount > run.readersWriting) return true
  return run.reading.activeCount < limit && run.ownersInFlight > run.ownersWriting
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * The code `reconcile` records for an owner whose failure is not a `CardportError`: a store
 * driver's error (see `DriftFailure.code`).
 */
const STORE_FAILED = 'store_failed'

/**
 * `store` with each error that one of its methods throws or rejects with added to `thrown`, the
 * error itself passed on unchanged: `reconcile` records the owner it fails with the store as
 * its source, a `CardportError` the store raised (a value it cannot hold) included. The proxy's
 * target is an object of its own, not `store`: the built-in stores are frozen, and a proxy of a
 * frozen object must answer its methods as they are.
 */
function storeErrorsTracked(store: CardStore, thrown: WeakSet<object>): CardStore {
  const note = (error: unknown) => {
    if (isObject(error)) thrown.add(error)
    return error
  }
  const wrapped = new Map<PropertyKey, unknown>()
  const tracking =
    (method: (...args: unknown[]) => unknown) =>
    (...args: unknown[]): unknown => {
      let result: unknown
      try {
        result = method.apply(store, args)
      } catch (error) {
        throw note(error)
      }
      if (!isObject(result) || typeof result.then !== 'function') return result
      return (result as unknown as PromiseLike<unknown>).then(undefined, (error: unknown) => {
        throw note(error)
      })
    }
  return new Proxy({} as CardStore, {
    get(_target, key) {
      const value: unknown = Reflect.get(store, key)
      if (typeof value !== 'function') return value
      if (!wrapped.has(key)) wrapped.set(key, tracking(value as (...args: unknown[]) => unknown))
      return wrapped.get(key)
    },
    has: (_target, key) => Reflect.has(store, key),
  })
}

/** The ids of the defaults among an owner's stored cards. */
function defaultsOf(cards: Map<string, StoredCard>): string[] {
  return [...cards.values()].filter((card) => card.isDefault).map((card) => card.id)
}

/** What {@link forEachConcurrently}'s reads of its items give way to once a task has failed. */
const STOPPED = Symbol('stopped')

/**
 * `read`, or {@link STOPPED} as soon as one of `waiting` is called (a failure): the read then runs
 * on unobserved. Its waker is in `waiting` only while the read is pending.
 */
function untilStopped<T>(read: Promise<T>, waiting: Set<() => void>): Promise<T | typeof STOPPED> {
  return new Promise((resolve, reject) => {
    const wake = () => resolve(STOPPED)
    waiting.add(wake)
    read.then(
      (value) => {
        waiting.delete(wake)
        resolve(value)
      },
      (error: unknown) => {
        waiting.delete(wake)
        reject(error)
      },
    )
  })
}

/**
 * Runs `task` over an (async) iterable with at most `limit` tasks in flight, reading lazily.
 * When `signal` aborts, a read of the items in flight is no longer waited for: the tasks in
 * flight finish (each checks the signal itself), then the signal's reason is thrown. The first
 * failure, of a task or of the items (what `unread` makes of it), stops the run and is
 * thrown once the tasks in flight are done, whatever it is: `undefined` too. A read of the items
 * in flight at the failure is not waited for either, and what it gives is not worked on: no task
 * starts after the first failure. Either way the items are then closed (`return()`).
 */
async function forEachConcurrently<T>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  signal: AbortSignal | undefined,
  unread: (error: unknown) => unknown,
  task: (item: T) => Promise<void>,
): Promise<void> {
  const iterator =
    Symbol.asyncIterator in items
      ? (items as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (items as Iterable<T>)[Symbol.iterator]()
  // A flag, not `failure !== undefined`: a thrown `undefined` was taken for no failure at all.
  let failed = false
  let failure: unknown
  /**
   * The reads of the items being waited for, each woken at the first failure. One per read, let
   * go when it settles: a promise shared by every read, raced against each, would keep a callback
   * per item read for the run's whole life (millions, over every owner a store knows).
   */
  const waiting = new Set<() => void>()
  const fail = (error: unknown) => {
    if (failed) return
    failed = true
    failure = error
    for (const wake of waiting) wake()
  }
  /** Reads of the items not settled yet: those an abort or a failure stopped waiting for. */
  let reading = 0
  const worker = async () => {
    while (!failed) {
      let next: IteratorResult<T> | typeof STOPPED
      try {
        const read = Promise.resolve(iterator.next())
        reading++
        const settled = () => reading--
        void read.then(settled, settled)
        // A source that gives its next item late (a queue, a paged read elsewhere), or never,
        // holds up neither an abort nor a failure of another worker's item.
        next = await untilStopped(untilAborted(read, signal), waiting)
      } catch (error) {
        // The items' own failure, or the abort: the other workers finish their item, then it
        // is thrown.
        fail(signal?.aborted ? error : unread(error))
        return
      }
      // An item read after the run failed is not worked on: it was not in flight at the
      // failure, and the run is over (the item, read but not worked on, is dropped).
      if (next === STOPPED || next.done || failed) return
      try {
        await task(next.value)
      } catch (error) {
        fail(error)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker))
  if (!failed) return
  // Stopped early: close the items, so that a generator's `finally` runs and a cursor behind
  // it is released. What closing throws is not the failure to report. A generator still in a
  // read (a slow source, when the signal aborted or a task failed) closes once that read ends:
  // asked now, it is not waited for.
  const closing = (async () => iterator.return?.())()
  if (reading === 0) await closing.catch(() => {})
  else closing.catch(() => {})
  throw failure
}

/**
 * What a caller's code (`onDrift`, `onOwner`, the owners given, a store's `listOwners`) threw,
 * to end a run with: as it is, or, for `undefined` or `null`, which carry no error to read (and
 * `undefined` was taken for no failure at all, the run going on as if all went well),
 * `invalid_request` naming `what`.
 */
function callerFailure(error: unknown, what: string): unknown {
  if (error !== undefined && error !== null) return error
  return new InvalidRequestError(
    `reconcile stopped: ${what} threw ${error}, not an error: throw an Error to stop a run`,
    { retryable: false },
  )
}

/**
 * What a `setDefaultCard` key is derived from: the token, and the metadata when given (its keys
 * in order). The provider refuses a key sent again with other parameters
 * (`idempotency_conflict`): a later call with a reusable token and other metadata is another
 * request, with a key of its own, and a retry (the same metadata) is the same one.
 */
function derivedKeyInput(token: string, options: { metadata?: MetadataPatch | undefined }): string {
  if (options.metadata === undefined) return token
  const pairs = Object.entries(options.metadata).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `${token}\u0000${JSON.stringify(pairs)}`
}
