// A provider written by hand: a plain object with the CardProvider members, not built with
// `defineCardProvider`, as an application writes one for a payment service cardport has no
// adapter for. CardSync reads the cards such a provider answers with the Card schema itself
// (`ownerCheckedProvider`); this provider answers each operation with a card-like object the
// hostile-input suite generates (a valid card, one mutated field by field, one whose free text
// holds a card number, junk, an object behind a Proxy …), records what it served, and
// the oracle below says what CardSync must make of each answer.
import {
  CARD_BRANDS,
  type Card,
  type CardProvider,
  CardSchema,
  MEMORY_PROVIDER_CAPABILITIES,
  type Owner,
  type ProviderCapabilities,
  sameOwner,
} from '@cardport/core'
import fc from 'fast-check'
import {
  cardNumberArb,
  cleanIdArb,
  cleanTextArb,
  inheritedKeysArb,
  junkArb,
  leakyExtrasArb,
  otherScriptCardNumberArb,
  taintedArb,
  unstorableCharArb,
  wrongTypeArb,
} from './hostile-arbitraries.js'
import { SECRETS } from './leak-scan.js'

/** The hand-written provider's name, stored with every card it answers. */
export const HAND_NAME = 'byhand'

/** The owners the hand-written provider's cards belong to: one of each type. */
export const HAND_OWNERS: readonly Owner[] = [
  { type: 'customer', id: 'cus_byhand' },
  { type: 'account', id: 'acct_byhand' },
]

/**
 * The capabilities the provider declares: `deletes` retires an old default by deleting it (as
 * Stripe does); `invalidates` cannot delete and retires cards by invalidating them (as the
 * marketplace does), so that `invalidateCard`'s answer is read and stored too.
 */
export const HAND_CAPABILITIES: Record<'deletes' | 'invalidates', ProviderCapabilities> = {
  deletes: MEMORY_PROVIDER_CAPABILITIES,
  invalidates: {
    ...MEMORY_PROVIDER_CAPABILITIES,
    deleteCard: false,
    invalidateCard: true,
    defaultPolicy: 'caller-chosen',
  },
}

/**
 * What is done to a card-like answer's object when it is answered: nothing; frozen (deeply);
 * behind a Proxy that passes everything through; its fields inherited from its prototype; an own
 * `__proto__` key (as `JSON.parse` makes one) on it and on its metadata, holding a card number; a
 * getter on `field` that throws an Error quoting a card number and a key; a getter on `field`
 * that gives the field's value the first time and a card number after.
 */
export type Trick =
  | 'none'
  | 'frozen'
  | 'proxy'
  | 'prototype'
  | 'protoKey'
  | { throwsOn: string }
  | { rereadGives: string }

/** A card-like answer: its data (NaN and Infinity included) and the trick it is answered with. */
export interface CardLike {
  value: unknown
  trick: Trick
}

/**
 * A page-like answer of `listCards`: `data` (card-likes, or any value where an array belongs),
 * `hasMore`, `nextCursor` and extra fields; or `junk` in place of a page.
 */
export type PageLike =
  | { data: PageData; hasMore: unknown; nextCursor: unknown; extra: Record<string, unknown> }
  | { junk: unknown }

/** A page's `data`: card-likes, or a value that is no array. */
type PageData = CardLike[] | { notAnArray: unknown }

/** What the provider answers, operation by operation, for one run. */
export interface Script {
  createCard: CardLike
  getCard: CardLike
  setDefaultCard: CardLike
  getDefaultCard: CardLike
  updateCard: CardLike
  invalidateCard: CardLike
  parseCard: CardLike
  /** Page 0 is answered to a listing without a cursor, page `n` to the cursor `p<n>`. */
  pages: PageLike[]
  /**
   * Whether an operation that names a card answers the scripted card whatever its id. When
   * false, a scripted card whose id is a clean one (`card_` and letters) is answered under the
   * asked id, as a provider answers the card asked for; ids that break something are answered
   * as they are.
   */
  otherId: boolean
}

/** The operations that answer one card (or, `getDefaultCard` and `parseCard`, none). */
export type CardOperation = Exclude<keyof Script, 'pages' | 'otherId'>

/** One answer the provider gave, as it recorded it. */
export type Served =
  | {
      operation: CardOperation
      answer: CardLike
      /** The card id asked for, by an operation that names one (getCard, updateCard …). */
      cardId?: string | undefined
    }
  | { operation: 'listCards'; answer: PageLike; cursor: string | undefined }

/** A hand-written provider answering `script`, with the answers it served, in order. */
export function handWrittenProvider(
  script: Script,
  capabilities: ProviderCapabilities,
): { provider: CardProvider; served: Served[] } {
  const served: Served[] = []
  const answer = (operation: CardOperation, cardId?: string) => {
    const scripted = script[operation]
    const given =
      cardId === undefined || script.otherId ? scripted : asTheCardAsked(scripted, cardId)
    served.push({ operation, answer: given, cardId })
    return buildCard(given)
  }
  let listings = 0
  const provider = {
    name: HAND_NAME,
    capabilities,
    createCard: async () => answer('createCard'),
    getCard: async (_owner: Owner, cardId: string) => answer('getCard', cardId),
    updateCard: async (_owner: Owner, cardId: string) => answer('updateCard', cardId),
    deleteCard: async () => {},
    setDefaultCard: async (_owner: Owner, cardId: string) => answer('setDefaultCard', cardId),
    getDefaultCard: async () => answer('getDefaultCard'),
    invalidateCard: async (_owner: Owner, cardId: string) => answer('invalidateCard', cardId),
    async listCards(_owner: Owner, options?: { cursor?: string }) {
      const cursor = options?.cursor
      // A listing that never ends (it cannot, with the cursors generated) ends here.
      const index = listings++ > 20 ? script.pages.length : pageIndex(cursor, script.pages.length)
      const page = script.pages[index] ?? LAST_PAGE
      served.push({ operation: 'listCards', answer: page, cursor })
      return buildPage(page)
    },
    parseCard: () => answer('parseCard'),
  }
  return { provider: provider as unknown as CardProvider, served }
}

/** `scripted`, a card with a clean id, under the id asked for; any other answer as it is. */
function asTheCardAsked(scripted: CardLike, cardId: string): CardLike {
  const { value } = scripted
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return scripted
  const { id } = value as Record<string, unknown>
  if (typeof id !== 'string' || !/^card_[A-Za-z]{4,20}$/.test(id)) return scripted
  return { ...scripted, value: { ...value, id: cardId } }
}

/** The page answered past the script's pages: empty, and the last. */
const LAST_PAGE: PageLike = { data: [], hasMore: false, nextCursor: null, extra: {} }

function pageIndex(cursor: string | undefined, pages: number): number {
  if (cursor === undefined) return 0
  const index = /^p(\d+)$/.exec(cursor)?.[1]
  return index === undefined ? pages : Number(index)
}

/** What CardSync must make of one answer: a card (the schema's copy), no card, or a refusal. */
export type Reading = { readable: true; card: Card | null } | { readable: false; threw: boolean }

/**
 * The oracle: what CardSync must make of `served`, an answer for `owner`. A card is readable
 * when the Card schema reads it (freshly built, as the provider answered it) as a card of `owner`
 * under the provider's name; `getDefaultCard` may also answer null ("no default"), and
 * `parseCard` anything falsy ("not a card"). An operation that names a card (getCard, updateCard,
 * setDefaultCard, invalidateCard) must answer that card: one of another id is no reading, nor is
 * an invalidateCard answer that is not invalid, or a setDefaultCard answer that is not the default
 * (the operation undone). A page is readable when it is an object with an
 * array `data` of readable cards, a boolean `hasMore` and a string-or-null `nextCursor`, and when
 * it says more cards follow, a cursor other than the one it was asked with.
 */
export function reading(served: Served, owner: Owner): Reading | { readable: true; cards: Card[] } {
  if (served.operation !== 'listCards') {
    const built = buildCard(served.answer)
    if (served.operation === 'getDefaultCard' && built === null)
      return { readable: true, card: null }
    if (served.operation === 'parseCard' && !built) return { readable: true, card: null }
    const read = readCardLike(built, owner)
    if (read.readable && served.cardId !== undefined && read.card?.id !== served.cardId) {
      return { readable: false, threw: false }
    }
    // The card as the operation left it: invalid, or the default (both capabilities have one).
    if (read.readable && served.operation === 'invalidateCard' && read.card?.status !== 'invalid') {
      return { readable: false, threw: false }
    }
    if (read.readable && served.operation === 'setDefaultCard' && read.card?.isDefault !== true) {
      return { readable: false, threw: false }
    }
    return read
  }
  const page = buildPage(served.answer)
  if (typeof page !== 'object' || page === null) return { readable: false, threw: false }
  const { data, hasMore, nextCursor } = page as Record<string, unknown>
  if (!Array.isArray(data) || typeof hasMore !== 'boolean') return { readable: false, threw: false }
  if (typeof nextCursor !== 'string' && nextCursor !== null)
    return { readable: false, threw: false }
  if (hasMore && (nextCursor === null || nextCursor === served.cursor)) {
    return { readable: false, threw: false }
  }
  const cards: Card[] = []
  for (const item of data) {
    const read = readCardLike(item, owner)
    if (!read.readable || read.card === null)
      return { readable: false, threw: !read.readable && read.threw }
    cards.push(read.card)
  }
  return { readable: true, cards }
}

function readCardLike(built: unknown, owner: Owner): Reading {
  let parsed: ReturnType<typeof CardSchema.safeParse>
  try {
    parsed = CardSchema.safeParse(built)
  } catch {
    return { readable: false, threw: true }
  }
  if (!parsed.success) return { readable: false, threw: false }
  const card = parsed.data
  if (card.provider !== HAND_NAME || !sameOwner(card.owner, owner)) {
    return { readable: false, threw: false }
  }
  return { readable: true, card }
}

/** The object a card-like answer is answered as: built anew for each answer. */
export function buildCard({ value, trick }: CardLike): unknown {
  const copy = deepCopy(value)
  if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) return copy
  const card = copy as Record<string, unknown>
  if (trick === 'none') return card
  if (trick === 'frozen') return deepFreeze(card)
  if (trick === 'proxy') return new Proxy(card, {})
  if (trick === 'prototype') return Object.create(card)
  if (trick === 'protoKey') {
    const proto = { last4: TAINT, holderName: TAINT, isDefault: 'yes' }
    Object.defineProperty(card, '__proto__', {
      value: proto,
      enumerable: true,
      writable: true,
      configurable: true,
    })
    const metadata = card.metadata
    if (typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)) {
      Object.defineProperty(metadata, '__proto__', {
        value: TAINT,
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return card
  }
  if ('throwsOn' in trick) {
    Object.defineProperty(card, trick.throwsOn, {
      enumerable: true,
      get() {
        throw new Error(`cannot read ${TAINT} with ${SECRETS.stripeKey}`)
      },
    })
    return card
  }
  const first = card[trick.rereadGives]
  let reads = 0
  Object.defineProperty(card, trick.rereadGives, {
    enumerable: true,
    get: () => (reads++ === 0 ? first : TAINT),
  })
  return card
}

/** A card number, as a trick puts it in an answer. */
const TAINT = '4242 4242 4242 4242'

function buildPage(page: PageLike): unknown {
  if ('junk' in page) return deepCopy(page.junk)
  const data = Array.isArray(page.data) ? page.data.map(buildCard) : deepCopy(page.data.notAnArray)
  return {
    ...(deepCopy(page.extra) as object),
    data,
    hasMore: page.hasMore,
    nextCursor: page.nextCursor,
  }
}

/**
 * A deep copy of plain data that keeps every own key as an own key (an own `__proto__` too, which
 * an assignment would turn into the copy's prototype), so that no answer shares an object with
 * another, nor with the script the oracle reads.
 */
function deepCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(deepCopy)
  if (typeof value !== 'object' || value === null) return value
  const copy: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const descriptor = Object.getOwnPropertyDescriptor(value, key)
    if (!descriptor || !('value' in descriptor)) continue
    Object.defineProperty(copy, key, {
      value: deepCopy(descriptor.value),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  return copy
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) deepFreeze(item)
    Object.freeze(value)
  }
  return value
}

// --- Arbitraries -----------------------------------------------------------------------------

/** A card number in text, never a key: what a valid card's free text may carry (masked then). */
const numberInTextArb = fc.oneof(
  cardNumberArb,
  otherScriptCardNumberArb,
  fc
    .tuple(cleanTextArb, fc.constantFrom(' ', ': ', '(', '\n', '/'), cardNumberArb)
    .map(([text, separator, number]) => `${text}${separator}${number}`),
)

/** A valid card of `owner` at the hand-written provider. */
export function validCardArb(owner: Owner): fc.Arbitrary<Card> {
  const text = fc.option(cleanTextArb, { nil: null })
  return fc.record({
    id: cleanIdArb('card_'),
    provider: fc.constant(HAND_NAME),
    owner: fc.constant({ ...owner }),
    brand: fc.constantFrom(...CARD_BRANDS),
    last4: fc.stringMatching(/^\d{4}$/),
    expMonth: fc.integer({ min: 1, max: 12 }),
    expYear: fc.integer({ min: 2026, max: 2045 }),
    holderName: text,
    address: fc.record({
      line1: text,
      line2: text,
      city: text,
      state: text,
      postalCode: text,
      country: fc.constantFrom(null, 'US', 'DE'),
    }),
    country: fc.constantFrom(null, 'US', 'GB'),
    fingerprint: fc.option(cleanIdArb('fp'), { nil: null }),
    funding: fc.constantFrom('credit', 'debit', 'prepaid', 'unknown'),
    checks: fc.record({
      cvc: fc.constantFrom(null, 'pass', 'fail', 'unavailable', 'unchecked'),
      addressLine1: fc.constantFrom(null, 'pass'),
      postalCode: fc.constantFrom(null, 'fail'),
    }),
    currency: owner.type === 'account' ? fc.constantFrom(null, 'usd', 'eur') : fc.constant(null),
    isDefault: fc.boolean(),
    status: fc.constantFrom('active', 'invalid'),
    metadata: fc.dictionary(cleanTextArb, cleanTextArb, { maxKeys: 3 }),
    createdAt: fc.constantFrom(null, '2024-05-01T10:00:00.000Z', '2024-05-01T10:00:00+02:00'),
  }) as fc.Arbitrary<Card>
}

/** Values of the wrong kind for each field of a Card (some happen to be valid: the oracle says). */
const BAD_FIELDS: Record<string, fc.Arbitrary<unknown>> = {
  id: fc.constantFrom('', 'card_\u0000x', 'card_\uD800', 42, null),
  provider: fc.constantFrom('', 'stripe', 'BYHAND', null),
  owner: fc.constantFrom(
    null,
    'cus_byhand',
    { type: 'merchant', id: 'cus_byhand' },
    { type: 'customer', id: '' },
    { type: 'customer', id: 'cus_other' },
    { type: 'account', id: 'cus_byhand' },
  ),
  brand: fc.constantFrom('Visa', 'American Express', '', 'maestro'),
  last4: fc.constantFrom(
    '42',
    '42424',
    'abcd',
    4242,
    '\uff14\uff12\uff14\uff12',
    '4242\n',
    ' 4242',
  ),
  expMonth: fc.constantFrom(0, 13, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '12', 1e21),
  expYear: fc.constantFrom(1969, 10000, 2030.5, Number.NaN, Number.NEGATIVE_INFINITY, '2030', 30),
  holderName: fc.constantFrom(42, {}, ['Ada'], true, ''),
  address: fc.constantFrom(
    'Main St',
    { line1: 42 },
    { city: '' },
    { country: 'us' },
    { country: 'USA' },
    {},
  ),
  country: fc.constantFrom('us', 'USA', 'U1', '', 840),
  fingerprint: fc.constantFrom('', 42, 'fp\u0000'),
  funding: fc.constantFrom('Credit', 'charge', ''),
  checks: fc.constantFrom({ cvc: 'passed' }, {}, 'pass', { cvc: null }),
  currency: fc.constantFrom('USD', 'us', 'usdd', '', 42, 'usd'),
  isDefault: fc.constantFrom('true', 1, 0),
  status: fc.constantFrom('valid', 'Active', ''),
  metadata: fc.constantFrom(
    [],
    'note=x',
    { note: 42 },
    { note: null },
    { note: {} },
    { note: ['x'] },
  ),
  createdAt: fc.constantFrom('yesterday', 1714557600, '2024-05-01', '2024-05-01T10:00:00', ''),
}
const FIELDS = Object.keys(BAD_FIELDS)

/** Free-text places of a Card, where a card number is masked when the card is read. */
const FREE_TEXT = [
  'holderName',
  'address.line1',
  'address.line2',
  'address.city',
  'address.state',
  'address.postalCode',
  'metadata.value',
  'metadata.key',
] as const

/** `card` with `text` put in the free-text place `where`. */
function withText(card: Record<string, unknown>, where: (typeof FREE_TEXT)[number], text: string) {
  if (where === 'holderName') return { ...card, holderName: text }
  if (where === 'metadata.value')
    return { ...card, metadata: { ...(card.metadata as object), note: text } }
  if (where === 'metadata.key')
    return { ...card, metadata: { ...(card.metadata as object), [text]: 'v' } }
  const field = where.slice('address.'.length)
  return { ...card, address: { ...(card.address as object), [field]: text } }
}

/** Changes that make any card unreadable, whatever else it holds (metadata kept, one pair added). */
const BREAKERS: ((card: Record<string, unknown>) => Record<string, unknown>)[] = [
  (card) => ({ ...card, expMonth: 13 }),
  (card) => ({ ...card, last4: '42' }),
  (card) => ({ ...card, metadata: { ...(card.metadata as object), broken: 42 } }),
  (card) => ({ ...card, brand: 'Visa' }),
]

/**
 * Card-like answers for `owner`, from valid to hostile:
 * - a valid card, as it is;
 * - a valid card with a card number (in any grouping or script) in its free text, or a NUL or
 *   an unpaired surrogate there: readable, and stored masked;
 * - a valid card with one to three fields replaced by values of the wrong kind (the suite's
 *   `wrongTypeArb`, its objects whose keys name inherited methods, and each field's own: NaN and
 *   Infinity expiries, months out of range, a last4 that is not four ASCII digits, currencies and
 *   countries of the wrong case or length, metadata that is not string pairs, another owner …),
 *   and extra fields that are no Card's (`number`, `cvc`, `api_key` …) holding card numbers and
 *   keys;
 * - an unreadable card (one of `BREAKERS`) with a card number or a key in a field (an id, the
 *   fingerprint, free text, a metadata key whose value is no string): refused, and never echoed;
 * - anything at all;
 * each answered plain mostly, else frozen, behind a Proxy, from a prototype, with an own
 * `__proto__` key, or with a getter that reads otherwise the second time ({@link Trick}). With
 * `hostile` false, only the first two: cards the schema reads, so that the calls that read
 * several (setDefaultCard, a listing of several pages) get through too.
 */
export function cardLikeArb(owner: Owner, hostile = true): fc.Arbitrary<CardLike> {
  const valid = validCardArb(owner) as fc.Arbitrary<unknown> as fc.Arbitrary<
    Record<string, unknown>
  >
  const masked = fc
    .tuple(
      valid,
      fc.constantFrom(...FREE_TEXT),
      fc.oneof(
        numberInTextArb,
        fc.tuple(cleanTextArb, unstorableCharArb).map(([text, bad]) => `${text}${bad}`),
      ),
    )
    .map(([card, where, text]) => withText(card, where, text))
  const mutated = fc
    .tuple(
      valid,
      fc
        .uniqueArray(fc.constantFrom(...FIELDS), { minLength: 1, maxLength: 3 })
        .chain((fields) =>
          fc.record(
            Object.fromEntries(
              fields.map((field) => [
                field,
                fc.oneof(
                  { weight: 3, arbitrary: BAD_FIELDS[field]! },
                  { weight: 1, arbitrary: wrongTypeArb },
                  { weight: 1, arbitrary: inheritedKeysArb },
                ),
              ]),
            ),
          ),
        ),
      fc.option(leakyExtrasArb, { nil: {} }),
    )
    .map(([card, bad, extras]) => ({ ...card, ...extras, ...bad }))
  const taintedAndBroken = fc
    .tuple(
      valid,
      fc.constantFrom('id', 'fingerprint', 'owner.id', ...FREE_TEXT, 'metadata.badKey'),
      taintedArb,
      fc.constantFrom(...BREAKERS),
    )
    .map(([card, where, taint, breakIt]) => {
      if (where === 'id' || where === 'fingerprint') return breakIt({ ...card, [where]: taint })
      if (where === 'owner.id') return breakIt({ ...card, owner: { ...owner, id: taint } })
      if (where === 'metadata.badKey') return { ...card, metadata: { [taint]: 42 } }
      return breakIt(withText(card, where, taint))
    })
  const value = hostile
    ? fc.oneof(
        { weight: 4, arbitrary: valid },
        { weight: 3, arbitrary: masked },
        { weight: 4, arbitrary: mutated },
        { weight: 2, arbitrary: taintedAndBroken },
        { weight: 1, arbitrary: junkArb },
      )
    : fc.oneof(valid, masked)
  const field = fc.constantFrom(...FIELDS, 'metadata')
  const trick: fc.Arbitrary<Trick> = fc.oneof(
    { weight: 12, arbitrary: fc.constant('none' as const) },
    fc.constantFrom('frozen' as const, 'proxy' as const, 'prototype' as const, 'protoKey' as const),
    field.map((name) => ({ rereadGives: name })),
    ...(hostile ? [field.map((name) => ({ throwsOn: name }))] : []),
  )
  return fc.record({ value, trick })
}

/** A card-like answer of a value as it is: `null`, `undefined` … */
const plain = (value: unknown): CardLike => ({ value, trick: 'none' })

/**
 * Answers of `getDefaultCard`: a card-like mostly, null ("no default") often, and the falsy
 * values that are no answer (`undefined`, `false`, `0`, `''`), which must be refused, not read as
 * "no default".
 */
export function defaultAnswerArb(owner: Owner, hostile = true): fc.Arbitrary<CardLike> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: cardLikeArb(owner, hostile),
    },
    { weight: 2, arbitrary: fc.constant(plain(null)) },
    ...(hostile
      ? [{ weight: 1, arbitrary: fc.constantFrom(undefined, false, 0, '').map(plain) }]
      : []),
  )
}

/**
 * The pages of one listing, one to three: well formed mostly (each but the last says more
 * follow, with the next page's cursor), else (`hostile`) with some pages malformed: no array of
 * cards, a `hasMore` or `nextCursor` of the wrong type, more cards announced with no cursor or
 * with the cursor the page was asked with, junk for a page; extra fields, with a card number or
 * a key in them, on any page.
 */
export function pagesArb(owner: Owner, hostile = true): fc.Arbitrary<PageLike[]> {
  const malformed = fc.oneof(
    fc.record({
      data: fc.constantFrom(null, undefined, 'cards', {}, 3).map((notAnArray) => ({ notAnArray })),
    }),
    fc.record({ hasMore: fc.constantFrom('true', 1, null, undefined) }),
    fc.record({ nextCursor: fc.constantFrom(2, undefined, {}) }),
    fc.record({ hasMore: fc.constant(true), nextCursor: fc.constant(null) }),
    fc.record({ sameCursor: fc.constant(true) }),
    fc.record({ junk: junkArb }),
  )
  const pageArb = fc.record({
    cards: fc.array(cardLikeArb(owner, hostile), { maxLength: 3 }),
    extra: fc.option(fc.record({ raw: taintedArb, total: fc.nat() }, { requiredKeys: [] }), {
      nil: {},
    }),
    broken: hostile ? fc.option(malformed, { freq: 3, nil: undefined }) : fc.constant(undefined),
  })
  return fc.array(pageArb, { minLength: 1, maxLength: 3 }).map((pages) =>
    pages.map(({ cards, extra, broken }, index): PageLike => {
      if (broken && 'junk' in broken) return { junk: broken.junk }
      const last = index === pages.length - 1
      const page = {
        data: cards as PageData,
        hasMore: !last,
        nextCursor: last ? null : (`p${index + 1}` as unknown),
        extra,
      }
      if (!broken) return page
      if ('sameCursor' in broken) return { ...page, hasMore: true, nextCursor: `p${index}` }
      return { ...page, ...broken } as PageLike
    }),
  )
}

/**
 * A whole script of answers for `owner`: hostile (each answer from the whole range of
 * {@link cardLikeArb}) two runs in three, else every answer one the schema reads.
 */
export function scriptArb(owner: Owner): fc.Arbitrary<Script> {
  // Built once each: an arbitrary built inside `chain` is built again for every value.
  const scripts = [true, false].map((hostile) => {
    const card = cardLikeArb(owner, hostile)
    return fc.record({
      createCard: card,
      getCard: card,
      setDefaultCard: card,
      getDefaultCard: defaultAnswerArb(owner, hostile),
      updateCard: card,
      invalidateCard: card,
      parseCard: fc.oneof({ weight: 5, arbitrary: card }, fc.constant(plain(null))),
      pages: pagesArb(owner, hostile),
      // Mostly the card asked for: a run that answers another refuses every named operation.
      otherId: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)),
    })
  })
  return fc.oneof({ weight: 2, arbitrary: scripts[0]! }, scripts[1]!)
}

/**
 * A script answering every operation with a valid card of `owner` (`card_plain`), but for
 * `answers`: to replay one counterexample exactly.
 */
export function scriptOf(owner: Owner, answers: Partial<Script>): Script {
  const card = plain({
    id: 'card_plain',
    provider: HAND_NAME,
    owner: { ...owner },
    brand: 'visa',
    last4: '4242',
    expMonth: 12,
    expYear: 2040,
    holderName: null,
    address: { line1: null, line2: null, city: null, state: null, postalCode: null, country: null },
    country: 'US',
    fingerprint: null,
    funding: 'credit',
    checks: { cvc: null, addressLine1: null, postalCode: null },
    currency: null,
    isDefault: true,
    status: 'active',
    metadata: {},
    createdAt: null,
  })
  return {
    createCard: card,
    getCard: card,
    setDefaultCard: card,
    getDefaultCard: card,
    updateCard: card,
    invalidateCard: card,
    parseCard: card,
    pages: [{ data: [card], hasMore: false, nextCursor: null, extra: {} }],
    otherId: false,
    ...answers,
  }
}
