// Test-only helpers of @cardport/stripe's own tests: not exported, not built (tsup bundles from
// index.ts only).
import { createRequire } from 'node:module'
import { type StripeEmulator, startEmulatorServer } from '@cardport/testing/emulators'
import { http } from 'msw'
import { setupServer } from 'msw/node'
import Stripe from 'stripe'
import { afterAll, afterEach, beforeAll, expect } from 'vitest'
import { parseStripeForm } from '../../testing/src/stripe/form.js'
import { checkStripeRequest } from '../../testing/src/stripe/openapi-check.js'
import type { StripeClient } from './stripe-client.js'
import {
  type StripeProvider,
  type StripeProviderOptions,
  stripeProvider,
} from './stripe-provider.js'

/** What the tests need of a `Stripe` constructor, whichever SDK version it comes from. */
export interface StripeConstructor {
  new (key: string, config?: Record<string, unknown>): StripeClient
  createFetchHttpClient(): unknown
  readonly errors: { StripeError: { generate(raw: Record<string, unknown>): Error } }
}

// stripe 16's declaration files declare the ambient module 'stripe', which would merge with the
// installed stripe 23's: load it untyped and give it the structural type above.
const StripeV16 = createRequire(import.meta.url)('stripe-v16') as StripeConstructor

/**
 * The lowest and highest `stripe` SDK the peer range (`>=16.0.0 <24`) admits: the dev
 * dependencies `stripe` (23.1.0) and `stripe-v16` (an alias of stripe 16.0.0).
 */
export const STRIPE_SDKS = {
  'stripe 23': Stripe as unknown as StripeConstructor,
  'stripe 16': StripeV16,
} as const

/**
 * How a test's requests reach the emulator.
 * - `msw`: MSW intercepts them (global fetch, node:http), as in an application's tests.
 * - `loopback`: `startEmulatorServer` answers them on 127.0.0.1 from the same emulator handlers.
 *   Needed for stripe < 23 with its default node:http client, which waits for the socket's
 *   `secureConnect` before it writes the request, while MSW's mock socket connects only once
 *   the request is written: under MSW every request hangs (fixed in stripe 23.0.0, "Fix
 *   NodeHttpClient compatibility with HTTP request interceptors", stripe-node #2211).
 */
export type Transport = 'msw' | 'loopback'

/** One way of talking to Stripe: an SDK version, one of its HTTP clients, and a transport. */
export interface StripeClientKind {
  /** `'stripe 23, fetch'` … for test names. */
  readonly name: string
  readonly sdk: keyof typeof STRIPE_SDKS
  readonly http: 'node http' | 'fetch'
  readonly transport: Transport
}

/** The lowest and highest SDK, each with both of its HTTP clients. */
export const STRIPE_CLIENT_KINDS: readonly StripeClientKind[] = [
  { name: 'stripe 23, node http', sdk: 'stripe 23', http: 'node http', transport: 'msw' },
  { name: 'stripe 23, fetch', sdk: 'stripe 23', http: 'fetch', transport: 'msw' },
  { name: 'stripe 16, fetch', sdk: 'stripe 16', http: 'fetch', transport: 'msw' },
  {
    name: 'stripe 16, node http (loopback server)',
    sdk: 'stripe 16',
    http: 'node http',
    transport: 'loopback',
  },
]

/** What {@link useStripe} gives a `describe` block. */
export interface StripeTarget {
  readonly kind: StripeClientKind
  /**
   * A new `Stripe` instance of the kind, pointed at the emulator. Call it inside a test or a
   * hook: the fetch client keeps the `fetch` it finds, which must be MSW's (after `listen()`).
   */
  client(config?: Record<string, unknown>, key?: string): StripeClient
  /** A provider over a new client; SDK retries are off unless `maxNetworkRetries` is given. */
  provider(
    options?: Omit<StripeProviderOptions, 'stripe' | 'apiKey'> & {
      config?: Record<string, unknown>
    },
  ): StripeProvider
  /** Requests the emulator's OpenAPI check refused, as `METHOD /path: message`. */
  openApiRejections(): Promise<string[]>
  /** Every request sent in the current test, with the headers the tests look at. */
  sent(): Promise<SentRequest[]>
}

/** A request as it left the SDK. */
export interface SentRequest {
  method: string
  path: string
  /** The `Stripe-Version` header. */
  apiVersion: string | null
  /** The `Idempotency-Key` header. */
  idempotencyKey: string | null
}

/**
 * Connects the calling `describe` block's tests to `emulator` through `kind`'s transport:
 * starts it before the block's tests, stops it after them, and after each test resets the
 * emulator and checks that the OpenAPI check refused none of the adapter's requests.
 */
export function useStripe(kind: StripeClientKind, emulator: StripeEmulator): StripeTarget {
  const audit = createOpenApiAudit()
  let port = 0
  let stop: () => Promise<void> = async () => {}

  // First of the handlers: sees every request, answers none (MSW moves on to the next).
  const audited = [
    http.all(`${emulator.origin}/*`, ({ request }) => {
      audit.check(request.clone())
    }),
    ...emulator.handlers,
  ]
  beforeAll(async () => {
    if (kind.transport === 'msw') {
      const server = setupServer(...audited)
      server.listen({ onUnhandledRequest: 'error' })
      stop = async () => server.close()
    } else {
      const server = await startEmulatorServer({ emulators: [{ ...emulator, handlers: audited }] })
      port = server.port
      stop = () => server.close()
    }
  })
  afterEach(async () => {
    const rejected = await audit.take()
    emulator.reset()
    expect(rejected, 'requests the emulator OpenAPI check refused').toEqual([])
  })
  afterAll(() => stop())

  const client = (config: Record<string, unknown> = {}, key = 'sk_test_cardport'): StripeClient => {
    const Constructor = STRIPE_SDKS[kind.sdk]
    return new Constructor(key, {
      ...(kind.http === 'fetch' ? { httpClient: Constructor.createFetchHttpClient() } : {}),
      ...(kind.transport === 'loopback' ? { host: '127.0.0.1', port, protocol: 'http' } : {}),
      ...config,
    })
  }

  return {
    kind,
    client,
    provider: ({ config, ...options } = {}) =>
      stripeProvider({ stripe: client(config), maxNetworkRetries: 0, ...options }),
    openApiRejections: () => audit.peek(),
    sent: () => audit.sent(),
  }
}

/** What a synchronous call threw. */
export function thrownBy(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  throw new Error('expected the call to throw')
}

/** Awaits a promise that must reject, and returns what it rejected with. */
export async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise
  } catch (error) {
    return error as Record<string, unknown>
  }
  throw new Error('expected the call to fail, it succeeded')
}

/**
 * How `promise` settled, or `'pending'` if it had not within `ms`: a call that hangs fails its
 * test with that, instead of timing the test out.
 */
export async function settledWithin(
  ms: number,
  promise: Promise<unknown>,
): Promise<{ value?: unknown; error?: unknown } | 'pending'> {
  let timer: NodeJS.Timeout | undefined
  const pending = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms)
  })
  try {
    return await Promise.race([
      promise.then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      pending,
    ])
  } finally {
    clearTimeout(timer)
  }
}

// ---- internals -----------------------------------------------------------------------------

/**
 * Runs the emulator's OpenAPI check on every request independently of the emulator's answer,
 * so that a refusal is seen even where a test expects some other error.
 */
function createOpenApiAudit() {
  let pending: Promise<void>[] = []
  let rejected: string[] = []
  let sent: SentRequest[] = []
  const run = async (request: Request) => {
    const url = new URL(request.url)
    sent.push({
      method: request.method,
      path: url.pathname,
      apiVersion: request.headers.get('stripe-version'),
      idempotencyKey: request.headers.get('idempotency-key'),
    })
    const query = parseStripeForm(url.searchParams)
    const body = request.method === 'GET' ? '' : await request.text()
    const params = body ? { ...query, ...parseStripeForm(body) } : query
    // As the emulator does: Stripe documents and honours `object` on this list, but the
    // 2023-08-16 OpenAPI description omits it.
    if (/^\/v1\/accounts\/[^/]+\/external_accounts$/.test(url.pathname)) delete params.object
    const problem = checkStripeRequest(request.method, url.pathname, params)
    if (problem) rejected.push(`${request.method} ${url.pathname}: ${problem.error.message}`)
  }
  return {
    check(request: Request) {
      pending.push(run(request))
    },
    async peek() {
      await Promise.all(pending)
      return [...rejected]
    },
    async sent() {
      await Promise.all(pending)
      return [...sent]
    },
    async take() {
      await Promise.all(pending)
      const taken = rejected
      pending = []
      rejected = []
      sent = []
      return taken
    },
  }
}
