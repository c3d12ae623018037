import { setupServer } from 'msw/node'
import Stripe from 'stripe'
import { afterAll, afterEach, beforeAll } from 'vitest'
import {
  type StripeEmulator,
  type StripeEmulatorOptions,
  stripeEmulator,
} from './stripe-emulator.js'

/**
 * The two HTTP clients of the `stripe` SDK, both intercepted by MSW: tests run against each.
 * No retries unless a test asks for them.
 *
 * @internal (tests of this folder)
 */
export const STRIPE_CLIENTS = [
  {
    name: 'fetch client',
    create: (key = 'sk_test_123', maxNetworkRetries = 0) =>
      new Stripe(key, { httpClient: Stripe.createFetchHttpClient(), maxNetworkRetries }),
  },
  {
    name: 'node http client',
    create: (key = 'sk_test_123', maxNetworkRetries = 0) => new Stripe(key, { maxNetworkRetries }),
  },
] as const

/**
 * Starts an MSW server over a fresh emulator for the calling test file, resets both after each
 * test, and returns the emulator.
 *
 * @internal (tests of this folder)
 */
export function useStripeEmulator(options?: StripeEmulatorOptions): StripeEmulator {
  const emulator = stripeEmulator(options)
  const server = setupServer(...emulator.handlers)
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
  afterEach(() => {
    server.resetHandlers()
    emulator.reset()
  })
  afterAll(() => server.close())
  return emulator
}

/** A raw request to the emulator with global fetch, for what the SDK cannot express. @internal */
export async function rawStripe(
  method: string,
  path: string,
  options: { body?: string; headers?: Record<string, string>; key?: string | null } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.key !== null) headers.Authorization = `Bearer ${options.key ?? 'sk_test_123'}`
  if (options.body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded'
  const response = await fetch(`https://api.stripe.com${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
  })
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  }
}

/**
 * A header of the SDK's `lastResponse`: a fetch `Headers` with the fetch client, a plain object
 * with the node http client. @internal
 */
export function lastResponseHeader(
  resource: { lastResponse: { headers: unknown } },
  name: string,
): string | undefined {
  const headers = resource.lastResponse.headers
  if (headers instanceof Headers) return headers.get(name) ?? undefined
  const value = (headers as Record<string, string | string[] | undefined>)[name]
  return Array.isArray(value) ? value[0] : value
}
