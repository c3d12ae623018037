import type { Owner } from './card.js'
import type { CardScope, CardStore, StoredCard } from './store.js'

/** An owner, with its stored cards when they were read ahead (null: read them yourself). */
export interface PrefetchedOwner {
  owner: Owner
  /**
   * The owner's stored cards, read with those of its batch: the first call of any owner of the
   * batch sends the batch's read; an owner never worked on (the run stopped) reads nothing.
   */
  stored(): Promise<StoredCard[] | null>
}

const NOT_READ: Promise<null> = Promise.resolve(null)
const notRead = () => NOT_READ

/**
 * Reads ahead the stored cards of the owners a reconcile is about to work on: up to `size` owners
 * at a time, in one `listByOwners` each, sent when the first of the batch's owners is worked on
 * (its `stored()`), once the batch's owners have been taken from `owners`; the read overlaps the
 * work on the owners still in flight. Not before: a run that stopped (a failure elsewhere) while
 * `owners` was still giving a batch reads nothing of it. A batch holds the owners `owners` has at
 * hand: those it gives within the turn of the event loop in which the batch's first came (all of
 * them, up to `size`, for an array, a store's listing read page by page, a generator over either).
 * An owner it has to wait for (a paged listing of customers elsewhere, a queue) starts the next
 * batch, so that the owners given before it are worked on meanwhile rather than held back until
 * `size` have come.
 *
 * A store without `listByOwners` gets null from `stored()` for every owner, as does every owner of
 * a batch whose read failed or gave a list per owner that does not add up: each of them then reads
 * its own cards (`listByOwner`), and a store error fails that owner alone, with its own error, as
 * without read-ahead.
 *
 * Closed early (`return()`), it closes `owners` as `for await` would: at once, or, when a read
 * of `owners` is still on its way (the owner that starts the next batch), without waiting for
 * it: `owners` then closes once that read ends.
 *
 * @internal
 */
export async function* prefetchStoredCards(
  owners: Iterable<Owner> | AsyncIterable<Owner>,
  store: CardStore,
  provider: string,
  size: number,
): AsyncGenerator<PrefetchedOwner, void, undefined> {
  const listByOwners = store.listByOwners?.bind(store)
  if (!listByOwners) {
    for await (const owner of owners) yield { owner, stored: notRead }
    return
  }
  const flush = function* (batch: Owner[]) {
    const scopes: CardScope[] = batch.map((owner) => ({ provider, owner }))
    let lists: Promise<StoredCard[][] | null> | undefined
    // Never rejects: a failed read is `null` for each owner, which then reads on its own. Called
    // in a `then`, so that a store written by hand that throws at once (over a synchronous
    // driver), or answers with no promise, fails alike instead of ending the run with its error.
    const read = () =>
      (lists ??= NOT_READ.then(() => listByOwners(scopes)).then(
        (result) => (Array.isArray(result) && result.length === scopes.length ? result : null),
        () => null,
      ))
    for (const [index, owner] of batch.entries()) {
      yield { owner, stored: () => read().then((result) => result?.[index] ?? null) }
    }
  }
  const iterator = asyncIteratorOf(owners)
  /** A read of the owners that the batch before did not wait for: the next batch's first. */
  let pending: Promise<IteratorResult<Owner>> | undefined
  /** Whether `owners` ended or failed: nothing to close then, as `for await` closes nothing. */
  let finished = false
  const read = (): Promise<IteratorResult<Owner>> =>
    Promise.resolve(iterator.next()).then(
      (result) => {
        if (result.done) finished = true
        return result
      },
      (error: unknown) => {
        finished = true
        throw error
      },
    )
  try {
    for (;;) {
      const first = await (pending ?? read())
      pending = undefined
      if (first.done) return
      const batch = [first.value]
      const turn = endOfTurn()
      try {
        while (batch.length < size) {
          const next = read()
          const result = await Promise.race([next, turn.ended])
          if (result === TURN_ENDED) {
            // Its failure is thrown when the next batch waits for it, not as an unhandled
            // rejection should the run stop first.
            next.catch(() => {})
            pending = next
            break
          }
          if (result.done) break
          batch.push(result.value)
        }
      } finally {
        turn.cancel()
      }
      yield* flush(batch)
      if (finished && pending === undefined) return
    }
  } finally {
    if (!finished) {
      // Closed by the caller: a generator in the middle of a read closes once the read ends,
      // and is not waited for (a slow source must not hold up a stopped run).
      const closing = (async () => iterator.return?.())()
      if (pending === undefined) await closing
      else closing.catch(() => {})
    }
  }
}

/** What {@link endOfTurn}'s promise resolves to. */
const TURN_ENDED = Symbol('turn ended')

/**
 * A promise that resolves once this turn of the event loop is over (`setImmediate`: after every
 * promise callback that is ready, and after the I/O callbacks of this turn): what a source gives
 * before it is at hand; what it gives after it, it had to wait for.
 */
function endOfTurn(): { ended: Promise<typeof TURN_ENDED>; cancel(): void } {
  let handle: NodeJS.Immediate | undefined
  const ended = new Promise<typeof TURN_ENDED>((resolve) => {
    handle = setImmediate(resolve, TURN_ENDED)
  })
  return { ended, cancel: () => clearImmediate(handle) }
}

/** The iterator `for await` would read: a sync iterable's values are awaited as it awaits them. */
function asyncIteratorOf<T>(items: Iterable<T> | AsyncIterable<T>): AsyncIterator<T> {
  if (Symbol.asyncIterator in items) return (items as AsyncIterable<T>)[Symbol.asyncIterator]()
  return (async function* () {
    yield* items as Iterable<T>
  })()
}
