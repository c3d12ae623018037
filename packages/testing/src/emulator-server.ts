import { once } from 'node:events'
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { InvalidRequestError, optionsObject, redact, validate } from '@cardport/core'
import { getResponse } from 'msw'
import { z } from 'zod'
import type { Emulator } from './emulator.js'
import {
  type MarketplaceEmulator,
  marketplaceEmulator,
} from './marketplace/marketplace-emulator.js'
import { markServed } from './served-request.js'
import { type StripeEmulator, stripeEmulator } from './stripe/stripe-emulator.js'

/** Options of {@link startEmulatorServer}. A key other than these is `invalid_request`. */
export interface EmulatorServerOptions {
  /** The port to listen on; `0` (the default) picks a free one. */
  port?: number | undefined
  /** The address to listen on. Default `'127.0.0.1'`: loopback only. */
  host?: string | undefined
  /**
   * The emulators to serve. Default: a new Stripe emulator and a new marketplace emulator.
   * Each request goes to the emulator with a route for its path (see {@link startEmulatorServer}).
   */
  emulators?: readonly Emulator[] | undefined
}

/** A running emulator server. */
export interface EmulatorServer {
  /** The base URL, e.g. `'http://127.0.0.1:54321'` (no trailing slash). */
  readonly url: string
  /** The port it listens on. */
  readonly port: number
  /** The emulators it serves, in the order requests are matched. */
  readonly emulators: readonly Emulator[]
  /** The Stripe emulator among them (for seeding and read-backs), if any. */
  readonly stripe: StripeEmulator | undefined
  /** The marketplace emulator among them, if any. */
  readonly marketplace: MarketplaceEmulator | undefined
  /** Resets every emulator's state and faults. */
  reset(): void
  /**
   * Stops listening and closes open connections; resolves once the port is free. A request
   * still waiting out an injected latency ends at once, as a dropped connection, committing
   * nothing, and its timer is cleared, so that it neither changes the emulators' state after
   * `close()` nor keeps the process alive. The state itself, and the faults, are kept for the
   * test to read back; `reset()` empties them.
   */
  close(): Promise<void>
}

/**
 * Serves emulators over real HTTP on a loopback port, from the same MSW handlers the in-process
 * tests use, so that clients MSW cannot reach (another process, another language, the official
 * `stripe` SDK pointed at a host) can use them. Stripe's routes are under `/v1/…` exactly as on
 * `api.stripe.com`; the marketplace's under `/v1/marketplaces/…`.
 *
 * Each request's URL is rewritten to an emulator's `origin` and answered with MSW's
 * `getResponse` from that emulator's handlers. The emulator is the one with a route for the
 * path; when only catch-all routes match (an unknown path), the one whose routes share the
 * longest leading path with it answers, with its own "unknown URL" error; a path no emulator
 * serves at all (`/nope`) gets a 404 JSON error that lists what the server does serve. A fault
 * that drops the connection destroys the socket.
 *
 * Do not run it in a process where MSW intercepts `node:http`: MSW would intercept the clients'
 * requests to this server too.
 *
 * @example
 * ```ts
 * const server = await startEmulatorServer()
 * const stripe = new Stripe('sk_test_123', {
 *   host: '127.0.0.1',
 *   port: server.port,
 *   protocol: 'http',
 * })
 * const customer = await stripe.customers.create({ source: 'tok_visa' })
 * await server.close()
 * ```
 */
export async function startEmulatorServer(
  options: EmulatorServerOptions = {},
): Promise<EmulatorServer> {
  const { port, host, emulators } = checkOptions(options)
  const routes = emulators.map((emulator) => ({ emulator, paths: routePaths(emulator) }))

  const server = createServer((incoming, outgoing) => {
    serve(incoming, outgoing).catch((error: unknown) => {
      // Only reached when writing the response itself failed: the client is gone or the
      // headers are out; the socket is closed so that the client sees it.
      if (!outgoing.headersSent) {
        sendJson(outgoing, 500, {
          error: { type: 'api_error', message: `Emulator server error: ${String(error)}` },
        })
      } else outgoing.destroy()
    })
  })

  // One per request being served, aborted by close(): a request still waiting out a latency
  // fault then ends at once, committing nothing, and its timer no longer holds the process.
  const inflight = new Set<AbortController>()
  const serve = async (incoming: IncomingMessage, outgoing: ServerResponse) => {
    const controller = new AbortController()
    inflight.add(controller)
    try {
      await answer(incoming, outgoing, controller.signal)
    } finally {
      inflight.delete(controller)
    }
  }

  const answer = async (
    incoming: IncomingMessage,
    outgoing: ServerResponse,
    closed: AbortSignal,
  ) => {
    const method = (incoming.method ?? 'GET').toUpperCase()
    const target = incoming.url ?? '/'
    const headers = toHeaders(incoming.headers)
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readAll(incoming)
    const requestFor = (origin: string) =>
      new Request(new URL(target, origin), { method, headers, ...(body ? { body } : {}) })

    const emulator = await pick(routes, target, requestFor)
    if (!emulator) {
      sendJson(outgoing, 404, notServed(method, target, routes))
      return
    }
    const request = requestFor(emulator.origin)
    markServed(request, closed)
    let response: Response | undefined
    try {
      response = await getResponse(emulator.handlers, request)
    } catch (error) {
      // As MSW's setupServer: an exception in a handler is a 500 that describes it.
      const cause = error instanceof Error ? error : new Error(String(error))
      response = Response.json(
        { name: cause.name, message: cause.message, stack: cause.stack },
        { status: 500, statusText: 'Unhandled Exception' },
      )
    }
    if (!response) {
      sendJson(outgoing, 404, notServed(method, target, routes))
      return
    }
    if (response.type === 'error') {
      // A dropped connection: the client sees its socket closed without an answer.
      incoming.socket.destroy()
      return
    }
    await send(outgoing, response, method === 'HEAD')
  }

  server.listen(port, host)
  await once(server, 'listening')
  const address = server.address() as AddressInfo
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`

  let closing: Promise<void> | undefined
  return {
    url,
    port: address.port,
    emulators,
    stripe: emulators.find(isStripeEmulator),
    marketplace: emulators.find(isMarketplaceEmulator),
    reset() {
      for (const emulator of emulators) emulator.reset()
    },
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()))
        // Keep-alive connections (the stripe SDK's agent keeps them) would hold the port open.
        server.closeAllConnections()
        // The requests whose connections just closed: those waiting out a latency fault end
        // now, committing nothing, rather than fire later into a closed server.
        for (const controller of inflight) controller.abort()
      })
      return closing
    },
  }
}

// ---- routing -------------------------------------------------------------------------------

interface Routes {
  emulator: Emulator
  /** The emulator's route paths without origin, e.g. `/v1/customers/:customer`. */
  paths: string[]
}

/**
 * The emulator that serves a request: one with a specific route for it, else the one whose
 * routes share the most leading path segments with it (its catch-all then answers), else none.
 */
async function pick(
  routes: Routes[],
  target: string,
  requestFor: (origin: string) => Request,
): Promise<Emulator | undefined> {
  const path = new URL(target, 'http://localhost').pathname
  let best: { emulator: Emulator; score: number } | undefined
  for (const { emulator, paths } of routes) {
    let score = 0
    const request = requestFor(emulator.origin)
    for (const handler of emulator.handlers) {
      if (!(await handler.test({ request }))) continue
      const wildcard = typeof handler.info.path !== 'string' || handler.info.path.includes('*')
      score = Math.max(score, wildcard ? sharedSegments(path, paths) : Number.POSITIVE_INFINITY)
    }
    if (score > 0 && (!best || score > best.score)) best = { emulator, score }
  }
  return best?.emulator
}

/** The route paths of an emulator's specific (non-catch-all) handlers. */
function routePaths(emulator: Emulator): string[] {
  const paths: string[] = []
  for (const handler of emulator.handlers) {
    const path = handler.info.path
    if (typeof path !== 'string' || path.includes('*')) continue
    paths.push(path.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i, ''))
  }
  return paths
}

/** The most leading segments `path` shares with any route (`:param` matches any segment). */
function sharedSegments(path: string, routes: string[]): number {
  const segments = path.split('/').filter(Boolean)
  let best = 0
  for (const route of routes) {
    const parts = route.split('/').filter(Boolean)
    let shared = 0
    while (
      shared < segments.length &&
      shared < parts.length &&
      (parts[shared] === segments[shared] || parts[shared]!.startsWith(':'))
    ) {
      shared++
    }
    best = Math.max(best, shared)
  }
  return best
}

function notServed(method: string, target: string, routes: Routes[]) {
  const served = routes
    .map(({ emulator, paths }) => {
      const prefixes = [...new Set(paths.map((path) => path.split('/').slice(0, 3).join('/')))]
      return `${emulator.origin} at ${prefixes.join(', ') || '(no routes)'}`
    })
    .join('; ')
  const path = new URL(target, 'http://localhost').pathname
  return {
    error: {
      type: 'invalid_request_error',
      code: 'emulator_route_not_found',
      message: `No emulator serves ${method} ${redact(path)}. This server answers: ${served || 'nothing (no emulators)'}.`,
    },
  }
}

// ---- HTTP plumbing -------------------------------------------------------------------------

/** Headers a proxy does not forward: they describe the connection, not the request. */
const HOP_BY_HOP = new Set([
  'connection',
  'content-length',
  'host',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
])

function toHeaders(incoming: IncomingHttpHeaders): Headers {
  const headers = new Headers()
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue
    for (const entry of Array.isArray(value) ? value : [value]) headers.append(name, entry)
  }
  return headers
}

async function readAll(incoming: IncomingMessage): Promise<Uint8Array | undefined> {
  const chunks: Buffer[] = []
  for await (const chunk of incoming) chunks.push(chunk as Buffer)
  return chunks.length === 0 ? undefined : Buffer.concat(chunks)
}

async function send(outgoing: ServerResponse, response: Response, head: boolean): Promise<void> {
  const headers: Record<string, string | string[]> = {}
  for (const [name, value] of response.headers) {
    const existing = headers[name]
    if (existing === undefined) headers[name] = value
    else headers[name] = Array.isArray(existing) ? [...existing, value] : [existing, value]
  }
  if (response.statusText) outgoing.writeHead(response.status, response.statusText, headers)
  else outgoing.writeHead(response.status, headers)
  if (response.body && !head) {
    for await (const chunk of response.body) {
      if (!outgoing.write(chunk)) await once(outgoing, 'drain')
    }
  }
  outgoing.end()
}

function sendJson(outgoing: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  outgoing.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  })
  outgoing.end(text)
}

// ---- options -------------------------------------------------------------------------------

/** The keys {@link startEmulatorServer} takes; their values are `checkOptions`' to check. */
const OptionsKeysSchema = optionsObject({
  port: z.unknown().optional(),
  host: z.unknown().optional(),
  emulators: z.unknown().optional(),
})

function checkOptions(options: EmulatorServerOptions): {
  port: number
  host: string
  emulators: readonly Emulator[]
} {
  const fail = (message: string) =>
    new InvalidRequestError(`startEmulatorServer: ${message}`, { provider: 'testing' })
  // A key it does not know (`prot`) is refused, as every factory's; the values are checked below.
  validate(OptionsKeysSchema, options, 'startEmulatorServer options', 'testing')
  const port = options.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw fail(`port must be an integer from 0 to 65535 (0 picks a free port), got ${port}`)
  }
  const host = options.host ?? '127.0.0.1'
  if (typeof host !== 'string' || host === '') {
    throw fail("host must be a non-empty string such as '127.0.0.1'")
  }
  const emulators = options.emulators ?? [stripeEmulator(), marketplaceEmulator()]
  if (
    !Array.isArray(emulators) ||
    !emulators.every(
      (emulator) =>
        typeof emulator?.origin === 'string' &&
        Array.isArray(emulator.handlers) &&
        typeof emulator.reset === 'function',
    )
  ) {
    throw fail('emulators must be a list of emulators (stripeEmulator(), marketplaceEmulator(), …)')
  }
  return { port, host, emulators }
}

function isStripeEmulator(emulator: Emulator): emulator is StripeEmulator {
  const candidate = emulator as Partial<StripeEmulator>
  return (
    typeof candidate.seed?.customer === 'function' &&
    typeof candidate.state?.customers === 'function'
  )
}

function isMarketplaceEmulator(emulator: Emulator): emulator is MarketplaceEmulator {
  const candidate = emulator as Partial<MarketplaceEmulator>
  return (
    typeof candidate.marketplaceId === 'string' && typeof candidate.authorization === 'function'
  )
}
