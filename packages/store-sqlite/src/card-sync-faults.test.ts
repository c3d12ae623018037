// CardSync on SQLite against the Stripe emulator, with the connection dropped at every request
// of every operation, before and after the emulated Stripe commits. Whatever step dies, the
// next reconcile (or a retry of the operation) makes the store equal the provider, card for
// card, default included, and no card is ever made twice.
import {
  type CardStore,
  type CardSync,
  createCardSync,
  isCardportError,
  listAll,
  type Owner,
  type StoredCard,
  sameCard,
  toArray,
} from '@cardport/core'
import { type StripeProvider, stripeProvider } from '@cardport/stripe'
import { stripeEmulator } from '@cardport/testing/emulators'
import { setupServer } from 'msw/node'
import Stripe from 'stripe'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { sqliteStore } from './sqlite-store.js'

const emulator = stripeEmulator()
const server = setupServer(...emulator.handlers)
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  server.resetHandlers()
  emulator.reset()
})
afterAll(() => server.close())

type DropMode = 'before-commit' | 'after-commit'
const DROPS: readonly DropMode[] = ['before-commit', 'after-commit']

/** One world: a fresh emulator state, a Stripe SDK on MSW, the provider, a SQLite store. */
interface World {
  stripe: Stripe
  provider: StripeProvider
  store: CardStore
  sync: CardSync
}

/** An operation under test, set up in a fresh world. */
interface Scenario {
  name: string
  /** Builds the owner's cards at the provider and in the store; returns the operation. */
  prepare(world: World): Promise<{ owner: Owner; run: () => Promise<unknown> }>
  /** Cards the owner holds at the provider once the operation has completed. */
  cardsAfter: number
  /** The requests the operation makes: the connection is dropped at each in turn. */
  requests: number
}

const SCENARIOS: Scenario[] = [
  {
    name: 'setDefaultCard (customer)',
    requests: 4,
    cardsAfter: 2,
    async prepare(world) {
      const owner = await customerWithCards(world, ['tok_visa', 'tok_amex'])
      return { owner, run: () => world.sync.setDefaultCard(owner, 'tok_mastercard') }
    },
  },
  {
    name: 'setDefaultCard (first card of a customer)',
    requests: 3,
    cardsAfter: 1,
    async prepare(world) {
      const owner = await customerWithCards(world, [])
      return { owner, run: () => world.sync.setDefaultCard(owner, 'tok_mastercard') }
    },
  },
  {
    name: 'setDefaultCard (connected account)',
    requests: 3,
    cardsAfter: 2,
    async prepare(world) {
      const owner = await accountWithCards(world, ['tok_visa_debit', 'tok_mastercard_debit'])
      return { owner, run: () => world.sync.setDefaultCard(owner, 'tok_mastercard_debit') }
    },
  },
  {
    name: 'setDefaultCard (connected account with a default in usd and in eur)',
    requests: 3,
    cardsAfter: 2,
    async prepare(world) {
      const owner: Owner = { type: 'account', id: emulator.seed.account().id }
      emulator.seed.card(owner.id, { ...DEBIT, currency: 'usd' })
      emulator.seed.card(owner.id, { ...DEBIT, currency: 'eur' })
      await inSync(world, owner)
      return { owner, run: () => world.sync.setDefaultCard(owner, 'tok_mastercard_debit') }
    },
  },
  {
    name: 'deleteCard (the default of a customer)',
    requests: 2,
    cardsAfter: 1,
    async prepare(world) {
      const owner = await customerWithCards(world, ['tok_visa', 'tok_amex'])
      const defaultId = (await world.store.getDefault(scopeOf(owner)))!.id
      return { owner, run: () => world.sync.deleteCard(owner, defaultId) }
    },
  },
  {
    name: 'deleteCard (the last card of a customer)',
    requests: 2,
    cardsAfter: 0,
    async prepare(world) {
      const owner = await customerWithCards(world, ['tok_visa'])
      const [only] = await world.store.listByOwner(scopeOf(owner))
      return { owner, run: () => world.sync.deleteCard(owner, only!.id) }
    },
  },
  {
    name: 'deleteCard (a card of a connected account that is not the default)',
    requests: 2,
    cardsAfter: 1,
    async prepare(world) {
      const owner = await accountWithCards(world, ['tok_visa_debit', 'tok_mastercard_debit'])
      const spare = (await world.store.listByOwner(scopeOf(owner))).find((c) => !c.isDefault)!
      return { owner, run: () => world.sync.deleteCard(owner, spare.id) }
    },
  },
  {
    name: 'sync (a card changed at the provider behind the store)',
    requests: 1,
    cardsAfter: 2,
    async prepare(world) {
      const owner = await customerWithCards(world, ['tok_visa', 'tok_amex'])
      const spare = (await world.store.listByOwner(scopeOf(owner))).find((c) => !c.isDefault)!
      await world.stripe.customers.updateSource(owner.id, spare.id, { name: 'Jenny Rosen' })
      return { owner, run: () => world.sync.sync(owner, spare.id) }
    },
  },
  {
    name: 'sync (the default moved at the provider behind the store)',
    requests: 1,
    cardsAfter: 2,
    async prepare(world) {
      const owner = await customerWithCards(world, ['tok_visa', 'tok_amex'])
      const spare = (await world.store.listByOwner(scopeOf(owner))).find((c) => !c.isDefault)!
      await world.stripe.customers.update(owner.id, { default_source: spare.id })
      return { owner, run: () => world.sync.sync(owner) }
    },
  },
  {
    name: 'syncFromProviderData (the card an application created with the SDK)',
    requests: 1,
    cardsAfter: 3,
    async prepare(world) {
      const owner = await customerWithCards(world, ['tok_visa', 'tok_amex'])
      return {
        owner,
        run: async () => {
          // An application's own call, retried with its own idempotency key.
          const raw = await world.stripe.customers.createSource(
            owner.id,
            { source: 'tok_mastercard' },
            { idempotencyKey: `app-create-${owner.id}` },
          )
          return world.sync.syncFromProviderData(owner, raw)
        },
      }
    },
  },
]

describe('CardSync on SQLite: a connection dropped at any request, then reconcile', () => {
  for (const scenario of SCENARIOS) {
    for (const drop of DROPS) {
      it(`${scenario.name}, dropped ${drop}`, async () => {
        const steps = await forEachStep(scenario, drop, async (world, owner) => {
          const report = await world.sync.reconcile(owner)
          expect(report.failed).toEqual([])
          await expectStoreEqualsProvider(world, owner)
          // A second reconcile finds nothing left to repair.
          expect(await drift(world, owner)).toEqual(NO_DRIFT)
        })
        expect(steps, 'the requests the operation makes').toBe(scenario.requests)
      })
    }
  }
})

describe('CardSync on SQLite: a connection dropped at any request, then the same call again', () => {
  for (const scenario of SCENARIOS) {
    for (const drop of DROPS) {
      it(`${scenario.name}, dropped ${drop}`, async () => {
        const steps = await forEachStep(scenario, drop, async (world, owner, run) => {
          await run()
          // The retry alone brings the store back: nothing is left for reconcile to repair.
          await expectStoreEqualsProvider(world, owner)
          expect(await drift(world, owner)).toEqual(NO_DRIFT)
          expect(emulator.state.sources(owner.id), 'cards at the provider').toHaveLength(
            scenario.cardsAfter,
          )
        })
        // The checks above ran once per request: an operation that made none would skip them all.
        expect(steps, 'the requests the operation makes').toBe(scenario.requests)
      })
    }
  }
})

describe('CardSync on SQLite: reconcile itself', () => {
  for (const drop of DROPS) {
    it(`waits out a connection dropped ${drop} on any of its requests, and repairs all`, async () => {
      for (let step = 0; ; step++) {
        emulator.reset()
        const world = createWorld()
        const owner = await customerWithCards(world, ['tok_visa', 'tok_amex', 'tok_discover'])
        // Drift of every kind: a card added, one removed, one changed, the default moved.
        const [newest, middle, oldest] = emulator.state.sources(owner.id)
        await world.stripe.customers.createSource(owner.id, { source: 'tok_mastercard' })
        await world.stripe.customers.deleteSource(owner.id, middle!.id)
        await world.stripe.customers.updateSource(owner.id, oldest!.id, { name: 'Jenny Rosen' })
        await world.stripe.customers.update(owner.id, { default_source: newest!.id })

        emulator.faults.inject({ drop, after: step })
        const report = await world.sync.reconcile(owner)
        const fired = emulator.faults.fired[0]
        emulator.faults.clear()
        expect(report.failed).toEqual([])
        expect(report).toMatchObject({ owners: 1, cardsSeen: 3 })
        expect([report.added, report.removed, report.updated].map((list) => list.length)).toEqual([
          1, 1, 1,
        ])
        await expectStoreEqualsProvider(world, owner)
        await world.store.close()
        if (fired === 0) break
      }
    })
  }
})

describe('CardSync on SQLite: accounts with a default in each of two currencies', () => {
  it('reconcile finds no drift once the store is in step, and repairs each default', async () => {
    const world = createWorld()
    const owner: Owner = { type: 'account', id: emulator.seed.account().id }
    emulator.seed.card(owner.id, { ...DEBIT, currency: 'usd' }, { default_for_currency: true })
    emulator.seed.card(owner.id, { ...DEBIT, currency: 'eur' }, { default_for_currency: true })
    const eurSpare = emulator.seed.card(owner.id, { ...DEBIT, currency: 'eur' })
    await inSync(world, owner)
    expect((await world.store.listByOwner(scopeOf(owner))).filter((c) => c.isDefault)).toHaveLength(
      2,
    )
    expect(await drift(world, owner)).toEqual(NO_DRIFT)

    // The eur default moves at the provider: reconcile repairs it, and reports it.
    await world.stripe.accounts.updateExternalAccount(owner.id, eurSpare.id, {
      default_for_currency: true,
    })
    expect(await drift(world, owner)).toMatchObject({ defaultRepaired: 1 })
    await world.sync.reconcile(owner)
    await expectStoreEqualsProvider(world, owner)
    expect(await drift(world, owner)).toEqual(NO_DRIFT)
    await world.store.close()
  })

  it("setDefaultCard replaces the default of the new card's currency only", async () => {
    const world = createWorld()
    const owner: Owner = { type: 'account', id: emulator.seed.account().id }
    const usd = emulator.seed.card(owner.id, { ...DEBIT, currency: 'usd' })
    const eur = emulator.seed.card(owner.id, { ...DEBIT, currency: 'eur' })
    await inSync(world, owner)

    const added = await world.sync.setDefaultCard(owner, 'tok_mastercard_debit')
    expect(added).toMatchObject({ currency: 'usd', isDefault: true })
    const held = emulator.state.sources(owner.id).map((source) => source.id)
    expect(held.sort()).toEqual([added.id, eur.id].sort())
    expect(usd.id, 'the old usd default is deleted').not.toBeOneOf(held)
    await expectStoreEqualsProvider(world, owner)
    expect((await world.store.get(scopeOf(owner), eur.id))?.isDefault).toBe(true)
    await world.store.close()
  })
})

describe('CardSync on SQLite: a retried setDefaultCard makes one card', () => {
  it('creates the card once however often the same call is made again', async () => {
    const world = createWorld()
    const owner = await customerWithCards(world, ['tok_visa'])
    emulator.faults.inject({ route: 'POST /v1/customers/:customer/sources', drop: 'after-commit' })
    await expect(world.sync.setDefaultCard(owner, 'tok_mastercard')).rejects.toMatchObject({
      code: 'provider_unavailable',
    })
    const first = await world.sync.setDefaultCard(owner, 'tok_mastercard')
    const again = await world.sync.setDefaultCard(owner, 'tok_mastercard')
    expect(again.id).toBe(first.id)
    expect(emulator.state.sources(owner.id).map((source) => source.id)).toEqual([first.id])
    const creates = emulator.state
      .requests()
      .filter((request) => request.route === 'POST /v1/customers/:customer/sources')
    expect(creates.map((request) => request.replayed)).toEqual([false, true, true])
    await expectStoreEqualsProvider(world, owner)
  })
})

// --- helpers ---

/** A debit card hash (external accounts take debit cards), in the currency given with it. */
const DEBIT = { number: '4000056655665556', exp_month: 12, exp_year: 2040 }

const NO_DRIFT = { added: 0, updated: 0, removed: 0, defaultRepaired: 0, failed: 0 }

function createWorld(): World {
  // Made inside the test: the SDK's fetch client keeps the fetch it finds, MSW's after listen().
  const stripe = new Stripe('sk_test_cardport', {
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: 0,
  })
  // No retries: each dropped connection reaches CardSync, which is what is under test.
  const provider = stripeProvider({ stripe, maxNetworkRetries: 0 })
  const store = sqliteStore({ filename: ':memory:' })
  const sync = createCardSync({ provider, store, retry: { sleep: async () => {} } })
  return { stripe, provider, store, sync }
}

/**
 * How a dropped connection surfaces: `provider_unavailable` from cardport, or the SDK's own
 * connection error for an application's direct SDK call.
 */
function droppedConnection(error: unknown): boolean {
  return (
    isCardportError(error, 'provider_unavailable') ||
    error instanceof Stripe.errors.StripeConnectionError
  )
}

/**
 * Runs the scenario once per request it makes: in a fresh world each time, the connection
 * drops at request `step` (counting every request of the operation), the operation must fail
 * with a dropped connection, and `check` then inspects the world. Returns the number of
 * requests the operation makes (the first step at which the fault no longer fires).
 */
async function forEachStep(
  scenario: Scenario,
  drop: DropMode,
  check: (world: World, owner: Owner, run: () => Promise<unknown>) => Promise<void>,
): Promise<number> {
  for (let step = 0; ; step++) {
    emulator.reset()
    const world = createWorld()
    try {
      const { owner, run } = await scenario.prepare(world)
      const remove = emulator.faults.inject({ drop, after: step })
      let failure: unknown
      try {
        await run()
      } catch (error) {
        failure = error
      }
      const fired = emulator.faults.fired[0]
      remove()
      if (fired === 0) {
        // The operation made fewer requests than `step`: it ran to the end, untouched.
        expect(failure).toBeUndefined()
        return step
      }
      expect(droppedConnection(failure), `step ${step}: ${String(failure)}`).toBe(true)
      await check(world, owner, run)
    } finally {
      await world.store.close()
    }
  }
}

/** A customer at the emulator holding cards from the tokens, the first the default, in sync. */
async function customerWithCards(world: World, tokens: string[]): Promise<Owner> {
  const owner: Owner = { type: 'customer', id: emulator.seed.customer().id }
  for (const token of tokens) emulator.seed.card(owner.id, token)
  await inSync(world, owner)
  return owner
}

/** A Custom account holding debit cards from the tokens, the first the usd default, in sync. */
async function accountWithCards(world: World, tokens: string[]): Promise<Owner> {
  const owner: Owner = { type: 'account', id: emulator.seed.account().id }
  tokens.forEach((token, i) => {
    emulator.seed.card(owner.id, token, { default_for_currency: i === 0 })
  })
  await inSync(world, owner)
  return owner
}

async function inSync(world: World, owner: Owner) {
  const report = await world.sync.reconcile(owner)
  expect(report.failed).toEqual([])
  await expectStoreEqualsProvider(world, owner)
}

/** The store holds exactly the provider's cards, field for field, default included. */
async function expectStoreEqualsProvider(world: World, owner: Owner) {
  const atProvider = await toArray(listAll(world.provider, owner), { limit: 1000 })
  const stored = await world.store.listByOwner(scopeOf(owner))
  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)
  expect(stored.map(withoutBookkeeping).sort(byId)).toEqual([...atProvider].sort(byId))
  for (const card of atProvider) {
    const copy = stored.find((candidate) => candidate.id === card.id)
    expect(copy && sameCard(copy, card), `the stored copy of ${card.id}`).toBe(true)
  }
  // The defaults (one per currency for an account), and for a customer the one getDefault names.
  const defaults = (cards: readonly { id: string; isDefault: boolean }[]) =>
    cards
      .filter((card) => card.isDefault)
      .map((card) => card.id)
      .sort()
  expect(defaults(stored), 'the default cards').toEqual(defaults(atProvider))
  if (owner.type === 'customer') {
    const providerDefault = await world.provider.getDefaultCard(owner)
    expect((await world.store.getDefault(scopeOf(owner)))?.id ?? null).toBe(
      providerDefault?.id ?? null,
    )
  }
  // The ids are the provider's: no card is there twice.
  expect(new Set(stored.map((card) => card.id)).size).toBe(stored.length)
}

/** What a dry-run reconcile of the owner would repair, as counts. */
async function drift(world: World, owner: Owner) {
  const report = await world.sync.reconcile(owner, { dryRun: true })
  return {
    added: report.added.length,
    updated: report.updated.length,
    removed: report.removed.length,
    defaultRepaired: report.defaultRepaired.length,
    failed: report.failed.length,
  }
}

function withoutBookkeeping({ version, updatedAt, observedAt, ...card }: StoredCard) {
  return card
}

function scopeOf(owner: Owner) {
  return { provider: 'stripe', owner }
}
