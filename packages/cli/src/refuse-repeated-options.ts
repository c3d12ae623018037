import type { Command } from 'commander'
import { EXIT_CODES } from './exit-codes.js'

/**
 * Makes every option of `command` that takes one value refuse a second (a usage error, exit 2)
 * instead of commander's last one winning unseen: `reconcile --store a.db --store b.db` repaired
 * b.db, and `--provider stripe --provider marketplace` read the marketplace. An option that
 * collects its values (its default an array, as `reconcile --owner`'s) is repeatable and left as
 * it is; a flag takes no value and is left too. The option's own parser runs first, so that one
 * that refuses a repeat in its own words (`list --owner`) keeps them. A default (`emulate
 * --port`'s) is no value given: commander's `getOptionValueSource` says `cli` only for a value
 * read from the command line. The message names the option, never a value.
 */
export function refuseRepeatedOptions(command: Command): void {
  for (const option of command.options) {
    if (!(option.required || option.optional) || Array.isArray(option.defaultValue)) continue
    const parse = option.parseArg
    const key = option.attributeName()
    option.argParser((value: string, previous: unknown) => {
      const parsed = parse ? parse(value, previous) : value
      if (command.getOptionValueSource(key) === 'cli') {
        command.error(`${command.name()} takes one ${option.long}, not several: pass it once`, {
          exitCode: EXIT_CODES.usage,
          code: 'cardport.repeatedOption',
        })
      }
      return parsed
    })
  }
}
