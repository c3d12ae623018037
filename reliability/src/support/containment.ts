// The containment check of the hostile-input suite: runs a call and checks that it returned or
// threw a CardportError, that a failed call left the store's tables as they were, and that no
// error, log line, result or stored row holds a card number or a secret. It has its own tests
// (containment.test.ts): a check that cannot fail proves nothing.

import type { CardStore } from '@cardport/core'
import { isCardportError } from '@cardport/core'
import { sqliteStore } from '@cardport/store-sqlite'
import Database from 'better-sqlite3'
import { expect, vi } from 'vitest'
import { ALL_SECRETS } from './hostile-arbitraries.js'
import { errorText, findLeaks, safeJson } from './leak-scan.js'

/**
 * Runs a call with console output captured, then checks: it returned or threw a CardportError;
 * when it threw, the store's tables are as they were; no error, log line, result or stored row
 * holds a card number or a secret. Returns what the call returned or threw.
 */
export async function contained<T>(
  call: () => T | Promise<T>,
  db?: Database.Database,
): Promise<{ result?: T; error?: unknown }> {
  const before = db ? snapshot(db) : undefined
  const logs: string[] = []
  const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      logs.push(args.map((arg) => (typeof arg === 'string' ? arg : errorText(arg))).join(' '))
    }),
  )
  let result: T | undefined
  let error: unknown
  let threw = false
  try {
    result = await call()
  } catch (caught) {
    threw = true
    error = caught
  } finally {
    for (const spy of spies) spy.mockRestore()
  }
  if (threw) {
    expect(isCardportError(error), `threw ${describe_(error)}`).toBe(true)
    if (db) expect(snapshot(db), 'the store after a failed call').toEqual(before)
  }
  const texts = [
    ['error', threw ? errorText(error) : ''],
    ['log', logs.join('\n')],
    ['result', safeJson(withoutBookkeeping(result))],
    ['stored rows', db ? storedText(db) : ''],
  ] as const
  for (const [where, text] of texts) {
    expect(findLeaks(text, ALL_SECRETS), `leaks in the ${where}`).toEqual([])
  }
  return threw ? { error } : { result: result as T }
}

/**
 * A result without the store's bookkeeping (`observedAt` is a 13-digit time in ms, which the
 * detector would take for a card number one time in ten).
 */
function withoutBookkeeping(result: unknown): unknown {
  if (typeof result !== 'object' || result === null || !('observedAt' in result)) return result
  const { observedAt: _o, updatedAt: _u, version: _v, ...card } = result as Record<string, unknown>
  return card
}

/** A store over a database the test can read directly. */
export function openStore(): { db: Database.Database; store: CardStore } {
  const db = new Database(':memory:')
  return { db, store: sqliteStore({ database: db }) }
}

/** Runs `body` with a fresh store (one per property run: a failed run leaves nothing behind). */
export async function withStore(
  body: (db: Database.Database, store: CardStore) => Promise<void>,
): Promise<void> {
  const { db, store } = openStore()
  try {
    await body(db, store)
  } finally {
    await store.close()
    db.close()
  }
}

/** Every row of every cardport table, for before/after comparison. */
export function snapshot(db: Database.Database): Record<string, unknown[]> {
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'cardport_%'")
    .all() as { name: string }[]
  return Object.fromEntries(
    tables.map(({ name }) => [name, db.prepare(`SELECT * FROM "${name}"`).all()]),
  )
}

/** The stored rows as text, without the store's numeric bookkeeping (times, versions). */
export function storedText(db: Database.Database): string {
  const BOOKKEEPING = new Set(['seq', 'version', 'observed_at', 'updated_at', 'applied_at'])
  const rows = Object.values(snapshot(db)).flat() as Record<string, unknown>[]
  return safeJson(
    rows.map((row) => Object.entries(row).filter(([column]) => !BOOKKEEPING.has(column))),
  )
}

/** A short description of a thrown value for an assertion message. */
function describe_(error: unknown): string {
  if (error instanceof Error) return `${error.constructor.name}: ${error.message.slice(0, 300)}`
  return typeof error
}
