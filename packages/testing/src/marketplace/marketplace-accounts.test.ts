import { describe, expect, it } from 'vitest'
import {
  api,
  cardForm,
  expectError,
  mp,
  TEST_MARKETPLACE_ID,
  tokenize,
  useMarketplaceEmulator,
} from './marketplace-test-harness.js'

const emulator = useMarketplaceEmulator()

const ACCOUNT_URIS = {
  holds_uri: { _type: 'page', key: 'holds' },
  bank_accounts_uri: { _type: 'page', key: 'bank_accounts' },
  refunds_uri: { _type: 'page', key: 'refunds' },
  customer_uri: { _type: 'customer', key: 'customer' },
  debits_uri: { _type: 'page', key: 'debits' },
  transactions_uri: { _type: 'page', key: 'transactions' },
  credits_uri: { _type: 'page', key: 'credits' },
  cards_uri: { _type: 'page', key: 'cards' },
}

const PERSON_MERCHANT = {
  type: 'person',
  phone_number: '+16505551234',
  name: 'William James',
  dob: '1842-01-01',
  postal_code: '10023',
  country_code: 'USA',
  street_address: '167 West 74th Street',
  tax_id: '393-48-3992',
}

/** The business merchant of the reference's example; its person is the person merchant's. */
const { type: _type, ...PERSON } = PERSON_MERCHANT
const BUSINESS_MERCHANT = {
  phone_number: '+16505551234',
  name: 'Levain Bakery',
  person: PERSON,
  postal_code: '10023',
  country_code: 'USA',
  type: 'business',
  street_address: '167 West 74th Street',
  tax_id: '253912384',
}

describe('create an account (POST /v1/marketplaces/:marketplace/accounts)', () => {
  it('answers 201 with the account view of the reference', async () => {
    // A merchant, as a buyer needs a card (and would embed it): the account view alone.
    const answer = await api('POST', mp('/accounts'), {
      json: { name: 'Benny Riemann', email_address: null, meta: {}, merchant: PERSON_MERCHANT },
    })
    expect(answer.status).toBe(201)
    const id = answer.body.id
    expect(id).toMatch(/^AC[0-9A-Za-z]{22}$/)
    const uri = `/v1/marketplaces/${TEST_MARKETPLACE_ID}/accounts/${id}`
    expect(answer.body).toEqual({
      _type: 'account',
      _uris: ACCOUNT_URIS,
      id,
      uri,
      name: 'Benny Riemann',
      email_address: null,
      meta: {},
      roles: ['merchant'],
      created_at: '2025-06-15T12:00:00.000000Z',
      customer_uri: `/v1/customers/${id}`,
      bank_accounts_uri: `${uri}/bank_accounts`,
      cards_uri: `${uri}/cards`,
      credits_uri: `${uri}/credits`,
      debits_uri: `${uri}/debits`,
      holds_uri: `${uri}/holds`,
      refunds_uri: `${uri}/refunds`,
      transactions_uri: `${uri}/transactions`,
      merchant_uri: expect.stringMatching(/^\/v1\/merchants\/MR[0-9A-Za-z]{22}$/),
    })
    expect(emulator.state.accounts()).toEqual([answer.body])
  })

  it('answers 400 incomplete-account-info without a card or a merchant, as the reference lists', async () => {
    // "No buyer or merchant info was provided. Either merchant/merchant_uri or card/card_uri
    // fields must be present." (errors.rst)
    for (const json of [
      { name: 'Benny Riemann' },
      { name: 'Benny Riemann', email_address: 'benny@example.com', meta: { a: 'b' } },
      { name: 'Benny Riemann', card: null, card_uri: null, merchant: null, merchant_uri: null },
    ]) {
      const answer = await api('POST', mp('/accounts'), { json })
      expectError(answer, 400, 'Bad Request', 'incomplete-account-info', 'request')
    }
    expect(emulator.state.accounts()).toEqual([])
    // An update needs neither: the account is one already.
    const account = emulator.seed.account()
    const updated = await api('PUT', mp(`/accounts/${account.id}`), { json: { name: 'Renamed' } })
    expect(updated.status).toBe(200)
  })

  it('creates a buyer with a card_uri, as in the reference example', async () => {
    const card = await tokenize()
    const answer = await api('POST', mp('/accounts'), {
      json: { card_uri: card.uri.slice(1), meta: {}, email_address: null, name: 'Benny Riemann' },
    })
    expect(answer.status).toBe(201)
    expect(answer.body.roles).toEqual(['buyer'])
    expect(emulator.state.card(card.id)?.account?.id).toBe(answer.body.id)
    expect(emulator.state.defaultCard(answer.body.id)?.id).toBe(card.id)
  })

  it('takes the name from the card when none is given', async () => {
    const answer = await api('POST', mp('/accounts'), { json: { card: cardForm() } })
    expect(answer.status).toBe(201)
    expect(answer.body).toMatchObject({ name: 'Benny Riemann', roles: ['buyer'] })
    const [card] = emulator.state.accountCards(answer.body.id)
    expect(card?.last_four).toBe('1111')
  })

  it('answers 400 without a name and without a card that has one', async () => {
    for (const json of [{}, { card: cardForm({ name: undefined }) }]) {
      const answer = await api('POST', mp('/accounts'), { json })
      expectError(answer, 400, 'Bad Request', 'request', 'request')
      expect(Object.keys(answer.body.extras)).toEqual(['name'])
    }
    expect(emulator.state.accounts()).toEqual([])
    expect(emulator.state.cards()).toEqual([])
  })

  it('checks the nested card form, naming its fields under card.', async () => {
    const answer = await api('POST', mp('/accounts'), {
      json: { name: 'A', card: cardForm({ expiration_month: 13 }) },
    })
    expectError(answer, 400, 'Bad Request', 'request', 'request')
    expect(answer.body.extras).toEqual({ 'card.expiration_month': 'must be from 1 to 12' })
  })

  it('creates nothing when the card is declined, not validated or from another marketplace', async () => {
    const declined = await api('POST', mp('/accounts'), {
      json: { name: 'A', card: cardForm({ card_number: '4444444444444448' }) },
    })
    expectError(declined, 402, 'Payment Required', 'card-declined', 'banking')
    const invalid = await api('POST', mp('/accounts'), {
      json: { name: 'A', card: cardForm({ card_number: '4111111111111112' }) },
    })
    expectError(invalid, 409, 'Conflict', 'card-not-validated', 'logical')
    const other = emulator.seed.marketplace()
    const foreign = emulator.seed.card({ marketplace: other.id })
    const cross = await api('POST', mp('/accounts'), {
      json: { name: 'A', card_uri: foreign.uri },
    })
    expectError(cross, 409, 'Conflict', 'cannot-associate-card', 'logical')
    expect(emulator.state.accounts()).toEqual([])
    expect(emulator.state.cards()).toEqual([])
  })

  it('answers 409 duplicate-email-address for an email already used on the marketplace', async () => {
    emulator.seed.account({ email_address: 'benny@example.com' })
    const answer = await api('POST', mp('/accounts'), {
      json: { name: 'B', email_address: 'Benny@Example.com', card: cardForm() },
    })
    expectError(answer, 409, 'Conflict', 'duplicate-email-address', 'logical')
    // Another marketplace may use it.
    const other = emulator.seed.marketplace()
    const elsewhere = await api('POST', mp('/accounts', other.id), {
      json: { name: 'B', email_address: 'benny@example.com', card: cardForm() },
      secret: other.secret,
    })
    expect(elsewhere.status).toBe(201)
  })

  it('answers 400 for both card and card_uri, and for a malformed email', async () => {
    const card = await tokenize()
    const both = await api('POST', mp('/accounts'), {
      json: { name: 'A', card_uri: card.uri, card: cardForm() },
    })
    expectError(both, 400, 'Bad Request', 'request', 'request')
    const email = await api('POST', mp('/accounts'), {
      json: { name: 'A', email_address: 'not-an-email' },
    })
    expect(email.body.extras).toEqual({ email_address: 'must be an email address' })
  })

  it('creates a person merchant', async () => {
    const named = await api('POST', mp('/accounts'), {
      json: { merchant: PERSON_MERCHANT, name: 'Benny Riemann' },
    })
    expect(named.status).toBe(201)
    expect(named.body).toMatchObject({ name: 'Benny Riemann', roles: ['merchant'] })
    expect(named.body.merchant_uri).toMatch(/^\/v1\/merchants\/MR[0-9A-Za-z]{22}$/)
  })

  it("names a merchant account after its merchant when no name is given, as the reference's examples do", async () => {
    // accounts.rst, "Create a Person Merchant" and "Create a Business Merchant": `name: null`
    // beside a merchant with a name answers 201, the account named after the merchant.
    const person = await api('POST', mp('/accounts'), {
      json: {
        merchant: PERSON_MERCHANT,
        name: null,
        bank_account_uri: null,
        meta: {},
        email_address: null,
        merchant_uri: null,
      },
    })
    expect(person.status).toBe(201)
    expect(person.body).toMatchObject({ name: 'William James', roles: ['merchant'] })
    const business = await api('POST', mp('/accounts'), {
      json: { merchant: BUSINESS_MERCHANT, name: null, meta: {}, email_address: null },
    })
    expect(business.status).toBe(201)
    expect(business.body).toMatchObject({ name: 'Levain Bakery', roles: ['merchant'] })
    // A merchant without a name gives none: the account's is then required.
    const { name: _, ...nameless } = PERSON_MERCHANT
    const unnamed = await api('POST', mp('/accounts'), { json: { merchant: nameless } })
    expectError(unnamed, 400, 'Bad Request', 'request', 'request')
    expect(Object.keys(unnamed.body.extras)).toEqual(['name'])
    expect(emulator.state.accounts().map((account) => account.name)).toEqual([
      'William James',
      'Levain Bakery',
    ])
  })

  it('creates a merchant from a merchant_uri alone, and asks for the name it cannot default', async () => {
    // errors.rst, incomplete-account-info: "Either merchant/merchant_uri or card/card_uri fields
    // must be present": a merchant_uri is merchant info enough. accounts.rst, `name`: "If a card
    // is provided with a name then that is used as the default. Otherwise no default is provided
    // and this field is required." No example defaults it from a merchant_uri.
    const merchantUri = '/v1/merchants/MR6GYfhsHiUt9sNvAxii2SsG'
    const named = await api('POST', mp('/accounts'), {
      json: { name: 'Levain Bakery', merchant_uri: merchantUri },
    })
    expect(named.status).toBe(201)
    expect(named.body).toMatchObject({ name: 'Levain Bakery', roles: ['merchant'] })
    // The reference's own form: the other fields null.
    const nulls = await api('POST', mp('/accounts'), {
      json: {
        name: 'Levain Bakery',
        merchant: null,
        bank_account_uri: null,
        meta: {},
        email_address: null,
        merchant_uri: merchantUri,
      },
    })
    expect(nulls.status).toBe(201)
    expect(nulls.body.roles).toEqual(['merchant'])
    // Without a name: the field is required, not incomplete-account-info.
    for (const json of [{ merchant_uri: merchantUri }, { merchant_uri: merchantUri, name: null }]) {
      const unnamed = await api('POST', mp('/accounts'), { json })
      expectError(unnamed, 400, 'Bad Request', 'request', 'request')
      expect(Object.keys(unnamed.body.extras)).toEqual(['name'])
    }
    expect(emulator.state.accounts()).toHaveLength(2)
  })

  it('answers 400 naming the missing merchant fields', async () => {
    const answer = await api('POST', mp('/accounts'), {
      json: { name: 'Levain Bakery', merchant: { type: 'business', phone_number: '+16505551234' } },
    })
    expectError(answer, 400, 'Bad Request', 'request', 'request')
    expect(Object.keys(answer.body.extras).sort()).toEqual([
      'merchant.person',
      'merchant.postal_code',
      'merchant.street_address',
      'merchant.tax_id',
    ])
  })
})

describe('show and list accounts', () => {
  it('shows an account, and answers 404 for an unknown one or another marketplace’s', async () => {
    const account = emulator.seed.account({ name: 'Benny Riemann' })
    const shown = await api('GET', mp(`/accounts/${account.id}`))
    expect(shown.status).toBe(200)
    expect(shown.body).toEqual(account)

    const unknown = await api('GET', mp('/accounts/ACnope'))
    expectError(unknown, 404, 'Not Found', 'not-found', 'request')

    const other = emulator.seed.marketplace()
    const foreign = emulator.seed.account({ marketplace: other.id })
    const cross = await api('GET', mp(`/accounts/${foreign.id}`))
    expectError(cross, 404, 'Not Found', 'not-found', 'request')
  })

  it('lists accounts oldest first with the reference’s paging uris', async () => {
    const ids = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => emulator.seed.account({ name: `A${n}` }).id)
    const base = `/v1/marketplaces/${TEST_MARKETPLACE_ID}/accounts`
    const answer = await api('GET', mp('/accounts?limit=2&offset=0'))
    expect(answer.body).toMatchObject({
      _type: 'page',
      total: 8,
      limit: 2,
      offset: 0,
      first_uri: `${base}?limit=2&offset=0`,
      previous_uri: null,
      next_uri: `${base}?limit=2&offset=2`,
      last_uri: `${base}?limit=2&offset=6`,
      uri: `${base}?limit=2&offset=0`,
    })
    expect(answer.body.items.map((account: { id: string }) => account.id)).toEqual(ids.slice(0, 2))
  })
})

describe('update an account (PUT /v1/marketplaces/:marketplace/accounts/:account)', () => {
  it('changes name and email, and replaces meta', async () => {
    const account = emulator.seed.account({ name: 'Old', meta: { a: '1' } })
    const answer = await api('PUT', mp(`/accounts/${account.id}`), {
      json: {
        name: 'my new name',
        email_address: 'new@example.com',
        meta: { 'more-data': 'here' },
      },
    })
    expect(answer.status).toBe(200)
    expect(answer.body).toEqual({
      ...account,
      name: 'my new name',
      email_address: 'new@example.com',
      meta: { 'more-data': 'here' },
    })
  })

  it('refuses a name that is not a string (the reference example sends a list)', async () => {
    const account = emulator.seed.account()
    const answer = await api('PUT', mp(`/accounts/${account.id}`), {
      json: { name: ['my new name'] },
    })
    expectError(answer, 400, 'Bad Request', 'request', 'request')
    expect(answer.body.extras).toEqual({ name: 'must be a string' })
  })

  it('associates a card with card_uri, and the card becomes the chosen one', async () => {
    const account = emulator.seed.account()
    const first = emulator.seed.card({ account: account.id })
    const card = await tokenize()
    const answer = await api('PUT', mp(`/accounts/${account.id}`), {
      json: { card_uri: card.uri },
    })
    expect(answer.status).toBe(200)
    expect(answer.body.roles).toEqual(['buyer'])
    expect(emulator.state.accountCards(account.id).map((entry) => entry.id)).toEqual([
      first.id,
      card.id,
    ])
    expect(emulator.state.defaultCard(account.id)?.id).toBe(card.id)
  })

  it('keeps its own email, refuses another account’s', async () => {
    const account = emulator.seed.account({ email_address: 'mine@example.com' })
    emulator.seed.account({ email_address: 'theirs@example.com' })
    const same = await api('PUT', mp(`/accounts/${account.id}`), {
      json: { email_address: 'mine@example.com' },
    })
    expect(same.status).toBe(200)
    const taken = await api('PUT', mp(`/accounts/${account.id}`), {
      json: { email_address: 'theirs@example.com', name: 'Changed' },
    })
    expectError(taken, 409, 'Conflict', 'duplicate-email-address', 'logical')
    expect(emulator.state.account(account.id)?.name).toBe('Test Account')
  })

  it('promotes a buyer to a merchant once: again is account-already-merchant', async () => {
    const account = emulator.seed.account()
    emulator.seed.card({ account: account.id })
    const promoted = await api('PUT', mp(`/accounts/${account.id}`), {
      json: { merchant: PERSON_MERCHANT },
    })
    expect(promoted.status).toBe(200)
    expect(promoted.body.roles).toEqual(['merchant', 'buyer'])
    const again = await api('PUT', mp(`/accounts/${account.id}`), {
      json: { merchant_uri: promoted.body.merchant_uri },
    })
    expectError(again, 409, 'Conflict', 'account-already-merchant', 'logical')
  })

  it('answers 404 for an unknown account', async () => {
    const answer = await api('PUT', mp('/accounts/ACnope'), { json: { name: 'x' } })
    expectError(answer, 404, 'Not Found', 'not-found', 'request')
  })
})
