import {
  type Card,
  type CheckResult,
  InvalidRequestError,
  kindOf,
  markDefaultUnknown,
  normalizeBrand,
  type Owner,
  parseCardPayload,
  providerMetadata,
  toCountryAlpha2,
  validate,
} from '@cardport/core'
import { z } from 'zod'

/**
 * The provider name stored on every card this adapter returns, unless `stripeProvider`'s `name`
 * option gives another.
 */
export const STRIPE_PROVIDER_NAME = 'stripe'

/**
 * Maps a Stripe card object (API version 2023-08-16) to the normalized {@link Card} shape.
 * Returns null for anything that is not a card: a bank account, a legacy `source`, a deleted
 * object. The result is read with core's Card schema (`compiledCardSchema()`), as
 * `stripeProvider`'s `parseCard` reads it: text that holds a card number (in the holder's name,
 * the address, metadata) comes back masked (`•••• 4242`), and a card the schema cannot hold
 * (no four-digit `last4`, an expiry month outside 1–12, a missing year) throws `invalid_request`
 * ("Invalid stripe card payload: …", the schema's issues in `issues`), as does a payload
 * that cannot be read at all (a getter that throws).
 *
 * The owner is `owner` when given, else the payload's `customer` or `account`. A card that
 * names neither (a token's card, a detached card) cannot be placed: that throws
 * `invalid_request` rather than returning null, which would say it is not a card.
 *
 * `isDefault` comes from `default_for_currency` for external accounts; for customer cards it
 * comes from `defaultSourceId` when given, or from an expanded `customer.default_source`. A
 * customer's card with neither (`customer` as a plain id, as `createSource`, `retrieveSource`
 * and webhooks give it) cannot tell: it reads `isDefault: false` and is marked with core's
 * `markDefaultUnknown`, so that `CardSync.syncFromProviderData` keeps the stored default.
 *
 * `defaultSourceId` is the customer's `default_source` id itself (a string), `null` when the
 * customer has none, or `undefined` when it is not known. Anything else (an options object such
 * as `{ defaultSourceId }`, the shape `toMarketplaceCard` takes, or a number) is refused with
 * `invalid_request` naming the argument, rather than read as "the default is known and is not
 * this card", which would clear a stored default.
 */
export function toStripeCard(
  raw: unknown,
  owner?: Owner,
  defaultSourceId?: string | null,
): Card | null {
  validate(
    DefaultSourceIdSchema,
    defaultSourceId,
    'toStripeCard defaultSourceId',
    STRIPE_PROVIDER_NAME,
  )
  return parseCardPayload(STRIPE_PROVIDER_NAME, () =>
    stripeCardOf(STRIPE_PROVIDER_NAME, raw, owner, defaultSourceId),
  )
}

/**
 * What {@link toStripeCard}'s third argument takes. The message says what it got as a type
 * (`an object`), never the value: an object there may hold anything.
 */
const DefaultSourceIdSchema = z.union([z.string(), z.null(), z.undefined()], {
  error: (issue) =>
    `the third argument (defaultSourceId) must be the customer's default source id (a string), null (the customer has none) or undefined (not known), not ${kindOf(issue.input)}`,
})

/**
 * {@link toStripeCard}'s mapping for the provider named `name` (`stripeProvider`'s `name`
 * option: the card's `provider`, and the provider its errors name), without the Card schema:
 * its callers read the result with it (`defineCardProvider`'s operations and `parseCard`, the
 * webhook handler once it knows the default). @internal
 */
export function stripeCardOf(
  name: string,
  raw: unknown,
  owner?: Owner,
  defaultSourceId?: string | null,
): Card | null {
  if (!isObject(raw) || raw.object !== 'card' || raw.deleted === true) return null
  const resolvedOwner = owner ?? ownerOf(raw)
  if (!resolvedOwner) {
    throw new InvalidRequestError(
      `Stripe card ${primitiveText(raw.id)} names no customer or account: pass its owner to parseCard`,
      { provider: name },
    )
  }
  const expandedCustomer = isObject(raw.customer) ? raw.customer : undefined
  const defaultId =
    defaultSourceId !== undefined ? defaultSourceId : idOf(expandedCustomer?.default_source)
  const isDefault =
    resolvedOwner.type === 'account' ? raw.default_for_currency === true : defaultId === raw.id
  const defaultKnown =
    resolvedOwner.type === 'account' ||
    defaultSourceId !== undefined ||
    (expandedCustomer !== undefined && 'default_source' in expandedCustomer)
  const card: Card = {
    id: primitiveText(raw.id),
    provider: name,
    owner: { type: resolvedOwner.type, id: resolvedOwner.id },
    brand: normalizeBrand(text(raw.brand)),
    last4: primitiveText(raw.last4 ?? ''),
    expMonth: primitiveNumber(raw.exp_month),
    expYear: primitiveNumber(raw.exp_year),
    holderName: text(raw.name),
    address: {
      line1: text(raw.address_line1),
      line2: text(raw.address_line2),
      city: text(raw.address_city),
      state: text(raw.address_state),
      postalCode: text(raw.address_zip),
      // Stripe keeps whatever the caller sent here; only a real ISO code survives.
      country: toCountryAlpha2(text(raw.address_country)),
    },
    country: toCountryAlpha2(text(raw.country)),
    fingerprint: text(raw.fingerprint),
    funding: fundingOf(raw.funding),
    checks: {
      cvc: checkOf(raw.cvc_check),
      addressLine1: checkOf(raw.address_line1_check),
      postalCode: checkOf(raw.address_zip_check),
    },
    currency: resolvedOwner.type === 'account' ? (text(raw.currency)?.toLowerCase() ?? null) : null,
    isDefault,
    status: 'active',
    metadata: providerMetadata(raw.metadata),
    createdAt: null,
  }
  return defaultKnown ? card : markDefaultUnknown(card)
}

/** The id of a Stripe object given as an id or expanded. */
export function idOf(value: unknown): string | null {
  if (typeof value === 'string') return value
  if (isObject(value) && typeof value.id === 'string') return value.id
  return null
}

/** Whether a value is a plain object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The owner a card payload names: its `customer`, else its `account`; null when it names neither. */
export function ownerOf(raw: Record<string, unknown>): Owner | null {
  const customer = idOf(raw.customer)
  if (customer) return { type: 'customer', id: customer }
  const account = idOf(raw.account)
  if (account) return { type: 'account', id: account }
  return null
}

// `String` and `Number` of an object call its `toString` or `valueOf`: JSON that names one of
// them (`{"toString": 0}`) makes both throw a TypeError, which the webhook handler, calling this
// parser directly, let out instead of a CardportError. An object reads as no value (refused by
// the Card schema); primitives convert as before.
function primitiveText(value: unknown): string {
  return typeof value === 'object' && value !== null ? '' : String(value)
}

function primitiveNumber(value: unknown): number {
  return typeof value === 'object' && value !== null ? Number.NaN : Number(value)
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null
}

function fundingOf(value: unknown): Card['funding'] {
  return value === 'credit' || value === 'debit' || value === 'prepaid' ? value : 'unknown'
}

function checkOf(value: unknown): CheckResult {
  switch (value) {
    case 'pass':
      return 'pass'
    case 'fail':
      return 'fail'
    case 'unavailable':
      return 'unavailable'
    case 'unchecked':
      return 'unchecked'
    default:
      return null
  }
}
