import { createHmac } from 'node:crypto'
import { request } from 'undici'
import {
  type StripeCustomer,
  type StripeSource,
  type StripeState,
  type StripeStateWatcher,
  stripeId,
} from './stripe-state.js'

/**
 * The signing secret the emulator's events are signed with unless a delivery names another.
 * Configure your webhook handler with it (`emulator.events.secret`) in tests.
 */
export const STRIPE_EMULATOR_WEBHOOK_SECRET = 'whsec_cardport_emulator_test_secret'

/** The event types the Stripe emulator records. */
export type StripeEmulatorEventType =
  | 'customer.created'
  | 'customer.updated'
  | 'customer.deleted'
  | 'customer.source.created'
  | 'customer.source.updated'
  | 'customer.source.deleted'
  | 'account.external_account.created'
  | 'account.external_account.updated'
  | 'account.external_account.deleted'

/**
 * Stripe's event envelope (a snapshot event), as Stripe posts it to a webhook endpoint. Events
 * about a connected account's external accounts carry that account's id as `account`, as
 * Connect webhooks do.
 */
export interface StripeEvent {
  /** The event's id (`evt_…`): a handler that sees it twice applies it once. */
  id: string
  /** Always `'event'`. */
  object: 'event'
  /** For a connected account's external accounts: the account's id (`acct_…`). */
  account?: string
  /** The API version `data.object` is rendered in (`STRIPE_EMULATOR_API_VERSION`). */
  api_version: string
  /** When the change happened, in seconds since the epoch (the emulator's clock). */
  created: number
  /** What the event is about. */
  data: {
    /** The object after the change (before it, for a deletion). */
    object: Record<string, unknown>
    /** For `*.updated`: the changed top-level fields, with their values before the change. */
    previous_attributes?: Record<string, unknown>
  }
  /** Always false: the emulator is test mode. */
  livemode: false
  /** Endpoints yet to receive the event, as Stripe counts them: always 1 here. */
  pending_webhooks: number
  /** The API request that caused the change; both null for a change made by seeding. */
  request: {
    /** The request's `Request-Id` (`req_…`). */
    id: string | null
    /** The request's `Idempotency-Key`, when it sent one. */
    idempotency_key: string | null
  }
  /** What happened (`'customer.source.created'` …). */
  type: StripeEmulatorEventType
}

/**
 * Where events are delivered: a webhook handler (`{ handle(rawBody, signature) }`, as
 * `stripeWebhookHandler` from `@cardport/stripe` returns), a function of the same shape, or the
 * URL of a running server (posted with undici's `request`, which MSW does not intercept, so a
 * test can emulate Stripe's API with MSW and still reach its own server).
 */
export type StripeWebhookTarget =
  | string
  | URL
  | ((rawBody: string, signature: string) => unknown)
  | {
      /** Takes the raw body and its `Stripe-Signature` header, as a webhook route would. */
      handle(rawBody: string, signature: string): unknown
    }

/** How {@link deliverStripeEvents} delivers. */
export interface StripeDeliveryOptions {
  /** The signing secret. Default {@link STRIPE_EMULATOR_WEBHOOK_SECRET}. */
  secret?: string | undefined
  /**
   * The `t=` of the signature header, in seconds. Default: the wall clock at each delivery,
   * as Stripe signs each attempt when it sends it (the event's `created` stays what it was).
   */
  timestamp?: number | undefined
  /** Deliver in a random order drawn from this seed (the same seed, the same order). */
  shuffle?: number | undefined
  /**
   * The share of events (0 to 1) delivered a second time, as Stripe does when an answer is
   * lost. Which ones, and where the copies land, are drawn from `shuffle`'s seed (or 1).
   */
  duplicate?: number | undefined
  /** Deliveries in flight at once. Default 1: one after another. */
  concurrency?: number | undefined
}

/** One delivery attempt and what the target answered. */
export interface StripeDelivery {
  /** The event delivered. */
  event: StripeEvent
  /** The raw body that was signed and sent. */
  payload: string
  /** The `Stripe-Signature` header that was sent. */
  signature: string
  /**
   * The HTTP status: a URL's answer; for a handler, 200 when it resolved, else the `status` of
   * what it threw (a cardport webhook rejection has 400), else 500.
   */
  status: number
  /** What a handler resolved with. */
  result?: unknown
  /** What a handler threw. */
  error?: unknown
  /** A URL's response body, as text. */
  body?: string
}

/** The events an emulator recorded, and the means to sign and deliver them. */
export interface StripeEmulatorEvents {
  /** The default signing secret of {@link StripeEmulatorEvents.deliver}. */
  readonly secret: string
  /** Every event recorded since the last `reset()`, oldest first (copies). */
  list(filter?: {
    /** Only events of this type, or of these types. Default: every type. */
    type?: StripeEmulatorEventType | readonly StripeEmulatorEventType[] | undefined
  }): StripeEvent[]
  /** The events recorded since the last `take()` (a delivery queue), oldest first. */
  take(): StripeEvent[]
  /** Signs one event as Stripe would: the exact body, and its `Stripe-Signature` header. */
  sign(
    event: StripeEvent,
    options?: {
      /** The signing secret. Default {@link StripeEmulatorEvents.secret}. */
      secret?: string | undefined
      /** The signature's `t=`, in seconds since the epoch. Default: the wall clock. */
      timestamp?: number | undefined
    },
  ): {
    /** The exact body to post: the event's JSON, as signed. */
    payload: string
    /** The `Stripe-Signature` header for `payload` (`t=…,v1=…`). */
    signature: string
  }
  /**
   * Delivers `events` (default: `take()`, every event not delivered yet) to a handler or URL.
   *
   * @example
   * ```ts
   * await provider.createCard(owner, { source: 'tok_visa' })
   * const deliveries = await emulator.events.deliver(handler, { shuffle: 7, duplicate: 0.3 })
   * ```
   */
  deliver(
    target: StripeWebhookTarget,
    options?: StripeDeliveryOptions & {
      /** The events to deliver. Default: `take()`, every event not delivered yet. */
      events?: readonly StripeEvent[] | undefined
    },
  ): Promise<StripeDelivery[]>
}

/**
 * Computes a `Stripe-Signature` header for a raw body, as Stripe documents it:
 * `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<payload>" keyed by the secret>`. The
 * official SDK's `constructEvent` accepts it (and `stripe.webhooks.generateTestHeaderString`
 * produces the same string); node:crypto keeps this package free of the SDK.
 *
 * @param timestamp Seconds since the epoch. Default: now.
 */
export function signStripeEvent(
  payload: string,
  secret: string,
  timestamp: number = Math.floor(Date.now() / 1000),
): string {
  const t = Math.floor(timestamp)
  const signature = createHmac('sha256', secret).update(`${t}.${payload}`, 'utf8').digest('hex')
  return `t=${t},v1=${signature}`
}

/**
 * The body Stripe posts for an event: JSON indented by two spaces, as Stripe sends it (a
 * handler that re-serializes the parsed body instead of verifying the raw one fails).
 */
export function stripeEventPayload(event: StripeEvent): string {
  return JSON.stringify(event, null, 2)
}

/**
 * Signs and delivers events to a webhook handler or a URL, optionally shuffled and duplicated
 * (seeded, so a failing order can be replayed). Returns every attempt with the answer.
 */
export async function deliverStripeEvents(
  events: readonly StripeEvent[],
  target: StripeWebhookTarget,
  options: StripeDeliveryOptions = {},
): Promise<StripeDelivery[]> {
  const secret = options.secret ?? STRIPE_EMULATOR_WEBHOOK_SECRET
  const queue = deliveryOrder(events, options)
  const deliveries: StripeDelivery[] = new Array(queue.length)
  let next = 0
  const worker = async () => {
    while (next < queue.length) {
      const index = next++
      const event = queue[index]!
      const payload = stripeEventPayload(event)
      const signature = signStripeEvent(payload, secret, options.timestamp)
      deliveries[index] = { event, payload, signature, ...(await send(target, payload, signature)) }
    }
  }
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1))
  await Promise.all(Array.from({ length: concurrency }, worker))
  return deliveries
}

/** What the emulator needs to record events: its state's read-backs and its clock. @internal */
export interface StripeEventRecorder {
  readonly events: StripeEmulatorEvents
  /**
   * Runs a change to the state and records the events Stripe would send for it: the state
   * reports each customer and source the change touches, and what each was before is compared
   * with what it is after. Nested calls record once, outermost.
   */
  record<T>(
    change: () => T,
    request?: { method: string; requestId: string; idempotencyKey: string | null },
  ): T
  /** Forgets every event. */
  clear(): void
}

/**
 * Creates the event log of one emulator. With `enabled: false` it records nothing and changes
 * cost nothing extra (bulk seeding). @internal
 */
export function createStripeEventRecorder(
  state: StripeState,
  options: { now: () => Date; apiVersion: string; secret?: string; enabled?: boolean },
): StripeEventRecorder {
  const secret = options.secret ?? STRIPE_EMULATOR_WEBHOOK_SECRET
  const enabled = options.enabled ?? true
  let log: StripeEvent[] = []
  let taken = 0
  let depth = 0

  const emit = (
    type: StripeEmulatorEventType,
    object: Record<string, unknown>,
    cause: { requestId: string; idempotencyKey: string | null } | undefined,
    previous?: Record<string, unknown>,
  ) => {
    const account = type.startsWith('account.') ? (object.account as string) : undefined
    log.push({
      id: stripeId('evt_', 24),
      object: 'event',
      ...(account ? { account } : {}),
      api_version: options.apiVersion,
      created: Math.floor(options.now().getTime() / 1000),
      data: { object, ...(previous ? { previous_attributes: previous } : {}) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: cause?.requestId ?? null, idempotency_key: cause?.idempotencyKey ?? null },
      type,
    })
  }

  const diff = (
    before: Snapshot,
    after: Snapshot,
    cause?: { requestId: string; idempotencyKey: string | null },
  ) => {
    for (const [id, json] of after.customers) {
      if (!before.customers.has(id)) emit('customer.created', JSON.parse(json), cause)
    }
    for (const [owner, sources] of after.sources) {
      const earlier = before.sources.get(owner) ?? new Map<string, string>()
      const noun = owner.startsWith('acct_') ? 'account.external_account' : 'customer.source'
      for (const [id, json] of sources) {
        if (!earlier.has(id)) emit(`${noun}.created`, JSON.parse(json), cause)
      }
      for (const [id, json] of sources) {
        const old = earlier.get(id)
        if (old === undefined || old === json) continue
        const [object, previous] = changed(JSON.parse(old), JSON.parse(json))
        emit(`${noun}.updated`, object, cause, previous)
      }
      for (const [id, json] of earlier) {
        // Stripe sends the deleted object as it last was.
        if (!sources.has(id)) emit(`${noun}.deleted`, JSON.parse(json), cause)
      }
    }
    // An owner that is gone (a deleted customer or account) takes its sources with it: Stripe
    // sends `customer.deleted`, not one event per source.
    for (const [id, json] of after.customers) {
      const old = before.customers.get(id)
      if (old === undefined || old === json) continue
      const [object, previous] = changed(JSON.parse(old), JSON.parse(json))
      emit('customer.updated', object, cause, previous)
    }
    for (const [id, json] of before.customers) {
      if (!after.customers.has(id)) emit('customer.deleted', JSON.parse(json), cause)
    }
  }

  const events: StripeEmulatorEvents = {
    secret,
    list(filter = {}) {
      const types = filter.type === undefined ? undefined : [filter.type].flat()
      return structuredClone(log.filter((event) => !types || types.includes(event.type)))
    },
    take() {
      const fresh = log.slice(taken)
      taken = log.length
      return structuredClone(fresh)
    },
    sign(event, signOptions = {}) {
      const payload = stripeEventPayload(event)
      return {
        payload,
        signature: signStripeEvent(payload, signOptions.secret ?? secret, signOptions.timestamp),
      }
    },
    deliver(target, deliverOptions = {}) {
      const { events: given, ...rest } = deliverOptions
      return deliverStripeEvents(given ?? events.take(), target, {
        ...rest,
        // After `rest`: its `secret: undefined` means "not given", as an absent one does.
        secret: rest.secret ?? secret,
      })
    },
  }

  return {
    events,
    record(change, cause) {
      if (!enabled || depth > 0 || cause?.method === 'GET') return change()
      const touched = changeLog(state)
      state.watch(touched.watcher)
      depth++
      try {
        return change()
      } finally {
        depth--
        state.watch(undefined)
        // Whatever the change committed before it failed is state, and Stripe reports state.
        const [before, after] = touched.snapshots()
        diff(before, after, cause)
      }
    },
    clear() {
      log = []
      taken = 0
    },
  }
}

/**
 * The seed methods of an emulator, recording the events each change causes (with a null
 * `request`, as Stripe sends for changes made outside the API). Every method is wrapped, so
 * seed methods added later record too. @internal
 */
export function recordingSeed<S extends object>(seed: S, recorder: StripeEventRecorder): S {
  const wrapped: Record<string, unknown> = {}
  for (const [name, member] of Object.entries(seed)) {
    wrapped[name] =
      typeof member === 'function'
        ? (...args: unknown[]) => recorder.record(() => member.apply(seed, args))
        : member
  }
  return wrapped as S
}

// ---- helpers -------------------------------------------------------------------------------

/**
 * JSON of live customers, and of owners' sources (oldest first), each map in the order Stripe's
 * events follow: what one change touched, before or after it.
 */
interface Snapshot {
  customers: Map<string, string>
  sources: Map<string, Map<string, string>>
}

/**
 * The change log of one recorded change: the state's watcher keeps the JSON of each customer and
 * source the first time the change touches it (`undefined`: it did not exist), and `snapshots`
 * returns those before-images and the same objects as they are now. Only touched objects are
 * serialized, so a write costs what it touches, not the size of the state.
 */
function changeLog(state: StripeState) {
  const customers = new Map<string, string | undefined>()
  const owners = new Map<string, OwnerLog>()

  const watcher: StripeStateWatcher = {
    customer(id) {
      if (customers.has(id)) return
      const record = state.customerRecord(id)
      customers.set(id, record && !record.deleted ? JSON.stringify(record.customer) : undefined)
    },
    source(owner, id) {
      let entry = owners.get(owner)
      if (!entry) {
        entry = { before: new Map() }
        owners.set(owner, entry)
      }
      if (entry.before.has(id)) return
      const list = state.storedSources(owner)
      const index = lastIndexOf(list, id)
      if (index < 0) {
        entry.before.set(id, undefined)
        return
      }
      // The list as it was, for the order of deletions: taken once, before anything in it moved.
      entry.list ??= list.slice()
      entry.before.set(id, JSON.stringify(list[index]))
    },
  }

  const snapshots = (): [Snapshot, Snapshot] => {
    const before: Snapshot = { customers: new Map(), sources: new Map() }
    const after: Snapshot = { customers: new Map(), sources: new Map() }
    for (const id of state.ownersInOrder(new Set([...customers.keys(), ...owners.keys()]))) {
      const record = state.customerRecord(id)
      // Accounts are listed only while they exist; customers stay, flagged once deleted.
      const live = record === undefined || !record.deleted
      if (customers.has(id)) {
        const old = customers.get(id)
        if (old !== undefined) before.customers.set(id, old)
        if (record && live) after.customers.set(id, JSON.stringify(record.customer))
      }
      const entry = owners.get(id)
      if (!entry) continue
      const was = [...entry.before].filter(
        (pair): pair is [string, string] => pair[1] !== undefined,
      )
      if (was.length > 1) {
        const position = new Map(entry.list?.map((source, index) => [source.id, index]))
        was.sort(([a], [b]) => position.get(a)! - position.get(b)!)
      }
      before.sources.set(id, new Map(was))
      // The sources of an owner that is gone went with it: no event for them.
      if (!live) continue
      const list = state.storedSources(id)
      const now = [...entry.before.keys()]
        .map((sourceId) => lastIndexOf(list, sourceId))
        .filter((index) => index >= 0)
        .sort((a, b) => a - b)
      after.sources.set(
        id,
        new Map(now.map((index) => [list[index]!.id, JSON.stringify(list[index])])),
      )
    }
    return [before, after]
  }

  return { watcher, snapshots }
}

/** What a change log keeps of one owner's sources. */
interface OwnerLog {
  /** The JSON of each touched source before the change (`undefined`: it was added). */
  before: Map<string, string | undefined>
  /** The owner's list before the change, once a source that was in it is touched. */
  list?: StripeSource[]
}

/** Where `id` is in an owner's list, searched from the end, where new sources are. */
function lastIndexOf(list: readonly StripeSource[], id: string): number {
  for (let index = list.length - 1; index >= 0; index--) {
    if (list[index]!.id === id) return index
  }
  return -1
}

/** The object after a change, and the top-level fields that changed with their old values. */
function changed(
  before: StripeCustomer | StripeSource,
  after: StripeCustomer | StripeSource,
): [Record<string, unknown>, Record<string, unknown>] {
  const old = before as unknown as Record<string, unknown>
  const now = after as unknown as Record<string, unknown>
  const previous: Record<string, unknown> = {}
  for (const key of new Set([...Object.keys(old), ...Object.keys(now)])) {
    if (JSON.stringify(old[key]) !== JSON.stringify(now[key])) previous[key] = old[key] ?? null
  }
  return [now, previous]
}

/** The events in delivery order: duplicates added, then shuffled, both from one seed. */
function deliveryOrder(events: readonly StripeEvent[], options: StripeDeliveryOptions) {
  const random = mulberry32(options.shuffle ?? 1)
  const share = Math.min(1, Math.max(0, options.duplicate ?? 0))
  const queue: StripeEvent[] = []
  for (const event of events) {
    queue.push(event)
    if (share > 0 && random() < share) queue.push(event)
  }
  if (options.shuffle !== undefined) {
    for (let i = queue.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[queue[i], queue[j]] = [queue[j]!, queue[i]!]
    }
  }
  return queue
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

async function send(
  target: StripeWebhookTarget,
  payload: string,
  signature: string,
): Promise<Pick<StripeDelivery, 'status' | 'result' | 'error' | 'body'>> {
  if (typeof target === 'string' || target instanceof URL) {
    const response = await request(target, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'stripe-signature': signature,
        'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      },
      body: payload,
    })
    return { status: response.statusCode, body: await response.body.text() }
  }
  try {
    const result =
      typeof target === 'function'
        ? await target(payload, signature)
        : await target.handle(payload, signature)
    return { status: 200, result }
  } catch (error) {
    const status = (error as { status?: unknown } | null)?.status
    return { status: typeof status === 'number' ? status : 500, error }
  }
}
