import { type Card, formatOwner, listAll, TO_ARRAY_HARD_CAP } from '@cardport/core'
import { Command, InvalidArgumentError, Option } from 'commander'
import { parseOwner } from '../config.js'
import { type CliContext, writeLine } from '../context.js'
import { CARD_COLUMNS, formatTable } from '../format-table.js'
import { checkOwnerTypes, closeProvider, openProvider, withEndpoint } from '../open-provider.js'
import { scrubData } from '../scrub.js'
import {
  addProviderOptions,
  ENVIRONMENT_HELP,
  type ProviderOptionValues,
  providerConfigFrom,
} from './shared-options.js'

interface ListOptionValues extends ProviderOptionValues {
  owner: string
  json?: boolean
}

/**
 * `cardport list`: every card an owner holds at a provider, as a table or as JSON. Pages through
 * the provider 100 cards at a time. It takes one `--owner`: a second one is a usage error rather
 * than the last one winning silently. The cards are scrubbed (`scrubData` of `scrub.ts`) before
 * they are printed: one may hand back a secret pasted into its metadata or holder name. When `stop` aborts (SIGHUP, SIGINT, SIGTERM) it prints no
 * card, does not wait for a page on its way, and throws the signal's reason (129, 130 or 143;
 * the process then dies by the signal).
 */
export function listCommand(context: CliContext, stop: AbortSignal): Command {
  const command = new Command('list')
    .description('List the cards an owner holds at a provider')
    .addOption(
      new Option('--owner <owner>', 'whose cards: customer:<id> or account:<id> (once)')
        .argParser(onlyOnce)
        .makeOptionMandatory(),
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
${ENVIRONMENT_HELP}`,
    )
    .action(async (values: ListOptionValues) => {
      const owner = parseOwner(values.owner)
      const { config } = await providerConfigFrom(context, values)
      const opened = await openProvider(config)
      const { provider } = opened

      const cards: Card[] = []
      let truncated = false
      try {
        checkOwnerTypes(provider, [owner])
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

      // A card may hand back a secret pasted into its metadata or holder name.
      const shown = scrubData(cards, context.secrets)
      if (values.json) writeLine(context.stdout, JSON.stringify(shown, null, 2))
      else if (shown.length === 0) {
        writeLine(context.stdout, `${formatOwner(owner)} has no cards at ${provider.name}.`)
      } else writeLine(context.stdout, formatTable(shown, CARD_COLUMNS))
      if (truncated) {
        writeLine(
          context.stderr,
          `cardport: showing the first ${TO_ARRAY_HARD_CAP} cards only; use the library's listAll to read them all`,
        )
      }
    })
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
