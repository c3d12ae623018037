import type { Owner } from './card.js'

/** One card that `reconcile` found out of step. */
export interface DriftEntry {
  /** The card's owner. */
  owner: Owner
  /** The provider's id for the card. */
  cardId: string
}

/**
 * An owner that `reconcile` could not reconcile: where the failure came from (`source`), the
 * error's code and its message. An error that is not a `CardportError` (a store driver's: a
 * permission denied, a lost connection, a full disk) is recorded with the store as its source
 * and the code `'store_failed'`, its message cleared of card numbers and keys
 * (`redactSecrets`), as a `CardportError`'s message already is.
 */
export interface DriftFailure {
  /**
   * The owner not reconciled: its default is not repaired, and none of its stored cards is
   * removed, unless the store itself failed while they were being removed, one at a time (those
   * removed before that are gone, and not reported). The cards its pages listed before the
   * failure may have been written (in batches of 100, as the provider answered them; a default
   * among them is stored as the default), so an owner with many cards can be part-way to the
   * provider's state until the next run, which reports what it finds then.
   */
  owner: Owner
  /**
   * Where the failure came from. `'store'`: a call to the store threw it (reading the owner's
   * cards, writing them, removing one, clearing the default), or it is not a `CardportError`:
   * `CardSync` makes every error of the provider's one, so such an error is a store driver's
   * (or a bug of cardport's), never the provider's.
   * `'provider'`: any other, the provider's answer or its absence (`rate_limited`,
   * `provider_unavailable`, `owner_not_found` …), or what the provider answered being refused.
   * What to do differs: a provider failure may pass if tried later; a store failure needs the
   * store mended (its permissions, its disk, its connection string).
   */
  source: 'provider' | 'store'
  /**
   * The error's `CardportError` code (`'rate_limited'` after the retries ran out …), or
   * `'store_failed'` for an error that is not a `CardportError` (its `source` is `'store'`).
   */
  code: string
  /** The error's message, with no card number nor key in it. */
  message: string
}

/** How many of each finding a `reconcile` made: exact, however many entries the report keeps. */
export interface DriftCounts {
  /** Cards at the provider that the store lacked. */
  added: number
  /** Cards whose stored copy differed from the provider's. */
  updated: number
  /** Stored cards the provider no longer holds. */
  removed: number
  /** Owners whose stored default differed from the provider's. */
  defaultRepaired: number
  /** Owners that could not be reconciled. */
  failed: number
}

/**
 * One finding of `reconcile`, as its `onDrift` callback receives it, with the name of the
 * provider reconciled (`provider`): several syncs over one store (two providers, or two accounts
 * of one under two names) can share one `onDrift`.
 */
export type DriftChange = {
  /** The provider reconciled: its `name`, under which the store keeps its cards. */
  provider: string
} & (
  | ({
      /** Which list of the {@link DriftReport} the card joins. */
      change: 'added' | 'updated' | 'removed'
    } & DriftEntry)
  | {
      /** The owner's stored default differed from the provider's. */
      change: 'defaultRepaired'
      /** The owner whose default was (or, in a dry run, would be) repaired. */
      owner: Owner
      /** The provider's default card, or null when the provider has none for the owner. */
      cardId: string | null
    }
  | ({
      /** The owner could not be reconciled. */
      change: 'failed'
    } & DriftFailure)
)

/**
 * What `reconcile` found and (unless `dryRun`) repaired. Each list keeps its first
 * `maxEntries` entries (1,000 unless `reconcile` was told otherwise), so that a run over
 * millions of cards holds a report of constant size; `counts` counts them all, and
 * `truncated` says whether some list holds fewer entries than its count.
 */
export interface DriftReport {
  /** The provider reconciled: its `name`, under which the store keeps its cards. */
  provider: string
  /** Whether the run only reported: true means the store was left unchanged. */
  dryRun: boolean
  /** Owners looked at. */
  owners: number
  /**
   * Cards the provider holds, over the owners reconciled: an owner that failed (listed in
   * `failed`) adds none, however many of its cards were read before the failure.
   */
  cardsSeen: number
  /** Cards at the provider missing from the store. */
  added: DriftEntry[]
  /** Cards whose stored copy differed from the provider's. */
  updated: DriftEntry[]
  /** Stored cards the provider no longer holds. */
  removed: DriftEntry[]
  /** Owners whose stored default differed from the provider's (the entry names the provider's default). */
  defaultRepaired: Array<{
    /** The owner whose default was (or, in a dry run, would be) repaired. */
    owner: Owner
    /** The provider's default card, or null when the provider has none for the owner. */
    cardId: string | null
  }>
  /** Owners that could not be reconciled, with the error's code and message. */
  failed: DriftFailure[]
  /** How many entries each list would hold without `maxEntries`. */
  counts: DriftCounts
  /** Whether some list holds fewer entries than its count. */
  truncated: boolean
}

/** Entries each list of a {@link DriftReport} keeps unless `reconcile` is told otherwise. */
const DEFAULT_MAX_DRIFT_ENTRIES = 1000

/** What reconciling one owner found, before it joins the report (a retry starts it over). */
export type OwnerDrift = Pick<
  DriftReport,
  'cardsSeen' | 'added' | 'updated' | 'removed' | 'defaultRepaired'
>

/** An empty {@link OwnerDrift}. */
export function emptyOwnerDrift(): OwnerDrift {
  return { cardsSeen: 0, added: [], updated: [], removed: [], defaultRepaired: [] }
}

/** Builds one run's {@link DriftReport}: what {@link createDriftRecorder} returns. */
export interface DriftRecorder {
  /** The report: its lists hold the first entries recorded, its counts all of them. */
  readonly report: DriftReport
  /** Records what an owner's successful attempt found, and counts the owner. */
  owner(drift: OwnerDrift): void
  /** Records an owner that could not be reconciled, and counts the owner. */
  failure(failure: DriftFailure): void
}

/**
 * Starts a run's report on the provider named `provider`. Every finding is counted and handed to
 * `onDrift`, in the order recorded; each list keeps its first `maxEntries`. An exception from
 * `onDrift` is not caught.
 */
export function createDriftRecorder(
  provider: string,
  dryRun: boolean,
  options: {
    maxEntries?: number | undefined
    onDrift?: ((change: DriftChange) => void) | undefined
  } = {},
): DriftRecorder {
  const { maxEntries = DEFAULT_MAX_DRIFT_ENTRIES, onDrift } = options
  const report: DriftReport = {
    provider,
    dryRun,
    owners: 0,
    cardsSeen: 0,
    added: [],
    updated: [],
    removed: [],
    defaultRepaired: [],
    failed: [],
    counts: { added: 0, updated: 0, removed: 0, defaultRepaired: 0, failed: 0 },
    truncated: false,
  }
  const record = <K extends keyof DriftCounts>(
    change: K,
    entries: readonly DriftReport[K][number][],
  ) => {
    const list = report[change] as DriftReport[K][number][]
    for (const entry of entries) {
      report.counts[change]++
      if (list.length < maxEntries) list.push(entry)
      else report.truncated = true
      onDrift?.({ provider, change, ...entry } as DriftChange)
    }
  }
  return {
    report,
    owner(drift) {
      report.owners++
      report.cardsSeen += drift.cardsSeen
      record('added', drift.added)
      record('updated', drift.updated)
      record('removed', drift.removed)
      record('defaultRepaired', drift.defaultRepaired)
    },
    failure(failure) {
      report.owners++
      record('failed', [failure])
    },
  }
}
