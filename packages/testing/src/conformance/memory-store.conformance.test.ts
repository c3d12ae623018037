import { memoryStore } from '@cardport/core'
import { describeCardStore } from './describe-card-store.js'

describeCardStore({
  name: 'memoryStore',
  setup: () => {
    const store = memoryStore()
    // The memory store keeps cards as objects: its "row" is what it returns.
    return { store, readRow: (scope, cardId) => store.get(scope, cardId) }
  },
})
