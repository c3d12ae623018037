// Under exactOptionalPropertyTypes an optional option still takes `undefined`, as the code does
// at run time: applications pass values they may not have (`cursor: req.query.cursor`).
import {
  type CardProvider,
  type CardStore,
  closableStore,
  createCardSync,
  listAll,
  MEMORY_PROVIDER_CAPABILITIES,
  memoryProvider,
  memoryStore,
  type Owner,
  withRetry,
} from '@cardport/core'
import { type MarketplaceDispatcher, marketplaceProvider } from '@cardport/marketplace'
import { type PostgresPool, postgresStore } from '@cardport/store-postgres'
import { sqliteStore } from '@cardport/store-sqlite'
import { type StripeWebhookClient, stripeProvider, stripeWebhookHandler } from '@cardport/stripe'
import {
  type CardProviderFixture,
  type CardSource,
  type CardStoreFixture,
  createUndiciBridge,
  deliverStripeEvents,
  describeCardProvider,
  describeCardStore,
  type Emulator,
  type Fault,
  MarketplaceRequestError,
  marketplaceEmulator,
  type StripeAccount,
  type StripeEmulatorEventType,
  sampleCard,
  setupCardportServer,
  startEmulatorServer,
  stripeEmulator,
  type UnhandledRequestStrategy,
} from '@cardport/testing'
import type { Dispatcher } from 'undici'

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
    maxEntries: maybeNumber,
    onDrift: undefined,
  })
  await store.upsert({} as never, { observedAt: maybeNumber })
  closableStore('store', store, { checkOpen: undefined })
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

export async function testing(
  emulators: readonly Emulator[] | undefined,
  strategy: UnhandledRequestStrategy | undefined,
  passthrough: Dispatcher | undefined,
  source: CardSource | undefined,
  clock: (() => Date) | undefined,
  drop: Fault['drop'],
  accountType: StripeAccount['type'] | undefined,
  eventType: StripeEmulatorEventType | undefined,
  requestCount: (() => number) | undefined,
  providerFixture: CardProviderFixture<typeof MEMORY_PROVIDER_CAPABILITIES>,
  storeFixture: CardStoreFixture,
  owner: Owner,
): Promise<void> {
  const stripe = stripeEmulator({ origin: maybeString, now: clock, events: maybeBoolean })
  stripe.faults.inject({
    route: maybeString,
    times: maybeNumber,
    after: maybeNumber,
    latencyMs: maybeNumber,
    status: maybeNumber,
    retryAfter: maybeNumber,
    body: maybeString,
    drop,
  })
  const customer = stripe.seed.customer({ email: maybeString, name: maybeString })
  stripe.seed.account({
    type: accountType,
    country: maybeString,
    default_currency: maybeString,
  })
  stripe.seed.card(customer.id, maybeString, { default_for_currency: maybeBoolean })
  stripe.seed.bankAccount(customer.id, { last4: maybeString, currency: maybeString })
  stripe.seed.source(customer.id, { currency: maybeString })
  stripe.events.list({ type: eventType })
  const event = stripe.events.sign(stripe.events.list()[0]!, {
    secret: maybeString,
    timestamp: maybeNumber,
  })
  void event
  await stripe.events.deliver(() => undefined, { secret: maybeString, shuffle: maybeNumber })
  await deliverStripeEvents([], 'http://127.0.0.1:1/webhooks', {
    timestamp: maybeNumber,
    duplicate: maybeNumber,
    concurrency: maybeNumber,
  })

  const marketplace = marketplaceEmulator({
    origin: maybeString,
    now: clock,
    requirePostalCode: maybeBoolean,
  })
  marketplace.seed.marketplace({ id: maybeString, name: maybeString, secret: maybeString })
  marketplace.seed.account({ marketplace: maybeString, name: maybeString, merchant: maybeBoolean })
  marketplace.seed.card({
    account: maybeString,
    marketplace: maybeString,
    card_number: maybeString,
  })
  void new MarketplaceRequestError(400, 'request', 'request', 'Bad', {
    additional: maybeString,
    headers: undefined,
  })

  const server = await startEmulatorServer({ port: maybeNumber, host: maybeString, emulators })
  await server.close()
  setupCardportServer(...stripe.handlers).listen({ onUnhandledRequest: strategy })
  createUndiciBridge({ handlers: stripe.handlers, onUnhandledRequest: strategy, passthrough })
  sampleCard('card_1', owner, { holderName: maybeString, isDefault: maybeBoolean })

  describeCardProvider({
    name: 'provider',
    capabilities: MEMORY_PROVIDER_CAPABILITIES,
    sources: { valid: ['tok_visa'], declined: source, invalid: source, details: undefined },
    accountSources: undefined,
    currency: maybeString,
    otherCurrency: undefined,
    missingCardId: maybeString,
    nonCards: undefined,
    timeout: maybeNumber,
    setup: () => ({
      ...providerFixture,
      requestCount,
      teardown: undefined,
    }),
  })
  describeCardStore({
    name: 'store',
    timeout: maybeNumber,
    setup: () => ({
      store: storeFixture.store,
      readRow: undefined,
      reopen: undefined,
      teardown: undefined,
    }),
  })
}
