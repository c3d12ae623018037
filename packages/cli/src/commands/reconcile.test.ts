import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type EmulatorServer, startEmulatorServer } from '@cardport/testing/emulators'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { CliContext } from '../context.js'
import { EXIT_CODES } from '../exit-codes.js'
import { run } from '../program.js'

let server: EmulatorServer
let dir: string

beforeEach(async () => {
  server = await startEmulatorServer()
  dir = await mkdtemp(join(tmpdir(), 'cardport-reconcile-'))
})

afterEach(async () => {
  await server.close()
  await rm(dir, { recursive: true, force: true })
})

function context(): { value: CliContext; stdout: () => string; stderr: () => string } {
  const out: string[] = []
  const err: string[] = []
  return {
    value: {
      stdout: { write: (text: string) => out.push(text) },
      stderr: { isTTY: false, write: (text: string) => err.push(text) },
      env: { STRIPE_API_BASE: server.url, STRIPE_SECRET_KEY: 'sk_test_interrupt' },
      secrets: new Set(),
      exitCode: undefined,
    },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  }
}

describe('cardport reconcile', () => {
  it('exits 130 when interrupted while an owner is being read, and prints no report', async () => {
    const customer = server.stripe!.seed.customer({ name: 'Slow Owner' })
    server.stripe!.seed.card(customer.id, 'tok_visa')
    server.stripe!.faults.inject({ latencyMs: 400, times: 10 })
    const cli = context()
    const store = `sqlite:${join(dir, 'cards.db')}`
    const args = ['reconcile', '--provider', 'stripe', '--store', store]
    const listening = process.listenerCount('SIGINT')
    const done = run([...args, '--owner', `customer:${customer.id}`], cli.value)
    // Ctrl+C once reconcile listens for it, while the owner's first page is on its way.
    await vi.waitFor(() => expect(process.listenerCount('SIGINT')).toBeGreaterThan(listening))
    process.emit('SIGINT')
    expect(await done).toBe(EXIT_CODES.interrupted)
    expect(cli.stdout()).toBe('')
    expect(cli.stderr()).toMatch(/^cardport: interrupted/)
  })
})
