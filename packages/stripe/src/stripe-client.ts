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
 * answered 200). Read as a card or a page, such an answer would say "no such card" or "no
 * cards", and `CardSync` would remove the local copies. It is refused instead, with
 * `provider_unavailable`: an answer must be a Stripe object (`object` names its kind) with a
 * status below 400. The errors name the provider `name`.
 */
export function checkedClient(stripe: StripeClient, name: string): StripeClient {
  return {
    customers: checkedMethods(stripe.customers, 'customers', CUSTOMER_METHODS, name),
    accounts: checkedMethods(stripe.accounts, 'accounts', ACCOUNT_METHODS, name),
  }
}

const CUSTOMER_METHODS = [
  'retrieve',
  'update',
  'createSource',
  'retrieveSource',
  'updateSource',
  'deleteSource',
  'listSources',
] as const satisfies readonly (keyof StripeClient['customers'])[]

const ACCOUNT_METHODS = [
  'createExternalAccount',
  'retrieveExternalAccount',
  'updateExternalAccount',
  'deleteExternalAccount',
  'listExternalAccounts',
] as const satisfies readonly (keyof StripeClient['accounts'])[]

type Method = (...args: never[]) => Promise<unknown>

/**
 * The methods `names` of `group` (`stripe[groupName]`), each checking its answer (its errors name
 * `provider`). A method is looked up when called, so that a partial client (a test double with
 * the methods one test needs) serves the calls it has; a call whose method is missing fails with
 * `invalid_request` naming it (see {@link missingMethod}).
 */
function checkedMethods<G extends { [K in keyof G]: Method }>(
  group: G,
  groupName: string,
  names: readonly (keyof G & string)[],
  provider: string,
): G {
  const checked: Partial<Record<keyof G, Method>> = {}
  for (const name of names) {
    checked[name] = async (...args) => {
      // Read once: a getter may answer differently on a second read.
      const method: unknown = group[name]
      if (typeof method !== 'function') throw missingMethod(`${groupName}.${name}`, provider)
      return checkedAnswer(await method.apply(group, args), provider)
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

/** An SDK result, if it is a Stripe object answered with a status below 400. */
function checkedAnswer(raw: unknown, provider: string): unknown {
  // `lastResponse` is the raw response: node:http's (`statusCode`), or, before stripe 23, a
  // fetch Response (`status`).
  const response = isObject(raw) ? raw.lastResponse : undefined
  const code = isObject(response) ? (response.statusCode ?? response.status) : undefined
  const status = typeof code === 'number' ? code : undefined
  if (status !== undefined && status >= 400) {
    throw new ProviderUnavailableError(
      `Stripe answered ${status} without an error object (a proxy or a gateway in the way?): retry later`,
      { provider, status, retryable: status === 429 || status >= 500 },
    )
  }
  if (!isObject(raw) || typeof raw.object !== 'string') {
    throw new ProviderUnavailableError(
      'Stripe answered with something that is not a Stripe object (a proxy or a gateway in the way?): retry later',
      { provider, status },
    )
  }
  return raw
}
