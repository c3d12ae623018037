import { createCardSync, isCardportError, memoryStore } from '@cardport/core'
import { marketplaceEmulator, setupCardportServer } from '@cardport/testing'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import {
  listMarketplaceCards,
  type MarketplaceProviderOptions,
  marketplaceProvider,
  tokenizeCard,
} from './marketplace-provider.js'

// Two marketplaces (one per region), each its own emulator at its own origin, their cards kept
// in one store.
const eu = marketplaceEmulator({ origin: 'https://eu.marketplace.test' })
const us = marketplaceEmulator({ origin: 'https://us.marketplace.test' })
const server = setupCardportServer(...eu.handlers, ...us.handlers)
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  eu.reset()
  us.reset()
})
afterAll(() => server.close())

const VISA = '4111111111111111'
const details = { number: VISA, expMonth: 12, expYear: 2040, cvc: '123' }

function providerOf(emulator: typeof eu, options: Partial<MarketplaceProviderOptions> = {}) {
  return marketplaceProvider({
    baseUrl: emulator.origin,
    marketplaceId: emulator.marketplaceId,
    secret: emulator.secret,
    dispatcher: server.dispatcher,
    retry: { retries: 0 },
    ...options,
  })
}

/** The owners the marketplace holds cards for. */
type AccountOwner = { type: 'account'; id: string }

/** An account of `emulator` holding one card. */
function accountOf(emulator: typeof eu): AccountOwner {
  const owner: AccountOwner = { type: 'account', id: emulator.seed.account().id }
  emulator.seed.card({ card_number: VISA, account: owner.id })
  return owner
}

describe('marketplaceProvider name', () => {
  it("is 'marketplace' by default, on the provider and on its cards", async () => {
    const owner = accountOf(eu)
    const provider = providerOf(eu)
    expect(provider.name).toBe('marketplace')
    expect((await provider.listCards(owner)).data.map((card) => card.provider)).toEqual([
      'marketplace',
    ])
  })

  it('names the provider, every card it returns, tokenizes or parses, and its errors', async () => {
    const owner = accountOf(eu)
    const provider = providerOf(eu, { name: 'mp-eu' })
    expect(provider.name).toBe('mp-eu')

    const created = await provider.createCard(owner, { source: details })
    const listed = (await provider.listCards(owner)).data
    const read = await provider.getCard(owner, created.id)
    const updated = await provider.updateCard(owner, created.id, { metadata: { plan: 'pro' } })
    const chosen = await provider.getDefaultCard(owner)
    const token = await tokenizeCard(provider, details)
    const everyCard = (await listMarketplaceCards(provider)).data
    const parsed = provider.parseCard(eu.state.card(created.id), owner)
    expect(listed).toHaveLength(2)
    const cards = [created, ...listed, read, updated, chosen, token, ...everyCard, parsed]
    expect(cards.map((card) => card?.provider)).toEqual(cards.map(() => 'mp-eu'))

    const missing = await provider.getCard(owner, 'CC0000000000000000').catch((error) => error)
    expect(missing).toMatchObject({ code: 'card_not_found', provider: 'mp-eu' })
    expect(missing.message).toMatch(/^mp-eu: /)
    const noAccount = await provider
      .listCards({ type: 'account', id: 'AC0000000000000000' })
      .catch((error) => error)
    expect(noAccount).toMatchObject({ code: 'owner_not_found', provider: 'mp-eu' })
    // Refused before any request, by the adapter's own checks.
    const currency = await provider
      .createCard(owner, { source: details, currency: 'usd' })
      .catch((error) => error)
    expect(currency).toMatchObject({ code: 'invalid_request', provider: 'mp-eu' })
    const options = await listMarketplaceCards(provider, { limt: 5 } as never).catch(
      (error) => error,
    )
    expect(options).toMatchObject({ code: 'invalid_request', provider: 'mp-eu' })
    // A provider on its own Agent, closed: refused before anything is sent.
    const own = marketplaceProvider({
      baseUrl: eu.origin,
      marketplaceId: eu.marketplaceId,
      secret: eu.secret,
      name: 'mp-eu',
    })
    await own.close()
    const closed = await own.listCards(owner).catch((error) => error)
    expect(closed).toMatchObject({ code: 'invalid_request', provider: 'mp-eu' })
    expect(closed.message).toMatch(/^mp-eu: /)
  })

  it("refuses another marketplace provider's cursor, as another provider's", async () => {
    const owner = accountOf(eu)
    eu.seed.card({ card_number: VISA, account: owner.id })
    const named = providerOf(eu, { name: 'mp-eu' })
    const page = await named.listCards(owner, { limit: 1 })
    expect(page.nextCursor).not.toBeNull()

    const error = await providerOf(eu)
      .listCards(owner, { cursor: page.nextCursor! })
      .catch((thrown) => thrown)
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect(error.message).toContain('not made by marketplace')
    expect((await named.listCards(owner, { cursor: page.nextCursor! })).data).toHaveLength(1)
  })

  it.each([
    ['an empty name', ''],
    ['a name with a slash', 'mp/eu'],
    ['a name holding a card number', `mp${VISA}`],
  ])('refuses %s with invalid_request, never quoting a card number', (_case, name) => {
    let thrown: unknown
    try {
      providerOf(eu, { name })
    } catch (error) {
      thrown = error
    }
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    expect((thrown as Error).message).toContain('marketplaceProvider options')
    expect((thrown as Error).message).not.toContain(VISA)
  })
})

describe('two marketplaces in one store', () => {
  it('keep their cards apart: each reconcile reads its own accounts only', async () => {
    const store = memoryStore()
    const euSync = createCardSync({ provider: providerOf(eu, { name: 'mp-eu' }), store })
    const usSync = createCardSync({ provider: providerOf(us, { name: 'mp-us' }), store })
    const euOwner = accountOf(eu)
    const usOwner = accountOf(us)
    await euSync.reconcile(euOwner)
    await usSync.reconcile(usOwner)

    const euReport = await euSync.reconcile()
    const usReport = await usSync.reconcile()
    expect(euReport.failed).toEqual([])
    expect(usReport.failed).toEqual([])
    expect([euReport.owners, usReport.owners]).toEqual([1, 1])
    expect(await store.listByOwner({ provider: 'mp-eu', owner: euOwner })).toHaveLength(1)
    expect(await store.listByOwner({ provider: 'mp-us', owner: usOwner })).toHaveLength(1)
  })

  it("under one name, each reconcile asks its marketplace for the other's accounts, and fails on them", async () => {
    const store = memoryStore()
    const euSync = createCardSync({ provider: providerOf(eu), store })
    const usSync = createCardSync({ provider: providerOf(us), store })
    const usOwner = accountOf(us)
    await euSync.reconcile(accountOf(eu))
    await usSync.reconcile(usOwner)

    const report = await euSync.reconcile()
    expect(report.failed).toEqual([
      expect.objectContaining({ owner: usOwner, code: 'owner_not_found' }),
    ])
  })
})
