import { createCardSync, memoryStore, type Owner, withRetry } from '@cardport/core'
import { sampleCard, stripeEmulator } from '@cardport/testing/emulators'
import { describe, expect, it } from 'vitest'
import fixtures from './__fixtures__/stripe-fixtures-cards.json' with { type: 'json' }
import { STRIPE_PROVIDER_NAME } from './parse-card.js'
import { checkedClient, type StripeClient } from './stripe-client.js'
import { stripeProvider } from './stripe-provider.js'
import { rejection, STRIPE_CLIENT_KINDS, settledWithin, useStripe } from './test-harness.js'

const emulator = stripeEmulator()

describe.each(STRIPE_CLIENT_KINDS)('answers that are not Stripe objects ($name)', (kind) => {
  const target = useStripe(kind, emulator)
  const customer = (): Owner => ({ type: 'customer', id: emulator.seed.customer().id })
  /** Every request answered with `body` from now on: a proxy or a gateway in the way. */
  const answerAll = (status: number, body: string) =>
    emulator.faults.inject({ status, body, times: Number.POSITIVE_INFINITY })

  it.each([
    [500, '{}', true],
    [502, '{"message":"bad gateway"}', true],
    [404, '{}', false],
    [200, '{}', true],
    [200, '{"data":[]}', true],
    [200, '{"object":7}', true],
    // An error in a 2xx answer: Stripe sends none, so it is broken, not the caller's request.
    [200, '{"error":"x"}', true],
    [200, '{"error":{"type":"invalid_request_error","message":"x"}}', true],
  ])('%s %s: provider_unavailable, never "no such card"', async (status, body, retryable) => {
    const provider = target.provider()
    const owner = customer()
    answerAll(status, body)
    for (const call of [
      () => provider.getCard(owner, 'card_1'),
      () => provider.listCards(owner),
      () => provider.getDefaultCard(owner),
    ]) {
      expect(await rejection(call())).toMatchObject({ code: 'provider_unavailable', retryable })
    }
  })

  // JSON that is no object, no JSON at all, nothing. The SDK (16 and 23, either HTTP client)
  // never settled a call answered with a JSON number, string or boolean, whatever the status:
  // it threw attaching `lastResponse` in a promise nobody held (an unhandled rejection).
  it.each(
    [200, 402, 500].flatMap((status) =>
      ['null', '42', '"text"', '[]', 'true', '', '{not json'].map(
        (body) => [status, body] as const,
      ),
    ),
  )('%s %s: every operation fails promptly with provider_unavailable', async (status, body) => {
    const provider = target.provider()
    const owners: Owner[] = [
      { type: 'customer', id: 'cus_answers' },
      { type: 'account', id: 'acct_answers' },
    ]
    answerAll(status, body)
    const outcomes = await Promise.all(
      owners.flatMap((owner) =>
        [
          () => provider.getCard(owner, 'card_1'),
          () => provider.listCards(owner),
          () => provider.getDefaultCard(owner),
          () => provider.createCard(owner, { source: 'tok_visa' }),
          () => provider.updateCard(owner, 'card_1', { holderName: 'Ada' }),
          () => provider.deleteCard(owner, 'card_1'),
          () => provider.setDefaultCard(owner, 'card_1'),
        ].map((call) => settledWithin(2000, call())),
      ),
    )
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ error: { code: 'provider_unavailable' } })
      expect(JSON.stringify(outcome)).not.toContain('sk_test_cardport')
    }
  })

  it('CardSync keeps the local cards when such answers come back', async () => {
    const owner = customer()
    const store = memoryStore()
    await store.upsert({ ...sampleCard('card_1', owner), provider: 'stripe', isDefault: true })
    const sync = createCardSync({ provider: target.provider(), store, retry: { retries: 0 } })
    answerAll(500, '{}')
    expect(await rejection(sync.sync(owner, 'card_1'))).toMatchObject({
      code: 'provider_unavailable',
    })
    emulator.faults.clear()
    answerAll(200, '{}')
    const report = await sync.reconcile(owner)
    expect(report.failed).toMatchObject([{ owner, code: 'provider_unavailable' }])
    expect(report.removed).toEqual([])
    expect(await store.listByOwner({ provider: 'stripe', owner })).toMatchObject([
      { id: 'card_1', isDefault: true },
    ])
  })
})

describe('checkedClient', () => {
  const answering = (value: unknown): StripeClient => {
    const method = async () => value
    return {
      customers: {
        retrieve: method,
        update: method,
        createSource: method,
        retrieveSource: method,
        updateSource: method,
        deleteSource: method,
        listSources: method,
      },
      accounts: {
        createExternalAccount: method,
        retrieveExternalAccount: method,
        updateExternalAccount: method,
        deleteExternalAccount: method,
        listExternalAccounts: method,
      },
    }
  }
  const withStatus = (value: object, statusCode: number) =>
    Object.defineProperty(value, 'lastResponse', { value: { statusCode }, enumerable: false })

  it('passes a Stripe object answered below 400 on, as it came', async () => {
    const card = withStatus({ id: 'card_1', object: 'card' }, 200)
    const client = checkedClient(answering(card), STRIPE_PROVIDER_NAME)
    expect(await client.customers.retrieveSource('cus_1', 'card_1')).toBe(card)
    expect(await client.accounts.listExternalAccounts('acct_1')).toBe(card)
  })

  it('looks a method up when it is called: a partial client serves the calls it has', async () => {
    const card = { ...fixtures.resources.card, customer: 'cus_1' }
    const provider = stripeProvider({
      stripe: { customers: { retrieveSource: async () => card }, accounts: {} } as never,
    })
    const owner: Owner = { type: 'customer', id: 'cus_1' }
    expect(await provider.getCard(owner, card.id)).toMatchObject({ id: card.id, last4: '4242' })
  })

  // A setup mistake, not an outage: retried, it fails the same way for ever.
  it.each([
    ['missing', {}],
    ['not a function', { retrieveSource: 'retrieveSource', retrieve: 1, listSources: null }],
  ])(
    'fails a call whose method is %s with a non-retryable invalid_request naming it',
    async (_case, methods) => {
      const stripe = { apiKey: 'sk_test_cardport_secret', customers: methods, accounts: methods }
      const provider = stripeProvider({ stripe: stripe as never })
      const customer: Owner = { type: 'customer', id: 'cus_1' }
      const account: Owner = { type: 'account', id: 'acct_1' }
      for (const [call, method] of [
        [() => provider.getCard(customer, 'card_1'), 'customers.retrieveSource'],
        [() => provider.getDefaultCard(customer), 'customers.retrieve'],
        [() => provider.createCard(customer, { source: 'tok_visa' }), 'customers.createSource'],
        [() => provider.listCards(account), 'accounts.listExternalAccounts'],
        [() => provider.deleteCard(account, 'ba_1'), 'accounts.retrieveExternalAccount'],
      ] as const) {
        const error = await rejection(call())
        expect(error).toMatchObject({
          code: 'invalid_request',
          retryable: false,
          provider: 'stripe',
          details: { method },
        })
        expect(error.message).toContain(` ${method} `)
        expect(JSON.stringify({ ...error, message: error.message })).not.toContain('sk_test')
      }
    },
  )

  it('is not retried by a retry loop (withRetry)', async () => {
    let lookups = 0
    const customers = {
      get retrieveSource() {
        lookups += 1
        return undefined
      },
    }
    const provider = stripeProvider({ stripe: { customers, accounts: {} } as never })
    const owner: Owner = { type: 'customer', id: 'cus_1' }
    const retried = withRetry(() => provider.getCard(owner, 'card_1'), {
      retries: 3,
      sleep: async () => {},
    })
    expect(await rejection(retried)).toMatchObject({ code: 'invalid_request' })
    expect(lookups).toBe(1)
  })

  it('refuses anything else, on every method, with the status when there is one', async () => {
    for (const [value, status] of [
      [withStatus({ id: 'card_1', object: 'card' }, 503), 503],
      [null, undefined],
      [[], undefined],
      ['ok', undefined],
      [{ id: 'card_1' }, undefined],
    ] as const) {
      const client = checkedClient(answering(value), STRIPE_PROVIDER_NAME)
      const calls = [
        ...Object.values(client.customers),
        ...Object.values(client.accounts),
      ] as Array<(...args: unknown[]) => Promise<unknown>>
      expect(calls).toHaveLength(12)
      for (const call of calls) {
        expect(await rejection(call('id', 'card_1'))).toMatchObject({
          code: 'provider_unavailable',
          status,
        })
      }
    }
  })
})
