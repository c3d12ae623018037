// Webhook delivery as an application meets it: Stripe's events out of order, repeated, handled by
// two processes over one store at once, failing part-way and retried, and arriving while the
// application's own CardSync changes the same owner. Whatever happens, once every event has been
// delivered (and each failed delivery retried, as Stripe does) the store equals Stripe and holds
// one default per customer. Memory, an SQLite file (opened once per process) and a schema on the
// PostgreSQL server (a pool per process) alike: each store keeps a card's newer change against an
// older one that arrives late in its own way (SQLite and PostgreSQL by the row's observedAt).
// Where CardSync races a late process, the emulator, CardSync and the handler stamp with one
// clock, and the stores answer after a few ms, so that the writes interleave on every store.
import { type CardStore, createCardSync, memoryStore, type Owner } from '@cardport/core'
import {
  type StripeProvider,
  type StripeWebhookHandler,
  type StripeWebhookHandlerOptions,
  stripeProvider,
  stripeWebhookHandler,
} from '@cardport/stripe'
import { type StripeEvent, stripeEmulator } from '@cardport/testing/emulators'
import fc from 'fast-check'
import { setupServer } from 'msw/node'
import Stripe from 'stripe'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { expectStoreEqualsProvider, scopeFor } from './support/checks.js'
import {
  PG_CONFIG,
  postgresSchemaOpenedTwice,
  probePostgres,
  type SharedStore,
  sqliteFileOpenedTwice,
} from './support/shared-store.js'

/**
 * Stripe's clock (the emulator's), in ms since the epoch: it stands still but for `tick()`,
 * which moves it a second on, so that the changes a test makes between two ticks fall in one
 * second. The CardSync property runs the emulator on a {@link runningClock} instead.
 */
let clock = Date.now()
const tick = () => {
  clock += 1000
}
let stripeNow = () => clock
const emulator = stripeEmulator({ now: () => new Date(stripeNow()) })
const server = setupServer(...emulator.handlers)
const secret = emulator.events.secret

let provider: StripeProvider
const client = () => new Stripe('sk_test_webhook_delivery', { maxNetworkRetries: 0 })

beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
beforeEach(() => {
  clock = Date.now()
  provider = stripeProvider({ stripe: client(), maxNetworkRetries: 0 })
})
afterEach(() => {
  server.resetHandlers()
  emulator.reset()
})
afterAll(() => server.close())

type Mode = 'confirm' | 'events'

/** The secret of a second, Connect, endpoint posting to the same route. */
const CONNECT_SECRET = 'whsec_cardport_connect_endpoint_test'

/**
 * One "process": its own Stripe client, its own handler, over its own handle on the store; `now`
 * is its clock (default `Date.now`).
 */
function handlerFor(store: CardStore, mode: Mode, now?: () => number): StripeWebhookHandler {
  const common = { endpointSecret: [secret, CONNECT_SECRET], store, ...(now ? { now } : {}) }
  return stripeWebhookHandler(
    (mode === 'confirm'
      ? { ...common, stripe: client() }
      : { ...common, webhooks: Stripe.webhooks }) as StripeWebhookHandlerOptions,
  )
}

const postgresUnavailable = await probePostgres()

/**
 * A store shared by two processes: one memory store, one SQLite file opened twice, or one schema
 * on the PostgreSQL server opened through two pools (a fresh schema per opening, dropped after).
 */
interface Shared {
  name: string
  /** Why it cannot run here, or null. */
  unavailable: string | null
  open(): Promise<SharedStore>
}
const SHARED: Shared[] = [
  {
    name: 'memory',
    unavailable: null,
    async open() {
      const store = memoryStore()
      return { stores: [store, store], close: async () => undefined }
    },
  },
  {
    name: 'SQLite file',
    unavailable: null,
    async open() {
      return sqliteFileOpenedTwice('webhooks')
    },
  },
  {
    name: `PostgreSQL server schema (${PG_CONFIG.host}:${PG_CONFIG.port})`,
    unavailable: postgresUnavailable,
    open: () => postgresSchemaOpenedTwice('webhooks'),
  },
]

/**
 * Changes through the adapter, with defaults switched and deleted. `step` runs between them;
 * `sameSecond` between the pairs that Stripe may well make within one second (an update after an
 * update, a deletion after a default switch): events alone cannot order those (the README's
 * "ties go to the last delivery"), so only a confirming handler is given them in one second.
 */
async function scenario(
  step: () => void,
  sameSecond: () => void = () => undefined,
): Promise<Owner[]> {
  const sdk = client()
  const c1: Owner = { type: 'customer', id: (await sdk.customers.create({})).id }
  const a1: Owner = {
    type: 'account',
    id: (await sdk.accounts.create({ type: 'custom', country: 'US' })).id,
  }
  step()
  const a = await provider.createCard(c1, { source: 'tok_visa' })
  step()
  const b = await provider.createCard(c1, { source: 'tok_mastercard' })
  step()
  await provider.setDefaultCard(c1, b.id)
  step()
  await provider.updateCard(c1, a.id, { holderName: 'Jenny Rosen' })
  sameSecond()
  await provider.updateCard(c1, a.id, { metadata: { plan: 'pro' } })
  step()
  const c = await provider.createCard(c1, { source: 'tok_amex', makeDefault: true })
  step()
  await provider.deleteCard(c1, c.id) // the default: Stripe promotes b
  step()
  await provider.setDefaultCard(c1, a.id)
  sameSecond()
  await provider.deleteCard(c1, a.id) // default changed, then that card deleted
  step()
  const x = await provider.createCard(a1, { source: 'tok_visa_debit' })
  step()
  const y = await provider.createCard(a1, { source: 'tok_mastercard_debit' })
  step()
  await provider.setDefaultCard(a1, y.id)
  step()
  await provider.deleteCard(a1, x.id)
  step()
  await provider.updateCard(a1, y.id, { holderName: 'Payouts' })
  step()
  return [c1, a1]
}

async function expectInStep(store: CardStore, owners: Owner[]) {
  for (const owner of owners) {
    await expectStoreEqualsProvider(provider, store, owner)
    const defaults = (await store.listByOwner(scopeFor(provider, owner))).filter((c) => c.isDefault)
    expect(defaults.length, 'at most one default').toBeLessThanOrEqual(1)
  }
}

/** Delivers each event to a handler; a delivery that fails (a 500) is retried later, as Stripe does. */
async function deliverUntilAccepted(
  events: readonly StripeEvent[],
  pick: (event: StripeEvent, attempt: number) => StripeWebhookHandler[],
  concurrency = 4,
) {
  // Connect events come from the Connect endpoint, signed with its own secret.
  const secretOf = (event: StripeEvent) => (event.account ? CONNECT_SECRET : secret)
  let pending = [...events]
  for (let attempt = 0; pending.length > 0; attempt++) {
    expect(attempt, 'every event accepted within 20 attempts').toBeLessThan(20)
    const failed: StripeEvent[] = []
    let next = 0
    const worker = async () => {
      while (next < pending.length) {
        const event = pending[next++]!
        const answers = await Promise.allSettled(
          pick(event, attempt).map(async (handler) => {
            const { payload, signature } = emulator.events.sign(event, { secret: secretOf(event) })
            return handler.handle(payload, signature)
          }),
        )
        if (answers.some((answer) => answer.status === 'rejected')) failed.push(event)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    pending = failed
  }
}

/** A seeded shuffle (a small LCG: the same seed, the same order). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items]
  let s = seed >>> 0 || 1
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/** A store whose writes throw now and then (a lost connection), decided by a seed. */
function flaky(store: CardStore, seed: number, share: number): CardStore {
  let s = seed >>> 0 || 1
  const fails = () => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0
    return s / 2 ** 32 < share
  }
  const wrap =
    <A extends unknown[], R>(method: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (fails()) throw new Error('connection lost (before the write)')
      const result = await method(...args)
      if (fails()) throw new Error('connection lost (after the write)')
      return result
    }
  return {
    ...store,
    get: store.get.bind(store),
    listByOwner: store.listByOwner.bind(store),
    getDefault: store.getDefault.bind(store),
    upsert: wrap(store.upsert.bind(store)),
    upsertMany: store.upsertMany.bind(store),
    delete: wrap(store.delete.bind(store)),
    setDefault: wrap(store.setDefault.bind(store)),
  }
}

/**
 * One clock for Stripe (the emulator), CardSync and a webhook handler: real time plus an offset
 * that `tick()` moves a second on. Unlike `clock` it runs: ms go by between calls, as on any
 * host, so that a read taken before a write is stamped before it.
 */
function runningClock(): { now: () => number; tick: () => void } {
  let offset = 0
  return {
    now: () => Date.now() + offset,
    tick: () => {
      offset += 1000
    },
  }
}

/**
 * How long a store of the CardSync property takes to answer while the processes race: a few
 * ms, as a database across a network (CardSync's switch then takes tens of ms here).
 */
const STORE_LATENCY_MS = 5

/**
 * A store that waits `latency()` ms (when more than 0) before each call of the `CardStore`
 * contract, its `retirements` included, as one across a network does: two processes' calls then
 * interleave, on memory and SQLite as on the PostgreSQL server.
 */
function slowed(store: CardStore, latency: () => number): CardStore {
  const wrap =
    <A extends unknown[], R>(method: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const ms = latency()
      if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
      return method(...args)
    }
  const { listByOwners, retirements: notes } = store
  return {
    ...store,
    get: wrap(store.get.bind(store)),
    listByOwner: wrap(store.listByOwner.bind(store)),
    ...(listByOwners ? { listByOwners: wrap(listByOwners.bind(store)) } : {}),
    getDefault: wrap(store.getDefault.bind(store)),
    upsert: wrap(store.upsert.bind(store)),
    upsertMany: wrap(store.upsertMany.bind(store)),
    delete: wrap(store.delete.bind(store)),
    setDefault: wrap(store.setDefault.bind(store)),
    listOwners: store.listOwners.bind(store),
    ...(notes
      ? {
          retirements: {
            save: wrap(notes.save.bind(notes)),
            load: wrap(notes.load.bind(notes)),
            remove: wrap(notes.remove.bind(notes)),
          },
        }
      : {}),
  }
}

for (const shared of SHARED) {
  if (shared.unavailable !== null) {
    if (process.env.CI === 'true') {
      describe(`webhooks over a shared ${shared.name} store`, () => {
        it('needs the PostgreSQL server', () => {
          throw new Error(`${shared.unavailable} (CI=true: a missing server is a failure)`)
        })
      })
      continue
    }
    console.warn(`[reliability] skipping webhooks over ${shared.name}: ${shared.unavailable}`)
  }
  describe.skipIf(shared.unavailable !== null)(
    `webhooks over a shared ${shared.name} store`,
    () => {
      for (const mode of ['confirm', 'events'] as const) {
        it(`${mode}: one process, shuffled and repeated, each change in its own second`, async () => {
          const owners = await scenario(tick, mode === 'events' ? tick : undefined)
          const events = emulator.events.take()
          for (const seed of [1, 7, 42]) {
            const { stores, close } = await shared.open()
            try {
              const handler = handlerFor(stores[0], mode)
              const order = shuffled([...events, ...events.slice(0, 5)], seed)
              await deliverUntilAccepted(order, () => [handler], 1)
              await expectInStep(stores[0], owners)
            } finally {
              await close()
            }
          }
        })

        it(`${mode}: a store that fails part-way, retried until accepted`, async () => {
          const owners = await scenario(tick, mode === 'events' ? tick : undefined)
          const events = emulator.events.take()
          for (const seed of [3, 11, 29]) {
            const { stores, close } = await shared.open()
            try {
              const handler = handlerFor(flaky(stores[0], seed, 0.2), mode)
              await deliverUntilAccepted(shuffled(events, seed), () => [handler], 2)
              await expectInStep(stores[0], owners)
            } finally {
              await close()
            }
          }
        })
      }

      // Each event to both processes at once (a redelivery that races the first), or to one of
      // them (a load balancer), the one swapped on each retry; every change in the same second.
      const spreads = {
        'the same event to both': (handlers: StripeWebhookHandler[]) => () => handlers,
        'each event to one of them':
          (handlers: StripeWebhookHandler[], order: StripeEvent[]) =>
          (event: StripeEvent, attempt: number) => [
            handlers[(order.indexOf(event) + attempt) % 2]!,
          ],
      }
      for (const [spread, pick] of Object.entries(spreads)) {
        it(`confirm: two processes at once, ${spread}, every change in one second`, async () => {
          const owners = await scenario(() => undefined)
          const events = emulator.events.take()
          for (const seed of [2, 5, 13]) {
            const { stores, close } = await shared.open()
            try {
              const handlers = [handlerFor(stores[0], 'confirm'), handlerFor(stores[1], 'confirm')]
              const order = shuffled(events, seed)
              await deliverUntilAccepted(order, pick(handlers, order), 4)
              await expectInStep(stores[0], owners)
            } finally {
              await close()
            }
          }
        })
      }

      // The events of a default switch made through the adapter reach the other process late,
      // while CardSync makes a new card the default: a card that process read from Stripe
      // before CardSync retired it must not come back when its write lands after the
      // retirement. Emulator, CardSync and handler share one running clock, each given it as its
      // `now` (no Date.now replaced: nothing else dates a write), and both processes' stores
      // answer after STORE_LATENCY_MS while they race, so that the handler's writes land during
      // CardSync's switch on every store, not only on the PostgreSQL server (answering at once,
      // memory and SQLite let it write only after).
      it("confirm: CardSync's setDefaultCard while the customer.updated of an earlier switch arrives", async () => {
        const time = runningClock()
        stripeNow = time.now
        try {
          await fc.assert(
            // When the late events start, in ms after CardSync's call: from its first request
            // to past its retirement of the old default.
            // CardSync's switch in the earlier switch's second, or in the next one.
            fc.asyncProperty(
              fc.integer({ min: 0, max: 15 }),
              fc.boolean(),
              async (delay, later) => {
                emulator.reset()
                const { stores, close } = await shared.open()
                let latency = 0
                const app = slowed(stores[0], () => latency)
                const other = slowed(stores[1], () => latency)
                try {
                  const sync = createCardSync({ provider, store: app, now: time.now })
                  const owner: Owner = {
                    type: 'customer',
                    id: (await client().customers.create({})).id,
                  }
                  const first = await sync.setDefaultCard(owner, 'tok_visa')
                  time.tick()
                  const second = await provider.createCard(owner, { source: 'tok_mastercard' })
                  time.tick()
                  await provider.setDefaultCard(owner, second.id) // the earlier switch
                  const events = emulator.events.take()
                  const handler = handlerFor(other, 'confirm', time.now)
                  // In the same second as the earlier switch, or a second later: the handler dates
                  // the read that confirms a customer.updated at the read, not at the event's
                  // ranked time (its second plus 500 ms for an update), so a read taken before
                  // CardSync retired the old default is dated before the retirement either way.
                  if (later) time.tick()
                  latency = STORE_LATENCY_MS
                  const late = (async () => {
                    await new Promise((resolve) => setTimeout(resolve, delay))
                    await deliverUntilAccepted(events, () => [handler], 1)
                  })()
                  const third = await sync.setDefaultCard(owner, 'tok_amex')
                  await late
                  latency = 0
                  expect(first.id).not.toBe(third.id)
                  // Before the events of CardSync's own switch arrive, the store is already right: the
                  // earlier switch's events did not roll it back.
                  await expectInStep(stores[0], [owner])
                  await deliverUntilAccepted(emulator.events.take(), () => [handler], 1)
                  await expectInStep(stores[0], [owner])
                } finally {
                  await close()
                }
              },
            ),
            { numRuns: 20 },
          )
        } finally {
          stripeNow = () => clock
        }
      })

      for (const mode of ['confirm', 'events'] as const) {
        // Events alone: the other process has no memory of the deauthorization, and the store no
        // marker for a card it never held, so only the process that saw it refuses the account's
        // late creations (the README's limit); with the API, the card is read first.
        const across = mode === 'confirm'
        it(`${mode}: Connect, a deauthorization, then the account's older card events ${across ? 'to another process' : 'late'}`, async () => {
          const sdk = client()
          const account: Owner = {
            type: 'account',
            id: (await sdk.accounts.create({ type: 'custom', country: 'US' })).id,
          }
          const x = await provider.createCard(account, { source: 'tok_visa_debit' })
          tick()
          await provider.createCard(account, { source: 'tok_mastercard_debit', makeDefault: true })
          tick()
          await provider.updateCard(account, x.id, { holderName: 'Payouts' })
          const events = emulator.events.take()
          expect(events.every((event) => event.account === account.id)).toBe(true)
          tick()
          const deauthorization = {
            id: `evt_deauthorized_${clock}`,
            object: 'event',
            account: account.id,
            api_version: '2023-08-16',
            created: Math.floor(clock / 1000),
            data: { object: { id: 'ca_platform', object: 'application', name: 'Platform' } },
            livemode: false,
            pending_webhooks: 1,
            request: { id: null, idempotency_key: null },
            type: 'account.application.deauthorized',
          } as unknown as StripeEvent
          const { stores, close } = await shared.open()
          try {
            const one = handlerFor(stores[0], mode)
            const two = across ? handlerFor(stores[1], mode) : one
            // The first card reaches the store, then the deauthorization, then the rest, late.
            await deliverUntilAccepted(events.slice(0, 1), () => [two], 1)
            await deliverUntilAccepted([deauthorization], () => [one], 1)
            if (mode === 'confirm') {
              // The platform's key would no longer reach the account: Stripe answers as for a
              // deleted one.
              await sdk.accounts.del(account.id)
            }
            await deliverUntilAccepted(shuffled(events.slice(1), 3), () => [two], 2)
            expect(await stores[0].listByOwner(scopeFor(provider, account))).toEqual([])
          } finally {
            await close()
          }
        })
      }
    },
  )
}
