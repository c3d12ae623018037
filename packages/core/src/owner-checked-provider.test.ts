import { inspect } from 'node:util'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { errorOf, rejection } from './__fixtures__/errors.js'
import { sampleCard } from './__fixtures__/sample-card.js'
import {
  expectNoSecret,
  expectUnexpected,
  throwingEvery,
  thrownValues,
} from './__fixtures__/thrown.js'
import {
  type Card,
  compiledCardSchema,
  isDefaultUnknown,
  markDefaultUnknown,
  type Owner,
} from './card.js'
import { defineCardProvider } from './define-provider.js'
import { ConflictError } from './errors.js'
import { memoryProvider } from './memory-provider.js'
import { ownerCheckedProvider } from './owner-checked-provider.js'
import { listAll, toArray } from './pagination.js'
import type { CardProvider, ProviderCapabilities } from './provider.js'

const alice: Owner = { type: 'customer', id: 'cus_alice' }
const CARD_NUMBER = '4242424242424242'

afterEach(() => {
  vi.restoreAllMocks()
})

/**
 * A provider written by hand (no `defineCardProvider`) named `memory`, answering every operation
 * that answers cards with `card`, and reading every payload as `card`: `setDefaultCard` with it as
 * the default and `invalidateCard` with it invalid, as those operations leave a card.
 */
function answering(card: Card): CardProvider {
  return {
    name: 'memory',
    capabilities: memoryProvider().capabilities,
    createCard: async () => card,
    getCard: async () => card,
    listCards: async () => ({ data: [card], hasMore: false, nextCursor: null }),
    updateCard: async () => card,
    deleteCard: async () => {},
    setDefaultCard: async () => withField(card, 'isDefault', true),
    getDefaultCard: async () => card,
    invalidateCard: async () => withField(card, 'status', 'invalid'),
    parseCard: () => card,
  } as unknown as CardProvider
}

/**
 * `card` with `field` set to `value`, its other fields copied as they are defined: a getter stays a
 * getter (one that throws is read by the check, not here).
 */
function withField<K extends keyof Card>(card: Card, field: K, value: Card[K]): Card {
  return Object.defineProperties(
    {},
    {
      ...Object.getOwnPropertyDescriptors(card),
      [field]: { value, enumerable: true, writable: true, configurable: true },
    },
  ) as Card
}

/** Every operation that answers cards, called on `provider` for alice, giving one card. */
const operations: [string, (provider: CardProvider) => Promise<Card | null>][] = [
  ['createCard', (p) => p.createCard(alice, { source: 'tok_visa' })],
  ['getCard', (p) => p.getCard(alice, 'card_1')],
  ['updateCard', (p) => p.updateCard(alice, 'card_1', { holderName: 'Ada' })],
  ['setDefaultCard', (p) => p.setDefaultCard(alice, 'card_1')],
  ['invalidateCard', (p) => p.invalidateCard(alice, 'card_1')],
  ['listCards', async (p) => (await p.listCards(alice)).data[0] ?? null],
  ['getDefaultCard', (p) => p.getDefaultCard(alice)],
]

/** The operations of {@link operations} that name the card they ask for (card_1). */
const ASKING_A_CARD = new Set(['getCard', 'updateCard', 'setDefaultCard', 'invalidateCard'])

/** Cards a hand-written provider may answer with that the Card schema refuses. */
const unreadable: [string, Card][] = [
  ['a last4 that is not four digits', sampleCard('card_1', alice, { last4: '42' })],
  ['a NaN expiry month', sampleCard('card_1', alice, { expMonth: Number.NaN })],
  // The key is a card number: the path names it, and the message must not.
  [
    'a metadata key that is a card number, with a value that is no string',
    sampleCard('card_1', alice, { metadata: { [CARD_NUMBER]: 42 } as never }),
  ],
]

describe('ownerCheckedProvider over a provider written by hand: every card is read with the Card schema', () => {
  describe.each(unreadable)('a card with %s', (_, card) => {
    it.each(operations)(
      '%s rejects with provider_unavailable, not retryable, with no card number',
      async (operation, call) => {
        const error = await rejection(call(ownerCheckedProvider(answering(card))))
        expect(error).toMatchObject({
          code: 'provider_unavailable',
          retryable: false,
          provider: 'memory',
        })
        expect(error.message).toContain(
          `memory returned a card cardport cannot read (${operation})`,
        )
        expect(digitsOf(JSON.stringify(error))).not.toContain(CARD_NUMBER)
        expect(digitsOf(error.message)).not.toContain(CARD_NUMBER)
      },
    )

    it('parseCard throws invalid_request, as for an adapter built with defineCardProvider', () => {
      const error = errorOf(() => ownerCheckedProvider(answering(card)).parseCard({}, alice))
      expect(error).toMatchObject({ code: 'invalid_request', provider: 'memory' })
      expect(error.message).toContain('Invalid memory card payload')
      expect(digitsOf(JSON.stringify(error))).not.toContain(CARD_NUMBER)
    })
  })

  it.each(operations)(
    '%s answers the card as the schema reads it: a card number in its texts is masked',
    async (_, call) => {
      const card = sampleCard('card_1', alice, {
        holderName: `Ada ${CARD_NUMBER}`,
        metadata: { note: CARD_NUMBER, [CARD_NUMBER]: 'key' },
      })
      const answered = await call(ownerCheckedProvider(answering(card)))
      expect(answered?.holderName).toBe('Ada •••• 4242')
      expect(answered?.metadata).toEqual({ note: '•••• 4242', '•••• 4242': 'key' })
    },
  )

  it.each([
    ['no data array', { data: null, hasMore: false, nextCursor: null }],
    ['no hasMore', { data: [], nextCursor: null }],
    ['a number as nextCursor', { data: [], hasMore: true, nextCursor: 2 }],
    // Read as the last page, it would end listAll quietly with the cards read so far.
    ['more to come but no nextCursor', { data: [], hasMore: true }],
    ['no page at all', undefined],
  ])('listCards refuses a page with %s, as defineCardProvider does', async (_, page) => {
    const provider = {
      ...answering(sampleCard('card_1', alice)),
      listCards: async () => page as never,
    }
    const error = await rejection(ownerCheckedProvider(provider).listCards(alice))
    expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
    expect(error.message).toContain('memory returned a page cardport cannot read (listCards)')
  })

  // Asked for card_1, a provider written by hand answers with another card of alice's: CardSync
  // would store it (and make it the default) as the answer about card_1.
  describe.each(['card_2', 'CARD_1'])('a card whose id is %s, asked for card_1', (answered) => {
    it.each(operations.filter(([operation]) => ASKING_A_CARD.has(operation)))(
      '%s rejects with provider_unavailable, not retryable, naming the card answered',
      async (operation, call) => {
        const error = await rejection(
          call(ownerCheckedProvider(answering(sampleCard(answered, alice)))),
        )
        expect(error).toMatchObject({
          code: 'provider_unavailable',
          retryable: false,
          provider: 'memory',
        })
        expect(error.message).toContain(`memory answered ${operation} for customer:cus_alice`)
        expect(error.message).toContain(`card ${answered}`)
      },
    )

    it.each(operations.filter(([operation]) => !ASKING_A_CARD.has(operation)))(
      '%s names no card: the card is taken',
      async (_, call) => {
        const answer = await call(ownerCheckedProvider(answering(sampleCard(answered, alice))))
        expect(answer?.id).toBe(answered)
      },
    )
  })

  it("listCards answers the page's three fields only", async () => {
    const card = sampleCard('card_1', alice)
    const page = { data: [card], hasMore: false, nextCursor: null, raw: { secret: 'x' } }
    const provider = { ...answering(card), listCards: async () => page }
    expect(await ownerCheckedProvider(provider).listCards(alice)).toEqual({
      data: [card],
      hasMore: false,
      nextCursor: null,
    })
  })

  it("parseCard masks a card number too, and keeps the adapter's 'default unknown' mark", () => {
    const card = markDefaultUnknown(sampleCard('card_1', alice, { holderName: CARD_NUMBER }))
    const parsed = ownerCheckedProvider(answering(card)).parseCard({}, alice)
    expect(parsed?.holderName).toBe('•••• 4242')
    expect(parsed && isDefaultUnknown(parsed)).toBe(true)
  })
})

/** Every operation of `answering(card)`, each throwing what `thrown` makes instead. */
function throwing(thrown: () => unknown): CardProvider {
  return throwingEvery(answering(sampleCard('card_1', alice)), thrown) as CardProvider
}

/** Every operation, `deleteCard` too, called on `provider` for alice. */
const everyOperation: [string, (provider: CardProvider) => Promise<unknown>][] = [
  ...operations,
  ['deleteCard', (p) => p.deleteCard(alice, 'card_1')],
]

describe('ownerCheckedProvider over a provider written by hand: what an operation throws is a CardportError', () => {
  describe.each(thrownValues)('an operation that throws %s', (_, thrown) => {
    it.each(everyOperation)(
      '%s rejects with provider_unavailable, retryable, quoting no card number or key',
      async (operation, call) => {
        expectUnexpected(await rejection(call(ownerCheckedProvider(throwing(thrown)))), operation)
      },
    )

    it('parseCard throws invalid_request, quoting no card number or key', () => {
      const error = errorOf(() => ownerCheckedProvider(throwing(thrown)).parseCard({}, alice))
      expect(error).toMatchObject({
        code: 'invalid_request',
        retryable: false,
        provider: 'memory',
        message: 'memory could not read this payload as a card',
      })
      expectNoSecret(inspect(error, { depth: 10 }))
    })
  })

  it("keeps an Error's name and its message masked as the cause, as defineCardProvider does", async () => {
    const provider = throwing(() => new TypeError(`card ${CARD_NUMBER} for sk_test_51MessageKey`))
    const error = await rejection(ownerCheckedProvider(provider).getCard(alice, 'card_1'))
    expect(error.cause).toMatchObject({
      name: 'TypeError',
      message: 'card •••• 4242 for sk_test_[redacted]',
    })
  })

  it('rejects, rather than throws, for an operation that throws before it makes a promise', async () => {
    const provider = {
      ...answering(sampleCard('card_1', alice)),
      getCard: () => {
        throw new Error(`card ${CARD_NUMBER}`)
      },
    }
    const answer = ownerCheckedProvider(provider).getCard(alice, 'card_1')
    expect((await rejection(answer)).code).toBe('provider_unavailable')
  })

  it.each(everyOperation)(
    '%s raises a CardportError thrown by hand as it is, its cause masked in place',
    async (_, call) => {
      const cause = Object.assign(new Error(`card ${CARD_NUMBER} in use`), {
        body: { key: 'sk_live_51FieldKey', number: Number(CARD_NUMBER) },
      })
      // Read before it is masked, as a logger may have: V8 formats the stack, message included,
      // when it is first read, so a stack read after the masking alone would always be masked.
      void cause.stack
      const conflict = new ConflictError('in use', { provider: 'memory', retryable: true, cause })
      const provider = throwing(() => conflict)
      const error = await rejection(call(ownerCheckedProvider(provider)))
      expect(error).toBe(conflict)
      expect(error).toMatchObject({ code: 'conflict', retryable: true })
      expect(error.cause).toBe(cause)
      expect(cause).toMatchObject({
        message: 'card •••• 4242 in use',
        body: { key: 'sk_live_[redacted]', number: '•••• 4242' },
      })
      expectNoSecret(inspect(error, { depth: 10 }))
    },
  )

  it('parseCard raises a CardportError thrown by hand as it is, its cause masked', () => {
    const conflict = new ConflictError('another marketplace', {
      provider: 'memory',
      cause: { number: CARD_NUMBER },
    })
    const error = errorOf(() => ownerCheckedProvider(throwing(() => conflict)).parseCard({}))
    expect(error).toBe(conflict)
    expect(error.cause).toEqual({ number: '•••• 4242' })
  })
})

describe('ownerCheckedProvider over a provider built with defineCardProvider', () => {
  it('does not mask what its operations throw a second time: defineCardProvider did', async () => {
    // Masking reads each field of a cause once: a second masking would read it again.
    let reads = 0
    const cause = {
      get body() {
        reads++
        return 'in use'
      },
    }
    const conflict = new ConflictError('in use', { provider: 'memory', cause })
    const provider = defineCardProvider(
      throwingEvery(
        { name: 'memory', capabilities: memoryProvider().capabilities },
        () => conflict,
      ),
    )
    const checked = ownerCheckedProvider(provider)
    for (const [operation, call] of everyOperation) {
      reads = 0
      expect(await rejection(call(checked)), operation).toBe(conflict)
      expect(reads, operation).toBe(1)
    }
    reads = 0
    expect(errorOf(() => checked.parseCard({}))).toBe(conflict)
    expect(reads).toBe(1)
  })

  it('does not read its cards with the Card schema again: defineCardProvider did', async () => {
    const provider = memoryProvider()
    for (const token of ['tok_visa', 'tok_amex', 'tok_mastercard']) {
      await provider.createCard(alice, { source: token })
    }
    const checked = ownerCheckedProvider(provider)
    const safeParse = vi.spyOn(compiledCardSchema(), 'safeParse')
    const cards = await toArray(listAll(checked, alice), { limit: 100 })
    expect(cards).toHaveLength(3)
    // One read each, defineCardProvider's: none of the wrapper's.
    expect(safeParse).toHaveBeenCalledTimes(3)
    safeParse.mockClear()
    await checked.getCard(alice, cards[0]!.id)
    await checked.getDefaultCard(alice)
    // getDefaultCard pages through listCards: one read per card listed.
    expect(safeParse).toHaveBeenCalledTimes(1 + 3)
  })

  it("leaves the asked card's id to it: what its cardIdOf says an id names is the card", async () => {
    // As the marketplace takes a card's URI for its id.
    const card = sampleCard('card_1', alice)
    const defined = defineCardProvider({
      ...answering(card),
      cardIdOf: (cardId: string) => cardId.slice(cardId.lastIndexOf('/') + 1),
    } as never)
    const checked = ownerCheckedProvider(defined)
    expect((await checked.getCard(alice, '/v1/cards/card_1')).id).toBe('card_1')
    expect((await checked.setDefaultCard(alice, '/v1/cards/card_1')).id).toBe('card_1')
    expect((await rejection(checked.getCard(alice, '/v1/cards/card_2'))).code).toBe(
      'provider_unavailable',
    )
  })

  it("passes its cardIdOf on as it is: CardSync asks it what a caller's card id names", () => {
    const cardIdOf = (cardId: string) => cardId.slice(cardId.lastIndexOf('/') + 1)
    const defined = defineCardProvider({
      ...answering(sampleCard('card_1', alice)),
      cardIdOf,
    } as never)
    const checked = ownerCheckedProvider(defined)
    expect(checked.cardIdOf('/v1/cards/card_1')).toBe('card_1')
    // Checked once, by defineCardProvider: a caller's id that is no card id is refused there.
    expect(errorOf(() => checked.cardIdOf('card_\u0000')).code).toBe('invalid_request')
  })

  it('reads with the Card schema an operation written by hand beside the ones it built', async () => {
    const provider = memoryProvider()
    await provider.createCard(alice, { source: 'tok_visa' })
    const spoilt = {
      ...provider,
      getCard: async (owner: Owner, cardId: string) => ({
        ...(await provider.getCard(owner, cardId)),
        last4: '42',
      }),
    }
    const checked = ownerCheckedProvider(spoilt)
    const [card] = (await checked.listCards(alice)).data
    const error = await rejection(checked.getCard(alice, card!.id))
    expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
  })
})

function digitsOf(text: string): string {
  return text.replace(/\D/g, '')
}

// A provider that ignored the change, or a cache or proxy in the way, answers with the card as it
// was: CardSync would store a card its caller retired as active, or retire the old default for a
// card that is not the default.
describe('ownerCheckedProvider: an answer that shows the operation undone', () => {
  /** `answering(card)`, its setDefaultCard and invalidateCard answering `card` as it is. */
  const unchanged = (
    card: Card,
    capabilities: ProviderCapabilities = memoryProvider().capabilities,
  ): CardProvider => ({
    ...answering(card),
    capabilities,
    setDefaultCard: async () => card,
    invalidateCard: async () => card,
  })
  const builds: [string, (provider: CardProvider) => CardProvider][] = [
    ['written by hand', (provider) => provider],
    ['built with defineCardProvider', (provider) => defineCardProvider(provider as never)],
  ]
  // The card's holder name holds a card number, which no message may quote.
  const card = sampleCard('card_1', alice, { holderName: `Ada ${CARD_NUMBER}` })

  describe.each(builds)('a provider %s', (_, build) => {
    it.each([
      ['invalidateCard', 'still active', (p: CardProvider) => p.invalidateCard(alice, 'card_1')],
      ['setDefaultCard', 'not the default', (p: CardProvider) => p.setDefaultCard(alice, 'card_1')],
    ] as const)(
      '%s answered with the card as it was is provider_unavailable, not retryable',
      async (operation, state, call) => {
        const error = await rejection(call(ownerCheckedProvider(build(unchanged(card)))))
        expect(error).toMatchObject({
          code: 'provider_unavailable',
          retryable: false,
          provider: 'memory',
        })
        expect(error.message).toContain(
          `memory answered ${operation} for customer:cus_alice with card card_1 ${state}`,
        )
        expect(digitsOf(inspect(error, { depth: 10 }))).not.toContain(CARD_NUMBER)
      },
    )

    it('setDefaultCard answered not the default is taken where cards have no default', async () => {
      const none = { ...memoryProvider().capabilities, defaultPolicy: 'none' } as const
      const checked = ownerCheckedProvider(build(unchanged(card, none)))
      expect(await checked.setDefaultCard(alice, 'card_1')).toMatchObject({
        id: 'card_1',
        isDefault: false,
      })
    })

    it('the other operations answer an invalid card that is not the default as it is', async () => {
      const invalid = sampleCard('card_1', alice, { status: 'invalid' })
      const checked = ownerCheckedProvider(build(unchanged(invalid)))
      expect(await checked.getCard(alice, 'card_1')).toMatchObject({ status: 'invalid' })
      expect(await checked.invalidateCard(alice, 'card_1')).toMatchObject({ status: 'invalid' })
      const created = await checked.createCard(alice, { source: 'tok_visa' })
      expect(created).toMatchObject({ status: 'invalid', isDefault: false })
    })
  })
})

describe('ownerCheckedProvider: the card id an asked id names (cardIdOf)', () => {
  const idInUri = (cardId: string) => cardId.slice(cardId.lastIndexOf('/') + 1)

  it('without a cardIdOf, every id names itself', () => {
    expect(ownerCheckedProvider(answering(sampleCard('card_1', alice))).cardIdOf('/v1/x')).toBe(
      '/v1/x',
    )
  })

  it('a provider written by hand: the card answered must be the one its cardIdOf says the asked id names', async () => {
    const card = sampleCard('card_1', alice)
    const checked = ownerCheckedProvider({ ...answering(card), cardIdOf: idInUri })
    expect(checked.cardIdOf('/v1/cards/card_1')).toBe('card_1')
    expect((await checked.getCard(alice, '/v1/cards/card_1')).id).toBe('card_1')
    expect((await checked.invalidateCard(alice, '/v1/cards/card_1')).id).toBe('card_1')
    const error = await rejection(checked.getCard(alice, '/v1/cards/card_2'))
    expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
    expect(error.message).toContain('card card_1 where card card_2 was asked for')
  })

  // What defineCardProvider makes of an adapter's cardIdOf, for one written by hand.
  const broken: [string, () => unknown, boolean][] = [
    [
      'throws',
      () => {
        throw new Error(`cannot read ${CARD_NUMBER}`)
      },
      true,
    ],
    ['answers undefined', () => undefined, false],
    ['answers an empty string', () => '', false],
    ['answers a card number', () => CARD_NUMBER, false],
  ]
  it.each(broken)(
    'a cardIdOf written by hand that %s is provider_unavailable, and the operation sends no request',
    async (_, cardIdOf, retryable) => {
      const getCard = vi.fn(async () => sampleCard('card_1', alice))
      const checked = ownerCheckedProvider({
        ...answering(sampleCard('card_1', alice)),
        getCard,
        cardIdOf: cardIdOf as (cardId: string) => string,
      })
      for (const error of [
        errorOf(() => checked.cardIdOf('card_1')),
        await rejection(checked.getCard(alice, 'card_1')),
      ]) {
        expect(error).toMatchObject({ code: 'provider_unavailable', retryable, provider: 'memory' })
        expect(error.message).toContain('cardIdOf')
        expect(inspect(error, { depth: 10 })).not.toContain(CARD_NUMBER)
      }
      expect(getCard).not.toHaveBeenCalled()
    },
  )
})

describe('ownerCheckedProvider over a provider written by hand: answers that cannot be read at all', () => {
  const SECRET = 'sk_test_51ReadingThrewKey'
  /** A card whose `field` is a getter throwing an Error that quotes a card number and a key. */
  const trapped = (field: keyof Card, card = sampleCard('card_1', alice)): Card =>
    Object.defineProperty({ ...card }, field, {
      enumerable: true,
      get() {
        throw new Error(`cannot read ${CARD_NUMBER} with ${SECRET}`)
      },
    })

  it.each(operations)(
    '%s rejects with provider_unavailable, not retryable, when reading the card throws, quoting neither the number nor the key',
    async (operation, call) => {
      const error = await rejection(call(ownerCheckedProvider(answering(trapped('id')))))
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
      expect(error.message).toContain(`memory returned a card cardport cannot read (${operation})`)
      expect(digitsOf(inspect(error, { depth: 10 }))).not.toContain(CARD_NUMBER)
      expect(inspect(error, { depth: 10 })).not.toContain(SECRET)
    },
  )

  it('parseCard throws invalid_request when reading the card throws', () => {
    const error = errorOf(() => ownerCheckedProvider(answering(trapped('last4'))).parseCard({}))
    expect(error).toMatchObject({ code: 'invalid_request', provider: 'memory' })
    expect(digitsOf(inspect(error, { depth: 10 }))).not.toContain(CARD_NUMBER)
    expect(inspect(error, { depth: 10 })).not.toContain(SECRET)
  })

  it('listCards rejects with provider_unavailable when reading the page throws', async () => {
    const page = Object.defineProperty({ data: [], nextCursor: null }, 'hasMore', {
      enumerable: true,
      get() {
        throw new Error(`cannot read ${CARD_NUMBER}`)
      },
    })
    const provider = { ...answering(sampleCard('card_1', alice)), listCards: async () => page }
    const error = await rejection(ownerCheckedProvider(provider as never).listCards(alice))
    expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
    expect(error.message).toContain('memory returned a page cardport cannot read (listCards)')
    expect(digitsOf(inspect(error, { depth: 10 }))).not.toContain(CARD_NUMBER)
  })

  it.each([undefined, false, 0, ''])(
    'getDefaultCard answering %j is refused, not read as no default',
    async (answer) => {
      const provider = {
        ...answering(sampleCard('card_1', alice)),
        getDefaultCard: async () => answer,
      }
      const error = await rejection(ownerCheckedProvider(provider as never).getDefaultCard(alice))
      expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
    },
  )

  it('getDefaultCard answering null is no default', async () => {
    const provider = { ...answering(sampleCard('card_1', alice)), getDefaultCard: async () => null }
    expect(await ownerCheckedProvider(provider as never).getDefaultCard(alice)).toBeNull()
  })
})
