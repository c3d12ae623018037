import {
  type Card,
  CardSchema,
  type CheckResult,
  InvalidRequestError,
  markDefaultUnknown,
  normalizeBrand,
  type Owner,
  optionsObject,
  ProviderUnavailableError,
  parseCardPayload,
  payloadFailure,
  providerMetadata,
  toCountryAlpha2,
  validate,
} from '@cardport/core'
import { z } from 'zod'
import { MARKETPLACE_PROVIDER_NAME } from './map-error.js'

/**
 * A marketplace card read without an owner: a tokenized card that no account holds yet has
 * `owner: null`. What the marketplace-wide list returns.
 */
export type MarketplaceCard = Omit<Card, 'owner'> & {
  /** The account that holds the card, or null for a tokenized card no account holds yet. */
  owner: Owner | null
}

/**
 * Options of {@link toMarketplaceCard} and {@link toMarketplaceCardToken}. A key other than
 * these is `invalid_request`, as is a `defaultCardId` that is not a string or null.
 */
export interface ParseCardOptions {
  /**
   * The id of the account's chosen card, when the caller knows it. Otherwise the card's
   * embedded `customer.source_uri` decides; a payload without it reads as not the default,
   * marked with `markDefaultUnknown` (see {@link toMarketplaceCard}).
   */
  defaultCardId?: string | null
}

const ParseCardOptionsSchema = optionsObject({
  defaultCardId: z.string().nullable().optional(),
})

/** `options`, checked: an unknown key (`default_card_id`) is refused, not read as no option. */
function checkedOptions(options: ParseCardOptions, what: string): ParseCardOptions {
  return validate(ParseCardOptionsSchema, options, `${what} options`, MARKETPLACE_PROVIDER_NAME)
}

/**
 * Maps a marketplace card payload (an API answer, a list item) to the normalized {@link Card}
 * shape. Returns null for anything that is not a card (an account, a bank account, a page).
 * The result is read with core's Card schema (`compiledCardSchema()`), as `provider.parseCard`
 * reads it: a card number in a text (the holder's name, an address line, a `meta` value) is
 * masked (`•••• 1111`), and a card the schema refuses (an `expiration_month` of `'April'`, a
 * `last_four` that is not four digits) is `invalid_request` naming the fields, the payload being
 * the caller's.
 *
 * | Card | marketplace |
 * |---|---|
 * | `id` | `id` (or the last segment of `uri`) |
 * | `owner` | the given owner, else `account` (object or URI): `{ type: 'account', id }` |
 * | `brand` | `brand` (`card_type`, deprecated, when `brand` is missing) |
 * | `last4` | `last_four` |
 * | `expMonth`, `expYear` | `expiration_month`, `expiration_year` (strings or numbers) |
 * | `holderName` | `name` |
 * | `address` | `street_address` (a second line is `line2`), `city`, `region`/`state`, `postal_code`, `country_code` (alpha-3 → alpha-2) |
 * | `checks` | `security_code_check` → `cvc`, `postal_code_check` → `postalCode` |
 * | `status` | `is_valid` (`false`, `"False"` → `invalid`) |
 * | `metadata` | `meta` |
 * | `createdAt` | `created_at` |
 * | `isDefault` | `options.defaultCardId`, else the embedded `customer.source_uri` |
 *
 * A payload that cannot tell whether the card is the account's chosen one (no embedded
 * `customer`, or one without `source_uri`, and no `defaultCardId`) gives `isDefault: false`
 * marked with core's `markDefaultUnknown`, so that `CardSync.syncFromProviderData` keeps the
 * stored default flag instead of clearing it.
 *
 * Throws `invalid_request` for a card that no account holds when no owner is given: a
 * normalized card always has an owner. Use {@link toMarketplaceCardToken} for those.
 *
 * `options` takes `defaultCardId` only: another key (`default_card_id`, `defaultSourceId`) is
 * `invalid_request` naming it and the options there are, rather than dropped, which would
 * leave the card marked default-unknown without a word.
 */
export function toMarketplaceCard(
  raw: unknown,
  owner?: Owner,
  options: ParseCardOptions = {},
): Card | null {
  const checked = checkedOptions(options, 'toMarketplaceCard')
  return parseCardPayload(MARKETPLACE_PROVIDER_NAME, () =>
    marketplaceCardOf(MARKETPLACE_PROVIDER_NAME, raw, owner, checked),
  )
}

/**
 * {@link toMarketplaceCard} for the provider named `name` (`marketplaceProvider`'s `name`
 * option): the card's `provider`, and the provider its errors name. Not read with the Card
 * schema: the provider's operations are read by the core (`defineCardProvider`). @internal
 */
export function marketplaceCardOf(
  name: string,
  raw: unknown,
  owner?: Owner,
  options: ParseCardOptions = {},
): Card | null {
  if (!isCardPayload(raw)) return null
  const id = cardIdOf(raw, name)
  const resolved = owner ?? ownerOf(raw)
  if (resolved === null) {
    throw new InvalidRequestError(
      `marketplace card ${id} is not associated with an account: pass its owner, or read it with toMarketplaceCardToken`,
      { provider: name },
    )
  }
  const chosen = chosenIdOf(raw, options)
  const card = mapCard(raw, id, { type: resolved.type, id: resolved.id }, chosen ?? null, name)
  return chosen === undefined ? markDefaultUnknown(card) : card
}

/**
 * Like {@link toMarketplaceCard}, for cards that may belong to no account yet (tokenized,
 * not associated): `owner` is null for those. Read as {@link toMarketplaceCard} reads a card
 * (core's Card schema, its owner allowed to be null): a card number in a text is masked, and a
 * card the schema refuses is `invalid_request`. Its options are {@link toMarketplaceCard}'s,
 * an unknown key refused as there.
 */
export function toMarketplaceCardToken(
  raw: unknown,
  options: ParseCardOptions = {},
): MarketplaceCard | null {
  const checked = checkedOptions(options, 'toMarketplaceCardToken')
  let card: MarketplaceCard | null
  try {
    card = marketplaceCardTokenOf(MARKETPLACE_PROVIDER_NAME, raw, checked)
  } catch (error) {
    throw payloadFailure(error, MARKETPLACE_PROVIDER_NAME)
  }
  if (card === null) return null
  return validate(
    marketplaceCardSchema(),
    card,
    `${MARKETPLACE_PROVIDER_NAME} card payload`,
    MARKETPLACE_PROVIDER_NAME,
  )
}

/**
 * A card the provider named `name` read from the marketplace's answer to `operation`
 * (`tokenizeCard`, `listMarketplaceCards`), read with core's Card schema, its owner allowed to be
 * null, as the core reads every card a provider's own operations return: a card number in a
 * text masked, and a card the schema refuses (an expiry that is no month, a `last_four` that is
 * not four digits) `provider_unavailable`, not retryable, naming the fields, as `listCards`
 * refuses it, with `requestId`, the id of the answer the card came in. @internal
 */
export function readMarketplaceCard(
  card: MarketplaceCard,
  name: string,
  operation: string,
  requestId?: string | undefined,
): MarketplaceCard {
  const result = marketplaceCardSchema().safeParse(card)
  if (result.success) return result.data
  // The issues' paths may name a meta key holding a card number: CardportError masks it.
  const issues = result.error.issues
    .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
    .join('; ')
  throw new ProviderUnavailableError(
    `${name} returned a card cardport cannot read (${operation}): ${issues}`,
    { provider: name, requestId, retryable: false },
  )
}

/**
 * Core's Card schema with an owner that may be null: a {@link MarketplaceCard}. Its currency
 * rule (only an account's card has one) is left out: a marketplace card never has a currency.
 */
const MarketplaceCardSchema = z.object({
  ...CardSchema.shape,
  owner: CardSchema.shape.owner.nullable(),
})

let compiledMarketplaceCard: typeof MarketplaceCardSchema | undefined

/** {@link MarketplaceCardSchema}, compiled the first time it is asked for, as core's is. */
function marketplaceCardSchema(): typeof MarketplaceCardSchema {
  compiledMarketplaceCard ??= z.compile(MarketplaceCardSchema)
  return compiledMarketplaceCard
}

/** {@link toMarketplaceCardToken} for the provider named `name`, not read with the schema. @internal */
export function marketplaceCardTokenOf(
  name: string,
  raw: unknown,
  options: ParseCardOptions = {},
): MarketplaceCard | null {
  if (!isCardPayload(raw)) return null
  const chosen = chosenIdOf(raw, options)
  return mapCard(raw, cardIdOf(raw, name), ownerOf(raw), chosen ?? null, name)
}

/** The account's chosen card: the caller's word, else the payload's (undefined: it cannot tell). */
function chosenIdOf(raw: Record<string, unknown>, options: ParseCardOptions) {
  return options.defaultCardId !== undefined ? options.defaultCardId : chosenCardIdOf(raw)
}

function cardIdOf(raw: Record<string, unknown>, name: string): string {
  const id = text(raw.id) ?? lastSegment(text(raw.uri))
  if (id === null) {
    throw new InvalidRequestError('this marketplace card payload has neither an id nor a uri', {
      provider: name,
    })
  }
  return id
}

// One object literal, every field named: a spread followed by more keys (`{ ...card, owner }`)
// takes V8 off its fast path, several microseconds a card.
function mapCard<O extends Owner | null>(
  raw: Record<string, unknown>,
  id: string,
  owner: O,
  defaultId: string | null,
  name: string,
): Omit<Card, 'owner'> & { owner: O } {
  const street = streetLines(text(raw.street_address))
  return {
    id,
    provider: name,
    owner,
    brand: normalizeBrand(text(raw.brand) ?? text(raw.card_type)),
    last4: digitsText(raw.last_four),
    expMonth: integer(raw.expiration_month),
    expYear: integer(raw.expiration_year),
    holderName: text(raw.name),
    address: {
      line1: street.line1,
      line2: street.line2,
      city: text(raw.city),
      state: text(raw.region) ?? text(raw.state),
      postalCode: text(raw.postal_code),
      country: toCountryAlpha2(text(raw.country_code)),
    },
    // The marketplace does not say where a card was issued, its funding or a fingerprint:
    // `hash` covers the expiry too, so it is not the number's fingerprint other providers give.
    country: null,
    fingerprint: null,
    funding: 'unknown',
    checks: {
      cvc: checkOf(raw.security_code_check),
      addressLine1: null,
      postalCode: checkOf(raw.postal_code_check),
    },
    currency: null,
    isDefault: defaultId !== null && defaultId === id,
    status: isInvalid(raw.is_valid) ? 'invalid' : 'active',
    metadata: providerMetadata(raw.meta),
    createdAt: timestamp(raw.created_at),
  }
}

/**
 * The id of the account's chosen card as a card payload tells it (its customer's
 * `source_uri`): a string, null when the account has none, undefined when the payload does
 * not say (a card no account holds, a payload without its customer).
 */
export function chosenCardIdOf(raw: unknown): string | null | undefined {
  if (!isObject(raw) || !isObject(raw.customer)) return undefined
  if (!('source_uri' in raw.customer)) return undefined
  return lastSegment(text(raw.customer.source_uri))
}

/** Whether a payload is a marketplace card: `_type: 'card'`, or a card's fields without `_type`. */
export function isCardPayload(raw: unknown): raw is Record<string, unknown> {
  if (!isObject(raw)) return false
  if (raw._type !== undefined) return raw._type === 'card'
  return raw.last_four !== undefined && raw.expiration_month !== undefined
}

/** The last path segment of a URI (`/v1/…/cards/CC123` → `CC123`), or the value itself. */
export function lastSegment(value: string | null | undefined): string | null {
  if (!value) return null
  const query = value.indexOf('?')
  let end = query === -1 ? value.length : query
  while (end > 0 && value.charCodeAt(end - 1) === SLASH) end--
  const start = value.lastIndexOf('/', end - 1) + 1
  return end > start ? value.slice(start, end) : null
}

const SLASH = 47

/** Whether a value is a plain object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The account a card payload names (`account`, or `account_uri`); null when it names none. */
export function ownerOf(raw: Record<string, unknown>): Owner | null {
  return accountOf(raw.account ?? raw.account_uri)
}

function accountOf(value: unknown): Owner | null {
  const id = isObject(value)
    ? (text(value.id) ?? lastSegment(text(value.uri)))
    : lastSegment(text(value))
  return id === null ? null : { type: 'account', id }
}

// `line2` travels on a second line of `street_address` (see toAddressForm).
function streetLines(street: string | null): { line1: string | null; line2: string | null } {
  if (street === null) return { line1: null, line2: null }
  const [line1 = '', ...rest] = street.split(/\r?\n/)
  const line2 = rest.join(', ').trim()
  return { line1: line1.trim() || null, line2: line2 || null }
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null
}

/**
 * `last_four` as text: a string as given, a number in decimal, anything else (absent, an object)
 * empty, which the Card schema refuses. `String()` of an object calls its `toString`, which JSON
 * can name (`{"toString": 0}`) and which then throws a TypeError.
 */
function digitsText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : ''
}

// The reference documents the expiry as strings and shows numbers in its examples: take both.
function integer(value: unknown): number {
  if (typeof value === 'number') return value
  if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) return Number(value)
  return Number.NaN
}

// The reference lists "passed", "failed", "unknown" and its examples show "true": take both.
function checkOf(value: unknown): CheckResult {
  const normalized = typeof value === 'string' ? value.toLowerCase() : value
  switch (normalized) {
    case 'passed':
    case 'pass':
    case 'true':
    case true:
      return 'pass'
    case 'failed':
    case 'fail':
    case 'false':
    case false:
      return 'fail'
    case 'unknown':
      return 'unavailable'
    default:
      return null
  }
}

function isInvalid(value: unknown): boolean {
  return value === false || (typeof value === 'string' && value.toLowerCase() === 'false')
}
/**
 * `created_at` as `toISOString` writes it, as `Date` reads the text (a date that does not exist
 * rolls over: Feb 30 is Mar 2), or null when `Date` cannot read it, or reads it outside the
 * years 0000-9999 (`0000-01-01T00:00:00+02:00` is in year -1), which `toISOString` writes with a
 * sign (`-000001-12-31T22:00:00.000Z`) and a Card's `createdAt` does not take: the whole card
 * would be refused for a date.
 */
function timestamp(value: unknown): string | null {
  const raw = text(value)
  if (raw === null) return null
  // What the API answers, `2013-06-24T19:28:01.208000Z`, when its fields name a time that
  // exists: Date reads it as those very fields, so its ISO form is the text's own with the
  // fraction cut to milliseconds. Checked by hand, 0.24 µs; by a `Date.UTC` read back, 0.39 µs;
  // read with Date and written with `toISOString`, 0.63 µs. Any other text goes to Date.
  const fields = UTC_TIME.exec(raw)
  if (fields !== null) {
    const [, year, month, day, hours, minutes, seconds, fraction = ''] = fields
    if (existingDay(+year!, +month!, +day!) && +hours! < 24 && +minutes! < 60 && +seconds! < 60) {
      return `${raw.slice(0, 19)}.${fraction.padEnd(3, '0').slice(0, 3)}Z`
    }
  }
  // Request bodies in the reference carry "2013-06-24T21:33:36.296377+00:00Z": drop the stray Z.
  const date = new Date(raw.replace(/([+-]\d{2}:\d{2})Z$/, '$1'))
  if (Number.isNaN(date.getTime())) return null
  const iso = date.toISOString()
  return iso.startsWith('+') || iso.startsWith('-') ? null : iso
}

/** Whether a day exists in the proleptic Gregorian calendar, as Date counts (year 0 is leap). */
function existingDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false
  if (month !== 2) return day <= DAYS_IN_MONTH[month - 1]!
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  return day <= (leap ? 29 : 28)
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const

/** A time in UTC written out in full: year, month, day, hours, minutes, seconds, fraction. */
const UTC_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?Z$/
