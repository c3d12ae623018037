import { closableStore, memoryStore } from '@cardport/core'
import { describeCardStore } from './describe-card-store.js'

describeCardStore({
  name: 'memoryStore',
  setup: () => {
    const store = memoryStore()
    // The memory store keeps cards as objects: its "row" is what it returns. Its data goes with
    // it, so there is nothing to reopen: the suite reports the nothing-written check skipped.
    return { store, readRow: (scope, cardId) => store.get(scope, cardId) }
  },
})

// A store that closes without closing the memory store under it (as a database store leaves the
// database open): the suite reopens it to read that nothing was written after close().
describeCardStore({
  name: 'closableStore over a memoryStore that outlives it',
  setup: () => {
    const data = memoryStore()
    const open = () => closableStore('memoryStore view', { ...data, async close() {} })
    return { store: open(), reopen: open }
  },
})
