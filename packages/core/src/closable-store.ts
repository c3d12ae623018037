import type { Owner } from './card.js'
import { InvalidRequestError } from './errors.js'
import { CARD_STORE_METHODS, type CardStore } from './store.js'

/** Options of {@link closableStore}. */
export interface ClosableStoreOptions {
  /**
   * Runs before every call while the store is open, and refuses the call by throwing (an
   * `InvalidRequestError` saying what to do): for what can close under the store without its
   * `close()`, such as a connection the caller passed in and has closed. Leave it out when only
   * `close()` closes the store: each call then costs one boolean check.
   */
  checkOpen?: (() => void) | undefined
}

/**
 * The `close()` rule of the {@link CardStore} contract, for store authors: returns a store
 * whose methods are `store`'s, except that once its `close()` has been called, every call
 * (`retirements`' included, and the next owner of a `listOwners` begun before) rejects with
 * `invalid_request`, "`name` is closed", without reaching `store`. The calls begun before
 * `close()` (a `listOwners` page being read included) run on: `close()` waits until each has
 * settled, and only then calls `store.close()`, once; a second call returns the first's
 * promise. So `store.close()` never releases a connection under a call still using it, and
 * once `close()` resolves, nothing of the store's is still running: the caller may close a
 * client it passed in. `store.close()` releases what the store opened itself, and nothing of
 * the caller's.
 *
 * An open store's call costs a boolean check and a count of the calls running, and goes to
 * `store`'s method with its arguments (called on `store`, so that a class keeps its `this`). The members wrapped are the contract's
 * and `store`'s other own enumerable ones: every function but `listOwners` and `close` is taken
 * to return a promise; other values are copied as they are. The store returned is a new plain
 * object, not frozen: freeze it if yours was.
 *
 * @param name - How errors name the store: the factory's name, e.g. `'sqliteStore'`.
 * @param store - The store's methods, `close()` releasing what it opened (`async close() {}`
 *   when there is nothing).
 *
 * @example
 * ```ts
 * export function myStore(options: MyStoreOptions): CardStore {
 *   const db = connect(options.url)
 *   return Object.freeze(
 *     closableStore('myStore', {
 *       async get(scope, cardId) { … },
 *       // … every other method, none of them checking whether the store is closed …
 *       async close() {
 *         await db.end()
 *       },
 *     }),
 *   )
 * }
 * ```
 */
export function closableStore<S extends CardStore>(
  name: string,
  store: S,
  options: ClosableStoreOptions = {},
): S {
  const { checkOpen } = options
  let closed = false
  let closing: Promise<void> | undefined
  // The calls begun and not yet settled, and what close() waits on until there are none.
  let running = 0
  let idle: (() => void) | undefined
  const settle = () => {
    running -= 1
    if (running === 0) idle?.()
  }
  const passed = (value: unknown) => {
    settle()
    return value
  }
  const failed = (reason: unknown) => {
    settle()
    throw reason
  }
  /**
   * Counts `result` as running until it settles. The caller gets the promise chained to it, not
   * `result` with a handler added, so that a rejection no one handles is still reported.
   */
  const track = (result: unknown): unknown => {
    if (typeof (result as PromiseLike<unknown> | null)?.then !== 'function') return result
    running += 1
    return (result as PromiseLike<unknown>).then(passed, failed)
  }

  /** Why a call is refused now (boxed: anything may be thrown), or undefined when it may run. */
  const refusal = (): { reason: unknown } | undefined => {
    if (closed) {
      return {
        reason: new InvalidRequestError(
          `${name} is closed: every call after its close() is refused; open a new store to go on`,
        ),
      }
    }
    try {
      checkOpen?.()
    } catch (reason) {
      return { reason }
    }
    return undefined
  }

  const guard =
    (method: Method, self: object): Method =>
    (...args) => {
      if (closed || checkOpen !== undefined) {
        const refused = refusal()
        if (refused !== undefined) return Promise.reject(refused.reason)
      }
      return track(method.apply(self, args))
    }

  const listOwners = (provider: string): AsyncIterable<Owner> => {
    // Refused now: the store's own listing is not even begun, and the first next() refuses.
    const refusedAtCall = refusal()
    const owners = refusedAtCall === undefined ? store.listOwners(provider) : undefined
    const refusedNow = () => refusal() ?? refusedAtCall
    return {
      [Symbol.asyncIterator]: () =>
        guardOwners(owners?.[Symbol.asyncIterator](), refusedNow, track),
    }
  }

  const wrapped = guardMembers(store, STORE_MEMBERS, guard)
  if ('listOwners' in wrapped) wrapped.listOwners = listOwners
  if (typeof wrapped.retirements === 'object' && wrapped.retirements !== null) {
    wrapped.retirements = guardMembers(wrapped.retirements, RETIREMENT_MEMBERS, guard)
  }
  wrapped.close = () => {
    // Set before `store.close()` runs: a call made while it releases is refused too.
    closing ??= (async () => {
      closed = true
      if (running > 0) {
        await new Promise<void>((resolve) => {
          idle = resolve
        })
      }
      await store.close()
    })()
    return closing
  }
  return wrapped as S
}

// --- internals ---

type Method = (...args: unknown[]) => unknown

/**
 * The contract's members, looked up also on a prototype (a class's methods are not its own
 * enumerable properties). `retirements` is guarded member by member, `listOwners` and `close`
 * by `closableStore` itself.
 */
const STORE_MEMBERS = [
  ...CARD_STORE_METHODS,
  'listByOwners',
  'concurrentWrites',
  'retirements',
  'close',
] as const satisfies readonly (keyof CardStore)[]

const RETIREMENT_MEMBERS = ['save', 'load', 'remove'] as const

/**
 * A plain object with `source`'s members (`known` ones wherever they are, and its own
 * enumerable ones), each function guarded as a method of `source`.
 */
function guardMembers(
  source: object,
  known: readonly string[],
  guard: (method: Method, self: object) => Method,
): Record<string, unknown> {
  const target: Record<string, unknown> = {}
  for (const key of new Set([...known, ...Object.keys(source)])) {
    if (!(key in source)) continue
    const value = (source as Record<string, unknown>)[key]
    target[key] = typeof value === 'function' ? guard(value as Method, source) : value
  }
  return target
}

/**
 * The store's iterator of owners, each `next()` refused once `refusal` says so: the store's
 * iterator is then ended (`return()`), once, so that what it holds between pages is released.
 * `owners` is undefined when the listing was refused before it began. `track` counts a page
 * being read as a call running, as `closableStore` counts its methods' calls.
 */
function guardOwners(
  owners: AsyncIterator<Owner> | undefined,
  refusal: () => { reason: unknown } | undefined,
  track: (result: unknown) => unknown,
): AsyncIterator<Owner> {
  let ended = owners === undefined
  return {
    next() {
      const refused = refusal()
      if (refused === undefined && owners !== undefined) {
        return track(owners.next()) as Promise<IteratorResult<Owner>>
      }
      if (!ended) {
        ended = true
        // Its outcome is no one's: the caller gets the refusal.
        Promise.resolve(owners?.return?.()).catch(() => {})
      }
      return Promise.reject(refused?.reason)
    },
    return(value?: unknown) {
      if (ended || owners?.return === undefined) {
        ended = true
        return Promise.resolve({ done: true, value: value as undefined })
      }
      ended = true
      return owners.return(value)
    },
  }
}
