import { redactSecrets } from '@cardport/core'
import { decodeHTML } from 'entities/decode'

/**
 * What an HTML text says, as a browser shows it: tags and comments read as spaces, character
 * references decoded (`&amp;` is `&`, `&nbsp;` a space, `&#52;` a `4`), white space collapsed.
 * The marketplace's descriptions are sometimes HTML (`<p>…</p>`) and end with "Your request id
 * is …". Undefined for a value that is not a string, or a blank one.
 * @internal
 */
export function plainText(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  // Tags first: `&lt;b&gt;` is text that reads `<b>`, not a tag.
  const text = decodeHTML(value.replace(TAG, ' ')).replace(/\s+/g, ' ').trim()
  return text === '' ? undefined : text
}

/**
 * `text` with `redactSecrets` applied to it as written and as a page shows it: a card number
 * written with HTML character references (`4111&nbsp;1111&nbsp;…`, `&#52;111…`, `&#x34;…`), or
 * split by tags or comments (`4111<b>1111</b>…`, `4<span>1</span>…`, `4111<!-- -->1111…`),
 * holds characters that are neither digits nor separators until it is read so. The references
 * that stand for a digit or a separator (white space, a dash, an invisible format character,
 * `+`) are decoded, the tags and comments between digit groups read as spaces, and where that
 * shows a card number, the text is returned so, masked (`4111<b>1111</b>…` becomes
 * `•••• 1111`); the references of anything else (`&lt;`, `&amp;` …) and the tags of a run of
 * digits that holds no card number stay, so the text is still the HTML it was. A text in which
 * they show nothing to mask is kept as written, as the server wrote it.
 * Decoded once, as a browser does: an entity written over another (`&amp;#52;`) reads `&#52;`.
 * @internal
 */
export function redactSecretsInHtml(text: string): string {
  const masked = redactSecrets(text)
  if (!masked.includes('&') && !masked.includes('<')) return masked
  const decoded = masked.replace(REFERENCE, (reference) => {
    const char = decodeHTML(reference)
    return DIGIT_OR_GAP.test(char) ? char : reference
  })
  // Only a run of digits that holds a card number once its tags read as spaces loses them.
  const untagged = decoded.replace(TAGGED_RUN, (run) => {
    if (!run.includes('<')) return run
    const read = run.replace(TAG, ' ')
    const readMasked = redactSecrets(read)
    return readMasked === read ? run : readMasked
  })
  const decodedMasked = redactSecrets(untagged)
  return decodedMasked === decoded ? masked : decodedMasked
}

/**
 * An HTML comment, or a tag (with its attributes, closing or self-closing): what a page shows as
 * nothing, or a line break, between two digits. Neither reaches past the next `<`, so that a
 * text of many `<` and no `>` is read in linear time (an attribute or comment holding a `<` is
 * read from there on as text).
 */
const TAG = /<!--[^<]*?-->|<[^<>]*>/g

/**
 * An HTML character reference: numeric (decimal or hexadecimal) or named, its `;` optional as
 * browsers read the legacy ones (`&nbsp` before a digit decodes as `&nbsp;`).
 */
const REFERENCE = /&(?:#[xX][0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9]*);?/g

/** What `redactSecrets` reads as a separator between digit groups (a character class's body). */
const GAP_CHARS = '\\s+\\p{Pd}\\p{Cf}\\u2212\\u30fc'

/**
 * What `redactSecrets` reads inside a card number: digits of any script, and what it reads as a
 * separator between their groups; a legacy reference decoded with the text after it may bring
 * digits along (`&nbsp1111`).
 */
const DIGIT_OR_GAP = new RegExp(`^[\\p{Nd}${GAP_CHARS}]+$`, 'u')

/**
 * Digit groups (of any script) joined by what a page shows as nothing or a separator between them:
 * white space, a dash, an invisible format character, `+`, a percent-encoded character (which
 * `redactSecrets` reads as a separator if it decodes to one), a tag or a comment.
 */
const TAGGED_RUN = new RegExp(
  `\\p{Nd}+(?:(?:[${GAP_CHARS}]|%[0-9A-Fa-f]{2}|${TAG.source})+\\p{Nd}+)*`,
  'gu',
)
