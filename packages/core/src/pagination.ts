import { createHash } from 'node:crypto'
import { z } from 'zod'
import type { Card, Owner } from './card.js'
import { InvalidRequestError, ProviderUnavailableError } from './errors.js'
import type { CardProvider } from './provider.js'
import { RetryPolicySchema } from './retry.js'
import { untilAborted } from './until-aborted.js'
import { optionsObject, validate } from './validate.js'

/** One page of a list. `nextCursor` is opaque: pass it back as `cursor` to get the next page. */
export interface Page<T> {
  /** This page's items, at most the `limit` asked for, in the provider's order. */
  data: T[]
  /** Whether more items follow this page: ask again with `nextCursor`. */
  hasMore: boolean
  /** The `cursor` of the next page; null on the last page. */
  nextCursor: string | null
}

/** Options of {@link listAll}. A key other than these is refused with `invalid_request`. */
export interface ListAllOptions {
  /** Cards fetched per request, 1 to 100. Default 100. */
  pageSize?: number | undefined
  /**
   * Stops the iteration: checked before each page, and a page on its way when it aborts is not
   * waited for. The iteration then throws the signal's reason. The request of that page runs to
   * its end unobserved (a provider's `listCards` takes no signal), and its cards are dropped.
   */
  signal?: AbortSignal | undefined
}

const listAllOptionsShape = {
  /** Cards fetched per request, 1 to 100. Default 100. */
  pageSize: z.number().int().min(1).max(100).default(100),
  /** An `AbortSignal`. */
  signal: RetryPolicySchema.shape.signal,
}

/**
 * The fields of {@link ListAllOptionsSchema}, named so that its type keeps their comments.
 * @inline
 */
type ListAllOptionsShape = typeof listAllOptionsShape

/**
 * The options of {@link listAll} ({@link ListAllOptions}), as it checks them: `pageSize` 1 to
 * 100 (default 100), `signal` an `AbortSignal`. Strict: a misspelt `page_size` dropped would page
 * at the default size. For adapters' own `listAll`-like iterations.
 */
export const ListAllOptionsSchema: z.ZodObject<ListAllOptionsShape, z.core.$strict> =
  optionsObject(listAllOptionsShape)

/** The largest number of items {@link toArray} will ever collect. */
export const TO_ARRAY_HARD_CAP = 10_000

/** What {@link listAll} reads of a provider: its name and `listCards`. */
export type CardLister = Pick<CardProvider, 'listCards' | 'name'>

/**
 * The owner a provider's `listCards` takes: where the provider's capabilities are known, only
 * the owner types it holds, and nothing at all (`never`) when it cannot list cards. Any owner
 * for a `listCards` that takes no arguments, or whose first parameter is not an owner: TypeScript
 * reads only the last signature of an overloaded `listCards` (its `(ownerId: string)` would
 * otherwise make `listAll` take a string), and an optional owner would let `undefined` through.
 */
export type ListedOwner<P extends CardLister> =
  Parameters<P['listCards']> extends []
    ? Owner
    : Parameters<P['listCards']>[0] extends Owner
      ? Parameters<P['listCards']>[0]
      : Owner

/**
 * Every card of an owner, page by page. Only one page is held in memory at a time, so it is
 * safe on owners with any number of cards (besides the page, one cursor per page is kept). A
 * page that says more follow but gives no cursor, or a cursor that this listing was given
 * already (a cursor that leads to itself, or pages that go round in a cycle), ends it with
 * `provider_unavailable`, not retryable, instead of listing the same cards for ever. Where the provider's capabilities are known, an owner
 * type it does not hold, or a provider that cannot list cards, is a compile error, as a direct
 * `listCards` call would be.
 *
 * @example
 * ```ts
 * for await (const card of listAll(provider, owner)) console.log(card.last4)
 * ```
 */
export async function* listAll<P extends CardLister>(
  provider: P,
  owner: ListedOwner<P>,
  options: ListAllOptions = {},
): AsyncGenerator<Card, void, undefined> {
  const lister: CardLister = provider
  const { pageSize: limit, signal } = validate(
    ListAllOptionsSchema,
    options,
    'listAll options',
    provider.name,
  )
  let cursor: string | undefined
  // Every cursor of this listing, one string per page: a cursor given again means the pages go
  // round in a cycle (A, B, A …), which would list the same cards and call the provider for ever.
  const given = new Set<string>()
  do {
    signal?.throwIfAborted()
    // A request that hangs until its timeout (30 s, with retries) must not hold up an abort.
    const page = await untilAborted(
      lister.listCards(owner as Owner, cursor === undefined ? { limit } : { limit, cursor }),
      signal,
    )
    yield* page.data
    if (page.hasMore && page.nextCursor === null) {
      // An answer that cannot be read, as an unreadable card is: the request was fine, and
      // asking again gives the same page.
      throw new ProviderUnavailableError(
        `${provider.name} said more cards follow but gave no cursor: report this to the adapter's authors`,
        { provider: provider.name, retryable: false },
      )
    }
    if (page.hasMore && page.nextCursor === cursor) {
      // The same page again and again: an adapter that does not move its cursor on.
      throw new ProviderUnavailableError(
        `${provider.name} gave the same cursor for the next page as for this one: report this to the adapter's authors`,
        { provider: provider.name, retryable: false },
      )
    }
    if (page.hasMore && page.nextCursor !== null && given.has(page.nextCursor)) {
      // Pages that lead back to an earlier one (offsets that reset, a proxy that mixes up its
      // answers). The message names no cursor: one may hold what the adapter sealed in it.
      throw new ProviderUnavailableError(
        `${provider.name} gave a cursor for the next page that an earlier page of this list gave already, so its pages go round in a cycle: report this to the adapter's authors`,
        { provider: provider.name, retryable: false },
      )
    }
    cursor = page.hasMore ? (page.nextCursor ?? undefined) : undefined
    if (cursor !== undefined) given.add(cursor)
  } while (cursor !== undefined)
}

// The limit is checked by toArray itself, with its own message; the schema refuses other keys.
const ToArrayOptionsSchema = optionsObject({ limit: z.unknown() }).optional()

/**
 * Collects an async iterable into an array, stopping after `limit` items. The limit is
 * required (at most {@link TO_ARRAY_HARD_CAP}) so that a list never silently grows without bound:
 * a limit outside 1 to that cap, or none (the options left out too), rejects with
 * `invalid_request` before the iterable is read, and so does an option other than `limit` (a
 * misspelt one is refused, not dropped).
 */
export async function toArray<T>(
  iterable: AsyncIterable<T>,
  options: {
    /** The most items to collect, 1 to {@link TO_ARRAY_HARD_CAP}. */
    limit: number
  },
): Promise<T[]> {
  // Left out, the options get the same invalid_request as a limit left out, below; an unknown
  // one (a misspelt `limt` beside `limit`) is refused, not dropped.
  const limit: unknown = validate(ToArrayOptionsSchema, options, 'toArray options')?.limit
  if (
    typeof limit !== 'number' ||
    !Number.isInteger(limit) ||
    limit < 1 ||
    limit > TO_ARRAY_HARD_CAP
  ) {
    throw new InvalidRequestError(
      `toArray needs a limit between 1 and ${TO_ARRAY_HARD_CAP}; iterate with for await to go further`,
    )
  }
  const items: T[] = []
  for await (const item of iterable) {
    items.push(item)
    if (items.length >= limit) break
  }
  return items
}

/** A cursor's paging state: a flat map of strings and finite numbers. */
export type CursorState = Record<string, string | number>

const cursorListShape = { list: z.string().optional() }
// Strict: a misspelt `lists` dropped would skip the owner check, and take one owner's cursor
// for another's list.
const EncodeCursorOptionsSchema = optionsObject(cursorListShape).optional()
const DecodeCursorOptionsSchema = optionsObject({
  ...cursorListShape,
  read: z
    .custom<(state: CursorState) => unknown>((value) => typeof value === 'function', 'a function')
    .optional(),
}).optional()

/** Options of {@link encodeCursor}. A key other than these is refused with `invalid_request`. */
export interface EncodeCursorOptions {
  /**
   * The list the cursor pages through: one owner's cards (`formatOwner(owner)`), say.
   * {@link decodeCursor} given another `list` refuses the cursor.
   */
  list?: string | undefined
}

/** Options of {@link decodeCursor}. A key other than these is refused with `invalid_request`. */
export interface DecodeCursorOptions<T> extends EncodeCursorOptions {
  /**
   * Reads the adapter's own fields from the state: returns what `decodeCursor` returns, or
   * `undefined` for a state it does not take (a field missing, of the wrong type or out of
   * range), which `decodeCursor` then refuses as a cursor it did not make.
   */
  read?: ((state: CursorState) => T | undefined) | undefined
}

/**
 * Makes an opaque cursor from an adapter's paging state. The provider's name is sealed in, so
 * a cursor from one provider is refused by another instead of being misread; so is `list`, so
 * that a cursor of one owner's cards is refused for another owner's. A checksum goes with it, so
 * that a cursor changed or cut on its way (a character edited, a part lost from a URL) is refused
 * instead of read as another place in the list. It is not a signature: it holds no secret.
 *
 * @example
 * ```ts
 * encodeCursor('acme', { after: lastId }, { list: formatOwner(owner) })
 * ```
 */
export function encodeCursor(
  provider: string,
  state: CursorState,
  options: EncodeCursorOptions = {},
): string {
  const { list } =
    validate(EncodeCursorOptionsSchema, options, 'encodeCursor options', provider) ?? {}
  const sealed = list === undefined ? { p: provider, s: state } : { p: provider, l: list, s: state }
  const payload = Buffer.from(JSON.stringify(sealed)).toString('base64url')
  return `${payload}.${checksum(payload)}`
}

/**
 * Reads a cursor made by {@link encodeCursor}, before any request is sent. `invalid_request`
 * when the cursor is not one of the provider's (another provider's, altered, not a cursor, or a
 * state `read` does not take), and when `list` is given and the cursor was made for another
 * list (or for none).
 *
 * @example
 * ```ts
 * const after = decodeCursor('acme', cursor, {
 *   list: formatOwner(owner),
 *   read: ({ after }) => (typeof after === 'string' ? after : undefined),
 * })
 * ```
 */
export function decodeCursor<T>(
  provider: string,
  cursor: string,
  options: DecodeCursorOptions<T> & { read: (state: CursorState) => T | undefined },
): T
/** Reads a cursor made by {@link encodeCursor} and returns its whole state; as above without `read`. */
export function decodeCursor(
  provider: string,
  cursor: string,
  options?: EncodeCursorOptions,
): CursorState
export function decodeCursor<T>(
  provider: string,
  cursor: string,
  options: DecodeCursorOptions<T> = {},
): T | CursorState {
  // Before the cursor is read: a misspelt `lists` would take another owner's cursor.
  const { list, read: readState } =
    validate(DecodeCursorOptionsSchema, options, 'decodeCursor options', provider) ?? {}
  const notOurs = () =>
    new InvalidRequestError(
      `this cursor was not made by ${provider}: pass the nextCursor of a page ${provider} returned`,
      { provider },
    )
  const sealed = unseal(provider, cursor)
  if (sealed === undefined) throw notOurs()
  if (list !== undefined && sealed.l !== list) {
    throw new InvalidRequestError(
      'this cursor belongs to another list: pass the nextCursor of a page of the same list',
      { provider },
    )
  }
  const read = readState ? (readState(sealed.s) as T | undefined) : sealed.s
  if (read === undefined) throw notOurs()
  return read
}

/** The first 12 characters (72 bits) of a cursor payload's SHA-256, in base64url. */
function checksum(payload: string): string {
  return createHash('sha256').update(payload).digest('base64url').slice(0, 12)
}

/**
 * The list and state sealed in a cursor of `provider`'s; undefined for anything else, or for a
 * cursor whose checksum does not match, or whose base64url is not as `encodeCursor` writes it
 * (Node's decoder skips characters it does not know, so `abc!!` reads as `abc`).
 */
function unseal(provider: string, cursor: string): { l?: unknown; s: CursorState } | undefined {
  const dot = cursor.indexOf('.')
  const payload = cursor.slice(0, dot)
  if (dot === -1 || cursor.slice(dot + 1) !== checksum(payload)) return undefined
  const bytes = Buffer.from(payload, 'base64url')
  if (bytes.toString('base64url') !== payload) return undefined
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'))
    const sealed = parsed as { p?: unknown; l?: unknown; s?: unknown } | null
    if (sealed?.p === provider && isPagingState(sealed.s)) return { l: sealed.l, s: sealed.s }
  } catch {
    // not a cursor: undefined below
  }
  return undefined
}

/** Whether a decoded cursor's state has the shape encodeCursor writes: a flat string/number map. */
function isPagingState(state: unknown): state is CursorState {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) return false
  return Object.values(state).every(
    (value) => typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)),
  )
}
