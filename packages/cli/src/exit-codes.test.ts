import { describe, expect, it } from 'vitest'
import { EXIT_CODES, exitCodeForCardportCode } from './exit-codes.js'

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
