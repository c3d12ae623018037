import {
  type CardDetailsInput,
  type CardProvider,
  type CardportError,
  encodeCursor,
  isCardportError,
} from '@cardport/core'
import { describe, expect, it } from 'vitest'
import {
  listAllMarketplaceCards,
  listMarketplaceCards,
  MARKETPLACE_CAPABILITIES,
  type MarketplaceProvider,
  type MarketplaceProviderOptions,
  marketplaceProvider,
  tokenizeCard,
} from './marketplace-provider.js'
import { basicAuthorization } from './secret-mask.js'

// Everything here is refused before any request: the dispatcher fails the test if one is sent.

const NUMBER = '4111111111111111'
const AMEX = '378282246310005'
const CVC = '323'
const account = { type: 'account', id: 'AC6zdJPkzqXpIxTgvxpYse4G' } as const

function refusingDispatcher() {
  const sent: string[] = []
  return {
    sent,
    dispatch(options: { method?: string; path?: string }) {
      sent.push(`${options.method} ${options.path}`)
      throw new Error('this test sends no request')
    },
  }
}

function setup(): { provider: MarketplaceProvider; sent: string[] } {
  const dispatcher = refusingDispatcher()
  const provider = marketplaceProvider({
    baseUrl: 'https://marketplace.test',
    marketplaceId: 'TEST-MP6xDq5coY66zGqeAztpK2Sj',
    secret: 'ak-test-secretValue123',
    dispatcher,
  })
  return { provider, sent: dispatcher.sent }
}

function details(overrides: Partial<CardDetailsInput> = {}): CardDetailsInput {
  return {
    number: NUMBER,
    expMonth: 12,
    expYear: new Date().getUTCFullYear() + 3,
    cvc: CVC,
    holderName: 'Benny Riemann',
    ...overrides,
  }
}

async function rejection(run: () => Promise<unknown>): Promise<CardportError> {
  try {
    await run()
  } catch (error) {
    if (isCardportError(error)) return error
    throw error
  }
  throw new Error('expected a rejection')
}

/**
 * Every text an error carries out of the library. The stack's frames are left out: they are
 * code positions (`marketplace-provider.ts:323:32`), which a CVC scan would otherwise match as
 * the source moves; what the stack carries of the error is its first line, the message.
 */
function textOf(error: CardportError): string {
  return [
    error.message,
    (error.stack ?? '').replace(/^\s+at .*$/gm, ''),
    JSON.stringify(error.toJSON()),
    JSON.stringify(error.issues ?? []),
  ].join('\n')
}

function expectNoSecrets(error: CardportError, ...secrets: string[]) {
  const text = textOf(error)
  for (const secret of [NUMBER, AMEX, '4111 1111 1111 1111', ...secrets]) {
    expect(text, `the error holds ${secret}`).not.toContain(secret)
  }
  // A CVC counts as a whole token only: `323` inside `2323` is not one.
  for (const cvc of [CVC, '3234']) {
    expect(text, `the error holds the CVC ${cvc}`).not.toMatch(
      new RegExp(`(?<![0-9A-Za-z])${cvc}(?![0-9A-Za-z])`),
    )
  }
}

describe('card details are refused before any request', () => {
  const year = new Date().getUTCFullYear()
  it.each([
    ['a number failing the Luhn check', { number: '4111111111111112' }, 'source.number'],
    ['a number with letters', { number: '4111-1111-abcd-1111' }, 'source'],
    ['an expired card', { expMonth: 1, expYear: year - 1 }, 'source.expYear'],
    ['month 13', { expMonth: 13 }, 'source.expMonth'],
    ['a 4-digit CVC on a Visa', { cvc: '3234' }, 'source.cvc'],
    ['a 3-digit CVC on an Amex', { number: AMEX, cvc: CVC }, 'source.cvc'],
    ['a 2-digit CVC', { cvc: '32' }, 'source.cvc'],
    ['a name over 128 characters', { holderName: 'n'.repeat(129) }, 'source.holderName'],
    ['a phone that is not E.164', { phone: '650-924-1212' }, 'source.phone'],
    ['a phone over 15 digits', { phone: '+1234567890123456' }, 'source.phone'],
    // E.164 allows 15 digits; the marketplace's phone_number is at most 15 characters, "+" included.
    ['a phone of 16 characters', { phone: '+123456789012345' }, 'source.phone'],
    [
      'a postal code without a country',
      { address: { postalCode: '10023' } },
      'source.address.country',
    ],
    [
      'a street address without a postal code',
      { address: { line1: '167 West 74th Street', country: 'US' } },
      'source.address.postalCode',
    ],
    [
      'a country that is not ISO 3166-1',
      { address: { postalCode: '10023', country: 'XX' } },
      'source.address.country',
    ],
    [
      'a country in alpha-3 (the normalized card speaks alpha-2)',
      { address: { postalCode: '10023', country: 'USA' } },
      'source.address.country',
    ],
  ] as const)('%s', async (_name, overrides, path) => {
    const { provider, sent } = setup()
    const error = await rejection(() =>
      provider.createCard(account, { source: details(overrides as Partial<CardDetailsInput>) }),
    )
    expect(error.code).toBe('invalid_request')
    expect(error.provider).toBe('marketplace')
    expect(error.issues?.map((issue) => issue.path.join('.'))).toContain(path)
    expectNoSecrets(error)
    expect(sent).toEqual([])
  })

  it('tokenizeCard checks the same rules', async () => {
    const { provider, sent } = setup()
    const error = await rejection(() =>
      tokenizeCard(provider, details({ number: '4111111111111112' })),
    )
    expect(error.code).toBe('invalid_request')
    expectNoSecrets(error, '4111111111111112')
    const address = await rejection(() =>
      tokenizeCard(provider, details({ address: { line1: '1 Main St', country: 'US' } })),
    )
    expect(address.issues?.[0]?.path).toEqual(['source', 'address', 'postalCode'])
    expect(sent).toEqual([])
  })

  it('tokenizeCard refuses an option it does not know (a misspelt idempotencykey), sending nothing', async () => {
    const { provider, sent } = setup()
    const error = await rejection(() =>
      tokenizeCard(provider, details(), { idempotencykey: 'order-1' } as never),
    )
    expect(error.code).toBe('invalid_request')
    expect(error.message).toContain('tokenizeCard options')
    expect(error.message).toContain('"idempotencykey"')
    expect(sent).toEqual([])
  })

  it('a Luhn-failing number in the message is masked even when nothing else would catch it', async () => {
    const { provider } = setup()
    const error = await rejection(() =>
      provider.createCard(account, { source: details({ number: '4111 1111 1111 1112' }) }),
    )
    expectNoSecrets(error, '4111 1111 1111 1112', '4111111111111112')
  })
})

describe('updates are refused before any request', () => {
  it.each([
    ['the name', { holderName: 'Jenny Rosen' }, 'holderName'],
    ['the expiry', { expMonth: 5, expYear: 2040 }, 'expiry (expMonth, expYear)'],
    ['the address', { address: { city: 'Springfield' } }, 'address'],
    ['the address with metadata', { address: { city: 'X' }, metadata: { a: 'b' } }, 'address'],
  ] as const)(
    '%s cannot change: unsupported_operation, pointing to a new card',
    async (_name, patch, field) => {
      const { provider, sent } = setup()
      // updatableFields is ['metadata']: the typed provider does not take these patches.
      const general: CardProvider = provider
      const error = await rejection(() => general.updateCard(account, 'CC1', patch))
      expect(error.code).toBe('unsupported_operation')
      expect(error.message).toBe(
        `marketplace cannot update the ${field} of a card (capabilities.updatableFields: metadata): create a card with the new details, then invalidateCard the old one`,
      )
      expect(sent).toEqual([])
    },
  )

  it('types a patch of a fixed field as a compile error', async () => {
    const { provider } = setup()
    // @ts-expect-error a tokenized card's name never changes
    const renaming = provider.updateCard(account, 'CC1', { holderName: 'Jenny Rosen' })
    expect((await rejection(() => renaming)).code).toBe('unsupported_operation')
  })

  it('metadata over the limits is invalid_request', async () => {
    const { provider, sent } = setup()
    const error = await rejection(() =>
      provider.updateCard(account, 'CC1', { metadata: { ['k'.repeat(41)]: 'v' } }),
    )
    expect(error.code).toBe('invalid_request')
    expect(error.issues?.[0]?.path[0]).toBe('metadata')
    expect(sent).toEqual([])
  })
})

describe('a card id or URI with a path step "." or ".." is refused before any request', () => {
  // A URL reads such a segment as a step along its path: `CC1/..` names the account's cards,
  // `/v1/marketplaces/MP/cards/..` the marketplace itself.
  const refs = [
    'CC1/..',
    '../',
    './',
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/cards/..',
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/cards/%2E%2e',
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/../cards/CC1',
    'CC1/.\t.',
    // A URL reads `\` as `/`; the card's id is read from the text as given, `#` and all.
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/cards/CC1\\..',
    'CC1#/..',
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/cards/CC1#/..',
    // A `#` without a dot step after it: the URL drops the rest, the id keeps it.
    'CC1#x',
    '/v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/cards/CC1#frag',
  ]
  it.each(refs)('%s', async (ref) => {
    const { provider, sent } = setup()
    const calls: [string, () => Promise<unknown>][] = [
      ['getCard', () => provider.getCard(account, ref)],
      ['invalidateCard', () => provider.invalidateCard(account, ref)],
      ['updateCard', () => provider.updateCard(account, ref, { metadata: { a: 'b' } })],
      ['createCard', () => provider.createCard(account, { source: ref, metadata: { a: 'b' } })],
    ]
    for (const [what, call] of calls) {
      const error = await rejection(call)
      expect(error.code, what).toBe('invalid_request')
      expect(error.message, what).toBe(
        'marketplace: a card id or URI cannot hold a "\\", a "#" or the path step "." or "..": pass the card\'s id (CC…) or its URI',
      )
    }
    expect(sent).toEqual([])
  })

  it('takes a URI whose segments only hold dots among other characters', () => {
    const { provider } = setup()
    expect(provider.cardIdOf?.('/v1/marketplaces/MP1/cards/CC1.v2')).toBe('CC1.v2')
    expect(provider.cardIdOf?.('CC...')).toBe('CC...')
  })
})

describe('what the marketplace cannot do', () => {
  it('deleteCard is unsupported and points to invalidateCard', async () => {
    const { provider, sent } = setup()
    // The type says so too: deleteCard takes no arguments a caller could give.
    const deleteCard = provider.deleteCard as unknown as (o: unknown, id: string) => Promise<void>
    const error = await rejection(() => deleteCard(account, 'CC1'))
    expect(error.code).toBe('unsupported_operation')
    expect(error.message).toContain('invalidateCard')
    expect(sent).toEqual([])
  })

  it('setDefaultCard is unsupported: the marketplace chooses the card', async () => {
    const { provider } = setup()
    const setDefault = provider.setDefaultCard as unknown as (
      o: unknown,
      id: string,
    ) => Promise<unknown>
    expect((await rejection(() => setDefault(account, 'CC1'))).code).toBe('unsupported_operation')
  })

  it('customers are not owners here', async () => {
    const { provider, sent } = setup()
    const getCard = provider.getCard as unknown as (o: unknown, id: string) => Promise<unknown>
    const error = await rejection(() => getCard({ type: 'customer', id: 'CU1' }, 'CC1'))
    expect(error.code).toBe('unsupported_operation')
    expect(sent).toEqual([])
  })

  it.each([
    ['card details', () => details()],
    ['a card tokenized earlier', () => 'CC4kTJVzjpMOuPjB5GyrStaP'],
  ])(
    'a currency with %s is invalid_request naming the field: marketplace cards have none',
    async (_name, source) => {
      const { provider, sent } = setup()
      const error = await rejection(() =>
        provider.createCard(account, { source: source(), currency: 'usd' }),
      )
      expect(error).toMatchObject({ code: 'invalid_request', provider: 'marketplace' })
      expect(error.issues?.map((issue) => issue.path)).toEqual([['currency']])
      expect(error.message).toContain('currency')
      expectNoSecrets(error)
      expect(sent).toEqual([])
    },
  )

  it('declares its capabilities', () => {
    const { provider } = setup()
    expect(provider.capabilities).toEqual(MARKETPLACE_CAPABILITIES)
    expect(provider.name).toBe('marketplace')
  })
})

describe('cursors and list options are checked before any request', () => {
  it('a cursor from another provider, or not a cursor, is invalid_request', async () => {
    const { provider, sent } = setup()
    const foreign = encodeCursor('stripe', { after: 'card_1' })
    for (const cursor of ['nope', foreign]) {
      const error = await rejection(() => provider.listCards(account, { limit: 2, cursor }))
      expect(error.code).toBe('invalid_request')
    }
    expect(sent).toEqual([])
  })

  it('a cursor whose offset was altered (not a whole number from 0) is invalid_request', async () => {
    const { provider, sent } = setup()
    for (const offset of [-1, 1.5, 1e20]) {
      const cursor = encodeCursor('marketplace', { offset }, { list: account.id })
      const error = await rejection(() => provider.listCards(account, { limit: 2, cursor }))
      expect(error.code, String(offset)).toBe('invalid_request')
    }
    expect(sent).toEqual([])
  })

  it("a cursor of one account's list is refused for another account's list", async () => {
    const { provider, sent } = setup()
    const cursor = encodeCursor('marketplace', { offset: 2 }, { list: 'AC_other' })
    const error = await rejection(() => provider.listCards(account, { limit: 2, cursor }))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toContain('another list')
    const marketplaceWide = await rejection(() =>
      listMarketplaceCards(provider, { limit: 2, cursor }),
    )
    expect(marketplaceWide.code).toBe('invalid_request')
    expect(sent).toEqual([])
  })

  it('a limit outside 1–100 is invalid_request', async () => {
    const { provider, sent } = setup()
    for (const limit of [0, 101, 2.5]) {
      expect((await rejection(() => provider.listCards(account, { limit }))).code).toBe(
        'invalid_request',
      )
      expect((await rejection(() => listMarketplaceCards(provider, { limit }))).code).toBe(
        'invalid_request',
      )
    }
    expect(sent).toEqual([])
  })
  it('a misspelt list option is invalid_request, not the default page', async () => {
    const { provider, sent } = setup()
    const misspelt = { limt: 100 } as never
    expect((await rejection(() => provider.listCards(account, misspelt))).code).toBe(
      'invalid_request',
    )
    expect((await rejection(() => listMarketplaceCards(provider, misspelt))).code).toBe(
      'invalid_request',
    )
    const all = listAllMarketplaceCards(provider, { page_size: 100 } as never)
    expect((await rejection(() => all.next())).code).toBe('invalid_request')
    expect(sent).toEqual([])
  })
})

describe('options', () => {
  const valid = {
    baseUrl: 'https://marketplace.test/',
    marketplaceId: 'TEST-MP1',
    secret: 'ak-test-topSecretValue',
  }

  /** The error `marketplaceProvider` refuses `options` with: `invalid_request`, naming them. */
  function optionsRefusal(options: MarketplaceProviderOptions): CardportError {
    let thrown: unknown
    try {
      marketplaceProvider(options)
    } catch (error) {
      thrown = error
    }
    expect(isCardportError(thrown, 'invalid_request')).toBe(true)
    const error = thrown as CardportError
    expect(error.message).toContain('marketplaceProvider options')
    return error
  }

  it.each([
    ['no secret', { secret: '' }, 'secret'],
    ['a baseUrl that is not http(s)', { baseUrl: 'ftp://marketplace.test' }, 'baseUrl'],
    ['a baseUrl that is not a URL', { baseUrl: 'marketplace' }, 'baseUrl'],
    // Basic auth in the URL, as curl takes it: provider.options would show the secret.
    [
      'a baseUrl holding the secret as its user',
      { baseUrl: 'https://ak-test-topSecretValue:@marketplace.test' },
      'baseUrl',
    ],
    [
      'a baseUrl holding a password',
      { baseUrl: 'https://user:ak-test-topSecretValue@marketplace.test/' },
      'baseUrl',
    ],
    // The request's path is appended to baseUrl: after a query or a fragment, it is lost.
    ['a baseUrl with a query', { baseUrl: 'https://marketplace.test/?tenant=1' }, 'baseUrl'],
    ['a baseUrl with a fragment', { baseUrl: 'https://marketplace.test/#api' }, 'baseUrl'],
    ['a marketplace id with a slash', { marketplaceId: 'MP/1' }, 'marketplaceId'],
    // `..` in the path (/v1/marketplaces/../cards) is another route once a URL resolves it.
    ['a marketplace id of one dot', { marketplaceId: '.' }, 'marketplaceId'],
    ['a marketplace id of two dots', { marketplaceId: '..' }, 'marketplaceId'],
    ['a marketplace id holding dots', { marketplaceId: 'MP..' }, 'marketplaceId'],
    ['a dispatcher that is not one', { dispatcher: {} }, 'dispatcher'],
    // Longer than a timer holds: withRetry refuses it, which made every read fail, not this.
    [
      'a retry maxDelayMs of 30 days',
      { retry: { maxDelayMs: 30 * 86_400_000 } },
      'retry.maxDelayMs',
    ],
    ['a negative timeout', { headersTimeoutMs: -1 }, 'headersTimeoutMs'],
    ['too many retries', { retry: { retries: 11 } }, 'retry.retries'],
    ['a body limit of zero', { maxResponseBodyBytes: 0 }, 'maxResponseBodyBytes'],
    ['a body limit that is no whole number', { maxResponseBodyBytes: 1.5 }, 'maxResponseBodyBytes'],
    ['a body limit given as text', { maxResponseBodyBytes: '8MB' }, 'maxResponseBodyBytes'],
    ['a userAgent no header can carry', { userAgent: 'app/1\r\nX-Injected: 1' }, 'userAgent'],
  ])('refuses %s, naming the adapter and never echoing the secret', (_name, change, path) => {
    const error = optionsRefusal({ ...valid, ...change } as MarketplaceProviderOptions)
    expect(error.issues?.map((issue) => issue.path.join('.'))).toContain(path)
    expect(textOf(error)).not.toContain('topSecretValue')
  })

  it.each([
    ['a misspelt option', { headersTimeoutMS: 500 }, '', 'headersTimeoutMS'],
    ['a misspelt retry option', { retry: { retrys: 3 } }, 'retry', 'retrys'],
  ])(
    'refuses %s instead of running on the default, naming the key and never the secret',
    (_name, change, path, key) => {
      const error = optionsRefusal({ ...valid, ...change } as MarketplaceProviderOptions)
      expect(error.issues?.map((issue) => issue.path.join('.'))).toEqual([path])
      expect(error.message).toContain(`"${key}"`)
      expect(textOf(error)).not.toContain('topSecretValue')
    },
  )

  it.each(['Q', 'Qx', 'Qx7'])(
    'refuses a secret of %s (under 4 characters, too short to be masked) without quoting it',
    (secret) => {
      const error = optionsRefusal({ ...valid, secret })
      expect(error.message).toContain('at least 4 characters')
      expect(error.issues?.map((issue) => issue.path.join('.'))).toEqual(['secret'])
      expect(textOf(error)).not.toMatch(new RegExp(`(?<![A-Za-z0-9])${secret}(?![A-Za-z0-9])`))
    },
  )

  // What a server reads as the user name of `Authorization: Basic …` (RFC 7617): the UTF-8 text
  // the base64 holds, up to its first colon.
  const userIdSent = (secret: string) => {
    const sent = basicAuthorization(secret).slice('Basic '.length)
    const decoded = Buffer.from(sent, 'base64').toString('utf8')
    return decoded.slice(0, decoded.indexOf(':'))
  }

  it.each([
    ['a colon, which ends the basic-auth user name', 'ak-test:topSecretValue', 'a colon'],
    ['a lone surrogate, which UTF-8 cannot encode', 'ak-test-\ud800topSecretValue', 'Unicode'],
    ['a line break (read with it from a file)', 'ak-test-topSecretValue\n', 'control character'],
    ['a carriage return', 'ak-test-topSecretValue\r', 'control character'],
    ['a NUL', 'ak-test-\u0000topSecretValue', 'control character'],
    ['a DEL', 'ak-test-\u007ftopSecretValue', 'control character'],
    ['a C1 control', 'ak-test-\u0085topSecretValue', 'control character'],
  ])('refuses a secret holding %s, without quoting it', (_name, secret, said) => {
    const error = optionsRefusal({ ...valid, secret })
    expect(error.message).toContain(said)
    expect(error.issues?.map((issue) => issue.path.join('.'))).toEqual(['secret'])
    expect(textOf(error)).not.toContain('topSecretValue')
  })

  it('the colon and the lone surrogate would send another user name than the secret', () => {
    // Why they are refused: the request would carry the credentials of another key (RFC 7617
    // §2: the user-id cannot contain a colon; a lone surrogate is sent as U+FFFD).
    expect(userIdSent('ak-test:topSecretValue')).toBe('ak-test')
    expect(userIdSent('ak-test-\ud800topSecretValue')).toBe('ak-test-\ufffdtopSecretValue')
    // Control characters do arrive, but RFC 7617 §2 forbids them in a user-id: a server may
    // refuse or strip them, and a secret ending in a line break was read from a file with it.
    expect(userIdSent('ak-test-topSecretValue\n')).toBe('ak-test-topSecretValue\n')
  })

  it('takes a secret beyond Latin-1: the credentials are base64 of its UTF-8, which any header carries', async () => {
    const secret = 'ak-test-ключ-鍵-🔑'
    expect(basicAuthorization(secret)).toMatch(/^Basic [A-Za-z0-9+/]+=*$/)
    expect(userIdSent(secret)).toBe(secret)
    const provider = marketplaceProvider({ ...valid, secret })
    await provider.close()
  })

  it('takes a secret of 4 characters', async () => {
    const provider = marketplaceProvider({ ...valid, secret: 'Qx7z' })
    await provider.close()
  })

  it('keeps the validated options frozen, without the secret', async () => {
    const provider = marketplaceProvider(valid)
    expect(provider.options).toEqual({
      baseUrl: 'https://marketplace.test',
      marketplaceId: 'TEST-MP1',
    })
    expect(Object.isFrozen(provider.options)).toBe(true)
    expect(Object.isFrozen(provider)).toBe(true)
    expect(JSON.stringify(provider)).not.toContain('topSecretValue')
    await provider.close()
  })

  it('close() leaves a dispatcher the caller owns open', async () => {
    let closed = false
    const dispatcher = {
      dispatch: () => true,
      close: async () => {
        closed = true
      },
    }
    const provider = marketplaceProvider({ ...valid, dispatcher })
    await provider.close()
    expect(closed).toBe(false)
  })

  it('close() with a dispatcher the caller owns leaves the provider sending through it', async () => {
    const { provider, sent } = setup()
    await provider.close()
    await rejection(() => provider.getCard(account, 'CC1'))
    // The GET is retried after the dispatcher's throw: its first attempt is enough here.
    expect(sent[0]).toBe(
      `GET /v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/${account.id}/cards/CC1`,
    )
  })

  it("encodes the account's id as one segment of the path", async () => {
    const { provider, sent } = setup()
    await rejection(() => provider.getCard({ type: 'account', id: 'AC1/x?y' }, 'CC1'))
    expect(sent[0]).toBe(
      'GET /v1/marketplaces/TEST-MP6xDq5coY66zGqeAztpK2Sj/accounts/AC1%2Fx%3Fy/cards/CC1',
    )
  })

  it('the functions beside the provider refuse anything but a marketplace provider', async () => {
    const { provider } = setup()
    const fake = { ...provider } as MarketplaceProvider
    expect((await rejection(() => listMarketplaceCards(fake))).code).toBe('invalid_request')
  })
})
