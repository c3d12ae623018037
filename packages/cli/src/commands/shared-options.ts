import { type Command, Option } from 'commander'
import {
  type CliEnv,
  PROVIDER_NAMES,
  type ProviderConfig,
  parseProviderName,
  parseStore,
  readEnv,
  resolveProviderConfig,
  type StoreConfig,
} from '../config.js'
import { type CliContext, writeLine } from '../context.js'

/** The provider flags every provider command takes, as commander parses them. */
export interface ProviderOptionValues {
  /** `--provider`. */
  provider: string
  /** `--stripe-api-base`. */
  stripeApiBase?: string
  /** `--marketplace-url`. */
  marketplaceUrl?: string
  /** `--marketplace-id`. */
  marketplaceId?: string
  /** `--name`. */
  name?: string
}

/** Adds `--provider` and the flags that locate a provider. */
export function addProviderOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--provider <name>', 'the provider holding the cards')
        .choices(PROVIDER_NAMES)
        .makeOptionMandatory(),
    )
    .option(
      '--stripe-api-base <url>',
      'send Stripe requests to this origin instead of api.stripe.com (env STRIPE_API_BASE)',
    )
    .option('--marketplace-url <url>', "the marketplace API's base URL (env MARKETPLACE_URL)")
    .option('--marketplace-id <id>', 'the marketplace id (env MARKETPLACE_ID)')
    .option(
      '--name <name>',
      "the provider's name in the store, when your application gives it one (the adapters' name option, e.g. stripe-eu); default: stripe or marketplace",
    )
}

/** The environment variables, for the end of `--help`. */
export const ENVIRONMENT_HELP = `
Environment:
  STRIPE_SECRET_KEY    Stripe secret or restricted key (sk_test_…, rk_…); never printed
  STRIPE_API_BASE      Stripe API origin, e.g. the emulator's http://127.0.0.1:12111
  MARKETPLACE_URL      marketplace API base URL
  MARKETPLACE_ID       marketplace id
  MARKETPLACE_SECRET   marketplace API key secret; never printed
  CARDPORT_STORE       reconcile's default --store (sqlite:./cards.db or postgres://…);
                       list reads a store only when given --store
  CARDPORT_DEBUG=1     same as --debug

No credentials? Run \`cardport emulate\` and follow what it prints.`

/**
 * Reads the environment and the provider flags into a provider configuration. Only the chosen
 * provider's variables (and the store's) are checked: another provider's are none of its business.
 */
export async function providerConfigFrom(
  context: CliContext,
  values: ProviderOptionValues,
): Promise<{ env: CliEnv; config: ProviderConfig }> {
  const env = readEnv(context.env, parseProviderName(values.provider))
  return { env, config: await resolveProviderConfig(values, env) }
}

/**
 * The store a `--store` flag names. A password in it is taken, with a warning first: a flag's
 * value shows in `ps` to every user of the machine and stays in shell history, which
 * `CARDPORT_STORE` (or pg's own `PGPASSWORD` and `~/.pgpass`) does not.
 */
export async function storeFromFlag(flag: string, context: CliContext): Promise<StoreConfig> {
  const config = await parseStore(flag, '--store')
  if (config.kind === 'postgres' && config.holdsPassword) {
    writeLine(
      context.stderr,
      'cardport: warning: --store holds a password, which other users of this machine see in ps and which stays in your shell history: put the connection string in CARDPORT_STORE, or the password in PGPASSWORD or ~/.pgpass',
    )
  }
  return config
}
