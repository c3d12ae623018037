import { setMaxListeners } from 'node:events'
import {
  type Card,
  type CardDetailsInput,
  CardDetailsSchema,
  type CardProvider,
  type CardUpdate,
  cardNotFound,
  decodeCursor,
  defineCardProvider,
  encodeCursor,
  forgetLastMatch,
  formatOwner,
  IdempotencyKeySchema,
  InvalidRequestError,
  isCardportError,
  keyedQueue,
  ListAllOptionsSchema,
  type ListOptions,
  ListOptionsSchema,
  type Metadata,
  type MetadataPatch,
  MetadataPatchSchema,
  type Owner,
  optionsObject,
  type Page,
  type ProviderCapabilities,
  ProviderNameSchema,
  ProviderUnavailableError,
  type RetryPolicy,
  RetryPolicySchema,
  type ValidCreateCardInput,
  validate,
} from '@cardport/core'
import { Agent } from 'undici'
import { z } from 'zod'
import {
  checkMetadataKeys,
  heldMeta,
  type MetadataMergeStage,
  prepareUpdate,
  refuseCurrency,
  type TokenizeForm,
  toTokenizeForm,
} from './card-form.js'
import {
  closedProviderError,
  createHttpClient,
  type HttpClient,
  type HttpResponse,
  MAX_RESPONSE_BODY_BYTES,
  type MarketplaceDispatcher,
} from './http-client.js'
import {
  type CreateRecord,
  createIdempotencyLog,
  idempotencyHeader,
  inTurn,
} from './idempotency.js'
import { MARKETPLACE_PROVIDER_NAME, mapMarketplaceError } from './map-error.js'
import { MarketplaceIdSchema } from './marketplace-id.js'
import {
  chosenCardIdOf,
  isCardPayload,
  isObject,
  lastSegment,
  type MarketplaceCard,
  marketplaceCardOf,
  marketplaceCardTokenOf,
  ownerOf,
  readMarketplaceCard,
} from './parse-card.js'
import { MIN_SECRET_LENGTH } from './secret-mask.js'

/**
 * What the marketplace adapter supports. Cards belong to accounts; they are tokenized, then
 * associated with an account, and retired with `invalidateCard` (`is_valid=false`, final):
 * the marketplace has no way to delete one. The account's chosen card is the one most
 * recently associated that is still valid (`defaultPolicy: 'latest-card'`), which the caller
 * cannot pick otherwise. A card's name, address and expiry are fixed once tokenized (the
 * update form takes `meta`, `is_valid` and the account only): `updatableFields` is
 * `['metadata']`, and the core refuses any other field before a request.
 */
export const MARKETPLACE_CAPABILITIES = Object.freeze({
  /** Accounts only: a card is associated with an account. */
  ownerTypes: ['account'],
  /** Tokenizes raw details (or takes a tokenized card's id), then associates it. */
  createCard: true,
  /** One card of the account. */
  getCard: true,
  /** The account's cards, paged by offset. */
  listCards: true,
  /** Metadata (`meta`) only: see `updatableFields`. */
  updateCard: true,
  /** The marketplace cannot delete a card: invalidate it instead. */
  deleteCard: false,
  /** The marketplace picks the default itself (`defaultPolicy`); the caller cannot. */
  setDefaultCard: false,
  /** `is_valid=false`, which cannot be undone. */
  invalidateCard: true,
  /** Raw card details are accepted: the adapter tokenizes them at the marketplace. */
  cardDetails: true,
  /** Accounts hold no per-currency defaults. */
  externalAccounts: false,
  /** The most recently associated valid card is the account's chosen card. */
  defaultPolicy: 'latest-card',
  /** Name, address and expiry are fixed once tokenized. */
  updatableFields: ['metadata'],
} as const satisfies ProviderCapabilities)

/** Options of {@link marketplaceProvider}. */
export interface MarketplaceProviderOptions {
  /**
   * The API's origin, e.g. `'https://api.marketplace.example'` (paths start with `/v1`). A URL
   * with a user name or password (`https://secret:@…`) is refused: the secret goes in `secret`;
   * so is one with a query or a fragment, which the request paths appended to it would join.
   */
  baseUrl: string
  /**
   * The marketplace every card lives in (`TEST-MP4GZhFzmckF3PpDFczd02s7`), in the shape
   * {@link MarketplaceIdSchema} checks.
   */
  marketplaceId: string
  /**
   * The API key secret, sent with HTTP basic auth. Never logged nor put in an error. At least 4
   * characters: a shorter one is refused (`invalid_request`, without quoting it), as it could
   * not be masked in what a server quotes back. Refused the same way: a colon (basic auth ends the
   * user name there, so another user name would be sent), a control character (a line break, a
   * tab, which basic auth forbids), and a lone surrogate (no UTF-8 form). Any other character is
   * sent, as UTF-8 in the base64 credentials.
   */
  secret: string
  /**
   * Your undici `Dispatcher` (an `Agent`, a `Pool`, a `ProxyAgent`, a `MockAgent`, the testing
   * kit's bridge). Default: an `Agent` made for this provider, with keep-alive connections per
   * origin, which `close()` closes. A dispatcher you pass is yours to close.
   */
  dispatcher?: MarketplaceDispatcher | undefined
  /** Connect timeout of the default `Agent` (ignored with your own dispatcher). Default 10 s. */
  connectTimeoutMs?: number | undefined
  /**
   * Longest wait for the response headers. Default 30 s. undici checks it on a timer that ticks
   * about twice a second, so it fires up to ~1 s late: a timeout under a few seconds is coarse.
   */
  headersTimeoutMs?: number | undefined
  /** Longest silence while the response body arrives. Default 30 s; as coarse as the above. */
  bodyTimeoutMs?: number | undefined
  /**
   * The most bytes of a successful answer read, a whole number. Default 8 MiB (`8 * 1024 * 1024`):
   * a page of 100 cards is about 350 KB. A longer answer (a broken server, a proxy's endless page),
   * or one whose `Content-Length` says more, is not read further: its connection is dropped and
   * the call fails with `provider_unavailable`, not retried, naming this option. An error
   * answer's body is read up to 16 KiB, whatever this says.
   */
  maxResponseBodyBytes?: number | undefined
  /**
   * Retries of idempotent requests (GETs, and PUTs that set absolute state) on network errors,
   * 5xx and 429, with exponential backoff and full jitter (core's `withRetry`); the
   * `Retry-After` of a 429 or a 5xx (a 503's, say), in seconds or as a date, is the least wait,
   * capped by `maxDelayMs`. POSTs (tokenize, associate) are never retried: the reference
   * promises no idempotency. Default `{ retries: 2, baseDelayMs: 200, maxDelayMs: 20_000 }`.
   */
  retry?:
    | Pick<RetryPolicy, 'retries' | 'baseDelayMs' | 'maxDelayMs' | 'sleep' | 'random'>
    | undefined
  /**
   * The `User-Agent` header. Default `cardport-marketplace`. A value with a line break or another
   * control character is refused here, as undici would refuse every request carrying it.
   */
  userAgent?: string | undefined
  /**
   * The provider's name (`provider.name`): stored with every card it returns, it scopes the
   * store's rows, and its errors (their `provider`, and the head of their message) and cursors
   * carry it. Default `'marketplace'`. Give each marketplace kept in one store a name of its own
   * (`'mp-eu'`, `'mp-us'`): under one name, one's `reconcile()` would ask it for the other's
   * accounts. 1 to 64 letters, digits, `-`, `_` or `.`, starting with a letter (core's
   * `ProviderNameSchema`).
   */
  name?: string | undefined
}

const OptionsSchema = optionsObject({
  baseUrl: z
    .url({
      protocol: /^https?$/,
      error: 'baseUrl must be an http(s) URL such as https://api.example.com',
    })
    // A user or password in the URL (basic auth as curl takes it) would be the secret, shown by
    // provider.options; the secret goes in `secret`, and never travels in the URL.
    .refine((url) => !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url), {
      error: 'baseUrl cannot hold a user name or password: pass the API key secret as `secret`',
    })
    // Each request's path (`/v1/…`) is appended to baseUrl: after a query or a fragment it would
    // be read as part of them, and every request would go to the base itself.
    .refine((url) => !/[?#]/.test(url), {
      error:
        'baseUrl cannot hold a query (?…) or a fragment (#…): give the origin, with a path prefix if the API has one',
    })
    .transform((url) => url.replace(/\/+$/, '')),
  marketplaceId: MarketplaceIdSchema,
  // Shorter, the secret could not be masked in what a server quotes back (it would take ordinary
  // words with it), and no marketplace issues keys that short: a typo or a wrong variable.
  // It travels as the basic-auth user name (RFC 7617), which ends at the first colon and holds
  // no control character; a lone surrogate has no UTF-8 form and would be sent as U+FFFD. Each
  // would send other credentials than the caller's key. None of the messages quotes the value.
  secret: z
    .string()
    .min(
      MIN_SECRET_LENGTH,
      `secret is the marketplace API key secret: at least ${MIN_SECRET_LENGTH} characters`,
    )
    .refine((secret) => !secret.includes(':'), {
      error:
        'secret cannot hold a colon: HTTP basic auth, which carries it as the user name, ends the user name at the first colon',
    })
    .refine((secret) => !/\p{Cc}/u.test(secret), {
      error:
        'secret cannot hold a control character (a line break, a tab …), which HTTP basic auth forbids: check for a line break read with it from a file',
    })
    .refine((secret) => secret.isWellFormed(), {
      error: 'secret must be well-formed Unicode text: a lone surrogate has no UTF-8 form to send',
    }),
  dispatcher: z
    .custom<MarketplaceDispatcher>(
      (value) => isObject(value) && typeof value.dispatch === 'function',
      'dispatcher must be an undici Dispatcher (an Agent, a Pool …)',
    )
    .optional(),
  connectTimeoutMs: z.number().int().positive().default(10_000),
  headersTimeoutMs: z.number().int().positive().default(30_000),
  bodyTimeoutMs: z.number().int().positive().default(30_000),
  maxResponseBodyBytes: z.number().int().positive().default(MAX_RESPONSE_BODY_BYTES),
  retry: optionsObject({
    retries: z.number().int().min(0).max(10).default(2),
    // Up to the longest wait a timer holds, as withRetry takes them: refused here, not on a read.
    baseDelayMs: RetryPolicySchema.shape.baseDelayMs.unwrap().int().default(200),
    maxDelayMs: RetryPolicySchema.shape.maxDelayMs.unwrap().int().default(20_000),
    sleep: z
      .custom<(ms: number) => Promise<void>>((value) => typeof value === 'function')
      .optional(),
    random: z.custom<() => number>((value) => typeof value === 'function').optional(),
  }).default({ retries: 2, baseDelayMs: 200, maxDelayMs: 20_000 }),
  // What undici sends as a header value: no line break or other control character.
  userAgent: z
    .string()
    .min(1)
    .regex(
      /^[\t\x20-\x7e\x80-\xff]+$/,
      'userAgent must be a header value: no line break or other control character',
    )
    .default('cardport-marketplace'),
  name: ProviderNameSchema.default(MARKETPLACE_PROVIDER_NAME),
})

/** The marketplace provider: a `CardProvider` with its capabilities known, plus `close()`. */
export type MarketplaceProvider = CardProvider<typeof MARKETPLACE_CAPABILITIES> & {
  /** The validated options, frozen (the secret is not among them). */
  readonly options: Readonly<{
    /** {@link MarketplaceProviderOptions.baseUrl}, without a trailing slash. */
    baseUrl: string
    /** {@link MarketplaceProviderOptions.marketplaceId}. */
    marketplaceId: string
  }>
  /**
   * Closes the keep-alive connections of the `Agent` the provider made, once the requests in
   * flight have their answers (they are not retried after it). A call waiting before a retry
   * stops waiting, and it and every call made after `close()` are refused at once with
   * `invalid_request`, no request sent; calling it again waits for the same close. Does nothing
   * when you passed your own dispatcher: close that yourself.
   */
  close(): Promise<void>
}

/** What the functions beside the provider (tokenize, marketplace-wide list) reach through it. */
interface MarketplaceInternals {
  /** Tokenizes the details: the card answered, read with the Card schema. */
  tokenize(
    details: CardDetailsInput,
    metadata: MetadataPatch | undefined,
    key?: string,
  ): Promise<MarketplaceCard>
  listAll(
    limit: number,
    cursor: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Page<MarketplaceCard>>
}

const internals = new WeakMap<object, MarketplaceInternals>()

/**
 * A cardport provider for the marketplace API, over undici.
 *
 * - `createCard(account, { source })`: raw card details are tokenized
 *   (`POST /v1/marketplaces/:mp/cards`) and associated with the account
 *   (`POST …/accounts/:account/cards` with the card's URI); a card id or URI is associated as is,
 *   and one the marketplace does not know is `invalid_request` (tokenize the card first).
 *   With `metadata`, an existing card's `meta` is kept and the metadata merged into it (a `PUT`
 *   after the association); the card is read first, and a merge that would leave it more than 50
 *   keys is refused before the association (`invalid_request`, `details.param` `'metadata'`, as
 *   `updateCard` refuses), so the card stays unassociated and unchanged; a card an account holds
 *   already is refused by the association (`conflict`), as without metadata. If another client adds
 *   keys between that read and the association, the `PUT` is refused the same way and the card
 *   stays associated with its `meta` untouched: nothing is lost, and `updateCard` can set the
 *   metadata. A `currency` is refused (`invalid_request`) before any request: marketplace cards
 *   have none.
 * - `getCard`, `listCards`, `updateCard` and `invalidateCard` use the account's card routes, so
 *   one account never reaches another's card; the answer is checked too: a card there that names
 *   another account is `card_not_found`, and a page of `listCards` (or the list `getDefaultCard`
 *   reads) holding one is refused whole, `provider_unavailable`, not retryable.
 * - `updateCard` merges the metadata patch with the card's `meta` (read first) and refuses,
 *   before the `PUT`, a merge that would leave the card more than 50 keys (`invalid_request`,
 *   `details.param` `'metadata'`), as Stripe does. Updates of one card made at once run one after
 *   the other, each reading what the one before wrote, so that none drops another's keys.
 * - `deleteCard` is unsupported: the marketplace cannot delete a card; `invalidateCard` retires
 *   it for good.
 *
 * @throws `invalid_request` (naming `marketplaceProvider options`, never the secret) for a bad
 * option or one it does not know, at the top or in `retry`.
 *
 * @example
 * ```ts
 * import { marketplaceProvider } from '@cardport/marketplace'
 *
 * const provider = marketplaceProvider({
 *   baseUrl: 'https://api.marketplace.example',
 *   marketplaceId: process.env.MARKETPLACE_ID!,
 *   secret: process.env.MARKETPLACE_SECRET!,
 * })
 * const account = { type: 'account', id: 'AC6zdJPkzqXpIxTgvxpYse4G' } as const
 * const card = await provider.createCard(account, {
 *   source: { number: '4111 1111 1111 1111', expMonth: 4, expYear: 2030, cvc: '123' },
 * })
 * await provider.close()
 * ```
 */
export function marketplaceProvider(options: MarketplaceProviderOptions): MarketplaceProvider {
  const valid = Object.freeze(
    validate(OptionsSchema, options, 'marketplaceProvider options', MARKETPLACE_PROVIDER_NAME),
  )
  const ownAgent =
    valid.dispatcher === undefined
      ? new Agent({
          connect: { timeout: valid.connectTimeoutMs },
          headersTimeout: valid.headersTimeoutMs,
          bodyTimeout: valid.bodyTimeoutMs,
        })
      : undefined
  /** The Agent's close, once asked for: every call from then on is refused. */
  let closing: Promise<void> | undefined
  const closed = new AbortController()
  // Every call waiting before a retry listens to it: hundreds at once in a reconcile.
  setMaxListeners(0, closed.signal)
  const http = createHttpClient({
    closed: closed.signal,
    baseUrl: valid.baseUrl,
    marketplaceId: valid.marketplaceId,
    secret: valid.secret,
    dispatcher: valid.dispatcher ?? (ownAgent as MarketplaceDispatcher),
    headersTimeoutMs: valid.headersTimeoutMs,
    bodyTimeoutMs: valid.bodyTimeoutMs,
    maxResponseBodyBytes: valid.maxResponseBodyBytes,
    userAgent: valid.userAgent,
    retry: valid.retry,
    name: valid.name,
  })
  const { name } = valid
  const api = marketplaceApi(http, valid.marketplaceId, name)

  const provider = defineCardProvider({
    name,
    capabilities: MARKETPLACE_CAPABILITIES,
    createCard: (owner, input, { idempotencyKey }) => api.create(owner, input, idempotencyKey),
    getCard: (owner, cardId) => api.get(owner, cardId),
    listCards: (owner, { limit, cursor }) => api.list(owner, limit, cursor),
    updateCard: (owner, cardId, patch) => api.update(owner, cardId, patch),
    invalidateCard: (owner, cardId) => api.invalidate(owner, cardId),
    // A card is taken by its id or its URI: the card answered is the one the URI ends with.
    cardIdOf: (cardId) => cardKey(refuseDotSegments(cardId, name)),
    getDefaultCard: (owner) => api.getDefault(owner),
    // The payload's own account when it names one, so that the core refuses it (invalid_request)
    // for another owner given: read as the given owner's, CardSync.syncFromProviderData would
    // store another account's card among that owner's cards.
    parseCard: (raw, owner) =>
      marketplaceCardOf(name, raw, (isCardPayload(raw) ? ownerOf(raw) : null) ?? owner),
    // The HTTP client already raises CardportErrors; this catches anything thrown around it.
    mapError: (error) => mapMarketplaceError(error, { provider: name }),
  })

  const marketplace: MarketplaceProvider = Object.freeze({
    ...provider,
    options: Object.freeze({ baseUrl: valid.baseUrl, marketplaceId: valid.marketplaceId }),
    close() {
      if (!ownAgent) return Promise.resolve()
      // The same promise for every call: undici's Agent rejects a second close().
      if (closing === undefined) {
        closed.abort(closedProviderError(name))
        closing = ownAgent.close().then(() => undefined)
      }
      return closing
    },
  })
  internals.set(marketplace, {
    tokenize: (details, metadata, key) => api.tokenize(details, metadata, key),
    listAll: (limit, cursor, signal) => api.listMarketplace(limit, cursor, signal),
  })
  return marketplace
}

/** Options of {@link tokenizeCard}. */
export interface TokenizeCardOptions {
  /** Metadata of the new card (`meta`). */
  metadata?: MetadataPatch | undefined
  /**
   * 1 to 255 characters. The provider keeps, in the process, a record of the tokenizes made
   * with a key (the last 1,000 keys, for 24 hours), as `createCard` does: a call repeated with
   * the same key returns the card the first one made (read again from the marketplace), one
   * sent while another with the key is in flight waits for it, and the same key with other
   * details or metadata is `idempotency_conflict`. The key also goes out, as
   * `tokenize-card:<key>`, in an `Idempotency-Key` header, which the reference does not
   * document: no request of `createCard` sends that header (see the README). A tokenize whose
   * answer was lost (a dropped connection) is sent again by the next call with the key: the card
   * it may have made is held by no account, and the marketplace-wide list shows it.
   */
  idempotencyKey?: string | undefined
}

/**
 * Tokenizes card details in the provider's marketplace without associating them with an
 * account (`POST /v1/marketplaces/:mp/cards`). The details are checked first, as `createCard`
 * checks them; the result has `owner: null`. Associate it later with
 * `createCard(account, { source: card.id })`. Never retried on its own; with an
 * `idempotencyKey`, repeating the call makes one card. An option it does not know (a misspelt
 * `idempotencykey`) is `invalid_request`, before any request. The card answered is read with
 * core's Card schema (its owner null), as the provider's own operations' are: a card number in a
 * text masked, and a card the schema refuses `provider_unavailable`, not retryable.
 *
 * @example
 * ```ts
 * const details = { number: '4111111111111111', expMonth: 4, expYear: 2030 }
 * const token = await tokenizeCard(provider, details, { idempotencyKey: 'signup-42' })
 * await provider.createCard(account, { source: token.id })
 * ```
 */
export async function tokenizeCard(
  provider: MarketplaceProvider,
  details: CardDetailsInput,
  options: TokenizeCardOptions = {},
): Promise<MarketplaceCard> {
  const { tokenize } = internalsOf(provider)
  const { metadata, idempotencyKey } = validate(
    TokenizeOptionsSchema,
    options,
    'tokenizeCard options',
    provider.name,
  )
  try {
    return await tokenize(details, metadata, idempotencyKey)
  } finally {
    // The details were checked with patterns, as createCard checks them: the engine's last
    // match holds the number or the CVC until cleared (createCard clears it too).
    forgetLastMatch()
  }
}

const TokenizeOptionsSchema = optionsObject({
  metadata: MetadataPatchSchema.optional(),
  idempotencyKey: IdempotencyKeySchema.optional(),
})

/**
 * One page of every card of the marketplace (`GET /v1/marketplaces/:mp/cards`), associated
 * or not: a card no account holds has `owner: null`. Pages like `listCards`, with an opaque
 * cursor over the marketplace's offset. Each card is read with core's Card schema (its owner
 * allowed to be null), as `listCards` reads them: a card number in a text masked, and a page
 * holding a card the schema refuses `provider_unavailable`, not retryable.
 *
 * @example
 * ```ts
 * let page = await listMarketplaceCards(provider, { limit: 100 })
 * while (page.hasMore) page = await listMarketplaceCards(provider, { limit: 100, cursor: page.nextCursor! })
 * ```
 */
export async function listMarketplaceCards(
  provider: MarketplaceProvider,
  options: ListOptions = {},
): Promise<Page<MarketplaceCard>> {
  const { listAll } = internalsOf(provider)
  const { limit, cursor } = validate(ListOptionsSchema, options, 'list options', provider.name)
  return listAll(limit, cursor, undefined)
}

/** Options of {@link listAllMarketplaceCards}. A key other than these is `invalid_request`. */
export interface ListAllMarketplaceCardsOptions {
  /** Cards fetched per request, 1 to 100. Default 100. */
  pageSize?: number | undefined
  /**
   * Stops the iteration: checked before each page and before each card is handed over, and
   * it aborts the page request in flight and the waits between its retries. The iteration
   * then rejects with the signal's reason (as core's `listAll` and `reconcile` do), never a
   * `CardportError`, and hands over no card of the page it was reading.
   */
  signal?: AbortSignal | undefined
}

/**
 * Every card of the marketplace, page by page, holding one page in memory at a time: the pages
 * of {@link listMarketplaceCards}, their cards read with the Card schema alike.
 *
 * @example
 * ```ts
 * const controller = new AbortController()
 * setTimeout(() => controller.abort(), 60_000)
 * for await (const card of listAllMarketplaceCards(provider, { signal: controller.signal })) {
 *   if (!card.owner) console.log(card.id)
 * }
 * ```
 */
export async function* listAllMarketplaceCards(
  provider: MarketplaceProvider,
  options: ListAllMarketplaceCardsOptions = {},
): AsyncGenerator<MarketplaceCard, void, undefined> {
  const { listAll } = internalsOf(provider)
  const { pageSize, signal } = validate(
    ListAllOptionsSchema,
    options,
    'list options',
    provider.name,
  )
  let cursor: string | undefined
  do {
    signal?.throwIfAborted()
    const page = await listAll(pageSize, cursor, signal)
    for (const card of page.data) {
      signal?.throwIfAborted()
      yield card
    }
    cursor = page.hasMore ? (page.nextCursor ?? undefined) : undefined
  } while (cursor !== undefined)
}

function internalsOf(provider: MarketplaceProvider): MarketplaceInternals {
  const found = internals.get(provider)
  if (!found) {
    throw new InvalidRequestError(
      'this is not a provider made by marketplaceProvider(): pass the provider it returned',
      { provider: MARKETPLACE_PROVIDER_NAME },
    )
  }
  return found
}

/** The marketplace's card routes, as the primitives the core calls. */
function marketplaceApi(http: HttpClient, marketplaceId: string, name: string) {
  const creates = createIdempotencyLog({ name })
  const tokenizes = createIdempotencyLog({ operation: 'tokenizeCard', name })
  // The marketplace replaces a card's meta whole: each update reads it, merges its patch and
  // writes it back, so two at once would each drop the other's keys. One at a time per card.
  const metaWrites = keyedQueue()
  const marketplacePath = `/v1/marketplaces/${encodeURIComponent(marketplaceId)}`
  const accountPath = (owner: Owner) =>
    `${marketplacePath}/accounts/${encodeURIComponent(owner.id)}`
  const accountCardPath = (owner: Owner, cardId: string) =>
    `${accountPath(owner)}/cards/${encodeURIComponent(cardKey(cardId))}`

  // A card URI to associate: ids become this marketplace's card URIs; URIs go as given, so that
  // one from another marketplace gets the marketplace's own `cannot-associate-card`.
  const cardUri = (source: string) =>
    source.includes('/')
      ? `/${source.replace(/^\/+/, '')}`
      : `${marketplacePath}/cards/${encodeURIComponent(source)}`

  /** The account's card in an answer, whose request id `requestId` its refusal carries. */
  const toCard = (
    raw: unknown,
    owner: Owner,
    cardId: string,
    requestId: string | undefined,
  ): Card => {
    const card = marketplaceCardOf(name, raw, owner)
    // An answer that is no card (`{}`, `null`, a proxy's page, another resource such as an
    // account) says nothing about the card: the marketplace answers a card it does not have
    // with a 404. Read as "not found", CardSync would remove its local copy.
    if (card === null) throw unreadable(name, 'reading a card', requestId)
    // The account's routes only answer with the account's cards; check, rather than trust. The
    // payload's account alone is read: the card is mapped once, above.
    const holder = isCardPayload(raw) ? ownerOf(raw) : null
    if (holder && holder.id !== owner.id) throw cardNotFound(name, owner, cardId)
    return card
  }

  /**
   * Runs a request on an account's route. A 404 there may mean the card or the account is
   * missing: the account is looked up to tell `owner_not_found` from `card_not_found`.
   */
  const onAccount = async <T>(owner: Owner, run: () => Promise<T>): Promise<T> => {
    try {
      return await run()
    } catch (error) {
      if (isCardportError(error, 'card_not_found') && error.status === 404) {
        await http.send({ method: 'GET', path: accountPath(owner), notFound: 'owner' })
      }
      throw error
    }
  }

  const associate = (owner: Owner, uri: string, idempotencyKey: string) =>
    onAccount(owner, () =>
      http.send({
        method: 'POST',
        path: `${accountPath(owner)}/cards`,
        body: { card_uri: uri },
        idempotencyKey: idempotencyHeader('associate', idempotencyKey),
      }),
    )

  /**
   * Associates a card, once per idempotency key. When an earlier attempt with the key ended
   * without an answer (a dropped connection, a timeout, a 5xx), it may have associated the card:
   * then `card-already-funding-src` for a card this account holds means it did. That doubt lasts
   * until an answer settles it: an attempt refused for reasons that say nothing of the card (a
   * 429, a 401, a 400 …) leaves it as it was, so that the attempt after still reads a
   * `card-already-funding-src` as the earlier association.
   */
  const associateOnce = async (
    owner: Owner,
    uri: string,
    cardId: string,
    record: CreateRecord,
    idempotencyKey: string,
  ): Promise<Card> => {
    const uncertain = record.associating === true
    record.associating = true
    try {
      const { body, requestId } = await associate(owner, uri, idempotencyKey)
      const card = toCard(body, owner, cardId, requestId)
      record.associating = false
      record.cardId = card.id
      return card
    } catch (error) {
      // No answer: this attempt may have associated the card. An answer about the card settles
      // what the earlier attempts did; any other answer leaves it as unknown as it was.
      record.associating =
        isCardportError(error, 'provider_unavailable') || (uncertain && !settlesAssociation(error))
      const earlier =
        uncertain &&
        isCardportError(error, 'conflict') &&
        error.providerCode === 'card-already-funding-src'
      if (!earlier) throw error
      let card: Card
      try {
        card = await get(owner, cardId)
      } catch (readError) {
        // Another account holds the card: the conflict is real. Else it is still unknown.
        if (isCardportError(readError, 'card_not_found')) throw error
        record.associating = true
        throw readError
      }
      record.associating = false
      record.cardId = card.id
      return card
    }
  }

  /**
   * Writes an account's card with its `meta` merged by `build` (from {@link prepareUpdate}) into
   * `current`, the meta as read: a merge over 50 keys is refused before the `PUT`
   * ({@link checkMetadataKeys}, its message for `stage`).
   */
  const putMerged = async (
    owner: Owner,
    cardId: string,
    current: Metadata,
    build: ReturnType<typeof prepareUpdate>,
    stage: MetadataMergeStage,
  ): Promise<Card> => {
    const form = build(current)
    checkMetadataKeys(cardId, current, form.meta, stage, name)
    const { body, requestId } = await http.send({
      method: 'PUT',
      path: accountCardPath(owner, cardId),
      body: form,
      retry: true,
    })
    return toCard(body, owner, cardId, requestId)
  }

  /**
   * The account's card as the marketplace has it now (`GET …/accounts/:account/cards/:card`), and
   * the answer's body it was read from.
   */
  const readAccountCardAnswer = async (owner: Owner, cardId: string) => {
    const { body, requestId } = await http.send({
      method: 'GET',
      path: accountCardPath(owner, cardId),
    })
    return { card: toCard(body, owner, cardId, requestId), body }
  }

  /** The account's card as the marketplace has it now. */
  const readAccountCard = async (owner: Owner, cardId: string): Promise<Card> =>
    (await readAccountCardAnswer(owner, cardId)).card

  /**
   * Merges `build`'s metadata into the card's `meta` as held now and writes it, in the card's
   * turn of `metaWrites`: a write of the card asked for meanwhile (an `updateCard`, or the
   * metadata of a `createCard` of a token whose id the caller knows) reads what this one wrote.
   */
  const mergeMeta = (
    owner: Owner,
    cardId: string,
    build: ReturnType<typeof prepareUpdate>,
    stage: MetadataMergeStage,
  ): Promise<Card> =>
    metaWrites(cardKey(cardId), async () => {
      // Merged into its `meta` as held, not the Card's metadata (see heldMeta).
      const { body } = await readAccountCardAnswer(owner, cardId)
      return putMerged(owner, cardId, heldMeta(body), build, stage)
    })

  /**
   * Sets the metadata of a card `createCard` associated, merged into its `meta` as read in its
   * turn (not as the association answered: an update of the card may have landed since). A
   * merge over 50 keys is refused before the `PUT`: the card stays associated (undoing an
   * association means invalidating the card for good) with its meta as it was.
   */
  const setMeta = (owner: Owner, cardId: string, metadata: MetadataPatch): Promise<Card> =>
    mergeMeta(owner, cardId, prepareUpdate({ metadata }), 'associated')

  /**
   * Refuses, before the association, metadata that would leave an existing card more than 50
   * keys once merged into its `meta`: the association keeps the card's `meta` (its form takes
   * the card's URI only), so the merge is known from the card as read now
   * (`GET /v1/marketplaces/:mp/cards/:card`). A card this marketplace does not show (missing,
   * or a URI of another marketplace) is left to the association, which answers for it; so is a
   * card an account holds already, which the association refuses (`card-already-funding-src`)
   * as it does without metadata: another account's card is not the caller's to merge into, nor
   * its meta to describe in an error. When this account holds it because an earlier attempt with
   * the key associated it, `setMeta` checks the merge.
   */
  const checkMetaBeforeAssociating = async (
    uri: string,
    cardId: string,
    metadata: MetadataPatch,
  ): Promise<void> => {
    if (!uri.startsWith(`${marketplacePath}/cards/`) || uri.includes('?')) return
    let answer: HttpResponse
    try {
      answer = await http.send({ method: 'GET', path: uri })
    } catch (error) {
      if (isCardportError(error, 'card_not_found')) return
      throw error
    }
    const current = marketplaceCardTokenOf(name, answer.body)
    if (current === null) throw unreadable(name, 'reading a card', answer.requestId)
    if (current.owner !== null) return
    const { meta } = prepareUpdate({ metadata })(current.metadata)
    checkMetadataKeys(cardId, current.metadata, meta, 'create', name)
  }

  /**
   * Tokenizes `form`, sending `idempotencyKey` as it is (see {@link idempotencyHeader}): the
   * card answered, and the answer's request id.
   */
  const tokenize = async (form: TokenizeForm, idempotencyKey?: string) => {
    const { body, requestId } = await http.send({
      method: 'POST',
      path: `${marketplacePath}/cards`,
      body: { ...form },
      notFound: 'marketplace',
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    })
    const card = marketplaceCardTokenOf(name, body)
    if (card === null) throw unreadable(name, 'tokenizing a card', requestId)
    return { card, requestId }
  }

  /** A card of the marketplace, held by an account or not, and the answer's request id. */
  const getToken = async (cardId: string) => {
    const { body, requestId } = await http.send({
      method: 'GET',
      path: `${marketplacePath}/cards/${encodeURIComponent(cardId)}`,
    })
    const card = marketplaceCardTokenOf(name, body)
    if (card === null) throw unreadable(name, 'reading a card', requestId)
    return { card, requestId }
  }

  const get = (owner: Owner, cardId: string) =>
    onAccount(owner, () => readAccountCard(owner, cardId))

  const list = async (owner: Owner, limit: number, cursor?: string) => {
    const offset = offsetOf(name, cursor, owner.id)
    const { body, requestId } = await http.send({
      method: 'GET',
      path: `${accountPath(owner)}/cards`,
      query: { limit, offset },
      notFound: 'owner',
    })
    // As toCard checks one card: the account's list answers with the account's cards only, so a
    // card that names another account is not labelled this one's. A page holding one cannot be
    // trusted (a listing of some other route, a server mixing accounts up): refused whole.
    const parse = (item: unknown) => {
      const card = marketplaceCardOf(name, item, owner)
      const holder = card === null ? null : ownerOf(item as Record<string, unknown>)
      if (card !== null && holder !== null && holder.id !== owner.id) {
        throw new ProviderUnavailableError(
          `${name} answered the list of the cards of ${formatOwner(owner)} with card ${card.id} of ${formatOwner(holder)}: cardport cannot trust that page; report it with the request id`,
          { provider: name, requestId, retryable: false },
        )
      }
      return card
    }
    return { body, page: pageOf(name, { body, requestId }, offset, owner.id, parse) }
  }

  return {
    async tokenize(
      details: CardDetailsInput,
      metadata: MetadataPatch | undefined,
      idempotencyKey?: string,
    ): Promise<MarketplaceCard> {
      const checked = validate(CardDetailsSchema, details, 'card details', name)
      const form = toTokenizeForm(checked, metadata, name)
      // Read with the Card schema, as the provider's own operations' cards are by the core; a
      // card it refuses names the answer's request id.
      const read = ({ card, requestId }: { card: MarketplaceCard; requestId?: string }) =>
        readMarketplaceCard(card, name, 'tokenizeCard', requestId)
      if (idempotencyKey === undefined) return read(await tokenize(form))
      const record = tokenizes.begin(idempotencyKey, null, { details: checked, metadata })
      return inTurn(record, async () => {
        if (record.tokenId !== undefined) return read(await getToken(record.tokenId))
        const answer = await tokenize(form, idempotencyHeader('tokenize-card', idempotencyKey))
        record.tokenId = answer.card.id
        return read(answer)
      })
    },

    async create(owner: Owner, input: ValidCreateCardInput, idempotencyKey: string): Promise<Card> {
      const { source, metadata } = input
      // Checked before any request, and before the key is recorded: the core's card rules,
      // then the marketplace's own.
      refuseCurrency(input, name)
      if (typeof source === 'string') refuseDotSegments(source, name)
      const form = typeof source === 'string' ? undefined : toTokenizeForm(source, metadata, name)
      const record = creates.begin(idempotencyKey, owner, { source, metadata })
      // The associated card (read again when not given), its metadata set if still to set:
      // an earlier attempt may have associated it and failed before.
      const withMetadata = async (cardId: string, associated?: Card): Promise<Card> => {
        if (!metadata || !record.metadataPending) return associated ?? get(owner, cardId)
        const updated = await setMeta(owner, cardId, metadata)
        record.metadataPending = false
        return updated
      }
      return inTurn(record, async () => {
        if (record.cardId) return withMetadata(record.cardId)

        if (typeof source === 'string') {
          const cardId = cardKey(source)
          const uri = cardUri(source)
          // Nothing is written before the merge is known to fit. Should another client add keys
          // between this read and the association, setMeta refuses then: the card stays
          // associated, its meta untouched (see checkMetadataKeys' 'associated').
          if (metadata !== undefined) await checkMetaBeforeAssociating(uri, cardId, metadata)
          const card = await associateOnce(owner, uri, cardId, record, idempotencyKey).catch(
            (error: unknown) => {
              throw unknownSource(error, source, marketplaceId, name)
            },
          )
          record.metadataPending = metadata !== undefined
          return withMetadata(card.id, card)
        }
        if (record.tokenId === undefined) {
          const token = await tokenize(form!, idempotencyHeader('tokenize', idempotencyKey))
          record.tokenId = token.card.id
        }
        return associateOnce(owner, cardUri(record.tokenId), record.tokenId, record, idempotencyKey)
      })
    },

    get,

    list: async (owner: Owner, limit: number, cursor?: string) =>
      (await list(owner, limit, cursor)).page,

    async listMarketplace(
      limit: number,
      cursor: string | undefined,
      signal: AbortSignal | undefined,
    ): Promise<Page<MarketplaceCard>> {
      const offset = offsetOf(name, cursor, '')
      const answer = await http.send({
        method: 'GET',
        path: `${marketplacePath}/cards`,
        query: { limit, offset },
        notFound: 'marketplace',
        signal,
      })
      return pageOf(name, answer, offset, '', (item) => {
        const card = marketplaceCardTokenOf(name, item)
        return card === null
          ? null
          : readMarketplaceCard(card, name, 'listMarketplaceCards', answer.requestId)
      })
    },

    update: (owner: Owner, cardId: string, patch: CardUpdate) => {
      // Only metadata gets here (updatableFields); the form needs the card's current meta, read
      // once the updates of this card before it are written, so that no key of theirs is lost.
      const build = prepareUpdate(patch)
      return onAccount(owner, () => mergeMeta(owner, cardId, build, 'update'))
    },

    invalidate: (owner: Owner, cardId: string) =>
      onAccount(owner, async () => {
        try {
          const { body, requestId } = await http.send({
            method: 'PUT',
            path: accountCardPath(owner, cardId),
            body: { is_valid: false },
            retry: true,
          })
          const card = toCard(body, owner, cardId, requestId)
          // A card still valid in the answer (a cache in the way, a server that ignored the
          // field) was not retired, or not that the answer shows. defineCardProvider refuses
          // such an answer too, but after this primitive returns, where the request id is
          // gone: refused here first, the caller gets this error, with the marketplace's
          // request id to report it by, and core's check never sees the card.
          if (card.status !== 'invalid') throw stillValid(name, card, owner, requestId)
          return card
        } catch (error) {
          // Invalidating twice is done, not a conflict: the card is as the caller wants it.
          if (isCardportError(error, 'conflict') && error.providerCode === 'card-not-valid') {
            const card = await readAccountCard(owner, cardId)
            if (card.status === 'invalid') return card
          }
          throw error
        }
      }),

    async getDefault(owner: Owner): Promise<Card | null> {
      // Every card of an account carries the account's chosen card (its customer's
      // source_uri): one card of the list is enough to find it. The list may start with items
      // that are no cards (a bank account): read on until a card, or the list's end.
      let { body, page } = await list(owner, 1)
      while (page.data.length === 0 && page.nextCursor) {
        ;({ body, page } = await list(owner, 100, page.nextCursor))
      }
      const first = page.data[0]
      if (!first) return null
      const items = isObject(body) && Array.isArray(body.items) ? body.items : []
      const chosen = chosenCardIdOf(items.find(isCardPayload))
      if (chosen === null) return null
      if (chosen !== undefined) return chosen === first.id ? first : get(owner, chosen)
      // A payload without its customer: the rule itself, the last valid card associated.
      let latest: Card | null = null
      let cursor: string | undefined
      do {
        const next = (await list(owner, 100, cursor)).page
        for (const card of next.data) if (card.status === 'active') latest = card
        cursor = next.nextCursor ?? undefined
      } while (cursor)
      return latest && { ...latest, isDefault: true }
    },
  }
}

/**
 * Whether an association's error answer tells what became of the card (declined, not
 * validated, already associated, invalidated, another marketplace's, missing), so that an
 * earlier attempt's unknown outcome is known. A 429, a 401, a 403 or a 400 refuse the request
 * itself, and a `provider_unavailable` brought no answer: they tell nothing of the card.
 */
function settlesAssociation(error: unknown): boolean {
  return isCardportError(
    error,
    'card_declined',
    'card_invalid',
    'conflict',
    'card_not_found',
    'owner_not_found',
  )
}

/**
 * A 404 for the card `createCard` was given to associate (its id or URI) says that the source is
 * wrong, as Stripe's "No such token" does: `invalid_request`, not `card_not_found`, which says
 * that the owner holds no such card, and which `CardSync.setDefaultCard` reads from `createCard`
 * as "the card this idempotency key made is gone" (it then tries the next key of its chain).
 * Any other error is given back as it is.
 */
function unknownSource(
  error: unknown,
  source: string,
  marketplaceId: string,
  name: string,
): unknown {
  if (!isCardportError(error, 'card_not_found') || error.status !== 404) return error
  return new InvalidRequestError(
    `${name}: no card ${source} was tokenized in the marketplace ${marketplaceId} (tokenize the card first, with tokenizeCard or createCard with card details, or check the card id)`,
    {
      provider: name,
      status: error.status,
      providerCode: error.providerCode,
      requestId: error.requestId,
      details: error.details,
      cause: error,
    },
  )
}

/** The card id in a card id or URI. */
function cardKey(cardId: string): string {
  return lastSegment(cardId) ?? cardId
}

/**
 * `ref`, a caller's card id or URI (or a card to associate), refused with `invalid_request`
 * before any request when a segment of its path is `.` or `..` (`%2e` counts as a dot, as a URL
 * reads it, and tabs and line breaks, which it drops, do not count), or when it holds a `\` or a
 * `#`: a URL reads such a segment as a step along its path, so `CC1/..` or
 * `/v1/marketplaces/MP1/cards/..` would name what is above a card (core refuses `.` and `..` as
 * ids; a URI is a path of them). A URL reads `\` as `/` and drops what follows a `#`, while the
 * card's id is read from the text as given (`CC1#/..` ends with `..`): neither is in a card's id
 * or URI.
 */
function refuseDotSegments(ref: string, name: string): string {
  const path = ref.split('?', 1)[0]!
  const dotStep = (segment: string) => {
    // A URL drops tabs and line breaks wherever they are: `.\t.` is `..`.
    const read = segment.replace(/[\t\n\r]/g, '').replace(/%2e/gi, '.')
    return read === '.' || read === '..'
  }
  if (/[\\#]/.test(path) || path.split('/').some(dotStep)) {
    throw new InvalidRequestError(
      `${name}: a card id or URI cannot hold a "\\", a "#" or the path step "." or "..": pass the card's id (CC…) or its URI`,
      { provider: name },
    )
  }
  return ref
}

/**
 * The offset a cursor of the list `scope` (an account's id, or `''` for the marketplace's own
 * cards) continues from; `invalid_request`, unsent, for another list's cursor or an altered one.
 */
function offsetOf(name: string, cursor: string | undefined, scope: string): number {
  if (cursor === undefined) return 0
  return decodeCursor(name, cursor, {
    list: scope,
    // A whole number from 0, as the marketplace takes.
    read: ({ offset }) =>
      typeof offset === 'number' && Number.isSafeInteger(offset) && offset >= 0
        ? offset
        : undefined,
  })
}

/**
 * A page from the marketplace's `{ items, offset, limit, total, next_uri }`. `hasMore` follows
 * `next_uri` when the answer has one, else `total`; the next offset counts every item read,
 * bank accounts and other non-cards included, so no item is skipped or read twice.
 */
function pageOf<T>(
  name: string,
  { body, requestId }: Pick<HttpResponse, 'body' | 'requestId'>,
  offset: number,
  scope: string,
  parse: (item: unknown) => T | null,
): Page<T> {
  // A page echoes the offset asked for: an answer that does not (`{ items: [] }` from something
  // in the way, a server stuck on one page) would read as "no cards" or page on forever.
  // Another resource (`_type` other than page) is no page either, whatever it holds.
  if (
    !isObject(body) ||
    !Array.isArray(body.items) ||
    body.offset !== offset ||
    (typeof body._type === 'string' && body._type !== 'page')
  ) {
    throw unreadable(name, 'listing cards', requestId)
  }
  const items: unknown[] = body.items
  const nextOffset = offset + items.length
  const hasMore =
    items.length > 0 &&
    ('next_uri' in body
      ? body.next_uri !== null && body.next_uri !== undefined
      : typeof body.total === 'number' && nextOffset < body.total)
  const data = items.map(parse).filter((card): card is T => card !== null)
  return {
    data,
    hasMore,
    nextCursor: hasMore ? encodeCursor(name, { offset: nextOffset }, { list: scope }) : null,
  }
}

/** An answer that is not what was asked for; it carries the answer's request id, as it says. */
function unreadable(
  name: string,
  what: string,
  requestId: string | undefined,
): ProviderUnavailableError {
  return new ProviderUnavailableError(
    `${name} answered with something cardport cannot read while ${what}; report it with the request id`,
    { provider: name, requestId, retryable: false },
  )
}

/**
 * An invalidation answered with the card still valid: not retried (the same server answers the
 * same), and nothing is written from it. The same refusal as `defineCardProvider`'s for an
 * `invalidateCard` answer still active (`provider_unavailable`, not retryable), raised before it
 * so as to carry the marketplace's request id.
 */
function stillValid(
  name: string,
  card: Card,
  owner: Owner,
  requestId: string | undefined,
): ProviderUnavailableError {
  return new ProviderUnavailableError(
    `${name} answered the invalidation of card ${card.id} of ${formatOwner(owner)} with the card still valid: it may not be retired; check it with getCard, and report it with the request id`,
    { provider: name, requestId, retryable: false },
  )
}
