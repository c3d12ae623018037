import {
  type Card,
  CardNotFoundError,
  type CardProvider,
  CardportError,
  type CardUpdate,
  cardNotFound,
  decodeCursor,
  defineCardProvider,
  encodeCursor,
  formatOwner,
  InvalidRequestError,
  type Owner,
  OwnerNotFoundError,
  optionsObject,
  type ProviderCapabilities,
  ProviderNameSchema,
  type ValidCreateCardInput,
  validate,
} from '@cardport/core'
import Stripe from 'stripe'
import { z } from 'zod'
import { guardHttpClient } from './http-client-guard.js'
import { mapStripeError } from './map-error.js'
import { idOf, isObject, ownerOf, STRIPE_PROVIDER_NAME, stripeCardOf } from './parse-card.js'
import {
  CUSTOMER_SOURCE_KINDS,
  checkedClient,
  type StripeClient,
  type StripeParams,
  type StripeRequestOptions,
  wrongAnswer,
} from './stripe-client.js'

/**
 * The Stripe API version every request is pinned to, whatever the SDK's default: the version
 * whose card, customer and external-account objects the adapter reads. Sent per request, so a
 * `Stripe` instance you share with other code keeps its own default.
 */
export const STRIPE_API_VERSION = '2023-08-16'

/** What the Stripe adapter supports: everything but invalidation, for both owner types. */
export const STRIPE_CAPABILITIES = Object.freeze({
  /** Customers (customer sources) and Connect accounts (external accounts). */
  ownerTypes: ['customer', 'account'],
  /** From a token (`tok_visa`) or raw card details. */
  createCard: true,
  /** One card of the owner. */
  getCard: true,
  /** Pages of the owner's cards (bank accounts skipped), with `starting_after` as the cursor. */
  listCards: true,
  /** Address, expiry, name and metadata. */
  updateCard: true,
  /** An account's default card for its currency cannot be deleted (`conflict`). */
  deleteCard: true,
  /** A customer's `default_source`, an account card's `default_for_currency`. */
  setDefaultCard: true,
  /** Stripe has no invalidation: delete the card instead. */
  invalidateCard: false,
  /** Raw details are sent as a card hash (`source[object]=card`). */
  cardDetails: true,
  /** An account's cards are Connect external accounts, with a default per currency. */
  externalAccounts: true,
  /**
   * A card added to a customer without a default source becomes the default. Deleting the
   * default makes Stripe promote the most recently added remaining source, which may be a bank
   * account: then no card is the default and `getDefaultCard` answers null.
   */
  defaultPolicy: 'first-card',
  /** Everything `updateCard` can change. */
  updatableFields: ['address', 'expiry', 'holderName', 'metadata'],
} as const satisfies ProviderCapabilities)

/** Options of {@link stripeProvider}: a `Stripe` instance, or an API key to make one. */
export type StripeProviderOptions = {
  /**
   * The SDK's network retries for each request the adapter sends (connection errors, 409, 5xx),
   * with the same idempotency key on every retry of a create. Sent per request, so it applies
   * to an instance you pass in whatever that instance was configured with. Default 2.
   */
  maxNetworkRetries?: number | undefined
  /** Per-request timeout in milliseconds. Default: the SDK's (80 s). */
  timeoutMs?: number | undefined
  /**
   * The provider's name (`provider.name`): stored with every card it returns, it scopes the
   * store's rows, and its errors and cursors carry it. Default `'stripe'`. Give each Stripe
   * account kept in one store a name of its own (`'stripe-eu'`, `'stripe-us'`), and the same
   * name to the `stripeWebhookHandler` of that account: under one name, one account's
   * `reconcile()` asks it for the other's customers, and fails on each (`owner_not_found`). 1 to
   * 64 letters, digits, `-`, `_` or `.`, starting with a letter (core's `ProviderNameSchema`).
   */
  name?: string | undefined
} & (
  | {
      /**
       * Your `Stripe` instance (any SDK version from 16 to 23). Its HTTP client is guarded, once,
       * against answers whose body is JSON but not an object, on which the SDK never settles a
       * call (README, "Errors"); your own calls on it then fail on such a body instead. A partial
       * client (a test double) serves the calls whose methods it has; a call whose method it
       * lacks fails with a non-retryable `invalid_request` naming the method.
       */
      stripe: StripeClient
      /** Not with `stripe`: pass one of the two. */
      apiKey?: never
    }
  | {
      /** A secret or restricted key (`sk_…`, `rk_…`); an SDK instance is made for you. */
      apiKey: string
      /** Extra options for the SDK instance made from `apiKey` (host, port, httpClient …). */
      stripeConfig?: Record<string, unknown> | undefined
      /** Not with `apiKey`: pass one of the two. */
      stripe?: never
    }
)

const OptionsSchema = optionsObject({
  stripe: z
    .custom<StripeClient>(
      (value) => isObject(value) && isObject(value.customers) && isObject(value.accounts),
      'stripe must be a Stripe instance',
    )
    .optional(),
  apiKey: z
    .string()
    .regex(/^(sk|rk)_(test|live)_\w+$/, 'apiKey must be a secret (sk_) or restricted (rk_) key')
    .optional(),
  stripeConfig: z.record(z.string(), z.unknown()).optional(),
  maxNetworkRetries: z.number().int().min(0).max(10).default(2),
  timeoutMs: z.number().int().positive().optional(),
  name: ProviderNameSchema.default(STRIPE_PROVIDER_NAME),
}).refine((options) => (options.stripe === undefined) !== (options.apiKey === undefined), {
  message: 'pass exactly one of stripe (an instance) and apiKey',
})

/** The Stripe provider's type: its capabilities are known to the compiler. */
export type StripeProvider = CardProvider<typeof STRIPE_CAPABILITIES>

/**
 * A cardport provider over Stripe. Customers' cards are customer sources
 * (`/v1/customers/:id/sources`); accounts' cards are Connect external accounts
 * (`/v1/accounts/:id/external_accounts`, with a default per currency).
 *
 * @throws `invalid_request` (naming `stripeProvider options`, never the key) for a bad option or
 * one it does not know: a misspelt option would otherwise run on its default.
 *
 * @example
 * ```ts
 * import Stripe from 'stripe'
 * import { stripeProvider } from '@cardport/stripe'
 *
 * const provider = stripeProvider({ stripe: new Stripe(process.env.STRIPE_SECRET_KEY!) })
 * const card = await provider.createCard({ type: 'customer', id: 'cus_123' }, { source: 'tok_visa' })
 * ```
 */
export function stripeProvider(options: StripeProviderOptions): StripeProvider {
  const valid = validate(OptionsSchema, options, 'stripeProvider options', STRIPE_PROVIDER_NAME)
  const { name } = valid
  const sdk =
    valid.stripe ?? clientFromKey(name, valid.apiKey!, valid.maxNetworkRetries, valid.stripeConfig)
  guardHttpClient(sdk)
  const stripe = checkedClient(sdk, name)
  const requestOptions = (idempotencyKey?: string): StripeRequestOptions => ({
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: valid.maxNetworkRetries,
    ...(valid.timeoutMs === undefined ? {} : { timeout: valid.timeoutMs }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  })

  /**
   * A customer as Stripe answers it. Stripe answers a deleted customer's id with 200 and its
   * stub (`{ id, object: 'customer', deleted: true }`) where every other path answers 404 "No
   * such customer": the stub is `owner_not_found` too, not a customer without a default, and
   * says the customer was deleted (`details.ownerDeleted`), which a 404 cannot tell from a
   * customer of another account or mode. The checked client has made sure it is a customer: an
   * answer of another kind is `provider_unavailable`, never a customer without a default.
   */
  const retrieveCustomer = async (owner: Owner, params: StripeParams) => {
    const customer = await stripe.customers.retrieve(owner.id, params, requestOptions())
    if (isObject(customer) && customer.deleted === true) {
      throw new OwnerNotFoundError(`Stripe: the customer ${owner.id} was deleted`, {
        provider: name,
        status: 404,
        providerCode: 'resource_missing',
        details: { ownerDeleted: true },
      })
    }
    return customer
  }

  const toCard = (raw: unknown, owner: Owner, defaultSourceId?: string | null): Card => {
    const card = stripeCardOf(name, raw, owner, defaultSourceId)
    if (!card) {
      throw new TypeError('Stripe returned an object that is not a card where a card was expected')
    }
    return card
  }

  /**
   * What a create attached, as a card. Another object (a bank account, a legacy source), which
   * only a `tok_…` that is no card token could make once `cardTokenOnly` has passed the token, is
   * `invalid_request` naming its id (`details.sourceId`): never read as a card, never made the
   * default by the adapter.
   */
  const createdCard = (raw: unknown, owner: Owner, defaultSourceId?: string | null): Card => {
    const card = stripeCardOf(name, raw, owner, defaultSourceId)
    if (card) return card
    const id = idOf(raw)
    throw new InvalidRequestError(
      `Stripe: the token made ${isObject(raw) && typeof raw.object === 'string' ? `a ${raw.object}` : 'an object'}${id ? ` (${id})` : ''} for ${formatOwner(owner)}, not a card: the card API does not read it, nor make it the default (remove it with Stripe's own API)`,
      { provider: name, details: id ? { sourceId: id } : undefined },
    )
  }

  /**
   * The card a replayed create made, as Stripe holds it now. Stripe answers a create sent again
   * with its idempotency key with the answer it stored (`Idempotent-Replayed: true`), for 24
   * hours, whatever happened to the card since: a card deleted since comes back as made, and as
   * the default it was. It is read again (`retrieve`), and one that is gone is `card_not_found`,
   * so that a caller (`CardSync.setDefaultCard`, whose keys derive from the token) makes a new
   * card under another key instead of taking a deleted card for the new default.
   */
  const stillHeld = async (
    owner: Owner,
    answer: unknown,
    retrieve: (cardId: string) => Promise<unknown>,
  ): Promise<unknown> => {
    const cardId = idOf(answer)
    if (!cardId || !looksLikeCardId(cardId)) return answer
    try {
      return await retrieve(cardId)
    } catch (error) {
      const mapped = mapStripeError(error, name)
      if (mapped?.code !== 'card_not_found') throw error
      throw new CardNotFoundError(
        `Stripe: the card ${cardId} that this idempotency key made for ${formatOwner(owner)} was deleted since; a create with another key makes a new card`,
        {
          provider: name,
          status: mapped.status,
          requestId: mapped.requestId,
          providerCode: mapped.providerCode,
          cause: error,
        },
      )
    }
  }

  const customers = {
    async create(owner: Owner, input: ValidCreateCardInput, idempotencyKey: string) {
      cardTokenOnly(name, input.source)
      const params: StripeParams = { source: sourceParam(input.source) }
      if (input.metadata) params.metadata = input.metadata
      // Without makeDefault, the customer comes expanded in the same answer: its
      // `default_source` says whether the new card is the default (the first card is), with no
      // second request that could fail once the card is made.
      if (!input.makeDefault) params.expand = ['customer']
      const answer = await stripe.customers.createSource(
        owner.id,
        params,
        requestOptions(idempotencyKey),
      )
      const raw = wasReplayed(answer)
        ? await stillHeld(owner, answer, (cardId) =>
            stripe.customers.retrieveSource(
              owner.id,
              cardId,
              input.makeDefault ? {} : { expand: ['customer'] },
              requestOptions(),
            ),
          )
        : answer
      if (!input.makeDefault) return createdCard(raw, owner)
      const card = createdCard(raw, owner, idOf(raw))
      try {
        await stripe.customers.update(owner.id, { default_source: card.id }, requestOptions())
      } catch (error) {
        throw madeButNotDefault(name, error, owner, card)
      }
      return card
    },
    async get(owner: Owner, cardId: string) {
      const raw = await stripe.customers.retrieveSource(
        owner.id,
        cardId,
        { expand: ['customer'] },
        requestOptions(),
      )
      return notACardIsNotFound(name, raw, owner, cardId, () => toCard(raw, owner))
    },
    async list(owner: Owner, limit: number, cursor?: string) {
      if (!cursor) return customers.firstPage(owner, limit)
      // A later page: each card comes with its customer expanded, whose `default_source` says
      // which card is the default, in one request and from the same snapshot as the cards.
      const params: StripeParams = {
        object: 'card',
        limit,
        starting_after: cursorAfter(name, owner, cursor),
        expand: ['data.customer'],
      }
      return toPage(name, owner, await customers.sources(owner, params), (raw) =>
        stripeCardOf(name, raw, owner),
      )
    },
    /**
     * The first page, from the customer with its sources expanded: Stripe embeds the customer's
     * 10 most recent sources (cards, bank accounts and legacy sources alike), and the customer
     * says which is the default. A customer with up to 10 sources is listed in one request,
     * whose body holds the customer once (not once a card, as `expand: ['data.customer']`
     * would); one with more continues from its last embedded card with a plain list of cards,
     * the default known already (see bench/README.md for the measurements). A customer answered
     * without its sources list is listed by that plain list too: it is never read as a customer
     * without cards, which would make reconcile remove the stored ones.
     *
     * Embedded cards that exactly fill the page, with more sources after the embedded ones, do
     * not tell whether a card follows: the sources after them may all be bank accounts, and a
     * `hasMore` read from the embedded list sent the caller to an empty page. The plain list is
     * then asked for one card, only to learn whether one follows.
     */
    async firstPage(owner: Owner, limit: number) {
      const customer = await retrieveCustomer(owner, { expand: ['sources'] })
      const defaultId = isObject(customer) ? idOf(customer.default_source) : null
      const parse = (raw: unknown) => stripeCardOf(name, raw, owner, defaultId)
      const embedded = listOf(isObject(customer) ? customer.sources : undefined)
      const hasMore = embedded === null || embedded.hasMore
      const cards = (embedded?.items ?? []).filter((raw) => isObject(raw) && raw.object === 'card')
      if (!hasMore || cards.length > limit) {
        return pageOf(name, owner, cards.slice(0, limit), cards.length > limit, parse)
      }
      const wanted = limit - cards.length
      const params: StripeParams = { object: 'card', limit: Math.max(wanted, 1) }
      const lastCard = idOf(cards.at(-1))
      if (lastCard) params.starting_after = lastCard
      const rest = checkedList(name, await customers.sources(owner, params))
      const more = rest.items
      return pageOf(
        name,
        owner,
        [...cards, ...more.slice(0, wanted)],
        rest.hasMore || more.length > wanted,
        parse,
      )
    },
    /** `GET /v1/customers/:id/sources`; a customer deleted meanwhile says so. */
    async sources(owner: Owner, params: StripeParams) {
      try {
        return await stripe.customers.listSources(owner.id, params, requestOptions())
      } catch (error) {
        // "No such customer": deleted, or never of this account? The customer's own URL tells
        // (a deleted one answers its stub), so that reconcile empties only a deleted owner.
        if (mapStripeError(error)?.code === 'owner_not_found') await retrieveCustomer(owner, {})
        throw error
      }
    },
    async update(owner: Owner, cardId: string, patch: CardUpdate) {
      await customers.ensureCard(owner, cardId)
      const raw = await stripe.customers.updateSource(
        owner.id,
        cardId,
        { ...updateParams(patch), expand: ['customer'] },
        requestOptions(),
      )
      return notACardIsNotFound(name, raw, owner, cardId, () => toCard(raw, owner))
    },
    async delete(owner: Owner, cardId: string) {
      await customers.ensureCard(owner, cardId)
      await stripe.customers.deleteSource(owner.id, cardId, {}, requestOptions())
    },
    async setDefault(owner: Owner, cardId: string) {
      await customers.ensureCard(owner, cardId)
      const customer = await stripe.customers.update(
        owner.id,
        { default_source: cardId, expand: ['default_source'] },
        requestOptions(),
      )
      // The card made the default, expanded: anything else (no source, an id, another source) is
      // not what Stripe answers an update that succeeded.
      const source = isObject(customer) ? customer.default_source : undefined
      return notACardIsNotFound(
        name,
        source,
        owner,
        cardId,
        () => toCard(source, owner, cardId),
        customer,
      )
    },
    async getDefault(owner: Owner) {
      const customer = await retrieveCustomer(owner, { expand: ['default_source'] })
      if (!isObject(customer)) return null
      const source = customer.default_source
      // No default (null), or the default expanded: a card, or another source, which leaves no
      // card the default. Anything else (an id the expansion left as it was, another kind of
      // object) does not say which card is the default, and is not read as "none".
      if (source !== null && !(isObject(source) && CUSTOMER_SOURCE_KINDS.has(source.object))) {
        throw wrongAnswer(name, 'a customer with its default source expanded', customer)
      }
      const defaultId = idOf(source)
      return stripeCardOf(name, source, owner, defaultId)
    },
    /** Refuses, before any change, an id that names a bank account or another source. */
    async ensureCard(owner: Owner, cardId: string) {
      if (looksLikeCardId(cardId)) return
      const raw = await stripe.customers.retrieveSource(owner.id, cardId, {}, requestOptions())
      notACardIsNotFound(name, raw, owner, cardId, () => toCard(raw, owner))
    },
  }

  const accounts = {
    async create(owner: Owner, input: ValidCreateCardInput, idempotencyKey: string) {
      cardTokenOnly(name, input.source)
      if (input.currency !== undefined && typeof input.source === 'string') {
        throw new InvalidRequestError(
          "Stripe: a token's currency is set when the token is created (card[currency]); pass currency only with card details, or leave it out",
          {
            provider: name,
            issues: [{ path: ['currency'], message: 'not with a token' }],
          },
        )
      }
      const params: StripeParams = {
        external_account: sourceParam(input.source, input.currency),
      }
      if (input.metadata) params.metadata = input.metadata
      if (input.makeDefault) params.default_for_currency = true
      const answer = await stripe.accounts.createExternalAccount(
        owner.id,
        params,
        requestOptions(idempotencyKey),
      )
      const raw = wasReplayed(answer)
        ? await stillHeld(owner, answer, (cardId) =>
            stripe.accounts.retrieveExternalAccount(owner.id, cardId, {}, requestOptions()),
          )
        : answer
      return createdCard(raw, owner)
    },
    async get(owner: Owner, cardId: string) {
      const raw = await stripe.accounts.retrieveExternalAccount(
        owner.id,
        cardId,
        {},
        requestOptions(),
      )
      return notACardIsNotFound(name, raw, owner, cardId, () => toCard(raw, owner))
    },
    async list(owner: Owner, limit: number, cursor?: string) {
      const params: StripeParams = { object: 'card', limit }
      if (cursor) params.starting_after = cursorAfter(name, owner, cursor)
      const page = await stripe.accounts.listExternalAccounts(owner.id, params, requestOptions())
      return toPage(name, owner, page, (raw) => stripeCardOf(name, raw, owner))
    },
    async update(owner: Owner, cardId: string, patch: CardUpdate) {
      await accounts.ensureCard(owner, cardId)
      const raw = await stripe.accounts.updateExternalAccount(
        owner.id,
        cardId,
        updateParams(patch),
        requestOptions(),
      )
      return notACardIsNotFound(name, raw, owner, cardId, () => toCard(raw, owner))
    },
    async delete(owner: Owner, cardId: string) {
      await accounts.ensureCard(owner, cardId)
      await stripe.accounts.deleteExternalAccount(owner.id, cardId, {}, requestOptions())
    },
    async setDefault(owner: Owner, cardId: string) {
      await accounts.ensureCard(owner, cardId)
      const raw = await stripe.accounts.updateExternalAccount(
        owner.id,
        cardId,
        { default_for_currency: true },
        requestOptions(),
      )
      return notACardIsNotFound(name, raw, owner, cardId, () => toCard(raw, owner))
    },
    async getDefault(owner: Owner): Promise<Card | null> {
      // An account has a default per currency; the first one listed stands for the owner.
      let cursor: string | undefined
      do {
        const page = await accounts.list(owner, 100, cursor)
        const found = page.data.find((card) => card.isDefault)
        if (found) return found
        cursor = page.nextCursor ?? undefined
      } while (cursor)
      return null
    },
    /** Refuses, before any change, an id that names a bank account. */
    async ensureCard(owner: Owner, cardId: string) {
      if (looksLikeCardId(cardId)) return
      const raw = await stripe.accounts.retrieveExternalAccount(
        owner.id,
        cardId,
        {},
        requestOptions(),
      )
      notACardIsNotFound(name, raw, owner, cardId, () => toCard(raw, owner))
    },
  }

  const kind = (owner: Owner) => (owner.type === 'customer' ? customers : accounts)

  return defineCardProvider({
    name,
    capabilities: STRIPE_CAPABILITIES,
    createCard: (owner, input, { idempotencyKey }) =>
      kind(owner).create(owner, input, idempotencyKey),
    getCard: (owner, cardId) => kind(owner).get(owner, cardId),
    listCards: (owner, { limit, cursor }) => kind(owner).list(owner, limit, cursor),
    updateCard: (owner, cardId, patch) => kind(owner).update(owner, cardId, patch),
    deleteCard: (owner, cardId) => kind(owner).delete(owner, cardId),
    setDefaultCard: (owner, cardId) => kind(owner).setDefault(owner, cardId),
    getDefaultCard: (owner) => kind(owner).getDefault(owner),
    // The payload's own owner when it names one, so that the core refuses it (invalid_request)
    // for another owner given: read as the given owner's, CardSync.syncFromProviderData would
    // store another customer's card among that owner's cards.
    parseCard: (raw, owner) =>
      stripeCardOf(name, raw, (isObject(raw) ? ownerOf(raw) : null) ?? owner),
    mapError: (error) => mapStripeError(error, name),
  })
}

/**
 * A `Stripe` instance made from a key. The SDK checks its config when the instance is made and
 * throws a plain `Error` (an unknown key, an `appInfo` that is not an object): that is a bad
 * option, reported as one.
 */
function clientFromKey(
  name: string,
  apiKey: string,
  maxNetworkRetries: number,
  config: Record<string, unknown> = {},
): StripeClient {
  try {
    return new Stripe(apiKey, { maxNetworkRetries, ...config }) as unknown as StripeClient
  } catch (error) {
    const reason = error instanceof Error ? error.message : 'refused'
    throw new InvalidRequestError(
      `Invalid stripeProvider options: the stripe SDK refused stripeConfig: ${reason}`,
      { provider: name, cause: error },
    )
  }
}

/**
 * Whether Stripe answered with the stored answer of an earlier request with the same idempotency
 * key: its `Idempotent-Replayed: true` header, read from the SDK's raw response (`lastResponse`:
 * node:http's, whose headers are an object, or a fetch `Response`, whose headers are `Headers`).
 */
function wasReplayed(answer: unknown): boolean {
  const response = isObject(answer) ? answer.lastResponse : undefined
  const headers = isObject(response) ? response.headers : undefined
  if (!isObject(headers)) return false
  const value =
    typeof headers.get === 'function'
      ? (headers.get as (name: string) => unknown)('idempotent-replayed')
      : headers['idempotent-replayed']
  return value === 'true'
}

/**
 * Refuses, before any request, a token that is not a card token (`tok_…`). Stripe attaches what
 * a bank account token (`btok_…`) or a Sources API id (`src_…`) names: made through the card API,
 * a bank account would be created, and made the default with `makeDefault`, before the answer
 * showed it was no card. The token is not quoted.
 */
function cardTokenOnly(name: string, source: ValidCreateCardInput['source']): void {
  if (typeof source !== 'string' || source.startsWith('tok_')) return
  throw new InvalidRequestError(
    'Stripe: source must be a card token (tok_…) or card details: a bank account token, a bank account or a source id makes no card',
    { provider: name, issues: [{ path: ['source'], message: 'not a card token (tok_…)' }] },
  )
}

/**
 * The error of a customer's default update that failed once its card was made. The card exists
 * at Stripe, and the error says so (`details.cardId`, and the message), so that the create is not
 * taken for one that failed: a retry with the same idempotency key gets the same card back and
 * makes it the default, and `setDefaultCard(owner, cardId)` makes it the default alone. Its code,
 * status and `retryable` are the update's. An error the Stripe mapping does not know is given
 * back as it is.
 */
function madeButNotDefault(name: string, error: unknown, owner: Owner, card: Card): unknown {
  const mapped = mapStripeError(error, name)
  if (!mapped) return error
  return new CardportError(
    mapped.code,
    `Stripe: card ${card.id} was added to ${formatOwner(owner)} but not made its default: ${mapped.message.replace(/^Stripe: /, '')}`,
    {
      provider: name,
      status: mapped.status,
      providerCode: mapped.providerCode,
      declineCode: mapped.declineCode,
      requestId: mapped.requestId,
      retryable: mapped.retryable,
      retryAfterMs: mapped.retryAfterMs,
      details: { ...mapped.details, cardId: card.id },
      cause: error,
    },
  )
}

/**
 * The `source` / `external_account` parameter: a token, or a card hash from raw details (with
 * the payout currency, for external accounts).
 */
function sourceParam(
  source: ValidCreateCardInput['source'],
  currency?: string,
): string | StripeParams {
  if (typeof source === 'string') return source
  const card: StripeParams = {
    object: 'card',
    number: source.number,
    exp_month: source.expMonth,
    exp_year: source.expYear,
  }
  if (source.cvc) card.cvc = source.cvc
  if (source.holderName) card.name = source.holderName
  const address = source.address ?? {}
  if (address.line1) card.address_line1 = address.line1
  if (address.line2) card.address_line2 = address.line2
  if (address.city) card.address_city = address.city
  if (address.state) card.address_state = address.state
  if (address.postalCode) card.address_zip = address.postalCode
  if (address.country) card.address_country = address.country
  if (currency) card.currency = currency
  return card
}

/** Stripe's card update parameters; `''` clears a field, as Stripe expects. */
function updateParams(patch: CardUpdate): StripeParams {
  const params: StripeParams = {}
  if (patch.holderName !== undefined) params.name = patch.holderName ?? ''
  if (patch.expMonth !== undefined) params.exp_month = patch.expMonth
  if (patch.expYear !== undefined) params.exp_year = patch.expYear
  if (patch.metadata !== undefined) params.metadata = patch.metadata
  const fields = {
    line1: 'address_line1',
    line2: 'address_line2',
    city: 'address_city',
    state: 'address_state',
    postalCode: 'address_zip',
    country: 'address_country',
  } as const
  for (const [key, param] of Object.entries(fields) as [keyof typeof fields, string][]) {
    const value = patch.address?.[key]
    if (value !== undefined) params[param] = value ?? ''
  }
  return params
}

function toPage(name: string, owner: Owner, raw: unknown, parse: (item: unknown) => Card | null) {
  const list = checkedList(name, raw)
  return pageOf(name, owner, list.items, list.hasMore, parse)
}

/**
 * A list's items and `has_more`, from a list call's answer (the checked client's). Anything that
 * is no list is `provider_unavailable`: read as an empty page it would say "no cards", and
 * `reconcile` would remove every stored card of the owner.
 */
function checkedList(name: string, raw: unknown): { items: unknown[]; hasMore: boolean } {
  const list = listOf(raw)
  if (!list) throw wrongAnswer(name, 'a list', raw)
  return list
}

/**
 * A Stripe list's items and `has_more`; null for anything that is no list (a customer's
 * `sources` it was answered without).
 */
function listOf(raw: unknown): { items: unknown[]; hasMore: boolean } | null {
  if (!isObject(raw) || !Array.isArray(raw.data)) return null
  return { items: raw.data, hasMore: raw.has_more === true }
}

/**
 * A page of `items` (what Stripe listed, in order), the cursor after the last of them. The
 * cursor names the owner: another owner's list has no such card, and Stripe would answer it
 * with the `resource_missing` of a card deleted since, and the provider `name`: another Stripe
 * provider's cursor is refused.
 */
function pageOf(
  name: string,
  owner: Owner,
  items: unknown[],
  hasMore: boolean,
  parse: (item: unknown) => Card | null,
) {
  const data = items.map(parse).filter((card): card is Card => card !== null)
  const last = idOf(items.at(-1))
  return {
    data,
    hasMore,
    nextCursor:
      hasMore && last ? encodeCursor(name, { after: last }, { list: formatOwner(owner) }) : null,
  }
}

/**
 * The `starting_after` of a cursor `pageOf` made for `owner` by the provider `name`;
 * `invalid_request` for any other.
 */
function cursorAfter(name: string, owner: Owner, cursor: string): string {
  return decodeCursor(name, cursor, {
    list: formatOwner(owner),
    read: ({ after }) => (typeof after === 'string' && after !== '' ? after : undefined),
  })
}

/**
 * Stripe's card ids start with `card_`. Any other id (a bank account's `ba_…`, a source's
 * `src_…`) is read first by the mutations, so that the card API never changes a bank account.
 */
function looksLikeCardId(id: string): boolean {
  return id.startsWith('card_')
}

/**
 * The card `raw`, what Stripe answered about the source `cardId`. A source id that names a bank
 * account (or another payment source) is, for a card API, a card that does not exist: an answer
 * that is that source, with that id, is `card_not_found`. Anything else (another resource, a
 * list, another source's answer) says nothing about the card, and is `provider_unavailable`:
 * read as "no such card", `CardSync` would remove its local copy. `answer` is the SDK's result
 * `raw` came in, for its status.
 */
function notACardIsNotFound(
  name: string,
  raw: unknown,
  owner: Owner,
  cardId: string,
  parse: () => Card,
  answer: unknown = raw,
): Card {
  if (isObject(raw) && raw.object === 'card') return parse()
  if (isObject(raw) && CUSTOMER_SOURCE_KINDS.has(raw.object) && raw.id === cardId) {
    throw cardNotFound(name, owner, cardId)
  }
  throw wrongAnswer(name, `the source ${cardId} asked for`, answer)
}
