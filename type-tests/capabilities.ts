// A call the capabilities leave out is a compile error where the provider's type is known, a
// supported call compiles, and a provider widened to `CardProvider` serves code that switches.
import {
  type Card,
  type CardProvider,
  createCardSync,
  defineCardProvider,
  type ListOptions,
  listAll,
  memoryProvider,
  memoryStore,
  type Owner,
  type Page,
  type ProviderCapabilities,
  toArray,
} from '@cardport/core'
import { marketplaceProvider } from '@cardport/marketplace'
import { stripeProvider } from '@cardport/stripe'

const customer = { type: 'customer', id: 'cus_1' } as const
const account = { type: 'account', id: 'acct_1' } as const

export async function stripe(): Promise<void> {
  const provider = stripeProvider({ apiKey: 'sk_test_1' })
  // @ts-expect-error Stripe cannot invalidate a card
  await provider.invalidateCard(customer, 'card_1')
  const card: Card = await provider.createCard(customer, { source: 'tok_visa' })
  await provider.createCard(
    account,
    { source: 'tok_visa', currency: 'usd' },
    { idempotencyKey: 'k' },
  )
  await provider.updateCard(customer, card.id, { holderName: 'Ada', expMonth: 1, expYear: 2030 })
  await provider.updateCard(customer, card.id, { address: { line1: '1 Main St' }, metadata: {} })
  await provider.setDefaultCard(customer, card.id)
  await provider.deleteCard(customer, card.id)
  const fallback: Card | null = await provider.getDefaultCard(customer)
  void fallback
}

export async function marketplace(): Promise<void> {
  const provider = marketplaceProvider({
    baseUrl: 'https://mp.test',
    marketplaceId: 'MP1',
    secret: 's',
  })
  // @ts-expect-error the marketplace cannot delete a card
  await provider.deleteCard(account, 'CC1')
  // @ts-expect-error the marketplace picks the default itself
  await provider.setDefaultCard(account, 'CC1')
  // @ts-expect-error a tokenized card's name never changes
  await provider.updateCard(account, 'CC1', { holderName: 'Ada' })
  // @ts-expect-error nor its expiry
  await provider.updateCard(account, 'CC1', { expMonth: 1, expYear: 2030 })
  // @ts-expect-error the marketplace holds accounts' cards only
  await provider.createCard(customer, { source: 'CC1' })
  // @ts-expect-error and lists accounts' cards only
  listAll(provider, customer)
  await provider.updateCard(account, 'CC1', { metadata: { order: '1' } })
  await provider.invalidateCard(account, 'CC1')
  await provider.createCard(account, {
    source: { number: '4111 1111 1111 1111', expMonth: 4, expYear: 2030, cvc: '123' },
  })
  await provider.close()
}

export async function memory(): Promise<void> {
  const provider = memoryProvider()
  await provider.invalidateCard(customer, 'card_1')
  await provider.updateCard(account, 'card_1', { holderName: null })
  provider.reset()
}

const VAULT_CAPABILITIES = {
  ownerTypes: ['account'],
  createCard: true,
  getCard: true,
  listCards: true,
  updateCard: true,
  deleteCard: false,
  setDefaultCard: true,
  invalidateCard: true,
  cardDetails: true,
  externalAccounts: false,
  defaultPolicy: 'caller-chosen',
  updatableFields: ['metadata'],
} as const satisfies ProviderCapabilities

export async function custom(card: Card): Promise<CardProvider> {
  const provider = defineCardProvider({
    name: 'vault',
    capabilities: VAULT_CAPABILITIES,
    createCard: async () => card,
    getCard: async () => card,
    listCards: async () => ({ data: [card], hasMore: false, nextCursor: null }),
    updateCard: async () => card,
    setDefaultCard: async () => card,
    invalidateCard: async () => card,
    parseCard: () => null,
  })
  // @ts-expect-error deleteCard is false in the capabilities
  await provider.deleteCard(account, 'v_1')
  // @ts-expect-error updatableFields is ['metadata']
  await provider.updateCard(account, 'v_1', { holderName: 'Ada' })
  // @ts-expect-error the vault holds accounts' cards only
  await provider.getCard(customer, 'v_1')
  // @ts-expect-error nor lists a customer's
  listAll(provider, customer)
  await toArray(listAll(provider, account), { limit: 10 })
  const writeOnly = defineCardProvider({
    name: 'write-only',
    capabilities: { ...VAULT_CAPABILITIES, listCards: false, getCard: false },
    createCard: async () => card,
    updateCard: async () => card,
    setDefaultCard: async () => card,
    invalidateCard: async () => card,
    parseCard: () => null,
  })
  // @ts-expect-error a provider that cannot list cards has nothing for listAll
  listAll(writeOnly, account)
  await provider.updateCard(account, 'v_1', { metadata: { a: 'b' } })
  return provider
}

/** The main story: application code that picks its provider at run time. */
export function pickProvider(name: 'stripe' | 'marketplace' | 'memory'): CardProvider {
  switch (name) {
    case 'stripe':
      return stripeProvider({ apiKey: 'sk_test_1' })
    case 'marketplace':
      return marketplaceProvider({ baseUrl: 'https://mp.test', marketplaceId: 'MP1', secret: 's' })
    case 'memory':
      return memoryProvider()
  }
}

export async function switching(provider: CardProvider): Promise<Card[]> {
  const card = await provider.createCard(customer, { source: 'tok_visa', makeDefault: true })
  await provider.updateCard(customer, card.id, { holderName: 'Ada' })
  if (provider.capabilities.deleteCard) await provider.deleteCard(customer, card.id)
  else await provider.invalidateCard(customer, card.id)
  const providers: CardProvider[] = [pickProvider('stripe'), memoryProvider()]
  const sync = createCardSync({ provider: stripeProvider({ apiKey: 'k' }), store: memoryStore() })
  const stored = await sync.getForOwner(customer)
  const report = await createCardSync({
    provider: marketplaceProvider({
      baseUrl: 'https://mp.test',
      marketplaceId: 'MP1',
      secret: 's',
    }),
    store: memoryStore(),
  }).reconcile(undefined, { dryRun: true })
  void [providers, stored, report]
  for await (const each of listAll(provider, customer)) {
    const item: Card = each
    void item
  }
  return toArray(listAll(provider, customer), { limit: 100 })
}

/** What listAll is given by code that does not hold a provider of a known type. */
export async function listers(
  which: boolean,
  general: CardProvider,
  picked: Pick<CardProvider, 'listCards' | 'name'>,
  owner: Owner,
): Promise<void> {
  const either = which
    ? stripeProvider({ apiKey: 'k' })
    : marketplaceProvider({ baseUrl: 'https://mp.test', marketplaceId: 'MP1', secret: 's' })
  listAll(either, account)
  listAll(general, owner)
  listAll(picked, owner)
  listAll({ name: general.name, listCards: general.listCards }, owner)
  await toArray(listAll(memoryProvider(), owner, { pageSize: 5 }), { limit: 5 })

  const page: Page<Card> = { data: [], hasMore: false, nextCursor: null }
  const overloaded: {
    name: string
    listCards(owner: Owner, options?: ListOptions): Promise<Page<Card>>
    listCards(ownerId: string): Promise<Page<Card>>
  } = { name: 'overloaded', listCards: async () => page }
  // TypeScript reads the last signature only: listAll still takes an owner, and only an owner.
  listAll(overloaded, owner)
  // @ts-expect-error an owner id is not an owner
  listAll(overloaded, 'cus_1')
  const generic = {
    name: 'generic',
    listCards: async <O extends Owner>(_owner: O, _options?: ListOptions) => page,
  }
  listAll(generic, customer)
  const optional = { name: 'optional', listCards: async (_owner?: Owner) => page }
  listAll(optional, owner)
  // @ts-expect-error listAll lists an owner's cards: it needs the owner
  listAll(optional, undefined)
  listAll({ name: 'no-arguments', listCards: async () => page }, owner)
}

/** A helper generic over the provider's capabilities, as a library around cardport writes. */
export function genericHelpers<C extends ProviderCapabilities, P extends CardProvider>(
  provider: CardProvider<C>,
  other: P,
  owner: Owner,
): void {
  listAll(provider, owner)
  listAll(other, owner)
}
