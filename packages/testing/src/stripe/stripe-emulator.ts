import { IdempotencyKeySchema, optionsObject, redact, validate } from '@cardport/core'
import { type HttpHandler, HttpResponse, http } from 'msw'
import { z } from 'zod'
import { emulatorClock } from '../clock.js'
import { definedFields } from '../defined-fields.js'
import type { Emulator } from '../emulator.js'
import { createFaultRunner } from '../faults.js'
import { setEntry } from '../form-keys.js'
import { runRecorded } from '../recorded-run.js'
import { serverCloseSignal } from '../served-request.js'
import { parseStripeForm } from './form.js'
import { checkStripeRequest } from './openapi-check.js'
import {
  faultError,
  idempotencyInProgress,
  idempotencyKeyLength,
  idempotencyMismatch,
  idempotencyOtherEndpoint,
  invalidApiKey,
  liveApiKey,
  missingApiKey,
  publishableKeyNotAllowed,
  StripeRequestError,
  stripeError,
  unrecognizedUrl,
} from './stripe-errors.js'
import {
  createStripeEventRecorder,
  recordingSeed,
  type StripeEmulatorEvents,
} from './stripe-events.js'
import {
  createStripeState,
  type StripeAccount,
  type StripeBankAccount,
  type StripeCard,
  type StripeCustomer,
  type StripeList,
  type StripeSource,
  type StripeState,
  type StripeToken,
  stripeId,
} from './stripe-state.js'

/** Options of {@link stripeEmulator}. A key other than these is `invalid_request`. */
export interface StripeEmulatorOptions {
  /** The origin the handlers answer. Default `'https://api.stripe.com'`. */
  origin?: string | undefined
  /**
   * The clock: `created` timestamps, test-token expiry dates, idempotency-key expiry. Default:
   * the system clock. It returns a `Date` (not milliseconds, as `stripeWebhookHandler`'s `now`
   * does: wrap one as `() => new Date(ms())`). It is read once when the emulator is made, so
   * that a clock returning anything but a valid Date throws a `TypeError` saying so from
   * `stripeEmulator()` itself; a seed that reads it later throws the same, and a request
   * answered while it does is a 500 `api_error` quoting that message.
   */
  now?: (() => Date) | undefined
  /**
   * Whether to record the webhook events Stripe would send (`emulator.events`). Default `true`.
   * Recording costs what each write touches, so it stays cheap; turn it off for bulk scenarios
   * (benchmarks, tests that seed hundreds of thousands of cards) that never deliver events:
   * `events.list()` and `events.take()` then stay empty.
   *
   * @example
   * ```ts
   * const emulator = stripeEmulator({ events: false })
   * for (let i = 0; i < 10_000; i++) {
   *   const { id } = emulator.seed.customer()
   *   for (let c = 0; c < 10; c++) emulator.seed.card(id, 'tok_visa')
   * }
   * ```
   */
  events?: boolean | undefined
}

/** What {@link stripeEmulator} takes: a key other than these is `invalid_request`. */
const OptionsSchema = optionsObject({
  origin: z.string().optional(),
  now: z
    .custom<() => Date>((value) => typeof value === 'function', {
      error: 'must be a function returning a Date',
    })
    .optional(),
  events: z.boolean().optional(),
})

/** One request the emulator answered, for tests that assert on the traffic. */
export interface StripeRequestRecord {
  /** The HTTP method, upper case (`'GET'`, `'POST'`, `'DELETE'` …). */
  method: string
  /** The path without the query string, a card number in it masked (core's `redact`). */
  path: string
  /** The emulator's route name, e.g. `'POST /v1/customers/:customer/sources'`. */
  route: string
  /**
   * The status the emulator answered, an injected fault's included (its `status`, or 200 for a
   * `body` without one); a connection dropped after the commit records the status the client
   * never saw, one dropped before it records 0.
   */
  status: number
  /** The `Request-Id` the emulator answered with (`req_…`), as Stripe's errors quote it. */
  requestId: string
  /**
   * The request's `Idempotency-Key` header, or null when it sent none. A card number written out
   * in it is masked (core's `redact`), by the rule of core's `IdempotencyKeySchema`: the random
   * ids clients generate (a UUID, a hex digest) are recorded as sent, whatever digits they hold.
   */
  idempotencyKey: string | null
  /** `true` when the answer was a stored idempotent response. */
  replayed: boolean
}

/**
 * Writes state directly, without HTTP, to set a test up. Each method returns a copy of what it
 * stored. Card rules still apply: a declined test token throws a `StripeRequestError`. A field
 * given as `undefined` is one not given: its default applies.
 */
export interface StripeEmulatorSeed {
  /** Creates a customer. */
  customer(
    fields?: {
      [K in 'email' | 'name' | 'description' | 'phone' | 'metadata']?: StripeCustomer[K] | undefined
    },
  ): StripeCustomer
  /** Creates a connected account (default: a `custom` account in the US, in usd). */
  account(fields?: {
    /** The account type. Default `'custom'`. */
    type?: StripeAccount['type'] | undefined
    /** ISO 3166-1 alpha-2. Default `'US'`. */
    country?: string | undefined
    /** The payout currency of cards added without one. Default: the country's (`'usd'`). */
    default_currency?: string | undefined
    /** The account's email address. Default: none. */
    email?: string | undefined
    /** String pairs. Default `{}`. */
    metadata?: Record<string, string> | undefined
  }): StripeAccount
  /**
   * Adds a card to a customer (`cus_…`) or a connected account (`acct_…`), from a test token
   * (default `tok_visa` for a customer, `tok_visa_debit` for an account) or a card hash
   * (`{ number, exp_month, exp_year, cvc? }`).
   */
  card(
    ownerId: string,
    token?: string | Record<string, unknown>,
    options?: {
      /** String pairs. Default `{}`. */
      metadata?: Record<string, string> | undefined
      /**
       * For an account: make the card the default for its currency, in place of the current
       * one. Default false, which leaves the default as it is: the first card of a currency
       * becomes its default either way, as on Stripe.
       */
      default_for_currency?: boolean | undefined
    },
  ): StripeCard
  /** Adds a bank account to a customer's sources or a connected account's external accounts. */
  bankAccount(
    ownerId: string,
    fields?: { [K in keyof StripeBankAccount]?: StripeBankAccount[K] | undefined },
  ): StripeBankAccount
  /**
   * Adds a Sources API `source` object (`src_…`, an ACH credit transfer unless `fields` say
   * otherwise) to a customer's sources: a source that is neither a card nor a bank account.
   */
  source(customerId: string, fields?: Record<string, unknown>): Record<string, unknown>
}

/** Read-backs of what the emulator holds. Every getter returns a copy. */
export interface StripeEmulatorState {
  /** Live (not deleted) customers, oldest first. */
  customers(): StripeCustomer[]
  /** A live customer by id; `undefined` once deleted, as for an id never seen. */
  customer(id: string): StripeCustomer | undefined
  /** A customer's sources or an account's external accounts, newest first. */
  sources(ownerId: string): StripeSource[]
  /** A card or bank account by id, whoever holds it. */
  source(id: string): StripeSource | undefined
  /** Live Connect accounts, oldest first. */
  accounts(): StripeAccount[]
  /** A live Connect account by id. */
  account(id: string): StripeAccount | undefined
  /** Tokens created with `POST /v1/tokens`. */
  tokens(): StripeToken[]
  /** Every request answered since the last `reset()`, in order. */
  requests(): StripeRequestRecord[]
}

/** The Stripe emulator: {@link Emulator} plus seeding and read-backs. */
export interface StripeEmulator extends Emulator {
  /** Writes state directly, without HTTP, to set a test up. */
  readonly seed: StripeEmulatorSeed
  /** Reads back what the emulator holds, to assert on it. */
  readonly state: StripeEmulatorState
  /** The events Stripe would send for each change the emulator commits, signed on delivery. */
  readonly events: StripeEmulatorEvents
}

/** The API version whose object shapes the emulator answers with. */
export const STRIPE_EMULATOR_API_VERSION = '2023-08-16'

/**
 * A stateful emulator of Stripe's card API (customers and their sources, the legacy `/cards`
 * paths, Connect accounts and their external accounts, card tokens) as MSW handlers, in test
 * mode. It checks the API key, validates every request against Stripe's OpenAPI description,
 * replays idempotent requests, and answers Stripe's error bodies with a `Request-Id` header.
 * See `STRIPE_TEST_CARDS` for the test tokens and numbers it knows.
 *
 * @example
 * ```ts
 * const emulator = stripeEmulator()
 * const server = setupServer(...emulator.handlers)
 * beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
 * afterEach(() => { server.resetHandlers(); emulator.reset() })
 *
 * const stripe = new Stripe('sk_test_123', { maxNetworkRetries: 0 })
 * const customer = await stripe.customers.create({ email: 'jenny@example.com' })
 * const card = await stripe.customers.createSource(customer.id, { source: 'tok_visa' })
 * ```
 */
export function stripeEmulator(options: StripeEmulatorOptions = {}): StripeEmulator {
  const given = validate(OptionsSchema, options, 'stripeEmulator options', 'stripe')
  const origin = (given.origin ?? 'https://api.stripe.com').replace(/\/+$/, '')
  const now = emulatorClock(given.now, 'stripeEmulator')
  // The time of an error's log URL: the clock's, or the system's when the clock is what failed.
  const stamp = () => {
    try {
      return now()
    } catch {
      return new Date()
    }
  }
  const state = createStripeState(now)
  const recorder = createStripeEventRecorder(state, {
    now,
    apiVersion: STRIPE_EMULATOR_API_VERSION,
    enabled: given.events ?? true,
  })
  const idempotency = new Map<string, IdempotentEntry>()
  let log: StripeRequestRecord[] = []

  const routes = defineRoutes(state)
  const routeNames = [...routes.map((route) => route.name), NOT_FOUND]
  const faults = createFaultRunner({
    has: (name) => routeNames.includes(name),
    names: () => routeNames,
  })

  const handle = (route: Route): Parameters<typeof http.all>[1] => {
    return async ({ request, params }) => {
      const url = new URL(request.url)
      const requestId = stripeId('req_', 14)
      const target = `${request.method} ${url.pathname}`
      const idempotencyKey = request.headers.get('idempotency-key')
      const record: StripeRequestRecord = {
        method: request.method,
        // A card number put where an id goes is masked, as in the error messages.
        path: redact(url.pathname),
        route: route.name,
        status: 0,
        requestId,
        idempotencyKey: idempotencyKey === null ? null : loggedKey(idempotencyKey),
        replayed: false,
      }
      log.push(record)
      const baseHeaders: Record<string, string> = {
        'Request-Id': requestId,
        // The objects have the shapes of this version, whatever version the client asks for.
        'Stripe-Version': STRIPE_EMULATOR_API_VERSION,
      }
      // Sent back as given, as Stripe does: the caller's own header, and no message or log.
      if (idempotencyKey !== null) baseHeaders['Idempotency-Key'] = idempotencyKey
      return runRecorded(
        faults,
        {
          route: route.name,
          target,
          errorResponse: (status, headers) =>
            errorResponse(faultError(status), { ...baseHeaders, ...headers }, stamp()),
          signal: serverCloseSignal(request),
        },
        record,
        () => serve(route, request, url, params, baseHeaders, record, idempotencyKey),
      )
    }
  }

  const serve = async (
    route: Route,
    request: Request,
    url: URL,
    pathParams: Record<string, string | readonly string[] | undefined>,
    headers: Record<string, string>,
    record: StripeRequestRecord,
    idempotencyKey: string | null,
  ): Promise<Response> => {
    try {
      authenticate(request.headers.get('authorization'), route.name === 'POST /v1/tokens')
      if (route.name === NOT_FOUND) throw unrecognizedUrl(request.method, url.pathname)
      const key = request.method === 'POST' ? idempotencyKey : null
      if (key !== null && (key.length < 1 || key.length > 255)) throw idempotencyKeyLength(key)
      const params = await readParams(request, url)
      const invalid = checkStripeRequest(request.method, url.pathname, checked(route, params))
      if (invalid) {
        const { type, message, ...fields } = invalid.error
        throw stripeError(invalid.status, type, message, fields)
      }
      if (key === null) {
        const result = recorder.record(() => run(route, pathParams, params, url), record)
        return json(result.body, result.status, headers)
      }
      const replay = idempotent(key, `${request.method} ${url.pathname}`, params)
      if (replay) {
        record.replayed = true
        return json(replay.body, replay.status, {
          ...headers,
          'Idempotent-Replayed': 'true',
          'Original-Request': replay.requestId,
        })
      }
      const entry: IdempotentEntry = {
        endpoint: `${request.method} ${url.pathname}`,
        params: canonical(params),
        createdAt: now().getTime(),
        requestId: record.requestId,
      }
      idempotency.set(key, entry)
      try {
        const result = recorder.record(() => run(route, pathParams, params, url), record)
        // A snapshot: the objects may change later, the replay must not.
        entry.done = clonePlain(result)
        return json(result.body, result.status, headers)
      } catch (error) {
        if (error instanceof StripeRequestError && saves(error)) {
          entry.done = { status: error.status, body: { error: error.error } }
        } else {
          // Stripe saves no result when the request failed validation: the key can be reused.
          idempotency.delete(key)
        }
        throw error
      }
    } catch (error) {
      if (error instanceof StripeRequestError) return errorResponse(error, headers, stamp())
      const message = error instanceof Error ? error.message : String(error)
      return errorResponse(
        stripeError(500, 'api_error', `An unknown error occurred (emulator: ${message})`),
        headers,
        stamp(),
      )
    }
  }

  /** A stored answer to replay, or `undefined` for a fresh key; throws on a conflict. */
  const idempotent = (key: string, endpoint: string, params: Record<string, unknown>) => {
    const entry = idempotency.get(key)
    if (!entry) return undefined
    if (now().getTime() - entry.createdAt > IDEMPOTENCY_TTL_MS) {
      idempotency.delete(key)
      return undefined
    }
    if (entry.endpoint !== endpoint) throw idempotencyOtherEndpoint(key, entry.endpoint, endpoint)
    if (entry.params !== canonical(params)) throw idempotencyMismatch(key)
    if (!entry.done) throw idempotencyInProgress(key)
    return { ...entry.done, requestId: entry.requestId }
  }

  const handlers: HttpHandler[] = [
    ...routes.map((route) => {
      const [method, path] = route.name.split(' ') as [Method, string]
      return http[method.toLowerCase() as Lowercase<Method>](`${origin}${path}`, handle(route))
    }),
    http.all(`${origin}/*`, handle({ name: NOT_FOUND, run: () => ({ body: null }) })),
  ]

  const copy = clonePlain

  const seed: StripeEmulatorSeed = {
    customer(fields = {}) {
      return copy(state.createCustomer({ ...fields }))
    },
    account(fields = {}) {
      return copy(state.createAccount({ type: 'custom', ...definedFields(fields) }))
    },
    card(ownerId, token, cardOptions = {}) {
      // A card hash is a card; an undefined field (its `object` too) is one not given.
      const input = typeof token === 'object' ? { object: 'card', ...definedFields(token) } : token
      if (ownerId.startsWith('acct_')) {
        const card = state.addExternalAccount(ownerId, {
          external_account: input ?? 'tok_visa_debit',
          ...(cardOptions.metadata ? { metadata: cardOptions.metadata } : {}),
          ...(cardOptions.default_for_currency ? { default_for_currency: 'true' } : {}),
        })
        return copy(card as StripeCard)
      }
      const resolved = state.resolveCard(input ?? 'tok_visa', 'source')
      return copy(
        state.attachToCustomer(ownerId, resolved, {
          metadata: cardOptions.metadata,
        }),
      )
    },
    bankAccount(ownerId, fields = {}) {
      const given = definedFields(fields)
      if (ownerId.startsWith('acct_')) return copy(state.addBankAccountToAccount(ownerId, given))
      return copy(state.addBankAccountToCustomer(ownerId, given))
    },
    source(customerId, fields = {}) {
      return copy(state.addSourceObjectToCustomer(customerId, definedFields(fields)))
    },
  }

  const view: StripeEmulatorState = {
    customers: () => copy(state.allCustomers()),
    customer: (id) => {
      const record = state.customerRecord(id)
      return record && !record.deleted ? copy(record.customer) : undefined
    },
    sources: (ownerId) => copy(state.sourcesOf(ownerId)),
    source: (id) => copy(state.findSource(id)),
    accounts: () => copy(state.allAccounts()),
    account: (id) => copy(state.allAccounts().find((account) => account.id === id)),
    tokens: () => copy(state.allTokens()),
    requests: () => copy(log),
  }

  return {
    handlers,
    faults,
    origin,
    seed: recordingSeed(seed, recorder),
    state: view,
    events: recorder.events,
    reset() {
      state.reset()
      idempotency.clear()
      faults.reset()
      log = []
      recorder.clear()
    },
  }
}

// ---- routes --------------------------------------------------------------------------------

type Method = 'GET' | 'POST' | 'DELETE'

interface RouteResult {
  status?: number
  body: unknown
}

interface Route {
  /** `'POST /v1/customers/:customer/sources'`: the MSW path and the fault-matching name. */
  name: string
  run(context: {
    path: Record<string, string>
    params: Record<string, unknown>
    url: URL
  }): RouteResult
}

const NOT_FOUND = 'unrecognized request URL'

function defineRoutes(state: StripeState): Route[] {
  const route = (name: string, run: Route['run']): Route => ({ name, run })
  const ok = (body: unknown): RouteResult => ({ body })
  const expandOf = (params: Record<string, unknown>): string[] =>
    Array.isArray(params.expand)
      ? params.expand.map(String)
      : typeof params.expand === 'string'
        ? [params.expand]
        : []

  const presentCustomer = (customer: StripeCustomer, expand: string[]) => {
    const out: Record<string, unknown> = { ...clonePlain(customer) }
    if (expand.includes('sources')) {
      const all = state.sourcesOf(customer.id)
      out.sources = {
        object: 'list',
        url: `/v1/customers/${customer.id}/sources`,
        has_more: all.length > 10,
        data: clonePlain(all.slice(0, 10)),
      } satisfies StripeList<StripeSource>
    }
    if (expand.includes('default_source') && customer.default_source) {
      out.default_source = clonePlain(state.findSource(customer.default_source) ?? null)
    }
    return sortKeys(out)
  }

  const presentSource = (source: StripeSource, expand: string[]) => {
    const out: Record<string, unknown> = { ...clonePlain(source) }
    if (expand.includes('customer') && typeof source.customer === 'string') {
      out.customer = presentCustomer(state.customer(source.customer), [])
    }
    if (expand.includes('account') && typeof source.account === 'string') {
      out.account = presentAccount(state.account(source.account))
    }
    return out
  }

  const presentList = (list: StripeList<StripeSource>, expand: string[]) => ({
    ...list,
    data: list.data.map((entry) =>
      presentSource(
        entry,
        expand.filter((path) => path.startsWith('data.')).map((path) => path.slice(5)),
      ),
    ),
  })

  const presentAccount = (account: StripeAccount) => {
    const all = state.externalAccounts(account.id)
    return sortKeys({
      ...clonePlain(account),
      external_accounts: {
        object: 'list',
        url: `/v1/accounts/${account.id}/external_accounts`,
        has_more: all.length > 10,
        data: clonePlain(all.slice(0, 10)),
      },
    })
  }

  const customerRoutes = (base: 'sources' | 'cards'): Route[] => {
    const noun = base === 'cards' ? 'card' : 'source'
    const prefix = `/v1/customers/:customer/${base}`
    return [
      route(`GET ${prefix}`, ({ path, params, url }) => {
        const filter = base === 'cards' ? { ...params, object: 'card' } : params
        const list = state.listCustomerSources(path.customer!, filter, url.pathname)
        return ok(presentList(list, expandOf(params)))
      }),
      route(`POST ${prefix}`, ({ path, params }) => {
        state.customer(path.customer!, 'customer')
        const input = params.source ?? params.card
        const param = params.source === undefined ? 'card' : 'source'
        if (input === undefined) throw missingSource()
        state.checkMetadata(params.metadata)
        const resolved = state.resolveCard(input, param)
        const card = state.attachToCustomer(path.customer!, resolved, params)
        return ok(presentSource(card, expandOf(params)))
      }),
      route(`GET ${prefix}/:id`, ({ path, params }) =>
        ok(presentSource(state.customerSource(path.customer!, path.id!, noun), expandOf(params))),
      ),
      route(`POST ${prefix}/:id`, ({ path, params }) => {
        state.customerSource(path.customer!, path.id!, noun)
        const source = state.updateCustomerSource(path.customer!, path.id!, params)
        return ok(presentSource(source, expandOf(params)))
      }),
      route(`DELETE ${prefix}/:id`, ({ path }) => {
        state.customerSource(path.customer!, path.id!, noun)
        return ok(state.deleteCustomerSource(path.customer!, path.id!))
      }),
    ]
  }

  return [
    route('POST /v1/tokens', ({ params }) => ok(state.createToken(params))),
    route('GET /v1/tokens/:token', ({ path }) => {
      const token = state.token(path.token!)
      return ok(token)
    }),

    route('GET /v1/customers', ({ params }) => ok(state.listCustomers(params))),
    route('POST /v1/customers', ({ params }) =>
      ok(presentCustomer(state.createCustomer(params), expandOf(params))),
    ),
    route('GET /v1/customers/:customer', ({ path, params }) => {
      const record = state.customerRecord(path.customer!)
      // Stripe still answers a deleted customer's id, with its deleted stub.
      if (record?.deleted) return ok({ id: path.customer, object: 'customer', deleted: true })
      return ok(presentCustomer(state.customer(path.customer!), expandOf(params)))
    }),
    route('POST /v1/customers/:customer', ({ path, params }) =>
      ok(presentCustomer(state.updateCustomer(path.customer!, params), expandOf(params))),
    ),
    route('DELETE /v1/customers/:customer', ({ path }) => ok(state.deleteCustomer(path.customer!))),
    ...customerRoutes('sources'),
    ...customerRoutes('cards'),

    route('GET /v1/accounts', ({ params }) => {
      const list = state.listAccounts(params)
      return ok({ ...list, data: list.data.map(presentAccount) })
    }),
    route('POST /v1/accounts', ({ params }) => ok(presentAccount(state.createAccount(params)))),
    route('GET /v1/accounts/:account', ({ path }) =>
      ok(presentAccount(state.account(path.account!, 'id'))),
    ),
    route('POST /v1/accounts/:account', ({ path, params }) =>
      ok(presentAccount(state.updateAccount(path.account!, params))),
    ),
    route('DELETE /v1/accounts/:account', ({ path }) => ok(state.deleteAccount(path.account!))),
    route('GET /v1/accounts/:account/external_accounts', ({ path, params }) =>
      ok(presentList(state.listExternalAccounts(path.account!, params), expandOf(params))),
    ),
    route('POST /v1/accounts/:account/external_accounts', ({ path, params }) =>
      ok(presentSource(state.addExternalAccount(path.account!, params), expandOf(params))),
    ),
    route('GET /v1/accounts/:account/external_accounts/:id', ({ path, params }) =>
      ok(presentSource(state.externalAccount(path.account!, path.id!), expandOf(params))),
    ),
    route('POST /v1/accounts/:account/external_accounts/:id', ({ path, params }) =>
      ok(
        presentSource(
          state.updateExternalAccount(path.account!, path.id!, params),
          expandOf(params),
        ),
      ),
    ),
    route('DELETE /v1/accounts/:account/external_accounts/:id', ({ path }) =>
      ok(state.deleteExternalAccount(path.account!, path.id!)),
    ),
  ]
}

// ---- helpers -------------------------------------------------------------------------------

interface IdempotentEntry {
  endpoint: string
  params: string
  createdAt: number
  requestId: string
  done?: { status?: number | undefined; body: unknown }
}

/** Stripe keeps idempotency keys for 24 hours. */
const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000

/**
 * Whether Stripe saves an error a route threw for replay. Stripe saves the status and body of a
 * request "regardless of whether it succeeds or fails" once "the execution of an endpoint
 * begins", and nothing when "incoming parameters fail validation" (its idempotency guide). So a
 * 400 the endpoint reaches is saved (an unknown or spent token, a credit card given as an
 * external account, an account whose external accounts the platform does not manage), as are
 * declines (402) and server errors; a parameter refused for its shape or limits
 * (`parameter_missing`, `parameter_invalid…`, `parameter_unknown`: metadata over the limits, a
 * missing `source`) is not. The OpenAPI check, the API key and the key's own length are checked
 * before an entry exists, and a concurrent request with the key (409) never makes one.
 *
 * A 404 for the path's customer or account saves nothing, as the emulator always did: Stripe's
 * guide does not say whether finding the path's object is validation or execution.
 */
function saves(error: StripeRequestError): boolean {
  if (error.status === 401 || error.status === 404) return false
  return !error.error.code?.startsWith('parameter_')
}

/**
 * The parameters to check against the OpenAPI description. Stripe's API reference documents
 * `object=card|bank_account` on the external accounts list, and Stripe honours it, but the
 * 2023-08-16 OpenAPI description omits it: it is checked here instead of there.
 */
function checked(route: Route, params: Record<string, unknown>): Record<string, unknown> {
  if (route.name !== 'GET /v1/accounts/:account/external_accounts') return params
  const { object, ...rest } = params
  if (object !== undefined && object !== 'card' && object !== 'bank_account') {
    throw stripeError(
      400,
      'invalid_request_error',
      'Invalid object: must be one of bank_account or card',
      { code: 'parameter_invalid', param: 'object' },
    )
  }
  return rest
}

/**
 * Runs a route with its path parameters as MSW gives them: already decoded once (its path
 * matching decodes each with `decodeURIComponent`), so they are taken as they are. Decoding
 * them again would read `card_%2541` as `card_A` instead of `card_%41`, and throw (a 500) on an
 * id holding `%`.
 */
function run(
  route: Route,
  pathParams: Record<string, string | readonly string[] | undefined>,
  params: Record<string, unknown>,
  url: URL,
): RouteResult {
  const path: Record<string, string> = {}
  for (const [name, value] of Object.entries(pathParams)) {
    if (typeof value === 'string') path[name] = value
  }
  return route.run({ path, params, url })
}

async function readParams(request: Request, url: URL): Promise<Record<string, unknown>> {
  const query = parseStripeForm(url.searchParams)
  if (request.method === 'GET') return query
  const text = await request.text()
  return text ? { ...query, ...parseStripeForm(text) } : query
}

/**
 * Checks the API key as Stripe does, in test mode only. `Bearer sk_test_…` or Basic auth with
 * the key as user name; a publishable key may only create tokens. Basic credentials that are
 * not base64 are an invalid key (401), not a server error.
 */
function authenticate(header: string | null, publishableAllowed: boolean) {
  if (!header) throw missingApiKey()
  let key: string | undefined
  const [scheme, value] = header.trim().split(/\s+/, 2)
  if (scheme?.toLowerCase() === 'bearer') key = value
  else if (scheme?.toLowerCase() === 'basic' && value) {
    let credentials: string
    try {
      credentials = atob(value)
    } catch {
      throw invalidApiKey()
    }
    key = credentials.split(':')[0]
  }
  if (!key) throw missingApiKey()
  if (/^(sk|rk|pk)_live_/.test(key)) throw liveApiKey()
  if (/^(sk|rk)_test_\w+$/.test(key)) return
  if (/^pk_test_\w+$/.test(key)) {
    if (publishableAllowed) return
    throw publishableKeyNotAllowed()
  }
  throw invalidApiKey()
}

function missingSource() {
  return stripeError(400, 'invalid_request_error', 'Missing required param: source.', {
    code: 'parameter_missing',
    param: 'source',
  })
}

function json(body: unknown, status: number | undefined, headers: Record<string, string>) {
  return HttpResponse.json(body as Record<string, unknown>, { status: status ?? 200, headers })
}

function errorResponse(
  error: StripeRequestError,
  headers: Record<string, string>,
  at: Date,
): Response {
  const requestId = headers['Request-Id'] ?? ''
  const body = {
    error: {
      ...error.error,
      request_log_url: `https://dashboard.stripe.com/test/logs/${requestId}?t=${Math.floor(at.getTime() / 1000)}`,
    },
  }
  return HttpResponse.json(body, { status: error.status, headers })
}

/** Parameters in a canonical form, to compare a replayed request with the first one. */
function canonical(value: unknown): string {
  const sort = (input: unknown): unknown => {
    if (Array.isArray(input)) return input.map(sort)
    if (input && typeof input === 'object') {
      return Object.fromEntries(
        Object.entries(input)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([key, inner]) => [key, sort(inner)]),
      )
    }
    return input
  }
  return JSON.stringify(sort(value))
}

/**
 * A deep copy of the plain data the state holds (objects, arrays, primitives: no Dates, Maps or
 * cycles). Several times faster than `structuredClone` on the small objects that seeding and
 * every answer copy, by the hundred thousand in bulk scenarios.
 */
function clonePlain<T>(value: T): T {
  if (Array.isArray(value)) return value.map(clonePlain) as T
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    // Metadata may hold a `__proto__` key, which an assignment would drop.
    setEntry(out, key, clonePlain((value as Record<string, unknown>)[key]))
  }
  return out as T
}

/**
 * An `Idempotency-Key` as `state.requests()` records it: masked (core's `redact`) when it holds
 * a card number written out, as core's `IdempotencyKeySchema` finds one, so that a UUID or a hex
 * digest whose digit groups read as a card number by chance stays as the client sent it.
 */
function loggedKey(key: string): string {
  return IdempotencyKeySchema.safeParse(key).success ? key : redact(key)
}

function sortKeys(object: Record<string, unknown>): Record<string, unknown> {
  const { id, object: kind, ...rest } = object
  const sorted = Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return { id, object: kind, ...Object.fromEntries(sorted) }
}
