import { containsCardNumber } from '@cardport/core'
import { expect, it } from 'vitest'
import { runTour } from './tour.js'
import { VAULT_TEST_KEY } from './vault-api.js'

// What `pnpm --filter @cardport/example-custom-provider start` runs.
it('tours the vault adapter: each step as described, errors handled by code', async () => {
  const lines: string[] = []
  const slept: number[] = []
  const summary = await runTour((line) => lines.push(line), {
    // The vault's Retry-After is recorded, not slept.
    sleep: async (ms) => {
      slept.push(ms)
    },
  })

  expect(summary.handled).toEqual(['unsupported_operation', 'card_declined'])
  expect(summary.waits).toEqual([1000])
  expect(slept).toEqual([1000])
  expect(summary.listed).toEqual(['visa •••• 4242', 'mastercard •••• 4444 (default)'])
  const output = lines.join('\n')
  expect(output).toContain("vault: owners customer; default policy 'caller-chosen'")
  expect(output).toContain('updateCard(address): unsupported_operation, 0 requests sent')
  expect(output).toContain('deleted the default: the vault picks no other, default is none')
  expect(containsCardNumber(output)).toBe(false)
  expect(output).not.toContain(VAULT_TEST_KEY)
})
