import { type Card, type CardAddress, type CheckResult, EMPTY_ADDRESS, type Owner } from './card.js'
import { closableStore } from './closable-store.js'
import {
  type CardScope,
  type CompleteCardStore,
  observedAtOf,
  type RetiringCard,
  type StoredCard,
  scopeKey,
  scopeOf,
  type UpsertResult,
} from './store.js'

/**
 * A {@link CardStore} in process memory: the embedded default, for demos, tests and
 * short-lived processes. It follows every rule of the contract, including owner scoping, one
 * default per owner and currency, and refusing out-of-order writes (deletions leave a
 * tombstone holding their `observedAt`), and it keeps `setDefaultCard`'s retirement notes
 * (`retirements`), for as long as the process lives. `close()` lets go of every card and note:
 * after it, every call is refused with `invalid_request` (see `CardStore.close`).
 * It always has `retirements` and `listByOwners`: its type ({@link CompleteCardStore}) says so.
 *
 * @example
 * ```ts
 * const sync = createCardSync({ provider, store: memoryStore() })
 * ```
 */
export function memoryStore(): CompleteCardStore {
  const owners = new Map<
    string,
    { provider: string; owner: Owner; cards: Map<string, StoredCard> }
  >()
  const tombstones = new Map<string, number>()
  const notes = new Map<string, RetiringCard[]>()
  const noteKey = (scope: CardScope, key: string) => `${scopeKey(scope)}\u0000${key}`
  const copyNote = (cards: readonly RetiringCard[]) =>
    cards.map(({ cardId, currency }) => ({ cardId, currency }))

  const cardsOf = (scope: CardScope) => owners.get(scopeKey(scope))?.cards

  const isStale = (key: string, existing: StoredCard | undefined, observedAt?: number) => {
    if (observedAt === undefined) return false
    const last = existing?.observedAt ?? tombstones.get(key)
    return last !== undefined && last !== null && observedAt < last
  }

  /**
   * Writes `row`, a copy of the card made with {@link newRow} and kept as the stored row (it
   * gets its version and `observedAt` here), under its owner's key. It reads nothing of the
   * caller's card, and so cannot fail. Returns the row as stored (not a copy): `upsert` copies
   * it for its caller, `upsertMany` has no caller to give it to.
   */
  const write = ({ row, ownerKey }: NewRow, observedAt: number | undefined): UpsertResult => {
    const key = `${ownerKey}\u0000${row.id}`
    let entry = owners.get(ownerKey)
    const existing = entry?.cards.get(row.id)
    if (isStale(key, existing, observedAt)) return { applied: false, card: existing ?? null }
    if (!entry) {
      entry = { provider: row.provider, owner: row.owner, cards: new Map() }
      owners.set(ownerKey, entry)
    }
    if (row.isDefault) {
      // A default of the owner observed later stands: this card is news, but not its default.
      if (hasLaterDefault(entry.cards, row.currency, row.id, observedAt)) row.isDefault = false
      else clearDefaults(entry.cards, row.currency, row.id)
    }
    tombstones.delete(key)
    row.owner = entry.owner
    row.version = (existing?.version ?? 0) + 1
    row.observedAt = observedAt ?? existing?.observedAt ?? null
    entry.cards.set(row.id, row)
    return { applied: true, card: row }
  }

  const listCards = (scope: CardScope): StoredCard[] =>
    [...(cardsOf(scope)?.values() ?? [])].reverse().map((card) => copyStored(card))

  return closableStore(NAME, {
    async get(scope, cardId) {
      const card = cardsOf(scope)?.get(cardId)
      return card ? copyStored(card) : null
    },

    async listByOwner(scope) {
      return listCards(scope)
    },

    async listByOwners(scopes) {
      return scopes.map(listCards)
    },

    async getDefault(scope) {
      for (const card of cardsOf(scope)?.values() ?? []) {
        if (card.isDefault) return copyStored(card)
      }
      return null
    },

    async upsert(card, options) {
      const observedAt = observedAtOf(NAME, options)
      const result = write(newRow(card, new Date().toISOString()), observedAt)
      return { applied: result.applied, card: result.card && copyStored(result.card) }
    },

    async upsertMany(cards, options) {
      const observedAt = observedAtOf(NAME, options)
      // Every card is copied, its owner and the owner's key included, before the first is
      // written: reading the input is the one step that can fail (a card whose getter throws,
      // an owner that is null), and then nothing is written. Memory writes cannot fail half-way
      // once the input is in hand, so the batch is atomic.
      // One transaction, one time: every card of the batch is written at the same moment.
      const updatedAt = new Date().toISOString()
      const rows = cards.map((card) => newRow(card, updatedAt))
      for (const row of rows) write(row, observedAt)
    },

    async delete(scope, cardId, options) {
      const observedAt = observedAtOf(NAME, options)
      const key = `${scopeKey(scope)}\u0000${cardId}`
      const cards = cardsOf(scope)
      const existing = cards?.get(cardId)
      if (isStale(key, existing, observedAt)) return false
      if (observedAt !== undefined) tombstones.set(key, observedAt)
      if (!cards || !existing) return false
      cards.delete(cardId)
      if (cards.size === 0) owners.delete(scopeKey(scope))
      return true
    },

    async setDefault(scope, cardId, options) {
      const observedAt = observedAtOf(NAME, options)
      const cards = cardsOf(scope)
      if (!cards) return
      if (cardId === null) {
        clearDefaults(cards, undefined, undefined, observedAt)
        return
      }
      const target = cards.get(cardId)
      if (!target || observedLater(target, observedAt)) return
      if (hasLaterDefault(cards, target.currency, target.id, observedAt)) return
      clearDefaults(cards, target.currency, target.id, observedAt)
      cards.set(target.id, bump(target, true, observedAt))
    },

    async *listOwners(provider) {
      for (const entry of [...owners.values()]) {
        if (entry.provider === provider) yield { ...entry.owner }
      }
    },

    retirements: {
      async save(scope, key, cards) {
        notes.set(noteKey(scope, key), copyNote(cards))
      },
      async load(scope, key) {
        return copyNote(notes.get(noteKey(scope, key)) ?? [])
      },
      async remove(scope, key) {
        notes.delete(noteKey(scope, key))
      },
    },

    // Nothing can read them again: what they hold goes with the store.
    async close() {
      owners.clear()
      tombstones.clear()
      notes.clear()
    },
  })
}

/** How errors name the store. */
const NAME = 'memoryStore'

/** Whether the row was observed after `observedAt` (never, without one). */
function observedLater(card: StoredCard, observedAt: number | undefined): boolean {
  return observedAt !== undefined && card.observedAt !== null && card.observedAt > observedAt
}

/**
 * The defaults that `keep` would displace: same currency, or all when currency is undefined.
 */
function* displacedDefaults(
  cards: Map<string, StoredCard>,
  currency: string | null | undefined,
  keep: string | undefined,
): Generator<StoredCard> {
  for (const card of cards.values()) {
    if (!card.isDefault || card.id === keep) continue
    if (currency !== undefined && card.currency !== currency) continue
    yield card
  }
}

/** Whether a default `keep` would displace was observed after `observedAt`. */
function hasLaterDefault(
  cards: Map<string, StoredCard>,
  currency: string | null,
  keep: string,
  observedAt: number | undefined,
): boolean {
  if (observedAt === undefined) return false
  for (const card of displacedDefaults(cards, currency, keep)) {
    if (observedLater(card, observedAt)) return true
  }
  return false
}

/** Clears the defaults `keep` would displace, but those observed after `observedAt`. */
function clearDefaults(
  cards: Map<string, StoredCard>,
  currency: string | null | undefined,
  keep: string | undefined,
  observedAt?: number,
) {
  for (const card of [...displacedDefaults(cards, currency, keep)]) {
    if (!observedLater(card, observedAt)) cards.set(card.id, bump(card, false, observedAt))
  }
}

/**
 * The row with its default set, as a new write: `observedAt`, when given, is what the write
 * observed, and the row keeps the later of it and its own.
 */
function bump(card: StoredCard, isDefault: boolean, observedAt?: number): StoredCard {
  const observed =
    observedAt === undefined ? card.observedAt : Math.max(card.observedAt ?? observedAt, observedAt)
  const next = storedCard(card, card.version + 1, new Date().toISOString(), observed)
  next.isDefault = isDefault
  return next
}

/** A row not yet written, and the key of its owner: see {@link newRow}. */
interface NewRow {
  row: StoredCard
  ownerKey: string
}

/**
 * A new row for `card`, written at `updatedAt`, and its owner's key: the store's `write` sets
 * its version and `observedAt`, and points its `owner` (until then a copy of the caller's) at
 * its owner's entry. Everything of the caller's card is read here, the owner too, so that
 * whatever can fail fails before `upsertMany` writes the batch's first card.
 */
function newRow(card: Card, updatedAt: string): NewRow {
  const row = storedCard(card, 0, updatedAt, null, NEW_ROW_PARTS)
  return { row, ownerKey: scopeKey(scopeOf(row)) }
}

/** A copy of a stored row for a caller: no object in it is shared with the store's rows. */
function copyStored(card: StoredCard): StoredCard {
  return storedCard(card, card.version, card.updatedAt, card.observedAt, COPIED_PARTS)
}

/** How a row's nested objects are made from a card's: see {@link storedCard}. */
interface RowParts {
  owner(owner: Owner): Owner
  address(address: CardAddress): CardAddress
  checks(checks: Card['checks']): Card['checks']
  metadata(metadata: Card['metadata']): Card['metadata']
}

/**
 * The parts of a row the store keeps. Where many rows hold the same value, they share one frozen
 * object: an address with every field null, the checks, empty metadata. The owner is a stored
 * row's `card.owner`, shared by the owner's rows. Rows never change a nested object, and
 * {@link copyStored} copies them for callers: sharing keeps 100,000 cards in about two thirds of
 * the memory.
 */
const SHARED_PARTS: RowParts = {
  owner: (owner) => owner,
  address: storedAddress,
  checks: storedChecks,
  metadata: storedMetadata,
}

/** The parts of a row a caller gets: copies, which share nothing with the store nor each other. */
const COPIED_PARTS: RowParts = {
  owner: (owner) => ({ type: owner.type, id: owner.id }),
  address: (address) => ({ ...address }),
  checks: (checks) => ({ ...checks }),
  metadata: (metadata) => ({ ...metadata }),
}

/**
 * The parts of a new row, made from the caller's card: those the store keeps, but a copy of the
 * caller's owner, read now rather than when `write` finds the owner's entry.
 */
const NEW_ROW_PARTS: RowParts = { ...SHARED_PARTS, owner: COPIED_PARTS.owner }

/**
 * A stored row holding `card`'s fields, its nested objects made by `parts` (by default those the
 * store keeps, {@link SHARED_PARTS}): every field named, so that no stray property (a stored
 * row's old bookkeeping) comes along. Listing the fields is an order of magnitude cheaper than
 * `structuredClone` or a spread followed by more keys, which takes V8 off its fast path; the
 * `Card` type keeps the list complete.
 */
function storedCard(
  card: Card,
  version: number,
  updatedAt: string,
  observedAt: number | null,
  parts: RowParts = SHARED_PARTS,
): StoredCard {
  return {
    id: card.id,
    provider: card.provider,
    owner: parts.owner(card.owner),
    brand: card.brand,
    last4: card.last4,
    expMonth: card.expMonth,
    expYear: card.expYear,
    holderName: card.holderName,
    address: parts.address(card.address),
    country: card.country,
    fingerprint: card.fingerprint,
    funding: card.funding,
    checks: parts.checks(card.checks),
    currency: card.currency,
    isDefault: card.isDefault,
    status: card.status,
    metadata: parts.metadata(card.metadata),
    createdAt: card.createdAt,
    version,
    updatedAt,
    observedAt,
  }
}

/**
 * `address` as a row keeps it: the frozen {@link EMPTY_ADDRESS} when every field is null, or a
 * copy.
 */
function storedAddress(address: CardAddress): CardAddress {
  const { line1, line2, city, state, postalCode, country } = address
  if (
    line1 === null &&
    line2 === null &&
    city === null &&
    state === null &&
    postalCode === null &&
    country === null
  ) {
    return EMPTY_ADDRESS
  }
  return { line1, line2, city, state, postalCode, country }
}

/** The values a check can hold, in the order {@link storedChecks} numbers them. */
const CHECK_RESULTS: readonly CheckResult[] = [null, 'pass', 'fail', 'unavailable', 'unchecked']

/** One frozen checks object per combination of results (125), made when first stored. */
const sharedChecks: (Card['checks'] | undefined)[] = []

/**
 * `checks` as a row keeps it: the shared object of its three results, or a copy when one is
 * not a check result (a card that did not pass the Card schema: the store keeps what it is
 * given).
 */
function storedChecks(checks: Card['checks']): Card['checks'] {
  const { cvc, addressLine1, postalCode } = checks
  const a = CHECK_RESULTS.indexOf(cvc)
  const b = CHECK_RESULTS.indexOf(addressLine1)
  const c = CHECK_RESULTS.indexOf(postalCode)
  if (a < 0 || b < 0 || c < 0) return { cvc, addressLine1, postalCode }
  const index = a * 25 + b * 5 + c
  let shared = sharedChecks[index]
  if (!shared) {
    shared = Object.freeze({ cvc, addressLine1, postalCode })
    sharedChecks[index] = shared
  }
  return shared
}

/** The metadata every row without any shares. */
const NO_METADATA: Card['metadata'] = Object.freeze({})

/** `metadata` as a row keeps it: {@link NO_METADATA} when it has no key, else a copy. */
function storedMetadata(metadata: Card['metadata']): Card['metadata'] {
  for (const _key in metadata) return { ...metadata }
  return NO_METADATA
}
