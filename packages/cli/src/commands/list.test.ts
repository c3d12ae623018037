import { type EmulatorServer, startEmulatorServer } from '@cardport/testing/emulators'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EXIT_CODES } from '../exit-codes.js'
import { run } from '../program.js'
import { captureContext } from '../test-context.js'

let server: EmulatorServer

beforeEach(async () => {
  server = await startEmulatorServer()
})

afterEach(async () => {
  await server.close()
})

describe('cardport list', () => {
  it('never prints the configured secret that a card echoes back (metadata, holder name), in the table or in --json', async () => {
    const marketplace = server.marketplace!
    // Not key-shaped: only the by-value scrub of MARKETPLACE_SECRET can catch it.
    const secret = 'plain-marketplace-secret-0042'
    const mp = marketplace.seed.marketplace({ secret })
    const account = marketplace.seed.account({ marketplace: mp.id })
    // Someone pasted the key where it does not belong; the provider hands it back with the card.
    marketplace.seed.card({
      marketplace: mp.id,
      account: account.id,
      name: `Pat ${secret}`,
      meta: { note: `key ${secret}`, [secret]: 'as a key' },
    })
    const env = { MARKETPLACE_URL: server.url, MARKETPLACE_ID: mp.id, MARKETPLACE_SECRET: secret }
    const args = ['list', '--provider', 'marketplace', '--owner', `account:${account.id}`]

    for (const output of [[], ['--json']]) {
      const cli = captureContext(env)
      expect(await run([...args, ...output], cli.value)).toBe(EXIT_CODES.ok)
      expect(cli.stdout()).not.toContain(secret)
      expect(cli.stderr()).toBe('')
      if (output.length > 0) {
        const [card] = JSON.parse(cli.stdout())
        expect(card.holderName).toBe('Pat [redacted]')
        expect(card.metadata).toEqual({ note: 'key [redacted]', '[redacted]': 'as a key' })
      }
    }
  })
})
