import { inspect } from 'node:util'
import { expect } from 'vitest'
import type { CardportError } from '../errors.js'

/** The card number the values of {@link thrownValues} quote. */
export const THROWN_NUMBER = '4242424242424242'

// The keys are told apart by their tails, which redaction hides (`sk_live_[redacted]`).
const KEY_TAILS = ['51MessageKey', '51FieldKey', '51CauseKey', '51ObjectKey']

/**
 * What a provider written by hand may throw, by name: each made afresh for every throw, so that
 * no test sees what another masked.
 */
export const thrownValues: [string, () => unknown][] = [
  ['an Error quoting a card number', () => new Error(`card ${THROWN_NUMBER} declined`)],
  [
    'an Error whose message, own field and cause hold API keys',
    () =>
      Object.assign(new Error('no such key sk_live_51MessageKey'), {
        apiKey: 'sk_test_51FieldKey',
        cause: new Error('rejected rk_live_51CauseKey'),
      }),
  ],
  ['a string', () => `card ${THROWN_NUMBER} declined`],
  ['a plain object', () => ({ message: `card ${THROWN_NUMBER}`, key: 'sk_live_51ObjectKey' })],
  ['undefined', () => undefined],
  ['null', () => null],
]

/** The operations of a provider, each throwing what `thrown` makes. */
export interface ThrowingOperations {
  createCard(): Promise<never>
  getCard(): Promise<never>
  listCards(): Promise<never>
  updateCard(): Promise<never>
  deleteCard(): Promise<never>
  setDefaultCard(): Promise<never>
  getDefaultCard(): Promise<never>
  invalidateCard(): Promise<never>
  parseCard(): never
}

/** `base` with every operation (`parseCard` too) throwing what `thrown` makes. */
export function throwingEvery<T extends object>(
  base: T,
  thrown: () => unknown,
): Omit<T, keyof ThrowingOperations> & ThrowingOperations {
  const fail = async (): Promise<never> => {
    throw thrown()
  }
  return {
    ...base,
    createCard: fail,
    getCard: fail,
    listCards: fail,
    updateCard: fail,
    deleteCard: fail,
    setDefaultCard: fail,
    getDefaultCard: fail,
    invalidateCard: fail,
    parseCard: () => {
      throw thrown()
    },
  }
}

/** Fails when `text` (an error as a logger prints it, a report) holds the card number or a key. */
export function expectNoSecret(text: string): void {
  expect(text.replace(/\D/g, '')).not.toContain(THROWN_NUMBER)
  for (const tail of KEY_TAILS) expect(text).not.toContain(tail)
}

/**
 * Fails unless `error` is what `defineCardProvider` makes of an unexpected error of provider
 * `memory` during `operation`: `provider_unavailable`, retryable, nothing secret in it.
 */
export function expectUnexpected(error: CardportError, operation: string): void {
  expect(error).toMatchObject({
    code: 'provider_unavailable',
    retryable: true,
    provider: 'memory',
    message: `memory failed during ${operation} with an unexpected error; see cause`,
  })
  expect(error.cause).toBeInstanceOf(Error)
  expectNoSecret(inspect(error, { depth: 10 }))
}
