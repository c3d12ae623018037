import { inspect } from 'node:util'
import { type CardportError, isCardportError } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import {
  ENTITY_CARD_NUMBERS,
  holdsCardDigits,
  TAG_SPLIT_CARD_NUMBERS,
} from './__fixtures__/entity-card-numbers.js'
import {
  type MapErrorContext,
  MarketplaceApiError,
  mapMarketplaceError,
  retryAfterMs,
} from './map-error.js'

/** An error body as the reference's errors.rst describes it. */
function body(status: number, category: string, categoryType: string, extra: object = {}) {
  return {
    status: 'Conflict',
    status_code: String(status),
    category_code: category,
    category_type: categoryType,
    description: `Description of ${category}. Your request id is OHMf0e1a2b3c4d5.`,
    additional: null,
    extras: {},
    request_id: 'OHMf0e1a2b3c4d5',
    ...extra,
  }
}

function apiError(
  status: number,
  errorBody: ReturnType<typeof body> | null,
  init: { retryAfter?: string; requestId?: string } = {},
) {
  return new MarketplaceApiError({
    status,
    body: errorBody,
    target: 'POST /v1/marketplaces/MP1/accounts/AC1/cards',
    requestId: init.requestId ?? errorBody?.request_id,
    retryAfter: init.retryAfter,
  })
}

describe('mapMarketplaceError: the reference error codes', () => {
  it.each([
    [402, 'card-declined', 'banking', 'card_declined'],
    [402, 'authorization-failed', 'banking', 'card_declined'],
    [402, 'funding-destination-declined', 'banking', 'card_declined'],
    [409, 'card-not-validated', 'logical', 'card_invalid'],
    [409, 'address-verification-failed', 'logical', 'card_invalid'],
    [409, 'card-already-funding-src', 'logical', 'conflict'],
    [409, 'cannot-associate-card', 'logical', 'conflict'],
    [409, 'card-not-valid', 'logical', 'conflict'],
    [409, 'card-not-associated', 'logical', 'card_not_found'],
    [409, 'duplicate-email-address', 'logical', 'conflict'],
    [400, 'incomplete-account-info', 'request', 'invalid_request'],
    [400, 'precog-bad-request', 'request', 'invalid_request'],
  ] as const)('%i %s → %s', (status, category, categoryType, code) => {
    const source = apiError(status, body(status, category, categoryType))
    const error = mapMarketplaceError(source)
    expect(error?.code).toBe(code)
    expect(error?.status).toBe(status)
    expect(error?.providerCode).toBe(category)
    expect(error?.provider).toBe('marketplace')
    expect(error?.requestId).toBe('OHMf0e1a2b3c4d5')
    expect(error?.details).toMatchObject({ categoryType })
    expect(error?.cause).toBe(source)
    expect(error?.message).toContain(`Description of ${category}`)
  })

  it.each([
    [401, 'authentication'],
    [403, 'permission'],
    [405, 'invalid_request'],
    [500, 'provider_unavailable'],
    [502, 'provider_unavailable'],
    [503, 'provider_unavailable'],
    [504, 'provider_unavailable'],
  ] as const)('status %i without a known category → %s', (status, code) => {
    const error = mapMarketplaceError(apiError(status, body(status, 'something-else', 'request')))
    expect(error?.code).toBe(code)
    expect(error?.retryable).toBe(code === 'provider_unavailable')
  })

  it('a 404 is card_not_found, or owner_not_found where the account was looked up', () => {
    const notFound = body(404, 'not-found', 'request')
    expect(mapMarketplaceError(apiError(404, notFound))?.code).toBe('card_not_found')
    expect(mapMarketplaceError(apiError(404, notFound), { notFound: 'owner' })?.code).toBe(
      'owner_not_found',
    )
  })

  it('keeps `additional` and `extras` in details', () => {
    const error = mapMarketplaceError(
      apiError(
        409,
        body(409, 'card-not-validated', 'logical', {
          additional: 'Check the security code',
          extras: { field: 'security_code_check' },
        }),
      ),
    )
    expect(error?.details).toEqual({
      additional: 'Check the security code',
      extras: { field: 'security_code_check' },
      categoryType: 'logical',
    })
  })

  it('masks a card number quoted back, and drops card-number and CVC fields of extras', () => {
    const source = apiError(
      409,
      body(409, 'card-not-validated', 'logical', {
        description: 'Card 4111111111111111 could not be validated',
        additional: 'number 4111 1111 1111 1111 with code 323',
        extras: {
          card_number: '4111111111111111',
          security_code: '323',
          // The account forms name a card's fields under `card.`: the CVC is still one.
          'card.security_code': '323',
          'card.CVV': '4321',
          cvc: '987',
          'card.cvc': '987',
          nested: { note: '4111-1111-1111-1111' },
        },
      }),
    )
    const error = mapMarketplaceError(source)!
    const everything = JSON.stringify({
      message: error.message,
      details: error.details,
      cause: (error.cause as MarketplaceApiError).body,
      json: error.toJSON(),
    })
    expect(everything).not.toMatch(/4111[ -]?1111[ -]?1111[ -]?1111/)
    expect(everything).not.toContain('987')
    expect(error.details?.extras).toEqual({
      card_number: '[redacted]',
      security_code: '[redacted]',
      'card.security_code': '[redacted]',
      'card.CVV': '[redacted]',
      cvc: '[redacted]',
      'card.cvc': '[redacted]',
      nested: { note: '•••• 1111' },
    })
    expect((error.cause as MarketplaceApiError).body?.extras).toMatchObject({
      cvc: '[redacted]',
      'card.cvc': '[redacted]',
    })
  })

  // A server that could not read the request quotes it back, whole or in part, as text: the
  // CVC there is no field of its own to drop, and too short to be found as a card number is.
  it.each([
    ['a form', { additional: 'number=4111111111111111&cvc=123' }, 'cvc=•••'],
    [
      'JSON',
      { description: 'Could not read {"card_number":"4111111111111111","security_code":"123"}' },
      '"security_code":"•••"',
    ],
    [
      'JSON inside a JSON string',
      { extras: { raw: '{\\"card_number\\":\\"4111111111111111\\",\\"cvv\\":\\"123\\"}' } },
      '\\"cvv\\":\\"•••\\"',
    ],
    [
      'a form in extras, under a prefix',
      { extras: { form: 'card[number]=4111111111111111&card[cvc]=123' } },
      'card[cvc]=•••',
    ],
    [
      'HTML',
      { description: '<p>Bad {&quot;security_code&quot;: &quot;123&quot;}</p>' },
      '&quot;security_code&quot;: &quot;•••&quot;',
    ],
  ])('masks a security code written as text in %s, and keeps its key', (_, fields, kept) => {
    const source = apiError(400, body(400, 'request', 'request', fields))
    const error = mapMarketplaceError(source)!
    const everything = [
      error.message,
      JSON.stringify(error.details),
      JSON.stringify(error.cause),
      inspect(error, { depth: null }),
    ].join('\n')
    expect(everything).not.toMatch(/(?<![0-9A-Za-z])123(?![0-9A-Za-z])/)
    expect(everything).not.toContain('4111111111111111')
    // The key stays, so the text still names the field: `kept` as the cause's body, in JSON.
    expect(JSON.stringify(source.body)).toContain(JSON.stringify(kept).slice(1, -1))
    expect(error).toMatchObject({ code: 'invalid_request', providerCode: 'request' })
  })

  // The text is masked as written, then read as HTML for the message: a code whose quotes, `=`
  // or `:` are other character references only shows once read, and was quoted in clear.
  it.each([
    [
      'decimal references for the quotes',
      'Could not read the card: {&#34;card_number&#34;: &#34;4111111111111111&#34;, &#34;security_code&#34;: &#34;987&#34;}',
      '"security_code": "•••"',
    ],
    [
      'a decimal reference for =',
      '<p>Invalid field security_code&#61;987</p>',
      'security_code=•••',
    ],
    ['a named reference for =', '<p>Invalid field cvc&equals;987</p>', 'cvc=•••'],
    [
      'hexadecimal references for the quotes',
      'Rejected: {&#x22;cvc&#x22;:&#x22;987&#x22;}',
      '"cvc":"•••"',
    ],
    ['a tag before the digits', '<p>Invalid field cvv=<b>987</b></p>', 'cvv= •••'],
    ['a reference for a digit', 'Invalid field cvc=&#57;87', 'cvc=•••'],
  ])(
    'masks a security code written with %s, in the message, details and cause',
    (_, text, kept) => {
      const source = apiError(
        400,
        body(400, 'request', 'request', {
          description: text,
          additional: text,
          extras: { note: text },
        }),
      )
      const error = mapMarketplaceError(source)!
      const everything = [
        error.message,
        JSON.stringify(error.details),
        JSON.stringify(error.cause),
        JSON.stringify(source.body),
        inspect(error, { depth: null }),
      ].join('\n')
      expect(everything).not.toMatch(/(?<![0-9A-Za-z#])987(?![0-9A-Za-z])/)
      expect(everything).not.toContain('&#57;87')
      expect(everything).not.toContain('4111111111111111')
      // The message and the kept texts name the field, read as a page reads them.
      expect(error.message).toContain(kept)
      expect(error.details?.additional).toContain(kept)
      expect(source.body?.description).toContain(kept)
    },
  )

  it('keeps a text as the server wrote it when reading it as HTML shows no security code', () => {
    const text = '<p>Invalid field &quot;postal_code&quot;&#61;&#34;10023&#34;</p>'
    const source = apiError(400, body(400, 'request', 'request', { additional: text }))
    expect(mapMarketplaceError(source)?.details?.additional).toBe(text)
  })

  it('masks the keys of the body, as a server keys extras by what it refused', () => {
    const source = apiError(
      400,
      body(400, 'request', 'request', {
        extras: {
          '4111111111111111': 'is not a valid card_number',
          'cvc=987': 'bad',
          nested: { '4111 1111 1111 1111': ['x'] },
        },
      }),
    )
    const error = mapMarketplaceError(source)!
    expect(error.details?.extras).toEqual({
      '•••• 1111': 'is not a valid card_number',
      'cvc=•••': 'bad',
      nested: { '•••• 1111': ['x'] },
    })
    const everything = [
      JSON.stringify(error.details),
      JSON.stringify(source.body),
      inspect(error, { depth: null }),
    ].join('\n')
    expect(everything).not.toMatch(/4111[ -]?1111[ -]?1111[ -]?1111/)
    expect(everything).not.toContain('987')
  })

  it('leaves the digits of a field that only starts like a security code', () => {
    const error = mapMarketplaceError(
      apiError(
        400,
        body(400, 'request', 'request', {
          additional: 'security_code_check: 1, cvc_attempts=2, discvc=3',
        }),
      ),
    )!
    expect(error.details?.additional).toBe('security_code_check: 1, cvc_attempts=2, discvc=3')
  })

  it('masks a card number quoted back as a JSON number, and leaves other numbers', () => {
    // A server that read the form's number as a number quotes it so.
    const error = mapMarketplaceError(
      apiError(
        400,
        body(400, 'request', 'request', {
          extras: { number_field: 4111111111111111, at: 1700000000004, amount: 1999 },
        }),
      ),
    )!
    expect(error.details?.extras).toEqual({
      number_field: '•••• 1111',
      at: 1700000000004,
      amount: 1999,
    })
    expect(JSON.stringify((error.cause as MarketplaceApiError).body)).not.toContain(
      '4111111111111111',
    )
  })

  it('masks a card number in the request path, which the cause keeps for its message', () => {
    // A card number passed where a card id goes reaches the URL; the cause is printed by loggers.
    const source = new MarketplaceApiError({
      status: 404,
      body: null,
      target: 'GET /v1/marketplaces/MP1/accounts/AC1/cards/4111%201111%201111%201111',
    })
    const error = mapMarketplaceError(source)!
    const everything = [source.message, source.target, source.stack, error.message].join('\n')
    expect(everything).not.toMatch(/4111(?:%20|[ -])?1111(?:%20|[ -])?1111(?:%20|[ -])?1111/)
    expect(source.target).toContain('/v1/marketplaces/MP1/accounts/AC1/cards/')
  })

  it.each([
    ['en dashes', '4111\u20131111\u20131111\u20131111'],
    ['full-width hyphens', '4111\uff0d1111\uff0d1111\uff0d1111'],
    ['ideographic spaces', '4111\u30001111\u30001111\u30001111'],
  ])(
    'masks a card number grouped with %s in the request path, as encoded there',
    (_name, typed) => {
      const source = new MarketplaceApiError({
        status: 404,
        body: null,
        target: `GET /v1/marketplaces/MP1/accounts/AC1/cards/${encodeURIComponent(typed)}`,
      })
      const error = mapMarketplaceError(source)!
      const everything = [source.message, source.target, source.stack, error.message].join('\n')
      expect(decodeURIComponent(everything).replace(/[^\d•]/g, '')).not.toContain(
        '4111111111111111',
      )
      expect(source.target).toBe('GET /v1/marketplaces/MP1/accounts/AC1/cards/•••• 1111')
    },
  )

  it('a 404 on a route of the marketplace itself is invalid_request naming baseUrl and marketplaceId', () => {
    const notFound = body(404, 'not-found', 'request')
    const error = mapMarketplaceError(apiError(404, notFound), {
      notFound: 'marketplace',
      baseUrl: 'https://ak-test-secretValue123:@api.marketplace.example/prefix',
      marketplaceId: 'TEST-MP6xDq5coY66zGqeAztpK2Sj',
    })
    expect(error).toMatchObject({ code: 'invalid_request', status: 404, retryable: false })
    expect(error?.providerCode).toBe('not-found')
    expect(error?.requestId).toBe('OHMf0e1a2b3c4d5')
    expect(error?.message).toContain('baseUrl (https://api.marketplace.example/prefix)')
    expect(error?.message).toContain('marketplaceId (TEST-MP6xDq5coY66zGqeAztpK2Sj)')
    // A user or password left in the URL by a caller of mapMarketplaceError is not shown.
    expect(error?.message).not.toContain('secretValue123')
    // Without the two values, it still says which options to check.
    const bare = mapMarketplaceError(apiError(404, notFound), { notFound: 'marketplace' })
    expect(bare?.code).toBe('invalid_request')
    expect(bare?.message).toMatch(/check baseUrl and marketplaceId/)
  })

  it('a context that is not one (from JavaScript) is invalid_request, never a TypeError', () => {
    const error = apiError(404, body(404, 'not-found', 'request'))
    const bad: unknown[] = [
      null,
      'owner',
      { notFound: 'account' },
      { notFound: 'marketplace', baseUrl: 42 },
      { notFound: 'marketplace', marketplaceId: {} },
      { notfound: 'owner' },
    ]
    for (const context of bad) {
      let thrown: unknown
      try {
        mapMarketplaceError(error, context as MapErrorContext)
      } catch (caught) {
        thrown = caught
      }
      expect(isCardportError(thrown, 'invalid_request'), String(thrown)).toBe(true)
      expect((thrown as Error).message).toContain('mapMarketplaceError context')
    }
    // Left out, or each field left undefined, it is the default context.
    expect(mapMarketplaceError(error, undefined)?.code).toBe('card_not_found')
    expect(
      mapMarketplaceError(error, {
        notFound: undefined,
        baseUrl: undefined,
        marketplaceId: undefined,
      })?.code,
    ).toBe('card_not_found')
  })

  it('reads HTML descriptions as text, comments as nothing (also one that holds a >)', () => {
    for (const description of [
      '<p>The requested URL was not found.</p>',
      '<p>The requested URL<!-- id > 0 --> was not <!---->found.</p>',
    ]) {
      const error = mapMarketplaceError(
        apiError(404, { ...body(404, 'not-found', 'request'), description }),
      )
      expect(error?.message).toContain('The requested URL was not found.')
      expect(error?.message).not.toContain('<p>')
    }
  })

  it('an error answer without a JSON body still maps by status', () => {
    const error = mapMarketplaceError(apiError(503, null, { requestId: 'hdr-1' }))
    expect(error?.code).toBe('provider_unavailable')
    expect(error?.requestId).toBe('hdr-1')
    expect(error?.providerCode).toBeUndefined()
  })
})

describe('mapMarketplaceError: card numbers written with HTML character references or split by tags', () => {
  const forms = [...ENTITY_CARD_NUMBERS, ...TAG_SPLIT_CARD_NUMBERS]

  /** Every text of the error a logger or a JSON response shows, cause included. */
  function logged(error: CardportError | undefined): string {
    return [
      error?.message,
      JSON.stringify(error?.details),
      inspect(error?.cause, { depth: 10 }),
      JSON.stringify(error?.cause),
      JSON.stringify(error?.toJSON()),
    ].join('\n')
  }

  function mapped(fields: Record<string, unknown>) {
    return mapMarketplaceError(
      new MarketplaceApiError({
        status: 402,
        body: { ...body(402, 'card-declined', 'banking'), ...fields },
        target: 'POST /v1/marketplaces/MP1/accounts/AC1/cards',
      }),
    )
  }

  it.each(forms)('the test forms hold a card number: %s', (_, card) => {
    // The check below cannot pass by seeing nothing.
    expect(holdsCardDigits(card)).toBe(true)
  })

  const places: ReadonlyArray<readonly [string, (card: string) => MarketplaceApiError]> = [
    [
      'an HTML description',
      (card) =>
        new MarketplaceApiError({
          status: 402,
          body: {
            ...body(402, 'card-declined', 'banking'),
            description: `<html><body><h1>Declined</h1><p>The card <b>${card}</b> was declined.</p></body></html>`,
          },
          target: 'POST /v1/marketplaces/MP1/accounts/AC1/cards',
        }),
    ],
    [
      'a description that is no HTML',
      (card) =>
        new MarketplaceApiError({
          status: 402,
          body: {
            ...body(402, 'card-declined', 'banking'),
            description: `The card ${card} was declined.`,
          },
          target: 'POST /v1/marketplaces/MP1/accounts/AC1/cards',
        }),
    ],
    [
      'additional and extras',
      (card) =>
        new MarketplaceApiError({
          status: 402,
          body: {
            ...body(402, 'card-declined', 'banking'),
            additional: `<p>Check the card ${card}.</p>`,
            extras: { card, nested: [{ quoted: `number ${card}` }] },
          },
          target: 'POST /v1/marketplaces/MP1/accounts/AC1/cards',
        }),
    ],
    [
      'a message given by hand',
      (card) => new MarketplaceApiError(`<p>The card ${card} failed</p>`),
    ],
  ]

  describe.each(places)('in %s', (_, build) => {
    it.each(forms)('%s: no card digits in the message, details or cause', (_, card) => {
      const error = mapMarketplaceError(build(card))
      expect(error?.code).toBeDefined()
      expect(holdsCardDigits(logged(error))).toBe(false)
    })
  })

  it('keeps the tags around a number they split, masked, and the tags of other numbers', () => {
    const [, card = ''] = TAG_SPLIT_CARD_NUMBERS[0] ?? []
    const error = mapped({
      additional: `<p>Check the card <b>${card}</b> &amp; retry.</p>`,
      extras: { order: '<td>1234</td><td>5678</td> &amp; <b>12</b>-<b>34</b>' },
    })
    // A boolean: on failure, the details would quote the card number.
    expect(
      error?.details?.additional === '<p>Check the card <b>•••• 1111</b> &amp; retry.</p>',
    ).toBe(true)
    expect(error?.details?.extras).toEqual({
      order: '<td>1234</td><td>5678</td> &amp; <b>12</b>-<b>34</b>',
    })
  })

  it('the message reads as the page does: references decoded, the card number masked', () => {
    const [, card = ''] = ENTITY_CARD_NUMBERS[0] ?? []
    for (const description of [
      `<p>Terms &amp; conditions &lt;v2&gt; refuse the card ${card}.</p>`,
      `Terms &amp; conditions &lt;v2&gt; refuse the card ${card}.`,
    ]) {
      const error = mapped({ description })
      // A boolean: on failure, the message would quote the encoded card number.
      expect(error?.message.includes('Terms & conditions <v2> refuse the card •••• 1111.')).toBe(
        true,
      )
    }
  })

  it('the cause keeps a text that quotes no card number as the server wrote it', () => {
    const error = mapped({
      description: '<p>Tom&nbsp;&amp;&nbsp;Jerry&#39;s card ending&#160;1111 was declined.</p>',
      additional: 'Use &lt;another&gt; card, or order&#x20;1234&ndash;5678',
    })
    const cause = error?.cause as MarketplaceApiError
    expect(cause.body?.description).toBe(
      '<p>Tom&nbsp;&amp;&nbsp;Jerry&#39;s card ending&#160;1111 was declined.</p>',
    )
    expect(cause.body?.additional).toBe('Use &lt;another&gt; card, or order&#x20;1234&ndash;5678')
    expect(error?.details?.additional).toBe(
      'Use &lt;another&gt; card, or order&#x20;1234&ndash;5678',
    )
    expect(error?.message).toContain("Tom & Jerry's card ending 1111 was declined.")
  })
})

describe('mapMarketplaceError: rate limits', () => {
  it('429 is rate_limited with retryAfterMs from Retry-After seconds', () => {
    const error = mapMarketplaceError(
      apiError(429, body(429, 'rate-limited', 'request'), { retryAfter: '3' }),
    )
    expect(error?.code).toBe('rate_limited')
    expect(error?.retryAfterMs).toBe(3000)
    expect(error?.retryable).toBe(true)
  })

  it("a 5xx's Retry-After is honoured too; a 500 without one has no retryAfterMs", () => {
    for (const status of [500, 502, 503, 504]) {
      const unavailable = mapMarketplaceError(apiError(status, null, { retryAfter: '4' }))
      expect(unavailable).toMatchObject({ code: 'provider_unavailable', retryAfterMs: 4000 })
    }
    expect(mapMarketplaceError(apiError(500, null))?.retryAfterMs).toBeUndefined()
    const conflict = mapMarketplaceError(
      apiError(409, body(409, 'card-already-funding-src', 'logical'), { retryAfter: '4' }),
    )
    expect(conflict?.retryAfterMs).toBeUndefined()
  })

  it('408 and 425 are provider_unavailable and retryable, with their Retry-After', () => {
    for (const status of [408, 425]) {
      const error = mapMarketplaceError(apiError(status, null, { retryAfter: '2' }))
      expect(error).toMatchObject({
        code: 'provider_unavailable',
        retryable: true,
        status,
        retryAfterMs: 2000,
      })
    }
    expect(mapMarketplaceError(apiError(400, null))?.code).toBe('invalid_request')
  })

  it('429 without Retry-After has no retryAfterMs', () => {
    const error = mapMarketplaceError(apiError(429, null))
    expect(error?.code).toBe('rate_limited')
    expect(error?.retryAfterMs).toBeUndefined()
  })

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2030-01-01T00:00:00Z')
    expect(retryAfterMs('2', now)).toBe(2000)
    expect(retryAfterMs('0.5', now)).toBe(500)
    expect(retryAfterMs('Tue, 01 Jan 2030 00:00:07 GMT', now)).toBe(7000)
    expect(retryAfterMs('Mon, 31 Dec 2029 23:59:00 GMT', now)).toBe(0)
    expect(retryAfterMs('soon', now)).toBeUndefined()
    expect(retryAfterMs('-1', now)).toBeUndefined()
    expect(retryAfterMs(undefined, now)).toBeUndefined()
  })
})

describe('mapMarketplaceError: network failures', () => {
  it.each([
    ['UND_ERR_SOCKET', 'the connection failed'],
    ['ECONNRESET', 'the connection failed'],
    ['ECONNREFUSED', 'the connection failed'],
    ['UND_ERR_CONNECT_TIMEOUT', 'connectTimeoutMs'],
    ['UND_ERR_HEADERS_TIMEOUT', 'headersTimeoutMs'],
    ['UND_ERR_BODY_TIMEOUT', 'bodyTimeoutMs'],
  ])('%s is provider_unavailable and retryable', (code, words) => {
    const source = Object.assign(new Error('boom'), { code })
    const error = mapMarketplaceError(source)
    expect(error?.code).toBe('provider_unavailable')
    expect(error?.retryable).toBe(true)
    expect(error?.message).toContain(words)
    expect(error?.cause).toBe(source)
  })

  it('finds the code in the cause, as undici wraps socket errors', () => {
    const source = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }),
    })
    expect(mapMarketplaceError(source)?.code).toBe('provider_unavailable')
  })

  it('returns undefined for what it does not know', () => {
    expect(mapMarketplaceError(new Error('something else'))).toBeUndefined()
    expect(mapMarketplaceError('text')).toBeUndefined()
    expect(isCardportError(mapMarketplaceError(null))).toBe(false)
  })
})

describe('MarketplaceApiError built by hand', () => {
  // JavaScript callers and instanceof-based test helpers construct it without the HTTP client's
  // facts: it must still be an error with every field defined, never a TypeError.
  const UntypedApiError = MarketplaceApiError as unknown as new (
    ...init: unknown[]
  ) => MarketplaceApiError
  /** The fields of an error built without any fact to keep. */
  const NOTHING_KNOWN = {
    message: 'a marketplace request failed',
    status: 0,
    body: null,
    retryAfter: undefined,
    requestId: undefined,
    target: 'a marketplace request',
  }

  it.each([
    ['no argument', []],
    ['undefined', [undefined]],
    ['null', [null]],
    ['an empty string', ['']],
    ['a string of spaces', ['  ']],
    ['a number', [503]],
    ['an array', [[404]]],
    ['a status that is no HTTP status', [{ status: -1 }]],
  ])('takes %s, with a fallback for every field', (_case, args) => {
    const error = new UntypedApiError(...args)
    expect(error).toBeInstanceOf(MarketplaceApiError)
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ name: 'MarketplaceApiError', ...NOTHING_KNOWN })
  })

  it('cuts a body nested thousands of levels deep, where walking it whole overflows the stack', () => {
    let deep: unknown = '4111 1111 1111 1111'
    for (let level = 0; level < 20_000; level++) deep = level % 2 === 0 ? [deep] : { a: deep }
    const error = new MarketplaceApiError({
      status: 400,
      body: { category_code: 'request', extras: { deep, number: '4111111111111111' } },
      target: 'GET /v1/marketplaces/MP1/cards',
    })
    const kept = JSON.stringify(error.body)
    expect(kept).toContain('[nested too deep]')
    expect(kept).not.toContain('4111')
    expect(mapMarketplaceError(error)?.code).toBe('invalid_request')
  })

  it('keeps a string as its message, as Error does, with a fallback for every other field', () => {
    const error = new MarketplaceApiError('marketplace down')
    expect(error).toBeInstanceOf(MarketplaceApiError)
    expect(error).toMatchObject({
      ...NOTHING_KNOWN,
      name: 'MarketplaceApiError',
      message: 'marketplace down',
    })
    expect(String(error)).toBe('MarketplaceApiError: marketplace down')
  })

  it('masks a card number in the message it is given, as in its target', () => {
    const error = new MarketplaceApiError('card 4111 1111 1111 1111 refused')
    expect(error.message).not.toContain('4111 1111 1111 1111')
    expect(error.message).toContain('1111 refused')
  })

  it('is mapped by mapMarketplaceError with the message it was given', () => {
    const error = mapMarketplaceError(new MarketplaceApiError('marketplace down'))
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect(error?.message).toContain('marketplace down')
    expect(error?.status).toBeUndefined()
  })

  it('keeps the fields of the right type and falls back for the others', () => {
    const error = new MarketplaceApiError({
      status: '503',
      body: 'Service Unavailable',
      retryAfter: 5,
      requestId: { id: 'OHM1' },
      target: null,
    } as never)
    expect(error).toMatchObject(NOTHING_KNOWN)
    const partial = new MarketplaceApiError({ status: 503, retryAfter: 5 } as never)
    expect(partial).toMatchObject({ message: 'a marketplace request answered 503', status: 503 })
    expect(mapMarketplaceError(partial)).toMatchObject({
      code: 'provider_unavailable',
      status: 503,
      retryAfterMs: undefined,
    })
  })

  it('is mapped by mapMarketplaceError, with no status to report', () => {
    const error = mapMarketplaceError(new UntypedApiError())
    expect(isCardportError(error, 'invalid_request')).toBe(true)
    expect(error).toMatchObject({ provider: 'marketplace', status: undefined, retryable: false })
    expect(error?.message).toContain('a marketplace request failed')
  })
})
