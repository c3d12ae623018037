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
})
