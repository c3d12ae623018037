import { expect } from 'vitest'
import { CardportError } from '../errors.js'

/** The CardportError a promise rejects with; fails the test when it resolves or rejects otherwise. */
export async function rejection(promise: Promise<unknown>): Promise<CardportError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(CardportError)
    return error as CardportError
  }
  throw new Error('expected the call to be rejected')
}

/** The CardportError a call throws; fails the test when it returns or throws otherwise. */
export function errorOf(run: () => unknown): CardportError {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(CardportError)
    return error as CardportError
  }
  throw new Error('expected the call to throw')
}
