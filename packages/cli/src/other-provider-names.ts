import { ProviderNameSchema, untilAborted } from '@cardport/core'
import { usageError } from './exit-codes.js'
import { plural } from './format-table.js'
import type { OpenedStore } from './open-store.js'

/** The provider names {@link refuseOtherNames} lists at most. */
const LISTED_NAMES = 10

/**
 * Refuses (exit 2) a command that found nothing under the provider name `name` in a store that
 * holds no card under that name but does hold cards under others: a mistyped `--name`, or the
 * other `--provider`, would otherwise answer as if there were nothing to find (`reconcile`'s
 * `No owners to reconcile`, `list --store`'s "no cards stored") and exit 0, so that a script's
 * check passes while the cards meant go unseen. The names the store holds are listed (the first
 * {@link LISTED_NAMES}; one that `ProviderNameSchema` refuses, which no adapter would give, is
 * counted, not quoted), and the message ends with `otherwise`: what else the user may have meant.
 * A store that holds no card at all, or some under `name`, is not refused.
 */
export async function refuseOtherNames(
  store: OpenedStore,
  name: string,
  label: string,
  otherwise: string,
  stop: AbortSignal,
): Promise<void> {
  const held = await untilAborted(store.providerNames(), stop)
  if (held.includes(name)) return
  const others = held.filter((other) => other !== name)
  if (others.length === 0) return
  const named = others.filter((other) => ProviderNameSchema.safeParse(other).success)
  const listed = named.slice(0, LISTED_NAMES)
  const more = others.length - listed.length
  const names =
    listed.length === 0
      ? plural(more, 'other provider name')
      : `${listed.join(', ')}${more > 0 ? ` and ${more} more` : ''}`
  throw usageError(
    `the store ${label} holds no cards under the provider name ${name}, only under ${names}: check --provider and --name, or, ${otherwise}`,
  )
}
