// Runs the BUILT `cardport` binary as a user would: `node dist/cli.js …` in a child process,
// against `cardport emulate` (also a child process) and a SQLite file in a temporary directory.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { closeSync, existsSync, openSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { sqliteStore } from '@cardport/store-sqlite'
import { sampleCard } from '@cardport/testing'
import Stripe from 'stripe'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const run = promisify(execFile)
const packageDir = fileURLToPath(new URL('..', import.meta.url))
const repoDir = fileURLToPath(new URL('../../..', import.meta.url))
const binary = join(packageDir, 'dist', 'cli.js')

/** What `cardport emulate --json` prints. */
interface EmulatorDetails {
  url: string
  stripe: { apiBase: string; secretKey: string; demo: { customer: string; account: string } }
  marketplace: { url: string; id: string; secret: string; demo: { account: string } }
}

interface Result {
  code: number
  stdout: string
  stderr: string
}

// Variables a developer's shell may hold: the tests decide what each command sees.
const CARDPORT_VARIABLES = [
  'STRIPE_SECRET_KEY',
  'STRIPE_API_BASE',
  'MARKETPLACE_URL',
  'MARKETPLACE_ID',
  'MARKETPLACE_SECRET',
  'CARDPORT_STORE',
  'CARDPORT_DEBUG',
]

function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const name of CARDPORT_VARIABLES) delete env[name]
  return env
}

/** Runs `cardport …args` and returns its exit code and output; never throws on a non-zero exit. */
async function cardport(args: string[], env: Record<string, string> = {}): Promise<Result> {
  try {
    const { stdout, stderr } = await run(process.execPath, [binary, ...args], {
      env: { ...baseEnv(), ...env },
      cwd: workDir,
      timeout: 60_000,
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failure = error as { code?: unknown; stdout?: string; stderr?: string }
    if (typeof failure.code !== 'number') throw error
    return { code: failure.code, stdout: failure.stdout ?? '', stderr: failure.stderr ?? '' }
  }
}

/** Starts `cardport emulate …args` and resolves with the process and its first stdout line. */
async function startEmulate(args: string[]): Promise<{ child: ChildProcess; lines: string[] }> {
  const child = spawn(process.execPath, [binary, 'emulate', ...args], {
    env: baseEnv(),
    cwd: workDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const lines: string[] = []
  let stderr = ''
  child.stderr!.on('data', (chunk) => {
    stderr += chunk
  })
  await new Promise<void>((resolve, reject) => {
    const reader = createInterface({ input: child.stdout! })
    reader.on('line', (line) => {
      lines.push(line)
      // The human output ends with the commands to try; --json is a single line.
      if (args.includes('--json') || line.includes('cardport reconcile')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`emulate exited with ${code}: ${stderr}`)))
  })
  return { child, lines }
}

/** What a child wrote, and how it ended, known once it has exited and its output is read. */
function watch(child: ChildProcess): {
  output: { stdout: string; stderr: string }
  ended: Promise<{ code: number | null; signal: string | null }>
} {
  const output = { stdout: '', stderr: '' }
  child.stdout?.on('data', (chunk) => {
    output.stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output.stderr += chunk
  })
  const ended = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  )
  return { output, ended }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null) return Promise.resolve({ code: child.exitCode, signal: null })
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

/**
 * A TCP server that accepts connections and never answers, as a provider or a database stuck
 * mid-request does: `connected` resolves on its first connection, when the client is busy.
 */
async function silentServer(): Promise<{ port: number; connected: Promise<void>; close(): void }> {
  let onConnection = () => {}
  const connected = new Promise<void>((resolve) => {
    onConnection = resolve
  })
  const server = createServer(() => onConnection())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { port, connected, close: () => server.close() }
}

/** The signals that stop a command, and the status a shell reports for each (128 + its number). */
const STOP_SIGNALS = [
  ['SIGHUP', 129],
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const

/**
 * Starts `cardport …args` against a server that never answers (given its port), sends it
 * `signal` once it has connected there, when it is busy, and checks how it ended as its parent
 * sees it: killed by that same signal (`code` null), as bash's "wait and cooperative exit"
 * needs to stop a loop on Ctrl+C, but only after its clean-up, which ends by writing
 * `cardport: interrupted (SIGINT)` on stderr; and no output.
 */
async function expectInterrupted(
  signal: 'SIGHUP' | 'SIGINT' | 'SIGTERM',
  command: (port: number) => { args: string[]; env: Record<string, string> },
): Promise<void> {
  const server = await silentServer()
  try {
    const { args, env } = command(server.port)
    const child = spawn(process.execPath, [binary, ...args], {
      env: { ...baseEnv(), ...env },
      cwd: workDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const { output, ended } = watch(child)
    await server.connected
    child.kill(signal)
    expect(await ended).toEqual({ code: null, signal })
    expect(output).toEqual({ stdout: '', stderr: `cardport: interrupted (${signal})\n` })
  } finally {
    server.close()
  }
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** One line on stderr, and no stack trace. */
function expectOneLine(stderr: string) {
  const lines = stderr.trimEnd().split('\n')
  expect(lines, stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^cardport: /)
  expect(stderr).not.toMatch(/^\s+at /m)
}

let workDir: string
let emulator: ChildProcess
let details: EmulatorDetails
let stripeEnv: Record<string, string>
let marketplaceEnv: Record<string, string>

beforeAll(async () => {
  // One build per run: the CLI and the workspace packages it imports (`...` = and its dependencies).
  await run('pnpm', ['--filter', '@cardport/cli...', 'build'], {
    cwd: repoDir,
    maxBuffer: 64 * 1024 * 1024,
  })
  workDir = await mkdtemp(join(tmpdir(), 'cardport-cli-'))
  const started = await startEmulate(['--port', '0', '--json'])
  emulator = started.child
  details = JSON.parse(started.lines[0]!) as EmulatorDetails
  stripeEnv = {
    STRIPE_API_BASE: details.stripe.apiBase,
    STRIPE_SECRET_KEY: details.stripe.secretKey,
  }
  marketplaceEnv = {
    MARKETPLACE_URL: details.marketplace.url,
    MARKETPLACE_ID: details.marketplace.id,
    MARKETPLACE_SECRET: details.marketplace.secret,
  }
}, 300_000)

afterAll(async () => {
  if (emulator) {
    emulator.kill('SIGTERM')
    await exitOf(emulator)
  }
  if (workDir) await rm(workDir, { recursive: true, force: true })
})

/** The Stripe SDK of an application, pointed at the emulator. */
function stripeClient(): Stripe {
  const url = new URL(details.stripe.apiBase)
  return new Stripe(details.stripe.secretKey, {
    host: url.hostname,
    port: Number(url.port),
    protocol: 'http',
    maxNetworkRetries: 0,
  })
}

describe('cardport --help', { timeout: 60_000 }, () => {
  it.each([[], ['emulate'], ['list'], ['reconcile']])(
    'prints the usage of %j and exits 0',
    async (...command) => {
      const result = await cardport([...command, '--help'])
      expect(result.code).toBe(0)
      expect(result.stdout).toContain(`Usage: cardport${command.length ? ` ${command[0]}` : ''}`)
      expect(result.stderr).toBe('')
    },
  )

  it('documents the flags and variables of list', async () => {
    const { stdout } = await cardport(['list', '--help'])
    for (const text of [
      '--provider',
      '--owner',
      '--json',
      'STRIPE_SECRET_KEY',
      'cardport emulate',
    ]) {
      expect(stdout).toContain(text)
    }
  })
})

describe('cardport emulate', { timeout: 60_000 }, () => {
  it('prints the URL, the test credentials and how to point the other commands at it, and stops on SIGINT', async () => {
    const { child, lines } = await startEmulate(['--port', '0'])
    const output = lines.join('\n')
    const url = output.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)?.[1]
    expect(url).toBeDefined()
    expect(output).toContain(`STRIPE_API_BASE=${url}`)
    expect(output).toMatch(/STRIPE_SECRET_KEY=sk_test_\w+/)
    expect(output).toMatch(/MARKETPLACE_ID=\S+/)
    expect(output).toMatch(/MARKETPLACE_SECRET=\S+/)
    expect(output).toMatch(/cardport list --provider stripe --owner customer:cus_\w+/)
    // It really serves: the Stripe API answers on that URL.
    const response = await fetch(`${url}/v1/customers`, {
      headers: { authorization: 'Bearer sk_test_123' },
    })
    expect(response.status).toBe(200)

    child.kill('SIGINT')
    expect(await exitOf(child)).toEqual({ code: 0, signal: null })
  })

  it('stops on SIGHUP (its terminal closed) with exit 0 too', async () => {
    const { child } = await startEmulate(['--port', '0', '--json'])
    child.kill('SIGHUP')
    expect(await exitOf(child)).toEqual({ code: 0, signal: null })
  })

  // Its output is the only way to reach it (the port of --port 0, the credentials): written to
  // a full disk, nothing can use it. It used to serve on until stopped, and then exit 1.
  it.skipIf(!existsSync('/dev/full'))(
    'closes and exits 1 at once, with one line, when its details could not be written',
    async () => {
      const full = openSync('/dev/full', 'w')
      try {
        const child = spawn(process.execPath, [binary, 'emulate', '--port', '0', '--json'], {
          env: baseEnv(),
          cwd: workDir,
          stdio: ['ignore', full, 'pipe'],
        })
        const { output, ended } = watch(child)
        // Long past its start (a few seconds on a slow machine), short of the test's timeout.
        const guard = setTimeout(() => child.kill('SIGKILL'), 30_000)
        try {
          expect(await ended).toEqual({ code: 1, signal: null })
        } finally {
          clearTimeout(guard)
        }
        expect(output.stderr).toBe(
          'cardport: could not write the output (ENOSPC): it is incomplete\n',
        )
      } finally {
        closeSync(full)
      }
    },
  )

  // `cardport emulate | head -1`, `| grep -m1 listening`: the script reads the URL and wants the
  // server. A line written after the reader left failed with EPIPE, which ended the emulator at
  // once with exit 0 (about half the time, as the lines raced the reader): it now serves on
  // until a signal. Closed before its first line, every write fails, which makes the EPIPE
  // certain; closed after it, as `head -1` does, the rest may or may not have gone.
  it.each(['before', 'after'] as const)(
    'serves on when the reader closes its stdout %s its first line, until SIGTERM: exit 0',
    async (when) => {
      const port = when === 'before' ? await closedPort() : 0
      const child = spawn(process.execPath, [binary, 'emulate', '--port', String(port)], {
        env: baseEnv(),
        cwd: workDir,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let stderr = ''
      child.stderr!.on('data', (chunk) => {
        stderr += chunk
      })
      const exited = exitOf(child)
      let url = `http://127.0.0.1:${port}`
      if (when === 'before') child.stdout!.destroy()
      else {
        const first = await new Promise<string>((resolve, reject) => {
          const reader = createInterface({ input: child.stdout! })
          reader.once('line', (line) => {
            reader.close()
            child.stdout!.destroy()
            resolve(line)
          })
          child.once('exit', (code) => reject(new Error(`emulate exited with ${code}: ${stderr}`)))
        })
        url = first.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/)![1]!
      }
      // Answered once it listens, however long its start takes (polled, no duration measured);
      // an emulator that ended meanwhile fails the test with how it ended.
      let status: number | undefined
      while (status === undefined) {
        const ended = await Promise.race([exited, new Promise((r) => setTimeout(r, 50))])
        if (ended) throw new Error(`emulate ended: ${JSON.stringify(ended)} ${stderr}`)
        status = await fetch(`${url}/v1/customers`, {
          headers: { authorization: 'Bearer sk_test_123' },
        }).then(
          (response) => response.status,
          () => undefined,
        )
      }
      expect(status).toBe(200)
      expect(child.exitCode).toBeNull()

      child.kill('SIGTERM')
      expect(await exited).toEqual({ code: 0, signal: null })
      expect(stderr).toBe('cardport: emulators stopped\n')
    },
  )

  it('refuses a port that is taken, with one line and exit 1', async () => {
    const port = new URL(details.url).port
    const result = await cardport(['emulate', '--port', port])
    expect(result.code).toBe(1)
    expectOneLine(result.stderr)
    expect(result.stderr).toContain(`port ${port}`)
  })
})

describe('cardport list', { timeout: 60_000 }, () => {
  it("prints a Stripe customer's cards as a table", async () => {
    const result = await cardport(
      ['list', '--provider', 'stripe', '--owner', details.stripe.demo.customer],
      stripeEnv,
    )
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const [header, ...rows] = result.stdout.trimEnd().split('\n')
    expect(header!.split(/\s+/)).toEqual(['ID', 'BRAND', 'LAST4', 'EXPIRY', 'DEFAULT', 'STATUS'])
    expect(rows).toHaveLength(3)
    expect(rows.map((row) => row.split(/\s+/)[1]).sort()).toEqual(['amex', 'mastercard', 'visa'])
    expect(rows.filter((row) => /\syes\s/.test(row))).toHaveLength(1)
    for (const row of rows) expect(row).toMatch(/\s\d{4}\s+\d{2}\/\d{4}\s.*active$/)
  })

  it('prints the same cards as JSON with --json, with no card number anywhere', async () => {
    const result = await cardport(
      ['list', '--provider', 'stripe', '--owner', details.stripe.demo.customer, '--json'],
      stripeEnv,
    )
    expect(result.code).toBe(0)
    const cards = JSON.parse(result.stdout) as Array<Record<string, unknown>>
    expect(cards).toHaveLength(3)
    expect(cards.filter((card) => card.isDefault)).toHaveLength(1)
    expect(cards.map((card) => card.last4).sort()).toEqual(['0005', '4242', '4444'])
    expect(result.stdout).not.toMatch(/\d{12,}/)
  })

  it("lists a Connect account's external account and a marketplace account's card", async () => {
    const account = await cardport(
      ['list', '--provider', 'stripe', '--owner', details.stripe.demo.account, '--json'],
      stripeEnv,
    )
    expect(account.code).toBe(0)
    expect(JSON.parse(account.stdout)).toMatchObject([{ brand: 'visa', isDefault: true }])

    const marketplace = await cardport(
      ['list', '--provider', 'marketplace', '--owner', details.marketplace.demo.account],
      marketplaceEnv,
    )
    expect(marketplace.stderr).toBe('')
    expect(marketplace.code).toBe(0)
    expect(marketplace.stdout).toMatch(/visa\s+1111\s/)
  })

  it('says so when an owner has no cards', async () => {
    const customer = await stripeClient().customers.create({ email: 'empty@example.com' })
    const result = await cardport(
      ['list', '--provider', 'stripe', '--owner', `customer:${customer.id}`],
      stripeEnv,
    )
    expect(result.code).toBe(0)
    expect(result.stdout).toBe(`customer:${customer.id} has no cards at stripe.\n`)
  })

  it('reports an unknown customer in one line with exit 1', async () => {
    const result = await cardport(
      ['list', '--provider', 'stripe', '--owner', 'customer:cus_doesnotexist'],
      stripeEnv,
    )
    expect(result.code).toBe(1)
    expectOneLine(result.stderr)
    expect(result.stderr).toContain('owner_not_found')
  })
})

describe('cardport reconcile', { timeout: 60_000 }, () => {
  it('reports drift in a dry run without changing the store, then repairs it for real', async () => {
    const stripe = stripeClient()
    const customer = await stripe.customers.create({ email: 'reconcile@example.com' })
    const first = await stripe.customers.createSource(customer.id, { source: 'tok_visa' })
    await stripe.customers.createSource(customer.id, { source: 'tok_mastercard' })
    const owner = `customer:${customer.id}`
    const file = join(workDir, 'reconcile.db')
    const store = `sqlite:${file}`
    const args = ['reconcile', '--provider', 'stripe', '--store', store, '--owner', owner]

    // A dry run makes no file: one that does not exist (a typo in a cron check) is refused.
    const missing = await cardport([...args, '--dry-run', '--exit-code'], stripeEnv)
    expect(missing.code).toBe(1)
    expectOneLine(missing.stderr)
    expect(missing.stderr).toContain('no such file, and a dry run creates nothing')
    expect(existsSync(file)).toBe(false)
    // The store as a first real run would leave it, empty.
    await sqliteStore({ filename: file }).close()

    const dryRun = await cardport([...args, '--dry-run', '--json'], stripeEnv)
    expect(dryRun.stderr).toBe('')
    expect(dryRun.code).toBe(0)
    const planned = JSON.parse(dryRun.stdout)
    expect(planned).toMatchObject({ dryRun: true, owners: 1, cardsSeen: 2, failed: [] })
    expect(planned.added).toHaveLength(2)

    // Nothing was written: a second dry run finds the same drift, and --exit-code says so.
    const again = await cardport([...args, '--dry-run', '--exit-code'], stripeEnv)
    expect(again.code).toBe(5)
    expect(again.stdout).toContain('Dry run (nothing changed)')
    expect(again.stdout).toMatch(/to add\s+2/)

    const real = await cardport(args, stripeEnv)
    expect(real.stderr).toBe('')
    expect(real.code).toBe(0)
    expect(real.stdout).toMatch(/^Reconciled: stripe \(http:\/\/127\.0\.0\.1:\d+\) → sqlite:/)
    expect(real.stdout).toMatch(/added\s+2/)
    expect(real.stdout).toContain(first.id)

    // In step now: no drift, so --exit-code exits 0.
    const clean = await cardport([...args, '--dry-run', '--exit-code'], stripeEnv)
    expect(clean.code).toBe(0)
    expect(clean.stdout).toContain('No drift')

    // The application changes cards behind the store's back; reconcile (every owner the store
    // knows, no --owner) finds one added and one removed, and repairs the default.
    await stripe.customers.deleteSource(customer.id, first.id)
    const added = await stripe.customers.createSource(customer.id, { source: 'tok_amex' })
    const repair = await cardport(
      ['reconcile', '--provider', 'stripe', '--store', store, '--json'],
      stripeEnv,
    )
    expect(repair.code).toBe(0)
    const report = JSON.parse(repair.stdout)
    expect(report.added).toEqual([
      { owner: { type: 'customer', id: customer.id }, cardId: added.id },
    ])
    expect(report.removed).toEqual([
      { owner: { type: 'customer', id: customer.id }, cardId: first.id },
    ])
    expect(report.defaultRepaired).toHaveLength(1)

    // The store now equals the provider: a dry run over every owner it knows finds nothing.
    const after = await cardport(
      ['reconcile', '--provider', 'stripe', '--store', store, '--dry-run', '--exit-code'],
      stripeEnv,
    )
    expect(after.code).toBe(0)
  })

  it("keeps the cards of an owner Stripe does not know (exit 1), and removes a deleted customer's", async () => {
    const stripe = stripeClient()
    const file = join(workDir, 'unknown-owner.db')
    const store = `sqlite:${file}`
    // A customer reconciled into the store, then deleted at Stripe.
    const customer = await stripe.customers.create({ email: 'deleted@example.com' })
    const card = await stripe.customers.createSource(customer.id, { source: 'tok_visa' })
    const first = await cardport(
      ['reconcile', '--provider', 'stripe', '--store', store, '--owner', `customer:${customer.id}`],
      stripeEnv,
    )
    expect(first.code).toBe(0)
    await stripe.customers.del(customer.id)
    // A card of a customer this Stripe never had: stored with another key, or in the other mode.
    const other = { type: 'customer', id: 'cus_OtherAccount0001' } as const
    const local = sqliteStore({ filename: file })
    await local.upsert(sampleCard('card_otherAccount0001', other, { provider: 'stripe' }))
    await local.close()

    const run = await cardport(
      ['reconcile', '--provider', 'stripe', '--store', store, '--json'],
      stripeEnv,
    )
    expect(run.code).toBe(1)
    const report = JSON.parse(run.stdout)
    expect(report.removed).toEqual([
      { owner: { type: 'customer', id: customer.id }, cardId: card.id },
    ])
    expect(report.failed).toMatchObject([{ owner: other, code: 'owner_not_found' }])
    const after = sqliteStore({ filename: file })
    expect(
      (await after.listByOwner({ provider: 'stripe', owner: other })).map((c) => c.id),
    ).toEqual(['card_otherAccount0001'])
    await after.close()
  })

  it("lists 50 entries and counts the rest; --json lists every one, past core's 1,000", async () => {
    const stripe = stripeClient()
    const file = join(workDir, 'many-ghosts.db')
    const customer = await stripe.customers.create({ email: 'ghosts@example.com' })
    const owner = { type: 'customer', id: customer.id } as const
    // 1,001 cards the store holds and Stripe does not.
    const local = sqliteStore({ filename: file })
    await local.upsertMany(
      Array.from({ length: 1001 }, (_, index) =>
        sampleCard(`card_ghost${String(index).padStart(4, '0')}`, owner, { provider: 'stripe' }),
      ),
    )
    await local.close()
    const args = ['reconcile', '--provider', 'stripe', '--store', `sqlite:${file}`, '--dry-run']

    const human = await cardport(args, stripeEnv)
    expect(human.code).toBe(0)
    expect(human.stdout).toMatch(/to remove\s+1001/)
    expect(human.stdout.match(/^to remove\s+customer:/gm)).toHaveLength(50)
    expect(human.stdout).toContain('… and 951 more (--json lists them all)')

    const json = await cardport([...args, '--json'], stripeEnv)
    expect(json.code).toBe(0)
    const report = JSON.parse(json.stdout)
    expect(report.counts).toEqual({
      added: 0,
      updated: 0,
      removed: 1001,
      defaultRepaired: 0,
      failed: 0,
    })
    expect(report.removed).toHaveLength(1001)
    expect(report.truncated).toBe(false)
  })

  it('reads the store from CARDPORT_STORE and reconciles marketplace cards', async () => {
    const store = `sqlite:${join(workDir, 'marketplace.db')}`
    const result = await cardport(
      [
        'reconcile',
        '--provider',
        'marketplace',
        '--owner',
        details.marketplace.demo.account,
        '--json',
      ],
      { ...marketplaceEnv, CARDPORT_STORE: store },
    )
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({ dryRun: false, owners: 1, cardsSeen: 1 })
  })

  it('says there is nothing to do on a new store without --owner', async () => {
    const store = `sqlite:${join(workDir, 'empty.db')}`
    const result = await cardport(
      ['reconcile', '--provider', 'stripe', '--store', store],
      stripeEnv,
    )
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('No owners to reconcile')
  })

  it('needs a store: one line naming --store and CARDPORT_STORE, exit 3', async () => {
    const result = await cardport(['reconcile', '--provider', 'stripe'], stripeEnv)
    expect(result.code).toBe(3)
    expectOneLine(result.stderr)
    expect(result.stderr).toContain('--store')
    expect(result.stderr).toContain('CARDPORT_STORE')
  })
})

// Ctrl+C, SIGTERM and SIGHUP end every command but emulate by the signal itself, so that a shell
// reports 128 + its number (130, 143, 129) and a loop over cardport stops, but only after
// closing what it opened: never killed outright by it, which would leave a store's connection to
// be dropped mid-write.
describe('interrupted', { timeout: 60_000 }, () => {
  const reconcileStripe = (store: string, owner: string) => [
    'reconcile',
    '--provider',
    'stripe',
    '--store',
    store,
    '--owner',
    owner,
  ]

  for (const [signal] of STOP_SIGNALS) {
    it(`list: ${signal} while a page is on its way ends it by ${signal}, after one line and no output`, async () => {
      await expectInterrupted(signal, (port) => ({
        args: ['list', '--provider', 'stripe', '--owner', 'customer:cus_busy'],
        env: { STRIPE_SECRET_KEY: 'sk_test_busyList', STRIPE_API_BASE: `http://127.0.0.1:${port}` },
      }))
    })

    it(`reconcile: ${signal} while a page is on its way ends it by ${signal}, its SQLite store closed and unchanged`, async () => {
      const owner = { type: 'customer', id: `cus_busy${signal}` } as const
      const file = join(workDir, `interrupted-${signal}.db`)
      // A card the provider would not list: reconcile would remove it, had it read the page.
      const local = sqliteStore({ filename: file })
      await local.upsert(sampleCard(`card_kept${signal}`, owner, { provider: 'stripe' }))
      await local.close()
      const store = `sqlite:${file}`
      await expectInterrupted(signal, (port) => ({
        args: reconcileStripe(store, `customer:${owner.id}`),
        env: {
          STRIPE_SECRET_KEY: 'sk_test_busyReconcile',
          STRIPE_API_BASE: `http://127.0.0.1:${port}`,
        },
      }))
      // Closed: SQLite's last connection checkpointed the WAL and removed it.
      expect(existsSync(`${file}-wal`)).toBe(false)
      const after = sqliteStore({ filename: file })
      expect(
        (await after.listByOwner({ provider: 'stripe', owner })).map((card) => card.id),
      ).toEqual([`card_kept${signal}`])
      await after.close()
    })

    it(`reconcile: ${signal} while the PostgreSQL store is being opened ends it by ${signal}`, async () => {
      // A database that accepts and never answers: the store's connection waits up to its 10 s
      // timeout, which the signal does not wait out (open-store.test.ts pins that).
      await expectInterrupted(signal, (port) => ({
        // No password in --store: it would add the warning about it to the one line expected.
        args: reconcileStripe(`postgres://app@127.0.0.1:${port}/app`, 'customer:cus_busyStore'),
        env: { STRIPE_SECRET_KEY: 'sk_test_busyStore', STRIPE_API_BASE: 'http://127.0.0.1:9' },
      }))
    })
  }
})

// What a shell sees: bash started in a process group of its own, as a terminal's job is, so that
// a signal sent to the group reaches bash and cardport together, as Ctrl+C does.
describe('interrupted, from a shell', { timeout: 60_000 }, () => {
  /** `list` against a server that never answers, as the words of a bash command line. */
  const busyList = (port: number) => ({
    words: [
      process.execPath,
      binary,
      'list',
      '--provider',
      'stripe',
      '--owner',
      'customer:cus_busy',
    ],
    env: { STRIPE_SECRET_KEY: 'sk_test_busyShell', STRIPE_API_BASE: `http://127.0.0.1:${port}` },
  })

  /**
   * Runs `script` in bash (`"$@"` is `words`) in a new process group, sends `signal` to the
   * group once cardport has connected to the server, and resolves with how bash ended and what
   * it printed, once its output is read. bash is killed with the group if it is still there.
   */
  async function shell(
    script: string,
    signal: 'SIGHUP' | 'SIGINT' | 'SIGTERM',
  ): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
    const server = await silentServer()
    const { words, env } = busyList(server.port)
    const bash = spawn('bash', ['-c', script, 'bash', ...words], {
      env: { ...baseEnv(), ...env },
      cwd: workDir,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const { output, ended } = watch(bash)
    try {
      await server.connected
      process.kill(-bash.pid!, signal)
      // A loop that went on would connect again and wait for ever: its first "next" line is
      // enough to know, and the group is killed below.
      const next = new Promise<null>((resolve) =>
        bash.stdout!.on('data', () => {
          if (output.stdout.includes('next')) resolve(null)
        }),
      )
      const result = await Promise.race([ended, next])
      return { ...(result ?? { code: null, signal: 'went on' }), ...output }
    } finally {
      try {
        process.kill(-bash.pid!, 'SIGKILL')
      } catch {
        // The group is gone already.
      }
      server.close()
    }
  }

  it('Ctrl+C stops a loop over cardport after its clean-up, as bash stops a loop over any program', async () => {
    // bash's "wait and cooperative exit": it goes on after a SIGINT only if the child exited
    // normally, taking that as the child's own choice.
    const result = await shell('for i in 1 2; do "$@"; echo "next $?"; done', 'SIGINT')
    expect(result).toEqual({
      code: null,
      signal: 'SIGINT',
      stdout: '',
      stderr: 'cardport: interrupted (SIGINT)\n',
    })
  })

  for (const [signal, status] of STOP_SIGNALS) {
    it(`a script that outlives ${signal} reads $? ${status}, after cardport's clean-up`, async () => {
      // The script ignores the signal; cardport, which Node starts with every signal at its
      // default, still gets it.
      const name = signal.slice(3)
      const result = await shell(`trap '' ${name}; "$@"; echo "status $?"`, signal)
      expect(result).toMatchObject({ code: 0, signal: null, stdout: `status ${status}\n` })
      // bash adds its own word for a child killed by a signal other than SIGINT ("Hangup").
      expect(result.stderr.split('\n')[0]).toBe(`cardport: interrupted (${signal})`)
    })
  }
})

// A terminal that closes (an ssh session dropped) does more than send SIGHUP: every later write to
// it fails (EIO), and Node exiting on such a terminal aborts. Python's pty module gives cardport a
// terminal of its own, which the test closes.
describe('hung up', { timeout: 60_000 }, () => {
  /**
   * Runs argv in a new terminal as its controlling process, closes the terminal on a line from
   * stdin, and prints how the process ended: `{"signal": number | null, "code": number | null}`.
   * The terminal's output is read all along, so that a progress bar cannot fill it.
   */
  const IN_A_TERMINAL = `
import json, os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
while sys.stdin not in select.select([sys.stdin, fd], [], [])[0]:
    try:
        os.read(fd, 4096)
    except OSError:
        break
os.close(fd)
_, status = os.waitpid(pid, 0)
print(json.dumps({"signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
                  "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}))
`

  it('reconcile: its terminal closed while a page is on its way, it closes its SQLite store and dies by SIGHUP', async () => {
    const owner = { type: 'customer', id: 'cus_busyHangup' } as const
    const file = join(workDir, 'hung-up.db')
    const local = sqliteStore({ filename: file })
    await local.upsert(sampleCard('card_keptHangup', owner, { provider: 'stripe' }))
    await local.close()
    const server = await silentServer()
    try {
      const child = spawn(
        'python3',
        [
          '-c',
          IN_A_TERMINAL,
          process.execPath,
          binary,
          'reconcile',
          '--provider',
          'stripe',
          '--store',
          `sqlite:${file}`,
          '--owner',
          `customer:${owner.id}`,
        ],
        {
          env: {
            ...baseEnv(),
            STRIPE_SECRET_KEY: 'sk_test_busyHangup',
            STRIPE_API_BASE: `http://127.0.0.1:${server.port}`,
          },
          cwd: workDir,
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      )
      const { output, ended } = watch(child)
      await server.connected
      child.stdin!.end('close the terminal\n')
      expect(await ended).toEqual({ code: 0, signal: null })
      // Killed by SIGHUP, not by an abort (SIGABRT, SIGSEGV) nor exiting 1 over the failed writes.
      expect(JSON.parse(output.stdout)).toEqual({ signal: constants.signals.SIGHUP, code: null })
    } finally {
      server.close()
    }
    // Closed: SQLite's last connection checkpointed the WAL and removed it.
    expect(existsSync(`${file}-wal`)).toBe(false)
    const after = sqliteStore({ filename: file })
    expect((await after.listByOwner({ provider: 'stripe', owner })).map((card) => card.id)).toEqual(
      ['card_keptHangup'],
    )
    await after.close()
  })
})

describe('errors', { timeout: 60_000 }, () => {
  it('a wrong flag: one line naming it, exit 2', async () => {
    const result = await cardport([
      'list',
      '--provider',
      'stripe',
      '--owner',
      'customer:cus_1',
      '--bogus',
    ])
    expect(result.code).toBe(2)
    expectOneLine(result.stderr)
    expect(result.stderr).toContain("unknown option '--bogus'")
    expect(result.stderr).toContain('cardport list --help')
    expect(result.stdout).toBe('')
  })

  it('a secret typed as a flag: the flag is named, its value never shown, exit 2', async () => {
    const secret = 'ak-live-9f8e7d6c5b4a3f2e1d0c'
    const list = ['list', '--provider', 'marketplace', '--owner', 'account:AC1']
    for (const args of [
      [...list, `--marketplace-secret=${secret}`],
      [...list, '--marketplace-secret', secret],
      [`--marketplace-secret=${secret}`, ...list],
      [...list, `-s${secret}`],
    ]) {
      const result = await cardport(args, marketplaceEnv)
      expect(result.code, args.join(' ')).toBe(2)
      expectOneLine(result.stderr)
      expect(result.stderr).not.toContain('9f8e7d6c5b4a3f2e1d0c')
      expect(result.stderr).toMatch(/unknown option '(--marketplace-secret|-s)'/)
    }
    // A key pasted where the command goes is not quoted either; a mistyped command still is.
    const command = await cardport([secret])
    expect(command.code).toBe(2)
    expect(command.stderr).toBe('cardport: unknown command (see `cardport --help`)\n')
    // The password of a connection string given to --store is a secret too, wherever a message
    // would quote it (here, pasted where the owner goes).
    const store = await cardport(
      [
        'reconcile',
        '--provider',
        'stripe',
        '--store=postgres://app:s3cretPass@127.0.0.1:1/app',
        '--owner',
        's3cretPass',
      ],
      stripeEnv,
    )
    expect(store.code).toBe(2)
    expectOneLine(store.stderr)
    expect(store.stderr).not.toContain('s3cretPass')
  })

  it('a second --owner to list: exit 2 instead of the last one winning', async () => {
    const result = await cardport(
      [
        'list',
        '--provider',
        'stripe',
        '--owner',
        details.stripe.demo.customer,
        '--owner',
        details.stripe.demo.account,
      ],
      stripeEnv,
    )
    expect(result.code).toBe(2)
    expectOneLine(result.stderr)
    expect(result.stderr).toContain('list takes one --owner')
    expect(result.stdout).toBe('')
  })

  it("checks only the chosen provider's variables: a malformed one of the other provider does not stop it", async () => {
    const marketplace = await cardport(
      ['list', '--provider', 'marketplace', '--owner', details.marketplace.demo.account],
      { ...marketplaceEnv, STRIPE_SECRET_KEY: 'pk_test_abc' },
    )
    expect(marketplace.stderr).toBe('')
    expect(marketplace.code).toBe(0)
    expect(marketplace.stdout).toMatch(/visa\s+1111\s/)

    const stripe = await cardport(
      ['list', '--provider', 'stripe', '--owner', details.stripe.demo.customer],
      { ...stripeEnv, MARKETPLACE_URL: 'not a url', MARKETPLACE_ID: '' },
    )
    expect(stripe.stderr).toBe('')
    expect(stripe.code).toBe(0)

    // The chosen provider's own variable is still checked.
    const refused = await cardport(
      ['list', '--provider', 'stripe', '--owner', details.stripe.demo.customer],
      { ...stripeEnv, STRIPE_SECRET_KEY: 'pk_test_abc' },
    )
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('STRIPE_SECRET_KEY is not a Stripe secret')
  })

  it('a bad flag value or a missing required flag: exit 2', async () => {
    const provider = await cardport(['list', '--provider', 'paypal', '--owner', 'customer:cus_1'])
    expect(provider.code).toBe(2)
    expectOneLine(provider.stderr)
    expect(provider.stderr).toContain('stripe, marketplace')

    const owner = await cardport(['list', '--provider', 'stripe', '--owner', 'cus_1'], stripeEnv)
    expect(owner.code).toBe(2)
    expectOneLine(owner.stderr)

    const missing = await cardport(['list', '--provider', 'stripe'])
    expect(missing.code).toBe(2)
    expectOneLine(missing.stderr)
    expect(missing.stderr).toContain('--owner')

    const command = await cardport(['lsit'])
    expect(command.code).toBe(2)
    expectOneLine(command.stderr)
    expect(command.stderr).toContain('list')
  })

  it('a missing credential: one line naming the variable and offering the emulator, exit 3', async () => {
    const stripe = await cardport(['list', '--provider', 'stripe', '--owner', 'customer:cus_1'])
    expect(stripe.code).toBe(3)
    expectOneLine(stripe.stderr)
    expect(stripe.stderr).toContain('STRIPE_SECRET_KEY is not set')
    expect(stripe.stderr).toContain('cardport emulate')

    const marketplace = await cardport(
      ['reconcile', '--provider', 'marketplace', '--store', 'sqlite:x.db'],
      { MARKETPLACE_URL: 'http://127.0.0.1:1' },
    )
    expect(marketplace.code).toBe(3)
    expectOneLine(marketplace.stderr)
    expect(marketplace.stderr).toContain(
      'MARKETPLACE_ID (or --marketplace-id) and MARKETPLACE_SECRET are not set',
    )
  })

  it('a refused key: one line, exit 3, and the key is not printed', async () => {
    const key = 'sk_live_refusedByTheEmulator42'
    const result = await cardport(
      ['list', '--provider', 'stripe', '--owner', details.stripe.demo.customer],
      { ...stripeEnv, STRIPE_SECRET_KEY: key },
    )
    expect(result.code).toBe(3)
    expectOneLine(result.stderr)
    expect(result.stderr).toContain('authentication')
    expect(result.stderr).not.toContain('refusedByTheEmulator42')
  })

  it('an unreachable provider: one line, exit 4, no key; --debug adds the stack', async () => {
    const key = 'sk_test_neverPrinted1234567890'
    const env = {
      STRIPE_API_BASE: `http://127.0.0.1:${await closedPort()}`,
      STRIPE_SECRET_KEY: key,
    }
    const args = ['list', '--provider', 'stripe', '--owner', 'customer:cus_1']
    const result = await cardport(args, env)
    expect(result.code).toBe(4)
    expectOneLine(result.stderr)
    expect(result.stderr).toContain(`stripe at ${env.STRIPE_API_BASE} could not be reached`)
    expect(result.stderr).toContain('provider_unavailable')
    expect(result.stderr).not.toContain('neverPrinted')

    const debug = await cardport([...args, '--debug'], env)
    expect(debug.code).toBe(4)
    expect(debug.stderr).toMatch(/^\s+at /m)
    expect(debug.stderr).not.toContain('neverPrinted')
  })

  it('a PostgreSQL server that never answers: one line, exit 1, within the connect timeout', {
    timeout: 30_000,
  }, async () => {
    // Accepts the connection and never says a word, as a stuck server or a wrong port behind a
    // proxy does: without a connect timeout the command waited for ever.
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as { port: number }
    try {
      // The password from CARDPORT_STORE, where it belongs (in --store it is taken with a warning).
      const result = await cardport(['reconcile', '--provider', 'stripe'], {
        STRIPE_SECRET_KEY: 'sk_test_silentDatabase',
        STRIPE_API_BASE: 'http://127.0.0.1:9',
        CARDPORT_STORE: `postgres://app:pgSecret4321@127.0.0.1:${port}/app`,
      })
      expect(result.code).toBe(1)
      expectOneLine(result.stderr)
      expect(result.stderr).toContain(
        `could not open the store postgres://app:***@127.0.0.1:${port}/app`,
      )
      expect(result.stderr).not.toContain('pgSecret4321')
    } finally {
      silent.close()
    }
  })

  it('an unreachable marketplace, and a reconcile against an unreachable provider: exit 4', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    const list = await cardport(['list', '--provider', 'marketplace', '--owner', 'account:AC1'], {
      ...marketplaceEnv,
      MARKETPLACE_URL: url,
    })
    expect(list.code).toBe(4)
    expect(list.stderr).toContain(`marketplace at ${url} could not be reached`)
    expectOneLine(list.stderr)

    const reconcile = await cardport(
      [
        'reconcile',
        '--provider',
        'stripe',
        '--owner',
        'customer:cus_1',
        '--store',
        `sqlite:${join(workDir, 'down.db')}`,
      ],
      { ...stripeEnv, STRIPE_API_BASE: url },
    )
    expect(reconcile.code).toBe(4)
    expectOneLine(reconcile.stderr)
    expect(reconcile.stderr).toContain('could not be reconciled')
  })
})
