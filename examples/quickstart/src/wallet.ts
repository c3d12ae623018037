import {
  type CardProvider,
  type CardStore,
  createCardSync,
  formatOwner,
  maskCard,
  type Owner,
} from '@cardport/core'

/**
 * The application code of the quickstart: it knows nothing of any provider. Give it another
 * `CardProvider` and it runs unchanged. Every step leaves the local copy (`store`) in step with
 * the provider: the second card, added with `provider.createCard`, is stored with
 * `CardSync.sync` right away, so `getForOwner` answers the provider's default at once.
 */
export async function walletTour(
  provider: CardProvider,
  store: CardStore,
  owner: Owner,
  tokens: { first: string; second: string; replacement: string },
  log: (line: string) => void,
) {
  const sync = createCardSync({ provider, store })
  const show = async () => {
    const page = await provider.listCards(owner, { limit: 10 })
    for (const card of page.data) {
      const status = card.status === 'invalid' ? '  (invalidated)' : ''
      log(
        `    ${card.isDefault ? '*' : ' '} ${card.brand.padEnd(10)} ${maskCard(card.last4)}${status}`,
      )
    }
  }

  log(`[${provider.name}] owner ${formatOwner(owner)}`)
  const first = await sync.setDefaultCard(owner, tokens.first)
  log(`  added ${first.brand} ${maskCard(first.last4)}: the first card is the default`)

  // A card added at the provider directly: store it, or the local copy lags behind until a
  // reconcile (on the marketplace the new card is the default, and `getForOwner` would still
  // answer the first one).
  const second = await provider.createCard(owner, { source: tokens.second })
  await sync.sync(owner, second)
  log(
    `  added ${second.brand} ${maskCard(second.last4)}: ${
      second.isDefault
        ? 'it is the default now (this provider makes the newest card the default)'
        : 'the first card stays the default'
    }`,
  )
  await show()

  // Where a provider cannot delete a card (the marketplace), CardSync invalidates it instead.
  const removal = provider.capabilities.deleteCard ? 'deleted' : 'invalidated'
  await sync.deleteCard(owner, second.id)
  log(`  ${removal} ${maskCard(second.last4)}`)
  await show()

  const replacement = await sync.setDefaultCard(owner, tokens.replacement)
  log(
    `  new default ${replacement.brand} ${maskCard(replacement.last4)}; the old one is ${removal}`,
  )
  await show()

  const report = await sync.reconcile(owner)
  log(
    `  reconcile: ${report.cardsSeen} card(s) at the provider; the local copy needed ` +
      `${report.counts.added} added, ${report.counts.updated} updated, ${report.counts.removed} removed`,
  )
  const local = await sync.getForOwner(owner)
  log(`  local default: ${local ? `${local.brand} ${maskCard(local.last4)}` : 'none'}`)
  return local
}
