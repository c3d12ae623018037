import { memoryProvider, memoryStore } from '@cardport/core'
import { walletTour } from './wallet.js'

// Embedded defaults: no credentials, no network. The same tour runs on each provider.
const store = memoryStore()
const owner = { type: 'customer', id: 'cus_quickstart' } as const
const tokens = { first: 'tok_visa', second: 'tok_mastercard', replacement: 'tok_amex' }

for (const provider of [memoryProvider({ name: 'memory' })]) {
  await walletTour(provider, store, owner, tokens, (line) => console.log(line))
}
console.log('quickstart: done')
