import { marketplaceProvider } from '@cardport/marketplace'
import { spawnEmulatorServer } from './emulator-process.mjs'
import { throughput } from './lib.mjs'
const server = await spawnEmulatorServer({ kind: 'marketplace', cards: 100, replay: { cardIndex: 50, page: 10 } })
const provider = marketplaceProvider({ baseUrl: server.replayUrl, marketplaceId: server.marketplaceId, secret: server.secret, retry: { retries: 0 } })
const owner = { type: 'account', id: server.accountId }
console.log(await throughput(() => provider.listCards(owner, { limit: 10 }), { concurrency: 16, durationMs: 4000 }))
await provider.close(); await server.close()
