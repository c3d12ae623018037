import { describe, expect, it } from 'vitest'
import { definedFields } from './defined-fields.js'

describe('definedFields', () => {
  it('copies what a spread copies, less the undefined entries', () => {
    const tag = Symbol('tag')
    const fields = JSON.parse('{"__proto__": {"polluted": true}, "name": "Ada", "email": null}')
    Object.assign(fields, { [tag]: 'kept', phone: undefined })
    const copy = definedFields(fields)
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Reflect.ownKeys(copy)).toEqual(['__proto__', 'name', 'email', tag])
    expect(copy).toEqual({ ...fields, phone: undefined })
    expect(Reflect.ownKeys(copy)).toEqual(
      Reflect.ownKeys({ ...fields }).filter((k) => k !== 'phone'),
    )
  })
})
