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
