// reconcile's findings as an application reads them: onDrift's changes narrowed by `change`,
// and the report's exact counts beside its lists.
import type { CardSync, DriftChange, DriftCounts, DriftReport } from '@cardport/core'

export function describeChange(change: DriftChange): string {
  switch (change.change) {
    case 'failed': {
      const code: string = change.code
      return `${change.owner.id}: ${code} ${change.message}`
    }
    case 'defaultRepaired': {
      const cardId: string | null = change.cardId
      return `${change.owner.id}: default ${cardId ?? 'none'}`
    }
    default: {
      const cardId: string = change.cardId
      // @ts-expect-error only a failure has a code
      void change.code
      return `${change.change} ${cardId}`
    }
  }
}

export async function reconcileAll(sync: CardSync): Promise<number> {
  const report: DriftReport = await sync.reconcile(undefined, {
    maxEntries: Number.POSITIVE_INFINITY,
    onDrift: (change) => void describeChange(change),
  })
  const counts: DriftCounts = report.counts
  const truncated: boolean = report.truncated
  // @ts-expect-error onDrift is given one change, not the report
  await sync.reconcile(undefined, { onDrift: (report: DriftReport) => void report })
  return truncated ? counts.added : report.added.length
}
