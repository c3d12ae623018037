import {
  type Card,
  formatOwner,
  listAll,
  type Owner,
  TO_ARRAY_HARD_CAP,
  untilAborted,
} from '@cardport/core'
import { Command, InvalidArgumentError, Option } from 'commander'
import { parseNameFlag, parseOwner, parseProviderName } from '../config.js'
import { type CliContext, writeLine } from '../context.js'
import { CARD_COLUMNS, formatTable } from '../format-table.js'
import {
  checkOwnerTypes,
  closeProvider,
  openProvider,
  providerDescription,
  withEndpoint,
} from '../open-provider.js'
import { openStore, storeOpenFailure } from '../open-store.js'
import { refuseOtherNames } from '../other-provider-names.js'
import { scrubData } from '../scrub.js'
import {
  addProviderOptions,
  ENVIRONMENT_HELP,
  type ProviderOptionValues,
  providerConfigFrom,
  storeFromFlag,
} from './shared-options.js'

interface ListOptionValues extends ProviderOptionValues {
  owner: string
  store?: string
  json?: boolean
}

/**
 * `cardport list`: every card an owner holds at a provider, as a table or as JSON. Pages through
 * the provider 100 cards at a time. With `--store`, the cards a local store holds for that
 * provider and owner instead, read without credentials and without a request (see
 * {@link listStored}). It takes one `--owner`: a second one is a usage error rather than the last
 * one winning silently. The cards are scrubbed (`scrubData` of `scrub.ts`) before they are
 * printed: one may hand back a secret pasted into its metadata or holder name. When `stop`
 * aborts (SIGHUP, SIGINT, SIGTERM) it prints no card, does not wait for a page on its way, and
 * throws the signal's reason (129, 130 or 143; the process then dies by the signal).
 */
export function listCommand(context: CliContext, stop: AbortSignal): Command {
  const command = new Command('list')
    .description('List the cards an owner holds at a provider, or in a local store (--store)')
    .addOption(
      new Option('--owner <owner>', 'whose cards: customer:<id> or account:<id> (once)')
        .argParser(onlyOnce)
        .makeOptionMandatory(),
    )
    .option(
      '--store <location>',
      "list the cards stored there for the provider instead of asking it: sqlite:<path> or postgres://… (read only; the provider's credentials are not needed)",
    )
    .option('--json', 'print the cards as a JSON array instead of a table')
  return addProviderOptions(command)
    .addHelpText(
      'after',
      `
Examples:
  cardport list --provider stripe --owner customer:cus_123
  cardport list --provider stripe --owner account:acct_123 --json
  cardport list --provider marketplace --owner account:AC123
  cardport list --provider stripe --owner customer:cus_123 --store sqlite:./cards.db
${ENVIRONMENT_HELP}`,
    )
    .action(async (values: ListOptionValues) => {
      const owner = parseOwner(values.owner)
      const described = await providerDescription(
        parseProviderName(values.provider),
        parseNameFlag(values.name),
      )
      // Before the store or the provider's configuration is read: mending either (exit 1 or 3)
      // would only lead to this usage error.
      checkOwnerTypes(described, [owner])
      if (values.store !== undefined) {
        await listStored(context, stop, values, owner, described.name, values.store)
        return
      }
      const { config } = await providerConfigFrom(context, values)
      const opened = await openProvider(config)
      const { provider } = opened

      const cards: Card[] = []
      let truncated = false
      try {
        for await (const card of listAll(provider, owner, { signal: stop })) {
          if (cards.length === TO_ARRAY_HARD_CAP) {
            truncated = true
            break
          }
          cards.push(card)
        }
        // listAll looks before each page: a signal during the last one still stops the command.
        stop.throwIfAborted()
      } catch (error) {
        throw withEndpoint(error, config)
      } finally {
        await closeProvider(opened, stop)
      }
      printCards(context, values, cards, {
        truncated,
        none: `${formatOwner(owner)} has no cards at ${provider.name}.`,
        readAll: "the library's listAll",
      })
    })
}

/**
 * `list --store`: the owner's cards that the store holds for the provider named `providerName`
 * (the store's rows, with their `version`, `updatedAt` and `observedAt`), the store opened as
 * `reconcile --dry-run` opens it, so that nothing is written: a SQLite file read-only, a
 * PostgreSQL store without migrations, and either refused when it lacks the tables or migrations
 * cardport needs (exit 1, with what to do). The provider is not asked, and its credentials are
 * neither needed nor read. No card found, in a store that holds none under `providerName` but
 * some under other names, is a usage error naming them (see {@link refuseOtherNames}).
 */
async function listStored(
  context: CliContext,
  stop: AbortSignal,
  values: ListOptionValues,
  owner: Owner,
  providerName: string,
  flag: string,
): Promise<void> {
  const storeConfig = await storeFromFlag(flag, context)
  const store = await openStore(storeConfig, stop, { readonly: 'list' }).catch((error: unknown) => {
    throw storeOpenFailure(error, storeConfig, stop)
  })
  let cards: Card[]
  try {
    cards = await untilAborted(store.listByOwner({ provider: providerName, owner }), stop)
    // No card: a mistyped --name, or the other --provider, finds none either.
    if (cards.length === 0) {
      const otherwise = `to store the cards of ${formatOwner(owner)} under ${providerName} first, run cardport reconcile with the same --provider and --name and --owner ${formatOwner(owner)}`
      await refuseOtherNames(store, providerName, storeConfig.label, otherwise, stop)
    }
  } finally {
    await store.close()
  }
  const truncated = cards.length > TO_ARRAY_HARD_CAP
  printCards(context, values, cards.slice(0, TO_ARRAY_HARD_CAP), {
    truncated,
    none: `${formatOwner(owner)} has no cards stored for ${providerName} in ${storeConfig.label}.`,
    readAll: "the store's listByOwner",
  })
}

/**
 * Prints `cards`, scrubbed, as the table or as JSON; `none` when there are none, and, when more
 * were there than shown (`truncated`), how to read them all (`readAll`) on stderr.
 */
function printCards(
  context: CliContext,
  values: ListOptionValues,
  cards: readonly Card[],
  { truncated, none, readAll }: { truncated: boolean; none: string; readAll: string },
): void {
  // A card may hand back a secret pasted into its metadata or holder name.
  const shown = scrubData(cards, context.secrets)
  if (values.json) writeLine(context.stdout, JSON.stringify(shown, null, 2))
  else if (shown.length === 0) writeLine(context.stdout, none)
  else writeLine(context.stdout, formatTable(shown, CARD_COLUMNS))
  if (truncated) {
    writeLine(
      context.stderr,
      `cardport: showing the first ${TO_ARRAY_HARD_CAP} cards only; use ${readAll} to read them all`,
    )
  }
}

/** commander's parser for an option given at most once: it has no previous value the first time. */
function onlyOnce(value: string, previous: string | undefined): string {
  if (previous !== undefined) {
    throw new InvalidArgumentError(
      'list takes one --owner: run it once per owner (reconcile takes several)',
    )
  }
  return value
}
