import { describe, expect, it } from 'vitest'
import { basicAuthorization, secretMask } from './secret-mask.js'

// `?`, `>` and `~` make every base64 form of it hold a `+` or a `/`, which base64url writes
// `-` and `_`, and an HTML encoder writes as an entity.
const SECRET = 'ak-test-?>~~?secret'
const CREDENTIALS = basicAuthorization(SECRET).slice('Basic '.length)
const mask = secretMask(SECRET)

const base64 = (text: string) => Buffer.from(text).toString('base64')
const base64url = (text: string) => Buffer.from(text).toString('base64url')
const hex = (char: string) => (char.codePointAt(0) ?? 0).toString(16)
const decimal = (char: string) => String(char.codePointAt(0))
const each = (text: string, write: (char: string) => string) => [...text].map(write).join('')
// What an HTML encoder such as OWASP's writes: every character but a letter or a digit.
const owasp = (text: string) =>
  each(text, (char) => (/[A-Za-z0-9]/.test(char) ? char : `&#x${hex(char).toUpperCase()};`))

describe('secretMask', () => {
  it('masks the secret and the basic-auth credentials as they are', () => {
    expect(mask(`key ${SECRET}, header Basic ${CREDENTIALS}.`)).toBe(
      'key [redacted], header Basic [redacted].',
    )
  })

  describe('HTML-entity encoded (an HTML error page or description quoting it)', () => {
    it.each([
      ['every character as &#xhh;', each(SECRET, (char) => `&#x${hex(char)};`)],
      [
        'every character as &#XHH; with leading zeros',
        each(SECRET, (char) => `&#X00${hex(char).toUpperCase()};`),
      ],
      ['every character as &#ddd;', each(SECRET, (char) => `&#${decimal(char)};`)],
      ['what is no letter nor digit as &#xHH; (OWASP)', owasp(SECRET)],
      ['> as &gt;, as a minimal HTML escaper writes it', SECRET.replaceAll('>', '&gt;')],
      [
        '? as &quest;, > as &GT;, ~ as &#126;',
        SECRET.replaceAll('?', '&quest;').replaceAll('>', '&GT;').replaceAll('~', '&#126;'),
      ],
      ['the credentials with / + = as &#xHH; (OWASP)', owasp(CREDENTIALS)],
      [
        'the credentials with / + = as &sol; &plus; &equals;',
        CREDENTIALS.replaceAll('/', '&sol;').replaceAll('+', '&plus;').replaceAll('=', '&equals;'),
      ],
    ])('%s', (_case, encoded) => {
      expect(encoded).not.toContain(SECRET.slice(8))
      expect(mask(`<p>The key <code>${encoded}</code> is not valid.</p>`)).toBe(
        '<p>The key <code>[redacted]</code> is not valid.</p>',
      )
    })
  })

  it('masks the credentials in base64 without their padding, and in base64url', () => {
    const unpadded = CREDENTIALS.replace(/=+$/, '')
    const url = base64url(`${SECRET}:`)
    expect(unpadded).not.toBe(CREDENTIALS)
    expect(url).not.toBe(unpadded)
    expect(mask(`basic=${unpadded}&token=${url}&padded=${url}=`)).toBe(
      'basic=[redacted]&token=[redacted]&padded=[redacted]=',
    )
  })

  describe('inside a longer base64 text, at any offset (a request or its header dumped in base64)', () => {
    const cases = ['', 'x', 'xy', 'xyz', 'GET / HTTP/1.1\r\nAuthorization: Basic '].flatMap(
      (before) => ['', 'Z', '\r\nAccept: */*\r\n'].map((after) => [before, after] as const),
    )
    it.each(
      cases.flatMap(([before, after]) =>
        [SECRET, CREDENTIALS].flatMap((form) =>
          [base64, base64url].map((encode) => [
            `${encode.name} of ${JSON.stringify(before)} + ${form === SECRET ? 'the secret' : 'the credentials'} + ${JSON.stringify(after)}`,
            encode,
            before,
            form,
            after,
          ]),
        ),
      ) as [string, (text: string) => string, string, string, string][],
    )('%s', (_case, encode, before, form, after) => {
      const encoded = encode(`${before}${form}${after}`)
      // Every base64 character holding a bit of the form is hidden; those before and after stay.
      const first = Math.floor((Buffer.byteLength(before) * 8) / 6)
      const last = Math.floor(((Buffer.byteLength(before) + Buffer.byteLength(form)) * 8 - 1) / 6)
      expect(mask(`dump: ${encoded}.`)).toBe(
        `dump: ${encoded.slice(0, first)}[redacted]${encoded.slice(last + 1)}.`,
      )
    })
  })

  it('masks a secret holding `/` written `\\/`, as PHP and other JSON encoders escape it', () => {
    expect(secretMask('ak-test/secret')('{"key":"ak-test\\/secret"}')).toBe('{"key":"[redacted]"}')
  })

  // A text shorter than the shortest form (here the secret itself) is not searched.
  it('masks a text that is the secret alone, as long as its shortest form', () => {
    expect(mask(SECRET)).toBe('[redacted]')
    expect(mask(SECRET.slice(1))).toBe(SECRET.slice(1))
    expect(secretMask('abcd')('abcd')).toBe('[redacted]')
  })

  it('leaves a text without the secret as it is', () => {
    const text = `GET /v1/x answered 401: &amp; &#x41; %2F ${base64('ak-test-other')} ${SECRET.slice(0, -1)}`
    expect(mask(text)).toBe(text)
  })
})
