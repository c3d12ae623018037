import type { Card } from './card.js'
import { isCardportError } from './errors.js'
import type { CardStore } from './store.js'

/** Hands owners' batches to one store write; see {@link createGroupWriter}. */
export interface GroupWriter {
  /** Hands one owner's batch over; resolves once it is in the store. */
  (cards: readonly Card[], observedAt: number): Promise<void>
  /**
   * Asks `holdFor` again, a turn of the event loop later: call it when its answer may have
   * changed without a batch being handed over (an owner ended without one).
   */
  nudge(): void
}

/** What the batches waiting for a write come to. */
export interface QueuedBatches {
  batches: number
  cards: number
}

/** Options of {@link createGroupWriter}. */
export interface GroupWriterOptions {
  /**
   * Whether to wait for more batches before writing the queued ones. Asked a turn of the event
   * loop after each batch is handed over and after each {@link GroupWriter.nudge}; a `false`
   * writes them. It must answer `false` once no more batches can come, or they wait for ever.
   * Default: never wait.
   */
  holdFor?: ((queued: QueuedBatches) => boolean) | undefined
  /**
   * Most groups written at once (`CardStore.concurrentWrites`). While one is in flight, the
   * batches handed over make the next group, which goes as soon as it is ready. Default 1.
   */
  concurrency?: number | undefined
}

/** Most cards one grouped `upsertMany` writes. */
const MAX_GROUP_CARDS = 1000
/**
 * Most time between the oldest and the newest `observedAt` of one group's batches. A group is
 * written as of its oldest: the others are taken for at most this much older than they are.
 */
export const MAX_GROUP_SPREAD_MS = 100

/**
 * Most failures of batches written on their own after a failed group, with no successful write
 * between, before the writer stops (see {@link createGroupWriter}): two failures of the same
 * kind stop it sooner. A bound whatever the errors say, for a driver whose message changes at
 * every attempt.
 */
const MAX_FAILURE_STREAK = 3

/** What {@link createGroupWriter}'s `writeOne` gives back for a batch that went through. */
const WROTE = Symbol('wrote')

interface Pending {
  cards: readonly Card[]
  observedAt: number
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * Group commit for the owners a reconcile works on at once. Each owner hands its batch over and
 * waits; the writer writes the batches handed over until then, and those handed over while a
 * write is in flight, in one `upsertMany` of up to 1,000 cards: one transaction (and, on a
 * database server, a few round trips) for several owners instead of one each. A store's cost is
 * per transaction far more than per card. `holdFor` lets the caller keep batches back while
 * more are on their way, for fuller groups; `concurrency` lets up to that many groups be
 * written at once (a store locks each owner's writes; reconcile hands an owner's batches over one
 * at a time, so two groups in flight never hold the same owner's cards).
 *
 * A group is written with the oldest `observedAt` of its batches, so that it is never taken
 * for newer than what any of them read; so that no batch is taken for much older than it is
 * either (refused against a state stored after it was read, or stored as of a time before it
 * was read), a group holds batches read within {@link MAX_GROUP_SPREAD_MS} of each other, and
 * a batch read later than that starts the next group.
 *
 * When a grouped write fails, the batches of the group are written again one by one, each on
 * its own: one owner's bad card, or a store that fails for one owner, fails that owner only,
 * with that owner's error, and the others are written. A store that fails every write (a
 * SQLite file locked by another process, where better-sqlite3 blocks the event loop for its
 * busy timeout at each attempt; a lost database connection) would fail each of those writes
 * too, so the writes stop once the store looks down: after two failures of the same kind
 * (see {@link sameKind}) with no successful write between, or after
 * {@link MAX_FAILURE_STREAK} failures whatever their kinds. The batches not written yet are
 * rejected with the last error, unwritten. A failed group thus costs at most
 * `1 + MAX_FAILURE_STREAK` writes, 3 when the store keeps failing alike, however many owners it
 * holds. Until a write goes through again, the next group that fails with the same kind of error
 * is not written apart at all: its batches are rejected with its error, so that a store that
 * stays down costs one write a group.
 *
 * Core cannot tell a store-wide error from a batch's own: a store's driver errors pass through
 * as raised. Its own refusals can: a `CardportError` that is not retryable (invalid input, a
 * conflict) is about the cards it was given, so it never counts towards stopping, and each
 * batch is still tried. Every other error counts: a driver's, or a retryable `CardportError` (a
 * store that reports its outage as one). The price: when two batches written one after the
 * other both fail with the same kind of driver error for their own cards (two owners' cards
 * breaking the same constraint), the batches after them are rejected with that error
 * unwritten, and reconcile lists their owners as failed for this run; the next run writes
 * them. One such batch, wherever it stands in the group, never stops the others.
 *
 * @internal
 */
export function createGroupWriter(store: CardStore, options: GroupWriterOptions = {}): GroupWriter {
  const holdFor = options.holdFor ?? (() => false)
  const concurrency = options.concurrency ?? 1
  const queue: Pending[] = []
  let queuedCards = 0
  /** Groups being written: each `drain` in flight writes one at a time. */
  let drains = 0
  let asking = false
  /**
   * The error that made the store look down, until a write goes through: a group that then
   * fails alike is not written apart, one failing write instead of three.
   */
  let down: unknown

  /** Writes one batch on its own, settles it, and gives back WROTE or the error it failed with. */
  const writeOne = async (batch: Pending): Promise<unknown> => {
    try {
      await store.upsertMany(batch.cards, { observedAt: batch.observedAt })
      down = undefined
      batch.resolve()
      return WROTE
    } catch (error) {
      batch.reject(error)
      return error
    }
  }

  const writeGroup = async (group: Pending[]) => {
    if (group.length === 1) {
      await writeOne(group[0] as Pending)
      return
    }
    try {
      await store.upsertMany(
        group.flatMap((batch) => batch.cards),
        { observedAt: Math.min(...group.map((batch) => batch.observedAt)) },
      )
    } catch (error) {
      if (down === undefined || !sameKind(error, down)) return writeApart(group)
      for (const batch of group) batch.reject(error)
      return
    }
    down = undefined
    for (const batch of group) batch.resolve()
  }

  /** The batches of a failed group, one by one, until the store looks down. */
  const writeApart = async (group: Pending[]) => {
    // The failures that may be the store's since the last write that went through.
    let streak = 0
    let last: unknown
    for (const [index, batch] of group.entries()) {
      const error = await writeOne(batch)
      if (error === WROTE) {
        streak = 0
        continue
      }
      if (isCardportError(error) && !error.retryable) continue
      const looksDown = streak > 0 && sameKind(error, last)
      streak++
      last = error
      if (!looksDown && streak < MAX_FAILURE_STREAK) continue
      down = error
      for (const rest of group.slice(index + 1)) rest.reject(error)
      return
    }
  }

  /**
   * The next group: whole batches in the order handed over, up to MAX_GROUP_CARDS (or one
   * larger batch on its own), read within MAX_GROUP_SPREAD_MS of each other.
   */
  const takeGroup = (): Pending[] => {
    const group: Pending[] = []
    let cards = 0
    let oldest = Number.POSITIVE_INFINITY
    let newest = Number.NEGATIVE_INFINITY
    while (queue.length > 0) {
      const next = queue[0] as Pending
      if (group.length > 0 && cards + next.cards.length > MAX_GROUP_CARDS) break
      oldest = Math.min(oldest, next.observedAt)
      newest = Math.max(newest, next.observedAt)
      if (group.length > 0 && newest - oldest > MAX_GROUP_SPREAD_MS) break
      group.push(next)
      cards += next.cards.length
      queue.shift()
    }
    queuedCards -= cards
    return group
  }

  /** Whether the queued batches go now: a full group does, the rest unless `holdFor` waits. */
  const ready = () =>
    queue.length > 0 &&
    (queuedCards >= MAX_GROUP_CARDS || !holdFor({ batches: queue.length, cards: queuedCards }))

  const drain = async () => {
    drains++
    do await writeGroup(takeGroup())
    while (ready())
    drains--
    if (queue.length > 0) ask()
  }

  // After the I/O of this turn: the owners whose pages arrived with this one join the group.
  const ask = () => {
    if (asking || drains >= concurrency) return
    asking = true
    setImmediate(() => {
      asking = false
      if (drains < concurrency && ready()) void drain()
    })
  }

  const write = (cards: readonly Card[], observedAt: number) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ cards, observedAt, resolve, reject })
      queuedCards += cards.length
      ask()
    })
  return Object.assign(write, { nudge: ask })
}

/**
 * Whether two errors of a store are of the same kind: the same `code` when either has one
 * (better-sqlite3's `SQLITE_BUSY`, pg's SQLSTATE, Node's `ECONNRESET`, a CardportError's code),
 * else the same constructor and message. A thrown value that is not an Error compares as such.
 */
function sameKind(a: unknown, b: unknown): boolean {
  const codeA = codeOf(a)
  const codeB = codeOf(b)
  if (codeA !== undefined || codeB !== undefined) return codeA === codeB
  if (a instanceof Error && b instanceof Error) {
    return a.constructor === b.constructor && a.message === b.message
  }
  return Object.is(a, b)
}

function codeOf(error: unknown): unknown {
  return typeof error === 'object' && error !== null
    ? (error as { code?: unknown }).code
    : undefined
}
