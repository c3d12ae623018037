import {
  applyMetadataPatch,
  type CardAddress,
  type CardDetails,
  type CardUpdate,
  InvalidRequestError,
  METADATA_LIMITS,
  type Metadata,
  type MetadataPatch,
  toCountryAlpha3,
  type ValidationIssue,
  type ValidCreateCardInput,
} from '@cardport/core'
import { isObject } from './parse-card.js'

/** The tokenize form of `POST /v1/marketplaces/:mp/cards`, as the reference names its fields. */
export interface TokenizeForm {
  card_number: string
  expiration_month: number
  expiration_year: number
  security_code?: string
  name?: string
  phone_number?: string
  street_address?: string
  city?: string
  region?: string
  postal_code?: string
  country_code?: string
  meta?: Record<string, string>
}

/** The address fields of a card form: street, city, region, postal code, alpha-3 country. */
export type AddressForm = Pick<
  TokenizeForm,
  'street_address' | 'city' | 'region' | 'postal_code' | 'country_code'
>

/**
 * Builds the tokenize form from card details the core has already checked (Luhn, expiry, CVC
 * length for the brand, name ≤ 128, E.164 phone), adding the marketplace's own rules: a phone
 * of at most 15 characters, `postal_code` requires `country_code`, `street_address` requires `postal_code`, the country
 * goes out as ISO alpha-3, and the two street lines share `street_address`. Throws `invalid_request` naming
 * the fields, never their values, as an error of the provider `name`.
 */
export function toTokenizeForm(
  details: CardDetails,
  metadata: MetadataPatch | undefined,
  name: string,
): TokenizeForm {
  const form: TokenizeForm = {
    card_number: details.number,
    expiration_month: details.expMonth,
    expiration_year: details.expYear,
  }
  if (details.cvc !== undefined) form.security_code = details.cvc
  if (details.holderName !== undefined) form.name = details.holderName
  if (details.phone !== undefined) {
    // The core allows E.164's 15 digits; the marketplace's phone_number is at most 15
    // characters, its "+" included.
    if (details.phone.length > PHONE_NUMBER_MAX_LENGTH) {
      throw invalid(
        'card details',
        [
          {
            path: ['source', 'phone'],
            message: `the marketplace takes a phone number of at most ${PHONE_NUMBER_MAX_LENGTH} characters, "+" included`,
          },
        ],
        name,
      )
    }
    form.phone_number = details.phone
  }
  Object.assign(form, toAddressForm(details.address ?? {}, ['source', 'address'], name))
  const meta = metaOf(metadata)
  if (meta) form.meta = meta
  return form
}

/**
 * Refuses a `currency` in `createCard`'s input, before any request: the marketplace's cards have
 * no currency (neither its card forms nor its card view has one, and every card reads back with
 * `currency: null`), so a currency given would be dropped without a word. Throws
 * `invalid_request` naming the field, never its value.
 */
export function refuseCurrency(input: Pick<ValidCreateCardInput, 'currency'>, name: string): void {
  if (input.currency === undefined) return
  throw invalid(
    'createCard input',
    [
      {
        path: ['currency'],
        message:
          'the marketplace has no card currency (a currency is for Connect-style external accounts): leave it out',
      },
    ],
    name,
  )
}

/**
 * The address part of the tokenize form, with the marketplace's dependencies checked:
 * `postal_code` requires `country_code`, `street_address` requires `postal_code`. The country
 * goes out as ISO alpha-3. The marketplace keeps a single `street_address`: `line2` goes on a
 * second line of it (and {@link toMarketplaceCard} splits it back).
 *
 * A postal code itself is optional: the reference marks it required in one list and optional in
 * another; a marketplace that requires it answers 400, mapped to `invalid_request`.
 *
 * The API itself reads a missing `country_code` as `USA`; cardport asks for the country with a
 * postal code instead, so that a postal code from elsewhere is never filed as American. Without
 * any country, the card is still filed as `USA` (the reference's default) and reads back as `US`.
 *
 * @param path Where the address sits in the caller's input, for the issues' paths.
 * @param name The provider the error names.
 */
export function toAddressForm(
  address: Partial<CardAddress>,
  path: readonly PropertyKey[],
  name: string,
): AddressForm {
  const issues: ValidationIssue[] = []
  const form: AddressForm = {}
  const { line1, line2 } = address
  if (line2 && !line1) {
    issues.push({ path: [...path, 'line1'], message: 'a second address line needs a first' })
  }
  if ([line1, line2].some((line) => line?.includes('\n'))) {
    issues.push({ path: [...path, 'line1'], message: 'an address line cannot hold a line break' })
  }
  if (line1) form.street_address = line2 ? `${line1}\n${line2}` : line1
  if (address.city) form.city = address.city
  if (address.state) form.region = address.state
  if (address.postalCode) form.postal_code = address.postalCode
  if (address.country) {
    const alpha3 = toCountryAlpha3(address.country)
    if (alpha3) form.country_code = alpha3
    else {
      issues.push({
        path: [...path, 'country'],
        message: 'not an assigned ISO 3166-1 country code',
      })
    }
  } else if (form.postal_code !== undefined) {
    issues.push({
      path: [...path, 'country'],
      message: 'a postal code requires a country (the marketplace reads postal codes per country)',
    })
  }
  if (form.street_address !== undefined && form.postal_code === undefined) {
    issues.push({
      path: [...path, 'postalCode'],
      message: 'a street address requires a postal code',
    })
  }
  if (issues.length > 0) throw invalid('card details', issues, name)
  return form
}

/**
 * Returns the function that builds the `PUT …/cards/:card` form of an update from the card's
 * current metadata. The form carries the whole `meta` after applying the patch: the
 * marketplace replaces `meta` as a whole, so the PUT is safe to repeat.
 *
 * Only metadata is read: the marketplace's card update form has `is_valid`, `meta` and the
 * account only (a tokenized card's address, expiry and name never change), so
 * `MARKETPLACE_CAPABILITIES.updatableFields` is `['metadata']` and the core refuses any other
 * field with `unsupported_operation` before the adapter is called.
 *
 * @example
 * ```ts
 * const build = prepareUpdate({ metadata: { plan: 'pro' } })
 * const form = build(currentCard.metadata)
 * ```
 */
export function prepareUpdate(
  patch: Pick<CardUpdate, 'metadata'>,
): (currentMetadata: Metadata) => { meta: Metadata } {
  const metadata = patch.metadata ?? {}
  return (currentMetadata) => ({ meta: applyMetadataPatch(currentMetadata, metadata) })
}

/**
 * The `meta` of a card payload as the marketplace holds it, which an update is merged into:
 * every pair whose value is a string, an empty one included, as it was written. A Card's
 * `metadata` is no base for the merge: it leaves out empty values (`providerMetadata`) and
 * masks a card number in a value, and the marketplace replaces `meta` whole, so a key another
 * client of the API set to `''` was deleted, and a value it wrote was overwritten with its mask.
 * A value that is no string (which the reference's `meta` never holds) and a `__proto__` key are
 * left out, as a Card leaves them. @internal
 *
 * @example
 * ```ts
 * heldMeta({ meta: { note: '', plan: 'pro', count: 3 } }) // { note: '', plan: 'pro' }
 * ```
 */
export function heldMeta(raw: unknown): Metadata {
  const meta = isObject(raw) ? raw.meta : undefined
  const held: Metadata = {}
  if (!isObject(meta)) return held
  for (const key of Object.keys(meta)) {
    const value = meta[key]
    if (typeof value === 'string' && key !== '__proto__') held[key] = value
  }
  return held
}

/**
 * When a metadata merge is checked: by `updateCard`, by `createCard` before it associates an
 * existing card, or by `createCard` once the card is associated (the meta read before the
 * association had changed meanwhile, or an earlier attempt with the idempotency key associated
 * it). @internal
 */
export type MetadataMergeStage = 'update' | 'create' | 'associated'

/**
 * Refuses a merge whose `meta` would hold more than 50 keys (Stripe's limit, which cardport
 * applies to what callers send to every provider): the core checks the patch alone, and the
 * marketplace, which has no limit, would take it. The error is the one `memoryProvider()` and
 * Stripe give: `invalid_request`, `details.param` `'metadata'`. `updateCard` checks the merge
 * before its `PUT`; `createCard` with an existing card checks it before associating the card
 * (`'create'`), and again before the `PUT` of the metadata that follows (`'associated'`), whose
 * message then says that the card is associated and its meta unchanged.
 *
 * A card given more keys by another client of the API (the marketplace's `meta` is read as held)
 * can still be updated, as long as the update adds no key to it: those keys are not the
 * caller's to send.
 */
export function checkMetadataKeys(
  cardId: string,
  current: Metadata,
  merged: Metadata,
  stage: MetadataMergeStage,
  name: string,
): void {
  const count = Object.keys(merged).length
  if (count <= METADATA_LIMITS.maxKeys || count <= Object.keys(current).length) return
  const max = METADATA_LIMITS.maxKeys
  const message =
    stage === 'update'
      ? `Card ${cardId} can hold at most ${max} metadata keys, and this update would leave it with ${count}: unset keys with '' in the same update, or send fewer`
      : stage === 'create'
        ? `Card ${cardId} can hold at most ${max} metadata keys, and the metadata of this createCard would leave it with ${count} (the card already has ${Object.keys(current).length}): the card was not associated; unset keys with '' in the same metadata, or send fewer`
        : `Card ${cardId} is now associated with the account, but can hold at most ${max} metadata keys, and the metadata of this createCard would leave it with ${count} (its meta changed since it was read): its meta is unchanged; set the metadata with updateCard, unsetting keys with '' or sending fewer`
  throw new InvalidRequestError(message, {
    provider: name,
    details: { param: 'metadata' },
  })
}

const PHONE_NUMBER_MAX_LENGTH = 15

function metaOf(metadata: MetadataPatch | undefined): Record<string, string> | undefined {
  if (!metadata) return undefined
  const meta = Object.fromEntries(Object.entries(metadata).filter(([, value]) => value !== ''))
  return Object.keys(meta).length > 0 ? meta : undefined
}

function invalid(what: string, issues: ValidationIssue[], name: string): InvalidRequestError {
  const summary = issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')
  return new InvalidRequestError(`Invalid ${what}: ${summary}`, {
    provider: name,
    issues,
  })
}
