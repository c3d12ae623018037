import type { Card } from './card.js'
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
 * a batch read later than that starts the next group. When a grouped write fails, each batch
 * of the group is written again on its own: one owner's bad card, or a store that fails for one owner, fails
 * that owner only, with that owner's error.
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

  const writeOne = async (batch: Pending) => {
    try {
      await store.upsertMany(batch.cards, { observedAt: batch.observedAt })
      batch.resolve()
    } catch (error) {
      batch.reject(error)
    }
  }

  const writeGroup = async (group: Pending[]) => {
    if (group.length === 1) return writeOne(group[0] as Pending)
    try {
      await store.upsertMany(
        group.flatMap((batch) => batch.cards),
        { observedAt: Math.min(...group.map((batch) => batch.observedAt)) },
      )
    } catch {
      for (const batch of group) await writeOne(batch)
      return
    }
    for (const batch of group) batch.resolve()
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
