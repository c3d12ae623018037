import type {
  CardDetailsInput,
  CardProvider,
  CreateCardInput,
  Owner,
  OwnerOf,
  ProviderCapabilities,
} from '@cardport/core'
import {
  type CardProviderCheck,
  cardProviderChecks,
  type SuiteData,
} from './card-provider-checks.js'
import { registerChecks, type SkipCheck } from './register-checks.js'

/** What `createCard` takes as `source`: a provider token or id, or raw card details. */
export type CardSource = CreateCardInput['source']

/** Makes a fresh owner at the provider (a new customer, a new connected account …). */
export type OwnerFactory = () => Owner | Promise<Owner>

/** The card sources the suite creates cards from. */
export interface CardSources {
  /**
   * Sources that each create a card (at least one). The suite uses them in turn, and reuses
   * them: give tokens the provider accepts more than once (Stripe's `tok_visa`), or card details.
   */
  valid: readonly CardSource[]
  /** A source the provider declines: `createCard` must reject with `card_declined`. */
  declined?: CardSource | undefined
  /**
   * A source the provider refuses as invalid (it fails the provider's validation, such as the
   * marketplace's `card-not-validated`): `createCard` must reject with `card_invalid`.
   */
  invalid?: CardSource | undefined
  /**
   * Raw card details the provider accepts, used when `capabilities.cardDetails` is true.
   * Default: Stripe's test Visa `4242 4242 4242 4242`, CVC `737`, expiring in four years.
   */
  details?: CardDetailsInput | undefined
  /**
   * Raw card details that pass the core's local checks (a Luhn-valid number, an expiry in the
   * future, a CVC of the brand's length) and that the provider declines (`card_declined`), such
   * as Stripe's `4000 0000 0000 0002`. Used when `capabilities.cardDetails` is true, to check
   * that the adapter's own refusal holds neither the number nor the CVC: the core refuses
   * invalid details before the adapter runs, and masks card numbers but not CVCs in its errors.
   * Not needed when `declined` or `invalid` is given as raw details (those are used); without
   * any of them, that check is reported skipped.
   */
  declinedDetails?: CardDetailsInput | undefined
  /**
   * A token or tokenized card id the provider does not know (it names nothing): `createCard`
   * must reject with `invalid_request`, as Stripe's "No such token" is, never `card_not_found`,
   * which `CardSync.setDefaultCard` reads as "the card this idempotency key made is gone".
   * Default: the suite's `missingCardId`.
   */
  unknown?: string | undefined
}

/**
 * What `setup` returns for one test: the provider, owner factories and read-back hooks.
 * Every test calls `setup` once and `teardown` once.
 */
export interface CardProviderFixture<C extends ProviderCapabilities = ProviderCapabilities> {
  /** The provider under test. */
  provider: CardProvider<C>
  /**
   * One factory per owner type in `capabilities.ownerTypes`. Each call must make a new owner
   * (a new customer, a new connected account), so that no two tests, nor two owners of one
   * test, share cards.
   */
  owners: { readonly [T in C['ownerTypes'][number]]: OwnerFactory }
  /**
   * Read-back hook: the provider's raw payload of a card, as its API or its webhooks give it.
   * The suite checks that `parseCard` reads it as `getCard` does.
   */
  readRawCard: (owner: OwnerOf<C>, cardId: string) => Promise<unknown>
  /**
   * Read-back hook: how many requests the provider has sent so far (count them in your MSW
   * server's `request:start` event, which fires for global `fetch` and `node:http`; the undici
   * bridge of `setupCardportServer` answers undici's requests without MSW's events, so count
   * an undici adapter's with the emulator's `state.requests().length`). When given, the suite
   * checks that it counts a read of a new owner, and that what the core validates locally
   * (list limits, metadata limits, unsupported owners) sends no request.
   */
  requestCount?: (() => number) | undefined
  /** Runs after each test, failed or not. */
  teardown?: (() => void | Promise<void>) | undefined
}

/** Options of {@link describeCardProvider}. */
export interface CardProviderSuiteOptions<C extends ProviderCapabilities = ProviderCapabilities> {
  /** The name of the `describe` block, e.g. `'stripeProvider over the emulator'`. */
  name: string
  /**
   * The capabilities the provider declares (the constant your adapter exports). The suite
   * registers its tests from them, and checks that `provider.capabilities` is the same.
   */
  capabilities: C
  /**
   * The card sources cards are created from, for every owner type (the rules for `declined`
   * and `invalid` are registered when they are given).
   */
  sources: CardSources
  /**
   * The sources for `account` owners, when they differ (Stripe's external accounts take debit
   * cards only). The owner-generic checks run once per owner type, each with its type's
   * sources: `declined`, `invalid`, `unknown`, `details` and `declinedDetails` given here are
   * checked for account owners (and those left out here are not taken from `sources`).
   */
  accountSources?: CardSources | undefined
  /**
   * For external accounts: the currency to pass to `createCard`. When absent none is passed
   * and the provider's default applies (Stripe: the account's default currency).
   */
  currency?: string | undefined
  /**
   * For external accounts: two or more sources of cards in a second currency, and that
   * currency (passed to `createCard` with each). When given, the suite checks that each currency
   * has a default of its own: the first card in the second currency becomes its default, and the
   * first currency keeps its own. Stripe takes a currency with card details only.
   */
  otherCurrency?:
    | {
        /** The second currency, lower case (`'eur'`), other than `currency`. */
        currency: string
        /** Two or more sources of cards that pay out in it. */
        sources: readonly CardSource[]
      }
    | undefined
  /** A card id no owner holds. Default `'card_cardportConformanceMissing'`. */
  missingCardId?: string | undefined
  /**
   * Payloads of the provider that are not cards (a bank account object …): `parseCard` must
   * return null for each, as it must for `null`, `undefined`, `42`, `'card'`, `[]` and `{}`.
   */
  nonCards?: readonly unknown[] | undefined
  /** Builds a fresh fixture; called once per test. */
  setup: () => CardProviderFixture<C> | Promise<CardProviderFixture<C>>
  /** Per-test timeout in milliseconds. Default: Vitest's. */
  timeout?: number | undefined
}

/**
 * Registers the conformance tests of a card provider: one Vitest test for every rule of the
 * cardport provider contract that the provider's capabilities make applicable, and, for every
 * capability it lacks, a test that the operation rejects with `unsupported_operation`.
 *
 * Covered: creation from tokens and card details, normalized output (`CardSchema`), the
 * default rules of `capabilities.defaultPolicy` (`'first-card'`, `'caller-chosen'`,
 * `'latest-card'`: every new card is the default and removing it falls back to the most
 * recently added valid card; `'none'`), get, owner scoping, paging with `limit` 1–100 and an
 * opaque cursor, `listAll`, an owner's 25 cards each listed once, updates of each field
 * `capabilities.updatableFields` lists (metadata limits checked before any request) and
 * `unsupported_operation`, before any request, for each field it leaves out, deletion and
 * default promotion, external accounts (a default per currency that cannot be deleted),
 * `setDefaultCard`, `getDefaultCard`, invalidation, idempotency keys, `parseCard`, errors that
 * carry `provider` and never a card number or CVC (in their `details` and `cause` chain
 * neither), and owner types the provider does not hold. The owner-generic checks run once per
 * owner type in `ownerTypes` (titles of the second end with "(account owners)"), each with its
 * sources.
 *
 * Each test calls `setup()`, asks the owner factories for fresh owners, and calls `teardown`.
 *
 * @example
 * ```ts
 * import { describeCardProvider } from '@cardport/testing'
 * import { STRIPE_CAPABILITIES, stripeProvider } from '@cardport/stripe'
 *
 * describeCardProvider({
 *   name: 'stripeProvider',
 *   capabilities: STRIPE_CAPABILITIES,
 *   sources: { valid: ['tok_visa', 'tok_mastercard'], declined: 'tok_chargeDeclined' },
 *   accountSources: { valid: ['tok_visa_debit', 'tok_mastercard_debit'] },
 *   setup: () => ({
 *     provider: stripeProvider({ stripe }),
 *     owners: {
 *       customer: async () => ({ type: 'customer', id: (await stripe.customers.create()).id }),
 *       account: async () => ({ type: 'account', id: (await stripe.accounts.create({ type: 'custom' })).id }),
 *     },
 *     readRawCard: (owner, id) =>
 *       owner.type === 'customer'
 *         ? stripe.customers.retrieveSource(owner.id, id)
 *         : stripe.accounts.retrieveExternalAccount(owner.id, id),
 *   }),
 * })
 * ```
 */
export function describeCardProvider<const C extends ProviderCapabilities>(
  options: CardProviderSuiteOptions<C>,
): void {
  registerChecks(
    options.name,
    cardProviderChecks(options as unknown as SuiteData),
    (check, skip) => runCardProviderCheck(options, check, skip),
    options.timeout,
  )
}

/**
 * Runs one check of the suite against a fresh fixture, outside of `describeCardProvider`: the
 * suite's own tests use it to prove that a broken provider fails the check it breaks.
 *
 * @internal
 */
export async function runCardProviderCheck<C extends ProviderCapabilities>(
  options: Omit<CardProviderSuiteOptions<C>, 'name'>,
  check: CardProviderCheck,
  skip: SkipCheck = cannotSkip,
): Promise<void> {
  const fixture = await options.setup()
  try {
    await check.run(
      fixture as unknown as CardProviderFixture,
      options as unknown as SuiteData,
      skip,
    )
  } finally {
    await fixture.teardown?.()
  }
}

/** Outside a Vitest test there is nothing to mark skipped: a skipped check is a failed one. */
const cannotSkip: SkipCheck = (note) => {
  throw new Error(`check not run: ${note}`)
}
