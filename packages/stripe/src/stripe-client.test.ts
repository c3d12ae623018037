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
    // A gateway's rate limit, without Stripe's error object: waited out and retried as Stripe's.
    [429, '{}', true],
    [404, '{}', false],
    // The lowest error status: a proxy's refusal of the request, not worth sending again.
    [400, '{}', false],
    [400, '{"object":"list","data":[],"has_more":false}', false],
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

  it('400 with a list of nothing and no error object: an account\'s list is provider_unavailable, not "no cards"', async () => {
    const provider = target.provider()
    const owner: Owner = { type: 'account', id: emulator.seed.account().id }
    const store = memoryStore()
    const sync = createCardSync({ provider, store, retry: { retries: 0 } })
    await sync.sync(owner, await provider.createCard(owner, { source: 'tok_visa_debit' }))
    answerAll(400, '{"object":"list","data":[],"has_more":false,"url":"/v1/accounts"}')
    expect(await rejection(provider.listCards(owner))).toMatchObject({
      code: 'provider_unavailable',
      status: 400,
      retryable: false,
    })
    const report = await sync.reconcile(owner)
    expect(report.failed).toMatchObject([{ owner, code: 'provider_unavailable' }])
    expect(report.removed).toEqual([])
    expect(await store.listByOwner({ provider: 'stripe', owner })).toHaveLength(1)
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

  // A Stripe object of another kind than the call asks for (found on 2026-12-03): a list
  // without its `data`, a customer where a card or a list was asked for, a card where a
  // customer was, another source than the one asked for. Each read as "no cards" or "no such
  // card" before, and reconcile removed every stored card of the owner.
  it.each([
    '{"object":"list"}',
    '{"object":"list","data":{}}',
    '{"object":"customer","id":"cus_x"}',
    '{"object":"card"}',
    '{"object":"bank_account","id":"ba_x"}',
    '{"object":"account","id":"acct_x"}',
    '{"object":"charge","id":"ch_x"}',
  ])('200 %s: provider_unavailable, never "no cards" nor "no such card"', async (body) => {
    const provider = target.provider()
    answerAll(200, body)
    for (const owner of [
      { type: 'customer', id: 'cus_answers' },
      { type: 'account', id: 'acct_answers' },
    ] as const) {
      const calls = [() => provider.listCards(owner), () => provider.getDefaultCard(owner)]
      // A card answered where a card was asked for is read as one: this one is refused as no
      // readable card, which is no statement about the card either.
      const readsCard = [() => provider.getCard(owner, 'card_1')]
      const setDefault = () => provider.setDefaultCard(owner, 'card_1')
      // A customer's default is set with an update of the customer; an account's, of the card.
      if (owner.type === 'customer') calls.push(setDefault)
      else readsCard.push(setDefault)
      const wrongKind = body === '{"object":"card"}' ? calls : [...calls, ...readsCard]
      for (const call of wrongKind) {
        expect(await rejection(call())).toMatchObject({
          code: 'provider_unavailable',
          retryable: true,
        })
      }
      for (const call of readsCard) {
        expect((await rejection(call())).code).toBe('provider_unavailable')
      }
    }
  })

  it('a payment source that is no card, answered for its own id, is still card_not_found', async () => {
    const provider = target.provider()
    for (const [owner, body] of [
      [{ type: 'customer', id: 'cus_answers' }, '{"object":"bank_account","id":"ba_1"}'],
      [{ type: 'customer', id: 'cus_answers' }, '{"object":"source","id":"ba_1"}'],
      [{ type: 'account', id: 'acct_answers' }, '{"object":"bank_account","id":"ba_1"}'],
    ] as const) {
      emulator.faults.clear()
      answerAll(200, body)
      for (const call of [
        () => provider.getCard(owner, 'ba_1'),
        () => provider.deleteCard(owner, 'ba_1'),
        () => provider.setDefaultCard(owner, 'ba_1'),
      ]) {
        expect(await rejection(call())).toMatchObject({ code: 'card_not_found' })
      }
    }
  })

  it.each(['{"object":"list"}', '{"object":"customer","id":"cus_x"}', '{"object":"card"}'])(
    'CardSync keeps the local cards when 200 %s comes back',
    async (body) => {
      const owner = customer()
      const store = memoryStore()
      await store.upsert({ ...sampleCard('card_1', owner), provider: 'stripe', isDefault: true })
      const sync = createCardSync({ provider: target.provider(), store, retry: { retries: 0 } })
      answerAll(200, body)
      expect((await rejection(sync.sync(owner, 'card_1'))).code).not.toMatch(/not_found/)
      const report = await sync.reconcile(owner)
      expect(report.failed).toMatchObject([{ owner, code: 'provider_unavailable' }])
      expect(report.removed).toEqual([])
      expect(await store.listByOwner({ provider: 'stripe', owner })).toMatchObject([
        { id: 'card_1', isDefault: true },
      ])
    },
  )

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

  it('passes a Stripe object of the kind its call answers, answered below 400, on as it came', async () => {
    const card = withStatus({ id: 'card_1', object: 'card' }, 200)
    const bankAccount = { id: 'ba_1', object: 'bank_account' }
    const list = withStatus({ object: 'list', data: [], has_more: false }, 200)
    const customer = { id: 'cus_1', object: 'customer' }
    const deleted = { id: 'cus_1', object: 'customer', deleted: true }
    const legacy = [
      { id: 'src_1', object: 'source' },
      { id: 'acct_1', object: 'account' },
    ]
    for (const answer of [card, bankAccount]) {
      const client = checkedClient(answering(answer), STRIPE_PROVIDER_NAME)
      for (const call of [
        client.customers.createSource('cus_1', {}),
        client.customers.retrieveSource('cus_1', 'card_1'),
        client.customers.updateSource('cus_1', 'card_1'),
        client.customers.deleteSource('cus_1', 'card_1'),
        client.accounts.createExternalAccount('acct_1', {}),
        client.accounts.retrieveExternalAccount('acct_1', 'card_1'),
        client.accounts.updateExternalAccount('acct_1', 'card_1'),
        client.accounts.deleteExternalAccount('acct_1', 'card_1'),
      ]) {
        expect(await call).toBe(answer)
      }
    }
    for (const answer of legacy) {
      const client = checkedClient(answering(answer), STRIPE_PROVIDER_NAME)
      expect(await client.customers.retrieveSource('cus_1', 'src_1')).toBe(answer)
    }
    const lists = checkedClient(answering(list), STRIPE_PROVIDER_NAME)
    expect(await lists.customers.listSources('cus_1')).toBe(list)
    expect(await lists.accounts.listExternalAccounts('acct_1')).toBe(list)
    for (const answer of [customer, deleted]) {
      const client = checkedClient(answering(answer), STRIPE_PROVIDER_NAME)
      expect(await client.customers.retrieve('cus_1')).toBe(answer)
      expect(await client.customers.update('cus_1')).toBe(answer)
    }
  })

  it('refuses a Stripe object of another kind than its call answers, with its status', async () => {
    const kinds = {
      card: { id: 'card_1', object: 'card' },
      bankAccount: { id: 'ba_1', object: 'bank_account' },
      source: { id: 'src_1', object: 'source' },
      list: { object: 'list', data: [] },
      customer: { id: 'cus_1', object: 'customer' },
      // A list without its items, or with something else for them.
      noData: { object: 'list' },
      badData: { object: 'list', data: { 0: 'card_1' } },
      other: { id: 'ch_1', object: 'charge' },
    }
    const refused: Record<string, (keyof typeof kinds)[]> = {
      'customers.retrieve': ['card', 'list', 'noData', 'other'],
      'customers.update': ['card', 'bankAccount', 'list', 'other'],
      'customers.createSource': ['customer', 'list', 'noData', 'other'],
      'customers.retrieveSource': ['customer', 'list', 'noData', 'other'],
      'customers.updateSource': ['customer', 'list', 'other'],
      'customers.deleteSource': ['customer', 'list', 'other'],
      'customers.listSources': ['card', 'customer', 'noData', 'badData', 'other'],
      'accounts.createExternalAccount': ['customer', 'source', 'list', 'other'],
      'accounts.retrieveExternalAccount': ['customer', 'source', 'list', 'noData', 'other'],
      'accounts.updateExternalAccount': ['customer', 'source', 'list', 'other'],
      'accounts.deleteExternalAccount': ['customer', 'source', 'list', 'other'],
      'accounts.listExternalAccounts': ['card', 'customer', 'noData', 'badData', 'other'],
    }
    for (const [path, names] of Object.entries(refused)) {
      for (const name of names) {
        const client = checkedClient(
          answering(withStatus({ ...kinds[name] }, 200)),
          STRIPE_PROVIDER_NAME,
        ) as unknown as Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>>
        const [group, method] = path.split('.') as [string, string]
        const error = await rejection(client[group]![method]!('id', 'card_1'))
        expect(error, `${path} answered ${name}`).toMatchObject({
          code: 'provider_unavailable',
          status: 200,
          retryable: true,
        })
        expect(error.message).toMatch(/^Stripe answered with something that is not an? /)
      }
    }
  })

  describe('answers read by the provider', () => {
    const owner: Owner = { type: 'customer', id: 'cus_1' }
    const card = { ...fixtures.resources.card, id: 'card_1', customer: 'cus_1' }
    /** A provider whose client answers `customers.update` and `retrieve` with `customer`. */
    const answeringCustomer = (customer: object) =>
      stripeProvider({
        stripe: {
          customers: { update: async () => customer, retrieve: async () => customer },
          accounts: {},
        },
      } as never)

    it("setDefaultCard reads the card made the default from the customer's expanded default_source", async () => {
      const made = { id: 'cus_1', object: 'customer', default_source: card }
      expect(await answeringCustomer(made).setDefaultCard(owner, 'card_1')).toMatchObject({
        id: 'card_1',
        isDefault: true,
      })
      // No source, its id alone, another source: not what Stripe answers the update with.
      for (const source of [null, 'card_1', { id: 'ba_9', object: 'bank_account' }, {}]) {
        const customer = { id: 'cus_1', object: 'customer', default_source: source }
        expect(
          await rejection(answeringCustomer(customer).setDefaultCard(owner, 'card_1')),
        ).toMatchObject({ code: 'provider_unavailable' })
      }
    })

    it('getDefaultCard reads no default from null or another source only', async () => {
      for (const source of [null, { id: 'ba_1', object: 'bank_account' }]) {
        const customer = { id: 'cus_1', object: 'customer', default_source: source }
        expect(await answeringCustomer(customer).getDefaultCard(owner)).toBeNull()
      }
      const customer = { id: 'cus_1', object: 'customer', default_source: card }
      expect(await answeringCustomer(customer).getDefaultCard(owner)).toMatchObject({
        id: 'card_1',
      })
      // The default's id left unexpanded, another kind of object, nothing: which card is the
      // default is not said, and "none" is not read from it.
      for (const source of ['card_1', { id: 'ch_1', object: 'charge' }, {}, undefined]) {
        const customer = { id: 'cus_1', object: 'customer', default_source: source }
        expect(await rejection(answeringCustomer(customer).getDefaultCard(owner))).toMatchObject({
          code: 'provider_unavailable',
        })
      }
    })
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
