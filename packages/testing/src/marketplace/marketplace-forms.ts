import { toCountryAlpha2 } from '@cardport/core'
import { setEntry } from '../form-keys.js'
import { badRequest } from './marketplace-errors.js'

/** A request body as read from JSON or a form: any JSON value per field. */
export type Body = Record<string, unknown>

/**
 * The card create form, checked for shape (a 400 otherwise). Whether the card validates
 * (Luhn, expiry, security code, test numbers) is the state's decision, a 409.
 *
 * `number` lives only for the duration of the request: the state keeps its last four digits
 * and a hash, never the number.
 */
export interface CardForm {
  number: string
  expiration_month: number
  expiration_year: number
  security_code: string | null
  name: string | null
  phone_number: string | null
  city: string | null
  region: string | null
  postal_code: string | null
  street_address: string | null
  country_code: string | null
  meta: Record<string, string>
  is_valid: boolean
}

/** The card update form: what the reference lets a PUT on a card change. */
export interface CardUpdateForm {
  is_valid?: boolean
  meta?: Record<string, string>
  /** `account_uri`, `account.uri` or `customer_uri`: associate with that account. */
  accountUri?: string
  /**
   * The field `accountUri` came from. `account` is the card view's own field: a card sent back
   * as read names the account it already belongs to, which is not a new association.
   */
  accountField?: 'account_uri' | 'account' | 'customer_uri'
}

/** The account create and update form. */
export interface AccountForm {
  name?: string | null
  email_address?: string | null
  meta?: Record<string, string>
  cardUri?: string
  card?: CardForm
  /** A merchant object or a `merchant_uri` was given: the account becomes a merchant. */
  merchant?: boolean
  /**
   * The merchant object's `name`: the account's name when the form gives none, as the
   * reference's merchant examples show (`name: null` beside a named merchant).
   */
  merchantName?: string
}

/** The `limit` and `offset` of a list request. */
export interface PageParams {
  limit: number
  offset: number
}

/** Limits of the create form, from the reference. */
export const CARD_FORM_LIMITS = Object.freeze({ name: 128, phone_number: 15 })

/** Page size bounds: the reference's default is 10; the emulator allows 1 to 100. */
export const PAGE_LIMITS = Object.freeze({ default: 10, max: 100 })

/** Reads the card create form; every shape problem is collected into one 400. */
export function parseCardForm(body: Body, options: { requirePostalCode: boolean }): CardForm {
  const issues = new Issues()
  const form = readCardForm(body, issues, options)
  issues.throwIfAny()
  return form
}

/** Reads the card update form (`is_valid`, `meta`, exactly one of `account_uri`/`account`). */
export function parseCardUpdate(body: Body): CardUpdateForm {
  const issues = new Issues()
  const form: CardUpdateForm = {}
  const isValid = readBoolean(body, 'is_valid', issues)
  if (isValid !== undefined) form.is_valid = isValid
  const meta = readMeta(body, 'meta', issues)
  if (meta !== undefined) form.meta = meta

  const targets: Array<[NonNullable<CardUpdateForm['accountField']>, string]> = []
  const accountUri = readString(body, 'account_uri', issues)
  if (accountUri) targets.push(['account_uri', accountUri])
  const account = body.account
  if (account !== undefined && account !== null) {
    if (!isObject(account) || typeof account.uri !== 'string' || !account.uri) {
      issues.add('account', 'must be an object with a uri')
    } else targets.push(['account', account.uri])
  }
  const customerUri = readString(body, 'customer_uri', issues)
  if (customerUri) targets.push(['customer_uri', customerUri])
  if (targets.length > 1) {
    issues.add(
      targets.map(([name]) => name).join(', '),
      'exactly one of account_uri, account and customer_uri may be given',
    )
  } else if (targets[0]) {
    form.accountField = targets[0][0]
    form.accountUri = targets[0][1]
  }
  issues.throwIfAny()
  return form
}

/**
 * Reads the body of `POST …/accounts/:account/cards`: exactly one of `uri`, `card_uri` (an
 * existing card) or the card create form itself.
 */
export function parseAccountCardForm(
  body: Body,
  options: { requirePostalCode: boolean },
): { uri: string } | { form: CardForm } {
  const given = (['uri', 'card_uri'] as const).filter(
    (name) => body[name] !== undefined && body[name] !== null,
  )
  const withForm = body.card_number !== undefined
  if (given.length + (withForm ? 1 : 0) > 1) {
    throw badRequest({
      [[...given, ...(withForm ? ['card_number'] : [])].join(', ')]:
        'exactly one of uri, card_uri and a card create form may be given',
    })
  }
  const name = given[0]
  if (name === undefined) return { form: parseCardForm(body, options) }
  const uri = body[name]
  if (typeof uri !== 'string' || !uri) throw badRequest({ [name]: 'must be a card URI' })
  return { uri }
}

/** Reads an account form; `name` is checked against the card by the state. */
export function parseAccountForm(body: Body, options: { requirePostalCode: boolean }): AccountForm {
  const issues = new Issues()
  const form: AccountForm = {}
  const name = readString(body, 'name', issues)
  if (name !== undefined) form.name = name
  const email = readString(body, 'email_address', issues)
  if (email !== undefined) {
    if (email !== null && !/^[^\s@]+@[^\s@]+$/.test(email)) {
      issues.add('email_address', 'must be an email address')
    } else form.email_address = email
  }
  const meta = readMeta(body, 'meta', issues)
  if (meta !== undefined) form.meta = meta

  const cardUri = readString(body, 'card_uri', issues)
  const card = body.card
  if (cardUri && card !== undefined && card !== null) {
    issues.add('card_uri, card', 'exactly one of card_uri and card may be given')
  } else if (cardUri) form.cardUri = cardUri
  else if (card !== undefined && card !== null) {
    if (!isObject(card)) issues.add('card', 'must be an object (the card create form)')
    else form.card = readCardForm(card, issues.scope('card.'), options)
  }

  const merchantUri = readString(body, 'merchant_uri', issues)
  const merchant = body.merchant
  if (merchant !== undefined && merchant !== null) {
    if (!isObject(merchant)) issues.add('merchant', 'must be an object')
    else {
      checkMerchant(merchant, issues)
      if (typeof merchant.name === 'string' && merchant.name) form.merchantName = merchant.name
    }
    form.merchant = true
  } else if (merchantUri) form.merchant = true
  issues.throwIfAny()
  return form
}

/** Reads `limit` (1 to 100, default 10) and `offset` (0 or more, default 0) from a query. */
export function parsePage(query: URLSearchParams): PageParams {
  const issues = new Issues()
  const read = (name: 'limit' | 'offset', fallback: number, min: number, max: number) => {
    const raw = query.get(name)
    if (raw === null || raw === '') return fallback
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      issues.add(name, `must be an integer from ${min} to ${max}`)
      return fallback
    }
    return Number(raw)
  }
  const page = {
    limit: read('limit', PAGE_LIMITS.default, 1, PAGE_LIMITS.max),
    offset: read('offset', 0, 0, Number.MAX_SAFE_INTEGER),
  }
  issues.throwIfAny()
  return page
}

// ---- helpers -------------------------------------------------------------------------------

/** Field problems of one request, answered together as one 400 with `extras`. */
class Issues {
  constructor(
    private readonly found: Record<string, string> = {},
    private readonly prefix = '',
  ) {}

  add(field: string, problem: string) {
    this.found[`${this.prefix}${field}`] ??= problem
  }

  /** The same issues, with field names under `prefix` (`card.`). */
  scope(prefix: string): Issues {
    return new Issues(this.found, `${this.prefix}${prefix}`)
  }

  throwIfAny() {
    if (Object.keys(this.found).length > 0) throw badRequest(this.found)
  }
}

function readCardForm(
  body: Body,
  issues: Issues,
  options: { requirePostalCode: boolean },
): CardForm {
  let number = ''
  if (body.card_number === undefined || body.card_number === null || body.card_number === '') {
    issues.add('card_number', 'is required')
  } else if (typeof body.card_number !== 'string') {
    // A JSON number loses digits past 2^53: the reference types the number as a string.
    issues.add('card_number', 'must be a string of digits')
  } else number = body.card_number.replace(/[\s-]/g, '')

  const month = readInteger(body, 'expiration_month', issues, true)
  if (month !== undefined && (month < 1 || month > 12)) {
    issues.add('expiration_month', 'must be from 1 to 12')
  }
  const year = readInteger(body, 'expiration_year', issues, true)
  if (year !== undefined && (year < 1000 || year > 9999)) {
    issues.add('expiration_year', 'must be a four-digit year')
  }

  let securityCode: string | null = null
  const code = body.security_code
  if (typeof code === 'number' && Number.isInteger(code) && code >= 0) securityCode = String(code)
  else if (typeof code === 'string') securityCode = code === '' ? null : code
  else if (code !== undefined && code !== null) {
    issues.add('security_code', 'must be a string of 3 or 4 digits')
  }

  const name = readString(body, 'name', issues) ?? null
  if (name !== null && name.length > CARD_FORM_LIMITS.name) {
    issues.add('name', `must be at most ${CARD_FORM_LIMITS.name} characters`)
  }
  const phone = readString(body, 'phone_number', issues) ?? null
  if (phone !== null) {
    if (phone.length > CARD_FORM_LIMITS.phone_number) {
      issues.add('phone_number', `must be at most ${CARD_FORM_LIMITS.phone_number} characters`)
    } else if (!/^\+?\d+$/.test(phone)) {
      issues.add('phone_number', 'must be an E.164 phone number, e.g. +16509241212')
    }
  }
  const city = readString(body, 'city', issues) ?? null
  const region = readString(body, 'region', issues) ?? null
  const state = readString(body, 'state', issues) ?? null
  if (region !== null && state !== null) {
    issues.add('region', 'exactly one of region and state may be given')
  }

  let postalCode: string | null = null
  const postal = body.postal_code
  if (typeof postal === 'number' && Number.isInteger(postal)) postalCode = String(postal)
  else postalCode = readString(body, 'postal_code', issues) ?? null
  const street = readString(body, 'street_address', issues) ?? null

  // Absent means the default, USA; an explicit null or empty string means no country.
  let country: string | null = 'USA'
  if (body.country_code !== undefined) {
    const given = readString(body, 'country_code', issues) ?? null
    if (given === null) country = null
    else if (given.length !== 3 || toCountryAlpha2(given) === null) {
      issues.add('country_code', 'must be an ISO 3166-1 alpha-3 country code, e.g. USA')
    } else country = given.toUpperCase()
  }

  if (postalCode === null && options.requirePostalCode) issues.add('postal_code', 'is required')
  if (postalCode !== null && country === null) {
    issues.add('postal_code', 'requires country_code')
  }
  if (street !== null && postalCode === null) {
    issues.add('street_address', 'requires postal_code')
  }

  return {
    number,
    expiration_month: month ?? 0,
    expiration_year: year ?? 0,
    security_code: securityCode,
    name,
    phone_number: phone,
    city,
    region: region ?? state,
    postal_code: postalCode,
    street_address: street,
    country_code: country,
    meta: readMeta(body, 'meta', issues) ?? {},
    is_valid: readBoolean(body, 'is_valid', issues) ?? true,
  }
}

/**
 * The merchant object's required fields, as the reference lists them. The emulator does not
 * model merchants beyond the account's `merchant` role.
 */
function checkMerchant(merchant: Body, issues: Issues) {
  const type = merchant.type
  if (type !== 'person' && type !== 'business') {
    issues.add('merchant.type', 'must be person or business')
  }
  for (const name of ['phone_number', 'postal_code', 'street_address']) {
    const value = merchant[name]
    if (typeof value !== 'string' || !value) issues.add(`merchant.${name}`, 'is required')
  }
  if (type === 'person' && (typeof merchant.dob !== 'string' || !DATE.test(merchant.dob))) {
    issues.add('merchant.dob', 'is required for a person, formatted YYYY-MM-DD')
  }
  if (type === 'business') {
    if (typeof merchant.tax_id !== 'string' || !merchant.tax_id) {
      issues.add('merchant.tax_id', 'is required for a business')
    }
    const person = merchant.person
    if (!isObject(person)) issues.add('merchant.person', 'is required for a business')
    else {
      if (typeof person.name !== 'string' || !person.name) {
        issues.add('merchant.person.name', 'is required')
      }
      if (typeof person.dob !== 'string' || !DATE.test(person.dob)) {
        issues.add('merchant.person.dob', 'is required, formatted YYYY-MM-DD')
      }
    }
  }
}

const DATE = /^\d{4}-\d{2}-\d{2}$/

/** A string field: `undefined` when absent, `null` for null or an empty string. */
function readString(body: Body, name: string, issues: Issues): string | null | undefined {
  const value = body[name]
  if (value === undefined) return undefined
  if (value === null || value === '') return null
  if (typeof value !== 'string') {
    issues.add(name, 'must be a string')
    return undefined
  }
  return value
}

/** An integer field: a JSON integer or a string of digits (form bodies). */
function readInteger(
  body: Body,
  name: string,
  issues: Issues,
  required: boolean,
): number | undefined {
  const value = body[name]
  if (value === undefined || value === null || value === '') {
    if (required) issues.add(name, 'is required')
    return undefined
  }
  if (typeof value === 'number' && Number.isInteger(value)) return value
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) return Number(value.trim())
  issues.add(name, 'must be an integer')
  return undefined
}

/** A boolean: JSON booleans, or `true`/`false` in any case (form bodies send strings). */
function readBoolean(body: Body, name: string, issues: Issues): boolean | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (typeof value === 'boolean') return value
  if (typeof value === 'string') {
    const lower = value.toLowerCase()
    if (lower === 'true') return true
    if (lower === 'false') return false
  }
  issues.add(name, 'must be true or false')
  return undefined
}

/** `meta`: a single-level mapping of string keys to string values. */
function readMeta(body: Body, name: string, issues: Issues): Record<string, string> | undefined {
  const value = body[name]
  if (value === undefined) return undefined
  if (value === null) return {}
  if (!isObject(value)) {
    issues.add(name, 'must be a single-level mapping of string keys to string values')
    return undefined
  }
  const meta: Record<string, string> = {}
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      issues.add(name, `the value of "${key}" must be a string (meta is single-level)`)
      return undefined
    }
    // A key such as `__proto__` is stored as a key: `meta[key] =` would drop it.
    setEntry(meta, key, entry)
  }
  return meta
}

function isObject(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
