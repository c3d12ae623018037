import { randomUUID } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import {
  applyMetadataPatch,
  type Card,
  CardDeclinedError,
  type CardDetailsInput,
  CardInvalidError,
  type CardProvider,
  type CardProviderDefinition,
  type CardScope,
  type CardStore,
  type CardUpdate,
  ConflictError,
  cardNotFound,
  closableStore,
  decodeCursor,
  defineCardProvider,
  encodeCursor,
  formatOwner,
  InvalidRequestError,
  isCardportError,
  type ListOptions,
  MEMORY_PROVIDER_CAPABILITIES,
  MEMORY_PROVIDER_TOKENS,
  memoryProvider,
  memoryStore,
  type Owner,
  observedAtOf,
  type ProviderCapabilities,
  ProviderUnavailableError,
  type RetiringCard,
  type StoredCard,
  scopeKey,
  scopeOf,
  toArray,
  UnsupportedOperationError,
  type ValidCreateCardInput,
  type WriteOptions,
} from '@cardport/core'
import { describe, expect, it } from 'vitest'
import { callerChosenPrimitives } from './__fixtures__/caller-chosen-primitives.js'
import {
  type DefaultRule,
  LATEST_CARD_CAPABILITIES,
  latestCardProvider,
} from './__fixtures__/latest-card-provider.js'
import { cardProviderChecks, type SuiteData } from './card-provider-checks.js'
import { cardStoreChecks } from './card-store-checks.js'
import {
  type CardProviderSuiteOptions,
  type CardSources,
  runCardProviderCheck,
} from './describe-card-provider.js'
import { runCardStoreCheck } from './describe-card-store.js'

// Each test runs every check of a suite, as `describeCardProvider`/`describeCardStore` would,
// against a deliberately broken implementation, and asserts which checks fail: exactly the
// ones covering the rule it breaks. The same checks against the healthy implementation fail
// none, so each failure is the break's doing.

/** The primitives an adapter writes; a broken adapter overrides some of them. */
type Primitives = Omit<
  CardProviderDefinition<typeof MEMORY_PROVIDER_CAPABILITIES>,
  'name' | 'capabilities'
>

/**
 * `titles` of checks that fail for the primary owner type (customers), then the same checks'
 * titles for account owners: the owner-generic checks run once per owner type, in that order.
 */
const forEachOwnerType = (titles: readonly string[]) => [
  ...titles,
  ...titles.map((title) => `${title} (account owners)`),
]

/** The check that raw details reach the adapter's own refusal, which must hold no CVC. */
const ERRORS_FROM_THE_ADAPTER =
  'errors: a refusal of raw details by the provider holds neither the card number nor the CVC (the details reach the adapter)'

/**
 * The update checks, one per updatable field, each of which also checks that what its patch
 * does not name stays as it was.
 */
const UPDATE_CHECKS = {
  address: 'updateCard: updates the billing address, and nothing the patch does not name',
  expiry: 'updateCard: updates the expiry, and nothing the patch does not name',
  holderName: 'updateCard: updates the cardholder name, and nothing the patch does not name',
  metadata:
    'updateCard: merges metadata, and an empty value unsets its key; nothing the patch does not name changes',
} as const

/** The check that lists more cards than a fixed cap an adapter might stop at. */
const LISTS_MANY =
  "listCards: lists all of an owner's 25 cards, each once, in pages of 7 and through listAll"

/** A card the adapters decline, given as raw details so that its CVC can leak. */
const DECLINED_DETAILS: CardDetailsInput = {
  number: '4000000000000002',
  expMonth: 12,
  expYear: new Date().getUTCFullYear() + 4,
  cvc: '737',
}

/**
 * An adapter over the memory provider, built with `defineCardProvider` as real adapters are:
 * its primitives forward to the memory provider, and it declines {@link DECLINED_DETAILS}
 * without a number or CVC in the message. `breakage` replaces primitives to break one rule.
 */
function memoryAdapter(
  breakage: (healthy: Primitives) => Partial<Primitives> = () => ({}),
  capabilities: ProviderCapabilities = MEMORY_PROVIDER_CAPABILITIES,
) {
  const inner = memoryProvider()
  const healthy: Primitives = {
    async createCard(owner, input, { idempotencyKey }) {
      if (typeof input.source !== 'string' && input.source.number === DECLINED_DETAILS.number) {
        throw new CardDeclinedError('The card was declined: ask the customer for another card', {
          provider: inner.name,
        })
      }
      return inner.createCard(owner, input, { idempotencyKey })
    },
    getCard: (owner, cardId) => inner.getCard(owner, cardId),
    listCards: (owner, options) => inner.listCards(owner, options),
    updateCard: (owner, cardId, patch) => inner.updateCard(owner, cardId, patch),
    deleteCard: (owner, cardId) => inner.deleteCard(owner, cardId),
    setDefaultCard: (owner, cardId) => inner.setDefaultCard(owner, cardId),
    invalidateCard: (owner, cardId) => inner.invalidateCard(owner, cardId),
    parseCard: (raw, owner) => inner.parseCard(raw, owner),
  }
  return defineCardProvider({
    name: inner.name,
    capabilities,
    ...healthy,
    ...breakage(healthy),
  })
}

/** What a broken provider's set-up gives: the provider, and its request counter if any. */
interface Made {
  provider: CardProvider
  requestCount?: () => number
}

/**
 * The titles of the checks that fail, from the suite for the memory provider's capabilities (or
 * for `capabilities`, which the provider made must declare).
 */
async function failedProviderChecks(
  make: () => Made = () => ({ provider: memoryAdapter() }),
  capabilities: ProviderCapabilities = MEMORY_PROVIDER_CAPABILITIES,
  sources: Partial<CardSources> = { declined: DECLINED_DETAILS },
  accountSources?: CardSources,
) {
  const options = {
    capabilities,
    sources: { valid: ['tok_visa', 'tok_mastercard', 'tok_amex'], ...sources },
    ...(accountSources ? { accountSources } : {}),
    otherCurrency: { currency: 'eur', sources: ['tok_visa', 'tok_mastercard'] },
    setup: () => {
      const { provider, requestCount } = make()
      return {
        provider,
        owners: {
          customer: () => ({ type: 'customer' as const, id: `cus_${randomUUID()}` }),
          account: () => ({ type: 'account' as const, id: `acct_${randomUUID()}` }),
        },
        readRawCard: (owner: Owner, cardId: string) => provider.getCard(owner, cardId),
        ...(requestCount ? { requestCount } : {}),
      }
    },
  }
  const checks = cardProviderChecks(options as unknown as SuiteData)
  return failures(checks, (check) => runCardProviderCheck(options, check))
}

/**
 * The titles of the checks that fail, from the suite for a `'latest-card'` provider's
 * capabilities, against {@link latestCardProvider} (healthy, or with another default rule).
 */
async function failedLatestCardChecks(
  make: () => Made = () => latestCardProvider(),
): Promise<string[]> {
  const options = {
    capabilities: LATEST_CARD_CAPABILITIES,
    sources: {
      valid: ['tok_visa', 'tok_mastercard', 'tok_amex'],
      declined: 'tok_chargeDeclined',
      declinedDetails: DECLINED_DETAILS,
    },
    setup: () => {
      const { provider, requestCount } = make()
      return {
        provider,
        owners: { customer: () => ({ type: 'customer' as const, id: `cus_${randomUUID()}` }) },
        readRawCard: (owner: Owner, cardId: string) => provider.getCard(owner, cardId),
        ...(requestCount ? { requestCount } : {}),
      }
    },
  }
  const checks = cardProviderChecks(options as unknown as SuiteData)
  // Customers only: the general provider type of `Made` would ask for an account factory too.
  const customersOnly = options as unknown as Omit<CardProviderSuiteOptions, 'name'>
  return failures(checks, (check) => runCardProviderCheck(customersOnly, check))
}

/** The cursor a broken adapter below gives for the empty page after the last one. */
const PAST_THE_END = 'past-the-end'

/** A `'latest-card'` provider whose default follows `rule` instead. */
const withRule = (rule: DefaultRule) => () => latestCardProvider({ rule })

/** A set-up of {@link memoryAdapter} with some primitives replaced. */
const broken = (breakage: (healthy: Primitives) => Partial<Primitives>) => () => ({
  provider: memoryAdapter(breakage),
})

/**
 * `healthy`'s `createCard` behind a replay log that takes two creates for the same request when
 * `requestOf` gives the same for both, and answers the second with the first card.
 */
const replayLog = (
  healthy: Primitives,
  requestOf: (owner: Owner, input: ValidCreateCardInput, idempotencyKey: string) => unknown[],
): Partial<Primitives> => {
  const replays = new Map<string, string>()
  return {
    async createCard(owner, input, { idempotencyKey }) {
      const key = JSON.stringify(requestOf(owner, input, idempotencyKey))
      const replay = replays.get(key)
      if (replay) return healthy.getCard!(owner, replay)
      const card = await healthy.createCard!(owner, input, { idempotencyKey: randomUUID() })
      replays.set(key, card.id)
      return card
    },
  }
}

/** `healthy`'s `getCard` and `listCards`, each card they read passed through `change`. */
const readThrough = (healthy: Primitives, change: (card: Card) => Card): Partial<Primitives> => ({
  getCard: async (owner, cardId) => change(await healthy.getCard!(owner, cardId)),
  async listCards(owner, options) {
    const page = await healthy.listCards!(owner, options)
    return { ...page, data: page.data.map(change) }
  },
})

/** The key of an owner in the broken adapters' own notes. */
const ownerKey = (owner: Owner) => `${owner.type}:${owner.id}`

/**
 * When {@link hidesDefault} starts hiding an owner's default. `'set default, cleared first'`: at
 * each `setDefaultCard`, before the card is found, so that a refused one leaves it hidden.
 */
type HidingMoment =
  | 'update'
  | 'create after emptied'
  | 'first create with makeDefault false'
  | 'set default, cleared first'

/**
 * `healthy` with an owner's default hidden (every read says `isDefault: false`) from `moment`
 * on, until the caller chooses a default again (`setDefaultCard` that succeeds, or a create with
 * `makeDefault: true`): an adapter that drops the default rule 1 says it must keep or give.
 */
const hidesDefault = (healthy: Primitives, moment: HidingMoment): Partial<Primitives> => {
  const hidden = new Set<string>()
  const emptied = new Set<string>()
  const view = (card: Card): Card =>
    hidden.has(ownerKey(card.owner)) ? { ...card, isDefault: false } : card
  const isEmpty = async (owner: Owner) =>
    (await healthy.listCards!(owner, { limit: 1 })).data.length === 0
  return {
    ...readThrough(healthy, view),
    async createCard(owner, input, context) {
      const key = ownerKey(owner)
      if (input.makeDefault === true) hidden.delete(key)
      if (moment === 'create after emptied' && emptied.delete(key)) hidden.add(key)
      if (
        moment === 'first create with makeDefault false' &&
        input.makeDefault === false &&
        (await isEmpty(owner))
      ) {
        hidden.add(key)
      }
      return view(await healthy.createCard!(owner, input, context))
    },
    async updateCard(owner, cardId, patch) {
      if (moment === 'update') hidden.add(ownerKey(owner))
      return view(await healthy.updateCard!(owner, cardId, patch))
    },
    async deleteCard(owner, cardId) {
      await healthy.deleteCard!(owner, cardId)
      if (await isEmpty(owner)) {
        hidden.delete(ownerKey(owner))
        emptied.add(ownerKey(owner))
      }
    },
    async setDefaultCard(owner, cardId) {
      // Cleared first, as an adapter that unsets the old default and then sets the new one: a
      // card refused as not the owner's leaves the owner with no default.
      if (moment === 'set default, cleared first') hidden.add(ownerKey(owner))
      else hidden.delete(ownerKey(owner))
      const card = await healthy.setDefaultCard!(owner, cardId)
      hidden.delete(ownerKey(owner))
      return card
    },
    invalidateCard: async (owner, cardId) => view(await healthy.invalidateCard!(owner, cardId)),
  }
}

/**
 * `healthy` whose `updateCard` then wipes `field` when the patch does not name it, as an adapter
 * that sends the whole card back, built from the patch alone, does: every metadata key unset,
 * or every address field cleared.
 */
const wipesUnnamed =
  (field: 'metadata' | 'address') =>
  (healthy: Primitives): Partial<Primitives> => ({
    async updateCard(owner, cardId, patch) {
      const card = await healthy.updateCard!(owner, cardId, patch)
      if (patch[field] !== undefined) return card
      const wipe: CardUpdate =
        field === 'metadata'
          ? { metadata: Object.fromEntries(Object.keys(card.metadata).map((key) => [key, ''])) }
          : {
              address: Object.fromEntries(
                Object.entries(card.address)
                  .filter(([, value]) => value !== null)
                  .map(([key]) => [key, null]),
              ),
            }
      // Nothing to wipe: the card is as the patch left it.
      if (Object.keys(wipe[field]!).length === 0) return card
      return healthy.updateCard!(owner, cardId, wipe)
    },
  })

/** The memory provider's capabilities, with the caller choosing the default. */
const CALLER_CHOSEN = { ...MEMORY_PROVIDER_CAPABILITIES, defaultPolicy: 'caller-chosen' as const }

/**
 * A store over `backing` that closes without closing `backing`, as a database store leaves the
 * database: what a fixture's `reopen` opens to read what a closed store left.
 */
const viewOf = (backing: CardStore): CardStore =>
  closableStore('memoryStore view', { ...backing, async close() {} })

/**
 * `inner`'s writes, each first calling `forget` with the owner of every card it writes: what a
 * cache in front of a store does to stay fresh.
 */
const forgettingWrites = (
  inner: CardStore,
  forget: (scope: CardScope) => void,
): Pick<CardStore, 'upsert' | 'upsertMany' | 'delete' | 'setDefault'> => ({
  async upsert(card, options) {
    forget(scopeOf(card))
    return inner.upsert(card, options)
  },
  async upsertMany(cards, options) {
    for (const card of cards) forget(scopeOf(card))
    return inner.upsertMany(cards, options)
  },
  async delete(scope, cardId, options) {
    forget(scope)
    return inner.delete(scope, cardId, options)
  },
  async setDefault(scope, cardId, options) {
    forget(scope)
    return inner.setDefault(scope, cardId, options)
  },
})

/** One macrotask: the next turn of the event loop's check phase. */
const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve))

/** One macrotask: the next turn of the event loop's timers phase. */
const nextTimer = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

/** One microtask: what an `await` of a settled promise waits. */
const nextMicrotask = () => Promise.resolve()

/** How a store that reads rows and writes them back later waits for its driver. */
interface LateWrites {
  /** What it waits between its read and its write: {@link nextImmediate} or {@link nextTimer}. */
  turn: () => Promise<void>
  /** What it waits before it reads, if anything (a round trip may delay the read too). */
  beforeRead?: (() => Promise<void>) | undefined
}

/** The card a stored row holds, bookkeeping left out. */
const plain = ({ version: _, updatedAt: __, observedAt: ___, ...card }: StoredCard): Card => card

/**
 * A store whose `setDefault` without `observedAt` reads the card (or, for null, the defaults),
 * then writes it as the default (or them as not) through `upsert`, which clears the old default
 * in the same step: alone, it does what the healthy method does.
 */
const switchesLate =
  ({ turn, beforeRead }: LateWrites) =>
  (inner: CardStore): CardStore => ({
    ...inner,
    async setDefault(scope, cardId, options) {
      if (options?.observedAt !== undefined) return inner.setDefault(scope, cardId, options)
      if (beforeRead) await beforeRead()
      const rows =
        cardId === null
          ? (await inner.listByOwner(scope)).filter((card) => card.isDefault)
          : [await inner.get(scope, cardId)]
      await turn()
      for (const row of rows) {
        if (row) await inner.upsert({ ...plain(row), isDefault: cardId !== null })
      }
    },
  })

/**
 * A store whose `upsert` of a default without `observedAt` reads the owner's default of its
 * currency, then clears it by writing it as read, then writes the card.
 */
const clearsLate =
  ({ turn, beforeRead }: LateWrites) =>
  (inner: CardStore): CardStore => ({
    ...inner,
    async upsert(card, options) {
      if (!card.isDefault || options?.observedAt !== undefined) return inner.upsert(card, options)
      if (beforeRead) await beforeRead()
      const previous = (await inner.listByOwner(scopeOf(card))).filter(
        (row) => row.isDefault && row.id !== card.id && row.currency === card.currency,
      )
      await turn()
      for (const row of previous) await inner.upsert({ ...plain(row), isDefault: false })
      return inner.upsert(card, options)
    },
  })

/**
 * The titles of the store checks that fail against `breakage` of a store over a memory store
 * that outlives it (so that the suite can `reopen` it). The broken store honours `close()` as a
 * healthy one would, whatever its broken methods do, unless `closing` is `'as broken'`: for the
 * breaks of `close()` itself. `breakage` may write to `backing`, which is never closed. With
 * `only`, just the checks of those titles (`group: title`) run.
 */
async function failedStoreChecks(
  breakage: (inner: CardStore, backing: CardStore) => CardStore,
  closing: 'honoured' | 'as broken' = 'honoured',
  only?: readonly string[],
): Promise<string[]> {
  const setup = () => {
    const backing = memoryStore()
    const open = () => {
      const broken = breakage(viewOf(backing), backing)
      return closing === 'honoured' ? closableStore('brokenStore', broken) : broken
    }
    // The same broken store over the same data: its notes may be kept apart from `backing`.
    return { store: open(), reopen: open }
  }
  const checks = cardStoreChecks().filter(
    (check) => only === undefined || only.includes(`${check.group}: ${check.title}`),
  )
  return failures(checks, (check) => runCardStoreCheck({ setup }, check))
}

async function failures<T extends { group: string; title: string }>(
  checks: readonly T[],
  run: (check: T) => Promise<void>,
): Promise<string[]> {
  const failed: string[] = []
  for (const check of checks) {
    try {
      await run(check)
    } catch {
      failed.push(`${check.group}: ${check.title}`)
    }
  }
  return failed
}

describe('describeCardProvider catches a broken provider', () => {
  it('fails no check of the healthy adapter', async () => {
    expect(await failedProviderChecks()).toEqual([])
  })

  it('an adapter that makes every new card the default fails the default rules', async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        createCard: (owner, input, context) =>
          healthy.createCard!(owner, { ...input, makeDefault: true }, context),
      })),
    )
    expect(failed).toEqual([
      'defaults: a second card leaves the default alone',
      // Its precondition (the first of two cards is the default) no longer holds.
      'updateCard: an update leaves the default where it is, whether it changes another card or the default',
      'deleteCard: deleting a card that is not the default keeps the default',
      'deleteCard: deleting the default makes the most recently added remaining card the default',
      "invalidateCard: invalidating the default makes the most recently added card still valid the default; with none valid left there is none, and the next card created becomes it (defaultPolicy 'first-card')",
      // For an external account, its precondition (the first card is its currency's default).
      'updateCard: an update leaves the default where it is, whether it changes another card or the default (account owners)',
      // The card it deletes is the default now, which an external account cannot delete.
      'deleteCard: removes the card (account owners)',
      'external accounts: the first card for a currency becomes its default; the next does not',
      'external accounts: each currency has a default of its own: the first eur card becomes its default, the first currency keeps its own',
      // Its precondition (the first card stays the default) no longer holds.
      'external accounts: the default for a currency cannot be deleted: a conflict that names the default and its currency, and the card stays',
    ])
  })

  it('an adapter that promotes the oldest card on delete fails the promotion rule', async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async deleteCard(owner, cardId) {
          const wasDefault = (await healthy.getCard!(owner, cardId)).isDefault
          await healthy.deleteCard!(owner, cardId)
          const oldest = (await healthy.listCards!(owner, { limit: 100 })).data.at(-1)
          if (wasDefault && oldest) await healthy.setDefaultCard!(owner, oldest.id)
        },
      })),
    )
    expect(failed).toEqual([
      'deleteCard: deleting the default makes the most recently added remaining card the default',
    ])
  })

  it('an adapter that hands the default to the newest card on every deletion fails the keep-default rule', async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async deleteCard(owner, cardId) {
          await healthy.deleteCard!(owner, cardId)
          const newest = (await healthy.listCards!(owner, { limit: 100 })).data[0]
          if (owner.type === 'customer' && newest) await healthy.setDefaultCard!(owner, newest.id)
        },
      })),
    )
    expect(failed).toEqual([
      'deleteCard: deleting a card that is not the default keeps the default',
    ])
  })

  it('an adapter that reads one default per account, not one per currency, fails the per-currency rule', async () => {
    // Only the usd default reads as a default: the account's other currencies have none.
    const usdOnly = (card: Card): Card =>
      card.owner.type === 'account' && card.currency !== 'usd'
        ? { ...card, isDefault: false }
        : card
    const failed = await failedProviderChecks(broken((healthy) => readThrough(healthy, usdOnly)))
    expect(failed).toEqual([
      'external accounts: each currency has a default of its own: the first eur card becomes its default, the first currency keeps its own',
      "external accounts: setDefaultCard of a eur card moves that currency's default and leaves the first currency's alone",
    ])
  })

  it('an adapter that reads cards from copies refreshed only by a write of that card fails the default rules', async () => {
    // It keeps a copy of each card a write returns and answers getCard (or listCards, its
    // getDefaultCard asking the vendor) with it: a card that gained or lost the default by a
    // write of another card (a promotion, a switch) reads as it was, in that read alone.
    const readsCopies = (read: 'getCard' | 'listCards') =>
      broken((healthy) => {
        const copies = new Map<string, Card>()
        const keyOf = (card: Card) => `${ownerKey(card.owner)}/${card.id}`
        const copy = (card: Card) => {
          copies.set(keyOf(card), card)
          return card
        }
        const copyOf = (card: Card) => copies.get(keyOf(card)) ?? card
        const writes: Partial<Primitives> = {
          createCard: async (owner, input, context) =>
            copy(await healthy.createCard!(owner, input, context)),
          updateCard: async (owner, cardId, patch) =>
            copy(await healthy.updateCard!(owner, cardId, patch)),
          setDefaultCard: async (owner, cardId) =>
            copy(await healthy.setDefaultCard!(owner, cardId)),
          invalidateCard: async (owner, cardId) =>
            copy(await healthy.invalidateCard!(owner, cardId)),
        }
        if (read === 'getCard') {
          return {
            ...writes,
            getCard: async (owner, cardId) => copyOf(await healthy.getCard!(owner, cardId)),
          }
        }
        return {
          ...writes,
          async listCards(owner, options) {
            const page = await healthy.listCards!(owner, options)
            return { ...page, data: page.data.map(copyOf) }
          },
          async getDefaultCard(owner) {
            const { data } = await healthy.listCards!(owner, { limit: 100 })
            return data.find((card) => card.isDefault) ?? null
          },
        }
      })
    const movesTheDefault = [
      'defaults: makeDefault makes a later card the only default',
      'deleteCard: deleting the default makes the most recently added remaining card the default',
      "setDefaultCard: makes a card the owner's only default",
      "invalidateCard: invalidating the default makes the most recently added card still valid the default; with none valid left there is none, and the next card created becomes it (defaultPolicy 'first-card')",
      "external accounts: setDefaultCard of a eur card moves that currency's default and leaves the first currency's alone",
      'external accounts: makeDefault (default_for_currency) makes a card the default for its currency',
      'external accounts: setDefaultCard moves the default for the currency',
    ]
    expect(await failedProviderChecks(readsCopies('getCard')), 'copies read by getCard').toEqual(
      movesTheDefault,
    )
    expect(
      await failedProviderChecks(readsCopies('listCards')),
      'copies read by listCards',
    ).toEqual(movesTheDefault)
  })

  it('an adapter that ignores idempotency keys fails the one-card rule', async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        createCard: (owner, input) =>
          healthy.createCard!(owner, input, { idempotencyKey: randomUUID() }),
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType(['createCard: the same idempotency key twice makes one card']),
    )
  })

  it('an adapter whose replay log is keyed by the key alone fails the other-owner rule', async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => {
        const replays = new Map<string, Card>()
        return {
          async createCard(owner, input, { idempotencyKey }) {
            const replay = replays.get(idempotencyKey)
            if (replay) return replay
            const card = await healthy.createCard!(owner, input, { idempotencyKey: randomUUID() })
            replays.set(idempotencyKey, card)
            return card
          },
        }
      }),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        "createCard: an idempotency key reused for another owner never gives it the first owner's card",
        // The same log also answers the other card's create with the first card.
        'createCard: an idempotency key reused for another card never answers with the first card',
      ]),
    )
  })

  it('an adapter whose replay log ignores what was asked fails the other-card rule', async () => {
    // Keyed by owner and key: a create of another card with a key reused answers the first card,
    // and the card the caller meant to save is never made.
    const failed = await failedProviderChecks(
      broken((healthy) => replayLog(healthy, (owner, _input, key) => [owner.type, owner.id, key])),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'createCard: an idempotency key reused for another card never answers with the first card',
      ]),
    )
  })

  it('an adapter whose replay log compares the source alone fails the other-card rule', async () => {
    // Keyed by owner, key and source: the same source with other metadata under a key reused
    // answers the first card, and the metadata the caller sent is never saved.
    const failed = await failedProviderChecks(
      broken((healthy) =>
        replayLog(healthy, (owner, input, key) => [owner.type, owner.id, key, input.source]),
      ),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'createCard: an idempotency key reused for another card never answers with the first card',
      ]),
    )
  })

  it("an adapter whose setDefaultCard clears every currency's default fails the per-currency switch rule", async () => {
    // After setDefaultCard, the chosen card reads as the account's only default: the other
    // currencies lose theirs.
    const chosen = new Map<string, string>()
    const onlyChosen = (card: Card): Card => {
      const id = chosen.get(card.owner.id)
      return id === undefined || card.owner.type !== 'account'
        ? card
        : { ...card, isDefault: card.id === id }
    }
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async setDefaultCard(owner, cardId) {
          const card = await healthy.setDefaultCard!(owner, cardId)
          chosen.set(owner.id, cardId)
          return onlyChosen(card)
        },
        ...readThrough(healthy, onlyChosen),
      })),
    )
    expect(failed).toEqual([
      "external accounts: setDefaultCard of a eur card moves that currency's default and leaves the first currency's alone",
    ])
  })

  it('an adapter whose decline message holds the CVC fails the decline rule', async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async createCard(owner, input, context) {
          if (typeof input.source !== 'string' && input.source.number === DECLINED_DETAILS.number) {
            throw new CardDeclinedError(
              `The card was declined: CVC ${input.source.cvc} did not match`,
              { provider: 'memory' },
            )
          }
          return healthy.createCard!(owner, input, context)
        },
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'createCard: a declined source rejects with card_declined and adds no card',
        ERRORS_FROM_THE_ADAPTER,
      ]),
    )
  })

  it('an adapter whose decline keeps the CVC in its details or its cause fails the decline rule, though its message is clean', async () => {
    // toJSON leaves details and cause out, but a logger prints both: a careless adapter keeps
    // the vendor's echo of the request there.
    const keepsEcho = (where: 'details' | 'cause' | 'cause of the cause') =>
      broken((healthy) => ({
        async createCard(owner, input, context) {
          if (typeof input.source !== 'string' && input.source.number === DECLINED_DETAILS.number) {
            const echo = `vendor 402: {"card":{"cvc":"${input.source.cvc}"}}`
            throw new CardDeclinedError(
              'The card was declined: ask the customer for another card',
              {
                provider: 'memory',
                ...(where === 'details'
                  ? { details: { param: 'card', request: { cvc: input.source.cvc } } }
                  : where === 'cause'
                    ? { cause: new Error(echo) }
                    : { cause: new Error('vendor request failed', { cause: { body: echo } }) }),
              },
            )
          }
          return healthy.createCard!(owner, input, context)
        },
      }))
    for (const where of ['details', 'cause', 'cause of the cause'] as const) {
      expect(await failedProviderChecks(keepsEcho(where)), `the CVC in the ${where}`).toEqual(
        forEachOwnerType([
          'createCard: a declined source rejects with card_declined and adds no card',
          ERRORS_FROM_THE_ADAPTER,
        ]),
      )
    }
  })

  it('an adapter whose refusal of raw details holds the CVC fails the errors rule, with the declined source a token', async () => {
    // The core masks card numbers in every CardportError, not CVCs; it refuses expired,
    // non-Luhn and wrong-length details before the adapter runs. With the declined source a
    // token, only sources.declinedDetails brings raw details to the adapter's own refusal.
    const quotesCvc = broken((healthy) => ({
      async createCard(owner, input, context) {
        if (typeof input.source !== 'string' && input.source.number === DECLINED_DETAILS.number) {
          throw new CardInvalidError(`The vault refused the card (cvc ${input.source.cvc})`, {
            provider: 'memory',
          })
        }
        return healthy.createCard!(owner, input, context)
      },
    }))
    const token = { declined: 'tok_chargeDeclined', declinedDetails: DECLINED_DETAILS }
    expect(await failedProviderChecks(undefined, undefined, token), 'the healthy adapter').toEqual(
      [],
    )
    expect(await failedProviderChecks(quotesCvc, undefined, token)).toEqual(
      forEachOwnerType([ERRORS_FROM_THE_ADAPTER]),
    )
    // Without raw details the provider refuses, the check cannot reach the adapter: it is
    // reported skipped (a failure outside Vitest), never passed.
    const notes: string[] = []
    const check = cardProviderChecks({
      capabilities: MEMORY_PROVIDER_CAPABILITIES,
      sources: { valid: ['tok_visa'], declined: 'tok_chargeDeclined' },
    } as unknown as SuiteData).find(
      (entry) => `${entry.group}: ${entry.title}` === ERRORS_FROM_THE_ADAPTER,
    )!
    const options = {
      capabilities: MEMORY_PROVIDER_CAPABILITIES,
      sources: { valid: ['tok_visa'], declined: 'tok_chargeDeclined' },
      setup: () => ({
        provider: quotesCvc().provider,
        owners: {
          customer: () => ({ type: 'customer' as const, id: `cus_${randomUUID()}` }),
          account: () => ({ type: 'account' as const, id: `acct_${randomUUID()}` }),
        },
        readRawCard: async () => null,
      }),
    } as unknown as Omit<CardProviderSuiteOptions, 'name'>
    const skip = (note: string): never => {
      notes.push(note)
      throw new Error('skipped')
    }
    await expect(runCardProviderCheck(options, check, skip)).rejects.toThrow('skipped')
    expect(notes).toEqual([expect.stringContaining('give sources.declinedDetails')])
    // Details the core refuses never reach the adapter: the check says so, and fails.
    const expired = { ...DECLINED_DETAILS, expYear: new Date().getUTCFullYear() - 1 }
    const error = await runCardProviderCheck(
      { ...options, sources: { valid: ['tok_visa'], declinedDetails: expired } },
      check,
    ).catch((caught: unknown) => caught)
    expect(String(error)).toContain('never reached the adapter')
  })

  it('an adapter whose decline names no provider fails the decline rule', async () => {
    // The core passes an adapter's own CardportError through as it is: one made without
    // `provider` reaches the caller's logs with no word of which provider declined the card.
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async createCard(owner, input, context) {
          if (typeof input.source !== 'string' && input.source.number === DECLINED_DETAILS.number) {
            throw new CardDeclinedError('The card was declined: ask the customer for another card')
          }
          return healthy.createCard!(owner, input, context)
        },
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'createCard: a declined source rejects with card_declined and adds no card',
        ERRORS_FROM_THE_ADAPTER,
      ]),
    )
  })

  it('an adapter that saves a card before its vendor declines it fails the decline rule', async () => {
    // It vaults the details, then has the vendor verify them: the decline leaves the vaulted card
    // (here a tok_visa card) among the owner's cards, as if the customer had saved it.
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async createCard(owner, input, context) {
          if (typeof input.source !== 'string' && input.source.number === DECLINED_DETAILS.number) {
            await healthy.createCard!(owner, { ...input, source: 'tok_visa' }, context)
            throw new CardDeclinedError(
              'The card was declined: ask the customer for another card',
              {
                provider: 'memory',
              },
            )
          }
          return healthy.createCard!(owner, input, context)
        },
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'createCard: a declined source rejects with card_declined and adds no card',
        ERRORS_FROM_THE_ADAPTER,
      ]),
    )
  })

  it('an adapter that keeps the CVC in the card it makes from raw details fails the raw-details rule', async () => {
    // Meant to keep the vendor's verdict on the CVC (Stripe's `cvc_check: 'pass'`), it keeps the
    // CVC itself in the card's metadata: every read of the card, and every copy a store keeps,
    // holds it.
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        createCard: (owner, input, context) =>
          healthy.createCard!(
            owner,
            typeof input.source === 'string' || input.source.cvc === undefined
              ? input
              : { ...input, metadata: { ...input.metadata, cvc_check: input.source.cvc } },
            context,
          ),
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'createCard: creates a card from raw card details, keeping neither the number nor the CVC',
      ]),
    )
  })

  it('an adapter that sends the expiry month of raw details counted from 0 fails the raw-details rule', async () => {
    // As `Date#getMonth` counts: the card saved expires a month before the customer's. A card
    // made from a token carries the vendor's own expiry, so only the raw-details rule shows it.
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        createCard: (owner, input, context) =>
          healthy.createCard!(
            owner,
            typeof input.source === 'string'
              ? input
              : { ...input, source: { ...input.source, expMonth: input.source.expMonth - 1 } },
            context,
          ),
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'createCard: creates a card from raw card details, keeping neither the number nor the CVC',
      ]),
    )
  })

  it("an adapter whose conflict for deleting a currency's default says nothing of what to do fails that rule", async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async deleteCard(owner, cardId) {
          try {
            await healthy.deleteCard!(owner, cardId)
          } catch (error) {
            if (isCardportError(error, 'conflict')) {
              throw new ConflictError('No.', { provider: 'memory' })
            }
            throw error
          }
        },
      })),
    )
    expect(failed).toEqual([
      'external accounts: the default for a currency cannot be deleted: a conflict that names the default and its currency, and the card stays',
    ])
  })

  it('an adapter that answers a source it does not know with card_not_found fails the unknown-source rule', async () => {
    // CardSync.setDefaultCard reads card_not_found from createCard as "the card this key made is
    // gone" and tries the next key of its chain: the unknown token would be sent 32 times.
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async createCard(owner, input, context) {
          if (typeof input.source === 'string' && !(input.source in MEMORY_PROVIDER_TOKENS)) {
            throw cardNotFound('memory', owner, input.source)
          }
          return healthy.createCard!(owner, input, context)
        },
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'createCard: a source the provider does not know rejects with invalid_request, not card_not_found, and adds no card',
      ]),
    )
  })

  it('an adapter that ignores the page limit fails the paging rules', async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        listCards: (owner, { cursor }) =>
          healthy.listCards!(owner, cursor === undefined ? { limit: 100 } : { limit: 100, cursor }),
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'listCards: pages with limit and an opaque cursor until every card is listed once',
        "listCards: another owner's cursor rejects with invalid_request",
        'listCards: listAll streams every card across pages, one page at a time',
        LISTS_MANY,
      ]),
    )
  })

  it('an adapter whose cursors leave out whose list they page fails the cursor rule', async () => {
    // Re-seals the memory provider's cursors without their list: any owner's list takes them.
    const unscoped = (cursor: string) => encodeCursor('memory', decodeCursor('memory', cursor))
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async listCards(owner, { limit, cursor }) {
          const page = await healthy.listCards!(
            owner,
            cursor === undefined
              ? { limit }
              : {
                  limit,
                  cursor: encodeCursor('memory', decodeCursor('memory', cursor), {
                    list: formatOwner(owner),
                  }),
                },
          )
          return { ...page, nextCursor: page.nextCursor && unscoped(page.nextCursor) }
        },
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType(["listCards: another owner's cursor rejects with invalid_request"]),
    )
  })

  it('an adapter that says more follow whenever a page is full fails the paging rule', async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async listCards(owner, options) {
          // Past the last full page: the empty page such an adapter sends callers to.
          if (options.cursor === PAST_THE_END) return { data: [], hasMore: false, nextCursor: null }
          const page = await healthy.listCards!(owner, options)
          const hasMore = page.data.length === options.limit
          return {
            ...page,
            hasMore,
            nextCursor: hasMore ? (page.nextCursor ?? PAST_THE_END) : null,
          }
        },
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'listCards: pages with limit and an opaque cursor until every card is listed once',
      ]),
    )
  })

  it("an adapter that never lists past an owner's 10th card fails the many-cards rule", async () => {
    // Pages by offset over what its vendor lists, and the vendor call it makes gives the first 10
    // cards only (one page of a vendor's default size, never followed), saying none follow. The
    // checks that make 3 cards cannot tell.
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async listCards(owner, { limit, cursor }) {
          const list = formatOwner(owner)
          const offset =
            cursor === undefined
              ? 0
              : decodeCursor('memory', cursor, {
                  list,
                  read: (state) =>
                    Number.isInteger(state.offset) ? Number(state.offset) : undefined,
                })
          const visible = (await healthy.listCards!(owner, { limit: 10 })).data
          const data = visible.slice(offset, offset + limit)
          const hasMore = offset + limit < visible.length
          return {
            data,
            hasMore,
            nextCursor: hasMore
              ? encodeCursor('memory', { offset: offset + limit }, { list })
              : null,
          }
        },
      })),
    )
    expect(failed).toEqual(forEachOwnerType([LISTS_MANY]))
  })

  it('an adapter that takes a page shorter than asked for as the last, over a vendor that caps its pages at 10, fails the many-cards rule', async () => {
    // Asked for 100 cards, the vendor gives 10 and says more follow; the adapter reads the short
    // page as the end. Pages of 7 are never short before the end: listAll, with its default
    // page size of 100, stops at the 10th card.
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async listCards(owner, { limit, cursor }) {
          const capped = Math.min(limit, 10)
          const page = await healthy.listCards!(
            owner,
            cursor === undefined ? { limit: capped } : { limit: capped, cursor },
          )
          const hasMore = page.hasMore && page.data.length === limit
          return { data: page.data, hasMore, nextCursor: hasMore ? page.nextCursor : null }
        },
      })),
    )
    expect(failed).toEqual(forEachOwnerType([LISTS_MANY]))
  })

  it('an adapter that reads the offset of any cursor, without its seal, fails the cursor rules', async () => {
    // Its cursors hold an offset, read back without the seal that says who made them and for
    // which list: another provider's cursor, or another owner's, pages this owner's list.
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async listCards(owner, { limit, cursor }) {
          let offset = 0
          if (cursor !== undefined) {
            let state: { offset?: unknown } | undefined
            try {
              const payload = Buffer.from(cursor.split('.')[0]!, 'base64url')
              state = JSON.parse(payload.toString('utf8')).s
            } catch {
              state = undefined
            }
            if (typeof state?.offset !== 'number' || !Number.isInteger(state.offset)) {
              throw new InvalidRequestError('Not a cursor: pass the nextCursor of a page', {
                provider: 'memory',
              })
            }
            offset = state.offset
          }
          const cards = (await healthy.listCards!(owner, { limit: 100 })).data
          const data = cards.slice(offset, offset + limit)
          const hasMore = offset + limit < cards.length
          return {
            data,
            hasMore,
            nextCursor: hasMore
              ? encodeCursor('memory', { offset: offset + limit }, { list: formatOwner(owner) })
              : null,
          }
        },
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'listCards: a cursor the provider did not make rejects with invalid_request',
        "listCards: another owner's cursor rejects with invalid_request",
      ]),
    )
  })

  it('an adapter whose cursor never moves on fails the paging rules, and the suite stops asking', async () => {
    // Each later page is the first one again, with the cursor it was asked with: the same card
    // on every page of limit 1, so a walk bounded by the cards it has seen never ends. Pages
    // that resolve at once never let Vitest's timeout fire: the run would hang, not fail.
    let most = 0
    const failed = await failedProviderChecks(
      broken((healthy) => {
        let pages = 0
        return {
          async listCards(owner, { limit, cursor }) {
            pages += 1
            most = Math.max(most, pages)
            if (pages > 200) throw new Error('the suite kept paging a cursor that never moves on')
            if (cursor === undefined) return healthy.listCards!(owner, { limit })
            // The cursor is read (a foreign one refused), then the first page given again.
            await healthy.listCards!(owner, { limit, cursor })
            return { ...(await healthy.listCards!(owner, { limit })), nextCursor: cursor }
          },
        }
      }),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'listCards: pages with limit and an opaque cursor until every card is listed once',
        'listCards: listAll streams every card across pages, one page at a time',
        LISTS_MANY,
      ]),
    )
    expect(most, 'the most pages one check asked for').toBeLessThan(20)
  })

  it("a 'caller-chosen' provider that promotes a card when the default is deleted or invalidated fails those rules", async () => {
    // The memory provider promotes the most recently added card, as Stripe does: declared
    // 'caller-chosen', it picks a default the caller never chose.
    const callerChosen = {
      ...MEMORY_PROVIDER_CAPABILITIES,
      defaultPolicy: 'caller-chosen' as const,
    }
    const failed = await failedProviderChecks(
      () => ({ provider: memoryAdapter(undefined, callerChosen) }),
      callerChosen,
    )
    expect(failed).toEqual([
      "deleteCard: deleting the default leaves no default: nothing is promoted, and the next card created becomes the default (defaultPolicy 'caller-chosen')",
      "invalidateCard: invalidating the default leaves no default: nothing is promoted, and the next card created becomes the default (defaultPolicy 'caller-chosen')",
    ])
  })

  it("a 'first-card' provider that promotes no card when the default is deleted or invalidated fails those rules", async () => {
    // The caller-chosen adapter's behaviour, declared 'first-card'.
    const failed = await failedProviderChecks(() => ({
      provider: memoryAdapter((healthy) => callerChosenPrimitives(healthy as Required<Primitives>)),
    }))
    expect(failed).toEqual([
      'deleteCard: deleting the default makes the most recently added remaining card the default',
      "invalidateCard: invalidating the default makes the most recently added card still valid the default; with none valid left there is none, and the next card created becomes it (defaultPolicy 'first-card')",
    ])
  })

  it("a 'first-card' adapter that hands an invalidated default to the newest card, valid or not, fails the invalidation rule", async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => {
        // Owners whose default went to their newest card: read as the default, whatever its status.
        const promoted = new Map<string, string>()
        const view = (card: Card): Card => {
          const id = promoted.get(ownerKey(card.owner))
          return id === undefined ? card : { ...card, isDefault: card.id === id }
        }
        const forget = (owner: Owner) => promoted.delete(ownerKey(owner))
        return {
          ...readThrough(healthy, view),
          async invalidateCard(owner, cardId) {
            const wasDefault = view(await healthy.getCard!(owner, cardId)).isDefault
            const card = await healthy.invalidateCard!(owner, cardId)
            const newest = (await healthy.listCards!(owner, { limit: 1 })).data[0]
            if (wasDefault && newest) promoted.set(ownerKey(owner), newest.id)
            return view(card)
          },
          async createCard(owner, input, context) {
            forget(owner)
            return healthy.createCard!(owner, input, context)
          },
          async setDefaultCard(owner, cardId) {
            forget(owner)
            return healthy.setDefaultCard!(owner, cardId)
          },
        }
      }),
    )
    expect(failed).toEqual([
      "invalidateCard: invalidating the default makes the most recently added card still valid the default; with none valid left there is none, and the next card created becomes it (defaultPolicy 'first-card')",
    ])
  })

  it('an adapter whose getCard still answers a deleted card fails the removal rule', async () => {
    // As a vendor that deletes softly and still answers a read of the card by its id: what reads
    // a saved card by id, a charge among them, still finds the card the owner removed.
    const failed = await failedProviderChecks(
      broken((healthy) => {
        const deleted = new Map<string, Card>()
        const keyOf = (owner: Owner, cardId: string) => `${ownerKey(owner)}/${cardId}`
        return {
          async deleteCard(owner, cardId) {
            const card = await healthy.getCard!(owner, cardId)
            await healthy.deleteCard!(owner, cardId)
            deleted.set(keyOf(owner, cardId), card)
          },
          getCard: async (owner, cardId) =>
            deleted.get(keyOf(owner, cardId)) ?? healthy.getCard!(owner, cardId),
        }
      }),
    )
    expect(failed).toEqual(forEachOwnerType(['deleteCard: removes the card']))
  })

  it('an adapter whose update makes an invalidated card active again fails the invalidation rule', async () => {
    // As an adapter that writes the whole card back on update, its status 'active' with it: a
    // card marked invalid for good is offered again after a change of its metadata.
    const failed = await failedProviderChecks(
      broken((healthy) => {
        const revived = new Set<string>()
        const view = (card: Card): Card =>
          revived.has(card.id) ? { ...card, status: 'active' } : card
        return {
          ...readThrough(healthy, view),
          async updateCard(owner, cardId, patch) {
            const card = await healthy.updateCard!(owner, cardId, patch)
            if (card.status === 'invalid') revived.add(card.id)
            return view(card)
          },
          async invalidateCard(owner, cardId) {
            revived.delete(cardId)
            return healthy.invalidateCard!(owner, cardId)
          },
        }
      }),
    )
    expect(failed).toEqual(forEachOwnerType(['invalidateCard: marks a card invalid for good']))
  })

  it('an adapter whose update drops the default fails the rule that an update keeps it', async () => {
    // As an adapter that writes the whole card back on update, its default flag cleared.
    const failed = await failedProviderChecks(broken((healthy) => hidesDefault(healthy, 'update')))
    expect(failed).toEqual(
      forEachOwnerType([
        // Each card updated is its owner's only card, so its default: the update checks read
        // the card back whole, isDefault with it.
        ...Object.values(UPDATE_CHECKS),
        'updateCard: an update leaves the default where it is, whether it changes another card or the default',
        // It drops the default before it finds the card, so a refused update drops it too.
        "updateCard: a card the owner does not hold rejects with card_not_found, and the owner's cards and default stay as they were",
      ]),
    )
  })

  it('an adapter whose update wipes the metadata the patch does not name fails the update rules', async () => {
    // An update without metadata unsets every key. Each check's card holds metadata, and the
    // metadata check fills in the address and name first (an update without metadata).
    const failed = await failedProviderChecks(broken(wipesUnnamed('metadata')))
    expect(failed).toEqual(forEachOwnerType(Object.values(UPDATE_CHECKS)))
  })

  it('an adapter whose update wipes the address the patch does not name fails the update rules', async () => {
    // A card made from a token has no address: the checks of the other fields give it one
    // first. The check of the address itself names it in every patch.
    const failed = await failedProviderChecks(broken(wipesUnnamed('address')))
    expect(failed).toEqual(
      forEachOwnerType([UPDATE_CHECKS.expiry, UPDATE_CHECKS.holderName, UPDATE_CHECKS.metadata]),
    )
  })

  it("an adapter whose setDefaultCard clears the owner's default before it finds the card fails the not-held rule", async () => {
    // An owner holding no card has no default to lose: the check's owner holds two, and its
    // default, which the refused call must leave where it was.
    const failed = await failedProviderChecks(
      broken((healthy) => hidesDefault(healthy, 'set default, cleared first')),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        "setDefaultCard: a card the owner does not hold rejects with card_not_found, and the owner's cards and default stay as they were",
      ]),
    )
  })

  it("an adapter that acts on another owner's card before it refuses the call fails the not-held rules", async () => {
    // It finds a card by its id alone, acts on it, and only then sees that the caller does not
    // hold it: the caller is told card_not_found, and the other owner's card is deleted, changed
    // or invalidated all the same. (An account's one card is the default for its currency,
    // which cannot be deleted: there deleteCard answers that conflict, not card_not_found.)
    const actsFirst = (operation: 'deleteCard' | 'updateCard' | 'invalidateCard') =>
      broken((healthy) => {
        const holders = new Map<string, Owner>()
        return {
          async createCard(owner, input, context) {
            const card = await healthy.createCard!(owner, input, context)
            holders.set(card.id, owner)
            return card
          },
          ...Object.fromEntries([
            [
              operation,
              async (owner: Owner, cardId: string, ...rest: unknown[]) => {
                const holder = holders.get(cardId) ?? owner
                const done = await (healthy[operation] as (...args: unknown[]) => unknown)(
                  holder,
                  cardId,
                  ...rest,
                )
                if (ownerKey(holder) !== ownerKey(owner))
                  throw cardNotFound('memory', owner, cardId)
                return done
              },
            ],
          ]),
        }
      })
    for (const operation of ['deleteCard', 'updateCard', 'invalidateCard'] as const) {
      expect(await failedProviderChecks(actsFirst(operation)), operation).toEqual(
        forEachOwnerType([
          `${operation}: a card the owner does not hold rejects with card_not_found, and the owner's cards and default stay as they were`,
        ]),
      )
    }
  })

  it('an adapter that gives no default to a card added after the last was deleted fails that rule', async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => hidesDefault(healthy, 'create after emptied')),
    )
    expect(failed).toEqual([
      'deleteCard: deleting the last card leaves no default, and the next card created becomes the default',
    ])
  })

  it('an adapter that reads makeDefault: false as "not the default" for a first card fails that rule', async () => {
    const failed = await failedProviderChecks(
      broken((healthy) => hidesDefault(healthy, 'first create with makeDefault false')),
    )
    expect(failed).toEqual([
      "defaults: the first card of an owner becomes its default even with makeDefault: false (defaultPolicy 'first-card')",
    ])
  })

  it("a 'caller-chosen' adapter that makes only an owner's very first card the default fails rule 1 after a deleted or invalidated default", async () => {
    const made = (nextTakesOver: boolean) => () => ({
      provider: memoryAdapter(
        (healthy) => callerChosenPrimitives(healthy as Required<Primitives>, { nextTakesOver }),
        CALLER_CHOSEN,
      ),
    })
    expect(await failedProviderChecks(made(true), CALLER_CHOSEN), 'the healthy one').toEqual([])
    expect(await failedProviderChecks(made(false), CALLER_CHOSEN)).toEqual([
      "deleteCard: deleting the default leaves no default: nothing is promoted, and the next card created becomes the default (defaultPolicy 'caller-chosen')",
      "invalidateCard: invalidating the default leaves no default: nothing is promoted, and the next card created becomes the default (defaultPolicy 'caller-chosen')",
    ])
  })

  describe('an adapter broken for account owners only fails the account-owner runs of the rules it breaks', () => {
    // Every owner-generic check runs once per owner type: account owners are not checked for
    // the external-account default rules alone.
    const forAccounts = (
      breakage: (healthy: Primitives) => Partial<Primitives>,
    ): ((healthy: Primitives) => Partial<Primitives>) => {
      return (healthy) => {
        const broken = breakage(healthy)
        const onlyAccounts: Partial<Primitives> = {}
        for (const [name, primitive] of Object.entries(broken)) {
          ;(onlyAccounts as Record<string, unknown>)[name] = (owner: Owner, ...rest: unknown[]) =>
            (owner.type === 'account'
              ? (primitive as (...args: unknown[]) => unknown)
              : (healthy[name as keyof Primitives] as (...args: unknown[]) => unknown))(
              owner,
              ...rest,
            )
        }
        return onlyAccounts
      }
    }

    it('idempotency keys ignored', async () => {
      const failed = await failedProviderChecks(
        broken(
          forAccounts((healthy) => ({
            createCard: (owner, input) =>
              healthy.createCard!(owner, input, { idempotencyKey: randomUUID() }),
          })),
        ),
      )
      expect(failed).toEqual([
        'createCard: the same idempotency key twice makes one card (account owners)',
      ])
    })

    it("getCard of another account's card answered", async () => {
      const ownerOf = new Map<string, Owner>()
      const failed = await failedProviderChecks(
        broken(
          forAccounts((healthy) => ({
            async createCard(owner, input, context) {
              const card = await healthy.createCard!(owner, input, context)
              ownerOf.set(card.id, owner)
              return card
            },
            async getCard(owner, cardId) {
              const holder = ownerOf.get(cardId) ?? owner
              return { ...(await healthy.getCard!(holder, cardId)), owner }
            },
          })),
        ),
      )
      expect(failed).toEqual([
        'getCard: a card the owner does not hold rejects with card_not_found (account owners)',
      ])
    })

    it('pages cut short', async () => {
      const failed = await failedProviderChecks(
        broken(
          forAccounts((healthy) => ({
            async listCards(owner, options) {
              const page = await healthy.listCards!(owner, options)
              return { ...page, hasMore: false, nextCursor: null }
            },
          })),
        ),
      )
      expect(failed).toEqual([
        'listCards: pages with limit and an opaque cursor until every card is listed once (account owners)',
        "listCards: another owner's cursor rejects with invalid_request (account owners)",
        'listCards: listAll streams every card across pages, one page at a time (account owners)',
        `${LISTS_MANY} (account owners)`,
      ])
    })

    it('the declined source accepted', async () => {
      const failed = await failedProviderChecks(
        broken(
          forAccounts((healthy) => ({
            createCard: (owner, input, context) =>
              healthy.createCard!(
                owner,
                typeof input.source !== 'string' && input.source.number === DECLINED_DETAILS.number
                  ? { ...input, source: 'tok_visa' }
                  : input,
                context,
              ),
          })),
        ),
      )
      expect(failed).toEqual([
        'createCard: a declined source rejects with card_declined and adds no card (account owners)',
        `${ERRORS_FROM_THE_ADAPTER} (account owners)`,
      ])
    })

    it('raw details (accountSources.details) refused with a plain Error', async () => {
      const failed = await failedProviderChecks(
        broken(
          forAccounts((healthy) => ({
            createCard(owner, input, context) {
              if (typeof input.source !== 'string') {
                throw new Error('details are not wired for external accounts')
              }
              return healthy.createCard!(owner, input, context)
            },
          })),
        ),
        undefined,
        undefined,
        {
          valid: ['tok_visa_debit', 'tok_visa'],
          details: { number: '4000056655665556', expMonth: 12, expYear: 2035, cvc: '737' },
        },
      )
      expect(failed).toEqual([
        'createCard: creates a card from raw card details, keeping neither the number nor the CVC (account owners)',
      ])
    })

    it('account owners declared, and refused', async () => {
      const customersOnly = { ...MEMORY_PROVIDER_CAPABILITIES, externalAccounts: false }
      const refused = () => ({
        provider: memoryAdapter(
          forAccounts((healthy) =>
            Object.fromEntries(
              Object.keys(healthy)
                .filter((name) => name !== 'parseCard')
                .map((name) => [
                  name,
                  () => {
                    throw new UnsupportedOperationError('accounts are not supported', {
                      provider: 'memory',
                    })
                  },
                ]),
            ),
          ),
          customersOnly,
        ),
      })
      // Declared without external accounts, account owners are checked by the customers' rules,
      // in runs of their own: a provider that refuses them fails them all, and no other.
      const failed = await failedProviderChecks(refused, customersOnly)
      expect(failed.filter((title) => !title.endsWith(' (account owners)'))).toEqual([])
      expect(failed).toEqual(
        expect.arrayContaining([
          'createCard: creates an active card from a source, as CardSchema reads it (account owners)',
          "defaults: the first card of an owner becomes its default (defaultPolicy 'first-card') (account owners)",
          'getCard: returns the card as createCard returned it (account owners)',
          'listCards: an owner without cards has one empty page and no default (account owners)',
          `${UPDATE_CHECKS.address} (account owners)`,
          'deleteCard: removes the card (account owners)',
          "parseCard: reads the provider's own payload of a card as getCard does (account owners)",
        ]),
      )
    })
  })

  it('a provider that sends a request before refusing a bad limit fails the no-request rule', async () => {
    const failed = await failedProviderChecks(() => {
      const counter = { requests: 0 }
      const healthy = memoryAdapter()
      const provider = {
        ...healthy,
        // Asks the provider first and lets it refuse the limit: a request the core would spare.
        listCards: (owner: Owner, options?: ListOptions) => {
          counter.requests += 1
          return healthy.listCards(owner, options)
        },
      }
      return { provider, requestCount: () => counter.requests }
    })
    expect(failed).toEqual(
      forEachOwnerType([
        'listCards: a limit outside 1–100 rejects with invalid_request, before any request',
      ]),
    )
  })

  it('a provider that throws a bad limit out of the call, not through its promise, fails the limit rule', async () => {
    // Written by hand, it checks the limit before it makes a promise: a caller's
    // `listCards(…).catch(…)` never sees the error, which throws out of the call instead.
    const failed = await failedProviderChecks(() => {
      const healthy = memoryAdapter()
      const provider = {
        ...healthy,
        listCards: (owner: Owner, options?: ListOptions) => {
          const limit = options?.limit
          if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 100)) {
            throw new InvalidRequestError(`The limit must be from 1 to 100, not ${limit}`, {
              provider: 'memory',
            })
          }
          return healthy.listCards(owner, options)
        },
      }
      return { provider }
    })
    expect(failed).toEqual(
      forEachOwnerType([
        'listCards: a limit outside 1–100 rejects with invalid_request, before any request',
      ]),
    )
  })

  it('a requestCount hook that counts nothing fails, rather than letting the no-request rules pass unchecked', async () => {
    // What an undici adapter's author gets by counting MSW's `request:start`: the undici bridge
    // answers without MSW's events, so the count never moves, and every "before any request"
    // check would pass whatever the provider sends.
    const failed = await failedProviderChecks(() => ({
      provider: memoryAdapter(),
      requestCount: () => 0,
    }))
    expect(failed).toEqual([
      "capabilities: the requestCount hook counts the provider's requests (the checks of what sends no request rely on it)",
    ])
  })
  it("an adapter whose cardIdOf does not give a card's own id back fails the cardIdOf rule", async () => {
    /** The card id a URI ends with (an id as it is), as the marketplace's cardIdOf reads it. */
    const idInUri = (cardId: string) => cardId.slice(cardId.lastIndexOf('/') + 1)
    const withCardIdOf =
      (
        cardIdOf: (cardId: string) => string,
        capabilities: ProviderCapabilities = MEMORY_PROVIDER_CAPABILITIES,
      ) =>
      () => ({
        provider: memoryAdapter(
          (healthy) => ({
            ...Object.fromEntries(
              (
                ['getCard', 'updateCard', 'deleteCard', 'setDefaultCard', 'invalidateCard'] as const
              ).map((operation) => [
                operation,
                (owner: Owner, cardId: string, ...rest: unknown[]) =>
                  (healthy[operation] as (...args: unknown[]) => unknown)(
                    owner,
                    idInUri(cardId),
                    ...rest,
                  ),
              ]),
            ),
            cardIdOf,
          }),
          capabilities,
        ),
      })
    // Healthy: a card is taken by its id or by a URI ending with it.
    expect(await failedProviderChecks(withCardIdOf(idInUri))).toEqual([])
    // Its own ids made another's: what CardSync deletes by is no card of the provider's. Where
    // the provider reads cards by id, getCard refuses its own card as another; the cardIdOf rule
    // says why, and is the one failure of a provider that reads no card by id.
    const toUpper = (cardId: string) => idInUri(cardId).toUpperCase()
    const upperCased = withCardIdOf(toUpper)
    const rule =
      "cardIdOf: a card's own id names that card: cardIdOf gives it back as it is, and sends no request"
    expect(await failedProviderChecks(upperCased)).toContain(rule)
    const readsNoCard = {
      ...MEMORY_PROVIDER_CAPABILITIES,
      getCard: false,
      updateCard: false,
      setDefaultCard: false,
      invalidateCard: false,
      updatableFields: [],
    } as const
    const blind = () => ({
      provider: memoryAdapter(
        () => ({ cardIdOf: (cardId: string) => cardId.toUpperCase() }),
        readsNoCard,
      ),
    })
    expect(
      await failedProviderChecks(
        () => ({ provider: memoryAdapter(() => ({}), readsNoCard) }),
        readsNoCard,
      ),
    ).toEqual([])
    expect(await failedProviderChecks(blind, readsNoCard)).toEqual([rule])
    // Without createCard the suite has no card of the provider's: it asks cardIdOf of the id in
    // the provider's own format that it has, missingCardId.
    const makesNoCard = { ...MEMORY_PROVIDER_CAPABILITIES, createCard: false } as const
    const notChecked =
      'createCard: not checked: the rules of getCard, listCards, updateCard, deleteCard, setDefaultCard, invalidateCard and getDefaultCard (the suite makes its cards with createCard)'
    const missingIdRule =
      "cardIdOf: an id in the provider's own format (missingCardId) names itself: cardIdOf gives it back as it is, and sends no request"
    expect(
      await failedProviderChecks(withCardIdOf(idInUri, makesNoCard), makesNoCard),
      'a provider without createCard whose cardIdOf keeps its own ids',
    ).toEqual([notChecked])
    expect(
      await failedProviderChecks(withCardIdOf(toUpper, makesNoCard), makesNoCard),
      'a provider without createCard whose cardIdOf makes its own ids another',
    ).toEqual([notChecked, missingIdRule])
  })
})

describe('describeCardProvider for a provider without createCard', () => {
  // The suite makes every card it checks with createCard: without it, the rules of the other
  // operations cannot run. Left out silently, the suite would be green over a provider whose
  // getCard, listCards or deleteCard it never called.
  it('reports skipped, and does not pass, the rules of the operations it cannot check', async () => {
    const capabilities = { ...MEMORY_PROVIDER_CAPABILITIES, createCard: false }
    const checks = cardProviderChecks({
      capabilities,
      sources: { valid: ['tok_visa'] },
    } as unknown as SuiteData)
    const untested = checks.filter((check) => check.title.startsWith('not checked'))
    expect(untested.map((check) => `${check.group}: ${check.title}`)).toEqual([
      'createCard: not checked: the rules of getCard, listCards, updateCard, deleteCard, setDefaultCard, invalidateCard and getDefaultCard (the suite makes its cards with createCard)',
    ])
    const notes: string[] = []
    const skip = (note: string): never => {
      notes.push(note)
      throw new Error('skipped')
    }
    const options = {
      capabilities,
      sources: { valid: ['tok_visa'] },
      setup: () => ({
        provider: memoryProvider(),
        owners: {
          customer: () => ({ type: 'customer' as const, id: `cus_${randomUUID()}` }),
          account: () => ({ type: 'account' as const, id: `acct_${randomUUID()}` }),
        },
        readRawCard: async () => null,
      }),
    } as unknown as Omit<CardProviderSuiteOptions, 'name'>
    await expect(runCardProviderCheck(options, untested[0]!, skip)).rejects.toThrow('skipped')
    expect(notes).toEqual([
      'capabilities.createCard is false: test these operations with cards of your own',
    ])
  })
})

describe("describeCardProvider catches a broken 'latest-card' provider", () => {
  it('fails no check of the healthy latest-card provider', async () => {
    expect(await failedLatestCardChecks()).toEqual([])
  })

  it('a provider that falls back to the previous card, valid or not, fails the fallback rules', async () => {
    // The newest card is the default even once invalidated.
    const failed = await failedLatestCardChecks(withRule((cards) => cards[0]?.id ?? null))
    expect(failed).toEqual([
      "deleteCard: deleting the default falls back to the most recently added valid card; deleting the last leaves no default (defaultPolicy 'latest-card')",
      "invalidateCard: invalidating the default falls back to the most recently added valid card; with none left there is no default (defaultPolicy 'latest-card')",
    ])
  })

  it('a provider that keeps the oldest valid card as the default fails every latest-card rule', async () => {
    const oldestValid: DefaultRule = (cards) =>
      cards.filter((card) => card.status === 'active').at(-1)?.id ?? null
    const failed = await failedLatestCardChecks(withRule(oldestValid))
    expect(failed).toEqual([
      "defaults: every new card becomes the owner's only default, whatever makeDefault says (defaultPolicy 'latest-card')",
      // The newer of two cards is not the default there to begin with.
      'updateCard: an update leaves the default where it is, whether it changes another card or the default',
      "deleteCard: deleting the default falls back to the most recently added valid card; deleting the last leaves no default (defaultPolicy 'latest-card')",
      "invalidateCard: invalidating the default falls back to the most recently added valid card; with none left there is no default (defaultPolicy 'latest-card')",
    ])
  })

  it('an adapter that lets a metadata update take a card past 50 keys fails the merged-limit rule', async () => {
    // As an adapter over a provider without the limit: the update goes through. Here the
    // memory provider refuses it, and the broken adapter answers the card as if it had not.
    const failed = await failedProviderChecks(
      broken((healthy) => ({
        async updateCard(owner, cardId, patch) {
          try {
            return await healthy.updateCard!(owner, cardId, patch)
          } catch (error) {
            if (!isCardportError(error, 'invalid_request')) throw error
            const card = await healthy.getCard!(owner, cardId)
            return { ...card, metadata: applyMetadataPatch(card.metadata, patch.metadata ?? {}) }
          }
        },
      })),
    )
    expect(failed).toEqual(
      forEachOwnerType([
        'updateCard: refuses with invalid_request an update that would leave a card more than 50 metadata keys, changing nothing',
      ]),
    )
  })

  it('a provider that updates fields updatableFields leaves out fails their refusal rules', async () => {
    const failed = await failedLatestCardChecks(() => {
      // The core is told every field is updatable; the provider declares two.
      const made = latestCardProvider({
        updatableFields: ['address', 'expiry', 'holderName', 'metadata'],
      })
      return { ...made, provider: { ...made.provider, capabilities: LATEST_CARD_CAPABILITIES } }
    })
    expect(failed).toEqual([
      'updateCard: refuses to change address with unsupported_operation naming it, before any request (not in capabilities.updatableFields)',
      'updateCard: refuses to change expiry with unsupported_operation naming it, before any request (not in capabilities.updatableFields)',
    ])
  })
})

describe('describeCardStore catches a broken store', () => {
  // The check racing mixed default writes on a customer and an account: its title is long.
  const race = cardStoreChecks()
    .filter((check) => check.title.includes('races of mixed default writes'))
    .map((check) => `${check.group}: ${check.title}`)[0]!
  // The check of updatedAt: its form, and that every write moves it on.
  const updatedAt =
    "upsert: updatedAt is an ISO 8601 date and time with its offset, as a card's createdAt, in every read, every write of a row moves it on, and a refused write leaves it"

  it('fails no check of a healthy store', async () => {
    expect(await failedStoreChecks((inner) => inner)).toEqual([])
  })

  it('a store whose upsert answers an insert as not applied fails the insert rule', async () => {
    // One that takes its answer from the rows an UPDATE changed: an insert changes none.
    const insertsUnapplied = (inner: CardStore): CardStore => ({
      ...inner,
      async upsert(card, options) {
        const result = await inner.upsert(card, options)
        return result.applied && result.card?.version === 1 ? { ...result, applied: false } : result
      },
    })
    expect(await failedStoreChecks(insertsUnapplied)).toEqual([
      'upsert: inserts a card at version 1 and reads it back field for field',
      // Each also reads the answer of an insert.
      "upsert: returns copies: changing any part of an upsert's answer, applied or refused, changes nothing that get, getDefault, listByOwner, listByOwners or listOwners give",
      race,
      'observedAt: an observedAt that is not a whole number of ms (NaN, 1.5, past 2^53) is refused with invalid_request, also by upsertMany of no cards, and writes nothing',
      'observedAt: a default card older than the stored default is written as not the default',
      "delete: a deletion's observedAt refuses older writes of that owner's card only",
      'delete: a deletion with observedAt refuses older writes of the card',
      'delete: a write without observedAt after a deletion ends the deletion: a later write older than the deletion is applied',
    ])
  })

  it('a store whose listByOwner gives null for an owner without cards fails the empty-list rule', async () => {
    // One that hands on what its driver answers a query without rows with.
    const listsNull = (inner: CardStore): CardStore => ({
      ...inner,
      async listByOwner(scope) {
        const cards = await inner.listByOwner(scope)
        return cards.length === 0 ? (null as unknown as StoredCard[]) : cards
      },
    })
    expect(await failedStoreChecks(listsNull)).toEqual([
      // Each also lists an owner without cards, or one whose cards are all deleted.
      'get: gives null for a card the owner does not hold, whoever holds it',
      'listByOwner: is empty for an owner without cards',
      'listByOwner: listByOwners (optional) lists each owner as listByOwner does, in the order asked',
      'delete: a deletion as recent as the stored card deletes it',
      "delete: a deletion older than the card's deletion changes nothing: the later one still refuses older writes",
      "delete: a deleted card leaves every read, its tombstone too: get, getDefault, listByOwner, listByOwners and, with the owner's last card, listOwners",
      'upsertMany: is all or nothing: a batch that fails part-way writes none of it',
      'close: lets the calls begun before close() finish, and resolves only once they have',
    ])
  })

  it('a store whose get ignores the owner fails the scoping rule', async () => {
    const unscoped = (inner: CardStore): CardStore => {
      const scopes = new Map<string, Parameters<CardStore['get']>[0]>()
      return {
        ...inner,
        async upsert(card, options) {
          scopes.set(card.id, { provider: card.provider, owner: card.owner })
          return inner.upsert(card, options)
        },
        async get(scope, cardId) {
          return inner.get(scopes.get(cardId) ?? scope, cardId)
        },
      }
    }
    expect(await failedStoreChecks(unscoped)).toEqual([
      // Its map of scopes keeps the owner object of the card it was given.
      'upsert: keeps nothing of the cards it is given: changing one after upsert or upsertMany changes nothing stored',
      'get: gives null for a card the owner does not hold, whoever holds it',
      'get: keeps one card id apart under two owners',
      // The card id of `cus_Case…` and of `cus_case…` reads the second owner's card for both.
      'get: keeps apart owner ids, and card ids, that differ only in case, and keeps their case',
      // So too for `cus_…` and `cus_… `.
      'get: keeps apart owner ids, and card ids, that differ only by trailing spaces, and keeps their spaces',
      // Its map gives the card's id the scope it was last written under: the other provider's.
      "upsertMany: a batch of two providers' cards of one owner id keeps them apart: each provider's tombstones, default and owners",
    ])
  })

  it('a store whose getDefault ignores the owner id fails the scoping rule', async () => {
    // The first default of any owner of the provider of that type, whoever asked.
    const unscoped = (inner: CardStore): CardStore => ({
      ...inner,
      async getDefault(scope) {
        for await (const owner of inner.listOwners(scope.provider)) {
          if (owner.type !== scope.owner.type) continue
          const card = await inner.getDefault({ provider: scope.provider, owner })
          if (card) return card
        }
        return null
      },
    })
    expect(await failedStoreChecks(unscoped)).toEqual([
      'get: gives null for a card the owner does not hold, whoever holds it',
      // `cus_case…` gets the default of `cus_Case…`, listed first.
      'get: keeps apart owner ids, and card ids, that differ only in case, and keeps their case',
      // So too one of `cus_…` and `cus_… `: the other's default, listed first.
      'get: keeps apart owner ids, and card ids, that differ only by trailing spaces, and keeps their spaces',
      // An owner whose defaults were cleared, or whose race ended without one, gets another's.
      "setDefault: null clears the owner's defaults, and only that owner's",
      race,
    ])
  })

  it('a store that ignores observedAt fails the ordering rules', async () => {
    const ignoresObservedAt = (inner: CardStore): CardStore => ({
      ...inner,
      upsert: (card) => inner.upsert(card),
    })
    expect(await failedStoreChecks(ignoresObservedAt)).toEqual([
      // Its answers are checked for a refused write, which it applies (with its observedAt).
      "upsert: returns copies: changing any part of an upsert's answer, applied or refused, changes nothing that get, getDefault, listByOwner, listByOwners or listOwners give",
      // Its refused write is applied.
      updatedAt,
      'observedAt: a write older than the stored one is refused and changes nothing',
      'observedAt: a write as recent as the stored one, or newer, is applied',
      'observedAt: a write without observedAt is applied and keeps the last observedAt',
      // It writes whatever observedAt it is given, since it reads none.
      'observedAt: an observedAt that is not a whole number of ms (NaN, 1.5, past 2^53) is refused with invalid_request, also by upsertMany of no cards, and writes nothing',
      'observedAt: a default write older than its own card is refused, and leaves the current default',
      // Its rows keep no observedAt.
      "observedAt: setDefault(card) without observedAt changes no row's observedAt",
      // Its defaults have no observedAt to stand on.
      'observedAt: a default card older than the stored default is written as not the default',
      // Its displaced default keeps no observedAt of its own.
      'observedAt: a default written by upsert or upsertMany with observedAt leaves the default it displaces at its own observedAt: a write of that card observed in between is applied',
      'observedAt: setDefault(null) with observedAt clears only the defaults observed no later',
      'observedAt: setDefault(card) with observedAt changes nothing when the card or the default it would clear was observed later',
      // Its writes of the other owners' cards keep no observedAt.
      "delete: a deletion's observedAt refuses older writes of that owner's card only",
      'delete: a deletion with observedAt refuses older writes of the card',
      // Its write after the undone deletion keeps no observedAt.
      'delete: a write without observedAt after a deletion ends the deletion: a later write older than the deletion is applied',
      'delete: a deletion older than the stored card is refused',
      "delete: a deletion older than the card's deletion changes nothing: the later one still refuses older writes",
      'upsertMany: refuses the cards of a batch older than the stored ones',
      'upsertMany: leaves the store as the same cards upserted one by one would (a seeded random program)',
    ])
  })

  it('a store that writes with an observedAt it cannot keep, as if none was given, fails that rule', async () => {
    // What a store over a bigint column might do to avoid the driver's error: drop the time.
    const kept = (options?: WriteOptions) =>
      options?.observedAt !== undefined && !Number.isSafeInteger(options.observedAt) ? {} : options
    const dropsIt = (inner: CardStore): CardStore => ({
      ...inner,
      upsert: (card, options) => inner.upsert(card, kept(options)),
      upsertMany: (cards, options) => inner.upsertMany(cards, kept(options)),
      delete: (scope, cardId, options) => inner.delete(scope, cardId, kept(options)),
      setDefault: (scope, cardId, options) => inner.setDefault(scope, cardId, kept(options)),
    })
    expect(await failedStoreChecks(dropsIt)).toEqual([
      'observedAt: an observedAt that is not a whole number of ms (NaN, 1.5, past 2^53) is refused with invalid_request, also by upsertMany of no cards, and writes nothing',
    ])
  })

  it('a store that refuses an observedAt it cannot keep with an error to retry, or takes 2^53 for a whole number of ms, fails that rule', async () => {
    const rule =
      'observedAt: an observedAt that is not a whole number of ms (NaN, 1.5, past 2^53) is refused with invalid_request, also by upsertMany of no cards, and writes nothing'
    // A store that takes every failure of its database for the database being down: the
    // refusal comes as a retryable provider_unavailable, which CardSync would retry for ever.
    const down = (error: unknown) => {
      throw new ProviderUnavailableError('brokenStore: the database failed', { cause: error })
    }
    const retryable = (inner: CardStore): CardStore => ({
      ...inner,
      upsert: (card, options) => inner.upsert(card, options).catch(down),
      upsertMany: (cards, options) => inner.upsertMany(cards, options).catch(down),
      delete: (scope, cardId, options) => inner.delete(scope, cardId, options).catch(down),
      setDefault: (scope, cardId, options) => inner.setDefault(scope, cardId, options).catch(down),
    })
    expect(await failedStoreChecks(retryable)).toEqual([rule])
    // One that refuses it with the right code, but says a retry may succeed.
    const retried = (error: unknown) => {
      throw new InvalidRequestError('brokenStore: the time does not fit', {
        cause: error,
        retryable: true,
      })
    }
    const retryableRefusal = (inner: CardStore): CardStore => ({
      ...inner,
      upsert: (card, options) => inner.upsert(card, options).catch(retried),
      upsertMany: (cards, options) => inner.upsertMany(cards, options).catch(retried),
      delete: (scope, cardId, options) => inner.delete(scope, cardId, options).catch(retried),
      setDefault: (scope, cardId, options) =>
        inner.setDefault(scope, cardId, options).catch(retried),
    })
    expect(await failedStoreChecks(retryableRefusal)).toEqual([rule])
    // A store over a bigint column that checks the time with Number.isInteger, which takes
    // 2^53 and beyond: it keeps such a time as the latest one it can.
    const kept = (options?: WriteOptions) =>
      options?.observedAt !== undefined && Number.isInteger(options.observedAt)
        ? { observedAt: Math.min(options.observedAt, Number.MAX_SAFE_INTEGER) }
        : options
    const integers = (inner: CardStore): CardStore => ({
      ...inner,
      upsert: (card, options) => inner.upsert(card, kept(options)),
      upsertMany: (cards, options) => inner.upsertMany(cards, kept(options)),
      delete: (scope, cardId, options) => inner.delete(scope, cardId, kept(options)),
      setDefault: (scope, cardId, options) => inner.setDefault(scope, cardId, kept(options)),
    })
    expect(await failedStoreChecks(integers)).toEqual([rule])
  })

  it("a store whose setDefault ignores observedAt fails the rules of a default's age", async () => {
    const ignoresObservedAt = (inner: CardStore): CardStore => ({
      ...inner,
      setDefault: (scope, cardId) => inner.setDefault(scope, cardId),
    })
    expect(await failedStoreChecks(ignoresObservedAt)).toEqual([
      'observedAt: an observedAt that is not a whole number of ms (NaN, 1.5, past 2^53) is refused with invalid_request, also by upsertMany of no cards, and writes nothing',
      'observedAt: setDefault(null) with observedAt clears only the defaults observed no later',
      'observedAt: setDefault(card) with observedAt changes nothing when the card or the default it would clear was observed later',
      // It applies a tie, but its rows keep their own observedAt.
      'observedAt: setDefault(card) with observedAt as recent as the card, or as the default it would clear, applies',
    ])
  })

  it('a store that refuses a write observed at the same time as the row fails the tie rules', async () => {
    // Each refuses what is not newer than a row, where the contract refuses only what is older:
    // a write observed at the row's own time is refused.
    const tie = (row: StoredCard | null | undefined, options?: WriteOptions) =>
      row?.observedAt != null && row.observedAt === options?.observedAt
    const deleteRefusesTie = (inner: CardStore): CardStore => ({
      ...inner,
      async delete(scope, cardId, options) {
        if (tie(await inner.get(scope, cardId), options)) return false
        return inner.delete(scope, cardId, options)
      },
    })
    expect(await failedStoreChecks(deleteRefusesTie)).toEqual([
      'delete: a deletion as recent as the stored card deletes it',
    ])
    const setDefaultRefusesTie = (inner: CardStore): CardStore => ({
      ...inner,
      async setDefault(scope, cardId, options) {
        if (cardId !== null && tie(await inner.get(scope, cardId), options)) return
        return inner.setDefault(scope, cardId, options)
      },
    })
    const tieRule =
      'observedAt: setDefault(card) with observedAt as recent as the card, or as the default it would clear, applies'
    expect(await failedStoreChecks(setDefaultRefusesTie)).toEqual([tieRule])
    // The same, for a tie with the default the card would displace.
    const switchRefusesTie = (inner: CardStore): CardStore => ({
      ...inner,
      async setDefault(scope, cardId, options) {
        const target = cardId === null ? null : await inner.get(scope, cardId)
        const displaced = (await inner.listByOwner(scope)).filter(
          (card) => card.isDefault && card.id !== cardId && card.currency === target?.currency,
        )
        if (target && displaced.some((card) => tie(card, options))) return
        return inner.setDefault(scope, cardId, options)
      },
    })
    expect(await failedStoreChecks(switchRefusesTie)).toEqual([tieRule])
    // setDefault(null) keeps the defaults observed at its own time: it clears the others, then
    // makes them the defaults again.
    const clearKeepsTie = (inner: CardStore): CardStore => ({
      ...inner,
      async setDefault(scope, cardId, options) {
        if (cardId !== null) return inner.setDefault(scope, cardId, options)
        const kept = (await inner.listByOwner(scope)).filter(
          (card) => card.isDefault && tie(card, options),
        )
        await inner.setDefault(scope, null, options)
        for (const card of kept) await inner.setDefault(scope, card.id, options)
      },
    })
    expect(await failedStoreChecks(clearKeepsTie)).toEqual([
      'observedAt: setDefault(null) with observedAt clears only the defaults observed no later',
    ])
  })

  it("a store whose getDefault gives an account's newest default, or its first by currency, fails the getDefault rule", async () => {
    const rule =
      "defaults: getDefault gives an account's default that the store first saw, whatever its currency"
    // The first default in listByOwner's order: the most recently added one.
    const newest = (inner: CardStore): CardStore => ({
      ...inner,
      async getDefault(scope) {
        return (await inner.listByOwner(scope)).find((card) => card.isDefault) ?? null
      },
    })
    // The default switch rule reads an account's default after each switch, and so does the
    // race on an account after each race.
    const moves =
      'setDefault: moves no card: listByOwner keeps the order the store first saw the cards in'
    expect(await failedStoreChecks(newest)).toEqual([rule, moves, race])
    const byCurrency = (inner: CardStore): CardStore => ({
      ...inner,
      async getDefault(scope) {
        const defaults = (await inner.listByOwner(scope)).filter((card) => card.isDefault)
        defaults.sort((a, b) => (a.currency ?? '').localeCompare(b.currency ?? ''))
        return defaults[0] ?? null
      },
    })
    expect(await failedStoreChecks(byCurrency)).toEqual([rule, moves, race])
  })

  it('a store that loses batches written at once, or says it writes none at once, fails that rule', async () => {
    const rule =
      'upsertMany: concurrentWrites (optional) is 1 to 64, and that many batches of other owners at once all land'
    // One connection shared by every batch: a batch that starts while another is in flight
    // clobbers it, and neither lands.
    const clobbers = (inner: CardStore): CardStore => {
      let inFlight = 0
      return {
        ...inner,
        async upsertMany(cards, options) {
          inFlight++
          try {
            await new Promise((resolve) => setTimeout(resolve, 1))
            if (inFlight === 1) await inner.upsertMany(cards, options)
          } finally {
            inFlight--
          }
        },
      }
    }
    // The race check writes a batch of its customer and one of its account at the same time:
    // both are lost.
    expect(await failedStoreChecks(clobbers)).toEqual([race, rule])
    const declaresNone = (inner: CardStore): CardStore => ({ ...inner, concurrentWrites: 0 })
    expect(await failedStoreChecks(declaresNone)).toEqual([rule])
  })

  it('a store whose batches forget deletions fails the batch rules', async () => {
    // A batch path that checks a card's age against its row only: a card deleted at T3 comes
    // back from a batch observed at T2.
    const forgetsTombstones = (inner: CardStore): CardStore => ({
      ...inner,
      async upsertMany(cards, options) {
        for (const card of cards) {
          const row = await inner.get({ provider: card.provider, owner: card.owner }, card.id)
          await inner.upsert(card, row ? options : {})
        }
      },
    })
    expect(await failedStoreChecks(forgetsTombstones)).toEqual([
      // A fresh card's write drops the observedAt it should have refused.
      'observedAt: an observedAt that is not a whole number of ms (NaN, 1.5, past 2^53) is refused with invalid_request, also by upsertMany of no cards, and writes nothing',
      'observedAt: a default write older than its own card is refused, and leaves the current default',
      // A fresh card's default is written with no observedAt to compare.
      'observedAt: a default card older than the stored default is written as not the default',
      "delete: a deletion older than the card's deletion changes nothing: the later one still refuses older writes",
      'upsertMany: writes every card of the batch, for any number of owners',
      'upsertMany: refuses the cards of a batch older than the stored ones',
      "upsertMany: a batch of two providers' cards of one owner id keeps them apart: each provider's tombstones, default and owners",
      'upsertMany: leaves the store as the same cards upserted one by one would (a seeded random program)',
      // It writes card by card, too.
      'upsertMany: is all or nothing: a batch that fails part-way writes none of it',
      'upsertMany: concurrentWrites (optional) is 1 to 64, and that many batches of other owners at once all land',
    ])
  })

  it('a store whose writes ignore the owner type, or the provider, fails the write-scoping rules', async () => {
    // Writes keyed on less than the whole scope: each one also reaches the scope's twin, which
    // shares everything but the owner type (or the provider). Reads stay scoped.
    const blindTo =
      (twin: (scope: CardScope) => CardScope) =>
      (inner: CardStore): CardStore => ({
        ...inner,
        async upsert(card, options) {
          if (card.isDefault) await inner.setDefault(twin(scopeOf(card)), null)
          return inner.upsert(card, options)
        },
        async upsertMany(cards, options) {
          for (const card of cards) {
            if (card.isDefault) await inner.setDefault(twin(scopeOf(card)), null)
          }
          return inner.upsertMany(cards, options)
        },
        async delete(scope, cardId, options) {
          await inner.delete(twin(scope), cardId, options)
          return inner.delete(scope, cardId, options)
        },
        async setDefault(scope, cardId, options) {
          await inner.setDefault(twin(scope), cardId, options)
          return inner.setDefault(scope, cardId, options)
        },
      })
    const typeBlind = blindTo(({ provider, owner }) => ({
      provider,
      owner: { type: owner.type === 'customer' ? 'account' : 'customer', id: owner.id },
    }))
    // The suite's other provider for an owner is its own name with `-other`.
    const providerBlind = blindTo(({ provider, owner }) => ({
      provider: provider.endsWith('-other')
        ? provider.slice(0, -'-other'.length)
        : `${provider}-other`,
      owner,
    }))
    const rules = [
      "defaults: one owner's default does not clear another owner's, whoever it is",
      "setDefault: makes a card the owner's only default, and changes no other owner's cards, whoever it is",
      "setDefault: null clears the owner's defaults, and only that owner's",
      'setDefault: a card the owner does not hold changes nothing',
      "delete: leaves another owner's card of the same id alone, whoever it is",
      "delete: a deletion's observedAt refuses older writes of that owner's card only",
      "upsertMany: a batch's defaults clear no other owner's, whoever it is",
    ]
    expect(await failedStoreChecks(typeBlind)).toEqual(rules)
    // Its deletion of one provider's card deletes the other's card of that id too.
    expect(await failedStoreChecks(providerBlind)).toEqual([
      ...rules,
      "upsertMany: a batch of two providers' cards of one owner id keeps them apart: each provider's tombstones, default and owners",
    ])
  })

  it("a store whose batches read an owner's deletions under its owner id alone, not its provider, fails the two-providers batch rule", async () => {
    // A batch path that caches each owner's tombstones by owner type and id: a card of one
    // provider is refused for the other provider's deletion of a card of the same id.
    const providerBlindBatches = (inner: CardStore): CardStore => {
      const deletions = new Map<string, number>()
      const keyOf = (owner: Owner, cardId: string) => `${formatOwner(owner)}\u0000${cardId}`
      return {
        ...inner,
        async delete(scope, cardId, options) {
          const deleted = await inner.delete(scope, cardId, options)
          if (options?.observedAt !== undefined) {
            deletions.set(keyOf(scope.owner, cardId), options.observedAt)
          }
          return deleted
        },
        async upsertMany(cards, options) {
          const at = options?.observedAt
          const fresh = cards.filter(
            (card) => at === undefined || (deletions.get(keyOf(card.owner, card.id)) ?? 0) <= at,
          )
          return inner.upsertMany(fresh, options)
        },
      }
    }
    expect(await failedStoreChecks(providerBlindBatches)).toEqual([
      "upsertMany: a batch of two providers' cards of one owner id keeps them apart: each provider's tombstones, default and owners",
      // Its random program runs under two provider names, over the same owners and card ids.
      'upsertMany: leaves the store as the same cards upserted one by one would (a seeded random program)',
    ])
  })

  it('a store that writes a batch card by card fails the all-or-nothing rule', async () => {
    const cardByCard = (inner: CardStore): CardStore => ({
      ...inner,
      async upsertMany(cards, options) {
        for (const card of cards) {
          await new Promise((resolve) => setTimeout(resolve, 0))
          await inner.upsert(card, options)
        }
      },
    })
    expect(await failedStoreChecks(cardByCard)).toEqual([
      // Given no cards, it calls nothing that would read the observedAt.
      'observedAt: an observedAt that is not a whole number of ms (NaN, 1.5, past 2^53) is refused with invalid_request, also by upsertMany of no cards, and writes nothing',
      'upsertMany: is all or nothing: a batch that fails part-way writes none of it',
    ])
  })

  it("a store whose batch holding a stored card writes that card alone, losing the new ones, fails the batch rules and the race's", async () => {
    // Its batch runs the statement that updates stored cards, or else the one that inserts new
    // ones: never both.
    const updatesOrInserts = (inner: CardStore): CardStore => ({
      ...inner,
      async upsertMany(cards, options) {
        const rows = await Promise.all(cards.map((card) => inner.get(scopeOf(card), card.id)))
        const updates = cards.filter((_, index) => rows[index] !== null)
        return inner.upsertMany(updates.length > 0 ? updates : cards, options)
      },
    })
    expect(await failedStoreChecks(updatesOrInserts)).toEqual([
      // The batch of each mixed race writes Y, stored, and a new card: the new card is lost.
      race,
      'upsertMany: refuses the cards of a batch older than the stored ones',
      'upsertMany: leaves the store as the same cards upserted one by one would (a seeded random program)',
      // The card that fails each batch is a new one: it is left out, and the rest written.
      'upsertMany: is all or nothing: a batch that fails part-way writes none of it',
      'upsertMany: is all or nothing: a batch with a card the store refuses writes none of it',
    ])
  })

  it("a store that inserts a batch's new cards outside the transaction that updates the stored ones fails the all-or-nothing rules, and one that refuses a card before it writes any passes them", async () => {
    // A CHECK constraint on last4, which the memory store has not: the refusal the all-or-nothing
    // rule makes a batch meet late, after the writes of the cards before it.
    const check = (card: Card) => {
      if (!/^\d{4}$/.test(card.last4)) {
        throw new InvalidRequestError('brokenStore: last4 must be four digits')
      }
    }
    const refusesFirst = (inner: CardStore): CardStore => ({
      ...inner,
      async upsertMany(cards, options) {
        for (const card of cards) check(card)
        return inner.upsertMany(cards, options)
      },
    })
    expect(await failedStoreChecks(refusesFirst)).toEqual([])
    // Its inserts go through another connection than its transaction, and are committed at
    // once: a card it refuses rolls back the updates alone.
    const insertsApart = (inner: CardStore): CardStore => ({
      ...inner,
      async upsertMany(cards, options) {
        observedAtOf('brokenStore', options)
        const updates: Card[] = []
        for (const card of cards) {
          check(card)
          const stored = await inner.get(scopeOf(card), card.id)
          if (stored || updates.some((update) => update.id === card.id)) updates.push(card)
          else await inner.upsert(card, options)
        }
        if (updates.length > 0) await inner.upsertMany(updates, options)
      },
    })
    expect(await failedStoreChecks(insertsApart)).toEqual([
      // It writes a batch's new cards before the stored ones: a default among them is displaced
      // by a stored card written as the default before it in the batch.
      'upsertMany: leaves the store as the same cards upserted one by one would (a seeded random program)',
      'upsertMany: is all or nothing: a batch that fails part-way writes none of it',
      'upsertMany: is all or nothing: a batch with a card the store refuses writes none of it',
    ])
  })

  it("a store that reads a batch before it writes it, but for its cards' owners, fails the all-or-nothing rule", async () => {
    // What memoryStore once did: every card copied up front, but its owner left for the write
    // of the card, which a card whose owner cannot be read fails after the cards before it.
    const ownersLate = (inner: CardStore): CardStore => ({
      ...inner,
      async upsertMany(cards, options) {
        const read = cards.map((card) => ({ ...card }))
        for (const card of read) await inner.upsert(card, options)
      },
    })
    expect(await failedStoreChecks(ownersLate)).toEqual([
      // Given no cards, it calls nothing that would read the observedAt.
      'observedAt: an observedAt that is not a whole number of ms (NaN, 1.5, past 2^53) is refused with invalid_request, also by upsertMany of no cards, and writes nothing',
      'upsertMany: is all or nothing: a batch that fails part-way writes none of it',
    ])
  })

  it('a store that lists by createdAt, or by card id, not in the order it first saw the cards, fails the order rule', async () => {
    // Plausible "most recent first" orders other than the contract's: the provider's creation
    // time (null for every Stripe card) and the id.
    const sortedBy =
      (order: (a: StoredCard, b: StoredCard) => number) =>
      (inner: CardStore): CardStore => ({
        ...inner,
        listByOwner: async (scope) => (await inner.listByOwner(scope)).sort(order),
        listByOwners: async (scopes) =>
          (await inner.listByOwners!(scopes)).map((cards) => cards.sort(order)),
      })
    const rule =
      "listByOwner: lists the owner's cards, most recently added first, and no one else's"
    const byCreatedAt = (a: StoredCard, b: StoredCard) =>
      (b.createdAt ?? '').localeCompare(a.createdAt ?? '')
    expect(await failedStoreChecks(sortedBy(byCreatedAt))).toEqual([rule])
    // The rules of many cards and of a default switch list cards whose ids are in no order.
    const byId = [
      rule,
      'listByOwner: lists all of the 1,201 cards of one owner, and listByOwners (optional) 1,201 owners in one call',
      'setDefault: moves no card: listByOwner keeps the order the store first saw the cards in',
    ]
    expect(await failedStoreChecks(sortedBy((a, b) => b.id.localeCompare(a.id)))).toEqual(byId)
    expect(await failedStoreChecks(sortedBy((a, b) => a.id.localeCompare(b.id)))).toEqual(byId)
  })

  it('a store that makes another card the default when the default is deleted fails the no-promotion rule', async () => {
    // What the providers do (Stripe promotes the newest card), done by the copy: the store may
    // pick another card than the provider did, and CardSync writes the provider's pick anyway.
    const promotes =
      (pick: (cards: StoredCard[]) => StoredCard | undefined) =>
      (inner: CardStore): CardStore => ({
        ...inner,
        async delete(scope, cardId, options) {
          const gone = await inner.get(scope, cardId)
          const deleted = await inner.delete(scope, cardId, options)
          if (deleted && gone?.isDefault) {
            const left = await inner.listByOwner(scope)
            const next = pick(left.filter((card) => card.currency === gone.currency))
            if (next) await inner.setDefault(scope, next.id, options)
          }
          return deleted
        },
      })
    const rule =
      'delete: deleting a default leaves the owner without one: the store makes no other card the default'
    // The rule of a deleted card's reads finds the owner with a default after the deletion.
    const reads =
      "delete: a deleted card leaves every read, its tombstone too: get, getDefault, listByOwner, listByOwners and, with the owner's last card, listOwners"
    // The race check's pairs find a default after `setDefault(null)` and `delete(D)`, which
    // leave none in either order.
    expect(await failedStoreChecks(promotes((cards) => cards[0]))).toEqual([race, rule, reads])
    expect(await failedStoreChecks(promotes((cards) => cards.at(-1)))).toEqual([race, rule, reads])
    // For accounts alone: a store that keeps a default in each currency an account has cards in.
    const forAccounts = (inner: CardStore): CardStore => {
      const broken = promotes((cards) => cards[0])(inner)
      return {
        ...inner,
        delete: (scope, cardId, options) =>
          (scope.owner.type === 'account' ? broken : inner).delete(scope, cardId, options),
      }
    }
    // The rule of a deleted card's reads deletes a customer's default: it passes.
    expect(await failedStoreChecks(forAccounts)).toEqual([race, rule])
  })

  it('a store whose cards or rows have a place for a card number or CVC fails the no-secrets rule', async () => {
    const rule =
      'no secrets: a stored card has the Card fields and bookkeeping only: nowhere for a number or CVC'
    // Cards read from a table with a cvc column, never filled: a key of undefined, there still.
    const cvcColumn = (inner: CardStore): CardStore => ({
      ...inner,
      async get(scope, cardId) {
        const card = await inner.get(scope, cardId)
        return card && { ...card, cvc: undefined }
      },
    })
    expect(await failedStoreChecks(cvcColumn)).toEqual([rule])
    // Cards read without that column, but the row has one: as the fixture's readRow shows. The
    // rule is the one check that reads rows.
    const store = memoryStore()
    const readRow = async (scope: CardScope, cardId: string) => ({
      card: await store.get(scope, cardId),
      card_number: null,
    })
    const checks = cardStoreChecks().filter((check) => `${check.group}: ${check.title}` === rule)
    expect(
      await failures(checks, (check) =>
        runCardStoreCheck({ setup: () => ({ store, readRow }) }, check),
      ),
    ).toEqual([rule])
  })

  it('a store whose reads hand out what it keeps fails the copies rules', async () => {
    // A read cache in front of the data, emptied for an owner on each of its writes, that hands
    // out its cached cards themselves (or shallow copies): a caller changing one changes what
    // the next read gives.
    const cached = (
      reads: readonly ('get' | 'getDefault' | 'listByOwner' | 'listByOwners')[],
      handOut: (card: StoredCard) => StoredCard = (card) => card,
    ) => {
      return (inner: CardStore): CardStore => {
        const cache = new Map<string, Map<string, unknown>>()
        const cachedRead = async <T>(scope: CardScope, key: string, read: () => Promise<T>) => {
          const owner = cache.get(scopeKey(scope)) ?? new Map<string, unknown>()
          cache.set(scopeKey(scope), owner)
          if (!owner.has(key)) owner.set(key, await read())
          return owner.get(key) as T
        }
        const forget = (scope: CardScope) => cache.delete(scopeKey(scope))
        const store: CardStore = { ...inner, ...forgettingWrites(inner, forget) }
        const one = (card: StoredCard | null) => card && handOut(card)
        if (reads.includes('get')) {
          store.get = async (scope, cardId) =>
            one(await cachedRead(scope, `get ${cardId}`, () => inner.get(scope, cardId)))
        }
        if (reads.includes('getDefault')) {
          store.getDefault = async (scope) =>
            one(await cachedRead(scope, 'default', () => inner.getDefault(scope)))
        }
        if (reads.includes('listByOwner')) {
          store.listByOwner = async (scope) =>
            (await cachedRead(scope, 'list', () => inner.listByOwner(scope))).map(handOut)
        }
        if (reads.includes('listByOwners')) {
          store.listByOwners = (scopes) =>
            Promise.all(
              scopes.map(async (scope) =>
                (await cachedRead(scope, 'list', () => inner.listByOwner(scope))).map(handOut),
              ),
            )
        }
        return store
      }
    }
    const reads =
      'get: reads return copies: changing any part of a card that get, getDefault, listByOwner or listByOwners gave changes nothing stored'
    expect(await failedStoreChecks(cached(['listByOwners']))).toEqual([reads])
    expect(await failedStoreChecks(cached(['getDefault']))).toEqual([reads])
    // An upsert's answer is not the cache's: the rule of an upsert's answers holds.
    expect(await failedStoreChecks(cached(['get']))).toEqual([reads])
    expect(await failedStoreChecks(cached(['listByOwner']))).toEqual([reads])
    // Shallow copies share the owner, address, checks and metadata objects.
    const shallow = (card: StoredCard) => ({ ...card })
    expect(await failedStoreChecks(cached(['listByOwners'], shallow))).toEqual([reads])
    expect(await failedStoreChecks(cached(['getDefault'], shallow))).toEqual([reads])
  })

  it("a store whose upsert answers with what it keeps, when it refuses the write or sharing the owner when it applies it, fails the upsert's copies rule", async () => {
    // A cache of the upsert's answers, which get reads while the row is still as answered: the
    // answer handed out is the cache's own object (refused), or a copy of it with only its
    // address and metadata copied (applied), so that the caller's changes to the rest of it
    // (its holderName, isDefault or owner) are what get gives next.
    const keepsAnswers =
      (kept: 'applied' | 'refused', handOut: (row: StoredCard) => StoredCard) =>
      (inner: CardStore): CardStore => {
        const answers = new Map<string, { row: StoredCard; answered: StoredCard }>()
        const keyOf = (scope: CardScope, cardId: string) => `${scopeKey(scope)}\u0000${cardId}`
        return {
          ...inner,
          async upsert(card, options) {
            const result = await inner.upsert(card, options)
            if (!result.card || result.applied !== (kept === 'applied')) return result
            const row = structuredClone(result.card)
            answers.set(keyOf(scopeOf(card), card.id), { row, answered: result.card })
            return { applied: result.applied, card: handOut(row) }
          },
          async get(scope, cardId) {
            const current = await inner.get(scope, cardId)
            const answer = answers.get(keyOf(scope, cardId))
            if (!answer || !isDeepStrictEqual(current, answer.answered)) return current
            return structuredClone(answer.row)
          },
        }
      }
    const returned = [
      "upsert: returns copies: changing any part of an upsert's answer, applied or refused, changes nothing that get, getDefault, listByOwner, listByOwners or listOwners give",
    ]
    expect(await failedStoreChecks(keepsAnswers('refused', (row) => row))).toEqual(returned)
    const sharesOwner = (row: StoredCard) => ({
      ...row,
      address: { ...row.address },
      metadata: { ...row.metadata },
    })
    expect(await failedStoreChecks(keepsAnswers('applied', sharesOwner))).toEqual(returned)
  })

  it('a store whose listOwners pages by offset fails the rule of owners leaving mid-listing', async () => {
    // Pages of 100 by position in the current list of owners: right while nothing changes, but
    // each owner that leaves before the next page moves the rest one place back, unlisted.
    const byOffset = (inner: CardStore): CardStore => ({
      ...inner,
      async *listOwners(provider) {
        for (let offset = 0; ; offset += 100) {
          const owners = await toArray(inner.listOwners(provider), { limit: 10_000 })
          const page = owners.slice(offset, offset + 100)
          yield* page
          if (page.length < 100) return
        }
      },
    })
    expect(await failedStoreChecks(byOffset)).toEqual([
      'listOwners: lists each owner holding cards throughout once, while owners listed before leave and new ones come',
      // An owner that leaves and comes back moves to the end: the owners after it move back.
      'listOwners: does not list again an owner listed before that loses its last card and gets a new one',
    ])
  })

  it('a store whose listOwners gives an owner once a card, or skips the edge of a page, fails the listing rules', async () => {
    // Owners read from the cards with no DISTINCT: an owner of two cards comes twice.
    const oncePerCard = (inner: CardStore): CardStore => ({
      ...inner,
      async *listOwners(provider) {
        for await (const owner of inner.listOwners(provider)) {
          const cards = await inner.listByOwner({ provider, owner })
          for (const _ of cards) yield owner
        }
      },
    })
    expect(await failedStoreChecks(oncePerCard)).toEqual([
      // Each lists the owners of a provider, one of whom holds two cards.
      'get: keeps apart owner ids, and card ids, that differ only in case, and keeps their case',
      'get: keeps apart owner ids, and card ids, that differ only by trailing spaces, and keeps their spaces',
      "upsertMany: a batch of two providers' cards of one owner id keeps them apart: each provider's tombstones, default and owners",
      'listOwners: streams each owner with cards at the provider, once',
      'close: writes nothing from the moment close() is called: a store opened again over the same data holds what it held',
    ])
    // Pages of 100 owners, each next page starting one owner too far.
    const skipsEdge = (inner: CardStore): CardStore => ({
      ...inner,
      async *listOwners(provider) {
        let index = 0
        for await (const owner of inner.listOwners(provider)) {
          if (index++ % 101 !== 100) yield owner
        }
      },
    })
    expect(await failedStoreChecks(skipsEdge)).toEqual([
      'listOwners: streams each of 1,201 owners once, across the pages a store reads them in',
      'listOwners: lists each owner holding cards throughout once, while owners listed before leave and new ones come',
      'listOwners: does not list again an owner listed before that loses its last card and gets a new one',
      'listOwners: streams owners sharing an id under both owner types each once, across pages',
    ])
  })

  it('a store whose listOwners reaches owners numbered after it began fails the rule of owners coming back', async () => {
    // Owners numbered in the order the listing's pages first meet them, the number dropped with
    // their last card, and pages by number with no end: an owner listed before that loses its
    // last card and gets a new one is numbered again, past the pages read, and listed twice.
    const numbered = (inner: CardStore): CardStore => {
      const numbers = new Map<string, number>()
      let last = 0
      const numberOf = (scope: CardScope) => {
        const number = numbers.get(scopeKey(scope)) ?? ++last
        numbers.set(scopeKey(scope), number)
        return number
      }
      return {
        ...inner,
        async delete(scope, cardId, options) {
          const deleted = await inner.delete(scope, cardId, options)
          if ((await inner.listByOwner(scope)).length === 0) numbers.delete(scopeKey(scope))
          return deleted
        },
        async *listOwners(provider) {
          for (let after = 0; ; ) {
            const owners = await toArray(inner.listOwners(provider), { limit: 10_000 })
            const page = owners
              .map((owner) => ({ owner, number: numberOf({ provider, owner }) }))
              .filter(({ number }) => number > after)
              .sort((a, b) => a.number - b.number)
              .slice(0, 100)
            yield* page.map(({ owner }) => owner)
            if (page.length < 100) return
            after = page.at(-1)!.number
          }
        },
      }
    }
    expect(await failedStoreChecks(numbered)).toEqual([
      'listOwners: does not list again an owner listed before that loses its last card and gets a new one',
    ])
  })

  it('a store whose listByOwners reads an owner asked for twice once fails the listByOwners rule', async () => {
    const readsOnce = (inner: CardStore): CardStore => ({
      ...inner,
      async listByOwners(scopes) {
        const unique = [...new Map(scopes.map((scope) => [scopeKey(scope), scope])).values()]
        return Promise.all(unique.map((scope) => inner.listByOwner(scope)))
      },
    })
    expect(await failedStoreChecks(readsOnce)).toEqual([
      'listByOwner: lists all of the 1,201 cards of one owner, and listByOwners (optional) 1,201 owners in one call',
      'listByOwner: listByOwners (optional) lists each owner as listByOwner does, in the order asked',
    ])
  })

  it('a store whose batches keep the cards they are given fails the input rule', async () => {
    // A cache of each batch's cards as given (not as stored), which get reads until the owner's
    // next write: the caller's objects, still the caller's to change.
    const keepsGiven = (inner: CardStore): CardStore => {
      const given = new Map<string, Card>()
      const forget = (scope: CardScope) => {
        const prefix = `${scopeKey(scope)}\u0000`
        for (const key of given.keys()) if (key.startsWith(prefix)) given.delete(key)
      }
      const keyOf = (scope: CardScope, cardId: string) => `${scopeKey(scope)}\u0000${cardId}`
      const writes = forgettingWrites(inner, forget)
      return {
        ...inner,
        ...writes,
        async upsertMany(cards, options) {
          await writes.upsertMany(cards, options)
          if (cards.length === 1) given.set(keyOf(scopeOf(cards[0]!), cards[0]!.id), cards[0]!)
        },
        async get(scope, cardId) {
          const row = await inner.get(scope, cardId)
          const kept = given.get(keyOf(scope, cardId))
          return row && kept ? { ...row, ...structuredClone(kept), isDefault: row.isDefault } : row
        },
      }
    }
    expect(await failedStoreChecks(keepsGiven)).toEqual([
      'upsert: keeps nothing of the cards it is given: changing one after upsert or upsertMany changes nothing stored',
    ])
  })

  it('a store whose rows keep the updatedAt of their first write fails the updatedAt rule', async () => {
    const firstWrites = (inner: CardStore): CardStore => {
      const first = new Map<string, string>()
      const keep = <T extends StoredCard | null>(card: T): T => {
        if (!card) return card
        const key = `${scopeKey(scopeOf(card))}\u0000${card.id}`
        const updatedAt = first.get(key) ?? card.updatedAt
        first.set(key, updatedAt)
        return { ...card, updatedAt }
      }
      return {
        ...inner,
        get: async (scope, cardId) => keep(await inner.get(scope, cardId)),
        async upsert(card, options) {
          const result = await inner.upsert(card, options)
          return { ...result, card: keep(result.card) }
        },
      }
    }
    expect(await failedStoreChecks(firstWrites)).toEqual([updatedAt])
  })

  it('a store whose updatedAt is no ISO 8601 timestamp (a date, a number, a time without its offset) fails the updatedAt rule', async () => {
    // Every read (and an upsert's answer) gives the row's time in a form of its own: the
    // contract's updatedAt is ISO 8601, date and time with an offset, as a card's createdAt.
    const shown =
      (form: (time: number) => unknown) =>
      (inner: CardStore): CardStore => {
        const show = <T extends StoredCard | null>(card: T): T =>
          card && { ...card, updatedAt: form(Date.parse(card.updatedAt)) as string }
        return {
          ...inner,
          get: async (scope, cardId) => show(await inner.get(scope, cardId)),
          getDefault: async (scope) => show(await inner.getDefault(scope)),
          listByOwner: async (scope) => (await inner.listByOwner(scope)).map(show),
          listByOwners: async (scopes) =>
            (await inner.listByOwners!(scopes)).map((cards) => cards.map(show)),
          async upsert(card, options) {
            const result = await inner.upsert(card, options)
            return { ...result, card: show(result.card) }
          },
        }
      }
    // 'Sun Dec 06 2026': a date alone, which every write of the day shares.
    expect(await failedStoreChecks(shown((time) => new Date(time).toDateString()))).toEqual([
      updatedAt,
    ])
    // A time without its offset ('2026-12-06T05:55:57.123', or with a space for the T): the
    // instant it names depends on the reader's time zone.
    const local = (time: number) => new Date(time).toISOString().slice(0, -1)
    expect(await failedStoreChecks(shown(local))).toEqual([updatedAt])
    expect(await failedStoreChecks(shown((time) => local(time).replace('T', ' ')))).toEqual([
      updatedAt,
    ])
    // A number (ms since the epoch) is no string either: every check comparing a row fails too.
    expect(await failedStoreChecks(shown((time) => time))).toContain(updatedAt)
  })

  it('a store whose writes of a default never clear the old one fails the one-default rules', async () => {
    // Its default flag is a column each write sets on its own card, as written, and nothing
    // clears on another's; setDefault(null) clears the owner's. Over a healthy store, which
    // clears them, the flags are kept apart. Its getDefault gives the healthy store's default
    // (the newest), or the one of the lowest card id, as a query without ORDER BY does: with one
    // or the other, each rule's getDefault finds the card it expects, and the rule fails for the
    // defaults it counts alone.
    const neverClears =
      (getDefault: 'newest' | 'lowest id') =>
      (inner: CardStore): CardStore => {
        const flags = new Map<string, boolean>()
        const keyOf = (scope: CardScope, cardId: string) => `${scopeKey(scope)}\u0000${cardId}`
        const shown = <T extends StoredCard | null>(row: T): T => {
          const flag = row && flags.get(keyOf(scopeOf(row), row.id))
          return row && flag !== undefined ? { ...row, isDefault: flag } : row
        }
        const listByOwner = async (scope: CardScope) => (await inner.listByOwner(scope)).map(shown)
        return {
          ...inner,
          get: async (scope, cardId) => shown(await inner.get(scope, cardId)),
          getDefault: async (scope) =>
            getDefault === 'newest'
              ? shown(await inner.getDefault(scope))
              : ((await listByOwner(scope))
                  .filter((card) => card.isDefault)
                  .sort((a, b) => a.id.localeCompare(b.id))[0] ?? null),
          listByOwner,
          listByOwners: async (scopes) =>
            (await inner.listByOwners!(scopes)).map((cards) => cards.map(shown)),
          async upsert(card, options) {
            const result = await inner.upsert(card, options)
            if (result.applied) flags.set(keyOf(scopeOf(card), card.id), card.isDefault)
            return { ...result, card: shown(result.card) }
          },
          async upsertMany(cards, options) {
            const read = () => Promise.all(cards.map((card) => inner.get(scopeOf(card), card.id)))
            const before = await read()
            await inner.upsertMany(cards, options)
            const after = await read()
            cards.forEach((card, index) => {
              const [was, is] = [before[index], after[index]]
              if (is && is.version > (was?.version ?? 0)) {
                flags.set(keyOf(scopeOf(card), card.id), card.isDefault)
              }
            })
          },
          async setDefault(scope, cardId, options) {
            await inner.setDefault(scope, cardId, options)
            if (cardId === null) {
              for (const row of await inner.listByOwner(scope)) {
                if (!row.isDefault) flags.set(keyOf(scope, row.id), false)
              }
              return
            }
            // Without observedAt, nothing refuses it; with one, the healthy store tells.
            const row = await inner.get(scope, cardId)
            if (row && (options?.observedAt === undefined || row.isDefault)) {
              flags.set(keyOf(scope, cardId), true)
            }
          },
          async delete(scope, cardId, options) {
            const deleted = await inner.delete(scope, cardId, options)
            if (deleted) flags.delete(keyOf(scope, cardId))
            return deleted
          },
        }
      }
    // Each finds two defaults, or more, where a write of a default should have left one (per
    // currency), or the one it displaced still the default.
    const rules = [
      'defaults: upserting a default card clears the previous default',
      'defaults: a stored card written again as the default clears the previous default',
      "defaults: one owner's default does not clear another owner's, whoever it is",
      'defaults: account cards keep one default per currency',
      'defaults: account cards keep one default per currency, in a batch too',
      "defaults: a stored account card written as the default in another currency clears that currency's default, not its old one's, through upsert and upsertMany",
      'defaults: concurrent default writes leave exactly one default',
      "setDefault: makes a card the owner's only default, and changes no other owner's cards, whoever it is",
      'setDefault: for an account card, only the default of its currency changes',
      'setDefault: 50 concurrent calls on one owner leave exactly one default',
      race,
      "observedAt: setDefault(card) without observedAt changes no row's observedAt",
      'observedAt: a default card older than the stored default is written as not the default',
      'observedAt: a default written by upsert or upsertMany with observedAt leaves the default it displaces at its own observedAt: a write of that card observed in between is applied',
      'observedAt: setDefault(card) with observedAt changes nothing when the card or the default it would clear was observed later',
      'observedAt: setDefault(card) with observedAt as recent as the card, or as the default it would clear, applies',
      'upsertMany: leaves one default per owner: the last default of the batch',
      "upsertMany: a batch's defaults clear no other owner's, whoever it is",
      'upsertMany: concurrentWrites (optional) is 1 to 64, and that many batches of other owners at once all land',
    ]
    expect(await failedStoreChecks(neverClears('newest'))).toEqual(rules)
    // The default of the lowest card id is not the one the store first saw: the two rules that
    // read which default getDefault gives an account fail too.
    const lowest = await failedStoreChecks(neverClears('lowest id'))
    expect(lowest.filter((title) => rules.includes(title))).toEqual(rules)
    expect(lowest.filter((title) => !rules.includes(title))).toEqual([
      "defaults: getDefault gives an account's default that the store first saw, whatever its currency",
      'setDefault: moves no card: listByOwner keeps the order the store first saw the cards in',
    ])
  })

  it('a store that clears the default before it compares a write with its card fails that rule', async () => {
    // Its upsert clears the owner's default of the card's currency (unless that default was
    // observed later), then writes the card, which may then be refused as older than its row.
    const clearsFirst = (inner: CardStore): CardStore => ({
      ...inner,
      async upsert(card, options) {
        const current = card.isDefault ? await inner.getDefault(scopeOf(card)) : null
        const observedAt = options?.observedAt
        if (
          current &&
          current.id !== card.id &&
          current.currency === card.currency &&
          (observedAt === undefined || (current.observedAt ?? 0) <= observedAt)
        ) {
          const { version: _, updatedAt: __, observedAt: ___, ...plain } = current
          await inner.upsert({ ...plain, isDefault: false })
        }
        return inner.upsert(card, options)
      },
    })
    expect(await failedStoreChecks(clearsFirst)).toEqual([
      // Its clearing is a write of the default as it read it, a moment before: in a race, the
      // default deleted in between comes back, and a write of it in between is lost.
      race,
      'observedAt: a default write older than its own card is refused, and leaves the current default',
      // Its batches, which it leaves alone, no longer write what its upserts write.
      'upsertMany: leaves the store as the same cards upserted one by one would (a seeded random program)',
    ])
  })

  it('a store whose upsert of a default stamps its observedAt on the default it displaces fails that rule', async () => {
    // The stamps kept beside the data: a row's observedAt is the later of its own and its stamp,
    // in every read and every comparison, as a database row that took the stamp would have it.
    const stampsDisplaced = (inner: CardStore): CardStore => {
      const stamps = new Map<string, number>()
      const keyOf = (scope: CardScope, cardId: string) => `${scopeKey(scope)}\u0000${cardId}`
      const seen = (row: StoredCard): StoredCard => {
        const stamp = stamps.get(keyOf(scopeOf(row), row.id))
        if (stamp === undefined) return row
        return { ...row, observedAt: Math.max(row.observedAt ?? stamp, stamp) }
      }
      const seenOrNull = (row: StoredCard | null) => row && seen(row)
      const older = (scope: CardScope, cardId: string, observedAt: number | undefined) => {
        const stamp = stamps.get(keyOf(scope, cardId))
        return observedAt !== undefined && stamp !== undefined && observedAt < stamp
      }
      return {
        ...inner,
        get: async (scope, cardId) => seenOrNull(await inner.get(scope, cardId)),
        getDefault: async (scope) => seenOrNull(await inner.getDefault(scope)),
        listByOwner: async (scope) => (await inner.listByOwner(scope)).map(seen),
        listByOwners: async (scopes) =>
          (await inner.listByOwners!(scopes)).map((cards) => cards.map(seen)),
        async upsert(card, options) {
          const observedAt = observedAtOf('brokenStore', options)
          if (older(scopeOf(card), card.id, observedAt)) {
            return { applied: false, card: seenOrNull(await inner.get(scopeOf(card), card.id)) }
          }
          // Both called at once, so that nothing runs between the read and the write.
          const stamping = card.isDefault && observedAt !== undefined
          const [before, result] = await Promise.all([
            stamping ? inner.listByOwner(scopeOf(card)) : [],
            inner.upsert(card, options),
          ])
          if (stamping && result.applied && result.card?.isDefault) {
            // The break: the displaced defaults take the displacing write's observedAt.
            for (const row of before) {
              if (!row.isDefault || row.id === card.id || row.currency !== card.currency) continue
              const stamp = Math.max(seen(row).observedAt ?? observedAt, observedAt)
              stamps.set(keyOf(scopeOf(row), row.id), stamp)
            }
          }
          return { applied: result.applied, card: seenOrNull(result.card) }
        },
        async upsertMany(cards, options) {
          const observedAt = observedAtOf('brokenStore', options)
          const kept = cards.filter((card) => !older(scopeOf(card), card.id, observedAt))
          return inner.upsertMany(kept, options)
        },
        async delete(scope, cardId, options) {
          if (older(scope, cardId, options?.observedAt)) return false
          const deleted = await inner.delete(scope, cardId, options)
          if (deleted) stamps.delete(keyOf(scope, cardId))
          return deleted
        },
        async setDefault(scope, cardId, options) {
          if (cardId !== null && older(scope, cardId, options?.observedAt)) return
          return inner.setDefault(scope, cardId, options)
        },
      }
    }
    expect(await failedStoreChecks(stampsDisplaced)).toEqual([
      'observedAt: a default written by upsert or upsertMany with observedAt leaves the default it displaces at its own observedAt: a write of that card observed in between is applied',
    ])
  })

  it('a store whose setDefault, or upsert of a default, reads the rows and writes them a turn later fails the race check every time, whatever it waits before it reads, and no other', async () => {
    // Read, wait (a round trip to a key-value store or a database without a transaction), then
    // write what was read: alone, each does what the healthy method does; in a race, a write
    // of the card that lands in between is lost, and a card deleted in between comes back. With
    // observedAt each runs the healthy method: the race check catches them without one. A round
    // trip may delay the read too (a microtask, or a turn): every other call of a race may then
    // have run by the time it reads, and only a call started between its read and its write
    // shows the write lost. Before the race check raced pairs, it let several of these through
    // (one waiting a microtask before it reads, then a turn, always), others now and then.
    for (const turn of [nextImmediate, nextTimer]) {
      for (const beforeRead of [undefined, nextMicrotask, nextImmediate, nextTimer]) {
        for (const breakage of [switchesLate, clearsLate]) {
          const store = breakage({ turn, beforeRead })
          const how = `${breakage.name}, ${beforeRead?.name ?? 'nothing'} then ${turn.name}`
          expect(await failedStoreChecks(store), how).toEqual([race])
          // The race check alone, again: it fails every time, not by chance.
          for (let run = 2; run <= 4; run++) {
            const again = await failedStoreChecks(store, 'honoured', [race])
            expect(again, `${how}, run ${run}`).toEqual([race])
          }
        }
      }
    }
    // Sixteen stores, each through the whole suite: longer than one store's test.
  }, 60_000)

  it('a store whose setDefault stamps its clock, or moves the card, fails those rules', async () => {
    // Without an observedAt, the time of the call as if the provider had been read then (a
    // clock stopped at one moment, so that the two runs of the seeded program stamp alike).
    const now = () => 1_900_000_000_000
    const stamps = (inner: CardStore): CardStore => ({
      ...inner,
      setDefault: (scope, cardId, options) =>
        inner.setDefault(
          scope,
          cardId,
          cardId === null ? options : { observedAt: now(), ...options },
        ),
    })
    expect(await failedStoreChecks(stamps)).toEqual([
      'setDefault: moves no card: listByOwner keeps the order the store first saw the cards in',
      // In a race, its stamp refuses the deletion (with an observedAt) of the default it switched
      // to: the deleted card stays.
      race,
      "observedAt: setDefault(card) without observedAt changes no row's observedAt",
    ])
    // A default switch written as a new row: the card moves to the top of the list.
    const moves = (inner: CardStore): CardStore => {
      const moved = new Map<string, string[]>()
      const order = (scope: CardScope, cards: StoredCard[]) => {
        const top = moved.get(scopeKey(scope)) ?? []
        const rank = (card: StoredCard) => top.indexOf(card.id)
        return [...cards].sort((a, b) => rank(b) - rank(a))
      }
      return {
        ...inner,
        async setDefault(scope, cardId, options) {
          await inner.setDefault(scope, cardId, options)
          if (cardId === null) return
          const top = (moved.get(scopeKey(scope)) ?? []).filter((id) => id !== cardId)
          moved.set(scopeKey(scope), [...top, cardId])
        },
        listByOwner: async (scope) => order(scope, await inner.listByOwner(scope)),
        listByOwners: async (scopes) =>
          Promise.all(scopes.map(async (scope) => order(scope, await inner.listByOwner(scope)))),
      }
    }
    expect(await failedStoreChecks(moves)).toEqual([
      'setDefault: moves no card: listByOwner keeps the order the store first saw the cards in',
    ])
  })

  it('a store whose later deletion of a deleted card replaces the first fails the tombstone rule', async () => {
    // Tombstones kept beside the data, each the last deletion's time, whatever came before.
    const lastDeletion = (inner: CardStore): CardStore => {
      const tombstones = new Map<string, number>()
      const keyOf = (scope: CardScope, cardId: string) => `${scopeKey(scope)}\u0000${cardId}`
      const older = (card: Card, options?: WriteOptions) => {
        const deleted = tombstones.get(keyOf(scopeOf(card), card.id))
        return (
          options?.observedAt !== undefined && deleted !== undefined && options.observedAt < deleted
        )
      }
      return {
        ...inner,
        async delete(scope, cardId, options) {
          const observedAt = observedAtOf('brokenStore', options)
          const row = await inner.get(scope, cardId)
          if (row?.observedAt != null && observedAt !== undefined && observedAt < row.observedAt) {
            return false
          }
          // The break: a deletion replaces the tombstone it finds, later or not.
          if (observedAt !== undefined) tombstones.set(keyOf(scope, cardId), observedAt)
          return inner.delete(scope, cardId)
        },
        async upsert(card, options) {
          if (older(card, options)) return { applied: false, card: null }
          tombstones.delete(keyOf(scopeOf(card), card.id))
          return inner.upsert(card, options)
        },
        async upsertMany(cards, options) {
          const fresh = cards.filter((card) => !older(card, options))
          await inner.upsertMany(fresh, options)
          for (const card of fresh) tombstones.delete(keyOf(scopeOf(card), card.id))
        },
      }
    }
    expect(await failedStoreChecks(lastDeletion)).toEqual([
      "delete: a deletion older than the card's deletion changes nothing: the later one still refuses older writes",
    ])
  })

  it("a store that keeps no deletion of a card it does not hold fails the rules of a deletion seen before the card's creation", async () => {
    // A deletion that looks for the row first and writes nothing when there is none: a webhook's
    // card.deleted handled before its card.created, the creation brings the card back.
    const forgetsUnseen = (inner: CardStore): CardStore => ({
      ...inner,
      async delete(scope, cardId, options) {
        observedAtOf('brokenStore', options)
        if ((await inner.get(scope, cardId)) === null) return false
        return inner.delete(scope, cardId, options)
      },
    })
    expect(await failedStoreChecks(forgetsUnseen)).toEqual([
      'delete: a deletion with observedAt refuses older writes of the card',
      "delete: a deletion older than the card's deletion changes nothing: the later one still refuses older writes",
    ])
  })

  it("a store whose getDefault gives an owner's newest card when none is the default fails the getDefault rule", async () => {
    // One that orders the owner's cards by their default flag and takes the first.
    const newestCard = (inner: CardStore): CardStore => ({
      ...inner,
      async getDefault(scope) {
        return (await inner.getDefault(scope)) ?? (await inner.listByOwner(scope))[0] ?? null
      },
    })
    expect(await failedStoreChecks(newestCard)).toEqual([
      'defaults: getDefault gives the default card, or null when there is none',
      // Each also reads the default of an owner left with cards but none the default.
      "setDefault: null clears the owner's defaults, and only that owner's",
      'delete: deleting a default leaves the owner without one: the store makes no other card the default',
      "delete: a deleted card leaves every read, its tombstone too: get, getDefault, listByOwner, listByOwners and, with the owner's last card, listOwners",
    ])
  })

  it('a store whose delete answers true for a card it deleted before, or for any card, fails the rules of its answer', async () => {
    // CardSync.deleteLocal hands the answer on: its caller hears of a copy deleted that was not.
    // Rows marked deleted, and a deletion that counts the rows it marks, deleted before or not.
    const countsMarked = (inner: CardStore): CardStore => {
      const marked = new Set<string>()
      const keyOf = (scope: CardScope, cardId: string) => `${scopeKey(scope)}\u0000${cardId}`
      return {
        ...inner,
        async delete(scope, cardId, options) {
          const deleted = await inner.delete(scope, cardId, options)
          if (deleted) marked.add(keyOf(scope, cardId))
          if (deleted || !marked.has(keyOf(scope, cardId))) return deleted
          return (await inner.get(scope, cardId)) === null
        },
      }
    }
    expect(await failedStoreChecks(countsMarked)).toEqual([
      'delete: removes a card and says whether it did',
      // Its deletion of a deleted card, observed earlier, is refused: it answers true.
      "delete: a deletion older than the card's deletion changes nothing: the later one still refuses older writes",
    ])
    const alwaysTrue = (inner: CardStore): CardStore => ({
      ...inner,
      async delete(scope, cardId, options) {
        await inner.delete(scope, cardId, options)
        return true
      },
    })
    expect(await failedStoreChecks(alwaysTrue)).toEqual([
      'delete: removes a card and says whether it did',
      // Each also asks for a deletion the store refuses, or of a card it does not hold.
      "delete: leaves another owner's card of the same id alone, whoever it is",
      "delete: a deletion's observedAt refuses older writes of that owner's card only",
      'delete: a deletion with observedAt refuses older writes of the card',
      'delete: a deletion older than the stored card is refused',
      "delete: a deletion older than the card's deletion changes nothing: the later one still refuses older writes",
    ])
  })

  it('a store whose reads still see a deleted default fails the deleted-card rule', async () => {
    // A deletion kept as a row marked deleted, which getDefault forgets to leave out.
    const seesDeleted = (inner: CardStore): CardStore => {
      const deleted = new Map<string, StoredCard>()
      return {
        ...inner,
        async delete(scope, cardId, options) {
          const card = await inner.get(scope, cardId)
          const done = await inner.delete(scope, cardId, options)
          if (done && card?.isDefault && options?.observedAt !== undefined) {
            deleted.set(scopeKey(scope), card)
          }
          return done
        },
        async getDefault(scope) {
          return (await inner.getDefault(scope)) ?? deleted.get(scopeKey(scope)) ?? null
        },
      }
    }
    expect(await failedStoreChecks(seesDeleted)).toEqual([
      "delete: a deleted card leaves every read, its tombstone too: get, getDefault, listByOwner, listByOwners and, with the owner's last card, listOwners",
    ])
  })

  it('a store that reads in pages and skips the edge of one, or pages owners by id alone, fails the paging rules', async () => {
    const many =
      'listByOwner: lists all of the 1,201 cards of one owner, and listByOwners (optional) 1,201 owners in one call'
    // Pages of 100 cards, each next page starting one card too far.
    const skipsEdge = (cards: StoredCard[]) => cards.filter((_, index) => index % 101 !== 100)
    const pagedCards = (inner: CardStore): CardStore => ({
      ...inner,
      listByOwner: async (scope) => skipsEdge(await inner.listByOwner(scope)),
      listByOwners: async (scopes) => (await inner.listByOwners!(scopes)).map(skipsEdge),
    })
    expect(await failedStoreChecks(pagedCards)).toEqual([many])
    // Owners read 50 a chunk, and the last chunk, short of 50, dropped.
    const chunks = (inner: CardStore): CardStore => ({
      ...inner,
      async listByOwners(scopes) {
        const whole = scopes.length < 50 ? scopes.length : scopes.length - (scopes.length % 50)
        return inner.listByOwners!(scopes.slice(0, whole))
      },
    })
    expect(await failedStoreChecks(chunks)).toEqual([many])
    // Owners paged by a keyset on the owner id alone: the twin opening the next page is skipped.
    const byId = (inner: CardStore): CardStore => ({
      ...inner,
      async *listOwners(provider) {
        const owners = await toArray(inner.listOwners(provider), { limit: 10_000 })
        owners.sort((a, b) => a.id.localeCompare(b.id) || a.type.localeCompare(b.type))
        for (let after = ''; ; ) {
          const page = owners.filter((owner) => owner.id > after).slice(0, 100)
          yield* page
          if (page.length < 100) return
          after = page.at(-1)!.id
        }
      },
    })
    expect(await failedStoreChecks(byId)).toEqual([
      'listOwners: streams owners sharing an id under both owner types each once, across pages',
    ])
  })

  it('a store whose notes load sorted by card id, not in the order saved, fails the order rule', async () => {
    const sortsNotes =
      (order: (a: RetiringCard, b: RetiringCard) => number) =>
      (inner: CardStore): CardStore => {
        const log = inner.retirements!
        return {
          ...inner,
          retirements: {
            save: (scope, key, cards) => log.save(scope, key, cards),
            load: async (scope, key) => (await log.load(scope, key)).sort(order),
            remove: (scope, key) => log.remove(scope, key),
          },
        }
      }
    const rule =
      'retirements: saves, loads and removes a note, in the order saved, and loads nothing without one'
    // The other rules of notes save their cards in the order of their ids.
    expect(await failedStoreChecks(sortsNotes((a, b) => a.cardId.localeCompare(b.cardId)))).toEqual(
      [rule],
    )
    expect(await failedStoreChecks(sortsNotes((a, b) => b.cardId.localeCompare(a.cardId)))).toEqual(
      [
        rule,
        'retirements: a save replaces the note of the same owner and key',
        'retirements: a loaded note is a copy: changing it, or any card in it, changes nothing stored',
      ],
    )
  })

  it('a store that clears the default of the currency a card had, when it is written as a default in another, fails that rule, through upsert or upsertMany alone too', async () => {
    // Such a store reads the currency to clear from the stored row (in `paths`, the methods that
    // do). Over a healthy store, which keeps one default per currency, it is played so: the card
    // goes on in its old currency, whose defaults it clears, and reads show it in its new one,
    // beside that currency's default.
    type Path = 'upsert' | 'upsertMany'
    const clearsOldCurrency =
      (paths: readonly Path[]) =>
      (inner: CardStore): CardStore => {
        /** The currency a card is shown in, where `inner` keeps it in its old one. */
        const shownIn = new Map<string, string | null>()
        const keyOf = (scope: CardScope, cardId: string) => `${scopeKey(scope)}\u0000${cardId}`
        const shown = <T extends StoredCard | null>(row: T): T => {
          const key = row && keyOf(scopeOf(row), row.id)
          return key && shownIn.has(key) ? { ...row, currency: shownIn.get(key)! } : row
        }
        /** What `inner` keeps of a card: enough to tell how it takes the next write. */
        type Kept = Pick<StoredCard, 'currency' | 'observedAt'> | null
        const refuses = (kept: Kept, observedAt: number | undefined) =>
          observedAt !== undefined && kept?.observedAt != null && observedAt < kept.observedAt
        /**
         * The card as `inner` is to keep it when written through `path`, given what it keeps (a
         * write it refuses changes nothing).
         */
        const written = (
          path: Path,
          card: Card,
          kept: Kept,
          observedAt: number | undefined,
        ): Card => {
          const key = keyOf(scopeOf(card), card.id)
          if (refuses(kept, observedAt)) return card
          const was = shownIn.has(key) ? shownIn.get(key) : kept?.currency
          shownIn.delete(key)
          if (!paths.includes(path)) return card
          if (!card.isDefault || !kept || was === card.currency) return card
          shownIn.set(key, card.currency)
          return { ...card, currency: kept.currency }
        }
        return {
          ...inner,
          get: async (scope, cardId) => shown(await inner.get(scope, cardId)),
          getDefault: async (scope) => shown(await inner.getDefault(scope)),
          listByOwner: async (scope) => (await inner.listByOwner(scope)).map(shown),
          listByOwners: async (scopes) =>
            (await inner.listByOwners!(scopes)).map((cards) => cards.map(shown)),
          async upsert(card, options) {
            const kept = await inner.get(scopeOf(card), card.id)
            const result = await inner.upsert(
              written('upsert', card, kept, options?.observedAt),
              options,
            )
            return { ...result, card: shown(result.card) }
          },
          async upsertMany(cards, options) {
            // Each card as the batch's cards before it leave it, as `inner` writes them in turn.
            const observedAt = options?.observedAt
            const keptInBatch = new Map<string, Kept>()
            const batch: Card[] = []
            for (const card of cards) {
              const key = keyOf(scopeOf(card), card.id)
              const kept = keptInBatch.has(key)
                ? keptInBatch.get(key)!
                : await inner.get(scopeOf(card), card.id)
              const write = written('upsertMany', card, kept, observedAt)
              batch.push(write)
              if (refuses(kept, observedAt)) continue
              keptInBatch.set(key, {
                currency: write.currency,
                observedAt: observedAt ?? kept?.observedAt ?? null,
              })
            }
            return inner.upsertMany(batch, options)
          },
          async delete(scope, cardId, options) {
            const deleted = await inner.delete(scope, cardId, options)
            if (deleted) shownIn.delete(keyOf(scope, cardId))
            return deleted
          },
        }
      }
    const rule =
      "defaults: a stored account card written as the default in another currency clears that currency's default, not its old one's, through upsert and upsertMany"
    expect(await failedStoreChecks(clearsOldCurrency(['upsert', 'upsertMany']))).toEqual([rule])
    // With one of the two healthy, the rule fails still: it tries both. The random program
    // tells them apart too, as it compares a batch with the same cards upserted one by one.
    const program =
      'upsertMany: leaves the store as the same cards upserted one by one would (a seeded random program)'
    expect(await failedStoreChecks(clearsOldCurrency(['upsert']))).toEqual([rule, program])
    expect(await failedStoreChecks(clearsOldCurrency(['upsertMany']))).toEqual([rule, program])
  })

  /**
   * A store that writes and looks up every owner id (`part: 'owner'`), or every card id, as
   * `rewrite` makes it: two ids it makes one are one owner, or one card, to it.
   */
  const rewritesIds =
    (part: 'owner' | 'card', rewrite: (id: string) => string) =>
    (inner: CardStore): CardStore => {
      const ownerOf = (owner: Owner): Owner =>
        part === 'owner' ? { type: owner.type, id: rewrite(owner.id) } : owner
      const idOf = (cardId: string) => (part === 'card' ? rewrite(cardId) : cardId)
      const scoped = (scope: CardScope): CardScope => ({
        provider: scope.provider,
        owner: ownerOf(scope.owner),
      })
      const rewritten = (card: Card): Card => ({
        ...card,
        id: idOf(card.id),
        owner: ownerOf(card.owner),
      })
      return {
        ...inner,
        get: (scope, cardId) => inner.get(scoped(scope), idOf(cardId)),
        getDefault: (scope) => inner.getDefault(scoped(scope)),
        listByOwner: (scope) => inner.listByOwner(scoped(scope)),
        listByOwners: (scopes) => inner.listByOwners!(scopes.map(scoped)),
        upsert: async (card, options) => inner.upsert(rewritten(card), options),
        upsertMany: async (cards, options) => inner.upsertMany(cards.map(rewritten), options),
        delete: (scope, cardId, options) => inner.delete(scoped(scope), idOf(cardId), options),
        setDefault: (scope, cardId, options) =>
          inner.setDefault(scoped(scope), cardId === null ? null : idOf(cardId), options),
      }
    }

  it('a store that compares owner ids, or card ids, without case fails the case rule', async () => {
    // As MySQL's default collation compares them: here, keys lowercased on the way in.
    const lower = (id: string) => id.toLowerCase()
    const rule =
      'get: keeps apart owner ids, and card ids, that differ only in case, and keeps their case'
    expect(await failedStoreChecks(rewritesIds('owner', lower))).toEqual([rule])
    expect(await failedStoreChecks(rewritesIds('card', lower))).toEqual([rule])
  })

  it('a store that drops trailing spaces of owner ids, or card ids, fails the spaces rule', async () => {
    // As a CHAR column reads them back, and MySQL's PAD SPACE collations compare them: here,
    // trailing spaces cut on the way in.
    const trimmed = (id: string) => id.replace(/ +$/, '')
    const rule =
      'get: keeps apart owner ids, and card ids, that differ only by trailing spaces, and keeps their spaces'
    expect(await failedStoreChecks(rewritesIds('owner', trimmed))).toEqual([rule])
    expect(await failedStoreChecks(rewritesIds('card', trimmed))).toEqual([rule])
  })

  it("a store that cuts metadata short of the core's limits, or mangles text beyond U+FFFF, fails those rules", async () => {
    /** A store that writes `change(card)` for each card it is given. */
    const writesAs =
      (change: (card: Card) => Card) =>
      (inner: CardStore): CardStore => ({
        ...inner,
        upsert: async (card, options) => inner.upsert(change(card), options),
        upsertMany: async (cards, options) => inner.upsertMany(cards.map(change), options),
      })
    const metadataAs = (change: (pairs: [string, string][]) => [string, string][]) =>
      writesAs((card) => ({
        ...card,
        metadata: Object.fromEntries(change(Object.entries(card.metadata))),
      }))
    const limits =
      "upsert: reads back metadata at the core's limits field for field: 50 keys of 40 characters, values of 500, through upsert and upsertMany"
    // 20 pairs kept, values in a VARCHAR(255), keys in a VARCHAR(32).
    expect(await failedStoreChecks(metadataAs((pairs) => pairs.slice(0, 20)))).toEqual([limits])
    const values = metadataAs((pairs) => pairs.map(([key, value]) => [key, value.slice(0, 255)]))
    expect(await failedStoreChecks(values)).toEqual([limits])
    const keys = metadataAs((pairs) => pairs.map(([key, value]) => [key.slice(0, 32), value]))
    expect(await failedStoreChecks(keys)).toEqual([limits])
    // MySQL's utf8 (utf8mb3), outside strict mode, writes `?` for what it cannot hold.
    const bmpOnly = (text: string) => text.replace(/[\u{10000}-\u{10FFFF}]/gu, '?')
    const mangles = writesAs((card) => ({
      ...card,
      holderName: card.holderName === null ? null : bmpOnly(card.holderName),
      metadata: Object.fromEntries(
        Object.entries(card.metadata).map(([key, value]) => [bmpOnly(key), bmpOnly(value)]),
      ),
    }))
    expect(await failedStoreChecks(mangles)).toEqual([
      'upsert: reads back text beyond U+FFFF (emoji) unchanged: the holder name, the address, metadata keys and values, through upsert and upsertMany',
    ])
  })

  it('a store whose notes ignore the owner, or hand out what they hold, fails those rules', async () => {
    type Copy = (cards: readonly RetiringCard[]) => RetiringCard[]
    const deep: Copy = (cards) => structuredClone([...cards])
    const none: Copy = (cards) => cards as RetiringCard[]
    /** Notes kept apart by `keyOf`, copied by `copyIn` when saved, `copyOut` when loaded. */
    const notesOf = (
      keyOf: (scope: CardScope, key: string) => string,
      copyIn: Copy,
      copyOut: Copy = copyIn,
    ) => {
      const notes = new Map<string, RetiringCard[]>()
      return (inner: CardStore): CardStore => ({
        ...inner,
        retirements: {
          async save(scope, key, cards) {
            notes.set(keyOf(scope, key), copyIn(cards))
          },
          async load(scope, key) {
            return copyOut(notes.get(keyOf(scope, key)) ?? [])
          },
          async remove(scope, key) {
            notes.delete(keyOf(scope, key))
          },
        },
      })
    }
    const scoped = (scope: CardScope, key: string) => `${scopeKey(scope)}/${key}`
    const loadedCopy =
      'retirements: a loaded note is a copy: changing it, or any card in it, changes nothing stored'
    expect(await failedStoreChecks(notesOf((_, key) => key, deep))).toEqual([
      "retirements: notes are scoped by owner: another owner's key reads nothing",
    ])
    expect(await failedStoreChecks(notesOf(scoped, none))).toEqual([loadedCopy])
    // A new array of the cards it keeps: a caller changing a card of it changes the note.
    expect(await failedStoreChecks(notesOf(scoped, deep, (cards) => [...cards]))).toEqual([
      loadedCopy,
    ])
  })

  it('fails no check of a healthy store left to close itself', async () => {
    expect(await failedStoreChecks((inner) => inner, 'as broken')).toEqual([])
  })

  const refusesAfterClose =
    'close: refuses every call from the moment close() is called, while it is pending and after, with invalid_request, and a second close() resolves'
  const writesNothingAfterClose =
    'close: writes nothing from the moment close() is called: a store opened again over the same data holds what it held'

  it('a store that keeps working after close() fails both close rules', async () => {
    // What memoryStore() and postgresStore() did: close() released nothing, and changed nothing.
    const keepsWorking = (inner: CardStore): CardStore => ({ ...inner, async close() {} })
    expect(await failedStoreChecks(keepsWorking, 'as broken')).toEqual([
      refusesAfterClose,
      writesNothingAfterClose,
    ])
  })

  it('a store that refuses a batch after close(), but only once it has written it, fails the nothing-written rule', async () => {
    const writesFirst = (inner: CardStore, backing: CardStore): CardStore => {
      let closed = false
      return {
        ...inner,
        async upsertMany(cards, options) {
          if (!closed) return inner.upsertMany(cards, options)
          await backing.upsertMany(cards, options)
          throw new InvalidRequestError('brokenStore is closed')
        },
        async close() {
          closed = true
          await inner.close()
        },
      }
    }
    expect(await failedStoreChecks(writesFirst, 'as broken')).toEqual([writesNothingAfterClose])
  })

  it('a store that refuses calls only once its close() has resolved fails both close rules', async () => {
    // Its close() ends a pool first (20 ms), and only then refuses what comes: the calls made
    // meanwhile run, and their writes land.
    const refusesLate = (inner: CardStore): CardStore => {
      const guarded = closableStore('brokenStore', inner)
      return {
        ...guarded,
        async close() {
          await new Promise((resolve) => setTimeout(resolve, 20))
          await guarded.close()
        },
      }
    }
    expect(await failedStoreChecks(refusesLate, 'as broken')).toEqual([
      refusesAfterClose,
      writesNothingAfterClose,
    ])
  })

  it("a store that fails after close() with its driver's error, or one to retry, or fails a second close(), fails the refusal rule", async () => {
    // What a better-sqlite3 store does without a check: a TypeError from deep in a statement.
    const driverError = (inner: CardStore): CardStore => ({
      ...inner,
      async get(scope, cardId) {
        return inner.get(scope, cardId).catch(() => {
          throw new TypeError('The database connection is not open')
        })
      },
    })
    expect(await failedStoreChecks(driverError, 'as broken')).toEqual([refusesAfterClose])
    // A store that takes its ended pool for the database being down: CardSync would retry the
    // call for ever.
    const poolDown = (inner: CardStore): CardStore => ({
      ...inner,
      async get(scope, cardId) {
        return inner.get(scope, cardId).catch((error: unknown) => {
          throw new ProviderUnavailableError('brokenStore: no connection', { cause: error })
        })
      },
    })
    expect(await failedStoreChecks(poolDown, 'as broken')).toEqual([refusesAfterClose])
    const closesOnce = (inner: CardStore): CardStore => {
      let closed = false
      return {
        ...inner,
        async close() {
          if (closed) throw new Error('the pool is already ended')
          closed = true
          await inner.close()
        },
      }
    }
    expect(await failedStoreChecks(closesOnce, 'as broken')).toEqual([refusesAfterClose])
  })

  it('a store whose close() does not wait for the calls begun before it fails the waiting rule', async () => {
    const waits =
      'close: lets the calls begun before close() finish, and resolves only once they have'
    // Writes that take a moment, as a store on a pool of connections does.
    const slowWrites = (inner: CardStore): CardStore => {
      const later =
        <A extends unknown[], R>(method: (...args: A) => Promise<R>) =>
        async (...args: A): Promise<R> => {
          await new Promise((resolve) => setImmediate(resolve))
          return method(...args)
        }
      return {
        ...inner,
        upsert: later(inner.upsert),
        upsertMany: later(inner.upsertMany),
        setDefault: later(inner.setDefault),
        delete: later(inner.delete),
      }
    }
    // What closableStore did: close() released the store at once, under the writes still on
    // their way, which then failed.
    expect(await failedStoreChecks(slowWrites, 'as broken')).toEqual([waits])
    // A store whose close() refuses what comes after it at once, and resolves while the writes
    // begun before still land: on the data, which outlives the store.
    const resolvesEarly = (inner: CardStore, backing: CardStore): CardStore => {
      let closed = false
      const slow = slowWrites(backing)
      const refuse = async () => {
        throw new InvalidRequestError('brokenStore is closed')
      }
      const writes = ['upsert', 'upsertMany', 'setDefault', 'delete'] as const
      return {
        ...inner,
        ...Object.fromEntries(
          writes.map((name) => [
            name,
            // biome-ignore lint/suspicious/noExplicitAny: one wrapper for four signatures
            (...args: any[]) => (closed ? refuse() : (slow[name] as any)(...args)),
          ]),
        ),
        async close() {
          closed = true
          await inner.close()
        },
      }
    }
    expect(await failedStoreChecks(resolvesEarly, 'as broken')).toEqual([waits])
    // closableStore gives the same slow store the rule.
    expect(await failedStoreChecks(slowWrites)).toEqual([])
  })

  it('skips, and does not pass, the nothing-written rule for a fixture without reopen', async () => {
    const check = cardStoreChecks().find((candidate) =>
      candidate.title.startsWith('writes nothing'),
    )
    const notes: string[] = []
    const skip = (note: string): never => {
      notes.push(note)
      throw new Error('skipped')
    }
    const run = runCardStoreCheck({ setup: () => ({ store: memoryStore() }) }, check!, skip)
    await expect(run).rejects.toThrow('skipped')
    expect(notes).toEqual(['the fixture has no reopen (its data does not outlive the store)'])
  })

  it('skips, and does not pass, the retirements rules for a store without them', async () => {
    const { retirements: _, ...withoutNotes } = memoryStore()
    const checks = cardStoreChecks().filter((candidate) => candidate.group === 'retirements')
    const notes: string[] = []
    const skip = (note: string): never => {
      notes.push(note)
      throw new Error('skipped')
    }
    for (const check of checks) {
      const run = runCardStoreCheck({ setup: () => ({ store: withoutNotes }) }, check, skip)
      await expect(run).rejects.toThrow('skipped')
    }
    expect(notes).toEqual(checks.map(() => 'the store has no retirements (optional)'))
    expect(checks).toHaveLength(4)
  })

  it('skips, and does not pass, the listByOwners rule for a store without it', async () => {
    const { listByOwners: _, ...withoutListByOwners } = memoryStore()
    const check = cardStoreChecks().find((candidate) => candidate.title.startsWith('listByOwners'))
    const notes: string[] = []
    const skip = (note: string): never => {
      notes.push(note)
      throw new Error('skipped')
    }
    const run = runCardStoreCheck({ setup: () => ({ store: withoutListByOwners }) }, check!, skip)
    await expect(run).rejects.toThrow('skipped')
    expect(notes).toEqual(['the store has no listByOwners (optional)'])
  })
})
