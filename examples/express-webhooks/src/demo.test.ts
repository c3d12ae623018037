import { STRIPE_EMULATOR_WEBHOOK_SECRET } from '@cardport/testing/emulators'
import { expect, it } from 'vitest'
import { runDemo } from './demo.js'

it('runs the whole loop offline and ends in step with Stripe', async () => {
  const lines: string[] = []
  const summary = await runDemo((line) => lines.push(line))

  expect(summary.inStep).toBe(true)
  expect(summary.statuses.every((status) => status === 200)).toBe(true)
  expect(summary.actions).toContain('duplicate')
  expect(summary.actions).toContain('default-changed')
  expect(summary.forged).toMatchObject({
    status: 400,
    body: { error: { code: 'invalid_request', reason: 'bad_signature' } },
  })
  const output = lines.join('\n')
  expect(output).not.toContain(STRIPE_EMULATOR_WEBHOOK_SECRET)
  expect(output).not.toContain('whsec_not_this_endpoint')
  expect(output).toMatch(/same as Stripe/)
})
