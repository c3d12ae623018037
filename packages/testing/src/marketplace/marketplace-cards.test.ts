import { describe, expect, it } from 'vitest'
import { MARKETPLACE_TEST_CARDS } from './marketplace-test-cards.js'
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

/** Every key of the card view. */
const CARD_FIELDS = [
  '_type',
  '_uris',
  'account',
  'brand',
  'card_type',
  'country_code',
  'created_at',
  'customer',
  'expiration_month',
  'expiration_year',
  'hash',
  'id',
  'is_valid',
  'is_verified',
  'last_four',
  'meta',
  'name',
  'postal_code',
  'postal_code_check',
  'security_code_check',
  'street_address',
  'uri',
]

/** Every key anywhere in a JSON value, to prove that no secret field is ever sent back. */
function keysOf(value: unknown): Set<string> {
  const keys = new Set<string>()
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk)
    else if (node && typeof node === 'object') {
      for (const [key, inner] of Object.entries(node)) {
        keys.add(key)
        walk(inner)
      }
    }
  }
  walk(value)
  return keys
}

describe('tokenize a card (POST /v1/marketplaces/:marketplace/cards)', () => {
  it('answers 201 with the card view of the reference, and never the number or security code', async () => {
    const answer = await api('POST', mp('/cards'), { json: cardForm() })
    expect(answer.status).toBe(201)
    expect(answer.headers.get('x-request-id')).toMatch(/^OHM[0-9a-f]{32}$/)
    const card = answer.body
    expect(Object.keys(card).sort()).toEqual(CARD_FIELDS)
    expect(card).toEqual({
      _type: 'card',
      _uris: {},
      id: expect.stringMatching(/^CC[0-9A-Za-z]{22}$/),
      uri: `/v1/marketplaces/${TEST_MARKETPLACE_ID}/cards/${card.id}`,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      last_four: '1111',
      brand: 'Visa',
      card_type: 'visa',
      expiration_month: 4,
      expiration_year: 2027,
      name: 'Benny Riemann',
      street_address: '167 West 74th Street',
      postal_code: '10023',
      country_code: 'USA',
      meta: {},
      is_valid: true,
      is_verified: true,
      security_code_check: 'passed',
      postal_code_check: 'passed',
      created_at: '2025-06-15T12:00:00.000000Z',
      account: null,
      customer: null,
    })
    expect(answer.text).not.toContain('4111111111111111')
    const keys = keysOf(card)
    for (const secret of ['card_number', 'number', 'security_code', 'phone_number']) {
      expect(keys.has(secret)).toBe(false)
    }
    expect(emulator.state.cards()).toEqual([card])
  })

  it('defaults an optional form: USA, no address, unknown checks, empty meta, valid', async () => {
    const card = await tokenize({
      security_code: undefined,
      name: undefined,
      phone_number: undefined,
      city: undefined,
      region: undefined,
      postal_code: undefined,
      country_code: undefined,
      street_address: undefined,
    })
    expect(card).toMatchObject({
      country_code: 'USA',
      name: null,
      street_address: null,
      postal_code: null,
      meta: {},
      is_valid: true,
      security_code_check: 'unknown',
      postal_code_check: 'unknown',
    })
  })

  it('gives the same hash for the same number and expiry, another for another expiry', async () => {
    const first = await tokenize()
    const again = await tokenize({ name: 'Someone Else' })
    const later = await tokenize({ expiration_year: 2028 })
    expect(again.hash).toBe(first.hash)
    expect(later.hash).not.toBe(first.hash)
    expect(again.id).not.toBe(first.id)
  })

  it.each(MARKETPLACE_TEST_CARDS.filter((card) => card.outcome === 'valid'))(
    'reads brand and last four of $number ($brand)',
    async ({ number, brand }) => {
      const card = await tokenize({ card_number: number, security_code: undefined })
      expect(card.brand).toBe(brand)
      expect(card.last_four).toBe(number.slice(-4))
    },
  )

  it.each([
    ['4111111111111111', 'visa'],
    ['5105105105105100', 'mastercard'],
    ['341111111111111', 'amex'],
    ['6011111111111117', 'discover'],
    ['36227206271667', 'diners'],
  ])('sets the deprecated card_type of %s to %s', async (number, cardType) => {
    const card = await tokenize({ card_number: number, security_code: undefined })
    expect(card.card_type).toBe(cardType)
  })

  it('accepts spaces and dashes in the number, an integer security code and digit strings', async () => {
    const card = await tokenize({
      card_number: '4111 1111-1111 1111',
      security_code: 323,
      expiration_month: '04',
      expiration_year: '2027',
    })
    expect(card).toMatchObject({ last_four: '1111', expiration_month: 4, expiration_year: 2027 })
    expect(card.security_code_check).toBe('passed')
  })

  it('reads a form body: meta[key], is_valid=false and digit strings', async () => {
    const answer = await api('POST', mp('/cards'), {
      form: 'card_number=5105105105105100&expiration_month=12&expiration_year=2030&meta[order]=42&is_valid=false&postal_code=10023',
    })
    expect(answer.status).toBe(201)
    expect(answer.body).toMatchObject({
      brand: 'MasterCard',
      expiration_month: 12,
      expiration_year: 2030,
      meta: { order: '42' },
      is_valid: false,
      country_code: 'USA',
    })
  })

  it('reads numeric form meta keys as a hash, as the same meta in JSON', async () => {
    const card = 'card_number=4111111111111111&expiration_month=12&expiration_year=2030'
    const numbered = Array.from({ length: 21 }, (_, i) => `meta[${i}]=v${i}`).join('&')
    const expected = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [String(i), `v${i}`]))
    const form = await api('POST', mp('/cards'), { form: `${card}&${numbered}` })
    expect(form.status).toBe(201)
    expect(form.body.meta).toEqual(expected)
    const json = await api('POST', mp('/cards'), {
      json: {
        card_number: '4111111111111111',
        expiration_month: 12,
        expiration_year: 2030,
        meta: expected,
      },
    })
    expect(json.body.meta).toEqual(form.body.meta)
    for (const keys of ['meta[0]=a', 'meta[5]=a&meta[1]=b', 'meta[]=a']) {
      const answer = await api('POST', mp('/cards'), { form: `${card}&${keys}` })
      expect(answer.status, keys).toBe(201)
    }
    const update = await api('PUT', mp(`/cards/${form.body.id}`), { form: 'meta[0]=x&meta[1]=y' })
    expect(update.status).toBe(200)
    expect(update.body.meta).toEqual({ '0': 'x', '1': 'y' })
  })

  it('keeps meta keys named like Object.prototype members, form or JSON, and writes no prototype', async () => {
    const keys = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', '0']
    const expected = Object.fromEntries(keys.map((key, i) => [key, `v${i}`]))
    const meta = keys.map((key, i) => `meta[${key}]=v${i}`).join('&')
    const card = 'card_number=4111111111111111&expiration_month=12&expiration_year=2030'
    const form = await api('POST', mp('/cards'), { form: `${card}&${meta}` })
    expect(form.status).toBe(201)
    expect(Object.keys(form.body.meta).sort()).toEqual([...keys].sort())
    expect({ ...form.body.meta }).toEqual(expected)
    const stored = emulator.state.card(form.body.id)!.meta
    expect(Object.hasOwn(stored, '__proto__')).toBe(true)
    expect({ ...stored }).toEqual(expected)

    // JSON.stringify writes an own `__proto__` key like any other.
    const json = await api('POST', mp('/cards'), {
      json: { ...cardForm(), meta: expected },
    })
    expect(json.status).toBe(201)
    expect({ ...json.body.meta }).toEqual(expected)

    const account = await api('POST', mp('/accounts'), {
      form: `name=Jo&card_uri=${encodeURIComponent(json.body.uri)}&${meta}`,
    })
    expect(account.status).toBe(201)
    expect({ ...account.body.meta }).toEqual(expected)

    // An object under `__proto__` is a nested meta (400); a top-level one a field the form lacks.
    const nested = await api('PUT', mp(`/cards/${form.body.id}`), {
      form: 'meta[__proto__][polluted]=yes',
    })
    expect(nested.status).toBe(400)
    const topLevel = await api('PUT', mp(`/cards/${form.body.id}`), {
      form: '__proto__[polluted]=yes&constructor[prototype][polluted]=yes&is_valid=false',
    })
    expect(topLevel.status).toBe(200)
    expect(topLevel.body.is_valid).toBe(false)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false)
  })

  it('keeps `__proto__` as a form meta value and name as sent', async () => {
    const card = 'card_number=4111111111111111&expiration_month=12&expiration_year=2030'
    const answer = await api('POST', mp('/cards'), {
      form: `${card}&meta[a]=__proto__&name=__proto__`,
    })
    expect(answer.status).toBe(201)
    expect(answer.body).toMatchObject({ meta: { a: '__proto__' }, name: '__proto__' })
  })

  it('takes `state` for `region`, and normalizes the country code to upper case', async () => {
    const card = await tokenize({ region: undefined, state: 'CA', country_code: 'gbr' })
    // The form takes city and region, but the reference's card view has neither: a client
    // reading them back from the emulator would find nothing there on the real API.
    expect(card).not.toHaveProperty('region')
    expect(card).not.toHaveProperty('city')
    expect(card.country_code).toBe('GBR')
  })

  it('accepts a name of 128 characters and a phone number of 15', async () => {
    const card = await tokenize({ name: 'n'.repeat(128), phone_number: '+12345678901234' })
    expect(card.name).toHaveLength(128)
  })

  it('tokenizes a card that expires this month', async () => {
    const card = await tokenize({ expiration_month: 6, expiration_year: 2025 })
    expect(card.is_valid).toBe(true)
  })

  it.each<[string, Record<string, unknown>, Record<string, string>]>([
    ['a missing card_number', { card_number: undefined }, { card_number: 'is required' }],
    [
      'a card_number sent as a JSON number',
      { card_number: 4111111111111111 },
      { card_number: 'must be a string of digits' },
    ],
    [
      'a missing expiration_month',
      { expiration_month: undefined },
      { expiration_month: 'is required' },
    ],
    [
      'a missing expiration_year',
      { expiration_year: undefined },
      { expiration_year: 'is required' },
    ],
    ['expiration_month 13', { expiration_month: 13 }, { expiration_month: 'must be from 1 to 12' }],
    ['expiration_month 0', { expiration_month: 0 }, { expiration_month: 'must be from 1 to 12' }],
    [
      'a non-integer expiration_year',
      { expiration_year: 'soon' },
      { expiration_year: 'must be an integer' },
    ],
    ['a two-digit year', { expiration_year: 27 }, { expiration_year: 'must be a four-digit year' }],
    [
      'a name over 128 characters',
      { name: 'n'.repeat(129) },
      { name: 'must be at most 128 characters' },
    ],
    [
      'a phone number over 15 characters',
      { phone_number: '+123456789012345' },
      { phone_number: 'must be at most 15 characters' },
    ],
    [
      'a phone number that is not E.164',
      { phone_number: '(650) 924-1212' },
      { phone_number: 'must be an E.164 phone number, e.g. +16509241212' },
    ],
    [
      'an alpha-2 country code',
      { country_code: 'US' },
      { country_code: 'must be an ISO 3166-1 alpha-3 country code, e.g. USA' },
    ],
    [
      'an unknown alpha-3 country code',
      { country_code: 'XYZ' },
      { country_code: 'must be an ISO 3166-1 alpha-3 country code, e.g. USA' },
    ],
    [
      'a postal code without a country code',
      { country_code: null },
      { postal_code: 'requires country_code' },
    ],
    [
      'a street address without a postal code',
      { postal_code: undefined },
      { street_address: 'requires postal_code' },
    ],
    [
      'both region and state',
      { region: 'NY', state: 'NY' },
      { region: 'exactly one of region and state may be given' },
    ],
    [
      'a nested meta',
      { meta: { deep: { er: 'x' } } },
      { meta: 'the value of "deep" must be a string (meta is single-level)' },
    ],
    [
      'a nested meta under a key that is a card number',
      { meta: { '4111111111111111': { nested: 'x' } } },
      { meta: 'the value of "•••• 1111" must be a string (meta is single-level)' },
    ],
    [
      'a meta that is not an object',
      { meta: ['a'] },
      { meta: 'must be a single-level mapping of string keys to string values' },
    ],
    [
      'an is_valid that is not a boolean',
      { is_valid: 'maybe' },
      { is_valid: 'must be true or false' },
    ],
    ['a city that is not a string', { city: 7 }, { city: 'must be a string' }],
    [
      'a security code that is neither a string nor an integer',
      { security_code: { code: 1 } },
      { security_code: 'must be a string of 3 or 4 digits' },
    ],
  ])('answers 400 for %s, naming the field in extras', async (_, overrides, extras) => {
    const answer = await api('POST', mp('/cards'), { json: cardForm(overrides) })
    expectError(answer, 400, 'Bad Request', 'request', 'request')
    expect(answer.body.extras).toEqual(extras)
    for (const [field, problem] of Object.entries(extras)) {
      expect(answer.body.description).toContain(`Invalid field [${field}] - ${problem}`)
    }
    expect(answer.text).not.toContain('4111111111111111')
    expect(emulator.state.cards()).toEqual([])
  })

  it('collects every problem of a form into one 400', async () => {
    const answer = await api('POST', mp('/cards'), {
      json: { card_number: '4111111111111111', expiration_month: 14, name: 'n'.repeat(200) },
    })
    expect(answer.status).toBe(400)
    expect(Object.keys(answer.body.extras).sort()).toEqual([
      'expiration_month',
      'expiration_year',
      'name',
    ])
  })

  it.each<[string, Record<string, unknown>]>([
    ['a number failing the Luhn check', { card_number: '4111111111111112' }],
    ['the not-validated test number', { card_number: '4222222222222220' }],
    ['a number too short to be a card', { card_number: '4111' }],
    ['a number with letters', { card_number: '4111abcd11111111' }],
    ['an expired card', { expiration_month: 5, expiration_year: 2025 }],
    ['a security code of 2 digits', { security_code: '32' }],
    ['a security code with letters', { security_code: '3a3' }],
    [
      'a 3-digit security code on American Express',
      { card_number: '341111111111111', security_code: '123' },
    ],
    [
      'the failing-security-code test number with a code',
      { card_number: '5112000200000002', security_code: '123' },
    ],
  ])('answers 409 card-not-validated for %s, storing nothing', async (_, overrides) => {
    const answer = await api('POST', mp('/cards'), { json: cardForm(overrides) })
    expectError(answer, 409, 'Conflict', 'card-not-validated', 'logical')
    expect(answer.body.description).toContain(
      'The card could not be validated -- either the card number or security code may be wrong.',
    )
    expect(typeof answer.body.additional).toBe('string')
    const number = String(overrides.card_number ?? '4111111111111111').replace(/\D/g, '')
    expect(answer.text).not.toContain(number)
    expect(emulator.state.cards()).toEqual([])
  })

  it('accepts a 4-digit code on American Express, and the failing-code number without a code', async () => {
    const amex = await tokenize({ card_number: '341111111111111', security_code: '1234' })
    expect(amex.security_code_check).toBe('passed')
    const noCode = await tokenize({ card_number: '5112000200000002', security_code: undefined })
    expect(noCode.security_code_check).toBe('unknown')
  })

  it('tokenizes the declined test number: the decline comes at association', async () => {
    const card = await tokenize({ card_number: '4444444444444448' })
    expect(card).toMatchObject({ last_four: '4448', is_valid: true, account: null })
  })
})

describe('show a card (GET /v1/marketplaces/:marketplace/cards/:card)', () => {
  it('answers the card as tokenized', async () => {
    const card = await tokenize()
    const answer = await api('GET', mp(`/cards/${card.id}`))
    expect(answer.status).toBe(200)
    expect(answer.body).toEqual(card)
  })

  it('answers HEAD with the headers and no body', async () => {
    const card = await tokenize()
    const answer = await api('HEAD', mp(`/cards/${card.id}`))
    expect(answer.status).toBe(200)
    expect(answer.text).toBe('')
    expect(answer.headers.get('x-request-id')).toMatch(/^OHM/)
  })

  it('answers 404 not-found for an unknown card', async () => {
    const answer = await api('GET', mp('/cards/CC000000000000000000000'))
    expectError(answer, 404, 'Not Found', 'not-found', 'request')
    expect(answer.body.description).toContain('CC000000000000000000000')
  })

  it('answers 404 for a card of another marketplace', async () => {
    const other = emulator.seed.marketplace()
    const card = emulator.seed.card({ marketplace: other.id })
    const answer = await api('GET', mp(`/cards/${card.id}`))
    expectError(answer, 404, 'Not Found', 'not-found', 'request')
  })
})

describe('list cards (GET /v1/marketplaces/:marketplace/cards)', () => {
  const base = `/v1/marketplaces/${TEST_MARKETPLACE_ID}/cards`
  const PAGE_URIS = {
    first_uri: { _type: 'page', key: 'first' },
    next_uri: { _type: 'page', key: 'next' },
    previous_uri: { _type: 'page', key: 'previous' },
    last_uri: { _type: 'page', key: 'last' },
  }

  it('answers an empty page as the reference shows it', async () => {
    const answer = await api('GET', mp('/cards?limit=2&offset=0'))
    expect(answer.status).toBe(200)
    expect(answer.body).toEqual({
      _type: 'page',
      _uris: PAGE_URIS,
      items: [],
      uri: `${base}?limit=2&offset=0`,
      first_uri: `${base}?limit=2&offset=0`,
      previous_uri: null,
      next_uri: null,
      last_uri: `${base}?limit=2&offset=0`,
      limit: 2,
      offset: 0,
      total: 0,
    })
  })

  it('defaults to limit 10 and offset 0', async () => {
    const answer = await api('GET', mp('/cards'))
    expect(answer.body).toMatchObject({ limit: 10, offset: 0, uri: `${base}?limit=10&offset=0` })
  })

  it('pages with limit and offset, oldest first, with first, previous, next and last uris', async () => {
    const ids: string[] = []
    for (let index = 0; index < 5; index++) ids.push((await tokenize()).id)

    const first = await api('GET', mp('/cards?limit=2&offset=0'))
    expect(first.body).toMatchObject({
      total: 5,
      limit: 2,
      offset: 0,
      uri: `${base}?limit=2&offset=0`,
      first_uri: `${base}?limit=2&offset=0`,
      previous_uri: null,
      next_uri: `${base}?limit=2&offset=2`,
      last_uri: `${base}?limit=2&offset=4`,
    })
    expect(first.body.items.map((card: { id: string }) => card.id)).toEqual(ids.slice(0, 2))

    const middle = await api('GET', mp('/cards?limit=2&offset=2'))
    expect(middle.body).toMatchObject({
      previous_uri: `${base}?limit=2&offset=0`,
      next_uri: `${base}?limit=2&offset=4`,
      last_uri: `${base}?limit=2&offset=4`,
    })

    const last = await api('GET', mp('/cards?limit=2&offset=4'))
    expect(last.body).toMatchObject({
      previous_uri: `${base}?limit=2&offset=2`,
      next_uri: null,
      last_uri: `${base}?limit=2&offset=4`,
    })
    expect(last.body.items.map((card: { id: string }) => card.id)).toEqual([ids[4]])
  })

  it('reaches every card by following next_uri', async () => {
    const ids: string[] = []
    for (let index = 0; index < 7; index++) ids.push((await tokenize()).id)
    const seen: string[] = []
    let next: string | null = mp('/cards?limit=3')
    while (next) {
      const page: { body: { items: Array<{ id: string }>; next_uri: string | null } } = await api(
        'GET',
        next,
      )
      seen.push(...page.body.items.map((card) => card.id))
      next = page.body.next_uri
    }
    expect(seen).toEqual(ids)
  })

  it('keeps an unaligned offset: previous_uri stops at 0', async () => {
    for (let index = 0; index < 4; index++) await tokenize()
    const answer = await api('GET', mp('/cards?limit=3&offset=1'))
    expect(answer.body).toMatchObject({
      previous_uri: `${base}?limit=3&offset=0`,
      next_uri: null,
      last_uri: `${base}?limit=3&offset=3`,
      items: [expect.any(Object), expect.any(Object), expect.any(Object)],
    })
  })

  it('lists only this marketplace’s cards', async () => {
    const other = emulator.seed.marketplace()
    emulator.seed.card({ marketplace: other.id })
    const mine = await tokenize()
    const answer = await api('GET', mp('/cards'))
    expect(answer.body.items.map((card: { id: string }) => card.id)).toEqual([mine.id])
  })

  it.each([
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=ten', 'limit'],
    ['offset=-1', 'offset'],
  ])('answers 400 for %s', async (query, field) => {
    const answer = await api('GET', mp(`/cards?${query}`))
    expectError(answer, 400, 'Bad Request', 'request', 'request')
    expect(Object.keys(answer.body.extras)).toEqual([field])
  })
})

describe('update a card (PUT /v1/marketplaces/:marketplace/cards/:card)', () => {
  it('replaces meta, and leaves everything else', async () => {
    const card = await tokenize({ meta: { a: '1' } })
    const first = await api('PUT', mp(`/cards/${card.id}`), {
      json: { meta: { 'my-own-field': 'Customer request' } },
    })
    expect(first.status).toBe(200)
    expect(first.body).toEqual({ ...card, meta: { 'my-own-field': 'Customer request' } })
    expect(emulator.state.card(card.id)?.meta).toEqual({ 'my-own-field': 'Customer request' })
  })

  it('ignores fields the update form does not have, as in the reference example', async () => {
    const card = await tokenize()
    const answer = await api('PUT', mp(`/cards/${card.id}`), {
      json: { ...card, name: 'Changed', account: null, customer: null, is_valid: 'False' },
    })
    expect(answer.status).toBe(200)
    expect(answer.body).toMatchObject({ name: 'Benny Riemann', is_valid: false })
  })

  it('invalidates for good: re-validating answers 409 card-not-valid', async () => {
    const card = await tokenize()
    const invalidated = await api('PUT', mp(`/cards/${card.id}`), { json: { is_valid: false } })
    expect(invalidated.body.is_valid).toBe(false)

    const again = await api('PUT', mp(`/cards/${card.id}`), { json: { is_valid: false } })
    expect(again.status).toBe(200)

    const revalidate = await api('PUT', mp(`/cards/${card.id}`), {
      json: { is_valid: true, meta: { changed: 'yes' } },
    })
    expectError(revalidate, 409, 'Conflict', 'card-not-valid', 'logical')
    // Nothing of the refused request was applied.
    expect(emulator.state.card(card.id)).toMatchObject({ is_valid: false, meta: {} })
  })

  it('answers 400 for a malformed update', async () => {
    const card = await tokenize()
    const answer = await api('PUT', mp(`/cards/${card.id}`), {
      json: { is_valid: 'nope', meta: 'x' },
    })
    expectError(answer, 400, 'Bad Request', 'request', 'request')
    expect(Object.keys(answer.body.extras).sort()).toEqual(['is_valid', 'meta'])
  })

  it('answers 404 for an unknown card', async () => {
    const answer = await api('PUT', mp('/cards/CCnope'), { json: { meta: {} } })
    expectError(answer, 404, 'Not Found', 'not-found', 'request')
  })
})

describe('associate a card with an account', () => {
  it('associates with account_uri: the card takes the account form of its uri, with account and customer', async () => {
    const account = emulator.seed.account({ name: 'Benny Riemann' })
    const card = await tokenize()
    const answer = await api('PUT', mp(`/cards/${card.id}`), {
      json: { account_uri: account.uri },
    })
    expect(answer.status).toBe(200)
    expect(answer.body).toMatchObject({
      id: card.id,
      uri: `${account.uri}/cards/${card.id}`,
      account: { ...account, roles: ['buyer'] },
      customer: {
        _type: 'customer',
        id: expect.stringMatching(/^CU[0-9A-Za-z]{22}$/),
        source_uri: `/v1/customers/${account.id}/cards/${card.id}`,
      },
    })
    expect(emulator.state.accountCards(account.id).map((entry) => entry.id)).toEqual([card.id])
    // The marketplace path still answers the card, with its new uri.
    const shown = await api('GET', mp(`/cards/${card.id}`))
    expect(shown.body.uri).toBe(`${account.uri}/cards/${card.id}`)
  })

  it('accepts `account: { uri }`, a uri without the leading slash, and customer_uri', async () => {
    const account = emulator.seed.account()
    const one = await tokenize()
    const two = await tokenize()
    const three = await tokenize()
    expect(
      (await api('PUT', mp(`/cards/${one.id}`), { json: { account: { uri: account.uri } } }))
        .status,
    ).toBe(200)
    expect(
      (await api('PUT', mp(`/cards/${two.id}`), { json: { account_uri: account.uri.slice(1) } }))
        .status,
    ).toBe(200)
    expect(
      (
        await api('PUT', mp(`/cards/${three.id}`), {
          json: { customer_uri: account.customer_uri },
        })
      ).status,
    ).toBe(200)
    expect(emulator.state.accountCards(account.id)).toHaveLength(3)
  })

  it('answers 400 when more than one of account_uri and account is given', async () => {
    const account = emulator.seed.account()
    const card = await tokenize()
    const answer = await api('PUT', mp(`/cards/${card.id}`), {
      json: { account_uri: account.uri, account: { uri: account.uri } },
    })
    expectError(answer, 400, 'Bad Request', 'request', 'request')
    expect(emulator.state.card(card.id)?.account).toBeNull()
  })

  it('answers 409 card-already-funding-src for a card already associated, with any account', async () => {
    const first = emulator.seed.account()
    const second = emulator.seed.account()
    const card = emulator.seed.card({ account: first.id })
    for (const target of [first, second]) {
      const answer = await api('PUT', mp(`/cards/${card.id}`), {
        json: { account_uri: target.uri },
      })
      expectError(answer, 409, 'Conflict', 'card-already-funding-src', 'logical')
    }
    const posted = await api('POST', mp(`/accounts/${second.id}/cards`), {
      json: { card_uri: card.uri },
    })
    expectError(posted, 409, 'Conflict', 'card-already-funding-src', 'logical')
    expect(emulator.state.card(card.id)?.account?.id).toBe(first.id)
  })

  it('takes back an associated card as read: its own `account` is no re-association, another is 409', async () => {
    const owner = emulator.seed.account()
    const other = emulator.seed.account()
    const seeded = emulator.seed.card({ account: owner.id })
    const newer = emulator.seed.card({ account: owner.id })
    for (const uri of [mp(`/cards/${seeded.id}`), mp(`/accounts/${owner.id}/cards/${seeded.id}`)]) {
      const read = await api('GET', uri)
      const answer = await api('PUT', uri, {
        json: { ...read.body, meta: { nickname: 'work' } },
      })
      expect(answer.status).toBe(200)
      expect(answer.body).toEqual({ ...read.body, meta: { nickname: 'work' } })
    }
    // Not re-associated: the association order and the chosen card (the newest) are kept.
    expect(emulator.state.accountCards(owner.id).map((card) => card.id)).toEqual([
      seeded.id,
      newer.id,
    ])
    expect(emulator.state.defaultCard(owner.id)?.id).toBe(newer.id)

    const read = await api('GET', mp(`/cards/${seeded.id}`))
    const moved = await api('PUT', mp(`/cards/${seeded.id}`), {
      json: { ...read.body, account: { ...read.body.account, uri: other.uri }, meta: {} },
    })
    expectError(moved, 409, 'Conflict', 'card-already-funding-src', 'logical')
    expect(emulator.state.card(seeded.id)).toMatchObject({
      account: { id: owner.id },
      meta: { nickname: 'work' },
    })
  })

  it('answers 409 cannot-associate-card for a card tokenized on another marketplace', async () => {
    const other = emulator.seed.marketplace()
    const foreign = await api('POST', mp('/cards', other.id), {
      json: cardForm(),
      secret: other.secret,
    })
    expect(foreign.status).toBe(201)
    const account = emulator.seed.account()

    const posted = await api('POST', mp(`/accounts/${account.id}/cards`), {
      json: { card_uri: foreign.body.uri },
    })
    expectError(posted, 409, 'Conflict', 'cannot-associate-card', 'logical')

    // The card id under this marketplace's path is still the other marketplace's card.
    const disguised = await api('POST', mp(`/accounts/${account.id}/cards`), {
      json: { uri: mp(`/cards/${foreign.body.id}`) },
    })
    expectError(disguised, 409, 'Conflict', 'cannot-associate-card', 'logical')

    const onAccount = await api('PUT', mp(`/accounts/${account.id}`), {
      json: { card_uri: foreign.body.uri },
    })
    expectError(onAccount, 409, 'Conflict', 'cannot-associate-card', 'logical')

    // This marketplace's card path does not show it at all.
    const put = await api('PUT', mp(`/cards/${foreign.body.id}`), {
      json: { account_uri: account.uri },
    })
    expectError(put, 404, 'Not Found', 'not-found', 'request')
    expect(emulator.state.accountCards(account.id)).toEqual([])
  })

  it('answers 402 card-declined for the declined test number, and leaves the card unassociated', async () => {
    const account = emulator.seed.account()
    const card = await tokenize({ card_number: '4444444444444448' })
    const answer = await api('PUT', mp(`/cards/${card.id}`), {
      json: { account_uri: account.uri },
    })
    expectError(answer, 402, 'Payment Required', 'card-declined', 'banking')
    expect(answer.body.description).toContain('This card was declined by the processor.')
    expect(answer.text).not.toContain('4444444444444448')
    expect(emulator.state.card(card.id)?.account).toBeNull()
    expect(emulator.state.account(account.id)?.roles).toEqual([])
  })

  it('answers 409 card-not-valid for an invalidated card', async () => {
    const account = emulator.seed.account()
    const card = await tokenize({ is_valid: false })
    const answer = await api('PUT', mp(`/cards/${card.id}`), {
      json: { account_uri: account.uri },
    })
    expectError(answer, 409, 'Conflict', 'card-not-valid', 'logical')
  })

  it('answers 404 for an unknown account and 400 for a uri that is not an account', async () => {
    const card = await tokenize()
    const unknown = await api('PUT', mp(`/cards/${card.id}`), {
      json: { account_uri: mp('/accounts/ACnope') },
    })
    expectError(unknown, 404, 'Not Found', 'not-found', 'request')
    const malformed = await api('PUT', mp(`/cards/${card.id}`), {
      json: { account_uri: '/v1/somewhere/else' },
    })
    expectError(malformed, 400, 'Bad Request', 'request', 'request')
    expect(Object.keys(malformed.body.extras)).toEqual(['account_uri'])
  })

  it('answers 404 for an account of another marketplace', async () => {
    const other = emulator.seed.marketplace()
    const foreign = emulator.seed.account({ marketplace: other.id })
    const card = await tokenize()
    const answer = await api('PUT', mp(`/cards/${card.id}`), {
      json: { account_uri: foreign.uri },
    })
    expectError(answer, 404, 'Not Found', 'not-found', 'request')
  })
})

describe('the cards of an account (/v1/marketplaces/:marketplace/accounts/:account/cards)', () => {
  it('creates and associates a card from the create form (201)', async () => {
    const account = emulator.seed.account()
    const answer = await api('POST', mp(`/accounts/${account.id}/cards`), { json: cardForm() })
    expect(answer.status).toBe(201)
    expect(answer.body).toMatchObject({
      uri: `${account.uri}/cards/${answer.body.id}`,
      last_four: '1111',
      account: { id: account.id, roles: ['buyer'] },
    })
    expect(answer.text).not.toContain('4111111111111111')
  })

  it('associates an existing card by uri or card_uri', async () => {
    const account = emulator.seed.account()
    const one = await tokenize()
    const two = await tokenize()
    const byUri = await api('POST', mp(`/accounts/${account.id}/cards`), {
      json: { uri: one.uri },
    })
    const byCardUri = await api('POST', mp(`/accounts/${account.id}/cards`), {
      json: { card_uri: two.uri },
    })
    expect([byUri.status, byCardUri.status]).toEqual([201, 201])
    expect(emulator.state.accountCards(account.id).map((card) => card.id)).toEqual([one.id, two.id])
  })

  it('answers 400 unless exactly one of uri, card_uri and a card form is given', async () => {
    const account = emulator.seed.account()
    const card = await tokenize()
    for (const json of [
      { uri: card.uri, card_uri: card.uri },
      { uri: card.uri, ...cardForm() },
    ]) {
      const answer = await api('POST', mp(`/accounts/${account.id}/cards`), { json })
      expectError(answer, 400, 'Bad Request', 'request', 'request')
    }
    expect(emulator.state.accountCards(account.id)).toEqual([])
  })

  it('answers 409 card-not-validated and 402 card-declined from the create form, storing nothing', async () => {
    const account = emulator.seed.account()
    const invalid = await api('POST', mp(`/accounts/${account.id}/cards`), {
      json: cardForm({ card_number: '4222222222222220' }),
    })
    expectError(invalid, 409, 'Conflict', 'card-not-validated', 'logical')
    const declined = await api('POST', mp(`/accounts/${account.id}/cards`), {
      json: cardForm({ card_number: '4444444444444448' }),
    })
    expectError(declined, 402, 'Payment Required', 'card-declined', 'banking')
    expect(emulator.state.cards()).toEqual([])
  })

  it('answers 404 for an unknown account', async () => {
    const answer = await api('POST', mp('/accounts/ACnope/cards'), { json: cardForm() })
    expectError(answer, 404, 'Not Found', 'not-found', 'request')
    expect(emulator.state.cards()).toEqual([])
  })

  it('lists the account’s cards in association order, with paging uris under the account', async () => {
    const account = emulator.seed.account()
    const other = emulator.seed.account()
    const ids = [1, 2, 3].map(() => emulator.seed.card({ account: account.id }).id)
    emulator.seed.card({ account: other.id })
    emulator.seed.card()
    const base = `${account.uri}/cards`
    const answer = await api('GET', mp(`/accounts/${account.id}/cards?limit=2`))
    expect(answer.status).toBe(200)
    expect(answer.body).toMatchObject({
      _type: 'page',
      total: 3,
      uri: `${base}?limit=2&offset=0`,
      first_uri: `${base}?limit=2&offset=0`,
      next_uri: `${base}?limit=2&offset=2`,
      previous_uri: null,
      last_uri: `${base}?limit=2&offset=2`,
    })
    expect(answer.body.items.map((card: { id: string }) => card.id)).toEqual(ids.slice(0, 2))
    expect(answer.body.items[0]).toMatchObject({
      uri: `${base}/${ids[0]}`,
      account: { id: account.id },
    })
  })

  it('shows an account’s card; another account’s or an unassociated card is card-not-associated', async () => {
    const account = emulator.seed.account()
    const other = emulator.seed.account()
    const mine = emulator.seed.card({ account: account.id })
    const theirs = emulator.seed.card({ account: other.id })
    const loose = emulator.seed.card()

    const shown = await api('GET', mp(`/accounts/${account.id}/cards/${mine.id}`))
    expect(shown.status).toBe(200)
    expect(shown.body).toEqual(mine)

    for (const card of [theirs, loose]) {
      const answer = await api('GET', mp(`/accounts/${account.id}/cards/${card.id}`))
      expectError(answer, 409, 'Conflict', 'card-not-associated', 'logical')
    }
    const unknown = await api('GET', mp(`/accounts/${account.id}/cards/CCnope`))
    expectError(unknown, 404, 'Not Found', 'not-found', 'request')
    const noAccount = await api('GET', mp(`/accounts/ACnope/cards/${mine.id}`))
    expectError(noAccount, 404, 'Not Found', 'not-found', 'request')
  })

  it('updates an account’s card: meta and invalidation; not another account’s', async () => {
    const account = emulator.seed.account()
    const other = emulator.seed.account()
    const mine = emulator.seed.card({ account: account.id })
    const theirs = emulator.seed.card({ account: other.id })

    const updated = await api('PUT', mp(`/accounts/${account.id}/cards/${mine.id}`), {
      json: { meta: { nickname: 'work' }, is_valid: false },
    })
    expect(updated.status).toBe(200)
    expect(updated.body).toMatchObject({ meta: { nickname: 'work' }, is_valid: false })

    const refused = await api('PUT', mp(`/accounts/${account.id}/cards/${theirs.id}`), {
      json: { is_valid: false },
    })
    expectError(refused, 409, 'Conflict', 'card-not-associated', 'logical')
    expect(emulator.state.card(theirs.id)?.is_valid).toBe(true)

    const revalidate = await api('PUT', mp(`/accounts/${account.id}/cards/${mine.id}`), {
      json: { is_valid: true },
    })
    expectError(revalidate, 409, 'Conflict', 'card-not-valid', 'logical')
  })
})

describe('the account’s chosen card (customer.source_uri)', () => {
  it('is the most recently associated valid card; invalidating it falls back; none is null', async () => {
    const account = emulator.seed.account()
    const sourceOf = async (cardId: string) =>
      (await api('GET', mp(`/accounts/${account.id}/cards/${cardId}`))).body.customer.source_uri

    const first = emulator.seed.card({ account: account.id })
    expect(await sourceOf(first.id)).toBe(`/v1/customers/${account.id}/cards/${first.id}`)

    const second = await api('POST', mp(`/accounts/${account.id}/cards`), { json: cardForm() })
    expect(second.body.customer.source_uri).toBe(
      `/v1/customers/${account.id}/cards/${second.body.id}`,
    )
    expect(await sourceOf(first.id)).toBe(`/v1/customers/${account.id}/cards/${second.body.id}`)
    expect(emulator.state.defaultCard(account.id)?.id).toBe(second.body.id)

    await api('PUT', mp(`/cards/${second.body.id}`), { json: { is_valid: false } })
    expect(await sourceOf(second.body.id)).toBe(`/v1/customers/${account.id}/cards/${first.id}`)
    expect(emulator.state.defaultCard(account.id)?.id).toBe(first.id)

    await api('PUT', mp(`/cards/${first.id}`), { json: { is_valid: false } })
    expect(await sourceOf(first.id)).toBeNull()
    expect(emulator.state.defaultCard(account.id)).toBeUndefined()
  })

  it('follows association order, not tokenization order', async () => {
    const account = emulator.seed.account()
    const older = await tokenize()
    const newer = await tokenize()
    await api('PUT', mp(`/cards/${newer.id}`), { json: { account_uri: account.uri } })
    await api('PUT', mp(`/cards/${older.id}`), { json: { account_uri: account.uri } })
    expect(emulator.state.defaultCard(account.id)?.id).toBe(older.id)
  })
})
