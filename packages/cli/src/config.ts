import { type Owner, OwnerInputSchema, OwnerSchema, ProviderNameSchema } from '@cardport/core'
import { z } from 'zod'
import { CliError, configError, EXIT_CODES, usageError } from './exit-codes.js'

/** The providers the CLI can talk to. */
export const PROVIDER_NAMES = ['stripe', 'marketplace'] as const

/** One of {@link PROVIDER_NAMES}. */
export type ProviderName = (typeof PROVIDER_NAMES)[number]

/** Where the Stripe SDK sends its requests, when not to `https://api.stripe.com`. */
export interface StripeApiBase {
  /** The SDK's `protocol` option: `'http'` for the emulator on loopback. */
  protocol: 'http' | 'https'
  /** The SDK's `host` option: the host name or address (IPv6 without brackets), no port. */
  host: string
  /** The SDK's `port` option: the origin's port, or 80 / 443 when it names none. */
  port: number
  /** As given, for messages. */
  url: string
}

/** Everything needed to make a Stripe provider. */
export interface StripeConfig {
  /** Always `'stripe'`. */
  provider: 'stripe'
  /** `STRIPE_SECRET_KEY`: a secret or restricted key. Never printed. */
  secretKey: string
  /** `--name`, checked: the provider's name in the store; absent, the adapter's own. */
  name?: string | undefined
  /** `--stripe-api-base` or `STRIPE_API_BASE`, or null for `https://api.stripe.com`. */
  apiBase: StripeApiBase | null
}

/** Everything needed to make a marketplace provider. */
export interface MarketplaceConfig {
  /** Always `'marketplace'`. */
  provider: 'marketplace'
  /** `--marketplace-url` or `MARKETPLACE_URL`: the API's base URL, parsed. */
  url: string
  /** `--marketplace-id` or `MARKETPLACE_ID`. */
  marketplaceId: string
  /** `MARKETPLACE_SECRET`: the API key secret. Never printed. */
  secret: string
  /** `--name`, checked: the provider's name in the store; absent, the adapter's own. */
  name?: string | undefined
}

/** A provider's configuration, from flags and environment. */
export type ProviderConfig = StripeConfig | MarketplaceConfig

/** A store to open: `sqlite:<path>` or a PostgreSQL connection string. */
export type StoreConfig =
  | {
      /** A SQLite file. */
      kind: 'sqlite'
      /** The file's path, relative to the working directory. */
      path: string
      /** What to print for the store: the value as given. */
      label: string
    }
  | {
      /** A PostgreSQL database. */
      kind: 'postgres'
      /** The connection string as given, password included: never printed. */
      connectionString: string
      /**
       * The schema of the store's tables, from the connection string's `?schema=` (which pg
       * ignores); absent, `postgresStore`'s default, `public`.
       */
      schema?: string
      /** What to print for the store: the connection string with its passwords masked. */
      label: string
      /** Whether the connection string holds a password (user info, `?password=`, `?sslpassword=`). */
      holdsPassword: boolean
    }

/** The flags that select and locate a provider (secrets come from the environment only). */
export interface ProviderFlags {
  /** `--provider`, unchecked: one of {@link PROVIDER_NAMES} or a usage error. */
  provider: string
  /** `--stripe-api-base`: wins over `STRIPE_API_BASE`. */
  stripeApiBase?: string | undefined
  /** `--marketplace-url`: wins over `MARKETPLACE_URL`. */
  marketplaceUrl?: string | undefined
  /** `--marketplace-id`: wins over `MARKETPLACE_ID`. */
  marketplaceId?: string | undefined
  /** `--name`, unchecked: a provider name (`ProviderNameSchema`) or a usage error. */
  name?: string | undefined
}

/** The variables of each provider: only the chosen provider's are read and checked. */
const PROVIDER_ENV = {
  stripe: z.object({
    STRIPE_SECRET_KEY: optional(
      z
        .string()
        .regex(
          /^(sk|rk)_(test|live)_\w+$/,
          'is not a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_…); publishable keys (pk_…) cannot read cards',
        ),
    ),
    STRIPE_API_BASE: optional(z.string()),
  }),
  marketplace: z.object({
    MARKETPLACE_URL: optional(z.string()),
    MARKETPLACE_ID: optional(z.string()),
    MARKETPLACE_SECRET: optional(z.string()),
  }),
} as const

/** The variables every command may read, whatever the provider. */
const COMMON_ENV = z.object({
  CARDPORT_STORE: optional(z.string()),
  CARDPORT_DEBUG: optional(z.string()),
})

/**
 * The environment variables cardport reads. An empty variable counts as unset. Secrets are read
 * from the environment and never from flags: a flag's value shows in `ps` and in shell history.
 */
export const EnvSchema = COMMON_ENV.extend(PROVIDER_ENV.stripe.shape).extend(
  PROVIDER_ENV.marketplace.shape,
)

/** The environment, validated. */
export type CliEnv = z.infer<typeof EnvSchema>

/**
 * Reads and checks the variables of {@link EnvSchema}: those of `provider` and the common ones
 * (`CARDPORT_STORE`, `CARDPORT_DEBUG`), or every one without a provider. The other provider's
 * variables are left out, unchecked: a malformed `STRIPE_SECRET_KEY` left in a shell does not
 * stop a marketplace command. A malformed variable is a configuration error (exit 3) that names
 * the variable, never its value.
 */
export function readEnv(
  env: NodeJS.ProcessEnv = process.env,
  provider?: ProviderName | undefined,
): CliEnv {
  const schema =
    provider === undefined ? EnvSchema : COMMON_ENV.extend(PROVIDER_ENV[provider].shape)
  const result = schema.safeParse(env)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  throw configError(`${String(issue.path[0])} ${issue.message}`)
}

/** Whether `--debug`, or `CARDPORT_DEBUG` set to any value but empty, `0` or `false`, asks for stack traces. */
export function debugEnabled(flag: boolean | undefined, env: NodeJS.ProcessEnv): boolean {
  if (flag) return true
  const value = env.CARDPORT_DEBUG
  return value !== undefined && value !== '' && value !== '0' && value !== 'false'
}

const EMULATOR_HINT =
  'or try cardport on the emulators: run `cardport emulate` and follow what it prints'

/**
 * The provider's configuration: flags first, then the environment. Missing credentials are a
 * configuration error (exit 3) whose one line names what is missing and offers the emulators;
 * an empty flag (`--marketplace-url ''`) is not missing but malformed, a usage error (exit 2).
 * The marketplace id is checked with `@cardport/marketplace`'s own `MarketplaceIdSchema`, the
 * package imported here only when the marketplace is the provider (hence the promise): the
 * Stripe path never loads it, nor undici with it.
 */
export async function resolveProviderConfig(
  flags: ProviderFlags,
  env: CliEnv,
): Promise<ProviderConfig> {
  const provider = parseProviderName(flags.provider)
  const name = parseNameFlag(flags.name)
  if (provider === 'stripe') {
    const apiBase = flags.stripeApiBase ?? env.STRIPE_API_BASE
    const fromFlag = flags.stripeApiBase !== undefined
    const secretKey = env.STRIPE_SECRET_KEY
    if (!secretKey) {
      throw configError(
        `STRIPE_SECRET_KEY is not set: export your Stripe secret key, ${EMULATOR_HINT}`,
      )
    }
    return {
      provider,
      secretKey,
      name,
      apiBase:
        apiBase === undefined
          ? null
          : parseStripeApiBase(apiBase, fromFlag ? '--stripe-api-base' : 'STRIPE_API_BASE'),
    }
  }
  const url = flags.marketplaceUrl ?? env.MARKETPLACE_URL
  const marketplaceId = flags.marketplaceId ?? env.MARKETPLACE_ID
  const secret = env.MARKETPLACE_SECRET
  // An empty variable is unset (readEnv), but an empty flag is a value: refused below as malformed.
  const missing = [
    url !== undefined ? null : 'MARKETPLACE_URL (or --marketplace-url)',
    marketplaceId !== undefined ? null : 'MARKETPLACE_ID (or --marketplace-id)',
    secret ? null : 'MARKETPLACE_SECRET',
  ].filter((name): name is string => name !== null)
  if (missing.length > 0) {
    const names = joinWords(missing)
    const verb = missing.length === 1 ? 'is' : 'are'
    throw configError(
      `${names} ${verb} not set: export your marketplace's URL, id and API secret, ${EMULATOR_HINT}`,
    )
  }
  return {
    provider,
    url: parseMarketplaceUrl(url!, flags.marketplaceUrl !== undefined),
    marketplaceId: await parseMarketplaceId(marketplaceId!, flags.marketplaceId !== undefined),
    secret: secret!,
    name,
  }
}

/**
 * Checks a `--name` value with core's `ProviderNameSchema`, as the adapters' `name` option is
 * checked: a usage error (exit 2) for another, which does not quote it (it may be a key pasted
 * in the wrong place). Undefined when the flag is not given.
 */
export function parseNameFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  const result = ProviderNameSchema.safeParse(value)
  if (result.success) return result.data
  throw usageError(`--name: ${result.error.issues[0]?.message ?? 'not a provider name'}`)
}

/** Checks a `--provider` value. */
export function parseProviderName(value: string): ProviderName {
  const result = z.enum(PROVIDER_NAMES).safeParse(value)
  if (result.success) return result.data
  // Not quoted: a value typed there may be a key pasted in the wrong place.
  throw usageError(`--provider must be one of ${PROVIDER_NAMES.join(', ')}`)
}

/**
 * Parses an owner written `customer:cus_123` or `account:acct_123`. A value it refuses is a usage
 * error that says what is wrong without repeating the value: it may be a key or a card number
 * typed in the wrong place, which no pattern finds in every shape (a marketplace secret has none).
 *
 * @example
 * ```ts
 * parseOwner('customer:cus_123') // { type: 'customer', id: 'cus_123' }
 * ```
 */
export function parseOwner(value: string): Owner {
  const separator = value.indexOf(':')
  const owner =
    separator < 0 ? null : { type: value.slice(0, separator), id: value.slice(separator + 1) }
  const result = OwnerInputSchema.safeParse(owner)
  if (result.success) return result.data
  if (OwnerSchema.safeParse(owner).success) {
    // Only the card-number check failed: say so, and do not repeat the number.
    throw usageError(
      "--owner cannot hold a card number: pass the provider's customer or account id (for example customer:cus_123)",
    )
  }
  const wrong =
    owner === null
      ? "the value has no ':'"
      : owner.type !== 'customer' && owner.type !== 'account'
        ? "it starts with neither 'customer:' nor 'account:'"
        : "the id after ':' is empty or holds a character no id holds"
  throw usageError(
    `--owner must be customer:<id> or account:<id> (for example customer:cus_123): ${wrong}`,
  )
}

/**
 * Parses a store location: `sqlite:<path>` (relative to the working directory) or a
 * `postgres://` / `postgresql://` connection string, whose `?schema=` names the schema of the
 * store's tables (`public` when absent). A bad `--store` is a usage error; a bad
 * `CARDPORT_STORE` a configuration error. The schema is checked with `@cardport/store-postgres`'s
 * own `SchemaNameSchema`, before anything is opened (the package is imported only for a
 * PostgreSQL store); the message names the rule, never the connection string.
 */
export async function parseStore(
  value: string,
  source: '--store' | 'CARDPORT_STORE',
): Promise<StoreConfig> {
  const fail = (message: string): never => {
    throw new CliError(source === '--store' ? EXIT_CODES.usage : EXIT_CODES.config, message)
  }
  if (value.startsWith('sqlite:')) {
    const path = value.slice('sqlite:'.length)
    if (path === '') fail(`${source} sqlite: needs a file path, for example sqlite:./cards.db`)
    return { kind: 'sqlite', path, label: value }
  }
  if (/^postgres(ql)?:\/\//.test(value)) {
    try {
      const url = new URL(value)
      const schemas = url.searchParams.getAll('schema')
      if (schemas.length > 1) fail(`${source} names its schema more than once (?schema=)`)
      // The label is printed: it keeps the host and database, never the password, which pg
      // also takes as a parameter (`?password=`, as libpq does; `sslpassword` for the key).
      let holdsPassword = url.password !== ''
      if (holdsPassword) url.password = '***'
      for (const name of [...url.searchParams.keys()]) {
        if (!/^(ssl)?password$/i.test(name)) continue
        url.searchParams.set(name, '***')
        holdsPassword = true
      }
      const schema = schemas[0]
      const refusal = schema === undefined ? undefined : await schemaRefusal(schema)
      if (refusal) fail(`${source} names a schema postgresStore refuses (?schema=): ${refusal}`)
      return {
        kind: 'postgres',
        connectionString: value,
        ...(schema === undefined ? {} : { schema }),
        label: url.href,
        holdsPassword,
      }
    } catch (error) {
      if (error instanceof CliError) throw error
      fail(`${source} is not a valid PostgreSQL connection string (postgres://user@host:5432/db)`)
    }
  }
  return fail(
    `${source} must be sqlite:<path> or a postgres:// connection string (for example sqlite:./cards.db)`,
  )
}

function parseStripeApiBase(value: string, source: string): StripeApiBase {
  const url = parseBaseUrl(value, source, 'STRIPE_SECRET_KEY')
  if (url.pathname !== '/') {
    throw new CliError(
      source.startsWith('--') ? EXIT_CODES.usage : EXIT_CODES.config,
      `${source} must be an origin such as http://127.0.0.1:12111 (the Stripe SDK adds /v1/… itself)`,
    )
  }
  const protocol = url.protocol === 'http:' ? 'http' : 'https'
  return {
    protocol,
    // URL keeps the brackets of an IPv6 address (`[::1]`); the SDK's `host` takes the address.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? (protocol === 'http' ? 80 : 443) : Number(url.port),
    url: url.origin,
  }
}

/** The marketplace's base URL, checked as every provider base URL is (see {@link parseBaseUrl}). */
function parseMarketplaceUrl(value: string, fromFlag: boolean): string {
  const source = fromFlag ? '--marketplace-url' : 'MARKETPLACE_URL'
  return parseBaseUrl(value, source, 'MARKETPLACE_SECRET').href
}

/**
 * Why `postgresStore` would refuse a `?schema=` on open, in its schema's words (which never
 * repeat the value), or undefined when it would not.
 */
async function schemaRefusal(schema: string): Promise<string | undefined> {
  const { SchemaNameSchema } = await import('@cardport/store-postgres')
  return SchemaNameSchema.safeParse(schema).error?.issues[0]?.message
}

/** The marketplace id, checked with the adapter's schema: what the adapter would refuse. */
async function parseMarketplaceId(value: string, fromFlag: boolean): Promise<string> {
  const { MarketplaceIdSchema } = await import('@cardport/marketplace')
  const result = MarketplaceIdSchema.safeParse(value)
  if (result.success) return result.data
  throw new CliError(
    fromFlag ? EXIT_CODES.usage : EXIT_CODES.config,
    `${fromFlag ? '--marketplace-id' : 'MARKETPLACE_ID'} ${result.error.issues[0]!.message}`,
  )
}

/**
 * A provider's base URL from a flag (`--…`, a usage error when refused) or a variable (a
 * configuration error): an http(s) URL without a user name or password (the secret has its own
 * variable, `secretVariable`), a query or a fragment, an empty one (`?`, `#`, `@`) included:
 * the request paths are appended to it, and the adapters refuse all three. The messages name the
 * flag or variable, never the value, which may hold a credential.
 */
function parseBaseUrl(value: string, source: string, secretVariable: string): URL {
  const refuse = (why: string) =>
    new CliError(source.startsWith('--') ? EXIT_CODES.usage : EXIT_CODES.config, `${source} ${why}`)
  const result = z.url({ protocol: /^https?$/ }).safeParse(value)
  if (!result.success) {
    throw refuse('must be an http:// or https:// URL, such as http://127.0.0.1:12111')
  }
  const url = new URL(result.data)
  // URL forgets an empty user info (`http://@host`, `http://:@host`): the text still holds it,
  // read as URL reads it: leading spaces, tabs and line breaks ignored (zod refuses a URL that
  // starts with another control character).
  const text = value.trim().replace(/[\t\n\r]/g, '')
  if (url.username !== '' || url.password !== '' || USER_INFO.test(text)) {
    throw refuse(`cannot hold a user name or password: export the secret as ${secretVariable}`)
  }
  // href keeps an empty query or fragment (`http://host/?`), which search and hash do not show.
  if (/[?#]/.test(url.href)) {
    throw refuse('cannot hold a query (?…) or a fragment (#…): give the API base URL only')
  }
  return url
}

/**
 * An `@` in the authority of a URL: `scheme://user:password@`, either one empty or both (a
 * backslash counts as a slash in an http(s) URL).
 */
const USER_INFO = /^[a-z][a-z0-9+.-]*:[/\\]*[^/\\?#]*@/i

function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => (value === '' ? undefined : value), schema.optional())
}

function joinWords(words: string[]): string {
  if (words.length <= 1) return words.join('')
  return `${words.slice(0, -1).join(', ')} and ${words.at(-1)}`
}
