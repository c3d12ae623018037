import { isCardportError } from '@cardport/core'

/**
 * An error as the CLI prints it: its message, followed by its code in brackets when it is a
 * `CardportError` (`card not found [card_not_found]`), so that every failure names its code the
 * same way, whoever raised it (a provider, a store, the CLI). The caller scrubs the result.
 */
export function describeError(error: unknown): string {
  if (isCardportError(error)) return `${error.message} [${error.code}]`
  return error instanceof Error ? error.message : String(error)
}
