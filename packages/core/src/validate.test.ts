import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { errorOf } from './__fixtures__/errors.js'
import { optionsObject, validate } from './validate.js'

describe('optionsObject', () => {
  const Options = optionsObject({ apiKey: z.string(), timeoutMs: z.number().optional() })

  it('takes the options it knows', () => {
    expect(validate(Options, { apiKey: 'k', timeoutMs: 5 }, 'demo options')).toEqual({
      apiKey: 'k',
      timeoutMs: 5,
    })
  })

  it('refuses an option it does not know, naming it and the options it knows', () => {
    const other = errorOf(() => validate(Options, { apiKey: 'k', host: 'h' }, 'demo options'))
    expect(other.message).toBe(
      'Invalid demo options: unknown option "host": the options are apiKey, timeoutMs',
    )
    const error = errorOf(() => validate(Options, { apiKey: 'k', timeoutMS: 5 }, 'demo options'))
    expect(error.code).toBe('invalid_request')
    expect(error.message).toBe(
      'Invalid demo options: unknown option "timeoutMS" (did you mean timeoutMs?): the options are apiKey, timeoutMs',
    )
    expect(error.issues).toEqual([{ path: [], message: expect.stringContaining('"timeoutMS"') }])
  })

  it.each([
    ['a marketplace secret', 'ak-test-notForMessages0001'],
    ['a Stripe key', 'sk_test_notForMessages'],
    ['a signing secret', 'whsec_notForMessages'],
    ['a random token', 'notForMessages0123456789abcdef'],
    ['a long name', 'notForMessages'.repeat(4)],
    ['a name of 41 letters', 'notForMessages'.repeat(3).slice(0, 41)],
  ])('does not quote a key that is no option name (%s): it may be a secret', (_name, key) => {
    const error = errorOf(() =>
      validate(Options, { apiKey: 'k', [key]: key, tiemout: 1 }, 'demo options'),
    )
    expect(error.message).toBe(
      'Invalid demo options: unknown options "tiemout", 1 more whose name is not shown (not an option name: it may be a secret): the options are apiKey, timeoutMs',
    )
    expect(JSON.stringify(error.issues)).not.toContain('notForMessages')
  })

  it('quotes a name of up to 40 letters', () => {
    const name = 'unknownOption'.repeat(4).slice(0, 40)
    const error = errorOf(() => validate(Options, { apiKey: 'k', [name]: 1 }, 'demo options'))
    expect(error.message).toBe(
      `Invalid demo options: unknown option "${name}": the options are apiKey, timeoutMs`,
    )
  })

  it('names a known option written another way (snake case, kebab case, case), and says which', () => {
    const error = errorOf(() =>
      validate(
        Options,
        { apiKey: 'k', api_key: 'k', 'timeout-ms': 1, APIKEY: 'k' },
        'demo options',
      ),
    )
    expect(error.message).toBe(
      'Invalid demo options: unknown options "api_key" (did you mean apiKey?), "timeout-ms" (did you mean timeoutMs?), "APIKEY" (did you mean apiKey?): the options are apiKey, timeoutMs',
    )
  })

  it('says how many keys it does not show when it names none', () => {
    const error = errorOf(() =>
      validate(Options, { apiKey: 'k', 'ak-1': 1, 'ak-2': 2 }, 'demo options'),
    )
    expect(error.message).toBe(
      'Invalid demo options: 2 unknown options whose names are not shown (not an option name: it may be a secret): the options are apiKey, timeoutMs',
    )
  })
})
