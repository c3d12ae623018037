import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CardStore, StoredCard } from '@cardport/core'
import { type MarketplaceProvider, marketplaceProvider, tokenizeCard } from '@cardport/marketplace'
import { sqliteStore } from '@cardport/store-sqlite'
import { stripeProvider } from '@cardport/stripe'
import {
  marketplaceEmulator,
  setupCardportServer,
  stripeEmulator,
  TEST_MARKETPLACE_ID,
  TEST_MARKETPLACE_SECRET,
} from '@cardport/testing/emulators'
import Stripe from 'stripe'
import { walletTour } from './wallet.js'

/** What the quickstart ended with, for its test. */
export interface QuickstartSummary {
  /** The Stripe customer's default card in the local copy, at the end of the tour. */
  stripe: StoredCard | null
  /** The marketplace account's default card in the local copy, at the end of the tour. */
  marketplace: StoredCard | null
  /** The temporary folder that held the SQLite file: removed by the time this returns. */
  folder: string
}

/**
 * The quickstart, with embedded defaults: no credentials and no network. Both provider APIs
 * are emulated in this process (MSW answers the Stripe SDK's and undici's requests), and the
 * local copy of the cards is a SQLite file in a temporary folder. With real credentials, only
 * the two providers' options would change; `walletTour` is the application code, and it runs
 * unchanged on both. Everything it opens is closed, and the folder removed, even when a step
 * fails.
 */
export async function runQuickstart(log: (line: string) => void): Promise<QuickstartSummary> {
  const stripeApi = stripeEmulator()
  const marketplaceApi = marketplaceEmulator()
  const server = setupCardportServer(...stripeApi.handlers, ...marketplaceApi.handlers)
  // Opened inside the `try`, so that a failure to open one (the store's SQLite file, say) still
  // closes what was opened before it and removes the folder.
  let folder: string | undefined
  let store: CardStore | undefined
  let marketplace: MarketplaceProvider | undefined

  try {
    server.listen()
    folder = mkdtempSync(join(tmpdir(), 'cardport-quickstart-'))
    store = sqliteStore({ filename: join(folder, 'cards.db') })

    // Stripe: a customer's cards, from Stripe's test tokens.
    const stripe = stripeProvider({ stripe: new Stripe('sk_test_quickstart') })
    const customer = stripeApi.seed.customer({ name: 'Quickstart customer' })
    const stripeDefault = await walletTour(
      stripe,
      store,
      { type: 'customer', id: customer.id },
      { first: 'tok_visa', second: 'tok_mastercard', replacement: 'tok_amex' },
      log,
    )

    // The marketplace: cards are tokenized first, then associated with an account.
    marketplace = marketplaceProvider({
      baseUrl: marketplaceApi.origin,
      marketplaceId: TEST_MARKETPLACE_ID,
      secret: TEST_MARKETPLACE_SECRET,
      // The provider keeps its own keep-alive pool by default; here it sends through the
      // emulator instead.
      dispatcher: server.dispatcher,
    })
    const provider = marketplace
    const account = marketplaceApi.seed.account({ name: 'Quickstart account' })
    // The marketplace's test numbers: they go to the tokenize call only, never to a log.
    const tokenize = async (number: string, cvc = '123') =>
      (await tokenizeCard(provider, { number, expMonth: 12, expYear: 2034, cvc })).id
    const marketplaceDefault = await walletTour(
      provider,
      store,
      { type: 'account', id: account.id },
      {
        first: await tokenize('4111111111111111'),
        second: await tokenize('5105105105105100'),
        replacement: await tokenize('341111111111111', '1234'),
      },
      log,
    )
    return { stripe: stripeDefault, marketplace: marketplaceDefault, folder }
  } finally {
    await marketplace?.close()
    await store?.close()
    server.close()
    if (folder !== undefined) rmSync(folder, { recursive: true, force: true })
  }
}
