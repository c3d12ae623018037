import type { HttpHandler } from 'msw'
import type { FaultController } from './faults.js'

/**
 * What every emulator of this package returns: MSW handlers over a resettable in-memory state.
 *
 * @example
 * ```ts
 * const stripe = stripeEmulator()
 * const server = setupServer(...stripe.handlers)
 * afterEach(() => { server.resetHandlers(); stripe.reset() })
 * ```
 */
export interface Emulator {
  /** MSW 2 request handlers answering every path under `origin`. */
  readonly handlers: HttpHandler[]
  /** Injects latency, statuses, 429s and dropped connections into the emulator's routes. */
  readonly faults: FaultController
  /** The origin the handlers answer, e.g. `'https://api.stripe.com'`. */
  readonly origin: string
  /**
   * Empties the state (the marketplace emulator keeps its test marketplace). The emulators of
   * this package also clear their faults and end a request still waiting out an injected
   * latency at once, as a dropped connection, committing nothing, so that it never lands in the
   * state of the next test, and its timer cleared, so that no latency keeps the process alive.
   */
  reset(): void
}
