// Text every store keeps as it was given. PostgreSQL refuses a NUL character in `text`, and
// both it and UTF-8 itself cannot hold an unpaired UTF-16 surrogate: PostgreSQL stores one as
// U+FFFD, so that two owner ids differing only there would become one owner.

const REPLACEMENT = '\uFFFD'

/** Whether text holds no NUL character and no unpaired surrogate: every store keeps it as it is. */
export function isStorableText(text: string): boolean {
  return firstUnstorable(text) === -1
}

/**
 * Text with each NUL character and unpaired surrogate replaced by U+FFFD, as PostgreSQL would
 * store the surrogate; the same string when there is none. For free text read from a provider.
 */
export function toStorableText(text: string): string {
  let from = firstUnstorable(text)
  if (from === -1) return text
  let result = ''
  let kept = 0
  while (from !== -1) {
    result += text.slice(kept, from) + REPLACEMENT
    kept = from + 1
    from = firstUnstorable(text, kept)
  }
  return result + text.slice(kept)
}

function firstUnstorable(text: string, from = 0): number {
  for (let i = from; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === 0) return i
    if (code < 0xd800 || code > 0xdfff) continue
    // A high surrogate followed by a low one is a pair; anything else in this range is alone.
    if (code <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++
        continue
      }
    }
    return i
  }
  return -1
}
