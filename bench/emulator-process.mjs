// The emulators every HTTP benchmark talks to, served on loopback by `startEmulatorServer` from
// @cardport/testing, in a child process of their own: the server's work then runs beside the
// client's instead of inside its event loop, and the client's resident memory is its own.
//
// The parent calls `spawnEmulatorServer(spec)`; the child builds the emulators, seeds them
// through their seed API (no HTTP), starts the server and answers with its URL and the ids it
// seeded.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const self = fileURLToPath(import.meta.url)

/**
 * Starts the emulator server in a child process and seeds it. Specs:
 * - `{ kind: 'stripe-customer', cards }`: one Stripe emulator, one customer holding `cards`
 *   cards. Answers `{ customerId, cardIds }` (newest first, as Stripe lists them).
 * - `{ kind: 'stripe-owners', owners, cardsPerOwner, record? }`: one Stripe emulator (without
 *   webhook events), `owners` customers with `cardsPerOwner` cards each. Answers
 *   `{ customerIds }`. With `record: true`, `url` and `port` are those of a recording front
 *   (see `recordingFront`), and `emulatorUrl` the emulator server's.
 * - `{ kind: 'marketplace', cards, replay? }`: the marketplace emulator, one account holding
 *   `cards` cards. Answers `{ marketplaceId, secret, accountId, cardIds }`. With
 *   `replay: { cardIndex, page }`, also serves that card and the first page of `page` cards of
 *   the account from a replay server (see `replayServer`) at `replayUrl`.
 */
export async function spawnEmulatorServer(spec) {
  const child = fork(self, ['--child'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // BENCH_SERVER_CPU_PROF=<dir> profiles the server process (node --cpu-prof).
    execArgv: process.env.BENCH_SERVER_CPU_PROF
      ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_SERVER_CPU_PROF]
      : [],
  })
  const failed = once(child, 'exit').then(([code]) => {
    throw new Error(`emulator server process exited with ${code} before it was ready`)
  })
  child.send(spec)
  const [message] = await Promise.race([once(child, 'message'), failed])
  failed.catch(() => {})
  if (message.error) throw new Error(`emulator server: ${message.error}`)
  return {
    ...message,
    async close() {
      if (child.exitCode !== null) return
      child.send({ kind: 'close' })
      await once(child, 'exit')
    },
  }
}

// ---- the child -----------------------------------------------------------------------------

const STRIPE_TOKENS = ['tok_visa', 'tok_mastercard', 'tok_amex', 'tok_discover', 'tok_jcb']

async function serve(spec) {
  const testing = await import('@cardport/testing/emulators')
  if (spec.kind === 'stripe-customer') {
    const emulator = testing.stripeEmulator()
    const customerId = emulator.seed.customer({ email: 'bench@example.com' }).id
    for (let i = 0; i < spec.cards; i++) {
      emulator.seed.card(customerId, STRIPE_TOKENS[i % STRIPE_TOKENS.length], {
        metadata: { index: String(i) },
      })
    }
    const cardIds = emulator.state.sources(customerId).map((card) => card.id)
    const server = await testing.startEmulatorServer({ emulators: [emulator] })
    return { server, data: { customerId, cardIds } }
  }
  if (spec.kind === 'stripe-owners') {
    // No webhook events: nothing here delivers them, and recording them costs memory.
    const emulator = testing.stripeEmulator({ events: false })
    const customerIds = []
    for (let i = 0; i < spec.owners; i++) {
      const id = emulator.seed.customer().id
      customerIds.push(id)
      for (let c = 0; c < spec.cardsPerOwner; c++) {
        emulator.seed.card(id, STRIPE_TOKENS[(i + c) % STRIPE_TOKENS.length], {
          metadata: { owner_index: String(i), card_index: String(c) },
        })
      }
    }
    const server = await testing.startEmulatorServer({ emulators: [emulator] })
    if (!spec.record) return { server, data: { customerIds } }
    const front = await recordingFront(server)
    return { server: both(front, server), data: { customerIds, emulatorUrl: server.url } }
  }
  if (spec.kind === 'marketplace') {
    const emulator = testing.marketplaceEmulator()
    const account = emulator.seed.account({ name: 'Bench Account' })
    for (let i = 0; i < spec.cards; i++) {
      emulator.seed.card({ account: account.id, name: `Holder ${i}`, meta: { index: String(i) } })
    }
    const cardIds = emulator.state.accountCards(account.id).map((card) => card.id)
    const server = await testing.startEmulatorServer({ emulators: [emulator] })
    const data = {
      marketplaceId: emulator.marketplaceId,
      secret: emulator.secret,
      accountId: account.id,
      cardIds,
    }
    if (!spec.replay) return { server, data }
    const accountPath = `/v1/marketplaces/${data.marketplaceId}/accounts/${account.id}`
    const paths = [
      `${accountPath}/cards/${cardIds[spec.replay.cardIndex]}`,
      `${accountPath}/cards?limit=${spec.replay.page}&offset=0`,
    ]
    const replay = await replayServer(server, paths, emulator.authorization())
    return { server: both(server, replay), data: { ...data, replayUrl: replay.url } }
  }
  throw new Error(`unknown spec ${JSON.stringify(spec)}`)
}

/**
 * A plain `node:http` server that answers the given paths with the bytes the emulator server
 * answered them with (recorded once), and 404 to anything else or a wrong Authorization header.
 * It costs next to nothing per request, so that a client benchmark measures the client.
 */
async function replayServer(source, paths, authorization) {
  const { createServer } = await import('node:http')
  const recorded = new Map()
  for (const path of paths) {
    const response = await fetch(`${source.url}${path}`, {
      headers: { authorization, accept: 'application/json' },
    })
    if (!response.ok) throw new Error(`recording ${path}: ${response.status}`)
    const body = Buffer.from(await response.arrayBuffer())
    recorded.set(path, {
      status: response.status,
      headers: {
        'content-type': response.headers.get('content-type') ?? 'application/json',
        'content-length': body.byteLength,
        'x-request-id': response.headers.get('x-request-id') ?? 'replayed',
      },
      body,
    })
  }
  const server = createServer((request, response) => {
    const answer = recorded.get(request.url)
    if (!answer || request.headers.authorization !== authorization) {
      response.writeHead(404, { 'content-type': 'application/json' })
      response.end('{"status_code":404,"category_code":"not-found"}')
      return
    }
    response.writeHead(answer.status, answer.headers)
    response.end(answer.body)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * A `node:http` server in front of the emulator server that answers each GET it has seen before
 * (same method, path and query) with the bytes the emulator answered the first time, and sends
 * everything else on. After one pass over the data, the emulator's own cost (~1-2 ms of CPU per
 * request) is out of the measured runs: they measure the clients.
 */
async function recordingFront(source) {
  const { createServer } = await import('node:http')
  const recorded = new Map()
  const server = createServer(async (request, response) => {
    try {
      const key = request.url
      let answer = request.method === 'GET' ? recorded.get(key) : undefined
      if (!answer) {
        const headers = {}
        for (const [name, value] of Object.entries(request.headers)) {
          if (name !== 'host' && name !== 'connection' && typeof value === 'string') {
            headers[name] = value
          }
        }
        const upstream = await fetch(`${source.url}${request.url}`, {
          method: request.method,
          headers,
        })
        const body = Buffer.from(await upstream.arrayBuffer())
        answer = {
          status: upstream.status,
          headers: {
            'content-type': upstream.headers.get('content-type') ?? 'application/json',
            'content-length': body.byteLength,
            'request-id': upstream.headers.get('request-id') ?? 'recorded',
            'stripe-version': upstream.headers.get('stripe-version') ?? '',
          },
          body,
        }
        if (request.method === 'GET' && upstream.status === 200) recorded.set(key, answer)
      }
      response.writeHead(answer.status, answer.headers)
      response.end(answer.body)
    } catch (error) {
      response.writeHead(502, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ error: { type: 'api_error', message: String(error) } }))
    }
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = server.address().port
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close() {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

/** Two servers closed as one. */
function both(first, second) {
  return {
    url: first.url,
    port: first.port,
    close: () => Promise.all([first.close(), second.close()]),
  }
}

if (process.argv[2] === '--child') {
  let server
  process.on('message', async (spec) => {
    if (spec.kind === 'close') {
      await server?.close()
      process.disconnect()
      return
    }
    try {
      const started = performance.now()
      const result = await serve(spec)
      server = result.server
      process.send({
        url: server.url,
        port: server.port,
        seedMs: performance.now() - started,
        serverRssMb: process.memoryUsage().rss / 2 ** 20,
        ...result.data,
      })
    } catch (error) {
      process.send({
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      })
      process.disconnect()
    }
  })
}
