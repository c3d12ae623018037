import { describe, expect, it } from 'vitest'
import { thrownBy } from '../__fixtures__/thrown.js'
import { parseStripeForm, STRIPE_FORM_LIMITS } from './form.js'
import { StripeRequestError } from './stripe-errors.js'

describe('parseStripeForm', () => {
  it('reads the bracket form the stripe SDK sends', () => {
    const body =
      'source=tok_visa&card[exp_month]=12&card[address][line1]=1%20Main%20St&expand[0]=customer&expand[1]=default_source'
    expect(parseStripeForm(body)).toEqual({
      source: 'tok_visa',
      card: { exp_month: '12', address: { line1: '1 Main St' } },
      expand: ['customer', 'default_source'],
    })
  })

  it('reads arrays of hashes by index', () => {
    const body =
      'tax_id_data[0][type]=eu_vat&tax_id_data[0][value]=DE123&tax_id_data[1][type]=gb_vat'
    expect(parseStripeForm(body)).toEqual({
      tax_id_data: [{ type: 'eu_vat', value: 'DE123' }, { type: 'gb_vat' }],
    })
  })

  it('reads the `expand[]=…` form of curl examples as an array', () => {
    expect(parseStripeForm('expand[]=sources&expand[]=default_source')).toEqual({
      expand: ['sources', 'default_source'],
    })
  })

  it('keeps numeric metadata keys as keys, at any depth', () => {
    expect(parseStripeForm('metadata[0]=a&metadata[5]=b')).toEqual({
      metadata: { '0': 'a', '5': 'b' },
    })
    expect(parseStripeForm('card[metadata][3]=x&card[number]=4242')).toEqual({
      card: { metadata: { '3': 'x' }, number: '4242' },
    })
    expect(parseStripeForm('metadata[0]=a&metadata[order]=b')).toEqual({
      metadata: { '0': 'a', order: 'b' },
    })
  })

  it('removes the holes of other sparse arrays, as Stripe does', () => {
    expect(parseStripeForm('preferred_locales[0]=en&preferred_locales[4]=fr')).toEqual({
      preferred_locales: ['en', 'fr'],
    })
  })

  it('reads an index above the array limit as a hash key, for the check to refuse', () => {
    const index = STRIPE_FORM_LIMITS.arrayLimit + 50
    expect(parseStripeForm(`expand[${index}]=x`)).toEqual({ expand: { [index]: 'x' } })
  })

  it('keeps the last value of a repeated name', () => {
    expect(parseStripeForm('email=a%40example.com&email=b%40example.com')).toEqual({
      email: 'b@example.com',
    })
  })

  it('decodes + and percent escapes, and keeps empty values (they unset parameters)', () => {
    expect(parseStripeForm('name=Jenny+Rosen&description=caf%C3%A9&metadata=')).toEqual({
      name: 'Jenny Rosen',
      description: 'café',
      metadata: '',
    })
  })

  it('reads URLSearchParams like the same string', () => {
    const params = new URLSearchParams()
    params.append('limit', '3')
    params.append('starting_after', 'card_123')
    params.append('expand[0]', 'data.customer')
    expect(parseStripeForm(params)).toEqual(parseStripeForm(params.toString()))
    expect(parseStripeForm(params)).toEqual({
      limit: '3',
      starting_after: 'card_123',
      expand: ['data.customer'],
    })
  })

  it('reads an empty body or query as no parameters', () => {
    expect(parseStripeForm('')).toEqual({})
    expect(parseStripeForm(new URLSearchParams())).toEqual({})
  })

  it('keeps keys named like Object.prototype members as keys, and never writes to a prototype', () => {
    const parsed = parseStripeForm(
      'metadata[constructor]=a&metadata[toString]=b&metadata[valueOf]=c&metadata[hasOwnProperty]=d&metadata[__proto__]=e&metadata[0]=f',
    )
    expect(Object.keys(parsed.metadata as object)).toEqual([
      '0',
      'constructor',
      'toString',
      'valueOf',
      'hasOwnProperty',
      '__proto__',
    ])
    expect({ ...(parsed.metadata as object) }).toEqual(
      Object.fromEntries([
        ['0', 'f'],
        ['constructor', 'a'],
        ['toString', 'b'],
        ['valueOf', 'c'],
        ['hasOwnProperty', 'd'],
        ['__proto__', 'e'],
      ]),
    )
    // Ordinary objects: what reads them (`Object.hasOwn`, spreads, JSON) works as for any other.
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype)
    expect(Object.getPrototypeOf(parsed.metadata)).toBe(Object.prototype)

    // Percent-encoded, nested, and top-level names, with object values: data, not prototypes.
    const hostile = parseStripeForm(
      '__proto__[polluted]=yes&a[__proto__][polluted]=yes&constructor[prototype][polluted]=yes&card[metadata][%5F%5Fproto%5F%5F]=x&name=x',
    )
    expect(Object.keys(hostile)).toEqual(['__proto__', 'a', 'constructor', 'card', 'name'])
    expect(Object.getOwnPropertyDescriptor(hostile, '__proto__')?.value).toEqual({
      polluted: 'yes',
    })
    expect(Object.getPrototypeOf(hostile)).toBe(Object.prototype)
    expect(Object.getPrototypeOf(hostile.a)).toBe(Object.prototype)
    expect(Object.hasOwn(hostile.a as object, '__proto__')).toBe(true)
    expect(Object.keys((hostile.card as { metadata: object }).metadata)).toEqual(['__proto__'])
    expect(hostile.constructor).toEqual({ prototype: { polluted: 'yes' } })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false)
    expect(Object.prototype.constructor).toBe(Object)
  })

  it('maps keys that hold `__proto__` and NUL characters back as sent', () => {
    for (const key of [
      '__proto__%00',
      '__proto__%00%00x',
      'a__proto__proto__b',
      '__proto____proto__',
    ]) {
      const parsed = parseStripeForm(`metadata[${key}]=1`)
      expect(Object.keys(parsed.metadata as object), key).toEqual([decodeURIComponent(key)])
    }
  })

  // Only keys are escaped on the way through qs: a value is data as sent.
  it('keeps `__proto__` as a value as sent', () => {
    expect(parseStripeForm('metadata[a]=__proto__&name=__proto__')).toEqual({
      metadata: { a: '__proto__' },
      name: '__proto__',
    })
  })

  it('refuses a body nested deeper than the limit with a 400', () => {
    const key = `a${'[b]'.repeat(STRIPE_FORM_LIMITS.depth + 1)}`
    const thrown = thrownBy(() => parseStripeForm(`${key}=1`))
    expect(thrown).toBeInstanceOf(StripeRequestError)
    expect(thrown).toMatchObject({ status: 400, error: { type: 'invalid_request_error' } })
    // One level less is fine.
    const ok = `a${'[b]'.repeat(STRIPE_FORM_LIMITS.depth)}`
    expect(() => parseStripeForm(`${ok}=1`)).not.toThrow()
  })

  it('refuses more pairs than the limit with a 400, instead of dropping the rest', () => {
    const pairs = Array.from({ length: STRIPE_FORM_LIMITS.parameterLimit + 1 }, (_, i) => `k${i}=v`)
    expect(() => parseStripeForm(pairs.join('&'))).toThrow(StripeRequestError)
    const fewer = pairs.slice(1).join('&')
    expect(Object.keys(parseStripeForm(fewer))).toHaveLength(STRIPE_FORM_LIMITS.parameterLimit)
  })

  it('refuses a metadata key with a square bracket, top-level or nested, encoded or not', () => {
    for (const body of [
      'metadata%5Bx%5D%5D=1',
      'metadata[a[b]]=1',
      'metadata[[y]=1',
      'source=tok_visa&card[metadata][x]]=1',
    ]) {
      expect(() => parseStripeForm(body), body).toThrow(
        expect.objectContaining({
          status: 400,
          error: expect.objectContaining({ param: 'metadata' }),
        }),
      )
    }
    // Brackets in values, and in the names of other parameters, are Stripe's form as usual.
    expect(parseStripeForm('metadata[note]=%5Bx%5D&card[exp_month]=1')).toEqual({
      metadata: { note: '[x]' },
      card: { exp_month: '1' },
    })
  })
})
