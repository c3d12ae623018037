import type Stripe from 'stripe'
import { beforeAll, describe, expect, it } from 'vitest'
import { checkStripeRequest } from './openapi-check.js'
import { STRIPE_CLIENTS, useStripeEmulator } from './stripe-test-harness.js'

const post = (path: string, params: Record<string, unknown>) =>
  checkStripeRequest('POST', path, params)
const get = (path: string, params: Record<string, unknown>) =>
  checkStripeRequest('GET', path, params)

describe('checkStripeRequest', () => {
  it('accepts a valid request, with every value a string as forms send them', () => {
    expect(
      post('/v1/customers', {
        email: 'jenny@example.com',
        balance: '-500',
        address: { line1: '1 Main St', city: 'Paris', country: 'FR' },
        shipping: { name: 'Jenny', address: { line1: '1 Main St' } },
        preferred_locales: ['fr', 'en'],
        tax_exempt: 'none',
        metadata: { order: '42' },
      }),
    ).toBeNull()
    expect(get('/v1/customers/cus_123/sources', { limit: '3', object: 'card' })).toBeNull()
  })

  it('refuses an unknown parameter with parameter_unknown, naming it', () => {
    expect(post('/v1/customers', { email: 'a@b.c', colour: 'blue' })).toEqual({
      status: 400,
      error: {
        type: 'invalid_request_error',
        code: 'parameter_unknown',
        message: 'Received unknown parameter: colour',
        param: 'colour',
      },
    })
  })

  it('names a nested unknown parameter in bracket form', () => {
    expect(post('/v1/customers', { address: { line1: 'x', colour: 'blue' } })?.error).toEqual({
      type: 'invalid_request_error',
      code: 'parameter_unknown',
      message: 'Received unknown parameter: address[colour]',
      param: 'address[colour]',
    })
    expect(get('/v1/customers', { created: { gte: '1', between: '2' } })?.error).toMatchObject({
      code: 'parameter_unknown',
      param: 'created[between]',
    })
  })

  it('refuses an unknown query parameter on a GET', () => {
    expect(get('/v1/customers/cus_123', { expand: ['sources'], colour: 'x' })?.error).toMatchObject(
      { code: 'parameter_unknown', param: 'colour' },
    )
  })

  it('refuses a malformed integer with parameter_invalid_integer, as Stripe words it', () => {
    expect(get('/v1/customers', { limit: 'ten' })?.error).toEqual({
      type: 'invalid_request_error',
      code: 'parameter_invalid_integer',
      message: 'Invalid integer: ten',
      param: 'limit',
    })
    expect(get('/v1/customers', { limit: '10.0' })?.error.message).toBe('Invalid integer: 10.0')
    expect(get('/v1/customers', { limit: '-3' })).toBeNull()
    expect(get('/v1/customers', { limit: '-' })?.error).toMatchObject({
      code: 'parameter_invalid_integer',
      message: 'Invalid integer: -',
    })
    expect(get('/v1/customers', { created: 'yesterday' })?.error).toMatchObject({
      code: 'parameter_invalid_integer',
      param: 'created',
    })
  })

  it('refuses an empty value for a parameter that cannot be unset', () => {
    expect(get('/v1/customers', { limit: '' })?.error).toMatchObject({
      code: 'parameter_invalid_empty',
      param: 'limit',
      message: expect.stringContaining("You passed an empty string for 'limit'"),
    })
  })

  it("accepts '' where the schema allows unsetting", () => {
    const path = '/v1/customers/cus_123'
    expect(post(path, { metadata: '', address: '', shipping: '', tax_exempt: '' })).toBeNull()
    expect(post(path, { metadata: { order: '' } })).toBeNull()
    // A plain string may be empty: the emulator reads it as null.
    expect(post(path, { email: '' })).toBeNull()
  })

  it('refuses a value outside an enum, listing the allowed ones', () => {
    expect(post('/v1/customers', { tax_exempt: 'sometimes' })?.error).toEqual({
      type: 'invalid_request_error',
      message: 'Invalid tax_exempt: must be one of exempt, none, or reverse',
      param: 'tax_exempt',
    })
    const card = '/v1/customers/cus_123/cards/card_123'
    expect(post(card, { account_holder_type: 'family' })?.error.message).toBe(
      'Invalid account_holder_type: must be one of company or individual',
    )
  })

  it('refuses a malformed boolean', () => {
    const path = '/v1/accounts/acct_123/external_accounts/card_123'
    expect(post(path, { default_for_currency: 'yes' })?.error).toEqual({
      type: 'invalid_request_error',
      message: 'Invalid boolean: yes',
      param: 'default_for_currency',
    })
    expect(post(path, { default_for_currency: 'true' })).toBeNull()
    expect(post(path, { default_for_currency: 'false' })).toBeNull()
  })

  it('reads a decimal as Stripe does, a leading or trailing point included', () => {
    const decimal = (value: string) =>
      post('/v1/tokens', { person: { relationship: { percent_ownership: value } } })
    for (const value of ['12.5', '.5', '5.', '-0.25', '100']) {
      expect(decimal(value), value).toBeNull()
    }
    for (const value of ['.', '-', '1.2.3', 'half']) {
      expect(decimal(value)?.error, value).toEqual({
        type: 'invalid_request_error',
        message: `Invalid decimal: ${value}`,
        param: 'person[relationship][percent_ownership]',
      })
    }
  })

  it('refuses a string where a hash or an array belongs', () => {
    expect(post('/v1/customers', { metadata: 'order=42' })?.error).toEqual({
      type: 'invalid_request_error',
      message: 'Invalid hash',
      param: 'metadata',
    })
    expect(get('/v1/customers', { expand: 'sources' })?.error).toEqual({
      type: 'invalid_request_error',
      message: 'Invalid array',
      param: 'expand',
    })
    // What parseStripeForm makes of an index above its array limit.
    expect(get('/v1/customers', { expand: { '150': 'x' } })?.error.message).toBe('Invalid array')
  })

  it('refuses a hash where a string belongs', () => {
    expect(post('/v1/customers', { email: { a: 'b' } })?.error).toMatchObject({
      message: expect.stringMatching(/^Invalid string: /),
      param: 'email',
    })
  })

  it('refuses a missing required nested parameter with parameter_missing', () => {
    expect(post('/v1/customers', { shipping: { address: { line1: 'x' } } })?.error).toEqual({
      type: 'invalid_request_error',
      code: 'parameter_missing',
      message: 'Missing required param: shipping[name].',
      param: 'shipping[name]',
    })
    expect(
      post('/v1/customers', { tax_id_data: [{ type: 'eu_vat', value: 'DE1' }, { type: 'eu_vat' }] })
        ?.error,
    ).toMatchObject({ code: 'parameter_missing', param: 'tax_id_data[1][value]' })
  })

  it('refuses too long a string, without echoing a card number', () => {
    const email = `4242424242424242${'x'.repeat(600)}@example.com`
    const error = post('/v1/customers', { email })?.error
    expect(error).toMatchObject({ param: 'email' })
    expect(error?.message).toMatch(/^Invalid string: .*; must be at most 512 characters$/)
    expect(error?.message).not.toContain('4242424242424242')
  })

  it('takes a string of exactly maxLength characters, and refuses one more', () => {
    expect(get('/v1/customers', { expand: ['x'.repeat(5000)] })).toBeNull()
    expect(get('/v1/customers', { expand: ['x'.repeat(5001)] })?.error).toMatchObject({
      message: expect.stringMatching(/; must be at most 5000 characters$/),
      param: 'expand[0]',
    })
  })

  it('echoes a value of up to 60 characters whole, and shortens a longer one to 60', () => {
    const invalid = (limit: string) => get('/v1/customers', { limit })?.error.message
    expect(invalid('x'.repeat(60))).toBe(`Invalid integer: ${'x'.repeat(60)}`)
    expect(invalid('x'.repeat(61))).toBe(`Invalid integer: ${'x'.repeat(57)}...`)
    expect(invalid('x'.repeat(200))).toBe(`Invalid integer: ${'x'.repeat(57)}...`)
  })

  it('accepts token ids and hashes where the spec bypasses validation', () => {
    const card = { object: 'card', number: '4242424242424242', exp_month: '12', exp_year: '2030' }
    expect(post('/v1/customers/cus_1/sources', { source: 'tok_visa' })).toBeNull()
    expect(post('/v1/customers/cus_1/sources', { source: card })).toBeNull()
    expect(post('/v1/customers/cus_1/cards', { card: 'tok_visa' })).toBeNull()
    expect(post('/v1/customers', { source: card })).toBeNull()
    expect(post('/v1/accounts/acct_1/external_accounts', { external_account: card })).toBeNull()
    expect(post('/v1/tokens', { card: { number: '4242424242424242' } })).toBeNull()
  })

  it('accepts expand on every operation, listed or not', () => {
    expect(checkStripeRequest('DELETE', '/v1/customers/cus_1', { expand: ['x'] })).toBeNull()
    expect(checkStripeRequest('DELETE', '/v1/customers/cus_1', { colour: 'x' })).not.toBeNull()
    expect(post('/v1/tokens', { expand: ['card'] })).toBeNull()
  })

  it('leaves operations the description does not have to the emulator', () => {
    expect(post('/v1/charges', { anything: 'goes' })).toBeNull()
    expect(checkStripeRequest('PATCH', '/v1/customers/cus_1', { anything: 'goes' })).toBeNull()
  })

  it('does not modify the parameters', () => {
    const params = Object.freeze({
      balance: '12',
      address: Object.freeze({ line1: 'x' }),
      expand: Object.freeze(['sources']),
    })
    expect(post('/v1/customers', params)).toBeNull()
    expect(params).toEqual({ balance: '12', address: { line1: 'x' }, expand: ['sources'] })
  })
})

// Every request the stripe SDK sends for the card operations must pass the check: a check
// stricter than Stripe would break the adapters the emulator exists to test.
const emulator = useStripeEmulator({ now: () => new Date('2025-03-14T12:00:00Z') })

describe.each(STRIPE_CLIENTS)('the stripe SDK against the check ($name)', (client) => {
  let stripe: Stripe
  beforeAll(() => {
    stripe = client.create()
  })

  it('passes every customer, source and token request', async () => {
    const token = await stripe.tokens.create({
      card: {
        number: '5555555555554444',
        exp_month: '12',
        exp_year: '2030',
        cvc: '123',
        name: 'Jenny Rosen',
        address_line1: '1 Main St',
        address_zip: '94107',
        address_country: 'US',
      },
    })
    const customer = await stripe.customers.create({
      email: 'jenny@example.com',
      name: 'Jenny Rosen',
      description: 'test',
      phone: '+15555550100',
      address: { line1: '1 Main St', city: 'San Francisco', postal_code: '94107', country: 'US' },
      shipping: { name: 'Jenny Rosen', address: { line1: '1 Main St' } },
      metadata: { order: '42', '0': 'numeric key' },
      source: 'tok_visa',
      expand: ['sources', 'default_source'],
    })
    const card = await stripe.customers.createSource(customer.id, {
      source: token.id,
      metadata: { role: 'backup' },
      expand: ['customer'],
    })
    await stripe.customers.createSource(customer.id, {
      source: {
        object: 'card',
        number: '4000056655665556',
        exp_month: 11,
        exp_year: 2031,
        cvc: '314',
      } as unknown as string,
    })
    await stripe.customers.retrieveSource(customer.id, card.id, { expand: ['customer'] })
    await stripe.customers.updateSource(customer.id, card.id, {
      name: 'J. Rosen',
      exp_month: '1',
      exp_year: '2032',
      address_line1: '2 Main St',
      address_line2: '',
      address_city: 'Oakland',
      address_state: 'CA',
      address_zip: '94601',
      address_country: 'US',
      metadata: { role: '', priority: '1' },
    })
    const page = await stripe.customers.listSources(customer.id, { object: 'card', limit: 1 })
    await stripe.customers.listSources(customer.id, {
      object: 'card',
      limit: 1,
      starting_after: page.data[0]!.id,
    })
    await stripe.customers.update(customer.id, {
      default_source: card.id,
      metadata: { order: '' },
      address: '',
      preferred_locales: ['fr'],
      tax_exempt: 'none',
      balance: 0,
    })
    await stripe.customers.deleteSource(customer.id, card.id)
    await stripe.customers.update(customer.id, { source: 'tok_amex' })
    await stripe.customers.retrieve(customer.id, { expand: ['sources'] })
    await stripe.customers.list({ limit: 3, email: 'jenny@example.com' })
    await stripe.customers.del(customer.id)

    expect(failures()).toEqual([])
    expect(new Set(emulator.state.requests().map((request) => request.route))).toEqual(
      new Set([
        'POST /v1/tokens',
        'POST /v1/customers',
        'POST /v1/customers/:customer/sources',
        'GET /v1/customers/:customer/sources/:id',
        'POST /v1/customers/:customer/sources/:id',
        'GET /v1/customers/:customer/sources',
        'POST /v1/customers/:customer',
        'GET /v1/customers/:customer',
        'GET /v1/customers',
        'DELETE /v1/customers/:customer/sources/:id',
        'DELETE /v1/customers/:customer',
      ]),
    )
  })

  it('passes every Connect account and external account request', async () => {
    const account = await stripe.accounts.create({
      type: 'custom',
      country: 'US',
      email: 'owner@example.com',
      business_type: 'individual',
      capabilities: { transfers: { requested: true } },
      metadata: { shop: '7' },
    })
    const debit = await stripe.accounts.createExternalAccount(account.id, {
      external_account: 'tok_visa_debit',
      metadata: { role: 'payouts' },
    })
    const second = await stripe.accounts.createExternalAccount(account.id, {
      external_account: {
        object: 'card',
        number: '5200828282828210',
        exp_month: 10,
        exp_year: 2030,
        currency: 'usd',
      } as unknown as string,
      default_for_currency: true,
    })
    await stripe.accounts.retrieveExternalAccount(account.id, debit.id)
    await stripe.accounts.updateExternalAccount(account.id, debit.id, {
      name: 'Payouts',
      exp_month: '12',
      exp_year: '2033',
      address_zip: '10001',
      metadata: { role: '' },
    })
    await stripe.accounts.updateExternalAccount(account.id, debit.id, {
      default_for_currency: true,
    })
    await stripe.accounts.listExternalAccounts(account.id, { object: 'card', limit: 1 })
    await stripe.accounts.deleteExternalAccount(account.id, second.id)
    await stripe.accounts.retrieve(account.id)
    await stripe.accounts.update(account.id, { metadata: { shop: '8' } })
    await stripe.accounts.list({ limit: 2 })
    await stripe.accounts.del(account.id)

    expect(failures()).toEqual([])
    expect(emulator.state.requests()).toHaveLength(12)
  })
})

/** The requests the emulator refused, with their routes, for a readable failure. */
function failures() {
  return emulator.state
    .requests()
    .filter((request) => request.status >= 400)
    .map((request) => `${request.route} → ${request.status}`)
}
