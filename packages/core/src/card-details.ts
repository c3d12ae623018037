import { z } from 'zod'
import { brandFromNumber } from './brand.js'
import { CardAddressInputSchema, callerObject, callerText } from './card.js'
import { isLuhnValid } from './card-number.js'
import { MetadataPatchSchema } from './metadata.js'

/**
 * Whether a card expiring at the end of `month`/`year` is still usable at `now`. A card is
 * valid through the last day of its expiry month in every time zone: it has expired only once
 * that month has ended everywhere, at noon UTC on the 1st of the next month (midnight at
 * UTC−12). The issuer judges the card in the end; a refusal here is final, so it waits until no
 * customer anywhere can still be in the expiry month. Two-digit years are read as 20xx. A year more
 * than 50 years ahead is not valid either: such a card has not expired, but no issuer makes one
 * (Stripe refuses it), so the year is mistyped. `CardDetailsSchema` and `CardUpdateSchema` say
 * which of the two is wrong.
 */
export function isExpiryValid(month: number, year: number, now: Date = new Date()): boolean {
  if (!Number.isInteger(month) || month < 1 || month > 12 || !Number.isInteger(year)) return false
  return expiryProblem(month, year, now) === undefined
}

/** How many years ahead an expiry may be (Stripe's limit): 2075 is the last year in 2025. */
export const MAX_EXPIRY_YEARS_AHEAD = 50

const CardNumberSchema = z
  .string()
  .transform((value) => value.replace(/[\s-]/g, ''))
  .refine((digits) => /^\d{12,19}$/.test(digits), {
    message: 'a card number is 12 to 19 digits',
    abort: true,
  })
  .refine(isLuhnValid, { message: 'the card number fails the Luhn check: ask for it again' })

// Fields declared apart, so that the published declarations keep their comments: see card.ts.
const cardDetailsShape = {
  /**
   * The full card number, 12 to 19 digits; spaces and dashes are removed. Luhn-checked. Sent
   * to the provider only: never stored, logged nor put in an error.
   */
  number: CardNumberSchema,
  /** The expiry month, 1 to 12. With `expYear`, not in the past. */
  expMonth: z.number().int().min(1).max(12),
  /** The expiry year, four digits, at most 50 years ahead. */
  expYear: z.number().int().min(2000).max(9999),
  /** The security code: 4 digits for American Express, 3 for the others. Never stored. */
  cvc: z
    .string()
    .regex(/^\d{3,4}$/, 'a CVC is 3 or 4 digits')
    .optional(),
  /** The name on the card, 1 to 128 characters, no card number. */
  holderName: callerText('a cardholder name')
    .min(1)
    .max(128, 'a cardholder name is at most 128 characters')
    .optional(),
  /** The cardholder's phone number, E.164 (`'+14155550123'`); the marketplace sends it. */
  phone: z
    .string()
    .regex(/^\+[1-9]\d{1,14}$/, 'a phone number is E.164 ("+14155550123"), at most 15 digits')
    .optional(),
  /**
   * The billing address; any subset of its fields, which the issuer's checks compare. A key an
   * address does not have (`zip` for `postalCode`) is refused.
   */
  address: CardAddressInputSchema.partial().optional(),
}

/**
 * The fields of {@link CardDetailsSchema}, named so that its type keeps their comments.
 * @inline
 */
type CardDetailsShape = typeof cardDetailsShape

/**
 * Raw card details for providers that accept them (the marketplace's tokenize, Stripe's card
 * hash). Checked locally before any request: Luhn, expiry in the future, CVC of the brand's
 * length, name at most 128 characters, E.164 phone, no card number in the name or the address,
 * no key the details or their address do not have (a `cvv`, dropped, made the card without the
 * CVC the caller typed). Error messages never echo the number or CVC, nor any value.
 */
export const CardDetailsSchema: z.ZodObject<CardDetailsShape, z.core.$strict> = callerObject(
  cardDetailsShape,
).superRefine((details, context) => {
  // Zod runs this even when a field failed above: check only what those checks let through,
  // so that month 13 is not also reported as "expired", nor a 2-digit CVC as the wrong length.
  const { expMonth, expYear } = details
  const expiryInRange = expMonth >= 1 && expMonth <= 12 && expYear >= 2000 && expYear <= 9999
  const problem = expiryInRange ? expiryProblem(expMonth, expYear) : undefined
  if (problem) context.addIssue({ code: 'custom', path: ['expYear'], message: problem })
  if (details.cvc !== undefined && /^\d{3,4}$/.test(details.cvc)) {
    const expected = brandFromNumber(details.number) === 'amex' ? 4 : 3
    if (details.cvc.length !== expected) {
      context.addIssue({
        code: 'custom',
        path: ['cvc'],
        message: `this card's CVC is ${expected} digits`,
      })
    }
  }
})

/** Card details as a caller passes them (the number may hold spaces or dashes). */
export type CardDetailsInput = z.input<typeof CardDetailsSchema>
/** Card details after validation: the number is digits only. */
export type CardDetails = z.output<typeof CardDetailsSchema>

const createCardInputShape = {
  /** A provider token (`tok_visa`), an existing tokenized card's id, or raw card details. */
  source: z.union([
    // A card number typed where a token goes is refused before any request: an adapter would
    // send it in a URL or a form, and a provider would echo it in its error.
    callerText('a card source (a token or a card id): pass card details for a number').min(
      1,
      'a card source cannot be empty',
    ),
    CardDetailsSchema,
  ]),
  /**
   * String pairs stored with the card at the provider: at most 50 keys of up to 40 characters,
   * values of up to 500 (`METADATA_LIMITS`), checked before any request.
   */
  metadata: MetadataPatchSchema.optional(),
  /** Make the new card the owner's default even when it already has one. */
  makeDefault: z.boolean().optional(),
  /**
   * For Connect external accounts (`account` owners): the payout currency (lower case). A
   * customer's card has none: `defineCardProvider` refuses it for a customer owner
   * (`invalid_request` at `currency`) before any request.
   */
  currency: z
    .string()
    .regex(/^[a-z]{3}$/, 'a currency is a lower-case ISO 4217 code such as "usd"')
    .optional(),
}

/**
 * The fields of {@link CreateCardInputSchema}, named so that its type keeps their comments.
 * @inline
 */
type CreateCardInputShape = typeof createCardInputShape

/**
 * What `createCard` takes. Strict, as are its card details and their address: a key it does not
 * know (a misspelt `make_default`, a `cvv`, an `address.zip`) is refused with `invalid_request`
 * naming the key, never its value, instead of being dropped from the card made.
 */
export const CreateCardInputSchema: z.ZodObject<CreateCardInputShape, z.core.$strict> =
  callerObject(createCardInputShape)

/** `createCard`'s input as a caller writes it. */
export type CreateCardInput = z.input<typeof CreateCardInputSchema>
/** `createCard`'s input after validation. */
export type ValidCreateCardInput = z.output<typeof CreateCardInputSchema>

const cardUpdateShape = {
  /** The new name on the card, 1 to 128 characters; null removes it (`''` is refused). */
  holderName: callerText('a cardholder name')
    .min(1, 'a cardholder name cannot be empty: pass null to remove it')
    .max(128, 'a cardholder name is at most 128 characters')
    .nullable()
    .optional(),
  /** The new expiry month, 1 to 12; alone, the provider judges it with the card's year. */
  expMonth: z.number().int().min(1).max(12).optional(),
  /** The new expiry year, four digits, at most 50 years ahead; with `expMonth`, not past. */
  expYear: z.number().int().min(2000).max(9999).optional(),
  /**
   * The address fields to change; a field left out is kept, a null one is cleared. A key an
   * address does not have (`zip` for `postalCode`) is refused.
   */
  address: CardAddressInputSchema.partial().optional(),
  /** Metadata keys to set; `''` unsets a key, a key left out is kept. */
  metadata: MetadataPatchSchema.optional(),
}

/**
 * The fields of {@link CardUpdateSchema}, named so that its type keeps their comments.
 * @inline
 */
type CardUpdateShape = typeof cardUpdateShape

/**
 * What `updateCard` may change: address, expiry, name and metadata. Strict: a key it does not
 * know, in the patch or its address (a misspelt `holdername`, a `number` or `cvc`, which no
 * update changes), is refused with `invalid_request` naming the key, never its value. Dropped,
 * it made an update that changed nothing the caller meant, and answered as if it had.
 */
export const CardUpdateSchema: z.ZodObject<CardUpdateShape, z.core.$strict> = callerObject(
  cardUpdateShape,
)
  .refine((patch) => Object.values(patch).some((value) => value !== undefined), {
    message: 'an update changes at least one field',
  })
  .superRefine(({ expMonth, expYear }, context) => {
    // With both, an expiry in the past is refused here, as at creation (Stripe refuses it too);
    // with the month alone, the provider judges it against the card's year. A year too far
    // ahead is wrong whatever the month: it is refused alone too.
    const yearInRange = expYear !== undefined && expYear >= 2000 && expYear <= 9999
    const monthInRange = expMonth !== undefined && expMonth >= 1 && expMonth <= 12
    let problem: string | undefined
    if (yearInRange && monthInRange) problem = expiryProblem(expMonth, expYear)
    else if (yearInRange && expMonth === undefined) problem = yearProblem(expYear)
    if (problem) context.addIssue({ code: 'custom', path: ['expYear'], message: problem })
  })

/** A card update: any of address, expiry, name and metadata (`''` unsets a metadata key). */
export type CardUpdate = z.infer<typeof CardUpdateSchema>

/**
 * The parts of a card `updateCard` can change, as `ProviderCapabilities.updatableFields` lists
 * them. `'expiry'` covers `expMonth` and `expYear` together.
 */
export const UPDATABLE_FIELDS = Object.freeze([
  'address',
  'expiry',
  'holderName',
  'metadata',
] as const)

/** One of {@link UPDATABLE_FIELDS}. */
export type UpdatableField = (typeof UPDATABLE_FIELDS)[number]

/** The {@link CardUpdate} keys each updatable field covers. */
export const UPDATABLE_FIELD_KEYS: Readonly<Record<UpdatableField, readonly (keyof CardUpdate)[]>> =
  Object.freeze({
    address: ['address'],
    expiry: ['expMonth', 'expYear'],
    holderName: ['holderName'],
    metadata: ['metadata'],
  })

interface UpdateKeysOf {
  address: 'address'
  expiry: 'expMonth' | 'expYear'
  holderName: 'holderName'
  metadata: 'metadata'
}

/**
 * The part of {@link CardUpdate} a provider whose `updatableFields` are `F` accepts: with a
 * literal `F` (`['metadata']`), a patch that names another field is a compile error, also when
 * the patch is a variable (a `CardUpdate` built elsewhere), which no excess property check sees.
 */
export type CardUpdateFor<F extends UpdatableField> = Pick<CardUpdate, UpdateKeysOf[F]> & {
  readonly [Key in Exclude<keyof CardUpdate, UpdateKeysOf[F]>]?: undefined
}

const EXPIRED = 'the card has expired'
const TOO_FAR_AHEAD = `the expiry is more than ${MAX_EXPIRY_YEARS_AHEAD} years ahead: check the year`

/**
 * What is wrong with an expiry (a month 1–12, a year; two digits are 20xx) at `now`: it has
 * passed, or its year is too far ahead; undefined when it is fine.
 */
function expiryProblem(month: number, year: number, now: Date = new Date()): string | undefined {
  const fullYear = year < 100 ? 2000 + year : year
  if (fullYear > now.getUTCFullYear() + MAX_EXPIRY_YEARS_AHEAD) return TOO_FAR_AHEAD
  return now.getTime() < expiryMonthEnd(month, fullYear) ? undefined : EXPIRED
}

/**
 * The instant `month`/`year` has ended in every time zone: the 1st of the next month at
 * midnight UTC−12, the last zone to leave the month, which is noon UTC. Judged in UTC, a card
 * was refused as expired on the evening of its last day west of Greenwich (from 16:00 in Los
 * Angeles on the 31st), while the customer could still pay with it.
 */
function expiryMonthEnd(month: number, year: number): number {
  // `month` is 1-based and Date.UTC's 0-based: as an index, it is the next month (12 rolls over
  // into January of the next year).
  return Date.UTC(year, month, 1, 12)
}

/** What is wrong with an expiry year whatever its month: only a year too far ahead. */
function yearProblem(year: number, now: Date = new Date()): string | undefined {
  return year > now.getUTCFullYear() + MAX_EXPIRY_YEARS_AHEAD ? TOO_FAR_AHEAD : undefined
}
