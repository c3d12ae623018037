// The leak detector must find what it is for, or the hostile-input suite proves nothing.
import { inspect } from 'node:util'
import { CardportError, InvalidRequestError } from '@cardport/core'
import { describe, expect, it } from 'vitest'
import { errorText, findLeaks, SECRETS, safeJson, TEST_CARD_NUMBERS } from './support/leak-scan.js'

const kinds = (text: string) => findLeaks(text, Object.values(SECRETS)).map((leak) => leak.kind)

describe('findLeaks', () => {
  it.each(TEST_CARD_NUMBERS)(
    'finds the test card number %s, plain, grouped and encoded',
    (number) => {
      const grouped = (number.match(/.{1,4}/g) ?? []).join(' ')
      const dashed = (number.match(/.{1,4}/g) ?? []).join('-')
      const inUrl = `/cards/${encodeURIComponent(grouped)}`
      const inForm = `number=${grouped.replaceAll(' ', '+')}`
      for (const text of [number, `card ${grouped} declined`, `{"n":"${dashed}"}`, inUrl, inForm]) {
        expect(kinds(text), text.replace(/\d/g, '#')).toEqual(['card number'])
      }
    },
  )

  it('finds a number pasted with no-break spaces, tabs, line breaks or en dashes, or encoded so', () => {
    const [number] = TEST_CARD_NUMBERS
    const groups = number.match(/.{1,4}/g) ?? []
    for (const gap of [
      '\u00a0',
      '\u202f',
      '\t',
      '\r\n',
      '  ',
      '\u2013',
      '\u200b',
      '%C2%A0',
      // Invisible: a web page's soft hyphen, a right-to-left page's direction mark.
      '\u00ad',
      '\u200e',
      '%C2%AD',
    ]) {
      const text = `card ${groups.join(gap)} declined`
      expect(kinds(text), JSON.stringify(gap)).toEqual(['card number'])
    }
  })

  it('finds a number grouped by tabs or line breaks in JSON and in inspect output, where they are escapes', () => {
    // The scan reads results and stored rows through `JSON.stringify`, errors and log lines
    // through `util.inspect` too, and both write a tab or a line break as a backslash and a
    // letter: read as written, `4242\n4242\n…` is four short numbers.
    const [number] = TEST_CARD_NUMBERS
    const groups = number.match(/.{1,4}/g) ?? []
    const long = ' and a note long enough that inspect breaks the string at each line break'
    for (const gap of ['\t', '\n', '\r', '\r\n', '\n\n', '\f', '\v', ' \t', '\t-']) {
      const text = `card ${groups.join(gap)} declined`
      // A stored row whose metadata column holds JSON: escaped once there, twice in its JSON.
      const row = { card_id: 'card_1', metadata: JSON.stringify({ note: text }) }
      const serialised = {
        JSON: JSON.stringify(text),
        'JSON of a row whose metadata column holds JSON': safeJson([row]),
        inspect: inspect(text),
        'inspect of a row whose metadata column holds JSON': inspect(row),
        'inspect, one line per line break': inspect({ holderName: `${text}${long}` }),
        'inspect of an error cause': inspect(new Error('refused', { cause: { raw: row } })),
        errorText: errorText(Object.assign(new Error('refused'), { details: { note: text } })),
      }
      for (const [how, written] of Object.entries(serialised)) {
        expect(kinds(written), `${JSON.stringify(gap)}, ${how}`).toContain('card number')
      }
    }
    // Only the escapes of white space are gaps: a backslash otherwise joins nothing.
    const backspaced = groups.join('\b')
    for (const serialised of [JSON.stringify(backspaced), inspect(backspaced)]) {
      expect(kinds(serialised), serialised.replace(/\d/g, '#')).toEqual([])
    }
    expect(kinds(inspect(groups.join('\u0000')))).toEqual([])
    expect(kinds(JSON.stringify(groups.join('\\')))).toEqual([])
  })

  it('finds a number written in full-width, Arabic-Indic or Devanagari digits', () => {
    const [number] = TEST_CARD_NUMBERS
    for (const zero of [0xff10, 0x0660, 0x06f0, 0x0966]) {
      const written = number.replace(/[0-9]/g, (d) => String.fromCodePoint(zero + Number(d)))
      const grouped = (written.match(/.{1,4}/gu) ?? []).join(' ')
      for (const text of [`name ${written}`, `{"n":"${grouped}"}`]) {
        expect(kinds(text), zero.toString(16)).toEqual(['card number'])
      }
    }
    expect(kinds('٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤١ (Luhn fails)')).toEqual([])
  })

  it('finds a Luhn-valid run among other numbers, and ignores numbers that are no card', () => {
    expect(kinds('qty 1 4242 4242 4242 4242')).toEqual(['card number'])
    expect(kinds('4242424242424241 (Luhn fails)')).toEqual([])
    expect(kinds('order 12345, amount 1999, at 2024-05-01T10:00:00Z')).toEqual([])
    expect(kinds('last4 4242, exp 12/2030')).toEqual([])
  })

  it('reads a version-4 UUID as a key, even one whose digit groups pass the Luhn check', () => {
    // Seen once in a run at 15× the usual runs: a createCard idempotency key, echoed in the
    // emulator's response headers, held "8765-432109876733", which passes Luhn.
    const key = 'e5b1c2d3-fef1-4123-8765-432109876733'
    expect(kinds('8765-432109876733')).toEqual(['card number'])
    expect(kinds(`'idempotency-key': '${key}'`)).toEqual([])
    expect(kinds(`${key} 4242424242424242`)).toEqual(['card number'])
    expect(kinds(`${key.replace('-4123-', '-5123-')}`)).toEqual(['card number'])
  })

  it('reads a marketplace request id as an id, even one with a Luhn-valid run of digits', () => {
    // Seen once in a run at 15× the usual runs, in an error's requestId.
    const requestId = 'OHMdeb3aa8765432109876733abcdef0123'
    expect(requestId).toHaveLength(35)
    expect(kinds('8765432109876733')).toEqual(['card number'])
    expect(kinds(`{"requestId":"${requestId}"}`)).toEqual([])
    expect(kinds(`{"requestId":"${requestId.slice(3)}"}`)).toEqual(['card number'])
  })

  it('finds each secret, as is and as an HTTP basic-auth value', () => {
    const basic = Buffer.from(`${SECRETS.stripeKey}:`).toString('base64')
    expect(kinds(`key ${SECRETS.stripeKey}`)).toEqual(['secret'])
    expect(kinds(`Authorization: Basic ${basic}`)).toEqual(['secret'])
    expect(kinds(`${SECRETS.webhookSecret}`)).toEqual(['secret'])
    expect(kinds('sk_test_[redacted] and whsec_[redacted]')).toEqual([])
  })
})

describe('errorText', () => {
  it('includes the cause chain and the fields a logger prints', () => {
    const cause = new Error(`No such token: '${TEST_CARD_NUMBERS[0]}'`)
    const error = new InvalidRequestError('bad token', { cause, details: { param: 'source' } })
    expect(kinds(errorText(error))).toContain('card number')
    const clean = new CardportError('invalid_request', 'bad token', { details: { param: 'x' } })
    expect(kinds(errorText(clean))).toEqual([])
  })

  it('reads the whole cause chain, however deep: a number 12 levels under a cause, a cause 12 errors down', () => {
    // `{ ...error }` skips the cause (not enumerable), and `inspect` at a fixed depth prints
    // what lies deeper as `[Object]`: an error body quoting the request it refused nests it so.
    let nested: unknown = '4242 4242 4242 4242'
    for (let level = 0; level < 12; level++) nested = { request: nested }
    const cause = Object.assign(new Error('upstream'), { raw: nested })
    expect(kinds(errorText(new InvalidRequestError('refused', { cause })))).toEqual(['card number'])
    let chain = new Error(`No such token: '${TEST_CARD_NUMBERS[0]}'`)
    for (let level = 0; level < 12; level++) chain = new Error('wrapped', { cause: chain })
    expect(kinds(errorText(chain))).toEqual(['card number'])
    // A cause chain that loops ends.
    const looped = new Error('looped')
    looped.cause = new Error('back', { cause: looped })
    expect(kinds(errorText(looped))).toEqual([])
  })
})
