import { inspect } from 'node:util'
import { type CardportError, type CardportErrorCode, isCardportError } from '@cardport/core'
import { expect } from 'vitest'

/** Card numbers and CVCs a suite used: no error message or stored field may contain them. */
export interface Secrets {
  /** Card numbers as given and as digits only. */
  readonly numbers: Set<string>
  /** CVCs. */
  readonly cvcs: Set<string>
}

/** An empty {@link Secrets} set. @internal */
export function createSecrets(): Secrets {
  return { numbers: new Set(), cvcs: new Set() }
}

/** Records the number and CVC of a card source, when it holds raw details. @internal */
export function rememberSecrets(secrets: Secrets, source: unknown): void {
  if (typeof source !== 'object' || source === null) return
  const { number, cvc } = source as { number?: unknown; cvc?: unknown }
  if (typeof number === 'string' && number.length > 0) {
    secrets.numbers.add(number)
    secrets.numbers.add(number.replace(/[\s-]/g, ''))
  }
  if (typeof cvc === 'string' && cvc.length > 0) secrets.cvcs.add(cvc)
}

/**
 * Fails when `text` holds one of the secrets. A CVC counts only as a whole token, so that
 * `737` in `req_a7378` is not mistaken for it; one after an escape (`\n737` in JSON or in what
 * `util.inspect` prints of a string) still counts. @internal
 */
export function expectNoSecrets(text: string, secrets: Secrets, where: string): void {
  for (const number of secrets.numbers) {
    expect(text.includes(number), `${where} holds a full card number`).toBe(false)
  }
  for (const cvc of secrets.cvcs) {
    const token = new RegExp(`(?<!(?<!\\\\)[0-9A-Za-z])${cvc}(?![0-9A-Za-z])`)
    expect(token.test(text), `${where} holds a CVC`).toBe(false)
  }
}

/**
 * Runs a call that must reject and returns what it rejected with. A synchronous throw fails:
 * every cardport operation reports failures through its promise. @internal
 */
export async function rejectionOf(
  run: () => Promise<unknown>,
  what = 'the call',
): Promise<unknown> {
  let promise: Promise<unknown>
  try {
    promise = run()
  } catch (error) {
    throw new Error(`expected ${what} to reject, but it threw at once: ${summarize(error)}`)
  }
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error(`expected ${what} to reject, but it resolved`)
}

/**
 * Asserts that `error` is a `CardportError` with `code`, raised by `provider`, and that no
 * part of it (message, stack, JSON, validation issues, `details`, the `cause` chain) holds a
 * secret. @internal
 */
export function expectCardportError(
  error: unknown,
  code: CardportErrorCode,
  provider: string | undefined,
  secrets: Secrets,
  what = 'the call',
): CardportError {
  if (!isCardportError(error)) {
    throw new Error(
      `expected ${what} to fail with a CardportError '${code}', got ${summarize(error)}`,
    )
  }
  expect(error.code, `the error code of ${what} (message: ${error.message})`).toBe(code)
  if (provider !== undefined) {
    expect(error.provider, `error.provider of ${what}`).toBe(provider)
  }
  expect(error.message.length, `the message of ${what}`).toBeGreaterThan(0)
  expectNoSecrets(errorText(error), secrets, `a '${code}' error`)
  return error
}

/**
 * Asserts that the conflict refusing to delete the default for `currency` says what to do
 * (DESIGN rule 3): its message says that the card is the default (the word "default"), and for
 * which currency, by its code (`usd`) or as "currency". Each adapter that ships with cardport
 * says both (memory: "Card … is the default for usd: make another card the default for that
 * currency first"; Stripe: "… the default external account for your default currency … (make
 * another card of the same currency the default with setDefaultCard, …)"); "No." says neither.
 * @internal
 */
export function expectDefaultConflictMessage(error: CardportError, currency: string | null): void {
  const words = error.message.toLowerCase().split(/[^a-z]+/)
  expect(words, `the conflict says that the card is the default: ${error.message}`).toContain(
    'default',
  )
  const namesCurrency =
    words.includes('currency') ||
    words.includes('currencies') ||
    (currency !== null && words.includes(currency.toLowerCase()))
  expect(namesCurrency, `the conflict names the currency (${currency}): ${error.message}`).toBe(
    true,
  )
}

/**
 * Every text an error carries out of the library: message, JSON and issues, and what a logger
 * prints of it (`console.error`, a logger's error serializer): its stack, its `details` and its
 * `cause` chain with their fields, which `toJSON` leaves out but which leave the process all the
 * same (a vendor's error kept as the cause may quote the request body). The stacks without
 * their frames' source positions (`file.ts:737:25`): a line or column number is no leak, and one
 * that reads as the CVC (an adapter's line 737) would fail the check by chance.
 */
function errorText(error: CardportError): string {
  return [
    error.message,
    JSON.stringify(error.toJSON()),
    ...(error.issues ?? []).map((issue) => issue.message),
    inspect(error, {
      depth: null,
      maxArrayLength: null,
      maxStringLength: null,
      breakLength: Number.POSITIVE_INFINITY,
      // What the objects hold, not what a class of the cause chooses to print of itself.
      customInspect: false,
    }),
  ]
    .join('\n')
    .replace(SOURCE_POSITION, '')
}

/** A stack frame's `:line:column`, at the end of its line or before what follows the frame. */
const SOURCE_POSITION = /:\d+:\d+(?=\)?(?:\s|$))/gm

function summarize(error: unknown): string {
  if (isCardportError(error)) return `CardportError '${error.code}': ${error.message}`
  if (error instanceof Error) return `${error.name}: ${error.message}`
  return String(error)
}
