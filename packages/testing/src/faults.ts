import { optionsObject, redact } from '@cardport/core'
import { HttpResponse } from 'msw'
import { z } from 'zod'

/**
 * A fault to inject into an emulator. It applies to requests whose `route` matches and fires
 * for the next `times` matching calls (default 1), after skipping `after` of them.
 *
 * How faults combine, for each request: every fault whose `route` matches counts the request
 * towards its `after`, whether or not it or another fault fires for it. A fault is due once it
 * has counted more than `after` matching requests and fired fewer than `times` times. Every due
 * latency fault fires; of the due faults with an outcome (`status`, `body` or `drop`), only the
 * first injected fires, and the others stay due for the next matching request. `times` counts
 * the requests a fault fired for (`fired`).
 */
export interface Fault {
  /**
   * Which requests: `'POST /v1/customers/:customer/sources'` (the emulator's route names), a
   * RegExp tested against `METHOD /path` (each request from the start, also with the `g` or `y`
   * flag), or omitted for every request. A string that names no route of the emulator (a real
   * path, or another spelling of a parameter, such as Stripe's reference's `:id`) makes `inject`
   * throw: such a fault would never fire.
   */
  route?: string | RegExp | undefined
  /** How many matching requests the fault fires for. Default 1; `Infinity` for all of them. */
  times?: number | undefined
  /** How many matching requests to let through untouched before the fault fires. Default 0. */
  after?: number | undefined
  /**
   * Answer this many milliseconds late. A fault with only `latencyMs` (no `status`, `body` or
   * `drop`) is a latency fault: it fires together with whatever else fires for the request, and
   * the delays of all the faults that fire add up. For standing latency, give
   * `times: Infinity`.
   */
  latencyMs?: number | undefined
  /** Answer with this HTTP status and the provider's error body, without changing state. */
  status?: number | undefined
  /** With `status: 429`: the `Retry-After` header, in seconds. */
  retryAfter?: number | undefined
  /**
   * Answer with this body instead (JSON content type; `status` or 200), without changing state:
   * what a proxy or a gateway in the way could answer (`'{}'`, `'null'`, a page of nothing), to
   * check that an adapter never reads it as "no such card".
   */
  body?: string | undefined
  /**
   * Drop the connection: `'before-commit'` before the emulator changes anything;
   * `'after-commit'` once it has committed the change, so that the client never sees the answer
   * (the case that idempotency keys and reconcile exist for).
   */
  drop?: 'before-commit' | 'after-commit' | undefined
}

/** Injects faults into an emulator; every emulator has one as `faults`. */
export interface FaultController {
  /**
   * Adds a fault; returns a function that removes it (once removed, it fires no more; calling
   * the function again, or after `clear()`, does nothing). Throws a `TypeError` for a string
   * `route` the emulator has no route of that name for, listing the names it has, and for a
   * fault that could never fire or would fire and do nothing, naming the field: no
   * `latencyMs`, `status`, `body` or `drop`; `times` not a whole number from 1 (or
   * `Infinity`); `after` not a whole number from 0; `latencyMs` not from 0 to 2^31 - 1;
   * `status` not a whole number from 400 to 599 (200 to 599 with a `body`); `retryAfter` not
   * a whole number of seconds from 0, or without a `status` or `body`; a `drop` other than the
   * two, or beside a `status` or `body`; a field `Fault` does not have.
   */
  inject(fault: Fault): () => void
  /** Removes every fault, and starts `fired` afresh. */
  clear(): void
  /**
   * How many requests each fault has fired for, one entry per fault injected since the last
   * `clear()` or `reset()`, in the order they were injected: `fired[i]` is the count of the
   * `i`-th `inject` call. A fault removed with the function `inject` returned keeps its entry
   * (the count it reached), so that the faults injected after it keep their index.
   *
   * @example
   * ```ts
   * const removeFirst = stripe.faults.inject({ status: 500 })
   * stripe.faults.inject({ status: 503, after: 1 })
   * // … one request: 500
   * removeFirst()
   * // … one request: 503
   * stripe.faults.fired // [1, 1]: index 1 is still the 503 fault
   * ```
   */
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
  /**
   * Aborted when whoever serves the request gives up on it (the emulator server's `close()`):
   * the request then ends at once as a dropped connection, committing nothing, its latency
   * timer cleared, as `reset()` ends it.
   */
  signal?: AbortSignal | undefined
}

/** The fault runner the emulators call around each request's work. @internal */
export interface FaultRunner extends FaultController {
  run(context: FaultContext, commit: () => Promise<Response> | Response): Promise<Response>
  /**
   * The emulator's `reset()`: removes every fault, and ends the requests still waiting out a
   * latency at once, with a dropped connection, committing nothing, their timers cleared. They
   * belong to a test that has ended (its client gave up): committed later, they would land in
   * the next test's state, and a timer left running would keep the test process alive.
   */
  reset(): void
}

interface ActiveFault extends Fault {
  seen: number
  fired: number
  /** Removed by the function `inject` returned: it fires no more, and keeps its slot in `fired`. */
  removed: boolean
}

/** The route names of an emulator, for `inject` to check a string `route` against. @internal */
export interface FaultRoutes {
  /** Whether `route` is the name of one of the emulator's routes. */
  has(route: string): boolean
  /** The names to list when a route is refused. */
  names(): readonly string[]
}

/**
 * Creates the fault machinery of one emulator. With `routes`, a fault whose string `route`
 * names none of them is refused when injected rather than left to never fire. @internal
 */
export function createFaultRunner(routes?: FaultRoutes): FaultRunner {
  // Every fault injected since the last clear() or reset(), removed ones included (their slot
  // in `fired`), in injection order.
  let faults: ActiveFault[] = []
  // Bumped by reset(): a request that began before it must not commit after it.
  let generation = 0
  // The latency waits under way, each ended (its timer cleared) by reset().
  const waiting = new Set<() => void>()

  /** Waits `ms`, or less if reset() or the request's `signal` ends the wait first. */
  const wait = (ms: number, signal: AbortSignal | undefined) => {
    if (ms > MAX_TIMEOUT_MS) {
      // Each fault's latency is checked by inject(); their sum can still be too long, and
      // setTimeout would fire after 1 ms instead (msw's delay() refuses it likewise).
      throw new RangeError(`A latency of ${ms} ms is longer than setTimeout can wait`)
    }
    return new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer)
        waiting.delete(end)
        signal?.removeEventListener('abort', end)
        resolve()
      }
      const timer = setTimeout(end, ms)
      waiting.add(end)
      signal?.addEventListener('abort', end)
    })
  }

  const matches = (fault: Fault, context: FaultContext) => {
    if (fault.route === undefined) return true
    if (typeof fault.route === 'string') return fault.route === context.route
    // Each request from the start: a `g` or `y` RegExp's test() starts where its last match
    // ended, and the fault would miss every other matching request.
    fault.route.lastIndex = 0
    return fault.route.test(context.target)
  }

  /** The faults that fire for this request: every due latency fault, and one outcome fault. */
  const take = (context: FaultContext): ActiveFault[] => {
    const firing: ActiveFault[] = []
    let outcome = false
    for (const fault of faults) {
      if (fault.removed || !matches(fault, context)) continue
      fault.seen++
      if (fault.seen <= (fault.after ?? 0)) continue
      if (fault.fired >= (fault.times ?? 1)) continue
      if (hasOutcome(fault)) {
        if (outcome) continue
        outcome = true
      }
      fault.fired++
      firing.push(fault)
    }
    return firing
  }

  return {
    inject(fault) {
      checkFault(fault)
      if (routes && typeof fault.route === 'string' && !routes.has(fault.route)) {
        throw new TypeError(
          `The emulator has no route named '${redact(fault.route)}': the fault would never fire. A route name is the method and the emulator's path pattern, one of: ${routes.names().join(', ')}. To match requests by their actual path, give a RegExp tested against 'METHOD /path'.`,
        )
      }
      const active: ActiveFault = {
        ...fault,
        route: ownRoute(fault.route),
        seen: 0,
        fired: 0,
        removed: false,
      }
      faults.push(active)
      return () => {
        active.removed = true
      }
    },
    clear() {
      faults = []
    },
    reset() {
      faults = []
      generation++
      for (const end of waiting) end()
    },
    get fired() {
      return faults.map((fault) => fault.fired)
    },
    async run(context, commit) {
      const firing = take(context)
      const latency = firing.reduce((total, fault) => total + (fault.latencyMs ?? 0), 0)
      if (latency > 0) {
        const started = generation
        await wait(latency, context.signal)
        if (generation !== started || context.signal?.aborted) return HttpResponse.error()
      }
      const fault = firing.find(hasOutcome)
      if (!fault) return commit()
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

/** The longest delay `setTimeout` takes (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMEOUT_MS = 2_147_483_647

const wholeFrom = (least: number) => z.number().int().min(least)

/**
 * What `inject` takes: every field as `Fault` types it, and the combinations that do something.
 * The faults a test can write by mistake (a `times` of 0, a `retryAfter` without a status, a
 * misspelt field) are refused rather than left to fire for nothing.
 */
const FaultSchema = optionsObject({
  route: z.union([z.string(), z.instanceof(RegExp)]).optional(),
  times: z.union([wholeFrom(1), z.literal(Number.POSITIVE_INFINITY)]).optional(),
  after: wholeFrom(0).optional(),
  latencyMs: z.number().min(0).max(MAX_TIMEOUT_MS).optional(),
  status: z.number().int().min(200).max(599).optional(),
  // delay-seconds (RFC 9110): a whole number, as Stripe and the marketplace would send it.
  retryAfter: wholeFrom(0).optional(),
  body: z.string().optional(),
  drop: z.enum(['before-commit', 'after-commit']).optional(),
}).superRefine((fault, context) => {
  const problem = (path: string, message: string) =>
    context.addIssue({ code: 'custom', path: [path], message })
  // A latencyMs of 0 is given on purpose: a fault that holds its request's place in `fired`
  // (one a request, with `after`) and adds no wait: run() sets no timer for a total of 0.
  if (!hasOutcome(fault) && fault.latencyMs === undefined) {
    problem(
      'latencyMs',
      'a fault needs a latencyMs, status, body or drop: without one it would fire and do nothing',
    )
  }
  if (fault.status !== undefined && fault.status < 400 && fault.body === undefined) {
    problem('status', 'an injected status below 400 needs a body: it would carry an error body')
  }
  if (fault.drop !== undefined && (fault.status !== undefined || fault.body !== undefined)) {
    problem('drop', 'a dropped connection answers no status or body: give one or the other')
  }
  if (fault.retryAfter !== undefined && fault.status === undefined && fault.body === undefined) {
    problem('retryAfter', 'Retry-After is a header of an answer: give a status or a body')
  }
})

/** Throws a `TypeError` naming each problem of a fault `inject` would refuse. */
function checkFault(fault: Fault): void {
  const result = FaultSchema.safeParse(fault)
  if (result.success) return
  const problems = result.error.issues
    .map((issue) => `${issue.path.join('.') || 'the fault'}: ${issue.message}`)
    .join('; ')
  throw new TypeError(`Invalid fault (${redact(problems)})`)
}

/** Whether a fault decides the answer (a status, a body or a drop), rather than only delaying it. */
function hasOutcome(fault: Fault): boolean {
  return fault.status !== undefined || fault.body !== undefined || fault.drop !== undefined
}

/** The route, with a RegExp copied: its `lastIndex` is the runner's to reset, not the caller's. */
function ownRoute(route: Fault['route']): Fault['route'] {
  return route instanceof RegExp ? new RegExp(route) : route
}
