// Bulk seeding: 20,000 cards over 2,000 customers in one emulator, with and without recording
// events. Counts and contents only, no timing: recording costs what each write touches, so this
// takes a second or two (it took minutes when every write snapshotted the whole state).
import { describe, expect, it } from 'vitest'
import { stripeEmulator } from './stripe-emulator.js'
import type { StripeEvent } from './stripe-events.js'
import { STRIPE_CLIENTS, useStripeEmulator } from './stripe-test-harness.js'

const CUSTOMERS = 2_000
const CARDS_PER_CUSTOMER = 10
const TOKENS = ['tok_visa', 'tok_mastercard', 'tok_amex', 'tok_discover', 'tok_jcb']

const emulator = useStripeEmulator()

/** Seeds the customers and their cards; returns the customer ids and every card id, in order. */
function seedMany(target: Pick<ReturnType<typeof stripeEmulator>, 'seed'>) {
  const customerIds: string[] = []
  const cardIds: string[] = []
  for (let i = 0; i < CUSTOMERS; i++) {
    const { id } = target.seed.customer({ email: `owner${i}@example.com` })
    customerIds.push(id)
    for (let c = 0; c < CARDS_PER_CUSTOMER; c++) {
      const card = target.seed.card(id, TOKENS[(i + c) % TOKENS.length], {
        metadata: { owner_index: String(i), card_index: String(c) },
      })
      cardIds.push(card.id)
    }
  }
  return { customerIds, cardIds }
}

describe('seeding the Stripe emulator in bulk', () => {
  it('holds 20,000 cards over 2,000 customers and records one event per change', async () => {
    const { customerIds, cardIds } = seedMany(emulator)

    const customers = emulator.state.customers()
    expect(customers.map((customer) => customer.id)).toEqual(customerIds)
    let cards = 0
    for (const [i, id] of customerIds.entries()) {
      const sources = emulator.state.sources(id)
      cards += sources.length
      // Newest first; the first card stays the default.
      expect(sources.map((source) => source.id)).toEqual(
        cardIds.slice(i * CARDS_PER_CUSTOMER, (i + 1) * CARDS_PER_CUSTOMER).reverse(),
      )
      expect(customers[i]!.default_source).toBe(cardIds[i * CARDS_PER_CUSTOMER])
    }
    expect(cards).toBe(CUSTOMERS * CARDS_PER_CUSTOMER)

    const events = emulator.events.take()
    const count = (type: StripeEvent['type']) => events.filter((e) => e.type === type).length
    expect(events).toHaveLength(CUSTOMERS * (CARDS_PER_CUSTOMER + 2))
    expect(count('customer.created')).toBe(CUSTOMERS)
    expect(count('customer.source.created')).toBe(CUSTOMERS * CARDS_PER_CUSTOMER)
    expect(count('customer.updated')).toBe(CUSTOMERS)
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length)
    // Each seed's events in the order they happened: the customer, its first card and the
    // default it became, then the other cards.
    const last = CUSTOMERS - 1
    const perCustomer = CARDS_PER_CUSTOMER + 2
    const ofLast = events.slice(last * perCustomer)
    expect(ofLast.map((event) => event.type)).toEqual([
      'customer.created',
      'customer.source.created',
      'customer.updated',
      ...Array(CARDS_PER_CUSTOMER - 1).fill('customer.source.created'),
    ])
    expect(ofLast.map((event) => event.data.object.id)).toEqual([
      customerIds[last],
      cardIds[last * CARDS_PER_CUSTOMER],
      customerIds[last],
      ...cardIds.slice(last * CARDS_PER_CUSTOMER + 1, (last + 1) * CARDS_PER_CUSTOMER),
    ])
    expect(ofLast[1]!.data.object).toEqual(
      emulator.state.source(cardIds[last * CARDS_PER_CUSTOMER]!),
    )
    expect(ofLast[2]!.data.previous_attributes).toEqual({ default_source: null })

    // A request to one of the 2,000 customers records what it changed, and nothing else.
    const stripe = STRIPE_CLIENTS[0].create()
    const owner = customerIds[1234]!
    const card = cardIds[1234 * CARDS_PER_CUSTOMER + 3]!
    await stripe.customers.updateSource(owner, card, { name: 'Bulk Holder' })
    const [updated, ...rest] = emulator.events.take()
    expect(rest).toEqual([])
    expect(updated).toMatchObject({
      type: 'customer.source.updated',
      data: { object: { id: card, customer: owner, name: 'Bulk Holder' } },
    })
    expect(updated!.data.previous_attributes).toEqual({ name: null })
  })

  it('seeds the same state with recording off, and records nothing', () => {
    const quiet = stripeEmulator({ events: false })
    const { customerIds, cardIds } = seedMany(quiet)

    expect(quiet.state.customers()).toHaveLength(CUSTOMERS)
    const held = customerIds.flatMap((id) => quiet.state.sources(id).map((source) => source.id))
    expect(held.sort()).toEqual([...cardIds].sort())
    expect(quiet.state.customer(customerIds[7]!)!.default_source).toBe(
      cardIds[7 * CARDS_PER_CUSTOMER],
    )
    quiet.seed.card(customerIds[0]!, 'tok_visa')
    expect(quiet.events.list()).toEqual([])
    expect(quiet.events.take()).toEqual([])
  })
})
