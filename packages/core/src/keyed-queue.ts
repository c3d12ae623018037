/**
 * Runs tasks one at a time per key, in call order, and tasks of different keys at the same time.
 * A task runs once the one before it on its key has settled, whether it fulfilled or rejected;
 * what it returns or throws goes to its caller alone, and a task that throws before returning a
 * promise rejects like any other, whether or not its key was idle. A key is forgotten when its
 * last task has settled, so the queue holds only the keys with work in flight.
 */
export type KeyedQueue = <T>(key: string, task: () => Promise<T>) => Promise<T>

/**
 * Creates a {@link KeyedQueue}: `CardSync` runs the calls of one owner through one, and an
 * adapter can serialize what its provider cannot, such as a read-then-write of one card.
 *
 * @example
 * ```ts
 * const perCard = keyedQueue()
 * // Two updates of one card: the second reads what the first wrote.
 * await Promise.all([
 *   perCard(cardId, () => mergeMetadata(cardId, { a: '1' })),
 *   perCard(cardId, () => mergeMetadata(cardId, { b: '2' })),
 * ])
 * ```
 */
export function keyedQueue(): KeyedQueue {
  // Per key, the last task's settling: never rejects, so that a failure reaches no later task.
  const tails = new Map<string, Promise<void>>()
  return <T>(key: string, task: () => Promise<T>): Promise<T> => {
    const before = tails.get(key)
    const result = before === undefined ? start(task) : before.then(task)
    const tail = result.then(settled, settled)
    tails.set(key, tail)
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key)
    })
    return result
  }
}

const settled = (): void => {}

/** Calls a task at once, so that a throw before it returns a promise rejects instead of escaping. */
function start<T>(task: () => Promise<T>): Promise<T> {
  try {
    return task()
  } catch (error) {
    return Promise.reject(error)
  }
}
