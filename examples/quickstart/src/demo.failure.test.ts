import { existsSync } from 'node:fs'
import { CardportError } from '@cardport/core'
import { expect, it, vi } from 'vitest'
import { runQuickstart } from './demo.js'

// What the demo opened, recorded by the wrappers below: the temporary folder and the MSW server.
const opened = vi.hoisted(() => ({
  folders: [] as string[],
  servers: [] as { closed: number }[],
}))

// The store's file cannot be opened (a broken better-sqlite3, a full disk): `sqliteStore` throws.
vi.mock('@cardport/store-sqlite', () => ({
  sqliteStore: () => {
    throw new CardportError('invalid_request', 'sqliteStore could not open its database file')
  },
}))
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>()
  const mkdtempSync = ((prefix: string, options?: unknown) => {
    const folder = fs.mkdtempSync(prefix, options as undefined)
    opened.folders.push(folder)
    return folder
  }) as typeof fs.mkdtempSync
  return { ...fs, default: { ...fs, mkdtempSync }, mkdtempSync }
})
vi.mock('@cardport/testing/emulators', async (importOriginal) => {
  const emulators = await importOriginal<typeof import('@cardport/testing/emulators')>()
  return {
    ...emulators,
    setupCardportServer: (...handlers: Parameters<typeof emulators.setupCardportServer>) => {
      const server = emulators.setupCardportServer(...handlers)
      const record = { closed: 0 }
      opened.servers.push(record)
      const close = server.close.bind(server)
      server.close = () => {
        record.closed += 1
        close()
      }
      return server
    },
  }
})

it('removes the temporary folder and closes the server when the store cannot be opened', async () => {
  await expect(runQuickstart(() => {})).rejects.toThrow('could not open its database file')

  expect(opened.folders).toHaveLength(1)
  expect(existsSync(opened.folders[0]!)).toBe(false)
  expect(opened.servers).toEqual([{ closed: 1 }])
})
