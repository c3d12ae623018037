import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isStorableText, toStorableText } from './storable-text.js'

describe('isStorableText / toStorableText', () => {
  it('keeps text without NUL or unpaired surrogates, emoji (surrogate pairs) included', () => {
    for (const text of ['', 'cus_123', 'Zoë Müller', 'card 💳 ok', '\uD83D\uDCB3']) {
      expect(isStorableText(text)).toBe(true)
      expect(toStorableText(text)).toBe(text)
    }
  })

  it('finds a NUL character and unpaired surrogates, high or low, wherever they are', () => {
    for (const text of ['a\u0000b', '\uD800', 'cus_\uDBFF', '\uDC00x', 'x\uDFFF', '\uDC00\uD800']) {
      expect(isStorableText(text)).toBe(false)
    }
  })

  it('replaces each of them with U+FFFD, and nothing else', () => {
    expect(toStorableText('a\u0000b\uD800c\uDC00')).toBe('a\uFFFDb\uFFFDc\uFFFD')
    expect(toStorableText('\uD800\uD83D\uDCB3\u0000')).toBe('\uFFFD\uD83D\uDCB3\uFFFD')
    expect(toStorableText('\uDC00\uD800')).toBe('\uFFFD\uFFFD')
  })

  it('agrees with a character-by-character reading on any UTF-16 text', () => {
    // The oracle: walk the code units, keep pairs, replace a NUL or a lone surrogate.
    const oracle = (text: string) => {
      let out = ''
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i)
        const next = text.charCodeAt(i + 1)
        if (code >= 0xd800 && code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          out += text[i]! + text[i + 1]!
          i++
        } else if (code === 0 || (code >= 0xd800 && code <= 0xdfff)) out += '\uFFFD'
        else out += text[i]
      }
      return out
    }
    // Short strings over a few code units make NULs, lone and paired surrogates frequent.
    const unit = fc.constantFrom(
      'a',
      '\u0000',
      '\uD800',
      '\uDBFF',
      '\uDC00',
      '\uDFFF',
      '\uD83D',
      '\uDCB3',
      'é',
    )
    const text = fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit, maxLength: 8 }))
    fc.assert(
      fc.property(text, (value) => {
        expect(toStorableText(value)).toBe(oracle(value))
        // A replaced code unit is never U+FFFD itself: the text changes exactly when one is.
        expect(isStorableText(value)).toBe(oracle(value) === value)
      }),
    )
  })
})
