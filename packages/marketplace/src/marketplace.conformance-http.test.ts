import {
  describeCardProvider,
  type EmulatorServer,
  marketplaceEmulator,
  startEmulatorServer,
} from '@cardport/testing'
import { afterAll, beforeAll } from 'vitest'
import {
  CONFORMANCE_SOURCES,
  MISSING_CARD_ID,
  NON_CARDS,
} from './__fixtures__/conformance-fixture.js'
import {
  MARKETPLACE_CAPABILITIES,
  type MarketplaceProvider,
  marketplaceProvider,
} from './marketplace-provider.js'

// The conformance suite again, against the emulator served over real HTTP on a loopback port:
// the provider uses its own undici Agent, so undici's real socket path (keep-alive pool,
// timeouts, parsing) is exercised. No MSW in this file: it would intercept node:http.

let server: EmulatorServer
beforeAll(async () => {
  server = await startEmulatorServer({ emulators: [marketplaceEmulator()] })
})
afterAll(() => server.close())

describeCardProvider({
  name: 'marketplaceProvider over the emulator (real HTTP on loopback)',
  capabilities: MARKETPLACE_CAPABILITIES,
  sources: CONFORMANCE_SOURCES,
  missingCardId: MISSING_CARD_ID,
  nonCards: NON_CARDS,
  setup: () => {
    const marketplace = server.marketplace!
    const provider: MarketplaceProvider = marketplaceProvider({
      baseUrl: server.url,
      marketplaceId: marketplace.marketplaceId,
      secret: marketplace.secret,
      retry: { sleep: async () => {} },
    })
    return {
      provider,
      owners: { account: () => ({ type: 'account', id: marketplace.seed.account().id }) },
      readRawCard: async (_owner, cardId) => marketplace.state.card(cardId),
      requestCount: () => marketplace.state.requests().length,
      teardown: async () => {
        await provider.close()
        server.reset()
      },
    }
  },
})
