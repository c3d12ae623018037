import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { marketplaceProvider, tokenizeCard } from '@cardport/marketplace'
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

// Embedded defaults: no credentials and no network. Both provider APIs are emulated in this
// process (MSW answers the Stripe SDK's and undici's requests), and the local copy of the cards
// is a SQLite file in a temporary folder. With real credentials, only the two providers'
// options would change; `walletTour` is the application code, and it runs unchanged on both.
const stripeApi = stripeEmulator()
const marketplaceApi = marketplaceEmulator()
const server = setupCardportServer(...stripeApi.handlers, ...marketplaceApi.handlers)
server.listen()

const folder = mkdtempSync(join(tmpdir(), 'cardport-quickstart-'))
const store = sqliteStore({ filename: join(folder, 'cards.db') })
const log = (line: string) => console.log(line)

try {
  // Stripe: a customer's cards, from Stripe's test tokens.
  const stripe = stripeProvider({ stripe: new Stripe('sk_test_quickstart') })
  const customer = stripeApi.seed.customer({ name: 'Quickstart customer' })
  await walletTour(
    stripe,
    store,
    { type: 'customer', id: customer.id },
    { first: 'tok_visa', second: 'tok_mastercard', replacement: 'tok_amex' },
    log,
  )

  // The marketplace: cards are tokenized first, then associated with an account.
  const marketplace = marketplaceProvider({
    baseUrl: marketplaceApi.origin,
    marketplaceId: TEST_MARKETPLACE_ID,
    secret: TEST_MARKETPLACE_SECRET,
    // The provider keeps its own keep-alive pool by default; here it sends through the
    // emulator instead.
    dispatcher: server.dispatcher,
  })
  const account = marketplaceApi.seed.account({ name: 'Quickstart account' })
  const tokenize = async (number: string, cvc = '123') =>
    (await tokenizeCard(marketplace, { number, expMonth: 12, expYear: 2034, cvc })).id
  await walletTour(
    marketplace,
    store,
    { type: 'account', id: account.id },
    {
      first: await tokenize('4111111111111111'),
      second: await tokenize('5105105105105100'),
      replacement: await tokenize('341111111111111', '1234'),
    },
    log,
  )
  await marketplace.close()
  console.log('quickstart: done')
} finally {
  await store.close()
  server.close()
  rmSync(folder, { recursive: true, force: true })
}
