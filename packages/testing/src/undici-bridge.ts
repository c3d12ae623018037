import { STATUS_CODES } from 'node:http'
import { redact } from '@cardport/core'
import { getResponse, RequestHandler } from 'msw'
import { Dispatcher, errors } from 'undici'

/**
 * What the bridge does with a request no MSW handler answers, as MSW's own
 * `onUnhandledRequest`: `'error'` fails the request (and prints why), `'warn'` prints a warning
 * and sends it on to the `passthrough` dispatcher, `'bypass'` sends it on silently. A function
 * is called with the request; if it throws, the request fails with that error, otherwise it is
 * sent on.
 */
export type UnhandledRequestStrategy = 'error' | 'warn' | 'bypass' | ((request: Request) => void)

/** Options of {@link createUndiciBridge}. */
export interface UndiciBridgeOptions {
  /**
   * The MSW handlers, or a function that returns the current ones, so that the bridge follows
   * a server's `use()` and `resetHandlers()`: `() => server.listHandlers()`. Handlers that are
   * not HTTP/GraphQL request handlers (WebSocket handlers) are ignored.
   */
  handlers: readonly RequestHandler[] | (() => readonly unknown[])
  /** Default `'error'`. */
  onUnhandledRequest?: UnhandledRequestStrategy | undefined
  /**
   * Where unhandled requests go under `'warn'`/`'bypass'`, and requests a handler answers with
   * MSW's `passthrough()`. Without it, such requests fail: nothing reaches the network.
   */
  passthrough?: Dispatcher | undefined
}

/** The error an unhandled request fails with under `onUnhandledRequest: 'error'`. */
export class UnhandledRequestError extends Error {
  /** Always `'CARDPORT_UNHANDLED_REQUEST'`. */
  readonly code = 'CARDPORT_UNHANDLED_REQUEST'

  constructor(message: string) {
    super(message)
    this.name = 'UnhandledRequestError'
  }
}

/**
 * An undici `Dispatcher` that answers every request from MSW request handlers, without a
 * socket. MSW's `setupServer` intercepts global `fetch` and `node:http`, but not undici's own
 * `request()`, `fetch()`, `Pool` or `Client`: install this as undici's global dispatcher
 * (`setGlobalDispatcher`), or hand it to a client that takes a dispatcher, and the same handler
 * list answers those too. `setupCardportServer()` does both for you.
 *
 * Each dispatched request becomes a WHATWG `Request` (body read in full), is answered with
 * MSW's `getResponse(handlers, request)`, and the response is streamed back through the
 * handler API undici 7 uses (`onRequestStart`/`onResponseStart`/`onResponseData`/
 * `onResponseEnd`/`onResponseError`) or the legacy one (`onConnect`/`onHeaders`/`onData`/
 * `onComplete`/`onError`) that `request()` and `fetch()` still use, with back-pressure and
 * aborts. An exception the end callback throws goes to the error callback, as undici's own
 * client passes it: `interceptors.retry()` reports a status to retry that way. A handler's
 * `Response.error()` (how a fault drops a connection) reaches the client as undici's
 * `SocketError` (`code: 'UND_ERR_SOCKET'`), as a reset socket would; an answer later
 * than the request's `headersTimeout` (a latency fault) fails with `UND_ERR_HEADERS_TIMEOUT`, as
 * an `Agent` would; an exception thrown in a handler becomes a 500, as under `setupServer`.
 * `close()` settles once the requests under way have, and later requests fail with
 * `ClientClosedError`; `destroy(err)` fails the requests under way with `err` (by default
 * `ClientDestroyedError`), and from then on requests and `close()` fail with
 * `ClientDestroyedError`, as with undici's own dispatchers.
 *
 * @example
 * ```ts
 * import { request, setGlobalDispatcher } from 'undici'
 * const bridge = createUndiciBridge({ handlers: marketplace.handlers })
 * const { statusCode } = await request('https://api.marketplace.test/v1/marketplaces', {
 *   dispatcher: bridge,
 * })
 * ```
 */
export function createUndiciBridge(options: UndiciBridgeOptions): Dispatcher {
  return new MswDispatcher(() => options)
}

/**
 * A bridge whose options are read for every request, for `setupCardportServer()`, which learns
 * its unhandled-request strategy and passthrough dispatcher only at `listen()`.
 *
 * @internal
 */
export function createLiveUndiciBridge(read: () => UndiciBridgeOptions): Dispatcher {
  return new MswDispatcher(read)
}

class MswDispatcher extends Dispatcher {
  readonly #read: () => UndiciBridgeOptions
  readonly #inflight = new Set<Exchange>()
  #state: 'open' | 'closed' | 'destroyed' = 'open'
  #idle: Array<() => void> = []

  constructor(read: () => UndiciBridgeOptions) {
    super()
    this.#read = read
  }

  override dispatch(
    options: Dispatcher.DispatchOptions,
    handler: Dispatcher.DispatchHandler,
  ): boolean {
    if (this.#state !== 'open') {
      const error =
        this.#state === 'closed'
          ? new errors.ClientClosedError()
          : new errors.ClientDestroyedError()
      new Exchange(handler).fail(error)
      return false
    }
    const exchange = new Exchange(handler)
    this.#inflight.add(exchange)
    this.#serve(options, exchange)
      .catch((error: unknown) => exchange.fail(asError(error)))
      .finally(() => {
        this.#inflight.delete(exchange)
        if (this.#inflight.size === 0) for (const resolve of this.#idle.splice(0)) resolve()
      })
    return true
  }

  override close(): Promise<void>
  override close(callback: () => void): void
  override close(callback?: () => void): Promise<void> | undefined {
    if (this.#state === 'destroyed') {
      // As undici's own dispatchers: closing a destroyed one fails, and it stays destroyed.
      const error = new errors.ClientDestroyedError()
      if (!callback) return Promise.reject(error)
      queueMicrotask(() => (callback as (error: Error) => void)(error))
      return undefined
    }
    this.#state = 'closed'
    return this.#settled(callback)
  }

  override destroy(): Promise<void>
  override destroy(err: Error | null): Promise<void>
  override destroy(callback: () => void): void
  override destroy(err: Error | null, callback: () => void): void
  override destroy(
    first?: Error | null | (() => void),
    second?: () => void,
  ): Promise<void> | undefined {
    const callback = typeof first === 'function' ? first : second
    const reason = (typeof first === 'function' ? null : first) ?? new errors.ClientDestroyedError()
    this.#state = 'destroyed'
    for (const exchange of this.#inflight) exchange.abort(reason)
    return this.#settled(callback)
  }

  /** Resolves, or calls back, once every request under way has settled. */
  #settled(callback: (() => void) | undefined): Promise<void> | undefined {
    const done =
      this.#inflight.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.#idle.push(resolve)
          })
    if (!callback) return done
    void done.then(callback)
    return undefined
  }

  async #serve(options: Dispatcher.DispatchOptions, exchange: Exchange): Promise<void> {
    // Started first, so that an abort during a handler's latency reaches the exchange.
    exchange.start()
    const body = await readBody(options.body)
    if (exchange.finished) return
    const request = toRequest(options, body)
    const response = await withinHeadersTimeout(this.#answer(request), options.headersTimeout)
    if (exchange.finished) return

    if (!response || response.headers.get('x-msw-intention') === 'passthrough') {
      if (!response) this.#unhandled(request)
      const passthrough = this.#read().passthrough
      if (!passthrough) {
        throw new UnhandledRequestError(
          `[cardport] ${request.method} ${redact(request.url)} was to be sent on to the network, but the undici bridge has no passthrough dispatcher. Add a handler for it, or pass \`passthrough\`.`,
        )
      }
      exchange.forward(passthrough, { ...options, body: body?.replay ?? null })
      return
    }
    if (response.type === 'error') {
      // What a client sees when the server resets the connection mid-request.
      throw new errors.SocketError(
        'other side closed (the MSW handler answered Response.error(): a dropped connection)',
      )
    }
    await exchange.respond(response, request.method === 'HEAD')
  }

  async #answer(request: Request): Promise<Response | undefined> {
    const source = this.#read().handlers
    const list = typeof source === 'function' ? source() : source
    const handlers = list.filter(
      (entry): entry is RequestHandler => entry instanceof RequestHandler,
    )
    try {
      return await getResponse(handlers, request)
    } catch (error) {
      // setupServer turns an exception in a handler into a 500 that describes it; so does this.
      const cause = asError(error)
      console.error(
        `[cardport] a handler threw for ${request.method} ${redact(request.url)}:`,
        cause,
      )
      return Response.json(
        { name: cause.name, message: cause.message, stack: cause.stack },
        { status: 500, statusText: 'Unhandled Exception' },
      )
    }
  }

  /** Applies the unhandled-request strategy; throws when the request must fail. */
  #unhandled(request: Request): void {
    const strategy = this.#read().onUnhandledRequest ?? 'error'
    const message = `[cardport] No MSW handler answers ${request.method} ${redact(request.url)} (an undici request, through the undici bridge). Add a handler or an emulator for it to setupCardportServer(), or change onUnhandledRequest.`
    if (typeof strategy === 'function') {
      strategy(request)
      return
    }
    if (strategy === 'error') {
      // Printed as well as thrown: a client that swallows the error still fails the test loudly.
      console.error(message)
      throw new UnhandledRequestError(message)
    }
    if (strategy === 'warn') console.warn(message)
  }
}

// ---- one request/response exchange ---------------------------------------------------------

type Handler = Dispatcher.DispatchHandler

/**
 * One dispatched request, driving its handler through whichever API it implements; it is also
 * the controller that undici 7 handlers get. Once finished (ended, failed, aborted or forwarded)
 * it calls nothing more.
 */
class Exchange implements Dispatcher.DispatchController {
  readonly #handler: Handler
  readonly #modern: boolean
  #finished = false
  #forwarded = false
  #paused = false
  #reason: Error | null = null
  #waiters: Array<() => void> = []
  #onFinish: Array<() => void> = []
  /** Once forwarded: the other dispatcher's controller, which pause/resume/abort then drive. */
  #delegate: Dispatcher.DispatchController | null = null
  rawHeaders: Buffer[] | null = null
  rawTrailers: Buffer[] | null = null

  constructor(handler: Handler) {
    this.#handler = handler
    this.#modern = typeof handler.onRequestStart === 'function'
  }

  get finished(): boolean {
    return this.#finished
  }

  get aborted(): boolean {
    return this.#reason !== null
  }

  get paused(): boolean {
    return this.#paused
  }

  get reason(): Error | null {
    return this.#reason
  }

  start(): void {
    if (this.#modern) this.#handler.onRequestStart?.(this, {})
    else this.#handler.onConnect?.((reason?: Error) => this.abort(reason))
  }

  /** Streams a response to the handler, honouring pauses. */
  async respond(response: Response, head: boolean): Promise<void> {
    const reader = head ? undefined : response.body?.getReader()
    this.#onFinish.push(() => {
      reader?.cancel().catch(() => {})
    })
    const statusText = response.statusText || STATUS_CODES[response.status] || ''
    if (this.#modern) {
      this.rawHeaders = rawHeaders(response.headers)
      this.#handler.onResponseStart?.(
        this,
        response.status,
        headerRecord(response.headers),
        statusText,
      )
    } else {
      this.#handler.onResponseStarted?.()
      const ready = this.#handler.onHeaders?.(
        response.status,
        rawHeaders(response.headers),
        () => this.resume(),
        statusText,
      )
      if (ready === false) this.pause()
    }
    while (reader && !this.#finished) {
      if (this.#paused) await new Promise<void>((resolve) => this.#waiters.push(resolve))
      if (this.#finished) return
      const { done, value } = await reader.read()
      if (this.#finished) return
      if (done) break
      const chunk = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      if (this.#modern) this.#handler.onResponseData?.(this, chunk)
      else if (this.#handler.onData?.(chunk) === false) this.pause()
    }
    if (this.#finished) return
    this.#finish()
    try {
      if (this.#modern) this.#handler.onResponseEnd?.(this, {})
      else this.#handler.onComplete?.([])
    } catch (error) {
      // undici's own client hands a throw from the end callback to the error callback: that is
      // how its retry interceptor reports a status to retry, and retries.
      this.#error(asError(error))
    }
  }

  /** Fails the request: the handler's error callback, once. */
  fail(error: Error): void {
    if (this.#finished) return
    this.#finish()
    this.#error(error)
  }

  abort(reason?: Error): void {
    if (this.#reason || (this.#finished && !this.#forwarded)) return
    this.#reason = reason ?? new errors.RequestAbortedError()
    if (this.#forwarded) this.#delegate?.abort(this.#reason)
    else this.fail(this.#reason)
  }

  pause(): void {
    if (this.#delegate) this.#delegate.pause()
    else this.#paused = true
  }

  resume(): void {
    if (this.#delegate) {
      this.#delegate.resume()
      return
    }
    this.#paused = false
    for (const wake of this.#waiters.splice(0)) wake()
  }

  /**
   * Hands the request to another dispatcher. The handler has already been started, so the
   * other dispatcher's start is absorbed and its controller becomes this one's delegate.
   */
  forward(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): void {
    this.#finish()
    this.#forwarded = true
    const handler = this.#handler
    const adopt = (other: Dispatcher.DispatchController) => {
      this.#delegate = other
      if (this.#reason) other.abort(this.#reason)
    }
    const forwarded: Handler = this.#modern
      ? {
          onRequestStart: (other) => adopt(other),
          onRequestUpgrade: (_, ...rest) => handler.onRequestUpgrade?.(this, ...rest),
          onResponseStart: (_, ...rest) => handler.onResponseStart?.(this, ...rest),
          onResponseData: (_, chunk) => handler.onResponseData?.(this, chunk),
          onResponseEnd: (_, trailers) => handler.onResponseEnd?.(this, trailers),
          onResponseError: (_, error) => handler.onResponseError?.(this, error),
        }
      : {
          // Legacy handlers pause through onHeaders/onData return values and the `resume`
          // they are given, which pass straight through.
          onConnect: (abort) =>
            adopt({
              abort,
              aborted: false,
              paused: false,
              reason: null,
              pause() {},
              resume() {},
            }),
          onResponseStarted: () => handler.onResponseStarted?.(),
          onHeaders: (...args) => handler.onHeaders?.(...args) ?? true,
          onData: (chunk) => handler.onData?.(chunk) ?? true,
          onComplete: (trailers) => handler.onComplete?.(trailers),
          onError: (error) => handler.onError?.(error),
          onUpgrade: (...args) => handler.onUpgrade?.(...args),
        }
    dispatcher.dispatch(options, forwarded)
  }

  #error(error: Error): void {
    if (this.#modern) this.#handler.onResponseError?.(this, error)
    else this.#handler.onError?.(error)
  }

  #finish(): void {
    this.#finished = true
    for (const listener of this.#onFinish.splice(0)) listener()
    for (const wake of this.#waiters.splice(0)) wake()
  }
}

// ---- helpers -------------------------------------------------------------------------------

function toRequest(options: Dispatcher.DispatchOptions, body: ReadBody | undefined): Request {
  if (options.origin === undefined) {
    throw new errors.InvalidArgumentError(
      'The undici bridge needs an origin on every request: use it as an Agent (request(url, { dispatcher })), not as a Pool or Client without one.',
    )
  }
  const url = new URL(options.path, options.origin)
  for (const [name, value] of Object.entries(options.query ?? {})) {
    for (const entry of Array.isArray(value) ? value : [value]) {
      url.searchParams.append(name, String(entry))
    }
  }
  const method = String(options.method).toUpperCase()
  const withBody = body !== undefined && method !== 'GET' && method !== 'HEAD'
  return new Request(url, {
    method,
    headers: toHeaders(options.headers),
    ...(withBody ? { body: body.init } : {}),
  })
}

/**
 * undici's header forms: a record, a flat `[name, value, …]` array, or `[name, value]` pairs. A
 * value undici would not send (a line break, a control character) fails as undici fails it,
 * `InvalidArgumentError` ("invalid <name> header"), not as the `Headers` class's `TypeError`.
 */
function toHeaders(input: Dispatcher.DispatchOptions['headers']): Headers {
  const headers = new Headers()
  const add = (name: unknown, value: unknown) => {
    if (value === undefined || value === null) return
    for (const entry of Array.isArray(value) ? value : [value]) {
      const text = String(entry)
      if (INVALID_HEADER_VALUE.test(text)) {
        throw new errors.InvalidArgumentError(`invalid ${String(name)} header`)
      }
      headers.append(String(name), text)
    }
  }
  if (!input) return headers
  if (Array.isArray(input) && (input.length === 0 || !Array.isArray(input[0]))) {
    for (let i = 0; i + 1 < input.length; i += 2) add(input[i], input[i + 1])
    return headers
  }
  if (Symbol.iterator in Object(input) && typeof input !== 'string') {
    for (const pair of input as Iterable<[string, unknown]>) add(pair[0], pair[1])
    return headers
  }
  for (const [name, value] of Object.entries(input)) add(name, value)
  return headers
}

/** What undici refuses in a header value: anything but tab, visible ASCII and bytes 0x80–0xff. */
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/

/**
 * A body read from what undici was given: `init` for the `Request` the handlers see, `replay`
 * to send it again (on to a passthrough dispatcher) after a stream has been consumed.
 */
interface ReadBody {
  init: string | Uint8Array | Blob | FormData
  replay: Dispatcher.DispatchOptions['body']
}

/**
 * Reads any body undici accepts: strings, bytes, Blobs and FormData as they are (a `Request`
 * sets FormData's multipart content type), streams and async iterables (what undici's
 * `fetch()` sends) in full.
 */
async function readBody(body: unknown): Promise<ReadBody | undefined> {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string' || body instanceof Uint8Array) return { init: body, replay: body }
  if (body instanceof Blob) return { init: body, replay: body as never }
  if (Object.prototype.toString.call(body) === '[object FormData]') {
    // undici's own FormData class is not the global one a `Request` knows: copy the entries.
    const form = new FormData()
    for (const [name, value] of body as Iterable<[string, string | Blob]>) form.append(name, value)
    return { init: form, replay: body as Dispatcher.DispatchOptions['body'] }
  }
  if (typeof body === 'object' && Symbol.asyncIterator in body) {
    const chunks: Uint8Array[] = []
    for await (const chunk of body as AsyncIterable<unknown>) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array))
    }
    const bytes = Buffer.concat(chunks)
    return { init: bytes, replay: bytes }
  }
  throw new errors.InvalidArgumentError(
    `The undici bridge cannot read a body of type ${typeof body}`,
  )
}

function rawHeaders(headers: Headers): Buffer[] {
  const raw: Buffer[] = []
  for (const [name, value] of headers)
    raw.push(Buffer.from(name, 'latin1'), Buffer.from(value, 'latin1'))
  return raw
}

function headerRecord(headers: Headers): Record<string, string | string[]> {
  const record: Record<string, string | string[]> = {}
  for (const [name, value] of headers) {
    const existing = record[name]
    if (existing === undefined) record[name] = value
    else record[name] = Array.isArray(existing) ? [...existing, value] : [existing, value]
  }
  return record
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

/**
 * The answer, or undici's `HeadersTimeoutError` (`UND_ERR_HEADERS_TIMEOUT`) when it takes longer
 * than the request's `headersTimeout`, as a socket dispatcher would fail it: a latency fault
 * then reads as a timeout to a client that set one. The handler goes on, as a server would.
 */
async function withinHeadersTimeout<T>(answer: Promise<T>, timeoutMs: number | null | undefined) {
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) return answer
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new errors.HeadersTimeoutError()), timeoutMs)
  })
  try {
    return await Promise.race([answer, timeout])
  } finally {
    clearTimeout(timer)
  }
}
