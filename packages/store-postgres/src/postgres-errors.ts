/**
 * What stands in for the values of a row, or of a query's parameters, that the database quoted in
 * an error: a customer's name, address and metadata have no place in logs.
 */
export const VALUES_LEFT_OUT = '(values left out)'

/**
 * Takes out of a driver's error (and of its `cause`s) what quotes the values a statement was given,
 * in place, so that the error keeps its class, its SQLSTATE `code` and the rest of its fields
 * (`constraint`, `table`, `column`, `schema`, `hint`, `query`, `routine` …):
 * - `detail`: a refused row's `Failing row contains (…)` (check and not-null violations), and a
 *   quoted value (`Token "…" is invalid.`); the key of a unique violation (`Key (…)=(…)`) stays:
 *   the store's keys are provider, owner and card ids;
 * - `message` (and `stack`, which begins with it): a value of the wrong type or out of range
 *   (`invalid input syntax for type smallint: "…"`, `value "…" is out of range …`);
 * - `where`: a batch's JSON (`JSON data, line 1: …`) and a parameter's value
 *   (`unnamed portal parameter $8 = '…'`, or all of them: `… with parameters: $1 = '…', …`,
 *   when `log_parameter_max_length_on_error` shows them);
 * - `params`: PGlite's error keeps the query's parameters; they are removed.
 *
 * Statement text (`query`, `internalQuery`) is kept: the store binds every value as a parameter.
 */
export function withoutRowValues(error: unknown, depth = 0): void {
  if (typeof error !== 'object' || error === null || depth > MAX_CAUSES) return
  const record = error as Record<string, unknown>
  rewrite(record, 'detail', leaveOutOfDetail)
  const message = record.message
  rewrite(record, 'message', leaveOutQuotedValue)
  if (typeof message === 'string' && record.message !== message) {
    rewrite(record, 'stack', (stack) => stack.replace(message, String(record.message)))
  }
  rewrite(record, 'where', (where) => where.split('\n').map(leaveOutOfContext).join('\n'))
  if ('params' in record) {
    try {
      delete record.params
    } catch {
      // A frozen error keeps its params: nothing better can be done in place.
    }
  }
  withoutRowValues(record.cause, depth + 1)
}

/** How many `cause`s deep {@link withoutRowValues} goes: a driver nests one or two. */
const MAX_CAUSES = 5

function leaveOutOfDetail(detail: string): string {
  if (detail.startsWith('Failing row contains (')) return `Failing row contains ${VALUES_LEFT_OUT}.`
  return leaveOutQuotedValue(detail)
}

/** A quoted value after `: `, `value ` or `Token ` (PostgreSQL does not escape its quotes). */
function leaveOutQuotedValue(text: string): string {
  return text.replace(/(: |\bvalue |\bToken )"[\s\S]*"/, `$1${VALUES_LEFT_OUT}`)
}

/**
 * A line of an error's context that quotes JSON data, a parameter's value, or every parameter's
 * (`unnamed portal with parameters: $1 = '…', $2 = '…'`, when the error is in none of them).
 */
function leaveOutOfContext(line: string): string {
  return line
    .replace(/^(JSON data, line \d+: )[\s\S]*/, `$1${VALUES_LEFT_OUT}`)
    .replace(/( parameter \$\d+ = )'[\s\S]*'/, `$1${VALUES_LEFT_OUT}`)
    .replace(/( with parameters: )\$\d+ = [\s\S]*/, `$1${VALUES_LEFT_OUT}`)
}

/** Replaces a string field through `change`, leaving a field that cannot be written as it is. */
function rewrite(record: Record<string, unknown>, field: string, change: (text: string) => string) {
  const value = record[field]
  if (typeof value !== 'string') return
  const changed = change(value)
  if (changed === value) return
  try {
    record[field] = changed
  } catch {
    // A read-only field stays as the driver wrote it.
  }
}
