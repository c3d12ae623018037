import { ProviderUnavailableError } from '@cardport/core'
import { isObject, STRIPE_PROVIDER_NAME } from './parse-card.js'

/**
 * The part of the official `stripe` SDK the adapter uses, typed structurally: any `Stripe`
 * instance from a supported version fits, and cardport's declaration files do not pull in the
 * SDK's types. Parameters and results are plain JSON objects.
 */
export interface StripeClient {
  customers: {
    retrieve(id: string, params?: StripeParams, options?: StripeRequestOptions): Promise<unknown>
    update(id: string, params?: StripeParams, options?: StripeRequestOptions): Promise<unknown>
    createSource(id: string, params: StripeParams, options?: StripeRequestOptions): Promise<unknown>
    retrieveSource(
      customerId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    updateSource(
      customerId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    deleteSource(
      customerId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    listSources(id: string, params?: StripeParams, options?: StripeRequestOptions): Promise<unknown>
  }
  accounts: {
    createExternalAccount(
      id: string,
      params: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    retrieveExternalAccount(
      accountId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    updateExternalAccount(
      accountId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
    deleteExternalAccount(
      accountId: string,
      id: string,
      params?: StripeParams,
      options?: StripeRequestOptions,
    ): Promise<unknown>
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
  apiVersion?: string
  idempotencyKey?: string
  maxNetworkRetries?: number
  timeout?: number
}

/**
 * The client with every answer checked: the SDK takes any JSON answer without an `error`
 * member for a success, whatever its HTTP status (`{}` from a proxy's 502, an empty object
 * answered 200). Read as a card or a page, such an answer would say "no such card" or "no
 * cards", and `CardSync` would remove the local copies. It is refused instead, with
 * `provider_unavailable`: an answer must be a Stripe object (`object` names its kind) with a
 * status below 400.
 */
export function checkedClient(stripe: StripeClient): StripeClient {
  const check =
    <A extends unknown[]>(method: (...args: A) => Promise<unknown>) =>
    async (...args: A) =>
      checkedAnswer(await method(...args))
  const { customers, accounts } = stripe
  return {
    customers: {
      retrieve: check(customers.retrieve.bind(customers)),
      update: check(customers.update.bind(customers)),
      createSource: check(customers.createSource.bind(customers)),
      retrieveSource: check(customers.retrieveSource.bind(customers)),
      updateSource: check(customers.updateSource.bind(customers)),
      deleteSource: check(customers.deleteSource.bind(customers)),
      listSources: check(customers.listSources.bind(customers)),
    },
    accounts: {
      createExternalAccount: check(accounts.createExternalAccount.bind(accounts)),
      retrieveExternalAccount: check(accounts.retrieveExternalAccount.bind(accounts)),
      updateExternalAccount: check(accounts.updateExternalAccount.bind(accounts)),
      deleteExternalAccount: check(accounts.deleteExternalAccount.bind(accounts)),
      listExternalAccounts: check(accounts.listExternalAccounts.bind(accounts)),
    },
  }
}

/** An SDK result, if it is a Stripe object answered with a status below 400. */
function checkedAnswer(raw: unknown): unknown {
  // `lastResponse` is the raw response: node:http's (`statusCode`), or, before stripe 23, a
  // fetch Response (`status`).
  const response = isObject(raw) ? raw.lastResponse : undefined
  const code = isObject(response) ? (response.statusCode ?? response.status) : undefined
  const status = typeof code === 'number' ? code : undefined
  if (status !== undefined && status >= 400) {
    throw new ProviderUnavailableError(
      `Stripe answered ${status} without an error object (a proxy or a gateway in the way?): retry later`,
      { provider: STRIPE_PROVIDER_NAME, status, retryable: status === 429 || status >= 500 },
    )
  }
  if (!isObject(raw) || typeof raw.object !== 'string') {
    throw new ProviderUnavailableError(
      'Stripe answered with something that is not a Stripe object (a proxy or a gateway in the way?): retry later',
      { provider: STRIPE_PROVIDER_NAME, status },
    )
  }
  return raw
}
