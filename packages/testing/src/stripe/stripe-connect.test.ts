import Stripe from 'stripe'
import { beforeAll, describe, expect, it } from 'vitest'
import { rejection } from '../__fixtures__/thrown.js'
import { rawStripe, STRIPE_CLIENTS, useStripeEmulator } from './stripe-test-harness.js'

const emulator = useStripeEmulator({ now: () => new Date('2025-03-14T12:00:00Z') })

const EXTERNAL_CARD_KEYS = [
  'id',
  'object',
  'account',
  'address_city',
  'address_country',
  'address_line1',
  'address_line1_check',
  'address_line2',
  'address_state',
  'address_zip',
  'address_zip_check',
  'available_payout_methods',
  'brand',
  'country',
  'currency',
  'cvc_check',
  'default_for_currency',
  'dynamic_last4',
  'exp_month',
  'exp_year',
  'fingerprint',
  'funding',
  'last4',
  'metadata',
  'name',
  'status',
  'tokenization_method',
  'wallet',
]

describe.each(STRIPE_CLIENTS)('Connect accounts and external accounts ($name)', (client) => {
  let stripe: Stripe
  beforeAll(() => {
    stripe = client.create()
  })

  it('creates and retrieves accounts, with default_currency defaulting to usd', async () => {
    const account = await stripe.accounts.create({ type: 'custom', country: 'US' })
    expect(account.id).toMatch(/^acct_[0-9A-Za-z]{16}$/)
    expect(account).toMatchObject({
      object: 'account',
      type: 'custom',
      country: 'US',
      default_currency: 'usd',
      controller: { is_controller: true, type: 'application' },
      external_accounts: {
        object: 'list',
        url: `/v1/accounts/${account.id}/external_accounts`,
        has_more: false,
        data: [],
      },
    })
    const express = await stripe.accounts.create({ type: 'express', default_currency: 'eur' })
    expect(express).toMatchObject({ type: 'express', default_currency: 'eur' })
    const standard = await stripe.accounts.create({ type: 'standard' })
    expect(standard.controller).toEqual({ type: 'account' })
    const retrieved = await stripe.accounts.retrieve(account.id)
    expect(retrieved.id).toBe(account.id)
    expect(emulator.state.accounts().map((a) => a.id)).toEqual([
      account.id,
      express.id,
      standard.id,
    ])
  })

  it('answers an unknown account with 404', async () => {
    const error = await rejection(stripe.accounts.retrieve('acct_doesnotexist'))
    expect(error).toMatchObject({
      statusCode: 404,
      code: 'resource_missing',
      param: 'id',
      message: "No such account: 'acct_doesnotexist'",
    })
    const nested = await rejection(stripe.accounts.listExternalAccounts('acct_doesnotexist'))
    expect(nested).toMatchObject({ statusCode: 404, code: 'resource_missing', param: 'account' })
  })

  it('adds debit cards as external accounts with the account-side card fields', async () => {
    const account = emulator.seed.account()
    const card = (await stripe.accounts.createExternalAccount(account.id, {
      external_account: 'tok_visa_debit',
      metadata: { label: 'main' },
    })) as Stripe.Card
    // The card object's `customer`: "This attribute will not be in the card object if the card
    // belongs to an account or recipient instead" (OpenAPI, 2023-08-16), and Stripe's external
    // account examples have `account` and no `customer`.
    expect(Object.keys(card)).toEqual(EXTERNAL_CARD_KEYS)
    expect(card).not.toHaveProperty('customer')
    expect(card).toMatchObject({
      object: 'card',
      account: account.id,
      currency: 'usd',
      default_for_currency: true,
      available_payout_methods: ['standard', 'instant'],
      brand: 'Visa',
      funding: 'debit',
      last4: '5556',
      status: 'new',
      metadata: { label: 'main' },
    })
    const second = (await stripe.accounts.createExternalAccount(account.id, {
      external_account: 'tok_mastercard_debit',
    })) as Stripe.Card
    expect(second.default_for_currency).toBe(false)
    const third = (await stripe.accounts.createExternalAccount(account.id, {
      external_account: 'tok_visa_debit',
      default_for_currency: true,
    })) as Stripe.Card
    expect(third.default_for_currency).toBe(true)
    expect(emulator.state.sources(account.id).map((s) => [s.id, s.default_for_currency])).toEqual([
      [third.id, true],
      [second.id, false],
      [card.id, false],
    ])
  })

  it.each([
    ['a credit card', 'tok_visa'],
    ['a prepaid card', 'tok_mastercard_prepaid'],
  ])('refuses %s as an external account', async (_, token) => {
    const account = emulator.seed.account()
    const error = await rejection(
      stripe.accounts.createExternalAccount(account.id, { external_account: token }),
    )
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError)
    expect(error).toMatchObject({
      statusCode: 400,
      code: 'invalid_card_type',
      param: 'external_account',
      message:
        'The card provided as an external account is not supported for payouts. Provide a non-prepaid debit card instead.',
    })
    expect(emulator.state.sources(account.id)).toEqual([])
  })

  it('takes a debit card hash with its currency', async () => {
    const account = emulator.seed.account({ default_currency: 'usd' })
    const card = (await stripe.accounts.createExternalAccount(account.id, {
      external_account: {
        object: 'card',
        number: '4000056655665556',
        exp_month: 9,
        exp_year: 2029,
        currency: 'eur',
      } as unknown as string,
    })) as Stripe.Card
    expect(card).toMatchObject({ currency: 'eur', default_for_currency: true, last4: '5556' })
  })

  // As `POST …/external_accounts` does: the first card of a currency is its default without
  // `default_for_currency`, which only moves the default to a later card.
  it('seeds the first card of a currency as its default, and a later one only when asked', () => {
    const account = emulator.seed.account()
    const first = emulator.seed.card(account.id)
    const second = emulator.seed.card(account.id, 'tok_mastercard_debit')
    expect([first.default_for_currency, second.default_for_currency]).toEqual([true, false])
    const third = emulator.seed.card(account.id, 'tok_visa_debit', { default_for_currency: true })
    expect(third.default_for_currency).toBe(true)
    expect(emulator.state.source(first.id)?.default_for_currency).toBe(false)
  })

  it('updates an external card and switches the default for its currency', async () => {
    const account = emulator.seed.account()
    const first = emulator.seed.card(account.id)
    const second = emulator.seed.card(account.id, 'tok_mastercard_debit')
    const updated = (await stripe.accounts.updateExternalAccount(account.id, second.id, {
      default_for_currency: true,
      name: 'Jenny Rosen',
      exp_month: '1',
      exp_year: '2032',
      address_zip: '10001',
      metadata: { a: '1' },
    })) as Stripe.Card
    expect(updated).toMatchObject({
      default_for_currency: true,
      name: 'Jenny Rosen',
      exp_month: 1,
      exp_year: 2032,
      address_zip: '10001',
      metadata: { a: '1' },
    })
    expect(emulator.state.source(first.id)?.default_for_currency).toBe(false)
    const fetched = await stripe.accounts.retrieveExternalAccount(account.id, second.id)
    expect(fetched).toMatchObject({ id: second.id, name: 'Jenny Rosen' })
  })

  it('refuses to unset default_for_currency on the default for its currency, which stays the default', async () => {
    const account = emulator.seed.account()
    const first = emulator.seed.card(account.id)
    emulator.seed.card(account.id, 'tok_mastercard_debit')
    const error = await rejection(
      stripe.accounts.updateExternalAccount(account.id, first.id, {
        default_for_currency: false,
      }),
    )
    expect(error).toMatchObject({
      statusCode: 400,
      rawType: 'invalid_request_error',
      param: 'default_for_currency',
      message:
        'You cannot set default_for_currency to false on the default external account for usd. Set another external account as the default for that currency instead.',
    })
    expect(emulator.state.source(first.id)?.default_for_currency).toBe(true)
  })

  it("refuses, changing nothing, an update whose metadata merged with the card's passes 50 keys", async () => {
    const keys = (prefix: string, count: number) =>
      Object.fromEntries(Array.from({ length: count }, (_, index) => [`${prefix}${index}`, 'v']))
    const account = emulator.seed.account()
    emulator.seed.card(account.id)
    const card = emulator.seed.card(account.id, 'tok_mastercard_debit', { metadata: keys('a', 50) })
    const before = emulator.state.source(card.id)
    const error = await rejection(
      stripe.accounts.updateExternalAccount(account.id, card.id, {
        default_for_currency: true,
        metadata: { extra: 'v' },
      }),
    )
    expect(error).toMatchObject({
      type: 'StripeInvalidRequestError',
      statusCode: 400,
      param: 'metadata',
    })
    expect(emulator.state.source(card.id)).toEqual(before)
  })

  it('refuses to delete the default for the default currency, then deletes after a switch', async () => {
    const account = emulator.seed.account()
    const first = emulator.seed.card(account.id)
    const second = emulator.seed.card(account.id, 'tok_mastercard_debit')
    const error = await rejection(stripe.accounts.deleteExternalAccount(account.id, first.id))
    expect(error).toMatchObject({
      statusCode: 400,
      rawType: 'invalid_request_error',
      message:
        'You cannot delete the default external account for your default currency. Please make another external account the default using the `default_for_currency` param, and then delete this one.',
    })
    expect(emulator.state.source(first.id)).toBeDefined()

    await stripe.accounts.updateExternalAccount(account.id, second.id, {
      default_for_currency: true,
    })
    const deleted = await stripe.accounts.deleteExternalAccount(account.id, first.id)
    expect({ ...deleted }).toEqual({ id: first.id, object: 'card', deleted: true })
    expect(emulator.state.sources(account.id).map((s) => s.id)).toEqual([second.id])
  })

  it('creates an account with the external account its `external_account` gives', async () => {
    const account = await stripe.accounts.create({
      type: 'custom',
      external_account: 'tok_visa_debit',
    })
    const [card] = emulator.state.sources(account.id)
    expect(card).toMatchObject({
      object: 'card',
      account: account.id,
      currency: 'usd',
      default_for_currency: true,
      funding: 'debit',
      last4: '5556',
    })
    expect(account.external_accounts?.data.map((s) => s.id)).toEqual([card!.id])
    expect(
      emulator.events.list({ type: 'account.external_account.created' }).map((e) => e.account),
    ).toEqual([account.id])
  })

  it('refuses, creating no account, an `external_account` that is not a debit card', async () => {
    const error = await rejection(
      stripe.accounts.create({ type: 'custom', external_account: 'tok_visa' }),
    )
    expect(error).toMatchObject({
      statusCode: 400,
      code: 'invalid_card_type',
      param: 'external_account',
    })
    expect(emulator.state.accounts()).toEqual([])
  })

  it('replaces the default for its currency when an account is updated with `external_account`', async () => {
    const account = emulator.seed.account()
    const old = emulator.seed.card(account.id)
    const kept = emulator.seed.card(account.id, 'tok_mastercard_debit')
    emulator.events.take()
    const updated = await stripe.accounts.update(account.id, {
      external_account: 'tok_visa_debit',
    })
    const sources = emulator.state.sources(account.id)
    expect(sources.map((s) => [s.id === kept.id, s.default_for_currency])).toEqual([
      [false, true],
      [true, false],
    ])
    expect(emulator.state.source(old.id)).toBeUndefined()
    expect(updated.external_accounts?.data.map((s) => s.id)).toEqual(sources.map((s) => s.id))
    expect(
      emulator.events.take().map((e) => [e.type, (e.data.object as { id: string }).id]),
    ).toEqual([
      ['account.external_account.created', sources[0]!.id],
      ['account.external_account.deleted', old.id],
    ])
  })

  it('lists external accounts and filters them by object', async () => {
    const account = emulator.seed.account()
    const card = emulator.seed.card(account.id)
    const bank = emulator.seed.bankAccount(account.id)
    const all = await stripe.accounts.listExternalAccounts(account.id)
    expect(all.url).toBe(`/v1/accounts/${account.id}/external_accounts`)
    expect(all.data.map((s) => s.id)).toEqual([bank.id, card.id])
    const cards = await stripe.accounts.listExternalAccounts(account.id, { object: 'card' })
    expect(cards.data.map((s) => s.id)).toEqual([card.id])
    const banks = await stripe.accounts.listExternalAccounts(account.id, {
      object: 'bank_account',
    })
    expect(banks.data.map((s) => s.id)).toEqual([bank.id])
    const invalid = await rejection(
      stripe.accounts.listExternalAccounts(account.id, { object: 'source' as 'card' }),
    )
    expect(invalid).toMatchObject({ statusCode: 400, param: 'object' })
  })
})

describe('external account rules without the SDK', () => {
  it('lets the only default in a non-default currency be deleted, not one with siblings', async () => {
    const account = emulator.seed.account({ default_currency: 'usd' })
    const eur1 = await rawStripe('POST', `/v1/accounts/${account.id}/external_accounts`, {
      body: 'external_account[object]=card&external_account[number]=4000056655665556&external_account[exp_month]=1&external_account[exp_year]=2030&external_account[currency]=eur',
    })
    expect(eur1.body).toMatchObject({ currency: 'eur', default_for_currency: true })
    const eur2 = await rawStripe('POST', `/v1/accounts/${account.id}/external_accounts`, {
      body: 'external_account[object]=card&external_account[number]=5200828282828210&external_account[exp_month]=1&external_account[exp_year]=2030&external_account[currency]=eur',
    })
    const refused = await rawStripe(
      'DELETE',
      `/v1/accounts/${account.id}/external_accounts/${eur1.body.id}`,
    )
    expect(refused.status).toBe(400)
    expect((refused.body.error as { message: string }).message).toBe(
      'You cannot delete the default external account for eur while other external accounts in eur exist. Please make another external account the default using the `default_for_currency` param, and then delete this one.',
    )
    const other = await rawStripe(
      'DELETE',
      `/v1/accounts/${account.id}/external_accounts/${eur2.body.id}`,
    )
    expect(other.body).toEqual({ id: eur2.body.id, object: 'card', deleted: true })
    const last = await rawStripe(
      'DELETE',
      `/v1/accounts/${account.id}/external_accounts/${eur1.body.id}`,
    )
    expect(last.status).toBe(200)
    expect(emulator.state.sources(account.id)).toEqual([])
  })

  it('refuses as a whole an account update whose `external_account` is refused', async () => {
    const custom = emulator.seed.account({ email: 'old@example.com' })
    const card = emulator.seed.card(custom.id)
    const credit = await rawStripe('POST', `/v1/accounts/${custom.id}`, {
      body: 'email=new%40example.com&external_account=tok_visa',
    })
    expect(credit.status).toBe(400)
    expect(credit.body.error).toMatchObject({ code: 'invalid_card_type' })
    expect(emulator.state.account(custom.id)?.email).toBe('old@example.com')
    expect(emulator.state.sources(custom.id).map((s) => s.id)).toEqual([card.id])

    const standard = emulator.seed.account({ type: 'standard' })
    const refused = await rawStripe('POST', `/v1/accounts/${standard.id}`, {
      body: 'external_account=tok_visa_debit',
    })
    expect(refused.status).toBe(400)
    expect(emulator.state.sources(standard.id)).toEqual([])
  })

  it.each([
    ['a standard', 'standard'],
    ['an express', 'express'],
  ] as const)('refuses to manage the external accounts of %s account', async (kind, type) => {
    const account = emulator.seed.account({ type })
    const response = await rawStripe('POST', `/v1/accounts/${account.id}/external_accounts`, {
      body: 'external_account=tok_visa_debit',
    })
    expect(response.status).toBe(400)
    expect(response.body.error).toMatchObject({
      type: 'invalid_request_error',
      message: `External accounts can only be managed by the platform on accounts whose requirements it collects (Custom accounts); '${account.id}' is ${kind} account.`,
    })
    expect(emulator.state.sources(account.id)).toEqual([])
  })
})
