import { redactSecrets } from '@cardport/core'
import { decodeHTML } from 'entities/decode'

/**
 * What an HTML text says, as a browser shows it: tags read as spaces, character references
 * decoded (`&amp;` is `&`, `&nbsp;` a space, `&#52;` a `4`), white space collapsed. The
 * marketplace's descriptions are sometimes HTML (`<p>…</p>`) and end with "Your request id is
 * …". Undefined for a value that is not a string, or a blank one.
 * @internal
 */
export function plainText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  // Tags first: `&lt;b&gt;` is text that reads `<b>`, not a tag.
  const text = decodeHTML(value.replace(/<[^>]*>/g, ' '))
    .replace(/\s+/g, ' ')
    .trim()
  return text === '' ? undefined : text
}

/**
 * `text` with `redactSecrets` applied to it as written and as its HTML character references read:
 * a card number written with them (`4111&nbsp;1111&nbsp;…`, `&#52;111…`, `&#x34;…`) holds
 * characters that are neither digits nor separators until they are decoded. The references that
 * stand for a digit or a separator (white space, a dash, an invisible format character, `+`) are
 * decoded, and where that shows a card number, the text is returned so, masked; the references
 * of anything else (`&lt;`, `&amp;` …) stay, so the text is still the HTML it was. A text in
 * which they show nothing to mask is kept as written, as the server wrote it.
 * Decoded once, as a browser does: an entity written over another (`&amp;#52;`) reads `&#52;`.
 * @internal
 */
export function redactSecretsInHtml(text: string): string {
  const masked = redactSecrets(text)
  if (!masked.includes('&')) return masked
  const decoded = masked.replace(REFERENCE, (reference) => {
    const char = decodeHTML(reference)
    return DIGIT_OR_GAP.test(char) ? char : reference
  })
  const decodedMasked = redactSecrets(decoded)
  return decodedMasked === decoded ? masked : decodedMasked
}

/**
 * An HTML character reference: numeric (decimal or hexadecimal) or named, its `;` optional as
 * browsers read the legacy ones (`&nbsp` before a digit decodes as `&nbsp;`).
 */
const REFERENCE = /&(?:#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);?/g

/**
 * What `redactSecrets` reads inside a card number: digits of any script, and what it reads as a
 * separator between their groups; a legacy reference decoded with the text after it may bring
 * digits along (`&nbsp1111`).
 */
const DIGIT_OR_GAP = /^[\p{Nd}\s+\p{Pd}\p{Cf}\u2212\u30fc]+$/u
