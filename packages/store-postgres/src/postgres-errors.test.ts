import { describe, expect, it } from 'vitest'
import { VALUES_LEFT_OUT, withoutRowValues } from './postgres-errors.js'

describe('withoutRowValues', () => {
  it('cuts a quoted value out of a stack already formatted, and out of every cause', () => {
    const inner = Object.assign(new Error('invalid input syntax for type smallint: "Ottoline"'), {
      code: '22P02',
      detail: 'Failing row contains (card_1, Ottoline).',
    })
    void inner.stack // V8 formats the stack, message included, when it is first read
    const outer = new Error('write failed', { cause: inner })
    withoutRowValues(outer)
    expect(inner).toMatchObject({
      code: '22P02',
      message: `invalid input syntax for type smallint: ${VALUES_LEFT_OUT}`,
      detail: `Failing row contains ${VALUES_LEFT_OUT}.`,
    })
    expect(inner.stack).not.toContain('Ottoline')
    expect(inner.stack).toContain(VALUES_LEFT_OUT)
  })

  it("cuts a value quoted after 'value ' or 'Token ', with no colon before it", () => {
    const outOfRange = Object.assign(
      new Error('value "4242424242" is out of range for type integer'),
      {
        code: '22003',
      },
    )
    const badJson = Object.assign(new Error('invalid input syntax for type json'), {
      code: '22P02',
      detail: 'Token "Ottoline" is invalid.',
    })
    withoutRowValues(outOfRange)
    withoutRowValues(badJson)
    expect(outOfRange.message).toBe(`value ${VALUES_LEFT_OUT} is out of range for type integer`)
    expect(badJson.detail).toBe(`Token ${VALUES_LEFT_OUT} is invalid.`)
  })
})
