import { createHash, randomBytes } from 'node:crypto'
import { type HttpHandler, HttpResponse, http } from 'msw'

// The vendor. "Vault" is a small card-vault API that this example invents, so that the adapter
// has something real to speak HTTP to: these MSW handlers ARE the vendor, answering global
// fetch in-process. In your own adapter the vendor is real, and handlers like these are what
// you write to test it offline. The vault's reference, in brief:
//
//   Authorization: Bearer vk_test_…                  (any other key: 401 unauthorized)
//   POST   /v2/customers                             { email? } → 201 customer
//   GET    /v2/customers/:customer                   → customer { preferred_card }
//   GET    /v2/customers/:customer/cards             ?limit=1…100&page_token=…
//          → { object: 'list', data, next_page_token }
//   POST   /v2/customers/:customer/cards             { token, labels?, preferred? } → 201 card
//          (Idempotency-Key header: a retry with the same key and body replays the answer)
//   GET    /v2/customers/:customer/cards/:card       → card
//   PATCH  /v2/customers/:customer/cards/:card       { cardholder?, exp_month?, exp_year?,
//                                                      labels? } (a label set to null is removed;
//                                                      a refused update changes nothing)
//   DELETE /v2/customers/:customer/cards/:card       → 204
//   PUT    /v2/customers/:customer/preferred_card    { card } → the card, now preferred
//
// A customer's first card becomes its preferred card; deleting the preferred card leaves the
// customer with none: the vault never picks one on its own. Errors are
// `{ error: { code, message, param?, decline_reason? } }` with an `X-Request-Id` header.

/** Where the vault's handlers answer. */
export const VAULT_ORIGIN = 'https://api.vault.test'

/** A test-mode API key the vault accepts (any `vk_test_…` key is accepted). */
export const VAULT_TEST_KEY = 'vk_test_cardportExample'

/** A card as the vault's API shows it. */
export interface VaultCard {
  id: string
  object: 'card'
  customer: string
  network: 'VISA' | 'MASTERCARD' | 'AMEX' | 'DISCOVER' | 'OTHER'
  last_four: string
  /** `YYYY-MM`. */
  expiry: string
  cardholder: string | null
  billing_address: {
    line1: string | null
    city: string | null
    postcode: string | null
    country: string | null
  } | null
  issuer_country: string | null
  funding: 'credit' | 'debit' | 'prepaid' | 'unknown'
  fingerprint: string
  verification: { cvc: VaultCheck; postcode: VaultCheck }
  preferred: boolean
  labels: Record<string, string>
  /** Unix seconds. */
  created: number
}

/** The vault's word for the outcome of a check. */
export type VaultCheck = 'match' | 'no_match' | 'not_checked' | null

/** A customer as the vault's API shows it. */
export interface VaultCustomer {
  id: string
  object: 'customer'
  email: string | null
  preferred_card: string | null
  created: number
}

/**
 * The vault's test tokens (in production its browser SDK makes `vtok_…` tokens). Each can be
 * used any number of times.
 */
export const VAULT_TEST_TOKENS = {
  vtok_visa: { network: 'VISA', last_four: '4242', funding: 'credit', issuer_country: 'US' },
  vtok_visa_debit: { network: 'VISA', last_four: '5556', funding: 'debit', issuer_country: 'US' },
  vtok_mastercard: {
    network: 'MASTERCARD',
    last_four: '4444',
    funding: 'credit',
    issuer_country: 'US',
  },
  vtok_amex: { network: 'AMEX', last_four: '8431', funding: 'credit', issuer_country: 'US' },
  /** Attaching it answers 402 `card_declined`, `decline_reason: 'do_not_honor'`. */
  vtok_declined: { declined: 'do_not_honor' },
  /** Attaching it answers 402 `card_expired`. */
  vtok_expired: { expired: true },
} as const

/** The vault, as MSW handlers over an in-memory state, with seeding and read-backs. */
export interface VaultApi {
  readonly origin: string
  readonly handlers: HttpHandler[]
  /** Writes state without HTTP, to set a test or a demo up. */
  readonly seed: { customer(fields?: { email?: string }): VaultCustomer }
  /** Reads state back as the API would show it. */
  readonly state: {
    customer(id: string): VaultCustomer | undefined
    /** A customer's cards, oldest first. */
    cards(customerId: string): VaultCard[]
    /** Requests answered since the last `reset()`, failed ones included. */
    requestCount(): number
  }
  /** Empties the state. */
  reset(): void
}

/**
 * The vault's error answer, for tests and demos that stand in a failure with `server.use()`.
 *
 * @example
 * ```ts
 * const slowDown = () => vaultError(429, 'rate_limited', 'Slow down', { 'Retry-After': '2' })
 * server.use(http.get(`${VAULT_ORIGIN}/v2/*`, slowDown, { once: true }))
 * ```
 */
export function vaultError(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  extra: { param?: string; decline_reason?: string } = {},
): Response {
  return HttpResponse.json(
    { error: { code, message, ...extra } },
    { status, headers: { 'X-Request-Id': `vreq_${randomBytes(8).toString('hex')}`, ...headers } },
  )
}

/** Creates a fresh vault: no customers, no cards. */
export function vaultApi(options: { origin?: string } = {}): VaultApi {
  const origin = options.origin ?? VAULT_ORIGIN
  let customers = new Map<string, VaultCustomer>()
  // Cards per customer, in the order they were added.
  let cards = new Map<string, Map<string, Omit<VaultCard, 'preferred'>>>()
  let replays = new Map<string, { request: string; status: number; body: VaultCard }>()
  let requests = 0

  const view = (card: Omit<VaultCard, 'preferred'>): VaultCard => ({
    ...structuredClone(card),
    preferred: customers.get(card.customer)?.preferred_card === card.id,
  })

  const customerOf = (id: string) => {
    const customer = customers.get(id)
    if (!customer) throw new Refusal(404, 'customer_not_found', `No such customer: ${id}`)
    return customer
  }
  const cardOf = (customerId: string, cardId: string) => {
    customerOf(customerId)
    const card = cards.get(customerId)?.get(cardId)
    if (!card) {
      throw new Refusal(404, 'card_not_found', `Customer ${customerId} has no card ${cardId}`)
    }
    return card
  }

  const createCustomer = (email: string | null): VaultCustomer => {
    const customer: VaultCustomer = {
      id: newId('vcus'),
      object: 'customer',
      email,
      preferred_card: null,
      created: unixNow(),
    }
    customers.set(customer.id, customer)
    cards.set(customer.id, new Map())
    return customer
  }

  const route = (
    method: 'get' | 'post' | 'patch' | 'put' | 'delete',
    path: string,
    answer: (context: {
      request: Request
      params: Record<string, string>
      body: Record<string, unknown>
    }) => Response | Promise<Response>,
  ) =>
    http[method](`${origin}${path}`, async ({ request, params }) => {
      requests += 1
      if (!/^Bearer vk_test_\w+$/.test(request.headers.get('authorization') ?? '')) {
        return vaultError(
          401,
          'unauthorized',
          'Send a test API key: Authorization: Bearer vk_test_…',
        )
      }
      try {
        const body = method === 'get' || method === 'delete' ? {} : await jsonBody(request)
        return await answer({ request, params: params as Record<string, string>, body })
      } catch (error) {
        if (!(error instanceof Refusal)) throw error
        return vaultError(error.status, error.code, error.message, {}, error.extra)
      }
    })

  const handlers = [
    route('post', '/v2/customers', ({ body }) => {
      allowOnly(body, ['email'])
      const email = optionalString(body, 'email', 254)
      return HttpResponse.json(createCustomer(email ?? null), { status: 201 })
    }),

    route('get', '/v2/customers/:customer', ({ params }) =>
      HttpResponse.json(structuredClone(customerOf(params.customer!))),
    ),

    route('get', '/v2/customers/:customer/cards', ({ request, params }) => {
      const customer = customerOf(params.customer!)
      const query = new URL(request.url).searchParams
      const limit = Number(query.get('limit') ?? '10')
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        throw new Refusal(400, 'invalid_parameter', 'limit is an integer from 1 to 100', 'limit')
      }
      const token = query.get('page_token')
      const offset = token === null ? 0 : readPageToken(token, customer.id)
      const all = [...cards.get(customer.id)!.values()]
      const data = all.slice(offset, offset + limit).map(view)
      const next = offset + limit < all.length ? pageToken(customer.id, offset + limit) : null
      return HttpResponse.json({ object: 'list', data, next_page_token: next })
    }),

    route('post', '/v2/customers/:customer/cards', ({ request, params, body }) => {
      const customer = customerOf(params.customer!)
      const key = request.headers.get('idempotency-key')
      const fingerprint = `${request.url} ${JSON.stringify(body)}`
      const replay = key === null ? undefined : replays.get(key)
      if (replay) {
        if (replay.request !== fingerprint) {
          throw new Refusal(
            409,
            'idempotency_key_reused',
            `Idempotency key ${key} was used for a different request`,
          )
        }
        return HttpResponse.json(replay.body, {
          status: replay.status,
          headers: { 'Idempotent-Replayed': 'true' },
        })
      }
      allowOnly(body, ['token', 'labels', 'preferred'])
      const token = requiredString(body, 'token')
      const labels = readLabels(body.labels, false)
      if (body.preferred !== undefined && typeof body.preferred !== 'boolean') {
        throw new Refusal(400, 'invalid_parameter', 'preferred is a boolean', 'preferred')
      }
      const card = attach(customer, token, labels, body.preferred === true)
      const answer = view(card)
      if (key !== null) replays.set(key, { request: fingerprint, status: 201, body: answer })
      return HttpResponse.json(answer, { status: 201 })
    }),

    route('get', '/v2/customers/:customer/cards/:card', ({ params }) =>
      HttpResponse.json(view(cardOf(params.customer!, params.card!))),
    ),

    route('patch', '/v2/customers/:customer/cards/:card', ({ params, body }) => {
      const card = cardOf(params.customer!, params.card!)
      allowOnly(body, ['cardholder', 'exp_month', 'exp_year', 'labels'])
      // Every field is checked before any is written: a refused update changes nothing, as a
      // real API's would (a 400 after the cardholder was written would leave it half-applied).
      const cardholder =
        body.cardholder === undefined
          ? card.cardholder
          : body.cardholder === null
            ? null
            : (optionalString(body, 'cardholder', 128) ?? null)
      const [year, month] = card.expiry.split('-').map(Number) as [number, number]
      const expMonth = optionalInteger(body, 'exp_month', 1, 12) ?? month
      const expYear = optionalInteger(body, 'exp_year', 2000, 9999) ?? year
      const labels = { ...card.labels }
      if (body.labels !== undefined) {
        for (const [name, value] of Object.entries(readLabels(body.labels, true))) {
          if (value === null) delete labels[name]
          else labels[name] = value
        }
        checkLabelCount(labels)
      }
      card.cardholder = cardholder
      card.expiry = `${expYear}-${String(expMonth).padStart(2, '0')}`
      card.labels = labels
      return HttpResponse.json(view(card))
    }),

    route('delete', '/v2/customers/:customer/cards/:card', ({ params }) => {
      const card = cardOf(params.customer!, params.card!)
      cards.get(card.customer)!.delete(card.id)
      const customer = customers.get(card.customer)!
      if (customer.preferred_card === card.id) customer.preferred_card = null
      return new HttpResponse(null, { status: 204 })
    }),

    route('put', '/v2/customers/:customer/preferred_card', ({ params, body }) => {
      allowOnly(body, ['card'])
      const card = cardOf(params.customer!, requiredString(body, 'card'))
      customers.get(card.customer)!.preferred_card = card.id
      return HttpResponse.json(view(card))
    }),

    // Anything else under the origin: the vault's 404, so a wrong path fails loudly.
    http.all(`${origin}/*`, ({ request }) => {
      requests += 1
      const { pathname } = new URL(request.url)
      return vaultError(
        404,
        'route_not_found',
        `${request.method} ${pathname} is not a vault route`,
      )
    }),
  ]

  const attach = (
    customer: VaultCustomer,
    token: string,
    labels: Record<string, string>,
    preferred: boolean,
  ) => {
    const outcome: (typeof VAULT_TEST_TOKENS)[keyof typeof VAULT_TEST_TOKENS] | undefined =
      VAULT_TEST_TOKENS[token as keyof typeof VAULT_TEST_TOKENS]
    if (!outcome) {
      throw new Refusal(400, 'token_invalid', `No such token: ${token}`, 'token')
    }
    if ('declined' in outcome) {
      throw new Refusal(402, 'card_declined', 'The card was declined by its issuer', 'token', {
        decline_reason: outcome.declined,
      })
    }
    if ('expired' in outcome) {
      throw new Refusal(402, 'card_expired', 'The card has expired', 'token')
    }
    const card: Omit<VaultCard, 'preferred'> = {
      id: newId('vcrd'),
      object: 'card',
      customer: customer.id,
      network: outcome.network,
      last_four: outcome.last_four,
      expiry: `${new Date().getUTCFullYear() + 4}-12`,
      cardholder: null,
      billing_address: null,
      issuer_country: outcome.issuer_country,
      funding: outcome.funding,
      fingerprint: createHash('sha256').update(token).digest('base64url').slice(0, 16),
      verification: { cvc: 'match', postcode: 'not_checked' },
      labels,
      created: unixNow(),
    }
    cards.get(customer.id)!.set(card.id, card)
    if (customer.preferred_card === null || preferred) customer.preferred_card = card.id
    return card
  }

  return {
    origin,
    handlers,
    seed: {
      customer: (fields = {}) => structuredClone(createCustomer(fields.email ?? null)),
    },
    state: {
      customer: (id) => structuredClone(customers.get(id)),
      cards: (customerId) => [...(cards.get(customerId)?.values() ?? [])].map(view),
      requestCount: () => requests,
    },
    reset() {
      customers = new Map()
      cards = new Map()
      replays = new Map()
      requests = 0
    },
  }
}

/** A refusal the handlers answer with the vault's error body. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    param?: string,
    readonly extra: { param?: string; decline_reason?: string } = {},
  ) {
    super(message)
    if (param !== undefined) this.extra = { ...extra, param }
  }
}

async function jsonBody(request: Request): Promise<Record<string, unknown>> {
  const text = await request.text()
  if (text === '') return {}
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new Refusal(400, 'invalid_body', 'The body is not JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new Refusal(400, 'invalid_body', 'The body is a JSON object')
  }
  return body as Record<string, unknown>
}

function allowOnly(body: Record<string, unknown>, names: string[]) {
  const unknown = Object.keys(body).find((name) => !names.includes(name))
  if (unknown !== undefined) {
    throw new Refusal(400, 'invalid_parameter', `Unknown parameter: ${unknown}`, unknown)
  }
}

function requiredString(body: Record<string, unknown>, name: string): string {
  const value = body[name]
  if (typeof value !== 'string' || value === '') {
    throw new Refusal(400, 'invalid_parameter', `${name} is required`, name)
  }
  return value
}

function optionalString(body: Record<string, unknown>, name: string, max: number) {
  const value = body[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length > max) {
    throw new Refusal(400, 'invalid_parameter', `${name} is a string of at most ${max}`, name)
  }
  return value
}

function optionalInteger(body: Record<string, unknown>, name: string, min: number, max: number) {
  const value = body[name]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Refusal(400, 'invalid_parameter', `${name} is an integer from ${min} to ${max}`, name)
  }
  return value
}

// The vault's label limits happen to be cardport's metadata limits (50 labels, 40-character
// names, 500-character values), so the core's checks are the vault's.
function readLabels(value: unknown, allowNull: true): Record<string, string | null>
function readLabels(value: unknown, allowNull: false): Record<string, string>
function readLabels(value: unknown, allowNull: boolean): Record<string, string | null> {
  if (value === undefined) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Refusal(400, 'invalid_parameter', 'labels is an object of strings', 'labels')
  }
  const labels = value as Record<string, unknown>
  for (const [name, item] of Object.entries(labels)) {
    const ok =
      name.length >= 1 &&
      name.length <= 40 &&
      ((typeof item === 'string' && item.length >= 1 && item.length <= 500) ||
        (allowNull && item === null))
    if (!ok) {
      throw new Refusal(400, 'invalid_parameter', `Invalid label ${name}`, `labels.${name}`)
    }
  }
  checkLabelCount(labels)
  return labels as Record<string, string | null>
}

function checkLabelCount(labels: Record<string, unknown>) {
  if (Object.keys(labels).length > 50) {
    throw new Refusal(400, 'invalid_parameter', 'A card has at most 50 labels', 'labels')
  }
}

function pageToken(customerId: string, offset: number): string {
  return Buffer.from(`${customerId}:${offset}`).toString('base64url')
}

function readPageToken(token: string, customerId: string): number {
  const [owner, offset] = Buffer.from(token, 'base64url').toString('utf8').split(':')
  const value = Number(offset)
  if (owner !== customerId || !Number.isInteger(value) || value < 0) {
    throw new Refusal(
      400,
      'invalid_parameter',
      'page_token is not a token of this list',
      'page_token',
    )
  }
  return value
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url')}`
}

function unixNow(): number {
  return Math.floor(Date.now() / 1000)
}
