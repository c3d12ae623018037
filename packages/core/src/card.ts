import { z } from 'zod'
import { CARD_BRANDS } from './brand.js'
import { ProviderMetadataSchema } from './metadata.js'
import {
  blankGluedDigitGroups,
  containsCardNumber,
  hasDigits,
  isWholeCardNumber,
  maskCardNumbers,
  redactSecrets,
} from './redact.js'
import { isStorableText, toStorableText } from './storable-text.js'
import { strictObjectSaying } from './validate.js'

/**
 * An id: not empty, not `.` or `..`, and text every store keeps as it is (no NUL character, no
 * unpaired surrogate, which PostgreSQL would refuse or store as U+FFFD, making two ids one).
 * Adapters put ids in request paths, escaped with `encodeURIComponent`, which leaves dots as they
 * are: a URL reads a segment `.` or `..` as a step along its path, so `/accounts/../cards/CC1`
 * is the marketplace-wide `/cards/CC1`.
 */
const idText = (what: string) =>
  z
    .string()
    .min(1, `${what} cannot be empty`)
    .refine(
      (value) => value !== '.' && value !== '..',
      `${what} cannot be "." or "..", which a URL reads as a step along its path`,
    )
    .refine(isStorableText, `${what} cannot hold a NUL character or an unpaired surrogate`)

/**
 * `text`, refusing a card number typed or answered in an id's place: digit groups alone, spaces or
 * dashes between them, that `containsCardNumber` finds (DESIGN: no field ever holds a full card
 * number). Ids that merely contain digits (`card_…`, a UUID) pass.
 */
const notACardNumber = (text: z.ZodString, message: string) =>
  text.refine((value) => !isWholeCardNumber(value), message)

/**
 * `text`, refusing a card id that holds a card number standing apart: one `containsCardNumber`
 * finds once the id's random parts are set aside (its UUIDs, and each group of digits glued to a
 * letter, unless it has 3 or more digits and a space or dash joins it to digits touching no letter:
 * `blankGluedDigitGroups`), such as `card_x 4242 4242 4242 4242` or `card_4242424242424242`, where
 * the number follows the prefix's `_`, or `card_x4242 4242 4242 4242`, whose first group touches
 * the `x` but is joined to the others. Stored, the id would be a key of the store and of its
 * tombstones, and quoted by results and logs. A provider's random id (`card_1MvoXJ2eZvKYlo2C`, a
 * hex id, a UUID) is never refused: its digits touch letters with no space or dash between them, or
 * a run of them is longer than a card number. A text of digit groups alone shaped as a UUID is
 * still refused (`isWholeCardNumber`). Time in proportion to the id's length, whatever it holds.
 */
const noCardNumberIn = (text: z.ZodString, message: string) =>
  text.refine(
    // Fewer than 13 digits hold no card number: most ids stop there, before any pattern runs.
    (value) =>
      !hasDigits(value, 13) ||
      (!isWholeCardNumber(value) && !containsCardNumber(withoutRandomIds(value))),
    message,
  )

// Each object schema's fields are declared apart (`ownerShape`, …) and its type names them
// (`z.ZodObject<OwnerShape>`): the published declarations then keep each field's comment, which
// an editor's hover shows; a schema's inferred type would be printed with its fields bare
// (`scripts/check-declaration-docs.mjs`, run by `pnpm lint`, checks it). `@inline` shows the
// fields, comments included, in the API docs of the schema.
const ownerShape = {
  /**
   * `'customer'`: a customer's payment sources (Stripe customers, marketplace customers);
   * `'account'`: an account's cards (Stripe Connect external accounts, marketplace accounts).
   */
  type: z.enum(['customer', 'account']),
  /** The provider's id for the customer or account (`cus_…`, `acct_…`, the marketplace's id). */
  id: idText('an owner id'),
}

/**
 * The fields of {@link OwnerSchema}, named so that its type keeps their comments.
 * @inline
 */
type OwnerShape = typeof ownerShape

/** Who holds cards at a provider: a customer (Stripe customer sources, …) or an account. */
export const OwnerSchema: z.ZodObject<OwnerShape> = z.object(ownerShape)

/** `{ type: 'customer' | 'account', id }`. */
export type Owner = z.infer<typeof OwnerSchema>

/**
 * An owner as a caller passes it (every `CardProvider` and `CardSync` call, the CLI's
 * `--owner`): what {@link OwnerSchema} takes, and an id that is not a card number typed in the
 * wrong field (digit groups alone, as {@link CardIdInputSchema} refuses them), which would reach
 * the provider in a request's URL. A card's owner read from a provider is refused so too, by
 * `CardSchema`; an owner alone read from a store ({@link OwnerSchema}) is not.
 *
 * @example
 * ```ts
 * OwnerInputSchema.safeParse({ type: 'customer', id: 'cus_NffrFeUfNV2Hib' }).success // true
 * OwnerInputSchema.safeParse({ type: 'customer', id: '4242 4242 4242 4242' }).success // false
 * ```
 */
export const OwnerInputSchema: z.ZodObject<OwnerShape> = ownerNotACardNumber(
  "an owner id cannot be a card number: pass the provider's customer or account id",
)

/** {@link OwnerSchema}, its id refused with `message` when it is a card number. */
function ownerNotACardNumber(message: string): z.ZodObject<OwnerShape> {
  return z.object({ ...ownerShape, id: notACardNumber(ownerShape.id, message) })
}

/** `'customer'` or `'account'`. */
export type OwnerType = Owner['type']

/**
 * A name an adapter's `name` option takes (`stripeProvider({ name: 'stripe-eu' })`): 1 to 64
 * letters, digits, `-`, `_` or `.`, starting with a letter. A provider's name is stored with
 * every card it returns and scopes the store's rows, so two accounts at one provider (two
 * Stripe accounts, two marketplaces) kept in one store each need a name of their own: under one
 * name, one account's `reconcile()` asks it for the other's owners, and fails on each. Letters
 * first, so that no name reads as a card number; and no key nor card number inside one.
 *
 * @example
 * ```ts
 * ProviderNameSchema.safeParse('stripe-eu').success // true
 * ProviderNameSchema.safeParse('sk_live_51Hx').success // false: a key
 * ```
 */
export const ProviderNameSchema: z.ZodString = z
  .string()
  .regex(
    /^[A-Za-z][\w.-]{0,63}$/,
    'a provider name is 1 to 64 letters, digits, "-", "_" or ".", starting with a letter',
  )
  // Messages name the provider: a key or a card number there would be masked, or printed.
  .refine(
    (name) => redactSecrets(name) === name,
    'a provider name cannot hold a key or a card number',
  )

// No field ever holds a card number (DESIGN). Free text read from a provider has it masked
// (`•••• 4242`): refusing it would make the provider's card unreadable, and a whole listing with it.
// For the same reason a NUL character or an unpaired surrogate becomes U+FFFD, which every store keeps.
const readText = (text: string) => maskCardNumbers(toStorableText(text))
const maskedText = z.string().min(1).overwrite(readText).nullable()

const CountrySchema = z
  .string()
  .regex(/^[A-Z]{2}$/, 'a country is an ISO 3166-1 alpha-2 code such as "US"')
  .nullable()

const cardAddressShape = {
  /** The street line, or null when the provider has none. */
  line1: maskedText,
  /** The second street line (apartment, suite), or null. */
  line2: maskedText,
  /** The city, or null. */
  city: maskedText,
  /** The state, province or region, as the provider holds it, or null. */
  state: maskedText,
  /** The postal (ZIP) code: what the provider's postal-code check compares, or null. */
  postalCode: maskedText,
  /** ISO 3166-1 alpha-2 (`'US'`; the marketplace's alpha-3 is converted), or null. */
  country: CountrySchema,
}

/**
 * The fields of {@link CardAddressSchema}, named so that its type keeps their comments.
 * @inline
 */
type CardAddressShape = typeof cardAddressShape

/**
 * A card's billing address; every field may be null. `country` is ISO 3166-1 alpha-2. A card
 * number in a text field is masked (`•••• 4242`), a NUL character or an unpaired surrogate is
 * U+FFFD: this is the address of a card read from a provider. What callers send is checked by
 * {@link CardDetailsSchema} and {@link CardUpdateSchema}, which refuse a card number.
 */
export const CardAddressSchema: z.ZodObject<CardAddressShape> = z.object(cardAddressShape)

/**
 * Free text a caller sends (a holder name, an address line): a card number in it is refused
 * with `invalid_request`, before any request, and not echoed.
 */
export function callerText(where: string) {
  return z.string().refine((text) => !containsCardNumber(text), {
    message: `a card number is not allowed in ${where}`,
  })
}

/**
 * An object a caller sends (a card update, an address) whose keys are `shape`'s: a key it does
 * not know is refused with `invalid_request` naming the key (`unknown key "zip": the keys are
 * line1, …`), never its value, instead of being dropped, where a misspelt field was an update
 * that changed nothing the caller meant. A card number written as a key is masked in the message.
 */
export function callerObject<Shape extends z.core.$ZodLooseShape>(
  shape: Shape,
): z.ZodObject<Shape, z.core.$strict> {
  return strictObjectSaying(
    shape,
    (keys, known) =>
      `unknown key${keys.length > 1 ? 's' : ''} ${keys.map(quotedKey).join(', ')}: the keys are ${known.join(', ')}`,
  )
}

/**
 * An idempotency key as a caller passes it to `CardSync.setDefaultCard` and the marketplace's
 * `tokenizeCard`: 1 to 255 characters, as Stripe takes them, and no card number written out (which
 * `containsCardNumber` finds), since the key travels to the provider as a request header and
 * `CardSync` keeps it in the store's retirement notes. Random ids in a key are not read for one: a
 * UUID (`crypto.randomUUID()`), and digits that touch a letter (a hex digest), whose digit groups
 * would read as a card number about once in 900 UUIDs and 1,400 digests; 3 or more digits that a
 * space or a dash joins to digits touching no letter are read all the same
 * (`order-x4242 4242 4242 4242`). A key longer than 255 characters is refused before it is read for
 * one. A provider's own request options are not checked for one.
 *
 * @example
 * ```ts
 * IdempotencyKeySchema.safeParse('order-1042').success // true
 * IdempotencyKeySchema.safeParse(crypto.randomUUID()).success // true
 * IdempotencyKeySchema.safeParse('order-4242424242424242').success // false
 * ```
 */
export const IdempotencyKeySchema: z.ZodString = z
  .string()
  .min(1)
  // A longer key is refused at once: zod runs every check, and the next reads the whole key.
  .max(255, { abort: true })
  .refine((key) => !containsCardNumber(withoutRandomIds(key)), {
    message: 'a card number is not allowed in an idempotency key',
  })

/** A UUID in its canonical form, any version. */
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi

/**
 * `key` with its UUIDs, and the groups of digits next to a letter that are part of a random id
 * (such as a hex digest: `blankGluedDigitGroups`), written as letters
 * (`x`). Time in proportion to the key's length, whatever it holds: a caller's 100,000 digits
 * (an id in a request's path) once blocked the event loop for seconds.
 */
function withoutRandomIds(key: string): string {
  return blankGluedDigitGroups(key.replace(UUID, (uuid) => 'x'.repeat(uuid.length)))
}

/**
 * A card id as a caller passes it (`getCard`, `updateCard`, `deleteCard`, `setDefaultCard`,
 * `invalidateCard`, `CardSync.sync`, `deleteCard` and `deleteLocal`, the Stripe webhook's ids):
 * what {@link CardSchema}'s `id` takes (not empty, no NUL character, no unpaired surrogate), and no
 * card number in it (digit groups, spaces or dashes between them, that `containsCardNumber`
 * finds) standing apart: the whole id, or a number after a prefix's `_` or amid other text
 * (`card_4242424242424242`, `card_x 4242 4242 4242 4242`). Such an id would reach the provider in
 * a request's URL and, once the provider answered "no such card", a store's deletion record (its
 * tombstone). Ids a provider gives (`card_…`, a marketplace's `CC…`, a hex id, a UUID) are never
 * refused: digits glued to a letter are part of a random id, and a UUID's are not read. A group
 * of 3 or more digits glued to a letter that a space or a dash joins to digits touching no letter
 * is read with them, as a number written out is (`card_x4242 4242 4242 4242`,
 * `card_4242-4242-4242-4242x`).
 *
 * @example
 * ```ts
 * CardIdInputSchema.safeParse('card_1NBnqJ2eZvKYlo2C').success // true
 * CardIdInputSchema.safeParse('4242 4242 4242 4242').success // false
 * CardIdInputSchema.safeParse('card_4242424242424242').success // false
 * CardIdInputSchema.safeParse('card_x4242 4242 4242 4242').success // false
 * ```
 */
export const CardIdInputSchema: z.ZodString = noCardNumberIn(
  idText('a card id'),
  'a card id cannot be a card number: pass the id the provider gave the card',
)

const inputText = (where: string) => callerText(where).min(1).nullable()

const cardAddressInputShape = {
  /** The street line; null clears it on update. Not empty; no card number. */
  line1: inputText('an address line'),
  /** The second street line (apartment, suite); null clears it. Not empty; no card number. */
  line2: inputText('an address line'),
  /** The city; null clears it. Not empty; no card number. */
  city: inputText('a city'),
  /** The state, province or region; null clears it. Not empty; no card number. */
  state: inputText('a state'),
  /** The postal (ZIP) code the provider checks; null clears it. Not empty; no card number. */
  postalCode: inputText('a postal code'),
  /** ISO 3166-1 alpha-2, upper case (`'US'`); null clears it. */
  country: CountrySchema,
}

/**
 * The fields of {@link CardAddressInputSchema}, named so that its type keeps their comments.
 * @inline
 */
type CardAddressInputShape = typeof cardAddressInputShape

/**
 * A billing address as a caller sends it (create, update): a card number in it is refused, and
 * so is a key it does not have (`zip` for `postalCode`), which dropped would leave out what the
 * issuer checks.
 */
export const CardAddressInputSchema: z.ZodObject<CardAddressInputShape, z.core.$strict> =
  callerObject(cardAddressInputShape)

/** A card's billing address. */
export type CardAddress = z.infer<typeof CardAddressSchema>

/** The result of one verification check: passed, failed, not possible, or not done yet. */
export const CheckResultSchema = z.enum(['pass', 'fail', 'unavailable', 'unchecked']).nullable()

/** One of `'pass'`, `'fail'`, `'unavailable'`, `'unchecked'`, or null when never asked. */
export type CheckResult = z.infer<typeof CheckResultSchema>

/** How a card is funded. */
export const FUNDING_TYPES = ['credit', 'debit', 'prepaid', 'unknown'] as const

const cardChecksShape = {
  /** The CVC check (Stripe `cvc_check`, the marketplace's `security_code_check`). */
  cvc: CheckResultSchema,
  /** The street line check (Stripe `address_line1_check`); null where none is done. */
  addressLine1: CheckResultSchema,
  /** The postal code check (Stripe `address_zip_check`, marketplace `postal_code_check`). */
  postalCode: CheckResultSchema,
}

/**
 * The fields of `Card.checks`, named so that its type keeps their comments.
 * @inline
 */
type CardChecksShape = typeof cardChecksShape
const CardChecksSchema: z.ZodObject<CardChecksShape> = z.object(cardChecksShape)

/**
 * A card's owner, as {@link OwnerSchema} reads it, its id never a card number (digit groups
 * alone): read from a provider's answer or a webhook's payload, it would be stored as the key of
 * the owner's cards and quoted by every message naming the owner. The issue names `owner.id`,
 * not the number.
 */
const CardOwnerSchema = ownerNotACardNumber('an owner id cannot be a card number')

const cardShape = {
  /**
   * The provider's id for the card (Stripe `card_…`, the marketplace's card id); never holds a
   * card number standing apart (`card_4242424242424242`), as `CardIdInputSchema` refuses it.
   */
  id: noCardNumberIn(idText('a card id'), 'a card id cannot be a card number'),
  /** The provider's name, as in `CardProvider.name`. */
  provider: z.string().min(1),
  /**
   * Whose card it is: the customer or account it was read from or created for. Its id is never a
   * card number (digit groups alone).
   */
  owner: CardOwnerSchema,
  /** The card network, normalized (Stripe's "American Express" is `'amex'`), or `'unknown'`. */
  brand: z.enum(CARD_BRANDS),
  /** The last four digits of the number: all a card ever holds of it. */
  last4: z.string().regex(/^\d{4}$/, 'last4 is exactly four digits'),
  /**
   * The expiry month, 1 to 12: the card is valid through the last day of that month (in every
   * time zone, as `isExpiryValid` judges it).
   */
  expMonth: z.number().int().min(1).max(12),
  /** The expiry year, four digits (the marketplace's string is read as a number). */
  expYear: z.number().int().min(1970).max(9999),
  /** A card number in it is masked (`•••• 4242`); a NUL or an unpaired surrogate is U+FFFD. */
  holderName: z.string().overwrite(readText).nullable(),
  /** The billing address; each field null when unknown (an object even when all are null). */
  address: CardAddressSchema,
  /** The issuing country, ISO 3166-1 alpha-2. */
  country: CountrySchema,
  /**
   * The provider's fingerprint: the same number gives the same fingerprint. Never the card number
   * itself (digit groups alone).
   */
  fingerprint: notACardNumber(
    idText('a fingerprint'),
    'a fingerprint cannot be a card number',
  ).nullable(),
  /** Credit, debit or prepaid; `'unknown'` where the provider does not say (the marketplace). */
  funding: z.enum(FUNDING_TYPES),
  /** The provider's verification results, as the issuer answered them. */
  checks: CardChecksSchema,
  /** For Connect external accounts: the currency paid out to the card (lower case). */
  currency: z
    .string()
    .regex(/^[a-z]{3}$/, 'a currency is a lower-case ISO 4217 code such as "usd"')
    .nullable(),
  /** Whether this is the owner's default card (for external accounts: for its currency). */
  isDefault: z.boolean(),
  /** `'invalid'` once the card has been invalidated (the marketplace's `is_valid=false`). */
  status: z.enum(['active', 'invalid']),
  /** A card number in a value is masked (`•••• 4242`). */
  metadata: ProviderMetadataSchema,
  /** When the card was created at the provider (ISO 8601), when the provider says. */
  createdAt: z.iso.datetime({ offset: true }).nullable(),
}

/**
 * The fields of {@link CardSchema}, named so that its type keeps their comments.
 * @inline
 */
type CardShape = typeof cardShape

/**
 * The normalized card: the same fields whichever provider holds it. It never holds a full
 * card number or a CVC, only `last4`.
 *
 * @example
 * ```ts
 * const card = CardSchema.parse(raw) // throws a ZodError naming each bad field
 * ```
 */
export const CardSchema: z.ZodObject<CardShape> = z
  .object(cardShape)
  .refine((card) => card.currency === null || card.owner.type === 'account', {
    // Stores keep one default per owner and currency: a customer's card with a currency would
    // be a second default beside the one without.
    message: "only an account's card (an external account) has a currency; a customer's has none",
    path: ['currency'],
  })

/** A normalized card. */
export type Card = z.infer<typeof CardSchema>

let compiledCard: typeof CardSchema | undefined

/**
 * {@link CardSchema} compiled by zod (`z.compile`): the same output and the same issues, about 4×
 * faster on a valid card (`bench/normalize.mjs`); an invalid card falls back to zod's ordinary
 * parse for its issues, which reads the card a second time: a getter runs twice, and one that
 * answers otherwise the second time is judged on the second read (`CardSchema` judges the
 * first). The fast path does not ask a Proxy's `has` trap, so a Proxy that says a field is
 * absent while giving its value passes, where `CardSchema` refuses it. Plain data, what
 * providers return, is not affected. The core checks every card a provider returns with it.
 * It is compiled the first time it is asked for, not at import (the first card takes about
 * 1 ms more than through `CardSchema`); where `new Function` is not allowed (a strict
 * Content-Security-Policy) it is `CardSchema` itself.
 *
 * @example
 * ```ts
 * const cards = rows.map((row) => compiledCardSchema().parse(row))
 * ```
 */
export function compiledCardSchema(): typeof CardSchema {
  compiledCard ??= z.compile(CardSchema)
  return compiledCard
}

/** A base whose constructor returns its argument: a subclass's fields land on that object. */
class Stamped {
  constructor(target: object) {
    // biome-ignore lint/correctness/noConstructorReturn: the point: the fields go on `target`
    return target
  }
}

/**
 * The mark of {@link markDefaultUnknown}: a private field put on the card object itself. Nothing
 * but {@link DefaultUnknownMark.on} sees it: not `JSON.stringify`, `Object.keys`,
 * `Reflect.ownKeys`, equality checks nor structured clones, and a copy (`{ ...card }`) has none.
 */
class DefaultUnknownMark extends Stamped {
  readonly #mark = true

  /** Whether `card` carries the mark. */
  static on(card: object): boolean {
    return #mark in card
  }
}

/** The marks of cards that take no new field (frozen, sealed, not extensible). */
const markedNonExtensible = new WeakSet<Card>()

/**
 * Marks a card parsed from a payload that cannot tell whether it is the owner's default (a
 * Stripe customer's card whose `customer` is a plain id): its `isDefault` is false only for
 * want of information. `CardSync.syncFromProviderData` then keeps the stored default flag
 * instead of clearing it. An adapter's `parseCard` marks what it returns; `defineCardProvider`
 * carries the mark over to the validated card. The `Card` shape is unchanged: the mark is a
 * private field of cardport's on the object, which `JSON.stringify`, `Object.keys`, equality
 * checks and structured clones do not see, and any copy (`{ ...card }`) drops it. (It was a
 * `WeakSet` entry, whose garbage collection cost a third of a Stripe `parseCard`: see
 * bench/HISTORY.md.)
 *
 * @example
 * ```ts
 * parseCard: (raw, owner) => {
 *   const card = toMyCard(raw, owner)
 *   return card && !saysDefault(raw) ? markDefaultUnknown(card) : card
 * }
 * ```
 */
export function markDefaultUnknown<T extends Card>(card: T): T {
  if (DefaultUnknownMark.on(card)) return card
  // A frozen or sealed card takes a private field in today's engines, but a TC39 proposal
  // ("nonextensible applies to private") would make that throw: it keeps its mark beside it.
  if (Object.isExtensible(card)) new DefaultUnknownMark(card)
  else markedNonExtensible.add(card)
  return card
}

/** Whether {@link markDefaultUnknown} marked this card: its payload did not say whether it is the default. */
export function isDefaultUnknown(card: Card): boolean {
  // A value that is no object (null from plain JavaScript, say) carries no mark.
  if (typeof card !== 'object' || card === null) return false
  // Only a card that was not extensible when marked can be in the set (and it stays so): a
  // lookup there gives every other card an identity hash, which costs more than the mark.
  return (
    DefaultUnknownMark.on(card) || (!Object.isExtensible(card) && markedNonExtensible.has(card))
  )
}

/** An address with every field null: the starting point for adapters. */
export const EMPTY_ADDRESS: CardAddress = Object.freeze({
  line1: null,
  line2: null,
  city: null,
  state: null,
  postalCode: null,
  country: null,
})

/** Whether two owners are the same. */
export function sameOwner(a: Owner, b: Owner): boolean {
  return a.type === b.type && a.id === b.id
}

/** A short, log-safe label for an owner: `customer:cus_123`. */
export function formatOwner(owner: Owner): string {
  return `${owner.type}:${owner.id}`
}

/** A caller's key for a message: masked where it holds a card number, and cut when long. */
function quotedKey(key: string): string {
  const masked = maskCardNumbers(key)
  return JSON.stringify(masked.length > 64 ? `${masked.slice(0, 64)}…` : masked)
}
