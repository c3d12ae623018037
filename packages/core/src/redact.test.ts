import { inspect } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { HttpRequest } from './__fixtures__/http-request.js'
import { luhnCheckDigit } from './__fixtures__/luhn.js'
import { isLuhnValid } from './card-number.js'
import {
  blankGluedDigitGroups,
  containsCardNumber,
  maskCardNumbers,
  maskCardNumberValue,
  redact,
  redactInPlace,
  redactSecrets,
} from './redact.js'

describe('redact: card numbers', () => {
  it('masks a plain number to its last four digits', () => {
    expect(redact('card 4242424242424242 was declined')).toBe('card •••• 4242 was declined')
  })

  it('masks numbers grouped with spaces or dashes', () => {
    expect(redact('card 4242 4242 4242 4242 was declined')).toBe('card •••• 4242 was declined')
    expect(redact('card 4242-4242-4242-4242 was declined')).toBe('card •••• 4242 was declined')
  })

  it('masks a number whose spaces or dashes a URL or a form encoded', () => {
    expect(redact('No card at /v1/cards/4242%204242%204242%204242. [not-found]')).toBe(
      'No card at /v1/cards/•••• 4242. [not-found]',
    )
    expect(redact('card=5555%2D5555%2d5555%2D4444&x=1')).toBe('card=•••• 4444&x=1')
    expect(redact('number=4242+4242+4242+4242')).toBe('number=•••• 4242')
    expect(containsCardNumber('/cards/4242%204242%204242%204242')).toBe(true)
    expect(redact('100%20 off, order 1234%205678')).toBe('100%20 off, order 1234%205678')
  })

  // Pasted from a web page, a PDF or a spreadsheet, a number comes with other separators.
  it.each([
    ['no-break spaces', '4242\u00a04242\u00a04242\u00a04242'],
    ['narrow no-break spaces', '4242\u202f4242\u202f4242\u202f4242'],
    ['tabs', '4242\t4242\t4242\t4242'],
    ['line breaks', '4242\n4242\r\n4242\n4242'],
    ['two spaces', '4242  4242  4242  4242'],
    ['en dashes', '4242\u20134242\u20134242\u20134242'],
    ['zero-width spaces', '4242\u200b4242\u200b4242\u200b4242'],
    ['encoded no-break spaces', '4242%C2%A04242%c2%a04242%C2%A04242'],
    ['encoded line breaks', '4242%0A4242%0d%0a4242%094242'],
    // Invisible format characters: the number reads whole. Soft hyphens come from web pages;
    // direction marks and embeddings from text copied out of a right-to-left page or app.
    ['soft hyphens', '4242\u00ad4242\u00ad4242\u00ad4242'],
    ['left-to-right marks', '4242\u200e4242\u200e4242\u200e4242'],
    ['direction isolates', '4242\u2069 \u20664242\u2069 \u20664242\u2069 \u20664242'],
    ['Arabic letter marks', '4242\u061c4242\u061c4242\u061c4242'],
    ['encoded soft hyphens', '4242%C2%AD4242%C2%AD4242%C2%AD4242'],
  ])('masks a number grouped with %s', (_name, number) => {
    const text = `card ${number} was declined`
    expect(redact(text)).toBe('card •••• 4242 was declined')
    expect(redactSecrets(text)).toBe('card •••• 4242 was declined')
    expect(containsCardNumber(text)).toBe(true)
    expect(maskCardNumbers(text)).toBe('card •••• 4242 was declined')
  })

  // A keyboard in an East Asian input mode types a full-width hyphen or, in kana mode, the
  // long-vowel mark; word processors make a minus sign of a hyphen; a URL encodes them all.
  it.each([
    ['full-width hyphens', '4242\uff0d4242\uff0d4242\uff0d4242'],
    ['small hyphen-minus signs', '4242\ufe634242\ufe634242\ufe634242'],
    ['minus signs', '4242\u22124242\u22124242\u22124242'],
    ['katakana long-vowel marks', '4242\u30fc4242\u30fc4242\u30fc4242'],
    ['ideographic spaces', '4242\u30004242\u30004242\u30004242'],
    ['encoded en dashes', '4242%E2%80%934242%e2%80%934242%E2%80%934242'],
    ['encoded full-width hyphens', '4242%EF%BC%8D4242%EF%BC%8D4242%EF%BC%8D4242'],
    ['encoded narrow no-break spaces', '4242%E2%80%AF4242%E2%80%AF4242%E2%80%AF4242'],
    ['encoded ideographic spaces', '4242%E3%80%804242%E3%80%804242%E3%80%804242'],
  ])('masks a number grouped with %s, as any dash or space', (_name, number) => {
    const text = `card ${number} was declined`
    expect(redact(text)).toBe('card •••• 4242 was declined')
    expect(containsCardNumber(text)).toBe(true)
    expect(maskCardNumbers(text)).toBe('card •••• 4242 was declined')
  })

  it('masks a number grouped with any white space or dash, typed or URL-encoded (property)', () => {
    const gaps: string[] = ['\u2212', '\u30fc', '\u200b', '\u200c', '\u200d', '\u2060']
    for (let code = 0; code <= 0xffff; code++) {
      const char = String.fromCharCode(code)
      if (/[\s\p{Pd}\p{Cf}]/u.test(char)) gaps.push(char)
    }
    const cardArb = fc
      .tuple(
        fc.constantFrom('4', '51', '2221', '6011', '3530'),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 }),
      )
      .map(([prefix, digits]) => {
        const body = (prefix + digits.join('')).slice(0, 15)
        return body + luhnCheckDigit(body)
      })
    fc.assert(
      fc.property(cardArb, fc.constantFrom(...gaps), fc.boolean(), (number, gap, encoded) => {
        const grouped = (number.match(/.{1,4}/g) ?? []).join(gap)
        const text = `/v1/cards/${encoded ? encodeURIComponent(grouped) : grouped}?x=1`
        expect(containsCardNumber(text)).toBe(true)
        expect(redact(text)).toBe(`/v1/cards/•••• ${number.slice(-4)}?x=1`)
      }),
    )
  })

  it('does not join numbers across an encoded character that is no separator', () => {
    for (const text of [
      'pages 4242%2F4242%2F4242%2F4242',
      'pages 4242/4242/4242/4242',
      'ids 4242%2C4242%2C4242%2C4242',
    ]) {
      expect(redact(text)).toBe(text)
      expect(containsCardNumber(text)).toBe(false)
    }
    expect(redact('a=4242424242424242%2F1')).toBe('a=•••• 4242%2F1')
  })

  // `%60` and `%42` decode to no separator, and were read as one character: the `60` and `42`
  // they hold were not tried as the first digits of the number after them.
  it('reads a number after a digit and a percent sign, its first digits taken for an encoding', () => {
    for (const [text, masked] of [
      ['fee 2%6011111111111117', 'fee 2%•••• 1117'],
      ['discount 100%4242424242424242.', 'discount 100%•••• 4242.'],
      ['1%6011 1111 1111 1117', '1%•••• 1117'],
      ['2%30%6011111111111117', '2%30%•••• 1117'],
    ] as const) {
      expect(containsCardNumber(text)).toBe(true)
      expect(maskCardNumbers(text)).toBe(masked)
      expect(redact(text)).toBe(masked)
    }
    // The encoded character's digits are kept when the number stands whole without them.
    expect(redact('2%604242424242424242')).toBe('2%60•••• 4242')
    expect(containsCardNumber('5%2F4242%2F4242%2F4242')).toBe(false)
  })

  // Each digit an encoded separator holds (the `2` and the `0` of `%20`) started a search that
  // read the rest of the separators: 100,000 characters took seconds, a larger text minutes.
  it('reads a long run of encoded separators in one pass, and gives it back as it was', () => {
    for (const separator of ['%20', '%C2%A0', '%E2%80%93']) {
      const gaps = separator.repeat(Math.ceil(200_000 / separator.length))
      expect(redact(`1${gaps}x`)).toBe(`1${gaps}x`)
      expect(containsCardNumber(`1${gaps}x`)).toBe(false)
      expect(maskCardNumbers(`4242424242424242${gaps}x`)).toBe(`•••• 4242${gaps}x`)
      expect(redactSecrets(`a 4242${gaps}4242 4242 4242`)).toBe('a •••• 4242')
    }
  })

  it('leaves short numbers on separate lines or after no-break spaces', () => {
    const text = 'Order 1234\u00a05678\nRoom 12\t34'
    expect(redact(text)).toBe(text)
    expect(containsCardNumber(text)).toBe(false)
  })

  it('masks a 12-digit number, the shortest a card has (a Maestro)', () => {
    expect(redact('card 501800000009 declined')).toBe('card •••• 0009 declined')
    expect(redact('424242424242')).toBe('•••• 4242')
  })

  it('masks an Amex number in its 4-6-5 grouping', () => {
    expect(redact('amex 3782 822463 10005 ok')).toBe('amex •••• 0005 ok')
    expect(redact('amex 3782-822463-10005 ok')).toBe('amex •••• 0005 ok')
  })

  it('masks a 14-digit Diners and a 2-series Mastercard number', () => {
    expect(redact('diners 36227206271667')).toBe('diners •••• 1667')
    expect(redact('mc 2223003122003222')).toBe('mc •••• 3222')
  })

  it('masks every number in a text', () => {
    const text = 'tried 4242424242424242, then 5555 5555 5555 4444, then 3782-822463-10005.'
    expect(redact(text)).toBe('tried •••• 4242, then •••• 4444, then •••• 0005.')
  })

  it('masks numbers inside JSON and leaves the rest of it valid', () => {
    const json = JSON.stringify({
      card: { number: '4000056655665556', exp_month: 12 },
      amount: 1999,
      created: 1700000000000,
    })
    const redacted = redact(json)
    expect(redacted).toBe(
      '{"card":{"number":"•••• 5556","exp_month":12},"amount":1999,"created":1700000000000}',
    )
    expect(JSON.parse(redacted)).toEqual({
      card: { number: '•••• 5556', exp_month: 12 },
      amount: 1999,
      created: 1700000000000,
    })
  })

  it('masks a number that shares its digit run with a nearby number or follows a dash', () => {
    expect(redact('qty 1 4242424242424242')).toBe('qty 1 •••• 4242')
    expect(redact('qty 1 4242 4242 4242 4242')).toBe('qty 1 •••• 4242')
    expect(redact('id-4242424242424242')).toBe('id-•••• 4242')
    expect(redact('12-4242-4242-4242-4242')).toBe('12-•••• 4242')
  })

  it('masks a Luhn-valid number of an unknown brand, and a known brand failing Luhn', () => {
    // 13 digits, no known prefix, Luhn-valid: still a possible card.
    expect(redact('n=1234567890128')).toBe('n=•••• 0128')
    // A Visa prefix with a typo in the check digit: still someone's card number.
    expect(redact('n=4242424242424241')).toBe('n=•••• 4241')
  })

  it('leaves numbers that are not cards unchanged', () => {
    const texts = [
      'created at 1700000000000 ms',
      'amount 1234.56 USD, 100000 cents, -42',
      'ids 123456 and 98765432101',
      'order 1700000000000 1700000000001',
      'phone +14155550123',
      '2024-08-31',
      'no digits here',
      '',
    ]
    for (const text of texts) expect(redact(text)).toBe(text)
  })
})

describe('redactSecrets', () => {
  it('removes secret, restricted and publishable keys, live and test', () => {
    expect(redactSecrets('key sk_live_51HqLyjWDarjtT1zdp7dc was refused')).toBe(
      'key sk_live_[redacted] was refused',
    )
    expect(redactSecrets('sk_test_4eC39HqLyjWDarjtT1zdp7dc')).toBe('sk_test_[redacted]')
    expect(redactSecrets('rk_live_abcDEF123 and rk_test_xyz789')).toBe(
      'rk_live_[redacted] and rk_test_[redacted]',
    )
    expect(redactSecrets('pk_live_abc123')).toBe('pk_live_[redacted]')
  })

  it('removes a key glued to what comes before it, as in a URL path', () => {
    expect(redactSecrets('No card at /v1/cards/%20sk_test_51ReliabilityKey%20.')).toBe(
      'No card at /v1/cards/%20sk_test_[redacted]%20.',
    )
    expect(redactSecrets('/hooks/%2Fwhsec_3e1Ab9cD0eF1')).toBe('/hooks/%2Fwhsec_[redacted]')
  })

  it('removes a key whole even when it holds a long digit run', () => {
    const redacted = redactSecrets('using sk_live_4242424242424242abcXYZ now')
    expect(redacted).toBe('using sk_live_[redacted] now')
  })

  // Stripe's own keys hold no underscore after their head, but the keys of emulators, fixtures and
  // other tools do (`sk_test_cardport_emulator`): a key cut at its second underscore printed its
  // tail, and the CLI, which removes its configured keys by value, no longer found them whole.
  it('removes a key whose body holds underscores whole', () => {
    expect(redactSecrets('key sk_test_cardport_emulator refused')).toBe(
      'key sk_test_[redacted] refused',
    )
    expect(redactSecrets('rk_live_a_b_c.')).toBe('rk_live_[redacted].')
    expect(redactSecrets('secret whsec_rotated_2026 bad')).toBe('secret whsec_[redacted] bad')
  })

  it('removes webhook secrets', () => {
    expect(redactSecrets('secret whsec_3e1Ab9cD0eF1 bad')).toBe('secret whsec_[redacted] bad')
  })

  it('removes Basic and Bearer authorization values', () => {
    expect(redactSecrets('Authorization: Basic c2tfdGVzdF94eXo6')).toBe(
      'Authorization: Basic [redacted]',
    )
    expect(redactSecrets('Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl')).toBe(
      'Authorization: Bearer [redacted]',
    )
    const withKey = redactSecrets('Authorization: Bearer sk_test_4eC39HqLyjWDarjtT1zdp7dc')
    expect(withKey).not.toContain('4eC39HqLyjWDarjtT1zdp7dc')
    expect(withKey.startsWith('Authorization: Bearer ')).toBe(true)
  })

  it('also masks card numbers, and leaves ordinary text alone', () => {
    expect(redactSecrets('sk_test_abc123 charged 4242 4242 4242 4242')).toBe(
      'sk_test_[redacted] charged •••• 4242',
    )
    const plain = 'card_1NGTaT2eZvKYlo2CZWSctn5n for cus_9s6XGDTHzA66Po, Basic auth off'
    expect(redactSecrets(plain)).toBe(plain)
  })
})

describe('redact: property over generated Luhn-valid numbers', () => {
  it('never lets a Luhn-valid 13–19 digit number through, in any layout or context', () => {
    const random = mulberry32(0xc0ffee)
    const contexts: ReadonlyArray<(number: string) => string> = [
      (number) => number,
      (number) => `card ${number} declined`,
      (number) => `qty ${Math.floor(random() * 10)} ${number}`,
      (number) => `ref-${number}-end`,
      (number) => `{"number":"${number}","amount":${Math.floor(random() * 100000)}}`,
      (number) => `ts 1700000000000 ${number}, id 123456`,
      (number) => `x${number}y`,
    ]
    let checked = 0
    for (let round = 0; round < 3000; round++) {
      const length = 13 + Math.floor(random() * 7)
      const digits = luhnNumber(length, random)
      expect(isLuhnValid(digits)).toBe(true)
      const layouts = [digits, groupBy(digits, ' '), groupBy(digits, '-')]
      for (const layout of layouts) {
        const context = contexts[round % contexts.length]!
        const text = context(layout)
        const redacted = redact(text)
        expect(redacted.replace(/[ -]/g, ''), text).not.toContain(digits)
        expect(redacted, text).toContain(`•••• ${digits.slice(-4)}`)
        checked++
      }
    }
    expect(checked).toBe(9000)
  })
})

/** A deterministic PRNG, so that a failure can be replayed. */
function mulberry32(seed: number): () => number {
  let state = seed
  return () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A random number of `length` digits whose last digit makes it pass the Luhn check. */
function luhnNumber(length: number, random: () => number): string {
  let body = String(1 + Math.floor(random() * 9))
  while (body.length < length - 1) body += String(Math.floor(random() * 10))
  for (let check = 0; check <= 9; check++) {
    if (isLuhnValid(`${body}${check}`)) return `${body}${check}`
  }
  throw new Error('unreachable: one check digit always fits')
}

/** Groups digits by four, as printed on most cards. */
function groupBy(digits: string, separator: string): string {
  return digits.match(/.{1,4}/g)!.join(separator)
}

describe('containsCardNumber and maskCardNumbers: Luhn-valid runs of 13 to 19 digits', () => {
  it.each([
    '4242424242424242',
    'Jenny 4242 4242 4242 4242',
    'ref:4000-0566-5566-5556.',
    '378282246310005',
    '4222222222222', // 13 digits
    'qty 1 4242 4242 4242 4242', // a card sharing its run with another number
  ])('finds %s', (text) => {
    expect(containsCardNumber(text)).toBe(true)
    expect(maskCardNumbers(text)).toContain('•••• ')
    expect(isLuhnValid(maskCardNumbers(text).replace(/\D/g, ''))).toBe(false)
  })

  it.each([
    'order 1234-5678',
    '4242424242424241', // fails the Luhn check
    '424242424242', // 12 digits: redact masks it (a Visa prefix), free text keeps it
    '12 Main Street',
    '',
  ])('leaves %s', (text) => {
    expect(containsCardNumber(text)).toBe(false)
    expect(maskCardNumbers(text)).toBe(text)
  })
})

describe('containsCardNumber: networks without a brand of their own in a Card', () => {
  // Maestro, Mir, RuPay, Verve … issue card numbers too: `brandFromNumber` gives them no brand
  // ('unknown' in a Card), which must not let their numbers into free text or the store.
  it.each([
    ['Maestro', '6759649826438453'],
    ['Maestro', '5000550000000029'],
    ['Mir', '2200000000000004'],
    ['Verve', '5066991111111118'],
    ['RuPay / Hipercard', '6062826786276634'],
    ['Dankort', `501900000000000${luhnCheckDigit('501900000000000')}`],
  ])('finds a %s number', (_network, number) => {
    expect(isLuhnValid(number)).toBe(true)
    const text = `holder ${(number.match(/.{1,4}/g) ?? []).join(' ')}`
    expect(containsCardNumber(text)).toBe(true)
    expect(maskCardNumbers(text)).toBe(`holder •••• ${number.slice(-4)}`)
  })

  it('finds every Luhn-valid number of 13 to 19 digits of those networks (property)', () => {
    const prefixes = ['50', '56', '57', '58', '59', '60', '63', '67', '82', '2200', '2204', '2205']
    fc.assert(
      fc.property(
        fc.constantFrom(...prefixes, '8600', '9860', '9792'),
        fc.integer({ min: 13, max: 19 }),
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 18, maxLength: 18 }),
        (prefix, length, digits) => {
          const body = (prefix + digits.join('')).slice(0, length - 1)
          const number = body + luhnCheckDigit(body)
          expect(containsCardNumber(`card ${number}.`)).toBe(true)
          expect(maskCardNumbers(`card ${number}.`)).toBe(`card •••• ${number.slice(-4)}.`)
        },
      ),
    )
  })
})

describe('card numbers written in the digits of other scripts', () => {
  // A Japanese input method types full-width digits (４２４２), an Arabic keyboard Eastern
  // Arabic ones (٤٢٤٢): the same card number, which the checks read in ASCII digits only.
  const zeros = {
    'full-width': 0xff10,
    'Arabic-Indic': 0x0660,
    'Eastern Arabic-Indic': 0x06f0,
    Devanagari: 0x0966,
    Bengali: 0x09e6,
    Thai: 0x0e50,
    'mathematical bold': 0x1d7ce,
  }
  const inScript = (digits: string, zero: number) =>
    [...digits].map((digit) => String.fromCodePoint(zero + Number(digit))).join('')
  const cards = fc
    .tuple(
      fc.constantFrom(
        '4242424242424242',
        '4000056655665556',
        '5555555555554444',
        '378282246310005',
        '6011111111111117',
      ),
      fc.constantFrom(...Object.entries(zeros)),
      fc.constantFrom('', ' ', '-', '\u3000'),
      fc.constantFrom('name %s', '%s', '{"note":"%s"}', 'paid with %s.'),
    )
    .map(([number, [script, zero], separator, context]) => {
      const groups = (number.match(/.{1,4}/g) ?? []).map((group) => inScript(group, zero))
      return { number, script, text: context.replace('%s', groups.join(separator)) }
    })

  it('finds and masks them as it does ASCII digits', () => {
    fc.assert(
      fc.property(cards, ({ number, script, text }) => {
        expect(containsCardNumber(text), script).toBe(true)
        for (const masked of [redact(text), redactSecrets(text), maskCardNumbers(text)]) {
          expect(masked, script).toContain(`•••• ${number.slice(-4)}`)
          expect(masked.match(/\p{Nd}/gu)?.length ?? 0, script).toBeLessThan(8)
        }
      }),
    )
  })

  it('leaves numbers of other scripts that are no card', () => {
    expect(containsCardNumber('電話 ０３-１２３４-５６７８')).toBe(false)
    expect(redact('電話 ０３-１２３４-５６７８')).toBe('電話 ０３-１２３４-５６７８')
    expect(maskCardNumbers('٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤١')).toBe('٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤١')
  })
})

describe('containsCardNumber and timestamps', () => {
  it('leaves Luhn-valid numbers that no card network issues, such as millisecond timestamps', () => {
    // 1700000000004 passes the Luhn check, but no network issues cards starting with 1.
    expect(isLuhnValid('1700000000004')).toBe(true)
    expect(containsCardNumber('paid at 1700000000004')).toBe(false)
    expect(maskCardNumbers('paid at 1700000000004')).toBe('paid at 1700000000004')
    expect(containsCardNumber('paid with 4242 4242 4242 4242 at 1700000000004')).toBe(true)
  })
})

describe('redactInPlace', () => {
  it('masks every text of an error, its fields and its cause, keeping the objects', () => {
    const inner = new Error('card 4242 4242 4242 4242 refused')
    const error = Object.assign(new Error('sk_test_abcdefghijklmnop123456 was sent'), {
      request: {
        body: { number: 5555555555554444, cvc_check: 'pass' },
        list: ['4000056655665556'],
      },
      cause: inner,
    })
    // Read before, as a logger or a wrapper may have: V8 formats the stack, message included,
    // when it is first read, so a stack read only after the masking would hold the masked
    // message whether or not the stack was masked.
    void error.stack
    void inner.stack
    expect(redactInPlace(error)).toBe(true)
    expect(error.cause).toBe(inner)
    expect(error.message).not.toContain('abcdefghijklmnop')
    expect(error.stack).not.toContain('abcdefghijklmnop')
    expect(inner.stack).not.toContain('4242 4242 4242 4242')
    expect(inner.message).toBe('card •••• 4242 refused')
    expect(error.request).toEqual({
      body: { number: '•••• 4444', cvc_check: 'pass' },
      list: ['•••• 5556'],
    })
  })

  it('cuts what nests deeper than it reads, rather than leave a card number there', () => {
    // An answer's error object nesting the request it quotes (a gateway's echo): the SDK keeps
    // it as `raw`, two levels into the cause, and a structured logger writes it whole.
    const nest = (depth: number, leaf: unknown): unknown =>
      depth === 0 ? leaf : { echo: nest(depth - 1, leaf) }
    for (const depth of [1, 5, 6, 7, 12]) {
      const error = Object.assign(new Error('refused'), {
        raw: nest(depth, { number: '4242 4242 4242 4242', list: [5555555555554444] }),
      })
      expect(redactInPlace(error), `depth ${depth}`).toBe(true)
      const text = JSON.stringify(error)
      expect(text, `depth ${depth}`).not.toMatch(/4242 4242|5555555555554444/)
    }
    const shallow = { a: { b: { number: '4242 4242 4242 4242' } } }
    redactInPlace(shallow)
    expect(shallow).toEqual({ a: { b: { number: '•••• 4242' } } })
  })

  it('masks what nests six levels deep, and cuts only below it', () => {
    const nest = (depth: number, leaf: unknown): unknown =>
      depth === 0 ? leaf : { echo: nest(depth - 1, leaf) }
    const holder = { raw: nest(5, { number: '4242 4242 4242 4242' }) }
    expect(redactInPlace(holder)).toBe(true)
    expect(holder).toEqual({ raw: nest(5, { number: '•••• 4242' }) })
    const deeper = { raw: nest(6, { number: '4242 4242 4242 4242' }) }
    expect(redactInPlace(deeper)).toBe(true)
    expect(deeper).toEqual({ raw: nest(6, '[nested too deep]') })
  })

  it('leaves what is not plain data alone, and says when a text could not be masked', () => {
    const buffer = Buffer.from('4242424242424242')
    const holder = { buffer, when: new Date(0) }
    expect(redactInPlace(holder)).toBe(true)
    expect(buffer.toString()).toBe('4242424242424242')
    const frozen = Object.freeze({ message: 'card 4242424242424242' })
    expect(redactInPlace(frozen)).toBe(false)
    expect(redactInPlace({ nested: frozen })).toBe(false)
  })
})

describe("redactInPlace: what util.inspect prints beyond an object's enumerable fields", () => {
  const number = '4111111111111111'

  it("says a class instance holding fields is not cleaned (a client's request), leaving it whole", () => {
    const request = new HttpRequest(`number=${number}&cvc=123`)
    expect(redactInPlace(Object.assign(new Error('card declined'), { request }))).toBe(false)
    expect(request.body).toBe(`number=${number}&cvc=123`)
    const tagged = Object.assign(new (class Tagged {})(), { [Symbol('body')]: number })
    expect(redactInPlace({ tagged })).toBe(false)
    // Nothing of these is printed as text: a date, bytes, a class keeping its state private.
    class Sealed {
      #body = number
      get length() {
        return this.#body.length
      }
    }
    const quiet = { when: new Date(0), bytes: new Uint8Array(16), sealed: new Sealed() }
    expect(redactInPlace(quiet)).toBe(true)
    // One that prints itself prints what it likes.
    class Printed extends Sealed {
      [Symbol.for('nodejs.util.inspect.custom')]() {
        return `Printed { body: '${number}' }`
      }
    }
    expect(redactInPlace({ printed: new Printed() })).toBe(false)
  })

  it('reads a fetch Response or Request as it is printed: URL, status text and headers', () => {
    const clean = new Response('{}', { status: 402, headers: { 'request-id': 'req_1' } })
    expect(redactInPlace(Object.assign(new Error('declined'), { response: clean }))).toBe(true)
    const printed = [
      new Response(null, { status: 402, statusText: `declined ${number}` }),
      new Response(null, { headers: { 'x-card': number } }),
      new Request(`https://api.example/v1/cards/${number}`),
    ]
    for (const held of printed) {
      const before = inspect(held)
      expect(redactInPlace({ held }), before).toBe(false)
      expect(inspect(held)).toBe(before)
    }
  })

  it('masks the symbol-keyed fields of an error', () => {
    const body = Symbol('body')
    const error = Object.assign(new Error('card declined'), { [body]: `number=${number}` })
    expect(redactInPlace(error)).toBe(true)
    expect(error[body]).toBe('number=•••• 1111')
    expect(inspect(error)).not.toContain(number)
  })

  it("masks an AggregateError's errors, keeping them", () => {
    const inner = new Error(`bad number ${number}`)
    // Read before, as a logger may have (V8 formats the stack when it is first read).
    void inner.stack
    const error = new AggregateError([inner], 'all attempts failed')
    expect(redactInPlace(error)).toBe(true)
    expect(error.errors[0]).toBe(inner)
    expect(inner.message).toBe('bad number •••• 1111')
    expect(inspect(error)).not.toContain(number)
  })
})

describe('redactInPlace: collections, URLs, queries and headers a client keeps', () => {
  // A client's own, which may serve the requests still to come: read, never written.
  it('writes no Map, Set, URL, query or headers, and says when one holds a secret', () => {
    const holders: [string, () => object][] = [
      ['a Map key', () => new Map([['4242424242424242', 'key']])],
      ['a Map value', () => new Map([['body', 'card 4242 4242 4242 4242']])],
      ['a Map number', () => new Map([['pan', 5555555555554444]])],
      ['a Set member', () => new Set(['sk_test_abcdefghijklmnop123456'])],
      ['a URL', () => new URL('https://api.example/v1/cards/4242424242424242')],
      ['a query', () => new URLSearchParams('a=1&number=4242%204242%204242%204242&b=2')],
      ['headers', () => new Headers({ authorization: 'Bearer sk_test_abcdefghijklmnop123456' })],
    ]
    for (const [what, make] of holders) {
      const held = make()
      const before = inspect(held)
      expect(redactInPlace({ cause: { held } }), what).toBe(false)
      expect(inspect(held), what).toBe(before)
    }
  })

  it('answers true for clean ones, and masks the plain objects a map or set holds', () => {
    const nested = { number: '5555555555554444' }
    const holder = {
      map: new Map<string, unknown>([['request', nested]]),
      set: new Set(['kept']),
      url: new URL('https://api.example/v1/cards/card_1'),
      headers: new Headers({ 'content-type': 'application/json' }),
    }
    expect(redactInPlace(holder)).toBe(true)
    expect(nested.number).toBe('•••• 4444')
    expect(holder.map.get('request')).toBe(nested)
  })

  it('leaves a shared Headers whole: no entry is lost, the key still sent', () => {
    const shared = new Headers({
      authorization: 'Bearer sk_live_abcdefghijklmnop',
      'x-card-hint': '4242424242424242',
      'x-trace': 'abc',
    })
    expect(redactInPlace(Object.assign(new Error('refused'), { headers: shared }))).toBe(false)
    expect([...shared.keys()]).toEqual(['authorization', 'x-card-hint', 'x-trace'])
    expect(shared.get('authorization')).toBe('Bearer sk_live_abcdefghijklmnop')
  })
})

describe('maskCardNumberValue', () => {
  it('masks a number that is a card number and leaves amounts and timestamps', () => {
    expect(maskCardNumberValue(4242424242424242)).toBe('•••• 4242')
    expect(maskCardNumberValue(378282246310005)).toBe('•••• 0005')
    expect(maskCardNumberValue(1700000000004)).toBe(1700000000004)
    // A 13-digit Visa, as its oldest numbers are.
    expect(maskCardNumberValue(4222222222222)).toBe('•••• 2222')
    expect(maskCardNumberValue(4242)).toBe(4242)
    expect(maskCardNumberValue(42.5)).toBe(42.5)
    expect(maskCardNumberValue(Number.NaN)).toBeNaN()
  })

  it('masks card numbers beyond 2^53, and any integer there of up to 19 digits', () => {
    // Troy and Humo numbers of 16 digits are above 2^53; even ones are exact doubles.
    expect(maskCardNumberValue(9792100000000050)).toBe('•••• 0050')
    expect(maskCardNumberValue(9860200000000006)).toBe('•••• 0006')
    // A 19-digit number has lost its last digits as a double: what is left proves nothing.
    expect(maskCardNumberValue(Number('6200000000000000005'))).toBe('•••• 0000')
    expect(maskCardNumberValue(1e19)).toBe(1e19)
    // Luhn-valid as sent, not once rounded: masked for being beyond 2^53 alone (the rounding of
    // 6200000000000000005 above passes the Luhn check, so it is masked as a card number anyway).
    const rounded = Number('4123456789012345602')
    expect(String(rounded)).toBe('4123456789012346000')
    expect(maskCardNumberValue(rounded)).toBe('•••• 6000')
    expect(maskCardNumberValue(-4242424242424242)).toBe('-•••• 4242')
  })

  it('masks a bigint that is a card number, and leaves others', () => {
    expect(maskCardNumberValue(4242424242424242n)).toBe('•••• 4242')
    expect(maskCardNumberValue(6200000000000000005n)).toBe(6200000000000000005n)
    expect(maskCardNumberValue(1700000000004n)).toBe(1700000000004n)
    expect(maskCardNumberValue(42n)).toBe(42n)
    const holder = { raw: { number: 4242424242424242n } }
    expect(redactInPlace(holder)).toBe(true)
    expect(holder.raw.number).toBe('•••• 4242')
  })
})

describe('blankGluedDigitGroups: the digits of random ids', () => {
  it('blanks a group of digits touching a letter that nothing joins to other digits', () => {
    expect(blankGluedDigitGroups('ab4242424242424242')).toBe('abxxxxxxxxxxxxxxxx')
    expect(blankGluedDigitGroups('card_1MvoXJ2eZvKYlo2C')).toBe('card_xMvoXJxeZvKYloxC')
    expect(blankGluedDigitGroups('order-42x-')).toBe('order-xxx-')
  })

  it('keeps a group that a separator joins to other digits, letter or not', () => {
    for (const text of [
      'x4242 4242 4242 4242',
      '4242-4242-4242-4242x',
      'x4242%204242%204242%204242',
      '4242ー4242ー4242ー4242',
    ]) {
      expect(blankGluedDigitGroups(text)).toBe(text)
    }
    // Fewer than 3 digits, or joined only to digits that touch a letter too: a random id's.
    expect(blankGluedDigitGroups('u4-1700000079190')).toBe('ux-1700000079190')
    expect(blankGluedDigitGroups('f829312-20667825d')).toBe('fxxxxxx-xxxxxxxxd')
    // An encoded character that is no separator (`%40`, an `@`) joins nothing.
    expect(blankGluedDigitGroups('x4242%404242')).toBe('xxxxx%404242')
  })

  it('reads a long text in one pass', () => {
    expect(blankGluedDigitGroups(`x${'4'.repeat(200_000)}`)).toBe(`x${'x'.repeat(200_000)}`)
    expect(blankGluedDigitGroups('4'.repeat(200_000))).toBe('4'.repeat(200_000))
  })
})
