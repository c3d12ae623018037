import { constants } from 'node:os'
import { describe, expect, it } from 'vitest'
import {
  EXIT_CODES,
  exitCodeForCardportCode,
  exitCodeForSignal,
  signalForExitCode,
} from './exit-codes.js'

describe('exitCodeForCardportCode', () => {
  it.each([
    ['authentication', EXIT_CODES.config],
    ['permission', EXIT_CODES.config],
    ['provider_unavailable', EXIT_CODES.unreachable],
    // Still limited after the retries waited it out: like a provider that keeps failing, a
    // script tries again later; 1 would send it to "failed" with the unknown owners.
    ['rate_limited', EXIT_CODES.unreachable],
    ['owner_not_found', EXIT_CODES.failure],
    ['invalid_request', EXIT_CODES.failure],
  ])('%s exits %i', (code, exitCode) => {
    expect(exitCodeForCardportCode(code)).toBe(exitCode)
  })
})

describe('exitCodeForSignal', () => {
  // What a shell reports for a process killed by the signal: 128 + its number.
  it.each([
    ['SIGHUP', EXIT_CODES.hangup, 129],
    ['SIGINT', EXIT_CODES.interrupted, 130],
    ['SIGTERM', EXIT_CODES.terminated, 143],
  ] as const)('%s exits %i', (signal, exitCode, number) => {
    expect(exitCodeForSignal(signal)).toBe(exitCode)
    expect(exitCode).toBe(number)
    expect(exitCode).toBe(128 + constants.signals[signal])
  })
})

describe('signalForExitCode', () => {
  it('names the signal of each stop code, and none for the others', () => {
    expect(signalForExitCode(EXIT_CODES.hangup)).toBe('SIGHUP')
    expect(signalForExitCode(EXIT_CODES.interrupted)).toBe('SIGINT')
    expect(signalForExitCode(EXIT_CODES.terminated)).toBe('SIGTERM')
    for (const code of [0, 1, 2, 3, 4, 5, 128, 131, 137]) {
      expect(signalForExitCode(code)).toBeUndefined()
    }
  })
})
