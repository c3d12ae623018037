import type { Card, StoredCard } from '@cardport/core'

/** A row of `cardport_cards`, as better-sqlite3 returns it. */
export interface CardRow {
  seq: number
  provider: string
  owner_type: Card['owner']['type']
  owner_id: string
  card_id: string
  brand: Card['brand']
  last4: string
  exp_month: number
  exp_year: number
  holder_name: string | null
  address_line1: string | null
  address_line2: string | null
  address_city: string | null
  address_state: string | null
  address_postal_code: string | null
  address_country: string | null
  country: string | null
  fingerprint: string | null
  funding: Card['funding']
  checks: string
  currency: string | null
  is_default: 0 | 1
  status: Card['status']
  metadata: string
  created_at: string | null
  version: number
  updated_at: string
  observed_at: number | null
}

/** The columns a write sets, in the order of {@link cardValues}. */
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

/** The values of {@link CARD_COLUMNS} for a card. */
export function cardValues(card: Card): unknown[] {
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
    // JSON text keeps the keys in the order they were written, so a card read back compares
    // equal (key for key) to the one written.
    JSON.stringify(card.checks),
    card.currency,
    card.isDefault ? 1 : 0,
    card.status,
    JSON.stringify(card.metadata),
    card.createdAt,
  ]
}

/** The stored card a row holds. */
export function rowToCard(row: CardRow): StoredCard {
  return {
    id: row.card_id,
    provider: row.provider,
    owner: { type: row.owner_type, id: row.owner_id },
    brand: row.brand,
    last4: row.last4,
    expMonth: row.exp_month,
    expYear: row.exp_year,
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
    checks: JSON.parse(row.checks),
    currency: row.currency,
    isDefault: row.is_default === 1,
    status: row.status,
    metadata: JSON.parse(row.metadata),
    createdAt: row.created_at,
    version: row.version,
    updatedAt: row.updated_at,
    observedAt: row.observed_at,
  }
}
