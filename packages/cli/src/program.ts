import { isCardportError, redactSecrets } from '@cardport/core'
import { Command, CommanderError } from 'commander'
import packageJson from '../package.json' with { type: 'json' }
import { emulateCommand } from './commands/emulate.js'
import { listCommand } from './commands/list.js'
import { reconcileCommand } from './commands/reconcile.js'
import { debugEnabled } from './config.js'
import type { CliContext } from './context.js'
import { CliError, EXIT_CODES, exitCodeFor } from './exit-codes.js'

/**
 * Builds the `cardport` program. Commander is told not to exit or print errors itself: every
 * failure, its own included, comes back to {@link run} as an exception and leaves as one line
 * and an exit code from `exit-codes.ts`.
 */
export function buildProgram(context: CliContext): Command {
  const program = new Command('cardport')
    .description(
      'Serve the cardport emulators, list the cards an owner holds at a provider, and reconcile a local store with it.',
    )
    .version(packageJson.version, '-v, --version')
    .option('--debug', 'on failure, print the stack trace too (env CARDPORT_DEBUG=1)')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Exit codes: 0 ok, 1 failure, 2 usage error, 3 missing or refused configuration,
4 provider unreachable or rate limiting, 5 drift found (reconcile --exit-code),
130 interrupted.

Start here: \`cardport emulate\` serves emulated Stripe and marketplace APIs and prints how
to point the other commands at them.`,
    )
  for (const command of [
    emulateCommand(context),
    listCommand(context),
    reconcileCommand(context),
  ]) {
    program.addCommand(command)
  }
  // Applied to every command: commander's own errors (unknown flag, missing value) are thrown
  // instead of printed, so that they are reported like every other error.
  for (const command of [program, ...program.commands]) {
    command.exitOverride().configureOutput({
      writeOut: (text) => context.stdout.write(text),
      writeErr: (text) => context.stderr.write(text),
      outputError: () => {},
    })
  }
  return program
}

/** The variables holding secrets: scrubbed by value from everything printed on stderr. */
const SECRET_VARIABLES = ['STRIPE_SECRET_KEY', 'MARKETPLACE_SECRET'] as const

/**
 * Runs the CLI with the given arguments and returns the exit code. Never throws: errors are
 * printed to stderr as one line (`cardport: …`), with the stack only under `--debug`, after
 * removing card numbers, API keys and every secret the configuration held.
 */
export async function run(argv: readonly string[], context: CliContext): Promise<number> {
  const program = buildProgram(context)
  // Known before any command runs, so that no message, not even a usage error, can show them.
  for (const name of SECRET_VARIABLES) {
    const value = context.env[name]
    if (value) context.secrets.add(value)
  }
  try {
    await program.parseAsync(argv, { from: 'user' })
    return context.exitCode ?? EXIT_CODES.ok
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end this way too, with exit code 0.
      if (error.exitCode === 0) return EXIT_CODES.ok
      // No command given: commander has printed the usage to stderr already.
      if (error.code === 'commander.help') return EXIT_CODES.usage
      const command = commandOf(program, argv)
      const message = error.message.replace(/^error: /, '')
      writeError(context, `${message} (see \`${command} --help\`)`)
      return EXIT_CODES.usage
    }
    const debug = debugEnabled(
      program.opts().debug === true || argv.includes('--debug'),
      context.env,
    )
    writeError(context, describeError(error))
    if (debug) context.stderr.write(`${scrub(stackOf(error), context)}\n`)
    return exitCodeFor(error)
  }
}

/** Writes `cardport: <message>` on exactly one line, scrubbed. */
function writeError(context: CliContext, message: string) {
  context.stderr.write(`${scrub(`cardport: ${message}`, context).replace(/\s*\n\s*/g, ' ')}\n`)
}

function describeError(error: unknown): string {
  if (error instanceof CliError) return error.message
  if (isCardportError(error)) return `${error.message} [${error.code}]`
  if (error instanceof Error) return error.message
  return String(error)
}

/** The stack, and the stacks of the causes, for `--debug`. */
function stackOf(error: unknown): string {
  const lines: string[] = []
  let current: unknown = error
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    lines.push(
      depth === 0 ? '' : 'Caused by:',
      current instanceof Error ? (current.stack ?? current.message) : String(current),
    )
    current = current instanceof Error ? current.cause : undefined
  }
  return lines.join('\n').trim()
}

/** Card numbers and key-shaped strings out (core's `redactSecrets`), then every known secret. */
function scrub(text: string, context: CliContext): string {
  let result = redactSecrets(text)
  for (const secret of context.secrets) {
    if (secret.length >= 4) result = result.split(secret).join('[redacted]')
  }
  return result
}

/** `cardport list`, for the hint after a usage error: the deepest command named in argv. */
function commandOf(program: Command, argv: readonly string[]): string {
  const name = argv.find((arg) => program.commands.some((command) => command.name() === arg))
  return name === undefined ? 'cardport' : `cardport ${name}`
}
