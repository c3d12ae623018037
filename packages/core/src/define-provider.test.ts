import { inspect } from 'node:util'
import { describe, expect, it, vi } from 'vitest'
import { errorOf, rejection } from './__fixtures__/errors.js'
import { HttpRequest } from './__fixtures__/http-request.js'
import {
  type Card,
  EMPTY_ADDRESS,
  isDefaultUnknown,
  markDefaultUnknown,
  type Owner,
} from './card.js'
import { defineCardProvider, parseCardPayload } from './define-provider.js'
import { ConflictError } from './errors.js'
import { decodeCursor, encodeCursor } from './pagination.js'
import type { CardProvider, ProviderCapabilities } from './provider.js'

const owner: Owner = { type: 'customer', id: 'cus_1' }
const BAD_NUMBER = '4242424242424241'
/** A card number an adapter's bug puts where a card id goes. */
const CARD_NUMBER_ID = '4242424242424242'
const nextYear = new Date().getUTCFullYear() + 2
/**
 * Card ids holding a card number that stands apart: after a prefix's `_`, amid text, full-width,
 * its first or last group glued to a letter.
 */
const NUMBER_IN_IDS = [
  'card_x 4242 4242 4242 4242',
  'card_4242424242424242',
  ' ４２４２４２４２４２４２４２４２ :',
  'card_x4242 4242 4242 4242',
  'card_4242-4242-4242-4242x',
]

describe('defineCardProvider: input is validated before any primitive runs', () => {
  const badCalls: Array<[string, (provider: CardProvider) => Promise<unknown>]> = [
    ['an owner of an unknown type', (p) => p.getCard({ type: 'vendor', id: 'v' } as never, 'c')],
    ['an owner with an empty id', (p) => p.listCards({ type: 'customer', id: '' })],
    ['an empty card id', (p) => p.getCard(owner, '')],
    ['an empty card id on delete', (p) => p.deleteCard(owner, '')],
    ['a list limit of 0', (p) => p.listCards(owner, { limit: 0 })],
    ['a list limit of 101', (p) => p.listCards(owner, { limit: 101 })],
    // Misspelt, it would list the default 10 cards and the caller would read them as all.
    ['a misspelt list option', (p) => p.listCards(owner, { limt: 100 } as never)],
    [
      'a metadata key of 41 characters',
      (p) => p.createCard(owner, { source: 'tok_visa', metadata: { ['k'.repeat(41)]: 'v' } }),
    ],
    [
      'metadata with 51 keys',
      (p) => p.createCard(owner, { source: 'tok_visa', metadata: manyKeys(51) }),
    ],
    [
      'an update with 51 metadata keys',
      (p) => p.updateCard(owner, 'c', { metadata: manyKeys(51) }),
    ],
    ['an empty update', (p) => p.updateCard(owner, 'c', {})],
    // Dropped, a misspelt field made an update that changed nothing the caller meant.
    [
      'a misspelt update field beside a known one',
      (p) => p.updateCard(owner, 'c', { metadata: { a: '1' }, holdername: 'Ada' } as never),
    ],
    [
      'an address key an update does not know',
      (p) => p.updateCard(owner, 'c', { address: { zip: '94107' } } as never),
    ],
    // A card number typed where the card id goes would travel in the request's URL.
    ['a card number as the card id of getCard', (p) => p.getCard(owner, '4242424242424242')],
    [
      'a card number as the card id of updateCard',
      (p) => p.updateCard(owner, '4000 0566 5566 5556', { holderName: 'Ada' }),
    ],
    ['a card number as the card id of deleteCard', (p) => p.deleteCard(owner, '378282246310005')],
    [
      'a card number as the card id of setDefaultCard',
      (p) => p.setDefaultCard(owner, '5555-5555-5555-4444'),
    ],
    [
      'a card number as the card id of invalidateCard',
      (p) => p.invalidateCard(owner, '6011111111111117'),
    ],
    // A URL reads a path segment `.` or `..` as a step along its path, and encodeURIComponent
    // leaves dots alone: `/accounts/../cards/c` is every account's card `c`.
    ['the owner id ".." of getCard', (p) => p.getCard({ type: 'account', id: '..' }, 'c')],
    ['the owner id "." of listCards', (p) => p.listCards({ type: 'customer', id: '.' })],
    ['the card id ".." of deleteCard', (p) => p.deleteCard(owner, '..')],
    ['the card id "." of invalidateCard', (p) => p.invalidateCard(owner, '.')],
    // …and one typed where the owner's id goes, in the URL as well.
    [
      'a card number as the owner id of listCards',
      (p) => p.listCards({ type: 'customer', id: '4242 4242 4242 4242' }),
    ],
    [
      'a card number as the owner id of createCard',
      (p) => p.createCard({ type: 'customer', id: '4000056655665556' }, { source: 'tok_visa' }),
    ],
    [
      'a card number as the owner id of getCard',
      (p) => p.getCard({ ...owner, id: '378282246310005' }, 'c'),
    ],
    [
      'card details failing the Luhn check',
      (p) =>
        p.createCard(owner, { source: { number: BAD_NUMBER, expMonth: 12, expYear: nextYear } }),
    ],
    // Dropped, a `cvv` made the card without the CVC typed, a `zip` without the postal code.
    [
      'card details with a cvv',
      (p) =>
        p.createCard(owner, {
          source: { number: '4242424242424242', expMonth: 12, expYear: nextYear, cvv: '123' },
        } as never),
    ],
    [
      'card details with an address.zip',
      (p) =>
        p.createCard(owner, {
          source: {
            number: '4242424242424242',
            expMonth: 12,
            expYear: nextYear,
            address: { zip: '94107' },
          },
        } as never),
    ],
    [
      'a misspelt create option',
      (p) => p.createCard(owner, { source: 'tok_visa', default: true } as never),
    ],
    // A customer's card has no currency: dropped, the caller read the card as made in it.
    [
      "a currency for a customer's card",
      (p) => p.createCard(owner, { source: 'tok_visa', currency: 'eur' }),
    ],
  ]

  for (const [what, run] of badCalls) {
    it(`refuses ${what} with invalid_request and no primitive call`, async () => {
      const { provider, spies } = spyProvider()
      const error = await rejection(run(provider))
      expect(error.code).toBe('invalid_request')
      expect(error.issues?.length).toBeGreaterThan(0)
      expect(error.provider).toBe('spy')
      expect(error.message).not.toContain(BAD_NUMBER)
      expect(error.message).not.toMatch(/\d{4}[ -]?\d{4}[ -]?\d{4}/)
      for (const spy of Object.values(spies)) expect(spy).not.toHaveBeenCalled()
    })
  }

  // Refused only whole, such an id reached the provider's URL and CardSync's tombstones.
  for (const id of NUMBER_IN_IDS) {
    it(`refuses the card id ${JSON.stringify(id)}, a card number standing apart in it, in every call`, async () => {
      const calls: [string, (p: CardProvider) => Promise<unknown>][] = [
        ['getCard', (p) => p.getCard(owner, id)],
        ['updateCard', (p) => p.updateCard(owner, id, { holderName: 'Ada' })],
        ['deleteCard', (p) => p.deleteCard(owner, id)],
        ['setDefaultCard', (p) => p.setDefaultCard(owner, id)],
        ['invalidateCard', (p) => p.invalidateCard(owner, id)],
      ]
      for (const [what, run] of calls) {
        const { provider, spies } = spyProvider()
        const error = await rejection(run(provider))
        expect(error.code, what).toBe('invalid_request')
        expect(error.issues, what).toEqual([
          {
            path: [],
            message: 'a card id cannot be a card number: pass the id the provider gave the card',
          },
        ])
        expect(inspect(error, { depth: 10 }), what).not.toMatch(/4242|４２４２/)
        for (const spy of Object.values(spies)) expect(spy).not.toHaveBeenCalled()
      }
    })

    it(`refuses a card the adapter answers or parses with the id ${JSON.stringify(id)}, naming no digit`, async () => {
      const { provider } = spyProvider(
        {},
        { getCard: async () => makeCard({ id }), parseCard: () => makeCard({ id }) },
      )
      const answered = await rejection(provider.getCard(owner, 'card_1'))
      expect(answered).toMatchObject({ code: 'provider_unavailable', retryable: false })
      const parsed = errorOf(() => provider.parseCard({ object: 'card' }, owner))
      expect(parsed.code).toBe('invalid_request')
      expect(parsed.issues).toEqual([
        expect.objectContaining({ path: ['id'], message: 'a card id cannot be a card number' }),
      ])
      for (const error of [answered, parsed]) {
        expect(inspect(error, { depth: 10 })).not.toMatch(/4242|４２４２/)
      }
    })
  }

  it('names the failing field of card details without echoing the number', async () => {
    const { provider } = spyProvider()
    const error = await rejection(
      provider.createCard(owner, {
        source: { number: BAD_NUMBER, expMonth: 12, expYear: nextYear },
      }),
    )
    expect(error.issues?.map((issue) => issue.path)).toEqual([['source', 'number']])
    expect(JSON.stringify(error.issues)).not.toContain(BAD_NUMBER)
    expect(JSON.stringify(error.toJSON())).not.toContain(BAD_NUMBER)
  })

  it('names the metadata key limits in the issues', async () => {
    const { provider } = spyProvider()
    const longKey = await rejection(
      provider.createCard(owner, { source: 'tok_visa', metadata: { ['k'.repeat(41)]: 'v' } }),
    )
    expect(longKey.issues?.[0]?.message).toBe('a metadata key is at most 40 characters')
    const tooMany = await rejection(
      provider.createCard(owner, { source: 'tok_visa', metadata: manyKeys(51) }),
    )
    expect(tooMany.issues).toEqual([
      { path: ['metadata'], message: 'metadata holds at most 50 keys' },
    ])
  })

  it('accepts the limits themselves: 40-character keys, 50 keys, limits 1 and 100', async () => {
    const { provider, spies } = spyProvider()
    await provider.createCard(owner, { source: 'tok_visa', metadata: manyKeys(50) })
    await provider.createCard(owner, { source: 'tok_visa', metadata: { ['k'.repeat(40)]: 'v' } })
    await provider.listCards(owner, { limit: 1 })
    await provider.listCards(owner, { limit: 100 })
    expect(spies.createCard).toHaveBeenCalledTimes(2)
    expect(spies.listCards.mock.calls.map((call) => call[1])).toEqual([
      { limit: 1 },
      { limit: 100 },
    ])
  })

  it('gives listCards a limit of 10 when none is passed', async () => {
    const { provider, spies } = spyProvider()
    await provider.listCards(owner)
    expect(spies.listCards).toHaveBeenCalledWith(owner, { limit: 10 })
    // Options without a limit, not only no options: the next page of a listing.
    await provider.listCards(owner, { cursor: 'page_2' })
    expect(spies.listCards).toHaveBeenLastCalledWith(owner, { limit: 10, cursor: 'page_2' })
  })
})

describe('defineCardProvider: raw card details leave nothing behind', () => {
  // The engine keeps the text of the last regular-expression match in legacy statics
  // (`RegExp.input`, `RegExp.lastMatch`) that any code can read: after the details are checked,
  // the card number or the CVC.
  const held = () => [RegExp.input, RegExp.lastMatch].filter((text) => /4242|737/.test(text))
  const details = { number: '4242424242424242', expMonth: 12, expYear: nextYear, cvc: '737' }

  it('clears the last match after a create, made or refused', async () => {
    const { provider } = spyProvider(
      {},
      {
        // The adapter checks the details too, its last match the number's.
        createCard: async (o, input) => {
          if (typeof input.source !== 'string') /^\d+$/.test(input.source.number)
          return makeCard({ owner: o })
        },
      },
    )
    await provider.createCard(owner, { source: details })
    expect(held()).toEqual([])
    await expect(
      provider.createCard(owner, { source: { ...details, number: BAD_NUMBER } }),
    ).rejects.toMatchObject({ code: 'invalid_request' })
    expect(held()).toEqual([])
    await expect(
      provider.createCard(owner, { source: { ...details, cvc: '7a7' } }),
    ).rejects.toMatchObject({ code: 'invalid_request' })
    expect(held()).toEqual([])
  })
})

describe('defineCardProvider: capabilities', () => {
  it('refuses an owner type outside capabilities.ownerTypes with unsupported_operation', async () => {
    const { provider, spies } = spyProvider({ ownerTypes: ['customer'] })
    const error = await rejection(provider.getCard({ type: 'account', id: 'acct_1' }, 'c'))
    expect(error.code).toBe('unsupported_operation')
    expect(error.message).toContain("'account'")
    expect(spies.getCard).not.toHaveBeenCalled()
  })

  it('refuses an operation whose capability is false at run time, even if implemented', async () => {
    const { provider, spies } = spyProvider({ updateCard: false })
    const error = await rejection(provider.updateCard(owner, 'c', { holderName: 'A' }))
    expect(error.code).toBe('unsupported_operation')
    expect(error.message).toBe(
      'spy does not support updateCard; check provider.capabilities before calling it',
    )
    expect(spies.updateCard).not.toHaveBeenCalled()
  })

  it('refuses getDefaultCard when listCards is false, even with a getDefaultCard primitive', async () => {
    const getDefaultCard = vi.fn(async () => makeCard({ isDefault: true }))
    const providers = [
      spyProvider({ listCards: false }),
      spyProvider({ listCards: false }, { getDefaultCard }),
    ]
    for (const { provider, spies } of providers) {
      const error = await rejection(provider.getDefaultCard(owner))
      expect(error.code).toBe('unsupported_operation')
      expect(error.message).toBe(
        'spy does not support getDefaultCard; check provider.capabilities before calling it',
      )
      expect(spies.listCards).not.toHaveBeenCalled()
    }
    expect(getDefaultCard).not.toHaveBeenCalled()
  })

  it("points deleteCard's refusal to invalidateCard when the provider can invalidate", async () => {
    const withInvalidate = spyProvider({ deleteCard: false, invalidateCard: true }).provider
    const error = await rejection(withInvalidate.deleteCard(owner, 'c'))
    expect(error.code).toBe('unsupported_operation')
    expect(error.message).toContain('use invalidateCard to retire a card')

    const without = spyProvider({ deleteCard: false, invalidateCard: false }).provider
    const plain = await rejection(without.deleteCard(owner, 'c'))
    expect(plain.code).toBe('unsupported_operation')
    expect(plain.message).not.toContain('invalidateCard')
  })

  it('refuses raw card details when capabilities.cardDetails is false', async () => {
    const { provider, spies } = spyProvider({ cardDetails: false })
    const error = await rejection(
      provider.createCard(owner, {
        source: { number: '4242424242424242', expMonth: 12, expYear: nextYear },
      }),
    )
    expect(error.code).toBe('unsupported_operation')
    expect(error.message).not.toContain('4242424242424242')
    expect(spies.createCard).not.toHaveBeenCalled()
  })

  it('refuses at definition time a declared capability with no primitive (invalid_request)', () => {
    const error = errorOf(() =>
      defineCardProvider({
        name: 'half-done',
        capabilities: { ...ALL_CAPABILITIES, deleteCard: true },
        ...primitivesWithout('deleteCard'),
      }),
    )
    expect(error.code).toBe('invalid_request')
    expect(error.message).toBe(
      'Invalid defineCardProvider definition: deleteCard: capability deleteCard is declared but not implemented',
    )
    expect(error.issues).toEqual([
      { path: ['deleteCard'], message: 'capability deleteCard is declared but not implemented' },
    ])
  })

  it('does not require a primitive whose capability is false', () => {
    const provider = defineCardProvider({
      name: 'no-delete',
      capabilities: { ...ALL_CAPABILITIES, deleteCard: false },
      ...primitivesWithout('deleteCard'),
    })
    expect(provider.capabilities.deleteCard).toBe(false)
  })

  it('types a false capability and a missing owner type as compile errors', async () => {
    const provider = defineCardProvider({
      name: 'accounts-only',
      capabilities: {
        ownerTypes: ['account'],
        createCard: true,
        getCard: true,
        listCards: true,
        updateCard: true,
        deleteCard: false,
        setDefaultCard: true,
        invalidateCard: true,
        cardDetails: false,
        externalAccounts: false,
        defaultPolicy: 'caller-chosen',
        updatableFields: ['metadata'],
      },
      getCard: async (o, id) => makeCard({ id, owner: o, provider: 'accounts-only' }),
      createCard: async (o) => makeCard({ owner: o, provider: 'accounts-only' }),
      listCards: async () => ({ data: [], hasMore: false, nextCursor: null }),
      updateCard: async (o, id) => makeCard({ id, owner: o, provider: 'accounts-only' }),
      setDefaultCard: async (o, id) => makeCard({ id, owner: o, provider: 'accounts-only' }),
      invalidateCard: async (o, id) =>
        makeCard({ id, owner: o, provider: 'accounts-only', status: 'invalid' }),
      parseCard: () => null,
    })
    const account = { type: 'account', id: 'acct_1' } as const

    // @ts-expect-error deleteCard is false in the capabilities: calling it does not compile
    const deleting = provider.deleteCard(account, 'x')
    // @ts-expect-error this provider holds cards of accounts only
    const customerRead = provider.getCard({ type: 'customer', id: 'c' }, 'x')
    // @ts-expect-error updatableFields is ['metadata']: the name cannot be updated
    const renaming = provider.updateCard(account, 'x', { holderName: 'Ada' })

    // The calls that the types refuse also fail at run time.
    expect((await rejection(deleting)).code).toBe('unsupported_operation')
    expect((await rejection(customerRead)).code).toBe('unsupported_operation')
    expect((await rejection(renaming)).code).toBe('unsupported_operation')

    // Supported calls compile, and the provider still fits the general contract.
    expect((await provider.getCard(account, 'x')).id).toBe('x')
    expect((await provider.updateCard(account, 'x', { metadata: { a: '1' } })).id).toBe('x')
    const general: CardProvider = provider
    const generalError = await rejection(general.deleteCard(account, 'x'))
    expect(generalError.message).toContain('use invalidateCard to retire a card')
  })
})

describe('defineCardProvider: updateCard', () => {
  it('hands the primitive the fields given, none as undefined (a field left out is kept)', async () => {
    const { provider, spies } = spyProvider()
    await provider.updateCard(owner, 'c', {
      holderName: undefined,
      address: { line1: undefined, city: 'Paris', state: null },
      metadata: { order: '42' },
    })
    const patch = spies.updateCard.mock.calls[0]![2]
    expect(patch).toStrictEqual({
      address: { city: 'Paris', state: null },
      metadata: { order: '42' },
    })
  })
})

describe('defineCardProvider: updatableFields', () => {
  it('refuses a field updatableFields leaves out, naming it and what to do, before any call', async () => {
    const { provider, spies } = spyProvider({ updatableFields: ['metadata'] })
    const cases: Array<[Parameters<CardProvider['updateCard']>[2], string]> = [
      [{ holderName: 'Ada' }, 'holderName'],
      [{ expMonth: 4 }, 'expiry (expMonth, expYear)'],
      [{ expYear: nextYear }, 'expiry (expMonth, expYear)'],
      [{ address: { city: 'Paris' } }, 'address'],
      [{ holderName: null, metadata: { a: '1' } }, 'holderName'],
    ]
    for (const [patch, field] of cases) {
      const error = await rejection(provider.updateCard(owner, 'c', patch))
      expect(error.code).toBe('unsupported_operation')
      expect(error.provider).toBe('spy')
      expect(error.message).toBe(
        `spy cannot update the ${field} of a card (capabilities.updatableFields: metadata): create a card with the new details, then invalidateCard the old one`,
      )
    }
    expect(spies.updateCard).not.toHaveBeenCalled()
  })

  it('names every refused field, and the remedy the capabilities allow', async () => {
    const deleting = spyProvider({ updatableFields: ['metadata'], invalidateCard: false }).provider
    const error = await rejection(
      deleting.updateCard(owner, 'c', { holderName: 'Ada', address: { city: 'Paris' } }),
    )
    expect(error.message).toBe(
      'spy cannot update the address or holderName of a card (capabilities.updatableFields: metadata): create a card with the new details, then deleteCard the old one',
    )
    const neither = spyProvider({
      updatableFields: ['metadata', 'address'],
      invalidateCard: false,
      deleteCard: false,
    }).provider
    expect((await rejection(neither.updateCard(owner, 'c', { expMonth: 4 }))).message).toBe(
      'spy cannot update the expiry (expMonth, expYear) of a card (capabilities.updatableFields: metadata, address): leave it out of the update',
    )
  })

  it('passes a patch of listed fields to the primitive; a key left undefined is no change', async () => {
    const { provider, spies } = spyProvider({ updatableFields: ['metadata', 'expiry'] })
    await provider.updateCard(owner, 'c', {
      metadata: { a: '1' },
      expMonth: 4,
      holderName: undefined,
    })
    expect(spies.updateCard).toHaveBeenCalledWith(owner, 'c', { metadata: { a: '1' }, expMonth: 4 })
  })

  it('refuses at definition time a missing, unknown or empty list (invalid_request)', () => {
    const { updatableFields: _left, ...withoutList } = ALL_CAPABILITIES
    const define = (capabilities: unknown) => () =>
      defineCardProvider({
        name: 'fields',
        capabilities: capabilities as ProviderCapabilities,
        ...spies(),
      })
    const refusal = (capabilities: unknown) => {
      const error = errorOf(define(capabilities))
      expect(error.code).toBe('invalid_request')
      return error.message
    }
    expect(refusal(withoutList)).toBe(
      'Invalid defineCardProvider definition: capabilities.updatableFields: declare the fields updateCard can change (address, expiry, holderName, metadata), or [] without updateCard',
    )
    expect(refusal({ ...ALL_CAPABILITIES, updatableFields: ['name'] })).toBe(
      'Invalid defineCardProvider definition: capabilities.updatableFields.0: Invalid option: expected one of "address"|"expiry"|"holderName"|"metadata"',
    )
    expect(refusal({ ...ALL_CAPABILITIES, updatableFields: [] })).toBe(
      'Invalid defineCardProvider definition: capabilities.updatableFields: updateCard is declared but updatableFields is empty: list the fields it can change, or declare updateCard: false',
    )
    // Without updateCard, an empty list is what to declare.
    expect(define({ ...ALL_CAPABILITIES, updateCard: false, updatableFields: [] })).not.toThrow()
  })
})

describe('defineCardProvider: the definition is checked before anything is built', () => {
  const define = (definition: Record<string, unknown>) => () =>
    defineCardProvider({
      name: 'checked',
      capabilities: ALL_CAPABILITIES,
      ...spies(),
      ...definition,
    } as never)

  it.each([
    ['an empty name', ''],
    ['a name with a space', 'bad name'],
    ['a card number as the name', '4242 4242 4242 4242'],
    ['a key as the name', 'sk_live_51HxPastedAsProviderName'],
    ['a NUL in the name', 'x\u0000y'],
    ['a name of 300 characters', 'a'.repeat(300)],
    ['a name that is no string', 42],
  ])('refuses %s as ProviderNameSchema does, quoting none of it', (_label, name) => {
    const error = errorOf(define({ name }))
    expect(error.code).toBe('invalid_request')
    expect(error.retryable).toBe(false)
    expect(error.message).toMatch(/^Invalid defineCardProvider definition: name: /)
    expect(error.issues?.length).toBeGreaterThan(0)
    for (const issue of error.issues ?? []) expect(issue.path).toEqual(['name'])
    expect(error.message).not.toContain('4242')
    expect(error.message).not.toContain('PastedAsProviderName')
    expect(error.provider).toBeUndefined()
  })

  it.each([
    ['a default policy cardport does not know', { defaultPolicy: 'newest' }, 'defaultPolicy'],
    ['no owner type', { ownerTypes: [] }, 'ownerTypes'],
    ['an owner type cardport does not know', { ownerTypes: ['merchant'] }, 'ownerTypes'],
    ['a capability that is no boolean', { getCard: 'yes' }, 'getCard'],
    ['a capability left out', { cardDetails: undefined }, 'cardDetails'],
  ])('refuses capabilities with %s', (_label, change, field) => {
    const error = errorOf(define({ capabilities: { ...ALL_CAPABILITIES, ...change } }))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toMatch(
      new RegExp(`^Invalid defineCardProvider definition: capabilities\\.${field}`),
    )
  })

  it('refuses a capability it does not know, naming it and the ones there are', () => {
    const error = errorOf(define({ capabilities: { ...ALL_CAPABILITIES, getCards: true } }))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toBe(
      'Invalid defineCardProvider definition: capabilities: unknown capability "getCards": the capabilities are ownerTypes, createCard, getCard, listCards, updateCard, deleteCard, setDefaultCard, invalidateCard, cardDetails, externalAccounts, defaultPolicy, updatableFields',
    )
    // One that may be a secret pasted as a key is counted, not quoted.
    const hidden = errorOf(
      define({ capabilities: { ...ALL_CAPABILITIES, sk_live_51HxPastedAsKey: true } }),
    )
    expect(hidden.message).toContain('an unknown capability whose name is not shown')
    expect(hidden.message).not.toContain('PastedAsKey')
  })

  it('refuses a definition without parseCard, or with a mapError that is no function', () => {
    expect(errorOf(define({ parseCard: undefined })).message).toBe(
      'Invalid defineCardProvider definition: parseCard: parseCard must be a function',
    )
    expect(errorOf(define({ mapError: 'stripe' })).code).toBe('invalid_request')
  })

  it('refuses a definition that is no object, and one whose getter throws, quoting nothing', () => {
    expect(errorOf(() => defineCardProvider(null as never)).code).toBe('invalid_request')
    const throwing = Object.defineProperty({ ...spies() }, 'name', {
      enumerable: true,
      get() {
        throw new Error('card 4242424242424242')
      },
    })
    const error = errorOf(() => defineCardProvider(throwing as never))
    expect(error.message).toBe('Invalid defineCardProvider definition: reading it threw')
  })

  it("leaves the adapter's own keys of the definition alone: its primitives may call them", async () => {
    const definition = {
      name: 'own-keys',
      capabilities: { ...ALL_CAPABILITIES, updateCard: false, updatableFields: [] },
      ...spies(),
      holder: 'Ada Lovelace',
      getCard(this: { holder: string }, o: Owner, id: string) {
        return Promise.resolve(
          makeCard({ id, owner: o, provider: 'own-keys', holderName: this.holder }),
        )
      },
    }
    const provider = defineCardProvider(definition)
    expect((await provider.getCard(owner, 'c')).holderName).toBe('Ada Lovelace')
  })
})

describe('defineCardProvider: what the primitive gets is what was checked', () => {
  /** A field `key` that answers `first` when first read and `second` when read again. */
  const changing = <T extends object>(target: T, key: string, first: unknown, second: unknown) => {
    let reads = 0
    return Object.defineProperty(target, key, {
      enumerable: true,
      get: () => (reads++ === 0 ? first : second),
    })
  }
  const secondReads = [
    ['a card number', '4242 4242 4242 4242'],
    ['an empty value', ''],
    ['an object', { nested: 'x' }],
  ] as const

  // Checked on one read and copied from another, the metadata the adapter sent held a card number.
  it.each(secondReads)(
    'createCard: the metadata value checked reaches the primitive, not %s read next',
    async (_what, second) => {
      const { provider, spies } = spyProvider()
      const metadata = changing({}, 'note', 'ok', second) as Record<string, string>
      await provider.createCard(owner, { source: 'tok_visa', metadata })
      expect(spies.createCard.mock.calls[0]![1]).toStrictEqual({
        source: 'tok_visa',
        metadata: { note: 'ok' },
      })
    },
  )

  it.each(secondReads)(
    'updateCard: the metadata value checked reaches the primitive, not %s read next',
    async (_what, second) => {
      const { provider, spies } = spyProvider()
      const metadata = changing({}, 'note', 'ok', second) as Record<string, string>
      await provider.updateCard(owner, 'c', { metadata })
      expect(spies.updateCard).toHaveBeenCalledWith(owner, 'c', { metadata: { note: 'ok' } })
    },
  )

  it('updateCard: a field updatableFields leaves out cannot appear on a second read', async () => {
    const { provider, spies } = spyProvider({ updatableFields: ['metadata'] })
    const patch = changing({ metadata: { a: '1' } }, 'holderName', undefined, 'Ada')
    await provider.updateCard(owner, 'c', patch)
    expect(spies.updateCard).toHaveBeenCalledWith(owner, 'c', { metadata: { a: '1' } })
  })

  it('updateCard: a patch whose getter throws is invalid_request, what it threw not kept', async () => {
    const { provider, spies } = spyProvider({ updatableFields: ['metadata'] })
    const patch = Object.defineProperty({ metadata: { a: '1' } }, 'holderName', {
      enumerable: true,
      get: () => {
        throw new Error('cannot read 4242 4242 4242 4242')
      },
    })
    const error = await rejection(provider.updateCard(owner, 'c', patch))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toBe('Invalid card update: reading it threw')
    expect(spies.updateCard).not.toHaveBeenCalled()
  })

  it('updateCard: an array is still refused as no patch', async () => {
    const { provider } = spyProvider()
    const error = await rejection(provider.updateCard(owner, 'c', [] as never))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toMatch(/^Invalid card update: /)
  })
})

describe('defineCardProvider: idempotency keys', () => {
  it('generates an idempotency key for every create when the caller gives none', async () => {
    const { provider, spies } = spyProvider()
    await provider.createCard(owner, { source: 'tok_visa' })
    await provider.createCard(owner, { source: 'tok_visa' })
    const keys = spies.createCard.mock.calls.map((call) => call[2].idempotencyKey)
    expect(keys).toHaveLength(2)
    for (const key of keys) expect(key).toMatch(/^[0-9a-f-]{36}$/)
    expect(keys[0]).not.toBe(keys[1])
  })

  it("passes the caller's idempotency key through unchanged", async () => {
    const { provider, spies } = spyProvider()
    await provider.createCard(owner, { source: 'tok_visa' }, { idempotencyKey: 'order-42' })
    expect(spies.createCard).toHaveBeenCalledWith(
      owner,
      { source: 'tok_visa' },
      { idempotencyKey: 'order-42' },
    )
  })

  it('refuses an empty idempotency key', async () => {
    const { provider, spies } = spyProvider()
    const error = await rejection(
      provider.createCard(owner, { source: 'tok_visa' }, { idempotencyKey: '' }),
    )
    expect(error.code).toBe('invalid_request')
    expect(spies.createCard).not.toHaveBeenCalled()
  })

  it('refuses a request option it does not know: a misspelt key would make a retry a second card', async () => {
    const { provider, spies } = spyProvider()
    for (const options of [{ idempotency_key: 'order-42' }, { key: 'order-42' }]) {
      const error = await rejection(
        provider.createCard(owner, { source: 'tok_visa' }, options as never),
      )
      expect(error.code).toBe('invalid_request')
      expect(error.message).toContain('Invalid request options')
    }
    expect(spies.createCard).not.toHaveBeenCalled()
  })
})

describe('defineCardProvider: output and errors', () => {
  it('turns a malformed card from a primitive into a non-retryable provider_unavailable', async () => {
    const { provider } = spyProvider(
      {},
      {
        getCard: async () => ({ ...makeCard(), last4: '42' }),
      },
    )
    const error = await rejection(provider.getCard(owner, 'card_1'))
    expect(error.code).toBe('provider_unavailable')
    expect(error.retryable).toBe(false)
    expect(error.message).toContain('last4')
  })

  it('checks every card of a listed page', async () => {
    const { provider } = spyProvider(
      {},
      {
        listCards: async () => ({
          data: [makeCard(), { ...makeCard({ id: 'card_2' }), brand: 'visa-ish' as Card['brand'] }],
          hasMore: false,
          nextCursor: null,
        }),
      },
    )
    const error = await rejection(provider.listCards(owner))
    expect(error.code).toBe('provider_unavailable')
    expect(error.retryable).toBe(false)
  })

  it('passes a non-Cardport throw to mapError and raises what it returns', async () => {
    const thrown = new Error('socket hang up')
    const mapped = new ConflictError('mapped', { provider: 'spy' })
    const mapError = vi.fn(() => mapped)
    const { provider } = spyProvider(
      {},
      {
        getCard: async () => {
          throw thrown
        },
        mapError,
      },
    )
    await expect(provider.getCard(owner, 'card_1')).rejects.toBe(mapped)
    expect(mapError).toHaveBeenCalledWith(thrown)
  })

  it('wraps what mapError does not recognise as provider_unavailable with the cause', async () => {
    const thrown = new Error('something odd')
    const mapError = vi.fn(() => undefined)
    const { provider } = spyProvider(
      {},
      {
        deleteCard: async () => {
          throw thrown
        },
        mapError,
      },
    )
    const error = await rejection(provider.deleteCard(owner, 'card_1'))
    expect(mapError).toHaveBeenCalledWith(thrown)
    expect(error.code).toBe('provider_unavailable')
    expect(error.retryable).toBe(true)
    // A copy, cleared of card numbers and keys (loggers print a cause).
    expect(error.cause).toBeInstanceOf(Error)
    expect(error.cause).toMatchObject({ name: 'Error', message: 'something odd' })
    expect(error.message).toBe('spy failed during deleteCard with an unexpected error; see cause')
  })

  it("keeps no card number or key in the cause of an adapter's own error, nor in its stack", async () => {
    const number = '4242424242424242'
    const { provider } = spyProvider(
      {},
      {
        getCard: async () => {
          throw new TypeError(`upstream said: card ${number} refused for sk_test_51CauseKey`)
        },
      },
    )
    const error = await rejection(provider.getCard(owner, 'card_1'))
    expect(error.code).toBe('provider_unavailable')
    const cause = error.cause as Error
    expect(cause.name).toBe('TypeError')
    expect(cause.message).toBe('upstream said: card •••• 4242 refused for sk_test_[redacted]')
    expect(inspect(error)).not.toContain(number)
    expect(inspect(error)).not.toContain('51CauseKey')
  })

  it('masks card numbers and keys in the cause of an error mapError returns, keeping the error', async () => {
    const number = '4242424242424242'
    // A third-party HTTP client's error, kept whole as the cause: the request body it holds
    // quotes the card number, as text and as a JSON number.
    class HttpError extends Error {
      override name = 'HttpError'
      config = { url: '/v1/cards', data: `{"number":"${number}","key":"sk_live_51LeakedKey"}` }
      response = { status: 402, data: { number: Number(number), reason: 'declined' } }
    }
    const raw = new HttpError(`card ${number} declined`)
    // Read before it is masked, as a logger may have: V8 formats the stack, message included,
    // when it is first read, so a stack read after the masking alone would always be masked.
    void raw.stack
    const mapped = new ConflictError('declined by the issuer', {
      provider: 'spy',
      status: 402,
      retryable: true,
      details: { param: 'number' },
      cause: raw,
    })
    const { provider } = spyProvider(
      {},
      {
        createCard: async () => {
          throw raw
        },
        mapError: () => mapped,
      },
    )
    const error = await rejection(provider.createCard(owner, { source: 'tok_visa' }))
    // The very error mapError returned: class, code, retryable and details as it made them.
    expect(error).toBe(mapped)
    expect(error).toBeInstanceOf(ConflictError)
    expect(error).toMatchObject({
      code: 'conflict',
      status: 402,
      retryable: true,
      details: { param: 'number' },
    })
    // Its cause is still the client's error, of its class, with every text masked.
    expect(error.cause).toBeInstanceOf(HttpError)
    const cause = error.cause as HttpError
    expect(cause.message).toBe('card •••• 4242 declined')
    expect(cause.config.data).toBe('{"number":"•••• 4242","key":"sk_live_[redacted]"}')
    expect(cause.response).toEqual({
      status: 402,
      data: { number: '•••• 4242', reason: 'declined' },
    })
    expect(inspect(error, { depth: 10 })).not.toContain(number)
    expect(inspect(error, { depth: 10 })).not.toContain('51LeakedKey')
  })

  it('masks the cause of a CardportError a primitive throws itself, and a cause given as text', async () => {
    const number = '5555555555554444'
    const cause = new Error(`card ${number} is the default`, { cause: `number=${number}` })
    // Read before it is masked, as a logger may have: V8 formats the stack, message included,
    // when it is first read, so a stack read after the masking alone would always be masked.
    void cause.stack
    const thrown = new ConflictError('in use', { provider: 'spy', cause })
    const { provider } = spyProvider(
      {},
      {
        deleteCard: async () => {
          throw thrown
        },
      },
    )
    const error = await rejection(provider.deleteCard(owner, 'card_1'))
    expect(error).toBe(thrown)
    expect((error.cause as Error).message).toBe('card •••• 4444 is the default')
    expect((error.cause as Error).cause).toBe('number=•••• 4444')
    expect(inspect(error, { depth: 10 })).not.toContain(number)

    const textual = new ConflictError('in use', { provider: 'spy', cause: `card ${number}` })
    const { provider: other } = spyProvider(
      {},
      {
        getCard: async () => {
          throw new Error('raw')
        },
        mapError: () => textual,
      },
    )
    expect((await rejection(other.getCard(owner, 'card_1'))).cause).toBe('card •••• 4444')

    // A number kept as a bigint (a client that reads big integers so) is masked too.
    const big = new ConflictError('in use', { provider: 'spy', cause: BigInt(number) })
    const { provider: third } = spyProvider(
      {},
      { getCard: async () => Promise.reject(big), mapError: () => big },
    )
    expect((await rejection(third.getCard(owner, 'card_1'))).cause).toBe('•••• 4444')
  })

  it('replaces a cause whose URL, query, map or headers hold a secret by a masked copy, never writing them', async () => {
    const number = '4000056655665556'
    // The client's own headers, which its next requests send: they keep the key.
    const headers = new Headers({ authorization: 'Bearer sk_live_abcdefghijklmnop' })
    const causes = [
      { url: new URL(`https://api.example/v1/cards?number=${number}`) },
      { form: new URLSearchParams({ number }) },
      { fields: new Map([['number', number]]) },
      { headers },
    ]
    for (const fields of causes) {
      const cause = Object.assign(new Error(`refused ${number}`), fields)
      const mapped = new ConflictError('refused', { provider: 'spy', cause })
      const { provider } = spyProvider(
        {},
        { getCard: async () => Promise.reject(cause), mapError: () => mapped },
      )
      const error = await rejection(provider.getCard(owner, 'card_1'))
      expect(error.cause).not.toBe(cause)
      expect(error.cause).toMatchObject({ name: 'Error', message: 'refused •••• 5556' })
      expect(inspect(error, { depth: 10 })).not.toMatch(/4000056655665556|abcdefghijklmnop/)
    }
    expect(headers.get('authorization')).toBe('Bearer sk_live_abcdefghijklmnop')
  })

  it("keeps no card number in a cause's class instances, symbol-keyed fields or AggregateError errors", async () => {
    const number = '4111111111111111'
    const raise = async (cause: Error) => {
      const mapped = new ConflictError('declined', { provider: 'spy', cause })
      const { provider } = spyProvider(
        {},
        { getCard: async () => Promise.reject(cause), mapError: () => mapped },
      )
      const error = await rejection(provider.getCard(owner, 'card_1'))
      expect(error).toBe(mapped)
      expect(inspect(error, { depth: 10 }), cause.name).not.toContain(number)
      return error
    }
    // A client's request object, its body quoting the card: not written, so the cause is a copy.
    const request = new HttpRequest(`number=${number}&cvc=123`)
    const withRequest = Object.assign(new Error('card declined'), { request })
    const copied = await raise(withRequest)
    expect(copied.cause).not.toBe(withRequest)
    expect(copied.cause).toMatchObject({ name: 'Error', message: 'card declined' })
    expect(request.body).toBe(`number=${number}&cvc=123`)
    // A symbol-keyed field and an AggregateError's errors are masked in place.
    const withSymbol = Object.assign(new Error('card declined'), {
      [Symbol('body')]: `number=${number}`,
    })
    expect((await raise(withSymbol)).cause).toBe(withSymbol)
    const aggregate = new AggregateError([new Error(`bad number ${number}`)], 'all attempts failed')
    expect((await raise(aggregate)).cause).toBe(aggregate)
  })

  it('masks a frozen cause by a masked copy of it, and leaves a cause without secrets as it is', async () => {
    const number = '4000056655665556'
    const frozen = Object.freeze(new TypeError(`card ${number} refused`))
    const mapped = new ConflictError('refused', { provider: 'spy', cause: frozen })
    const { provider } = spyProvider(
      {},
      {
        getCard: async () => {
          throw frozen
        },
        mapError: () => mapped,
      },
    )
    const error = await rejection(provider.getCard(owner, 'card_1'))
    expect(error).toBe(mapped)
    expect(error.cause).toMatchObject({ name: 'TypeError', message: 'card •••• 5556 refused' })
    expect(inspect(error, { depth: 10 })).not.toContain(number)

    const plain = new Error('socket hang up')
    const clean = new ConflictError('refused', { provider: 'spy', cause: plain })
    const { provider: other } = spyProvider(
      {},
      {
        getCard: async () => {
          throw plain
        },
        mapError: () => clean,
      },
    )
    expect((await rejection(other.getCard(owner, 'card_1'))).cause).toBe(plain)
  })

  it('wraps what a mapError that throws could not map, as if unmapped', async () => {
    const { provider } = spyProvider(
      {},
      {
        deleteCard: async () => {
          throw new Error('socket hang up')
        },
        mapError: (error: unknown) => {
          // A mapper that expected a response on every error.
          const status = (error as { response: { status: number } }).response.status
          return status === 404 ? undefined : undefined
        },
      },
    )
    const error = await rejection(provider.deleteCard(owner, 'card_1'))
    expect(error.code).toBe('provider_unavailable')
    expect((error.cause as Error).message).toBe('socket hang up')
  })

  it.each([
    ['no data', { hasMore: false, nextCursor: null }],
    ['null', null],
    ['hasMore not a boolean', { data: [], hasMore: 'yes', nextCursor: null }],
    ['a cursor that is a number', { data: [], hasMore: true, nextCursor: 42 }],
  ])('refuses a page with %s: provider_unavailable, not retryable', async (_, page) => {
    const { provider } = spyProvider({}, { listCards: async () => page as never })
    const error = await rejection(provider.listCards(owner))
    expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
    expect(error.message).toContain('returned a page cardport cannot read')
  })

  it("returns a page's three fields only", async () => {
    const extra = {
      data: [],
      hasMore: false,
      nextCursor: null,
      raw: { number: '4242424242424242' },
    }
    const { provider } = spyProvider({}, { listCards: async () => extra as never })
    expect(await provider.listCards(owner)).toStrictEqual({
      data: [],
      hasMore: false,
      nextCursor: null,
    })
  })

  it('lets a CardportError thrown by a primitive through without calling mapError', async () => {
    const conflict = new ConflictError('in use', { provider: 'spy' })
    const mapError = vi.fn(() => undefined)
    const { provider } = spyProvider(
      {},
      {
        setDefaultCard: async () => {
          throw conflict
        },
        mapError,
      },
    )
    await expect(provider.setDefaultCard(owner, 'card_1')).rejects.toBe(conflict)
    expect(mapError).not.toHaveBeenCalled()
  })
})

describe('defineCardProvider: a card of another owner or provider is refused', () => {
  const otherOwners: Array<[string, Partial<Card>]> = [
    ['another owner of the same type', { owner: { type: 'customer', id: 'cus_2' } }],
    ['an owner of another type with the same id', { owner: { type: 'account', id: 'cus_1' } }],
    ["another provider's name", { provider: 'stripe' }],
  ]
  const calls: Array<
    [
      string,
      keyof ReturnType<typeof spies> | 'getDefaultCard',
      (p: CardProvider) => Promise<unknown>,
    ]
  > = [
    ['createCard', 'createCard', (p) => p.createCard(owner, { source: 'tok_visa' })],
    ['getCard', 'getCard', (p) => p.getCard(owner, 'card_1')],
    ['listCards', 'listCards', (p) => p.listCards(owner)],
    ['updateCard', 'updateCard', (p) => p.updateCard(owner, 'card_1', { holderName: 'Ada' })],
    ['setDefaultCard', 'setDefaultCard', (p) => p.setDefaultCard(owner, 'card_1')],
    ['invalidateCard', 'invalidateCard', (p) => p.invalidateCard(owner, 'card_1')],
    ['getDefaultCard', 'getDefaultCard', (p) => p.getDefaultCard(owner)],
  ]

  for (const [what, wrong] of otherOwners) {
    for (const [operation, primitive, run] of calls) {
      it(`${operation}: a card with ${what} is a non-retryable provider_unavailable`, async () => {
        const card = makeCard({ isDefault: true, ...wrong })
        const answer = async () =>
          primitive === 'listCards' ? { data: [card], hasMore: false, nextCursor: null } : card
        const { provider } = spyProvider({}, { [primitive]: answer })
        const error = await rejection(run(provider))
        expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
        expect(error.provider).toBe('spy')
        expect(error.message).toContain(operation)
      })
    }
  }

  it('names no card number an adapter put in the owner it answered with', async () => {
    const number = '4242424242424242'
    const { provider } = spyProvider(
      {},
      { getCard: async () => makeCard({ owner: { type: 'customer', id: number } }) },
    )
    const error = await rejection(provider.getCard(owner, 'card_1'))
    expect(error.code).toBe('provider_unavailable')
    expect(inspect(error)).not.toContain(number)
    expect(JSON.stringify(error.toJSON())).not.toContain(number)
  })

  it('parseCard without an owner refuses a payload whose owner id is a card number, naming the field', () => {
    // Without an owner, the payload names it (a webhook's): stored, the number would be a key of
    // the store, and every log line naming the owner would quote it.
    const number = '4242424242424242'
    const { provider } = spyProvider(
      {},
      { parseCard: () => makeCard({ owner: { type: 'customer', id: number } }) },
    )
    const error = errorOf(() => provider.parseCard({ object: 'card' }))
    expect(error).toMatchObject({ code: 'invalid_request', retryable: false })
    expect(error.issues).toEqual([
      expect.objectContaining({
        path: ['owner', 'id'],
        message: 'an owner id cannot be a card number',
      }),
    ])
    expect(inspect(error, { depth: 10 })).not.toContain(number)
  })

  it("refuses a listed page that holds one other owner's card among the owner's", async () => {
    const { provider } = spyProvider(
      {},
      {
        listCards: async () => ({
          data: [makeCard(), makeCard({ id: 'card_2', owner: { type: 'customer', id: 'cus_2' } })],
          hasMore: false,
          nextCursor: null,
        }),
      },
    )
    const error = await rejection(provider.listCards(owner))
    expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
  })

  it('parseCard given an owner refuses a card of another owner or provider with invalid_request', () => {
    for (const [, wrong] of otherOwners) {
      const provider = spyProvider({}, { parseCard: () => makeCard(wrong) }).provider
      expect(errorOf(() => provider.parseCard({ object: 'card' }, owner))).toMatchObject({
        code: 'invalid_request',
        retryable: false,
      })
    }
    // Without an owner the payload names it, whoever it is; the provider's name is still checked.
    const others = spyProvider(
      {},
      { parseCard: () => makeCard({ owner: { type: 'customer', id: 'cus_2' } }) },
    )
    expect(others.provider.parseCard({ object: 'card' })?.owner).toEqual({
      type: 'customer',
      id: 'cus_2',
    })
    const renamed = spyProvider({}, { parseCard: () => makeCard({ provider: 'stripe' }) })
    expect(errorOf(() => renamed.provider.parseCard({ object: 'card' })).code).toBe(
      'invalid_request',
    )
  })

  // Asked for card_1, an adapter answers with another card of the same owner: CardSync would
  // store it (and make it the default) as the answer about card_1.
  const askingCard_1: Array<
    [
      'getCard' | 'updateCard' | 'setDefaultCard' | 'invalidateCard',
      (p: CardProvider) => Promise<unknown>,
    ]
  > = [
    ['getCard', (p) => p.getCard(owner, 'card_1')],
    ['updateCard', (p) => p.updateCard(owner, 'card_1', { holderName: 'Ada' })],
    ['setDefaultCard', (p) => p.setDefaultCard(owner, 'card_1')],
    ['invalidateCard', (p) => p.invalidateCard(owner, 'card_1')],
  ]
  for (const answered of ['card_2', 'CARD_1', 'card_1 ']) {
    for (const [operation, run] of askingCard_1) {
      it(`${operation}: asked for card_1, a card whose id is ${JSON.stringify(answered)} is a non-retryable provider_unavailable`, async () => {
        const { provider } = spyProvider(
          {},
          { [operation]: async () => makeCard({ id: answered }) },
        )
        const error = await rejection(run(provider))
        expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
        expect(error.provider).toBe('spy')
        expect(error.message).toContain(operation)
        expect(error.message).toContain(`card ${answered}`)
      })
    }
  }

  it('names no card number an adapter put in the card id it answered with', async () => {
    // The card's id is read first: a card number there is the schema's refusal, named by field.
    const number = '4242424242424242'
    const { provider } = spyProvider({}, { getCard: async () => makeCard({ id: number }) })
    const error = await rejection(provider.getCard(owner, 'card_1'))
    expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
    expect(inspect(error)).not.toContain(number)
  })

  it('createCard, listCards and getDefaultCard name no card: any id of the owner is taken', async () => {
    const card = makeCard({ id: 'card_9', isDefault: true })
    const { provider } = spyProvider(
      {},
      {
        createCard: async () => card,
        listCards: async () => ({ data: [card], hasMore: false, nextCursor: null }),
      },
    )
    expect((await provider.createCard(owner, { source: 'tok_visa' })).id).toBe('card_9')
    expect((await provider.listCards(owner)).data[0]?.id).toBe('card_9')
    expect((await provider.getDefaultCard(owner))?.id).toBe('card_9')
  })

  it("takes the card the adapter's cardIdOf says an asked id names (a URI for its id)", async () => {
    const uri = '/v1/cards/card_1'
    const cardIdOf = (cardId: string) => cardId.slice(cardId.lastIndexOf('/') + 1)
    const { provider } = spyProvider({}, { cardIdOf, getCard: async () => makeCard() })
    expect((await provider.getCard(owner, uri)).id).toBe('card_1')
    // What it says is compared exactly: another card is still refused.
    const other = spyProvider({}, { cardIdOf, getCard: async () => makeCard({ id: 'card_2' }) })
    expect((await rejection(other.provider.getCard(owner, uri))).code).toBe('provider_unavailable')
  })

  it("gives the provider the adapter's cardIdOf, and none when the adapter declares none", () => {
    const cardIdOf = (cardId: string) => cardId.slice(cardId.lastIndexOf('/') + 1)
    expect(spyProvider({}, { cardIdOf }).provider.cardIdOf?.('/v1/cards/card_1')).toBe('card_1')
    expect(spyProvider().provider.cardIdOf).toBeUndefined()
    // A caller's id is checked as every operation checks it, before the adapter sees it.
    const asked = vi.fn(cardIdOf)
    const { provider } = spyProvider({}, { cardIdOf: asked })
    expect(errorOf(() => provider.cardIdOf?.('card_\u0000')).code).toBe('invalid_request')
    expect(asked).not.toHaveBeenCalled()
  })

  // An adapter bug: its cardIdOf answers no card id. Taken as it is, an answer of `undefined`
  // left the card answered unchecked, and CardSync stored and deleted under it.
  const noCardIds: [string, unknown][] = [
    ['undefined', undefined],
    ['an empty string', ''],
    ['a number', 42],
    ['a card number', CARD_NUMBER_ID],
    ['an id with a NUL character', 'card_\u0000'],
  ]
  for (const [what, answer] of noCardIds) {
    it(`a cardIdOf that answers ${what} is a non-retryable provider_unavailable, before any request`, async () => {
      const getCard = vi.fn(async () => makeCard())
      const { provider } = spyProvider({}, { cardIdOf: () => answer as string, getCard })
      for (const error of [
        errorOf(() => provider.cardIdOf?.('card_1')),
        await rejection(provider.getCard(owner, 'card_1')),
      ]) {
        expect(error).toMatchObject({ code: 'provider_unavailable', retryable: false })
        expect(error.message).toContain('spy answered cardIdOf with no card id')
        expect(inspect(error)).not.toContain(CARD_NUMBER_ID)
      }
      expect(getCard).not.toHaveBeenCalled()
    })
  }

  it('makes what cardIdOf throws a CardportError through mapError, as a primitive throw, before any request', async () => {
    const thrown = new Error(`cannot read ${CARD_NUMBER_ID}`)
    const mapped = new ConflictError('mapped')
    const mapError = vi.fn(() => mapped)
    const getCard = vi.fn(async () => makeCard())
    const cardIdOf = () => {
      throw thrown
    }
    const { provider } = spyProvider({}, { cardIdOf, mapError, getCard })
    expect(await rejection(provider.getCard(owner, 'card_1'))).toBe(mapped)
    expect(errorOf(() => provider.cardIdOf?.('card_1'))).toBe(mapped)
    expect(mapError).toHaveBeenCalledWith(thrown)
    expect(getCard).not.toHaveBeenCalled()
    const unmapped = spyProvider({}, { cardIdOf }).provider
    const error = errorOf(() => unmapped.cardIdOf?.('card_1'))
    expect(error).toMatchObject({ code: 'provider_unavailable', retryable: true })
    expect(error.message).toBe('spy failed during cardIdOf with an unexpected error; see cause')
    expect(inspect(error, { depth: 10 })).not.toContain(CARD_NUMBER_ID)
  })

  it("accepts the owner's own cards, of either owner type", async () => {
    const account = { type: 'account', id: 'acct_1' } as const
    const { provider } = spyProvider()
    expect((await provider.getCard(account, 'card_1')).owner).toEqual(account)
    expect((await provider.createCard(owner, { source: 'tok_visa' })).owner).toEqual(owner)
  })
})

// A server that ignored the change, or a cache or proxy in the adapter's way, answers with the
// card as it was: a caller of the provider itself (no CardSync in between) would take a card it
// retired for retired, or a card that did not become the default for the default.
describe('defineCardProvider: an answer that shows the operation undone is refused', () => {
  const undone: Array<
    [
      'setDefaultCard' | 'invalidateCard',
      string,
      Partial<Card>,
      (p: CardProvider) => Promise<unknown>,
    ]
  > = [
    [
      'invalidateCard',
      'still active',
      { status: 'active' },
      (p) => p.invalidateCard(owner, 'card_1'),
    ],
    [
      'setDefaultCard',
      'not the default',
      { isDefault: false },
      (p) => p.setDefaultCard(owner, 'card_1'),
    ],
  ]
  for (const [operation, state, answered, run] of undone) {
    it(`${operation} answered with the card ${state} is a non-retryable provider_unavailable naming the operation`, async () => {
      // The holder name holds a card number, which no message may quote.
      const card = makeCard({ holderName: `Ada ${CARD_NUMBER_ID}`, ...answered })
      const primitive = vi.fn(async () => card)
      const { provider } = spyProvider({}, { [operation]: primitive })
      const error = await rejection(run(provider))
      expect(error).toMatchObject({
        code: 'provider_unavailable',
        retryable: false,
        provider: 'spy',
      })
      expect(error.message).toContain(
        `spy answered ${operation} for customer:cus_1 with card card_1 ${state}`,
      )
      expect(inspect(error, { depth: 10 }).replace(/\D/g, '')).not.toContain(CARD_NUMBER_ID)
      expect(JSON.stringify(error.toJSON())).not.toContain(CARD_NUMBER_ID)
      // Asked once: not retried, as the same server answers the same.
      expect(primitive).toHaveBeenCalledTimes(1)
    })
  }

  it('setDefaultCard answered not the default is taken where cards have no default', async () => {
    const { provider } = spyProvider(
      { defaultPolicy: 'none' },
      { setDefaultCard: async () => makeCard({ isDefault: false }) },
    )
    expect(await provider.setDefaultCard(owner, 'card_1')).toMatchObject({
      id: 'card_1',
      isDefault: false,
    })
  })

  it('invalidateCard is still refused an active card where cards have no default', async () => {
    const { provider } = spyProvider(
      { defaultPolicy: 'none' },
      { invalidateCard: async () => makeCard({ status: 'active' }) },
    )
    expect(await rejection(provider.invalidateCard(owner, 'card_1'))).toMatchObject({
      code: 'provider_unavailable',
      retryable: false,
    })
  })

  it('takes the answers that show the operation done, and the other operations as they are', async () => {
    const { provider } = spyProvider(
      {},
      {
        getCard: async () => makeCard({ status: 'invalid', isDefault: false }),
        updateCard: async () => makeCard({ status: 'invalid', isDefault: false }),
      },
    )
    expect(await provider.setDefaultCard(owner, 'card_1')).toMatchObject({ isDefault: true })
    expect(await provider.invalidateCard(owner, 'card_1')).toMatchObject({ status: 'invalid' })
    expect(await provider.getCard(owner, 'card_1')).toMatchObject({ status: 'invalid' })
    const patch = { holderName: 'Ada' }
    expect(await provider.updateCard(owner, 'card_1', patch)).toMatchObject({ isDefault: false })
  })

  it('refuses another card than the one asked for first, by its id', async () => {
    const { provider } = spyProvider(
      {},
      { invalidateCard: async () => makeCard({ id: 'card_2', status: 'active' }) },
    )
    const error = await rejection(provider.invalidateCard(owner, 'card_1'))
    expect(error.message).toContain('card card_2 where card card_1 was asked for')
  })
})

describe('parseCardPayload: an adapter mapping helper read as parseCard reads', () => {
  it('reads the card with the Card schema, masking a card number in its text', () => {
    const card = parseCardPayload('vault', () =>
      makeCard({ holderName: '4242 4242 4242 4242', metadata: { note: '4000056655665556' } }),
    )
    expect(card).toMatchObject({ holderName: '•••• 4242', metadata: { note: '•••• 5556' } })
  })

  it('refuses a card the schema cannot hold with invalid_request naming the field', () => {
    const error = errorOf(() => parseCardPayload('vault', () => ({ ...makeCard(), last4: '42' })))
    expect(error.code).toBe('invalid_request')
    expect(error.issues?.map((issue) => issue.path)).toEqual([['last4']])
  })

  it('raises what the mapping throws as invalid_request, its card number masked', () => {
    const error = errorOf(() =>
      parseCardPayload('vault', () => {
        throw new TypeError('cannot read 4242 4242 4242 4242')
      }),
    )
    expect(error).toMatchObject({
      code: 'invalid_request',
      message: 'vault could not read this payload as a card',
    })
    expect(inspect(error, { depth: 10 })).toContain('cannot read •••• 4242')
    expect(inspect(error, { depth: 10 })).not.toContain('4242 4242')
  })

  it('keeps the "default unknown" mark, and answers null for a payload that is no card', () => {
    const read = parseCardPayload('spy', () => markDefaultUnknown(makeCard()))
    expect(read !== null && isDefaultUnknown(read)).toBe(true)
    expect(parseCardPayload('spy', () => null)).toBeNull()
  })
})

describe('defineCardProvider: getDefaultCard', () => {
  it('derives the default from listCards, across several pages, when no primitive is given', async () => {
    // Seven cards served two per page whatever the limit; the default is on the last page.
    const cards = Array.from({ length: 7 }, (_, index) =>
      makeCard({ id: `card_${index}`, isDefault: index === 6 }),
    )
    const listCards = vi.fn(async (_owner: Owner, options: { cursor?: string }) => {
      const start = options.cursor ? Number(decodeCursor('spy', options.cursor).offset) : 0
      const hasMore = start + 2 < cards.length
      return {
        data: cards.slice(start, start + 2),
        hasMore,
        nextCursor: hasMore ? encodeCursor('spy', { offset: start + 2 }) : null,
      }
    })
    const { provider } = spyProvider({}, { listCards })
    const found = await provider.getDefaultCard(owner)
    expect(found?.id).toBe('card_6')
    expect(listCards).toHaveBeenCalledTimes(4)
  })

  it('returns null when no listed card is the default', async () => {
    const { provider } = spyProvider(
      {},
      {
        listCards: async () => ({ data: [makeCard()], hasMore: false, nextCursor: null }),
      },
    )
    expect(await provider.getDefaultCard(owner)).toBeNull()
  })

  it('uses the getDefaultCard primitive when given, and checks its output', async () => {
    const listCards = vi.fn(async () => ({ data: [], hasMore: false, nextCursor: null }))
    const { provider } = spyProvider(
      {},
      {
        listCards,
        getDefaultCard: async () => makeCard({ id: 'card_d', isDefault: true }),
      },
    )
    expect((await provider.getDefaultCard(owner))?.id).toBe('card_d')
    expect(listCards).not.toHaveBeenCalled()

    const broken = spyProvider(
      {},
      {
        getDefaultCard: async () => ({ ...makeCard(), expMonth: 13 }),
      },
    ).provider
    expect((await rejection(broken.getDefaultCard(owner))).code).toBe('provider_unavailable')
  })
})

describe('defineCardProvider: parseCard', () => {
  const parsing = (parse: (raw: unknown, o?: Owner) => Card | null) =>
    spyProvider({}, { parseCard: parse }).provider

  it('returns null for what is not a card', () => {
    const provider = parsing((raw) =>
      (raw as { object?: string }).object === 'card' ? makeCard() : null,
    )
    expect(provider.parseCard({ object: 'bank_account', last4: '6789' })).toBeNull()
    expect(provider.parseCard({ object: 'card' })?.id).toBe('card_1')
  })

  it('raises invalid_request for a card payload it cannot read', () => {
    const malformed = parsing(() => ({ ...makeCard(), last4: 'abcd' }))
    expect(errorOf(() => malformed.parseCard({}))).toMatchObject({ code: 'invalid_request' })

    const cause = new TypeError("Cannot read properties of undefined (reading 'exp_month')")
    const throwing = parsing(() => {
      throw cause
    })
    const error = errorOf(() => throwing.parseCard({ object: 'card' }))
    expect(error.code).toBe('invalid_request')
    expect(error.cause).toMatchObject({ name: 'TypeError', message: cause.message })
  })

  it('masks card numbers and keys in the cause of a CardportError the primitive throws, keeping the error', () => {
    const number = '4242424242424242'
    // The adapter keeps the payload it could not read as the cause: it quotes the card number.
    const payload = { object: 'card', number, note: `key sk_live_51PayloadKey for ${number}` }
    const thrown = new ConflictError('card payload of another marketplace', {
      provider: 'spy',
      retryable: true,
      cause: payload,
    })
    const throwing = parsing(() => {
      throw thrown
    })
    const error = errorOf(() => throwing.parseCard({ object: 'card' }))
    expect(error).toBe(thrown)
    expect(error).toMatchObject({ code: 'conflict', retryable: true })
    expect(error.cause).toEqual({
      object: 'card',
      number: '•••• 4242',
      note: 'key sk_live_[redacted] for •••• 4242',
    })
    expect(inspect(error, { depth: 10 })).not.toContain(number)
    expect(inspect(error, { depth: 10 })).not.toContain('51PayloadKey')
  })

  it("keeps the primitive's default-unknown mark on the validated card, and only it", () => {
    const unknown = parsing(() => markDefaultUnknown(makeCard()))
    const known = parsing(() => makeCard())
    const card = unknown.parseCard({ object: 'card' })
    expect(card).toMatchObject({ id: 'card_1', isDefault: false })
    expect(isDefaultUnknown(card!)).toBe(true)
    expect(isDefaultUnknown(known.parseCard({ object: 'card' })!)).toBe(false)
    // A copy is a new card: the mark does not follow it.
    expect(isDefaultUnknown({ ...card! })).toBe(false)
  })

  it('gives the primitive the validated owner', () => {
    const parse = vi.fn((_raw: unknown, o?: Owner) => makeCard({ owner: o ?? owner }))
    const provider = parsing(parse)
    const other = { type: 'customer', id: 'cus_2' } as const
    expect(provider.parseCard({}, other)?.owner).toEqual(other)
    expect(parse).toHaveBeenCalledWith({}, other)
    expect(errorOf(() => provider.parseCard({}, { type: 'customer', id: '' })).code).toBe(
      'invalid_request',
    )
  })
})

// --- helpers ---

const ALL_CAPABILITIES = {
  ownerTypes: ['customer', 'account'],
  createCard: true,
  getCard: true,
  listCards: true,
  updateCard: true,
  deleteCard: true,
  setDefaultCard: true,
  invalidateCard: true,
  cardDetails: true,
  externalAccounts: false,
  defaultPolicy: 'first-card',
  updatableFields: ['address', 'expiry', 'holderName', 'metadata'],
} as const satisfies ProviderCapabilities

function makeCard(overrides: Partial<Card> = {}): Card {
  return {
    id: 'card_1',
    provider: 'spy',
    owner,
    brand: 'visa',
    last4: '4242',
    expMonth: 12,
    expYear: nextYear,
    holderName: null,
    address: { ...EMPTY_ADDRESS },
    country: 'US',
    fingerprint: 'fp_1',
    funding: 'credit',
    checks: { cvc: null, addressLine1: null, postalCode: null },
    currency: null,
    isDefault: false,
    status: 'active',
    metadata: {},
    createdAt: null,
    ...overrides,
  }
}

function spies() {
  return {
    createCard: vi.fn(async (o: Owner, _input: unknown, _context: { idempotencyKey: string }) =>
      makeCard({ owner: o }),
    ),
    getCard: vi.fn(async (o: Owner, id: string) => makeCard({ id, owner: o })),
    listCards: vi.fn(async (_o: Owner, _options: { limit: number; cursor?: string }) => ({
      data: [] as Card[],
      hasMore: false,
      nextCursor: null,
    })),
    updateCard: vi.fn(async (o: Owner, id: string, _patch: unknown) => makeCard({ id, owner: o })),
    deleteCard: vi.fn(async (_o: Owner, _id: string) => {}),
    setDefaultCard: vi.fn(async (o: Owner, id: string) =>
      makeCard({ id, owner: o, isDefault: true }),
    ),
    invalidateCard: vi.fn(async (o: Owner, id: string) =>
      makeCard({ id, owner: o, status: 'invalid' }),
    ),
    parseCard: vi.fn((_raw: unknown, _o?: Owner): Card | null => null),
  }
}

/** A provider over spy primitives; `overrides` replace primitives or add mapError. */
function spyProvider(
  capabilities: Partial<ProviderCapabilities> = {},
  overrides: Partial<Parameters<typeof defineCardProvider>[0]> = {},
) {
  const primitives = spies()
  const provider: CardProvider = defineCardProvider({
    name: 'spy',
    capabilities: { ...ALL_CAPABILITIES, ...capabilities },
    ...primitives,
    ...overrides,
  })
  return { provider, spies: primitives }
}

function primitivesWithout(operation: keyof ReturnType<typeof spies>) {
  const { [operation]: _left, ...rest } = spies()
  return { parseCard: () => null, ...rest }
}

function manyKeys(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`key_${index}`, 'v']))
}
