import { InvalidRequestError, optionsObject, redact, validate } from '@cardport/core'
import { type HttpHandler, HttpResponse, http } from 'msw'
import qs from 'qs'
import { z } from 'zod'
import { emulatorClock } from '../clock.js'
import { definedFields } from '../defined-fields.js'
import type { Emulator } from '../emulator.js'
import { createFaultRunner } from '../faults.js'
import { FORM_KEY_OPTIONS, formValue } from '../form-keys.js'
import { runRecorded } from '../recorded-run.js'
import { serverCloseSignal } from '../served-request.js'
import {
  authenticationRequired,
  faultError,
  MarketplaceRequestError,
  methodNotAllowed,
  notFound,
  unreadableBody,
} from './marketplace-errors.js'
import {
  type Body,
  parseAccountCardForm,
  parseAccountForm,
  parseCardForm,
  parseCardUpdate,
  parsePage,
} from './marketplace-forms.js'
import {
  createMarketplaceState,
  type MarketplaceAccountView,
  type MarketplaceCardView,
  type MarketplaceInfo,
  type MarketplaceState,
} from './marketplace-state.js'
import { TEST_MARKETPLACE_ID, TEST_MARKETPLACE_SECRET } from './marketplace-test-cards.js'

/** Options of {@link marketplaceEmulator}. A key other than these is `invalid_request`. */
export interface MarketplaceEmulatorOptions {
  /** The origin the handlers answer. Default `'https://api.marketplace.test'`. */
  origin?: string | undefined
  /**
   * The clock: `created_at`, and which cards have expired. Default: the system clock. It
   * returns a `Date` (not milliseconds, as `stripeWebhookHandler`'s `now` does: wrap one as
   * `() => new Date(ms())`). It is read when the emulator is made (its test marketplace's
   * `created_at`), so that a clock returning anything but a valid Date throws a `TypeError`
   * saying so from `marketplaceEmulator()` itself; a seed or `reset()` that reads it later
   * throws the same, and a request answered while it does is a 500
   * (`internal-server-error`) quoting that message.
   */
  now?: (() => Date) | undefined
  /**
   * Refuse a card without `postal_code` (400). The marketplace reference marks `postal_code`
   * *required* in its request list, while its own rules (`street_address` requires
   * `postal_code`) and the API's older reference treat it as optional. Default `false`.
   */
  requirePostalCode?: boolean | undefined
}

/** One request the emulator answered, for tests that assert on the traffic. */
export interface MarketplaceRequestRecord {
  /** The HTTP method, upper case (`'GET'`, `'POST'`, `'PUT'` …). */
  method: string
  /** The path without the query string, a card number in it masked (core's `redact`). */
  path: string
  /** The emulator's route name, e.g. `'POST /v1/marketplaces/:marketplace/cards'`. */
  route: string
  /**
   * The status the emulator answered, an injected fault's included (its `status`, or 200 for a
   * `body` without one); a connection dropped after the commit records the status the client
   * never saw, one dropped before it records 0.
   */
  status: number
  /** The `request_id` of an error body, and the `X-Request-Id` header of every answer. */
  requestId: string
}

/**
 * Writes state directly, without HTTP, to set a test up. Each method returns what the API would
 * answer for it. The API's rules still apply: a card that fails validation or is declined
 * throws a `MarketplaceRequestError`, as the request would have failed. A field given as
 * `undefined` is one not given: its default applies.
 */
export interface MarketplaceEmulatorSeed {
  /**
   * Creates a marketplace (the reference documents no endpoint for it) with its own API key
   * secret: `TEST-MP…` and `ak-test-…` generated unless given.
   */
  marketplace(fields?: {
    /** The marketplace's id. Default: a generated `TEST-MP…`. */
    id?: string | undefined
    /** Its display name. Default `'Test Marketplace'`. */
    name?: string | undefined
    /** Its API key secret. Default: a generated `ak-test-…`. */
    secret?: string | undefined
  }): MarketplaceInfo
  /** Creates an account (default: in the test marketplace, named `'Test Account'`). */
  account(fields?: {
    /** The marketplace's id. Default: the test marketplace. */
    marketplace?: string | undefined
    /** The display name. Default `'Test Account'`. */
    name?: string | undefined
    /** The email address; unique within the marketplace. Default: none. */
    email_address?: string | null | undefined
    /** String pairs. Default `{}`. */
    meta?: Record<string, string> | undefined
    /** Make the account a merchant (its `roles` then hold `'merchant'`). Default false. */
    merchant?: boolean | undefined
  }): MarketplaceAccountView
  /**
   * Tokenizes a card from create-form fields (default `card_number: '4111111111111111'`,
   * `expiration_month: 12`, `expiration_year`: three years from the clock, and
   * `postal_code: '10023'` with `requirePostalCode`), in `marketplace` (default the test one),
   * and associates it with `account` when given.
   */
  card(
    fields?: Record<string, unknown> & {
      /** The marketplace's id. Default: the test marketplace. */
      marketplace?: string | undefined
      /** The id of the account to associate the card with. Default: none, tokenized only. */
      account?: string | undefined
    },
  ): MarketplaceCardView
}

/** Read-backs of what the emulator holds, as the API would show them. Every getter returns a copy. */
export interface MarketplaceEmulatorState {
  /** Every marketplace, the test one first, with their secrets. */
  marketplaces(): MarketplaceInfo[]
  /** A marketplace's accounts (default the test one), oldest first. */
  accounts(marketplaceId?: string): MarketplaceAccountView[]
  /** An account by id, on whichever marketplace holds it. */
  account(id: string): MarketplaceAccountView | undefined
  /** A marketplace's cards (default the test one), associated or not, oldest first. */
  cards(marketplaceId?: string): MarketplaceCardView[]
  /** A card by id, on whichever marketplace tokenized it, associated or not. */
  card(id: string): MarketplaceCardView | undefined
  /** An account's cards in the order they were associated. */
  accountCards(accountId: string): MarketplaceCardView[]
  /**
   * The account's chosen card, which the API shows as the embedded customer's `source_uri`:
   * the most recently associated card that is still valid. Invalidating it falls back to the
   * previous valid one; with none, `undefined` (and `source_uri: null`).
   */
  defaultCard(accountId: string): MarketplaceCardView | undefined
  /** Every request answered since the last `reset()`, in order. */
  requests(): MarketplaceRequestRecord[]
}

/** The marketplace emulator: {@link Emulator} plus its test marketplace, seeding and read-backs. */
export interface MarketplaceEmulator extends Emulator {
  /** The test marketplace's id, {@link TEST_MARKETPLACE_ID}. */
  readonly marketplaceId: string
  /** The test marketplace's API key secret, {@link TEST_MARKETPLACE_SECRET}. */
  readonly secret: string
  /** Writes state directly, without HTTP, to set a test up. */
  readonly seed: MarketplaceEmulatorSeed
  /** Reads back what the emulator holds, to assert on it. */
  readonly state: MarketplaceEmulatorState
  /** The `Authorization` header for a secret (default the test marketplace's). */
  authorization(secret?: string): string
}

/**
 * A stateful emulator of the marketplace card API (tokenize, show, list and update cards,
 * associate them with accounts, invalidate them; create, show, list and update accounts) as
 * MSW handlers under `/v1/marketplaces/:marketplace/…`. It checks HTTP basic auth, validates
 * the create forms, enforces the association rules, pages lists with the reference's
 * `first_uri`/`next_uri`/`previous_uri`/`last_uri`, and answers the reference's error body
 * with an `X-Request-Id` header. See `MARKETPLACE_TEST_CARDS` for the test numbers.
 *
 * @example
 * ```ts
 * const marketplace = marketplaceEmulator()
 * const server = setupServer(...marketplace.handlers)
 * beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
 * afterEach(() => { server.resetHandlers(); marketplace.reset() })
 *
 * const response = await fetch(
 *   `${marketplace.origin}/v1/marketplaces/${marketplace.marketplaceId}/cards`,
 *   {
 *     method: 'POST',
 *     headers: { Authorization: marketplace.authorization(), 'Content-Type': 'application/json' },
 *     body: JSON.stringify({ card_number: '4111111111111111', expiration_month: 12, expiration_year: 2030 }),
 *   },
 * ) // 201, a card with last_four '1111'
 * ```
 */
export function marketplaceEmulator(options: MarketplaceEmulatorOptions = {}): MarketplaceEmulator {
  const config = checkOptions(options)
  const { origin, now } = config
  const state = createMarketplaceState({
    now,
    testMarketplace: {
      id: TEST_MARKETPLACE_ID,
      name: 'Test Marketplace',
      secret: TEST_MARKETPLACE_SECRET,
    },
  })
  let log: MarketplaceRequestRecord[] = []
  const resources = defineResources(state, config)
  // Any method on a path of the API is a route (a method it does not allow answers 405), and so
  // is any method on `*`, the paths the API does not have.
  const faults = createFaultRunner({
    has: (name) => {
      const [method, pattern, ...rest] = name.split(' ')
      return (
        rest.length === 0 &&
        /^[A-Z]+$/.test(method ?? '') &&
        (pattern === UNKNOWN_PATH || resources.some((resource) => resource.pattern === pattern))
      )
    },
    names: () => [
      ...resources.flatMap((resource) =>
        allowedMethods(resource).map((method) => `${method} ${resource.pattern}`),
      ),
      `METHOD ${UNKNOWN_PATH}`,
    ],
  })

  const handle = (resource: Resource | undefined): Parameters<typeof http.all>[1] => {
    return async ({ request, params }) => {
      const url = new URL(request.url)
      const method = request.method.toUpperCase()
      const requestId = newRequestId()
      const route = `${method} ${resource?.pattern ?? UNKNOWN_PATH}`
      const record: MarketplaceRequestRecord = {
        method,
        // A card number put where an id goes is masked, as in the error bodies.
        path: redact(url.pathname),
        route,
        status: 0,
        requestId,
      }
      log.push(record)
      const headers = { 'X-Request-Id': requestId }
      return runRecorded(
        faults,
        {
          route,
          target: `${method} ${url.pathname}`,
          errorResponse: (status, extra) =>
            errorResponse(method, faultError(status), requestId, { ...headers, ...extra }),
          signal: serverCloseSignal(request),
        },
        record,
        () => serve(resource, request, url, params, requestId, headers),
      )
    }
  }

  const serve = async (
    resource: Resource | undefined,
    request: Request,
    url: URL,
    params: Record<string, string | readonly string[] | undefined>,
    requestId: string,
    headers: Record<string, string>,
  ): Promise<Response> => {
    const method = request.method.toUpperCase()
    try {
      const marketplace = authenticate(state, request.headers.get('authorization'))
      if (!resource) {
        throw notFound(`The path ${url.pathname} is not part of the marketplace API.`)
      }
      const path = pathParams(params)
      if (path.marketplace !== marketplace.id) {
        throw authenticationRequired(
          `The API key secret does not give access to the marketplace ${path.marketplace}.`,
        )
      }
      const verb = method === 'HEAD' ? 'GET' : method
      const run = resource.methods[verb as Verb]
      if (!run) throw methodNotAllowed(method, url.pathname, allowedMethods(resource))
      const body = verb === 'GET' ? {} : await readBody(request)
      const result = run({ mp: marketplace.id, path, body, query: url.searchParams })
      return respond(method, result.body, result.status ?? 200, headers)
    } catch (error) {
      if (error instanceof MarketplaceRequestError) {
        return errorResponse(method, error, requestId, headers)
      }
      const message = error instanceof Error ? error.message : String(error)
      const failure = new MarketplaceRequestError(
        500,
        'internal-server-error',
        'request',
        `The emulator failed: ${redact(message)}`,
      )
      return errorResponse(method, failure, requestId, headers)
    }
  }

  const handlers: HttpHandler[] = [
    ...resources.map((resource) => http.all(`${origin}${resource.pattern}`, handle(resource))),
    http.all(`${origin}/*`, handle(undefined)),
  ]

  const copy = <T>(value: T): T => structuredClone(value)
  const testOr = (marketplace: string | undefined) => marketplace ?? TEST_MARKETPLACE_ID
  const knownMarketplace = (id: string) => {
    if (!state.hasMarketplace(id)) throw notFound(`The marketplace ${id} does not exist.`)
    return id
  }

  const seed: MarketplaceEmulatorSeed = {
    marketplace(fields = {}) {
      return copy(state.createMarketplace(fields))
    },
    account(fields = {}) {
      const { marketplace, merchant, ...rest } = fields
      const mp = knownMarketplace(testOr(marketplace))
      const form = parseAccountForm({ name: 'Test Account', ...definedFields(rest) }, config)
      // Seeded accounts may have neither a card nor a merchant: a fresh owner, no cards yet.
      const account = state.createAccount(mp, { ...form, merchant: merchant === true }, true)
      return copy(state.presentAccount(account))
    },
    card(fields = {}) {
      const { marketplace, account, ...rest } = fields
      const mp = knownMarketplace(testOr(marketplace))
      const form = parseCardForm(
        {
          card_number: '4111111111111111',
          expiration_month: 12,
          expiration_year: now().getUTCFullYear() + 3,
          // The reference's example postal code, where the emulator requires one.
          ...(config.requirePostalCode ? { postal_code: '10023' } : {}),
          ...definedFields(rest),
        },
        config,
      )
      const card =
        account === undefined
          ? state.tokenize(mp, form)
          : state.createAndAssociate(mp, account, { form })
      return copy(state.presentCard(card))
    },
  }

  const view: MarketplaceEmulatorState = {
    marketplaces: () => state.marketplaces(),
    accounts: (marketplaceId) =>
      state.accountsOf(testOr(marketplaceId)).map((account) => state.presentAccount(account)),
    account: (id) => {
      const account = state.findAccount(id)
      return account && state.presentAccount(account)
    },
    cards: (marketplaceId) =>
      state.cardsOf(testOr(marketplaceId)).map((card) => state.presentCard(card)),
    card: (id) => {
      const card = state.findCard(id)
      return card && state.presentCard(card)
    },
    accountCards: (accountId) => {
      const account = state.findAccount(accountId)
      if (!account) return []
      return state
        .accountCards(account.marketplace, accountId)
        .map((card) => state.presentCard(card))
    },
    defaultCard: (accountId) => {
      const card = state.source(accountId)
      return card && state.presentCard(card)
    },
    requests: () => copy(log),
  }

  return {
    handlers,
    faults,
    origin,
    marketplaceId: TEST_MARKETPLACE_ID,
    secret: TEST_MARKETPLACE_SECRET,
    seed,
    state: view,
    authorization: (secret = TEST_MARKETPLACE_SECRET) => marketplaceAuthorization(secret),
    reset() {
      state.reset()
      faults.reset()
      log = []
    },
  }
}

/**
 * The `Authorization` header of the marketplace API: HTTP basic auth with the API key secret as
 * the user name and an empty password.
 */
export function marketplaceAuthorization(secret: string): string {
  return `Basic ${Buffer.from(`${secret}:`).toString('base64')}`
}

// ---- routes --------------------------------------------------------------------------------

type Verb = 'GET' | 'POST' | 'PUT'

interface RouteResult {
  status?: number
  body: unknown
}

interface RouteContext {
  mp: string
  path: Record<string, string>
  body: Body
  query: URLSearchParams
}

/** One path of the API and the methods it answers (`HEAD` wherever `GET` is). */
interface Resource {
  /** `'/v1/marketplaces/:marketplace/cards'`: the MSW path and, with the method, the route name. */
  pattern: string
  methods: Partial<Record<Verb, (context: RouteContext) => RouteResult>>
}

const UNKNOWN_PATH = '*'

interface Config {
  origin: string
  now: () => Date
  requirePostalCode: boolean
}

function defineResources(state: MarketplaceState, config: Config): Resource[] {
  const base = '/v1/marketplaces/:marketplace'
  const ok = (body: unknown): RouteResult => ({ body })
  const created = (body: unknown): RouteResult => ({ status: 201, body })
  const card = state.presentCard
  const account = state.presentAccount

  return [
    {
      pattern: `${base}/cards`,
      methods: {
        GET: ({ mp, query }) =>
          ok(
            state.presentPage(
              state.cardsOf(mp),
              `/v1/marketplaces/${mp}/cards`,
              parsePage(query),
              card,
            ),
          ),
        POST: ({ mp, body }) => created(card(state.tokenize(mp, parseCardForm(body, config)))),
      },
    },
    {
      pattern: `${base}/cards/:card`,
      methods: {
        GET: ({ mp, path }) => ok(card(state.card(mp, path.card!))),
        PUT: ({ mp, path, body }) => {
          const found = state.card(mp, path.card!)
          return ok(card(state.updateCard(mp, found, parseCardUpdate(body))))
        },
      },
    },
    {
      pattern: `${base}/accounts`,
      methods: {
        GET: ({ mp, query }) =>
          ok(
            state.presentPage(
              state.accountsOf(mp),
              `/v1/marketplaces/${mp}/accounts`,
              parsePage(query),
              account,
            ),
          ),
        POST: ({ mp, body }) =>
          created(account(state.createAccount(mp, parseAccountForm(body, config)))),
      },
    },
    {
      pattern: `${base}/accounts/:account`,
      methods: {
        GET: ({ mp, path }) => ok(account(state.account(mp, path.account!))),
        PUT: ({ mp, path, body }) => {
          state.account(mp, path.account!)
          return ok(account(state.updateAccount(mp, path.account!, parseAccountForm(body, config))))
        },
      },
    },
    {
      pattern: `${base}/accounts/:account/cards`,
      methods: {
        GET: ({ mp, path, query }) =>
          ok(
            state.presentPage(
              state.accountCards(mp, path.account!),
              `/v1/marketplaces/${mp}/accounts/${path.account}/cards`,
              parsePage(query),
              card,
            ),
          ),
        POST: ({ mp, path, body }) => {
          state.account(mp, path.account!)
          const input = parseAccountCardForm(body, config)
          return created(card(state.createAndAssociate(mp, path.account!, input)))
        },
      },
    },
    {
      pattern: `${base}/accounts/:account/cards/:card`,
      methods: {
        GET: ({ mp, path }) => ok(card(state.accountCard(mp, path.account!, path.card!))),
        PUT: ({ mp, path, body }) => {
          const found = state.accountCard(mp, path.account!, path.card!)
          return ok(card(state.updateCard(mp, found, parseCardUpdate(body))))
        },
      },
    },
  ]
}

// ---- helpers -------------------------------------------------------------------------------

/** The keys {@link marketplaceEmulator} takes; their values are `checkOptions`' to check. */
const OptionsKeysSchema = optionsObject({
  origin: z.unknown().optional(),
  now: z.unknown().optional(),
  requirePostalCode: z.unknown().optional(),
})

function checkOptions(options: MarketplaceEmulatorOptions): Config {
  const fail = (problem: string) =>
    new InvalidRequestError(`marketplaceEmulator: ${problem}`, { provider: 'marketplace' })
  if (typeof options !== 'object' || options === null) throw fail('options must be an object')
  // A key it does not know (`orign`) is refused, as every factory's; the values are checked below.
  validate(OptionsKeysSchema, options, 'marketplaceEmulator options', 'marketplace')
  const origin = (options.origin ?? 'https://api.marketplace.test').replace(/\/+$/, '')
  let parsed: URL
  try {
    parsed = new URL(origin)
  } catch {
    throw fail('origin must be an absolute http(s) URL, e.g. https://api.marketplace.test')
  }
  if (!/^https?:$/.test(parsed.protocol) || parsed.pathname !== '/' || parsed.search) {
    throw fail('origin must be an http(s) origin without a path, e.g. https://api.marketplace.test')
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw fail('now must be a function returning a Date')
  }
  if (options.requirePostalCode !== undefined && typeof options.requirePostalCode !== 'boolean') {
    throw fail('requirePostalCode must be a boolean')
  }
  return Object.freeze({
    origin,
    now: emulatorClock(options.now, 'marketplaceEmulator'),
    requirePostalCode: options.requirePostalCode ?? false,
  })
}

/** HTTP basic auth with the API key secret as user name; answers the secret's marketplace. */
function authenticate(state: MarketplaceState, header: string | null): MarketplaceInfo {
  if (!header) {
    throw authenticationRequired('Authentication is required: no API key secret was sent.')
  }
  const [scheme, value] = header.trim().split(/\s+/, 2)
  if (scheme?.toLowerCase() !== 'basic' || !value) {
    throw authenticationRequired(
      'Authentication must use HTTP basic auth with the API key secret as the user name.',
    )
  }
  const secret = Buffer.from(value, 'base64').toString('utf8').split(':')[0] ?? ''
  const marketplace = secret ? state.marketplaceByKey(secret) : undefined
  if (!marketplace) throw authenticationRequired('The API key secret is not valid.')
  return marketplace
}

function allowedMethods(resource: Resource): string[] {
  const verbs = Object.keys(resource.methods)
  return verbs.includes('GET') ? ['HEAD', ...verbs] : verbs
}

/** A JSON or form body; an empty body is `{}`. Parse errors never echo the body. */
async function readBody(request: Request): Promise<Body> {
  const text = await request.text()
  if (!text.trim()) return {}
  const type = (request.headers.get('content-type') ?? '').toLowerCase()
  if (type.includes('application/x-www-form-urlencoded')) {
    // No field of the marketplace's forms is a list, and `meta` keys are any strings: numeric
    // keys (`meta[0]=a`) stay keys of a hash, as in JSON, rather than making an array. Keys named
    // like Object.prototype members (`meta[constructor]`, `meta[__proto__]`) are kept as data.
    return formValue(qs.parse(text, { depth: 3, parseArrays: false, ...FORM_KEY_OPTIONS })) as Body
  }
  if (type === '' || type.includes('json')) {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw unreadableBody('The request body is not valid JSON.')
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw unreadableBody('The request body must be a JSON object.')
    }
    return parsed as Body
  }
  throw unreadableBody(
    'Unsupported Content-Type: send application/json or application/x-www-form-urlencoded.',
  )
}

/**
 * The path parameters as MSW gives them: already decoded once (its path matching decodes each
 * with `decodeURIComponent`), so they are taken as they are. Decoding them again would read
 * `CC%2541` as `CCA` instead of `CC%41`, and throw (a 500) on an id holding `%`.
 */
function pathParams(
  params: Record<string, string | readonly string[] | undefined>,
): Record<string, string> {
  const path: Record<string, string> = {}
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === 'string') path[name] = value
  }
  return path
}

function respond(
  method: string,
  body: unknown,
  status: number,
  headers: Record<string, string>,
): Response {
  // HEAD answers the headers of GET, without a body.
  if (method === 'HEAD') {
    return new HttpResponse(null, {
      status,
      headers: { ...headers, 'Content-Type': 'application/json' },
    })
  }
  return HttpResponse.json(body as Record<string, unknown>, { status, headers })
}

function errorResponse(
  method: string,
  error: MarketplaceRequestError,
  requestId: string,
  headers: Record<string, string>,
): Response {
  return respond(method, error.body(requestId), error.status, { ...headers, ...error.headers })
}

/** A request id in the API's shape: `OHM` and 32 hex digits. */
function newRequestId(): string {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  return `OHM${Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')}`
}
