import type { Card } from './card.js'

/**
 * The columns of a relational card table, one per normalized field, in the order of
 * {@link cardColumnValues}. The SQLite and PostgreSQL stores share this layout; a store for
 * another SQL database can too. There is no column for a card number or a CVC, because a
 * `Card` holds neither.
 */
export const CARD_COLUMNS = [
  'provider',
  'owner_type',
  'owner_id',
  'card_id',
  'brand',
  'last4',
  'exp_month',
  'exp_year',
  'holder_name',
  'address_line1',
  'address_line2',
  'address_city',
  'address_state',
  'address_postal_code',
  'address_country',
  'country',
  'fingerprint',
  'funding',
  'checks',
  'currency',
  'is_default',
  'status',
  'metadata',
  'created_at',
] as const

/** One of {@link CARD_COLUMNS}. */
export type CardColumn = (typeof CARD_COLUMNS)[number]

/**
 * A row of {@link CARD_COLUMNS} as SQL drivers return it. Drivers differ: numbers may come back
 * as text (`bigint`), JSON as text or parsed, booleans as `0`/`1`; {@link cardFromColumns}
 * accepts each.
 */
export interface CardColumnsRow {
  /** `Card.provider`: part of the key, with the owner and the card id. */
  provider: string
  /** `Card.owner.type`. */
  owner_type: Card['owner']['type']
  /** `Card.owner.id`. */
  owner_id: string
  /** `Card.id`, the provider's id for the card. */
  card_id: string
  /** `Card.brand`. */
  brand: Card['brand']
  /** `Card.last4`: four digits, as text so that leading zeros stay. */
  last4: string
  /** `Card.expMonth`, 1 to 12; text from drivers that return numbers as text. */
  exp_month: number | string
  /** `Card.expYear`; text from drivers that return numbers as text. */
  exp_year: number | string
  /** `Card.holderName`. */
  holder_name: string | null
  /** `Card.address.line1`. */
  address_line1: string | null
  /** `Card.address.line2`. */
  address_line2: string | null
  /** `Card.address.city`. */
  address_city: string | null
  /** `Card.address.state`. */
  address_state: string | null
  /** `Card.address.postalCode`. */
  address_postal_code: string | null
  /** `Card.address.country`, ISO 3166-1 alpha-2. */
  address_country: string | null
  /** `Card.country`, the issuing country, ISO 3166-1 alpha-2. */
  country: string | null
  /** `Card.fingerprint`. */
  fingerprint: string | null
  /** `Card.funding`. */
  funding: Card['funding']
  /** `Card.checks`: JSON text as written, or the object a driver parsed it into. */
  checks: Card['checks'] | string
  /** `Card.currency`, lower case; null for customers' cards. */
  currency: string | null
  /** `Card.isDefault`: a boolean, or `0`/`1` from drivers without booleans (better-sqlite3). */
  is_default: boolean | number
  /** `Card.status`. */
  status: Card['status']
  /** `Card.metadata`: JSON text as written, or the object a driver parsed it into. */
  metadata: Card['metadata'] | string
  /** `Card.createdAt`, ISO 8601 text. */
  created_at: string | null
}

/**
 * The values of {@link CARD_COLUMNS} for a card, in order. `checks` and `metadata` are JSON
 * text: stored as text (or PostgreSQL `json`, not `jsonb`), they keep their keys in the order
 * written, so a card read back compares equal, key for key, to the provider's. `is_default` is
 * a boolean: a driver without booleans (better-sqlite3) maps it to `0`/`1`.
 */
export function cardColumnValues(card: Card): unknown[] {
  return [
    card.provider,
    card.owner.type,
    card.owner.id,
    card.id,
    card.brand,
    card.last4,
    card.expMonth,
    card.expYear,
    card.holderName,
    card.address.line1,
    card.address.line2,
    card.address.city,
    card.address.state,
    card.address.postalCode,
    card.address.country,
    card.country,
    card.fingerprint,
    card.funding,
    JSON.stringify(card.checks),
    card.currency,
    card.isDefault,
    card.status,
    JSON.stringify(card.metadata),
    card.createdAt,
  ]
}

/** The card a row of {@link CARD_COLUMNS} holds: the inverse of {@link cardColumnValues}. */
export function cardFromColumns(row: CardColumnsRow): Card {
  return {
    id: row.card_id,
    provider: row.provider,
    owner: { type: row.owner_type, id: row.owner_id },
    brand: row.brand,
    last4: row.last4,
    expMonth: Number(row.exp_month),
    expYear: Number(row.exp_year),
    holderName: row.holder_name,
    address: {
      line1: row.address_line1,
      line2: row.address_line2,
      city: row.address_city,
      state: row.address_state,
      postalCode: row.address_postal_code,
      country: row.address_country,
    },
    country: row.country,
    fingerprint: row.fingerprint,
    funding: row.funding,
    checks: typeof row.checks === 'string' ? JSON.parse(row.checks) : row.checks,
    currency: row.currency,
    isDefault: row.is_default === true || row.is_default === 1,
    status: row.status,
    metadata: typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata,
    createdAt: row.created_at,
  }
}
