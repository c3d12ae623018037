import {
  type CardProvider,
  createCardSync,
  type DriftFailure,
  type DriftReport,
  formatOwner,
  isCardportError,
  type Owner,
  type RetryPolicy,
} from '@cardport/core'
import { Command, Option } from 'commander'
import {
  parseNameFlag,
  parseOwner,
  parseProviderName,
  parseStore,
  type StoreConfig,
} from '../config.js'
import { type CliContext, type OutputStream, writeLine } from '../context.js'
import {
  CliError,
  configError,
  EXIT_CODES,
  type ExitCode,
  exitCodeForCardportCode,
} from '../exit-codes.js'
import { formatTable, plural } from '../format-table.js'
import {
  checkOwnerTypes,
  closeProvider,
  describeEndpoint,
  openProvider,
  providerDescription,
} from '../open-provider.js'
import { openStore, storeOpenFailure } from '../open-store.js'
import { refuseOtherNames } from '../other-provider-names.js'
import { createProgress } from '../progress.js'
import { scrubData } from '../scrub.js'
import {
  addProviderOptions,
  ENVIRONMENT_HELP,
  type ProviderOptionValues,
  providerConfigFrom,
  storeFromFlag,
} from './shared-options.js'

/**
 * How an owner is read again after a failure: only after `rate_limited` (up to twice, its
 * `Retry-After` honoured). The adapter has retried each request already (twice, on network
 * errors, timeouts, 429 and 5xx): a second layer of retries for `provider_unavailable` made a
 * provider that never answers hold an owner for 9 attempts of 30 s each, not the README's three.
 */
const OWNER_RETRY: RetryPolicy = {
  retries: 2,
  shouldRetry: (error) => isCardportError(error, 'rate_limited'),
}

interface ReconcileOptionValues extends ProviderOptionValues {
  store?: string
  owner: string[]
  dryRun?: boolean
  json?: boolean
  exitCode?: boolean
}

/** Drift entries listed in the human report before it says "and N more". */
const LISTED_ENTRIES = 50

/**
 * `cardport reconcile`: pages through the provider's cards for each owner (the ones named, or
 * every owner the store knows for that provider), makes the store equal to it with core's
 * `createCardSync(...).reconcile`, and prints the drift report. The report, its failures' messages
 * included, comes from the provider and the store: it is scrubbed (`scrubData` of `scrub.ts`)
 * before it is printed, in the table as in `--json`. With no owner named and none in the store
 * under the provider's name, a store that holds cards under other names is refused as a usage
 * error that names them (see {@link refuseOtherNames}); an empty one gets a report that says to
 * name an owner of a type the provider holds. When `stop` aborts (SIGHUP, SIGINT, SIGTERM),
 * before the store is opened or while it reconciles, it closes the store it opened, prints no
 * report and throws the signal's reason (129, 130 or 143; the process then dies by the signal).
 */
export function reconcileCommand(context: CliContext, stop: AbortSignal): Command {
  const command = new Command('reconcile')
    .description("Make a local store equal to the provider's cards, and report the drift")
    .option(
      '--store <location>',
      'the store to repair: sqlite:<path> or postgres://… (?schema=<name> for another schema than public; env CARDPORT_STORE)',
    )
    .addOption(
      new Option(
        '--owner <owner>',
        'reconcile only this owner, customer:<id> or account:<id>; repeatable',
      )
        .argParser((value: string, previous: string[]) => [...previous, value])
        // Shown in words: commander would print the empty list as `(default: [])`.
        .default([] as string[], 'every owner in the store'),
    )
    .option('--dry-run', 'report the drift without changing the store')
    .option('--json', 'print the drift report as JSON')
    .option('--exit-code', `exit with ${EXIT_CODES.drift} when drift was found (repaired or not)`)
  return addProviderOptions(command)
    .addHelpText(
      'after',
      `
Examples:
  cardport reconcile --provider stripe --store sqlite:./cards.db --dry-run
  cardport reconcile --provider stripe --store sqlite:./cards.db --owner customer:cus_123
  CARDPORT_STORE=postgres://localhost/app cardport reconcile --provider marketplace --json

A progress bar is drawn on stderr when it is a terminal. Owners that could not be
reconciled are listed in the report, and the exit code says why (see the README).
${ENVIRONMENT_HELP}`,
    )
    .action(async (values: ReconcileOptionValues) => {
      const owners = distinctOwners(values.owner.map(parseOwner))
      // Before the provider's configuration or the store is read: mending either (exit 3 or 1)
      // would only lead to this usage error.
      checkOwnerTypes(
        await providerDescription(parseProviderName(values.provider), parseNameFlag(values.name)),
        owners,
      )
      const { env, config } = await providerConfigFrom(context, values)
      const storeConfig = await resolveStore(values.store, env.CARDPORT_STORE, context)
      const opened = await openProvider(config)
      const { provider } = opened
      const store = await openStore(storeConfig, stop, {
        readonly: values.dryRun === true ? 'dry-run' : undefined,
      }).catch(async (error: unknown) => {
        await closeProvider(opened, stop)
        throw storeOpenFailure(error, storeConfig, stop)
      })

      const progress = createProgress({
        label: 'reconciling',
        unit: 'owners',
        total: owners.length > 0 ? owners.length : null,
        stream: context.stderr,
      })
      let raw: DriftReport
      // The exit code of every failure, the ones the report does not list included.
      const failureCodes = new Set<ExitCode>()
      /** Owners that failed because the store did, the ones the report does not list included. */
      let storeFailures = 0
      try {
        const sync = createCardSync({ provider, store, retry: OWNER_RETRY })
        raw = await sync.reconcile(owners.length > 0 ? owners : undefined, {
          dryRun: values.dryRun ?? false,
          onOwner: (_owner, { done }) => progress.update(done),
          signal: stop,
          // The human report lists at most LISTED_ENTRIES; the JSON one lists every entry.
          maxEntries: values.json ? Number.POSITIVE_INFINITY : LISTED_ENTRIES,
          onDrift: (change) => {
            if (change.change !== 'failed') return
            // A store that failed is no provider to try again later: exit 1, whatever its code.
            if (change.source === 'store') storeFailures++
            failureCodes.add(
              change.source === 'store' ? EXIT_CODES.failure : exitCodeForCardportCode(change.code),
            )
          },
        })
        // core checks the signal before each owner and each page: a Ctrl+C after the last page
        // of the last owner still ends the run as interrupted, not as a success.
        stop.throwIfAborted()
        if (owners.length === 0 && raw.owners === 0) {
          const start = `to start ${provider.name} in this store, name its owners with --owner ${ownerType(provider)}:<id>`
          await refuseOtherNames(store, provider.name, storeConfig.label, start, stop)
        }
      } finally {
        progress.stop()
        await Promise.all([store.close(), closeProvider(opened, stop)])
      }

      // A failure's message may quote what the provider was sent.
      const report = scrubData(raw, context.secrets)
      const where = `${provider.name} (${describeEndpoint(config)}) → ${storeConfig.label}`
      if (values.json) writeLine(context.stdout, JSON.stringify(report, null, 2))
      else printReport(context.stdout, report, where, ownerType(provider))

      if (report.counts.failed > 0) {
        throw new CliError(
          failureExitCode(failureCodes),
          failureMessage(report, storeFailures, {
            provider: `${provider.name} at ${describeEndpoint(config)}`,
            store: storeConfig.label,
          }),
        )
      }
      if (values.exitCode && hasDrift(report)) context.exitCode = EXIT_CODES.drift
    })
}

/**
 * The owners named with `--owner`, each once, in the order first given: a repeated owner would
 * be read and written twice and counted twice in the report.
 */
function distinctOwners(owners: readonly Owner[]): Owner[] {
  const byKey = new Map(owners.map((owner) => [formatOwner(owner), owner] as const))
  return [...byKey.values()]
}

/** An owner type the provider holds cards of, for the hints that say how to name an owner. */
function ownerType(provider: Pick<CardProvider, 'capabilities'>): Owner['type'] {
  return provider.capabilities.ownerTypes[0]!
}

/** The store of `--store` (see {@link storeFromFlag}), else of `CARDPORT_STORE`. */
async function resolveStore(
  flag: string | undefined,
  env: string | undefined,
  context: CliContext,
): Promise<StoreConfig> {
  if (flag !== undefined) return storeFromFlag(flag, context)
  if (env !== undefined) return parseStore(env, 'CARDPORT_STORE')
  throw configError(
    'no store to reconcile: pass --store sqlite:./cards.db (or postgres://…), or set CARDPORT_STORE',
  )
}

function hasDrift({ counts }: DriftReport): boolean {
  return counts.added + counts.updated + counts.removed + counts.defaultRepaired > 0
}

/**
 * The one line of a run with failed owners: who failed (the provider, the store, or how many of
 * each, `storeFailures` being the store's), then the first failure's owner, message and code. A
 * store that failed is named as such: its error (`permission denied for table cardport_cards`)
 * is no provider's, and no provider is blamed for it.
 */
function failureMessage(
  report: DriftReport,
  storeFailures: number,
  names: { provider: string; store: string },
): string {
  const { failed } = report.counts
  const owners = `${plural(failed, 'owner')} of ${report.owners} could not be reconciled`
  const who =
    storeFailures === 0
      ? `${owners} with ${names.provider}`
      : storeFailures === failed
        ? `${owners}: the store ${names.store} failed`
        : `${owners} (${storeFailures} because the store ${names.store} failed, ${failed - storeFailures} by ${names.provider})`
  const first = report.failed[0]!
  return `${who}; first, ${formatOwner(first.owner)}: ${failureDetail(first)} [${first.code}]`
}

/**
 * A failure's message, said to be the store's when it is and its code (printed beside it) does
 * not say so already: `store_failed` does, a `CardportError` the store raised does not.
 */
function failureDetail(failure: DriftFailure): string {
  return failure.source === 'store' && failure.code !== 'store_failed'
    ? `the store failed: ${failure.message}`
    : failure.message
}

/**
 * 4 when every failure was the provider being unreachable, 3 when every one was the key, else 1
 * (a store that failed among them included).
 */
function failureExitCode(codes: ReadonlySet<ExitCode>): ExitCode {
  return codes.size === 1 ? [...codes][0]! : EXIT_CODES.failure
}

/** `ownerType`: one the provider holds cards of, for the hint when the store names no owner. */
function printReport(
  stdout: OutputStream,
  report: DriftReport,
  where: string,
  ownerType: Owner['type'],
) {
  const dry = report.dryRun
  writeLine(stdout, `${headline(report)}: ${where}`)
  if (report.owners === 0) {
    writeLine(
      stdout,
      `No owners to reconcile: the store holds no cards for this provider yet. Name owners with --owner ${ownerType}:<id>.`,
    )
    return
  }
  writeLine(stdout, ownersLine(report))
  writeLine(stdout)
  const counts = [
    { label: dry ? 'to add' : 'added', count: report.counts.added },
    { label: dry ? 'to update' : 'updated', count: report.counts.updated },
    { label: dry ? 'to remove' : 'removed', count: report.counts.removed },
    { label: dry ? 'default to repair' : 'default repaired', count: report.counts.defaultRepaired },
    { label: 'failed', count: report.counts.failed },
  ]
  writeLine(
    stdout,
    formatTable(counts, [
      { header: 'DRIFT', value: (row) => row.label },
      { header: 'COUNT', value: (row) => String(row.count), align: 'right' },
    ]),
  )

  const entries: Array<{ change: string; owner: Owner; detail: string }> = [
    ...report.added.map((entry) => ({ change: counts[0]!.label, ...entryOf(entry) })),
    ...report.updated.map((entry) => ({ change: counts[1]!.label, ...entryOf(entry) })),
    ...report.removed.map((entry) => ({ change: counts[2]!.label, ...entryOf(entry) })),
    ...report.defaultRepaired.map((entry) => ({
      change: counts[3]!.label,
      owner: entry.owner,
      detail: entry.cardId ?? '(no default)',
    })),
    ...report.failed.map((entry) => ({
      change: 'failed',
      owner: entry.owner,
      detail: `${entry.code}: ${failureDetail(entry)}`,
    })),
  ]
  const total = counts.reduce((sum, row) => sum + row.count, 0)
  if (total === 0) {
    writeLine(stdout)
    writeLine(stdout, 'No drift: the store matches the provider.')
    return
  }
  writeLine(stdout)
  writeLine(
    stdout,
    formatTable(entries.slice(0, LISTED_ENTRIES), [
      { header: 'CHANGE', value: (row) => row.change },
      { header: 'OWNER', value: (row) => formatOwner(row.owner) },
      { header: 'CARD', value: (row) => row.detail },
    ]),
  )
  if (total > LISTED_ENTRIES) {
    writeLine(stdout, `… and ${total - LISTED_ENTRIES} more (--json lists them all)`)
  }
}

/**
 * The owners looked at and the cards the provider holds for them. Core counts the cards of the
 * owners reconciled only (a failed owner's are not, however many were read): the line says how
 * many failed and whose cards it counts, and none at all when every owner failed.
 */
function ownersLine({ owners, cardsSeen, counts }: DriftReport): string {
  const looked = plural(owners, 'owner')
  if (counts.failed === 0) return `${looked}, ${plural(cardsSeen, 'card')} at the provider`
  if (counts.failed === owners) return `${looked}, none reconciled`
  const reconciled = owners - counts.failed
  return `${looked}, ${counts.failed} not reconciled; ${plural(cardsSeen, 'card')} at the provider for the ${reconciled} reconciled`
}

/** What happened, first: a run where every owner failed repaired nothing and says so. */
function headline({ dryRun, owners, counts }: DriftReport): string {
  const failed = counts.failed === 0 ? '' : counts.failed === owners ? 'all' : 'some'
  if (dryRun) {
    if (failed === 'all') return 'Dry run failed for every owner (nothing changed)'
    return failed === 'some'
      ? 'Dry run with failures (nothing changed)'
      : 'Dry run (nothing changed)'
  }
  if (failed === 'all') return 'Reconcile failed for every owner'
  return failed === 'some' ? 'Reconciled with failures' : 'Reconciled'
}

function entryOf(entry: { owner: Owner; cardId: string }) {
  return { owner: entry.owner, detail: entry.cardId }
}
