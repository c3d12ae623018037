import {
  CardportError,
  isCardportError,
  ProviderUnavailableError,
  type RetryPolicy,
  withRetry,
} from '@cardport/core'
import { type Dispatcher, request } from 'undici'
import {
  cutDeep,
  ERROR_BODY_MAX_BYTES,
  isProxyAuthenticationRequired,
  MARKETPLACE_PROVIDER_NAME,
  type MapErrorContext,
  MarketplaceApiError,
  type MarketplaceErrorBody,
  mapMarketplaceError,
  sizeText,
} from './map-error.js'
import { basicAuthorization, secretMask } from './secret-mask.js'

/**
 * Rewrites, in place, the message and stack of a dispatcher's error and of its causes with
 * `hide`: undici's `MockAgent` names the body it could not match, which for a tokenize request is
 * a card form, number and CVC included (hidden with {@link hideSentBody}), and the headers it
 * could not match, the basic-auth value of the secret included; the error is kept as the `cause`
 * that loggers print. The error belongs to this one failed request; its class and `code` (which
 * the mapping reads) stay.
 */
function hideInSentError(error: unknown, hide: (text: string) => string): void {
  let current = error
  for (let depth = 0; depth < 3 && current instanceof Error; depth++) {
    for (const field of ['message', 'stack'] as const) {
      const text = current[field]
      if (typeof text !== 'string') continue
      const hidden = hide(text)
      if (hidden === text) continue
      try {
        current[field] = hidden
      } catch {
        // A frozen error (not one undici makes) keeps its text.
      }
    }
    current = current.cause
  }
}

/**
 * An undici `Dispatcher` (an `Agent`, a `Pool`, a `MockAgent`, the testing kit's bridge …),
 * typed structurally so that a Dispatcher from another copy of undici is accepted and this
 * package's declarations do not pin one undici version.
 */
export interface MarketplaceDispatcher {
  /**
   * undici's `Dispatcher.dispatch`, through which every request of the provider goes. Its
   * parameters are left open so that a Dispatcher of any undici version fits.
   */
  dispatch(...args: never[]): unknown
}

/** What the HTTP client needs; the provider builds it from its validated options. */
export interface HttpClientConfig {
  /** Origin (and optional path prefix) every path is appended to, without a trailing slash. */
  baseUrl: string
  /** The API key secret, sent as the HTTP basic-auth user name with an empty password. */
  secret: string
  /**
   * The marketplace the requests go to: named, with `baseUrl`, in the error of a 404 on a route
   * of the marketplace itself (`notFound: 'marketplace'`).
   */
  marketplaceId?: string | undefined
  dispatcher: MarketplaceDispatcher
  headersTimeoutMs: number
  bodyTimeoutMs: number
  userAgent: string
  /** How idempotent requests are retried (core's `withRetry`). */
  retry: RetryPolicy
  /**
   * The most bytes of an answer below 400 that are read: past it, or when its `Content-Length`
   * says more, reading stops, the connection is dropped, and the call fails with
   * `provider_unavailable`. Default {@link MAX_RESPONSE_BODY_BYTES}.
   */
  maxResponseBodyBytes?: number | undefined
  /**
   * Aborts when the provider is closed (its own `Agent`), with the error a call then gets as its
   * reason: a request is then refused before it is sent, a request in flight is not retried,
   * and a wait before a retry ends at once. Default: never.
   */
  closed?: AbortSignal | undefined
  /** The provider the errors name: `marketplaceProvider`'s `name`. Default `'marketplace'`. */
  name?: string | undefined
}

/** One request to the marketplace API. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PUT'
  /** The path from `/v1/…`. */
  path: string
  query?: Record<string, string | number>
  /** Sent as JSON. It may hold a card number: it never goes into an error or a log. */
  body?: Record<string, unknown>
  /** Sent as `Idempotency-Key`. */
  idempotencyKey?: string
  /**
   * Whether the request may be sent again after a network error, a 5xx or a 429. Default: only
   * for GET. Give `true` for a PUT that sets absolute state (`is_valid=false`, a whole `meta`).
   */
  retry?: boolean
  /** What a 404 means for this request. */
  notFound?: MapErrorContext['notFound']
  /**
   * Aborts the request, and the retries and their waits: the call then rejects with the
   * signal's reason, never a `CardportError`.
   */
  signal?: AbortSignal | undefined
}

/** A successful answer: its status, its parsed JSON body (null when empty) and request id. */
export interface HttpResponse {
  status: number
  body: unknown
  requestId: string | undefined
}

/** The marketplace HTTP client: JSON in and out, basic auth, timeouts, retries, mapped errors. */
export interface HttpClient {
  /**
   * Sends a request and returns the parsed answer; throws a `CardportError` for an error
   * answer, a network failure or a timeout (after the retries the request allows), and the
   * signal's reason when `signal` aborts.
   */
  send(request: HttpRequest): Promise<HttpResponse>
}

/**
 * A small wrapper over undici's `request()`. Every failure leaves as a `CardportError`:
 * answers of 400 and more through {@link mapMarketplaceError}, network errors and timeouts as
 * `provider_unavailable`, a request undici refuses to send (`UND_ERR_INVALID_ARG`: a header
 * value with a line break, say) as `invalid_request`, never retried; a 407 from the
 * dispatcher's proxy, however undici reports it, as `authentication`, never retried. Requests marked `retry` go
 * through core's `withRetry` (exponential backoff, full jitter, `Retry-After` honoured as the
 * least wait).
 *
 * @example
 * ```ts
 * const http = createHttpClient({ baseUrl, secret, dispatcher: new Agent(), headersTimeoutMs: 30_000,
 *   bodyTimeoutMs: 30_000, userAgent: 'me/1.0', retry: { retries: 2 } })
 * const { body } = await http.send({ method: 'GET', path: `/v1/marketplaces/${mp}/cards` })
 * ```
 */
export function createHttpClient(config: HttpClientConfig): HttpClient {
  const authorization = basicAuthorization(config.secret)
  const hideSecret = secretMask(config.secret)
  const dispatcher = config.dispatcher as unknown as Dispatcher
  const maxBodyBytes = config.maxResponseBodyBytes ?? MAX_RESPONSE_BODY_BYTES
  const name = config.name ?? MARKETPLACE_PROVIDER_NAME

  const once = async (call: HttpRequest): Promise<HttpResponse> => {
    const target = `${call.method} ${call.path}`
    const headers: Record<string, string> = {
      accept: 'application/json',
      authorization,
      'user-agent': config.userAgent,
    }
    const sent = call.body === undefined ? undefined : JSON.stringify(call.body)
    if (sent !== undefined) headers['content-type'] = 'application/json'
    if (call.idempotencyKey !== undefined) headers['idempotency-key'] = call.idempotencyKey

    let statusCode: number
    let responseHeaders: Record<string, string | string[] | undefined>
    let text = ''
    let bodyCut = false
    let skippedLength: number | undefined
    try {
      const response = await request(urlOf(config.baseUrl, call), {
        dispatcher,
        method: call.method,
        headers,
        body: sent,
        headersTimeout: config.headersTimeoutMs,
        bodyTimeout: config.bodyTimeoutMs,
        signal: call.signal,
      })
      statusCode = response.statusCode
      responseHeaders = response.headers
      const limit = statusCode < 400 ? maxBodyBytes : ERROR_BODY_MAX_BYTES
      const declared = Number(header(responseHeaders, 'content-length'))
      if (declared > limit) {
        // Not a byte read: destroying the body aborts the request and closes its connection.
        response.body.on('error', ignore).destroy()
        bodyCut = true
        skippedLength = declared
      } else {
        const read = await readUpTo(response.body, limit)
        text = read ?? ''
        bodyCut = read === undefined
      }
    } catch (error) {
      // An abort is the caller's, not the marketplace's failure: its reason, as it was given.
      call.signal?.throwIfAborted()
      hideInSentError(error, (text) =>
        hideSecret(sent === undefined ? text : hideSentBody(text, sent)),
      )
      // undici reports a proxy's 407 as a refused argument or an aborted request: the caller's
      // proxy credentials are at fault (`authentication`), not the request nor the network.
      if (isProxyAuthenticationRequired(error)) {
        throw mapMarketplaceError(error, { provider: name })
      }
      if (isRefusedByUndici(error)) {
        // Nothing was sent, and sending it again fails the same way: the request is at fault.
        throw new CardportError(
          'invalid_request',
          `${name}: undici refused to send ${target} (an option or header it cannot carry, such as a line break in the idempotency key or userAgent): fix the request`,
          { provider: name, providerCode: INVALID_ARGUMENT, cause: error },
        )
      }
      throw (
        mapMarketplaceError(error, { provider: name }) ??
        new ProviderUnavailableError(
          `${name}: ${target} failed before an answer arrived; retry later`,
          { provider: name, cause: error },
        )
      )
    }

    // Headers are the server's (or a gateway's) text too, printed with the error or the answer:
    // the secret is masked in them as in the body.
    const maskedHeader = (name: string) => {
      const value = header(responseHeaders, name)
      return value === undefined ? undefined : hideSecret(value)
    }
    const headerRequestId = maskedHeader('x-request-id') ?? maskedHeader('request-id')
    if (statusCode >= 400) {
      // The secret has no format `redactSecrets` could find: a server that quotes the
      // credentials it refused would put it in the error, which loggers print. A server that
      // quotes the request it refused would put the card form there, CVC included.
      const body = bodyCut ? null : errorBody(text, hideSecret, sent)
      const apiError = new MarketplaceApiError({
        status: statusCode,
        body,
        bodyCut,
        bodyLength: skippedLength,
        retryAfter: maskedHeader('retry-after'),
        requestId:
          (typeof body?.request_id === 'string' ? body.request_id : undefined) ?? headerRequestId,
        target,
      })
      throw mapMarketplaceError(apiError, {
        notFound: call.notFound,
        baseUrl: config.baseUrl,
        marketplaceId: config.marketplaceId,
        provider: name,
      })
    }
    if (bodyCut) {
      const what =
        skippedLength === undefined
          ? `more than ${sizeText(maxBodyBytes)}, the most maxResponseBodyBytes lets it read: not read further`
          : `${skippedLength} bytes (Content-Length), more than maxResponseBodyBytes (${sizeText(maxBodyBytes)}): skipped unread`
      // Not retried: a server that sent that much once will send it again.
      throw new ProviderUnavailableError(
        `${name}: ${target} answered ${statusCode} with a body of ${what}, kept nowhere (raise the maxResponseBodyBytes option if your marketplace answers that much)`,
        {
          provider: name,
          status: statusCode,
          requestId: headerRequestId,
          retryable: false,
        },
      )
    }
    return {
      status: statusCode,
      body: parseBody(text, target, statusCode, name, headerRequestId),
      requestId: headerRequestId,
    }
  }

  const { closed } = config
  const retryable =
    config.retry.shouldRetry ?? ((error: unknown) => isCardportError(error) && error.retryable)
  // A request that failed while the provider closed is not sent again (the Agent would refuse
  // it), and its wait before a retry ends with the close.
  const retryPolicy: RetryPolicy = {
    ...config.retry,
    shouldRetry: (error, attempt) => !closed?.aborted && retryable(error, attempt),
    signal: closed,
  }

  return {
    async send(call) {
      closed?.throwIfAborted()
      const retry = call.retry ?? call.method === 'GET'
      if (!retry) return once(call)
      if (!call.signal) return withRetry(() => once(call), retryPolicy)
      const signal = closed ? AbortSignal.any([call.signal, closed]) : call.signal
      return withRetry(() => once(call), { ...retryPolicy, signal })
    },
  }
}

/**
 * The most bytes of a successful answer the client reads by default: 8 MiB. A full page of 100
 * cards is about 350 KB; an answer past it is a broken server or a proxy's endless page, which
 * read whole would be held in memory and parsed. @internal
 */
export const MAX_RESPONSE_BODY_BYTES = 8 * 1024 * 1024

/**
 * What a call on a closed provider gets (the reason of `HttpClientConfig.closed`): the caller's
 * mistake, said as such, rather than the Agent's `UND_ERR_DESTROYED` read as a network failure
 * worth retrying.
 */
export function closedProviderError(name: string): CardportError {
  return new CardportError(
    'invalid_request',
    `${name}: this marketplaceProvider is closed (close() was called): make a new one to send more requests`,
    { provider: name },
  )
}

/** undici's `InvalidArgumentError`: it refused the request's options before sending anything. */
const INVALID_ARGUMENT = 'UND_ERR_INVALID_ARG'

function isRefusedByUndici(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === INVALID_ARGUMENT
  )
}

function urlOf(baseUrl: string, call: HttpRequest): string {
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(call.query ?? {})) query.set(key, String(value))
  const search = query.size > 0 ? `?${query}` : ''
  return `${baseUrl}${call.path}${search}`
}

function ignore(): void {}

function header(
  headers: Record<string, string | string[] | undefined>,
  name: string,
): string | undefined {
  const value = headers[name]
  const first = Array.isArray(value) ? value[0] : value
  return first === undefined || first === '' ? undefined : first
}

/**
 * The body's text, or undefined when it is longer than `maxBytes`: reading then stops (the
 * stream is destroyed, and its connection with it), so that a gateway's megabytes of error page
 * cost neither the time to receive them nor the memory. One leading byte order mark is dropped,
 * as a UTF-8 decoder drops it (undici's `body.json()` and `fetch`'s `json()` read such an
 * answer): `JSON.parse` refuses the U+FEFF that `Buffer#toString` keeps, which would turn a card
 * into "not JSON" and an error answer into one without its `category_code`.
 */
async function readUpTo(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
): Promise<string | undefined> {
  const chunks: Uint8Array[] = []
  let size = 0
  // Leaving the loop early destroys the stream.
  for await (const chunk of body) {
    size += chunk.byteLength
    if (size > maxBytes) return undefined
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  return text.charCodeAt(0) === BYTE_ORDER_MARK ? text.slice(1) : text
}

/** U+FEFF, which some servers put before their UTF-8 JSON. */
const BYTE_ORDER_MARK = 0xfeff

/**
 * The error answer's JSON body, with `hide` applied to it as `JSON.stringify` writes it: a server
 * may escape any character of a string (`\/` for `/`, `\u0061` for `a`), so the raw text can
 * hold the secret in a form no text search finds, which parsing would restore. Written again,
 * only a quote, a backslash and control characters are escaped, as `hide` expects; what nests
 * deeper than `MAX_BODY_DEPTH` is cut first, as `JSON.stringify` recurses. The request body
 * `sent`, when a string of the answer quotes it whole (`"description": "Could not parse request
 * body: {\"card_number\": …}"`), as it is or as a JSON string writes it, is replaced there with
 * `[the request body]` (see {@link hideSentBody}); a quote of part of it is left to the masking
 * of card numbers and security codes that `MarketplaceApiError` applies. A body that is not a
 * JSON object, or that masking left unreadable, is null: its text is kept nowhere.
 */
function errorBody(
  text: string,
  hide: (text: string) => string,
  sent: string | undefined,
): MarketplaceErrorBody | null {
  try {
    const written = JSON.stringify(cutDeep(JSON.parse(text)))
    // `written` escapes what a string of the answer holds, the request body it quotes with it:
    // that form of `sent` is found only inside a string, so replacing it leaves `written` JSON.
    const shown = sent === undefined ? written : hideSentBody(written, inJsonString(sent))
    const parsed: unknown = JSON.parse(hide(shown))
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as MarketplaceErrorBody)
      : null
  } catch {
    return null
  }
}

/** What a text that quotes the request body back shows in its place. */
const SENT_BODY = '[the request body]'

/**
 * `text` with the request body `sent` replaced, wherever it quotes it whole, by
 * `[the request body]`: as it is (undici's `MockAgent` names it so), and as a JSON string writes
 * it, its quotes and backslashes escaped (a server that quotes the request in a field of its
 * JSON error, or a dispatcher that quotes it as JSON). A tokenize request's body is the card
 * form, number and CVC included; only the client knows what it sent, and a CVC has no format a
 * mask could find alone.
 */
function hideSentBody(text: string, sent: string): string {
  return text.replaceAll(sent, SENT_BODY).replaceAll(inJsonString(sent), SENT_BODY)
}

/** `text` as a JSON string writes it, without the quotes around it. */
function inJsonString(text: string): string {
  return JSON.stringify(text).slice(1, -1)
}

/**
 * A successful answer's JSON body (null for an empty one). One that is not JSON (a proxy's page,
 * a server's plain text) is `provider_unavailable`, not retried (sent again, the same server
 * answers the same), its text kept nowhere: the parser's `SyntaxError` quotes the body, which may
 * hold anything (the secret, a card number), so it is not the `cause`, as an error answer that
 * is not JSON keeps nothing either.
 */
function parseBody(
  text: string,
  target: string,
  status: number,
  name: string,
  requestId: string | undefined,
): unknown {
  if (text.trim() === '') return null
  try {
    return JSON.parse(text)
  } catch {
    throw new ProviderUnavailableError(
      `${name}: ${target} answered ${status} with a body that is not JSON, kept nowhere; report it with the request id`,
      { provider: name, status, requestId, retryable: false },
    )
  }
}
