import { describe, expect, it } from 'vitest'
import { errorOf } from './__fixtures__/errors.js'
import { sampleCard } from './__fixtures__/sample-card.js'
import { CardSchema, compiledCardSchema } from './card.js'
import {
  applyMetadataPatch,
  METADATA_LIMITS,
  MetadataPatchSchema,
  MetadataSchema,
  ProviderMetadataSchema,
  providerMetadata,
} from './metadata.js'
import { validate } from './validate.js'

const schemas = [
  ['MetadataSchema', MetadataSchema],
  ['MetadataPatchSchema', MetadataPatchSchema],
] as const

it('uses Stripe limits for every provider', () => {
  expect(METADATA_LIMITS).toEqual({ maxKeys: 50, maxKeyLength: 40, maxValueLength: 500 })
})

describe.each(schemas)('%s limits', (_name, schema) => {
  it('accepts 50 keys and refuses 51', () => {
    expect(schema.safeParse(pairs(50)).success).toBe(true)
    const result = schema.safeParse(pairs(51))
    expect(result.success).toBe(false)
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([
      'metadata holds at most 50 keys',
    ])
  })

  it('accepts a 40-character key and refuses a 41-character one', () => {
    expect(schema.safeParse({ ['k'.repeat(40)]: 'v' }).success).toBe(true)
    expect(schema.safeParse({ ['k'.repeat(41)]: 'v' }).success).toBe(false)
  })

  it('accepts a 500-character value and refuses a 501-character one', () => {
    expect(schema.safeParse({ note: 'v'.repeat(500) }).success).toBe(true)
    const result = schema.safeParse({ note: 'v'.repeat(501) })
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.path).toEqual(['note'])
    expect(result.error?.issues[0]?.message).toBe('a metadata value is at most 500 characters')
  })

  it('refuses empty keys, keys with brackets and values that are not strings', () => {
    expect(schema.safeParse({ '': 'v' }).success).toBe(false)
    expect(schema.safeParse({ 'a[b]': 'v' }).success).toBe(false)
    // Either bracket alone too, not only a pair: a form-encoded key (metadata[a]]) breaks on it.
    for (const key of ['a]', 'a[', ']b']) {
      expect(schema.safeParse({ [key]: 'v' }).error?.issues[0]?.message, key).toBe(
        'a metadata key cannot contain square brackets',
      )
    }
    expect(schema.safeParse({ count: 3 }).success).toBe(false)
    expect(schema.safeParse({ flag: null }).success).toBe(false)
    expect(schema.safeParse(['a']).success).toBe(false)
  })
})

describe('empty values', () => {
  it('are allowed in a patch, where they unset the key', () => {
    expect(MetadataPatchSchema.parse({ order_id: '' })).toEqual({ order_id: '' })
  })

  it('are refused in stored metadata', () => {
    const result = MetadataSchema.safeParse({ order_id: '' })
    expect(result.success).toBe(false)
    expect(result.error?.issues[0]?.path).toEqual(['order_id'])
    expect(result.error?.issues[0]?.message).toBe('a stored metadata value is never empty')
  })
})

describe('validate() on metadata', () => {
  it('names the too-long key limit in words', () => {
    let thrown: unknown
    try {
      validate(MetadataPatchSchema, { ['k'.repeat(41)]: 'v' }, 'metadata')
    } catch (error) {
      thrown = error
    }
    expect(thrown).toMatchObject({ code: 'invalid_request' })
    expect((thrown as Error).message).toContain('a metadata key is at most 40 characters')
  })
})

describe('applyMetadataPatch', () => {
  it('sets new keys, replaces changed ones and removes those patched with an empty value', () => {
    const current = { order_id: '6735', plan: 'basic', note: 'hi' }
    const next = applyMetadataPatch(current, { plan: 'pro', note: '', region: 'eu' })
    expect(next).toEqual({ order_id: '6735', plan: 'pro', region: 'eu' })
  })

  it('does not change the stored metadata it was given', () => {
    const current = { order_id: '6735' }
    applyMetadataPatch(current, { order_id: '', extra: 'x' })
    expect(current).toEqual({ order_id: '6735' })
  })

  it('ignores an empty value for a key that is not there, and an empty patch', () => {
    expect(applyMetadataPatch({ a: '1' }, { b: '' })).toEqual({ a: '1' })
    expect(applyMetadataPatch({ a: '1' }, {})).toEqual({ a: '1' })
  })

  it('gives metadata that MetadataSchema accepts', () => {
    const next = applyMetadataPatch({ a: '1' }, { a: '', b: '2' })
    expect(MetadataSchema.parse(next)).toEqual({ b: '2' })
  })
})

function pairs(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, index) => [`key_${index}`, 'v']))
}

describe.each(schemas)('%s refuses a card number in a value', (_name, schema) => {
  it.each(['4242424242424242', 'paid with 4242 4242 4242 4242 today', '5555-5555-5555-4444'])(
    'refuses %s without echoing it',
    (value) => {
      const error = errorOf(() => validate(schema, { note: value }, 'metadata'))
      expect(error.code).toBe('invalid_request')
      expect(error.issues?.[0]?.message).toBe(
        'a card number is not allowed in a metadata value: keep card numbers out of metadata',
      )
      expect(JSON.stringify(error)).not.toMatch(/4242 ?4242|5555-5555/)
    },
  )

  it('refuses one in a key too, without echoing it', () => {
    for (const key of ['4242424242424242', 'pan 5555 5555 5555 4444']) {
      const error = errorOf(() => validate(schema, { [key]: 'x' }, 'metadata'))
      expect(error.code).toBe('invalid_request')
      expect(error.issues?.[0]?.message).toBe(
        'a card number is not allowed in a metadata key: keep card numbers out of metadata',
      )
      expect(JSON.stringify(error)).not.toMatch(/4242424242424242|5555 5555/)
      expect(error.message).not.toMatch(/4242424242424242|5555 5555/)
    }
  })

  it('accepts other numbers', () => {
    expect(schema.parse({ order: '1234-5678', ref: '4242424242424241' })).toEqual({
      order: '1234-5678',
      ref: '4242424242424241',
    })
  })
})

describe('ProviderMetadataSchema (a card read from a provider)', () => {
  it('masks a card number in a value instead of refusing the card', () => {
    expect(
      ProviderMetadataSchema.parse({ note: 'paid with 4242 4242 4242 4242', order: '1234-5678' }),
    ).toEqual({ note: 'paid with •••• 4242', order: '1234-5678' })
  })

  it('masks a card number in a key as well', () => {
    expect(ProviderMetadataSchema.parse({ 'pan 4242424242424242': 'v', plan: 'pro' })).toEqual({
      'pan •••• 4242': 'v',
      plan: 'pro',
    })
  })

  it("takes keys and sizes as the provider holds them: Stripe's limits are for what is sent", () => {
    const held = {
      ...Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`key_${i}`, 'v'])),
      ['k'.repeat(41)]: 'a key longer than 40',
      'items[0]': 'brackets',
      note: 'x'.repeat(501),
    }
    expect(ProviderMetadataSchema.parse(held)).toEqual(held)
    for (const schema of [MetadataSchema, MetadataPatchSchema]) {
      expect(schema.safeParse(held).error?.issues.map((issue) => issue.message)).toEqual(
        expect.arrayContaining([
          'a metadata key is at most 40 characters',
          'a metadata key cannot contain square brackets',
          'a metadata value is at most 500 characters',
          'metadata holds at most 50 keys',
        ]),
      )
    }
  })

  it('still refuses values that are not non-empty strings', () => {
    expect(ProviderMetadataSchema.safeParse({ plan: 3 }).error?.issues[0]?.message).toBe(
      'a metadata value is a string',
    )
    expect(ProviderMetadataSchema.safeParse({ plan: '' }).error?.issues[0]?.message).toBe(
      'a stored metadata value is never empty',
    )
  })
})

describe.each([
  ['MetadataSchema', MetadataSchema],
  ['MetadataPatchSchema', MetadataPatchSchema],
  ['ProviderMetadataSchema', ProviderMetadataSchema],
] as const)('%s, pair by pair', (_name, schema) => {
  it('gives a copy that holds the pairs, never the object it was given', () => {
    const given = { order_id: '6735' }
    const parsed = schema.parse(given)
    expect(parsed).toEqual(given)
    expect(parsed).not.toBe(given)
  })

  it('leaves out a pair named __proto__ (from JSON) without taking it as a prototype', () => {
    const parsed = schema.parse(JSON.parse('{"__proto__": {"admin": "yes"}, "plan": "pro"}'))
    expect(parsed).toEqual({ plan: 'pro' })
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype)
  })

  it('refuses what is not a plain object, and keys that are symbols', () => {
    for (const input of [null, 'plan=pro', 3, ['a'], new Map([['a', 'b']])]) {
      expect(schema.safeParse(input).error?.issues.map((issue) => issue.message)).toEqual([
        'metadata is an object of string values',
      ])
    }
    expect(schema.safeParse({ [Symbol('key')]: 'v' }).error?.issues[0]?.message).toBe(
      'a metadata key is a string',
    )
  })

  it('counts the keys a copy would hold: 50 keys and a __proto__ pair are accepted', () => {
    const input = JSON.parse(JSON.stringify({ ...pairs(50) }).replace('{', '{"__proto__":"x",'))
    expect(Object.keys(input)).toHaveLength(51)
    expect(schema.safeParse(input).success).toBe(true)
  })
})

describe.each([
  ['MetadataSchema', MetadataSchema],
  ['MetadataPatchSchema', MetadataPatchSchema],
] as const)('%s, the limits of what is sent', (_name, schema) => {
  it('reports each bad pair at its key, in order, and each in its own words', () => {
    const result = schema.safeParse({ 'a[0]': 'v', good: 'v', count: 3, '': 'v' })
    expect(result.error?.issues.map(({ path, message }) => ({ path, message }))).toEqual([
      { path: ['a[0]'], message: 'a metadata key cannot contain square brackets' },
      { path: ['count'], message: 'a metadata value is a string' },
      { path: [''], message: 'a metadata key cannot be empty' },
    ])
  })
})

describe('providerMetadata (an adapter reading a payload)', () => {
  it('keeps the pairs whose value is a non-empty string, in a new object', () => {
    const raw = { order: '42', empty: '', count: 3, none: null, nested: { a: 'b' }, list: ['x'] }
    const pairs = providerMetadata(raw)
    expect(pairs).toEqual({ order: '42' })
    expect(pairs).not.toBe(raw)
    expect(Object.getPrototypeOf(pairs)).toBe(Object.prototype)
  })

  it('gives {} for a payload that is not a plain object', () => {
    for (const value of [undefined, null, 'order=42', 42, ['42'], true]) {
      expect(providerMetadata(value)).toEqual({})
    }
  })

  it("drops a __proto__ key (as JSON.parse makes it) instead of setting the result's prototype", () => {
    const pairs = providerMetadata(JSON.parse('{"__proto__": "x", "a": "b"}'))
    expect(pairs).toEqual({ a: 'b' })
    expect(Object.getPrototypeOf(pairs)).toBe(Object.prototype)
    expect(Object.keys(pairs)).toEqual(['a'])
  })

  it('gives metadata that ProviderMetadataSchema accepts, and keeps keys as the provider holds them', () => {
    const long = 'k'.repeat(60)
    const pairs = providerMetadata({ [long]: 'v', 'a[b]': 'c' })
    expect(ProviderMetadataSchema.parse(pairs)).toEqual({ [long]: 'v', 'a[b]': 'c' })
  })
})

/**
 * Metadata whose pair `note` answers `'ok'` when first read and `second` when read again, and
 * how many times it was read.
 */
function changingPair(second: unknown) {
  const reads = { count: 0 }
  const pairs = Object.defineProperty({}, 'note', {
    enumerable: true,
    get: () => (reads.count++ === 0 ? 'ok' : second),
  }) as Record<string, string>
  return { pairs, reads }
}

const SECOND_READS = [
  ['a card number', '4242 4242 4242 4242'],
  ['an empty value', ''],
  ['an object', { nested: 'x' }],
] as const

describe.each([
  ['MetadataSchema', MetadataSchema],
  ['MetadataPatchSchema', MetadataPatchSchema],
  ['ProviderMetadataSchema', ProviderMetadataSchema],
] as const)('%s reads each value once', (_name, schema) => {
  // Checked on one read and copied from another, the copy held what was never checked.
  it.each(SECOND_READS)(
    'gives the value checked, not %s a getter answers next',
    (_what, second) => {
      const { pairs, reads } = changingPair(second)
      expect(schema.safeParse(pairs)).toEqual({ success: true, data: { note: 'ok' } })
      expect(reads.count).toBe(1)
    },
  )

  it('judges the value it gives: a bad first read is refused whatever comes next', () => {
    let reads = 0
    const pairs = Object.defineProperty({}, 'note', {
      enumerable: true,
      get: () => (reads++ === 0 ? { nested: 'x' } : 'ok'),
    })
    expect(
      schema.safeParse(pairs).error?.issues.map(({ path, message }) => ({ path, message })),
    ).toEqual([{ path: ['note'], message: 'a metadata value is a string' }])
  })

  it('reads the keys once: a key a Proxy lists only later is neither checked nor copied', () => {
    // Each listing of its keys names one more: the third holds a card number.
    const target = { a: '1', b: '2', '4000056655665556': 'x' }
    let listings = 0
    const growing = new Proxy(target, {
      ownKeys: () => Object.keys(target).slice(0, Math.min(++listings, 3)),
    })
    const result = schema.safeParse(growing)
    expect(result.success).toBe(true)
    expect(Object.keys(result.data ?? {})).not.toContain('4000056655665556')
  })

  it('is invalid_request through validate() when a getter throws, what it threw not kept', () => {
    const pairs = Object.defineProperty({}, 'note', {
      enumerable: true,
      get: () => {
        throw new Error('cannot read 4242 4242 4242 4242')
      },
    })
    const error = errorOf(() => validate(schema, pairs, 'metadata'))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toBe('Invalid metadata: reading it threw')
  })
})

describe.each([
  ['CardSchema', CardSchema],
  ['compiledCardSchema()', compiledCardSchema()],
] as const)('%s reads each metadata value once', (_name, schema) => {
  it.each(SECOND_READS)(
    'gives the value checked, not %s a getter answers next',
    (_what, second) => {
      const { pairs, reads } = changingPair(second)
      const card = sampleCard('card_1', { type: 'customer', id: 'cus_1' }, { metadata: pairs })
      expect(schema.parse(card).metadata).toEqual({ note: 'ok' })
      expect(reads.count).toBe(1)
    },
  )
})
