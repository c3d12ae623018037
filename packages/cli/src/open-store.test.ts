import { type CardportError, memoryStore } from '@cardport/core'
import { describe, expect, it, vi } from 'vitest'
import { openStore } from './open-store.js'

// The pool the CLI opens, counted: openStore must end it once, however often it is closed.
const pools = vi.hoisted(() => ({ ended: 0 }))
vi.mock('pg', () => ({
  default: {
    Pool: class {
      async end() {
        pools.ended += 1
        if (pools.ended > 1) throw new Error('Called end on pool more than once')
      }
    },
  },
}))
// The store over that pool: a memory store stands in, since only the close() rule is tested.
vi.mock('@cardport/store-postgres', () => ({ postgresStore: async () => memoryStore() }))

describe('openStore', () => {
  it('ends the PostgreSQL pool once: a second close() resolves, and calls after it are refused', async () => {
    const store = await openStore({
      kind: 'postgres',
      connectionString: 'postgres://app@db/app',
      label: 'postgres://app@db/app',
    })
    await store.close()
    await expect(store.close()).resolves.toBeUndefined()
    expect(pools.ended).toBe(1)
    const refused = await store
      .getDefault({ provider: 'memory', owner: { type: 'customer', id: 'cus_1' } })
      .then(
        () => undefined,
        (error: CardportError) => error,
      )
    expect(refused?.code).toBe('invalid_request')
  })
})
