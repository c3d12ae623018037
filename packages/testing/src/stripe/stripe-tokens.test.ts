import Stripe from 'stripe'
import { beforeAll, describe, expect, it } from 'vitest'
import { rejection } from '../__fixtures__/thrown.js'
import { STRIPE_TEST_CARDS } from './stripe-test-cards.js'
import { rawStripe, STRIPE_CLIENTS, useStripeEmulator } from './stripe-test-harness.js'

const emulator = useStripeEmulator({ now: () => new Date('2025-03-14T12:00:00Z') })

const hash = (number: string, extra: Record<string, string> = {}) => ({
  number,
  exp_month: '12',
  exp_year: '2030',
  cvc: '123',
  ...extra,
})

describe.each(STRIPE_CLIENTS)('tokens and test cards ($name)', (client) => {
  let stripe: Stripe
  beforeAll(() => {
    stripe = client.create()
  })

  it('creates a card token with Stripe shape, and attaches it with the same card id', async () => {
    const token = await stripe.tokens.create({ card: hash('4242424242424242') })
    expect(token.id).toMatch(/^tok_[0-9A-Za-z]{24}$/)
    expect(token).toMatchObject({
      object: 'token',
      type: 'card',
      used: false,
      livemode: false,
      created: Date.parse('2025-03-14T12:00:00Z') / 1000,
      card: {
        object: 'card',
        brand: 'Visa',
        funding: 'credit',
        country: 'US',
        last4: '4242',
        exp_month: 12,
        exp_year: 2030,
        cvc_check: 'unchecked',
      },
    })
    expect(token.card).not.toHaveProperty('customer')

    const customer = emulator.seed.customer()
    const card = await stripe.customers.createSource(customer.id, { source: token.id })
    expect(card).toMatchObject({ id: token.card!.id, cvc_check: 'pass', customer: customer.id })
    const reread = await stripe.tokens.retrieve(token.id)
    expect(reread.used).toBe(true)
  })

  it('lets a created token be used once', async () => {
    const token = await stripe.tokens.create({ card: hash('5555555555554444') })
    const customer = emulator.seed.customer()
    await stripe.customers.createSource(customer.id, { source: token.id })
    const error = await rejection(stripe.customers.createSource(customer.id, { source: token.id }))
    expect(error).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError)
    expect(error).toMatchObject({
      statusCode: 400,
      code: 'token_already_used',
      param: 'source',
      message: `You cannot use a Stripe token more than once: ${token.id}.`,
    })
    expect(emulator.state.sources(customer.id)).toHaveLength(1)
  })

  // Stripe checks the parameters before the endpoint runs: a refused request leaves the token
  // unused, and the request sent again with its metadata fixed attaches the card.
  it('does not spend a created token on a request refused for its metadata', async () => {
    const customer = emulator.seed.customer()
    const account = emulator.seed.account()
    const tooLong = { ['k'.repeat(41)]: 'v' }
    const attempts: Array<
      [string, (token: string, metadata: Record<string, string>) => Promise<unknown>]
    > = [
      [
        'createSource',
        (source, metadata) => stripe.customers.createSource(customer.id, { source, metadata }),
      ],
      ['customers.create', (source, metadata) => stripe.customers.create({ source, metadata })],
      [
        'customers.update',
        (source, metadata) => stripe.customers.update(customer.id, { source, metadata }),
      ],
      [
        'createExternalAccount',
        (external_account, metadata) =>
          stripe.accounts.createExternalAccount(account.id, { external_account, metadata }),
      ],
    ]
    for (const [what, attempt] of attempts) {
      const number = what === 'createExternalAccount' ? '4000056655665556' : '4242424242424242'
      const token = await stripe.tokens.create({ card: hash(number) })
      const refused = await rejection(attempt(token.id, tooLong))
      expect(refused, what).toMatchObject({ statusCode: 400, param: `metadata[${'k'.repeat(41)}]` })
      expect((await stripe.tokens.retrieve(token.id)).used, `${what}: the token`).toBe(false)
      await expect(attempt(token.id, { order: '1' }), what).resolves.toBeDefined()
    }
  })

  it('does not spend a created token on a customer update refused for its default_source', async () => {
    const customer = emulator.seed.customer()
    const token = await stripe.tokens.create({ card: hash('4242424242424242') })
    const refused = await rejection(
      stripe.customers.update(customer.id, { source: token.id, default_source: 'card_missing' }),
    )
    expect(refused).toMatchObject({ statusCode: 400, param: 'default_source' })
    expect((await stripe.tokens.retrieve(token.id)).used).toBe(false)
    const updated = await stripe.customers.update(customer.id, { source: token.id })
    expect(updated.default_source).toBe(token.card!.id)
  })

  // The table's 4242…4241, and a number of no test card's: the check is Luhn's, not the table's.
  it.each(['4242424242424241', '5555555555554445'])(
    'refuses %s, which fails the Luhn check, at tokenization',
    async (number) => {
      const error = await rejection(stripe.tokens.create({ card: hash(number) }))
      expect(error).toBeInstanceOf(Stripe.errors.StripeCardError)
      expect(error).toMatchObject({
        statusCode: 402,
        rawType: 'card_error',
        code: 'incorrect_number',
        param: 'number',
        message: 'Your card number is incorrect.',
      })
      expect(emulator.state.tokens()).toEqual([])
    },
  )

  it('takes the four-digit security code of an American Express card', async () => {
    const token = await stripe.tokens.create({ card: hash('378282246310005', { cvc: '1234' }) })
    expect(token.card).toMatchObject({ brand: 'American Express', last4: '0005' })
  })

  it.each([
    [
      'tok_chargeDeclined',
      'card_declined',
      'generic_decline',
      'Your card was declined.',
      undefined,
    ],
    [
      'tok_chargeDeclinedInsufficientFunds',
      'card_declined',
      'insufficient_funds',
      'Your card has insufficient funds.',
      undefined,
    ],
    [
      'tok_cvcCheckFail',
      'incorrect_cvc',
      'incorrect_cvc',
      "Your card's security code is incorrect.",
      'cvc',
    ],
    [
      'tok_chargeDeclinedExpiredCard',
      'expired_card',
      'expired_card',
      'Your card has expired.',
      'exp_month',
    ],
  ])('declines %s on attach with 402 %s / %s', async (token, code, declineCode, message, param) => {
    const customer = emulator.seed.customer()
    const error = await rejection(stripe.customers.createSource(customer.id, { source: token }))
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError)
    expect(error.statusCode).toBe(402)
    expect(error.rawType).toBe('card_error')
    expect(error.code).toBe(code)
    expect(error.decline_code).toBe(declineCode)
    expect(error.message).toBe(message)
    expect(error.param).toBe(param)
    expect(error.requestId).toMatch(/^req_/)
    expect((error.headers as Record<string, string>)['request-id']).toBe(error.requestId)
    expect(emulator.state.sources(customer.id)).toEqual([])
    expect(emulator.state.customer(customer.id)?.default_source).toBeNull()
  })

  it.each([
    ['4000000000000002', 'card_declined', 'generic_decline'],
    ['4000000000000127', 'incorrect_cvc', 'incorrect_cvc'],
    ['4000000000000069', 'expired_card', 'expired_card'],
  ])('tokenizes %s, and declines it on attach with %s', async (number, code, declineCode) => {
    const token = await stripe.tokens.create({ card: hash(number) })
    expect(token.card?.last4).toBe(number.slice(-4))
    const customer = emulator.seed.customer()
    const error = await rejection(stripe.customers.createSource(customer.id, { source: token.id }))
    expect(error).toMatchObject({ statusCode: 402, code, decline_code: declineCode })
    expect(emulator.state.sources(customer.id)).toEqual([])
  })
})

describe('the test numbers and tokens table', () => {
  let stripe: Stripe
  beforeAll(() => {
    stripe = STRIPE_CLIENTS[0].create()
  })

  it.each([
    ['4242424242424242', 'Visa', 'credit', 'US'],
    ['4000056655665556', 'Visa', 'debit', 'US'],
    ['5555555555554444', 'MasterCard', 'credit', 'US'],
    ['378282246310005', 'American Express', 'credit', 'US'],
    ['6011111111111117', 'Discover', 'credit', 'US'],
    ['3566002020360505', 'JCB', 'credit', 'JP'],
    ['3056930009020004', 'Diners Club', 'credit', 'US'],
    ['6200000000000005', 'UnionPay', 'credit', 'CN'],
  ])('tokenizes %s as %s %s from %s', async (number, brand, funding, country) => {
    const token = await stripe.tokens.create({ card: hash(number) })
    expect(token.card).toMatchObject({ brand, funding, country, last4: number.slice(-4) })
  })

  it.each([
    ['tok_visa', 'Visa', 'credit', '4242'],
    ['tok_visa_debit', 'Visa', 'debit', '5556'],
    ['tok_mastercard', 'MasterCard', 'credit', '4444'],
    ['tok_mastercard_debit', 'MasterCard', 'debit', '8210'],
    ['tok_amex', 'American Express', 'credit', '0005'],
    ['tok_discover', 'Discover', 'credit', '1117'],
    ['tok_jcb', 'JCB', 'credit', '0505'],
    ['tok_diners', 'Diners Club', 'credit', '0004'],
    ['tok_unionpay', 'UnionPay', 'credit', '0005'],
  ])(
    'attaches %s as %s %s ending %s, any number of times',
    async (token, brand, funding, last4) => {
      const customer = emulator.seed.customer()
      const first = await stripe.customers.createSource(customer.id, { source: token })
      const second = await stripe.customers.createSource(customer.id, { source: token })
      expect(first).toMatchObject({ brand, funding, last4, object: 'card' })
      expect(second.id).not.toBe(first.id)
      expect((second as Stripe.Card).fingerprint).toBe((first as Stripe.Card).fingerprint)
    },
  )

  it('gives a stable fingerprint per number, and different ones across numbers', async () => {
    const a = await stripe.tokens.create({ card: hash('4242424242424242') })
    const b = await stripe.tokens.create({ card: hash('4242 4242 4242 4242') })
    const c = await stripe.tokens.create({ card: hash('5555555555554444') })
    expect(a.card?.fingerprint).toBe(b.card?.fingerprint)
    expect(c.card?.fingerprint).not.toBe(a.card?.fingerprint)
    const customer = emulator.seed.customer()
    expect(emulator.seed.card(customer.id, 'tok_visa').fingerprint).toBe(a.card?.fingerprint)
  })

  it('documents a token for every failure it knows', () => {
    const failing = STRIPE_TEST_CARDS.filter((entry) => entry.failsOn === 'attach')
    expect(failing.map((entry) => [entry.token, entry.failure])).toEqual([
      ['tok_chargeDeclined', 'generic_decline'],
      ['tok_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
      ['tok_chargeDeclinedLostCard', 'lost_card'],
      ['tok_chargeDeclinedStolenCard', 'stolen_card'],
      ['tok_chargeDeclinedIncorrectCvc', 'incorrect_cvc'],
      ['tok_cvcCheckFail', 'incorrect_cvc'],
      ['tok_chargeDeclinedExpiredCard', 'expired_card'],
      ['tok_chargeDeclinedProcessingError', 'processing_error'],
    ])
  })

  it('answers an unknown token with 400 resource_missing on its parameter', async () => {
    const customer = emulator.seed.customer()
    const error = await rejection(
      stripe.customers.createSource(customer.id, { source: 'tok_doesnotexist' }),
    )
    expect(error).toMatchObject({
      statusCode: 400,
      code: 'resource_missing',
      param: 'source',
      message: "No such token: 'tok_doesnotexist'",
    })
    // A card number sent where a token belongs is not echoed back.
    const number = await rejection(
      stripe.customers.createSource(customer.id, { source: '4242424242424242' }),
    )
    expect(number).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'source' })
    expect(number.message).toBe("No such token: '•••• 4242'")
  })

  it('validates a card hash: missing number, past expiry, bad CVC', async () => {
    const missing = await rawStripe('POST', '/v1/tokens', {
      body: 'card[exp_month]=12&card[exp_year]=2030',
    })
    expect(missing.status).toBe(400)
    expect(missing.body.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'parameter_missing',
      param: 'card[number]',
      message: 'Missing required param: card[number].',
    })
    const expired = await rejection(
      stripe.tokens.create({ card: hash('4242424242424242', { exp_year: '2024' }) }),
    )
    expect(expired).toMatchObject({
      statusCode: 402,
      code: 'invalid_expiry_year',
      param: 'exp_year',
      message: "Your card's expiration year is invalid.",
    })
    const lastMonth = await rejection(
      stripe.tokens.create({
        card: hash('4242424242424242', { exp_month: '2', exp_year: '2025' }),
      }),
    )
    expect(lastMonth).toMatchObject({ statusCode: 402, code: 'invalid_expiry_month' })
    const cvc = await rejection(
      stripe.tokens.create({ card: hash('4242424242424242', { cvc: '12' }) }),
    )
    expect(cvc).toMatchObject({ statusCode: 402, code: 'invalid_cvc', param: 'cvc' })
    expect(emulator.state.tokens()).toEqual([])
  })

  it('accepts a publishable key for tokens only', async () => {
    const publishable = STRIPE_CLIENTS[0].create('pk_test_123')
    const token = await publishable.tokens.create({ card: hash('4242424242424242') })
    expect(token.object).toBe('token')
    const error = await rejection(publishable.customers.create({}))
    expect(error).toMatchObject({ statusCode: 401, type: 'StripeAuthenticationError' })
    expect(error.message).toMatch(/^This API call cannot be made with a publishable API key/)
  })
})
