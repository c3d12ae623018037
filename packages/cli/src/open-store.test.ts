import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CardportError, type CardStore, memoryStore } from '@cardport/core'
import { describe, expect, it, vi } from 'vitest'
import { corruptDatabaseFile } from '../../store-sqlite/src/__fixtures__/damaged-database.js'
import { openStore } from './open-store.js'

// The pools the CLI opens, their ends counted: openStore must end each once, however often its
// store is closed.
const pools = vi.hoisted(() => ({ ended: 0, onEnd: () => {} }))
vi.mock('pg', () => ({
  default: {
    Pool: class {
      #ended = false
      async end() {
        pools.ended += 1
        pools.onEnd()
        if (this.#ended) throw new Error('Called end on pool more than once')
        this.#ended = true
      }
    },
  },
}))
// The store over that pool: a memory store stands in, since only the close() rule is tested.
const postgresStore = vi.hoisted(() =>
  vi.fn(async (_options: object): Promise<CardStore> => memoryStore()),
)
// Up to date unless a test says otherwise.
const pendingMigrations = vi.hoisted(() => vi.fn(async (): Promise<number[]> => []))
vi.mock('@cardport/store-postgres', () => ({ pendingMigrations, postgresStore }))

/** A PostgreSQL store's configuration; the mocks above stand in for its server. */
const POSTGRES = {
  kind: 'postgres',
  connectionString: 'postgres://app@db/app',
  label: 'postgres://app@db/app',
  holdsPassword: false,
} as const

describe('openStore', () => {
  it('throws the reason of its stop signal at once while a PostgreSQL store opens, and closes the store that opens later', async () => {
    // An open that waits for a server (its connection, its migrations) until released.
    let release = (_store: CardStore) => {}
    let called = () => {}
    const opens = new Promise<void>((resolve) => {
      called = resolve
    })
    postgresStore.mockImplementationOnce(() => {
      called()
      return new Promise<CardStore>((resolve) => {
        release = resolve
      })
    })
    const config = POSTGRES
    const stop = new AbortController()
    const opening = openStore(config, stop.signal)
    // The store is opening (the module loaded, however slowly).
    await opens
    const reason = new Error('interrupted (SIGTERM)')
    stop.abort(reason)
    // Rejected while the store is still opening: the open is not waited for.
    await expect(opening).rejects.toBe(reason)
    const late = memoryStore()
    const close = vi.spyOn(late, 'close')
    const endedBefore = pools.ended
    const ended = new Promise<void>((resolve) => {
      pools.onEnd = resolve
    })
    release(late)
    await ended
    expect(pools.ended).toBe(endedBefore + 1)
    expect(close).toHaveBeenCalledOnce()
  })

  it('opens nothing once its stop signal has aborted: no SQLite file is made', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cardport-open-store-'))
    try {
      const path = join(dir, 'cards.db')
      const stop = new AbortController()
      const reason = new Error('interrupted (SIGINT)')
      stop.abort(reason)
      await expect(
        openStore({ kind: 'sqlite', path, label: `sqlite:${path}` }, stop.signal),
      ).rejects.toBe(reason)
      expect(existsSync(path)).toBe(false)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it.each([
    ['dry-run', 'a dry run', 'run once without --dry-run'],
    ['list', 'list --store', 'run cardport reconcile once'],
  ] as const)(
    'refuses, reading only (%s), a damaged SQLite file with what the command can do',
    async (use, name, remedy) => {
      const dir = await mkdtemp(join(tmpdir(), 'cardport-open-store-'))
      try {
        const path = join(dir, 'cards.db')
        const damaged = corruptDatabaseFile(path)
        const config = { kind: 'sqlite', path, label: `sqlite:${path}` } as const
        const refused = await openStore(config, undefined, { readonly: use }).then(
          () => undefined,
          (error: CardportError) => error,
        )
        expect(refused?.code).toBe('invalid_request')
        expect(refused?.message).toBe(
          `it is damaged (SQLITE_CORRUPT), and ${name} makes no store: restore it from a backup, or ${remedy} on a new file to make one`,
        )
        expect(readFileSync(path)).toEqual(damaged)
        // A run that writes keeps the store's own advice: it may name a new file.
        await expect(openStore(config)).rejects.toThrow(
          'sqliteStore could not open its database file (SQLITE_CORRUPT: it is damaged): restore it from a backup, or name a new file to make one',
        )
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  )

  it.each([undefined, 'dry-run', 'list'] as const)(
    'says that a SQLite path names a folder, not a file (readonly: %s), and makes nothing in it',
    async (use) => {
      const dir = await mkdtemp(join(tmpdir(), 'cardport-open-store-'))
      try {
        const config = { kind: 'sqlite', path: dir, label: `sqlite:${dir}` } as const
        await expect(openStore(config, undefined, { readonly: use })).rejects.toThrow(
          "the path names a folder, not a file: name the store's file, such as cards.db in that folder",
        )
        expect(readdirSync(dir)).toEqual([])
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
    },
  )

  it('opens a PostgreSQL store read-only with migrate: false, and refuses one that needs migrations', async () => {
    const config = { ...POSTGRES, schema: 'billing' }
    const store = await openStore(config, undefined, { readonly: 'dry-run' })
    await store.close()
    expect(pendingMigrations).toHaveBeenLastCalledWith(expect.anything(), { schema: 'billing' })
    expect(postgresStore).toHaveBeenLastCalledWith(expect.objectContaining({ migrate: false }))
    pendingMigrations.mockResolvedValueOnce([3])
    const calls = postgresStore.mock.calls.length
    const endedBefore = pools.ended
    await expect(openStore(config, undefined, { readonly: 'dry-run' })).rejects.toThrow(
      'the store needs migration 3, and a dry run runs none: run once without --dry-run, or call migrate()',
    )
    expect(postgresStore.mock.calls.length).toBe(calls)
    expect(pools.ended).toBe(endedBefore + 1)
    // A real run migrates on open.
    await (await openStore(config)).close()
    expect(postgresStore).toHaveBeenLastCalledWith(expect.objectContaining({ migrate: true }))
  })

  it('ends the PostgreSQL pool once: a second close() resolves, and calls after it are refused', async () => {
    const endedBefore = pools.ended
    const store = await openStore(POSTGRES)
    await store.close()
    await expect(store.close()).resolves.toBeUndefined()
    expect(pools.ended).toBe(endedBefore + 1)
    const refused = await store
      .getDefault({ provider: 'memory', owner: { type: 'customer', id: 'cus_1' } })
      .then(
        () => undefined,
        (error: CardportError) => error,
      )
    expect(refused?.code).toBe('invalid_request')
  })
})
