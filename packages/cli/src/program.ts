import { Command, CommanderError } from 'commander'
import packageJson from '../package.json' with { type: 'json' }
import { emulateCommand } from './commands/emulate.js'
import { listCommand } from './commands/list.js'
import { reconcileCommand } from './commands/reconcile.js'
import { debugEnabled } from './config.js'
import type { CliContext } from './context.js'
import { describeError } from './describe-error.js'
import { EXIT_CODES, exitCodeFor } from './exit-codes.js'
import { refuseRepeatedOptions } from './refuse-repeated-options.js'
import { collectSecrets, scrub } from './scrub.js'
import { listenForStopSignals } from './stop-signals.js'

/**
 * Builds the `cardport` program. Commander is told not to exit or print errors itself: every
 * failure, its own included, comes back to {@link run} as an exception and leaves as one line
 * and an exit code from `exit-codes.ts`. `stop` aborts on SIGHUP, SIGINT or SIGTERM (see
 * `stop-signals.ts`): the commands end on it.
 */
export function buildProgram(context: CliContext, stop: AbortSignal): Command {
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
129 terminal closed (SIGHUP), 130 Ctrl+C (SIGINT), 143 SIGTERM: cardport closes what it
opened, then dies by the signal, which a shell reports as that code (emulate exits 0).

Start here: \`cardport emulate\` serves emulated Stripe and marketplace APIs and prints how
to point the other commands at them.`,
    )
  for (const command of [
    emulateCommand(context, stop),
    listCommand(context, stop),
    reconcileCommand(context, stop),
    helpCommand(program),
  ]) {
    program.addCommand(command)
  }
  // Replaced by helpCommand: commander's own prints the whole help as an error for a command it
  // does not know (`cardport help nope`), instead of saying which.
  program.helpCommand(false)
  // Applied to every command: commander's own errors (unknown flag, missing value) are thrown
  // instead of printed, so that they are reported like every other error; an option that takes
  // one value refuses a second rather than taking the last.
  for (const command of [program, ...program.commands]) {
    command.exitOverride().configureOutput({
      writeOut: (text) => context.stdout.write(text),
      writeErr: (text) => context.stderr.write(text),
      outputError: () => {},
    })
    refuseRepeatedOptions(command)
  }
  return program
}

/**
 * Runs the CLI with the given arguments and returns the exit code. Never throws: errors are
 * printed to stderr as one line (`cardport: …`), with the stack only under `--debug`, after
 * removing card numbers, API keys and every secret the configuration held. A usage error never
 * quotes the value of an unknown option (see {@link usageMessage}). SIGHUP, SIGINT and SIGTERM
 * are listened for while it runs: the command closes what it opened and the code is 129, 130 or
 * 143 (`emulate`'s, 0), which the executable turns into death by that signal (`exit-process.ts`).
 */
export async function run(argv: readonly string[], context: CliContext): Promise<number> {
  // First of all: a signal that comes before the store is opened ends the command as well.
  const stop = listenForStopSignals()
  const program = buildProgram(context, stop.signal)
  // Known before any command runs, so that no message, not even a usage error, can show them.
  collectSecrets(argv, context.env, context.secrets)
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
      writeError(
        context,
        `${usageMessage(error, [command ?? program, program])} (see \`${commandPath(command)} --help\`)`,
      )
      return EXIT_CODES.usage
    }
    const debug = debugEnabled(
      program.opts().debug === true || argv.includes('--debug'),
      context.env,
    )
    writeError(context, describeError(error))
    if (debug) context.stderr.write(`${scrub(stackOf(error), context.secrets)}\n`)
    return exitCodeFor(error)
  } finally {
    stop.dispose()
  }
}

/**
 * `cardport help [command]`: the program's help, or a command's, on stdout (exit 0). A command it
 * does not know is an unknown command, reported as `cardport nope` reports it: one line, exit 2.
 */
function helpCommand(program: Command): Command {
  return new Command('help')
    .description('display help for command')
    .argument('[command]')
    .action((name: string | undefined) => {
      if (name === undefined) program.help()
      const command = program.commands.find((candidate) => candidate.name() === name)
      if (command !== undefined) command.help()
      throw unknownCommandError(program, name!)
    })
}

/**
 * The error commander raises for `cardport <name>`, its suggestion included, from a bare copy of
 * the program's command names: the message is the one {@link usageMessage} expects. `--` keeps
 * a name that starts with a dash a command name.
 */
function unknownCommandError(program: Command, name: string): unknown {
  const probe = new Command(program.name())
    .exitOverride()
    .showSuggestionAfterError(true)
    .helpCommand(false)
    .configureOutput({ outputError: () => {} })
  for (const command of program.commands) probe.command(command.name())
  try {
    probe.parse(['--', name], { from: 'user' })
  } catch (error) {
    return error
  }
  return new CommanderError(EXIT_CODES.usage, 'commander.unknownCommand', 'unknown command')
}

/** Writes `cardport: <message>` on exactly one line, scrubbed. */
function writeError(context: CliContext, message: string) {
  context.stderr.write(
    `${scrub(`cardport: ${message}`, context.secrets).replace(/\s*\n\s*/g, ' ')}\n`,
  )
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

// Commander's "Did you mean …?": names of known flags or commands only, never what was typed.
const SUGGESTION = String.raw`(\n\(Did you mean (?:one of )?[\w-]+(?:, [\w-]+)*\?\))?`
const UNKNOWN_OPTION = new RegExp(`^error: unknown option '([\\s\\S]*)'${SUGGESTION}$`)
// The value is the last quoted text before " is invalid." (a value may hold quotes); what
// follows is commander's or cardport's own explanation (the allowed choices, what a host is).
const INVALID_OPTION_VALUE = /^error: (option '[^']*') argument '[\s\S]*' is invalid\.([\s\S]*)$/
const UNKNOWN_COMMAND = new RegExp(`^error: unknown command '([\\s\\S]*)'${SUGGESTION}$`)
/** An unknown command is quoted only when it looks like a mistyped command, not like a value. */
const PLAIN_WORD = /^[a-z][a-z-]{0,19}$/i

/**
 * Commander's message for a usage error, without what the user typed where it may be a secret
 * (`--marketplace-secret=…`, a key pasted as a command): an unknown option is named without
 * its value (`--name=value` becomes `--name`, `-xVALUE` becomes `-x`), a value an option refuses
 * is left out (`option '--provider <name>': the value is invalid. Allowed choices are …`), and an
 * unknown command is quoted only when it is a plain word. A flag of one of `commands` given a
 * value (`--dry-run=true`), which commander reports as an unknown option, is said to take none.
 * Commander's own messages never quote the word after an unknown option, and its suggestions
 * name known flags and commands only: those are kept. A message of another shape than expected
 * loses what it quoted rather than risk it.
 */
function usageMessage(error: CommanderError, commands: readonly Command[]): string {
  if (error.code === 'commander.unknownOption') {
    const match = UNKNOWN_OPTION.exec(error.message)
    if (!match) return 'unknown option'
    const name = optionName(match[1]!)
    // `--dry-run=true`: commander splits at `=` only for an option that takes a value.
    if (match[1]!.startsWith(`${name}=`) && takesNoValue(name, commands)) {
      return `option '${name}' takes no value: pass ${name} without '='`
    }
    return `unknown option '${name}'${match[2] ?? ''}`
  }
  if (error.code === 'commander.invalidArgument') {
    const match = INVALID_OPTION_VALUE.exec(error.message)
    return match ? `${match[1]}: the value is invalid.${match[2]}` : 'an argument is invalid'
  }
  if (error.code === 'commander.unknownCommand') {
    const match = UNKNOWN_COMMAND.exec(error.message)
    const name = match?.[1]
    const quoted = name !== undefined && PLAIN_WORD.test(name) ? ` '${name}'` : ''
    return `unknown command${quoted}${match?.[2] ?? ''}`
  }
  return error.message.replace(/^error: /, '')
}

/** `--name` of `--name=value`, `-x` of `-xVALUE`. */
function optionName(flag: string): string {
  return flag.startsWith('--') ? flag.split('=')[0]! : flag.slice(0, 2)
}

/** Whether `name` (`--dry-run`) is a flag of one of `commands`: an option that takes no value. */
function takesNoValue(name: string, commands: readonly Command[]): boolean {
  return commands.some((command) =>
    command.options.some((option) => option.long === name && !option.required && !option.optional),
  )
}

/**
 * The command named in argv (`list`), whose options and help a usage error points to; undefined
 * for none, and for `help`: `cardport help --help` would describe the help command, not the
 * commands it was asked for.
 */
function commandOf(program: Command, argv: readonly string[]): Command | undefined {
  const name = argv.find((arg) => program.commands.some((command) => command.name() === arg))
  if (name === undefined || name === 'help') return undefined
  return program.commands.find((command) => command.name() === name)
}

/** `cardport list`, for the hint after a usage error; `cardport` for no command. */
function commandPath(command: Command | undefined): string {
  return command === undefined ? 'cardport' : `cardport ${command.name()}`
}
