import { randomUUID } from 'node:crypto'
import {
  brandFromNumber,
  type Card,
  type CardDetailsInput,
  type CardProvider,
  type CardportError,
  type CardportErrorCode,
  CardSchema,
  type CardUpdate,
  type CreateCardInput,
  encodeCursor,
  isCardportError,
  type ListOptions,
  listAll,
  METADATA_LIMITS,
  type Owner,
  type OwnerType,
  PROVIDER_OPERATIONS,
  type ProviderCapabilities,
  type RequestOptions,
  UPDATABLE_FIELDS,
  type UpdatableField,
} from '@cardport/core'
import { expect } from 'vitest'
import {
  createSecrets,
  expectCardportError,
  expectDefaultConflictMessage,
  expectNoSecrets,
  rejectionOf,
  rememberSecrets,
  type Secrets,
} from './assertions.js'
import type {
  CardProviderFixture,
  CardProviderSuiteOptions,
  CardSource,
  CardSources,
} from './describe-card-provider.js'
import type { SkipCheck } from './register-checks.js'

/** The part of the options a check reads: everything but `setup`. @internal */
export type SuiteData = Omit<CardProviderSuiteOptions, 'setup' | 'name' | 'timeout'>

/**
 * One rule of the provider contract, as a function of a fixture. `describeCardProvider`
 * registers one Vitest test per check; the suite's own tests run checks directly.
 *
 * @internal
 */
export interface CardProviderCheck {
  /** The `describe` block: `'defaults'`, `'listCards'` … */
  readonly group: string
  /** The test's title. */
  readonly title: string
  /** `skip` marks the check skipped, for a rule the capabilities leave the suite no way to check. */
  run(fixture: CardProviderFixture, suite: SuiteData, skip: SkipCheck): Promise<void>
}

const OWNER_TYPES: readonly OwnerType[] = ['customer', 'account']

const MISSING_CARD_ID = 'card_cardportConformanceMissing'

/**
 * The cards of the check that lists many: more than a page of 10 (Stripe's default limit, and a
 * cap an adapter may hit without knowing), few enough to create quickly against an API.
 */
const MANY_CARDS = 25

/** The limit that check pages with: not a divisor of {@link MANY_CARDS}, so its last page is short. */
const MANY_CARDS_LIMIT = 7

/**
 * The checks that apply to a provider with these capabilities: the rules of "What every
 * provider must honour" in the design, and `unsupported_operation` for what it lacks.
 *
 * @internal
 */
export function cardProviderChecks(suite: SuiteData): CardProviderCheck[] {
  const checks: CardProviderCheck[] = []
  /** Registers a check whose `t.owner()` gives an owner of `ownerType`. */
  const checkAs = (
    ownerType: OwnerType,
    group: string,
    title: string,
    run: (t: Context) => Promise<void>,
  ) => {
    checks.push({
      group,
      title,
      run: (fixture, data, skip) => run(createContext(fixture, data, skip, ownerType)),
    })
  }

  const caps = suite.capabilities
  const primary = primaryOwnerType(caps)
  const check = (group: string, title: string, run: (t: Context) => Promise<void>) =>
    checkAs(primary, group, title, run)
  const externalAccounts = caps.externalAccounts && caps.ownerTypes.includes('account')
  // The owner-generic rules run once per owner type, the primary one first (its titles as they
  // are, the others' followed by "(account owners)"), each with the sources of its type.
  const ownerRuns = [primary, ...caps.ownerTypes.filter((type) => type !== primary)].map((type) => {
    // Customers' rules (promotion on delete) hold unless the owner is an external account,
    // whose default is per currency and cannot be deleted.
    const customerLike = !(type === 'account' && externalAccounts)
    return {
      type,
      primary: type === primary,
      suffix: type === primary ? '' : ` (${type} owners)`,
      sources: (type === 'account' && suite.accountSources) || suite.sources,
      customerLike,
      // The rules of defaultPolicy, where they are the owner's rules: an external account's
      // defaults (per currency, its first card) are the external accounts group's, whether
      // accounts are the primary owner type or not.
      runsDefaults: customerLike,
    }
  })
  const updatable = new Set<UpdatableField>(caps.updatableFields)

  check('capabilities', 'the provider declares the capabilities the suite was given', async (t) => {
    expect(t.provider.capabilities).toEqual(caps)
  })
  check(
    'capabilities',
    "the requestCount hook counts the provider's requests (the checks of what sends no request rely on it)",
    async (t) => {
      // Optional: without the hook, the checks of local refusals assert nothing about requests.
      const count = t.fixture.requestCount
      if (count === undefined) return
      // A read of a new owner must reach the provider (the owner is made first: its factory's
      // requests may be counted too). A count that does not move (MSW's `request:start` under
      // an undici adapter, whose requests the undici bridge answers) would let every check of
      // what sends no request pass, whatever the provider sent.
      const owner = await t.owner()
      const before = count()
      if (caps.listCards) await t.provider.listCards(owner, { limit: 1 })
      else if (caps.getCard) {
        await t.fails(() => t.provider.getCard(owner, MISSING_CARD_ID), 'card_not_found')
      } else if (caps.createCard) await t.create(owner, 0)
      else return
      expect(
        count() - before,
        'requests counted by requestCount() across a listCards (getCard, createCard) call',
      ).toBeGreaterThan(0)
    },
  )

  // --- owners -------------------------------------------------------------------------------
  for (const type of caps.ownerTypes) {
    check('owners', `the ${type} owner factory makes a new ${type} on each call`, async (t) => {
      const first = await t.owner(type)
      const second = await t.owner(type)
      expect(first.id, 'two owners from one factory').not.toBe(second.id)
    })
  }
  for (const type of OWNER_TYPES.filter((candidate) => !caps.ownerTypes.includes(candidate))) {
    check(
      'owners',
      `every operation refuses ${type} owners with unsupported_operation, before any request`,
      async (t) => {
        const owner: Owner = { type, id: 'cardport_conformance_owner' }
        await t.sendsNoRequest(async () => {
          for (const [operation, call] of t.operationCalls(owner)) {
            await t.fails(call, 'unsupported_operation', `${operation} with a ${type} owner`)
          }
        })
      },
    )
  }

  // --- unsupported operations ---------------------------------------------------------------
  for (const operation of PROVIDER_OPERATIONS.filter((name) => !caps[name])) {
    check(
      'unsupported operations',
      `${operation} rejects with unsupported_operation (capabilities.${operation} is false)`,
      async (t) => {
        const owner = await t.owner()
        const call = new Map(t.operationCalls(owner)).get(operation)!
        await t.sendsNoRequest(() => t.fails(call, 'unsupported_operation', operation))
      },
    )
  }
  if (!caps.listCards) {
    check(
      'unsupported operations',
      'getDefaultCard rejects with unsupported_operation (capabilities.listCards is false)',
      async (t) => {
        const owner = await t.owner()
        await t.fails(() => t.provider.getDefaultCard(owner), 'unsupported_operation')
      },
    )
  }
  if (caps.createCard && !caps.cardDetails) {
    check(
      'unsupported operations',
      'createCard with raw card details rejects with unsupported_operation (capabilities.cardDetails is false)',
      async (t) => {
        const owner = await t.owner()
        await t.sendsNoRequest(() =>
          t.fails(
            () => t.provider.createCard(owner, { source: t.detailsFor(owner) }),
            'unsupported_operation',
          ),
        )
      },
    )
  }

  // Every card the rules below read is made with createCard. Without it they cannot run, and
  // the suite says so (a skipped test) rather than turn green over operations it never called.
  const needCards = [
    ...PROVIDER_OPERATIONS.filter((name) => name !== 'createCard' && caps[name]),
    ...(caps.listCards ? ['getDefaultCard'] : []),
  ]
  if (!caps.createCard && needCards.length > 0) {
    const names = `${needCards.slice(0, -1).join(', ')}${needCards.length > 1 ? ' and ' : ''}${needCards.at(-1)}`
    check(
      'createCard',
      `not checked: the rules of ${names} (the suite makes its cards with createCard)`,
      async (t) =>
        t.skip('capabilities.createCard is false: test these operations with cards of your own'),
    )
  }

  if (caps.createCard) {
    for (const run of ownerRuns) {
      const check = (group: string, title: string, body: (t: Context) => Promise<void>) =>
        checkAs(run.type, group, `${title}${run.suffix}`, body)
      const primarySources = run.sources
      const { customerLike } = run
      // An external account's defaults are the external accounts group's: none of these.
      const hasDefaults = caps.defaultPolicy !== 'none' && run.runsDefaults
      const latestCard = caps.defaultPolicy === 'latest-card' && run.runsDefaults
      // --- createCard -------------------------------------------------------------------------
      check(
        'createCard',
        'creates an active card from a source, as CardSchema reads it',
        async (t) => {
          const owner = await t.owner()
          const card = await t.create(owner, 0)
          expect(card.status).toBe('active')
          expect(card.metadata).toEqual({})
        },
      )

      if (caps.cardDetails) {
        check(
          'createCard',
          'creates a card from raw card details, keeping neither the number nor the CVC',
          async (t) => {
            const owner = await t.owner()
            const details = t.detailsFor(owner)
            const digits = details.number.replace(/[\s-]/g, '')
            const card = await t.create(owner, 0, { source: details })
            expect(card).toMatchObject({
              brand: brandFromNumber(digits),
              last4: digits.slice(-4),
              expMonth: details.expMonth,
              expYear: details.expYear,
            })
            if (details.holderName !== undefined) expect(card.holderName).toBe(details.holderName)
            if (caps.getCard) t.expectCard(await t.provider.getCard(owner, card.id), owner)
          },
        )
      }

      check('createCard', 'keeps the metadata given at creation', async (t) => {
        const owner = await t.owner()
        const metadata = { order_id: '6735', plan: 'pro' }
        const card = await t.create(owner, 0, { metadata })
        expect(card.metadata).toEqual(metadata)
        if (caps.getCard)
          expect((await t.provider.getCard(owner, card.id)).metadata).toEqual(metadata)
      })

      check(
        'createCard',
        'accepts metadata at the limits: 50 keys, 40-character keys, 500-character values',
        async (t) => {
          const owner = await t.owner()
          const metadata = metadataAtLimits()
          const card = await t.create(owner, 0, { metadata })
          expect(card.metadata).toEqual(metadata)
        },
      )

      check(
        'createCard',
        'refuses metadata over the limits with invalid_request, before any request',
        async (t) => {
          const owner = await t.owner()
          await t.sendsNoRequest(async () => {
            for (const [what, metadata] of metadataOverLimits()) {
              await t.fails(
                () => t.provider.createCard(owner, { ...t.inputFor(owner, 0), metadata }),
                'invalid_request',
                `createCard with ${what}`,
              )
            }
          })
          if (caps.listCards) expect(await t.idsOf(owner)).toEqual([])
        },
      )

      check('createCard', 'the same idempotency key twice makes one card', async (t) => {
        const owner = await t.owner()
        const idempotencyKey = `cardport-conformance-${randomUUID()}`
        const first = await t.create(owner, 0, {}, { idempotencyKey })
        const second = await t.create(owner, 0, {}, { idempotencyKey })
        expect(second.id, 'the replayed create').toBe(first.id)
        if (caps.listCards) expect(await t.idsOf(owner)).toEqual([first.id])
      })

      check(
        'createCard',
        "an idempotency key reused for another owner never gives it the first owner's card",
        async (t) => {
          const owner = await t.owner()
          const other = await t.owner()
          const idempotencyKey = `cardport-conformance-${randomUUID()}`
          const first = await t.create(owner, 0, {}, { idempotencyKey })
          // Another owner is another request: idempotency_conflict, or a card of its own.
          const second = await createOrConflict(
            t,
            other,
            t.inputFor(other, 0),
            idempotencyKey,
            'the key reused for another owner',
          )
          if (second) {
            t.expectCard(second, other)
            expect(second.id, "the other owner's card").not.toBe(first.id)
          }
          if (caps.listCards) {
            expect(await t.idsOf(owner)).toEqual([first.id])
            expect(await t.idsOf(other)).toEqual(second ? [second.id] : [])
          }
        },
      )

      check(
        'createCard',
        'an idempotency key reused for another card never answers with the first card',
        async (t) => {
          const owner = await t.owner()
          const made: string[] = []
          // Under a key reused, another source with other metadata, and the same source with other
          // metadata, are other requests: Stripe answers idempotency_error. A replay of the first
          // card would tell the caller a card (or its metadata) was saved that never was; a replay
          // log comparing the source alone fails the second.
          const others = [
            [1, 'another card'],
            [0, 'the same source with other metadata'],
          ] as const
          for (const [source, what] of others) {
            const idempotencyKey = `cardport-conformance-${randomUUID()}`
            const first = await t.create(
              owner,
              0,
              { metadata: { attempt: 'first' } },
              { idempotencyKey },
            )
            made.push(first.id)
            const other = await createOrConflict(
              t,
              owner,
              { ...t.inputFor(owner, source), metadata: { attempt: 'other' } },
              idempotencyKey,
              `the key reused for ${what}`,
            )
            if (other) {
              t.expectCard(other, owner)
              expect(other.id, `the card of ${what}`).not.toBe(first.id)
              expect(other.metadata, `the metadata of ${what}`).toEqual({ attempt: 'other' })
              made.push(other.id)
            }
          }
          if (caps.listCards) expect(await t.idsOf(owner)).toEqual(made.sort())
        },
      )

      const refusals = [
        { field: 'declined', code: 'card_declined' },
        { field: 'invalid', code: 'card_invalid' },
      ] as const
      for (const { field, code } of refusals) {
        const source = primarySources[field]
        if (source === undefined) continue
        check(
          'createCard',
          `a ${field} source rejects with ${code} and adds no card`,
          async (t) => {
            const owner = await t.owner()
            await t.fails(
              () => t.provider.createCard(owner, { ...t.inputFor(owner, 0), source }),
              code,
            )
            if (caps.listCards) expect(await t.idsOf(owner)).toEqual([])
          },
        )
      }

      check(
        'createCard',
        'a source the provider does not know rejects with invalid_request, not card_not_found, and adds no card',
        async (t) => {
          // CardSync.setDefaultCard reads card_not_found from createCard as "the card this
          // idempotency key made is gone" and tries the next key of its chain (32 of them): an
          // unknown token answered so is sent again and again, and the caller told the wrong thing.
          const owner = await t.owner()
          const source = primarySources.unknown ?? t.missingCardId
          await t.fails(
            () => t.provider.createCard(owner, { ...t.inputFor(owner, 0), source }),
            'invalid_request',
            `createCard with the unknown source ${JSON.stringify(source)}`,
          )
          if (caps.listCards) expect(await t.idsOf(owner)).toEqual([])
        },
      )

      // --- defaults ---------------------------------------------------------------------------
      if (hasDefaults) {
        check(
          'defaults',
          `the first card of an owner becomes its default (defaultPolicy '${caps.defaultPolicy}')`,
          async (t) => {
            const owner = await t.owner()
            const first = await t.create(owner, 0)
            expect(first.isDefault, 'the first card, as created').toBe(true)
            await t.expectDefault(owner, first.id, [first.id])
          },
        )
        check(
          'defaults',
          `the first card of an owner becomes its default even with makeDefault: false (defaultPolicy '${caps.defaultPolicy}')`,
          async (t) => {
            // makeDefault: true forces the default; false asks nothing (CreateCardInput): an owner
            // with no default still gets one, as rule 1 says.
            const owner = await t.owner()
            const first = await t.create(owner, 0, { makeDefault: false })
            expect(first.isDefault, 'the first card, created with makeDefault: false').toBe(true)
            await t.expectDefault(owner, first.id, [first.id])
          },
        )
        if (latestCard) {
          check(
            'defaults',
            "every new card becomes the owner's only default, whatever makeDefault says (defaultPolicy 'latest-card')",
            async (t) => {
              const owner = await t.owner()
              const first = await t.create(owner, 0)
              const second = await t.create(owner, 1)
              expect(second.isDefault, 'the second card, as created').toBe(true)
              await t.expectDefault(owner, second.id, [first.id, second.id])
              const third = await t.create(owner, 2, { makeDefault: false })
              expect(third.isDefault, 'a card created with makeDefault: false').toBe(true)
              await t.expectDefault(owner, third.id, [first.id, second.id, third.id])
            },
          )
        } else {
          check('defaults', 'a second card leaves the default alone', async (t) => {
            const owner = await t.owner()
            const first = await t.create(owner, 0)
            const second = await t.create(owner, 1)
            expect(second.isDefault, 'the second card, as created').toBe(false)
            await t.expectDefault(owner, first.id, [first.id, second.id])
          })
          check('defaults', 'makeDefault makes a later card the only default', async (t) => {
            const owner = await t.owner()
            const first = await t.create(owner, 0)
            const second = await t.create(owner, 1, { makeDefault: true })
            expect(second.isDefault, 'the card created with makeDefault').toBe(true)
            await t.expectDefault(owner, second.id, [first.id, second.id])
          })
        }
      } else if (run.runsDefaults) {
        check('defaults', "cards never become the default (defaultPolicy 'none')", async (t) => {
          const owner = await t.owner()
          const first = await t.create(owner, 0)
          const second = await t.create(owner, 1)
          expect([first.isDefault, second.isDefault]).toEqual([false, false])
          await t.expectDefault(owner, null, [first.id, second.id])
        })
      }

      // --- getCard ----------------------------------------------------------------------------
      if (caps.getCard) {
        check('getCard', 'returns the card as createCard returned it', async (t) => {
          const owner = await t.owner()
          const created = await t.create(owner, 0, { metadata: { source: 'conformance' } })
          const fetched = await t.provider.getCard(owner, created.id)
          t.expectCard(fetched, owner)
          expect(fetched).toEqual(created)
        })
        check(
          'getCard',
          'a card the owner does not hold rejects with card_not_found',
          async (t) => {
            const owner = await t.owner()
            const other = await t.owner()
            const othersCard = await t.create(other, 0)
            await t.fails(() => t.provider.getCard(owner, t.missingCardId), 'card_not_found')
            await t.fails(() => t.provider.getCard(owner, othersCard.id), 'card_not_found')
          },
        )
      }

      // --- listCards --------------------------------------------------------------------------
      if (caps.listCards) {
        check(
          'listCards',
          'pages with limit and an opaque cursor until every card is listed once',
          async (t) => {
            const owner = await t.owner()
            const expected = (await t.createMany(owner, 3)).map((card) => card.id).sort()

            const first = await t.provider.listCards(owner, { limit: 1 })
            expect(first.data, 'the first page of limit 1').toHaveLength(1)
            expect(first.hasMore, 'hasMore of the first page of limit 1').toBe(true)
            for (const limit of [1, 2]) {
              expect(await t.walk(owner, limit), `the cards listed with limit ${limit}`).toEqual(
                expected,
              )
            }
            const whole = await t.provider.listCards(owner, { limit: 100 })
            expect(whole.data.map((card) => card.id).sort()).toEqual(expected)
            expect(whole.hasMore).toBe(false)
            expect(whole.nextCursor).toBeNull()
            // A full page that holds the last card says no more follow: a provider that guesses
            // "more" from a full page sends callers to an empty page (one request wasted per list).
            const exact = await t.provider.listCards(owner, { limit: expected.length })
            expect(exact.data.map((card) => card.id).sort()).toEqual(expected)
            expect(
              exact.hasMore,
              `hasMore of a page of limit ${expected.length} holding every card`,
            ).toBe(false)
            expect(exact.nextCursor).toBeNull()
          },
        )
        check(
          'listCards',
          'an owner without cards has one empty page and no default',
          async (t) => {
            const owner = await t.owner()
            expect(await t.provider.listCards(owner)).toEqual({
              data: [],
              hasMore: false,
              nextCursor: null,
            })
            expect(await t.provider.getDefaultCard(owner)).toBeNull()
          },
        )
        check(
          'listCards',
          'a limit outside 1–100 rejects with invalid_request, before any request',
          async (t) => {
            const owner = await t.owner()
            await t.sendsNoRequest(async () => {
              for (const limit of [0, 101, -1, 1.5]) {
                await t.fails(
                  () => t.provider.listCards(owner, { limit }),
                  'invalid_request',
                  `listCards with limit ${limit}`,
                )
              }
            })
          },
        )
        check(
          'listCards',
          'a cursor the provider did not make rejects with invalid_request',
          async (t) => {
            const owner = await t.owner()
            if (caps.createCard) await t.createMany(owner, 2)
            const foreign = encodeCursor('cardport-conformance-other', {
              offset: 1,
              after: 'card_1',
            })
            for (const cursor of ['not-a-cursor', foreign]) {
              await t.fails(
                () => t.provider.listCards(owner, { limit: 1, cursor }),
                'invalid_request',
                `listCards with the cursor ${cursor}`,
              )
            }
          },
        )
        check('listCards', "another owner's cursor rejects with invalid_request", async (t) => {
          const owner = await t.owner()
          const other = await t.owner()
          await t.createMany(owner, 2)
          await t.createMany(other, 2)
          // Taken for the other owner's list, it would page that list from a place in this one.
          const { nextCursor } = await t.provider.listCards(owner, { limit: 1 })
          expect(nextCursor, 'the nextCursor of a first page of limit 1').toEqual(
            expect.any(String),
          )
          await t.fails(
            () => t.provider.listCards(other, { limit: 1, cursor: nextCursor! }),
            'invalid_request',
            "listCards of another owner with this owner's cursor",
          )
        })
        check(
          'listCards',
          'listAll streams every card across pages, one page at a time',
          async (t) => {
            const owner = await t.owner()
            const expected = (await t.createMany(owner, 3)).map((card) => card.id).sort()
            let requests = 0
            const counting = {
              name: t.provider.name,
              listCards: (listOwner: Owner, options?: ListOptions) => {
                requests += 1
                return t.provider.listCards(listOwner, options)
              },
            }
            const iterator = listAll(counting, owner, { pageSize: 1 })[Symbol.asyncIterator]()
            const first = await iterator.next()
            expect(first.done).toBe(false)
            expect(requests, 'pages fetched before the first card is yielded').toBe(1)
            const ids = [(first.value as Card).id]
            for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
              t.expectCard(next.value, owner)
              ids.push(next.value.id)
            }
            expect(ids.sort()).toEqual(expected)
            expect(requests, 'pages fetched for 3 cards with pageSize 1').toBeGreaterThanOrEqual(3)
          },
        )
        check(
          'listCards',
          `lists all of an owner's ${MANY_CARDS} cards, each once, in pages of ${MANY_CARDS_LIMIT} and through listAll`,
          async (t) => {
            // The checks above make 3 cards: a provider (or a vendor call) that stops at a fixed
            // count, such as a page of 10 it never follows, passes them all.
            const owner = await t.owner()
            const expected = (await t.createMany(owner, MANY_CARDS)).map((card) => card.id).sort()
            expect(
              await t.walk(owner, MANY_CARDS_LIMIT),
              `the cards listed with limit ${MANY_CARDS_LIMIT}`,
            ).toEqual(expected)
            for (const pageSize of [MANY_CARDS_LIMIT, 100]) {
              const ids: string[] = []
              for await (const card of listAll(t.provider, owner, { pageSize })) {
                t.expectCard(card, owner)
                expect(ids, `cards listAll gave before, with pageSize ${pageSize}`).not.toContain(
                  card.id,
                )
                ids.push(card.id)
              }
              expect(ids.sort(), `the cards listAll gave with pageSize ${pageSize}`).toEqual(
                expected,
              )
            }
          },
        )
      }

      // --- updateCard -------------------------------------------------------------------------
      // Driven by `updatableFields`: what is listed must update; what is not must be refused by
      // the core before any request (the marketplace's cards are fixed once tokenized).
      if (caps.updateCard) {
        // `t.update` reads the card back before and after each update: what the patch does not
        // name must be as it was. A card made from a token holds no name nor address, and no
        // metadata unless given some: each check below works on a card with metadata and, set by
        // a first update, whichever of the address and name it does not check, so that an
        // adapter that sends the whole card back, wiping what a patch leaves out, fails.
        if (updatable.has('address')) {
          check(
            'updateCard',
            'updates the billing address, and nothing the patch does not name',
            async (t) => {
              const { owner, card } = await filledCard(t, 'address')
              const updated = await t.update(owner, card.id, samplePatch('address', card))
              expect(updated.address).toEqual(CONFORMANCE_ADDRESS)
              // An address field left out is kept, a null one cleared (CardUpdate).
              const moved = await t.update(owner, card.id, {
                address: { city: 'Shelbyville', line2: null },
              })
              expect(moved.address, 'the address after a patch of city and line2').toEqual({
                ...CONFORMANCE_ADDRESS,
                city: 'Shelbyville',
                line2: null,
              })
            },
          )
        }
        if (updatable.has('expiry')) {
          check(
            'updateCard',
            'updates the expiry, and nothing the patch does not name',
            async (t) => {
              const { owner, card } = await filledCard(t, 'expiry')
              const expiry = samplePatch('expiry', card)
              const updated = await t.update(owner, card.id, expiry)
              expect(updated).toMatchObject(expiry)
            },
          )
        }
        if (updatable.has('holderName')) {
          check(
            'updateCard',
            'updates the cardholder name, and nothing the patch does not name',
            async (t) => {
              const { owner, card } = await filledCard(t, 'holderName')
              const updated = await t.update(owner, card.id, samplePatch('holderName', card))
              expect(updated.holderName).toBe('Jenny Rosen')
            },
          )
        }
        if (updatable.has('metadata')) {
          check(
            'updateCard',
            'merges metadata, and an empty value unsets its key; nothing the patch does not name changes',
            async (t) => {
              const { owner, card } = await filledCard(t, 'metadata', { keep: '1', drop: '2' })
              const updated = await t.update(owner, card.id, {
                metadata: { drop: '', added: '3' },
              })
              expect(updated.metadata).toEqual({ keep: '1', added: '3' })
            },
          )
          check(
            'updateCard',
            'refuses metadata over the limits with invalid_request, before any request',
            async (t) => {
              const owner = await t.owner()
              const card = await t.create(owner, 0, { metadata: { keep: '1' } })
              await t.sendsNoRequest(async () => {
                for (const [what, metadata] of metadataOverLimits()) {
                  await t.fails(
                    () => t.provider.updateCard(owner, card.id, { metadata }),
                    'invalid_request',
                    `updateCard with ${what}`,
                  )
                }
              })
              if (caps.getCard) {
                expect((await t.provider.getCard(owner, card.id)).metadata).toEqual({ keep: '1' })
              }
            },
          )
          check(
            'updateCard',
            `refuses with invalid_request an update that would leave a card more than ${METADATA_LIMITS.maxKeys} metadata keys, changing nothing`,
            async (t) => {
              // Each patch is within the limits alone: the card's metadata after it is not. Stripe
              // refuses it; a provider without the limit must be refused it by its adapter (the
              // limits apply to what callers send to every provider), which may read the card first.
              const owner = await t.owner()
              const half = Math.floor(METADATA_LIMITS.maxKeys / 2) + 5
              const card = await t.create(owner, 0, { metadata: metadataKeys('a', half) })
              const over = METADATA_LIMITS.maxKeys - half + 1
              await t.fails(
                () => t.provider.updateCard(owner, card.id, { metadata: metadataKeys('b', over) }),
                'invalid_request',
                `updateCard adding ${over} metadata keys to a card holding ${half}`,
              )
              if (caps.getCard) {
                expect((await t.provider.getCard(owner, card.id)).metadata).toEqual(card.metadata)
              }
              // Exactly at the limit after the update, or under it with keys unset in the same
              // patch: accepted.
              const full = await t.update(owner, card.id, { metadata: metadataKeys('b', over - 1) })
              expect(Object.keys(full.metadata)).toHaveLength(METADATA_LIMITS.maxKeys)
              const swapped = await t.update(owner, card.id, {
                metadata: { ...metadataKeys('c', 2), a0: '', a1: '' },
              })
              expect(Object.keys(swapped.metadata)).toHaveLength(METADATA_LIMITS.maxKeys)
            },
          )
        }
        for (const field of UPDATABLE_FIELDS.filter((candidate) => !updatable.has(candidate))) {
          check(
            'updateCard',
            `refuses to change ${field} with unsupported_operation naming it, before any request (not in capabilities.updatableFields)`,
            async (t) => {
              const owner = await t.owner()
              const card = await t.create(owner, 0)
              const patches = [samplePatch(field, card)]
              // With a listed field beside it, the patch is refused whole: nothing is half-applied.
              if (updatable.size > 0) patches.push({ ...t.listedPatch(card), ...patches[0] })
              await t.sendsNoRequest(async () => {
                for (const patch of patches) {
                  const what = `updateCard with ${Object.keys(patch).join(', ')}`
                  const error = await t.fails(
                    () => t.provider.updateCard(owner, card.id, patch),
                    'unsupported_operation',
                    what,
                  )
                  expect(error.message, `the message of ${what}`).toContain(field)
                }
              })
              if (caps.getCard) expect(await t.provider.getCard(owner, card.id)).toEqual(card)
            },
          )
        }
        check(
          'updateCard',
          'an update leaves the default where it is, whether it changes another card or the default',
          async (t) => {
            // Rule 1: with a default, the default stays unless the caller asks otherwise. An update
            // asks nothing of the default: a provider that sends the whole card back (clearing its
            // default flag) or re-creates it would drop or move the default unseen by the checks
            // above, whose owners hold one card.
            const owner = await t.owner()
            const [first, second] = await t.createMany(owner, 2)
            const ids = [first!.id, second!.id]
            // The default after two cards, as the policy has it; `other` is the card that is not.
            // An external account's default is its currency's first card, whatever the policy
            // of customers' cards.
            const latest = customerLike && caps.defaultPolicy === 'latest-card'
            const [kept, other] = latest ? [second!, first!] : [first!, second!]
            const expected = customerLike && caps.defaultPolicy === 'none' ? null : kept.id
            await t.expectDefault(owner, expected, ids)
            await t.update(owner, other.id, t.listedPatch(other))
            await t.expectDefault(owner, expected, ids)
            await t.update(owner, kept.id, t.listedPatch(kept))
            await t.expectDefault(owner, expected, ids)
          },
        )
        check(
          'updateCard',
          "a card the owner does not hold rejects with card_not_found, and the owner's cards and default stay as they were",
          async (t) => {
            await t.expectNotHeld((owner, cardId) =>
              t.provider.updateCard(owner, cardId, t.listedPatch()),
            )
          },
        )
      }

      // --- deleteCard -------------------------------------------------------------------------
      if (caps.deleteCard) {
        check('deleteCard', 'removes the card', async (t) => {
          const owner = await t.owner()
          const [kept, removed] = await t.createMany(owner, 2)
          await expect(t.provider.deleteCard(owner, removed!.id)).resolves.toBeUndefined()
          if (caps.getCard) {
            await t.fails(() => t.provider.getCard(owner, removed!.id), 'card_not_found')
          }
          if (caps.listCards) expect(await t.idsOf(owner)).toEqual([kept!.id])
        })
        check(
          'deleteCard',
          "a card the owner does not hold rejects with card_not_found, and the owner's cards and default stay as they were",
          async (t) => {
            await t.expectNotHeld((owner, cardId) => t.provider.deleteCard(owner, cardId))
          },
        )
        // Both policies keep a default the caller did not touch: a deletion of another card
        // leaves it where it is.
        const keepsDefault =
          caps.defaultPolicy === 'first-card' || caps.defaultPolicy === 'caller-chosen'
        if (keepsDefault && customerLike) {
          check(
            'deleteCard',
            'deleting a card that is not the default keeps the default',
            async (t) => {
              const owner = await t.owner()
              const [first, middle, last] = await t.createMany(owner, 3)
              // The middle card first: a provider that hands the default to the most recently
              // added card on every deletion, not only the default's, moves it to `last`.
              await t.provider.deleteCard(owner, middle!.id)
              await t.expectDefault(owner, first!.id, [first!.id, last!.id])
              await t.provider.deleteCard(owner, last!.id)
              await t.expectDefault(owner, first!.id, [first!.id])
            },
          )
        }
        if (caps.defaultPolicy === 'caller-chosen' && customerLike) {
          check(
            'deleteCard',
            "deleting the default leaves no default: nothing is promoted, and the next card created becomes the default (defaultPolicy 'caller-chosen')",
            async (t) => {
              const owner = await t.owner()
              const [first, second] = await t.createMany(owner, 2)
              await t.expectDefault(owner, first!.id, [first!.id, second!.id])
              // A provider that picks a card here makes a default no caller chose.
              await t.provider.deleteCard(owner, first!.id)
              await t.expectDefault(owner, null, [second!.id])
              // Rule 1: the owner holds a card but no default, so the next card becomes it (a
              // provider that makes only an owner's very first card the default leaves it none).
              const third = await t.create(owner, 2)
              expect(third.isDefault, 'a card created for an owner with cards but no default').toBe(
                true,
              )
              await t.expectDefault(owner, third.id, [second!.id, third.id])
            },
          )
        }
        if (caps.defaultPolicy === 'first-card' && customerLike) {
          check(
            'deleteCard',
            'deleting the default makes the most recently added remaining card the default',
            async (t) => {
              const owner = await t.owner()
              const first = await t.create(owner, 0)
              // The middle card is the default, so "most recently added" and "next in line" differ.
              const middle = await t.create(owner, 1, { makeDefault: true })
              const last = await t.create(owner, 2)
              await t.expectDefault(owner, middle.id, [first.id, middle.id, last.id])
              await t.provider.deleteCard(owner, middle.id)
              await t.expectDefault(owner, last.id, [first.id, last.id])
              await t.provider.deleteCard(owner, last.id)
              await t.expectDefault(owner, first.id, [first.id])
            },
          )
          check(
            'deleteCard',
            'deleting the last card leaves no default, and the next card created becomes the default',
            async (t) => {
              const owner = await t.owner()
              const only = await t.create(owner, 0)
              await t.provider.deleteCard(owner, only.id)
              await t.expectDefault(owner, null, [])
              if (caps.listCards) expect(await t.idsOf(owner)).toEqual([])
              // Rule 1 again: the owner has no default. A provider that remembers the owner once
              // had cards (or a default) must not leave the new card without the default.
              const next = await t.create(owner, 1)
              expect(next.isDefault, 'a card created for an owner emptied of its cards').toBe(true)
              await t.expectDefault(owner, next.id, [next.id])
            },
          )
        }
        if (latestCard) {
          check(
            'deleteCard',
            "deleting the default falls back to the most recently added valid card; deleting the last leaves no default (defaultPolicy 'latest-card')",
            async (t) => {
              const owner = await t.owner()
              const [a, b, c, d] = await t.createMany(owner, 4)
              // With invalidation, an invalid card is skipped on the way back.
              if (caps.invalidateCard) await t.provider.invalidateCard(owner, b!.id)
              await t.provider.deleteCard(owner, c!.id)
              await t.expectDefault(owner, d!.id, [a!.id, b!.id, d!.id])
              await t.provider.deleteCard(owner, d!.id)
              const fallback = caps.invalidateCard ? a! : b!
              await t.expectDefault(owner, fallback.id, [a!.id, b!.id])
              await t.provider.deleteCard(owner, fallback.id)
              const left = caps.invalidateCard ? b! : a!
              await t.expectDefault(owner, caps.invalidateCard ? null : a!.id, [left.id])
              await t.provider.deleteCard(owner, left.id)
              await t.expectDefault(owner, null, [])
              if (caps.listCards) expect(await t.idsOf(owner)).toEqual([])
            },
          )
        }
      }

      // --- setDefaultCard ---------------------------------------------------------------------
      if (caps.setDefaultCard) {
        if (hasDefaults) {
          check('setDefaultCard', "makes a card the owner's only default", async (t) => {
            const owner = await t.owner()
            const [first, second] = await t.createMany(owner, 2)
            const chosen = await t.provider.setDefaultCard(owner, second!.id)
            t.expectCard(chosen, owner)
            expect(chosen).toMatchObject({ id: second!.id, isDefault: true })
            await t.expectDefault(owner, second!.id, [first!.id, second!.id])
            await t.provider.setDefaultCard(owner, first!.id)
            await t.expectDefault(owner, first!.id, [first!.id, second!.id])
          })
        }
        check(
          'setDefaultCard',
          "a card the owner does not hold rejects with card_not_found, and the owner's cards and default stay as they were",
          async (t) => {
            await t.expectNotHeld((owner, cardId) => t.provider.setDefaultCard(owner, cardId))
          },
        )
      }

      // --- invalidateCard ---------------------------------------------------------------------
      if (caps.invalidateCard) {
        check('invalidateCard', 'marks a card invalid for good', async (t) => {
          const owner = await t.owner()
          const card = await t.create(owner, 0)
          const invalid = await t.provider.invalidateCard(owner, card.id)
          t.expectCard(invalid, owner)
          expect(invalid).toMatchObject({ id: card.id, status: 'invalid' })
          // Nothing revives it: invalidating again, or updating it, leaves it invalid.
          await t.staysInvalid(t.provider.invalidateCard(owner, card.id), 'a second invalidateCard')
          if (caps.updateCard) {
            await t.staysInvalid(
              t.provider.updateCard(owner, card.id, t.listedPatch(card)),
              'an update',
            )
          }
          if (caps.getCard) {
            expect((await t.provider.getCard(owner, card.id)).status).toBe('invalid')
          }
          if (caps.listCards) {
            const listed = (await t.provider.listCards(owner, { limit: 100 })).data
            expect(listed.find((entry) => entry.id === card.id)?.status).toBe('invalid')
          }
        })
        if (latestCard) {
          check(
            'invalidateCard',
            "invalidating the default falls back to the most recently added valid card; with none left there is no default (defaultPolicy 'latest-card')",
            async (t) => {
              const owner = await t.owner()
              const [a, b, c, d] = await t.createMany(owner, 4)
              const all = [a!.id, b!.id, c!.id, d!.id]
              await t.expectDefault(owner, d!.id, all)
              // A card that is not the default: the default stays.
              await t.provider.invalidateCard(owner, c!.id)
              await t.expectDefault(owner, d!.id, all)
              // The default: the most recently added card still valid takes over (b, not c).
              await t.provider.invalidateCard(owner, d!.id)
              await t.expectDefault(owner, b!.id, all)
              await t.provider.invalidateCard(owner, b!.id)
              await t.expectDefault(owner, a!.id, all)
              await t.provider.invalidateCard(owner, a!.id)
              await t.expectDefault(owner, null, all)
            },
          )
        }
        if (caps.defaultPolicy === 'first-card' && customerLike) {
          check(
            'invalidateCard',
            "invalidating the default makes the most recently added card still valid the default; with none valid left there is none, and the next card created becomes it (defaultPolicy 'first-card')",
            async (t) => {
              const owner = await t.owner()
              const [a, b, c, d] = await t.createMany(owner, 4)
              const all = [a!.id, b!.id, c!.id, d!.id]
              await t.expectDefault(owner, a!.id, all)
              // A card that is not the default: the default stays.
              await t.provider.invalidateCard(owner, d!.id)
              await t.expectDefault(owner, a!.id, all)
              // The default: the most recently added card still valid takes over (c, not d).
              await t.provider.invalidateCard(owner, a!.id)
              await t.expectDefault(owner, c!.id, all)
              await t.provider.invalidateCard(owner, c!.id)
              await t.expectDefault(owner, b!.id, all)
              await t.provider.invalidateCard(owner, b!.id)
              await t.expectDefault(owner, null, all)
              // Rule 1: the owner holds only invalid cards, so it has no default.
              const next = await t.create(owner, 4)
              expect(
                next.isDefault,
                'a card created for an owner whose cards are all invalid',
              ).toBe(true)
              await t.expectDefault(owner, next.id, [...all, next.id])
            },
          )
        }
        if (caps.defaultPolicy === 'caller-chosen' && customerLike) {
          check(
            'invalidateCard',
            "invalidating the default leaves no default: nothing is promoted, and the next card created becomes the default (defaultPolicy 'caller-chosen')",
            async (t) => {
              const owner = await t.owner()
              const [first, second, third] = await t.createMany(owner, 3)
              const all = [first!.id, second!.id, third!.id]
              await t.expectDefault(owner, first!.id, all)
              // A card that is not the default: the default stays.
              await t.provider.invalidateCard(owner, third!.id)
              await t.expectDefault(owner, first!.id, all)
              // A provider that picks a card here makes a default no caller chose.
              await t.provider.invalidateCard(owner, first!.id)
              await t.expectDefault(owner, null, all)
              const next = await t.create(owner, 3)
              expect(next.isDefault, 'a card created for an owner with cards but no default').toBe(
                true,
              )
              await t.expectDefault(owner, next.id, [...all, next.id])
            },
          )
        }
        check(
          'invalidateCard',
          "a card the owner does not hold rejects with card_not_found, and the owner's cards and default stay as they were",
          async (t) => {
            await t.expectNotHeld((owner, cardId) => t.provider.invalidateCard(owner, cardId))
          },
        )
      }

      // --- errors -----------------------------------------------------------------------------
      // Every error a check provokes is searched for secrets; these two provoke errors about raw
      // details. Without `cardDetails`, the unsupported-operation check does the same.
      // For an owner type other than the primary one, only when its sources give refused details.
      if (caps.cardDetails && (run.primary || refusedDetails(run.sources).length > 0)) {
        check(
          'errors',
          'a refusal of raw details by the provider holds neither the card number nor the CVC (the details reach the adapter)',
          async (t) => {
            // The core refuses expired, non-Luhn and wrong-length details before the adapter runs
            // (the check below), and its CardportError masks card numbers, not CVCs: only details
            // the provider itself refuses show whether the adapter's own error echoes the CVC.
            const owner = await t.owner()
            const refused = refusedDetails(t.sources(owner))
            if (refused.length === 0) {
              t.skip(
                'no raw details the provider refuses: give sources.declinedDetails (card details that pass local validation and the provider declines) so that this check reaches the adapter',
              )
            }
            for (const { what, source, code } of refused) {
              rememberSecrets(t.secrets, source)
              const error = await rejectionOf(
                () => t.provider.createCard(owner, { ...t.inputFor(owner, 0), source }),
                `createCard with ${what}`,
              )
              if (isCardportError(error, 'invalid_request')) {
                throw new Error(
                  `createCard with ${what} was refused with invalid_request, not ${code}: the core's local validation refuses details before the adapter runs, so the check never reached the adapter; give details that pass it (a valid number, expiry and CVC length) and that the provider declines`,
                )
              }
              expectCardportError(
                error,
                code,
                t.provider.name,
                t.secrets,
                `createCard with ${what}`,
              )
            }
            if (caps.listCards) expect(await t.idsOf(owner)).toEqual([])
          },
        )
        check(
          'errors',
          "the core's refusals of raw details (expired, failing the Luhn check, a CVC of the wrong length) hold neither the card number nor the CVC",
          async (t) => {
            const owner = await t.owner()
            const details = t.detailsFor(owner)
            const digits = details.number.replace(/[\s-]/g, '')
            const lastDigit = Number(digits.at(-1))
            const notLuhn = `${digits.slice(0, -1)}${(lastDigit + 1) % 10}`
            const cvcLength = brandFromNumber(digits) === 'amex' ? 4 : 3
            const wrongCvc = cvcLength === 4 ? '737' : '7370'
            const refused: [string, CardDetailsInput][] = [
              [
                'expired details',
                { ...details, expMonth: 1, expYear: new Date().getUTCFullYear() - 1 },
              ],
              ['a number failing the Luhn check', { ...details, number: notLuhn }],
              ['a CVC of the wrong length', { ...details, cvc: wrongCvc }],
            ]
            for (const [what, source] of refused) {
              rememberSecrets(t.secrets, source)
              await t.fails(
                () => t.provider.createCard(owner, { ...t.inputFor(owner, 0), source }),
                'invalid_request',
                `createCard with ${what}`,
              )
            }
          },
        )
      }
    }

    // --- external accounts ------------------------------------------------------------------
    if (externalAccounts) {
      check(
        'external accounts',
        'the first card for a currency becomes its default; the next does not',
        async (t) => {
          const owner = await t.owner('account')
          const first = await t.create(owner, 0)
          const second = await t.create(owner, 1)
          expect(first.isDefault, 'the first card for its currency').toBe(true)
          expect(second.isDefault, 'the second card for that currency').toBe(false)
          expect(first.currency, "the card's currency").not.toBeNull()
          if (t.suite.currency !== undefined) expect(first.currency).toBe(t.suite.currency)
          expect(second.currency).toBe(first.currency)
          await t.expectDefault(owner, first.id, [first.id, second.id])
        },
      )
      const other = suite.otherCurrency
      if (other) {
        /** A card of `owner` in the other currency, from its `index`th source. */
        const inOther = (t: Context, owner: Owner, index: number) =>
          t.provider.createCard(owner, {
            source: other.sources[index % other.sources.length]!,
            currency: other.currency,
          })
        check(
          'external accounts',
          `each currency has a default of its own: the first ${other.currency} card becomes its default, the first currency keeps its own`,
          async (t) => {
            const owner = await t.owner('account')
            const first = await t.create(owner, 0)
            const second = await inOther(t, owner, 0)
            const third = await inOther(t, owner, 1)
            t.expectCard(second, owner)
            expect(second.currency, 'the currency asked for').toBe(other.currency)
            expect(first.currency, 'two currencies').not.toBe(other.currency)
            expect(second.isDefault, `the first ${other.currency} card`).toBe(true)
            expect(third.isDefault, `the second ${other.currency} card`).toBe(false)
            // One default per currency.
            await t.expectDefault(owner, [first.id, second.id], [first.id, second.id, third.id])
          },
        )
        if (caps.setDefaultCard) {
          check(
            'external accounts',
            `setDefaultCard of a ${other.currency} card moves that currency's default and leaves the first currency's alone`,
            async (t) => {
              const owner = await t.owner('account')
              const first = await t.create(owner, 0)
              const second = await inOther(t, owner, 0)
              const third = await inOther(t, owner, 1)
              const chosen = await t.provider.setDefaultCard(owner, third.id)
              expect(chosen).toMatchObject({ id: third.id, isDefault: true })
              // A provider that keeps one default per account would clear the first currency's.
              await t.expectDefault(owner, [first.id, third.id], [first.id, second.id, third.id])
            },
          )
        }
      }
      check(
        'external accounts',
        'makeDefault (default_for_currency) makes a card the default for its currency',
        async (t) => {
          const owner = await t.owner('account')
          const first = await t.create(owner, 0)
          const second = await t.create(owner, 1, { makeDefault: true })
          expect(second.isDefault).toBe(true)
          await t.expectDefault(owner, second.id, [first.id, second.id])
        },
      )
      if (caps.deleteCard) {
        check(
          'external accounts',
          'the default for a currency cannot be deleted: a conflict that names the default and its currency, and the card stays',
          async (t) => {
            const owner = await t.owner('account')
            const [defaultCard, other] = await t.createMany(owner, 2)
            const error = await t.fails(
              () => t.provider.deleteCard(owner, defaultCard!.id),
              'conflict',
            )
            expectDefaultConflictMessage(error, defaultCard!.currency)
            await t.expectDefault(owner, defaultCard!.id, [defaultCard!.id, other!.id])
            await t.provider.deleteCard(owner, other!.id)
            if (caps.listCards) expect(await t.idsOf(owner)).toEqual([defaultCard!.id])
          },
        )
      }
      if (caps.setDefaultCard) {
        check(
          'external accounts',
          'setDefaultCard moves the default for the currency',
          async (t) => {
            const owner = await t.owner('account')
            const [first, second] = await t.createMany(owner, 2)
            const chosen = await t.provider.setDefaultCard(owner, second!.id)
            expect(chosen).toMatchObject({ id: second!.id, isDefault: true })
            await t.expectDefault(owner, second!.id, [first!.id, second!.id])
          },
        )
      }
    }
  }

  // --- cardIdOf -----------------------------------------------------------------------------
  check(
    'cardIdOf',
    caps.createCard
      ? "a card's own id names that card: cardIdOf gives it back as it is, and sends no request"
      : "an id in the provider's own format (missingCardId) names itself: cardIdOf gives it back as it is, and sends no request",
    async (t) => {
      // Without cardIdOf every id names itself: nothing to check.
      const { cardIdOf } = t.provider
      if (cardIdOf === undefined) return
      expect(typeof cardIdOf, 'provider.cardIdOf').toBe('function')
      // CardSync stores and deletes under what it answers: another id than the card's own left
      // the stored card in place, or had getCard refuse the card as another than the one asked.
      // Without createCard the suite has no card of the provider's (owners come new and empty,
      // and no hook hands it one): cardIdOf reads ids, not cards, so it is asked of the id in
      // the provider's format the suite has.
      const ids = caps.createCard
        ? (await t.createMany(await t.owner(), 2)).map((card) => card.id)
        : [t.missingCardId]
      for (const id of ids) {
        const named = await t.sendsNoRequest(async () => t.provider.cardIdOf?.(id))
        expect(named, `cardIdOf(${JSON.stringify(id)})`).toBe(id)
      }
    },
  )

  // --- parseCard ----------------------------------------------------------------------------
  check('parseCard', 'returns null for what is not a card', async (t) => {
    const payloads = [null, undefined, 42, 'card', [], {}, ...(t.suite.nonCards ?? [])]
    for (const payload of payloads) {
      expect(t.provider.parseCard(payload), `parseCard(${JSON.stringify(payload)})`).toBeNull()
    }
  })
  for (const run of caps.createCard && caps.getCard ? ownerRuns : []) {
    const title = `reads the provider's own payload of a card as getCard does${run.suffix}`
    checkAs(run.type, 'parseCard', title, async (t) => {
      const owner = await t.owner()
      const { readRawCard } = t.fixture
      if (typeof readRawCard !== 'function') {
        throw new Error('setup() gave no readRawCard: add it to check parseCard on real payloads')
      }
      const card = await t.create(owner, 0, { metadata: { source: 'conformance' } })
      const fetched = await t.provider.getCard(owner, card.id)
      const parsed = t.provider.parseCard(await readRawCard(owner, card.id), owner)
      expect(parsed).not.toBeNull()
      t.expectCard(parsed!, owner)
      // A raw card object may not say whether it is the default (Stripe's customer sources).
      expect({ ...parsed, isDefault: fetched.isDefault }).toEqual(fetched)
    })
  }

  return checks
}

/** What a check works with: the fixture, plus helpers that assert as they go. */
interface Context {
  readonly provider: CardProvider
  readonly fixture: CardProviderFixture
  readonly suite: SuiteData
  readonly secrets: Secrets
  readonly missingCardId: string
  /** Marks the check skipped, with why. */
  readonly skip: SkipCheck
  /**
   * A fresh owner of `type` (default: the check's owner type, which is customer when supported,
   * else the first owner type, unless the check runs for another owner type).
   */
  owner(type?: OwnerType): Promise<Owner>
  detailsFor(owner: Owner): CardDetailsInput
  /** `createCard` input from the `index`-th valid source (and the fixture's currency). */
  inputFor(owner: Owner, index: number): CreateCardInput
  create(
    owner: Owner,
    index: number,
    input?: Partial<CreateCardInput>,
    options?: RequestOptions,
  ): Promise<Card>
  createMany(owner: Owner, count: number): Promise<Card[]>
  /**
   * `updateCard`, checked: the card answered is the one asked, as `getCard` reads it after, and
   * what the patch does not name is as it was read before (see {@link unnamedBy}).
   */
  update(
    owner: Owner,
    cardId: string,
    patch: Parameters<CardProvider['updateCard']>[2],
  ): Promise<Card>
  /**
   * A patch of one field `updatableFields` lists (metadata when listed), for checks that need
   * any update the provider accepts. `card` gives the expiry to move from.
   */
  listedPatch(card?: Card): CardUpdate
  /** Asserts the call rejects with `code`, from this provider, with no secret in it. */
  fails(run: () => Promise<unknown>, code: CardportErrorCode, what?: string): Promise<CardportError>
  sendsNoRequest<T>(run: () => Promise<T>): Promise<T>
  expectCard(card: Card, owner: Owner): void
  /**
   * Asserts `expected` is the owner's one default (or that it has none), read back every way;
   * given several ids (an account's defaults, one per currency), that those are its defaults and
   * `getDefaultCard` gives one of them.
   */
  expectDefault(
    owner: Owner,
    expected: string | readonly string[] | null,
    known: readonly string[],
  ): Promise<void>
  /** Every card id of the owner, sorted. */
  idsOf(owner: Owner): Promise<string[]>
  /** The sources of the owner's type: `accountSources` for an account, when given. */
  sources(owner: Owner): CardSources
  /** Every card id listed by walking pages of `limit`, sorted, checking each page. */
  walk(owner: Owner, limit: number): Promise<string[]>
  /**
   * Asserts `call` rejects with `card_not_found` for an unknown id and another owner's card, by
   * an owner holding two cards (and a default, by the policy), which stay as they were, as does
   * the other owner's card.
   */
  expectNotHeld(call: (owner: Owner, cardId: string) => Promise<unknown>): Promise<void>
  /** Asserts a call on an invalidated card either fails cleanly or leaves it invalid. */
  staysInvalid(result: Promise<Card>, what: string): Promise<void>
  operationCalls(owner: Owner): [string, () => Promise<unknown>][]
}

function createContext(
  fixture: CardProviderFixture,
  suite: SuiteData,
  skip: SkipCheck,
  ownerType: OwnerType,
): Context {
  const { capabilities } = suite
  const provider = fixture.provider as CardProvider
  const secrets = createSecrets()
  const defaultDetails: CardDetailsInput = {
    number: '4242424242424242',
    expMonth: 12,
    expYear: new Date().getUTCFullYear() + 4,
    cvc: '737',
    holderName: 'Conformance Tester',
  }
  for (const sources of [suite.sources, suite.accountSources]) {
    for (const source of [
      ...(sources?.valid ?? []),
      sources?.declined,
      sources?.invalid,
      sources?.details,
      sources?.declinedDetails,
    ]) {
      rememberSecrets(secrets, source)
    }
  }
  rememberSecrets(secrets, defaultDetails)

  /** The card as the provider reads it back (`getCard`, else its list); undefined unread. */
  const readCard = async (owner: Owner, cardId: string): Promise<Card | undefined> => {
    if (capabilities.getCard) return provider.getCard(owner, cardId)
    if (!capabilities.listCards) return undefined
    for await (const card of listAll(provider, owner)) if (card.id === cardId) return card
    return undefined
  }

  /**
   * What the owner holds, read back: its cards (listed, else each of `known` by `getCard`) and
   * its default (`getDefaultCard`, with `listCards`).
   */
  const holdings = async (owner: Owner, known: readonly string[]) => {
    if (!capabilities.listCards) {
      const cards = capabilities.getCard
        ? await Promise.all(known.map((id) => provider.getCard(owner, id)))
        : []
      return { cards }
    }
    const cards: Card[] = []
    for await (const card of listAll(provider, owner)) cards.push(card)
    cards.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return { cards, defaultId: (await provider.getDefaultCard(owner))?.id ?? null }
  }

  const owners = fixture.owners as Partial<Record<OwnerType, () => Owner | Promise<Owner>>>
  const sourcesFor = (owner: Owner): CardSources =>
    owner.type === 'account' && suite.accountSources ? suite.accountSources : suite.sources

  const context: Context = {
    provider,
    fixture,
    suite,
    secrets,
    missingCardId: suite.missingCardId ?? MISSING_CARD_ID,
    skip,

    async owner(type = ownerType) {
      const factory = owners[type]
      if (typeof factory !== 'function') {
        throw new Error(
          `setup() gave no owner factory for '${type}', which capabilities.ownerTypes lists: add owners.${type}`,
        )
      }
      const owner = await factory()
      expect(owner.type, `the type of an owner from owners.${type}`).toBe(type)
      expect(owner.id.length, 'an owner id').toBeGreaterThan(0)
      return owner
    },

    detailsFor: (owner) => sourcesFor(owner).details ?? defaultDetails,

    sources: sourcesFor,

    inputFor(owner, index) {
      const valid = sourcesFor(owner).valid
      if (valid.length === 0) {
        throw new Error('the suite has no valid card source: add at least one to sources.valid')
      }
      const source: CardSource = valid[index % valid.length]!
      const usesCurrency =
        owner.type === 'account' && capabilities.externalAccounts && suite.currency
      return usesCurrency ? { source, currency: suite.currency } : { source }
    },

    async create(owner, index, input = {}, options) {
      const card = await provider.createCard(
        owner,
        { ...context.inputFor(owner, index), ...input },
        options,
      )
      context.expectCard(card, owner)
      return card
    },

    async createMany(owner, count) {
      const cards: Card[] = []
      for (let index = 0; index < count; index++) cards.push(await context.create(owner, index))
      return cards
    },

    async update(owner, cardId, patch) {
      const before = await readCard(owner, cardId)
      const updated = await provider.updateCard(owner, cardId, patch)
      context.expectCard(updated, owner)
      expect(updated.id).toBe(cardId)
      if (capabilities.getCard) expect(await provider.getCard(owner, cardId)).toEqual(updated)
      if (before !== undefined) {
        const what = `updateCard with ${Object.keys(patch).join(', ')}`
        expect(unnamedBy(patch, updated), `what ${what} does not name`).toEqual(
          unnamedBy(patch, before),
        )
      }
      return updated
    },

    listedPatch(card) {
      const listed = capabilities.updatableFields
      const field = listed.includes('metadata') ? 'metadata' : listed[0]
      if (field === undefined) {
        throw new Error('capabilities.updatableFields is empty: the provider cannot update cards')
      }
      return samplePatch(field, card)
    },

    async fails(run, code, what) {
      const error = await rejectionOf(run, what)
      return expectCardportError(error, code, provider.name, secrets, what)
    },

    async sendsNoRequest(run) {
      const before = fixture.requestCount?.()
      const result = await run()
      if (before !== undefined) {
        expect(fixture.requestCount!() - before, 'requests sent by the provider').toBe(0)
      }
      return result
    },

    expectCard(card, owner) {
      const parsed = CardSchema.safeParse(card)
      const issues = parsed.error?.issues.map(
        (issue) => `${issue.path.join('.')}: ${issue.message}`,
      )
      expect(issues ?? [], 'what CardSchema says of the card').toEqual([])
      expect(card.provider, 'card.provider').toBe(provider.name)
      expect(card.owner, 'card.owner').toEqual({ type: owner.type, id: owner.id })
      expectNoSecrets(JSON.stringify(card), secrets, `card ${card.id}`)
    },

    async expectDefault(owner, expected, known) {
      const policy = `(defaultPolicy '${capabilities.defaultPolicy}')`
      const defaults = expected === null ? [] : typeof expected === 'string' ? [expected] : expected
      if (capabilities.listCards) {
        const listed: string[] = []
        for await (const card of listAll(provider, owner)) if (card.isDefault) listed.push(card.id)
        expect(listed.sort(), `the listed cards marked default ${policy}`).toEqual(
          [...defaults].sort(),
        )
        const found = await provider.getDefaultCard(owner)
        if (typeof expected === 'string' || expected === null) {
          expect(found?.id ?? null, `getDefaultCard ${policy}`).toBe(expected)
        } else {
          expect(defaults, `getDefaultCard ${policy}: one of the defaults`).toContain(found?.id)
        }
        if (found) {
          context.expectCard(found, owner)
          expect(found.isDefault, 'isDefault of the card getDefaultCard returns').toBe(true)
        }
      }
      if (capabilities.getCard) {
        for (const id of known) {
          const card = await provider.getCard(owner, id)
          expect(card.isDefault, `getCard(${id}).isDefault ${policy}`).toBe(defaults.includes(id))
        }
      }
    },

    async idsOf(owner) {
      const ids: string[] = []
      for await (const card of listAll(provider, owner)) {
        context.expectCard(card, owner)
        ids.push(card.id)
      }
      return ids.sort()
    },

    async walk(owner, limit) {
      const ids: string[] = []
      let cursor: string | undefined
      let pages = 0
      do {
        const page = await provider.listCards(
          owner,
          cursor === undefined ? { limit } : { limit, cursor },
        )
        pages += 1
        expect(page.data.length, `cards on a page of limit ${limit}`).toBeLessThanOrEqual(limit)
        for (const card of page.data) {
          context.expectCard(card, owner)
          // Checked on each page, not once at the end: a cursor that never moves on gives the
          // same cards for ever, and a walk bounded by the cards seen so far would never stop
          // (nor would Vitest's timeout, under a provider whose pages resolve at once).
          expect(ids, `cards listed before page ${pages} of limit ${limit}`).not.toContain(card.id)
          ids.push(card.id)
        }
        if (page.hasMore) {
          expect(typeof page.nextCursor, 'nextCursor of a page with more to come').toBe('string')
          expect(page.nextCursor!.length).toBeGreaterThan(0)
          expect(page.nextCursor, 'nextCursor: the cursor this page was asked with').not.toBe(
            cursor,
          )
          cursor = page.nextCursor!
        } else {
          expect(page.nextCursor, 'nextCursor of the last page').toBeNull()
          cursor = undefined
        }
        // Empty pages that say more follow, each with a new cursor: bound the walk.
        expect(pages, `pages of limit ${limit}`).toBeLessThanOrEqual(ids.length + 1)
      } while (cursor !== undefined)
      return ids.sort()
    },

    async expectNotHeld(call) {
      const owner = await context.owner()
      const other = await context.owner()
      // The owner holds cards, one of them its default where the policy gives one: a provider
      // that clears or moves the caller's default, or changes its cards, before it finds out
      // that the card asked for is not theirs fails here. An owner holding nothing never shows it.
      const own = (await context.createMany(owner, 2)).map((card) => card.id)
      const othersCard = await context.create(other, 0)
      const held = await holdings(owner, own)
      const refused = [
        [context.missingCardId, 'an unknown id'],
        [othersCard.id, "another owner's card"],
      ] as const
      for (const [cardId, what] of refused) {
        await context.fails(() => call(owner, cardId), 'card_not_found', what)
        expect(
          await holdings(owner, own),
          `the owner's cards and default after the call refused for ${what}`,
        ).toEqual(held)
      }
      if (capabilities.getCard) {
        expect(await provider.getCard(other, othersCard.id), "the other owner's card").toEqual(
          othersCard,
        )
      }
    },

    async staysInvalid(result, what) {
      try {
        const card = await result
        expect(card.status, `status after ${what}`).toBe('invalid')
      } catch (error) {
        if (!isCardportError(error)) throw error
        expectCardportError(error, error.code, provider.name, secrets)
      }
    },

    operationCalls(owner) {
      const id = context.missingCardId
      const source = suite.sources.valid[0] ?? 'tok_visa'
      return [
        ['createCard', () => provider.createCard(owner, { source })],
        ['getCard', () => provider.getCard(owner, id)],
        ['listCards', () => provider.listCards(owner, { limit: 1 })],
        ['updateCard', () => provider.updateCard(owner, id, { metadata: { conformance: '1' } })],
        ['deleteCard', () => provider.deleteCard(owner, id)],
        ['setDefaultCard', () => provider.setDefaultCard(owner, id)],
        ['invalidateCard', () => provider.invalidateCard(owner, id)],
        ['getDefaultCard', () => provider.getDefaultCard(owner)],
      ]
    },
  }
  return context
}

/**
 * `createCard` under a key an earlier, other request used: the card it made, or undefined when it
 * answered `idempotency_conflict` instead (checked as every error is: code, provider, no secret).
 * Any other error fails the check.
 */
async function createOrConflict(
  t: Context,
  owner: Owner,
  input: CreateCardInput,
  idempotencyKey: string,
  what: string,
): Promise<Card | undefined> {
  try {
    return await t.provider.createCard(owner, input, { idempotencyKey })
  } catch (error) {
    expectCardportError(error, 'idempotency_conflict', t.provider.name, t.secrets, what)
    return undefined
  }
}

/**
 * The raw details among `sources` that the provider itself must refuse, each with the code it
 * must refuse them with: `declinedDetails`, and `declined` and `invalid` when they are details.
 */
function refusedDetails(
  sources: CardSources,
): { what: string; source: CardDetailsInput; code: CardportErrorCode }[] {
  const refused: { what: string; source: CardDetailsInput; code: CardportErrorCode }[] = []
  const add = (what: string, source: CardSource | undefined, code: CardportErrorCode) => {
    if (typeof source !== 'object' || refused.some((entry) => entry.source === source)) return
    refused.push({ what, source, code })
  }
  add('sources.declinedDetails', sources.declinedDetails, 'card_declined')
  add('sources.declined (raw details)', sources.declined, 'card_declined')
  add('sources.invalid (raw details)', sources.invalid, 'card_invalid')
  return refused
}

/** The owner type most checks use: customers when the provider holds them. */
function primaryOwnerType(capabilities: ProviderCapabilities): OwnerType {
  if (capabilities.ownerTypes.includes('customer')) return 'customer'
  const [first] = capabilities.ownerTypes
  if (first === undefined) throw new Error('capabilities.ownerTypes is empty')
  return first
}

/** The address the update checks write. */
const CONFORMANCE_ADDRESS = {
  line1: '1 Conformance Way',
  line2: 'Suite 2',
  city: 'Springfield',
  state: 'IL',
  postalCode: '62701',
  country: 'US',
}

/**
 * A card of a new owner that holds something in each field an update could wipe besides `field`:
 * `metadata` from its creation, and every other field `updatableFields` lists (its address, its
 * name; not its expiry, which every card holds) set by an update, itself checked by `t.update`.
 * A card made from a token has no name nor address to lose.
 */
async function filledCard(
  t: Context,
  field: UpdatableField,
  metadata: Record<string, string> = { kept: 'through updates of other fields' },
): Promise<{ owner: Owner; card: Card }> {
  const owner = await t.owner()
  const card = await t.create(owner, 0, { metadata })
  const others = t.suite.capabilities.updatableFields.filter(
    (other) => other !== field && other !== 'metadata' && other !== 'expiry',
  )
  if (others.length === 0) return { owner, card }
  const patch: CardUpdate = Object.assign({}, ...others.map((other) => samplePatch(other, card)))
  return { owner, card: await t.update(owner, card.id, patch) }
}

/**
 * What of `card` an update with `patch` must leave as it was: every field but those the patch
 * names (within the address and the metadata, the keys it names: one left out is kept) and, when
 * the patch changes the address, the issuer's checks of it (`checks.addressLine1`,
 * `checks.postalCode`), which a provider resets for a new address (Stripe answers `'unchecked'`
 * until it checks again). `isDefault`, `status`, `createdAt` and the rest are compared as they are.
 */
function unnamedBy(patch: CardUpdate, card: Card): Record<string, unknown> {
  const { holderName, expMonth, expYear, address, metadata, checks, ...rest } = card
  return {
    ...rest,
    ...(patch.holderName === undefined ? { holderName } : {}),
    ...(patch.expMonth === undefined ? { expMonth } : {}),
    ...(patch.expYear === undefined ? { expYear } : {}),
    address: withoutKeys(address, patch.address),
    metadata: withoutKeys(metadata, patch.metadata),
    checks:
      patch.address === undefined
        ? checks
        : withoutKeys(checks, { addressLine1: true, postalCode: true }),
  }
}

/** `object` without the keys `named` gives a value (not undefined). */
function withoutKeys(object: object, named: object | undefined): Record<string, unknown> {
  const names = new Set(
    Object.entries(named ?? {})
      .filter(([, value]) => value !== undefined)
      .map(([key]) => key),
  )
  return Object.fromEntries(Object.entries(object).filter(([key]) => !names.has(key)))
}

/** A change of one updatable field, different from what `card` holds. */
function samplePatch(field: UpdatableField, card?: Pick<Card, 'expMonth' | 'expYear'>): CardUpdate {
  switch (field) {
    case 'address':
      return { address: { ...CONFORMANCE_ADDRESS } }
    case 'expiry':
      return card
        ? { expMonth: (card.expMonth % 12) + 1, expYear: card.expYear + 1 }
        : { expMonth: 6, expYear: new Date().getUTCFullYear() + 5 }
    case 'holderName':
      return { holderName: 'Jenny Rosen' }
    case 'metadata':
      return { metadata: { conformance: '1' } }
  }
}

/** Metadata exactly at every limit: 50 keys, one of 40 characters, one value of 500. */
/** `count` metadata keys named `prefix0`, `prefix1` …, each with the value `'v'`. */
function metadataKeys(prefix: string, count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`${prefix}${index}`, 'v']))
}

function metadataAtLimits(): Record<string, string> {
  const metadata: Record<string, string> = {}
  for (let index = 0; index < METADATA_LIMITS.maxKeys - 2; index++) metadata[`key_${index}`] = 'v'
  metadata['k'.repeat(METADATA_LIMITS.maxKeyLength)] = 'at the key limit'
  metadata.long_value = 'v'.repeat(METADATA_LIMITS.maxValueLength)
  return metadata
}

/** Metadata just over each limit: 51 keys, a 41-character key, a 501-character value. */
function metadataOverLimits(): [string, Record<string, string>][] {
  const tooMany: Record<string, string> = {}
  for (let index = 0; index <= METADATA_LIMITS.maxKeys; index++) tooMany[`key_${index}`] = 'v'
  return [
    [`${METADATA_LIMITS.maxKeys + 1} metadata keys`, tooMany],
    [
      `a ${METADATA_LIMITS.maxKeyLength + 1}-character metadata key`,
      { ['k'.repeat(METADATA_LIMITS.maxKeyLength + 1)]: 'v' },
    ],
    [
      `a ${METADATA_LIMITS.maxValueLength + 1}-character metadata value`,
      { value: 'v'.repeat(METADATA_LIMITS.maxValueLength + 1) },
    ],
  ]
}
