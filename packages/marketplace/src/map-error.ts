import {
  CardportError,
  type CardportErrorCode,
  maskCardNumberValue,
  NESTED_TOO_DEEP,
  optionsObject,
  ProviderNameSchema,
  redactSecrets,
  validate,
} from '@cardport/core'
import { z } from 'zod'
import { plainText, redactSecretsInHtml } from './html-text.js'
// parse-card imports this module's provider name, read only when its functions run: no cycle at load.
import { isObject } from './parse-card.js'

/**
 * The provider name stored on every card and error of this adapter, unless
 * `marketplaceProvider`'s `name` option gives another.
 */
export const MARKETPLACE_PROVIDER_NAME = 'marketplace'

/**
 * The marketplace API's error body (`errors.rst`): `status_code`, `category_code`,
 * `category_type`, `description`, `additional`, `extras`, `request_id`.
 */
export interface MarketplaceErrorBody {
  /** The HTTP reason phrase (`'Conflict'` …). Not read: `status_code` and the status say more. */
  status?: string
  /** The HTTP status, as text in the reference's field list and a number in its examples. */
  status_code?: string | number
  /**
   * The error's code (`'card-declined'`, `'card-not-validated'` …): decides the `CardportError`
   * code before the HTTP status does, and becomes its `providerCode`.
   */
  category_code?: string
  /** `'request'`, `'banking'` or `'logical'`; kept as `details.categoryType`. */
  category_type?: string
  /** What went wrong, sometimes HTML, ending "Your request id is …": the message's core. */
  description?: string
  /** How to resolve the issue, when the API says; kept as `details.additional`. */
  additional?: string | null
  /** Field-level details (`{ postal_code: '…' }`), numbers masked; kept as `details.extras`. */
  extras?: Record<string, unknown> | null
  /** The id to quote to the marketplace's support; becomes the error's `requestId`. */
  request_id?: string
}

/** What a {@link MarketplaceApiError} is built from: an error answer, as the HTTP client read it. */
export interface MarketplaceApiErrorInit {
  /** {@link MarketplaceApiError.status}. */
  status: number
  /** {@link MarketplaceApiError.body}; card numbers and CVCs are removed from it. */
  body: MarketplaceErrorBody | null
  /** {@link MarketplaceApiError.retryAfter}. */
  retryAfter?: string | undefined
  /** {@link MarketplaceApiError.requestId}. */
  requestId?: string | undefined
  /** {@link MarketplaceApiError.target}; a card number in it is masked. */
  target: string
  /**
   * {@link MarketplaceApiError.bodyCut}: the body was longer than the HTTP client reads of an
   * error answer (16 KiB) and was not read past it (give `body` null). Default false.
   */
  bodyCut?: boolean | undefined
  /**
   * {@link MarketplaceApiError.bodyLength}: the body's `Content-Length`, when it said more than
   * the HTTP client reads and the body was skipped unread (give `bodyCut` true). Default undefined.
   */
  bodyLength?: number | undefined
}

/**
 * The most of an error answer's body the HTTP client reads: 16 KiB. The marketplace's error
 * bodies are under 2 KiB; a longer one comes from something else (a gateway quoting a request
 * or a trace), and reading, masking and keeping megabytes of it would cost seconds of CPU and
 * that much memory on every error. A body past it is not read further and kept nowhere (cut
 * JSON cannot be read, and a cut text could end in part of a secret). @internal
 */
export const ERROR_BODY_MAX_BYTES = 16 * 1024

/** `8 MiB`, `16 KiB`, or `1000000 bytes`: a byte limit as a person would write it. @internal */
export function sizeText(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`
  return `${bytes} bytes`
}

/**
 * The most characters of the answer's `description` (and of `additional`) a `CardportError`
 * quotes; past it they are cut, once masked whole, so the cut never leaves part of a secret or
 * a card number behind. The error's `cause` keeps the body as read (at most
 * {@link ERROR_BODY_MAX_BYTES}).
 */
const QUOTE_MAX_CHARS = 1_000

/**
 * An HTTP answer of 400 or more from the marketplace API, as the HTTP client read it. The
 * provider turns it into a `CardportError` with {@link mapMarketplaceError}; it never holds the
 * request body, so no card number or CVC can travel with it.
 *
 * Built by hand (a test double, JavaScript code, a helper that calls `new` on error classes),
 * it takes what it is given: with no argument, or one that is not an object, or a field of the
 * wrong type, each field falls back to what says "not known" (`status` 0, `body` null,
 * `retryAfter` and `requestId` undefined, `target` `'a marketplace request'`), so the error is
 * still one whose message reads "a marketplace request failed". Given a string, as
 * `new Error(message)` is, it keeps it as its message (any card number in it masked), every
 * other field "not known"; {@link mapMarketplaceError} quotes it.
 *
 * The API key secret is masked by the HTTP client, which knows it, before it builds the error:
 * the error itself cannot mask it. So never build one from a text that may quote the secret (an
 * answer's body or headers, a dispatcher's error, a request you dumped): its message, `body`,
 * `requestId` and `retryAfter` are kept as given, and {@link mapMarketplaceError} quotes them in
 * the `CardportError` and keeps the error as its `cause`, which loggers print. The package
 * itself builds one only in its HTTP client, from the answer with the secret masked.
 *
 * @example
 * ```ts
 * // A test double of a failed request, mapped as the provider maps one.
 * const error = mapMarketplaceError(new MarketplaceApiError('marketplace down'))
 * ```
 */
export class MarketplaceApiError extends Error {
  /** `'MarketplaceApiError'`. */
  override readonly name = 'MarketplaceApiError'
  /** The HTTP status; 0 when none was given (an error built by hand). */
  readonly status: number
  /** The parsed error body, or null when the body was not the marketplace's JSON error. */
  readonly body: MarketplaceErrorBody | null
  /** `Retry-After`, as the server sent it. */
  readonly retryAfter: string | undefined
  /** The request id from the body, or from a request-id header. */
  readonly requestId: string | undefined
  /**
   * `METHOD /path` of the request, for the message, with any card number masked;
   * `'a marketplace request'` when none was given.
   */
  readonly target: string
  /**
   * Whether the body was longer than the HTTP client reads of an error answer (16 KiB), and so
   * cut there unread and kept nowhere (`body` null); the message says so.
   */
  readonly bodyCut: boolean
  /**
   * The body's `Content-Length` when it said more than the HTTP client reads of an error answer,
   * so that the body was skipped without reading a byte (`bodyCut` true); else undefined.
   */
  readonly bodyLength: number | undefined

  /**
   * @param init - the error answer as the HTTP client read it; or, built by hand, a message
   * alone, as `new Error(message)` takes one (a blank one is not kept). Card numbers are masked
   * in it, the API key secret is not: the secret must be masked before (see above).
   */
  constructor(init: MarketplaceApiErrorInit | string) {
    // Read as unknown: JavaScript callers may pass nothing, or anything, and a TypeError thrown
    // from an error's constructor hides the failure it was to report.
    const given: Record<string, unknown> = isObject(init) ? init : {}
    const status =
      typeof given.status === 'number' && Number.isInteger(given.status) && given.status > 0
        ? given.status
        : 0
    const body = isObject(given.body) ? (given.body as MarketplaceErrorBody) : null
    // The path holds what the caller passed as a card id, which may be a card number typed in
    // the wrong place: loggers print a cause's message, so it is masked as the body is.
    const target = typeof given.target === 'string' ? redactSecrets(given.target) : UNKNOWN_TARGET
    const category = typeof body?.category_code === 'string' ? ` ${body.category_code}` : ''
    const bodyCut = given.bodyCut === true
    const bodyLength =
      bodyCut && typeof given.bodyLength === 'number' && Number.isSafeInteger(given.bodyLength)
        ? given.bodyLength
        : undefined
    const cut = !bodyCut
      ? ''
      : bodyLength === undefined
        ? ` with a body of more than ${sizeText(ERROR_BODY_MAX_BYTES)}, cut there and kept nowhere`
        : ` with a body of ${bodyLength} bytes (Content-Length), more than ${sizeText(ERROR_BODY_MAX_BYTES)}: skipped unread and kept nowhere`
    // A message given by hand may quote what the caller had at hand: masked as the target is.
    const message =
      typeof init === 'string' && init.trim() !== '' ? redactSecretsInHtml(init) : undefined
    super(message ?? `${whatHappened(target, status)}${cut}${category}`)
    this.status = status
    this.bodyCut = bodyCut
    this.bodyLength = bodyLength
    // A server may quote the request back in `extras` or `additional`: mask it before keeping it.
    this.body = body === null ? null : (redactDeep(body) as MarketplaceErrorBody)
    this.retryAfter = typeof given.retryAfter === 'string' ? given.retryAfter : undefined
    this.requestId = typeof given.requestId === 'string' ? given.requestId : undefined
    this.target = target
  }
}

/** The target of a {@link MarketplaceApiError} built without one. */
const UNKNOWN_TARGET = 'a marketplace request'

/** `GET /path answered 404`; an error built by hand without a status (0) just "failed". */
function whatHappened(target: string, status: number): string {
  return `${target} ${status > 0 ? `answered ${status}` : 'failed'}`
}

/** Where the request went, and so what a 404 there means. */
export interface MapErrorContext {
  /**
   * What a 404 means. `'card'` (the default): the card is missing. `'owner'`: the account is.
   * `'marketplace'`: a route of the marketplace itself, which has no per-card resource (the
   * tokenize route `POST /v1/marketplaces/:mp/cards`, the list of every card
   * `GET /v1/marketplaces/:mp/cards`): no marketplace API answers there, so the base URL or the
   * marketplace id is wrong, and the 404 is `invalid_request` naming both.
   */
  notFound?: 'card' | 'owner' | 'marketplace'
  /** The API origin the request went to, named in the message of a `'marketplace'` 404. */
  baseUrl?: string | undefined
  /** The marketplace id the request went to, named in the message of a `'marketplace'` 404. */
  marketplaceId?: string | undefined
  /**
   * The provider the error names, in its `provider` and at the head of its message: the `name`
   * of the `marketplaceProvider` the request was sent for. Default `'marketplace'`.
   */
  provider?: string | undefined
}

const MapErrorContextSchema = optionsObject({
  notFound: z.enum(['card', 'owner', 'marketplace']).optional(),
  baseUrl: z.string().optional(),
  marketplaceId: z.string().optional(),
  provider: ProviderNameSchema.optional(),
})

// Category codes whose meaning is not the one their HTTP status gives.
const BY_CATEGORY: Readonly<Record<string, CardportErrorCode>> = {
  'card-declined': 'card_declined',
  'authorization-failed': 'card_declined',
  'card-not-validated': 'card_invalid',
  'address-verification-failed': 'card_invalid',
  'card-already-funding-src': 'conflict',
  'cannot-associate-card': 'conflict',
  'card-not-valid': 'conflict',
  'card-not-associated': 'card_not_found',
}

const HINTS: Record<CardportErrorCode, string> = {
  card_declined: 'ask the customer for another card',
  card_invalid: 'ask the customer to check the card number, expiry and security code',
  card_not_found: "list the account's cards to find a current id",
  owner_not_found: 'check the account id and the marketplace id',
  conflict:
    "check the card's state: an associated card cannot be associated again, and an invalidated card stays invalid",
  authentication: 'check the marketplace API secret, and that it opens the marketplace id given',
  permission: 'use a secret allowed to manage this marketplace',
  rate_limited: 'retry after the delay the marketplace asked for',
  provider_unavailable: 'retry later',
  invalid_request: 'fix the request',
  unsupported_operation: 'check the provider capabilities',
  idempotency_conflict: 'use a new idempotency key for a new request',
}

// Network failures undici and Node report by code: the request may not have reached the server.
const NETWORK_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_ABORTED',
  'UND_ERR_INFO',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'HPE_INVALID_CONSTANT',
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
])

const TIMEOUT_CODES: Readonly<Record<string, string>> = {
  UND_ERR_CONNECT_TIMEOUT: 'connecting took longer than connectTimeoutMs',
  UND_ERR_HEADERS_TIMEOUT: 'the response headers took longer than headersTimeoutMs',
  UND_ERR_BODY_TIMEOUT: 'the response body took longer than bodyTimeoutMs',
}

/**
 * Maps what a marketplace request threw to a `CardportError`: an error answer by its
 * `category_code` first and its status second, a network failure or timeout to
 * `provider_unavailable`. The marketplace's `request_id` becomes `requestId`, `category_code`
 * becomes `providerCode`, `additional` and `extras` go to `details` (with any card number, and
 * any security code written as `cvc=123` or `"security_code":"987"`, masked), and the original
 * error is the `cause`. Returns undefined for anything else.
 *
 * | marketplace | cardport |
 * |---|---|
 * | `card-declined` (402), `authorization-failed`, any other 402 | `card_declined` |
 * | `card-not-validated` (409), `address-verification-failed` | `card_invalid` |
 * | `card-already-funding-src`, `cannot-associate-card`, `card-not-valid`, other 409 | `conflict` |
 * | `card-not-associated`; 404 | `card_not_found` (`owner_not_found` where the account was looked up) |
 * | 404 on the tokenize route or the marketplace-wide card list (`notFound: 'marketplace'`) | `invalid_request`, naming the base URL and the marketplace id |
 * | 400, 405, other 4xx | `invalid_request` |
 * | 401 / 403 | `authentication` / `permission` |
 * | 407 from the caller's HTTP proxy (an answer, or undici's `ProxyAgent` error for it) | `authentication`, naming the proxy |
 * | 429 | `rate_limited`, with `retryAfterMs` from `Retry-After` |
 * | 5xx, 408, 425, network errors, timeouts | `provider_unavailable` (a 5xx's `Retry-After`, a 503's typically, as `retryAfterMs`) |
 *
 * A `context` that is no {@link MapErrorContext} (null, another `notFound`, an unknown key, a
 * `baseUrl` that is not a string) throws `invalid_request`.
 *
 * @example
 * ```ts
 * const error = mapMarketplaceError(thrown, { notFound: 'owner' })
 * if (error?.code === 'rate_limited') await sleep(error.retryAfterMs ?? 1000)
 * ```
 */
export function mapMarketplaceError(
  error: unknown,
  context: MapErrorContext = {},
): CardportError | undefined {
  const valid = validate(
    MapErrorContextSchema,
    context,
    'mapMarketplaceError context',
    MARKETPLACE_PROVIDER_NAME,
  )
  const provider = valid.provider ?? MARKETPLACE_PROVIDER_NAME
  if (error instanceof MarketplaceApiError) return fromApiError(error, valid, provider)
  if (isProxyAuthenticationRequired(error)) {
    return new CardportError(
      'authentication',
      `${provider}: the HTTP proxy answered 407 Proxy Authentication Required before the request reached the marketplace (${PROXY_HINT})`,
      { provider, status: 407, cause: error },
    )
  }
  const code = networkCode(error)
  if (code === undefined) return undefined
  const what = TIMEOUT_CODES[code] ?? `the connection failed (${code})`
  return new CardportError(
    'provider_unavailable',
    `${provider}: ${what}; ${HINTS.provider_unavailable}`,
    { provider, providerCode: code, cause: error },
  )
}

function fromApiError(
  error: MarketplaceApiError,
  context: MapErrorContext,
  provider: string,
): CardportError {
  const { status, body } = error
  const category = typeof body?.category_code === 'string' ? body.category_code : undefined
  const code = classify(status, category, context)
  // With no body, the error's message is what it knows: "GET /path answered 503", or the
  // message it was built with by hand.
  // The body was masked as written and as a page reads it (redactDeep): what this reads of the
  // description shows no card number or security code.
  const description =
    quoted(plainText(body?.description)) ??
    (body === null ? error.message : whatHappened(error.target, status))
  const details = detailsOf(body)
  const hint =
    // A 407 comes from a proxy between the caller and the marketplace, never from the API.
    status === 407 && category === undefined
      ? PROXY_HINT
      : status === 404 && code === 'invalid_request' && context.notFound === 'marketplace'
        ? wrongMarketplaceHint(context)
        : HINTS[code]
  return new CardportError(
    code,
    `${provider}: ${description}${category ? ` [${category}]` : ''} (${hint})`,
    {
      provider,
      // 0: an error built by hand without one; a CardportError says "no status" with undefined.
      status: status > 0 ? status : undefined,
      providerCode: category,
      requestId: error.requestId,
      // RFC 9110: a 503 (or 429) may say when to come back, and so may any 5xx a proxy or gateway
      // answers with; a 4xx the caller must mend says nothing worth waiting for.
      retryAfterMs: WAITABLE.has(code) ? retryAfterMs(error.retryAfter) : undefined,
      details,
      cause: error,
    },
  )
}

/**
 * 4xx statuses that say nothing against the request (RFC 9110): a server or a load balancer
 * gave up waiting for it (408 Request Timeout), or would not risk a replay of early TLS data
 * (425 Too Early). The client may send it again as it was.
 */
const SERVER_GAVE_UP = new Set([408, 425])

/** The codes whose answer may carry a `Retry-After` worth honouring. */
const WAITABLE = new Set<CardportErrorCode>(['rate_limited', 'provider_unavailable'])

function classify(
  status: number,
  category: string | undefined,
  context: MapErrorContext,
): CardportErrorCode {
  const byCategory = category === undefined ? undefined : BY_CATEGORY[category]
  if (byCategory) return byCategory
  // 407: the caller's proxy wants credentials. Sending the request again cannot help, and
  // nothing is wrong with the request itself: the dispatcher's configuration is.
  if (status === 401 || status === 407) return 'authentication'
  if (status === 403) return 'permission'
  if (status === 404) {
    // The tokenize route and the marketplace-wide list hold no card to be missing: a 404 there
    // is a wrong address or marketplace id, which no card id can mend.
    if (context.notFound === 'marketplace') return 'invalid_request'
    return context.notFound === 'owner' ? 'owner_not_found' : 'card_not_found'
  }
  if (status === 429) return 'rate_limited'
  if (status >= 500 || SERVER_GAVE_UP.has(status)) return 'provider_unavailable'
  if (status === 402) return 'card_declined'
  if (status === 409) return 'conflict'
  return 'invalid_request'
}

/**
 * What to do about a 404 on a route of the marketplace itself: check the two options that make
 * its path. The base URL is shown without any user or password a caller of
 * {@link mapMarketplaceError} may have left in it (the provider's options refuse them).
 */
function wrongMarketplaceHint({ baseUrl, marketplaceId }: MapErrorContext): string {
  const origin = baseUrl === undefined ? 'baseUrl' : `baseUrl (${withoutUserInfo(baseUrl)})`
  const id = marketplaceId === undefined ? 'marketplaceId' : `marketplaceId (${marketplaceId})`
  return `check ${origin} and ${id}: this route of the marketplace holds no single card, so a 404 there means that no marketplace API answers at that address for that marketplace`
}

function withoutUserInfo(url: string): string {
  return redactSecrets(url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1'))
}

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date. */
export function retryAfterMs(
  value: string | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const seconds = Number(value)
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.round(seconds * 1000) : undefined
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** What to do about a 407: it is the proxy's credentials, not the marketplace secret. */
const PROXY_HINT =
  "check the proxy credentials of the dispatcher: a ProxyAgent's token, or the user and password in its uri"

/**
 * Whether undici's `ProxyAgent` failed a request because the proxy answered 407. undici says so
 * only in its message: `Proxy response (407) !== 200 when HTTP Tunneling` (a `RequestAbortedError`,
 * for a tunnel) or `Proxy Authentication Required (407)` (an `InvalidArgumentError`, for a
 * request forwarded with `proxyTunnel: false`). Read as they are, the first would be a network
 * failure retried in vain, the second a request undici refused to send. @internal
 */
export function isProxyAuthenticationRequired(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code, message } = error as { code?: unknown; message?: unknown }
  if (code !== 'UND_ERR_ABORTED' && code !== 'UND_ERR_INVALID_ARG') return false
  return typeof message === 'string' && PROXY_407.test(message)
}

const PROXY_407 = /^Proxy (response \(407\)|Authentication Required \(407\))/

function networkCode(error: unknown): string | undefined {
  // undici wraps the socket's error in `cause` in some paths; look one level down as well.
  for (let current = error, depth = 0; depth < 3; depth++) {
    if (typeof current !== 'object' || current === null) return undefined
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

function detailsOf(body: MarketplaceErrorBody | null): Record<string, unknown> | undefined {
  if (!body) return undefined
  const details: Record<string, unknown> = {}
  if (typeof body.additional === 'string' && body.additional !== '') {
    details.additional = quoted(body.additional)
  }
  if (typeof body.extras === 'object' && body.extras !== null && !Array.isArray(body.extras)) {
    details.extras = body.extras
  }
  if (typeof body.category_type === 'string') details.categoryType = body.category_type
  return Object.keys(details).length > 0 ? details : undefined
}

// Fields whose value is a secret whatever it looks like (a CVC is too short for `redact`),
// also under a dotted prefix, as the account forms name a card's fields (`card.security_code`).
const SECRET_KEYS = /^(?:.*\.)?(card_number|number|security_code|cvc|cvv)$/i

/**
 * A security code written as text in a string: a server that quotes back a request it could not
 * read writes it as a form or a query (`cvc=123`, `card%5Bcvc%5D=123`), as JSON
 * (`"security_code":"987"`), as JSON inside a JSON string (`\"security_code\":\"987\"`) or
 * as HTML (`&quot;cvc&quot;: &quot;123&quot;`). The key (`security_code`, `cvc`, `cvv`, also
 * at the end of a longer one: `card.cvc`, `card[cvc]`, `card_cvv`), then any quotes, brackets
 * and spaces around one `=` or `:`, then the digits. Only the digits are replaced (see
 * {@link maskSecurityCodes}): the key says which field the server meant. A CVC is too short for
 * `redactSecrets` to find alone, and a partial quote escapes the client's removal of the whole
 * request body.
 */
const SECURITY_CODE_IN_TEXT =
  /(?<=^|[^a-z0-9]|%5B)(security_code|cvc|cvv)((?:\\*["'\]]|&quot;|%5D|\s)*[:=](?:\\*["']|&quot;|\s)*)\d+/gi

/**
 * `text` with the value of every security code it writes (see {@link SECURITY_CODE_IN_TEXT})
 * replaced with `•••`, its key kept.
 */
function maskSecurityCodes(text: string): string {
  return text.replace(SECURITY_CODE_IN_TEXT, '$1$2•••')
}

/**
 * `text` with its card numbers masked, also where HTML character references write them (see
 * {@link redactSecretsInHtml}), and the security codes it writes as `cvc=123` or
 * `"security_code":"987"` (see {@link SECURITY_CODE_IN_TEXT}). A security code that only shows
 * once the text is read as a page (its quotes, `=` or `:` written as other references,
 * `&#34;cvc&#34;: &#34;987&#34;`, `cvc&#61;987`, `cvc&equals;987`, or a tag before the digits)
 * is masked too: the text is then kept as a page reads it (see {@link plainText}), masked, since
 * whoever shows it decodes it. A text in which reading shows no security code is kept as written.
 */
function redactText(text: string): string {
  const masked = maskSecurityCodes(redactSecretsInHtml(text))
  if (!masked.includes('&') && !masked.includes('<')) return masked
  const read = plainText(masked)
  if (read === undefined) return masked
  const readMasked = maskSecurityCodes(read)
  return readMasked === read ? masked : redactSecrets(readMasked)
}

/**
 * Masks every string as {@link redactText} does, the keys of objects too (an `extras` keyed by
 * the card number or `cvc=987` it refuses), every number that is a card number (a server that
 * read the form's number as a number quotes it so), and drops the values of card-number and CVC
 * fields. What nests deeper than {@link MAX_BODY_DEPTH} is not read but replaced (see there).
 */
function redactDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value)
  if (typeof value === 'number') return maskCardNumberValue(value)
  if (typeof value !== 'object' || value === null) return value
  if (depth >= MAX_BODY_DEPTH) return NESTED_TOO_DEEP
  if (Array.isArray(value)) return value.map((item) => redactDeep(item, depth + 1))
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      redactText(key),
      SECRET_KEYS.test(key) ? '[redacted]' : redactDeep(item, depth + 1),
    ]),
  )
}

/**
 * How deep an error body is kept: the levels below the body's own fields that core keeps of a
 * `CardportError`'s `details` (its `MAX_DETAILS_DEPTH`, 8). The marketplace's bodies nest two or
 * three; 16 KiB of JSON can nest 8,000 (`[[[…]]]`), which walking to the bottom overflows the
 * stack with a `RangeError` instead of the error the answer is. Deeper levels are replaced by
 * {@link NESTED_TOO_DEEP}. @internal
 */
export const MAX_BODY_DEPTH = 8

/**
 * A copy of parsed JSON with the levels deeper than {@link MAX_BODY_DEPTH} replaced by
 * {@link NESTED_TOO_DEEP}, so that it can be written again with `JSON.stringify`, which
 * recurses. @internal
 */
export function cutDeep(value: unknown, depth = 0): unknown {
  if (typeof value !== 'object' || value === null) return value
  if (depth >= MAX_BODY_DEPTH) return NESTED_TOO_DEEP
  if (Array.isArray(value)) return value.map((item) => cutDeep(item, depth + 1))
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, cutDeep(item, depth + 1)]),
  )
}

/**
 * `text` cut to {@link QUOTE_MAX_CHARS}, saying how much was left out. The text is masked
 * already (the whole body was), so the cut cannot split a secret or card number unmasked.
 */
function quoted(text: string): string
function quoted(text: string | undefined): string | undefined
function quoted(text: string | undefined): string | undefined {
  if (text === undefined || text.length <= QUOTE_MAX_CHARS) return text
  // Not between the two halves of a surrogate pair.
  const code = text.charCodeAt(QUOTE_MAX_CHARS - 1)
  const end = code >= 0xd800 && code <= 0xdbff ? QUOTE_MAX_CHARS - 1 : QUOTE_MAX_CHARS
  return `${text.slice(0, end)}… [${text.length - end} characters more, cut]`
}
