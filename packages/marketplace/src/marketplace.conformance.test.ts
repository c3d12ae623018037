import { describeCardProvider, marketplaceEmulator, setupCardportServer } from '@cardport/testing'
import { afterAll, beforeAll, describe } from 'vitest'
import {
  CONFORMANCE_SOURCES,
  MISSING_CARD_ID,
  NON_CARDS,
} from './__fixtures__/conformance-fixture.js'
import { MARKETPLACE_CAPABILITIES, marketplaceProvider } from './marketplace-provider.js'

// The conformance suite against the marketplace emulator, answered in process through the
// undici bridge (MSW does not intercept undici's request()).

const marketplace = marketplaceEmulator()
const server = setupCardportServer(...marketplace.handlers)
beforeAll(() => server.listen({ onUnhandledRequest: 'error' }))
afterAll(() => server.close())

// Under its default name, and under a name of its own, which every card and error must carry.
describe.each([
  ['its default name', undefined],
  ['a name of its own', 'mp-eu'],
])('%s', (_case, name) => {
  describeCardProvider({
    name: 'marketplaceProvider over the emulator (undici bridge)',
    capabilities: MARKETPLACE_CAPABILITIES,
    sources: CONFORMANCE_SOURCES,
    missingCardId: MISSING_CARD_ID,
    nonCards: NON_CARDS,
    setup: () => ({
      provider: marketplaceProvider({
        baseUrl: marketplace.origin,
        marketplaceId: marketplace.marketplaceId,
        secret: marketplace.secret,
        dispatcher: server.dispatcher,
        retry: { sleep: async () => {} },
        name,
      }),
      owners: { account: () => ({ type: 'account', id: marketplace.seed.account().id }) },
      readRawCard: async (_owner, cardId) => marketplace.state.card(cardId),
      requestCount: () => marketplace.state.requests().length,
      teardown: () => {
        server.resetHandlers()
        marketplace.reset()
      },
    }),
  })
})
