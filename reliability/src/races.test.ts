// Races: two CardSync instances (two processes, in effect: each with its own Stripe client and
// its own store over the same database, through a connection of its own except on PGlite, which
// serves one) work on the same owners at once: cards created, deleted, made the default, synced. Whatever the interleaving, once a reconcile has run:
// exactly one default per owner that holds cards, no ghost card (every stored card exists at
// the provider), and the store equals the provider.
import { randomBytes } from 'node:crypto'
import {
  type CardProvider,
  type CardStore,
  type CardSync,
  createCardSync,
  isCardportError,
  type Owner,
} from '@cardport/core'
import { postgresStore } from '@cardport/store-postgres'
import type { StripeEmulator } from '@cardport/testing/emulators'
import { PGlite } from '@electric-sql/pglite'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expectStoreEqualsProvider, scopeFor } from './support/checks.js'
import { providersUnderTest } from './support/providers.js'
import {
  PG_CONFIG,
  postgresSchemaOpenedTwice,
  probePostgres,
  type SharedStore,
  sqliteFileOpenedTwice,
} from './support/shared-store.js'

/** Programs run per store backend: each is two concurrent sequences of operations. */
const RUNS = 10

const postgresUnavailable = await probePostgres()

/** A store backend: opens a fresh shared store for one program. */
interface Backend {
  name: string
  /** Why it cannot run here, or null. */
  unavailable: string | null
  /**
   * Whether each store has a connection of its own, so that one reading what the other wrote
   * shows the writes committed. False on PGlite: it serves a single connection, which its two
   * stores share (two stores of one application), and the other connection is the server's to
   * check.
   */
  ownConnections: boolean
  setup?(): Promise<void>
  teardown?(): Promise<void>
  open(): Promise<SharedStore>
}

let pglite: PGlite | undefined

const BACKENDS: Backend[] = [
  {
    name: 'SQLite, one file opened twice',
    unavailable: null,
    ownConnections: true,
    async open() {
      return sqliteFileOpenedTwice('races')
    },
  },
  {
    name: 'PostgreSQL (PGlite), two stores on one schema over its one connection',
    unavailable: null,
    ownConnections: false,
    async setup() {
      pglite = await PGlite.create()
    },
    async teardown() {
      await pglite?.close()
    },
    async open() {
      const client = pglite!
      const schema = `cardport_races_${randomBytes(6).toString('hex')}`
      const stores: [CardStore, CardStore] = [
        await postgresStore({ client, schema }),
        await postgresStore({ client, schema }),
      ]
      return {
        stores,
        async close() {
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
        },
      }
    },
  },
  {
    name: `PostgreSQL server at ${PG_CONFIG.host}:${PG_CONFIG.port}, two pools on one schema`,
    unavailable: postgresUnavailable,
    ownConnections: true,
    open: () => postgresSchemaOpenedTwice('races'),
  },
]

/** What one instance does to an owner. */
type Step =
  | { kind: 'setDefaultCard'; owner: number }
  | { kind: 'create then sync'; owner: number }
  | { kind: 'deleteCard'; owner: number; pick: number }
  | { kind: 'make an existing card the default'; owner: number; pick: number }
  | { kind: 'sync the default'; owner: number }

/** The owners of one program: two customers and a connected account. */
const OWNER_KINDS = ['customer', 'customer', 'account'] as const

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('setDefaultCard' as const), owner: fc.nat(2) }),
  fc.record({ kind: fc.constant('create then sync' as const), owner: fc.nat(2) }),
  fc.record({ kind: fc.constant('deleteCard' as const), owner: fc.nat(2), pick: fc.nat(9) }),
  fc.record({
    kind: fc.constant('make an existing card the default' as const),
    owner: fc.nat(2),
    pick: fc.nat(9),
  }),
  fc.record({ kind: fc.constant('sync the default' as const), owner: fc.nat(2) }),
)
const programArb = fc.record({
  steps: fc.tuple(
    fc.array(stepArb, { minLength: 2, maxLength: 8 }),
    fc.array(stepArb, { minLength: 2, maxLength: 8 }),
  ),
  // How late the emulator answers each request, in order: varies which instance's request
  // lands first, so that the runs explore different interleavings.
  latencies: fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 80, maxLength: 80 }),
})

/**
 * Errors a step may meet because the other instance got there first: the card it picked was
 * deleted meanwhile, or (external accounts) it is the default of its currency and cannot be
 * deleted. Anything else fails the run.
 */
const EXPECTED_CODES = ['card_not_found', 'conflict'] as const

const providers = providersUnderTest()
const stripe = providers.stripe
let programs = 0
/** Drift the final reconciles repaired: shows that the races did leave the store behind. */
let repaired = 0

beforeAll(() => providers.start())
afterAll(async () => {
  await providers.close()
  console.info(
    `[reliability] races: ${programs} programs of two concurrent instances run; the final reconciles repaired ${repaired} drifted cards or defaults the races left (and the 3 planted per owner)`,
  )
})

for (const backend of BACKENDS) {
  if (backend.unavailable !== null) {
    if (process.env.CI === 'true') {
      describe(`races on ${backend.name}`, () => {
        it('needs the PostgreSQL server', () => {
          throw new Error(`${backend.unavailable} (CI=true: a missing server is a failure)`)
        })
      })
      continue
    }
    console.warn(`[reliability] skipping races on ${backend.name}: ${backend.unavailable}`)
  }
  describe.skipIf(backend.unavailable !== null)(`races on ${backend.name}`, () => {
    beforeAll(async () => backend.setup?.(), 60_000)
    afterAll(async () => backend.teardown?.())

    it(`${RUNS} programs: after reconcile, one default per owner, no ghost card, store = provider`, async () => {
      await fc.assert(
        fc.asyncProperty(programArb, async (program) => {
          providers.reset()
          const shared = await backend.open()
          try {
            await runProgram(shared, program, backend)
          } finally {
            await shared.close()
            await providers.closeProviders()
          }
        }),
        { numRuns: RUNS },
      )
    }, 120_000)
  })
}

// --- one program ---

interface Instance {
  name: string
  provider: CardProvider
  sync: CardSync
  store: CardStore
}

async function runProgram(
  shared: SharedStore,
  program: { steps: [Step[], Step[]]; latencies: number[] },
  backend: Backend,
) {
  programs++
  const instances: Instance[] = shared.stores.map((store, index) => {
    const provider = stripe.provider()
    return {
      name: `instance ${index === 0 ? 'A' : 'B'}`,
      provider,
      store,
      sync: createCardSync({ provider, store, retry: { sleep: async () => {} } }),
    }
  })
  const [a, b] = instances as [Instance, Instance]
  const owners = OWNER_KINDS.map((kind) => seedOwner(kind))
  await a.sync.reconcile(owners)

  // One fault per request, in order (each fires once): request k answers after latencies[k].
  // Every due latency fault fires for a request (their delays add up), so fault k lets the k
  // requests before it through (`after`): without that, all of them fired for the first request.
  const requestsBefore = stripe.requestCount()
  program.latencies.forEach((latencyMs, k) => {
    stripe.emulator.faults.inject({ latencyMs, after: k })
  })

  const unexpected: string[] = []
  let opCounter = 0
  const play = async (instance: Instance, steps: Step[]) => {
    for (const step of steps) {
      const key = `race-${programs}-${instance.name}-${opCounter++}`
      try {
        await perform(instance, owners[step.owner]!, step, key)
      } catch (error) {
        if (!isCardportError(error, ...EXPECTED_CODES)) {
          unexpected.push(`${instance.name}, ${step.kind}: ${String(error)}`)
        }
      }
    }
  }
  await Promise.all([play(a, program.steps[0]), play(b, program.steps[1])])
  const made = stripe.requestCount() - requestsBefore
  expect(stripe.emulator.faults.fired, `the latencies of the ${made} requests, one each`).toEqual(
    program.latencies.map((_, k) => (k < made ? 1 : 0)),
  )
  stripe.emulator.faults.clear()
  await providers.settled()
  expect(unexpected, 'errors no race explains').toEqual([])

  // The programs' own calls keep the store nearly in step (a few drifted cards in all the runs),
  // so that the checks below would pass with a reconcile that repairs nothing. Drift of every
  // kind is planted on every owner, behind the store's back, for the one reconcile of all the
  // owners to repair: a ghost, a card only the provider holds, and the default moved.
  const planted = []
  for (const owner of owners) planted.push(await driftBehindTheStore(a, owner))

  const report = await a.sync.reconcile(owners)
  expect(report.failed, 'reconcile failures').toEqual([])
  expect(report.truncated, 'a report listing every entry').toBe(false)
  const ids = (entries: readonly { cardId: string | null }[]) => entries.map((e) => e.cardId)
  for (const { owner, ghost, added, madeDefault } of planted) {
    const of = <E extends { owner: Owner }>(entries: readonly E[]) =>
      entries.filter((entry) => entry.owner.id === owner.id)
    expect(ids(of(report.removed)), `the ghost of ${owner.id} removed`).toContain(ghost)
    expect(ids(of(report.added)), `the new card of ${owner.id} added`).toContain(added)
    expect(ids(of(report.defaultRepaired)), `the default of ${owner.id} repaired`).toEqual([
      madeDefault,
    ])
  }
  repaired +=
    report.counts.added +
    report.counts.updated +
    report.counts.removed +
    report.counts.defaultRepaired -
    3 * planted.length
  for (const owner of owners) {
    const held = stripe.held(owner)
    const stored = await a.store.listByOwner(scopeFor(a.provider, owner))
    const ghosts = stored.filter((card) => !held.some((h) => h.id === card.id))
    expect(
      ghosts.map((card) => card.id),
      `ghost cards of ${owner.id}`,
    ).toEqual([])
    expect(
      stored.filter((card) => card.isDefault).length,
      `defaults of ${owner.id} (holding ${held.length} cards)`,
    ).toBe(held.length > 0 ? 1 : 0)
    expect(held.filter((card) => card.isDefault).length, 'defaults at the provider').toBe(
      held.length > 0 ? 1 : 0,
    )
    await expectStoreEqualsProvider(a.provider, a.store, owner)
    // The other store reads the same: through its own connection (SQLite's second handle on
    // the file, the server's second pool), where a write left uncommitted would not show; on
    // PGlite, through the one connection both stores share.
    expect(
      await b.store.listByOwner(scopeFor(b.provider, owner)),
      backend.ownConnections ? "the other store's connection" : 'the other store',
    ).toEqual(stored)
  }
}

async function perform(instance: Instance, owner: Owner, step: Step, key: string) {
  const { sync, provider, store } = instance
  const token = owner.type === 'customer' ? 'tok_mastercard' : 'tok_mastercard_debit'
  const pick = async (index: number) => {
    const cards = await store.listByOwner(scopeFor(provider, owner))
    return cards.length === 0 ? undefined : cards[index % cards.length]
  }
  switch (step.kind) {
    case 'setDefaultCard':
      // A fresh idempotency key per call: a real token is single-use, the test token is not.
      await sync.setDefaultCard(owner, token, { idempotencyKey: key })
      return
    case 'create then sync': {
      const card = await provider.createCard(owner, { source: token }, { idempotencyKey: key })
      await sync.sync(owner, card.id)
      return
    }
    case 'deleteCard': {
      const card = await pick(step.pick)
      if (card) await sync.deleteCard(owner, card.id)
      return
    }
    case 'make an existing card the default': {
      const card = await pick(step.pick)
      if (!card) return
      await provider.setDefaultCard(owner, card.id)
      await sync.sync(owner)
      return
    }
    case 'sync the default':
      await sync.sync(owner)
      return
  }
}

/**
 * Changes the owner behind the store's back: a card added at the provider only; the default
 * moved there to a card the store holds as a plain one (to the added card when there is none),
 * so that only the default flag tells; and a ghost in the store only (a copy of the added card
 * under an id the provider never gave, as a write for a card since gone leaves one).
 */
async function driftBehindTheStore(instance: Instance, owner: Owner) {
  const { provider, store } = instance
  const token = owner.type === 'customer' ? 'tok_mastercard' : 'tok_mastercard_debit'
  const added = await provider.createCard(owner, { source: token })
  const held = new Set(stripe.held(owner).map((card) => card.id))
  const plain = (await store.listByOwner(scopeFor(provider, owner))).find(
    (card) => !card.isDefault && held.has(card.id) && card.id !== added.id,
  )
  const madeDefault = plain?.id ?? added.id
  await provider.setDefaultCard(owner, madeDefault)
  const ghost = `${added.id}ghost`
  await store.upsert({ ...added, id: ghost, isDefault: false })
  return { owner, ghost, added: added.id, madeDefault }
}

/** A customer with two cards, or a Custom account with two usd debit cards (one the default). */
function seedOwner(kind: 'customer' | 'account'): Owner {
  const emulator = providers.stripe.emulator as StripeEmulator
  if (kind === 'customer') return stripe.owner(2)
  const owner: Owner = { type: 'account', id: emulator.seed.account().id }
  emulator.seed.card(owner.id, 'tok_visa_debit', { default_for_currency: true })
  emulator.seed.card(owner.id, 'tok_mastercard_debit')
  return owner
}
