/**
 * How many owners that are done a `reconcile` over an iterable of owners remembers, to skip them
 * when they are given again: about 2 MB of keys with Stripe's ids, whatever the number of owners
 * given. `CardSync.reconcile`'s TSDoc and the README state the number: change them with it.
 */
export const REMEMBERED_OWNERS = 10_000

/** Which of the owners given to one `reconcile` it reconciles: see {@link createOwnerDedupe}. */
export interface OwnerDedupe {
  /**
   * Whether the owner whose key is `key` is to be reconciled: false when an owner of that key was
   * taken before and is not done, or is among the last owners done that are remembered (it is
   * then remembered as the latest). A key taken is the dedupe's until {@link OwnerDedupe.done}.
   */
  take(key: string): boolean
  /** Notes the owner of `key`, taken before, as done: one of the owners remembered. */
  done(key: string): void
}

/**
 * The owners a `reconcile` has taken, to skip one given again. An owner taken and not done yet
 * (read ahead, waiting, being reconciled: at most the run's owners in flight and its read-ahead
 * batch) is always known, so that an owner never runs twice at once; of the owners done, the
 * `remember` latest given (each repeat counts as given again) are known, the older ones forgotten
 * so that a run over an endless iterable holds a bounded number of keys. `Infinity` forgets none:
 * for an array, whose owners the caller holds already.
 *
 * @internal
 */
export function createOwnerDedupe(remember: number): OwnerDedupe {
  const pending = new Set<string>()
  /** The owners done, least recently given first (a Set keeps its insertion order). */
  const recent = new Set<string>()
  return {
    take(key) {
      if (pending.has(key)) return false
      if (recent.has(key)) {
        recent.delete(key)
        recent.add(key)
        return false
      }
      pending.add(key)
      return true
    },
    done(key) {
      if (!pending.delete(key)) return
      recent.add(key)
      if (recent.size > remember) {
        const oldest = recent.values().next()
        if (!oldest.done) recent.delete(oldest.value)
      }
    },
  }
}
