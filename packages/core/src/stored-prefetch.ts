import type { Owner } from './card.js'
import type { CardScope, CardStore, StoredCard } from './store.js'

/** An owner, with its stored cards when they were read ahead (null: read them yourself). */
export interface PrefetchedOwner {
  owner: Owner
  stored: Promise<StoredCard[] | null>
}

const NOT_READ: Promise<null> = Promise.resolve(null)

/**
 * Reads ahead the stored cards of the owners a reconcile is about to work on: `size` owners at
 * a time, in one `listByOwners` each, sent when the batch's owners have been taken from
 * `owners` and before the first of them is worked on; the read overlaps the work on the owners
 * still in flight. A store without `listByOwners` gets `stored: null` for every owner, as does
 * every owner of a batch whose read failed or gave a list per owner that does not add up: each
 * of them then reads its own cards (`listByOwner`), and a store error fails that owner alone,
 * with its own error, as without read-ahead.
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
    for await (const owner of owners) yield { owner, stored: NOT_READ }
    return
  }
  let batch: Owner[] = []
  const flush = function* () {
    const scopes: CardScope[] = batch.map((owner) => ({ provider, owner }))
    // Never rejects: a failed read is `null` for each owner, which then reads on its own.
    const lists = listByOwners(scopes).then(
      (result) => (result.length === scopes.length ? result : null),
      () => null,
    )
    for (const [index, owner] of batch.entries()) {
      yield { owner, stored: lists.then((result) => result?.[index] ?? null) }
    }
    batch = []
  }
  for await (const owner of owners) {
    batch.push(owner)
    if (batch.length >= size) yield* flush()
  }
  if (batch.length > 0) yield* flush()
}
