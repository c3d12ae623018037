import { randomUUID } from 'node:crypto'
import {
  type Card,
  type CardProviderPrimitives,
  defineCardProvider,
  MEMORY_PROVIDER_CAPABILITIES,
  memoryProvider,
  type ProviderCapabilities,
} from '@cardport/core'
import { callerChosenPrimitives } from './__fixtures__/caller-chosen-primitives.js'
import {
  LATEST_CARD_CAPABILITIES,
  latestCardProvider,
} from './__fixtures__/latest-card-provider.js'
import { describeCardProvider } from './describe-card-provider.js'

/** A new customer and a new account for each check, as the memory provider makes them on use. */
const NEW_OWNERS = {
  customer: () => ({ type: 'customer', id: `cus_${randomUUID()}` }) as const,
  account: () => ({ type: 'account', id: `acct_${randomUUID()}` }) as const,
}

/** Stripe's generic-decline test number, as raw details: the memory provider declines it. */
const DECLINED_DETAILS = { number: '4000000000000002', expMonth: 12, expYear: 2040, cvc: '737' }

// The memory provider in core: every capability, Stripe's default rules.
describeCardProvider({
  name: 'memoryProvider',
  capabilities: MEMORY_PROVIDER_CAPABILITIES,
  sources: {
    valid: ['tok_visa', 'tok_mastercard', 'tok_amex'],
    declined: 'tok_chargeDeclined',
    // Stripe's generic-decline test number, which the memory provider declines as Stripe does:
    // raw details that reach the adapter's own refusal.
    declinedDetails: DECLINED_DETAILS,
  },
  otherCurrency: { currency: 'eur', sources: ['tok_visa', 'tok_mastercard'] },
  setup: () => {
    const provider = memoryProvider()
    return {
      provider,
      owners: NEW_OWNERS,
      // The memory provider's raw payload is the card itself.
      readRawCard: (owner, cardId) => provider.getCard(owner, cardId),
      teardown: () => provider.reset(),
    }
  },
})

/**
 * Customers under `'latest-card'` (every new card becomes the default; deleting it falls back to
 * the most recently added one), accounts as external accounts (a default per currency: its first
 * card): the suite leaves the accounts' defaults to its external accounts group, and the check
 * that an update keeps the default expects an account's first card, not the policy's latest.
 */
const LATEST_CUSTOMERS_CAPABILITIES = {
  ...MEMORY_PROVIDER_CAPABILITIES,
  defaultPolicy: 'latest-card',
  setDefaultCard: false,
  invalidateCard: false,
} as const satisfies ProviderCapabilities

describeCardProvider({
  name: 'latest-card customers, external accounts',
  capabilities: LATEST_CUSTOMERS_CAPABILITIES,
  sources: { valid: ['tok_visa', 'tok_mastercard', 'tok_amex'], declinedDetails: DECLINED_DETAILS },
  setup: () => {
    const inner = memoryProvider({ name: 'memory-latest-customers' })
    const provider = defineCardProvider({
      name: 'memory-latest-customers',
      capabilities: LATEST_CUSTOMERS_CAPABILITIES,
      // A customer's new card becomes the default; an account's keeps its currency's rule.
      createCard: async (owner, input, context) => {
        const card = await inner.createCard(owner, input, context)
        return owner.type === 'customer' ? inner.setDefaultCard(owner, card.id) : card
      },
      getCard: (owner, cardId) => inner.getCard(owner, cardId),
      listCards: (owner, options) => inner.listCards(owner, options),
      updateCard: (owner, cardId, patch) => inner.updateCard(owner, cardId, patch),
      deleteCard: (owner, cardId) => inner.deleteCard(owner, cardId),
      parseCard: (raw, owner) => inner.parseCard(raw, owner),
    })
    return {
      provider,
      owners: NEW_OWNERS,
      readRawCard: (owner, cardId) => provider.getCard(owner, cardId),
      teardown: () => inner.reset(),
    }
  },
})

/**
 * A marketplace-like provider built on the memory provider: account owners only, the caller
 * chooses the default, cards are invalidated rather than deleted or updated, and only tokens
 * are accepted. It exercises the suite's other branches: unsupported operations, an owner
 * type the provider does not hold, and an account as the primary owner.
 */
const RESTRICTED_CAPABILITIES = {
  ownerTypes: ['account'],
  createCard: true,
  getCard: true,
  listCards: true,
  updateCard: false,
  deleteCard: false,
  setDefaultCard: true,
  invalidateCard: true,
  cardDetails: false,
  externalAccounts: false,
  defaultPolicy: 'caller-chosen',
  updatableFields: [],
} as const satisfies ProviderCapabilities

function restrictedProvider() {
  const inner = memoryProvider({ name: 'memory-restricted' })
  const counter = { requests: 0 }
  // The memory provider promotes a card when the default is invalidated: the adapter records
  // the caller's choice instead.
  const chosen = callerChosenPrimitives(inner)
  const provider = defineCardProvider({
    name: 'memory-restricted',
    capabilities: RESTRICTED_CAPABILITIES,
    ...counted(counter, {
      createCard: chosen.createCard,
      getCard: chosen.getCard,
      listCards: chosen.listCards,
      setDefaultCard: chosen.setDefaultCard,
      invalidateCard: chosen.invalidateCard,
    }),
    parseCard: (raw, owner) => inner.parseCard(raw, owner),
  })
  return { provider, inner, counter }
}

describeCardProvider({
  name: 'a restricted provider (accounts only, caller-chosen default, no delete or update)',
  capabilities: RESTRICTED_CAPABILITIES,
  sources: { valid: ['tok_visa', 'tok_mastercard'], declined: 'tok_chargeDeclined' },
  setup: () => {
    const { provider, inner, counter } = restrictedProvider()
    return {
      provider,
      owners: { account: () => ({ type: 'account', id: `acct_${randomUUID()}` }) },
      readRawCard: (owner, cardId) => inner.getCard(owner, cardId),
      // Each primitive call stands for a request: the core must make none for what it refuses.
      requestCount: () => counter.requests,
    }
  },
})

/** A provider whose cards have no default at all, and that cannot set one. */
const NO_DEFAULT_CAPABILITIES = {
  ...MEMORY_PROVIDER_CAPABILITIES,
  ownerTypes: ['customer'],
  setDefaultCard: false,
  invalidateCard: false,
  externalAccounts: false,
  defaultPolicy: 'none',
} as const satisfies ProviderCapabilities

function noDefaultProvider() {
  const inner = memoryProvider({ name: 'memory-no-default' })
  const plain = (card: Card): Card => ({ ...card, isDefault: false })
  return defineCardProvider({
    name: 'memory-no-default',
    capabilities: NO_DEFAULT_CAPABILITIES,
    createCard: async (owner, input, { idempotencyKey }) =>
      plain(await inner.createCard(owner, input, { idempotencyKey })),
    getCard: async (owner, cardId) => plain(await inner.getCard(owner, cardId)),
    listCards: async (owner, options) => {
      const page = await inner.listCards(owner, options)
      return { ...page, data: page.data.map(plain) }
    },
    updateCard: async (owner, cardId, patch) => plain(await inner.updateCard(owner, cardId, patch)),
    deleteCard: (owner, cardId) => inner.deleteCard(owner, cardId),
    parseCard: (raw, owner) => {
      const card = inner.parseCard(raw, owner)
      return card && plain(card)
    },
  })
}

describeCardProvider({
  name: "a provider without defaults (defaultPolicy 'none')",
  capabilities: NO_DEFAULT_CAPABILITIES,
  sources: { valid: ['tok_visa', 'tok_discover'], declinedDetails: DECLINED_DETAILS },
  setup: () => {
    const provider = noDefaultProvider()
    return {
      provider,
      owners: { customer: () => ({ type: 'customer', id: `cus_${randomUUID()}` }) },
      readRawCard: (owner, cardId) => provider.getCard(owner, cardId),
    }
  },
})

// A marketplace-like provider: the most recently added valid card is the default
// ('latest-card'), and only the name and metadata of a card change. It exercises the suite's
// 'latest-card' branch and its refusals of fields left out of updatableFields.
describeCardProvider({
  name: "a provider whose latest valid card is the default (defaultPolicy 'latest-card')",
  capabilities: LATEST_CARD_CAPABILITIES,
  sources: {
    valid: ['tok_visa', 'tok_mastercard', 'tok_amex'],
    declined: 'tok_chargeDeclined',
    declinedDetails: DECLINED_DETAILS,
  },
  setup: () => {
    const { provider, requestCount } = latestCardProvider()
    return {
      provider,
      owners: { customer: () => ({ type: 'customer', id: `cus_${randomUUID()}` }) },
      readRawCard: (owner, cardId) => provider.getCard(owner, cardId),
      requestCount,
    }
  },
})

/**
 * The primitives with a call counter: an adapter's primitives are where its requests happen,
 * so their calls stand for requests.
 */
function counted<T extends Partial<CardProviderPrimitives>>(
  counter: { requests: number },
  primitives: T,
): T {
  const wrapped: Record<string, unknown> = {}
  for (const [name, primitive] of Object.entries(primitives)) {
    wrapped[name] = (...args: unknown[]) => {
      counter.requests += 1
      return (primitive as (...args: unknown[]) => unknown)(...args)
    }
  }
  return wrapped as T
}
