/**
 * The shortest secret the provider takes: a shorter one could not be masked (see
 * {@link secretMask}). @internal
 */
export const MIN_SECRET_LENGTH = 4

/**
 * The `Authorization` header of HTTP basic auth with the secret as the user name and an empty
 * password (RFC 7617), as the marketplace API takes its API key. @internal
 */
export function basicAuthorization(secret: string): string {
  return `Basic ${credentialsOf(secret)}`
}

/**
 * A function that replaces the secret in a text with `[redacted]`, as is and as the basic-auth
 * value (with or without its `=` padding), longest first, each also URL-encoded (its `%XX` in
 * either case) and as a JSON string writes it (a `"` or `\` escaped). Forms shorter than
 * {@link MIN_SECRET_LENGTH} characters are left: they would take ordinary words with them.
 * @internal
 */
export function secretMask(secret: string): (text: string) => string {
  const credentials = credentialsOf(secret)
  const forms = [secret, credentials, credentials.replace(/=+$/, '')]
  const written = forms.flatMap((form) => [
    form,
    encodeURIComponent(form),
    JSON.stringify(form).slice(1, -1),
  ])
  const hidden = [...new Set(written)]
    .filter((form) => form.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length)
    .map((form) =>
      form
        .replace(/[\\^$.*+?()[\]{}|]/g, '\\$&')
        .replace(
          /%([0-9A-F])([0-9A-F])/g,
          (_, high: string, low: string) =>
            `%[${high}${high.toLowerCase()}][${low}${low.toLowerCase()}]`,
        ),
    )
  if (hidden.length === 0) return (text) => text
  const pattern = new RegExp(hidden.join('|'), 'g')
  return (text) => text.replace(pattern, '[redacted]')
}

/** The basic-auth credentials `secret:` in base64, the value after `Basic `. */
function credentialsOf(secret: string): string {
  return Buffer.from(`${secret}:`).toString('base64')
}
