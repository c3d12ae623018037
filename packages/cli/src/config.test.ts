import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { debugEnabled, parseOwner, parseStore, readEnv, resolveProviderConfig } from './config.js'
import { CliError, EXIT_CODES } from './exit-codes.js'

function failure(run: () => unknown): CliError {
  try {
    run()
  } catch (error) {
    if (error instanceof CliError) return error
    throw error
  }
  throw new Error('expected a CliError')
}

async function rejection(promise: Promise<unknown>): Promise<CliError> {
  const error = await promise.then(
    () => new Error('expected a CliError'),
    (error: unknown) => error,
  )
  if (error instanceof CliError) return error
  throw error
}

describe('readEnv', () => {
  it('reads the variables and treats empty ones as unset', () => {
    const env = readEnv({ STRIPE_SECRET_KEY: 'sk_test_abc', MARKETPLACE_ID: '', OTHER: 'x' })
    expect(env.STRIPE_SECRET_KEY).toBe('sk_test_abc')
    expect(env.MARKETPLACE_ID).toBeUndefined()
  })

  it('refuses a publishable key as a configuration error that does not show the key', () => {
    const error = failure(() => readEnv({ STRIPE_SECRET_KEY: 'pk_test_visible123' }))
    expect(error.exitCode).toBe(EXIT_CODES.config)
    expect(error.message).toMatch(/^STRIPE_SECRET_KEY is not a Stripe secret/)
    expect(error.message).not.toContain('visible123')
  })

  it("checks only the chosen provider's variables, and the store's", () => {
    const env = {
      STRIPE_SECRET_KEY: 'pk_test_visible123',
      MARKETPLACE_SECRET: 'secret-1',
      CARDPORT_STORE: 'sqlite:./cards.db',
    }
    const marketplace = readEnv(env, 'marketplace')
    expect(marketplace).toEqual({
      MARKETPLACE_SECRET: 'secret-1',
      CARDPORT_STORE: 'sqlite:./cards.db',
    })
    expect(failure(() => readEnv(env, 'stripe')).exitCode).toBe(EXIT_CODES.config)
    expect(failure(() => readEnv(env)).exitCode).toBe(EXIT_CODES.config)
  })
})

describe('resolveProviderConfig', () => {
  it('builds a Stripe configuration, the API base from the flag before the environment', async () => {
    const config = await resolveProviderConfig(
      { provider: 'stripe', stripeApiBase: 'http://127.0.0.1:4000' },
      readEnv({ STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_API_BASE: 'http://127.0.0.1:5000' }),
    )
    expect(config).toEqual({
      provider: 'stripe',
      secretKey: 'sk_test_abc',
      apiBase: { protocol: 'http', host: '127.0.0.1', port: 4000, url: 'http://127.0.0.1:4000' },
    })
  })

  it('gives the Stripe SDK an IPv6 host without the brackets of the URL', async () => {
    // `cardport emulate --host ::1` prints STRIPE_API_BASE=http://[::1]:12111; the SDK's `host`
    // option is a host name or address, and '[::1]' is neither: every request failed.
    const config = await resolveProviderConfig(
      { provider: 'stripe', stripeApiBase: 'http://[::1]:12111' },
      readEnv({ STRIPE_SECRET_KEY: 'sk_test_abc' }),
    )
    expect(config.provider === 'stripe' && config.apiBase).toEqual({
      protocol: 'http',
      host: '::1',
      port: 12111,
      url: 'http://[::1]:12111',
    })
  })

  it('defaults the port of an https API base to 443, and has no base without one', async () => {
    const env = readEnv({ STRIPE_SECRET_KEY: 'sk_test_abc' })
    const withBase = await resolveProviderConfig(
      { provider: 'stripe', stripeApiBase: 'https://stripe.internal' },
      env,
    )
    expect(withBase.provider === 'stripe' && withBase.apiBase?.port).toBe(443)
    const without = await resolveProviderConfig({ provider: 'stripe' }, env)
    expect(without.provider === 'stripe' && without.apiBase).toBeNull()
  })

  it('says which Stripe variable is missing and offers the emulators', async () => {
    const error = await rejection(resolveProviderConfig({ provider: 'stripe' }, readEnv({})))
    expect(error.exitCode).toBe(EXIT_CODES.config)
    expect(error.message).toContain('STRIPE_SECRET_KEY is not set')
    expect(error.message).toContain('cardport emulate')
    expect(error.message).not.toContain('\n')
  })

  it('names every missing marketplace variable, and only those', async () => {
    const error = await rejection(
      resolveProviderConfig(
        { provider: 'marketplace', marketplaceId: 'MP1' },
        readEnv({ MARKETPLACE_URL: 'http://127.0.0.1:1' }),
      ),
    )
    expect(error.exitCode).toBe(EXIT_CODES.config)
    expect(error.message).toMatch(/^MARKETPLACE_SECRET is not set/)
    expect(error.message).not.toContain('MARKETPLACE_ID')
    const all = await rejection(resolveProviderConfig({ provider: 'marketplace' }, readEnv({})))
    expect(all.message).toMatch(
      /^MARKETPLACE_URL \(or --marketplace-url\), MARKETPLACE_ID \(or --marketplace-id\) and MARKETPLACE_SECRET are not set/,
    )
  })

  it('builds a marketplace configuration, flags before the environment', async () => {
    const config = await resolveProviderConfig(
      { provider: 'marketplace', marketplaceUrl: 'http://127.0.0.1:9/api' },
      readEnv({
        MARKETPLACE_URL: 'http://ignored.example',
        MARKETPLACE_ID: 'MP1',
        MARKETPLACE_SECRET: 'secret-1',
      }),
    )
    expect(config).toEqual({
      provider: 'marketplace',
      url: 'http://127.0.0.1:9/api',
      marketplaceId: 'MP1',
      secret: 'secret-1',
    })
  })

  it('calls a malformed URL a usage error from a flag and a configuration error from the environment', async () => {
    const env = readEnv({ STRIPE_SECRET_KEY: 'sk_test_abc', STRIPE_API_BASE: 'ftp://x' })
    const variable = await rejection(resolveProviderConfig({ provider: 'stripe' }, env))
    expect(variable.exitCode).toBe(EXIT_CODES.config)
    const flag = await rejection(
      resolveProviderConfig({ provider: 'stripe', stripeApiBase: 'not a url' }, env),
    )
    expect(flag.exitCode).toBe(EXIT_CODES.usage)
    expect(flag.message).toMatch(/^--stripe-api-base must be an http/)
  })

  it.each([
    [{ marketplaceUrl: '' }, /^--marketplace-url must be an http/],
    [{ marketplaceId: '' }, /^--marketplace-id /],
  ])(
    'refuses an empty marketplace flag %j as a usage error, not as unset',
    async (flags, message) => {
      const env = readEnv({
        MARKETPLACE_URL: 'http://127.0.0.1:9',
        MARKETPLACE_ID: 'MP1',
        MARKETPLACE_SECRET: 'secret-1',
      })
      const error = await rejection(
        resolveProviderConfig({ provider: 'marketplace', ...flags }, env),
      )
      expect([error.exitCode, error.message]).toEqual([
        EXIT_CODES.usage,
        expect.stringMatching(message),
      ])
    },
  )

  it('refuses a marketplace id the adapter would refuse: a usage error from a flag, a configuration error from the environment', async () => {
    const base = { MARKETPLACE_URL: 'http://127.0.0.1:9', MARKETPLACE_SECRET: 'secret-1' }
    const id = await rejection(
      resolveProviderConfig(
        { provider: 'marketplace', marketplaceId: 'MP/1' },
        readEnv({ ...base, MARKETPLACE_ID: 'MP1' }),
      ),
    )
    expect([id.exitCode, id.message]).toEqual([
      EXIT_CODES.usage,
      expect.stringMatching(/^--marketplace-id /),
    ])
    const idVariable = await rejection(
      resolveProviderConfig(
        { provider: 'marketplace' },
        readEnv({ ...base, MARKETPLACE_ID: 'MP 1' }),
      ),
    )
    expect([idVariable.exitCode, idVariable.message]).toEqual([
      EXIT_CODES.config,
      expect.stringMatching(/^MARKETPLACE_ID /),
    ])
  })

  it.each([
    ['stripe', '--stripe-api-base', 'STRIPE_API_BASE'],
    ['marketplace', '--marketplace-url', 'MARKETPLACE_URL'],
  ] as const)(
    'refuses a %s base URL with credentials, a fragment or an empty query, naming %s or %s and never the credentials',
    async (provider, flagName, variableName) => {
      const env = {
        STRIPE_SECRET_KEY: 'sk_test_abc',
        MARKETPLACE_ID: 'MP1',
        MARKETPLACE_SECRET: 'secret-1',
      }
      const flag = provider === 'stripe' ? 'stripeApiBase' : 'marketplaceUrl'
      for (const url of [
        'http://k3yuser:pa55word@127.0.0.1:9',
        'http://k3yuser@127.0.0.1:9',
        // Empty user info: URL drops the `@`, the marketplace adapter refuses the text all the same.
        'http://@127.0.0.1:9',
        'http://:@127.0.0.1:9',
        ' http://@127.0.0.1:9',
        'http://\n@127.0.0.1:9',
        'http://127.0.0.1:9/?tenant=1',
        'http://127.0.0.1:9/#api',
        'http://127.0.0.1:9#',
        'http://127.0.0.1:9/?',
        'http://127.0.0.1:9?',
      ]) {
        const fromFlag = await rejection(
          resolveProviderConfig({ provider, [flag]: url }, readEnv(env)),
        )
        expect([fromFlag.exitCode, fromFlag.message], url).toEqual([
          EXIT_CODES.usage,
          expect.stringMatching(new RegExp(`^${flagName} cannot hold `)),
        ])
        const fromVariable = await rejection(
          resolveProviderConfig({ provider }, readEnv({ ...env, [variableName]: url })),
        )
        expect([fromVariable.exitCode, fromVariable.message], url).toEqual([
          EXIT_CODES.config,
          expect.stringMatching(new RegExp(`^${variableName} cannot hold `)),
        ])
        for (const message of [fromFlag.message, fromVariable.message]) {
          expect(message).not.toMatch(/k3yuser|pa55word|127\.0\.0\.1/)
        }
      }
    },
  )

  it("checks the marketplace id with @cardport/marketplace's MarketplaceIdSchema, loaded for that provider only", async () => {
    const { MarketplaceIdSchema } = await import('@cardport/marketplace')
    // A fresh module graph, where each load of @cardport/marketplace is counted (its CliError
    // is another class than the one imported above: the error is read by its message).
    vi.resetModules()
    let loads = 0
    vi.doMock('@cardport/marketplace', async (importOriginal) => {
      loads += 1
      return importOriginal()
    })
    onTestFinished(() => {
      vi.doUnmock('@cardport/marketplace')
    })
    const fresh = await import('./config.js')
    await fresh.resolveProviderConfig(
      { provider: 'stripe' },
      fresh.readEnv({ STRIPE_SECRET_KEY: 'sk_test_abc' }),
    )
    expect(loads).toBe(0)
    const env = { MARKETPLACE_URL: 'http://127.0.0.1:9', MARKETPLACE_SECRET: 'secret-1' }
    const refused: Error = await fresh
      .resolveProviderConfig({ provider: 'marketplace', marketplaceId: 'MP/1' }, fresh.readEnv(env))
      .then(
        () => new Error('expected a refusal'),
        (error: Error) => error,
      )
    expect(loads).toBe(1)
    // The schema's own words, after the flag's name.
    const issue = MarketplaceIdSchema.safeParse('MP/1').error!.issues[0]!
    expect(refused.message).toBe(`--marketplace-id ${issue.message}`)
  })

  it('refuses a Stripe API base with a path, which the SDK could not honour', async () => {
    const error = await rejection(
      resolveProviderConfig(
        { provider: 'stripe', stripeApiBase: 'http://127.0.0.1:4000/stripe' },
        readEnv({ STRIPE_SECRET_KEY: 'sk_test_abc' }),
      ),
    )
    expect(error.message).toContain('must be an origin')
  })

  it('refuses an unknown provider as a usage error', async () => {
    const error = await rejection(resolveProviderConfig({ provider: 'paypal' }, readEnv({})))
    expect(error.exitCode).toBe(EXIT_CODES.usage)
  })
})

describe('parseOwner', () => {
  it('parses customer and account owners, keeping colons in the id', () => {
    expect(parseOwner('customer:cus_123')).toEqual({ type: 'customer', id: 'cus_123' })
    expect(parseOwner('account:acct:1')).toEqual({ type: 'account', id: 'acct:1' })
  })

  it.each(['cus_123', 'user:cus_123', 'customer:'])('refuses %j as a usage error', (value) => {
    const error = failure(() => parseOwner(value))
    expect(error.exitCode).toBe(EXIT_CODES.usage)
    expect(error.message).toMatch(/^--owner must be customer:<id> or account:<id>/)
  })

  it('refuses a card number typed as the owner id, without repeating it', () => {
    for (const value of ['customer:4242424242424242', 'account:5555 5555 5555 4444']) {
      const error = failure(() => parseOwner(value))
      expect(error.exitCode).toBe(EXIT_CODES.usage)
      expect(error.message).toBe(
        "--owner cannot hold a card number: pass the provider's customer or account id (for example customer:cus_123)",
      )
    }
  })
})

describe('parseStore', () => {
  it('parses SQLite paths and PostgreSQL URLs, hiding the password in the label', async () => {
    expect(await parseStore('sqlite:./cards.db', '--store')).toEqual({
      kind: 'sqlite',
      path: './cards.db',
      label: 'sqlite:./cards.db',
    })
    const postgres = await parseStore('postgres://app:hunter2@db:5432/cards', 'CARDPORT_STORE')
    expect(postgres).toMatchObject({
      kind: 'postgres',
      connectionString: 'postgres://app:hunter2@db:5432/cards',
      holdsPassword: true,
    })
    expect(postgres.label).not.toContain('hunter2')
    expect((await parseStore('postgresql://db/cards', '--store')).kind).toBe('postgres')
  })

  it('hides a password given as a parameter of the connection string too (pg reads ?password=)', async () => {
    const postgres = await parseStore(
      'postgres://app@db:5432/cards?sslmode=require&password=hunter2&sslpassword=swordfish',
      'CARDPORT_STORE',
    )
    expect(postgres).toMatchObject({
      connectionString: expect.stringContaining('password=hunter2'),
      holdsPassword: true,
    })
    expect(postgres.label).not.toContain('hunter2')
    expect(postgres.label).not.toContain('swordfish')
    expect(postgres.label).toContain('sslmode=require')
  })

  it('reads the schema of a PostgreSQL store from ?schema=, once, and leaves public by default', async () => {
    const store = await parseStore(
      'postgres://app@db:5432/cards?sslmode=require&schema=billing',
      '--store',
    )
    expect(store).toEqual({
      kind: 'postgres',
      // pg ignores the parameter: the connection string is passed on as given.
      connectionString: 'postgres://app@db:5432/cards?sslmode=require&schema=billing',
      schema: 'billing',
      label: 'postgres://app@db:5432/cards?sslmode=require&schema=billing',
      holdsPassword: false,
    })
    expect(await parseStore('postgres://app@db/cards', '--store')).not.toHaveProperty('schema')
    const twice = await rejection(parseStore('postgres://db/cards?schema=a&schema=b', '--store'))
    expect(twice.exitCode).toBe(EXIT_CODES.usage)
    expect(twice.message).toBe('--store names its schema more than once (?schema=)')
  })

  it('refuses a ?schema= postgresStore would refuse, before anything opens, naming the rule and not the password', async () => {
    const { SchemaNameSchema } = await import('@cardport/store-postgres')
    for (const schema of ['Billing', '', 'pg_cards', 'information_schema', 'a'.repeat(64)]) {
      const url = `postgres://app:hunter2@db:5432/cards?password=swordfish&schema=${schema}`
      const rule = SchemaNameSchema.safeParse(schema).error!.issues[0]!.message
      const flag = await rejection(parseStore(url, '--store'))
      expect(flag.exitCode).toBe(EXIT_CODES.usage)
      expect(flag.message).toBe(`--store names a schema postgresStore refuses (?schema=): ${rule}`)
      expect(flag.message).not.toMatch(/hunter2|swordfish/)
      const variable = await rejection(parseStore(url, 'CARDPORT_STORE'))
      expect(variable.exitCode).toBe(EXIT_CODES.config)
      expect(variable.message).toBe(
        `CARDPORT_STORE names a schema postgresStore refuses (?schema=): ${rule}`,
      )
    }
  })

  it('refuses other locations: a usage error from --store, a configuration error from the environment', async () => {
    expect((await rejection(parseStore('mysql://db', '--store'))).exitCode).toBe(EXIT_CODES.usage)
    expect((await rejection(parseStore('sqlite:', '--store'))).message).toContain(
      'needs a file path',
    )
    expect((await rejection(parseStore('./cards.db', 'CARDPORT_STORE'))).exitCode).toBe(
      EXIT_CODES.config,
    )
  })
})

describe('debugEnabled', () => {
  it('is on with the flag or a truthy CARDPORT_DEBUG', () => {
    expect(debugEnabled(true, {})).toBe(true)
    expect(debugEnabled(false, { CARDPORT_DEBUG: '1' })).toBe(true)
    expect(debugEnabled(false, { CARDPORT_DEBUG: '0' })).toBe(false)
    expect(debugEnabled(undefined, {})).toBe(false)
  })

  // What the README's configuration table says, value by value.
  it.each([
    ['1', true],
    ['true', true],
    ['yes', true],
    ['', false],
    ['0', false],
    ['false', false],
  ])('reads CARDPORT_DEBUG=%j as %s, as the README says', (value, on) => {
    expect(debugEnabled(undefined, { CARDPORT_DEBUG: value })).toBe(on)
  })
})
