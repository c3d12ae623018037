import { CARD_COLUMNS, type CardColumnsRow, cardFromColumns, type StoredCard } from '@cardport/core'

export { CARD_COLUMNS, cardColumnValues as cardValues } from '@cardport/core'

/** A row of the cards table, as `pg` or PGlite returns it: core's card columns plus bookkeeping. */
export interface CardRow extends CardColumnsRow {
  version: number | string
  /** `timestamptz`: a Date, or text with a custom type parser. */
  updated_at: Date | string
  /** `bigint`: `pg` returns text (it may not fit a number), PGlite a number. */
  observed_at: string | number | null
}

/** The columns a read returns. */
export const SELECT_COLUMNS = [...CARD_COLUMNS, 'version', 'updated_at', 'observed_at'].join(', ')

/**
 * The types of the columns a write sets ({@link CARD_COLUMNS}, then `observed_at`) that are not
 * text: a write casts each parameter to its column's type (`$7::smallint`), since the driver
 * sends every value as text; a batch write casts each column it reads from its JSON array.
 */
export const PARAMETER_TYPES = {
  exp_month: 'smallint',
  exp_year: 'smallint',
  checks: 'json',
  is_default: 'boolean',
  metadata: 'json',
  observed_at: 'bigint',
} as const

/** The stored card a row holds. */
export function rowToCard(row: CardRow): StoredCard {
  // Added to the card, not spread into a new object: V8 copies a spread followed by more keys
  // on its slow path, several microseconds a card.
  return Object.assign(cardFromColumns(row), {
    version: Number(row.version),
    updatedAt: new Date(row.updated_at).toISOString(),
    observedAt: row.observed_at === null ? null : Number(row.observed_at),
  })
}
