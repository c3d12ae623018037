import { describe, expect, it } from 'vitest'
import { marketplaceSeedCards, stripeSeedCards } from './__fixtures__/seed-cards.js'
import {
  CARD_COLUMNS,
  type CardColumnsRow,
  cardColumnValues,
  cardFromColumns,
} from './card-columns.js'

const rowOf = (values: unknown[]) =>
  Object.fromEntries(
    CARD_COLUMNS.map((column, i) => [column, values[i]]),
  ) as unknown as CardColumnsRow

describe('card columns', () => {
  const cards = [...stripeSeedCards, ...marketplaceSeedCards].map((seed) => seed.normalized)

  it.each(cards.map((card) => [card.id, card] as const))('round-trips %s', (_id, card) => {
    const values = cardColumnValues(card)
    expect(values).toHaveLength(CARD_COLUMNS.length)
    expect(cardFromColumns(rowOf(values))).toEqual(card)
  })

  it('reads what drivers return instead: numbers as text, 0/1, parsed JSON', () => {
    const card = { ...cards[0]!, isDefault: true, metadata: { b: '2', a: '1' } }
    const row = rowOf(cardColumnValues(card))
    const fromDriver = {
      ...row,
      exp_month: String(card.expMonth),
      exp_year: String(card.expYear),
      is_default: 1,
      checks: card.checks,
      metadata: card.metadata,
    }
    expect(cardFromColumns(fromDriver)).toEqual(card)
    expect(cardFromColumns({ ...fromDriver, is_default: 0 }).isDefault).toBe(false)
    // JSON text keeps the keys in the order written.
    expect(Object.keys(cardFromColumns(row).metadata)).toEqual(['b', 'a'])
  })

  it('has no column for a card number or a CVC', () => {
    expect(CARD_COLUMNS.filter((column) => /number|pan|cvc|cvv|security/.test(column))).toEqual([])
  })
})
