import { randomUUID } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import {
  type Card,
  CardSchema,
  type CardScope,
  type CardStore,
  EMPTY_ADDRESS,
  formatOwner,
  isCardportError,
  METADATA_LIMITS,
  type Owner,
  type OwnerType,
  type RetirementLog,
  type StoredCard,
  scopeOf,
  toArray,
  type UpsertResult,
} from '@cardport/core'
import { expect } from 'vitest'
import type { CardStoreFixture } from './describe-card-store.js'
import type { SkipCheck } from './register-checks.js'

/**
 * One rule of the store contract, as a function of a fixture. `describeCardStore` registers
 * one Vitest test per check; the suite's own tests run checks directly.
 *
 * @internal
 */
export interface CardStoreCheck {
  readonly group: string
  readonly title: string
  /**
   * `markClosed` tells the runner the check closed the store itself; `skip` marks the check
   * skipped, for a rule about an optional method the store does not have.
   */
  run(fixture: CardStoreFixture, markClosed: () => void, skip: SkipCheck): Promise<void>
}

/** The keys of a stored card: the Card's and the store's bookkeeping, nothing else. */
const STORED_KEYS = [...Object.keys(CardSchema.shape), 'version', 'updatedAt', 'observedAt'].sort()

/**
 * What a stored row's `updatedAt` is: ISO 8601, as the contract says, read as the Card schema
 * reads `createdAt`, a date and time with its offset (`Z` or `+01:00`), any fraction of a second.
 */
const UPDATED_AT = CardSchema.shape.createdAt.unwrap()

/** Column or key names that would hold what no store may keep (`checks.cvc` is a result). */
const SECRET_KEY = /^(card_?number|number|pan|card_?cvc|cvc|cvv2?|security_?code)$/i

// Fixed observation times (ms since the epoch): the rules compare them, never the clock.
const T1 = 1_700_000_001_000
const T2 = 1_700_000_002_000
const T3 = 1_700_000_003_000
const T4 = 1_700_000_004_000

/**
 * The checks of the store contract (`CardStore` in `@cardport/core`).
 *
 * @internal
 */
export function cardStoreChecks(): CardStoreCheck[] {
  const checks: CardStoreCheck[] = []
  const check = (group: string, title: string, run: (t: Context) => Promise<void>) => {
    checks.push({
      group,
      title,
      run: (fixture, markClosed, skip) => run(createContext(fixture, markClosed, skip)),
    })
  }

  // --- upsert -------------------------------------------------------------------------------
  check('upsert', 'inserts a card at version 1 and reads it back field for field', async (t) => {
    const scope = t.scope()
    const card = t.card(scope)
    const result = await t.store.upsert(card)
    expect(result.applied).toBe(true)
    t.expectStored(result.card, card, { version: 1, observedAt: null })
    t.expectStored(await t.store.get(scope, card.id), card, { version: 1, observedAt: null })
  })

  check('upsert', 'reads back a card whose nullable fields are all null', async (t) => {
    const scope = t.scope()
    const card = t.card(scope, {
      holderName: null,
      address: { ...EMPTY_ADDRESS },
      country: null,
      fingerprint: null,
      funding: 'unknown',
      checks: { cvc: null, addressLine1: null, postalCode: null },
      currency: null,
      status: 'invalid',
      metadata: {},
      createdAt: null,
    })
    await t.store.upsert(card)
    t.expectStored(await t.store.get(scope, card.id), card, { version: 1, observedAt: null })
  })

  check(
    'upsert',
    `reads back metadata at the core's limits field for field: ${METADATA_LIMITS.maxKeys} keys of ${METADATA_LIMITS.maxKeyLength} characters, values of ${METADATA_LIMITS.maxValueLength}, through upsert and upsertMany`,
    async (t) => {
      // What an application may write (METADATA_LIMITS): a store whose column or document
      // holds less (a VARCHAR(255), a key cut at 32, a cap on pairs) loses it without a word.
      const { maxKeys, maxKeyLength, maxValueLength } = METADATA_LIMITS
      const scope = t.scope()
      const metadata: Record<string, string> = {}
      for (let index = 0; index < maxKeys; index++) {
        const key = `${String(index).padStart(2, '0')}_key_`.padEnd(maxKeyLength, 'k')
        metadata[key] = `${index}: ünïcödé value `.repeat(maxValueLength).slice(0, maxValueLength)
      }
      await writtenAndReadBack(t, scope, { metadata })
    },
  )

  check(
    'upsert',
    'reads back text beyond U+FFFF (emoji) unchanged: the holder name, the address, metadata keys and values, through upsert and upsertMany',
    async (t) => {
      // Characters outside the Basic Multilingual Plane take four bytes in UTF-8 and two UTF-16
      // code units: MySQL's `utf8` (utf8mb3) refuses or mangles them, a store that counts or
      // cuts by code units splits them.
      const scope = t.scope()
      const astral = {
        holderName: 'Zoë 😀 Rosen 𝒥',
        address: { ...EMPTY_ADDRESS, line1: '1 Rue du 🏠', city: '𝔐ünchen' },
        metadata: { 'emoji 💳': 'pays with 😀 and 𝄞', plain: '🇫🇷' },
      }
      await writtenAndReadBack(t, scope, astral)
    },
  )

  check('upsert', 'replaces a stored card and increases its version by one', async (t) => {
    const scope = t.scope()
    const card = t.card(scope)
    await t.store.upsert(card)
    const changed: Card = {
      ...card,
      expMonth: 1,
      expYear: card.expYear + 1,
      holderName: 'Jenny Rosen',
      metadata: { plan: 'team' },
    }
    const result = await t.store.upsert(changed)
    expect(result.applied).toBe(true)
    t.expectStored(result.card, changed, { version: 2, observedAt: null })
    t.expectStored(await t.store.get(scope, card.id), changed, { version: 2, observedAt: null })
    expect(await t.store.listByOwner(scope)).toHaveLength(1)
  })

  check(
    'upsert',
    "returns copies: changing any part of an upsert's answer, applied or refused, changes nothing that get, getDefault, listByOwner, listByOwners or listOwners give",
    async (t) => {
      // A store that answers with the row it keeps, or a copy sharing any object with it (its
      // owner, shared by the owner's rows and listOwners, say), is changed by its caller. A
      // refused write answers the stored row too: a store may hand that out as it found it.
      const scope = t.scope()
      const card = t.card(scope, { isDefault: true })
      const listByOwners = t.store.listByOwners?.bind(t.store)
      const readAll = async () => {
        const all: Record<string, unknown> = {
          get: await t.store.get(scope, card.id),
          getDefault: await t.store.getDefault(scope),
          listByOwner: await t.store.listByOwner(scope),
          listOwners: await toArray(t.store.listOwners(scope.provider), { limit: 10 }),
        }
        if (listByOwners) all.listByOwners = await listByOwners([scope])
        return structuredClone(all)
      }
      const applied = await t.store.upsert(structuredClone(card), { observedAt: T2 })
      expect(applied.applied, 'the first write applied').toBe(true)
      const stored = { version: 1, observedAt: T2 }
      t.expectStored(applied.card, card, stored)
      const before = await readAll()
      expect(before.listOwners, 'the owners').toEqual([scope.owner])
      changeEveryPart(applied.card!)
      expect(await readAll(), "after changing the applied write's answer").toEqual(before)

      const older = { ...structuredClone(card), holderName: 'an older write', isDefault: false }
      const refused = await t.store.upsert(older, { observedAt: T1 })
      expect(refused.applied, 'the older write refused').toBe(false)
      t.expectStored(refused.card, card, stored)
      changeEveryPart(refused.card!)
      expect(await readAll(), "after changing the refused write's answer").toEqual(before)
      t.expectStored(await t.store.get(scope, card.id), card, stored)
    },
  )

  check(
    'upsert',
    'keeps nothing of the cards it is given: changing one after upsert or upsertMany changes nothing stored',
    async (t) => {
      // A store that keeps the caller's objects (or any object in them) is changed by a caller
      // reusing them: a reconcile builds each page's cards, then moves on.
      const scope = t.scope()
      const [single, batched] = [t.card(scope), t.card(scope)]
      const given = [structuredClone(single), structuredClone(batched)]
      await t.store.upsert(given[0]!)
      await t.store.upsertMany([given[1]!])
      for (const card of given) changeEveryPart(card)
      const expected = { version: 1, observedAt: null }
      t.expectStored(await t.store.get(scope, single.id), single, expected)
      t.expectStored(await t.store.get(scope, batched.id), batched, expected)
    },
  )

  check(
    'upsert',
    "updatedAt is an ISO 8601 date and time with its offset, as a card's createdAt, in every read, every write of a row moves it on, and a refused write leaves it",
    async (t) => {
      // updatedAt is when the store last wrote the row: an update, a batch, a default switch and
      // a displaced default each write it. Each step waits a little, so that a later time shows.
      // The contract says ISO 8601, which the Card schema reads for createdAt as a date and time
      // with its offset: a date alone, a number, or a time without its offset (whose instant
      // depends on the reader's time zone) is not one, whichever read gives it.
      const scope = t.scope()
      const card = t.card(scope)
      const times: [string, number][] = []
      const step = async (name: string, write: () => Promise<unknown>) => {
        await new Promise((resolve) => setTimeout(resolve, 15))
        const written = await write()
        const stored = await t.store.get(scope, card.id)
        const reads: [string, StoredCard | null | undefined][] = [
          ['get', stored],
          ['getDefault', await t.store.getDefault(scope)],
          ...(await t.store.listByOwner(scope)).map((row): [string, StoredCard] => [
            'listByOwner',
            row,
          ]),
          ...((await t.store.listByOwners?.([scope])) ?? [])
            .flat()
            .map((row): [string, StoredCard] => ['listByOwners', row]),
        ]
        if (typeof written === 'object' && written !== null && 'card' in written) {
          reads.push(["the upsert's answer", (written as UpsertResult).card])
        }
        for (const [read, row] of reads) {
          if (!row) continue
          expect(
            UPDATED_AT.safeParse(row.updatedAt).success,
            `the updatedAt ${JSON.stringify(row.updatedAt)} that ${read} gave after ${name} is an ISO 8601 date and time with its offset ('2026-12-06T05:55:57.123Z')`,
          ).toBe(true)
        }
        times.push([name, Date.parse(stored!.updatedAt)])
      }
      await step('upsert (insert)', () => t.store.upsert(card, { observedAt: T2 }))
      await step('upsert (update)', () => t.store.upsert({ ...card, holderName: 'Jenny Rosen' }))
      await step('upsertMany', () => t.store.upsertMany([{ ...card, holderName: 'batched' }]))
      await step('setDefault', () => t.store.setDefault(scope, card.id))
      await step('a new default displacing it', () =>
        t.store.upsert(t.card(scope, { isDefault: true })),
      )
      const last = times.at(-1)![1]
      await step('a refused write', () => t.store.upsert(card, { observedAt: T1 }))
      for (const [index, [name, time]] of times.entries()) {
        if (index === 0 || index === times.length - 1) continue
        expect(time, `updatedAt after ${name}`).toBeGreaterThan(times[index - 1]![1])
      }
      expect(times.at(-1)![1], 'updatedAt after a refused write').toBe(last)
    },
  )

  check(
    'get',
    'reads return copies: changing any part of a card that get, getDefault, listByOwner or listByOwners gave changes nothing stored',
    async (t) => {
      // A store that hands out what it keeps (its rows, or a cache of them) is changed by its
      // caller: every read is checked, each part of the card changed, and every read read again.
      const scope = t.scope()
      const chosen = t.card(scope, { isDefault: true })
      await t.store.upsertMany([chosen, t.card(scope)])
      const reads: Record<string, () => Promise<(StoredCard | null)[]>> = {
        get: async () => [await t.store.get(scope, chosen.id)],
        getDefault: async () => [await t.store.getDefault(scope)],
        listByOwner: () => t.store.listByOwner(scope),
      }
      const listByOwners = t.store.listByOwners?.bind(t.store)
      if (listByOwners) reads.listByOwners = async () => (await listByOwners([scope])).flat()
      const readAll = async () => {
        const all: Record<string, unknown> = {}
        for (const [name, read] of Object.entries(reads)) all[name] = structuredClone(await read())
        return all
      }
      const before = await readAll()
      expect(before.get, 'the card read').toEqual([expect.objectContaining({ id: chosen.id })])
      for (const [name, read] of Object.entries(reads)) {
        for (const card of await read()) if (card) changeEveryPart(card)
        expect(await readAll(), `after changing the cards ${name} gave`).toEqual(before)
      }
    },
  )

  // --- reads scoped by owner ------------------------------------------------------------------  // --- reads scoped by owner ------------------------------------------------------------------
  check('get', 'gives null for a card the owner does not hold, whoever holds it', async (t) => {
    const scope = t.scope()
    // The default of its owner, so that a getDefault that ignores the owner gives it.
    const card = t.card(scope, { isDefault: true })
    await t.store.upsert(card)
    const others: CardScope[] = [
      t.scope(), // another customer
      t.scope('account'), // an account
      { provider: scope.provider, owner: { type: 'account', id: scope.owner.id } }, // same id, other type
      { provider: `${scope.provider}-other`, owner: scope.owner }, // same owner, other provider
    ]
    for (const other of others) {
      expect(await t.store.get(other, card.id), `get through ${label(other)}`).toBeNull()
      expect(await t.store.listByOwner(other), `listByOwner of ${label(other)}`).toEqual([])
      expect(await t.store.getDefault(other), `getDefault of ${label(other)}`).toBeNull()
    }
    expect(await t.store.get(scope, 'card_cardportConformanceMissing')).toBeNull()
  })

  check('get', 'keeps one card id apart under two owners', async (t) => {
    const alice = t.scope()
    const bob = t.scope()
    const id = t.cardId()
    await t.store.upsert(t.card(alice, { id, last4: '1111' }))
    await t.store.upsert(t.card(bob, { id, last4: '2222' }))
    expect((await t.store.get(alice, id))?.last4).toBe('1111')
    expect((await t.store.get(bob, id))?.last4).toBe('2222')
    expect(await t.store.delete(alice, id)).toBe(true)
    expect((await t.store.get(bob, id))?.last4).toBe('2222')
  })

  check(
    'get',
    'keeps apart owner ids, and card ids, that differ only in case, and keeps their case',
    async (t) => {
      // Providers' ids are case-sensitive (`cus_NffrFeUfNV2Hib`). A store comparing text without
      // case (MySQL's default collation, a citext column, keys lowercased) makes one owner of
      // `cus_Abc` and `cus_abc`, and one card of two ids of one owner.
      const unique = randomUUID().replaceAll('-', '')
      await expectIdsKeptApart(
        t,
        [`cus_Case${unique}`, `cus_case${unique}`],
        [`card_Case${unique}`, `card_case${unique}`],
      )
    },
  )

  check(
    'get',
    'keeps apart owner ids, and card ids, that differ only by trailing spaces, and keeps their spaces',
    async (t) => {
      // The core takes ids with spaces at either end (`OwnerSchema`, `CardSchema`). A store
      // comparing text with its trailing spaces ignored (MySQL's PAD SPACE collations) makes one
      // owner of `cus_x` and `cus_x `, and one card of two ids of one owner; a CHAR column, or
      // keys trimmed on the way in, reads `cus_x ` back as `cus_x`.
      const unique = randomUUID().replaceAll('-', '')
      await expectIdsKeptApart(
        t,
        [`cus_${unique}`, `cus_${unique} `],
        [`card_${unique}`, `card_${unique} `],
      )
    },
  )

  check(
    'listByOwner',
    "lists the owner's cards, most recently added first, and no one else's",
    async (t) => {
      const scope = t.scope()
      const other = t.scope()
      // Neither their creation times (null for every Stripe card) nor their ids follow the
      // order the store saw them in: a store sorting by either lists them otherwise.
      const [oldest, middle, newest] = [
        t.card(scope, { id: t.cardId('b'), createdAt: '2024-03-01T00:00:00.000Z' }),
        t.card(scope, { id: t.cardId('c'), createdAt: null }),
        t.card(scope, { id: t.cardId('a'), createdAt: '2024-01-01T00:00:00.000Z' }),
      ]
      for (const card of [oldest, middle, newest]) await t.store.upsert(card)
      await t.store.upsert(t.card(other))
      // Updating a card does not move it: the order is the order cards were added in.
      const updated = { ...oldest, holderName: 'Jenny Rosen' }
      await t.store.upsert(updated)
      const listed = await t.store.listByOwner(scope)
      expect(listed.map((card) => card.id)).toEqual([newest.id, middle.id, oldest.id])
      t.expectStored(listed[0], newest, { version: 1, observedAt: null })
      t.expectStored(listed[2], updated, { version: 2, observedAt: null })
    },
  )

  check('listByOwner', 'is empty for an owner without cards', async (t) => {
    expect(await t.store.listByOwner(t.scope())).toEqual([])
  })

  check(
    'listByOwner',
    'lists all of the 1,201 cards of one owner, and listByOwners (optional) 1,201 owners in one call',
    async (t) => {
      // A store that reads in pages (a key-value store's query limit, a chunk of owners a
      // statement) and repeats or skips what falls on a page's edge shows here.
      const scope = t.scope('account')
      const cards = Array.from({ length: 1_201 }, () => t.card(scope))
      await t.store.upsertMany(cards)
      const newestFirst = cards.map((card) => card.id).reverse()
      const ids = (listed: readonly StoredCard[]) => listed.map((card) => card.id)
      expect(ids(await t.store.listByOwner(scope)), 'listByOwner').toEqual(newestFirst)
      const listByOwners = t.store.listByOwners?.bind(t.store)
      if (!listByOwners) return
      const lists = await listByOwners([scope, t.scope(), scope])
      expect(lists.map(ids), 'listByOwners of one owner').toEqual([newestFirst, [], newestFirst])
      const owners = await writeManyOwners(t)
      const scopes = owners.map(scopeOf)
      const listed = await listByOwners(scopes)
      expect(listed.map(ids), 'listByOwners of 1,201 owners').toEqual(
        owners.map((card) => [card.id]),
      )
    },
  )

  check(
    'listByOwner',
    'listByOwners (optional) lists each owner as listByOwner does, in the order asked',
    async (t) => {
      const listByOwners = t.store.listByOwners?.bind(t.store)
      if (!listByOwners) return t.skip('the store has no listByOwners (optional)')
      const alice = t.scope()
      const bob = t.scope('account')
      const empty = t.scope()
      for (const scope of [alice, bob, alice]) await t.store.upsert(t.card(scope))
      await t.store.upsert(t.card(bob, { isDefault: true }))
      const scopes: CardScope[] = [
        bob,
        empty,
        alice,
        { provider: alice.provider, owner: { type: 'account', id: alice.owner.id } },
        { provider: `${alice.provider}-other`, owner: alice.owner },
        bob, // an owner asked for twice is listed twice
      ]
      const expected = await Promise.all(scopes.map((scope) => t.store.listByOwner(scope)))
      expect(expected.map((cards) => cards.length)).toEqual([2, 0, 2, 0, 0, 2])
      expect(await listByOwners(scopes)).toEqual(expected)
      expect(await listByOwners([])).toEqual([])
    },
  )

  // --- defaults -------------------------------------------------------------------------------
  check('defaults', 'getDefault gives the default card, or null when there is none', async (t) => {
    const scope = t.scope()
    const plain = t.card(scope)
    await t.store.upsert(plain)
    expect(await t.store.getDefault(scope)).toBeNull()
    const chosen = t.card(scope, { isDefault: true })
    await t.store.upsert(chosen)
    t.expectStored(await t.store.getDefault(scope), chosen, { version: 1, observedAt: null })
  })

  check(
    'defaults',
    "getDefault gives an account's default that the store first saw, whatever its currency",
    async (t) => {
      const scope = t.scope('account')
      const usd = t.card(scope, { currency: 'usd', isDefault: true })
      const eur = t.card(scope, { currency: 'eur', isDefault: true })
      await t.store.upsert(usd)
      await t.store.upsert(eur)
      // Neither the newest default nor the first by currency (eur).
      expect((await t.store.getDefault(scope))?.id, 'two defaults, usd first').toBe(usd.id)
      // An update keeps a card's place.
      await t.store.upsert({ ...usd, holderName: 'Jenny Rosen' })
      expect((await t.store.getDefault(scope))?.id, 'after an update of usd').toBe(usd.id)
      // A usd default added after eur: eur is now the default the store first saw.
      const usd2 = t.card(scope, { currency: 'usd', isDefault: true })
      await t.store.upsert(usd2)
      t.expectStored(await t.store.getDefault(scope), eur, { version: 1, observedAt: null })
    },
  )

  check('defaults', 'upserting a default card clears the previous default', async (t) => {
    const scope = t.scope()
    const first = t.card(scope, { isDefault: true })
    const second = t.card(scope, { isDefault: true })
    await t.store.upsert(first)
    await t.store.upsert(second)
    expect(await t.defaultIds(scope)).toEqual([second.id])
    // Clearing the old default is a write of its row.
    expect(await t.store.get(scope, first.id)).toMatchObject({ isDefault: false, version: 2 })
    expect((await t.store.getDefault(scope))?.id).toBe(second.id)
  })

  check(
    'defaults',
    'a stored card written again as the default clears the previous default',
    async (t) => {
      // The card is not new: a store that clears the old default only when it inserts a card
      // leaves two defaults.
      const scope = t.scope()
      const [first, second, third] = [
        t.card(scope, { isDefault: true }),
        t.card(scope),
        t.card(scope),
      ]
      await t.store.upsertMany([first, second, third])
      await t.store.upsert({ ...second, isDefault: true })
      expect(await t.defaultIds(scope), 'after upsert').toEqual([second.id])
      expect(await t.store.get(scope, first.id)).toMatchObject({ isDefault: false, version: 2 })
      await t.store.upsertMany([{ ...third, isDefault: true }])
      expect(await t.defaultIds(scope), 'after upsertMany').toEqual([third.id])
      expect(await t.store.get(scope, second.id)).toMatchObject({ isDefault: false, version: 3 })
    },
  )

  check(
    'defaults',
    "one owner's default does not clear another owner's, whoever it is",
    async (t) => {
      const alice = t.scope()
      const others = t.othersOf(alice)
      const alicesCard = t.card(alice, { isDefault: true })
      await t.store.upsert(alicesCard)
      // Each of them holds a default of Alice's currency, under the id of Alice's next card.
      const next = t.card(alice, { isDefault: true })
      await t.giveEach(others, { id: next.id, currency: null, isDefault: true })
      const before = await t.snapshot(others)
      await t.store.upsert(next)
      expect(await t.defaultIds(alice)).toEqual([next.id])
      expect(await t.snapshot(others), 'the cards of the other owners').toEqual(before)
    },
  )

  check('defaults', 'account cards keep one default per currency', async (t) => {
    const scope = t.scope('account')
    const usd = t.card(scope, { currency: 'usd', isDefault: true })
    const eur = t.card(scope, { currency: 'eur', isDefault: true })
    await t.store.upsert(usd)
    await t.store.upsert(eur)
    expect(await t.defaultIds(scope)).toEqual([eur.id, usd.id].sort())
    const usd2 = t.card(scope, { currency: 'usd', isDefault: true })
    await t.store.upsert(usd2)
    expect(await t.defaultIds(scope)).toEqual([eur.id, usd2.id].sort())
  })

  // A batch's own statement clearing the old defaults once left the currency out: an account's
  // EUR default was cleared by a new USD default written by `upsertMany` (as reconcile writes).
  check('defaults', 'account cards keep one default per currency, in a batch too', async (t) => {
    const scope = t.scope('account')
    const usd = t.card(scope, { currency: 'usd', isDefault: true })
    const eur = t.card(scope, { currency: 'eur', isDefault: true })
    await t.store.upsertMany([usd, eur])
    expect(await t.defaultIds(scope)).toEqual([eur.id, usd.id].sort())
    const usd2 = t.card(scope, { currency: 'usd', isDefault: true })
    await t.store.upsertMany([usd2])
    expect(await t.defaultIds(scope)).toEqual([eur.id, usd2.id].sort())
    const eur2 = t.card(scope, { currency: 'eur', isDefault: true })
    const plain = t.card(scope, { currency: 'usd' })
    await t.store.upsertMany([plain, eur2])
    expect(await t.defaultIds(scope)).toEqual([eur2.id, usd2.id].sort())
  })

  check(
    'defaults',
    "a stored account card written as the default in another currency clears that currency's default, not its old one's, through upsert and upsertMany",
    async (t) => {
      // The currency whose default a write displaces is the card's as written: a store that
      // reads it from the stored row clears the default of the card's old currency and leaves
      // two in its new one. Stripe moves no card between currencies, but the store is a copy:
      // a card written from a wrong or older payload is corrected by the next write.
      const writes: [string, (card: Card) => Promise<unknown>][] = [
        ['upsert', (card) => t.store.upsert(card)],
        ['upsertMany', (card) => t.store.upsertMany([card])],
      ]
      for (const [name, write] of writes) {
        const scope = t.scope('account')
        const usd = t.card(scope, { currency: 'usd', isDefault: true })
        const eur = t.card(scope, { currency: 'eur', isDefault: true })
        const plain = t.card(scope, { currency: 'eur' })
        await t.store.upsertMany([usd, eur, plain])
        const defaults = async () =>
          (await t.store.listByOwner(scope))
            .filter((card) => card.isDefault)
            .map((card) => `${card.currency} ${card.id}`)
            .sort()
        // The eur default, written as a usd default: usd's default is cleared, eur has none.
        await write({ ...eur, currency: 'usd', isDefault: true })
        expect(await defaults(), `${name} of the eur default in usd`).toEqual([`usd ${eur.id}`])
        // A plain eur card, written as a usd default, displaces it in turn, and leaves the
        // new eur default.
        const eur2 = t.card(scope, { currency: 'eur', isDefault: true })
        await t.store.upsert(eur2)
        await write({ ...plain, currency: 'usd', isDefault: true })
        expect(await defaults(), `${name} of a plain eur card in usd`).toEqual(
          [`eur ${eur2.id}`, `usd ${plain.id}`].sort(),
        )
      }
    },
  )

  check('defaults', 'concurrent default writes leave exactly one default', async (t) => {
    const scope = t.scope()
    const cards = Array.from({ length: 20 }, () => t.card(scope, { isDefault: true }))
    await Promise.all(cards.map((card) => t.store.upsert(card)))
    const defaults = await t.defaultIds(scope)
    expect(defaults, 'the defaults after 20 concurrent default upserts').toHaveLength(1)
    expect((await t.store.getDefault(scope))?.id).toBe(defaults[0])
  })

  // --- setDefault -----------------------------------------------------------------------------
  check(
    'setDefault',
    "makes a card the owner's only default, and changes no other owner's cards, whoever it is",
    async (t) => {
      const scope = t.scope()
      const first = t.card(scope, { isDefault: true })
      const second = t.card(scope)
      await t.store.upsertMany([first, second])
      // The others hold both ids, the first their default, in the owner's currency.
      const others = t.othersOf(scope)
      for (const other of others) {
        await t.store.upsertMany([
          t.card(other, { id: first.id, currency: null, isDefault: true }),
          t.card(other, { id: second.id, currency: null }),
        ])
      }
      const before = await t.snapshot(others)
      await t.store.setDefault(scope, second.id)
      expect(await t.defaultIds(scope)).toEqual([second.id])
      expect(await t.store.get(scope, second.id)).toMatchObject({ isDefault: true, version: 2 })
      expect(await t.store.get(scope, first.id)).toMatchObject({ isDefault: false, version: 2 })
      expect(await t.snapshot(others), 'the cards of the other owners').toEqual(before)
    },
  )

  check('setDefault', "null clears the owner's defaults, and only that owner's", async (t) => {
    const scope = t.scope('account')
    const cards = [
      t.card(scope, { currency: 'usd', isDefault: true }),
      t.card(scope, { currency: 'eur', isDefault: true }),
    ]
    await t.store.upsertMany(cards)
    const others = t.othersOf(scope)
    for (const other of others) {
      await t.store.upsertMany([
        t.card(other, { id: cards[0]!.id, isDefault: true }),
        t.card(other, { id: cards[1]!.id }),
      ])
    }
    const before = await t.snapshot(others)
    await t.store.setDefault(scope, null)
    expect(await t.defaultIds(scope)).toEqual([])
    expect(await t.store.getDefault(scope)).toBeNull()
    expect(await t.store.listByOwner(scope)).toHaveLength(2)
    expect(await t.snapshot(others), 'the cards of the other owners').toEqual(before)
  })

  check('setDefault', 'a card the owner does not hold changes nothing', async (t) => {
    const scope = t.scope()
    const own = t.card(scope, { isDefault: true })
    await t.store.upsert(own)
    // Others hold a card the owner does not, beside a default of their own.
    const others = t.othersOf(scope)
    const theirs = t.cardId()
    for (const other of others) {
      await t.store.upsertMany([
        t.card(other, { currency: null, isDefault: true }),
        t.card(other, { id: theirs, currency: null }),
      ])
    }
    const before = await t.snapshot([scope, ...others])
    await t.store.setDefault(scope, theirs)
    await t.store.setDefault(scope, 'card_cardportConformanceMissing')
    expect(await t.snapshot([scope, ...others])).toEqual(before)
    expect(await t.defaultIds(scope)).toEqual([own.id])
  })

  check(
    'setDefault',
    'for an account card, only the default of its currency changes',
    async (t) => {
      const scope = t.scope('account')
      const usd = t.card(scope, { currency: 'usd', isDefault: true })
      const usd2 = t.card(scope, { currency: 'usd' })
      const eur = t.card(scope, { currency: 'eur', isDefault: true })
      await t.store.upsertMany([usd, usd2, eur])
      await t.store.setDefault(scope, usd2.id)
      expect(await t.defaultIds(scope)).toEqual([eur.id, usd2.id].sort())
    },
  )

  check(
    'setDefault',
    'moves no card: listByOwner keeps the order the store first saw the cards in',
    async (t) => {
      // A default switch is an update of two rows: a store that writes them as new rows (delete
      // and insert) moves them to the top of the list, and changes which default getDefault
      // gives an account.
      const scope = t.scope('account')
      // Ids sorted b, a, c: the order the store first saw them is neither theirs nor its
      // reverse, so a store listing by card id fails too, whatever the random part of the ids.
      const [usd, eur, usd2] = [
        t.card(scope, { id: t.cardId('b'), currency: 'usd', isDefault: true }),
        t.card(scope, { id: t.cardId('a'), currency: 'eur', isDefault: true }),
        t.card(scope, { id: t.cardId('c'), currency: 'usd' }),
      ]
      for (const card of [usd, eur, usd2]) await t.store.upsert(card)
      const order = [usd2.id, eur.id, usd.id]
      const listed = async () => (await t.store.listByOwner(scope)).map((card) => card.id)
      await t.store.setDefault(scope, usd2.id)
      expect(await listed(), 'after setDefault of a card').toEqual(order)
      expect((await t.store.getDefault(scope))?.id, 'getDefault: eur, first seen').toBe(eur.id)
      await t.store.setDefault(scope, usd.id, { observedAt: T1 })
      expect(await listed(), 'after setDefault with observedAt').toEqual(order)
      expect((await t.store.getDefault(scope))?.id, 'getDefault: usd again').toBe(usd.id)
      await t.store.setDefault(scope, null)
      expect(await listed(), 'after setDefault(null)').toEqual(order)
    },
  )

  check('setDefault', '50 concurrent calls on one owner leave exactly one default', async (t) => {
    const scope = t.scope()
    const cards = Array.from({ length: 5 }, () => t.card(scope))
    await t.store.upsertMany(cards)
    await Promise.all(
      Array.from({ length: 50 }, (_, index) =>
        t.store.setDefault(scope, cards[index % cards.length]!.id),
      ),
    )
    const defaults = await t.defaultIds(scope)
    expect(defaults, 'the defaults after 50 concurrent setDefault calls').toHaveLength(1)
    expect(cards.map((card) => card.id)).toContain(defaults[0])
    expect((await t.store.getDefault(scope))?.id).toBe(defaults[0])
  })

  // --- mixed default writes at once -----------------------------------------------------------
  // The concurrent checks above race one kind of write; this one races every kind of default
  // write on one owner, where a store that switches a default in more than one step (read the
  // rows, then write them) loses a write, brings back a deleted card or leaves two defaults.
  check(
    'defaults',
    `pairs of a default switch and a write or deletion of a card it reads (started at once, once the first call's microtasks have run, or a setImmediate or setTimeout turn later, in both orders), then ${RACE_ROUNDS} races of mixed default writes (upsert and upsertMany of a default, setDefault of a card and of null, delete of the default, with and without observedAt), on one customer and, at the same time, on one account with two currencies, each leave what the calls run one at a time would: at most one default (per currency), the one getDefault gives, and every card once, holding its last write, at a version that counts its writes`,
    async (t) => {
      // The two owners' races run side by side: their writes do not wait for each other (nor
      // may they mix), so the check takes about the time of one. The pairs first: they find a
      // late write every time, and name the two calls that met.
      for (const races of [racePairs, raceMixedDefaults]) {
        const outcomes = await Promise.allSettled([races(t, 'customer'), races(t, 'account')])
        for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason
      }
    },
  )

  // --- observedAt -----------------------------------------------------------------------------
  check(
    'observedAt',
    'a write older than the stored one is refused and changes nothing',
    async (t) => {
      const scope = t.scope()
      const card = t.card(scope, { holderName: 'newer' })
      await t.store.upsert(card, { observedAt: T2 })
      const stale = await t.store.upsert({ ...card, holderName: 'older' }, { observedAt: T1 })
      expect(stale.applied, 'applied, for a write older than the stored one').toBe(false)
      t.expectStored(stale.card, card, { version: 1, observedAt: T2 })
      t.expectStored(await t.store.get(scope, card.id), card, { version: 1, observedAt: T2 })
    },
  )

  check('observedAt', 'a write as recent as the stored one, or newer, is applied', async (t) => {
    const scope = t.scope()
    const card = t.card(scope)
    await t.store.upsert(card, { observedAt: T2 })
    const same = { ...card, holderName: 'same time' }
    const tie = await t.store.upsert(same, { observedAt: T2 })
    expect(tie.applied).toBe(true)
    t.expectStored(tie.card, same, { version: 2, observedAt: T2 })
    const newer = { ...card, holderName: 'later' }
    const later = await t.store.upsert(newer, { observedAt: T3 })
    expect(later.applied).toBe(true)
    t.expectStored(await t.store.get(scope, card.id), newer, { version: 3, observedAt: T3 })
  })

  check(
    'observedAt',
    'a write without observedAt is applied and keeps the last observedAt',
    async (t) => {
      const scope = t.scope()
      const card = t.card(scope)
      await t.store.upsert(card, { observedAt: T2 })
      const direct = { ...card, holderName: 'direct' }
      const result = await t.store.upsert(direct)
      expect(result.applied).toBe(true)
      t.expectStored(result.card, direct, { version: 2, observedAt: T2 })
      const stale = await t.store.upsert({ ...card, holderName: 'stale' }, { observedAt: T1 })
      expect(stale.applied, 'a write older than the kept observedAt').toBe(false)
    },
  )

  check(
    'observedAt',
    'an observedAt that is not a whole number of ms (NaN, 1.5, past 2^53) is refused with invalid_request, also by upsertMany of no cards, and writes nothing',
    async (t) => {
      const scope = t.scope('account')
      const stored = t.card(scope, { isDefault: true })
      const other = t.card(scope)
      await t.store.upsertMany([stored, other], { observedAt: T2 })
      const newcomer = t.scope()
      const unseen = t.card(scope)
      const before = await t.snapshot([scope, newcomer])
      const refused: string[] = []
      for (const observedAt of [Number.NaN, T2 + 0.5, 2 ** 53, Number.POSITIVE_INFINITY]) {
        const options = { observedAt }
        const writes: [string, () => Promise<unknown>][] = [
          ['upsert', () => t.store.upsert({ ...stored, holderName: 'refused' }, options)],
          ['upsert (a new owner)', () => t.store.upsert(t.card(newcomer), options)],
          ['upsertMany', () => t.store.upsertMany([t.card(scope), t.card(newcomer)], options)],
          // Nothing to write is no reason to accept what the caller got wrong.
          ['upsertMany (no cards)', () => t.store.upsertMany([], options)],
          ['delete', () => t.store.delete(scope, stored.id, options)],
          ['delete (a card never seen)', () => t.store.delete(scope, unseen.id, options)],
          ['setDefault', () => t.store.setDefault(scope, other.id, options)],
          ['setDefault (null)', () => t.store.setDefault(scope, null, options)],
        ]
        for (const [name, write] of writes) {
          const outcome = await refusalOf(write)
          if (!isCardportError(outcome, 'invalid_request') || outcome.retryable) {
            refused.push(`${name} with ${observedAt}: ${describeOutcome(outcome)}`)
          }
        }
      }
      expect(refused, 'writes with such an observedAt not refused with invalid_request').toEqual([])
      expect(await t.snapshot([scope, newcomer]), 'the cards after the refused writes').toEqual(
        before,
      )
      // Nor a tombstone: the card whose deletion was refused can be written, observed at T1.
      expect(
        (await t.store.upsert(unseen, { observedAt: T1 })).applied,
        'after the deletions',
      ).toBe(true)
    },
  )

  // --- observedAt of defaults -------------------------------------------------------------
  check(
    'observedAt',
    'a default write older than its own card is refused, and leaves the current default',
    async (t) => {
      // The write is refused for its card's sake (a newer row, or a newer deletion): a store that
      // clears the owner's default before it compares the ages leaves the owner without one.
      const scope = t.scope()
      const current = t.card(scope, { isDefault: true })
      const [newer, deleted] = [t.card(scope), t.card(scope)]
      await t.store.upsert(current, { observedAt: T1 })
      await t.store.upsert(newer, { observedAt: T3 })
      await t.store.upsert(deleted, { observedAt: T1 })
      expect(await t.store.delete(scope, deleted.id, { observedAt: T3 })).toBe(true)
      const before = await t.snapshot([scope])
      for (const card of [newer, deleted]) {
        const result = await t.store.upsert({ ...card, isDefault: true }, { observedAt: T2 })
        expect(result.applied, 'an older default write').toBe(false)
        await t.store.upsertMany([{ ...card, isDefault: true }], { observedAt: T2 })
      }
      expect(await t.snapshot([scope]), 'the cards after older default writes').toEqual(before)
      expect((await t.store.getDefault(scope))?.id).toBe(current.id)
    },
  )

  check(
    'observedAt',
    "setDefault(card) without observedAt changes no row's observedAt",
    async (t) => {
      // Without an observedAt the store knows nothing of when the provider was read: a store that
      // stamps the rows with its clock refuses the webhooks of the next moments.
      const scope = t.scope()
      const current = t.card(scope, { isDefault: true })
      const next = t.card(scope)
      await t.store.upsert(current, { observedAt: T2 })
      await t.store.upsert(next, { observedAt: T1 })
      await t.store.setDefault(scope, next.id)
      const written = { version: 2 }
      t.expectStored(
        await t.store.get(scope, next.id),
        { ...next, isDefault: true },
        { ...written, observedAt: T1 },
      )
      t.expectStored(
        await t.store.get(scope, current.id),
        { ...current, isDefault: false },
        { ...written, observedAt: T2 },
      )
      expect((await t.store.upsert(next, { observedAt: T2 })).applied, 'a later write').toBe(true)
    },
  )

  check(
    'observedAt',
    'a default card older than the stored default is written as not the default',
    async (t) => {
      const scope = t.scope()
      const newer = t.card(scope, { isDefault: true })
      await t.store.upsert(newer, { observedAt: T3 })
      const late = t.card(scope, { isDefault: true })
      const result = await t.store.upsert(late, { observedAt: T2 })
      expect(result.applied, 'the card is written, its other fields being news').toBe(true)
      const asStored = { ...late, isDefault: false }
      t.expectStored(result.card, asStored, { version: 1, observedAt: T2 })
      t.expectStored(await t.store.get(scope, newer.id), newer, { version: 1, observedAt: T3 })
      // In a batch too, next to a default of another owner that has none stored.
      const other = t.scope('account')
      const theirs = t.card(other, { isDefault: true })
      const lateToo = t.card(scope, { isDefault: true })
      await t.store.upsertMany([lateToo, theirs], { observedAt: T1 })
      expect(await t.defaultIds(scope)).toEqual([newer.id])
      expect(await t.defaultIds(other)).toEqual([theirs.id])
      // As recent as the default, or newer: it displaces it.
      const tie = t.card(scope, { isDefault: true })
      await t.store.upsertMany([tie], { observedAt: T3 })
      expect(await t.defaultIds(scope)).toEqual([tie.id])
      // Without observedAt nothing is compared: the write is the caller's word.
      const direct = t.card(scope, { isDefault: true })
      await t.store.upsert(direct)
      expect(await t.defaultIds(scope)).toEqual([direct.id])
    },
  )

  check(
    'observedAt',
    'a default written by upsert or upsertMany with observedAt leaves the default it displaces at its own observedAt: a write of that card observed in between is applied',
    async (t) => {
      // The displacing write observed its own card, not the displaced one, which was last read
      // at its own time: a store that stamps the displacing write's observedAt on it refuses the
      // webhook of that card observed in between. (setDefault is another matter: it observed
      // both cards, and both rows take its observedAt.)
      const writes: Array<[string, (card: Card) => Promise<unknown>]> = [
        ['upsert', (card) => t.store.upsert(card, { observedAt: T3 })],
        ['upsertMany', (card) => t.store.upsertMany([card], { observedAt: T3 })],
      ]
      for (const [name, displace] of writes) {
        const scope = t.scope()
        const displaced = t.card(scope, { isDefault: true })
        await t.store.upsert(displaced, { observedAt: T1 })
        await displace(t.card(scope, { isDefault: true }))
        t.expectStored(
          await t.store.get(scope, displaced.id),
          { ...displaced, isDefault: false },
          { version: 2, observedAt: T1 },
        )
        const changed = { ...displaced, isDefault: false, holderName: `Changed after ${name}` }
        const result = await t.store.upsert(changed, { observedAt: T2 })
        expect(result.applied, `a write observed before the ${name} that displaced it`).toBe(true)
        t.expectStored(result.card, changed, { version: 3, observedAt: T2 })
      }
    },
  )

  check(
    'observedAt',
    'setDefault(null) with observedAt clears only the defaults observed no later',
    async (t) => {
      const scope = t.scope('account')
      const usd = t.card(scope, { currency: 'usd', isDefault: true })
      const eur = t.card(scope, { currency: 'eur', isDefault: true })
      const gbp = t.card(scope, { currency: 'gbp', isDefault: true })
      // Observed at the call's time: no later, so cleared (Stripe's event times are whole
      // seconds, and two events in one second are ordinary).
      const chf = t.card(scope, { currency: 'chf', isDefault: true })
      await t.store.upsert(usd, { observedAt: T3 })
      await t.store.upsert(eur, { observedAt: T1 })
      await t.store.upsert(gbp)
      await t.store.upsert(chf, { observedAt: T2 })
      await t.store.setDefault(scope, null, { observedAt: T2 })
      expect(await t.defaultIds(scope), 'the default observed after the call').toEqual([usd.id])
      t.expectStored(await t.store.get(scope, usd.id), usd, { version: 1, observedAt: T3 })
      // A cleared row was observed as not the default then: an older write cannot undo it.
      const cleared = { version: 2, observedAt: T2 }
      t.expectStored(await t.store.get(scope, eur.id), { ...eur, isDefault: false }, cleared)
      t.expectStored(await t.store.get(scope, gbp.id), { ...gbp, isDefault: false }, cleared)
      t.expectStored(await t.store.get(scope, chf.id), { ...chf, isDefault: false }, cleared)
      expect((await t.store.upsert(eur, { observedAt: T1 })).applied).toBe(false)
      // Without observedAt every default goes, and no row's observedAt changes.
      await t.store.setDefault(scope, null)
      expect(await t.defaultIds(scope)).toEqual([])
      t.expectStored(
        await t.store.get(scope, usd.id),
        { ...usd, isDefault: false },
        {
          version: 2,
          observedAt: T3,
        },
      )
    },
  )

  check(
    'observedAt',
    'setDefault(card) with observedAt changes nothing when the card or the default it would clear was observed later',
    async (t) => {
      const scope = t.scope()
      const current = t.card(scope, { isDefault: true })
      const next = t.card(scope)
      const later = t.card(scope)
      await t.store.upsert(current, { observedAt: T3 })
      await t.store.upsert(next, { observedAt: T1 })
      await t.store.upsert(later, { observedAt: T4 })
      const before = await t.snapshot([scope])
      await t.store.setDefault(scope, next.id, { observedAt: T2 })
      await t.store.setDefault(scope, later.id, { observedAt: T3 })
      expect(await t.snapshot([scope]), 'the cards after two older setDefault calls').toEqual(
        before,
      )
      // Newer than both: applied, and both rows take its observedAt.
      await t.store.setDefault(scope, next.id, { observedAt: T4 })
      expect(await t.defaultIds(scope)).toEqual([next.id])
      const written = { version: 2, observedAt: T4 }
      t.expectStored(await t.store.get(scope, next.id), { ...next, isDefault: true }, written)
      t.expectStored(
        await t.store.get(scope, current.id),
        { ...current, isDefault: false },
        written,
      )
    },
  )

  check(
    'observedAt',
    'setDefault(card) with observedAt as recent as the card, or as the default it would clear, applies',
    async (t) => {
      // Neither was observed later: a card added and made the default in one second (Stripe's
      // event times are whole seconds) is an ordinary tie, and the switch must land.
      const scope = t.scope()
      const current = t.card(scope, { isDefault: true })
      const next = t.card(scope)
      const third = t.card(scope)
      await t.store.upsert(current, { observedAt: T1 })
      await t.store.upsert(next, { observedAt: T2 })
      await t.store.upsert(third, { observedAt: T1 })
      await t.store.setDefault(scope, next.id, { observedAt: T2 })
      expect(await t.defaultIds(scope), 'as recent as the card').toEqual([next.id])
      const written = { version: 2, observedAt: T2 }
      t.expectStored(await t.store.get(scope, next.id), { ...next, isDefault: true }, written)
      // `next`, the default now, was observed at T2 too.
      await t.store.setDefault(scope, third.id, { observedAt: T2 })
      expect(await t.defaultIds(scope), 'as recent as the default it clears').toEqual([third.id])
      t.expectStored(await t.store.get(scope, third.id), { ...third, isDefault: true }, written)
      t.expectStored(
        await t.store.get(scope, next.id),
        { ...next, isDefault: false },
        { version: 3, observedAt: T2 },
      )
    },
  )

  // --- delete ---------------------------------------------------------------------------------
  check('delete', 'removes a card and says whether it did', async (t) => {
    const scope = t.scope()
    const [kept, removed] = [t.card(scope), t.card(scope)]
    await t.store.upsertMany([kept, removed])
    expect(await t.store.delete(scope, removed.id)).toBe(true)
    expect(await t.store.get(scope, removed.id)).toBeNull()
    expect((await t.store.listByOwner(scope)).map((card) => card.id)).toEqual([kept.id])
    expect(await t.store.delete(scope, removed.id), 'deleting it again').toBe(false)
    expect(await t.store.delete(scope, 'card_cardportConformanceMissing')).toBe(false)
  })

  check(
    'delete',
    'deleting a default leaves the owner without one: the store makes no other card the default',
    async (t) => {
      // The store is a copy: the provider picks the next default (Stripe: the newest source), and
      // CardSync writes it. A store that picks one itself may pick another than the provider's.
      const scope = t.scope()
      const [older, chosen, newer] = [
        t.card(scope),
        t.card(scope, { isDefault: true }),
        t.card(scope),
      ]
      await t.store.upsertMany([older, chosen, newer])
      expect(await t.store.delete(scope, chosen.id)).toBe(true)
      expect(await t.defaultIds(scope), "the customer's defaults").toEqual([])
      expect(await t.store.getDefault(scope)).toBeNull()
      for (const card of [older, newer]) {
        t.expectStored(await t.store.get(scope, card.id), card, { version: 1, observedAt: null })
      }
      // An account: its usd default goes, with an observedAt; no usd card takes its place, and
      // the eur default stays.
      const account = t.scope('account')
      const usd = t.card(account, { currency: 'usd', isDefault: true })
      const usd2 = t.card(account, { currency: 'usd' })
      const eur = t.card(account, { currency: 'eur', isDefault: true })
      await t.store.upsertMany([usd2, usd, eur], { observedAt: T1 })
      expect(await t.store.delete(account, usd.id, { observedAt: T2 })).toBe(true)
      expect(await t.defaultIds(account), "the account's defaults").toEqual([eur.id])
      expect(await t.store.get(account, usd2.id), 'the other usd card').toMatchObject({
        isDefault: false,
        version: 1,
      })
    },
  )

  check('delete', "leaves another owner's card of the same id alone, whoever it is", async (t) => {
    const scope = t.scope()
    const others = t.othersOf(scope)
    const card = t.card(scope)
    await t.store.upsert(card)
    for (const other of others) {
      expect(await t.store.delete(other, card.id), `delete through ${label(other)}`).toBe(false)
    }
    t.expectStored(await t.store.get(scope, card.id), card, { version: 1, observedAt: null })
    // Each holds a card of the same id: deleting the owner's deletes none of theirs.
    await t.giveEach(others, { id: card.id })
    const before = await t.snapshot(others)
    expect(await t.store.delete(scope, card.id)).toBe(true)
    expect(await t.snapshot(others), 'the cards of the other owners').toEqual(before)
  })

  check(
    'delete',
    "a deletion's observedAt refuses older writes of that owner's card only",
    async (t) => {
      const scope = t.scope()
      const others = t.othersOf(scope)
      const id = t.cardId()
      for (const owner of [scope, ...others]) {
        await t.store.upsert(t.card(owner, { id }), { observedAt: T1 })
      }
      expect(await t.store.delete(scope, id, { observedAt: T3 })).toBe(true)
      // A deletion of a card the owner never held leaves a tombstone too.
      const unseen = t.cardId()
      expect(await t.store.delete(scope, unseen, { observedAt: T3 })).toBe(false)
      for (const other of others) {
        const written = [
          { card: t.card(other, { id, holderName: 'later' }), version: 2 },
          { card: t.card(other, { id: unseen }), version: 1 },
        ]
        for (const { card, version } of written) {
          const result = await t.store.upsert(card, { observedAt: T2 })
          expect(result.applied, `a write of ${label(other)} older than the deletion`).toBe(true)
          t.expectStored(await t.store.get(other, card.id), card, { version, observedAt: T2 })
        }
      }
    },
  )

  check('delete', 'a deletion with observedAt refuses older writes of the card', async (t) => {
    const scope = t.scope()
    const card = t.card(scope)
    await t.store.upsert(card, { observedAt: T1 })
    expect(await t.store.delete(scope, card.id, { observedAt: T3 })).toBe(true)
    const late = await t.store.upsert(card, { observedAt: T2 })
    expect(late, 'a write older than the deletion').toEqual({ applied: false, card: null })
    expect(await t.store.get(scope, card.id)).toBeNull()
    const recreated = await t.store.upsert(card, { observedAt: T4 })
    expect(recreated.applied, 'a write newer than the deletion').toBe(true)
    expect((await t.store.get(scope, card.id))?.observedAt).toBe(T4)

    // A deletion seen before the card's creation (webhooks out of order) holds too.
    const unseen = t.card(scope)
    expect(await t.store.delete(scope, unseen.id, { observedAt: T3 })).toBe(false)
    expect((await t.store.upsert(unseen, { observedAt: T2 })).applied).toBe(false)
    expect(await t.store.get(scope, unseen.id)).toBeNull()
  })

  check(
    'delete',
    'a write without observedAt after a deletion ends the deletion: a later write older than the deletion is applied',
    async (t) => {
      // The card written back has no observedAt, and the deletion's is gone with its tombstone:
      // a store that keeps the tombstone refuses every write older than a deletion now undone.
      const scope = t.scope()
      const card = t.card(scope)
      await t.store.upsert(card, { observedAt: T1 })
      expect(await t.store.delete(scope, card.id, { observedAt: T3 })).toBe(true)
      expect((await t.store.upsert(card)).applied, 'the write without observedAt').toBe(true)
      const later = { ...card, holderName: 'later' }
      const result = await t.store.upsert(later, { observedAt: T2 })
      expect(result.applied, 'a write older than the undone deletion').toBe(true)
      expect(await t.store.get(scope, card.id)).toMatchObject({
        holderName: 'later',
        observedAt: T2,
      })
    },
  )

  check('delete', 'a deletion older than the stored card is refused', async (t) => {
    const scope = t.scope()
    const card = t.card(scope)
    await t.store.upsert(card, { observedAt: T2 })
    expect(await t.store.delete(scope, card.id, { observedAt: T1 })).toBe(false)
    t.expectStored(await t.store.get(scope, card.id), card, { version: 1, observedAt: T2 })
  })

  check('delete', 'a deletion as recent as the stored card deletes it', async (t) => {
    // Not older, so it applies: a card added and removed in one second (Stripe's event times are
    // whole seconds) is an ordinary tie.
    const scope = t.scope()
    const card = t.card(scope)
    await t.store.upsert(card, { observedAt: T2 })
    expect(await t.store.delete(scope, card.id, { observedAt: T2 })).toBe(true)
    expect(await t.store.get(scope, card.id)).toBeNull()
    expect(await t.store.listByOwner(scope)).toEqual([])
  })

  check(
    'delete',
    "a deletion older than the card's deletion changes nothing: the later one still refuses older writes",
    async (t) => {
      // A store that overwrites a tombstone with whatever deletion comes next lets a write older
      // than the first deletion bring the card back.
      const scope = t.scope()
      const card = t.card(scope)
      await t.store.upsert(card, { observedAt: T1 })
      expect(await t.store.delete(scope, card.id, { observedAt: T4 })).toBe(true)
      expect(await t.store.delete(scope, card.id, { observedAt: T2 }), 'an older deletion').toBe(
        false,
      )
      const unseen = t.card(scope)
      expect(await t.store.delete(scope, unseen.id, { observedAt: T4 })).toBe(false)
      expect(await t.store.delete(scope, unseen.id, { observedAt: T2 })).toBe(false)
      for (const written of [card, unseen]) {
        const result = await t.store.upsert(written, { observedAt: T3 })
        expect(result, 'a write older than the first deletion').toEqual({
          applied: false,
          card: null,
        })
        await t.store.upsertMany([written], { observedAt: T3 })
      }
      expect(await t.store.listByOwner(scope), 'the cards after the older writes').toEqual([])
    },
  )

  check(
    'delete',
    "a deleted card leaves every read, its tombstone too: get, getDefault, listByOwner, listByOwners and, with the owner's last card, listOwners",
    async (t) => {
      // A store that keeps a deletion's tombstone as a row marked deleted must leave it out of
      // every read, not only of get.
      const scope = t.scope()
      const stays = t.scope()
      const [chosen, plain] = [t.card(scope, { isDefault: true }), t.card(scope)]
      await t.store.upsertMany([chosen, plain, t.card(stays)], { observedAt: T1 })
      const reads = async () => ({
        get: await t.store.get(scope, chosen.id),
        getDefault: await t.store.getDefault(scope),
        listByOwner: (await t.store.listByOwner(scope)).map((card) => card.id),
        listByOwners: (await t.store.listByOwners?.([scope]))?.map((cards) =>
          cards.map((card) => card.id),
        ),
        owners: (await toArray(t.store.listOwners(scope.provider), { limit: 10 }))
          .map(formatOwner)
          .sort(),
      })
      const listsOf = (ids: string[]) => (t.store.listByOwners ? [ids] : undefined)
      expect(await t.store.delete(scope, chosen.id, { observedAt: T2 })).toBe(true)
      expect(await reads(), 'after deleting the default').toEqual({
        get: null,
        getDefault: null,
        listByOwner: [plain.id],
        listByOwners: listsOf([plain.id]),
        owners: [scope.owner, stays.owner].map(formatOwner).sort(),
      })
      expect(await t.store.delete(scope, plain.id, { observedAt: T2 })).toBe(true)
      expect(await reads(), "after deleting the owner's last card").toEqual({
        get: null,
        getDefault: null,
        listByOwner: [],
        listByOwners: listsOf([]),
        owners: [formatOwner(stays.owner)],
      })
    },
  )

  // --- upsertMany -----------------------------------------------------------------------------
  check('upsertMany', 'writes every card of the batch, for any number of owners', async (t) => {
    const alice = t.scope()
    const bob = t.scope('account')
    const batch = [t.card(alice), t.card(alice), t.card(bob)]
    await t.store.upsertMany(batch, { observedAt: T1 })
    for (const card of batch) {
      t.expectStored(await t.store.get(scopeOf(card), card.id), card, {
        version: 1,
        observedAt: T1,
      })
    }
    await t.store.upsertMany([])
  })

  check('upsertMany', 'refuses the cards of a batch older than the stored ones', async (t) => {
    const scope = t.scope()
    const stored = t.card(scope, { holderName: 'newer' })
    await t.store.upsert(stored, { observedAt: T3 })
    const fresh = t.card(scope)
    await t.store.upsertMany([{ ...stored, holderName: 'older' }, fresh], { observedAt: T2 })
    t.expectStored(await t.store.get(scope, stored.id), stored, { version: 1, observedAt: T3 })
    t.expectStored(await t.store.get(scope, fresh.id), fresh, { version: 1, observedAt: T2 })
  })

  check('upsertMany', 'leaves one default per owner: the last default of the batch', async (t) => {
    const scope = t.scope()
    const before = t.card(scope, { isDefault: true })
    await t.store.upsert(before)
    const batch = [
      t.card(scope, { isDefault: true }),
      t.card(scope),
      t.card(scope, { isDefault: true }),
    ]
    await t.store.upsertMany(batch)
    expect(await t.defaultIds(scope)).toEqual([batch[2]!.id])
  })

  check('upsertMany', "a batch's defaults clear no other owner's, whoever it is", async (t) => {
    const scope = t.scope()
    const others = t.othersOf(scope)
    const stored = t.card(scope, { isDefault: true })
    await t.store.upsert(stored)
    // Each of them holds a default of the owner's currency, under the id of its next default.
    const next = t.card(scope, { isDefault: true })
    await t.giveEach(others, { id: next.id, currency: null, isDefault: true })
    const before = await t.snapshot(others)
    await t.store.upsertMany([t.card(scope), next])
    expect(await t.defaultIds(scope)).toEqual([next.id])
    expect(await t.snapshot(others), 'the cards of the other owners').toEqual(before)
    // One batch for them all, one card id: each new default displaces its own owner's only.
    const id = t.cardId()
    const together = [scope, ...others].map((owner) =>
      t.card(owner, { id, currency: null, isDefault: true }),
    )
    await t.store.upsertMany(together)
    for (const card of together) {
      expect(await t.defaultIds(scopeOf(card)), label(scopeOf(card))).toEqual([id])
    }
  })

  check(
    'upsertMany',
    "a batch of two providers' cards of one owner id keeps them apart: each provider's tombstones, default and owners",
    async (t) => {
      // An application that moves its customers from one provider to another keeps both in one
      // store, and may write both in one batch (a migration). A store that caches what it read
      // per owner during a batch (its tombstones, whether its owner row exists) under less than
      // the provider would give one provider's owner the other's: a card refused for the other
      // provider's deletion, an owner that `listOwners` never lists.
      const before = t.scope()
      const after: CardScope = { provider: `${before.provider}-other`, owner: before.owner }
      const id = t.cardId()
      await t.store.upsert(t.card(before, { id }), { observedAt: T1 })
      await t.store.delete(before, id, { observedAt: T3 })
      const kept = t.card(before, { isDefault: true })
      const twin = t.card(after, { id })
      const moved = t.card(after, { isDefault: true })
      await t.store.upsertMany([kept, twin, moved], { observedAt: T2 })
      t.expectStored(await t.store.get(after, id), twin, { version: 1, observedAt: T2 })
      expect(await t.store.get(before, id), "the first provider's deleted card").toBeNull()
      expect(await t.defaultIds(before), "the first provider's default").toEqual([kept.id])
      expect(await t.defaultIds(after), "the second provider's default").toEqual([moved.id])
      const listed = await toArray(t.store.listOwners(after.provider), { limit: 10 })
      expect(listed.map(formatOwner), "the second provider's owners").toEqual([
        formatOwner(after.owner),
      ])
    },
  )

  check(
    'upsertMany',
    'leaves the store as the same cards upserted one by one would (a seeded random program)',
    async (t) => {
      // Stores batch their writes (fewer statements, no row read back); what comes out must be
      // what `upsert` card after card gives. The same program runs under two provider names of
      // the one store: batches through `upsertMany` under one, card by card under the other,
      // mixing defaults, currencies, stale writes, deletions (tombstones) and repeated cards.
      const batched = t.scope().provider
      const single = `${batched}-one-by-one`
      const owners: Owner[] = [t.scope().owner, t.scope('account').owner]
      const ids = [t.cardId(), t.cardId(), t.cardId()]
      const times = [undefined, T1, T2, T3, T4]
      let seed = 20_261_123
      const pick = <T>(items: readonly T[]): T => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
        return items[Math.floor(seed / 65_536) % items.length] as T
      }
      const under = (provider: string, owner: Owner): CardScope => ({ provider, owner })
      const dump = async (provider: string) => {
        const cards = []
        for (const owner of owners) {
          const listed = await t.store.listByOwner(under(provider, owner))
          cards.push(listed.map(({ updatedAt, provider: _, ...rest }) => rest))
        }
        return { cards, owners: await toArray(t.store.listOwners(provider), { limit: 10_000 }) }
      }
      let batches = 0
      for (let step = 0; step < 300; step++) {
        const observedAt = pick(times)
        const options = observedAt === undefined ? {} : { observedAt }
        const action = pick(['many', 'many', 'many', 'delete', 'default'] as const)
        const owner = pick(owners)
        if (action === 'many') {
          const batch = Array.from({ length: pick([1, 2, 3, 4, 5, 6]) }, () => {
            const cardOwner = pick(owners)
            return t.card(under(batched, cardOwner), {
              id: pick(ids),
              isDefault: pick([true, false, false]),
              currency: cardOwner.type === 'account' ? pick(['usd', 'eur']) : null,
              last4: pick(['1111', '2222']),
            })
          })
          await t.store.upsertMany(batch, options)
          for (const card of batch) await t.store.upsert({ ...card, provider: single }, options)
          batches++
        } else if (action === 'delete') {
          const id = pick(ids)
          expect(await t.store.delete(under(batched, owner), id, options), `step ${step}`).toBe(
            await t.store.delete(under(single, owner), id, options),
          )
        } else {
          const id = pick([...ids, null])
          await t.store.setDefault(under(batched, owner), id)
          await t.store.setDefault(under(single, owner), id)
        }
        expect(await dump(batched), `step ${step}`).toEqual(await dump(single))
      }
      expect(batches).toBeGreaterThan(40)
      const stored = (await dump(batched)).cards.flat()
      expect(stored.some((card) => card.version > 3)).toBe(true)
      expect(stored.some((card) => card.isDefault)).toBe(true)
    },
  )

  check(
    'upsertMany',
    'is all or nothing: a batch that fails part-way writes none of it',
    async (t) => {
      // The contract names no card every store must refuse, so the suite makes the batch fail
      // itself: its last card cannot be read (a getter that throws), and no store can write a
      // card without reading it. Whether the store fails before its first write or rolls back
      // after the others, nothing of the batch may be left; a store that writes card by card
      // has written the others by then. The batch writes a card twice (a batching store's
      // card-by-card path), updates one and displaces a default: none of it may stay. The last
      // card fails at its holderName, then at its owner's id: a store that reads every card
      // before its first write may leave the nested owner to the write.
      const scope = t.scope()
      const stored = t.card(scope, { isDefault: true })
      await t.store.upsert(stored)
      for (const part of ['holderName', 'owner'] as const) {
        const fresh = t.card(scope)
        const other = t.card(t.scope('account'), { isDefault: true })
        const batch = [
          { ...stored, holderName: 'batched', isDefault: false },
          fresh,
          { ...fresh, holderName: 'written twice', isDefault: true },
          other,
          unreadable(t.card(scope), part),
        ]
        await expect(
          t.store.upsertMany(batch),
          `a batch whose last card's ${part} cannot be read`,
        ).rejects.toThrow()
        t.expectStored(await t.store.get(scope, stored.id), stored, {
          version: 1,
          observedAt: null,
        })
        expect(await t.store.listByOwner(scope), `the cards of the owner (${part})`).toHaveLength(1)
        expect(
          await t.store.listByOwner(scopeOf(other)),
          `the cards of the other owner (${part})`,
        ).toEqual([])
      }
    },
  )

  check(
    'upsertMany',
    'is all or nothing: a batch with a card the store refuses writes none of it',
    async (t) => {
      const scope = t.scope()
      const stored = t.card(scope)
      await t.store.upsert(stored)
      const fresh = t.card(scope)
      // Five digits in last4: CardSchema refuses it, and a store may too (a CHECK constraint),
      // late in the batch, after the writes of the cards before it. The batch also writes one
      // card twice, which sends a batching store down its card-by-card path.
      const refused = { ...t.card(scope), last4: '12345' }
      const batch = [
        { ...stored, holderName: 'batched' },
        fresh,
        { ...fresh, holderName: 'written twice' },
        refused,
      ]
      let accepted = true
      try {
        await t.store.upsertMany(batch)
      } catch {
        accepted = false
      }
      if (accepted) {
        // A store that keeps what it is given wrote all of it.
        expect((await t.store.get(scope, stored.id))?.holderName).toBe('batched')
        expect((await t.store.get(scope, fresh.id))?.holderName).toBe('written twice')
        expect(await t.store.get(scope, refused.id)).not.toBeNull()
        return
      }
      t.expectStored(await t.store.get(scope, stored.id), stored, { version: 1, observedAt: null })
      expect(await t.store.get(scope, fresh.id), 'a card of the refused batch').toBeNull()
      expect(await t.store.listByOwner(scope)).toHaveLength(1)
    },
  )

  check(
    'upsertMany',
    'concurrentWrites (optional) is 1 to 64, and that many batches of other owners at once all land',
    async (t) => {
      const declared = t.store.concurrentWrites
      if (declared !== undefined) {
        expect(
          Number.isInteger(declared) && declared >= 1 && declared <= 64,
          String(declared),
        ).toBe(true)
      }
      // What CardSync.reconcile sends: at least two batches at once (a store that declares no
      // concurrency may still be called so by two processes), each of owners of its own, each
      // owner with a default that displaces a stored one.
      const batches = Array.from({ length: Math.max(2, declared ?? 1) }, () =>
        Array.from({ length: 3 }, () => t.scope()),
      )
      for (const scopes of batches) {
        for (const scope of scopes) await t.store.upsert(t.card(scope, { isDefault: true }))
      }
      const written = batches.map((scopes) =>
        scopes.flatMap((scope) => [t.card(scope, { isDefault: true }), t.card(scope)]),
      )
      await Promise.all(written.map((cards) => t.store.upsertMany(cards, { observedAt: T2 })))
      for (const cards of written) {
        for (const card of cards) {
          t.expectStored(await t.store.get(scopeOf(card), card.id), card, {
            version: 1,
            observedAt: T2,
          })
          if (card.isDefault) expect(await t.defaultIds(scopeOf(card))).toEqual([card.id])
        }
      }
    },
  )

  // --- listOwners -----------------------------------------------------------------------------
  check('listOwners', 'streams each owner with cards at the provider, once', async (t) => {
    const alice = t.scope()
    const shop = t.scope('account')
    const gone = t.scope()
    const elsewhere: CardScope = { provider: `${alice.provider}-other`, owner: t.scope().owner }
    const gonesCard = t.card(gone)
    await t.store.upsertMany([t.card(alice), t.card(alice), t.card(shop), gonesCard])
    await t.store.upsert(t.card(elsewhere))
    await t.store.delete(gone, gonesCard.id)
    const owners: Owner[] = []
    for await (const owner of t.store.listOwners(alice.provider)) owners.push(owner)
    expect(owners.map(formatOwner).sort()).toEqual(
      [alice.owner, shop.owner].map(formatOwner).sort(),
    )
  })

  check(
    'listOwners',
    'streams each of 1,201 owners once, across the pages a store reads them in',
    async (t) => {
      // A keyset that repeats or skips the owner at a page's edge shows here.
      const cards = await writeManyOwners(t)
      const listed = (await toArray(t.store.listOwners(cards[0]!.provider), { limit: 10_000 })).map(
        formatOwner,
      )
      const seen = new Set(listed)
      expect(repeatedIn(listed), 'owners listed more than once').toEqual([])
      const missing = cards
        .map((card) => formatOwner(card.owner))
        .filter((owner) => !seen.has(owner))
      expect(missing, 'owners not listed').toEqual([])
      expect(listed).toHaveLength(cards.length)
    },
  )

  check(
    'listOwners',
    'lists each owner holding cards throughout once, while owners listed before leave and new ones come',
    async (t) => {
      // What CardSync.reconcile does to the store while it streams the owners: an owner whose
      // cards the provider no longer has leaves the store (the store keeps no owner without
      // cards). A store paging by offset then skips as many owners as left before its next
      // page; other owners getting their first card mid-listing may be listed or not, but no
      // owner twice.
      const { repeated, missing } = await listOwnersWhile(t, async (card, count) => {
        // Every other one leaves (half the writes of all, and still hundreds a page).
        if (card && count % 2 === 0) await t.store.delete(scopeOf(card), card.id)
        if (count % 6 === 0) await t.store.upsert(t.card(t.scope()))
      })
      expect(repeated, 'owners listed more than once').toEqual([])
      expect(missing.length, 'owners holding cards throughout, not listed').toBe(0)
    },
  )

  check(
    'listOwners',
    'does not list again an owner listed before that loses its last card and gets a new one',
    async (t) => {
      // A customer who replaces their only card (the old one deleted first, then the new one
      // added) while a reconcile streams the owners. A store that numbers owners as they get
      // their first card, and pages by that number, met such an owner twice: once under its old
      // number, once under the new one, beyond the page already read.
      const { repeated, missing } = await listOwnersWhile(t, async (card, count) => {
        if (!card || count % 3 !== 0) return
        await t.store.delete(scopeOf(card), card.id)
        await t.store.upsert(t.card(scopeOf(card)))
      })
      expect(repeated, 'owners listed more than once').toEqual([])
      expect(missing, 'owners not listed').toEqual([])
    },
  )

  check(
    'listOwners',
    'streams owners sharing an id under both owner types each once, across pages',
    async (t) => {
      // A keyset on the owner id alone (`owner_id > last`) skips the twin that falls first on
      // the next page. Whatever the page size, a page ends between two twins in one of the two
      // listings: their owners sort by id with one single owner first, or two.
      const base = t.scope().provider
      for (const singles of [1, 2]) {
        const provider = `${base}-${singles}`
        const owners: Owner[] = []
        for (let i = 0; i < singles; i++) owners.push({ type: 'customer', id: `a${t.cardId()}` })
        while (owners.length < 1_201) {
          const id = `b${t.cardId()}`
          owners.push({ type: 'customer', id }, { type: 'account', id })
        }
        await t.store.upsertMany(owners.map((owner) => t.card({ provider, owner })))
        const listed = (await toArray(t.store.listOwners(provider), { limit: 10_000 })).map(
          formatOwner,
        )
        expect(repeatedIn(listed), `owners listed more than once (${singles})`).toEqual([])
        expect(listed.sort(), `owners listed (${singles})`).toEqual(owners.map(formatOwner).sort())
      }
    },
  )

  // --- no secrets -----------------------------------------------------------------------------
  check(
    'no secrets',
    'a stored card has the Card fields and bookkeeping only: nowhere for a number or CVC',
    async (t) => {
      const scope = t.scope()
      const card = t.card(scope)
      await t.store.upsert(card)
      const stored = await t.store.get(scope, card.id)
      expect(Object.keys(stored ?? {}).sort()).toEqual(STORED_KEYS)
      if (t.fixture.readRow) {
        const row = await t.fixture.readRow(scope, card.id)
        expect(row, 'the row readRow returns').toBeTruthy()
        const secretKeys = keysOf(row).filter(
          (path) => SECRET_KEY.test(path.at(-1)!) && path.at(-2) !== 'checks',
        )
        expect(
          secretKeys.map((path) => path.join('.')),
          'columns for a number or CVC',
        ).toEqual([])
      }
    },
  )

  // --- retirements (optional) ---------------------------------------------------------------
  const retirementsCheck = (
    title: string,
    run: (t: Context, log: RetirementLog) => Promise<void>,
  ) =>
    check('retirements', title, async (t) => {
      const log = t.store.retirements
      if (!log) return t.skip('the store has no retirements (optional)')
      return run(t, log)
    })

  retirementsCheck(
    'saves, loads and removes a note, in the order saved, and loads nothing without one',
    async (t, log) => {
      const scope = t.scope('account')
      // Neither their ids nor their currencies are in order, ascending or descending: a store
      // that reads a note back sorted (by a key of card ids, say) gives it in another order.
      const cards = [
        { cardId: t.cardId('b'), currency: 'usd' },
        { cardId: t.cardId('c'), currency: null },
        { cardId: t.cardId('a'), currency: 'eur' },
      ]
      expect(await log.load(scope, 'key-1')).toEqual([])
      await log.save(scope, 'key-1', cards)
      expect(await log.load(scope, 'key-1')).toEqual(cards)
      expect(await log.load(scope, 'key-2')).toEqual([])
      await log.remove(scope, 'key-1')
      expect(await log.load(scope, 'key-1')).toEqual([])
      await expect(log.remove(scope, 'key-1')).resolves.toBeUndefined()
    },
  )

  retirementsCheck('a save replaces the note of the same owner and key', async (t, log) => {
    const scope = t.scope()
    await log.save(scope, 'key', [{ cardId: t.cardId(), currency: null }])
    // In the order of their ids: the order a note loads in is the rule above, not this one's.
    const replacement = [
      { cardId: t.cardId('a'), currency: null },
      { cardId: t.cardId('b'), currency: null },
    ]
    await log.save(scope, 'key', replacement)
    expect(await log.load(scope, 'key')).toEqual(replacement)
    await log.save(scope, 'key', [])
    expect(await log.load(scope, 'key')).toEqual([])
  })

  retirementsCheck(
    "notes are scoped by owner: another owner's key reads nothing",
    async (t, log) => {
      const alice = t.scope()
      const note = [{ cardId: t.cardId(), currency: null }]
      await log.save(alice, 'shared-key', note)
      const others: CardScope[] = [
        t.scope(),
        { provider: alice.provider, owner: { type: 'account', id: alice.owner.id } },
        { provider: `${alice.provider}-other`, owner: alice.owner },
      ]
      for (const other of others) {
        expect(await log.load(other, 'shared-key'), label(other)).toEqual([])
        await log.remove(other, 'shared-key')
      }
      expect(await log.load(alice, 'shared-key')).toEqual(note)
    },
  )

  retirementsCheck(
    'a loaded note is a copy: changing it, or any card in it, changes nothing stored',
    async (t, log) => {
      const scope = t.scope('account')
      // In the order of their ids, as above.
      const saved = [
        { cardId: t.cardId('a'), currency: 'usd' as string | null },
        { cardId: t.cardId('b'), currency: null },
      ]
      const expected = structuredClone(saved)
      await log.save(scope, 'key', saved)
      saved[0]!.currency = 'changed after save'
      const loaded = await log.load(scope, 'key')
      // A new array holding the cards the store keeps is no copy either.
      loaded[0]!.cardId = 'changed by the caller'
      loaded[0]!.currency = 'changed by the caller'
      loaded.push({ cardId: t.cardId(), currency: null })
      expect(await log.load(scope, 'key')).toEqual(expected)
    },
  )

  // --- close ----------------------------------------------------------------------------------
  check(
    'close',
    'refuses every call from the moment close() is called, while it is pending and after, with invalid_request, and a second close() resolves',
    async (t) => {
      const scope = t.scope()
      const card = t.card(scope, { isDefault: true })
      await t.store.upsert(card)
      await t.store.retirements?.save(scope, 'key', [{ cardId: card.id, currency: null }])
      t.markClosed()
      // Not awaited: a store whose close() takes a while (a pool's end()) refuses from the moment
      // it is called, not once it has resolved.
      const closing = t.store.close()
      const pending = await refusalsOf(closedCalls(t, scope, card.id))
      await expect(closing).resolves.toBeUndefined()
      await expect(t.store.close(), 'a second close()').resolves.toBeUndefined()
      const after = await refusalsOf(closedCalls(t, scope, card.id))
      expect(
        { 'while close() was pending': pending, 'after close() resolved': after },
        'calls not refused with invalid_request',
      ).toEqual({ 'while close() was pending': [], 'after close() resolved': [] })
    },
  )

  check(
    'close',
    'writes nothing from the moment close() is called: a store opened again over the same data holds what it held',
    async (t) => {
      const reopen = t.fixture.reopen
      if (!reopen) return t.skip('the fixture has no reopen (its data does not outlive the store)')
      const scope = t.scope()
      const [first, second] = [t.card(scope, { isDefault: true }), t.card(scope)]
      await t.store.upsertMany([first, second])
      const note = [{ cardId: first.id, currency: null }]
      await t.store.retirements?.save(scope, 'key', note)
      const before = await t.store.listByOwner(scope)
      t.markClosed()
      // Every write of the contract, each of which would change what a fresh store reads, made
      // at once while close() is pending (a store that refuses only once it has resolved lets
      // them land), then again once it has resolved.
      const closing = t.store.close()
      const pending = closedCalls(t, scope, first.id).map(([, call]) => refusalOf(call))
      await Promise.all([closing, ...pending])
      for (const [, call] of closedCalls(t, scope, first.id)) await refusalOf(call)

      const again = await reopen()
      try {
        expect(await again.listByOwner(scope), 'the cards written before close()').toEqual(before)
        const owners = await toArray(again.listOwners(scope.provider), { limit: 10 })
        expect(owners, 'the owners').toEqual([scope.owner])
        if (t.store.retirements) {
          expect(await again.retirements?.load(scope, 'key'), 'the note').toEqual(note)
          expect(await again.retirements?.load(scope, 'other-key'), 'a new note').toEqual([])
        }
      } finally {
        await again.close()
      }
    },
  )

  check(
    'close',
    'lets the calls begun before close() finish, and resolves only once they have',
    async (t) => {
      // Calls begun and not awaited, each on an owner of its own (a store may run them in any
      // order): a store on a pool of connections is still running them when close() is called.
      const [added, batched, switched, removed] = [
        t.scope(),
        t.scope(),
        t.scope('account'),
        t.scope(),
      ]
      const [stored, next] = [t.card(switched, { isDefault: true }), t.card(switched)]
      const gone = t.card(removed)
      await t.store.upsertMany([stored, next, gone])
      const note = [{ cardId: stored.id, currency: 'usd' }]
      const outcomes = new Map<string, string>()
      const begin = (name: string, call: () => Promise<unknown> | undefined) => {
        outcomes.set(name, 'still running when close() resolved')
        call()?.then(
          () => outcomes.set(name, 'fulfilled'),
          (error: unknown) => outcomes.set(name, `rejected: ${describeOutcome(error)}`),
        )
      }
      begin('upsert', () => t.store.upsert(t.card(added)))
      begin('upsertMany', () => t.store.upsertMany([t.card(batched), t.card(batched)]))
      begin('setDefault', () => t.store.setDefault(switched, next.id))
      begin('delete', () => t.store.delete(removed, gone.id))
      begin('get', () => t.store.get(switched, stored.id))
      begin('listByOwner', () => t.store.listByOwner(switched))
      begin('getDefault', () => t.store.getDefault(switched))
      begin('listOwners', () => t.store.listOwners(added.provider)[Symbol.asyncIterator]().next())
      if (t.store.listByOwners) begin('listByOwners', () => t.store.listByOwners?.([switched]))
      if (t.store.retirements) {
        begin('retirements.save', () => t.store.retirements?.save(switched, 'key', note))
      }
      t.markClosed()
      await t.store.close()
      // The promise hops between a settled call and the handlers above (a wrapper or two), and
      // no more: a call still waiting for its database, or a timer, is still running.
      for (let hop = 0; hop < 10; hop++) await undefined
      const unfinished = [...outcomes].filter(([, outcome]) => outcome !== 'fulfilled')
      expect(
        unfinished.map(([name, outcome]) => `${name}: ${outcome}`),
        'calls begun before close()',
      ).toEqual([])

      const reopen = t.fixture.reopen
      if (!reopen) return
      const again = await reopen()
      try {
        const count = async (scope: CardScope) => (await again.listByOwner(scope)).length
        expect(await count(added), 'the card of the upsert').toBe(1)
        expect(await count(batched), 'the cards of the upsertMany').toBe(2)
        expect(await count(removed), 'the cards after the delete').toBe(0)
        expect((await again.getDefault(switched))?.id, 'the default after setDefault').toBe(next.id)
        if (t.store.retirements) {
          expect(await again.retirements?.load(switched, 'key'), 'the note').toEqual(note)
        }
      } finally {
        await again.close()
      }
    },
  )

  return checks
}

/** What a store check works with. */
interface Context {
  readonly store: CardStore
  readonly fixture: CardStoreFixture
  /** A fresh owner of `type`, under this test's own provider name. */
  scope(type?: OwnerType): CardScope
  /**
   * Whoever else a write of `scope` must not reach: another owner of its type, and the two
   * that a store keying its writes on less than provider, owner type and owner id would mix up
   * with it: the same owner id under the other owner type, and the same owner at another
   * provider (the read checks use the same two).
   */
  othersOf(scope: CardScope): CardScope[]
  /** Stores a card of each of `others`, with `overrides` (one of the owner's card ids, say). */
  giveEach(others: readonly CardScope[], overrides: Partial<Card>): Promise<void>
  /** Every card of each scope as stored, bookkeeping included: compare before and after. */
  snapshot(scopes: readonly CardScope[]): Promise<StoredCard[][]>
  /** A fresh card id; with `sortKey`, one that sorts after the ids of a smaller key. */
  cardId(sortKey?: string): string
  /** A valid card of the scope's owner, every field set, created a minute after the last. */
  card(scope: CardScope, overrides?: Partial<Card>): Card
  /** Asserts a stored row is `card` plus the expected bookkeeping. */
  expectStored(
    stored: StoredCard | null | undefined,
    card: Card,
    expected: { version: number; observedAt: number | null },
  ): void
  /** The ids of the owner's default cards, sorted. */
  defaultIds(scope: CardScope): Promise<string[]>
  markClosed(): void
  skip: SkipCheck
}

function createContext(
  fixture: CardStoreFixture,
  markClosed: () => void,
  skip: SkipCheck,
): Context {
  // A provider name of its own keeps this test's rows apart from any other test's.
  const provider = `conformance-${randomUUID().slice(0, 8)}`
  let cards = 0

  const context: Context = {
    store: fixture.store,
    fixture,
    markClosed,
    skip,

    scope(type = 'customer') {
      const prefix = type === 'customer' ? 'cus' : 'acct'
      return { provider, owner: { type, id: `${prefix}_${randomUUID().replaceAll('-', '')}` } }
    },

    othersOf(scope) {
      const otherType = scope.owner.type === 'customer' ? 'account' : 'customer'
      return [
        context.scope(scope.owner.type),
        { provider: scope.provider, owner: { type: otherType, id: scope.owner.id } },
        { provider: `${scope.provider}-other`, owner: { ...scope.owner } },
      ]
    },

    async giveEach(others, overrides) {
      for (const other of others) await fixture.store.upsert(context.card(other, overrides))
    },

    async snapshot(scopes) {
      const cards: StoredCard[][] = []
      for (const scope of scopes) cards.push(await fixture.store.listByOwner(scope))
      return cards
    },

    cardId: (sortKey = '') => `card_${sortKey}${randomUUID().replaceAll('-', '')}`,

    card(scope, overrides = {}) {
      cards += 1
      const card: Card = {
        id: context.cardId(),
        provider: scope.provider,
        owner: { ...scope.owner },
        brand: 'visa',
        last4: '4242',
        expMonth: 8,
        expYear: 2031,
        holderName: 'Conformance Tester',
        address: {
          line1: '1 Conformance Way',
          line2: 'Suite 2',
          city: 'Springfield',
          state: 'IL',
          postalCode: '62701',
          country: 'US',
        },
        country: 'US',
        fingerprint: 'Xt5EWLLDS7FJjR1c',
        funding: 'credit',
        checks: { cvc: 'pass', addressLine1: 'fail', postalCode: 'unchecked' },
        currency: scope.owner.type === 'account' ? 'usd' : null,
        isDefault: false,
        status: 'active',
        metadata: { order_id: '6735', 'with spaces': 'ünïcödé ✓' },
        createdAt: new Date(Date.UTC(2024, 0, 1, 0, cards)).toISOString(),
        ...overrides,
      }
      return CardSchema.parse(card)
    },

    expectStored(stored, card, expected) {
      expect(stored, `the stored row of ${card.id}`).toEqual({
        ...card,
        version: expected.version,
        // Its form is the updatedAt check's: a row holding another fails that check alone.
        updatedAt: expect.any(String),
        observedAt: expected.observedAt,
      })
    },

    async defaultIds(scope) {
      return (await fixture.store.listByOwner(scope))
        .filter((card) => card.isDefault)
        .map((card) => card.id)
        .sort()
    },
  }
  return context
}

/**
 * A card each for 1,201 new owners (a third of them accounts), written in one batch: more owners
 * than a page of any likely size of `listOwners` (100, 250, 500, 1,000).
 */
/**
 * Expects two owners whose ids a careless store makes one (`ownerIds`), and two card ids of one
 * owner it makes one (`cardIds`), kept apart: the first card id under both owners, each its own
 * default, and the second under the first owner only; each read back as written (its id as
 * given) by `get`, `listByOwner`, `getDefault` and `listOwners`, and deleted on its own.
 */
async function expectIdsKeptApart(
  t: Context,
  ownerIds: readonly [string, string],
  cardIds: readonly [string, string],
): Promise<void> {
  const { provider } = t.scope()
  const [first, second] = ownerIds.map(
    (id): CardScope => ({ provider, owner: { type: 'customer', id } }),
  ) as [CardScope, CardScope]
  const [id, otherId] = cardIds
  // Quoted, so that a message shows a space or a letter's case as it is.
  const named = (scope: CardScope) => JSON.stringify(label(scope))
  const cards = [
    t.card(first, { id, last4: '1111', isDefault: true }),
    t.card(second, { id, last4: '2222', isDefault: true }),
    t.card(first, { id: otherId, last4: '3333' }),
  ] as const
  for (const card of cards) await t.store.upsert(card)
  const [firstCard, secondCard, firstOther] = cards
  const expected = { version: 1, observedAt: null }
  t.expectStored(await t.store.get(first, id), firstCard, expected)
  t.expectStored(await t.store.get(second, id), secondCard, expected)
  t.expectStored(await t.store.get(first, otherId), firstOther, expected)
  expect(await t.store.get(second, otherId), `"${otherId}" of ${named(second)}`).toBeNull()
  // Sorted: the order of a listing is the rule of listByOwner.
  const ids = async (scope: CardScope) =>
    (await t.store.listByOwner(scope)).map((card) => card.id).sort()
  expect(await ids(first), named(first)).toEqual([id, otherId].sort())
  expect(await ids(second), named(second)).toEqual([id])
  expect((await t.store.getDefault(first))?.last4, `the default of ${named(first)}`).toBe('1111')
  expect((await t.store.getDefault(second))?.last4, `the default of ${named(second)}`).toBe('2222')
  const owners = await toArray(t.store.listOwners(provider), { limit: 10 })
  expect(owners.map(formatOwner).sort()).toEqual(
    [first.owner, second.owner].map(formatOwner).sort(),
  )
  expect(await t.store.delete(first, otherId), `delete "${otherId}"`).toBe(true)
  expect(await t.store.delete(second, id), `delete "${id}" of ${named(second)}`).toBe(true)
  t.expectStored(await t.store.get(first, id), firstCard, expected)
}

/**
 * Writes a card made with `overrides` through `upsert` and another through `upsertMany`, and
 * expects each read back field for field by `get` and in `listByOwner`.
 */
async function writtenAndReadBack(
  t: Context,
  scope: CardScope,
  overrides: Partial<Card>,
): Promise<void> {
  const [single, batched] = [t.card(scope, overrides), t.card(scope, overrides)]
  await t.store.upsert(single)
  await t.store.upsertMany([batched])
  const expected = { version: 1, observedAt: null }
  const listed = await t.store.listByOwner(scope)
  for (const card of [single, batched]) {
    t.expectStored(await t.store.get(scope, card.id), card, expected)
    t.expectStored(
      listed.find((row) => row.id === card.id),
      card,
      expected,
    )
  }
}

async function writeManyOwners(t: Context): Promise<Card[]> {
  const cards = Array.from({ length: 1_201 }, (_, index) =>
    t.card(t.scope(index % 3 === 0 ? 'account' : 'customer')),
  )
  await t.store.upsertMany(cards)
  return cards
}

/**
 * Streams the owners of {@link writeManyOwners}, calling `write` after each owner listed with
 * the card written for it (undefined for an owner the test added since) and how many owners
 * have been listed. Returns the owners listed more than once and the owners written first that
 * were not listed.
 */
async function listOwnersWhile(
  t: Context,
  write: (card: Card | undefined, count: number) => Promise<void>,
): Promise<{ repeated: string[]; missing: string[] }> {
  const cards = await writeManyOwners(t)
  const byOwner = new Map(cards.map((card) => [formatOwner(card.owner), card]))
  const listed: string[] = []
  for await (const owner of t.store.listOwners(cards[0]!.provider)) {
    listed.push(formatOwner(owner))
    await write(byOwner.get(formatOwner(owner)), listed.length)
    if (listed.length > 10_000) break
  }
  const seen = new Set(listed)
  const missing = [...byOwner.keys()].filter((owner) => !seen.has(owner))
  return { repeated: repeatedIn(listed), missing }
}

/** How many races {@link raceMixedDefaults} runs on one owner. */
const RACE_ROUNDS = 8

/**
 * Races every kind of default write on one owner of `type`, {@link RACE_ROUNDS} times, and
 * checks after each race what any order of its calls, run one at a time, would leave. A race
 * starts from an owner whose default (D) was just written; its nine calls, on three of the
 * owner's cards (X, of D's currency, Y and Z: another three each race) and two new ones, are
 * `setDefault(D)`, `upsert(X as the default)`, `setDefault(X)`, `delete(D)`,
 * `upsertMany([Y as the default, a new card])`, `setDefault(null)`, `upsert(a new default)`,
 * `setDefault(Z)` and `upsert(Z as the default)`: the last three with an `observedAt`, and
 * `delete`, `setDefault(null)` or `upsertMany` with one in some races. Each upsert writes a
 * holder name of its own.
 *
 * Whatever the order, no call rejects, D is gone and every other card is listed once, holding
 * what the race wrote of it (Z's upsert alone may be refused, as older than `setDefault(Z)`
 * when that came first); the owner has at most one default per currency, each one of X, Y, Z
 * and the new default; `getDefault` gives the listed row of the one the store first saw (the
 * check knows the order it wrote them in, and trusts no listing's); each row's version went up
 * by at least its own writes (one, for a default switch), by at most one a call; and no row's
 * `observedAt` went back.
 *
 * The calls start in the order above in half of the races and in reverse in the others; all
 * at once in half of them, and one event-loop turn apart in the others. So a store whose
 * `setDefault`, or `upsert` of a default, reads the rows, waits (a round trip), then writes
 * what it read, may meet a write of the same card in between: that write is lost, or the
 * deleted D comes back. Whether it does depends on how many turns, and which, the store waits
 * before its read and after it: {@link racePairs} is what catches such a store every time;
 * these races check what three or more calls at once leave. A store on a server runs the calls
 * truly at once, in an order of its own: every order passes.
 */
async function raceMixedDefaults(t: Context, type: OwnerType): Promise<void> {
  const scope = t.scope(type)
  const currencies = type === 'account' ? ['usd', 'eur'] : [null]
  const currency = (index: number) => currencies[index % currencies.length] ?? null
  // What each card held after its last write the race applied, isDefault aside.
  const written = new Map<string, Card>()
  // The cards X, Y and Z are picked from, in the order the store first saw them: the first
  // four, then each race's new default. The batch's new card is not one of them: it races the
  // new default to be stored first, and the check trusts no listing's order to tell which was.
  const known: string[] = []
  for (let index = 0; index < 4; index++) {
    const card = t.card(scope, { currency: currency(index), isDefault: index === 0 })
    await t.store.upsert(card)
    written.set(card.id, card)
    known.push(card.id)
  }

  for (let round = 0; round < RACE_ROUNDS; round++) {
    const atOnce = round % 2 === 0
    const forward = round % 4 < 2
    // The first four races of every eight give `delete` and `setDefault(null)` an observedAt,
    // the others `upsertMany`; Z's upsert is then newer than setDefault(Z), or else older.
    const observed = round % 8 < 4
    // Each round's times come after the previous round's: only calls of one race compare.
    const at = (step: number) => T4 + round * 10 + step

    const defaulted = t.card(scope, { currency: currency(round), isDefault: true })
    await t.store.upsert(defaulted)
    written.set(defaulted.id, defaulted)
    const before = await t.store.listByOwner(scope)
    // X shares D's currency: an upsert of X as the default clears D.
    const ofCurrency = known.filter((id) => written.get(id)!.currency === currency(round))
    const xId = ofCurrency[round % ofCurrency.length]!
    const others = known.filter((id) => id !== xId)
    const [x, y, z] = [
      xId,
      others[(2 * round) % others.length]!,
      others[(2 * round + 1) % others.length]!,
    ].map((id) => written.get(id)!) as [Card, Card, Card]
    const asDefault = (card: Card, holderName: string): Card => ({
      ...card,
      holderName,
      isDefault: true,
    })
    const xCard = asDefault(x, `race ${round + 1}: upsert`)
    const yCard = asDefault(y, `race ${round + 1}: upsertMany`)
    const zCard = asDefault(z, `race ${round + 1}: upsert with observedAt`)
    const fresh = t.card(scope, { currency: currency(round + 1), isDefault: true })
    const batched = t.card(scope, { currency: currency(round) })
    const zObservedAt = observed ? at(4) : at(2)
    const results: { x?: UpsertResult; z?: UpsertResult; fresh?: UpsertResult; deleted?: boolean } =
      {}
    const calls: [string, () => Promise<unknown>][] = [
      ['setDefault(D)', () => t.store.setDefault(scope, defaulted.id)],
      ['upsert(X as the default)', async () => (results.x = await t.store.upsert(xCard))],
      ['setDefault(X)', () => t.store.setDefault(scope, x.id)],
      [
        'delete(D)',
        async () =>
          (results.deleted = await t.store.delete(
            scope,
            defaulted.id,
            observed ? { observedAt: at(5) } : {},
          )),
      ],
      [
        'upsertMany([Y as the default, a new card])',
        () => t.store.upsertMany([yCard, batched], observed ? {} : { observedAt: at(6) }),
      ],
      [
        'setDefault(null)',
        () => t.store.setDefault(scope, null, observed ? { observedAt: at(1) } : {}),
      ],
      [
        'upsert(a new default)',
        async () => (results.fresh = await t.store.upsert(fresh, { observedAt: at(2) })),
      ],
      ['setDefault(Z)', () => t.store.setDefault(scope, z.id, { observedAt: at(3) })],
      [
        'upsert(Z as the default)',
        async () => (results.z = await t.store.upsert(zCard, { observedAt: zObservedAt })),
      ],
    ]
    const problems = await race(forward ? calls : [...calls].reverse(), atOnce)

    // What the race wrote, whatever the order: Z's upsert may be refused as older than
    // setDefault(Z), which then came first; every other write of a card is applied.
    known.push(fresh.id)
    written.delete(defaulted.id)
    for (const card of [xCard, yCard, fresh, batched]) written.set(card.id, card)
    if (results.z?.applied) written.set(z.id, zCard)
    const roles = new Map<string, string>([
      [defaulted.id, 'D (the default, deleted)'],
      [x.id, 'X'],
      [y.id, 'Y'],
      [z.id, 'Z'],
      [fresh.id, 'the new default'],
      [batched.id, "the batch's new card"],
    ])
    const role = (id: string) => roles.get(id) ?? `card ${id} (no call of the race names it)`
    const previous = new Map(before.map((card) => [card.id, card]))
    const listed = await t.store.listByOwner(scope)

    // Every card once; the deleted one gone.
    const ids = listed.map((card) => card.id)
    for (const id of repeatedIn(ids)) problems.push(`${role(id)} is listed twice`)
    for (const id of written.keys()) {
      if (!ids.includes(id)) problems.push(`${role(id)} is lost`)
    }
    for (const id of ids) {
      if (!written.has(id)) problems.push(`${role(id)} is listed, and no longer exists`)
    }

    // The calls' own answers.
    if (results.deleted === false) problems.push('delete(D) deleted nothing')
    if (!results.x?.applied || !results.x.card?.isDefault) {
      problems.push('upsert(X as the default), without observedAt, was not applied as the default')
    }
    if (results.fresh?.applied === false) problems.push('upsert(a new default) was refused')
    for (const [name, result, card] of [
      ['upsert(X as the default)', results.x, xCard],
      ['upsert(a new default)', results.fresh, fresh],
      ['upsert(Z as the default)', results.z, zCard],
    ] as const) {
      if (result?.applied && !sameData(result.card, card)) {
        problems.push(`${name} gave back another card than it wrote`)
      }
    }

    for (const card of listed) {
      const name = role(card.id)
      const last = written.get(card.id)
      if (last && !sameData(card, last)) {
        problems.push(
          `${name} holds ${JSON.stringify(card.holderName)}, not its last write ${JSON.stringify(last.holderName)}`,
        )
      }
      // Its own writes (and a default switch) each move the version on; no call writes a row
      // twice.
      const was = previous.get(card.id)
      const own =
        card.id === x.id
          ? 2
          : card.id === y.id || card.id === fresh.id || card.id === batched.id
            ? 1
            : card.id === z.id && results.z?.applied
              ? 1
              : 0
      const least =
        (was?.version ?? 0) + Math.max(own, was && was.isDefault !== card.isDefault ? 1 : 0)
      const most = (was?.version ?? 0) + calls.length
      if (!Number.isSafeInteger(card.version) || card.version < least || card.version > most) {
        problems.push(
          `${name} is at version ${card.version}, from ${was?.version ?? 'none'} before the race: expected ${least} to ${most}`,
        )
      }
      for (const result of [results.x, results.z, results.fresh]) {
        if (result?.card?.id === card.id && result.applied && result.card.version > card.version) {
          problems.push(
            `${name} is at version ${card.version}, below the ${result.card.version} its upsert gave`,
          )
        }
      }
      const since = was?.observedAt ?? null
      if (since !== null && (card.observedAt === null || card.observedAt < since)) {
        problems.push(`${name}'s observedAt went back from ${since} to ${card.observedAt}`)
      }
    }

    // At most one default per currency, each made by a call of the race; getDefault the listed
    // row of the one the store first saw.
    // Every default is one of X, Y, Z and the new default (checked next): `known` orders them.
    const defaults = listed
      .filter((card) => card.isDefault)
      .sort((a, b) => known.indexOf(a.id) - known.indexOf(b.id))
    for (const group of currencies) {
      const ofGroup = defaults.filter((card) => card.currency === group)
      if (ofGroup.length > 1) {
        problems.push(
          `${ofGroup.length} defaults${group === null ? '' : ` in ${group}`}: ${ofGroup.map((card) => role(card.id)).join(', ')}`,
        )
      }
    }
    const made = new Set([x.id, y.id, z.id, fresh.id])
    for (const card of defaults) {
      if (!made.has(card.id))
        problems.push(`${role(card.id)} is a default, and no call made it one`)
    }
    const firstSeen = defaults[0] ?? null
    const given = await t.store.getDefault(scope)
    if (!isDeepStrictEqual(given, firstSeen)) {
      problems.push(
        `getDefault gives ${given ? role(given.id) : 'null'}, listByOwner's default first seen is ${firstSeen ? role(firstSeen.id) : 'none'}${given?.id === firstSeen?.id ? ' (the rows differ)' : ''}`,
      )
    }

    const how = `${atOnce ? 'all at once' : 'one turn apart'}, ${forward ? 'in order' : 'in reverse'}`
    expect(problems, `the ${type}'s race ${round + 1} of ${RACE_ROUNDS} (${how})`).toEqual([])
  }
}

/**
 * Starts `calls` in turn, all at once or one event-loop turn apart, and waits for them all.
 * Returns what rejected, and why.
 */
async function race(
  calls: readonly (readonly [string, () => Promise<unknown>])[],
  atOnce: boolean,
): Promise<string[]> {
  const rejected: string[] = []
  const running: Promise<void>[] = []
  for (const [name, call] of calls) {
    // Handled from the start: a call failing while the next waits its turn is not unhandled.
    const settled = (async () => call())().then(
      () => undefined,
      (error: unknown) => {
        rejected.push(`${name} rejected: ${describeOutcome(error)}`)
      },
    )
    running.push(settled)
    if (!atOnce) await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(running)
  return rejected
}

/**
 * When {@link racePairs} starts the second call of a pair: at once (no wait), once the first
 * call's microtasks have run, or a `setImmediate` or a `setTimeout` turn later. Before its turn,
 * the pair lets the first call's microtasks run, so that a turn the first call queues on its way
 * to its read is queued before the pair's, and runs first. So for a first call that waits
 * nothing, microtasks or one turn of either kind before it reads, then a turn before it writes,
 * one of these gaps starts the second call between its read and its write, every time.
 */
const PAIR_GAPS: readonly (readonly [string, (() => Promise<void>) | undefined])[] = [
  ['at once', undefined],
  ["once the first call's microtasks have run", microtasksRun],
  ['a setImmediate turn later', afterTurn(() => new Promise((resolve) => setImmediate(resolve)))],
  ['a setTimeout turn later', afterTurn(() => new Promise((resolve) => setTimeout(resolve, 0)))],
]

/** The cards of a pair's owner by role (D, X, and an account's other default). */
type PairModel = Map<string, { holderName: string | null; isDefault: boolean }>

/** One call of a pair, and what it does to the {@link PairModel} when it runs alone. */
interface PairCall {
  readonly name: string
  run(store: CardStore, d: Card, x: Card): Promise<unknown>
  apply(model: PairModel): void
}

/** The default switches of {@link racePairs}, each with the roles of the cards it reads. */
const PAIR_SWITCHES: readonly (PairCall & { readonly reads: readonly string[] })[] = [
  {
    name: 'upsert(X as the default)',
    reads: ['D'],
    run: (store, _, x) => store.upsert({ ...x, holderName: 'switched', isDefault: true }),
    apply: (model) => makeDefault(model, 'X', 'switched'),
  },
  {
    name: 'setDefault(X)',
    reads: ['D', 'X'],
    run: (store, _, x) => store.setDefault(scopeOf(x), x.id),
    apply: (model) => {
      const x = model.get('X')
      if (x) makeDefault(model, 'X', x.holderName)
    },
  },
  {
    name: 'setDefault(null)',
    reads: ['D'],
    run: (store, _, x) => store.setDefault(scopeOf(x), null),
    apply: (model) => {
      for (const card of model.values()) card.isDefault = false
    },
  },
]

/** The writes of {@link racePairs}: of D as the default, or of X, or a deletion, by role. */
const PAIR_WRITES: readonly (PairCall & { readonly role: string })[] = [
  {
    name: 'upsert(D as the default)',
    role: 'D',
    run: (store, d) => store.upsert({ ...d, holderName: 'written', isDefault: true }),
    apply: (model) => makeDefault(model, 'D', 'written'),
  },
  {
    name: 'delete(D)',
    role: 'D',
    run: (store, d) => store.delete(scopeOf(d), d.id),
    apply: (model) => model.delete('D'),
  },
  {
    name: 'upsert(X)',
    role: 'X',
    run: (store, _, x) => store.upsert({ ...x, holderName: 'written', isDefault: false }),
    apply: (model) => model.set('X', { holderName: 'written', isDefault: false }),
  },
  {
    name: 'delete(X)',
    role: 'X',
    run: (store, _, x) => store.delete(scopeOf(x), x.id),
    apply: (model) => model.delete('X'),
  },
]

/** The role of an account's default in another currency than D's: `setDefault(null)` alone clears it. */
const OTHER_DEFAULT = 'the default in eur'

/**
 * Races pairs of writes on fresh owners of `type` and checks that each pair leaves what its two
 * calls run one after the other would, in one order or the other. An owner holds D, its
 * default, and X, of D's currency (and an account a default in another currency, which only
 * `setDefault(null)` may clear). One call of a pair switches the default (`upsert` of X as the
 * default, `setDefault(X)` or `setDefault(null)`), the other writes or deletes a card the switch
 * reads (an `upsert` of D as the default, or of X, each with a holder name of its own, or a
 * `delete`). Each pair runs in both orders, the second call started at each of
 * {@link PAIR_GAPS}, on an owner of its own.
 *
 * A store whose switch (or whose `upsert` of a default) reads rows, waits a `setImmediate` or
 * `setTimeout` turn, then writes what it read, meets the other call between its read and its
 * write in at least one of these, every time, whether it waited nothing, microtasks or one such
 * turn before its read: that call's write is lost, or the card it deleted comes back. In the
 * mixed races that depends on how far apart their calls happen to start and how many turns the
 * store waits, so such a store may pass them. One that waits microtasks alone between its read
 * and its write is caught only when it reads as it is called (the pair started at once).
 */
async function racePairs(t: Context, type: OwnerType): Promise<void> {
  const currency = type === 'account' ? 'usd' : null
  const pairs = PAIR_SWITCHES.flatMap((change) =>
    PAIR_WRITES.filter((write) => change.reads.includes(write.role)).flatMap((write) =>
      [true, false].flatMap((switchFirst) =>
        PAIR_GAPS.map(([gapName, gap]) => {
          const scope = t.scope(type)
          const d = t.card(scope, { currency, isDefault: true })
          const x = t.card(scope, { currency })
          const other =
            type === 'account' ? [t.card(scope, { currency: 'eur', isDefault: true })] : []
          return { change, write, switchFirst, gapName, gap, scope, d, x, other }
        }),
      ),
    ),
  )
  // Every pair's owner in one batch: a write each is what costs (a commit on a durable store).
  await t.store.upsertMany(pairs.flatMap(({ d, x, other }) => [d, x, ...other]))

  const problems: string[] = []
  for (const { change, write, switchFirst, gapName, gap, scope, d, x, other } of pairs) {
    const [first, second] = switchFirst ? [change, write] : [write, change]
    const name = `${first.name}, then ${second.name} ${gapName}`
    const rejected: string[] = []
    const start = (call: PairCall) =>
      (async () => call.run(t.store, d, x))().catch((error: unknown) => {
        rejected.push(`${call.name} rejected: ${describeOutcome(error)}`)
      })
    const running = [start(first)]
    if (gap) await gap()
    running.push(start(second))
    await Promise.all(running)
    if (rejected.length > 0) {
      problems.push(`${name}: ${rejected.join('; ')}`)
      continue
    }

    const roles = new Map([
      [d.id, 'D'],
      [x.id, 'X'],
      ...other.map((card) => [card.id, OTHER_DEFAULT] as const),
    ])
    const holds = (await t.store.listByOwner(scope))
      .map((card) => describePairCard(roles.get(card.id) ?? `card ${card.id}`, card))
      .sort()
    const serial = new Set(
      [
        [first, second],
        [second, first],
      ].map((calls) => {
        const model: PairModel = new Map(
          [d, x, ...other].map((card) => [
            roles.get(card.id)!,
            { holderName: card.holderName, isDefault: card.isDefault },
          ]),
        )
        for (const call of calls) call.apply(model)
        return [...model]
          .map(([role, card]) => describePairCard(role, card))
          .sort()
          .join(', ')
      }),
    )
    if (!serial.has(holds.join(', '))) {
      problems.push(
        `${name}: the owner holds ${holds.join(', ') || 'no card'}; one call after the other leaves ${[...serial].map((outcome) => outcome || 'no card').join(', or ')}`,
      )
    }
  }
  expect(problems, `the ${type}'s pairs of writes`).toEqual([])
}

/** In a {@link PairModel}: `role` becomes the default of D and X's currency, holding `holderName`. */
function makeDefault(model: PairModel, role: string, holderName: string | null): void {
  for (const [other, card] of model) if (other !== OTHER_DEFAULT) card.isDefault = false
  model.set(role, { holderName, isDefault: true })
}

/** A card of a pair's owner, as its outcome is compared. */
function describePairCard(
  role: string,
  card: { holderName: string | null; isDefault: boolean },
): string {
  return `${role} (${JSON.stringify(card.holderName)}${card.isDefault ? ', the default' : ''})`
}

/**
 * Waits until the microtasks queued so far, and those they queue in turn (a thousand deep),
 * have run: what an async call does before it waits for anything.
 */
async function microtasksRun(): Promise<void> {
  for (let tick = 0; tick < 1_000; tick++) await Promise.resolve()
}

/** Waits one `turn`, queued once the microtasks queued before it have run. */
function afterTurn(turn: () => Promise<unknown>): () => Promise<void> {
  return async () => {
    await microtasksRun()
    await turn()
  }
}

/** Whether `stored` holds `card`'s fields, whether or not it is the default. */
function sameData(stored: StoredCard | null | undefined, card: Card): boolean {
  if (!stored) return false
  const { version: _, updatedAt: __, observedAt: ___, isDefault: ____, ...fields } = stored
  const { isDefault: _____, ...expected } = card
  return isDeepStrictEqual(fields, expected)
}

/** The owners `listed` names more than once, each after its first time. */
function repeatedIn(listed: readonly string[]): string[] {
  const seen = new Set<string>()
  return listed.filter((owner) => seen.has(owner) || !seen.add(owner))
}

/**
 * Every call of the store, by name, made after `close()`: reads, and writes that would each
 * change what the store holds for `scope` (whose card `cardId` is its default, and whose note
 * `'key'` is saved when the store keeps notes), or add an owner of the test's provider.
 */
function closedCalls(t: Context, scope: CardScope, cardId: string): [string, () => unknown][] {
  const { store } = t
  const newcomer = t.scope()
  const calls: [string, () => unknown][] = [
    ['get', () => store.get(scope, cardId)],
    ['listByOwner', () => store.listByOwner(scope)],
    ['getDefault', () => store.getDefault(scope)],
    ['upsert', () => store.upsert(t.card(scope, { isDefault: true }))],
    ['upsert (a new owner)', () => store.upsert(t.card(newcomer))],
    ['upsertMany', () => store.upsertMany([t.card(scope), t.card(newcomer)])],
    ['upsertMany (no cards)', () => store.upsertMany([])],
    ['delete', () => store.delete(scope, cardId)],
    ['setDefault', () => store.setDefault(scope, null)],
    ['listOwners', () => store.listOwners(scope.provider)[Symbol.asyncIterator]().next()],
  ]
  const { listByOwners, retirements } = store
  if (listByOwners) calls.push(['listByOwners', () => store.listByOwners?.([scope])])
  if (retirements) {
    calls.push(
      ['retirements.save', () => retirements.save(scope, 'key', [])],
      [
        'retirements.save (a new note)',
        () => retirements.save(scope, 'other-key', [{ cardId, currency: null }]),
      ],
      ['retirements.load', () => retirements.load(scope, 'key')],
      ['retirements.remove', () => retirements.remove(scope, 'key')],
    )
  }
  return calls
}

/**
 * Makes every call of `calls` at once (each begins before the first settles), and describes
 * those that did not reject with a `CardportError` of code `invalid_request`, not retryable.
 */
async function refusalsOf(calls: readonly [string, () => unknown][]): Promise<string[]> {
  const outcomes = calls.map(([name, call]) => [name, refusalOf(call)] as const)
  const notRefused: string[] = []
  for (const [name, outcome] of outcomes) {
    const refusal = await outcome
    if (!isCardportError(refusal, 'invalid_request') || refusal.retryable) {
      notRefused.push(`${name}: ${describeOutcome(refusal)}`)
    }
  }
  return notRefused
}

/** What `call` rejected with; a call that throws instead, or resolves, is described. */
async function refusalOf(call: () => unknown): Promise<unknown> {
  let result: unknown
  try {
    result = call()
  } catch (error) {
    return { outcome: 'threw instead of returning a rejected promise', error }
  }
  try {
    await result
  } catch (error) {
    return error
  }
  return { outcome: 'resolved' }
}

function describeOutcome(outcome: unknown): string {
  if (outcome instanceof Error) {
    const { code, retryable } = outcome as { code?: unknown; retryable?: unknown }
    return `${outcome.name} (code ${String(code)}, retryable ${String(retryable)}): ${outcome.message}`
  }
  return JSON.stringify(outcome, (_, value) =>
    value instanceof Error ? `${value.name}: ${value.message}` : value,
  )
}

function label(scope: CardScope): string {
  return `${scope.provider}/${formatOwner(scope.owner)}`
}

/**
 * A copy of `card` whose `holderName`, or its owner's `id`, throws when read: a card that fails
 * whatever writes it, wherever in a batch it is, whether or not the store validates what it
 * writes.
 */
function unreadable(card: Card, part: 'holderName' | 'owner'): Card {
  const throws = {
    enumerable: true,
    get(): never {
      throw new Error('the conformance suite made this card unreadable, to fail its batch')
    },
  }
  if (part === 'owner') {
    const owner = Object.defineProperty({ type: card.owner.type }, 'id', throws) as Owner
    return { ...card, owner }
  }
  return Object.defineProperty({ ...card }, 'holderName', throws)
}

/** Changes every field of a card a caller was given (or gave), and every object it holds. */
function changeEveryPart(card: Card | StoredCard): void {
  card.holderName = 'changed by the caller'
  card.last4 = '0000'
  card.isDefault = !card.isDefault
  if ('version' in card) card.version += 100
  card.owner.id = 'changed by the caller'
  card.address.city = 'changed by the caller'
  card.checks.cvc = 'fail'
  card.metadata.order_id = 'changed by the caller'
  card.metadata.added_by_the_caller = 'yes'
}

/** The key paths of a row, nested ones included (a JSON document's). */
function keysOf(row: unknown, parent: string[] = []): string[][] {
  if (typeof row !== 'object' || row === null) return []
  if (Array.isArray(row)) return row.flatMap((item) => keysOf(item, parent))
  return Object.entries(row).flatMap(([key, value]) => [
    [...parent, key],
    ...keysOf(value, [...parent, key]),
  ])
}
