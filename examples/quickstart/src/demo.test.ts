import { existsSync } from 'node:fs'
import { containsCardNumber } from '@cardport/core'
import { expect, it } from 'vitest'
import { runQuickstart } from './demo.js'

// What `pnpm demo` runs: both providers emulated in process, the local copy in SQLite.
it('runs the quickstart on both providers and ends with the replacement as the default', async () => {
  const lines: string[] = []
  const summary = await runQuickstart((line) => lines.push(line))

  expect(summary.stripe).toMatchObject({
    provider: 'stripe',
    brand: 'amex',
    last4: '0005',
    isDefault: true,
  })
  expect(summary.marketplace).toMatchObject({
    provider: 'marketplace',
    brand: 'amex',
    last4: '1111',
    isDefault: true,
  })
  const output = lines.join('\n')
  expect(output).toContain('[stripe] owner customer:')
  expect(output).toContain('[marketplace] owner account:')
  // Stripe deletes the second card; the marketplace cannot, so CardSync invalidates it.
  expect(output).toContain('  deleted •••• 4444')
  expect(output).toContain('  invalidated •••• 5100')
  // The local copy was kept in step: reconcile found nothing to repair, on either provider.
  expect(output.match(/needed 0 added, 0 updated, 0 removed/g)).toHaveLength(2)
  expect(containsCardNumber(output)).toBe(false)
  expect(existsSync(summary.folder)).toBe(false)
})
