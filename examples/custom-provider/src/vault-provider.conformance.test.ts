import { describeCardProvider } from '@cardport/testing'
import { setupServer } from 'msw/node'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { VAULT_ORIGIN, VAULT_TEST_KEY, vaultApi } from './vault-api.js'
import { VAULT_CAPABILITIES, vaultProvider } from './vault-provider.js'

// The adapter is done when this is green: one test per rule of the provider contract that
// VAULT_CAPABILITIES makes applicable, and an `unsupported_operation` test for each thing it
// declares it cannot do (invalidation, raw card details, account owners, address updates).
const vault = vaultApi()
const server = setupServer(...vault.handlers)
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterEach(() => {
  server.resetHandlers()
  vault.reset()
})
afterAll(() => server.close())

describeCardProvider({
  name: 'vaultProvider over the vault API',
  capabilities: VAULT_CAPABILITIES,
  sources: {
    valid: ['vtok_visa', 'vtok_mastercard', 'vtok_amex'],
    declined: 'vtok_declined',
    invalid: 'vtok_expired',
    unknown: 'vtok_cardportConformanceUnknown', // must give invalid_request
  },
  // The vault's own payloads that are not cards: parseCard must return null for each.
  nonCards: [
    { id: 'vcus_1', object: 'customer', email: null, preferred_card: null, created: 1 },
    { id: 'vtok_1', object: 'token', card: { network: 'VISA', last_four: '4242' } },
    { object: 'list', data: [], next_page_token: null },
    { id: 'vcrd_1', object: 'card', deleted: true },
  ],
  missingCardId: 'vcrd_cardportConformanceMissing',
  setup: () => ({
    provider: vaultProvider({ apiKey: VAULT_TEST_KEY }),
    // A new customer for every call: no two tests, nor two owners of one test, share cards.
    owners: { customer: () => ({ type: 'customer', id: vault.seed.customer().id }) },
    // The card as the vault's API gives it, for the check that parseCard reads it as getCard.
    readRawCard: async (owner, cardId) => {
      const response = await fetch(`${VAULT_ORIGIN}/v2/customers/${owner.id}/cards/${cardId}`, {
        headers: { Authorization: `Bearer ${VAULT_TEST_KEY}` },
      })
      return response.json()
    },
    // With it, the suite also checks that what the core refuses locally sends no request.
    requestCount: () => vault.state.requestCount(),
  }),
})
