import type { Card } from '@cardport/core'

/** A column of {@link formatTable}. */
export interface Column<Row> {
  /** The column's heading, upper case by convention (`'LAST4'`). */
  header: string
  /** The cell's text for a row. */
  value: (row: Row) => string
  /** Right-aligns the column (numbers). */
  align?: 'left' | 'right'
}

/**
 * Lays rows out as a plain text table: a header, then one line per row, columns padded with
 * spaces and separated by two. No borders and no colours, so that the output reads well in a
 * terminal and stays easy to `grep`, `cut` or `awk`.
 *
 * @example
 * ```ts
 * formatTable([{ n: 'a' }], [{ header: 'NAME', value: (row) => row.n }]) // 'NAME\na'
 * ```
 */
export function formatTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((column) => oneLine(column.value(row))))
  const widths = columns.map((column, index) =>
    Math.max(width(column.header), ...cells.map((line) => width(line[index]!))),
  )
  const render = (line: readonly string[]) =>
    line
      .map((cell, index) => {
        const padding = ' '.repeat(widths[index]! - width(cell))
        return columns[index]!.align === 'right' ? padding + cell : cell + padding
      })
      .join('  ')
      .trimEnd()
  return [
    render(columns.map((column) => column.header)),
    ...cells.map((line) => render(line)),
  ].join('\n')
}

/** The columns `cardport list` shows for each card. */
export const CARD_COLUMNS: readonly Column<Card>[] = [
  { header: 'ID', value: (card) => card.id },
  { header: 'BRAND', value: (card) => card.brand },
  { header: 'LAST4', value: (card) => card.last4 },
  { header: 'EXPIRY', value: (card) => formatExpiry(card) },
  { header: 'DEFAULT', value: (card) => (card.isDefault ? 'yes' : '') },
  { header: 'STATUS', value: (card) => card.status },
]

/** `MM/YYYY`. */
export function formatExpiry(card: Pick<Card, 'expMonth' | 'expYear'>): string {
  return `${String(card.expMonth).padStart(2, '0')}/${card.expYear}`
}

// A cell never breaks the table: line breaks and tabs inside a value become spaces.
function oneLine(text: string): string {
  return text.replace(/[\r\n\t]+/g, ' ')
}

// Columns are measured in code points, so that `•` or an accented name pads like one character.
function width(text: string): number {
  return [...text].length
}

/** `count` and `noun`, the noun plural unless the count is 1: `3 owners`, `1 card`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}
