import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll, expect } from 'vitest'
import {
  type MarketplaceEmulator,
  type MarketplaceEmulatorOptions,
  marketplaceAuthorization,
  marketplaceEmulator,
} from './marketplace-emulator.js'
import { TEST_MARKETPLACE_ID, TEST_MARKETPLACE_SECRET } from './marketplace-test-cards.js'

/** The clock of the tests of this folder: cards expiring before June 2025 have expired. */
export const TEST_NOW = new Date('2025-06-15T12:00:00.000Z')

/**
 * Starts an MSW server over a fresh emulator for the calling test file, resets both after each
 * test, and returns the emulator. @internal (tests of this folder)
 */
export function useMarketplaceEmulator(
  options: MarketplaceEmulatorOptions = {},
): MarketplaceEmulator {
  const emulator = marketplaceEmulator({ now: () => TEST_NOW, ...options })
  const server = setupServer(...emulator.handlers)
  beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
  afterEach(() => {
    server.resetHandlers()
    emulator.reset()
  })
  afterAll(() => server.close())
  return emulator
}

/** A path under the test marketplace: `mp('/cards')`. @internal */
export function mp(path = '', marketplace = TEST_MARKETPLACE_ID): string {
  return `/v1/marketplaces/${marketplace}${path}`
}

/** What {@link api} answers. @internal */
export interface ApiAnswer {
  status: number
  headers: Headers
  // biome-ignore lint/suspicious/noExplicitAny: tests read response fields freely.
  body: any
  text: string
}

/**
 * A request to the emulator with global fetch. `json` sends a JSON body, `form` a form body;
 * `secret: null` sends no Authorization header. @internal
 */
export async function api(
  method: string,
  path: string,
  options: {
    json?: unknown
    form?: string
    secret?: string | null
    headers?: Record<string, string>
    origin?: string
  } = {},
): Promise<ApiAnswer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.secret !== null) {
    headers.Authorization = marketplaceAuthorization(options.secret ?? TEST_MARKETPLACE_SECRET)
  }
  let body: string | undefined
  if (options.json !== undefined) {
    headers['Content-Type'] ??= 'application/json'
    body = JSON.stringify(options.json)
  } else if (options.form !== undefined) {
    headers['Content-Type'] ??= 'application/x-www-form-urlencoded'
    body = options.form
  }
  const response = await fetch(`${options.origin ?? 'https://api.marketplace.test'}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  })
  const text = await response.text()
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : null,
    text,
  }
}

/** A valid create form: a Visa card expiring after {@link TEST_NOW}, with an address. @internal */
export function cardForm(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    card_number: '4111111111111111',
    expiration_month: 4,
    expiration_year: 2027,
    security_code: '323',
    name: 'Benny Riemann',
    phone_number: '+16509241212',
    city: 'New York',
    region: 'NY',
    postal_code: '10023',
    country_code: 'USA',
    street_address: '167 West 74th Street',
    ...overrides,
  }
}

/** Tokenizes a card over HTTP and returns its body (fails the test on another status). @internal */
// biome-ignore lint/suspicious/noExplicitAny: tests read response fields freely.
export async function tokenize(overrides: Record<string, unknown> = {}): Promise<any> {
  const answer = await api('POST', mp('/cards'), { json: cardForm(overrides) })
  if (answer.status !== 201) throw new Error(`tokenize answered ${answer.status}: ${answer.text}`)
  return answer.body
}

/**
 * Asserts that an answer is the reference's error body, with every field, for this status and
 * category, and that its request id is the `X-Request-Id` header. @internal
 */
export function expectError(
  answer: ApiAnswer,
  status: number,
  statusText: string,
  categoryCode: string,
  categoryType: 'request' | 'banking' | 'logical',
): void {
  const requestId = answer.headers.get('x-request-id')
  expect(requestId).toMatch(/^OHM[0-9a-f]{32}$/)
  expect(answer.status).toBe(status)
  expect(Object.keys(answer.body).sort()).toEqual(ERROR_FIELDS)
  expect(answer.body).toMatchObject({
    status: statusText,
    status_code: status,
    category_code: categoryCode,
    category_type: categoryType,
    request_id: requestId,
  })
  expect(answer.body.description).toMatch(new RegExp(`^.+ Your request id is ${requestId}\\.$`))
  expect(answer.body.additional === null || typeof answer.body.additional === 'string').toBe(true)
  expect(typeof answer.body.extras).toBe('object')
}

const ERROR_FIELDS = [
  'additional',
  'category_code',
  'category_type',
  'description',
  'extras',
  'request_id',
  'status',
  'status_code',
]

export { TEST_MARKETPLACE_ID, TEST_MARKETPLACE_SECRET }
