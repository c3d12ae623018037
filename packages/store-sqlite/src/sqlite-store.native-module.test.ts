import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type CardportError, isCardportError } from '@cardport/core'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { sqliteStore } from './sqlite-store.js'

// better-sqlite3 loads its native module in the first `new Database()`: a module missing or
// built for another Node.js makes that constructor throw. Here it throws what is set below.
const failure = vi.hoisted(() => ({ error: undefined as unknown }))
vi.mock('better-sqlite3', () => ({
  default: class FailingDatabase {
    constructor() {
      throw failure.error
    }
  },
}))

/** An error as Node (or the `bindings` package) throws it, with `code` when given. */
function loaderError(message: string, code?: string): Error {
  const error = new Error(message)
  if (code !== undefined) Object.assign(error, { code })
  return error
}

const REBUILD =
  "better-sqlite3's native module did not load (%s): run `pnpm rebuild better-sqlite3` (or `npm rebuild better-sqlite3`)"

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cardport-sqlite-native-'))
})
afterEach(() => rmSync(dir, { recursive: true, force: true }))

/** What `sqliteStore` throws when opening a file; a store that opens fails the test. */
function openFailure(options: { readonly?: boolean } = {}): CardportError {
  try {
    sqliteStore({ filename: join(dir, 'cards.db'), ...options })
  } catch (error) {
    return error as CardportError
  }
  throw new Error('sqliteStore opened')
}

describe('sqliteStore: better-sqlite3 whose native module does not load', () => {
  const module = '/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node'
  it.each([
    {
      name: 'built for another Node.js version',
      error: loaderError(
        `The module '${module}'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 127. Please try re-compiling or re-installing\nthe module (for instance, using \`npm rebuild\` or \`npm install\`).`,
        'ERR_DLOPEN_FAILED',
      ),
      why: 'it was built for another Node.js version',
    },
    {
      name: 'never built (the bindings package found no file)',
      error: loaderError(
        `Could not locate the bindings file. Tried:\n → ${module}\n → /app/node_modules/better-sqlite3/build/Debug/better_sqlite3.node`,
      ),
      why: 'no built better_sqlite3.node was found',
    },
    {
      name: 'built for another platform',
      error: loaderError(`${module}: invalid ELF header`, 'ERR_DLOPEN_FAILED'),
      why: 'ERR_DLOPEN_FAILED',
    },
  ])(
    '$name: says to rebuild it, not to check the path, keeping a masked cause',
    ({ error, why }) => {
      failure.error = error
      for (const readonly of [false, true]) {
        const thrown = openFailure({ readonly })
        expect(isCardportError(thrown, 'invalid_request')).toBe(true)
        expect(thrown.message).toContain(REBUILD.replace('%s', why))
        expect(thrown.message).toContain('python3, make and a C++ compiler')
        expect(thrown.message).not.toMatch(/check that the path/)
        expect(thrown.cause).toBeInstanceOf(Error)
        expect(thrown.cause).not.toBe(error)
        expect(thrown.cause).toMatchObject({ name: 'Error', message: error.message })
        expect((thrown.cause as { code?: unknown }).code).toBe((error as { code?: unknown }).code)
      }
    },
  )

  it('masks a card number or key in the cause', () => {
    failure.error = loaderError(
      '/srv/4242424242424242/sk_live_abcdefghijklmnop1234/better_sqlite3.node: invalid ELF header',
      'ERR_DLOPEN_FAILED',
    )
    const thrown = openFailure()
    const cause = thrown.cause as Error
    expect(`${cause.message}\n${cause.stack}`).not.toMatch(/4242424242424242|sk_live_abcdef/)
    expect(cause).toMatchObject({ code: 'ERR_DLOPEN_FAILED' })
  })

  it('still reports any other error as a problem with the path, without a cause', () => {
    failure.error = new TypeError('Cannot open database because the directory does not exist')
    const thrown = openFailure()
    expect(thrown.message).toBe(
      'sqliteStore could not open its database file (its folder does not exist): check that the path names a file, not a folder, in a folder that exists and is writable',
    )
    expect(thrown.cause).toBeUndefined()
  })
})
