// Under exactOptionalPropertyTypes an optional option still takes `undefined`, as the code does
// at run time: applications pass values they may not have (`cursor: req.query.cursor`).
import {
  type CardProvider,
  type CardStore,
  createCardSync,
  listAll,
  memoryProvider,
  memoryStore,
  type Owner,
  withRetry,
} from '@cardport/core'
import { type MarketplaceDispatcher, marketplaceProvider } from '@cardport/marketplace'
import { type PostgresPool, postgresStore } from '@cardport/store-postgres'
import { sqliteStore } from '@cardport/store-sqlite'
import { type StripeWebhookClient, stripeProvider, stripeWebhookHandler } from '@cardport/stripe'

declare const maybeString: string | undefined
declare const maybeNumber: number | undefined
declare const maybeBoolean: boolean | undefined
declare const maybeSignal: AbortSignal | undefined

export async function core(provider: CardProvider, store: CardStore, owner: Owner): Promise<void> {
  await provider.listCards(owner, { limit: maybeNumber, cursor: maybeString })
  await provider.createCard(
    owner,
    { source: 'tok_visa', makeDefault: maybeBoolean, currency: maybeString },
    { idempotencyKey: maybeString },
  )
  await provider.updateCard(owner, 'card_1', { holderName: maybeString, expMonth: maybeNumber })
  for await (const card of listAll(provider, owner, {
    pageSize: maybeNumber,
    signal: maybeSignal,
  })) {
    void card
  }
  const sync = createCardSync({
    provider,
    store,
    concurrency: maybeNumber,
    retry: { retries: maybeNumber, signal: maybeSignal },
  })
  await sync.setDefaultCard(owner, 'tok_visa', { idempotencyKey: maybeString })
  await sync.syncFromProviderData(owner, {}, { observedAt: maybeNumber })
  await sync.reconcile(owner, {
    dryRun: maybeBoolean,
    concurrency: maybeNumber,
    signal: maybeSignal,
  })
  await store.upsert({} as never, { observedAt: maybeNumber })
  memoryProvider({ name: maybeString })
  await withRetry(async () => 1, { retries: maybeNumber, baseDelayMs: maybeNumber })
  void memoryStore
}

export function adapters(store: CardStore, dispatcher: MarketplaceDispatcher | undefined): void {
  stripeProvider({ apiKey: 'sk_test_1', maxNetworkRetries: maybeNumber, timeoutMs: maybeNumber })
  stripeWebhookHandler({
    stripe: {} as StripeWebhookClient,
    endpointSecret: 'whsec_1',
    store,
    toleranceSeconds: maybeNumber,
    confirm: maybeBoolean,
  })
  marketplaceProvider({
    baseUrl: 'https://mp.test',
    marketplaceId: 'MP1',
    secret: 's',
    dispatcher,
    headersTimeoutMs: maybeNumber,
    userAgent: maybeString,
  })
  sqliteStore({ filename: ':memory:', wal: maybeBoolean })
  void postgresStore({ client: {} as PostgresPool, schema: maybeString, migrate: maybeBoolean })
}
