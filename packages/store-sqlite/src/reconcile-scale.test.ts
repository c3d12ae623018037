// reconcile over 10,000 cards of 1,000 Stripe customers, seeded straight into the emulator's
// state, into SQLite: every card arrives, field for field, then drift of each kind is found and
// repaired exactly. Counts and equality only: the speed belongs to the benchmarks.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Card, createCardSync, type Owner, type StoredCard } from '@cardport/core'
import { STRIPE_PROVIDER_NAME, stripeProvider, toStripeCard } from '@cardport/stripe'
import { stripeEmulator } from '@cardport/testing/emulators'
import { setupServer } from 'msw/node'
import Stripe from 'stripe'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { sqliteStore } from './sqlite-store.js'

const OWNERS = 1_000
const CARDS_PER_OWNER = 10
const TOKENS = ['tok_visa', 'tok_mastercard', 'tok_amex', 'tok_discover', 'tok_jcb']

const emulator = stripeEmulator()
const server = setupServer(...emulator.handlers)
let dir: string
beforeAll(() => {
  server.listen({ onUnhandledRequest: 'error' })
  dir = mkdtempSync(join(tmpdir(), 'cardport-reconcile-'))
})
afterEach(() => {
  server.resetHandlers()
  emulator.reset()
})
afterAll(() => {
  server.close()
  rmSync(dir, { recursive: true, force: true })
})

describe('reconcile at scale (SQLite)', () => {
  it('brings 10,000 cards of 1,000 owners into the store, then repairs drift exactly', async () => {
    const owners: Owner[] = []
    for (let i = 0; i < OWNERS; i++) {
      const owner: Owner = { type: 'customer', id: emulator.seed.customer().id }
      for (let c = 0; c < CARDS_PER_OWNER; c++) {
        emulator.seed.card(owner.id, TOKENS[(i + c) % TOKENS.length], {
          metadata: { owner_index: String(i), card_index: String(c) },
        })
      }
      owners.push(owner)
    }

    const stripe = new Stripe('sk_test_cardport', {
      httpClient: Stripe.createFetchHttpClient(),
      maxNetworkRetries: 0,
    })
    const provider = stripeProvider({ stripe, maxNetworkRetries: 0 })
    const store = sqliteStore({ filename: join(dir, 'cards.db') })
    const sync = createCardSync({
      provider,
      store,
      concurrency: 8,
      retry: { sleep: async () => {} },
    })
    try {
      // First pass: an empty store, the owners named by the caller.
      const first = await sync.reconcile(owners)
      expect(first.failed).toEqual([])
      expect(first).toMatchObject({
        owners: OWNERS,
        cardsSeen: OWNERS * CARDS_PER_OWNER,
        counts: {
          added: OWNERS * CARDS_PER_OWNER,
          updated: 0,
          removed: 0,
          defaultRepaired: OWNERS,
          failed: 0,
        },
        // The report keeps the first 1,000 entries of each list, not 10,000.
        truncated: true,
      })
      expect([first.added.length, first.defaultRepaired.length]).toEqual([1000, 1000])
      await expectStoreEqualsEmulator(owners)

      // Drift of each kind at ten owners each, made behind the store's back.
      const nonDefault = (i: number) => {
        const defaultId = emulator.state.customer(owners[i]!.id)!.default_source
        return emulator.state.sources(owners[i]!.id).filter((source) => source.id !== defaultId)
      }
      const added: string[] = []
      for (let i = 0; i < 10; i++) {
        added.push(emulator.seed.card(owners[i]!.id, 'tok_unionpay').id)
        const [gone] = nonDefault(100 + i)
        await stripe.customers.deleteSource(owners[100 + i]!.id, gone!.id)
        const [renamed] = nonDefault(200 + i)
        await stripe.customers.updateSource(owners[200 + i]!.id, renamed!.id, { name: 'Renamed' })
        const [promoted] = nonDefault(300 + i)
        await stripe.customers.update(owners[300 + i]!.id, { default_source: promoted!.id })
      }

      const dry = await sync.reconcile(undefined, { dryRun: true })
      const second = await sync.reconcile()
      for (const report of [dry, second]) {
        expect(report.failed).toEqual([])
        expect(report.truncated).toBe(false)
        expect(report.owners).toBe(OWNERS)
        expect(report.cardsSeen).toBe(OWNERS * CARDS_PER_OWNER)
        expect(report.added.map((entry) => entry.cardId).sort()).toEqual([...added].sort())
        expect(report.removed.map((entry) => entry.owner.id).sort()).toEqual(
          owners
            .slice(100, 110)
            .map((owner) => owner.id)
            .sort(),
        )
        expect(report.updated.map((entry) => entry.owner.id).sort()).toEqual(
          owners
            .slice(200, 210)
            .map((owner) => owner.id)
            .sort(),
        )
        expect(report.defaultRepaired.map((entry) => entry.owner.id).sort()).toEqual(
          owners
            .slice(300, 310)
            .map((owner) => owner.id)
            .sort(),
        )
      }
      await expectStoreEqualsEmulator(owners)

      const settled = await sync.reconcile(undefined, { dryRun: true })
      expect(settled.failed).toEqual([])
      expect(settled.owners).toBe(OWNERS)
      expect(settled.counts).toEqual({
        added: 0,
        updated: 0,
        removed: 0,
        defaultRepaired: 0,
        failed: 0,
      })
    } finally {
      await store.close()
    }

    /** Each owner's stored cards are exactly the emulator's, default included. */
    async function expectStoreEqualsEmulator(all: readonly Owner[]) {
      let total = 0
      const { state } = emulator
      for (const owner of all) {
        const customer = state.customer(owner.id)!
        const expected = state
          .sources(owner.id)
          .map((raw) => toStripeCard(raw, owner, customer.default_source))
          .filter((card): card is Card => card !== null)
        const stored = await store.listByOwner({ provider: STRIPE_PROVIDER_NAME, owner })
        expect(stored.map(withoutBookkeeping).sort(byId)).toEqual(expected.sort(byId))
        total += stored.length
      }
      expect(total).toBe(OWNERS * CARDS_PER_OWNER)
      const listed: Owner[] = []
      for await (const owner of store.listOwners(STRIPE_PROVIDER_NAME)) listed.push(owner)
      expect(listed.map((owner) => owner.id).sort()).toEqual(all.map((owner) => owner.id).sort())
    }
  }, 120_000)
})

function byId(a: { id: string }, b: { id: string }) {
  return a.id.localeCompare(b.id)
}

function withoutBookkeeping({ version, updatedAt, observedAt, ...card }: StoredCard): Card {
  return card
}
