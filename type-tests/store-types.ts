// The built-in stores always have `retirements` and `listByOwners`, and their types say so: an
// application calls them with no check that they are there. A store typed `CardStore` (one
// written by hand) may still lack them, and every one of them goes wherever a `CardStore` does.
import {
  type CardScope,
  type CardStore,
  type CompleteCardStore,
  createCardSync,
  memoryProvider,
  memoryStore,
} from '@cardport/core'
import { type PostgresPool, postgresStore } from '@cardport/store-postgres'
import { sqliteStore } from '@cardport/store-sqlite'

const scope: CardScope = { provider: 'memory', owner: { type: 'customer', id: 'cus_1' } }

async function useWhole(store: CompleteCardStore): Promise<void> {
  await store.retirements.save(scope, 'key_1', [{ cardId: 'card_1', currency: null }])
  await store.retirements.load(scope, 'key_1')
  await store.retirements.remove(scope, 'key_1')
  const lists: unknown[][] = await store.listByOwners([scope])
  void lists
  // Still a CardStore.
  createCardSync({ provider: memoryProvider(), store })
}

export async function builtInStores(pool: PostgresPool): Promise<void> {
  const memory = memoryStore()
  await memory.retirements.save(scope, 'key_1', [])
  await memory.listByOwners([scope])
  await useWhole(memory)

  const sqlite = sqliteStore({ filename: ':memory:' })
  await sqlite.retirements.load(scope, 'key_1')
  await sqlite.listByOwners([scope])
  await useWhole(sqlite)

  const postgres = await postgresStore({ client: pool })
  await postgres.retirements.remove(scope, 'key_1')
  await postgres.listByOwners([scope])
  await useWhole(postgres)

  const widened: CardStore = postgres
  createCardSync({ provider: memoryProvider(), store: widened })
}

export async function handWritten(store: CardStore): Promise<void> {
  // @ts-expect-error a CardStore need not keep retirement notes
  await store.retirements.load(scope, 'key_1')
  // @ts-expect-error nor list many owners at once
  await store.listByOwners([scope])
  // @ts-expect-error and is not taken where a complete one is asked for
  await useWhole(store)
  await store.retirements?.load(scope, 'key_1')
}
