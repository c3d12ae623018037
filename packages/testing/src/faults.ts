import { delay, HttpResponse } from 'msw'

/**
 * A fault to inject into an emulator. It applies to requests whose `route` matches and fires
 * for the next `times` matching calls (default 1), after skipping `after` of them.
 *
 * - `latencyMs`: answer late (combines with the others).
 * - `status`: answer with this HTTP status and the provider's error body, without changing state.
 * - `retryAfter`: with `status: 429`, the `Retry-After` header in seconds.
 * - `body`: answer with this body instead (JSON content type; `status` or 200), without changing
 *   state: what a proxy or a gateway in the way could answer (`'{}'`, `'null'`, a page of
 *   nothing), to check that an adapter never reads it as "no such card".
 * - `drop: 'before-commit'`: the connection drops before the emulator changes anything.
 * - `drop: 'after-commit'`: the emulator commits the change, then the connection drops, so the
 *   client never sees the answer (the case that idempotency keys and reconcile exist for).
 */
export interface Fault {
  /**
   * Which requests: `'POST /v1/customers/:customer/sources'` (the emulator's route names), a
   * RegExp tested against `METHOD /path`, or omitted for every request.
   */
  route?: string | RegExp | undefined
  times?: number | undefined
  after?: number | undefined
  latencyMs?: number | undefined
  status?: number | undefined
  retryAfter?: number | undefined
  body?: string | undefined
  drop?: 'before-commit' | 'after-commit' | undefined
}

/** Injects faults into an emulator; every emulator has one as `faults`. */
export interface FaultController {
  /** Adds a fault; returns a function that removes it. */
  inject(fault: Fault): () => void
  /** Removes every fault. */
  clear(): void
  /** How many requests each fault has fired for, in the order they were injected. */
  readonly fired: readonly number[]
}

/** What an emulator gives the fault runner for one request. */
export interface FaultContext {
  /** The emulator's name for the route: `'POST /v1/customers/:customer/sources'`. */
  route: string
  /** `METHOD /actual/path`. */
  target: string
  /** Builds the provider's error response for an injected status. */
  errorResponse: (status: number, headers: Record<string, string>) => Response
}

/** The fault runner the emulators call around each request's work. @internal */
export interface FaultRunner extends FaultController {
  run(context: FaultContext, commit: () => Promise<Response> | Response): Promise<Response>
}

interface ActiveFault extends Fault {
  seen: number
  fired: number
}

/** Creates the fault machinery of one emulator. @internal */
export function createFaultRunner(): FaultRunner {
  let faults: ActiveFault[] = []

  const matches = (fault: Fault, context: FaultContext) => {
    if (fault.route === undefined) return true
    if (typeof fault.route === 'string') return fault.route === context.route
    return fault.route.test(context.target)
  }

  const take = (context: FaultContext): ActiveFault | undefined => {
    for (const fault of faults) {
      if (!matches(fault, context)) continue
      fault.seen++
      if (fault.seen <= (fault.after ?? 0)) continue
      if (fault.fired >= (fault.times ?? 1)) continue
      fault.fired++
      return fault
    }
    return undefined
  }

  return {
    inject(fault) {
      const active: ActiveFault = { ...fault, seen: 0, fired: 0 }
      faults.push(active)
      return () => {
        faults = faults.filter((other) => other !== active)
      }
    },
    clear() {
      faults = []
    },
    get fired() {
      return faults.map((fault) => fault.fired)
    },
    async run(context, commit) {
      const fault = take(context)
      if (!fault) return commit()
      if (fault.latencyMs) await delay(fault.latencyMs)
      if (fault.drop === 'before-commit') return HttpResponse.error()
      if (fault.drop === 'after-commit') {
        await commit()
        return HttpResponse.error()
      }
      const headers: Record<string, string> = {}
      if (fault.retryAfter !== undefined) headers['Retry-After'] = String(fault.retryAfter)
      if (fault.body !== undefined) {
        headers['Content-Type'] = 'application/json'
        return new HttpResponse(fault.body, { status: fault.status ?? 200, headers })
      }
      if (fault.status !== undefined) return context.errorResponse(fault.status, headers)
      return commit()
    },
  }
}
