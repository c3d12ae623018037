import { createHash, createHmac, randomBytes } from 'node:crypto'
import { types } from 'node:util'
import { z } from 'zod'
import { brandFromNumber, type CardBrand } from './brand.js'
import {
  type Card,
  type CardAddress,
  EMPTY_ADDRESS,
  formatOwner,
  type Owner,
  ProviderNameSchema,
} from './card.js'
import { MAX_EXPIRY_YEARS_AHEAD, type ValidCreateCardInput } from './card-details.js'
import { cardNotFound, defineCardProvider } from './define-provider.js'
import {
  CardDeclinedError,
  CardInvalidError,
  ConflictError,
  IdempotencyConflictError,
  InvalidRequestError,
} from './errors.js'
import { kindOf } from './kind-of.js'
import { applyMetadataPatch, METADATA_LIMITS } from './metadata.js'
import { decodeCursor, encodeCursor } from './pagination.js'
import type { CardProvider } from './provider.js'
import { optionsObject, validate } from './validate.js'

/** The capabilities of {@link memoryProvider}: everything, with Stripe's default rules. */
export const MEMORY_PROVIDER_CAPABILITIES = Object.freeze({
  /** Customers and accounts: owners exist on first use. */
  ownerTypes: ['customer', 'account'],
  /**
   * From a token of {@link MEMORY_PROVIDER_TOKENS} (`tok_chargeDeclined` declines) or details
   * (Stripe's generic-decline test number `4000 0000 0000 0002` declines).
   */
  createCard: true,
  /** One card of an owner. */
  getCard: true,
  /** Pages of an owner's cards, newest first, with an opaque cursor. */
  listCards: true,
  /** Address, expiry, name and metadata, as Stripe allows. */
  updateCard: true,
  /**
   * Deleting the default promotes the most recently added card still active, as Stripe does for
   * a customer holding only cards (Stripe promotes the newest source, which may be a bank
   * account); an invalid card is never promoted.
   */
  deleteCard: true,
  /** Makes a valid card the owner's default (for an account: for the card's currency). */
  setDefaultCard: true,
  /**
   * Marks a card `'invalid'` for good, as the marketplace does. Invalidating the default promotes
   * the most recently added card still active (for an account, of that currency), or none.
   */
  invalidateCard: true,
  /** Raw card details are accepted (checked as `CardDetailsSchema` says, never kept). */
  cardDetails: true,
  /** An account's cards behave as Stripe Connect external accounts: a default per currency. */
  externalAccounts: true,
  /** Stripe's rule: the first card becomes the default. */
  defaultPolicy: 'first-card',
  /** Everything `updateCard` can change. */
  updatableFields: ['address', 'expiry', 'holderName', 'metadata'],
} as const)

/** Stripe's generic-decline test number: raw details with it are declined, as Stripe does. */
const DECLINED_TEST_NUMBER = '4000000000000002'

/**
 * Tokens the memory provider accepts, after Stripe's test tokens: `tok_<brand>` makes a card
 * of that brand, `tok_chargeDeclined` is declined.
 */
export const MEMORY_PROVIDER_TOKENS: Readonly<
  Record<
    string,
    {
      /** The brand of the card the token makes. */
      brand: CardBrand
      /** The last four digits of the card the token makes (those of Stripe's test card). */
      last4: string
    }
  >
> = {
  tok_visa: { brand: 'visa', last4: '4242' },
  tok_visa_debit: { brand: 'visa', last4: '5556' },
  tok_mastercard: { brand: 'mastercard', last4: '4444' },
  tok_amex: { brand: 'amex', last4: '8431' },
  tok_discover: { brand: 'discover', last4: '1117' },
  tok_jcb: { brand: 'jcb', last4: '0505' },
  tok_diners: { brand: 'diners', last4: '0004' },
  tok_unionpay: { brand: 'unionpay', last4: '0005' },
}

/** Options of {@link memoryProvider}. */
export interface MemoryProviderOptions {
  /**
   * The provider name stored on its cards: what the adapters' `name` option takes
   * (core's `ProviderNameSchema`: 1 to 64 letters, digits, `-`, `_` or `.`, a letter first).
   * Default `'memory'`.
   */
  name?: string | undefined
  /**
   * The clock, for tests of expiry and ordering: a function that returns a valid `Date` (not
   * ms, as `Date.now` and `stripeWebhookHandler`'s `now` answer). It is called whenever the
   * provider needs the time (a create, an update of the expiry); an answer that is no valid
   * `Date` fails that call with `invalid_request`, not retryable, saying `now` must return a
   * Date. Default: the system clock.
   */
  now?: (() => Date) | undefined
}

/** The memory provider: a `CardProvider` plus `reset()` to empty it between tests. */
export type MemoryProvider = CardProvider<typeof MEMORY_PROVIDER_CAPABILITIES> & {
  /** Forgets every card and idempotency key. */
  reset(): void
}

/**
 * What a create with an idempotency key did, kept for the key's reuse: a digest of its owner
 * and parameters, and the card it made or the error that refused it.
 */
interface Replay {
  fingerprint: string
  outcome: { refused: false; cardId: string } | { refused: true; error: unknown }
}

interface OwnerState {
  cards: Card[] // in creation order
  defaultId: string | null // customers only; accounts keep isDefault per currency on the card
  /** Each card's place in creation order, provider-wide: list cursors continue below one. */
  sequence: Map<string, number>
}

/**
 * A card provider with no HTTP at all that follows the rules every provider honours: the first card
 * becomes the default; deleting or invalidating the default promotes the most recently added
 * remaining card still active (an invalid card is never the default, as `setDefaultCard` refuses
 * one); an account's card that is the default for its currency cannot be deleted; lists page with
 * an opaque cursor; creates replay by idempotency key as Stripe replays them (the card made, or the
 * refusal for a decline or an unknown token; parameters compared whatever the order of their keys;
 * the key with other parameters is `idempotency_conflict`); an update that would leave a card more
 * than 50 metadata keys is refused whole, as Stripe refuses it (`invalid_request`, status 400,
 * `details.param` `'metadata'`), and so is an update of the month or the year alone that makes the
 * card expired with its other one, judged by `now` (`card_invalid`, status 402, `providerCode`
 * `invalid_expiry_month` or `invalid_expiry_year`, `details.param` `exp_month` or `exp_year`, as
 * Stripe answers). Owners exist on first use.
 *
 * For application tests that do not care about the wire; `@cardport/testing` re-exports it.
 *
 * @example
 * ```ts
 * const provider = memoryProvider()
 * const card = await provider.createCard({ type: 'customer', id: 'cus_1' }, { source: 'tok_visa' })
 * card.isDefault // true: it is the first card
 * ```
 */
export function memoryProvider(options: MemoryProviderOptions = {}): MemoryProvider {
  // Checked once, here: an empty or non-string name would make every card it returns
  // unreadable (each call failing with provider_unavailable), and a `now` that is no function
  // would fail each create.
  const valid = validate(MemoryProviderOptionsSchema, options, 'memoryProvider options')
  const name = valid?.name ?? 'memory'
  const clock = valid?.now ?? (() => new Date())
  // Checked at each call, where it is read: a clock answering ms (`Date.now`) failed each create
  // as `provider_unavailable`, retryable, and CardSync and withRetry retried the mistake.
  const now = (): Date => {
    const date: unknown = clock()
    if (types.isDate(date) && !Number.isNaN(date.getTime())) return date
    throw new InvalidRequestError(
      `${name}: memoryProvider's now must return a valid Date (not ms, not an invalid Date), and it returned ${kindOf(date)}: pass () => new Date(…)`,
      { provider: name, issues: [{ path: ['now'], message: 'must return a Date' }] },
    )
  }
  const owners = new Map<string, OwnerState>()
  const replays = new Map<string, Replay>()
  // A replayed create is compared by a digest keyed for this provider: raw details (a number, a
  // CVC) are never kept, not even hashed in a way a list of numbers could look up.
  const replayKey = randomBytes(32)
  let created = 0

  const stateOf = (owner: Owner): OwnerState => {
    const key = `${owner.type}:${owner.id}`
    let state = owners.get(key)
    if (!state) {
      state = { cards: [], defaultId: null, sequence: new Map() }
      owners.set(key, state)
    }
    return state
  }

  const withDefault = (owner: Owner, state: OwnerState, card: Card): Card =>
    owner.type === 'customer' ? { ...card, isDefault: card.id === state.defaultId } : { ...card }

  const find = (owner: Owner, cardId: string) => {
    const state = stateOf(owner)
    const index = state.cards.findIndex((card) => card.id === cardId)
    if (index === -1) throw cardNotFound(name, owner, cardId, { status: 404 })
    return { state, index, card: state.cards[index]! }
  }

  const makeCard = (owner: Owner, input: ValidCreateCardInput, at: Date): Card => {
    let brand: CardBrand
    let last4: string
    let expMonth = 12
    let expYear = at.getUTCFullYear() + 3
    let holderName: string | null = null
    let address: CardAddress = EMPTY_ADDRESS
    if (typeof input.source === 'string') {
      if (input.source === 'tok_chargeDeclined') {
        throw new CardDeclinedError('The card was declined: ask the customer for another card', {
          provider: name,
          status: 402,
          providerCode: 'card_declined',
          declineCode: 'generic_decline',
        })
      }
      const token = MEMORY_PROVIDER_TOKENS[input.source]
      if (!token) {
        throw new InvalidRequestError(
          `No such token: ${input.source}. Use one of ${Object.keys(MEMORY_PROVIDER_TOKENS).join(', ')}`,
          { provider: name, status: 400 },
        )
      }
      ;({ brand, last4 } = token)
    } else {
      // As Stripe declines its test card when it is attached: raw details that pass every
      // local check and are still refused, for the conformance suite's `declinedDetails`.
      if (input.source.number === DECLINED_TEST_NUMBER) {
        throw new CardDeclinedError('The card was declined: ask the customer for another card', {
          provider: name,
          status: 402,
          providerCode: 'card_declined',
          declineCode: 'generic_decline',
        })
      }
      brand = brandFromNumber(input.source.number)
      last4 = input.source.number.slice(-4)
      expMonth = input.source.expMonth
      expYear = input.source.expYear
      holderName = input.source.holderName ?? null
      // The billing address as given, each field left out empty: the issuer's checks read it.
      const given = input.source.address ?? {}
      address = {
        line1: given.line1 ?? null,
        line2: given.line2 ?? null,
        city: given.city ?? null,
        state: given.state ?? null,
        postalCode: given.postalCode ?? null,
        country: given.country ?? null,
      }
    }
    return {
      id: `card_${randomBase62(24)}`,
      provider: name,
      owner: { ...owner },
      brand,
      last4,
      expMonth,
      expYear,
      holderName,
      address: { ...address },
      country: 'US',
      fingerprint: createHash('sha256').update(`${brand}${last4}`).digest('hex').slice(0, 16),
      funding: 'credit',
      checks: { cvc: 'pass', addressLine1: null, postalCode: null },
      currency: owner.type === 'account' ? (input.currency ?? 'usd') : null,
      isDefault: false,
      status: 'active',
      metadata: applyMetadataPatch({}, input.metadata ?? {}),
      createdAt: at.toISOString(),
    }
  }

  const makeDefault = (owner: Owner, state: OwnerState, card: Card) => {
    if (owner.type === 'customer') {
      state.defaultId = card.id
      return
    }
    state.cards = state.cards.map((other) =>
      other.currency === card.currency ? { ...other, isDefault: other.id === card.id } : other,
    )
  }

  /**
   * Makes the most recently added active card the default in place of `removed` (deleted or
   * invalidated): for an account, among the cards of its currency. With none, there is no
   * default, and the next card created becomes it. An invalid card is never promoted.
   */
  const promote = (owner: Owner, state: OwnerState, removed: Card) => {
    const next = state.cards.findLast(
      (other) =>
        other.id !== removed.id &&
        other.status === 'active' &&
        (owner.type === 'customer' || other.currency === removed.currency),
    )
    if (next) makeDefault(owner, state, next)
    else if (owner.type === 'customer') state.defaultId = null
  }

  const provider = defineCardProvider({
    name,
    capabilities: MEMORY_PROVIDER_CAPABILITIES,

    async createCard(owner, input, { idempotencyKey }) {
      const ownerKey = `${owner.type}:${owner.id}`
      // The parameters compared whatever the order of their keys, as Stripe compares them. The
      // core's checks hand the input's fields (card details, their address) over in the
      // schema's order; metadata keeps the caller's, so its pairs are sorted: the same metadata
      // written in another order is the same request.
      const metadata = input.metadata && Object.entries(input.metadata).sort(byKey)
      const fingerprint = createHmac('sha256', replayKey)
        .update(JSON.stringify([ownerKey, { ...input, metadata }]))
        .digest('base64url')
      const replay = replays.get(idempotencyKey)
      if (replay) {
        if (replay.fingerprint !== fingerprint) {
          throw new IdempotencyConflictError(
            'This idempotency key was used with other parameters: use a new key for a new request',
            { provider: name, status: 400 },
          )
        }
        if (replay.outcome.refused) throw replay.outcome.error
        return withDefault(owner, stateOf(owner), find(owner, replay.outcome.cardId).card)
      }
      // The outcome is recorded whether the card is made or refused, as Stripe saves the outcome
      // of every request that reached the endpoint: a decline or an unknown token is replayed
      // for the same key and parameters, and the key reused with others is
      // idempotency_conflict. The core's own checks refused a malformed input before this call,
      // so such a refusal is never recorded (Stripe saves nothing for a parameter it refuses).
      // Read before: a clock that answers no Date is the caller's mistake, not an outcome of
      // the request to replay for its key.
      const at = now()
      let card: Card
      try {
        card = makeCard(owner, input, at)
      } catch (error) {
        replays.set(idempotencyKey, { fingerprint, outcome: { refused: true, error } })
        throw error
      }
      replays.set(idempotencyKey, { fingerprint, outcome: { refused: false, cardId: card.id } })
      const state = stateOf(owner)
      state.cards.push(card)
      state.sequence.set(card.id, ++created)
      const hasDefault =
        owner.type === 'customer'
          ? state.defaultId !== null
          : state.cards.some((other) => other.isDefault && other.currency === card.currency)
      if (!hasDefault || input.makeDefault) makeDefault(owner, state, card)
      return withDefault(owner, state, find(owner, card.id).card)
    },

    async getCard(owner, cardId) {
      const { state, card } = find(owner, cardId)
      return withDefault(owner, state, card)
    },

    async listCards(owner, { limit, cursor }) {
      const state = stateOf(owner)
      // Keyset, as Stripe's starting_after: the cards created before the last one listed. A
      // card deleted or added between pages moves no other card from one page to another.
      const before =
        cursor === undefined ? Number.POSITIVE_INFINITY : cursorBefore(name, owner, cursor)
      const older = [...state.cards]
        .reverse()
        .filter((card) => state.sequence.get(card.id)! < before)
      const data = older.slice(0, limit)
      const hasMore = older.length > limit
      return {
        data: data.map((card) => withDefault(owner, state, card)),
        hasMore,
        nextCursor: hasMore
          ? encodeCursor(
              name,
              { before: state.sequence.get(data.at(-1)!.id)! },
              { list: formatOwner(owner) },
            )
          : null,
      }
    },

    async updateCard(owner, cardId, patch) {
      const { state, index, card } = find(owner, cardId)
      const metadata = patch.metadata
        ? applyMetadataPatch(card.metadata, patch.metadata)
        : card.metadata
      // The core checked the patch alone; the limit holds for the card's metadata after it, as
      // Stripe checks it (and refuses the whole update, so nothing else changes either).
      if (Object.keys(metadata).length > METADATA_LIMITS.maxKeys) {
        throw new InvalidRequestError(
          `Card ${cardId} can hold at most ${METADATA_LIMITS.maxKeys} metadata keys, and this update would leave it with ${Object.keys(metadata).length}: unset keys with '' in the same update, or send fewer`,
          { provider: name, status: 400, details: { param: 'metadata' } },
        )
      }
      const expMonth = patch.expMonth ?? card.expMonth
      const expYear = patch.expYear ?? card.expYear
      // Only an expiry the update changes is judged: a card that has expired since it was
      // stored can still have its name, address or metadata changed, as at Stripe.
      if (patch.expMonth !== undefined || patch.expYear !== undefined) {
        checkExpiry(name, cardId, expMonth, expYear, now())
      }
      const updated: Card = {
        ...card,
        holderName: patch.holderName === undefined ? card.holderName : patch.holderName,
        expMonth,
        expYear,
        address: { ...card.address, ...patch.address },
        metadata,
      }
      state.cards[index] = updated
      return withDefault(owner, state, updated)
    },

    async deleteCard(owner, cardId) {
      const { state, index, card } = find(owner, cardId)
      if (owner.type === 'account' && card.isDefault) {
        throw new ConflictError(
          `Card ${cardId} is the default for ${card.currency}: make another card the default for that currency first`,
          { provider: name, status: 400 },
        )
      }
      state.cards.splice(index, 1)
      state.sequence.delete(cardId)
      if (owner.type === 'customer' && state.defaultId === cardId) promote(owner, state, card)
    },

    async setDefaultCard(owner, cardId) {
      const { state, card } = find(owner, cardId)
      if (card.status === 'invalid') {
        throw new ConflictError(`Card ${cardId} is invalid and cannot become the default`, {
          provider: name,
        })
      }
      makeDefault(owner, state, card)
      return withDefault(owner, state, find(owner, cardId).card)
    },

    async invalidateCard(owner, cardId) {
      const { state, index, card } = find(owner, cardId)
      const wasDefault = owner.type === 'customer' ? state.defaultId === cardId : card.isDefault
      state.cards[index] = { ...card, status: 'invalid', isDefault: false }
      // An invalid card is never the default (setDefaultCard refuses one): invalidating the
      // default promotes another card as deleting it does.
      if (wasDefault) promote(owner, state, card)
      return withDefault(owner, state, state.cards[index]!)
    },

    parseCard(raw, owner) {
      if (
        typeof raw !== 'object' ||
        raw === null ||
        (raw as { provider?: unknown }).provider !== name
      ) {
        return null
      }
      const card = raw as Card
      // The payload's own owner when it names one: given another, the core refuses the card
      // (invalid_request), as it refuses a real adapter's payload of another owner's card.
      return owner && card.owner == null ? { ...card, owner } : card
    },
  })

  return Object.freeze({
    ...provider,
    reset() {
      owners.clear()
      replays.clear()
    },
  }) as MemoryProvider
}

// ---- helpers -------------------------------------------------------------------------------

/** Orders `[key, value]` pairs by key, in code unit order. */
function byKey([a]: [string, unknown], [b]: [string, unknown]): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** {@link MemoryProviderOptions}: a provider name, a clock function. */
const MemoryProviderOptionsSchema = optionsObject({
  name: ProviderNameSchema.optional(),
  now: z.custom<() => Date>((value) => typeof value === 'function', 'now is a function').optional(),
}).optional()

/**
 * Where a `listCards` cursor continues: below the creation number it holds. Another owner's
 * cursor, or one that was altered, is `invalid_request`.
 */
function cursorBefore(provider: string, owner: Owner, cursor: string): number {
  return decodeCursor(provider, cursor, {
    list: formatOwner(owner),
    read: ({ before }) =>
      typeof before === 'number' && Number.isSafeInteger(before) && before >= 1
        ? before
        : undefined,
  })
}

/**
 * Refuses the expiry an update leaves a card with as Stripe does (and its emulator in
 * `@cardport/testing`): the core refuses an expiry in the past given whole, but a month or a
 * year given alone is judged here, with the card's other one. A year before this one, or more
 * than 50 years ahead, is `invalid_expiry_year`; a month of this year that has passed,
 * `invalid_expiry_month`. Months and years are read in UTC, as Stripe reads them: as a provider
 * does, this may refuse a month the core still accepts (until noon UTC on the 1st of the next).
 */
function checkExpiry(provider: string, cardId: string, month: number, year: number, today: Date) {
  const thisYear = today.getUTCFullYear()
  const invalid = (field: 'month' | 'year', why: string) =>
    new CardInvalidError(
      `Card ${cardId}'s expiration ${field} is invalid: ${why} (ask the customer to check the card details)`,
      {
        provider,
        status: 402,
        providerCode: `invalid_expiry_${field}`,
        details: { param: `exp_${field}` },
      },
    )
  if (year < thisYear) throw invalid('year', `the card would have expired in ${year}`)
  if (year > thisYear + MAX_EXPIRY_YEARS_AHEAD) {
    throw invalid('year', `${year} is more than ${MAX_EXPIRY_YEARS_AHEAD} years ahead`)
  }
  if (year === thisYear && month < today.getUTCMonth() + 1) {
    throw invalid('month', `the card would have expired at the end of ${month}/${year}`)
  }
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/**
 * A random base62 text, the shape of Stripe's ids after their prefix. Not hex: a hex id holds a
 * run of 13 or more digits that is Luhn-valid with a network's prefix about once in 2,300 ids,
 * and every message naming such an id (a `card_not_found`) would show it masked.
 */
function randomBase62(length: number): string {
  let out = ''
  for (const byte of randomBytes(length)) out += BASE62[byte % BASE62.length]
  return out
}
