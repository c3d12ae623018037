import { describe, expect, it } from 'vitest'
import {
  inTransaction,
  isConnectionLost,
  type PostgresPool,
  type PostgresPoolClient,
} from './postgres-client.js'

describe('inTransaction on a pool', () => {
  it('discards a connection that could not roll back: it is in an unknown state', async () => {
    const refused = new Error('refused by the work')
    const rollbackFailed = new Error('ROLLBACK failed')
    const { pool, released } = poolOf({
      query: async (text) => {
        if (text === 'ROLLBACK') throw rollbackFailed
        return { rows: [] }
      },
    })
    await expect(
      inTransaction(pool, async () => {
        throw refused
      }),
    ).rejects.toBe(refused)
    expect(released).toHaveLength(1)
    expect(released[0]).toBe(rollbackFailed)
  })

  it('discards a connection that emitted an error while held, and keeps what it committed', async () => {
    // The socket reset just after COMMIT was answered: pg emits it as the client's 'error'.
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })
    let emit: ((error: Error) => void) | undefined
    const { pool, released } = poolOf({
      on: (_event, listener) => {
        emit = listener
      },
      query: async (text) => {
        if (text === 'COMMIT') emit?.(reset)
        return { rows: [] }
      },
    })
    expect(await inTransaction(pool, async () => 'committed')).toBe('committed')
    expect(released).toHaveLength(1)
    expect(released[0]).toBe(reset)
  })
})

describe('isConnectionLost', () => {
  it('takes the SQLSTATEs and socket errors of a lost connection, and no other code', () => {
    const lost = ['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'EPIPE']
    for (const code of lost) {
      expect(isConnectionLost(Object.assign(new Error('x'), { code })), code).toBe(true)
    }
    // A statement timeout, a deadlock, a unique violation: the connection is still there.
    for (const code of ['57014', '40P01', '23505']) {
      expect(isConnectionLost(Object.assign(new Error('x'), { code })), code).toBe(false)
    }
  })
})

// --- helpers ---

/** A pool of one fake connection, whose releases it records (the error each was given). */
function poolOf(connection: Omit<PostgresPoolClient, 'release'>): {
  pool: PostgresPool
  released: unknown[]
} {
  const released: unknown[] = []
  const pool: PostgresPool = {
    query: async () => ({ rows: [] }),
    connect: async () => ({
      ...connection,
      release: (error) => {
        released.push(error)
      },
    }),
  }
  return { pool, released }
}
