import type { Card } from './card.js'
import type { CardStore } from './store.js'

/** Hands one owner's batch to a {@link GroupWriter}; resolves once it is in the store. */
export type GroupWriter = (cards: readonly Card[], observedAt: number) => Promise<void>

/** Most cards one grouped `upsertMany` writes. */
const MAX_GROUP_CARDS = 1000

interface Pending {
  cards: readonly Card[]
  observedAt: number
  resolve: () => void
  reject: (error: unknown) => void
}

/**
 * Group commit for the owners a reconcile works on at once. Each owner hands its batch over and
 * waits; the writer writes every batch handed over in the same turn of the event loop, and
 * those handed over while a write is in flight, in one `upsertMany` of up to 1,000 cards: one
 * transaction (and, on a database server, a few round trips) for several owners instead of one
 * each. A store's cost is per transaction far more than per card.
 *
 * A group is written with the oldest `observedAt` of its batches, so that it is never taken
 * for newer than what any of them read. When a grouped write fails, each batch of the group is
 * written again on its own: one owner's bad card, or a store that fails for one owner, fails
 * that owner only, with that owner's error.
 *
 * @internal
 */
export function createGroupWriter(store: CardStore): GroupWriter {
  const queue: Pending[] = []
  let draining = false

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

  const drain = async () => {
    while (queue.length > 0) {
      const group: Pending[] = []
      let cards = 0
      while (queue.length > 0) {
        const next = queue[0] as Pending
        if (group.length > 0 && cards + next.cards.length > MAX_GROUP_CARDS) break
        group.push(next)
        cards += next.cards.length
        queue.shift()
      }
      await writeGroup(group)
    }
    draining = false
  }

  return (cards, observedAt) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ cards, observedAt, resolve, reject })
      if (draining) return
      draining = true
      // After the I/O of this turn: the owners whose pages arrived with this one join the group.
      setImmediate(() => void drain())
    })
}
