// The fault matrix's checks: the store equals the provider, or (after a failed call) is behind
// it and never ahead; no card made twice or lost at the provider; the operation finished once
// retried. They have their own tests (checks.test.ts): a check that cannot fail proves nothing.

import {
  type Card,
  type CardProvider,
  type CardScope,
  type CardStore,
  listAll,
  type Owner,
  type StoredCard,
  sameCard,
  toArray,
} from '@cardport/core'
import { expect } from 'vitest'
import type { HeldCard } from './providers.js'

/**
 * What an operation may do at the provider: nothing; add a card that becomes the default
 * (retiring the old default); retire one card.
 */
export type Effect =
  | { kind: 'none' }
  | { kind: 'adds-default' }
  | { kind: 'retires'; cardId: string }

/** The store's scope for an owner's cards at a provider. */
export function scopeFor(provider: CardProvider, owner: Owner): CardScope {
  return { provider: provider.name, owner }
}

/** A stored card without the store's bookkeeping: what the provider's card looks like. */
export function withoutBookkeeping(card: StoredCard): Card {
  const { version: _version, updatedAt: _updatedAt, observedAt: _observedAt, ...rest } = card
  return rest
}

/**
 * The store holds exactly the provider's cards for the owner: the same ids, each field equal
 * (`sameCard`), the same default(s), and the store's `getDefault` names the provider's
 * default. No id appears twice on either side.
 */
export async function expectStoreEqualsProvider(
  provider: CardProvider,
  store: CardStore,
  owner: Owner,
): Promise<void> {
  const atProvider = await toArray(listAll(provider, owner), { limit: 1000 })
  const stored = await store.listByOwner(scopeFor(provider, owner))
  const ids = (cards: readonly { id: string }[]) => cards.map((card) => card.id).sort()
  expect(new Set(ids(atProvider)).size, 'no card listed twice by the provider').toBe(
    atProvider.length,
  )
  expect(new Set(ids(stored)).size, 'no card stored twice').toBe(stored.length)
  expect(ids(stored), 'the stored cards are the provider cards').toEqual(ids(atProvider))

  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id)
  expect(stored.map(withoutBookkeeping).sort(byId)).toEqual([...atProvider].sort(byId))
  for (const card of atProvider) {
    const copy = stored.find((candidate) => candidate.id === card.id)
    expect(copy && sameCard(copy, card), `the stored copy of ${card.id}`).toBe(true)
  }

  const defaults = (cards: readonly Card[]) =>
    cards
      .filter((card) => card.isDefault)
      .map((card) => card.id)
      .sort()
  expect(defaults(stored), 'the stored defaults are the provider defaults').toEqual(
    defaults(atProvider),
  )
  const providerDefault = await provider.getDefaultCard(owner)
  const storedDefault = await store.getDefault(scopeFor(provider, owner))
  expect(storedDefault?.id ?? null, "the store's default card").toBe(providerDefault?.id ?? null)
}

/**
 * The store right after the operation, before any repair. An operation that completed (a
 * reconcile that waited the fault out, an adapter that confirmed an ambiguous write) has made
 * the store equal to the provider: success read from a failed request (a 500 taken for "no such
 * card", a page that never came taken for "no cards") shows here. One that failed may leave the
 * store behind the provider, never ahead of it (the provider changes first): no card the
 * provider still holds has left the store, each stored copy is its copy from before or the
 * provider's current one (the default flag aside: switching it takes several writes), and no
 * card was newly stored that the provider does not hold.
 */
export async function checkStoreNotAhead(
  provider: CardProvider,
  store: CardStore,
  owner: Owner,
  storedBefore: readonly Card[],
  completed: boolean,
  at: string,
): Promise<void> {
  if (completed) {
    await expectStoreEqualsProvider(provider, store, owner)
    return
  }
  const held = new Map(
    (await toArray(listAll(provider, owner), { limit: 1000 })).map((card) => [card.id, card]),
  )
  const stored = new Map(
    (await store.listByOwner(scopeFor(provider, owner))).map((card) => [card.id, card]),
  )
  const ignoreDefault = { ignoreDefault: true }
  for (const before of storedBefore) {
    const current = held.get(before.id)
    if (!current) continue
    const copy = stored.get(before.id)
    expect(copy, `${at}: ${before.id}, still at the provider, left the store`).toBeDefined()
    expect(
      sameCard(copy!, before, ignoreDefault) || sameCard(copy!, current, ignoreDefault),
      `${at}: the stored copy of ${before.id} is a state the provider never had`,
    ).toBe(true)
  }
  const storedIds = new Set(storedBefore.map((card) => card.id))
  for (const id of stored.keys()) {
    if (storedIds.has(id)) continue
    expect(held.has(id), `${at}: ${id} newly stored, but the provider does not hold it`).toBe(true)
  }
}

/**
 * What the provider holds, against what it held before: no card lost (every card is still
 * there and valid, except the one the operation retires, and an old default only once a new
 * default has replaced it), and no card made twice (at most one new card, of a number the
 * owner did not hold).
 */
export function checkProvider(
  before: HeldCard[],
  now: HeldCard[],
  effect: Effect,
  when: string,
  at: string,
): void {
  const ids = new Set(before.map((card) => card.id))
  const added = now.filter((card) => !ids.has(card.id))
  const fingerprints = now.map((card) => card.fingerprint)
  expect(new Set(fingerprints).size, `${at} ${when}: a card made twice`).toBe(fingerprints.length)
  expect(added.length, `${at} ${when}: new cards`).toBeLessThanOrEqual(
    effect.kind === 'adds-default' ? 1 : 0,
  )
  const replaced = added.some((card) => card.isDefault && card.active)
  for (const card of before) {
    const still = now.find((candidate) => candidate.id === card.id)
    if (still && still.active === card.active) continue
    const mayGo =
      (effect.kind === 'retires' && effect.cardId === card.id) ||
      (effect.kind === 'adds-default' && card.isDefault && replaced)
    expect(mayGo, `${at} ${when}: card ${card.id} lost`).toBe(true)
  }
}

/** After the retry, the operation's effect is complete. */
export function checkDone(before: HeldCard[], after: HeldCard[], effect: Effect, at: string): void {
  const ids = new Set(before.map((card) => card.id))
  if (effect.kind === 'adds-default') {
    const added = after.filter((card) => !ids.has(card.id))
    expect(added, `${at}: one new card, the default`).toMatchObject([
      { isDefault: true, active: true },
    ])
    // The reconcile in between left the old default a plain card in the store: the retry finds
    // it in the store's retirement note.
    for (const old of before.filter((card) => card.isDefault)) {
      const now = after.find((card) => card.id === old.id)
      expect(now?.active ?? false, `${at}: the old default ${old.id} retired`).toBe(false)
    }
  } else if (effect.kind === 'retires') {
    const target = after.find((card) => card.id === effect.cardId)
    expect(target?.active ?? false, `${at}: ${effect.cardId} retired`).toBe(false)
    expect(
      after.filter((card) => !ids.has(card.id)),
      `${at}: new cards`,
    ).toEqual([])
  } else {
    expect(after, `${at}: the provider is unchanged`).toEqual(before)
  }
}
