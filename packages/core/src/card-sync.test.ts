import { inspect } from 'node:util'
import fc from 'fast-check'
import { beforeEach, describe, expect, it, vi } from 'vitest'
import { errorOf, rejection } from './__fixtures__/errors.js'
import { luhnCheckDigit } from './__fixtures__/luhn.js'
import { customers } from './__fixtures__/owners.js'
import { sampleCard } from './__fixtures__/sample-card.js'
import {
  expectNoSecret,
  expectUnexpected,
  throwingEvery,
  thrownValues,
} from './__fixtures__/thrown.js'
import { type Card, compiledCardSchema, markDefaultUnknown, type Owner } from './card.js'
import { type CardSync, createCardSync, sameCard } from './card-sync.js'
import { defineCardProvider } from './define-provider.js'
import type { DriftChange, DriftReport } from './drift-report.js'
import {
  AuthenticationError,
  type CardportError,
  InvalidRequestError,
  OwnerNotFoundError,
  ProviderUnavailableError,
  RateLimitedError,
} from './errors.js'
import { type MemoryProvider, memoryProvider } from './memory-provider.js'
import { memoryStore } from './memory-store.js'
import { REMEMBERED_OWNERS } from './owner-dedupe.js'
import { listAll, toArray } from './pagination.js'
import { CARD_PROVIDER_METHODS, type CardProvider, type ProviderCapabilities } from './provider.js'
import type { CardScope, CardStore } from './store.js'

const alice: Owner = { type: 'customer', id: 'cus_alice' }
const bob: Owner = { type: 'customer', id: 'cus_bob' }
const shop: Owner = { type: 'account', id: 'acct_shop' }

let provider: MemoryProvider
let store: CardStore
let sync: CardSync
beforeEach(() => {
  provider = memoryProvider()
  store = memoryStore()
  sync = createCardSync({ provider, store })
})

describe('CardSync.setDefaultCard', () => {
  it('adds the first card as the default, at the provider and in the store', async () => {
    const stored = await sync.setDefaultCard(alice, 'tok_visa')
    expect(stored).toMatchObject({ brand: 'visa', last4: '4242', isDefault: true, version: 1 })
    expect((await provider.getDefaultCard(alice))?.id).toBe(stored.id)
    expect((await sync.getForOwner(alice))?.id).toBe(stored.id)
    await expectStoreEqualsProvider(alice, [{ id: stored.id, isDefault: true, last4: '4242' }])
  })

  it('replaces the default: the old default is deleted at the provider and locally', async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const spare = await provider.createCard(alice, { source: 'tok_amex' })
    await sync.sync(alice, spare.id)

    const replacement = await sync.setDefaultCard(alice, 'tok_mastercard')
    expect(replacement).toMatchObject({ last4: '4444', isDefault: true })
    expect((await rejection(provider.getCard(alice, old.id))).code).toBe('card_not_found')
    expect(await store.get(scope(alice), old.id)).toBeNull()
    expect((await provider.getDefaultCard(alice))?.id).toBe(replacement.id)
    expect((await sync.getForOwner(alice))?.id).toBe(replacement.id)
    // A card that was not the default is left alone.
    await expectStoreEqualsProvider(alice, [
      { id: replacement.id, isDefault: true, last4: '4444' },
      { id: spare.id, isDefault: false, last4: '8431' },
    ])
  })

  // A webhook handler dates a card by its event, which can be ahead of this host's clock (see
  // deleteCard's "dated ahead" tests): the old default leaves the store all the same.
  it("retires an old default whose stored row is dated ahead of this host's clock, for good", async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const ahead = Date.now() + 3000
    expect(await sync.syncFromProviderData(alice, old, { observedAt: ahead })).toMatchObject({
      id: old.id,
      isDefault: true,
    })
    const replacement = await sync.setDefaultCard(alice, 'tok_mastercard')
    expect(replacement).toMatchObject({ last4: '4444', isDefault: true })
    expect(await store.get(scope(alice), old.id)).toBeNull()
    expect(await sync.getForOwner(alice)).toMatchObject({ id: replacement.id, isDefault: true })
    // The same state again (its event redelivered) stays out.
    expect(await sync.syncFromProviderData(alice, old, { observedAt: ahead })).toBeNull()
    await expectStoreEqualsProvider(alice, [{ id: replacement.id, isDefault: true, last4: '4444' }])
  })

  // The store's flag is out of date when the default changed at the provider since (its
  // dashboard, a webhook not delivered yet): its card is a plain card there, which the owner
  // still holds. It was retired with the provider's default, and so deleted for good.
  it.each([
    ['with retirement notes', () => store],
    ['without retirement notes', () => withoutRetirements(store)],
  ])(
    "retires the provider's default, not a card the store still names as the default (%s)",
    async (_, storeOf) => {
      const synced = createCardSync({ provider, store: storeOf() })
      const old = await synced.setDefaultCard(alice, 'tok_visa')
      // The provider's default changes behind the store's back.
      const other = await provider.createCard(alice, { source: 'tok_amex', makeDefault: true })
      const replacement = await synced.setDefaultCard(alice, 'tok_mastercard')
      await expectStoreEqualsProvider(alice, [
        { id: replacement.id, isDefault: true, last4: '4444' },
        { id: old.id, isDefault: false, last4: '4242' },
      ])
      expect(await cardIds(alice)).not.toContain(other.id)
    },
  )

  it('makes one card only when the same token is sent again (derived idempotency key)', async () => {
    const first = await sync.setDefaultCard(alice, 'tok_visa')
    const again = await sync.setDefaultCard(alice, 'tok_visa')
    expect(again.id).toBe(first.id)
    expect(await cardIds(alice)).toEqual([first.id])
    await expectStoreEqualsProvider(alice, [{ id: first.id, isDefault: true, last4: '4242' }])
  })

  // The key was derived from the token alone: the provider refused it for other metadata
  // (`idempotency_conflict`), and the call failed instead of making the card.
  it('derives a key of its own for other metadata with a reusable token, the same for a retry', async () => {
    const plain = await sync.setDefaultCard(alice, 'tok_visa')
    const pro = await sync.setDefaultCard(alice, 'tok_visa', { metadata: { plan: 'pro', a: '1' } })
    expect(pro.id).not.toBe(plain.id)
    expect(pro.metadata).toEqual({ plan: 'pro', a: '1' })
    const again = await sync.setDefaultCard(alice, 'tok_visa', {
      metadata: { a: '1', plan: 'pro' },
    })
    expect(again.id).toBe(pro.id)
    await expectStoreEqualsProvider(alice, [{ id: pro.id, isDefault: true, last4: '4242' }])
  })

  it("derives different keys for different owners, and uses the caller's key when given", async () => {
    const forAlice = await sync.setDefaultCard(alice, 'tok_visa')
    const forBob = await sync.setDefaultCard(bob, 'tok_visa')
    expect(forBob.id).not.toBe(forAlice.id)

    const keyed = await sync.setDefaultCard(alice, 'tok_amex', { idempotencyKey: 'mine' })
    const clash = await rejection(
      provider.createCard(alice, { source: 'tok_visa' }, { idempotencyKey: 'mine' }),
    )
    expect(clash.code).toBe('idempotency_conflict')
    expect(keyed.last4).toBe('8431')
  })

  it('refuses a bad token or bad options before it reads, notes or creates anything', async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const calls = { create: 0, save: 0 }
    const watchedStore: CardStore = {
      ...store,
      retirements: {
        ...store.retirements!,
        save: async (...args) => {
          calls.save++
          return store.retirements!.save(...args)
        },
      },
    }
    const watched = createCardSync({
      provider: wrapProvider(provider, {
        createCard: async () => {
          calls.create++
        },
      }),
      store: watchedStore,
    })
    const bad: Array<[unknown, unknown, string]> = [
      ['4242 4242 4242 4242', undefined, 'token: a card number is not allowed in a card token'],
      ['', undefined, 'token: a card token cannot be empty'],
      [{ number: '4242424242424242' }, undefined, 'token:'],
      ['tok_mastercard', { idempotencyKey: '' }, 'options.idempotencyKey:'],
      ['tok_mastercard', { idempotencyKey: 'k'.repeat(256) }, 'options.idempotencyKey:'],
      ['tok_mastercard', { metadata: { plan: 7 } }, 'options.metadata.plan:'],
    ]
    for (const [token, options, message] of bad) {
      const error = await rejection(
        watched.setDefaultCard(alice, token as string, options as never),
      )
      expect(error.code).toBe('invalid_request')
      expect(error.message).toContain(`Invalid setDefaultCard input: ${message}`)
      expect(error.message).not.toMatch(/4242 4242|4242424242424242/)
    }
    for (const owner of [null, { type: 'customer' }, { type: 'person', id: 'cus_alice' }]) {
      const error = await rejection(watched.setDefaultCard(owner as never, 'tok_mastercard'))
      expect(error.code).toBe('invalid_request')
      expect(error.message).toContain('Invalid setDefaultCard input: owner')
    }
    expect(calls).toEqual({ create: 0, save: 0 })
    await expectStoreEqualsProvider(alice, [{ id: old.id, isDefault: true, last4: '4242' }])
  })

  it('refuses, in createCardSync, a store whose retirements is not a RetirementLog', () => {
    for (const retirements of [null, 42, {}, { save: () => {}, load: () => {} }]) {
      const error = (() => {
        try {
          createCardSync({ provider, store: { ...store, retirements } as never })
        } catch (thrown) {
          return thrown as { code?: string; message?: string }
        }
      })()
      expect(error?.code).toBe('invalid_request')
      expect(error?.message).toContain('store must be a CardStore')
    }
  })

  it('refuses, in createCardSync, a provider that lacks one of the operations', () => {
    // An untyped, hand-written provider: without the check, the first reconcile would fail with
    // a TypeError ("provider.listCards is not a function"), not a CardportError.
    for (const missing of CARD_PROVIDER_METHODS) {
      const partial: Record<string, unknown> = { ...provider }
      delete partial[missing]
      const error = (() => {
        try {
          createCardSync({ provider: partial as never, store })
        } catch (thrown) {
          return thrown as { code?: string; message?: string }
        }
      })()
      expect(error?.code, missing).toBe('invalid_request')
      expect(error?.message).toContain('provider must be a CardProvider')
    }
  })

  it('refuses, in createCardSync, a provider whose cardIdOf is no function', () => {
    // Called at the start of deleteCard, sync and deleteLocal: a TypeError there, not a
    // CardportError, had the caller's call fail with no code.
    for (const cardIdOf of ['card_1', null, {}]) {
      const error = errorOf(() =>
        createCardSync({ provider: { ...provider, cardIdOf } as never, store }),
      )
      expect(error.code).toBe('invalid_request')
      expect(error.message).toContain('provider must be a CardProvider')
    }
    expect(() =>
      createCardSync({ provider: { ...provider, cardIdOf: undefined }, store }),
    ).not.toThrow()
  })

  it('refuses, in createCardSync, a store whose concurrentWrites is not 1 to 64', () => {
    for (const concurrentWrites of [0, 65, 1.5, Number.NaN, '2']) {
      const error = (() => {
        try {
          createCardSync({ provider, store: { ...store, concurrentWrites } as never })
        } catch (thrown) {
          return thrown as { code?: string; message?: string }
        }
      })()
      expect(error?.code, String(concurrentWrites)).toBe('invalid_request')
      expect(error?.message).toContain('store.concurrentWrites must be an integer from 1 to 64')
    }
    for (const concurrentWrites of [1, 2, 64, undefined]) {
      expect(() =>
        createCardSync({ provider, store: { ...store, concurrentWrites } }),
      ).not.toThrow()
    }
  })

  it('stores the metadata given', async () => {
    const stored = await sync.setDefaultCard(alice, 'tok_visa', { metadata: { order: '42' } })
    expect(stored.metadata).toEqual({ order: '42' })
    expect((await provider.getCard(alice, stored.id)).metadata).toEqual({ order: '42' })
  })

  it('changes nothing when the card is declined', async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const error = await rejection(sync.setDefaultCard(alice, 'tok_chargeDeclined'))
    expect(error.code).toBe('card_declined')
    await expectStoreEqualsProvider(alice, [{ id: old.id, isDefault: true, last4: '4242' }])
  })

  it.each([
    ['that reads one card', true],
    ['that cannot read one card (getCard: false)', false],
  ])(
    'keeps the old default as a plain card on a provider that can neither delete nor invalidate, %s',
    async (_, getCard) => {
      const keeping = keepingProvider(provider, { getCard })
      const keepingSync = createCardSync({ provider: keeping, store })
      const old = await keepingSync.setDefaultCard(alice, 'tok_visa')
      const replacement = await keepingSync.setDefaultCard(alice, 'tok_mastercard')
      expect(replacement).toMatchObject({ last4: '4444', isDefault: true })
      // The provider keeps both cards, the new one the default: so does the store.
      await expectStoreEqualsProvider(alice, [
        { id: old.id, isDefault: false, last4: '4242' },
        { id: replacement.id, isDefault: true, last4: '4444' },
      ])
    },
  )

  it('removes an old default the provider deleted meanwhile, on a provider that cannot read one card', async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const racing: CardProvider = {
      ...provider,
      capabilities: { ...provider.capabilities, getCard: false },
      async createCard(owner, input, options) {
        // Deleted at the dashboard once the old default was read: its retirement finds it gone.
        await provider.deleteCard(owner, old.id)
        return provider.createCard(owner, input, options)
      },
    }
    const replacement = await createCardSync({ provider: racing, store }).setDefaultCard(
      alice,
      'tok_mastercard',
    )
    expect(await store.get(scope(alice), old.id)).toBeNull()
    expect((await store.getDefault(scope(alice)))?.id).toBe(replacement.id)
    await expectStoreEqualsProvider(alice, [{ id: replacement.id, isDefault: true, last4: '4444' }])
  })

  it('replaces the default of an account for its currency', async () => {
    const old = await sync.setDefaultCard(shop, 'tok_visa')
    const replacement = await sync.setDefaultCard(shop, 'tok_mastercard')
    expect(replacement).toMatchObject({ currency: 'usd', isDefault: true })
    expect(await cardIds(shop)).toEqual([replacement.id])
    expect(await store.get(scope(shop), old.id)).toBeNull()
    await expectStoreEqualsProvider(shop, [{ id: replacement.id, isDefault: true, last4: '4444' }])
  })

  it("retires only the account's default: a plain card of the same currency stays", async () => {
    const old = await sync.setDefaultCard(shop, 'tok_visa')
    const plain = await addCard(shop, 'tok_discover')
    expect(await store.get(scope(shop), plain.id)).toMatchObject({
      currency: old.currency,
      isDefault: false,
    })
    const replacement = await sync.setDefaultCard(shop, 'tok_mastercard')
    expect(replacement).toMatchObject({ currency: 'usd', isDefault: true })
    expect((await provider.getCard(shop, plain.id)).id).toBe(plain.id)
    expect(await store.get(scope(shop), plain.id)).toMatchObject({ isDefault: false })
    expect(await store.get(scope(shop), old.id)).toBeNull()
    await expectStoreEqualsProvider(shop, [
      { id: replacement.id, isDefault: true, last4: '4444' },
      { id: plain.id, isDefault: false, last4: plain.last4 },
    ])
  })
})

describe('CardSync: calls on one owner run one at a time, in call order', () => {
  it('two setDefaultCard calls at once leave the later card alone, the earlier one retired', async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const [first, second] = await Promise.all([
      sync.setDefaultCard(alice, 'tok_mastercard'),
      sync.setDefaultCard(alice, 'tok_amex'),
    ])
    // Each call replaced the default it found: the first's card was the default the second
    // replaced, so it was retired too, as two calls one after the other would leave it.
    expect(await cardIds(alice)).toEqual([second.id])
    expect(await cardIds(alice)).not.toContain(first.id)
    expect(await cardIds(alice)).not.toContain(old.id)
    await expectStoreEqualsProvider(alice, [{ id: second.id, isDefault: true, last4: '8431' }])
  })

  it('a deleteCard of the default, then a setDefaultCard, at once: each acts on what the other left', async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const spare = await addCard(alice, 'tok_discover')
    // A provider's delete takes a while: setDefaultCard must not read the defaults meanwhile.
    const slowDelete = createCardSync({
      store,
      provider: {
        ...provider,
        deleteCard: async (...args) => {
          await new Promise((resolve) => setTimeout(resolve, 20))
          return provider.deleteCard(...args)
        },
      },
    })
    const [, replacement] = await Promise.all([
      slowDelete.deleteCard(alice, old.id),
      slowDelete.setDefaultCard(alice, 'tok_mastercard'),
    ])
    // Deleting the default made the spare card the default, which setDefaultCard then replaced.
    expect(await cardIds(alice)).toEqual([replacement.id])
    expect(await cardIds(alice)).not.toContain(spare.id)
    await expectStoreEqualsProvider(alice, [{ id: replacement.id, isDefault: true, last4: '4444' }])
  })

  it('a call that fails lets the next call on the owner run', async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const [declined, replacement] = await Promise.allSettled([
      sync.setDefaultCard(alice, 'tok_chargeDeclined'),
      sync.setDefaultCard(alice, 'tok_mastercard'),
    ])
    expect(declined.status).toBe('rejected')
    expect(replacement.status).toBe('fulfilled')
    expect(await cardIds(alice)).not.toContain(old.id)
    await expectStoreEqualsProvider(alice, [
      { id: (await sync.getForOwner(alice))!.id, isDefault: true, last4: '4444' },
    ])
  })

  it('calls on different owners still run at the same time', async () => {
    // The provider holds every createCard until two are waiting: one owner's call waiting for
    // another's would never see the second arrive.
    let waiting = 0
    let release: () => void = () => {}
    const bothArrived = new Promise<void>((resolve) => {
      release = resolve
    })
    const gated: CardProvider = {
      ...provider,
      createCard: async (...args) => {
        waiting += 1
        if (waiting === 2) release()
        await bothArrived
        return provider.createCard(...args)
      },
    }
    const parallel = createCardSync({ provider: gated, store })
    // Had the second owner waited for the first, neither would ever finish: the test's timeout
    // fails it (no deadline here, which a slow machine could miss).
    const cards = await Promise.all([
      parallel.setDefaultCard(alice, 'tok_visa'),
      parallel.setDefaultCard(bob, 'tok_visa'),
    ])
    expect(cards.map((card) => card.owner.id)).toEqual([alice.id, bob.id])
  })

  it('a sync of the default that answers late does not clear the default a setDefaultCard stored', async () => {
    // The sync reads "no default" before the setDefaultCard, and its answer arrives after: in
    // call order, the setDefaultCard waits for it, and the new card stays the stored default.
    let answerLate = true
    const slowRead = createCardSync({
      store,
      provider: {
        ...provider,
        getDefaultCard: async (owner) => {
          const card = await provider.getDefaultCard(owner)
          if (answerLate) {
            answerLate = false
            await new Promise((resolve) => setTimeout(resolve, 20))
          }
          return card
        },
      },
    })
    const [, card] = await Promise.all([
      slowRead.sync(alice),
      slowRead.setDefaultCard(alice, 'tok_visa'),
    ])
    expect((await slowRead.getForOwner(alice))?.id).toBe(card.id)
    await expectStoreEqualsProvider(alice, [{ id: card.id, isDefault: true, last4: '4242' }])
  })

  it('a webhook that cannot tell the default, come while setDefaultCard runs, keeps the new default', async () => {
    // The new card's webhook arrives before setDefaultCard has stored the card (a Stripe
    // customer's card with `customer` as a plain id: its payload cannot tell the default).
    let webhook: Promise<unknown> = Promise.resolve()
    const blind: CardProvider = {
      ...provider,
      parseCard: (raw: unknown, owner?: Owner) => {
        const card = provider.parseCard(raw, owner)
        return card && markDefaultUnknown({ ...card, isDefault: false })
      },
      createCard: async (...args) => {
        const asked = Date.now()
        const card = await provider.createCard(...args)
        // The webhook is dated after setDefaultCard's request (the store compares ms), and is
        // given the turns it needs to be stored, were it not to wait for setDefaultCard.
        await clockPast(asked)
        webhook = withWebhook.syncFromProviderData(args[0], card)
        await settledWithin(webhook, 20)
        return card
      },
    }
    const withWebhook = createCardSync({ provider: blind, store })
    const card = await withWebhook.setDefaultCard(alice, 'tok_visa')
    await webhook
    expect((await withWebhook.getForOwner(alice))?.id).toBe(card.id)
    await expectStoreEqualsProvider(alice, [{ id: card.id, isDefault: true, last4: '4242' }])
  })
})

describe('CardSync: a late answer in one process does not undo a newer default of another', () => {
  // Two CardSync instances over one store stand for two processes: nothing orders their calls,
  // so only the store's observedAt rules can tell the later observation.
  const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  /**
   * The provider, whose first answer to `method` is held after it was read until `answer()`;
   * `read` settles once it was read, and a clock tick later, so that what the test does next is
   * later than the read, whatever the machine's load (a fixed wait raced the read's start under
   * load, and a fixed hold could end before the other process's write on a slow machine).
   */
  const answeringLate = <M extends 'getDefaultCard' | 'getCard' | 'listCards'>(method: M) => {
    let late = true
    let markRead: () => void = () => {}
    const read = new Promise<void>((resolve) => {
      markRead = resolve
    })
    let answer: () => void = () => {}
    const answered = new Promise<void>((resolve) => {
      answer = resolve
    })
    const ask = provider[method] as (...args: unknown[]) => Promise<unknown>
    const answering = {
      ...provider,
      [method]: async (...args: unknown[]) => {
        const result = await ask(...args)
        if (late) {
          late = false
          const readAt = Date.now()
          while (Date.now() === readAt) await wait(1)
          markRead()
          await answered
        }
        return result
      },
    } as CardProvider
    return { provider: answering, read, answer }
  }

  it('a sync that read "no default" before the other process made one leaves it the default', async () => {
    const other = createCardSync({ provider, store })
    const late = answeringLate('getDefaultCard')
    const running = createCardSync({ provider: late.provider, store }).sync(alice)
    await late.read
    const card = await other.setDefaultCard(alice, 'tok_visa')
    late.answer()
    expect(await running).toBeNull()
    expect((await sync.getForOwner(alice))?.id).toBe(card.id)
    await expectStoreEqualsProvider(alice, [{ id: card.id, isDefault: true, last4: '4242' }])
  })

  it('a sync that read the old default before the other process stored the new one stores it as not the default', async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const next = await provider.createCard(alice, { source: 'tok_mastercard' })
    const late = answeringLate('getCard')
    const running = createCardSync({ provider: late.provider, store }).sync(alice, old.id)
    await late.read
    // The default changes at the provider (a dashboard, another service), and the other process
    // stores it.
    await provider.setDefaultCard(alice, next.id)
    await createCardSync({ provider, store }).sync(alice)
    late.answer()
    expect((await running)?.isDefault).toBe(false)
    expect((await sync.getForOwner(alice))?.id).toBe(next.id)
    await expectStoreEqualsProvider(alice)
  })

  it('a reconcile that listed no default before the other process made one leaves it the default', async () => {
    // The store holds a default the provider no longer has: the reconcile repairs it, late.
    await store.upsert(sampleCard('card_gone', alice, { isDefault: true }))
    const late = answeringLate('listCards')
    const running = createCardSync({ provider: late.provider, store }).reconcile(alice)
    await late.read
    const card = await createCardSync({ provider, store }).setDefaultCard(alice, 'tok_visa')
    late.answer()
    const report = await running
    expect(report.counts.defaultRepaired).toBe(1)
    expect((await sync.getForOwner(alice))?.id).toBe(card.id)
    await expectStoreEqualsProvider(alice, [{ id: card.id, isDefault: true, last4: '4242' }])
  })
})

describe('CardSync.deleteCard', () => {
  it("deleting the default makes the provider's promoted card the local default", async () => {
    const first = await sync.setDefaultCard(alice, 'tok_visa')
    const second = await addCard(alice, 'tok_amex')
    const third = await addCard(alice, 'tok_mastercard')
    await sync.deleteCard(alice, first.id)
    expect((await provider.getDefaultCard(alice))?.id).toBe(third.id)
    expect((await sync.getForOwner(alice))?.id).toBe(third.id)
    await expectStoreEqualsProvider(alice, [
      { id: second.id, isDefault: false, last4: '8431' },
      { id: third.id, isDefault: true, last4: '4444' },
    ])
  })

  it('deletes a card that is not the default and keeps the default', async () => {
    const first = await sync.setDefaultCard(alice, 'tok_visa')
    const second = await addCard(alice, 'tok_amex')
    await sync.deleteCard(alice, second.id)
    expect((await sync.getForOwner(alice))?.id).toBe(first.id)
    await expectStoreEqualsProvider(alice, [{ id: first.id, isDefault: true, last4: '4242' }])
  })

  it('counts a card already deleted at the provider as deleted', async () => {
    const first = await sync.setDefaultCard(alice, 'tok_visa')
    const second = await addCard(alice, 'tok_amex')
    await provider.deleteCard(alice, first.id)
    await expect(sync.deleteCard(alice, first.id)).resolves.toBeUndefined()
    expect(await store.get(scope(alice), first.id)).toBeNull()
    expect((await sync.getForOwner(alice))?.id).toBe(second.id)
    await expectStoreEqualsProvider(alice, [{ id: second.id, isDefault: true, last4: '8431' }])
  })

  it('leaves no default after the last card is deleted', async () => {
    const only = await sync.setDefaultCard(alice, 'tok_visa')
    await sync.deleteCard(alice, only.id)
    expect(await sync.getForOwner(alice)).toBeNull()
    expect(await provider.getDefaultCard(alice)).toBeNull()
    expect(await store.listByOwner(scope(alice))).toEqual([])
  })

  it('removes the local copy of a card the provider deleted when reading the new default fails, then rejects with that failure', async () => {
    const first = await sync.setDefaultCard(alice, 'tok_visa')
    const second = await addCard(alice, 'tok_amex')
    const limited = new RateLimitedError('Too many requests', {
      provider: provider.name,
      retryAfterMs: 1000,
    })
    const limiting = createCardSync({
      provider: {
        ...provider,
        getDefaultCard: async () => {
          throw limited
        },
      },
      store,
    })
    await expect(limiting.deleteCard(alice, first.id)).rejects.toBe(limited)
    expect((await rejection(provider.getCard(alice, first.id))).code).toBe('card_not_found')
    // Gone from the store: not served as the default of a card the provider no longer holds.
    expect(await store.get(scope(alice), first.id)).toBeNull()
    expect(await sync.getForOwner(alice)).toBeNull()
    expect((await store.get(scope(alice), second.id))?.isDefault).toBe(false)
    // The default the provider promoted is stored by the next read of it.
    expect((await sync.sync(alice))?.id).toBe(second.id)
    await expectStoreEqualsProvider(alice, [{ id: second.id, isDefault: true, last4: '8431' }])
  })

  it('does not bring the card back when the default read after the delete still names it (a provider a moment behind)', async () => {
    const first = await sync.setDefaultCard(alice, 'tok_visa')
    const second = await addCard(alice, 'tok_amex')
    // The provider's default read lags its delete: it still answers the card just deleted.
    const behind = (await provider.getDefaultCard(alice))!
    const lagging = createCardSync({
      provider: { ...provider, getDefaultCard: async () => behind },
      store,
    })
    await lagging.deleteCard(alice, first.id)
    expect((await rejection(provider.getCard(alice, first.id))).code).toBe('card_not_found')
    // The removal is later than that read: the card is not stored again, nor as the default.
    expect(await store.get(scope(alice), first.id)).toBeNull()
    expect(await sync.getForOwner(alice)).toBeNull()
    // The default the provider promoted is stored by the next read of it.
    expect((await sync.sync(alice))?.id).toBe(second.id)
    await expectStoreEqualsProvider(alice, [{ id: second.id, isDefault: true, last4: '8431' }])
  })

  // A webhook handler without the provider's API dates a card by its event: Stripe's whole
  // second, ranked (an update 500 ms in), so ahead of this host's clock when handled at once.
  for (const [title, remove] of [
    ['deleteCard', (cardId: string) => sync.deleteCard(alice, cardId)],
    ['sync of a card the provider no longer holds', (cardId: string) => sync.sync(alice, cardId)],
  ] as const) {
    it(`${title} removes a card whose row is dated ahead of this host's clock, for good`, async () => {
      const first = await sync.setDefaultCard(alice, 'tok_visa')
      const second = await addCard(alice, 'tok_amex')
      const ahead = Date.now() + 60_000
      const event = await provider.updateCard(alice, second.id, { holderName: 'Jenny Rosen' })
      expect((await store.upsert(event, { observedAt: ahead })).applied).toBe(true)
      if (title !== 'deleteCard') await provider.deleteCard(alice, second.id)
      await remove(second.id)
      expect((await rejection(provider.getCard(alice, second.id))).code).toBe('card_not_found')
      expect(await store.get(scope(alice), second.id)).toBeNull()
      // The same state again (its event redelivered) stays out, as does an older one.
      expect((await store.upsert(event, { observedAt: ahead })).applied).toBe(false)
      expect((await store.upsert(event, { observedAt: Date.now() })).applied).toBe(false)
      await expectStoreEqualsProvider(alice, [{ id: first.id, isDefault: true, last4: '4242' }])
    })
  }

  it("passes on the provider's refusal and keeps the local card", async () => {
    const usdDefault = await sync.setDefaultCard(shop, 'tok_visa')
    const error = await rejection(sync.deleteCard(shop, usdDefault.id))
    expect(error.code).toBe('conflict')
    expect((await store.get(scope(shop), usdDefault.id))?.isDefault).toBe(true)
  })
})

describe("CardSync on a provider that invalidates instead of deleting ('latest-card')", () => {
  let latest: CardProvider
  let latestSync: CardSync
  beforeEach(() => {
    latest = latestCardProvider()
    latestSync = createCardSync({ provider: latest, store })
  })

  /** The store equals the provider, card for card (status included), and reconcile agrees. */
  async function expectInStep(owner: Owner, expected: Array<Summary & { status: string }>) {
    const summarize = (cards: Card[]) =>
      cards
        .map(({ id, isDefault, last4, status }) => ({ id, isDefault, last4, status }))
        .sort((x, y) => x.id.localeCompare(y.id))
    const atProvider = summarize(await toArray(listAll(latest, owner), { limit: 1000 }))
    expect(atProvider).toEqual(summarize(expected as Card[]))
    expect(summarize(await store.listByOwner({ provider: latest.name, owner }))).toEqual(atProvider)
    const report = await latestSync.reconcile(owner, { dryRun: true })
    expect(report).toMatchObject({ added: [], updated: [], removed: [], defaultRepaired: [] })
  }

  it('setDefaultCard adds the card without asking the provider to choose it, and invalidates the old default', async () => {
    // The provider is frozen: watch a copy of it.
    const setDefault = vi.fn(latest.setDefaultCard)
    const watched = createCardSync({ provider: { ...latest, setDefaultCard: setDefault }, store })
    const old = await watched.setDefaultCard(alice, 'tok_visa')
    const replacement = await watched.setDefaultCard(alice, 'tok_mastercard')
    expect(setDefault).not.toHaveBeenCalled()
    expect(replacement).toMatchObject({ isDefault: true, status: 'active' })
    expect((await latestSync.getForOwner(alice))?.id).toBe(replacement.id)
    await expectInStep(alice, [
      { id: old.id, isDefault: false, last4: '4242', status: 'invalid' },
      { id: replacement.id, isDefault: true, last4: '4444', status: 'active' },
    ])
  })

  it('setDefaultCard stores the old default as the invalidation answered it: no getCard needed', async () => {
    const blind = latestCardProvider({ getCard: false })
    const blindSync = createCardSync({ provider: blind, store })
    const old = await blindSync.setDefaultCard(alice, 'tok_visa')
    const replacement = await blindSync.setDefaultCard(alice, 'tok_mastercard')
    expect(replacement).toMatchObject({ isDefault: true, status: 'active' })
    const stored = await store.listByOwner({ provider: blind.name, owner: alice })
    expect(stored.map(({ id, isDefault, status }) => ({ id, isDefault, status }))).toEqual([
      { id: replacement.id, isDefault: true, status: 'active' },
      { id: old.id, isDefault: false, status: 'invalid' },
    ])
  })

  it('deleteCard invalidates the default, keeps it as invalid, and stores the fallback default', async () => {
    const first = await latestSync.setDefaultCard(alice, 'tok_visa')
    const second = await addCardTo(latest, latestSync, alice, 'tok_amex')
    const third = await addCardTo(latest, latestSync, alice, 'tok_mastercard')
    expect((await latestSync.getForOwner(alice))?.id).toBe(third.id)

    await latestSync.deleteCard(alice, third.id)
    expect((await latest.getDefaultCard(alice))?.id).toBe(second.id)
    expect((await latestSync.getForOwner(alice))?.id).toBe(second.id)
    await expectInStep(alice, [
      { id: first.id, isDefault: false, last4: '4242', status: 'active' },
      { id: second.id, isDefault: true, last4: '8431', status: 'active' },
      { id: third.id, isDefault: false, last4: '4444', status: 'invalid' },
    ])
  })

  it('deleteCard of a card that is not the default keeps the default', async () => {
    const first = await latestSync.setDefaultCard(alice, 'tok_visa')
    const second = await addCardTo(latest, latestSync, alice, 'tok_amex')
    await latestSync.deleteCard(alice, first.id)
    expect((await latestSync.getForOwner(alice))?.id).toBe(second.id)
    await expectInStep(alice, [
      { id: first.id, isDefault: false, last4: '4242', status: 'invalid' },
      { id: second.id, isDefault: true, last4: '8431', status: 'active' },
    ])
  })

  it('deleteCard of the last valid card leaves no default', async () => {
    const only = await latestSync.setDefaultCard(alice, 'tok_visa')
    await latestSync.deleteCard(alice, only.id)
    expect(await latestSync.getForOwner(alice)).toBeNull()
    expect(await latest.getDefaultCard(alice)).toBeNull()
    await expectInStep(alice, [{ id: only.id, isDefault: false, last4: '4242', status: 'invalid' }])
  })

  it('deleteCard keeps the card stored as invalidated when reading the new default fails, then rejects with that failure', async () => {
    const first = await latestSync.setDefaultCard(alice, 'tok_visa')
    const second = await addCardTo(latest, latestSync, alice, 'tok_amex')
    const limited = new RateLimitedError('Too many requests', {
      provider: latest.name,
      retryAfterMs: 1000,
    })
    const limiting = createCardSync({
      provider: {
        ...latest,
        getDefaultCard: async () => {
          throw limited
        },
      },
      store,
    })
    await expect(limiting.deleteCard(alice, second.id)).rejects.toBe(limited)
    // Stored as the invalidation answered it, not left the active default.
    expect(await store.get({ provider: latest.name, owner: alice }, second.id)).toMatchObject({
      status: 'invalid',
      isDefault: false,
    })
    // The fallback default is stored by the next read of it.
    expect((await latestSync.sync(alice))?.id).toBe(first.id)
    await expectInStep(alice, [
      { id: first.id, isDefault: true, last4: '4242', status: 'active' },
      { id: second.id, isDefault: false, last4: '8431', status: 'invalid' },
    ])
  })

  it('deleteCard of a card the provider does not hold removes the local copy', async () => {
    const card = await latestSync.setDefaultCard(alice, 'tok_visa')
    await store.upsert({ ...card, id: 'card_ghost', isDefault: false })
    await expect(latestSync.deleteCard(alice, 'card_ghost')).resolves.toBeUndefined()
    expect(await store.get({ provider: latest.name, owner: alice }, 'card_ghost')).toBeNull()
    await expectInStep(alice, [{ id: card.id, isDefault: true, last4: '4242', status: 'active' }])
  })

  it('a retried deleteCard after a crash before the store write finishes the job', async () => {
    const first = await latestSync.setDefaultCard(alice, 'tok_visa')
    const second = await addCardTo(latest, latestSync, alice, 'tok_amex')
    const crashing = createCardSync({ provider: latest, store: crashOnce(store, 'upsert') })
    await expect(crashing.deleteCard(alice, second.id)).rejects.toThrow('crash')
    await crashing.deleteCard(alice, second.id)
    await expectInStep(alice, [
      { id: first.id, isDefault: true, last4: '4242', status: 'active' },
      { id: second.id, isDefault: false, last4: '8431', status: 'invalid' },
    ])
  })

  it('setDefaultCard refuses, keeping the old default, when the provider did not make the card the default and cannot be asked to', async () => {
    const stubborn = latestCardProvider({ newCardsBecomeDefault: false })
    const stubbornSync = createCardSync({ provider: stubborn, store })
    const old = await stubbornSync.setDefaultCard(alice, 'tok_visa')
    const error = await rejection(stubbornSync.setDefaultCard(alice, 'tok_amex'))
    expect(error.code).toBe('unsupported_operation')
    expect(error.message).toContain('capabilities.setDefaultCard is false')
    expect((await stubborn.getCard(alice, old.id)).status).toBe('active')
    expect((await stubbornSync.getForOwner(alice))?.id).toBe(old.id)
    // The card added at the provider is in the store too.
    expect(await store.listByOwner({ provider: stubborn.name, owner: alice })).toHaveLength(2)
  })

  it('setDefaultCard, so refused, removes its note of the old default, which stays the default', async () => {
    const noted: unknown[] = []
    const watched: CardStore = {
      ...store,
      retirements: {
        ...store.retirements!,
        save: async (...args) => {
          noted.push(args[2])
          return store.retirements!.save(...args)
        },
      },
    }
    const stubborn = latestCardProvider({ newCardsBecomeDefault: false })
    const stubbornSync = createCardSync({ provider: stubborn, store: watched })
    const old = await stubbornSync.setDefaultCard(alice, 'tok_visa')
    const key = 'add-amex'
    const error = await rejection(
      stubbornSync.setDefaultCard(alice, 'tok_amex', { idempotencyKey: key }),
    )
    expect(error.code).toBe('unsupported_operation')
    // Noted before the provider was asked, as always; removed once it would not switch.
    expect(noted).toEqual([[{ cardId: old.id, currency: null }]])
    const ownerScope = { provider: stubborn.name, owner: alice }
    expect(await store.retirements?.load(ownerScope, key)).toEqual([])
    expect((await store.getDefault(ownerScope))?.id).toBe(old.id)
  })
})

describe('CardSync on a provider that cannot list cards (listCards: false)', () => {
  // The provider cannot read its default (getDefaultCard follows listCards): deleteCard must
  // finish without it, and setDefaultCard, which needs it, must change nothing.
  let inner: MemoryProvider
  beforeEach(() => {
    inner = memoryProvider()
  })

  /** The owner's stored cards, by id. */
  async function storedCards(owner: Owner) {
    const cards = await store.listByOwner(scope(owner))
    return cards
      .map(({ id, isDefault, status }) => ({ id, isDefault, status }))
      .sort((x, y) => x.id.localeCompare(y.id))
  }
  const byId = <T extends { id: string }>(...cards: T[]) =>
    cards.sort((x, y) => x.id.localeCompare(y.id))

  it('deleteCard of the default deletes it everywhere, and the store names no default', async () => {
    const unlisted = createCardSync({ provider: unlistedProvider(inner, 'delete'), store })
    const first = await addCardTo(inner, unlisted, alice, 'tok_visa')
    const second = await addCardTo(inner, unlisted, alice, 'tok_amex')
    await expect(unlisted.deleteCard(alice, first.id)).resolves.toBeUndefined()
    expect((await rejection(inner.getCard(alice, first.id))).code).toBe('card_not_found')
    // The provider promoted the other card, which it cannot tell: the store does not guess.
    expect((await inner.getDefaultCard(alice))?.id).toBe(second.id)
    expect(await unlisted.getForOwner(alice)).toBeNull()
    expect(await storedCards(alice)).toEqual([
      { id: second.id, isDefault: false, status: 'active' },
    ])
  })

  it('deleteCard of a card that is not the default deletes it everywhere and keeps the default', async () => {
    const unlisted = createCardSync({ provider: unlistedProvider(inner, 'delete'), store })
    const first = await addCardTo(inner, unlisted, alice, 'tok_visa')
    const second = await addCardTo(inner, unlisted, alice, 'tok_amex')
    await unlisted.deleteCard(alice, second.id)
    expect((await rejection(inner.getCard(alice, second.id))).code).toBe('card_not_found')
    expect((await inner.getDefaultCard(alice))?.id).toBe(first.id)
    expect((await unlisted.getForOwner(alice))?.id).toBe(first.id)
    expect(await storedCards(alice)).toEqual([{ id: first.id, isDefault: true, status: 'active' }])
  })

  it('deleteCard of a card the provider no longer holds removes the local copy', async () => {
    const unlisted = createCardSync({ provider: unlistedProvider(inner, 'delete'), store })
    const first = await addCardTo(inner, unlisted, alice, 'tok_visa')
    await inner.deleteCard(alice, first.id)
    await expect(unlisted.deleteCard(alice, first.id)).resolves.toBeUndefined()
    expect(await store.get(scope(alice), first.id)).toBeNull()
    expect(await unlisted.getForOwner(alice)).toBeNull()
  })

  it('deleteCard on a provider that only invalidates stores each card as the invalidation answered it', async () => {
    const unlisted = createCardSync({
      provider: unlistedProvider(inner, 'invalidate', true),
      store,
    })
    const first = await addCardTo(inner, unlisted, alice, 'tok_visa')
    const second = await addCardTo(inner, unlisted, alice, 'tok_amex')
    await unlisted.deleteCard(alice, second.id)
    expect((await inner.getCard(alice, second.id)).status).toBe('invalid')
    expect(await storedCards(alice)).toEqual(
      byId(
        { id: first.id, isDefault: true, status: 'active' },
        { id: second.id, isDefault: false, status: 'invalid' },
      ),
    )
    // The provider answers the invalidated default as still the default: the store keeps it so.
    await unlisted.deleteCard(alice, first.id)
    expect(await inner.getCard(alice, first.id)).toMatchObject({ status: 'invalid' })
    expect(await storedCards(alice)).toEqual(
      byId(
        { id: first.id, isDefault: true, status: 'invalid' },
        { id: second.id, isDefault: false, status: 'invalid' },
      ),
    )
  })

  it('deleteCard that invalidates the default, answered as no longer the default, leaves no stored default', async () => {
    const blind = latestCardProvider({ listCards: false })
    const blindSync = createCardSync({ provider: blind, store })
    const blindScope = { provider: blind.name, owner: alice }
    const first = await addCardTo(blind, blindSync, alice, 'tok_visa')
    const second = await addCardTo(blind, blindSync, alice, 'tok_amex')
    expect((await blindSync.getForOwner(alice))?.id).toBe(second.id)
    await blindSync.deleteCard(alice, second.id)
    // The provider fell back to the first card, which it cannot tell: the store does not guess.
    expect((await blind.getCard(alice, first.id)).isDefault).toBe(true)
    expect(await blind.getCard(alice, second.id)).toMatchObject({
      status: 'invalid',
      isDefault: false,
    })
    expect(await blindSync.getForOwner(alice)).toBeNull()
    const stored = await store.listByOwner(blindScope)
    expect(byId(...stored.map(({ id, isDefault, status }) => ({ id, isDefault, status })))).toEqual(
      byId(
        { id: first.id, isDefault: false, status: 'active' },
        { id: second.id, isDefault: false, status: 'invalid' },
      ),
    )
  })

  it('setDefaultCard is refused before anything is created, noted or stored', async () => {
    const calls: string[] = []
    const noting: CardStore = {
      ...store,
      retirements: {
        ...store.retirements!,
        save(...args) {
          calls.push('save')
          return store.retirements!.save(...args)
        },
      },
    }
    const unlisted = createCardSync({ provider: unlistedProvider(inner, 'delete'), store: noting })
    const first = await addCardTo(inner, unlisted, alice, 'tok_visa')
    const error = await rejection(unlisted.setDefaultCard(alice, 'tok_mastercard'))
    expect(error.code).toBe('unsupported_operation')
    expect(error.message).toContain('capabilities.listCards is false')
    expect((await toArray(listAll(inner, alice), { limit: 1000 })).map((c) => c.id)).toEqual([
      first.id,
    ])
    expect(calls).toEqual([])
    expect(await storedCards(alice)).toEqual([{ id: first.id, isDefault: true, status: 'active' }])
  })
})

describe('CardSync: syncFromProviderData, sync, getForOwner, deleteLocal', () => {
  it('checks the owner and card id of getForOwner and deleteLocal, which only touch the store', async () => {
    const spied = memoryStore()
    const reads = vi.spyOn(spied, 'getDefault')
    const deletes = vi.spyOn(spied, 'delete')
    const local = createCardSync({ provider, store: spied })
    const lone: Owner = { type: 'customer', id: 'cus_\uD800' }
    const badOwner = await rejection(local.getForOwner(lone))
    expect(badOwner).toMatchObject({ code: 'invalid_request' })
    expect(badOwner.issues).toEqual([
      {
        path: ['id'],
        message: 'an owner id cannot hold a NUL character or an unpaired surrogate',
      },
    ])
    const badCard = await rejection(local.deleteLocal(alice, 'card_\u0000'))
    expect(badCard.issues?.map((issue) => issue.path)).toEqual([['cardId']])
    expect(await rejection(local.deleteLocal(lone, 'card_1'))).toMatchObject({
      code: 'invalid_request',
    })
    expect(reads).not.toHaveBeenCalled()
    expect(deletes).not.toHaveBeenCalled()
  })

  it('checks the owner and card id of every operation before the store or the provider sees them', async () => {
    // A store's driver reads these ids otherwise than the memory store (PostgreSQL as U+FFFD,
    // SQLite as three of them): they must reach no store, and no provider either.
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    await sync.sync(alice, card.id)
    const { watched, calls } = watchedSync()
    const lone: Owner = { type: 'customer', id: 'cus_\uD800' }
    const nul: Owner = { type: 'account', id: 'acct_\u0000' }
    async function* streamed(...owners: Owner[]) {
      yield* owners
    }
    const OWNER_ID = 'an owner id cannot hold a NUL character or an unpaired surrogate'
    const CARD_ID = 'a card id cannot hold a NUL character or an unpaired surrogate'
    const refusals: [string, () => Promise<unknown>, string][] = [
      ['deleteCard: owner', () => watched.deleteCard(lone, card.id), OWNER_ID],
      ['deleteCard: card id', () => watched.deleteCard(alice, 'card_\uDC00'), CARD_ID],
      ['syncFromProviderData', () => watched.syncFromProviderData(nul, card), OWNER_ID],
      ['sync: owner only', () => watched.sync(lone), OWNER_ID],
      ['sync: owner and card id', () => watched.sync(nul, card.id), OWNER_ID],
      ['sync: card id', () => watched.sync(alice, 'card_\u0000'), CARD_ID],
      ['sync: card', () => watched.sync(lone, card), OWNER_ID],
      ['setDefaultCard', () => watched.setDefaultCard(lone, 'tok_visa'), OWNER_ID],
      ['getForOwner', () => watched.getForOwner(nul), OWNER_ID],
      ['deleteLocal', () => watched.deleteLocal(alice, 'card_\uD800'), CARD_ID],
      ['reconcile: an owner', () => watched.reconcile(lone), OWNER_ID],
      ['reconcile: a list', () => watched.reconcile([nul]), OWNER_ID],
      ['reconcile: a stream', () => watched.reconcile(streamed(lone), { dryRun: true }), OWNER_ID],
    ]
    for (const [what, run, message] of refusals) {
      const error = await rejection(run())
      expect(error.code, what).toBe('invalid_request')
      expect(
        error.issues?.map((issue) => issue.message),
        what,
      ).toEqual([message])
      expect(calls, what).toEqual([])
    }
    // Owners before the odd one in a stream may be reconciled; the odd one reaches nothing.
    await rejection(watched.reconcile(streamed(alice, lone, bob)))
    // JSON.stringify writes an unpaired surrogate as an escape.
    const reached = calls.filter((call) => call.includes('\\ud800') || call.includes('cus_bob'))
    expect(reached).toEqual([])
    expect(await store.get(scope(alice), card.id)).not.toBeNull()
  })

  it('refuses a card number given as the owner id before the provider or the store sees it', async () => {
    // Typed where the customer's id goes: it would reach the provider in the request's URL.
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    await fc.assert(
      fc.asyncProperty(typedCardNumber(), async (number) => {
        const { watched, calls } = watchedSync()
        const owner: Owner = { type: 'customer', id: number }
        const runs: [string, () => Promise<unknown>][] = [
          ['setDefaultCard', () => watched.setDefaultCard(owner, 'tok_visa')],
          ['deleteCard', () => watched.deleteCard(owner, card.id)],
          ['syncFromProviderData', () => watched.syncFromProviderData(owner, card)],
          ['sync', () => watched.sync(owner)],
          ['sync of a card', () => watched.sync(owner, card.id)],
          ['getForOwner', () => watched.getForOwner(owner)],
          ['deleteLocal', () => watched.deleteLocal(owner, card.id)],
          ['reconcile', () => watched.reconcile([owner])],
        ]
        for (const [what, run] of runs) {
          const error = await rejection(run())
          expect(error.code, what).toBe('invalid_request')
          expect(
            error.issues?.map((issue) => issue.message),
            what,
          ).toContain(
            "an owner id cannot be a card number: pass the provider's customer or account id",
          )
          expect(JSON.stringify(error), what).not.toContain(digitsOf(number))
        }
        expect(calls).toEqual([])
      }),
      { numRuns: 25 },
    )
  })

  it('refuses a card number in an idempotency key before the provider or the store sees it', async () => {
    // The key goes to the provider as a header and into the store's retirement notes, where a
    // failed call's note stays.
    const { watched, calls } = watchedSync()
    const error = await rejection(
      watched.setDefaultCard(alice, 'tok_visa', { idempotencyKey: '4242 4242 4242 4242' }),
    )
    expect(error.code).toBe('invalid_request')
    expect(error.issues).toEqual([
      {
        path: ['options', 'idempotencyKey'],
        message: 'a card number is not allowed in an idempotency key',
      },
    ])
    expect(calls).toEqual([])
  })

  it('refuses a card number glued to a letter, and a key of 200,000 characters, at once', async () => {
    for (const idempotencyKey of [
      'card_x4242 4242 4242 4242',
      'card_4242-4242-4242-4242x',
      '7'.repeat(200_000),
    ]) {
      const { watched, calls } = watchedSync()
      const error = await rejection(watched.setDefaultCard(alice, 'tok_visa', { idempotencyKey }))
      expect(error.code).toBe('invalid_request')
      expect(error.issues?.map((issue) => issue.path)).toEqual([['options', 'idempotencyKey']])
      expect(calls).toEqual([])
    }
  })

  it('refuses a card number given as a card id before the provider or the store sees it', async () => {
    // Typed in the wrong field (an admin's "remove card" form): the provider answers "no such
    // card", and the card-not-found step wrote a tombstone whose card_id column held the number.
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    await sync.sync(alice, card.id)
    await fc.assert(
      fc.asyncProperty(typedCardNumber(), async (number) => {
        await expectCardIdRefused(number, (error, what) =>
          expect(JSON.stringify(error), what).not.toContain(digitsOf(number)),
        )
      }),
      { numRuns: 50 },
    )
    expect(await store.get(scope(alice), card.id)).not.toBeNull()
  })

  it('refuses a card id holding a card number standing apart before the provider or the store sees it', async () => {
    // `card_x 4242 4242 4242 4242`: refused only whole, the number reached a tombstone's card_id.
    const prefixed = fc
      .tuple(
        typedCardNumber(),
        fc.constantFrom('card_', 'card_x ', 'id:', ' ', 'card_x-'),
        fc.constantFrom('', ' :', '/x', '_1'),
      )
      .map(([number, before, after]) => ({ number, id: `${before}${number}${after}` }))
    const fullWidth = typedCardNumber().map((number) => ({
      number,
      id: ` ${number.replace(/\d/g, (digit) => String.fromCharCode(0xff10 + Number(digit)))} :`,
    }))
    await fc.assert(
      fc.asyncProperty(fc.oneof(prefixed, fullWidth), async ({ number, id }) => {
        await expectCardIdRefused(id, (error, what) => {
          const shown = inspect(error, { depth: 10 })
          expect(shown, what).not.toContain(digitsOf(number).slice(0, 12))
          expect(shown, what).not.toContain(id.trim())
        })
      }),
      { numRuns: 50 },
    )
  })

  it('stores a card payload', async () => {
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    const stored = await sync.syncFromProviderData(alice, card)
    expect(stored).toMatchObject({ id: card.id, last4: '4242', isDefault: true, version: 1 })
    expect((await store.get(scope(alice), card.id))?.id).toBe(card.id)
  })

  it('ignores a payload that is not a card, and stores nothing', async () => {
    const bankAccount = {
      id: 'ba_1',
      object: 'bank_account',
      bank_name: 'STRIPE TEST BANK',
      last4: '6789',
      currency: 'usd',
      customer: alice.id,
    }
    expect(await sync.syncFromProviderData(alice, bankAccount)).toBeNull()
    expect(await store.listByOwner(scope(alice))).toEqual([])
  })

  it("refuses a customer's card with a currency: it would stand as a second default", async () => {
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    await sync.sync(alice, card.id)
    const withCurrency = { ...card, id: 'card_b', currency: 'usd', isDefault: true }
    const error = await rejection(sync.sync(alice, withCurrency))
    expect(error.code).toBe('invalid_request')
    expect(error.issues?.map((issue) => issue.path)).toEqual([['currency']])
    expect((await store.listByOwner(scope(alice))).filter((c) => c.isDefault)).toHaveLength(1)
  })

  it('refuses an unreadable card payload with invalid_request', async () => {
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    const error = await rejection(sync.syncFromProviderData(alice, { ...card, last4: '42' }))
    expect(error.code).toBe('invalid_request')
    expect(await store.listByOwner(scope(alice))).toEqual([])
  })

  it('does not let an older payload overwrite a newer one', async () => {
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    await sync.syncFromProviderData(alice, { ...card, holderName: 'new' }, { observedAt: 2000 })
    const result = await sync.syncFromProviderData(
      alice,
      { ...card, holderName: 'old' },
      { observedAt: 1000 },
    )
    expect(result?.holderName).toBe('new')
    expect((await store.get(scope(alice), card.id))?.holderName).toBe('new')
  })

  it('refuses an observedAt that is no whole number of ms, before anything is stored', async () => {
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    for (const observedAt of [Number.NaN, Number.POSITIVE_INFINITY, -1, 1.5, '1000']) {
      const error = await rejection(
        sync.syncFromProviderData(alice, card, { observedAt: observedAt as number }),
      )
      expect(error.code, String(observedAt)).toBe('invalid_request')
      expect(error.message).toContain('Invalid syncFromProviderData options: observedAt')
    }
    const error = await rejection(sync.syncFromProviderData(alice, card, null as never))
    expect(error.code).toBe('invalid_request')
    expect(await store.listByOwner(scope(alice))).toEqual([])
    // An Infinity stored would have refused every later write of the card, its deletion too.
    await sync.syncFromProviderData(alice, card, { observedAt: 1000 })
    await sync.syncFromProviderData(alice, { ...card, holderName: 'Ada' }, { observedAt: 2000 })
    expect((await store.get(scope(alice), card.id))?.holderName).toBe('Ada')
  })

  it('sync with a Card stores it as given', async () => {
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    const stored = await sync.sync(alice, { ...card, holderName: 'From webhook' })
    expect(stored).toMatchObject({ id: card.id, holderName: 'From webhook' })
    expect((await store.get(scope(alice), card.id))?.holderName).toBe('From webhook')
  })

  it("refuses another provider's card, which would be stored among that provider's cards", async () => {
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    const error = await rejection(sync.sync(alice, { ...card, provider: 'stripe' }))
    expect(error.code).toBe('invalid_request')
    expect(error.issues?.map((issue) => issue.path)).toEqual([['provider']])
    expect(await store.listByOwner({ provider: 'stripe', owner: alice })).toEqual([])
    expect(await store.listByOwner(scope(alice))).toEqual([])

    // An adapter whose parseCard names another provider is refused alike.
    const misnaming = createCardSync({
      provider: { ...provider, parseCard: (raw: unknown) => ({ ...(raw as Card), provider: 'x' }) },
      store,
    })
    const parsed = await rejection(misnaming.syncFromProviderData(alice, card))
    expect(parsed.code).toBe('invalid_request')
    expect(await store.listByOwner({ provider: 'x', owner: alice })).toEqual([])
  })

  it("refuses another owner's card, which would list that card's id under the owner given", async () => {
    const bobs = await provider.createCard(bob, { source: 'tok_visa' })
    const error = await rejection(sync.sync(alice, bobs))
    expect(error.code).toBe('invalid_request')
    expect(error.issues?.map((issue) => issue.path)).toEqual([['owner']])
    expect(await store.listByOwner(scope(alice))).toEqual([])
    expect(await store.listByOwner(scope(bob))).toEqual([])

    // A card given without its owner is the owner's given, as before.
    const { owner: _owner, ...ownerless } = await provider.createCard(alice, { source: 'tok_visa' })
    expect((await sync.sync(alice, ownerless as Card))?.owner).toEqual(alice)
  })

  it("syncFromProviderData refuses a payload of another owner's card, and stores nothing", async () => {
    const bobs = await provider.createCard(bob, { source: 'tok_visa' })
    const error = await rejection(sync.syncFromProviderData(alice, bobs))
    expect(error.code).toBe('invalid_request')
    expect(error.issues?.map((issue) => issue.path)).toEqual([['owner']])
    expect(await store.listByOwner(scope(alice))).toEqual([])
    expect(await store.listByOwner(scope(bob))).toEqual([])
  })

  it('sync with an id fetches the card from the provider', async () => {
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    await provider.updateCard(alice, card.id, { holderName: 'Ada', metadata: { a: '1' } })
    const stored = await sync.sync(alice, card.id)
    expect(stored).toMatchObject({ id: card.id, holderName: 'Ada', metadata: { a: '1' } })
    expect((await store.get(scope(alice), card.id))?.holderName).toBe('Ada')
  })

  it('sync with an id the provider no longer has removes the local card', async () => {
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    await provider.deleteCard(alice, card.id)
    expect(await sync.sync(alice, card.id)).toBeNull()
    expect(await store.get(scope(alice), card.id)).toBeNull()
  })

  // Only card_not_found says the card is gone: a read that failed says nothing of it.
  it.each([
    ['provider_unavailable', () => new ProviderUnavailableError('connection reset')],
    ['rate_limited', () => new RateLimitedError('Too many requests', { retryAfterMs: 1000 })],
  ])(
    'sync with an id keeps the local card as stored when the read fails with %s',
    async (_, failure) => {
      const card = await sync.setDefaultCard(alice, 'tok_visa')
      const before = await store.get(scope(alice), card.id)
      await provider.updateCard(alice, card.id, { holderName: 'Ada' })
      const error = failure()
      const failing = createCardSync({
        provider: {
          ...provider,
          getCard: async () => {
            throw error
          },
        },
        store,
      })
      await expect(failing.sync(alice, card.id)).rejects.toBe(error)
      expect(await store.get(scope(alice), card.id)).toEqual(before)
    },
  )

  it("sync with nothing stores the owner's default", async () => {
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    await provider.createCard(alice, { source: 'tok_amex' })
    const stored = await sync.sync(alice)
    expect(stored).toMatchObject({ id: card.id, isDefault: true })
    expect((await sync.getForOwner(alice))?.id).toBe(card.id)
    expect(await store.listByOwner(scope(alice))).toHaveLength(1)
  })

  it('sync with nothing clears the local default when the provider has none', async () => {
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    provider.reset()
    expect(await sync.sync(alice)).toBeNull()
    expect(await sync.getForOwner(alice)).toBeNull()
    // The card itself stays until reconcile or deleteCard: sync() only looks at the default.
    expect((await store.get(scope(alice), card.id))?.isDefault).toBe(false)
  })

  it("getForOwner reads the store's default of that owner only", async () => {
    expect(await sync.getForOwner(alice)).toBeNull()
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    expect((await sync.getForOwner(alice))?.id).toBe(card.id)
    expect(await sync.getForOwner(bob)).toBeNull()
  })

  it('deleteLocal removes the local copy only', async () => {
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    expect(await sync.deleteLocal(bob, card.id)).toBe(false)
    expect(await sync.deleteLocal(alice, card.id)).toBe(true)
    expect(await sync.deleteLocal(alice, card.id)).toBe(false)
    expect(await store.get(scope(alice), card.id)).toBeNull()
    expect((await provider.getCard(alice, card.id)).id).toBe(card.id)
  })

  // A webhook integration deletes on a "card deleted" event and stores "card updated" payloads:
  // delivered out of order, an update observed before the deletion must not bring the card back.
  it('deleteLocal is a deletion observed now, or at its observedAt: an older payload stays out', async () => {
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    const before = Date.now() - 60_000
    expect(await sync.deleteLocal(alice, card.id)).toBe(true)
    expect(await sync.syncFromProviderData(alice, card, { observedAt: before })).toBeNull()
    expect(await store.get(scope(alice), card.id)).toBeNull()

    // At the event's time: a payload observed before it stays out, one observed after comes in.
    const other = await provider.createCard(bob, { source: 'tok_visa' })
    await sync.syncFromProviderData(bob, other, { observedAt: 1000 })
    expect(await sync.deleteLocal(bob, other.id, { observedAt: 5000 })).toBe(true)
    expect(await sync.syncFromProviderData(bob, other, { observedAt: 4000 })).toBeNull()
    expect((await sync.syncFromProviderData(bob, other, { observedAt: 6000 }))?.id).toBe(other.id)
  })

  it('deleteLocal refuses an observedAt that is no whole number of ms, deleting nothing', async () => {
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    for (const options of [{ observedAt: Number.NaN }, { observedAt: 1.5 }, { observed: 1 }]) {
      const error = await rejection(sync.deleteLocal(alice, card.id, options as never))
      expect(error.code, JSON.stringify(options)).toBe('invalid_request')
      expect(error.message).toContain('Invalid deleteLocal options')
    }
    expect((await store.get(scope(alice), card.id))?.id).toBe(card.id)
  })
})

// An adapter bug: every card it answers with names bob, whoever was asked for. Built with
// defineCardProvider, which checks the cards it answers with, and written by hand, which does not:
// CardSync checks them itself.
const misowningProviders: [string, (inner: MemoryProvider) => CardProvider][] = [
  ['built with defineCardProvider', (inner) => mappedDefined(inner, asBob)],
  ['written by hand', (inner) => mappedByHand(inner, asBob)],
]

describe.each(misowningProviders)(
  "CardSync over an adapter that answers with another owner's cards (%s)",
  (_, build) => {
    let inner: MemoryProvider
    let misSync: CardSync
    beforeEach(() => {
      inner = memoryProvider()
      misSync = createCardSync({ provider: build(inner), store })
    })

    const nothingStored = async () => {
      expect(await store.listByOwner({ provider: inner.name, owner: alice })).toEqual([])
      expect(await store.listByOwner({ provider: inner.name, owner: bob })).toEqual([])
    }

    it('setDefaultCard fails and stores nothing, under neither owner', async () => {
      const error = await rejection(misSync.setDefaultCard(alice, 'tok_visa'))
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
      await nothingStored()
    })

    it('sync of an id or of the default fails and stores nothing', async () => {
      const card = await inner.createCard(alice, { source: 'tok_visa' })
      expect((await rejection(misSync.sync(alice, card.id))).code).toBe('provider_unavailable')
      expect((await rejection(misSync.sync(alice))).code).toBe('provider_unavailable')
      await nothingStored()
    })

    it('syncFromProviderData fails and stores nothing', async () => {
      const card = await inner.createCard(alice, { source: 'tok_visa' })
      expect((await rejection(misSync.syncFromProviderData(alice, card))).code).toBe(
        'invalid_request',
      )
      await nothingStored()
    })

    it('reconcile records the owner as failed and stores nothing', async () => {
      await inner.createCard(alice, { source: 'tok_visa' })
      const report = await misSync.reconcile(alice)
      expect(report.failed).toEqual([
        expect.objectContaining({ owner: alice, code: 'provider_unavailable' }),
      ])
      await nothingStored()
    })
  },
)

// An adapter bug: asked for one card (getCard, updateCard, setDefaultCard, invalidateCard), it
// answers with another of the owner's, the one `swap` names. Built with defineCardProvider and
// written by hand: CardSync checks the answer to be the card asked for either way.
const swappingProviders: [
  string,
  (inner: MemoryProvider, map: CardMap, capabilities?: ProviderCapabilities) => CardProvider,
][] = [
  ['built with defineCardProvider', mappedDefined],
  ['written by hand', mappedByHand],
]

describe.each(swappingProviders)(
  'CardSync over an adapter that answers with another card than the one asked for (%s)',
  (_, build) => {
    let inner: MemoryProvider
    /** The card answered instead of the one asked for, when it is not that one. */
    let swap: (cardId: string) => Card | undefined
    const swapped: CardMap = (card, cardId) =>
      cardId === undefined ? card : (swap(cardId) ?? card)
    beforeEach(() => {
      inner = memoryProvider()
      swap = () => undefined
    })
    const stored = () => store.listByOwner({ provider: inner.name, owner: alice })

    /** The error an operation rejected with: the adapter's bug, naming the card answered. */
    const expectOtherCard = (error: CardportError, operation: string, answered: Card) => {
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
      expect(error.message).toContain(`${operation} for customer:${alice.id}`)
      expect(error.message).toContain(`card ${answered.id}`)
    }

    it('sync of an id fails and stores neither card', async () => {
      const asked = await inner.createCard(alice, { source: 'tok_visa' })
      const other = await inner.createCard(alice, { source: 'tok_amex' })
      swap = (cardId) => (cardId === asked.id ? other : undefined)
      const swapSync = createCardSync({ provider: build(inner, swapped), store })
      expectOtherCard(await rejection(swapSync.sync(alice, asked.id)), 'getCard', other)
      expect(await stored()).toEqual([])
    })

    it('compares ids exactly: a card whose id differs in case alone is another card', async () => {
      const asked = await inner.createCard(alice, { source: 'tok_visa' })
      const cased = { ...asked, id: asked.id.toUpperCase() }
      expect(cased.id).not.toBe(asked.id)
      swap = (cardId) => (cardId === asked.id ? cased : undefined)
      const swapSync = createCardSync({ provider: build(inner, swapped), store })
      expectOtherCard(await rejection(swapSync.sync(alice, asked.id)), 'getCard', cased)
      expect(await stored()).toEqual([])
    })

    it('deleteCard over a provider that invalidates stores no other card as invalid', async () => {
      const capabilities = { ...inner.capabilities, deleteCard: false }
      const doomed = await inner.createCard(alice, { source: 'tok_visa' })
      const kept = await inner.createCard(alice, { source: 'tok_amex' })
      await createCardSync({ provider: inner, store }).reconcile(alice)
      const before = await stored()
      swap = (cardId) => (cardId === doomed.id ? { ...kept, status: 'invalid' } : undefined)
      const swapSync = createCardSync({ provider: build(inner, swapped, capabilities), store })
      const error = await rejection(swapSync.deleteCard(alice, doomed.id))
      expectOtherCard(error, 'invalidateCard', kept)
      // Nothing of the answer was written: the kept card is not stored as invalid.
      expect(await stored()).toEqual(before)
    })

    it('setDefaultCard does not store the old default as the new one', async () => {
      const old = await inner.createCard(alice, { source: 'tok_visa' })
      await createCardSync({ provider: inner, store }).reconcile(alice)
      const before = await stored()
      // The new card comes back as not the default, so CardSync asks the provider to make it the
      // default; the adapter answers with the old default instead.
      const notDefault: CardMap = (card, cardId) =>
        cardId === undefined && card.id !== old.id
          ? { ...card, isDefault: false }
          : swapped(card, cardId)
      swap = (cardId) => (cardId === old.id ? undefined : { ...old, isDefault: true })
      const swapSync = createCardSync({ provider: build(inner, notDefault), store })
      expectOtherCard(
        await rejection(swapSync.setDefaultCard(alice, 'tok_amex')),
        'setDefaultCard',
        old,
      )
      expect(await stored()).toEqual(before)
    })
  },
)

// An adapter that ignored the change, or a cache or proxy in it, answers invalidateCard or
// setDefaultCard with the card as it was: CardSync must not store that card as the one retired,
// nor retire the old default for a card that did not become the default. Built with
// defineCardProvider and written by hand: CardSync checks the answer either way.
describe.each(swappingProviders)(
  'CardSync over an adapter whose answer shows the operation undone (%s)',
  (_, build) => {
    let inner: MemoryProvider
    beforeEach(() => {
      inner = memoryProvider()
    })
    const stored = () => store.listByOwner({ provider: inner.name, owner: alice })
    const invalidates = (): ProviderCapabilities => ({ ...inner.capabilities, deleteCard: false })

    /** Every card write `store` takes from now on. */
    const writesTo = (target: CardStore) => {
      const spies = (['upsert', 'upsertMany', 'delete', 'setDefault'] as const).map((method) =>
        vi.spyOn(target, method),
      )
      return () => spies.flatMap((spy) => spy.mock.calls)
    }

    /** The error a call rejected with: the adapter's answer about `card`, not taken. */
    const expectUndone = (error: CardportError, operation: string, card: Card, state: string) => {
      expect(error).toMatchObject({
        code: 'provider_unavailable',
        retryable: false,
        provider: inner.name,
      })
      expect(error.message).toContain(
        `${inner.name} answered ${operation} for customer:${alice.id} with card ${card.id} ${state}`,
      )
    }

    it('deleteCard over a provider that invalidates rejects, and writes nothing, when the card is answered still active', async () => {
      const card = await inner.createCard(alice, { source: 'tok_visa' })
      await createCardSync({ provider: inner, store }).reconcile(alice)
      const before = await stored()
      const stillActive: CardMap = (answered, cardId) =>
        cardId === card.id ? { ...answered, status: 'active' } : answered
      const sleep = vi.fn(async () => {})
      const undoneSync = createCardSync({
        provider: build(inner, stillActive, invalidates()),
        store,
        retry: { sleep },
      })
      const writes = writesTo(store)
      const error = await rejection(undoneSync.deleteCard(alice, card.id))
      expectUndone(error, 'invalidateCard', card, 'still active')
      expect(sleep, 'no retry').not.toHaveBeenCalled()
      expect(writes()).toEqual([])
      expect(await stored()).toEqual(before)
    })

    it('setDefaultCard over a provider that invalidates does not store the old default as the invalidation answered it, still active', async () => {
      const old = await inner.createCard(alice, { source: 'tok_visa' })
      await createCardSync({ provider: inner, store }).reconcile(alice)
      const before = await stored()
      const stillActive: CardMap = (answered, cardId) =>
        cardId === old.id ? { ...answered, status: 'active' } : answered
      const undoneSync = createCardSync({
        provider: build(inner, stillActive, invalidates()),
        store,
      })
      const writes = writesTo(store)
      const error = await rejection(undoneSync.setDefaultCard(alice, 'tok_amex'))
      expectUndone(error, 'invalidateCard', old, 'still active')
      expect(writes()).toEqual([])
      expect(await stored()).toEqual(before)
    })

    it('setDefaultCard does not retire the old default when the new card is answered not the default', async () => {
      const old = await inner.createCard(alice, { source: 'tok_visa' })
      await createCardSync({ provider: inner, store }).reconcile(alice)
      const before = await stored()
      // The new card comes back as not the default, so CardSync asks the provider to make it the
      // default; the adapter answers with it still not the default.
      const notDefault: CardMap = (answered) =>
        answered.id === old.id ? answered : { ...answered, isDefault: false }
      const undoneSync = createCardSync({ provider: build(inner, notDefault), store })
      const writes = writesTo(store)
      const error = await rejection(undoneSync.setDefaultCard(alice, 'tok_amex'))
      const created = (await inner.listCards(alice)).data.find((card) => card.id !== old.id)
      expectUndone(error, 'setDefaultCard', created!, 'not the default')
      // Neither deleted at the provider nor in the store.
      expect((await inner.getCard(alice, old.id)).id).toBe(old.id)
      expect(writes()).toEqual([])
      expect(await stored()).toEqual(before)
    })
  },
)

// The marketplace takes a card by its URI (`/v1/marketplaces/MP/cards/CC…`) as by its id, and
// says so with `cardIdOf`; its cards carry the bare id, and so does the store. Given the URI,
// CardSync must write and delete the card the URI names: under the URI itself, the store holds
// nothing, and the card stayed (a ghost card, active, until the next reconcile).
const uriTakingProviders: [
  string,
  (inner: MemoryProvider, options?: UriProviderOptions) => CardProvider,
][] = [
  ['built with defineCardProvider', uriDefined],
  ['written by hand', uriByHand],
]

describe.each(uriTakingProviders)(
  'CardSync over a provider that takes a card by its URI too (%s)',
  (_, build) => {
    let inner: MemoryProvider
    let uriSync: CardSync
    beforeEach(() => {
      inner = memoryProvider()
      uriSync = createCardSync({ provider: build(inner), store })
    })
    const stored = () => store.listByOwner({ provider: inner.name, owner: alice })
    const storedIds = async () => (await stored()).map((card) => card.id).sort()
    /** A card of alice's at the provider, stored. */
    const held = async (token: string) => {
      const card = await inner.createCard(alice, { source: token })
      await uriSync.sync(alice, card.id)
      return card
    }

    it('deleteCard by URI deletes the card at the provider and its local copy', async () => {
      const kept = await held('tok_visa')
      const doomed = await held('tok_amex')
      await uriSync.deleteCard(alice, uriOf(doomed))
      expect((await rejection(inner.getCard(alice, doomed.id))).code).toBe('card_not_found')
      expect(await storedIds()).toEqual([kept.id])
      expect((await uriSync.getForOwner(alice))?.id).toBe(kept.id)
    })

    it('deleteCard by URI of a card gone at the provider deletes its local copy, for good', async () => {
      const gone = await held('tok_visa')
      const observedBefore = Date.now() - 1_000
      await inner.deleteCard(alice, gone.id)
      await uriSync.deleteCard(alice, uriOf(gone))
      expect(await stored()).toEqual([])
      // The deletion is recorded under the card's id: a payload observed before it is not stored.
      expect((await store.upsert(gone, { observedAt: observedBefore })).card).toBeNull()
    })

    it('deleteCard by URI over a provider that invalidates: the card is stored as invalid, and one it does not hold is deleted locally', async () => {
      const capabilities = { ...inner.capabilities, deleteCard: false }
      const invalidating = createCardSync({ provider: build(inner, { capabilities }), store })
      const retired = await held('tok_visa')
      const gone = await held('tok_amex')
      await inner.deleteCard(alice, gone.id)
      await invalidating.deleteCard(alice, uriOf(retired))
      await invalidating.deleteCard(alice, uriOf(gone))
      expect(await stored()).toEqual([
        expect.objectContaining({ id: retired.id, status: 'invalid' }),
      ])
    })

    it('sync by URI of a card the provider no longer holds deletes its local copy', async () => {
      const gone = await held('tok_visa')
      await inner.deleteCard(alice, gone.id)
      expect(await uriSync.sync(alice, uriOf(gone))).toBeNull()
      expect(await stored()).toEqual([])
    })

    it('sync by URI of a card the provider holds stores it under its id, once', async () => {
      const card = await held('tok_visa')
      await inner.updateCard(alice, card.id, { holderName: 'Ada Lovelace' })
      expect(await uriSync.sync(alice, uriOf(card))).toMatchObject({
        id: card.id,
        holderName: 'Ada Lovelace',
      })
      expect(await storedIds()).toEqual([card.id])
    })

    it('sync of a card given with its URI for its id stores it under its id', async () => {
      const card = await held('tok_visa')
      await uriSync.sync(alice, { ...card, id: uriOf(card), holderName: 'Ada Lovelace' })
      expect(await stored()).toEqual([
        expect.objectContaining({ id: card.id, holderName: 'Ada Lovelace' }),
      ])
    })

    it('deleteLocal by URI deletes the local copy of the card the URI names, and asks the provider nothing', async () => {
      const card = await held('tok_visa')
      const calls: string[] = []
      const watched = createCardSync({ provider: recording(build(inner), calls), store })
      expect(await watched.deleteLocal(alice, uriOf(card))).toBe(true)
      expect(await stored()).toEqual([])
      // cardIdOf reads the id, and sends no request: no operation of the provider is called.
      expect(calls.filter((call) => !call.startsWith('cardIdOf'))).toEqual([])
      expect((await inner.getCard(alice, card.id)).status).toBe('active')
    })

    describe('a cardIdOf that fails or answers no card id (an adapter bug)', () => {
      const NUMBER = '4242424242424242'
      const answers: [string, () => unknown, boolean][] = [
        [
          'throws',
          () => {
            throw new Error(`cannot read ${NUMBER}`)
          },
          true,
        ],
        ['answers an empty id', () => '', false],
        ['answers a number', () => 42, false],
        ['answers undefined', () => undefined, false],
        ['answers a card number', () => NUMBER, false],
        ['answers an id with a NUL character', () => 'card_\u0000', false],
      ]
      describe.each(answers)('one that %s', (_, answer, retryable) => {
        const operations: [string, (s: CardSync, card: Card) => Promise<unknown>][] = [
          ['deleteCard', (s, card) => s.deleteCard(alice, uriOf(card))],
          ['sync of an id', (s, card) => s.sync(alice, uriOf(card))],
          ['sync of a card', (s, card) => s.sync(alice, { ...card, holderName: 'Ada Lovelace' })],
          ['deleteLocal', (s, card) => s.deleteLocal(alice, uriOf(card))],
        ]
        it.each(operations)(
          '%s rejects with provider_unavailable, and neither the provider nor the store is touched',
          async (_, run) => {
            const card = await held('tok_visa')
            const before = await stored()
            const calls: string[] = []
            const broken = build(inner, { cardIdOf: answer as (cardId: string) => string })
            const watched = createCardSync({ provider: recording(broken, calls), store })
            const error = await rejection(run(watched, card))
            expect(error).toMatchObject({
              code: 'provider_unavailable',
              retryable,
              provider: 'memory',
            })
            expect(error.message).toContain('cardIdOf')
            expect(inspect(error, { depth: 10 })).not.toContain(NUMBER)
            expect(calls.filter((call) => !call.startsWith('cardIdOf'))).toEqual([])
            expect(await stored()).toEqual(before)
            expect((await inner.getCard(alice, card.id)).status).toBe('active')
          },
        )
      })
    })
  },
)

// An adapter bug: every card it answers with has a last4 of two digits, and a metadata key that is
// a card number with a value that is no string. Built with defineCardProvider, which reads each
// card with the Card schema, and written by hand, which does not: CardSync reads them itself.
const UNREADABLE_NUMBER = '4242424242424242'
const unreadable = (card: Card): Card => ({
  ...card,
  last4: '42',
  metadata: { [UNREADABLE_NUMBER]: 42 } as never,
})
const unreadableProviders: [string, (inner: MemoryProvider) => CardProvider][] = [
  ['built with defineCardProvider', (inner) => mappedDefined(inner, unreadable)],
  ['written by hand', (inner) => mappedByHand(inner, unreadable)],
]

describe.each(unreadableProviders)(
  'CardSync over an adapter that answers with cards cardport cannot read (%s)',
  (_, build) => {
    let inner: MemoryProvider
    let badSync: CardSync
    beforeEach(() => {
      inner = memoryProvider()
      badSync = createCardSync({ provider: build(inner), store })
    })

    /** The error an operation rejected with: an adapter's bug, quoting no card number. */
    const expectAdapterBug = (error: CardportError) => {
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
      expect(error.message).toContain('returned a card cardport cannot read')
      expect(digitsOf(JSON.stringify(error))).not.toContain(UNREADABLE_NUMBER)
      expect(digitsOf(error.message)).not.toContain(UNREADABLE_NUMBER)
    }
    const nothingStored = async () => {
      expect(await store.listByOwner({ provider: inner.name, owner: alice })).toEqual([])
    }

    it('setDefaultCard fails and stores nothing', async () => {
      expectAdapterBug(await rejection(badSync.setDefaultCard(alice, 'tok_visa')))
      await nothingStored()
    })

    it('sync of an id or of the default fails and stores nothing', async () => {
      const card = await inner.createCard(alice, { source: 'tok_visa' })
      expectAdapterBug(await rejection(badSync.sync(alice, card.id)))
      expectAdapterBug(await rejection(badSync.sync(alice)))
      await nothingStored()
    })

    it('deleteCard fails at the default it reads back, writes nothing of it, and removes the deleted card', async () => {
      const first = await inner.createCard(alice, { source: 'tok_visa' })
      const second = await inner.createCard(alice, { source: 'tok_amex' })
      const goodSync = createCardSync({ provider: inner, store })
      await goodSync.reconcile(alice)
      const before = await store.listByOwner({ provider: inner.name, owner: alice })
      expect(before.map((card) => card.id).sort()).toEqual([first.id, second.id].sort())
      expectAdapterBug(await rejection(badSync.deleteCard(alice, second.id)))
      // The provider deleted the card: its copy goes; nothing of the answer was written.
      expect(await store.listByOwner({ provider: inner.name, owner: alice })).toEqual(
        before.filter((card) => card.id !== second.id),
      )
    })

    it('syncFromProviderData fails with invalid_request and stores nothing', async () => {
      const card = await inner.createCard(alice, { source: 'tok_visa' })
      const error = await rejection(badSync.syncFromProviderData(alice, card))
      expect(error.code).toBe('invalid_request')
      expect(digitsOf(JSON.stringify(error))).not.toContain(UNREADABLE_NUMBER)
      await nothingStored()
    })

    it("reconcile records the owner as failed with the adapter's error, and stores nothing", async () => {
      await inner.createCard(alice, { source: 'tok_visa' })
      const report = await badSync.reconcile(alice)
      expect(report.failed).toEqual([
        expect.objectContaining({
          owner: alice,
          code: 'provider_unavailable',
          message: expect.stringContaining('returned a card cardport cannot read (listCards)'),
        }),
      ])
      expect(digitsOf(JSON.stringify(report))).not.toContain(UNREADABLE_NUMBER)
      await nothingStored()
    })
  },
)

describe('CardSync reads the cards of an adapter with the Card schema once', () => {
  it("stores a hand-written adapter's card as the schema reads it: a card number in it masked", async () => {
    const inner = memoryProvider()
    const withNumber = (card: Card): Card => ({
      ...card,
      holderName: `Ada ${UNREADABLE_NUMBER}`,
      metadata: { note: UNREADABLE_NUMBER },
    })
    const handSync = createCardSync({ provider: mappedByHand(inner, withNumber), store })
    const card = await inner.createCard(alice, { source: 'tok_visa' })
    await handSync.sync(alice, card.id)
    await inner.createCard(bob, { source: 'tok_visa' })
    await handSync.reconcile(bob)
    const stored = [
      ...(await store.listByOwner({ provider: inner.name, owner: alice })),
      ...(await store.listByOwner({ provider: inner.name, owner: bob })),
    ]
    expect(stored).toHaveLength(2)
    for (const row of stored) {
      expect(row).toMatchObject({ holderName: 'Ada •••• 4242', metadata: { note: '•••• 4242' } })
    }
    expect(digitsOf(JSON.stringify(stored))).not.toContain(UNREADABLE_NUMBER)
  })

  it("reads a defineCardProvider adapter's cards once, in defineCardProvider, not again in CardSync", async () => {
    for (let index = 0; index < 5; index++) {
      await provider.createCard(alice, { source: 'tok_visa' })
    }
    const safeParse = vi.spyOn(compiledCardSchema(), 'safeParse')
    try {
      const report = await sync.reconcile(alice)
      expect(report.counts.added).toBe(5)
      expect(safeParse).toHaveBeenCalledTimes(5)
      safeParse.mockClear()
      const [card] = await store.listByOwner(scope(alice))
      await sync.sync(alice, card!.id)
      expect(safeParse).toHaveBeenCalledTimes(1)
    } finally {
      safeParse.mockRestore()
    }
  })
})

// What a provider written by hand throws reaches CardSync's callers as a CardportError, as an
// adapter's built with defineCardProvider does: card numbers and keys nowhere.
describe.each(thrownValues)(
  'CardSync over a provider written by hand that throws %s',
  (_, thrown) => {
    let inner: MemoryProvider
    let failingSync: CardSync
    beforeEach(() => {
      inner = memoryProvider()
      // No retry: reconcile's retries are the next describe's.
      failingSync = createCardSync({
        provider: throwingEvery(inner, thrown) as CardProvider,
        store,
        retry: { retries: 0 },
      })
    })

    it('setDefaultCard rejects with provider_unavailable, retryable, and stores nothing', async () => {
      // Its first call reads the old default, to retire it after.
      const error = await rejection(failingSync.setDefaultCard(alice, 'tok_visa'))
      expectUnexpected(error, 'getDefaultCard')
      expect(await store.listByOwner(scope(alice))).toEqual([])
    })

    it('deleteCard rejects with provider_unavailable and keeps the local copy', async () => {
      const card = await inner.createCard(alice, { source: 'tok_visa' })
      await createCardSync({ provider: inner, store }).sync(alice, card.id)
      expectUnexpected(await rejection(failingSync.deleteCard(alice, card.id)), 'deleteCard')
      expect((await store.get(scope(alice), card.id))?.id).toBe(card.id)
    })

    it('sync of an id or of the default rejects with provider_unavailable', async () => {
      expectUnexpected(await rejection(failingSync.sync(alice, 'card_1')), 'getCard')
      expectUnexpected(await rejection(failingSync.sync(alice)), 'getDefaultCard')
    })

    it("syncFromProviderData rejects with invalid_request: the payload is the caller's", async () => {
      const error = await rejection(failingSync.syncFromProviderData(alice, { object: 'card' }))
      expect(error).toMatchObject({
        code: 'invalid_request',
        retryable: false,
        message: 'memory could not read this payload as a card',
      })
      expectNoSecret(inspect(error, { depth: 10 }))
    })

    it('reconcile reports the owner as failed with provider_unavailable, quoting nothing secret', async () => {
      const report = await failingSync.reconcile(alice)
      expect(report.failed).toEqual([
        {
          owner: alice,
          source: 'provider',
          code: 'provider_unavailable',
          message: 'memory failed during listCards with an unexpected error; see cause',
        },
      ])
      expectNoSecret(JSON.stringify(report))
    })
  },
)

describe('CardSync.reconcile over a provider written by hand that throws', () => {
  it("retries what it throws as it retries an unexpected error of defineCardProvider's", async () => {
    const inner = memoryProvider()
    await inner.createCard(alice, { source: 'tok_visa' })
    let failures = 2
    const flaky = {
      ...inner,
      listCards: async (owner: Owner, options?: { limit?: number; cursor?: string }) => {
        // A client's network failure, thrown as the client made it.
        if (failures-- > 0) throw new TypeError('fetch failed')
        return inner.listCards(owner, options)
      },
    }
    const sleep = vi.fn(async (_ms: number) => {})
    const report = await createCardSync({ provider: flaky, store, retry: { sleep } }).reconcile(
      alice,
    )
    expect(sleep).toHaveBeenCalledTimes(2)
    expect(report.failed).toEqual([])
    expect(report.counts.added).toBe(1)
  })
})

describe('CardSync.syncFromProviderData: a payload that cannot tell the default', () => {
  // As a Stripe customer's card with `customer` as a plain id: it reads isDefault false, marked.
  let blindSync: CardSync
  beforeEach(() => {
    const blind: CardProvider = Object.freeze({
      ...provider,
      parseCard: (raw: unknown, owner?: Owner) => {
        const card = provider.parseCard(raw, owner)
        return card && markDefaultUnknown({ ...card, isDefault: false })
      },
    })
    blindSync = createCardSync({ provider: blind, store })
  })

  it('keeps the stored default and applies the rest of the payload', async () => {
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    const stored = await blindSync.syncFromProviderData(alice, { ...card, holderName: 'Ada' })
    expect(stored).toMatchObject({ id: card.id, holderName: 'Ada', isDefault: true })
    expect((await sync.getForOwner(alice))?.id).toBe(card.id)
    await expectStoreEqualsProvider(alice, [{ id: card.id, isDefault: true, last4: '4242' }])
  })

  it('keeps a stored non-default card non-default, and stores a new card as not the default', async () => {
    const first = await sync.setDefaultCard(alice, 'tok_visa')
    const spare = await provider.createCard(alice, { source: 'tok_amex' })
    expect(await blindSync.syncFromProviderData(alice, spare)).toMatchObject({ isDefault: false })
    await sync.sync(alice, spare.id)
    expect(await blindSync.syncFromProviderData(alice, spare)).toMatchObject({ isDefault: false })
    expect((await sync.getForOwner(alice))?.id).toBe(first.id)
  })

  it('still applies a default the payload does tell', async () => {
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    const stored = await sync.syncFromProviderData(alice, { ...card, isDefault: false })
    expect(stored?.isDefault).toBe(false)
    expect(await sync.getForOwner(alice)).toBeNull()
  })
})

describe('CardSync.reconcile', () => {
  /** A store that has drifted from the provider in every way reconcile repairs. */
  async function drift(owner: Owner) {
    const a = await sync.setDefaultCard(owner, 'tok_visa')
    const b = await addCard(owner, 'tok_amex')
    await provider.updateCard(owner, b.id, { holderName: 'Changed at the provider' })
    const d = await provider.createCard(owner, { source: 'tok_mastercard' })
    const ghost = { ...a, id: `card_ghost_${owner.id}`, isDefault: true }
    await store.upsert(ghost)
    return { a, b, d, ghost }
  }

  it('reports drift on a dry run and changes nothing', async () => {
    const { a, b, d, ghost } = await drift(alice)
    const before = await store.listByOwner(scope(alice))
    const report = await sync.reconcile(alice, { dryRun: true })
    expect(report).toEqual({
      provider: 'memory',
      dryRun: true,
      owners: 1,
      cardsSeen: 3,
      added: [{ owner: alice, cardId: d.id }],
      updated: [{ owner: alice, cardId: b.id }],
      removed: [{ owner: alice, cardId: ghost.id }],
      defaultRepaired: [{ owner: alice, cardId: a.id }],
      failed: [],
      counts: { added: 1, updated: 1, removed: 1, defaultRepaired: 1, failed: 0 },
      truncated: false,
    } satisfies DriftReport)
    expect(await store.listByOwner(scope(alice))).toEqual(before)
  })

  // The stored default was deleted at the provider (its dashboard, a webhook not delivered):
  // the provider names no default, and only a run that is no dry run clears the store's.
  it('clears no stored default on a dry run when the provider names none', async () => {
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    await provider.deleteCard(alice, card.id)
    const before = await store.listByOwner(scope(alice))
    const report = await sync.reconcile(alice, { dryRun: true })
    expect(report).toMatchObject({
      removed: [{ owner: alice, cardId: card.id }],
      defaultRepaired: [{ owner: alice, cardId: null }],
    })
    expect(await store.listByOwner(scope(alice))).toEqual(before)
    expect((await sync.getForOwner(alice))?.id).toBe(card.id)

    await sync.reconcile(alice)
    await expectStoreEqualsProvider(alice, [])
  })

  it('makes the store equal to the provider, default included', async () => {
    const { a, b, d, ghost } = await drift(alice)
    const report = await sync.reconcile(alice)
    expect(report).toMatchObject({
      dryRun: false,
      owners: 1,
      cardsSeen: 3,
      added: [{ owner: alice, cardId: d.id }],
      updated: [{ owner: alice, cardId: b.id }],
      removed: [{ owner: alice, cardId: ghost.id }],
      defaultRepaired: [{ owner: alice, cardId: a.id }],
      failed: [],
    })
    await expectStoreEqualsProvider(alice, [
      { id: a.id, isDefault: true, last4: '4242' },
      { id: b.id, isDefault: false, last4: '8431' },
      { id: d.id, isDefault: false, last4: '4444' },
    ])
    expect((await store.get(scope(alice), b.id))?.holderName).toBe('Changed at the provider')

    const again = await sync.reconcile(alice)
    expect(again).toMatchObject({ added: [], updated: [], removed: [], defaultRepaired: [] })
  })

  it('reports a card once when the provider lists it on two pages (pages that overlap)', async () => {
    const { a, b, d, ghost } = await drift(alice)
    const e = await provider.createCard(alice, { source: 'tok_discover' })
    const f = await provider.createCard(alice, { source: 'tok_jcb' })
    const written: string[] = []
    const watched: CardStore = {
      ...store,
      upsertMany: async (cards, options) => {
        written.push(...cards.map((card) => card.id))
        return store.upsertMany(cards, options)
      },
    }
    // f e d b a (newest first), in pages of two that overlap by one: [f e] [e d] [d b] [b a].
    const overlapping = overlappingPages(provider, 2)
    expect(await toArray(listAll(overlapping, alice), { limit: 100 })).toHaveLength(8)
    const onDrift = vi.fn()
    const report = await createCardSync({ provider: overlapping, store: watched }).reconcile(
      alice,
      { onDrift },
    )
    const entries = (...cards: Card[]) => cards.map((card) => ({ owner: alice, cardId: card.id }))
    expect(report.added).toEqual(entries(f, e, d))
    expect(report.updated).toEqual(entries(b))
    expect(report.removed).toEqual(entries(ghost))
    expect(report.defaultRepaired).toEqual(entries(a))
    expect([report.cardsSeen, report.counts]).toEqual([
      5,
      { added: 3, updated: 1, removed: 1, defaultRepaired: 1, failed: 0 },
    ])
    expect(onDrift).toHaveBeenCalledTimes(6)
    // Each card is written once, as it was reported.
    expect(written.toSorted()).toEqual([a, b, d, e, f].map((card) => card.id).toSorted())
    await expectStoreEqualsProvider(alice)
  })

  it('records an owner whose pages go round in a cycle as failed, and goes on to the others', async () => {
    const ghost = { ...(await addCard(alice, 'tok_visa')), id: 'card_ghost_alice' }
    await store.upsert(ghost)
    await provider.createCard(alice, { source: 'tok_amex' })
    const d = await provider.createCard(bob, { source: 'tok_mastercard' })
    const circling = circlingPages(provider, alice)
    const report = await createCardSync({ provider: circling.provider, store }).reconcile([
      alice,
      bob,
    ])
    // The first page, then A and B once each: B leads back to A, and the listing ends there.
    expect(circling.asked).toEqual([undefined, 'A', 'B'])
    expect(report.failed).toEqual([
      {
        owner: alice,
        source: 'provider',
        code: 'provider_unavailable',
        message:
          "memory gave a cursor for the next page that an earlier page of this list gave already, so its pages go round in a cycle: report this to the adapter's authors",
      },
    ])
    // A listing that did not end removes nothing; the other owner is reconciled all the same.
    expect(await store.get(scope(alice), ghost.id)).not.toBeNull()
    expect(report.added).toEqual([{ owner: bob, cardId: d.id }])
  })

  it('writes no card the store already holds as the provider does: versions stay', async () => {
    await sync.setDefaultCard(alice, 'tok_visa')
    await addCard(alice, 'tok_amex')
    const before = await store.listByOwner(scope(alice))
    expect(before).toHaveLength(2)
    const report = await sync.reconcile(alice)
    expect(report).toMatchObject({ added: [], updated: [], removed: [], defaultRepaired: [] })
    expect(report.failed).toEqual([])
    expect(await store.listByOwner(scope(alice))).toEqual(before)
  })

  it('repairs a default that moved at the provider', async () => {
    const a = await sync.setDefaultCard(alice, 'tok_visa')
    const b = await addCard(alice, 'tok_amex')
    await provider.setDefaultCard(alice, b.id)
    const report = await sync.reconcile(alice)
    expect(report.defaultRepaired).toEqual([{ owner: alice, cardId: b.id }])
    expect(report.updated).toEqual([])
    await expectStoreEqualsProvider(alice, [
      { id: a.id, isDefault: false, last4: '4242' },
      { id: b.id, isDefault: true, last4: '8431' },
    ])
  })

  it('removes every local card of an owner the provider no longer has cards for', async () => {
    const a = await sync.setDefaultCard(alice, 'tok_visa')
    provider.reset()
    const report = await sync.reconcile(alice)
    expect(report.removed).toEqual([{ owner: alice, cardId: a.id }])
    expect(report.defaultRepaired).toEqual([{ owner: alice, cardId: null }])
    expect(await store.listByOwner(scope(alice))).toEqual([])
  })

  it('removes a card the provider no longer lists as of its listing: an older payload of it, delivered late, stays out', async () => {
    await sync.setDefaultCard(alice, 'tok_visa')
    const gone = await addCard(alice, 'tok_amex')
    // A webhook of the card, observed a minute before the reconcile lists the owner.
    const observedAt = Date.now() - 60_000
    await provider.deleteCard(alice, gone.id)
    const report = await sync.reconcile(alice)
    expect(report.removed).toEqual([{ owner: alice, cardId: gone.id }])
    // Delivered after the reconcile: the removal is the later observation.
    expect(await sync.syncFromProviderData(alice, gone, { observedAt })).toBeNull()
    expect(await store.get(scope(alice), gone.id)).toBeNull()
    await expectStoreEqualsProvider(alice)
  })

  it("removes a card as of the owner's listing, not of its wait for a reader's place: a webhook stored meanwhile does not keep it", async () => {
    await sync.setDefaultCard(alice, 'tok_visa')
    await sync.setDefaultCard(bob, 'tok_visa')
    const spare = await addCard(bob, 'tok_amex')
    // One owner is read at a time: while alice's cards are listed, bob waits for his turn.
    const busy: CardProvider = {
      ...provider,
      async listCards(owner, options) {
        if (owner.id === alice.id) {
          // Bob has begun by now, and waits; what follows is strictly later than his start.
          await turns(20)
          const waiting = Date.now()
          while (Date.now() === waiting) await new Promise((resolve) => setTimeout(resolve, 1))
          // Meanwhile a webhook stores bob's card, which is then deleted at the provider (its
          // deletion event not delivered yet).
          const renewed = { ...spare, metadata: { plan: 'pro' } }
          await sync.syncFromProviderData(bob, renewed, { observedAt: Date.now() })
          await provider.deleteCard(bob, spare.id)
        }
        return provider.listCards(owner, options)
      },
    }
    const report = await createCardSync({ provider: busy, store, concurrency: 1 }).reconcile([
      alice,
      bob,
    ])
    expect(report.removed).toEqual([{ owner: bob, cardId: spare.id }])
    // Bob's listing, later than the webhook, no longer has the card: it is not left stored.
    expect(await store.get(scope(bob), spare.id)).toBeNull()
    await expectStoreEqualsProvider(bob)
  })

  it('reconciles every owner the store knows, a few at a time', async () => {
    const owners: Owner[] = Array.from({ length: 9 }, (_, index) => ({
      type: index % 3 === 0 ? 'account' : 'customer',
      id: `owner_${index}`,
    }))
    for (const owner of owners) await drift(owner)
    const seen: string[] = []
    const report = await sync.reconcile(undefined, {
      concurrency: 3,
      onOwner: (owner, { done }) => seen.push(`${done}:${owner.id}`),
    })
    expect(report.owners).toBe(9)
    expect(report.cardsSeen).toBe(27)
    expect(report.added).toHaveLength(9)
    expect(report.updated).toHaveLength(9)
    expect(report.removed).toHaveLength(9)
    expect(report.failed).toEqual([])
    expect(seen.map((entry) => entry.split(':')[0])).toEqual(
      Array.from({ length: 9 }, (_, index) => String(index + 1)),
    )
    for (const owner of owners) await expectStoreEqualsProvider(owner)
  })

  it.each([
    ['NaN', Number.NaN],
    ['0', 0],
    ['257', 257],
    ['1.5', 1.5],
    ["'4'", '4'],
  ])('refuses a concurrency of %s with invalid_request, repairing nothing', async (_, bad) => {
    const { ghost } = await drift(alice)
    const before = await store.listByOwner(scope(alice))
    const error = await rejection(sync.reconcile(alice, { concurrency: bad as number }))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toContain('reconcile options')
    expect(error.issues?.map((issue) => issue.path)).toEqual([['concurrency']])
    expect(await store.listByOwner(scope(alice))).toEqual(before)
    expect(await store.get(scope(alice), ghost.id)).not.toBeNull()
  })

  it.each([
    ['null', null],
    ['a number', 42],
    ['a string', 'cus_alice'],
    ['an object that is neither an owner nor iterable', { id: 'cus_alice' }],
  ])('refuses owners that are %s with invalid_request, repairing nothing', async (_, owners) => {
    const { ghost } = await drift(alice)
    const error = await rejection(sync.reconcile(owners as never))
    expect(error.code).toBe('invalid_request')
    expect(error.issues?.map((issue) => issue.path)).toEqual([['owners']])
    expect(await store.get(scope(alice), ghost.id)).not.toBeNull()
  })

  it('closes the owners it was given when it stops early, so that a cursor is released', async () => {
    let closed = 0
    async function* owners() {
      try {
        for (let index = 0; index < 1000; index++) yield { type: 'customer', id: `cus_${index}` }
      } finally {
        closed++
      }
    }
    const stop = new Error('stop')
    const failing = sync.reconcile(owners() as AsyncIterable<Owner>, {
      concurrency: 2,
      onOwner: () => {
        throw stop
      },
    })
    await expect(failing).rejects.toBe(stop)
    expect(closed).toBe(1)
    // Aborted, too.
    const controller = new AbortController()
    const aborted = sync.reconcile(owners() as AsyncIterable<Owner>, {
      signal: controller.signal,
      onOwner: (_owner, { done }) => {
        if (done === 3) controller.abort(new Error('interrupted'))
      },
    })
    await expect(aborted).rejects.toThrow('interrupted')
    expect(closed).toBe(2)
  })

  it('rejects only once the owners it was given are closed, however long their close takes', async () => {
    let closed = false
    async function* owners(): AsyncGenerator<Owner> {
      try {
        for (let index = 0; index < 1000; index++) yield { type: 'customer', id: `cus_${index}` }
      } finally {
        // A cursor whose close waits for its database.
        await new Promise((resolve) => setTimeout(resolve, 5))
        closed = true
      }
    }
    const stop = new Error('stop')
    const failing = sync.reconcile(owners(), {
      concurrency: 2,
      onOwner: () => {
        throw stop
      },
    })
    await expect(failing).rejects.toBe(stop)
    expect(closed).toBe(true)
  })

  it("records a store driver's failure with its message redacted", async () => {
    await drift(alice)
    const failing: CardStore = {
      ...store,
      listByOwner: async () => {
        throw new Error('row 4242 4242 4242 4242 refused for sk_test_51StoreKey: disk full')
      },
      listByOwners: undefined,
    }
    const report = await createCardSync({ provider, store: failing }).reconcile(alice)
    expect(report.failed).toEqual([
      {
        owner: alice,
        source: 'store',
        code: 'store_failed',
        message: 'row •••• 4242 refused for sk_test_[redacted]: disk full',
      },
    ])
  })

  it("records a failure of the store's write with the store as its source, never as the provider's", async () => {
    await drift(alice)
    await drift(bob)
    // What PostgreSQL answers a role that may read the tables but not write them; frozen, as
    // the SQLite and PostgreSQL stores are.
    const readOnly: CardStore = Object.freeze({
      ...store,
      upsertMany: async () => {
        throw new Error('permission denied for table cardport_cards')
      },
    })
    const changes: DriftChange[] = []
    const report = await createCardSync({ provider, store: readOnly }).reconcile([alice, bob], {
      onDrift: (change) => changes.push(change),
    })
    const failure = {
      source: 'store',
      code: 'store_failed',
      message: 'permission denied for table cardport_cards',
    }
    // In the order the owners failed: their cards were written together.
    expect(report.failed).toHaveLength(2)
    expect(report.failed).toEqual(
      expect.arrayContaining([
        { owner: alice, ...failure },
        { owner: bob, ...failure },
      ]),
    )
    expect(changes).toEqual(
      report.failed.map((entry) => ({ provider: 'memory', change: 'failed', ...entry })),
    )
  })

  it('records a CardportError that a call to the store threw with the store as its source', async () => {
    const { ghost } = await drift(alice)
    const refusing: CardStore = {
      ...store,
      delete: async () => {
        throw new InvalidRequestError('the store cannot remove this card')
      },
    }
    const report = await createCardSync({ provider, store: refusing }).reconcile(alice)
    expect(report.failed).toEqual([
      {
        owner: alice,
        source: 'store',
        code: 'invalid_request',
        message: 'the store cannot remove this card',
      },
    ])
    expect(await store.get(scope(alice), ghost.id)).not.toBeNull()
  })

  it("fails with the owners' own error, once the owners in flight are done", async () => {
    const broken = new Error('cursor lost')
    let finished = 0
    // 30 owners, then the cursor fails: the first 24 (3 × 8, one read ahead) are handed out.
    async function* owners(): AsyncGenerator<Owner> {
      for (let index = 0; index < 30; index++) yield { type: 'customer', id: `cus_${index}` }
      throw broken
    }
    const slow = wrapProvider(provider, {
      listCards: async () => {
        await new Promise((resolve) => setTimeout(resolve, 5))
      },
    })
    const failing = createCardSync({ provider: slow, store }).reconcile(owners(), {
      concurrency: 3,
      onOwner: () => {
        finished++
      },
    })
    await expect(failing).rejects.toBe(broken)
    // None of them is still being worked on when reconcile rejects.
    expect(finished).toBe(24)
  })

  it('rejects at once when onOwner throws while the owners given wait for their next one, and works on none given after', async () => {
    await provider.createCard(alice, { source: 'tok_visa' })
    await provider.createCard(bob, { source: 'tok_visa' })
    const gate = deferred<void>()
    const threw = deferred<void>()
    let closed = false
    async function* owners(): AsyncGenerator<Owner> {
      try {
        yield alice
        // A slow source (a queue): bob comes when the gate opens, after alice failed the run.
        await gate.promise
        yield bob
      } finally {
        closed = true
      }
    }
    const thrown = new Error('the progress bar broke')
    const listCards = vi.fn(provider.listCards)
    const listByOwners = vi.spyOn(store, 'listByOwners')
    const onOwner = vi.fn((owner: Owner) => {
      if (owner.id !== alice.id) return
      threw.resolve()
      throw thrown
    })
    const run = createCardSync({ provider: { ...provider, listCards }, store }).reconcile(
      owners(),
      { onOwner },
    )
    const outcome = run.then(
      () => 'resolved',
      (error: unknown) => error,
    )
    await threw.promise
    // The gate stays shut: a run that waited for bob would still be pending after these turns.
    expect(await settledWithin(outcome, 10)).toBe(thrown)
    gate.resolve()
    await turns(10)
    // Bob, given after the failure, was neither read nor written, and onOwner not called again.
    expect(onOwner).toHaveBeenCalledTimes(1)
    expect(listCards.mock.calls.map(([owner]) => owner.id)).toEqual([alice.id])
    // Nor its stored cards read ahead, from a store the caller may have closed by then.
    const readAhead = listByOwners.mock.calls.flatMap(([scopes]) => scopes.map((s) => s.owner.id))
    expect(readAhead).toEqual([alice.id])
    expect(await store.listByOwner(scope(bob))).toEqual([])
    // Closed once its read let it be, as on an abort.
    expect(closed).toBe(true)
  })

  it('rejects with what onDrift throws while the owners given never give another', async () => {
    await provider.createCard(alice, { source: 'tok_visa' })
    const never = deferred<void>()
    const threw = deferred<void>()
    async function* owners(): AsyncGenerator<Owner> {
      yield alice
      // A queue no producer pushes to again.
      await never.promise
    }
    const thrown = new Error('the log sink is down')
    const run = sync.reconcile(owners(), {
      onDrift: () => {
        threw.resolve()
        throw thrown
      },
    })
    const outcome = run.then(
      () => 'resolved',
      (error: unknown) => error,
    )
    await threw.promise
    expect(await settledWithin(outcome, 10)).toBe(thrown)
    never.resolve()
  })

  it('refuses options that are not options', async () => {
    for (const options of [{ dryRun: 'yes' }, { onOwner: 'log' }, { signal: {} }, 42]) {
      const error = await rejection(sync.reconcile(alice, options as never))
      expect(error.code).toBe('invalid_request')
    }
  })

  it('refuses an option it does not know, before anything is read: a misspelt dryRun would write', async () => {
    await drift(alice)
    const before = await store.listByOwner(scope(alice))
    const error = await rejection(sync.reconcile(alice, { dryrun: true } as never))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toContain('Invalid reconcile options')
    expect(await store.listByOwner(scope(alice))).toEqual(before)
    // The sync's own options, and those of its other calls, alike.
    const misspelt = (() => {
      try {
        createCardSync({ provider, store, concurency: 8 } as never)
      } catch (thrown) {
        return thrown as { code?: string; message?: string }
      }
    })()
    expect(misspelt?.code).toBe('invalid_request')
    expect(misspelt?.message).toContain('Invalid createCardSync options')
    const card = await provider.createCard(bob, { source: 'tok_visa' })
    const given = await rejection(sync.syncFromProviderData(bob, card, { observed: 1 } as never))
    expect(given.code).toBe('invalid_request')
    const keyed = await rejection(
      sync.setDefaultCard(bob, 'tok_amex', { idempotency_key: 'order-1' } as never),
    )
    expect(keyed.code).toBe('invalid_request')
    expect(await store.listByOwner(scope(bob))).toEqual([])
    expect(await cardIds(bob)).toEqual([card.id])
  })

  it('reconciles only the owner given, even one the store does not know yet', async () => {
    await drift(alice)
    const card = await provider.createCard(bob, { source: 'tok_visa' })
    const report = await sync.reconcile(bob)
    expect(report).toMatchObject({
      owners: 1,
      added: [{ owner: bob, cardId: card.id }],
      defaultRepaired: [{ owner: bob, cardId: card.id }],
    })
    await expectStoreEqualsProvider(bob, [{ id: card.id, isDefault: true, last4: '4242' }])
    // Alice's drift is untouched.
    expect((await store.getDefault(scope(alice)))?.id).toBe('card_ghost_cus_alice')
  })

  it('accepts a list of owners', async () => {
    await drift(alice)
    await drift(bob)
    const report = await sync.reconcile([alice, bob])
    expect(report.owners).toBe(2)
    await expectStoreEqualsProvider(alice)
    await expectStoreEqualsProvider(bob)
  })

  describe('an owner given more than once is reconciled once', () => {
    /** A sync over the test's provider noting, for each owner listed, its id. */
    const listing = () => {
      const listed: string[] = []
      const watched = createCardSync({
        provider: wrapProvider(provider, {
          listCards: async (owner) => {
            listed.push(`${owner.type}:${owner.id}`)
          },
        }),
        store,
      })
      return { listed, watched }
    }
    /** What a dry run finds for alice and bob, each reconciled once. */
    const once = async () => {
      const report = await sync.reconcile([alice, bob], { dryRun: true })
      expect(report.owners).toBe(2)
      return report
    }

    it('in an array: each owner once, the report counting it once, however often it is given', async () => {
      await drift(alice)
      await drift(bob)
      const expected = await once()
      const { listed, watched } = listing()
      const done = vi.fn()
      // A copy is the same owner: owners are compared by type and id.
      const report = await watched.reconcile([alice, bob, alice, { ...alice }, bob, alice], {
        onOwner: done,
      })
      expect({ ...report, dryRun: true }).toEqual(expected)
      expect(listed.sort()).toEqual([`customer:${alice.id}`, `customer:${bob.id}`])
      expect(done).toHaveBeenCalledTimes(2)
      await expectStoreEqualsProvider(alice)
      await expectStoreEqualsProvider(bob)
    })

    it('in an async iterable: an owner given again while it is read, or soon after, once', async () => {
      await drift(alice)
      await drift(bob)
      const expected = await once()
      const { listed, watched } = listing()
      async function* owners() {
        yield alice
        yield { ...alice }
        yield bob
        // After alice's run is over: the owners of a slow source, one at a time.
        await new Promise((resolve) => setTimeout(resolve, 20))
        yield alice
        yield bob
      }
      const report = await watched.reconcile(owners())
      expect({ ...report, dryRun: true }).toEqual(expected)
      expect(listed.sort()).toEqual([`customer:${alice.id}`, `customer:${bob.id}`])
    })

    it(`in an async iterable: again once ${REMEMBERED_OWNERS} other owners are done since it was given`, async () => {
      const { listed, watched } = listing()
      let done = 0
      const othersDone = deferred<void>()
      async function* owners(): AsyncGenerator<Owner> {
        yield alice
        for (let index = 0; index < REMEMBERED_OWNERS; index++) {
          yield { type: 'customer', id: `cus_${index}` }
        }
        // Alice is given again once every other owner is done: she is the one forgotten.
        await othersDone.promise
        yield alice
      }
      const report = await watched.reconcile(owners(), {
        dryRun: true,
        onOwner: () => {
          if (++done === REMEMBERED_OWNERS + 1) othersDone.resolve()
        },
      })
      expect(listed.filter((owner) => owner === `customer:${alice.id}`)).toHaveLength(2)
      expect(report.owners).toBe(REMEMBERED_OWNERS + 2)
    })

    it('one id under both owner types is two owners, each reconciled', async () => {
      const customer: Owner = { type: 'customer', id: 'same_id' }
      const account: Owner = { type: 'account', id: 'same_id' }
      const { listed, watched } = listing()
      const report = await watched.reconcile([customer, account, customer])
      expect(report.owners).toBe(2)
      expect(listed.sort()).toEqual(['account:same_id', 'customer:same_id'])
    })
  })

  it('waits out rate_limited with retryAfterMs, through the injected sleep, then succeeds', async () => {
    await drift(alice)
    const limited = rateLimitedOnce(provider, 1234)
    const sleep = vi.fn(async (_ms: number) => {})
    const report = await createCardSync({ provider: limited, store, retry: { sleep } }).reconcile(
      alice,
    )
    expect(sleep.mock.calls).toEqual([[1234]])
    expect(report.failed).toEqual([])
    expect(report.owners).toBe(1)
    expect(report.added).toHaveLength(1)
    await expectStoreEqualsProvider(alice)
  })

  it("stops at once when the run's signal aborts during a custom sleep's wait before a retry", async () => {
    await drift(alice)
    // An hour's Retry-After, far past the test's timeout: only the abort can end the run in
    // time. No duration is measured.
    const hour = 3_600_000
    const limited = rateLimitedOnce(provider, hour)
    const controller = new AbortController()
    const reason = new Error('shutting down')
    // The caller's own sleep, deaf to any signal: the Retry-After really waited.
    let timer: NodeJS.Timeout | undefined
    let sleeping = () => {}
    const asleep = new Promise<void>((resolve) => {
      sleeping = resolve
    })
    const sleep = vi.fn(
      (ms: number, _signal?: AbortSignal) =>
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, ms)
          sleeping()
        }),
    )
    try {
      const run = createCardSync({
        provider: limited,
        store,
        retry: { sleep, maxDelayMs: hour },
      }).reconcile(alice, { signal: controller.signal })
      await asleep
      expect(sleep).toHaveBeenCalledTimes(1)
      expect(sleep.mock.calls[0]?.[0]).toBe(hour)
      // The sleep is handed the run's signal, to clear its timer.
      expect(sleep.mock.calls[0]?.[1]).toBeInstanceOf(AbortSignal)
      controller.abort(reason)
      await expect(run).rejects.toBe(reason)
    } finally {
      clearTimeout(timer)
    }
  })

  it('reports an owner that keeps failing, after its retries, and goes on with the others', async () => {
    await drift(alice)
    await drift(bob)
    const failing = wrapProvider(provider, {
      listCards: async (owner) => {
        if (owner.id === alice.id) throw new ProviderUnavailableError('down', { provider: 'x' })
        return undefined
      },
    })
    const sleep = vi.fn(async (_ms: number) => {})
    const report = await createCardSync({
      provider: failing,
      store,
      retry: { sleep, retries: 2, random: () => 0.5 },
    }).reconcile([alice, bob])
    expect(report.failed).toEqual([
      { owner: alice, source: 'provider', code: 'provider_unavailable', message: 'down' },
    ])
    // Full jitter at random() = 0.5: half of 250 ms, then half of 500 ms.
    expect(sleep.mock.calls).toEqual([[125], [250]])
    expect(report.owners).toBe(2)
    await expectStoreEqualsProvider(bob)
    expect((await store.getDefault(scope(alice)))?.id).toBe('card_ghost_cus_alice')
  })

  it("stops the run, as its own signal does, when createCardSync's retry.signal aborts", async () => {
    await drift(alice)
    await drift(bob)
    const reads: string[] = []
    const failing = wrapProvider(provider, {
      listCards: async (owner) => {
        reads.push(owner.id)
        if (owner.id === alice.id) throw new ProviderUnavailableError('down', { provider: 'x' })
        return undefined
      },
    })
    const controller = new AbortController()
    const reason = new Error('shutting down')
    const sleep = vi.fn(async (_ms: number) => controller.abort(reason))
    const changes: DriftChange[] = []
    const sync = createCardSync({
      provider: failing,
      store,
      concurrency: 1,
      retry: { sleep, retries: 5, signal: controller.signal },
    })
    const bobBefore = await store.listByOwner(scope(bob))
    // Not every owner left recorded as failed with the reason's message: the run rejects with it.
    await expect(
      sync.reconcile([alice, bob], { onDrift: (change) => changes.push(change) }),
    ).rejects.toBe(reason)
    // Alice was tried once; Bob, whose read may have begun before the abort, is written nothing.
    expect(reads.filter((id) => id === alice.id)).toHaveLength(1)
    expect(changes).toEqual([])
    expect(await store.listByOwner(scope(bob))).toEqual(bobBefore)
    // Aborted already: the next run reads nothing.
    const readsBefore = reads.length
    await expect(sync.reconcile()).rejects.toBe(reason)
    expect(reads).toHaveLength(readsBefore)
  })

  describe('an owner the provider answers owner_not_found for', () => {
    const answering = (error: OwnerNotFoundError): CardProvider => ({
      ...provider,
      listCards: async () => {
        throw error
      },
    })

    it('is a failure when merely unknown: a wrong key knows no owner, and the cards stay', async () => {
      await drift(alice)
      const before = await store.listByOwner(scope(alice))
      const unknown = new OwnerNotFoundError('No such customer', { provider: provider.name })
      const report = await createCardSync({ provider: answering(unknown), store }).reconcile(alice)
      expect(report.failed).toEqual([
        { owner: alice, source: 'provider', code: 'owner_not_found', message: 'No such customer' },
      ])
      expect(report.removed).toEqual([])
      expect(await store.listByOwner(scope(alice))).toEqual(before)
    })

    it('holds no cards when the provider says it was deleted: its cards are removed', async () => {
      await drift(alice)
      const deleted = new OwnerNotFoundError('the customer was deleted', {
        provider: provider.name,
        details: { ownerDeleted: true },
      })
      const report = await createCardSync({ provider: answering(deleted), store }).reconcile(alice)
      expect(report.failed).toEqual([])
      expect(report.removed.map((entry) => entry.owner)).toEqual([alice, alice, alice])
      expect(await store.listByOwner(scope(alice))).toEqual([])
    })

    it('holds no cards when it was deleted while its pages were read: the cards listed before go too', async () => {
      const { a, b, ghost } = await drift(alice)
      // More than a batch (100) on the first page: they are written before the second page.
      for (let i = 0; i < 120; i++) await provider.createCard(alice, { source: 'tok_visa' })
      const deleted = new OwnerNotFoundError('the customer was deleted', {
        provider: provider.name,
        details: { ownerDeleted: true },
      })
      const deletedAfterOnePage: CardProvider = {
        ...provider,
        listCards: async (owner, options) => {
          if (options?.cursor !== undefined) throw deleted
          return provider.listCards(owner, options)
        },
      }
      const report = await createCardSync({ provider: deletedAfterOnePage, store }).reconcile(alice)
      expect(await store.listByOwner(scope(alice))).toEqual([])
      expect(report.failed).toEqual([])
      expect(report.added).toEqual([])
      expect(report.updated).toEqual([])
      expect(report.cardsSeen).toBe(0)
      expect(report.removed.map((entry) => entry.cardId).sort()).toEqual(
        [a.id, b.id, ghost.id].sort(),
      )
      expect(report.defaultRepaired).toEqual([{ owner: alice, cardId: null }])
    })

    /** The provider, its first page saying more comes, and the owner deleted before the next. */
    const deletedAfterFirstPage = (): CardProvider => ({
      ...provider,
      listCards: async (owner, options) => {
        if (options?.cursor !== undefined) {
          throw new OwnerNotFoundError('the customer was deleted', {
            provider: provider.name,
            details: { ownerDeleted: true },
          })
        }
        return { ...(await provider.listCards(owner, options)), hasMore: true, nextCursor: 'more' }
      },
    })

    it('holds no cards when it was deleted after a page that listed its stored default, changed: nothing of that page is reported', async () => {
      const stored = await sync.setDefaultCard(alice, 'tok_visa')
      await provider.updateCard(alice, stored.id, { holderName: 'Changed at the provider' })
      const report = await createCardSync({ provider: deletedAfterFirstPage(), store }).reconcile(
        alice,
      )
      expect(await store.listByOwner(scope(alice))).toEqual([])
      expect(report.failed).toEqual([])
      expect(report.updated).toEqual([])
      expect(report.removed).toEqual([{ owner: alice, cardId: stored.id }])
      expect(report.defaultRepaired).toEqual([{ owner: alice, cardId: null }])
    })

    it('changes nothing on a dry run when it was deleted after a page that listed cards never stored', async () => {
      await sync.setDefaultCard(alice, 'tok_visa')
      const unstored = await provider.createCard(alice, { source: 'tok_amex' })
      const before = await store.listByOwner(scope(alice))
      const report = await createCardSync({ provider: deletedAfterFirstPage(), store }).reconcile(
        alice,
        { dryRun: true },
      )
      expect(report.failed).toEqual([])
      expect(report.added).toEqual([])
      expect(await store.listByOwner(scope(alice))).toEqual(before)
      // No deletion of it was written either: a state of it observed a minute ago still applies.
      const late = await store.upsert(unstored, { observedAt: Date.now() - 60_000 })
      expect(late.applied).toBe(true)
    })
  })

  it("stops an owner between two pages when the run's signal aborts, and removes nothing", async () => {
    const { ghost } = await drift(alice)
    const controller = new AbortController()
    let pages = 0
    const paging: CardProvider = {
      ...provider,
      // One card a page, and Ctrl+C while the first is read.
      listCards: async (owner, options) => {
        pages++
        controller.abort(new Error('interrupted'))
        return provider.listCards(owner, { ...options, limit: 1 })
      },
    }
    await expect(
      createCardSync({ provider: paging, store }).reconcile(alice, { signal: controller.signal }),
    ).rejects.toThrow('interrupted')
    expect(pages).toBe(1)
    expect((await store.get(scope(alice), ghost.id))?.id).toBe(ghost.id)
  })

  describe('stopped by its signal', () => {
    /** The store, writing down the name of each method called. */
    function recordingStore() {
      const calls: string[] = []
      const recorded = Object.fromEntries(
        Object.entries(store).map(([name, value]) => [
          name,
          typeof value === 'function'
            ? (...args: unknown[]) => {
                calls.push(name)
                return value.apply(store, args)
              }
            : value,
        ]),
      ) as unknown as CardStore
      return { recorded, calls }
    }

    /**
     * Reconciles alice's drift (see `drift`) through `listCards`, made with the run's controller
     * and the abort's reason, and expects the run to reject with the reason and the store to be
     * as it was: nothing removed (the ghost), added (d) or repaired (a), no drift reported.
     */
    async function expectNothingWrittenOnAbort(
      listCards: (controller: AbortController, reason: Error) => CardProvider['listCards'],
    ) {
      const { a, d, ghost } = await drift(alice)
      const before = await store.listByOwner(scope(alice))
      const controller = new AbortController()
      const reason = new Error('interrupted')
      const aborting: CardProvider = { ...provider, listCards: listCards(controller, reason) }
      const onDrift = vi.fn()
      const run = createCardSync({ provider: aborting, store }).reconcile(alice, {
        signal: controller.signal,
        onDrift,
      })
      await expect(run).rejects.toBe(reason)
      expect(await store.listByOwner(scope(alice))).toEqual(before)
      expect(await store.get(scope(alice), ghost.id)).not.toBeNull()
      expect(await store.get(scope(alice), d.id)).toBeNull()
      expect((await store.get(scope(alice), a.id))?.isDefault).toBe(false)
      expect(onDrift).not.toHaveBeenCalled()
    }

    it("writes nothing of an owner whose last page was on its way when it aborted, and rejects with the signal's reason", async () => {
      // Ctrl+C while the owner's one page is read: it arrives afterwards all the same.
      await expectNothingWrittenOnAbort((controller, reason) => async (owner, options) => {
        controller.abort(reason)
        return provider.listCards(owner, options)
      })
    })

    it("writes nothing of an owner when it aborts in the turn after the owner's last page came", async () => {
      // One card a page. Ctrl+C just after the last page came: in the next turn of the event
      // loop, once its cards are read, before they are written.
      await expectNothingWrittenOnAbort((controller, reason) => async (owner, options) => {
        const page = await provider.listCards(owner, { ...options, limit: 1 })
        if (!page.hasMore) setImmediate(() => controller.abort(reason))
        return page
      })
    })

    it('rejects when it aborts after the last owner is done, rather than resolving', async () => {
      await drift(alice)
      const controller = new AbortController()
      const run = sync.reconcile(alice, {
        signal: controller.signal,
        onOwner: () => controller.abort(new Error('interrupted')),
      })
      await expect(run).rejects.toThrow('interrupted')
    })

    it('reads nothing, of the store or the provider, with a signal aborted already', async () => {
      await drift(alice)
      const { recorded, calls } = recordingStore()
      const listCards = vi.fn(provider.listCards)
      const controller = new AbortController()
      const reason = new Error('stopped before it started')
      controller.abort(reason)
      const run = createCardSync({ provider: { ...provider, listCards }, store: recorded })
      await expect(run.reconcile(undefined, { signal: controller.signal })).rejects.toBe(reason)
      expect(calls).toEqual([])
      expect(listCards).not.toHaveBeenCalled()
    })

    it('stops at once while it waits for the next owner, and closes the owners once they let it', async () => {
      await drift(alice)
      let release!: () => void
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      let closed = false
      let closing = () => {}
      const generatorClosed = new Promise<void>((resolve) => {
        closing = resolve
      })
      let waiting!: () => void
      const waits = new Promise<void>((resolve) => {
        waiting = resolve
      })
      async function* owners() {
        try {
          yield alice
          // A slow source (a queue, a paged read elsewhere): the next owner comes when the gate
          // opens, never in a job that hangs.
          waiting()
          await gate
          yield bob
        } finally {
          closed = true
          closing()
        }
      }
      const controller = new AbortController()
      const run = sync.reconcile(owners(), { signal: controller.signal })
      await waits
      controller.abort(new Error('interrupted'))
      // The gate stays shut: a run that waited for it would never settle, and the test's
      // timeout fails it.
      await expect(run).rejects.toThrow('interrupted')
      // The generator is waiting in `await gate`: it can be closed only once that ends.
      expect(closed).toBe(false)
      release()
      await generatorClosed
      expect(await store.listByOwner(scope(bob))).toEqual([])
    })

    it("listens to the caller's signal (and retry.signal) once, however many owners wait at once, and lets go of it", async () => {
      const owners = customers(40)
      for (const owner of owners) await drift(owner)
      /** A signal that counts its listeners: now, and the most at once. */
      const counted = () => {
        const { signal } = new AbortController()
        const count = { listening: 0, most: 0 }
        const add = signal.addEventListener.bind(signal)
        const remove = signal.removeEventListener.bind(signal)
        signal.addEventListener = ((...args: Parameters<typeof add>) => {
          count.most = Math.max(count.most, ++count.listening)
          add(...args)
        }) as typeof add
        signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
          count.listening--
          remove(...args)
        }) as typeof remove
        return { signal, count }
      }
      const run = counted()
      const sync = counted()
      const slow: CardProvider = {
        ...provider,
        // Pages that take a while: many owners wait for theirs at once.
        listCards: async (owner, options) => {
          await new Promise((resolve) => setTimeout(resolve, 5))
          return provider.listCards(owner, options)
        },
      }
      const report = await createCardSync({
        provider: slow,
        store,
        retry: { signal: sync.signal },
      }).reconcile(owners, { signal: run.signal, concurrency: 16 })
      expect(report.owners).toBe(40)
      // More than 10 listeners at once, and Node prints a MaxListenersExceededWarning (on the
      // CLI's stderr); one left behind per run adds up over the runs of a long-lived signal.
      expect(run.count).toEqual({ listening: 0, most: 1 })
      expect(sync.count).toEqual({ listening: 0, most: 1 })
    })

    it('removes no more cards once it aborts while removing the ones the provider no longer holds', async () => {
      const card = await addCard(alice, 'tok_visa')
      const stale = Array.from({ length: 5 }, (_, index) => `card_stale_${index}`)
      for (const id of stale)
        await store.upsert({ ...card, id, isDefault: false }, { observedAt: 1 })
      const controller = new AbortController()
      const reason = new Error('interrupted')
      const deleted: string[] = []
      const aborting: CardStore = {
        ...store,
        // Ctrl+C while the first stale card is being removed.
        delete: async (...args) => {
          deleted.push(args[1])
          controller.abort(reason)
          return store.delete(...args)
        },
      }
      const run = createCardSync({ provider, store: aborting }).reconcile(alice, {
        signal: controller.signal,
      })
      await expect(run).rejects.toBe(reason)
      expect(deleted).toHaveLength(1)
      const left = (await store.listByOwner(scope(alice))).map(({ id }) => id)
      expect(left.sort()).toEqual([card.id, ...stale.filter((id) => id !== deleted[0])].sort())
    })

    it("repairs no default once it aborts while removing an owner's last stored card", async () => {
      // The stored default is gone at the provider: it is removed, and the store's defaults
      // cleared after it.
      const card = await sync.setDefaultCard(alice, 'tok_visa')
      await provider.deleteCard(alice, card.id)
      const controller = new AbortController()
      const reason = new Error('interrupted')
      const setDefault = vi.fn(store.setDefault)
      const aborting: CardStore = {
        ...store,
        setDefault,
        // Ctrl+C while the card is being removed.
        delete: async (...args) => {
          controller.abort(reason)
          return store.delete(...args)
        },
      }
      const run = createCardSync({ provider, store: aborting }).reconcile(alice, {
        signal: controller.signal,
      })
      await expect(run).rejects.toBe(reason)
      expect(setDefault).not.toHaveBeenCalled()
    })

    it('removes no more cards of an owner deleted while its pages were read once it aborts', async () => {
      const deleted = new OwnerNotFoundError('the customer was deleted', {
        provider: provider.name,
        details: { ownerDeleted: true },
      })
      for (let i = 0; i < 4; i++) await provider.createCard(alice, { source: 'tok_visa' })
      const deletedAfterOnePage: CardProvider = {
        ...provider,
        // Three cards on the first page; the owner is gone by the second: they are removed.
        listCards: async (owner, options) => {
          if (options?.cursor !== undefined) throw deleted
          return provider.listCards(owner, { ...options, limit: 3 })
        },
      }
      const controller = new AbortController()
      const reason = new Error('interrupted')
      let deletes = 0
      const aborting: CardStore = {
        ...store,
        delete: async (...args) => {
          deletes++
          controller.abort(reason)
          return store.delete(...args)
        },
      }
      const run = createCardSync({ provider: deletedAfterOnePage, store: aborting }).reconcile(
        alice,
        { signal: controller.signal },
      )
      await expect(run).rejects.toBe(reason)
      expect(deletes).toBe(1)
      expect(await store.listByOwner(scope(alice))).toEqual([])
    })

    it("stops at once while a page is on its way: the page's answer is dropped", async () => {
      const { ghost } = await drift(alice)
      const before = await store.listByOwner(scope(alice))
      let answer!: () => void
      const held = new Promise<void>((resolve) => {
        answer = resolve
      })
      const controller = new AbortController()
      const slow: CardProvider = {
        ...provider,
        // A request that hangs until its timeout (30 s in the CLI), then answers.
        listCards: async (owner, options) => {
          controller.abort(new Error('interrupted'))
          await held
          return provider.listCards(owner, options)
        },
      }
      const run = createCardSync({ provider: slow, store }).reconcile(alice, {
        signal: controller.signal,
      })
      // The page stays held: a run that waited for it would never settle.
      await expect(run).rejects.toThrow('interrupted')
      answer()
      // Turns of the event loop, not a time: the dropped page's work, were it not dropped, is
      // in-process and comes within them however slow the machine.
      for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve))
      expect(await store.listByOwner(scope(alice))).toEqual(before)
      expect(await store.get(scope(alice), ghost.id)).not.toBeNull()
    })
  })

  describe('reads the stored cards of its owners ahead, many owners a read', () => {
    /** The store, counting its reads; `replaced.listByOwners` instead of its own, if given. */
    function countingStore(replaced?: Pick<CardStore, 'listByOwners'>) {
      const reads = { listByOwner: 0, listByOwners: [] as number[] }
      const counted: CardStore = {
        ...store,
        async listByOwner(owner) {
          reads.listByOwner++
          return store.listByOwner(owner)
        },
        listByOwners: replaced
          ? replaced.listByOwners
          : async (scopes) => {
              reads.listByOwners.push(scopes.length)
              return store.listByOwners!(scopes)
            },
      }
      return { counted, reads }
    }
    const owners = customers(20)

    it('reads `concurrency × 8` owners a listByOwners, and no owner on its own', async () => {
      for (const owner of owners) await drift(owner)
      const { counted, reads } = countingStore()
      const report = await createCardSync({ provider, store: counted }).reconcile(owners, {
        concurrency: 2,
      })
      expect(reads).toEqual({ listByOwner: 0, listByOwners: [16, 4] })
      expect(report.removed).toHaveLength(20)
      for (const owner of owners) await expectStoreEqualsProvider(owner)
      // As many from a source that has its owners at hand: the store's own listing, a generator.
      async function* generated() {
        yield* owners
      }
      for (const source of [undefined, generated()]) {
        reads.listByOwners.length = 0
        await createCardSync({ provider, store: counted }).reconcile(source, { concurrency: 2 })
        expect(reads).toEqual({ listByOwner: 0, listByOwners: [16, 4] })
      }
    })

    it('starts on the owners a slow source has given, without waiting for a full read-ahead', async () => {
      const card = await provider.createCard(alice, { source: 'tok_visa' })
      const later = await provider.createCard(bob, { source: 'tok_visa' })
      let aliceStored!: () => void
      const seen = new Promise<void>((resolve) => {
        aliceStored = resolve
      })
      const { counted, reads } = countingStore()
      const watched: CardStore = {
        ...counted,
        upsertMany: async (cards, options) => {
          await store.upsertMany(cards, options)
          if (cards.some((written) => written.id === card.id)) aliceStored()
        },
      }
      // A paged listing of customers elsewhere: the next owner comes only once alice's cards
      // are stored, which a run that waits for 32 owners before its first would never do.
      async function* owners() {
        yield alice
        await seen
        yield bob
      }
      const report = await createCardSync({ provider, store: watched }).reconcile(owners())
      expect(report.added).toEqual([
        { owner: alice, cardId: card.id },
        { owner: bob, cardId: later.id },
      ])
      expect(reads).toEqual({ listByOwner: 0, listByOwners: [1, 1] })
    })

    it('stops without waiting for a slow source whose next owner it was reading ahead', async () => {
      let openGate!: () => void
      const gate = new Promise<void>((resolve) => {
        openGate = resolve
      })
      let atGate!: () => void
      const waiting = new Promise<void>((resolve) => {
        atGate = resolve
      })
      let closed!: () => void
      const generatorClosed = new Promise<void>((resolve) => {
        closed = resolve
      })
      const given = customers(9)
      // Five owners, three a turn later, then a wait: every one of the run's 8 places is taken,
      // and the read of the ninth is on its way when the run stops.
      async function* owners() {
        try {
          yield* given.slice(0, 5)
          await new Promise((resolve) => setImmediate(resolve))
          yield* given.slice(5, 8)
          atGate()
          await gate
          yield given[8] as Owner
        } finally {
          closed()
        }
      }
      const held = wrapProvider(provider, {
        listCards: async () => {
          await waiting
          return undefined
        },
      })
      const stop = new Error('stop')
      const run = createCardSync({ provider: held, store }).reconcile(owners(), {
        concurrency: 1,
        onOwner: () => {
          throw stop
        },
      })
      // The gate stays shut: a run that waited for the source would never settle.
      await expect(run).rejects.toBe(stop)
      openGate()
      await generatorClosed
      expect(await store.listByOwner(scope(given[8] as Owner))).toEqual([])
    })

    it('reads each owner on its own when the store has no listByOwners, or its read fails', async () => {
      const fails = async (): Promise<never> => {
        throw new Error('connection reset')
      }
      const wrongLength = async () => []
      // A store written by hand over a synchronous driver: it throws before any promise is made,
      // or answers without one.
      const throwsAtOnce = (): never => {
        throw new Error('database closed')
      }
      const noPromise = () => [] as unknown as Promise<never>
      for (const listByOwners of [undefined, fails, wrongLength, throwsAtOnce, noPromise]) {
        for (const owner of owners) await drift(owner)
        const { counted, reads } = countingStore({ listByOwners })
        const report = await createCardSync({ provider, store: counted }).reconcile(owners)
        expect(reads.listByOwner).toBe(20)
        expect(report.removed).toHaveLength(20)
        expect(report.failed).toEqual([])
        for (const owner of owners) await expectStoreEqualsProvider(owner)
      }
    })

    it('reads each owner on its own when the read gives fewer lists than owners', async () => {
      // bob's card is stored and at the provider; alice has none anywhere. A store that leaves
      // out the owners without cards answers one list for two owners: it is not bob's or alice's.
      const card = await addCard(bob, 'tok_visa')
      const { counted, reads } = countingStore({
        listByOwners: async (scopes) =>
          (await store.listByOwners!(scopes)).filter((list) => list.length > 0),
      })
      const report = await createCardSync({ provider, store: counted }).reconcile([alice, bob])
      expect(report).toMatchObject({
        added: [],
        updated: [],
        removed: [],
        defaultRepaired: [],
        failed: [],
      })
      expect(reads.listByOwner).toBe(2)
      expect((await store.get(scope(bob), card.id))?.id).toBe(card.id)
      await expectStoreEqualsProvider(alice)
      await expectStoreEqualsProvider(bob)
    })

    it('reads the store again when it retries an owner: the first try may have written', async () => {
      await drift(alice)
      const limited = rateLimitedOnce(provider, 1)
      const { counted, reads } = countingStore()
      const report = await createCardSync({
        provider: limited,
        store: counted,
        retry: { sleep: async () => {} },
      }).reconcile(alice)
      expect(reads).toEqual({ listByOwner: 1, listByOwners: [1] })
      expect(report.removed).toEqual([{ owner: alice, cardId: 'card_ghost_cus_alice' }])
      await expectStoreEqualsProvider(alice)
    })
  })

  it('does not retry an error that retrying cannot fix', async () => {
    await drift(alice)
    const denied = wrapProvider(provider, {
      listCards: async () => {
        throw new AuthenticationError('bad key')
      },
    })
    const sleep = vi.fn(async (_ms: number) => {})
    const report = await createCardSync({ provider: denied, store, retry: { sleep } }).reconcile(
      alice,
    )
    expect(report.failed).toEqual([
      { owner: alice, source: 'provider', code: 'authentication', message: 'bad key' },
    ])
    expect(sleep).not.toHaveBeenCalled()
  })

  it('a failed owner keeps every stored card and its default; the cards its first pages listed may be written', async () => {
    // What DriftFailure says: nothing is removed nor the default repaired, but the batches
    // handed over before the failure are in the store.
    const { ghost } = await drift(alice)
    for (let i = 0; i < 120; i++) await provider.createCard(alice, { source: 'tok_visa' })
    const failsOnPageTwo: CardProvider = {
      ...provider,
      listCards: async (owner, options) => {
        if (options?.cursor !== undefined) throw new AuthenticationError('key revoked')
        return provider.listCards(owner, options)
      },
    }
    const report = await createCardSync({ provider: failsOnPageTwo, store }).reconcile(alice)
    expect(report.failed).toEqual([
      { owner: alice, source: 'provider', code: 'authentication', message: 'key revoked' },
    ])
    const stored = await store.listByOwner(scope(alice))
    expect(stored.map((card) => card.id)).toContain(ghost.id)
    expect(stored.filter((card) => card.isDefault).map((card) => card.id)).toEqual([ghost.id])
    expect(stored.length).toBeGreaterThanOrEqual(100)
  })

  describe('an owner retried part-way reports what the store held before its first attempt', () => {
    // The failed attempt may have written its first batch (the default in it) or removed cards
    // before the retry reads the store again: the retry's findings are still the store's before.
    /** The provider, except that the first request for a second page fails, retryably. */
    function failsOnceOnPageTwo(inner: CardProvider): CardProvider {
      let failures = 1
      return {
        ...inner,
        listCards: async (owner, options) => {
          if (options?.cursor !== undefined && failures-- > 0) {
            throw new ProviderUnavailableError('connection reset', { provider: inner.name })
          }
          return inner.listCards(owner, options)
        },
      }
    }
    /** Reconciles `target` over a provider whose second page fails once, and counts the retries. */
    async function reconcileRetried(target: CardStore, options: { dryRun?: boolean } = {}) {
      const sleep = vi.fn(async (_ms: number) => {})
      const changes: DriftChange[] = []
      const report = await createCardSync({
        provider: failsOnceOnPageTwo(provider),
        store: target,
        retry: { sleep },
      }).reconcile(alice, { ...options, onDrift: (change) => changes.push(change) })
      return { report, changes, retries: sleep.mock.calls.length }
    }
    /** The ids of the first page of the owner's cards, as reconcile reads them. */
    async function firstPage(owner: Owner): Promise<string[]> {
      return (await provider.listCards(owner, { limit: 100 })).data.map((card) => card.id)
    }
    /** The findings `onDrift` received, as the report lists them. */
    const listed = (changes: DriftChange[], change: DriftChange['change']) =>
      changes.flatMap((entry) =>
        entry.change === change && 'cardId' in entry
          ? [{ owner: entry.owner, cardId: entry.cardId }]
          : [],
      )

    it.each([
      ['on the second page', 0],
      ['on the first page', 149],
    ])(
      'reports every card the store lacked, and the default, with the default %s',
      async (where, makeDefault) => {
        const ids: string[] = []
        for (let i = 0; i < 150; i++) {
          const card = await provider.createCard(alice, {
            source: 'tok_visa',
            makeDefault: i === makeDefault,
          })
          ids.push(card.id)
        }
        const defaultId = ids[makeDefault]
        expect((await firstPage(alice)).includes(defaultId!)).toBe(where === 'on the first page')

        const { report, changes, retries } = await reconcileRetried(store)
        expect(retries).toBe(1)
        expect(report.counts).toEqual({
          added: 150,
          updated: 0,
          removed: 0,
          defaultRepaired: 1,
          failed: 0,
        })
        expect(report.cardsSeen).toBe(150)
        expect(report.added.map((entry) => entry.cardId).sort()).toEqual([...ids].sort())
        expect(report.defaultRepaired).toEqual([{ owner: alice, cardId: defaultId }])
        expect(listed(changes, 'added')).toEqual(report.added)
        expect(listed(changes, 'defaultRepaired')).toEqual(report.defaultRepaired)
        await expectStoreEqualsProvider(alice)
      },
    )

    it('reports a card of the first page that changed, once, as updated', async () => {
      for (let i = 0; i < 150; i++) await provider.createCard(alice, { source: 'tok_visa' })
      // The first page fills a batch (the changed card and 99 the store lacks), which the failed
      // attempt writes.
      const [changed] = await firstPage(alice)
      await sync.sync(alice, changed!)
      await provider.updateCard(alice, changed!, { holderName: 'Changed at the provider' })
      expect(await firstPage(alice)).toContain(changed)

      const { report, changes, retries } = await reconcileRetried(store)
      expect(retries).toBe(1)
      expect(report.counts).toEqual({
        added: 149,
        updated: 1,
        removed: 0,
        defaultRepaired: 1,
        failed: 0,
      })
      expect(report.updated).toEqual([{ owner: alice, cardId: changed }])
      expect(listed(changes, 'updated')).toEqual(report.updated)
      expect(report.added.map((entry) => entry.cardId)).not.toContain(changed)
      expect((await store.get(scope(alice), changed!))?.holderName).toBe('Changed at the provider')
      await expectStoreEqualsProvider(alice)
    })

    it('reports a card that the failed attempt removed already', async () => {
      // Removals come last, once every page is read: a store that fails on the second of them.
      await sync.setDefaultCard(alice, 'tok_visa')
      const ghosts = ['card_ghost_1', 'card_ghost_2']
      for (const id of ghosts) await store.upsert(sampleCard(id, alice))
      let deletes = 0
      const failing: CardStore = {
        ...store,
        delete: async (...args) => {
          if (++deletes === 2) throw new ProviderUnavailableError('connection reset')
          return store.delete(...args)
        },
      }
      const sleep = vi.fn(async (_ms: number) => {})
      const changes: DriftChange[] = []
      const report = await createCardSync({
        provider,
        store: failing,
        retry: { sleep },
      }).reconcile(alice, { onDrift: (change) => changes.push(change) })
      expect(sleep).toHaveBeenCalledTimes(1)
      expect(report.counts).toEqual({
        added: 0,
        updated: 0,
        removed: 2,
        defaultRepaired: 0,
        failed: 0,
      })
      expect(report.removed.map((entry) => entry.cardId).sort()).toEqual(ghosts)
      expect(listed(changes, 'removed')).toEqual(report.removed)
      await expectStoreEqualsProvider(alice)
    })

    it.each([
      ['a run', false],
      ['a dry run', true],
    ])('reports what %s without the fault reports', async (_, dryRun) => {
      // Every finding at once: added (on both pages), updated, removed and the default.
      await drift(alice)
      for (let i = 0; i < 150; i++) await provider.createCard(alice, { source: 'tok_visa' })
      const [onPageOne] = await firstPage(alice)
      await sync.sync(alice, onPageOne!)
      await provider.updateCard(alice, onPageOne!, { holderName: 'Changed at the provider' })
      // The same store, for the run without the fault: the same cards, in the same order.
      const control = memoryStore()
      const held = await store.listByOwner(scope(alice))
      await control.upsertMany([...held].reverse())
      const summary = (cards: Card[]) =>
        cards.map(({ id, isDefault, holderName }) => ({ id, isDefault, holderName }))
      expect(summary(await control.listByOwner(scope(alice)))).toEqual(summary(held))

      const changes: DriftChange[] = []
      const expected = await createCardSync({ provider, store: control }).reconcile(alice, {
        dryRun,
        onDrift: (change) => changes.push(change),
      })
      expect(expected.counts).toEqual({
        added: 150,
        updated: 2,
        removed: 1,
        defaultRepaired: 1,
        failed: 0,
      })

      const retried = await reconcileRetried(store, { dryRun })
      expect(retried.retries).toBe(1)
      expect(retried.report).toEqual(expected)
      expect(retried.changes).toEqual(changes)
      if (!dryRun) await expectStoreEqualsProvider(alice)
    })
  })

  describe('a report of constant size', () => {
    /** Nine owners drifted every way (27 cards), and one whose every read fails. */
    async function driftedOwners() {
      const owners: Owner[] = Array.from({ length: 9 }, (_, index) => ({
        type: 'customer',
        id: `cus_${index}`,
      }))
      for (const owner of owners) await drift(owner)
      const failing = wrapProvider(provider, {
        listCards: async (owner) => {
          if (owner.id === 'cus_down') throw new AuthenticationError('bad key')
          return undefined
        },
      })
      return { owners: [...owners, { type: 'customer', id: 'cus_down' } as Owner], failing }
    }

    const entriesOf = ({ provider, ...report }: DriftReport): DriftChange[] => [
      ...report.added.map((entry) => ({ provider, change: 'added' as const, ...entry })),
      ...report.updated.map((entry) => ({ provider, change: 'updated' as const, ...entry })),
      ...report.removed.map((entry) => ({ provider, change: 'removed' as const, ...entry })),
      ...report.defaultRepaired.map((entry) => ({
        provider,
        change: 'defaultRepaired' as const,
        ...entry,
      })),
      ...report.failed.map((entry) => ({ provider, change: 'failed' as const, ...entry })),
    ]

    it('keeps the first maxEntries of each list, counts them all, and hands every one to onDrift', async () => {
      const { owners, failing } = await driftedOwners()
      const capped = createCardSync({ provider: failing, store })
      const whole = await capped.reconcile(owners, { dryRun: true, maxEntries: Infinity })
      expect(whole.counts).toEqual({
        added: 9,
        updated: 9,
        removed: 9,
        defaultRepaired: 9,
        failed: 1,
      })
      expect(whole.truncated).toBe(false)
      expect(entriesOf(whole)).toHaveLength(37)

      const changes: DriftChange[] = []
      const report = await capped.reconcile(owners, {
        maxEntries: 4,
        onDrift: (change) => changes.push(change),
      })
      expect(report.counts).toEqual(whole.counts)
      expect(report.truncated).toBe(true)
      expect(report.owners).toBe(10)
      expect(report.cardsSeen).toBe(27)
      for (const list of ['added', 'updated', 'removed', 'defaultRepaired'] as const) {
        expect(report[list], list).toHaveLength(4)
      }
      expect(report.failed).toEqual([
        { owner: owners[9], source: 'provider', code: 'authentication', message: 'bad key' },
      ])
      // onDrift saw what the uncapped dry run listed, each once; the lists hold some of it.
      const key = (change: DriftChange) => JSON.stringify(change)
      expect(changes.map(key).sort()).toEqual(entriesOf(whole).map(key).sort())
      expect(changes.map(key)).toEqual(expect.arrayContaining(entriesOf(report).map(key)))
      // The cap bounds the report, never the repair.
      for (const owner of owners.slice(0, 9)) await expectStoreEqualsProvider(owner)
    })

    it('keeps 1,000 entries a list unless told otherwise, and none at maxEntries 0', async () => {
      for (let i = 0; i < 1001; i++) await provider.createCard(alice, { source: 'tok_visa' })
      const report = await sync.reconcile(alice, { dryRun: true })
      expect(report.counts.added).toBe(1001)
      expect(report.added).toHaveLength(1000)
      expect(report.truncated).toBe(true)

      const none = await sync.reconcile(alice, { dryRun: true, maxEntries: 0 })
      expect(none.counts).toMatchObject({ added: 1001, defaultRepaired: 1 })
      expect([none.added, none.defaultRepaired]).toEqual([[], []])
      expect(none.truncated).toBe(true)
    })

    it('hands onDrift the findings of the attempt that succeeded only, once an owner is retried', async () => {
      await sync.setDefaultCard(alice, 'tok_visa')
      const added = [
        await provider.createCard(alice, { source: 'tok_amex' }),
        await provider.createCard(alice, { source: 'tok_mastercard' }),
      ]
      let failures = 1
      const flaky: CardProvider = {
        ...provider,
        // One card a page; the second page of the first attempt is rate limited.
        listCards: async (owner, options) => {
          if (options?.cursor !== undefined && failures-- > 0) {
            throw new RateLimitedError('slow down', { retryAfterMs: 1 })
          }
          return provider.listCards(owner, { ...options, limit: 1 })
        },
      }
      const changes: DriftChange[] = []
      const sleep = vi.fn(async (_ms: number) => {})
      const report = await createCardSync({ provider: flaky, store, retry: { sleep } }).reconcile(
        alice,
        { onDrift: (change) => changes.push(change) },
      )
      expect(sleep).toHaveBeenCalledTimes(1)
      expect(changes.map((change) => change.change === 'added' && change.cardId).sort()).toEqual(
        added.map((one) => one.id).sort(),
      )
      expect(report.counts).toMatchObject({ added: 2, updated: 0, removed: 0, failed: 0 })
      await expectStoreEqualsProvider(alice)
    })

    it('rejects with what onDrift throws, not as a failed owner, and keeps what it wrote', async () => {
      const card = await provider.createCard(alice, { source: 'tok_visa' })
      const thrown = new Error('the log is full')
      const report = sync.reconcile(alice, {
        onDrift: (change) => {
          if (change.change === 'added') throw thrown
        },
      })
      await expect(report).rejects.toBe(thrown)
      expect((await store.get(scope(alice), card.id))?.id).toBe(card.id)
    })

    // A throw of nothing was lost: the run went on, and reconcile resolved as if all went well.
    it.each([
      ['onDrift', undefined],
      ['onDrift', null],
      ['onOwner', undefined],
      ['onOwner', null],
    ] as const)(
      'rejects with invalid_request when %s throws %s, and keeps what it wrote',
      async (callback, thrown) => {
        const card = await provider.createCard(alice, { source: 'tok_visa' })
        await provider.createCard(bob, { source: 'tok_visa' })
        const throwing = () => {
          throw thrown
        }
        const error = await rejection(
          sync.reconcile([alice, bob], { concurrency: 1, [callback]: throwing }),
        )
        expect(error).toMatchObject({ code: 'invalid_request', retryable: false })
        expect(error.message).toContain(`${callback} threw ${thrown}, not an error`)
        expect((await store.get(scope(alice), card.id))?.id).toBe(card.id)
      },
    )

    it.each([undefined, null])(
      'rejects with invalid_request when the owners given throw %s, once the owners in flight are done',
      async (thrown) => {
        let finished = 0
        async function* owners(): AsyncGenerator<Owner> {
          yield alice
          // Later than the turn alice came in: she is worked on before the owners fail.
          await new Promise((resolve) => setTimeout(resolve, 5))
          throw thrown
        }
        const failing = sync.reconcile(owners(), { onOwner: () => void finished++ })
        const error = await rejection(failing)
        expect(error).toMatchObject({ code: 'invalid_request', retryable: false })
        expect(error.message).toContain(`the owners given threw ${thrown}, not an error`)
        expect(finished).toBe(1)
      },
    )

    it.each([undefined, null])(
      "rejects with invalid_request when the store's listOwners throws %s",
      async (thrown) => {
        const listing: CardStore = {
          ...store,
          // biome-ignore lint/correctness/useYield: it fails before its first owner
          listOwners: async function* () {
            throw thrown
          },
        }
        const error = await rejection(createCardSync({ provider, store: listing }).reconcile())
        expect(error).toMatchObject({ code: 'invalid_request', retryable: false })
        expect(error.message).toContain(`the store's listOwners threw ${thrown}, not an error`)
      },
    )

    it.each([
      ['-1', -1],
      ['1.5', 1.5],
      ['NaN', Number.NaN],
      ["'10'", '10'],
    ])('refuses a maxEntries of %s with invalid_request', async (_, bad) => {
      const error = await rejection(sync.reconcile(alice, { maxEntries: bad as number }))
      expect(error.code).toBe('invalid_request')
      expect(error.issues?.map((issue) => issue.path)).toEqual([['maxEntries']])
    })

    it('refuses an onDrift that is not a function', async () => {
      const error = await rejection(sync.reconcile(alice, { onDrift: 'log' as never }))
      expect(error.code).toBe('invalid_request')
      expect(error.issues?.map((issue) => issue.path)).toEqual([['onDrift']])
    })
  })
})

// What a webhook handler or another process stores while CardSync waits for the provider is
// newer than the answer CardSync then gets: CardSync stores that answer as of when it asked
// (`observedAt`), and the newer state keeps its place.
describe('CardSync: a newer state stored while the provider answered', () => {
  /** The other writer, strictly later than CardSync's request (the store compares ms). */
  const meanwhile = async (write: () => Promise<unknown>) => {
    await new Promise((resolve) => setTimeout(resolve, 2))
    await write()
  }
  const now = () => ({ observedAt: Date.now() })

  it('reconcile does not bring back a card deleted meanwhile, nor its default', async () => {
    // The store has not seen `card` yet: the listing finds it new.
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    const other = await provider.createCard(alice, { source: 'tok_amex' })
    await sync.sync(alice, other.id)
    const racing: CardProvider = {
      ...provider,
      async listCards(owner, options) {
        const page = await provider.listCards(owner, options)
        await meanwhile(async () => {
          await provider.deleteCard(owner, card.id)
          await store.delete(scope(owner), card.id, now())
        })
        return page
      },
    }
    const report = await createCardSync({ provider: racing, store }).reconcile(alice)
    expect(report.failed).toEqual([])
    expect(await store.get(scope(alice), card.id)).toBeNull()
    expect((await store.getDefault(scope(alice)))?.id).not.toBe(card.id)
    expect((await provider.getDefaultCard(alice))?.id).toBe(other.id)
  })

  it('sync(owner, id) keeps an update stored meanwhile', async () => {
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    await sync.sync(alice, card.id)
    const racing: CardProvider = {
      ...provider,
      async getCard(owner, cardId) {
        const answer = await provider.getCard(owner, cardId)
        await meanwhile(async () => {
          const renamed = await provider.updateCard(owner, cardId, { holderName: 'Jenny Rosen' })
          await store.upsert(renamed, now())
        })
        return answer
      },
    }
    const stored = await createCardSync({ provider: racing, store }).sync(alice, card.id)
    expect(stored?.holderName).toBe('Jenny Rosen')
    expect((await store.get(scope(alice), card.id))?.holderName).toBe('Jenny Rosen')
  })

  it('setDefaultCard refuses with card_not_found when the new card was deleted meanwhile', async () => {
    const racing: CardProvider = {
      ...provider,
      async createCard(owner, input, options) {
        const card = await provider.createCard(owner, input, options)
        await meanwhile(() => store.delete(scope(owner), card.id, now()))
        return card
      },
    }
    const error = await rejection(
      createCardSync({ provider: racing, store }).setDefaultCard(alice, 'tok_visa'),
    )
    expect(error.code).toBe('card_not_found')
    expect(error.message).toContain('was deleted while it was made the default')
    expect(await store.listByOwner(scope(alice))).toEqual([])
  })

  it('setDefaultCard on a provider that keeps the old default makes the new card the stored default, though an update of the old one was stored meanwhile', async () => {
    // Neither deleted nor invalidated, the old default is read back to learn that it is no
    // longer the default: the write of the new card, as of before the update, cannot displace it.
    const keeping = keepingProvider(provider, { getCard: true })
    const old = await createCardSync({ provider: keeping, store }).setDefaultCard(alice, 'tok_visa')
    const racing: CardProvider = {
      ...keeping,
      async createCard(owner, input, options) {
        // An update of the old default, made just before (a dashboard): its webhook, which
        // names the card the default, is stored as of its delivery, while the card is created.
        const renewed = await provider.updateCard(owner, old.id, { metadata: { plan: 'pro' } })
        const card = await keeping.createCard(owner, input, options)
        await meanwhile(() => store.upsert(renewed, now()))
        return card
      },
    }
    const replacement = await createCardSync({ provider: racing, store }).setDefaultCard(
      alice,
      'tok_mastercard',
    )
    expect(replacement).toMatchObject({ last4: '4444', isDefault: true })
    expect((await store.getDefault(scope(alice)))?.id).toBe(replacement.id)
    expect((await store.get(scope(alice), old.id))?.metadata).toEqual({ plan: 'pro' })
    await expectStoreEqualsProvider(alice, [
      { id: old.id, isDefault: false, last4: '4242' },
      { id: replacement.id, isDefault: true, last4: '4444' },
    ])
  })

  it('setDefaultCard on a provider that made the card no default stores it the default, though the card was stored meanwhile as made', async () => {
    await sync.setDefaultCard(alice, 'tok_visa')
    const racing: CardProvider = {
      ...provider,
      async createCard(owner, input, options) {
        const card = await provider.createCard(owner, { ...input, makeDefault: false }, options)
        // Its webhook, as made (not the default), stored before setDefaultCard is asked.
        let observedAt = 0
        await meanwhile(async () => {
          observedAt = Date.now()
          await store.upsert(card, { observedAt })
        })
        await clockPast(observedAt)
        return card
      },
    }
    const replacement = await createCardSync({ provider: racing, store }).setDefaultCard(
      alice,
      'tok_mastercard',
    )
    expect(replacement).toMatchObject({ last4: '4444', isDefault: true })
    expect((await sync.getForOwner(alice))?.id).toBe(replacement.id)
    await expectStoreEqualsProvider(alice, [{ id: replacement.id, isDefault: true, last4: '4444' }])
  })

  it('reconcile keeps a newer state stored meanwhile of a card its listing, a moment behind, leaves out', async () => {
    await sync.setDefaultCard(alice, 'tok_visa')
    const card = await addCard(alice, 'tok_amex')
    let observedAt = 0
    const lagging: CardProvider = {
      ...provider,
      async listCards(owner, options) {
        const page = await provider.listCards(owner, options)
        await meanwhile(async () => {
          const renamed = await provider.updateCard(owner, card.id, { holderName: 'Jenny Rosen' })
          observedAt = Date.now()
          await store.upsert(renamed, { observedAt })
        })
        // The removal comes strictly later than the update.
        await clockPast(observedAt)
        return { ...page, data: page.data.filter((listed) => listed.id !== card.id) }
      },
    }
    await createCardSync({ provider: lagging, store }).reconcile(alice)
    expect((await store.get(scope(alice), card.id))?.holderName).toBe('Jenny Rosen')
  })

  it('a card deleteCard removed stays removed for a reconcile that listed it before', async () => {
    // Not stored yet: the listing finds it new.
    const card = await provider.createCard(alice, { source: 'tok_visa' })
    const racing: CardProvider = {
      ...provider,
      async listCards(owner, options) {
        const page = await provider.listCards(owner, options)
        await meanwhile(() => sync.deleteCard(owner, card.id))
        return page
      },
    }
    await createCardSync({ provider: racing, store }).reconcile(alice)
    expect(await store.get(scope(alice), card.id)).toBeNull()
    await expectStoreEqualsProvider(alice, [])
  })
})

// Without the caller's key, setDefaultCard derives one from the owner and the token: a
// reusable test token given again gets the earlier call's card replayed.
describe("CardSync: a call that waits for the owner's earlier calls is as of its call, not its turn", () => {
  /**
   * A CardSync over the same store whose queue for alice is held by a sync of another card (its
   * provider's getCard waits for `release`), and alice's default, stored.
   */
  async function heldQueue() {
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    const spare = await addCard(alice, 'tok_amex')
    const gate = deferred<void>()
    const held = createCardSync({
      store,
      provider: {
        ...provider,
        getCard: async (...args) => {
          await gate.promise
          return provider.getCard(...args)
        },
      },
    })
    const holder = held.sync(alice, spare.id)
    const release = async () => {
      gate.resolve()
      await holder
    }
    return { card, held, release }
  }

  /**
   * Calls `queued` (on the held CardSync), then has another process (another CardSync, its own
   * queue) store the card renamed 'NEW', strictly later, and frees the queue strictly later
   * still: what `queued` writes in its turn is older than 'NEW'.
   */
  async function newerStoredMeanwhile<T>(queued: (held: CardSync, card: Card) => Promise<T>) {
    const { card, held, release } = await heldQueue()
    const pending = queued(held, card)
    await clockPast(Date.now())
    expect((await sync.sync(alice, { ...card, holderName: 'NEW' }))?.holderName).toBe('NEW')
    await clockPast(Date.now())
    expect(await settledWithin(pending, 20)).toBe('still pending')
    await release()
    return { card, result: await pending }
  }

  it('sync(owner, card) does not overwrite a newer state stored while it waited', async () => {
    const { card, result } = await newerStoredMeanwhile((held, given) =>
      held.sync(alice, { ...given, holderName: 'OLD' }),
    )
    expect(result?.holderName).toBe('NEW')
    expect((await store.get(scope(alice), card.id))?.holderName).toBe('NEW')
  })

  it('syncFromProviderData without observedAt does not overwrite a newer state stored while it waited', async () => {
    const { card, result } = await newerStoredMeanwhile((held, given) =>
      held.syncFromProviderData(alice, { ...given, holderName: 'OLD' }),
    )
    expect(result?.holderName).toBe('NEW')
    expect((await store.get(scope(alice), card.id))?.holderName).toBe('NEW')
  })

  it('deleteLocal without observedAt does not delete a state stored after the call', async () => {
    const { card, result } = await newerStoredMeanwhile((held, given) =>
      held.deleteLocal(alice, given.id),
    )
    expect(result).toBe(false)
    expect((await store.get(scope(alice), card.id))?.holderName).toBe('NEW')
  })
})

describe('CardSync.setDefaultCard with a reusable token, given again', () => {
  it('makes a new card when the card of the earlier call was retired since', async () => {
    const first = await sync.setDefaultCard(alice, 'tok_visa')
    await sync.setDefaultCard(alice, 'tok_mastercard')
    const again = await sync.setDefaultCard(alice, 'tok_visa')
    expect(again.id).not.toBe(first.id)
    expect(again).toMatchObject({ last4: '4242', isDefault: true })
    await expectStoreEqualsProvider(alice, [{ id: again.id, isDefault: true, last4: '4242' }])
    // And a third time: the next key of the chain.
    await sync.setDefaultCard(alice, 'tok_mastercard')
    const third = await sync.setDefaultCard(alice, 'tok_visa')
    expect(new Set([first.id, again.id, third.id]).size).toBe(3)
    await expectStoreEqualsProvider(alice, [{ id: third.id, isDefault: true, last4: '4242' }])
  })

  it('makes a new card when the card of the earlier call was invalidated since (a provider that cannot delete)', async () => {
    const invalidating: CardProvider = {
      ...provider,
      capabilities: { ...provider.capabilities, deleteCard: false },
    }
    expect(invalidating.capabilities.invalidateCard).toBe(true)
    const onlyInvalidates = createCardSync({ provider: invalidating, store })
    const first = await onlyInvalidates.setDefaultCard(alice, 'tok_visa')
    await onlyInvalidates.setDefaultCard(alice, 'tok_mastercard')
    expect((await provider.getCard(alice, first.id)).status).toBe('invalid')
    const again = await onlyInvalidates.setDefaultCard(alice, 'tok_visa')
    expect(again.id).not.toBe(first.id)
    expect(again).toMatchObject({ last4: '4242', status: 'active', isDefault: true })
    expect((await provider.getDefaultCard(alice))?.id).toBe(again.id)
    expect((await onlyInvalidates.getForOwner(alice))?.id).toBe(again.id)
    expect(await store.get(scope(alice), first.id)).toMatchObject({ status: 'invalid' })
  })

  for (const method of ['upsert', 'delete'] as const) {
    it(`a retry after a crash on store.${method} still makes no second card`, async () => {
      await sync.setDefaultCard(alice, 'tok_visa')
      await sync.setDefaultCard(alice, 'tok_mastercard')
      const crashing = createCardSync({ provider, store: crashOnce(store, method) })
      await expect(crashing.setDefaultCard(alice, 'tok_visa')).rejects.toThrow('crash')
      const retried = await crashing.setDefaultCard(alice, 'tok_visa')
      expect(await cardIds(alice)).toEqual([retried.id])
      await expectStoreEqualsProvider(alice, [{ id: retried.id, isDefault: true, last4: '4242' }])
    })
  }

  it("with the caller's own key, replays as asked: no chain", async () => {
    const first = await sync.setDefaultCard(alice, 'tok_visa', { idempotencyKey: 'k1' })
    await sync.setDefaultCard(alice, 'tok_mastercard', { idempotencyKey: 'k2' })
    const error = await rejection(sync.setDefaultCard(alice, 'tok_visa', { idempotencyKey: 'k1' }))
    expect(error.code).toBe('card_not_found')
    expect(error.message).toContain(first.id)
  })

  it("with the caller's own key, replays an invalidated card as asked: no chain", async () => {
    const keys: (string | undefined)[] = []
    const invalidating: CardProvider = {
      ...provider,
      capabilities: { ...provider.capabilities, deleteCard: false },
      async createCard(owner, input, options) {
        keys.push(options?.idempotencyKey)
        return provider.createCard(owner, input, options)
      },
    }
    const onlyInvalidates = createCardSync({ provider: invalidating, store })
    const first = await onlyInvalidates.setDefaultCard(alice, 'tok_visa', { idempotencyKey: 'k1' })
    await onlyInvalidates.setDefaultCard(alice, 'tok_mastercard', { idempotencyKey: 'k2' })
    const error = await rejection(
      onlyInvalidates.setDefaultCard(alice, 'tok_visa', { idempotencyKey: 'k1' }),
    )
    // The invalidated card replayed, which the provider refuses to make the default.
    expect(keys).toEqual(['k1', 'k2', 'k1'])
    expect(error.code).toBe('conflict')
    expect(error.message).toContain(first.id)
  })

  it('asks for a key of your own after 32 calls with one token for one owner', async () => {
    for (let call = 0; call < 32; call++) {
      await sync.setDefaultCard(alice, 'tok_visa')
      await sync.setDefaultCard(alice, 'tok_mastercard')
    }
    const error = await rejection(sync.setDefaultCard(alice, 'tok_visa'))
    expect(error.code).toBe('invalid_request')
    expect(error.issues?.map((issue) => issue.path)).toEqual([['options', 'idempotencyKey']])
    const fresh = await sync.setDefaultCard(alice, 'tok_visa', { idempotencyKey: 'mine' })
    await expectStoreEqualsProvider(alice, [{ id: fresh.id, isDefault: true, last4: '4242' }])
  })
})

describe('CardSync: its clock (now)', () => {
  /** A clock far from this host's, that a test moves on by hand. */
  const clock = () => {
    const state = { ms: 1_000_000 }
    return { state, now: () => state.ms }
  }
  /** The provider's and the store's calls that change something. */
  const WRITES = new Set([
    'createCard',
    'updateCard',
    'deleteCard',
    'setDefaultCard',
    'invalidateCard',
    'upsert',
    'upsertMany',
    'delete',
    'setDefault',
    'save',
    'remove',
  ])
  const writesIn = (calls: string[]) => calls.filter((call) => WRITES.has(call.split(' ')[0]!))

  it('dates every write by it: reads, given cards, payloads, removals, reconcile', async () => {
    const { state, now } = clock()
    const dated = createCardSync({ provider, store, now })
    const first = await dated.setDefaultCard(alice, 'tok_visa')
    expect(first.observedAt).toBe(1_000_000)

    state.ms = 2_000_000
    const spare = await provider.createCard(alice, { source: 'tok_amex' })
    expect((await dated.sync(alice, spare.id))?.observedAt).toBe(2_000_000)
    state.ms = 3_000_000
    expect((await dated.sync(alice))?.observedAt).toBe(3_000_000)
    state.ms = 4_000_000
    const given = await dated.sync(alice, { ...spare, holderName: 'Given' })
    expect(given?.observedAt).toBe(4_000_000)
    state.ms = 5_000_000
    const payload = await dated.syncFromProviderData(alice, { ...spare, holderName: 'Payload' })
    expect(payload?.observedAt).toBe(5_000_000)

    // A setDefaultCard switching defaults: the new card as of the clock, the old one removed.
    state.ms = 6_000_000
    const second = await dated.setDefaultCard(alice, 'tok_mastercard')
    expect(second.observedAt).toBe(6_000_000)
    expect(await store.get(scope(alice), first.id)).toBeNull()

    // Removals leave a deletion dated by the clock: a state observed 1 ms before it is not
    // stored, one observed at it is (an equal time applies).
    state.ms = 7_000_000
    expect(await dated.deleteLocal(alice, spare.id)).toBe(true)
    expect(await dated.syncFromProviderData(alice, spare, { observedAt: 6_999_999 })).toBeNull()
    expect(
      (await dated.syncFromProviderData(alice, spare, { observedAt: 7_000_000 }))?.observedAt,
    ).toBe(7_000_000)
    state.ms = 8_000_000
    await dated.deleteCard(alice, spare.id)
    expect(await dated.syncFromProviderData(alice, spare, { observedAt: 7_999_999 })).toBeNull()
    expect(
      (await dated.syncFromProviderData(alice, spare, { observedAt: 8_000_000 }))?.observedAt,
    ).toBe(8_000_000)

    // reconcile: a card only the provider holds is written as of the owner's read, and the
    // ghost left above removed as of it.
    state.ms = 9_000_000
    const added = await provider.createCard(alice, { source: 'tok_discover' })
    const report = await dated.reconcile(alice)
    expect(report.added).toEqual([{ owner: alice, cardId: added.id }])
    expect(report.removed).toEqual([{ owner: alice, cardId: spare.id }])
    expect((await store.get(scope(alice), added.id))?.observedAt).toBe(9_000_000)
    expect(await dated.syncFromProviderData(alice, spare, { observedAt: 8_999_999 })).toBeNull()
    await expectStoreEqualsProvider(alice)
  })

  it('dates the card an invalidation answers by it (a provider that cannot delete)', async () => {
    const { state, now } = clock()
    const latest = latestCardProvider()
    const dated = createCardSync({ provider: latest, store, now })
    const old = await dated.setDefaultCard(alice, 'tok_visa')
    state.ms = 2_000_000
    await dated.setDefaultCard(alice, 'tok_mastercard')
    const retired = await store.get({ provider: latest.name, owner: alice }, old.id)
    expect(retired).toMatchObject({ status: 'invalid', observedAt: 2_000_000 })
    state.ms = 3_000_000
    const spare = await latest.createCard(alice, { source: 'tok_amex' })
    await dated.deleteCard(alice, spare.id)
    expect(await store.get({ provider: latest.name, owner: alice }, spare.id)).toMatchObject({
      status: 'invalid',
      observedAt: 3_000_000,
    })
  })

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a negative time', -1],
    ['a fraction', 1_700_000_000_000.5],
    ['a time beyond 2^53', 2 ** 53],
    ['a Date', new Date()],
    ['a string of digits', '1700000000000'],
    ['undefined', undefined],
  ])(
    'an answer of %s fails each call with invalid_request, not retryable, before anything is written',
    async (_name, answer) => {
      const held = await sync.setDefaultCard(alice, 'tok_visa')
      const spare = await addCard(alice, 'tok_amex')
      const storedBefore = await store.listByOwner(scope(alice))
      const heldBefore = await cardIds(alice)
      const calls: string[] = []
      const broken = createCardSync({
        provider: recording(provider, calls),
        store: recording(store, calls),
        now: () => answer as number,
      })
      const runs: [string, () => Promise<unknown>][] = [
        ['setDefaultCard', () => broken.setDefaultCard(alice, 'tok_mastercard')],
        ['deleteCard', () => broken.deleteCard(alice, held.id)],
        ['sync of a card id', () => broken.sync(alice, spare.id)],
        ['sync of the default', () => broken.sync(alice)],
        ['sync of a card given', () => broken.sync(alice, { ...spare, holderName: 'X' })],
        ['syncFromProviderData', () => broken.syncFromProviderData(alice, spare)],
        ['deleteLocal', () => broken.deleteLocal(alice, spare.id)],
        ['reconcile', () => broken.reconcile(alice)],
      ]
      for (const [what, run] of runs) {
        const error = await rejection(run())
        expect(error.code, what).toBe('invalid_request')
        expect(error.retryable, what).toBe(false)
        expect(error.message, what).toContain("createCardSync's now must answer a whole number")
        expect(error.issues, what).toEqual([
          { path: ['now'], message: 'must answer a whole number of ms since the epoch' },
        ])
      }
      // Not a write, at the provider or in the store; reconcile read nothing either.
      expect(writesIn(calls)).toEqual([])
      expect(await store.listByOwner(scope(alice))).toEqual(storedBefore)
      expect(await cardIds(alice)).toEqual(heldBefore)
      calls.length = 0
      await rejection(broken.reconcile())
      expect(calls).toEqual([])
    },
  )

  it('quotes an answer that is no number by its type alone', async () => {
    const card = await addCard(alice, 'tok_visa')
    const broken = createCardSync({
      provider,
      store,
      now: () => '4242424242424242 sk_live_pasted' as unknown as number,
    })
    const error = await rejection(broken.deleteLocal(alice, card.id))
    expect(error.message).toContain('(got a string)')
    expect(error.message).not.toContain('4242')
    expect(error.message).not.toContain('sk_live')
    expect(await store.get(scope(alice), card.id)).not.toBeNull()
    const kinds: Array<[unknown, string]> = [
      [new Date(), 'a Date'],
      [new Date(Number.NaN), 'an Invalid Date'],
      [[4242424242424242], 'an array'],
      [null, 'null'],
      [-1, '-1'],
    ]
    for (const [answer, kind] of kinds) {
      const clocked = createCardSync({ provider, store, now: () => answer as number })
      const refused = await rejection(clocked.deleteLocal(alice, card.id))
      expect(refused.message, kind).toContain(`(got ${kind}):`)
    }
  })

  it('reconcile rejects when its clock fails during the run, instead of failing an owner', async () => {
    await addCard(alice, 'tok_visa')
    await provider.createCard(bob, { source: 'tok_visa' })
    for (const failure of ['NaN', 'a throw'] as const) {
      let answers = 0
      const thrown = new Error('clock unplugged')
      // The run's own check passes; the owners' reads are dated by a clock failed since.
      const failing = () => {
        if (answers++ === 0) return 5_000_000
        if (failure === 'a throw') throw thrown
        return Number.NaN
      }
      const dated = createCardSync({ provider, store, now: failing })
      const onOwner = vi.fn()
      const error = await dated.reconcile([alice, bob], { onOwner }).then(
        (report) => report,
        (rejected: unknown) => rejected,
      )
      if (failure === 'a throw') expect(error, failure).toBe(thrown)
      else expect(error, failure).toMatchObject({ code: 'invalid_request', retryable: false })
      expect(onOwner, failure).not.toHaveBeenCalled()
      expect(await store.listByOwner(scope(bob)), failure).toEqual([])
    }
  })

  it('hands on what the clock throws as it is', async () => {
    const thrown = new Error('clock unplugged')
    const broken = createCardSync({
      provider,
      store,
      now: () => {
        throw thrown
      },
    })
    await expect(broken.sync(alice)).rejects.toBe(thrown)
    await expect(broken.setDefaultCard(alice, 'tok_visa')).rejects.toBe(thrown)
    expect(await cardIds(alice)).toEqual([])
  })

  it.each([
    ['a number', 1_700_000_000_000],
    ['a string', 'Date.now'],
    ['a Date', new Date()],
    ['null', null],
  ])('createCardSync refuses a now that is %s (invalid_request)', (_name, now) => {
    const error = errorOf(() => createCardSync({ provider, store, now: now as never }))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toContain('Invalid createCardSync options')
    expect(error.message).toContain('now must be a function answering ms since the epoch')
  })

  it('takes a now left undefined as Date.now', async () => {
    const before = Date.now()
    const dated = createCardSync({ provider, store, now: undefined })
    const card = await dated.setDefaultCard(alice, 'tok_visa')
    expect(card.observedAt).toBeGreaterThanOrEqual(before)
    expect(card.observedAt).toBeLessThanOrEqual(Date.now())
  })
})

describe('sameCard', () => {
  const card = sampleCard('card_1', alice, { metadata: { a: '1', b: '2' } })

  it('compares metadata as pairs, whatever the order of its keys', () => {
    expect(sameCard(card, { ...card, metadata: { b: '2', a: '1' } })).toBe(true)
    expect(sameCard(card, { ...card, metadata: { a: '1', b: '3' } })).toBe(false)
    expect(sameCard(card, { ...card, metadata: { a: '1' } })).toBe(false)
    expect(sameCard({ ...card, metadata: { a: '1' } }, card)).toBe(false)
    expect(sameCard(card, { ...card, metadata: { a: '1', c: '2' } })).toBe(false)
  })

  it('compares every other field, the default only when asked', () => {
    expect(sameCard(card, { ...card, last4: '4444' })).toBe(false)
    expect(sameCard(card, { ...card, address: { ...card.address, city: 'Paris' } })).toBe(false)
    expect(sameCard(card, { ...card, isDefault: !card.isDefault })).toBe(false)
    expect(sameCard(card, { ...card, isDefault: !card.isDefault }, { ignoreDefault: true })).toBe(
      true,
    )
  })

  it('refuses an option it does not know, which it would otherwise compare the default under', () => {
    const other = { ...card, isDefault: !card.isDefault }
    const error = errorOf(() => sameCard(card, other, { ignore_default: true } as never))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toBe(
      'Invalid sameCard options: unknown option "ignore_default" (did you mean ignoreDefault?): the options are ignoreDefault',
    )
    expect(errorOf(() => sameCard(card, other, { ignoreDefault: 'yes' } as never)).code).toBe(
      'invalid_request',
    )
  })

  it('lets reconcile find no drift in metadata the provider lists in another order', async () => {
    const created = await provider.createCard(alice, {
      source: 'tok_visa',
      metadata: { a: '1', b: '2' },
    })
    await store.upsert({ ...created, metadata: { b: '2', a: '1' } })
    expect((await sync.reconcile(alice)).counts).toMatchObject({ added: 0, updated: 0 })
  })

  it('lets reconcile write a metadata key the provider added to the keys stored', async () => {
    const created = await provider.createCard(alice, {
      source: 'tok_visa',
      metadata: { a: '1', b: '2' },
    })
    await store.upsert({ ...created, metadata: { a: '1' } })
    expect((await sync.reconcile(alice)).counts).toMatchObject({ added: 0, updated: 1 })
    expect((await store.get(scope(alice), created.id))?.metadata).toEqual({ a: '1', b: '2' })
  })
})

describe('CardSync: crash safety', () => {
  for (const method of ['upsert', 'delete'] as const) {
    it(`reconcile repairs a setDefaultCard that died on store.${method}`, async () => {
      const old = await sync.setDefaultCard(alice, 'tok_visa')
      const spare = await addCard(alice, 'tok_amex')
      const crashing = createCardSync({ provider, store: crashOnce(store, method) })
      await expect(crashing.setDefaultCard(alice, 'tok_mastercard')).rejects.toThrow('crash')

      await sync.reconcile()
      const fresh = (await provider.getDefaultCard(alice))!
      expect(fresh.last4).toBe('4444')
      await expectStoreEqualsProvider(alice, [
        { id: fresh.id, isDefault: true, last4: '4444' },
        { id: spare.id, isDefault: false, last4: '8431' },
      ])
      expect(await store.get(scope(alice), old.id)).toBeNull()
    })

    it(`a retried setDefaultCard after a crash on store.${method} makes no second card`, async () => {
      const old = await sync.setDefaultCard(alice, 'tok_visa')
      const crashing = createCardSync({ provider, store: crashOnce(store, method) })
      await expect(crashing.setDefaultCard(alice, 'tok_mastercard')).rejects.toThrow('crash')

      const retried = await crashing.setDefaultCard(alice, 'tok_mastercard')
      expect(await cardIds(alice)).toEqual([retried.id])
      expect((await rejection(provider.getCard(alice, old.id))).code).toBe('card_not_found')
      expect(await store.get(scope(alice), old.id)).toBeNull()
      await expectStoreEqualsProvider(alice, [{ id: retried.id, isDefault: true, last4: '4444' }])
    })

    it(`reconcile repairs a deleteCard that died on store.${method}`, async () => {
      const first = await sync.setDefaultCard(alice, 'tok_visa')
      const second = await addCard(alice, 'tok_amex')
      const third = await addCard(alice, 'tok_mastercard')
      const crashing = createCardSync({ provider, store: crashOnce(store, method) })
      await expect(crashing.deleteCard(alice, first.id)).rejects.toThrow('crash')

      await sync.reconcile()
      await expectStoreEqualsProvider(alice, [
        { id: second.id, isDefault: false, last4: '8431' },
        { id: third.id, isDefault: true, last4: '4444' },
      ])
    })

    it(`a retried deleteCard after a crash on store.${method} finishes the job`, async () => {
      const first = await sync.setDefaultCard(alice, 'tok_visa')
      const second = await addCard(alice, 'tok_amex')
      const crashing = createCardSync({ provider, store: crashOnce(store, method) })
      await expect(crashing.deleteCard(alice, first.id)).rejects.toThrow('crash')

      await crashing.deleteCard(alice, first.id)
      await expectStoreEqualsProvider(alice, [{ id: second.id, isDefault: true, last4: '8431' }])
    })
  }

  it('a retry after a reconcile still retires the old default: the store kept a note of it', async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const spare = await addCard(alice, 'tok_amex')
    // The provider makes the card the default, and the answer is lost on the way back.
    const crashing = createCardSync({ provider: answerLostOnce(provider), store })
    await expect(crashing.setDefaultCard(alice, 'tok_mastercard')).rejects.toThrow('dropped')
    // The reconcile in between stores the old default as a plain card: nothing names it any more.
    await sync.reconcile(alice)
    expect(await store.get(scope(alice), old.id)).toMatchObject({ isDefault: false })

    const retried = await sync.setDefaultCard(alice, 'tok_mastercard')
    expect((await rejection(provider.getCard(alice, old.id))).code).toBe('card_not_found')
    await expectStoreEqualsProvider(alice, [
      { id: retried.id, isDefault: true, last4: '4444' },
      { id: spare.id, isDefault: false, last4: '8431' },
    ])
  })

  // Without notes, the store's default is what names the old card: the provider already names
  // the card the retry makes (replayed) its default, so an earlier attempt switched it.
  it('a store without retirements: a retry after the answer was lost retires the default the store still names', async () => {
    const withoutNotes = withoutRetirements(store)
    const plain = createCardSync({ provider, store: withoutNotes })
    const old = await plain.setDefaultCard(alice, 'tok_visa')
    const spare = await addCard(alice, 'tok_amex')
    // The provider makes the card the default, and the answer is lost on the way back.
    const crashing = createCardSync({ provider: answerLostOnce(provider), store: withoutNotes })
    await expect(crashing.setDefaultCard(alice, 'tok_mastercard')).rejects.toThrow('dropped')
    expect(await store.getDefault(scope(alice))).toMatchObject({ id: old.id })

    const retried = await plain.setDefaultCard(alice, 'tok_mastercard')
    expect((await rejection(provider.getCard(alice, old.id))).code).toBe('card_not_found')
    await expectStoreEqualsProvider(alice, [
      { id: retried.id, isDefault: true, last4: '4444' },
      { id: spare.id, isDefault: false, last4: '8431' },
    ])
  })

  it('a store without retirements keeps the old default on such a retry (the documented limit)', async () => {
    const withoutNotes = withoutRetirements(store)
    const plain = createCardSync({ provider, store: withoutNotes })
    const old = await plain.setDefaultCard(alice, 'tok_visa')
    const crashing = createCardSync({ provider: answerLostOnce(provider), store: withoutNotes })
    await expect(crashing.setDefaultCard(alice, 'tok_mastercard')).rejects.toThrow('dropped')
    await plain.reconcile(alice)

    const retried = await plain.setDefaultCard(alice, 'tok_mastercard')
    await expectStoreEqualsProvider(alice, [
      { id: retried.id, isDefault: true, last4: '4444' },
      { id: old.id, isDefault: false, last4: '4242' },
    ])
  })

  it('notes the old defaults before asking the provider, and removes the note when done', async () => {
    const old = await sync.setDefaultCard(alice, 'tok_visa')
    const key = 'replace-visa'
    const notedAtCreate: unknown[] = []
    const watched = createCardSync({
      provider: wrapProvider(provider, {
        createCard: async (owner) => {
          notedAtCreate.push(await store.retirements?.load(scope(owner), key))
        },
      }),
      store,
    })
    await watched.setDefaultCard(alice, 'tok_mastercard', { idempotencyKey: key })
    expect(notedAtCreate).toEqual([[{ cardId: old.id, currency: null }]])
    expect(await store.retirements?.load(scope(alice), key)).toEqual([])
  })

  it("a noted default of another currency is left alone: an account's defaults are per currency", async () => {
    const eur = await provider.createCard(shop, { source: 'tok_visa', currency: 'eur' })
    await sync.sync(shop, eur.id)
    const usd = await sync.setDefaultCard(shop, 'tok_visa')
    const key = 'replace-usd'
    await store.retirements?.save(scope(shop), key, [{ cardId: eur.id, currency: 'eur' }])
    const replacement = await sync.setDefaultCard(shop, 'tok_mastercard', { idempotencyKey: key })
    expect((await cardIds(shop)).sort()).toEqual([eur.id, replacement.id].sort())
    expect(await store.get(scope(shop), usd.id)).toBeNull()
    expect(await store.get(scope(shop), eur.id)).toMatchObject({ isDefault: true, currency: 'eur' })
    expect(await store.retirements?.load(scope(shop), key)).toEqual([])
  })
})

// --- helpers ---

/**
 * A marketplace-like provider over the memory provider: customers' cards are invalidated,
 * never deleted, and the default is the most recently added valid card ('latest-card'), which
 * the caller cannot choose. `newCardsBecomeDefault: false` breaks that rule (the oldest valid
 * card stays the default), for the refusal of `setDefaultCard`. `getCard: false` and
 * `listCards: false` leave those operations out (and `getDefaultCard` with `listCards`).
 */
function latestCardProvider(
  options: { newCardsBecomeDefault?: boolean; getCard?: boolean; listCards?: boolean } = {},
): CardProvider {
  const inner = memoryProvider({ name: 'memory-latest' })
  const pickNewest = options.newCardsBecomeDefault ?? true
  const withDefault = async (owner: Owner, card: Card): Promise<Card> => {
    const valid = (await toArray(listAll(inner, owner), { limit: 1000 })).filter(
      (candidate) => candidate.status === 'active',
    )
    // Lists are newest first.
    const chosen = pickNewest ? valid[0] : valid.at(-1)
    return { ...card, isDefault: card.id === chosen?.id }
  }
  return defineCardProvider({
    name: 'memory-latest',
    capabilities: {
      ownerTypes: ['customer'],
      createCard: true,
      getCard: options.getCard ?? true,
      listCards: options.listCards ?? true,
      updateCard: true,
      deleteCard: false,
      setDefaultCard: false,
      invalidateCard: true,
      cardDetails: false,
      externalAccounts: false,
      defaultPolicy: 'latest-card',
      updatableFields: ['metadata'],
    } as const satisfies ProviderCapabilities,
    createCard: async (owner, input, context) =>
      withDefault(owner, await inner.createCard(owner, input, context)),
    getCard: async (owner, cardId) => withDefault(owner, await inner.getCard(owner, cardId)),
    listCards: async (owner, listOptions) => {
      const page = await inner.listCards(owner, listOptions)
      return { ...page, data: await Promise.all(page.data.map((card) => withDefault(owner, card))) }
    },
    updateCard: async (owner, cardId, patch) =>
      withDefault(owner, await inner.updateCard(owner, cardId, patch)),
    invalidateCard: async (owner, cardId) =>
      withDefault(owner, await inner.invalidateCard(owner, cardId)),
    parseCard: (raw, owner) => inner.parseCard(raw, owner),
  })
}

/**
 * `inner` as a provider that retires no card (no `deleteCard`, no `invalidateCard`): an old
 * default stays as a plain card. `getCard: false` leaves out reading one card as well.
 */
function keepingProvider(inner: MemoryProvider, options: { getCard: boolean }): CardProvider {
  return defineCardProvider({
    name: inner.name,
    capabilities: {
      ...inner.capabilities,
      getCard: options.getCard,
      deleteCard: false,
      invalidateCard: false,
    },
    createCard: (owner, input, context) => inner.createCard(owner, input, context),
    getCard: (owner, cardId) => inner.getCard(owner, cardId),
    listCards: (owner, listOptions) => inner.listCards(owner, listOptions),
    updateCard: (owner, cardId, patch) => inner.updateCard(owner, cardId, patch),
    setDefaultCard: (owner, cardId) => inner.setDefaultCard(owner, cardId),
    parseCard: (raw, owner) => inner.parseCard(raw, owner),
  })
}

/**
 * `inner` as a provider that cannot list cards, and so cannot read its default either
 * (`getDefaultCard` follows `listCards`), and that retires a card by deleting it or, with
 * `'invalidate'`, only by invalidating it.
 */
/**
 * `inner` without `listCards`, retiring cards by `retires`. With `keepsInvalidDefault`, an
 * invalidated default is answered as still the default (a provider that keeps it so; the memory
 * provider promotes another card instead).
 */
function unlistedProvider(
  inner: MemoryProvider,
  retires: 'delete' | 'invalidate',
  keepsInvalidDefault = false,
): CardProvider {
  return defineCardProvider({
    name: inner.name,
    capabilities: {
      ...inner.capabilities,
      listCards: false,
      deleteCard: retires === 'delete',
      invalidateCard: retires === 'invalidate',
    },
    createCard: (owner, input, context) => inner.createCard(owner, input, context),
    getCard: (owner, cardId) => inner.getCard(owner, cardId),
    updateCard: (owner, cardId, patch) => inner.updateCard(owner, cardId, patch),
    deleteCard: (owner, cardId) => inner.deleteCard(owner, cardId),
    setDefaultCard: (owner, cardId) => inner.setDefaultCard(owner, cardId),
    invalidateCard: async (owner, cardId) => {
      const wasDefault = (await inner.getCard(owner, cardId)).isDefault
      const invalid = await inner.invalidateCard(owner, cardId)
      return keepsInvalidDefault && wasDefault ? { ...invalid, isDefault: true } : invalid
    },
    parseCard: (raw, owner) => inner.parseCard(raw, owner),
  })
}

/**
 * `inner`, listing an owner's cards in pages of `pageSize` that overlap by one (an offset
 * cursor that steps back a card, as offset paging does when a card is added at the head between
 * two pages): every card but the first and the last of the listing comes on two pages.
 */
function overlappingPages(inner: MemoryProvider, pageSize: number): CardProvider {
  return defineCardProvider({
    name: inner.name,
    capabilities: inner.capabilities,
    createCard: (owner, input, context) => inner.createCard(owner, input, context),
    getCard: (owner, cardId) => inner.getCard(owner, cardId),
    listCards: async (owner, listOptions) => {
      const all = await toArray(listAll(inner, owner), { limit: 1000 })
      const start = listOptions.cursor === undefined ? 0 : Number(listOptions.cursor)
      const hasMore = start + pageSize < all.length
      return {
        data: all.slice(start, start + pageSize),
        hasMore,
        nextCursor: hasMore ? String(start + pageSize - 1) : null,
      }
    },
    updateCard: (owner, cardId, patch) => inner.updateCard(owner, cardId, patch),
    deleteCard: (owner, cardId) => inner.deleteCard(owner, cardId),
    setDefaultCard: (owner, cardId) => inner.setDefaultCard(owner, cardId),
    invalidateCard: (owner, cardId) => inner.invalidateCard(owner, cardId),
    parseCard: (raw, owner) => inner.parseCard(raw, owner),
  })
}

/**
 * `inner`, listing `circled`'s cards one at a time on pages whose cursors go round in a cycle:
 * the first page leads to `A`, `A` to `B`, and `B` back to `A` (a proxy that mixes up its
 * answers). `asked` holds the cursor of each request for that owner.
 */
function circlingPages(
  inner: MemoryProvider,
  circled: Owner,
): { provider: CardProvider; asked: (string | undefined)[] } {
  const asked: (string | undefined)[] = []
  const provider = defineCardProvider({
    name: inner.name,
    capabilities: inner.capabilities,
    createCard: (owner, input, context) => inner.createCard(owner, input, context),
    getCard: (owner, cardId) => inner.getCard(owner, cardId),
    listCards: async (owner, listOptions) => {
      if (owner.id !== circled.id) return inner.listCards(owner, listOptions)
      asked.push(listOptions.cursor)
      // A listing that went round for ever would fail with this instead of hanging the test.
      if (asked.length > 20) throw new Error('still listing after 20 pages')
      const all = await toArray(listAll(inner, owner), { limit: 1000 })
      const at = listOptions.cursor === 'B' ? 1 : 0
      return {
        data: all.slice(at, at + 1),
        hasMore: true,
        nextCursor: listOptions.cursor === 'A' ? 'B' : 'A',
      }
    },
    updateCard: (owner, cardId, patch) => inner.updateCard(owner, cardId, patch),
    deleteCard: (owner, cardId) => inner.deleteCard(owner, cardId),
    setDefaultCard: (owner, cardId) => inner.setDefaultCard(owner, cardId),
    invalidateCard: (owner, cardId) => inner.invalidateCard(owner, cardId),
    parseCard: (raw, owner) => inner.parseCard(raw, owner),
  })
  return { provider, asked }
}

/** Creates a card at a provider and stores it through a sync, as a webhook would. */
async function addCardTo(
  target: CardProvider,
  through: CardSync,
  owner: Owner,
  token: string,
): Promise<Card> {
  const card = await target.createCard(owner, { source: token })
  await through.sync(owner, card.id)
  return card
}

/** A promise and the function that resolves it. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((done) => {
    resolve = done
  })
  return { promise, resolve }
}

/**
 * What `promise` settles to within `turns` turns of the event loop, or `'still pending'`: turns,
 * not a time, so that in-process work that is not held back settles within them however slow
 * the machine, and a run that waits for something held back fails the test instead of hanging it.
 */
async function settledWithin<T>(promise: Promise<T>, count: number): Promise<T | 'still pending'> {
  return Promise.race([promise, turns(count).then(() => 'still pending' as const)])
}

/**
 * Waits until this host's clock reads a later ms than `ms`: a write after it is dated strictly
 * later than one dated `ms` (the stores compare ms, and an equal time applies).
 */
async function clockPast(ms: number): Promise<void> {
  while (Date.now() <= ms) await new Promise((resolve) => setTimeout(resolve, 1))
}

/** Waits `count` turns of the event loop. */
async function turns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve))
}

function scope(owner: Owner): CardScope {
  return { provider: provider.name, owner }
}

/** Creates a card at the provider and stores it, as a webhook would. */
async function addCard(owner: Owner, token: string): Promise<Card> {
  const card = await provider.createCard(owner, { source: token })
  await sync.sync(owner, card.id)
  return card
}

async function cardIds(owner: Owner): Promise<string[]> {
  return (await toArray(listAll(provider, owner), { limit: 1000 })).map((card) => card.id)
}

type Summary = { id: string; isDefault: boolean; last4: string }

/**
 * Lists the owner's cards at the provider and in the store and compares them card for card
 * (sorted by id), and the default; when `expected` is given, both must also equal it.
 */
async function expectStoreEqualsProvider(owner: Owner, expected?: Summary[]) {
  const summarize = (cards: Card[]): Summary[] =>
    cards
      .map(({ id, isDefault, last4 }) => ({ id, isDefault, last4 }))
      .sort((x, y) => x.id.localeCompare(y.id))
  const atProvider = summarize(await toArray(listAll(provider, owner), { limit: 1000 }))
  const inStore = summarize(await store.listByOwner(scope(owner)))
  expect(inStore).toEqual(atProvider)
  if (expected) expect(atProvider).toEqual(summarize(expected as Card[]))
  const providerDefault = (await provider.getDefaultCard(owner))?.id ?? null
  expect((await store.getDefault(scope(owner)))?.id ?? null).toBe(providerDefault)
}

/**
 * The store, except that the next call to `method` throws: a process that died between the
 * provider call and the store write.
 */
/** `inner` without its `retirements` (a store of an adapter author who left them out). */
function withoutRetirements(inner: CardStore): CardStore {
  const { retirements: _, ...rest } = inner
  return rest
}

function crashOnce(inner: CardStore, method: 'upsert' | 'delete'): CardStore {
  let armed = true
  const wrapped: CardStore = {
    get: (s, id) => inner.get(s, id),
    listByOwner: (s) => inner.listByOwner(s),
    getDefault: (s) => inner.getDefault(s),
    upsert: (card, options) => inner.upsert(card, options),
    upsertMany: (cards, options) => inner.upsertMany(cards, options),
    delete: (s, id, options) => inner.delete(s, id, options),
    setDefault: (s, id) => inner.setDefault(s, id),
    listOwners: (p) => inner.listOwners(p),
    retirements: inner.retirements,
    close: () => inner.close(),
  }
  const original = wrapped[method] as (...args: unknown[]) => Promise<unknown>
  ;(wrapped as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
    if (armed) {
      armed = false
      throw new Error(`crash before store.${method}`)
    }
    return original(...args)
  }
  return wrapped
}

/**
 * The provider with `listCards` and `createCard` intercepted: a hook runs before the real call,
 * and may throw instead.
 */
function wrapProvider(
  inner: CardProvider,
  hooks: {
    listCards?: (owner: Owner) => Promise<undefined>
    createCard?: (owner: Owner) => Promise<void>
  },
): CardProvider {
  return {
    ...inner,
    listCards: async (owner: Owner, options?: { limit?: number; cursor?: string }) => {
      await hooks.listCards?.(owner)
      return inner.listCards(owner, options)
    },
    createCard: async (...args: Parameters<CardProvider['createCard']>) => {
      await hooks.createCard?.(args[0])
      return inner.createCard(...args)
    },
  }
}

/** A CardSync over the test's provider and store, each call of which is noted in `calls`. */
/**
 * Asserts that `deleteCard`, `sync` and `deleteLocal` each refuse `cardId` as a card number
 * (`invalid_request`, the issue on `cardId`) before the provider or the store is called, and hands
 * each error to `quotesNothing` to check what it shows.
 */
async function expectCardIdRefused(
  cardId: string,
  quotesNothing: (error: CardportError, what: string) => void,
): Promise<void> {
  const { watched, calls } = watchedSync()
  const runs: [string, () => Promise<unknown>][] = [
    ['deleteCard', () => watched.deleteCard(alice, cardId)],
    ['sync', () => watched.sync(alice, cardId)],
    ['deleteLocal', () => watched.deleteLocal(alice, cardId)],
  ]
  for (const [what, run] of runs) {
    const error = await rejection(run())
    expect(error.code, what).toBe('invalid_request')
    expect(error.issues, what).toEqual([
      {
        path: ['cardId'],
        message: 'a card id cannot be a card number: pass the id the provider gave the card',
      },
    ])
    quotesNothing(error, what)
  }
  expect(calls).toEqual([])
}

function watchedSync(): { watched: CardSync; calls: string[] } {
  const calls: string[] = []
  const watched = createCardSync({
    provider: recording(provider, calls),
    store: recording(store, calls),
  })
  return { watched, calls }
}

/**
 * `target` with each of its methods (and those of a store's `retirements`) noting its name and
 * arguments in `calls` before it runs: a plain object, so that what is called is seen, whatever
 * `target` checks itself.
 */
function recording<T extends object>(target: T, calls: string[]): T {
  const copy: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(target)) {
    if (typeof value === 'function') {
      copy[key] = (...args: unknown[]) => {
        calls.push(`${key} ${JSON.stringify(args)}`)
        return value.apply(target, args)
      }
    } else if (key === 'retirements' && typeof value === 'object' && value !== null) {
      copy[key] = recording(value, calls)
    } else copy[key] = value
  }
  return copy as T
}

/**
 * The provider, its first `createCard` committed and its answer lost (as a connection dropped
 * after the provider committed).
 */
function answerLostOnce(inner: CardProvider): CardProvider {
  let lost = false
  return {
    ...inner,
    createCard: async (...args: Parameters<CardProvider['createCard']>) => {
      const card = await inner.createCard(...args)
      if (lost) return card
      lost = true
      throw new ProviderUnavailableError('connection dropped after the provider committed')
    },
  }
}

/** The provider, its first `listCards` refused as `rate_limited` with `retryAfterMs`. */
function rateLimitedOnce(inner: CardProvider, retryAfterMs: number): CardProvider {
  let failures = 1
  return wrapProvider(inner, {
    listCards: async () => {
      if (failures-- > 0) throw new RateLimitedError('slow down', { retryAfterMs })
      return undefined
    },
  })
}

/**
 * A card number as a person types it: a network's prefix, digits, the Luhn check digit, written
 * plain or in groups of four joined by spaces or dashes.
 */
function typedCardNumber(): fc.Arbitrary<string> {
  const networks: [prefix: string, length: number][] = [
    ['4', 16],
    ['51', 16],
    ['2221', 16],
    ['34', 15],
    ['6011', 16],
    ['3528', 16],
    ['62', 19],
  ]
  return fc
    .tuple(
      fc.constantFrom(...networks),
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 18, maxLength: 18 }),
      fc.constantFrom('', ' ', '-'),
    )
    .map(([[prefix, length], digits, separator]) => {
      const body = (prefix + digits.join('')).slice(0, length - 1)
      const number = body + luhnCheckDigit(body)
      return separator === '' ? number : (number.match(/.{1,4}/g) ?? []).join(separator)
    })
}

function digitsOf(text: string): string {
  return text.replace(/\D/g, '')
}

const asBob = (card: Card): Card => ({ ...card, owner: bob })

/**
 * How a test adapter changes what `inner` answered: `cardId` is the id the operation was asked
 * for (getCard, updateCard, setDefaultCard, invalidateCard), absent where it names no card.
 */
type CardMap = (card: Card, cardId?: string) => Card

/**
 * `inner`, built with defineCardProvider, every card it answers with (or parses) passed through
 * `map`, with `capabilities` (default: `inner`'s).
 */
function mappedDefined(
  inner: MemoryProvider,
  map: CardMap,
  capabilities: ProviderCapabilities = inner.capabilities,
): CardProvider {
  return defineCardProvider({
    name: inner.name,
    capabilities,
    createCard: async (o, input, context) => map(await inner.createCard(o, input, context)),
    getCard: async (o, cardId) => map(await inner.getCard(o, cardId), cardId),
    listCards: async (o, options) => {
      const page = await inner.listCards(o, options)
      return { ...page, data: page.data.map((card) => map(card)) }
    },
    updateCard: async (o, cardId, patch) => map(await inner.updateCard(o, cardId, patch), cardId),
    deleteCard: (o, cardId) => inner.deleteCard(o, cardId),
    setDefaultCard: async (o, cardId) => map(await inner.setDefaultCard(o, cardId), cardId),
    invalidateCard: async (o, cardId) => map(await inner.invalidateCard(o, cardId), cardId),
    parseCard: (raw, o) => {
      const card = inner.parseCard(raw, o)
      return card && map(card)
    },
  })
}

/**
 * `inner`, written by hand, every card it answers with (or parses) passed through `map`, with
 * `capabilities` (default: `inner`'s).
 */
function mappedByHand(
  inner: MemoryProvider,
  map: CardMap,
  capabilities: ProviderCapabilities = inner.capabilities,
): CardProvider {
  return Object.freeze({
    ...inner,
    capabilities,
    createCard: async (...args: Parameters<MemoryProvider['createCard']>) =>
      map(await inner.createCard(...args)),
    getCard: async (o: Owner, cardId: string) => map(await inner.getCard(o, cardId), cardId),
    listCards: async (o: Owner, options?: { limit?: number; cursor?: string }) => {
      const page = await inner.listCards(o, options)
      return { ...page, data: page.data.map((card) => map(card)) }
    },
    getDefaultCard: async (o: Owner) => {
      const card = await inner.getDefaultCard(o)
      return card && map(card)
    },
    updateCard: async (...args: Parameters<MemoryProvider['updateCard']>) =>
      map(await inner.updateCard(...args), args[1]),
    setDefaultCard: async (o: Owner, cardId: string) =>
      map(await inner.setDefaultCard(o, cardId), cardId),
    invalidateCard: async (o: Owner, cardId: string) =>
      map(await inner.invalidateCard(o, cardId), cardId),
    parseCard: (raw: unknown, o?: Owner) => {
      const card = inner.parseCard(raw, o)
      return card && map(card)
    },
  }) as CardProvider
}

/** A card's URI, as the marketplace takes it for the card's id. */
const uriOf = (card: Card): string => `/v1/marketplaces/MP1/cards/${card.id}`

/** The card id a URI ends with (an id as it is), as the marketplace's `cardIdOf` reads it. */
const idInUri = (cardId: string): string => cardId.slice(cardId.lastIndexOf('/') + 1)

/** How {@link uriDefined} and {@link uriByHand} differ from `inner`. */
interface UriProviderOptions {
  /** Default: `inner`'s. */
  capabilities?: ProviderCapabilities
  /** What the adapter says an asked id names. Default: {@link idInUri}. */
  cardIdOf?: (cardId: string) => string
}

/**
 * `inner`, built with defineCardProvider, taking a card by its URI as by its id, as the
 * marketplace does: each primitive asks `inner` for the id the URI ends with.
 */
function uriDefined(inner: MemoryProvider, options: UriProviderOptions = {}): CardProvider {
  return defineCardProvider({
    name: inner.name,
    capabilities: options.capabilities ?? inner.capabilities,
    createCard: (o, input, context) => inner.createCard(o, input, context),
    getCard: (o, cardId) => inner.getCard(o, idInUri(cardId)),
    listCards: (o, listOptions) => inner.listCards(o, listOptions),
    updateCard: (o, cardId, patch) => inner.updateCard(o, idInUri(cardId), patch),
    deleteCard: (o, cardId) => inner.deleteCard(o, idInUri(cardId)),
    setDefaultCard: (o, cardId) => inner.setDefaultCard(o, idInUri(cardId)),
    invalidateCard: (o, cardId) => inner.invalidateCard(o, idInUri(cardId)),
    parseCard: (raw, o) => inner.parseCard(raw, o),
    cardIdOf: options.cardIdOf ?? idInUri,
  })
}

/** {@link uriDefined}, written by hand (a plain object, not built with defineCardProvider). */
function uriByHand(inner: MemoryProvider, options: UriProviderOptions = {}): CardProvider {
  return Object.freeze({
    ...inner,
    capabilities: options.capabilities ?? inner.capabilities,
    getCard: (o: Owner, cardId: string) => inner.getCard(o, idInUri(cardId)),
    updateCard: (o: Owner, cardId: string, patch: Parameters<MemoryProvider['updateCard']>[2]) =>
      inner.updateCard(o, idInUri(cardId), patch),
    deleteCard: (o: Owner, cardId: string) => inner.deleteCard(o, idInUri(cardId)),
    setDefaultCard: (o: Owner, cardId: string) => inner.setDefaultCard(o, idInUri(cardId)),
    invalidateCard: (o: Owner, cardId: string) => inner.invalidateCard(o, idInUri(cardId)),
    cardIdOf: options.cardIdOf ?? idInUri,
  }) as CardProvider
}

describe("CardSync: a caller's input that cannot be read at all", () => {
  it('sync(owner, card) of a card whose getter throws is invalid_request, quoting nothing of it, and stores nothing', async () => {
    const store = memoryStore()
    const sync = createCardSync({ provider: memoryProvider(), store })
    const [owner] = customers(1) as [Owner]
    const card = Object.defineProperty({ ...sampleCard('card_1', owner) }, 'last4', {
      enumerable: true,
      get() {
        throw new Error('cannot read 4242424242424242 with sk_test_51GetterKey')
      },
    })
    const error = await rejection(sync.sync(owner, card))
    expect(error).toMatchObject({ code: 'invalid_request' })
    expect(error.message).toBe('Invalid card: reading it threw')
    expect(inspect(error, { depth: 10 })).not.toMatch(/4242424242424242|sk_test/)
    expect(await store.listByOwner({ provider: 'memory', owner })).toEqual([])
  })
})

describe('CardSync: an owner of a type the provider does not declare', () => {
  /**
   * A provider written by hand (not built by `defineCardProvider`, so nothing below CardSync
   * checks the owner's type) over the memory provider, declaring customers only; every call of
   * one of its methods is recorded.
   */
  function customersOnly() {
    const inner = memoryProvider()
    const calls: string[] = []
    const methods = Object.fromEntries(
      CARD_PROVIDER_METHODS.map((method) => [
        method,
        (...args: unknown[]) => {
          calls.push(method)
          return (inner[method] as (...given: unknown[]) => unknown)(...args)
        },
      ]),
    )
    const handWritten = {
      ...methods,
      name: inner.name,
      capabilities: { ...inner.capabilities, ownerTypes: ['customer'] },
    } as unknown as CardProvider
    return { handWritten, calls }
  }

  const stored = sampleCard('card_shop', shop, { isDefault: true })
  const operations: Array<[string, (sync: CardSync) => Promise<unknown>]> = [
    ['setDefaultCard', (sync) => sync.setDefaultCard(shop, 'tok_visa')],
    ['deleteCard', (sync) => sync.deleteCard(shop, 'card_shop')],
    ['sync of the default', (sync) => sync.sync(shop)],
    ['sync of a card id', (sync) => sync.sync(shop, 'card_shop')],
    ['sync of a card', (sync) => sync.sync(shop, sampleCard('card_new', shop))],
    [
      'syncFromProviderData',
      (sync) => sync.syncFromProviderData(shop, sampleCard('card_new', shop)),
    ],
    ['getForOwner', (sync) => sync.getForOwner(shop)],
    ['deleteLocal', (sync) => sync.deleteLocal(shop, 'card_shop')],
    ['reconcile of the owner', (sync) => sync.reconcile(shop)],
    ['reconcile of a list', (sync) => sync.reconcile([alice, shop])],
  ]

  it.each(operations)(
    '%s is unsupported_operation before any provider call, the store unchanged',
    async (_name, run) => {
      const { handWritten, calls } = customersOnly()
      const held = memoryStore()
      await held.upsert(stored)
      const before = await held.listByOwner({ provider: 'memory', owner: shop })
      expect(before.map((card) => card.id)).toEqual(['card_shop'])
      const sync = createCardSync({ provider: handWritten, store: held })
      const error = await rejection(run(sync))
      expect(error.code).toBe('unsupported_operation')
      expect(error.retryable).toBe(false)
      expect(error.message).toContain("owners of type 'account'")
      expect(calls).toEqual([])
      expect(await held.listByOwner({ provider: 'memory', owner: shop })).toEqual(before)
      expect(await held.listByOwner({ provider: 'memory', owner: alice })).toEqual([])
    },
  )

  it('serves the owner types it declares', async () => {
    const { handWritten, calls } = customersOnly()
    const sync = createCardSync({ provider: handWritten, store: memoryStore() })
    const card = await sync.setDefaultCard(alice, 'tok_visa')
    expect(card.isDefault).toBe(true)
    expect(calls).toContain('createCard')
  })

  it.each([
    ['no ownerTypes', {}],
    ['ownerTypes that are not a list', { ownerTypes: 'customer' }],
    ['an owner type cardport does not know', { ownerTypes: ['customer', 'merchant'] }],
    // As defineCardProvider refuses it: a provider of no owner refuses every call.
    ['no owner type in ownerTypes', { ownerTypes: [] }],
  ])('createCardSync refuses a provider with %s (invalid_request)', (_name, change) => {
    const inner = memoryProvider()
    const capabilities: Record<string, unknown> = { ...inner.capabilities, ...change }
    if (!('ownerTypes' in change)) delete capabilities.ownerTypes
    const error = errorOf(() =>
      createCardSync({ provider: { ...inner, capabilities } as never, store: memoryStore() }),
    )
    expect(error.code).toBe('invalid_request')
    expect(error.message).toContain('createCardSync options')
    expect(error.message).toContain('ownerTypes')
  })

  it.each([
    ['an empty name', ''],
    ['a NUL in its name', 'my\u0000psp'],
    ['an unpaired surrogate in its name', 'my\uD800psp'],
    ['a key as its name', 'sk_live_pastedAsName'],
    ['a card number in its name', 'psp 4242 4242 4242 4242'],
  ])(
    'createCardSync refuses a provider with %s (invalid_request), quoting none of it',
    (_name, name) => {
      const error = errorOf(() =>
        createCardSync({ provider: { ...memoryProvider(), name } as never, store: memoryStore() }),
      )
      expect(error.code).toBe('invalid_request')
      expect(error.message).toContain('provider.name must be a name a store can keep')
      expect(error.message).not.toContain('pastedAsName')
      expect(error.message).not.toContain('4242 4242')
    },
  )

  it('takes a hand-written provider whose name is any other text (spaces, accents)', async () => {
    const provider = { ...memoryProvider(), name: 'Mon PSP à moi' }
    const sync = createCardSync({ provider: provider as never, store: memoryStore() })
    expect((await sync.reconcile(alice)).provider).toBe('Mon PSP à moi')
  })
})
