/**
 * Runs tasks one at a time per card id, in call order; tasks of different cards run at the same
 * time. A task starts once the one before it on its card has settled, fulfilled or rejected,
 * and what it returns or throws goes to its caller alone. @internal
 */
export type CardQueue = <T>(cardId: string, task: () => Promise<T>) => Promise<T>

/**
 * Creates a {@link CardQueue}. The marketplace replaces a card's `meta` whole, so `updateCard`
 * reads the card, merges the patch and writes the whole `meta` back: two updates of one card
 * interleaved would each write what it read, and the later write would drop the keys of the
 * other. Serializing them per card in the provider keeps every key, as Stripe's server-side
 * merge does. A card id is forgotten once its last task has settled.
 *
 * Core's `CardSync` has the same queue (`keyedQueue`), unexported: this adapter's peer range
 * accepts core 0.1.0, which has none to import, so the adapter keeps its own twenty lines.
 */
export function cardQueue(): CardQueue {
  // Per card, the last task's settling: never rejects, so that a failure reaches no later task.
  const tails = new Map<string, Promise<void>>()
  return <T>(cardId: string, task: () => Promise<T>): Promise<T> => {
    const before = tails.get(cardId)
    const result = before === undefined ? task() : before.then(task)
    const tail = result.then(settled, settled)
    tails.set(cardId, tail)
    void tail.then(() => {
      if (tails.get(cardId) === tail) tails.delete(cardId)
    })
    return result
  }
}

const settled = (): void => {}
