import { isDeepStrictEqual } from 'node:util'
import {
  CardIdInputSchema,
  type CardProvider,
  type CardScope,
  type CardStore,
  compiledCardSchema,
  InvalidRequestError,
  isCardportError,
  type Owner,
  OwnerInputSchema,
  type OwnerType,
  optionsObject,
  ProviderNameSchema,
  type StoredCard,
  validate,
} from '@cardport/core'
import { z } from 'zod'
import { idOf, isObject, STRIPE_PROVIDER_NAME, stripeCardOf } from './parse-card.js'
import type { StripeClient } from './stripe-client.js'
import { stripeProvider } from './stripe-provider.js'
import {
  type StripeWebhookEvent,
  type StripeWebhookVerifier,
  toStripeEvent,
  verifyStripeWebhook,
} from './webhook-events.js'

/** What the handler did with one event. */
export type StripeWebhookAction =
  | 'upserted'
  | 'deleted'
  | 'default-changed'
  | 'ignored'
  | 'duplicate'
  | 'stale'

/** What the handler did with one event, for logging. */
export interface StripeWebhookResult {
  /** The event's id (`evt_…`). */
  eventId: string
  /** The event's type (`'customer.source.created'` …). */
  type: string
  /**
   * - `upserted`: the card was stored as the event (or Stripe, when confirmed) has it;
   * - `deleted`: the card was removed (for `customer.deleted`, every card of the customer; for
   *   `account.application.deauthorized`, every card of the account observed before it);
   * - `default-changed`: the owner's default was switched (`cardId` is the new one, absent
   *   when the owner has no default card now);
   * - `ignored`: nothing to do: a bank account, an event type cardport does not apply, a
   *   customer change that left the default alone, an event about a connected account's
   *   customer (`account` set: not one of the platform's customers), an event naming an owner,
   *   card or default source by no valid id (not a string, empty, or with a NUL character or an
   *   unpaired surrogate, which a store would not keep as sent: such an id never reaches the
   *   store nor Stripe) (`reason` says which);
   * - `duplicate`: this event id was handled before;
   * - `stale`: the store already holds a newer state than the event's (out-of-order delivery;
   *   without the API, it may have just been written: an update of the card's same second
   *   delivered before, which this event shows to be the later, is stored again),
   *   or, confirmed, a default observed after the handler's read of Stripe (another process read
   *   later): the default read is stored as a card of the owner, not as the default (a read
   *   that found no default leaves that later default in place, `cardId` naming it), or a state
   *   of the card observed after the handler's read (`CardSync` read it since), which stays.
   */
  action: StripeWebhookAction
  /** The customer or account the event is about; absent when the event names none. */
  owner?: Owner
  /**
   * The card (for `ignored`: the source) the event is about; absent when it names none, or no
   * valid id (see `ignored` above).
   */
  cardId?: string
  /** True when the outcome was read from the Stripe API rather than taken from the event. */
  confirmed?: boolean
  /** Why an event was ignored or stale. */
  reason?: string
}

/**
 * Remembers which event ids were handled, to answer a repeated delivery with `duplicate`. A
 * `Set<string>` fits; so does a wrapper over Redis or a table with a TTL, for several processes.
 * The ids it is given are never empty and hold no NUL character nor unpaired surrogate (such an
 * event is refused as `not_an_event`), so a text column keeps each as sent.
 */
export interface SeenEventIds {
  /** Whether the event was handled before: then the delivery is answered `duplicate`. */
  has(eventId: string): boolean | Promise<boolean>
  /** Records an event once it has been applied (never before: a failed one is retried). */
  add(eventId: string): unknown
}

/** A `Stripe` instance: its API (to confirm with) and its `webhooks` (to verify with). */
export type StripeWebhookClient = StripeClient & {
  /** The instance's webhook helpers: `constructEventAsync` verifies the signature. */
  webhooks: StripeWebhookVerifier
}

/** Options of {@link stripeWebhookHandler}. */
export type StripeWebhookHandlerOptions = {
  /**
   * The endpoint's signing secret (`whsec_…`, Dashboard → Webhooks, or `stripe listen`). Give
   * several to accept each: a platform endpoint and a Connect endpoint posting to one route.
   * From a Connect endpoint, the events of connected accounts' cards apply (the owner is the
   * account), and those about their customers (`customer.*` with `account` set) are ignored.
   */
  endpointSecret: string | readonly string[]
  /** The local copy to keep in step (the store your `createCardSync` uses). */
  store: CardStore
  /** The oldest signature accepted, in seconds. Default 300, as the SDK. */
  toleranceSeconds?: number | undefined
  /**
   * Remembers handled event ids. Default: the last 10,000 in process memory. Correctness does
   * not depend on it (an event older than the stored state is refused anyway); it saves work.
   */
  seen?: SeenEventIds | undefined
  /**
   * The clock, in ms since the epoch: signature age, deletion markers, and, with `confirm`, the
   * time of each read from Stripe, taken before the request: what a read finds is stored as
   * observed then, as `CardSync` stores its reads, and a state taken from an event is stored as
   * observed no later than now. Default `Date.now`.
   */
  now?: (() => number) | undefined
  /**
   * The `name` of the `stripeProvider` whose cards this endpoint's events are about: the store
   * rows it writes are scoped under it, and its errors carry it. Default `'stripe'`. Give each
   * Stripe account's endpoint the name its provider has (see `StripeProviderOptions.name`).
   */
  name?: string | undefined
} & (
  | {
      /**
       * Your `Stripe` instance: verifies with `stripe.webhooks`, and reads the current state from
       * the API where events alone cannot decide (see `confirm`).
       */
      stripe: StripeWebhookClient
      /**
       * Read from Stripe when the events cannot decide: a default change, two changes to a card
       * within the same second (event timestamps are whole seconds), a change to the card stored
       * as a customer's default (whether it still is), a card not stored yet (its customer may
       * have been deleted in another process). One API call per such event.
       * Default true; false applies events alone, as with `webhooks`.
       */
      confirm?: boolean | undefined
      /** Not with `stripe`, whose own `webhooks` verify. */
      webhooks?: never
    }
  | {
      /**
       * Only the verifier, `Stripe.webhooks` (no API key needed): events are applied alone,
       * ordered by their timestamps, and within one second by what their `previous_attributes`
       * say they replaced where that decides (see the README for the limits).
       */
      webhooks: StripeWebhookVerifier
      /** Not with `webhooks`: pass one of the two. */
      stripe?: never
      /** Nothing to confirm with: events are applied alone. */
      confirm?: false
    }
)

/** The handler {@link stripeWebhookHandler} returns. */
export interface StripeWebhookHandler {
  /**
   * Verifies a webhook request and applies its event to the store. Throws a
   * `StripeWebhookError` (`invalid_request`, status 400, with a `reason`) for a request that
   * fails verification, having changed nothing; other errors (the store, Stripe's API) are
   * worth a 500 so that Stripe retries.
   *
   * @param rawBody The body exactly as received (string or Buffer).
   * @param signatureHeader The `Stripe-Signature` header.
   */
  handle(
    rawBody: string | Uint8Array,
    signatureHeader: string | string[] | undefined | null,
  ): Promise<StripeWebhookResult>
  /** Only verifies: the event, or a `StripeWebhookError` (to queue events and apply them later). */
  verify(
    rawBody: string | Uint8Array,
    signatureHeader: string | string[] | undefined | null,
  ): Promise<StripeWebhookEvent>
  /**
   * Only applies an event that `verify` returned (or one taken from a queue). It needs no
   * signature, so it checks the event as `verify` does: a value that is no Stripe event (its
   * id included: empty, or with a NUL character or an unpaired surrogate, which a table behind
   * `seen` would not keep as sent) is refused with a `StripeWebhookError` (`not_an_event`),
   * having changed nothing and asked `seen` nothing.
   */
  apply(event: StripeWebhookEvent): Promise<StripeWebhookResult>
}

const OptionsSchema = optionsObject({
  endpointSecret: z.union([
    z.string().regex(/^whsec_\S+$/, 'endpointSecret must be a signing secret (whsec_…)'),
    z
      .array(
        z.string().regex(/^whsec_\S+$/, 'each endpointSecret must be a signing secret (whsec_…)'),
      )
      .min(1)
      .readonly(),
  ]),
  store: z.custom<CardStore>(
    (value) =>
      isObject(value) &&
      ['get', 'listByOwner', 'upsert', 'delete', 'setDefault', 'getDefault'].every(
        (method) => typeof value[method] === 'function',
      ),
    'store must be a CardStore',
  ),
  toleranceSeconds: z.number().int().min(1).max(86_400).default(300),
  seen: z
    .custom<SeenEventIds>(
      (value) =>
        isObject(value) && typeof value.has === 'function' && typeof value.add === 'function',
      'seen must have has(id) and add(id)',
    )
    .optional(),
  now: z.custom<() => number>((value) => typeof value === 'function').optional(),
  stripe: z
    .custom<StripeWebhookClient>(
      (value) => isObject(value) && isVerifier(value.webhooks),
      'stripe must be a Stripe instance',
    )
    .optional(),
  webhooks: z
    .custom<StripeWebhookVerifier>((value) => isVerifier(value), 'webhooks must be Stripe.webhooks')
    .optional(),
  confirm: z.boolean().optional(),
  name: ProviderNameSchema.default(STRIPE_PROVIDER_NAME),
})

/** Intra-second order of event kinds: a creation precedes, and a deletion ends, a second. */
const RANK = { created: 0, updated: 500, deleted: 999 } as const
/** The event types about the platform's customers: with `account` set, a connected account's. */
const CUSTOMER_EVENTS: ReadonlySet<string> = new Set([
  'customer.source.created',
  'customer.source.updated',
  'customer.source.deleted',
  'customer.created',
  'customer.updated',
  'customer.deleted',
])
const MEMORY = 10_000

/**
 * Keeps a {@link CardStore} in step with Stripe from its webhooks: verifies each request's
 * signature with the SDK, then applies `customer.source.created|updated|deleted`,
 * `account.external_account.created|updated|deleted`, `customer.created|updated` (a new
 * `default_source`), `customer.deleted` and `account.application.deauthorized` (the account's
 * cards are removed). Bank accounts and other event types are acknowledged and ignored, as are
 * the customer events a Connect endpoint receives about its connected accounts' own customers
 * (`event.account` set): those are not the platform's customers.
 *
 * Safe against Stripe's delivery: a repeated event is a no-op, and each write of a card carries
 * the event's `created` as `observedAt` (with `confirm`, no later than this host's clock, and a
 * state read from Stripe the read's time), so an event older than what the store holds changes
 * nothing, whatever the order of delivery. Without `stripe` (events only), a default change is
 * ordered by the handler's memory of the latest 10,000 owners, kept in the process: an old
 * event redelivered after a restart, or after that memory forgot its owner, can roll the
 * default back until the next change or a `reconcile` (see the package README's limits).
 *
 * @throws `invalid_request` (naming `stripeWebhookHandler options`, never the secret) for a bad
 * option or one it does not know.
 *
 * @example
 * ```ts
 * const webhooks = stripeWebhookHandler({
 *   stripe, // your Stripe instance
 *   endpointSecret: process.env.STRIPE_WEBHOOK_SECRET!, // whsec_…
 *   store, // the store your CardSync uses
 * })
 *
 * app.post('/webhooks/stripe', express.raw({ type: 'application/json' }), async (req, res) => {
 *   try {
 *     const result = await webhooks.handle(req.body, req.headers['stripe-signature'])
 *     res.json({ received: true, action: result.action })
 *   } catch (error) {
 *     // A refused request has a `details.reason`; anything else is a 500: Stripe retries.
 *     if (!isCardportError(error, 'invalid_request') || !error.details?.reason) throw error
 *     res.status(400).json({ ...error.toJSON(), reason: error.details.reason })
 *   }
 * })
 * ```
 */
export function stripeWebhookHandler(options: StripeWebhookHandlerOptions): StripeWebhookHandler {
  const valid = validate(
    OptionsSchema,
    options,
    'stripeWebhookHandler options',
    STRIPE_PROVIDER_NAME,
  )
  if ((valid.stripe === undefined) === (valid.webhooks === undefined)) {
    throw validationError('pass exactly one of stripe (an instance) and webhooks (Stripe.webhooks)')
  }
  if (valid.webhooks && valid.confirm) {
    throw validationError('confirm needs the Stripe API: pass stripe instead of webhooks')
  }
  const { store, name } = valid
  const secrets = [valid.endpointSecret].flat()
  const verifier = valid.stripe?.webhooks ?? valid.webhooks!
  const now = valid.now ?? Date.now
  const seen = valid.seen ?? boundedSet(MEMORY)
  const provider: CardProvider | undefined =
    valid.stripe && valid.confirm !== false
      ? stripeProvider({ stripe: valid.stripe, name })
      : undefined
  // What events alone cannot keep in the store: the latest default change per owner (and
  // currency), and customers known to be deleted. In process memory, bounded.
  const marks = boundedMap<string, Mark>(MEMORY)
  // Without the API: the updates of each card seen within its latest second (stale ones too),
  // to order another of the same second against all of them.
  const changes = boundedMap<string, CardChanges>(MEMORY)
  const inFlight = new Map<string, Promise<StripeWebhookResult>>()
  const queues = new Map<string, Promise<unknown>>()

  const scope = (owner: Owner): CardScope => ({ provider: name, owner })

  /** Runs the work for one owner after the work already queued for it, in this process. */
  const serialize = <T>(owner: Owner, work: () => Promise<T>): Promise<T> => {
    const key = `${owner.type}\u0000${owner.id}`
    const run = (queues.get(key) ?? Promise.resolve()).then(work)
    const tail = run.then(
      () => undefined,
      () => undefined,
    )
    queues.set(key, tail)
    void tail.then(() => {
      if (queues.get(key) === tail) queues.delete(key)
    })
    return run
  }

  /** A deletion is final (ids are never reused): mark it no earlier than now. */
  const deletionTime = (event: StripeWebhookEvent, row: StoredCard | null) =>
    Math.max(at(event, 'deleted'), row?.observedAt ?? 0, now())

  /**
   * Reads one card from Stripe for an event of time `t` and stores it as it is now, observed at
   * the read ({@link readTime}: no earlier than `row`, the card's row as stored before the read),
   * or removes it, for good, no earlier than now nor than `t` and the row.
   */
  const confirmCard = async (
    owner: Owner,
    cardId: string,
    t: number,
    row: StoredCard | null,
  ): Promise<Outcome> => {
    let card: Awaited<ReturnType<CardProvider['getCard']>>
    const readAt = now()
    try {
      card = await provider!.getCard(owner, cardId)
    } catch (error) {
      if (!isCardportError(error, 'card_not_found', 'owner_not_found')) throw error
      const observedAt = Math.max(t, row?.observedAt ?? 0, now())
      await store.delete(scope(owner), cardId, { observedAt })
      return { action: 'deleted', owner, cardId, confirmed: true }
    }
    const result = await store.upsert(card, { observedAt: readTime(t, readAt, row) })
    if (!result.applied) return notApplied(owner, cardId, result.card)
    return { action: 'upserted', owner, cardId, confirmed: true }
  }

  const cardChanged = (event: StripeWebhookEvent, kind: 'created' | 'updated') => {
    const object = event.data.object
    const owner = cardOwner(event)
    if (!owner) return ignored('the event names no customer or account')
    if (!isOwner(owner)) return ignored(noValidId('customer or account'))
    if (object.object !== 'card') {
      return ignored(`${objectKindOf(object.object)} is not a card`, owner, otherId(object))
    }
    if (!isCardId(object.id)) return ignored(noValidId('card'), owner)
    const cardId = object.id
    // Stripe marks a card deleted only in a deletion event: a deleted card in this one is not
    // a state to store, nor proof enough to remove the card.
    const parsed = stripeCardOf(name, object, owner)
    if (!parsed) return ignored(`a deleted card in a ${event.type} event`, owner, cardId)
    return serialize(owner, async (): Promise<Outcome> => {
      const t = at(event, kind)
      const gone = goneBefore(owner, t)
      if (gone) return stale(owner, cardId, gone)
      const row = await store.get(scope(owner), cardId)
      // A creation is a card's oldest state: any stored row is at least as new.
      if (row && kind === 'created') return stale(owner, cardId, 'the card is already stored')
      const order = compare(row, t)
      if (order === 'newer') {
        // With the API, the card is read instead of trusting the row's time, however far ahead:
        // the store's time is this host's clock and the event's Stripe's (a clock ahead of
        // Stripe's makes a later change look older), and a row's time says when something of it
        // was last known, not all of it: a default cleared from a read of the customer alone
        // (`setDefault(…, null, { observedAt })`) moves the time of a card whose other fields
        // were not read, and an update made before it, delivered late, would be lost.
        if (!provider) return stale(owner, cardId, 'the store holds a newer state')
        return confirmCard(owner, cardId, t, row)
      }
      // A card not stored yet may belong to a customer that another process (or this one,
      // before a restart) saw deleted: the deletion is only in that process's memory.
      if ((order === 'same' || order === 'none') && provider) {
        return confirmCard(owner, cardId, t, row)
      }
      // The row is older (an earlier second): the event's state is newer. Without the API its
      // time is the event's; with it, no later than now (see `eventTime`).
      const observedAt = Math.max(provider ? eventTime(t, now()) : t, row?.observedAt ?? 0)
      // Without the API, an update is ordered against every update of the card seen in its
      // second: the store gets the latest of them, which may be one delivered before.
      let latest = parsed
      let record: (() => void) | undefined
      let replay = false
      if (kind === 'updated' && !provider) {
        const key = cardKey(owner, cardId)
        const change = { object, previous: event.data.previous_attributes ?? {} }
        const known = changes.get(key)
        const tie = known?.at === t ? known : undefined
        const seen = [...(tie?.seen ?? []), change].slice(-MAX_CHANGES_PER_CARD)
        const winner = latestChange(seen, tie?.stored)
        if (winner !== change) {
          if (winner === tie?.stored) {
            changes.set(key, { at: t, seen, stored: tie.stored })
            return stale(owner, cardId, 'a newer change of the card was applied')
          }
          // An update delivered before, found the latest only now (a change in between has
          // come): its state replaces the one stored.
          latest = stripeCardOf(name, winner.object, owner) ?? parsed
          replay = true
        }
        record = () => changes.set(key, { at: t, seen, stored: winner })
      }

      let isDefault: boolean
      let mark: { key: string; value: Mark } | undefined
      if (owner.type === 'customer') {
        // A customer's card does not say whether it is the default: customer events do. The
        // stored default, kept at this event's time, would hold off a switch made before it
        // and delivered after it (the store keeps the default observed last): read it instead.
        if (provider && row?.isDefault) return confirmCard(owner, cardId, t, row)
        const latest = provider ? undefined : marks.get(defaultKey(owner))
        isDefault = latest ? latest.cardId === cardId : (row?.isDefault ?? false)
      } else {
        const flagged = latest.isDefault
        if (provider) {
          // A default that moves changes other cards too: settle it with Stripe.
          if (flagged !== (row?.isDefault ?? false)) {
            return confirmCard(owner, cardId, t, row)
          }
          isDefault = flagged
        } else {
          const key = defaultKey(owner, parsed.currency)
          const latest = marks.get(key)
          if (flagged && (!latest || latest.at <= t)) {
            isDefault = true
            mark = { key, value: { cardId, at: t } }
          } else {
            isDefault = latest?.cardId === cardId && latest.at > t
          }
        }
      }
      const card = validate(
        compiledCardSchema(),
        { ...latest, isDefault },
        'card in a Stripe event',
        name,
      )
      const result = await store.upsert(card, { observedAt })
      if (!result.applied) return stale(owner, cardId, 'the card was deleted')
      if (mark) marks.set(mark.key, mark.value)
      record?.()
      if (replay) {
        return stale(owner, cardId, 'a newer change of the card, delivered before, is stored')
      }
      return { action: 'upserted', owner, cardId }
    })
  }

  const cardDeleted = (event: StripeWebhookEvent) => {
    const object = event.data.object
    const owner = cardOwner(event)
    if (!owner) return ignored('the event names no customer or account')
    if (!isOwner(owner)) return ignored(noValidId('customer or account'))
    if (object.object !== 'card') {
      return ignored(`${objectKindOf(object.object)} is not a card`, owner, otherId(object))
    }
    if (!isCardId(object.id)) return ignored(noValidId('card'), owner)
    const cardId = object.id
    return serialize(owner, async (): Promise<Outcome> => {
      const row = await store.get(scope(owner), cardId)
      await store.delete(scope(owner), cardId, { observedAt: deletionTime(event, row) })
      return { action: 'deleted', owner, cardId }
    })
  }

  const customerChanged = (event: StripeWebhookEvent) => {
    const object = event.data.object
    const owner = ownerNamed('customer', object.id)
    if (!owner) return ignored(noValidId('customer'))
    const created = event.type === 'customer.created'
    if (
      created
        ? !object.default_source
        : !('default_source' in (event.data.previous_attributes ?? {}))
    ) {
      return ignored('the default source did not change', owner)
    }
    // Read without the API only, but checked with it too: a malformed event is ignored alike.
    const next = object.default_source == null ? null : idOf(object.default_source)
    if (object.default_source != null && !isCardId(next)) {
      return ignored(noValidId('default source'), owner)
    }
    return serialize(owner, async (): Promise<Outcome> => {
      const t = at(event, created ? 'created' : 'updated')
      if (marks.get(goneKey(owner))) return stale(owner, undefined, 'the customer was deleted')
      if (provider) {
        // The row of the default the event names, as stored before the read: the floor of the
        // read's time when the read finds that card (see below).
        const before = next ? await store.get(scope(owner), next) : null
        let card: Awaited<ReturnType<CardProvider['getDefaultCard']>>
        const readAt = now()
        try {
          card = await provider.getDefaultCard(owner)
        } catch (error) {
          if (!isCardportError(error, 'owner_not_found')) throw error
          return ignored('the customer no longer exists', owner)
        }
        if (!card) {
          // A default another process stored from a later read stays: then the owner has a
          // default, and this read is the older one, as for a card read below.
          await store.setDefault(scope(owner), null, { observedAt: readAt })
          const kept = await store.getDefault(scope(owner))
          if (kept) return stale(owner, kept.id, 'a default observed later is stored', true)
          return { action: 'default-changed', owner, confirmed: true }
        }
        // Observed at the read, and no earlier than the card's row as stored before the read (the
        // read is the newer, even when that row is dated ahead: an update of the card taken from
        // its event, by a host whose clock is behind Stripe's or by an events-only process, or a
        // `CardSync` read on a host whose clock is ahead), as `confirmCard` dates a read. Not the
        // row read after the request: it may hold a state stored after the read (a `CardSync`
        // read made since), which stays. A default other than the one the event names is a later
        // switch, whose own event follows and reads it with its row as the floor: dated at the
        // read alone here, it may lose to that row (`stale`) until then.
        const floor = card.id === next ? before : null
        const result = await store.upsert(card, { observedAt: readTime(t, readAt, floor) })
        if (!result.applied) return notApplied(owner, card.id, result.card)
        // The store keeps a default observed after this read (another process read later).
        if (!result.card?.isDefault) {
          return stale(owner, card.id, 'a default observed later is stored', true)
        }
        return { action: 'default-changed', owner, cardId: card.id, confirmed: true }
      }
      const key = defaultKey(owner)
      const latest = marks.get(key)
      if (latest && latest.at > t) return stale(owner, undefined, 'a newer default was applied')
      const mark = nextDefault(
        latest?.at === t ? latest : undefined,
        t,
        next,
        created ? undefined : previousDefault(event),
      )
      marks.set(key, mark)
      const target = mark.cardId
      if (target !== next && target === latest?.cardId) {
        return stale(owner, undefined, 'a newer default was applied')
      }
      // A default not stored yet is set when its card arrives (its event reads the mark).
      const row = target ? await store.get(scope(owner), target) : null
      await store.setDefault(scope(owner), row ? row.id : null)
      const named = row !== null || target?.startsWith('card_')
      return { action: 'default-changed', owner, ...(named && target ? { cardId: target } : {}) }
    })
  }

  /**
   * Whether the owner was seen gone by the time `t`: why an event of then is refused, or null. A
   * deleted customer is gone for good; an account that disconnected from the platform only
   * until it connects again (a Standard account can), so later events of it apply.
   */
  const goneBefore = (owner: Owner, t: number): string | null => {
    const gone = marks.get(goneKey(owner))
    if (!gone) return null
    if (owner.type === 'customer') return 'the owner was deleted'
    return t <= gone.at ? 'the account disconnected from the platform' : null
  }

  const customerDeleted = (event: StripeWebhookEvent) => {
    const owner = ownerNamed('customer', event.data.object.id)
    if (!owner) return ignored(noValidId('customer'))
    return serialize(owner, async (): Promise<Outcome> => {
      marks.set(goneKey(owner), { cardId: null, at: at(event, 'deleted') })
      for (const card of await store.listByOwner(scope(owner))) {
        await store.delete(scope(owner), card.id, { observedAt: deletionTime(event, card) })
      }
      return { action: 'deleted', owner }
    })
  }

  /**
   * A connected account that disconnected from the platform (a deleted account does too: the
   * Stripe CLI triggers this event by deleting one). The platform's key can no longer list its
   * cards, so `reconcile` cannot remove them: this does, for the rows observed before the
   * event. Unlike a customer's deletion it need not be final (a Standard account can connect
   * again), so it is marked at the event's time, not now: a row observed later stays, as the
   * store refuses an older deletion, and later events of the account apply.
   */
  const accountDeauthorized = (event: StripeWebhookEvent) => {
    if (!event.account) return ignored('the event names no account')
    const owner = ownerNamed('account', event.account)
    if (!owner) return ignored(noValidId('account'))
    return serialize(owner, async (): Promise<Outcome> => {
      const t = at(event, 'deleted')
      const previous = marks.get(goneKey(owner))
      if (!previous || previous.at < t) marks.set(goneKey(owner), { cardId: null, at: t })
      for (const card of await store.listByOwner(scope(owner))) {
        await store.delete(scope(owner), card.id, { observedAt: t })
      }
      return { action: 'deleted', owner }
    })
  }

  const route = (event: StripeWebhookEvent): Outcome | Promise<Outcome> => {
    if (CUSTOMER_EVENTS.has(event.type) && event.account) {
      // A Connect endpoint also receives the customer events of its connected accounts: those
      // customers live on the account, not on the platform, whose key cannot reach them, and
      // an owner `{ type: 'customer' }` names the platform's customers only.
      return ignored("a connected account's customer")
    }
    switch (event.type) {
      case 'customer.source.created':
      case 'account.external_account.created':
        return cardChanged(event, 'created')
      case 'customer.source.updated':
      case 'account.external_account.updated':
        return cardChanged(event, 'updated')
      case 'customer.source.deleted':
      case 'account.external_account.deleted':
        return cardDeleted(event)
      case 'customer.created':
      case 'customer.updated':
        return customerChanged(event)
      case 'customer.deleted':
        return customerDeleted(event)
      case 'account.application.deauthorized':
        return accountDeauthorized(event)
      default:
        return ignored('cardport does not apply this event type')
    }
  }

  /** Applies an event whose envelope was checked (by `verify`, or by `apply` itself). */
  const applyEvent = async (event: StripeWebhookEvent): Promise<StripeWebhookResult> => {
    const base = { eventId: event.id, type: event.type }
    // A delivery of an event already being handled waits for it, then reports a duplicate. If
    // that handling failed, the event was not applied: this delivery handles it again, so that
    // its answer is not a 2xx that tells Stripe the event was delivered.
    const running = inFlight.get(event.id)
    if (running) {
      try {
        await running
      } catch {
        return applyEvent(event)
      }
      return { ...base, action: 'duplicate' }
    }
    // Registered before `seen` is asked, which may answer later (a table, Redis): a delivery
    // made meanwhile waits for this one instead of running the event a second time.
    const work = (async (): Promise<StripeWebhookResult> => {
      if (await seen.has(event.id)) return { ...base, action: 'duplicate' }
      const outcome = await route(event)
      await seen.add(event.id)
      return { ...base, ...outcome }
    })()
    inFlight.set(event.id, work)
    try {
      return await work
    } finally {
      inFlight.delete(event.id)
    }
  }

  const verify: StripeWebhookHandler['verify'] = (rawBody, signatureHeader) =>
    verifyStripeWebhook(verifier, rawBody, signatureHeader, {
      secrets,
      toleranceSeconds: valid.toleranceSeconds,
      now,
      provider: name,
    })

  return Object.freeze({
    verify,
    // An event given here was not necessarily verified (nor parsed) by `verify`: its envelope
    // is checked as `verify` checks it, so that a malformed one is refused alike.
    apply: (event) =>
      Promise.resolve().then(() =>
        applyEvent(toStripeEvent(event, 'The value given to apply is', name)),
      ),
    async handle(rawBody, signatureHeader) {
      return applyEvent(await verify(rawBody, signatureHeader))
    },
  } satisfies StripeWebhookHandler)
}

// ---- helpers -------------------------------------------------------------------------------

type Outcome = Omit<StripeWebhookResult, 'eventId' | 'type'>

/** The latest default change known for an owner (and currency), or an owner's deletion. */
interface Mark {
  cardId: string | null
  at: number
  /**
   * A customer's default only: the defaults the changes of second `at` applied so far made
   * (`made`), and those they replaced, as their `previous_attributes` said (`replaced`).
   */
  made?: ReadonlyArray<string | null>
  replaced?: ReadonlyArray<string | null>
}

/** An update of a card: the card after it, and the fields it changed, as they were. */
interface CardChange {
  object: Record<string, unknown>
  previous: Record<string, unknown>
}

/**
 * The updates of a card seen within second `at` (of its latest updates), in delivery order, stale
 * ones included, and the one whose state the store got (`stored`).
 */
interface CardChanges {
  at: number
  seen: readonly CardChange[]
  stored: CardChange | undefined
}

/** Updates of one card within one second that the handler remembers (the latest delivered). */
const MAX_CHANGES_PER_CARD = 64

/**
 * The latest of the updates of a card seen within one second (`seen`, the one delivered now
 * last). When the updates chain in one order only (each the card the one before left, with its
 * own changes made: {@link follows}), the end of that chain, even where a value went back and
 * then changed again (A→B, B→A, A→C ends on C). Else the one that no other replaced a value of
 * ({@link olderChange}), when exactly one is. Else the last delivery wins (a value went back, or
 * a change in between is yet to come), unless it was replaced: then the state stored stays, when
 * it is one of those not replaced.
 */
function latestChange(seen: readonly CardChange[], stored: CardChange | undefined): CardChange {
  const ends = chainEnds(seen)
  if (ends?.length === 1) return ends[0]!
  const current = seen.filter(
    (change) => !seen.some((other) => other !== change && olderChange(change, other)),
  )
  const delivered = seen.at(-1)!
  if (current.length === 1) return current[0]!
  if (current.length === 0 || current.includes(delivered)) return delivered
  return stored && current.includes(stored) ? stored : current.at(-1)!
}

/** Updates of a second ordered by {@link chainEnds}: past it, a search of every order costs too much. */
const MAX_CHAINED_CHANGES = 10

/**
 * The updates that end an order of all of `seen` in which each follows the one before
 * ({@link follows}); undefined for more than {@link MAX_CHAINED_CHANGES} updates. Empty when no
 * order fits (a change in between is yet to come), two or more when several do (a value went
 * back, and nothing after tells which way).
 */
function chainEnds(seen: readonly CardChange[]): CardChange[] | undefined {
  const count = seen.length
  if (count > MAX_CHAINED_CHANGES) return undefined
  // reach[set][last]: an order of the updates in `set` (a bit each) that ends with `last` fits.
  const reach = Array.from({ length: 1 << count }, () => new Array<boolean>(count).fill(false))
  for (let last = 0; last < count; last++) reach[1 << last]![last] = true
  for (let set = 1; set < 1 << count; set++) {
    for (let last = 0; last < count; last++) {
      if (!reach[set]![last]) continue
      for (let next = 0; next < count; next++) {
        if (set & (1 << next) || !follows(seen[next]!, seen[last]!)) continue
        reach[set | (1 << next)]![next] = true
      }
    }
  }
  const all = (1 << count) - 1
  return seen.filter((_, last) => reach[all]![last])
}

/**
 * Whether `next` is the update right after `before`: the card `before` left, with `next`'s
 * changes made (every field as `before` left it, but those `next` changed, which `before` left as
 * `next` says they were).
 */
function follows(next: CardChange, before: CardChange): boolean {
  const fields = new Set([...Object.keys(before.object), ...Object.keys(next.object)])
  for (const field of fields) {
    const left = Object.hasOwn(next.previous, field) ? next.previous[field] : next.object[field]
    if (!isDeepStrictEqual(before.object[field], left)) return false
  }
  return true
}

/**
 * Whether `change` is older than `last`, an update of the same card in the same second: `last`
 * replaced a value that the card has in `change` (its snapshot is from before `last`), and
 * `change` replaced none that the card has in `last` (then either order fits: a value went back).
 */
function olderChange(change: CardChange, last: CardChange): boolean {
  const replaces = (later: CardChange, earlier: CardChange) =>
    Object.entries(later.previous).some(([field, value]) =>
      isDeepStrictEqual(earlier.object[field], value),
    )
  return replaces(last, change) && !replaces(change, last)
}

/**
 * When a state read from Stripe at `readAt` (the handler's clock, taken before the request), for
 * an event of time `t`, was observed: at the read, as `CardSync` stores its own reads. A read the
 * application made before it is older and loses to it, and one made after it (`CardSync`
 * deleting or syncing the card right after the event) is newer and wins: were the read dated at
 * the event's time, which is ranked within its second (an update 500 ms in) and so can be ahead
 * of this host's clock, those later writes would look older and be refused. It is no earlier
 * than `row`, the card's row read before the request (the read is newer than what it held, even
 * when another process's clock dated it ahead of this host's), nor than the start of the event's
 * second, which the change it answers is no earlier than: only with this host's clock behind
 * Stripe's is that ahead of `readAt`, and then it keeps the read in the event's second, so that
 * another change of that second, delivered late, is read again rather than stored over it.
 */
function readTime(t: number, readAt: number, row: StoredCard | null): number {
  return Math.max(secondOf(t), readAt, row?.observedAt ?? 0)
}

/**
 * When a state taken from an event of time `t` (not read from Stripe) is stored as observed, with
 * the API, by this host's clock `nowAt`: the event's time, but no later than now, so that a
 * `CardSync` write right after (whose time is this host's clock) is not refused as older; and no
 * earlier than the start of the event's second (when this host's clock is behind Stripe's), so
 * that the row stays in the event's second, which orders the events that follow it as before.
 * Without the API the event's time is kept: it alone orders events.
 */
function eventTime(t: number, nowAt: number): number {
  return Math.max(secondOf(t), Math.min(t, nowAt))
}

/** The start, in ms, of the second of a time in ms: an event's `created`, unranked. */
function secondOf(t: number): number {
  return Math.floor(t / 1000) * 1000
}

/** When an event's change happened, in ms: its second, ranked by the kind of change. */
function at(event: StripeWebhookEvent, kind: keyof typeof RANK): number {
  return event.created * 1000 + RANK[kind]
}

/**
 * The customer's default after a change of time `t` from `from` (undefined when the event does
 * not say) to `to`, given the mark of the changes of the same second applied before (`tie`).
 * Event times are whole seconds; within one, changes are ordered by their `previous_attributes`:
 * a default is made before it is replaced (A→B before B→C, whatever the delivery order). The
 * default is the one made and not replaced, when exactly one is; else (the default went back to
 * one it had, or a change in between is yet to be delivered) the last delivery wins.
 */
function nextDefault(
  tie: Mark | undefined,
  t: number,
  to: string | null,
  from: string | null | undefined,
): Mark {
  const made = [...(tie?.made ?? []), to]
  const replaced = [...(tie?.replaced ?? []), ...(from === undefined ? [] : [from])]
  const current = new Set(made.filter((id) => !replaced.includes(id)))
  const cardId = current.size === 1 ? ([...current][0] as string | null) : to
  return { cardId, at: t, made, replaced }
}

/**
 * The default a `customer.updated` replaced, from its `previous_attributes`: null for none,
 * undefined when it does not say (or names no valid id).
 */
function previousDefault(event: StripeWebhookEvent): string | null | undefined {
  const previous = event.data.previous_attributes?.default_source
  if (previous === null) return null
  const id = idOf(previous)
  return isCardId(id) ? id : undefined
}

/** How a stored row's observation compares with an event's, at Stripe's one-second grain. */
function compare(row: StoredCard | null, t: number): 'none' | 'older' | 'same' | 'newer' {
  if (!row) return 'none'
  if (row.observedAt === null) return 'older'
  const stored = Math.floor(row.observedAt / 1000)
  const event = Math.floor(t / 1000)
  return stored > event ? 'newer' : stored === event ? 'same' : 'older'
}

/**
 * An object's type for a result (which gets logged): Stripe's name for it (`a bank_account`),
 * never arbitrary text from the body.
 */
function objectKindOf(type: unknown): string {
  return typeof type === 'string' && /^[a-z][a-z_.]{0,39}$/.test(type)
    ? `a ${type}`
    : 'an object of another kind'
}

function cardOwner(event: StripeWebhookEvent): Owner | null {
  const object = event.data.object
  if (event.type.startsWith('customer.source.')) {
    const id = idOf(object.customer)
    return id ? { type: 'customer', id } : null
  }
  const id = idOf(object.account) ?? event.account
  return id ? { type: 'account', id } : null
}

/**
 * Why an event naming an id that is not a valid id is ignored: not a string, empty, text that no
 * store keeps as sent (a NUL character, an unpaired surrogate), or a card number. Such an id never
 * reaches the store nor the result: PostgreSQL would store `cus_A\uD800` as `cus_A\uFFFD`, so
 * that it named another owner, and a card number would be kept in a deletion's tombstone and
 * logged with the result.
 */
function noValidId(what: string): string {
  return `the event names no valid ${what} id`
}

/** Whether an owner is one the core takes from a caller (`OwnerInputSchema`), as CardSync does. */
function isOwner(owner: Owner): boolean {
  return OwnerInputSchema.safeParse(owner).success
}

/** The owner an event's id names, or null when it is not a valid id. */
function ownerNamed(type: OwnerType, id: unknown): Owner | null {
  return typeof id === 'string' && isOwner({ type, id }) ? { type, id } : null
}

/** Whether a card id is one the core takes from a caller (`CardIdInputSchema`). */
function isCardId(id: unknown): id is string {
  return CardIdInputSchema.safeParse(id).success
}

/** The id of an object that is not a card, for a result: absent when it is no valid id. */
function otherId(object: Record<string, unknown>): string | undefined {
  const id = idOf(object)
  return isCardId(id) ? id : undefined
}

function defaultKey(owner: Owner, currency?: string | null): string {
  return `default\u0000${owner.type}\u0000${owner.id}\u0000${currency ?? ''}`
}

function cardKey(owner: Owner, cardId: string): string {
  return `card\u0000${owner.type}\u0000${owner.id}\u0000${cardId}`
}

function goneKey(owner: Owner): string {
  return `gone\u0000${owner.type}\u0000${owner.id}`
}

function ignored(reason: string, owner?: Owner, cardId?: string | null): Outcome {
  return {
    action: 'ignored',
    reason,
    ...(owner ? { owner } : {}),
    ...(cardId ? { cardId } : {}),
  }
}

/**
 * A confirmed write of a card the store refused: the card was deleted (no row), or the store
 * holds a state of it observed later (another process, or `CardSync`, read it since).
 */
function notApplied(owner: Owner, cardId: string, row: StoredCard | null) {
  const reason = row ? 'a state of the card observed later is stored' : 'the card was deleted'
  return stale(owner, cardId, reason, true)
}

function stale(owner: Owner, cardId: string | undefined, reason: string, confirmed?: boolean) {
  return {
    action: 'stale',
    owner,
    reason,
    ...(cardId ? { cardId } : {}),
    ...(confirmed ? { confirmed } : {}),
  } satisfies Outcome
}

function validationError(message: string) {
  return new InvalidRequestError(`Invalid stripeWebhookHandler options: ${message}`, {
    provider: STRIPE_PROVIDER_NAME,
  })
}

/** A verifier: `Stripe.webhooks` is an object in recent SDKs, a function with methods in older ones. */
function isVerifier(value: unknown): value is StripeWebhookVerifier {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { constructEventAsync?: unknown }).constructEventAsync === 'function'
  )
}

/** A set that forgets its oldest entries past `limit`. */
function boundedSet(limit: number): SeenEventIds {
  const ids = new Set<string>()
  return {
    has: (id) => ids.has(id),
    add(id) {
      ids.delete(id)
      ids.add(id)
      if (ids.size > limit) ids.delete(ids.values().next().value!)
    },
  }
}

/** A map that forgets its least recently written entries past `limit`. */
function boundedMap<K, V>(limit: number) {
  const entries = new Map<K, V>()
  return {
    get: (key: K) => entries.get(key),
    set(key: K, value: V) {
      entries.delete(key)
      entries.set(key, value)
      if (entries.size > limit) entries.delete(entries.keys().next().value!)
    },
  }
}
