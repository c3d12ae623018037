import { InvalidRequestError, ProviderUnavailableError } from '@cardport/core'
import { isObject } from './parse-card.js'

/**
 * The part of the official `stripe` SDK the adapter uses, typed structurally: any `Stripe`
 * instance from a supported version fits, and cardport's declaration files do not pull in the
 * SDK's types. Parameters and results are plain JSON objects.
 */
export interface StripeClient {
  /** `stripe.customers`: a customer's cards are its sources. */
  customers: {
    /** `GET /v1/customers/:id`: the default source, and with `expand`, the first sources. */
    retrieve(id: string, params?: StripeParams, options?: StripeRequestOptions): Promise<unknown>
    /** `POST /v1/customers/:id`: the adapter sets `default_source` with it. */
    update(id: string, params?: StripeParams, options?: StripeRequestOptions): Promise<unknown>
    /** `POST /v1/customers/:id/sources`: adds a card, with the call's idempotency key. */
    createSource(id: string, params: StripeParams, options?: StripeRequestOptions): Promise<unknown>
    /** `GET /v1/customers/:customerId/sources/:id`. */
    retrieveSource(
      customerId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    /** `POST /v1/customers/:customerId/sources/:id`: address, expiry, name, metadata. */
    updateSource(
      customerId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    /** `DELETE /v1/customers/:customerId/sources/:id`. */
    deleteSource(
      customerId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    /** `GET /v1/customers/:id/sources`, asked with `object: 'card'` for cards only. */
    listSources(id: string, params?: StripeParams, options?: StripeRequestOptions): Promise<unknown>
  }
  /** `stripe.accounts`: a Connect account's cards are its external accounts. */
  accounts: {
    /** `POST /v1/accounts/:id/external_accounts`: adds a card, with the call's idempotency key. */
    createExternalAccount(
      id: string,
      params: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    /** `GET /v1/accounts/:accountId/external_accounts/:id`. */
    retrieveExternalAccount(
      accountId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    /**
     * `POST /v1/accounts/:accountId/external_accounts/:id`: the card's fields, or
     * `default_for_currency` to make it the default for its currency.
     */
    updateExternalAccount(
      accountId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    /** `DELETE /v1/accounts/:accountId/external_accounts/:id`. */
    deleteExternalAccount(
      accountId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    /** `GET /v1/accounts/:id/external_accounts`, asked with `object: 'card'` for cards only. */
    listExternalAccounts(
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
  }
}

/** Request parameters as the SDK takes them. */
// biome-ignore lint/suspicious/noExplicitAny: the SDK's own parameter types differ per method and version
export type StripeParams = Record<string, any>

/** Per-request options the adapter sets. */
export interface StripeRequestOptions {
  /** The `Stripe-Version` to send: always `STRIPE_API_VERSION`, whatever the instance's default. */
  apiVersion?: string
  /** The `Idempotency-Key` header: sent on creates, and the same on each of their retries. */
  idempotencyKey?: string
  /** The SDK's network retries for this request (connection errors, 409, 5xx). */
  maxNetworkRetries?: number
  /** The request timeout in milliseconds; left out, the SDK's (80 s). */
  timeout?: number
}

/**
 * The client with every answer checked: the SDK takes any JSON answer without an `error`
 * member for a success, whatever its HTTP status (`{}` from a proxy's 502, an empty object
 * answered 200), and any Stripe object for the one the call asked for. Read as a card or a
 * page, such an answer would say "no such card" or "no cards", and `CardSync` would remove the
 * local copies. It is refused instead, with `provider_unavailable`: an answer must be a Stripe
 * object (`object` names its kind) with a status below 400, and of a kind its call answers: a
 * customer for a customer's read or update, a list with its `data` array for a list, a payment
 * source (a card, a bank account …) for a call on one source. The errors name the provider
 * `name`.
 */
export function checkedClient(stripe: StripeClient, name: string): StripeClient {
  return {
    customers: checkedMethods(stripe.customers, 'customers', CUSTOMER_METHODS, name),
    accounts: checkedMethods(stripe.accounts, 'accounts', ACCOUNT_METHODS, name),
  }
}

/**
 * The error of an answer that is not what its call asked for, `expected` saying what was (`'a
 * customer'`, or `'a Stripe object'` for an answer that is none at all): something in the way
 * answering, as a proxy or a gateway may, with another resource than the one asked for.
 * `provider_unavailable`, retryable, with the status of `answer` (the SDK's result) when it has
 * one. The answer's own fields are never quoted: an answer of the wrong kind may hold anything.
 */
export function wrongAnswer(
  provider: string,
  expected: string,
  answer?: unknown,
): ProviderUnavailableError {
  return new ProviderUnavailableError(
    `Stripe answered with something that is not ${expected} (a proxy or a gateway in the way?): retry later`,
    { provider, status: statusOf(answer) },
  )
}

/**
 * The kinds of payment source a customer's sources hold (the OpenAPI description's
 * `payment_source`: a card, a bank account, a Sources API object, a legacy account source). A
 * source that is no card is, for the card API, a card that does not exist.
 */
export const CUSTOMER_SOURCE_KINDS: ReadonlySet<unknown> = new Set([
  'card',
  'bank_account',
  'source',
  'account',
])

/** The kinds of a Connect account's external accounts (`external_account`). */
export const EXTERNAL_ACCOUNT_KINDS: ReadonlySet<unknown> = new Set(['card', 'bank_account'])

/** What a call answers: `is` tells it, `what` names it for the error. */
interface Expected {
  readonly what: string
  readonly is: (answer: Record<string, unknown>) => boolean
}

/**
 * What each call answers, from the OpenAPI description of API version 2023-08-16. A customer's
 * read answers a deleted customer's stub too (`object: 'customer', deleted: true`), which the
 * provider reads; a delete answers the deleted source's stub (`object: 'card', deleted: true`).
 */
const EXPECTED = {
  customer: { what: 'a customer', is: (answer) => answer.object === 'customer' },
  list: {
    what: 'a list',
    is: (answer) => answer.object === 'list' && Array.isArray(answer.data),
  },
  customerSource: {
    what: 'a payment source',
    is: (answer) => CUSTOMER_SOURCE_KINDS.has(answer.object),
  },
  externalAccount: {
    what: 'an external account',
    is: (answer) => EXTERNAL_ACCOUNT_KINDS.has(answer.object),
  },
} as const satisfies Record<string, Expected>

const CUSTOMER_METHODS = {
  retrieve: EXPECTED.customer,
  update: EXPECTED.customer,
  createSource: EXPECTED.customerSource,
  retrieveSource: EXPECTED.customerSource,
  updateSource: EXPECTED.customerSource,
  deleteSource: EXPECTED.customerSource,
  listSources: EXPECTED.list,
} as const satisfies Record<keyof StripeClient['customers'], Expected>

const ACCOUNT_METHODS = {
  createExternalAccount: EXPECTED.externalAccount,
  retrieveExternalAccount: EXPECTED.externalAccount,
  updateExternalAccount: EXPECTED.externalAccount,
  deleteExternalAccount: EXPECTED.externalAccount,
  listExternalAccounts: EXPECTED.list,
} as const satisfies Record<keyof StripeClient['accounts'], Expected>

type Method = (...args: never[]) => Promise<unknown>

/**
 * The methods of `group` (`stripe[groupName]`) that `methods` names, each checking that its
 * answer is what `methods` says it answers (its errors name `provider`). A method is looked up
 * when called, so that a partial client (a test double with the methods one test needs) serves
 * the calls it has; a call whose method is missing fails with `invalid_request` naming it (see
 * {@link missingMethod}).
 */
function checkedMethods<G extends { [K in keyof G]: Method }>(
  group: G,
  groupName: string,
  methods: { readonly [K in keyof G & string]: Expected },
  provider: string,
): G {
  const checked: Partial<Record<keyof G, Method>> = {}
  for (const [name, expected] of Object.entries(methods) as [keyof G & string, Expected][]) {
    checked[name] = async (...args) => {
      // Read once: a getter may answer differently on a second read.
      const method: unknown = group[name]
      if (typeof method !== 'function') throw missingMethod(`${groupName}.${name}`, provider)
      return checkedAnswer(await method.apply(group, args), expected, provider)
    }
  }
  return checked as G
}

/**
 * The error of a call whose SDK method the client lacks. It is the caller's setup (a partial
 * test double, an object that is no `Stripe` instance), not Stripe failing: the `TypeError` it
 * made was wrapped as a retryable `provider_unavailable`, and a retry loop retried a call that
 * can never succeed. Named by its path alone (`customers.listSources`): the client is never
 * quoted, as it may hold the key.
 */
function missingMethod(method: string, provider: string): InvalidRequestError {
  return new InvalidRequestError(
    `Stripe: the stripe client has no ${method} method, which this call needs: pass a Stripe instance (SDK 16 to 23), or give your test double that method`,
    { provider, retryable: false, details: { method } },
  )
}

/** An SDK result, if it is a Stripe object of the `expected` kind answered below 400. */
function checkedAnswer(raw: unknown, expected: Expected, provider: string): unknown {
  const status = statusOf(raw)
  if (status !== undefined && status >= 400) {
    throw new ProviderUnavailableError(
      `Stripe answered ${status} without an error object (a proxy or a gateway in the way?): retry later`,
      { provider, status, retryable: status === 429 || status >= 500 },
    )
  }
  if (!isObject(raw) || typeof raw.object !== 'string') {
    throw wrongAnswer(provider, 'a Stripe object', raw)
  }
  if (!expected.is(raw)) throw wrongAnswer(provider, expected.what, raw)
  return raw
}

/**
 * The HTTP status of an SDK result, from its `lastResponse`, the raw response: node:http's
 * (`statusCode`), or, before stripe 23, a fetch Response (`status`).
 */
function statusOf(raw: unknown): number | undefined {
  const response = isObject(raw) ? raw.lastResponse : undefined
  const code = isObject(response) ? (response.statusCode ?? response.status) : undefined
  return typeof code === 'number' ? code : undefined
}
