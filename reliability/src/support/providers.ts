// The providers under test, over the emulators served on a loopback port: real sockets, so that
// a dropped connection is a destroyed socket and a timeout is the client's own timer, as in
// production. Both adapters are built with their retries off, so that every injected fault
// reaches CardSync (the code under test) instead of being absorbed below it.
import type { CardProvider, Owner, OwnerType, ProviderCapabilities } from '@cardport/core'
import { MARKETPLACE_CAPABILITIES, marketplaceProvider } from '@cardport/marketplace'
import { STRIPE_CAPABILITIES, type StripeClient, stripeProvider } from '@cardport/stripe'
import {
  type EmulatorServer,
  type MarketplaceEmulator,
  marketplaceEmulator,
  type StripeCard,
  type StripeEmulator,
  startEmulatorServer,
  stripeEmulator,
} from '@cardport/testing/emulators'
import Stripe from 'stripe'
import { fetch as undiciFetch } from 'undici'
import { SECRETS } from './leak-scan.js'
import { type TrackedEmulator, trackEmulator } from './tracked-emulator.js'

/** A card as the emulator holds it: the provider's truth, read without the adapter. */
export interface HeldCard {
  id: string
  /** False once invalidated (the marketplace); Stripe deletes instead. */
  active: boolean
  isDefault: boolean
  /**
   * What identifies the card's number: Stripe's fingerprint; the marketplace's hash (of the
   * number and the expiry).
   */
  fingerprint: string
}

/** One provider under test, with its emulator. */
export interface ProviderUnderTest {
  readonly name: 'stripe' | 'marketplace'
  readonly capabilities: ProviderCapabilities
  /** The owners the suite gives this provider's cards to. */
  readonly ownerType: OwnerType
  /** The emulator (faults, state), as the server serves it. */
  readonly emulator: StripeEmulator | MarketplaceEmulator
  /**
   * A provider over the emulator server, adapter retries off. `timeoutMs` bounds each request
   * (Stripe's `timeoutMs`, the marketplace's `headersTimeoutMs`).
   */
  provider(options?: { timeoutMs?: number }): CardProvider
  /** A new owner at the emulator holding `cards` cards of distinct numbers. */
  owner(cards: number): Owner
  /** A source for `setDefaultCard` that makes a card of a number the owner does not hold. */
  source(owner: Owner): string
  /** The owner's cards as the emulator holds them. */
  held(owner: Owner): HeldCard[]
  /**
   * The provider's own payload for a card, as an application holds it after its own API call
   * (Stripe's with the customer expanded, as `retrieveSource` with `expand: ['customer']`
   * answers, so that it says whether the card is the default).
   */
  raw(owner: Owner, cardId: string): unknown
  /** The requests the emulator has answered since its last reset. */
  requestCount(): number
  /**
   * Sets headers on every answer of the emulator from now on (see
   * {@link TrackedEmulator.setAnswerHeaders}), until called with `undefined` or `reset()`.
   */
  answerHeaders(headers: Record<string, string> | undefined): void
}

/** The emulator server and both providers; start it in `beforeAll`, close it in `afterAll`. */
export interface ProvidersUnderTest {
  readonly stripe: ProviderUnderTest
  readonly marketplace: ProviderUnderTest
  readonly all: readonly ProviderUnderTest[]
  start(): Promise<void>
  /** Resets both emulators (state, faults and the headers set on answers). */
  reset(): void
  /** Waits until every request the emulators started to answer is answered. */
  settled(): Promise<void>
  /** Closes the providers made since the last call (their own connection pools). */
  closeProviders(): Promise<void>
  close(): Promise<void>
}

const STRIPE_TOKENS = ['tok_visa', 'tok_amex', 'tok_discover', 'tok_jcb', 'tok_diners']
const MARKETPLACE_NUMBERS = [
  '4111111111111111',
  '5105105105105100',
  '6011111111111117',
  '3566002020360505',
]

/** Builds both providers over one emulator server (not started yet). */
export function providersUnderTest(): ProvidersUnderTest {
  const stripeTracked = trackEmulator(stripeEmulator())
  const marketplaceTracked = trackEmulator(marketplaceEmulator())
  const tracked: TrackedEmulator<StripeEmulator | MarketplaceEmulator>[] = [
    stripeTracked,
    marketplaceTracked,
  ]
  let server: EmulatorServer | undefined
  let closers: Array<() => Promise<void>> = []
  const url = () => {
    if (!server) throw new Error('start() the providers before using them')
    return server
  }

  const stripeEm = stripeTracked.emulator
  const stripe: ProviderUnderTest = {
    name: 'stripe',
    capabilities: STRIPE_CAPABILITIES,
    ownerType: 'customer',
    emulator: stripeEm,
    provider({ timeoutMs } = {}) {
      const client = new Stripe(SECRETS.stripeKey, {
        // undici's own fetch, not Node 20's: importing undici 7 (the marketplace adapter does)
        // makes it undici's global dispatcher, and Node 20's bundled fetch then fails every
        // request with a Content-Length header, as the SDK's POSTs have (see README.md).
        httpClient: Stripe.createFetchHttpClient(undiciFetch as unknown as typeof fetch),
        host: '127.0.0.1',
        port: url().port,
        protocol: 'http',
        maxNetworkRetries: 0,
      })
      return stripeProvider({
        stripe: client as unknown as StripeClient,
        maxNetworkRetries: 0,
        ...(timeoutMs === undefined ? {} : { timeoutMs }),
      })
    },
    owner(cards) {
      const owner: Owner = { type: 'customer', id: stripeEm.seed.customer().id }
      for (const token of STRIPE_TOKENS.slice(0, cards)) stripeEm.seed.card(owner.id, token)
      return owner
    },
    source: () => 'tok_mastercard',
    held(owner) {
      const defaultId = stripeEm.state.customer(owner.id)?.default_source ?? null
      return stripeEm.state
        .sources(owner.id)
        .filter((source) => source.object === 'card')
        .map((source) => {
          const card = source as StripeCard
          return {
            id: card.id,
            active: true,
            // A connected account has a default per currency; a customer, its default source.
            isDefault:
              owner.type === 'account' ? card.default_for_currency === true : card.id === defaultId,
            fingerprint: card.fingerprint,
          }
        })
    },
    raw(owner, cardId) {
      const customer = stripeEm.state.customer(owner.id)
      return { ...stripeEm.state.source(cardId), customer }
    },
    requestCount: () => stripeEm.state.requests().length,
    answerHeaders: (headers) => stripeTracked.setAnswerHeaders(headers),
  }

  const marketplaceEm = marketplaceTracked.emulator
  const marketplace: ProviderUnderTest = {
    name: 'marketplace',
    capabilities: MARKETPLACE_CAPABILITIES,
    ownerType: 'account',
    emulator: marketplaceEm,
    provider({ timeoutMs } = {}) {
      const provider = marketplaceProvider({
        baseUrl: url().url,
        marketplaceId: marketplaceEm.marketplaceId,
        secret: marketplaceEm.secret,
        retry: { retries: 0 },
        ...(timeoutMs === undefined ? {} : { headersTimeoutMs: timeoutMs }),
      })
      closers.push(() => provider.close())
      return provider
    },
    owner(cards) {
      const owner: Owner = { type: 'account', id: marketplaceEm.seed.account().id }
      for (const number of MARKETPLACE_NUMBERS.slice(0, cards)) {
        marketplaceEm.seed.card({ account: owner.id, card_number: number })
      }
      return owner
    },
    // A card tokenized earlier and held by no account: what the marketplace associates.
    source: () => marketplaceEm.seed.card({ card_number: '341111111111111' }).id,
    held(owner) {
      const chosen = marketplaceEm.state.defaultCard(owner.id)?.id
      return marketplaceEm.state.accountCards(owner.id).map((card) => ({
        id: card.id,
        active: card.is_valid,
        isDefault: card.id === chosen,
        fingerprint: card.hash,
      }))
    },
    raw: (_owner, cardId) => marketplaceEm.state.card(cardId),
    requestCount: () => marketplaceEm.state.requests().length,
    answerHeaders: (headers) => marketplaceTracked.setAnswerHeaders(headers),
  }

  return {
    stripe,
    marketplace,
    all: [stripe, marketplace],
    async start() {
      server = await startEmulatorServer({ emulators: [stripeEm, marketplaceEm] })
    },
    reset() {
      stripeEm.reset()
      marketplaceEm.reset()
      for (const emulator of tracked) emulator.setAnswerHeaders(undefined)
    },
    async settled() {
      for (const emulator of tracked) await emulator.settled()
    },
    async closeProviders() {
      const closing = closers
      closers = []
      await Promise.all(closing.map((close) => close()))
    },
    async close() {
      await this.closeProviders()
      await server?.close()
    },
  }
}
