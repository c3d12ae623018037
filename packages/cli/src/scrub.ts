import { redactSecrets } from '@cardport/core'

/** The variables holding secrets: scrubbed by value from everything the CLI prints. */
export const SECRET_VARIABLES = ['STRIPE_SECRET_KEY', 'MARKETPLACE_SECRET'] as const

/**
 * The flags and variables whose value may hold a credential although the value itself is shown
 * (masked) in messages: a PostgreSQL connection string's password, or a URL's `user:password@`.
 * Only that password is a secret, so only it is collected.
 */
const CREDENTIAL_FLAGS = ['--store', '--marketplace-url', '--stripe-api-base'] as const
const CREDENTIAL_VARIABLES = ['CARDPORT_STORE', 'MARKETPLACE_URL', 'STRIPE_API_BASE'] as const

/**
 * Collects every secret the command line and the environment hold, before anything is parsed,
 * so that no message (a usage error included) can show one: the secret variables by value,
 * whatever their shape, and the password of every URL given to a credential-bearing flag or
 * variable (percent-encoded as typed, and decoded as pg decodes it).
 */
export function collectSecrets(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  secrets: Set<string>,
): void {
  for (const name of SECRET_VARIABLES) {
    const value = env[name]
    if (value) secrets.add(value)
  }
  const locations: string[] = []
  for (const name of CREDENTIAL_VARIABLES) {
    const value = env[name]
    if (value) locations.push(value)
  }
  argv.forEach((arg, index) => {
    for (const flag of CREDENTIAL_FLAGS) {
      if (arg.startsWith(`${flag}=`)) locations.push(arg.slice(flag.length + 1))
      else if (arg === flag && index + 1 < argv.length) locations.push(argv[index + 1]!)
    }
  })
  for (const location of locations) {
    for (const password of passwordsIn(location)) secrets.add(password)
  }
}

/**
 * Removes every secret of {@link collectSecrets} by value, then card numbers and key-shaped
 * strings (core's `redactSecrets`). In that order: `redactSecrets` rewrites part of a secret of
 * another shape (the `sk_test_…` head of `sk_test_a_b`, a card-shaped run inside it), which
 * would then no longer be found whole, its rest printed. Everything the CLI prints that it did
 * not write itself (an error's message, a provider's description of a failure) goes through it,
 * on stderr and on stdout alike.
 */
export function scrub(text: string, secrets: ReadonlySet<string>): string {
  let result = text
  for (const secret of secrets) {
    // Shorter values would take ordinary words with them.
    if (secret.length >= 4) result = result.split(secret).join('[redacted]')
  }
  return redactSecrets(result)
}

/**
 * The fields of `Card`, `StoredCard` and `DriftReport` whose values are cardport's own
 * vocabulary or of a fixed shape (a brand, a status, a code, an ISO date, four digits, an owner
 * type, the provider's name), never text a provider or a store wrote freely: {@link scrubData}
 * prints them as they are, whole subtrees for `checks` (each check is `pass`, `fail` …). A
 * secret that happens to be such a word (a password `visa`) would otherwise turn every Visa
 * card's brand into `[redacted]`; one that equals such a value tells a reader nothing of it.
 */
const FIXED_FIELDS: ReadonlySet<string> = new Set([
  'brand',
  'last4',
  'country',
  'funding',
  'checks',
  'currency',
  'status',
  'createdAt',
  'updatedAt',
  'type',
  'provider',
  'code',
  'source',
])

/**
 * A copy of what the CLI prints of a provider's or a store's data (cards, a drift report) with
 * {@link scrub} applied to each value that is free text: ids, a holder name, an address, a
 * failure's message, and a card's metadata, its keys included (a card's metadata or holder name
 * may hold a secret that someone pasted there and the provider hands back, as a failure's
 * message may quote one). The keys of the data (`cardsSeen`, `holderName`) are the CLI's
 * output's own and stay as they are, as do the values of {@link FIXED_FIELDS}: a secret that
 * is also a common word (a PostgreSQL password `cards`) would make `cardsSeen` a `[redacted]Seen`
 * key otherwise. Numbers and booleans are kept.
 */
export function scrubData<T>(value: T, secrets: ReadonlySet<string>): T {
  return scrubValue(value, secrets, false) as T
}

/** `freeKeys`: whether the keys of `value`, an object, are free text too (a card's metadata). */
function scrubValue(value: unknown, secrets: ReadonlySet<string>, freeKeys: boolean): unknown {
  if (typeof value === 'string') return scrub(value, secrets)
  if (Array.isArray(value)) return value.map((item) => scrubValue(item, secrets, false))
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      if (freeKeys) return [scrub(key, secrets), scrubValue(item, secrets, true)]
      if (FIXED_FIELDS.has(key)) return [key, item]
      return [key, scrubValue(item, secrets, key === 'metadata')]
    }),
  )
}

/**
 * The password of a URL (user info, `?password=`, `?sslpassword=`), as typed and decoded as pg
 * decodes it: a `+` of the user info is a `+` (pg's `decodeURIComponent`), one of a query
 * parameter a space (`URLSearchParams`). For `postgres://app:pa+ss%40word@db/app` pg logs in with
 * `pa+ss@word`, the secret a message may quote, not `pa ss@word`.
 */
function passwordsIn(location: string): string[] {
  let url: URL
  try {
    url = new URL(location)
  } catch {
    return []
  }
  // Both are kept percent-encoded as typed: a message may quote either form.
  const passwords = typedAndDecoded(url.password, false)
  for (const pair of url.search.slice(1).split('&')) {
    const separator = pair.indexOf('=')
    if (separator > 0 && /^(ssl)?password$/i.test(pair.slice(0, separator))) {
      passwords.push(...typedAndDecoded(pair.slice(separator + 1), true))
    }
  }
  return passwords
}

/** `typed` and its decoding, a `+` read as a space when `plusIsSpace`; none for an empty one. */
function typedAndDecoded(typed: string, plusIsSpace: boolean): string[] {
  if (typed === '') return []
  try {
    return [typed, decodeURIComponent(plusIsSpace ? typed.replace(/\+/g, ' ') : typed)]
  } catch {
    return [typed]
  }
}
