import { RequestHandler } from 'msw'
import { type SetupServer, setupServer } from 'msw/node'
import { type Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from 'undici'
import { createLiveUndiciBridge, type UnhandledRequestStrategy } from './undici-bridge.js'

/** Options of {@link CardportServer.listen}. */
export interface CardportServerListenOptions {
  /**
   * What happens to a request no handler answers, for fetch, node:http and undici alike.
   * Default `'error'`: the request fails and the reason is printed, so the test fails.
   */
  onUnhandledRequest?: UnhandledRequestStrategy | undefined
}

/**
 * One MSW set-up for every HTTP client in Node: global `fetch` and `node:http` (MSW's
 * `setupServer`) and undici's `request()`/`fetch()` (the undici bridge, installed as undici's
 * global dispatcher while listening). The same handler list answers all of them.
 */
export interface CardportServer {
  /**
   * Starts intercepting: MSW's `listen`, and the bridge becomes undici's global dispatcher. A
   * second call before {@link CardportServer.close} throws MSW's error and changes nothing: the
   * running server keeps its `onUnhandledRequest`.
   */
  listen(options?: CardportServerListenOptions): void
  /** Stops intercepting and restores the global dispatcher that was there before `listen`. */
  close(): void
  /** Drops handlers added with `use()`, or replaces the initial list with `handlers`. */
  resetHandlers(...handlers: RequestHandler[]): void
  /** Prepends handlers (they win over the initial ones) until the next `resetHandlers()`. */
  use(...handlers: RequestHandler[]): void
  /** The handlers in effect, in the order they are tried. */
  listHandlers(): readonly RequestHandler[]
  /**
   * The undici bridge itself, for clients that take a dispatcher instead of the global one
   * (`request(url, { dispatcher })`, an adapter's `dispatcher` option). It answers from the
   * same handlers whether or not the server is listening.
   */
  readonly dispatcher: Dispatcher
  /** The underlying MSW server, for its `events` and anything else not wrapped here. */
  readonly msw: SetupServer
}

/**
 * Sets up MSW for a test file so that global `fetch`, `node:http` (the `stripe` SDK with either
 * HTTP client) and undici (`request()`, `fetch()`, any client given `server.dispatcher`) are all
 * answered by `handlers`, and an unhandled request fails the test.
 *
 * @example
 * ```ts
 * const stripe = stripeEmulator()
 * const server = setupCardportServer(...stripe.handlers)
 * beforeAll(() => server.listen())
 * afterEach(() => { server.resetHandlers(); stripe.reset() })
 * afterAll(() => server.close())
 * ```
 */
export function setupCardportServer(...handlers: RequestHandler[]): CardportServer {
  const msw = setupServer(...handlers)
  let strategy: UnhandledRequestStrategy = 'error'
  let previous: Dispatcher | undefined
  const listHandlers = () =>
    msw
      .listHandlers()
      .filter((handler): handler is RequestHandler => handler instanceof RequestHandler)
  const dispatcher = createLiveUndiciBridge(() => ({
    handlers: listHandlers,
    onUnhandledRequest: strategy,
    // What 'warn'/'bypass' send on: the dispatcher undici would have used without the bridge.
    ...(previous ? { passthrough: previous } : {}),
  }))

  return {
    dispatcher,
    msw,
    listen(options = {}) {
      const onUnhandledRequest = options.onUnhandledRequest ?? 'error'
      // MSW refuses a second listen() without close(): the running bridge keeps its strategy.
      msw.listen({
        onUnhandledRequest:
          typeof onUnhandledRequest === 'function'
            ? (request: Request) => onUnhandledRequest(request)
            : onUnhandledRequest,
      })
      strategy = onUnhandledRequest
      if (previous === undefined) {
        previous = getGlobalDispatcher()
        setGlobalDispatcher(dispatcher)
      }
    },
    close() {
      msw.close()
      if (previous === undefined) return
      // Another library may have replaced the bridge since: then its dispatcher stays.
      if (getGlobalDispatcher() === dispatcher) setGlobalDispatcher(previous)
      previous = undefined
    },
    resetHandlers(...next) {
      msw.resetHandlers(...next)
    },
    use(...next) {
      msw.use(...next)
    },
    listHandlers,
  }
}
