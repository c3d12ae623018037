import { formatOwner } from '@cardport/core'
import type { EmulatorServer } from '@cardport/testing/emulators'
import { Command, InvalidArgumentError } from 'commander'
import { type CliContext, type OutputStream, writeLine } from '../context.js'
import { CliError, EXIT_CODES, usageError } from '../exit-codes.js'
import { stopped } from '../stop-signals.js'

/** The Stripe key `cardport emulate` prints: the emulator takes any test-mode key. */
export const EMULATOR_STRIPE_KEY = 'sk_test_cardport_emulator'

/** The default port of `cardport emulate` (the port stripe-mock uses, out of habit). */
export const DEFAULT_EMULATOR_PORT = 12111

/** What `cardport emulate --json` prints, on one line. */
export interface EmulatorDetails {
  /** The server's origin (`http://127.0.0.1:12111`): both emulators answer there. */
  url: string
  /** What to set to use the Stripe emulator. */
  stripe: {
    /** For `STRIPE_API_BASE`. */
    apiBase: string
    /** For `STRIPE_SECRET_KEY`: any test-mode key works. */
    secretKey: string
    /** The seeded customer and account, or null with `--no-seed`. */
    demo: DemoOwners | null
  }
  /** What to set to use the marketplace emulator. */
  marketplace: {
    /** For `MARKETPLACE_URL`. */
    url: string
    /** For `MARKETPLACE_ID`: the test marketplace. */
    id: string
    /** For `MARKETPLACE_SECRET`: the test marketplace's API key secret. */
    secret: string
    /** The seeded account, or null with `--no-seed`. */
    demo: DemoOwners | null
  }
}

/** The owners seeded for a first try, written as `--owner` takes them. */
interface DemoOwners {
  customer?: string
  account?: string
}

interface EmulateOptionValues {
  port: number
  host: string
  seed: boolean
  json?: boolean
}

/**
 * `cardport emulate`: serves the Stripe and marketplace emulators of `@cardport/testing` over
 * HTTP until SIGHUP, SIGINT or SIGTERM, seeded with a demo customer, account and cards, and prints the
 * URL, the test credentials and how to point the other commands at them. It serves until `stop`
 * aborts (SIGHUP, SIGINT, SIGTERM), then closes the server and ends with exit 0. What it prints
 * is the only way to reach the emulators (a `--port 0` is known from it alone): once a write of
 * it fails (`emulate --json > /dev/full`), it closes the server at once and returns, and the
 * executable reports the write and exits 1 (`exit-after-output.ts`), as for every command. A
 * reader that closes the pipe (`cardport emulate | head -1`, EPIPE) has read what it wanted, the
 * URL on the first line: the emulators serve on until a signal, whether the lines after it were
 * written before the pipe closed or not (`context.outlivesItsReader`).
 */
export function emulateCommand(context: CliContext, stop: AbortSignal): Command {
  return new Command('emulate')
    .description(
      'Serve emulated Stripe and marketplace APIs on a local port until stopped (Ctrl+C)',
    )
    .option(
      '--port <port>',
      'the port to listen on; 0 picks a free one',
      parsePort,
      DEFAULT_EMULATOR_PORT,
    )
    .option('--host <host>', 'the interface to listen on', parseHost, '127.0.0.1')
    .option('--no-seed', 'start empty: no demo customer, account or cards')
    .option('--json', 'print the connection details as one line of JSON')
    .addHelpText(
      'after',
      `
The emulators keep everything in memory and accept any test-mode key; they
are for development and tests, never for real card data.

Examples:
  cardport emulate
  cardport emulate --port 0 --json     # a free port; details as JSON for scripts`,
    )
    .action(async (values: EmulateOptionValues) => {
      context.outlivesItsReader = true
      const server = await listen(values.host, values.port)
      let outputLost = false
      try {
        const details: EmulatorDetails = {
          url: server.url,
          stripe: { apiBase: server.url, secretKey: EMULATOR_STRIPE_KEY, demo: null },
          marketplace: {
            url: server.url,
            id: server.marketplace?.marketplaceId ?? '',
            secret: server.marketplace?.secret ?? '',
            demo: null,
          },
        }
        if (values.seed) seed(server, details)
        const lines = values.json ? [JSON.stringify(details)] : detailLines(details)
        outputLost = await Promise.race([
          stopped(stop).then(() => false),
          writeFailure(context.stdout, lines).then(() => true),
        ])
      } finally {
        await server.close()
      }
      if (!values.json && !outputLost) writeLine(context.stderr, 'cardport: emulators stopped')
    })
}

/**
 * Starts the emulator server, turning Node's listen errors into one line that says what to
 * change (Node's own, `listen EACCES: permission denied 127.0.0.1:80`, says neither which flag
 * nor what to do). As the README documents: a port that cannot be used here is a failure
 * (exit 1) that offers another port; a host that cannot be listened on is a usage error (exit 2).
 */
async function listen(host: string, port: number) {
  // Imported here: the emulators (and MSW) load only for this command.
  const { startEmulatorServer } = await import('@cardport/testing/emulators')
  try {
    return await startEmulatorServer({ host, port })
  } catch (error) {
    const refusal = listenRefusal((error as NodeJS.ErrnoException).code, host, port)
    if (refusal) throw refusal
    throw error
  }
}

/** The {@link CliError} for a listen error's `code`; undefined for a code not known here. */
function listenRefusal(code: string | undefined, host: string, port: number): CliError | undefined {
  const otherPort = 'pick another with --port, or --port 0 for a free one'
  switch (code) {
    case 'EADDRINUSE':
      return new CliError(
        EXIT_CODES.failure,
        `port ${port} on ${host} is already in use: ${otherPort}`,
      )
    // Not root (nor CAP_NET_BIND_SERVICE) on a port below 1024, or a policy (Windows' excluded
    // port ranges, SELinux) that forbids this one.
    case 'EACCES':
      return new CliError(
        EXIT_CODES.failure,
        port > 0 && port < 1024
          ? `port ${port} on ${host} is not allowed for this user (ports below 1024 are privileged): pick one from 1024 up with --port, or --port 0 for a free one`
          : `port ${port} on ${host} is not allowed for this user: ${otherPort}`,
      )
    // EINVAL: an address Node cannot bind, such as an IPv6 one with an unknown zone (`fe80::1%x`).
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EINVAL':
      return usageError(`cannot listen on --host ${host}: no such local address`)
    // The name's DNS lookup got no answer (EAI_AGAIN: none for now, as offline; EAI_FAIL: none
    // to be had). A host to listen on is this machine's, which needs no DNS.
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return usageError(
        `cannot listen on --host ${host}: the name could not be resolved (DNS did not answer): pass a local address such as 127.0.0.1`,
      )
    // An IPv6 address (or a name that resolves to one) on a machine with IPv6 turned off.
    case 'EAFNOSUPPORT':
      return usageError(
        `cannot listen on --host ${host}: this machine does not support its address family (IPv6 turned off?): pass an IPv4 address such as 127.0.0.1`,
      )
    default:
      return undefined
  }
}

/**
 * The demo data, written straight into the emulators' state: a Stripe customer with three
 * cards (the first is the default), a Connect account with a debit card, and a marketplace
 * account with one card.
 */
function seed(server: EmulatorServer, details: EmulatorDetails) {
  if (server.stripe) {
    const customer = server.stripe.seed.customer({
      name: 'Demo Customer',
      email: 'demo@example.com',
    })
    for (const token of ['tok_visa', 'tok_mastercard', 'tok_amex']) {
      server.stripe.seed.card(customer.id, token)
    }
    const account = server.stripe.seed.account({ email: 'demo-account@example.com' })
    server.stripe.seed.card(account.id, 'tok_visa_debit', { default_for_currency: true })
    details.stripe.demo = {
      customer: formatOwner({ type: 'customer', id: customer.id }),
      account: formatOwner({ type: 'account', id: account.id }),
    }
  }
  if (server.marketplace) {
    const account = server.marketplace.seed.account({
      name: 'Demo Buyer',
      email_address: 'buyer@example.com',
    })
    server.marketplace.seed.card({ account: account.id, name: 'Demo Buyer' })
    details.marketplace.demo = { account: formatOwner({ type: 'account', id: account.id }) }
  }
}

/**
 * Writes `lines` to `stream`, each with its newline; resolves once one of the writes fails, and
 * never when they are all taken (nor on a stream that takes no callback). A pipe its reader
 * closed (EPIPE) is no failure: the reader read what it wanted (`| head -1`). The writes after the
 * one that failed fail as `ERR_STREAM_DESTROYED`, whose cause is the failed write's own error
 * (its callback may come after theirs): they are not failures of their own.
 */
function writeFailure(stream: OutputStream, lines: readonly string[]): Promise<void> {
  return new Promise((resolve) => {
    for (const line of lines) {
      stream.write(`${line}\n`, (error) => {
        const code = (error as NodeJS.ErrnoException | null | undefined)?.code
        if (error && code !== 'EPIPE' && code !== 'ERR_STREAM_DESTROYED') resolve()
      })
    }
  })
}

/** What `cardport emulate` prints without `--json`, line by line. */
function detailLines(details: EmulatorDetails): string[] {
  const { stripe, marketplace } = details
  const lines = [
    `cardport emulators listening on ${details.url} (Ctrl+C to stop)`,
    '',
    'Stripe (test mode; any sk_test_ key is accepted)',
    `  STRIPE_API_BASE=${stripe.apiBase}`,
    `  STRIPE_SECRET_KEY=${stripe.secretKey}`,
  ]
  if (stripe.demo?.customer) lines.push(`  demo customer: ${stripe.demo.customer} (3 cards)`)
  if (stripe.demo?.account) lines.push(`  demo account:  ${stripe.demo.account} (1 debit card)`)
  lines.push(
    '',
    'Marketplace',
    `  MARKETPLACE_URL=${marketplace.url}`,
    `  MARKETPLACE_ID=${marketplace.id}`,
    `  MARKETPLACE_SECRET=${marketplace.secret}`,
  )
  if (marketplace.demo?.account) lines.push(`  demo account: ${marketplace.demo.account} (1 card)`)
  const stripeOwner = stripe.demo?.customer ?? 'customer:<id>'
  const marketplaceOwner = marketplace.demo?.account ?? 'account:<id>'
  lines.push(
    '',
    'Point the other commands at them, in another terminal:',
    `  export STRIPE_API_BASE=${stripe.apiBase} STRIPE_SECRET_KEY=${stripe.secretKey}`,
    `  export MARKETPLACE_URL=${marketplace.url} MARKETPLACE_ID=${marketplace.id} MARKETPLACE_SECRET=${marketplace.secret}`,
    `  cardport list --provider stripe --owner ${stripeOwner}`,
    `  cardport list --provider marketplace --owner ${marketplaceOwner}`,
    `  cardport reconcile --provider stripe --store sqlite:./cards.db --owner ${stripeOwner}`,
  )
  return lines
}

/** An empty `--host` is refused here: the emulator server would refuse it as a failure (exit 1). */
function parseHost(value: string): string {
  if (value === '') {
    throw new InvalidArgumentError('a host is a local address or name, such as 127.0.0.1.')
  }
  return value
}

function parsePort(value: string): number {
  const port = Number(value)
  if (!/^\d+$/.test(value) || port > 65_535) {
    throw new InvalidArgumentError('a port is a number from 0 to 65535.')
  }
  return port
}
