import type { Card } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import { CARD_COLUMNS, formatExpiry, formatTable } from './format-table.js'

describe('formatTable', () => {
  it('pads columns to their widest cell, right-aligning where asked, with no trailing spaces', () => {
    const table = formatTable(
      [
        { name: 'visa', count: 3 },
        { name: 'mastercard', count: 12 },
      ],
      [
        { header: 'NAME', value: (row) => row.name },
        { header: 'N', value: (row) => String(row.count), align: 'right' },
      ],
    )
    expect(table.split('\n')).toEqual(['NAME         N', 'visa         3', 'mastercard  12'])
  })

  it('keeps a multi-line value on one row, and measures • as one character', () => {
    const table = formatTable(
      [{ a: 'x\ny', b: '••' }],
      [
        { header: 'A', value: (row) => row.a },
        { header: 'BBB', value: (row) => row.b },
      ],
    )
    expect(table.split('\n')).toEqual(['A    BBB', 'x y  ••'])
  })
})

describe('CARD_COLUMNS', () => {
  it('shows brand, last4, expiry, default and status', () => {
    const card = {
      id: 'card_1',
      brand: 'visa',
      last4: '4242',
      expMonth: 3,
      expYear: 2031,
      isDefault: true,
      status: 'active',
    } as Card
    const lines = formatTable([card, { ...card, id: 'card_22', isDefault: false }], CARD_COLUMNS)
    expect(lines.split('\n')).toEqual([
      'ID       BRAND  LAST4  EXPIRY   DEFAULT  STATUS',
      'card_1   visa   4242   03/2031  yes      active',
      'card_22  visa   4242   03/2031           active',
    ])
    expect(formatExpiry({ expMonth: 11, expYear: 2030 })).toBe('11/2030')
  })
})
