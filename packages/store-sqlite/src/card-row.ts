import {
  CARD_COLUMNS,
  type Card,
  type CardColumnsRow,
  cardColumnValues,
  cardFromColumns,
  type StoredCard,
} from '@cardport/core'

export { CARD_COLUMNS }

/** A row of `cardport_cards`, as better-sqlite3 returns it: core's card columns plus bookkeeping. */
export interface CardRow extends CardColumnsRow {
  seq: number
  version: number
  updated_at: string
  observed_at: number | null
}

/** The values of {@link CARD_COLUMNS} for a card; `is_default` as `0`/`1` (SQLite has no booleans). */
export function cardValues(card: Card): unknown[] {
  return cardColumnValues(card).map((value) =>
    typeof value === 'boolean' ? (value ? 1 : 0) : value,
  )
}

/** The stored card a row holds. */
export function rowToCard(row: CardRow): StoredCard {
  // Added to the card, not spread into a new object: V8 copies a spread followed by more keys
  // on its slow path, several microseconds a card.
  return Object.assign(cardFromColumns(row), {
    version: row.version,
    updatedAt: row.updated_at,
    observedAt: row.observed_at,
  })
}
