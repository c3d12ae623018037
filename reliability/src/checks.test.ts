// The fault matrix's checks must fail on each thing they exist to catch, or a cell that passes
// proves nothing: a store ahead of the provider or unequal to it, a card made twice, a card lost,
// an operation left unfinished. Each is fed here a state that breaks one rule, over the memory
// provider and store (no emulator, no fault).
import {
  createCardSync,
  memoryProvider,
  memoryStore,
  type Owner,
  type StoredCard,
} from '@cardport/core'
import { sampleCard } from '@cardport/testing/emulators'
import { describe, expect, it } from 'vitest'
import {
  checkDone,
  checkProvider,
  checkStoreNotAhead,
  type Effect,
  expectStoreEqualsProvider,
  scopeFor,
} from './support/checks.js'
import type { HeldCard } from './support/providers.js'

const owner: Owner = { type: 'customer', id: 'cus_checks' }

/**
 * A memory provider whose owner holds a default card and a spare, and a store brought in step
 * with it by a reconcile; `stored` is the store's copy from then (the matrix's `storedBefore`).
 */
async function inStep() {
  const provider = memoryProvider()
  const store = memoryStore()
  const first = await provider.createCard(owner, { source: 'tok_visa' })
  const spare = await provider.createCard(owner, { source: 'tok_mastercard' })
  const report = await createCardSync({ provider, store }).reconcile(owner)
  expect(report.failed).toEqual([])
  const scope = scopeFor(provider, owner)
  const stored = await store.listByOwner(scope)
  const copy = (id: string) => stored.find((card) => card.id === id) as StoredCard
  return { provider, store, scope, stored, first: copy(first.id), spare: copy(spare.id) }
}

type World = Awaited<ReturnType<typeof inStep>>

describe('expectStoreEqualsProvider', () => {
  it('passes a store in step with the provider', async () => {
    const { provider, store } = await inStep()
    await expectStoreEqualsProvider(provider, store, owner)
  })

  it.each([
    [
      'a card the provider holds missing from the store',
      ({ store, scope, spare }: World) => store.delete(scope, spare.id),
      /the stored cards are the provider cards/,
    ],
    [
      'a card stored that the provider does not hold',
      ({ store }: World) => store.upsert(sampleCard('card_never_made', owner)),
      /the stored cards are the provider cards/,
    ],
    [
      'a stored copy that differs from the provider card',
      ({ store, spare }: World) => store.upsert({ ...spare, holderName: 'Someone Else' }),
      /to deeply equal/,
    ],
    [
      'the default moved at the provider only',
      ({ provider, spare }: World) => provider.setDefaultCard(owner, spare.id),
      /to deeply equal/,
    ],
  ])('fails on %s', async (_what, drift, message) => {
    const world = await inStep()
    await drift(world)
    await expect(expectStoreEqualsProvider(world.provider, world.store, owner)).rejects.toThrow(
      message,
    )
  })
})

describe('checkStoreNotAhead', () => {
  it('passes a store behind the provider after a failed call', async () => {
    const { provider, store, stored, first, spare } = await inStep()
    // Changes at the provider the store has not seen, and one it has.
    await provider.updateCard(owner, spare.id, { metadata: { plan: 'pro' } })
    await provider.createCard(owner, { source: 'tok_amex' })
    await provider.updateCard(owner, first.id, { holderName: 'Caught Up' })
    await store.upsert(await provider.getCard(owner, first.id))
    await checkStoreNotAhead(provider, store, owner, stored, false, 'behind')
  })

  it('passes a store that kept a card the provider deleted, after a failed call', async () => {
    const { provider, store, stored, spare } = await inStep()
    await provider.deleteCard(owner, spare.id)
    await checkStoreNotAhead(provider, store, owner, stored, false, 'behind')
  })

  it.each([
    [
      // What a sync that removes its stored copy on a retryable failure does.
      'a card the provider still holds removed from the store',
      ({ store, scope, spare }: World) => store.delete(scope, spare.id),
      /still at the provider, left the store/,
    ],
    [
      'a stored copy that is no state the provider had',
      ({ store, spare }: World) => store.upsert({ ...spare, holderName: 'Never Sent' }),
      /a state the provider never had/,
    ],
    [
      'a card newly stored that the provider does not hold',
      ({ store }: World) => store.upsert(sampleCard('card_never_made', owner)),
      /newly stored, but the provider does not hold it/,
    ],
  ])('fails on %s after a failed call', async (_what, write, message) => {
    const world = await inStep()
    await write(world)
    const check = checkStoreNotAhead(world.provider, world.store, owner, world.stored, false, 'at')
    await expect(check).rejects.toThrow(message)
  })

  it('fails on a store behind the provider after a call that completed', async () => {
    const { provider, store, stored, spare } = await inStep()
    await provider.updateCard(owner, spare.id, { metadata: { plan: 'pro' } })
    await checkStoreNotAhead(provider, store, owner, stored, false, 'failed')
    await expect(checkStoreNotAhead(provider, store, owner, stored, true, 'done')).rejects.toThrow(
      /to deeply equal/,
    )
  })
})

const held = (id: string, fields: Partial<HeldCard> = {}): HeldCard => ({
  id,
  active: true,
  isDefault: false,
  fingerprint: `fp_${id}`,
  ...fields,
})
const before = [held('card_a', { isDefault: true }), held('card_b')]
const newDefault = held('card_new', { isDefault: true })
const addsDefault: Effect = { kind: 'adds-default' }
const retiresB: Effect = { kind: 'retires', cardId: 'card_b' }
const none: Effect = { kind: 'none' }

describe('checkProvider', () => {
  it.each<[string, HeldCard[], Effect]>([
    ['nothing changed', before, none],
    [
      'the old default retired once a new one replaced it',
      [held('card_b'), newDefault],
      addsDefault,
    ],
    ['a new default not yet replacing the old one', [...before, held('card_new')], addsDefault],
    ['the card retired', [before[0]!], retiresB],
    ['the card invalidated', [before[0]!, held('card_b', { active: false })], retiresB],
  ])('passes %s', (_what, now, effect) => {
    checkProvider(before, now, effect, 'after', 'at')
  })

  it.each<[string, HeldCard[], Effect, RegExp]>([
    [
      'a card made twice',
      [...before, held('card_new', { isDefault: true, fingerprint: 'fp_card_b' })],
      addsDefault,
      /a card made twice/,
    ],
    ['two new cards', [...before, newDefault, held('card_other')], addsDefault, /new cards/],
    ['a new card where none may be added', [...before, held('card_new')], none, /new cards/],
    ['a card lost', [before[0]!], none, /card card_b lost/],
    ['a card invalidated', [before[0]!, held('card_b', { active: false })], none, /card_b lost/],
    ['another card retired than the one asked', [before[1]!], retiresB, /card card_a lost/],
    ['the old default gone with no new default', [held('card_b')], addsDefault, /card_a lost/],
  ])('fails on %s', (_what, now, effect, message) => {
    expect(() => checkProvider(before, now, effect, 'after', 'at')).toThrow(message)
  })
})

describe('checkDone', () => {
  it.each<[string, HeldCard[], Effect]>([
    ['a new default, the old one retired', [held('card_b'), newDefault], addsDefault],
    ['the card retired', [before[0]!], retiresB],
    ['nothing changed', before, none],
  ])('passes %s', (_what, after, effect) => {
    checkDone(before, after, effect, 'at')
  })

  it.each<[string, HeldCard[], Effect, RegExp]>([
    ['no new card', [held('card_b')], addsDefault, /one new card, the default/],
    [
      'a new card that is not the default',
      [held('card_b'), held('card_new')],
      addsDefault,
      /one new card, the default/,
    ],
    [
      'the old default still active',
      [...before, newDefault],
      addsDefault,
      /the old default card_a retired/,
    ],
    ['the card still active', before, retiresB, /card_b retired/],
    ['a new card where a card was retired', [before[0]!, held('card_new')], retiresB, /new cards/],
    [
      'a change where nothing may change',
      [before[0]!, held('card_b', { fingerprint: 'fp_x' })],
      none,
      /the provider is unchanged/,
    ],
  ])('fails on %s', (_what, after, effect, message) => {
    expect(() => checkDone(before, after, effect, 'at')).toThrow(message)
  })
})
