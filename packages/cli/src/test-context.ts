import { onTestFinished, vi } from 'vitest'
import type { CliContext } from './context.js'
import type { run } from './program.js'

/** A {@link CliContext} for a test, and what the command wrote to it. */
export interface CapturedContext {
  /** The context to pass to `run`: stderr is not a terminal, no secret is known yet. */
  value: CliContext
  /** Everything written to stdout so far. */
  stdout(): string
  /** Everything written to stderr so far. */
  stderr(): string
}

/** A context for `run` in a test, with `env` as its environment, that keeps what is written. */
export function captureContext(env: NodeJS.ProcessEnv = {}): CapturedContext {
  const out: string[] = []
  const err: string[] = []
  return {
    value: {
      stdout: { write: (text: string) => out.push(text) },
      stderr: { isTTY: false, write: (text: string) => err.push(text) },
      env,
      secrets: new Set(),
      exitCode: undefined,
    },
    stdout: () => out.join(''),
    stderr: () => err.join(''),
  }
}

/**
 * Marketplace configurations the CLI cannot use, by name: none set, and a URL with credentials
 * in it. For the checks that must come before the configuration is read (exit 2, not 3).
 */
export const UNUSABLE_MARKETPLACE_CONFIGS: ReadonlyArray<[string, NodeJS.ProcessEnv]> = [
  ['missing', {}],
  [
    'malformed',
    {
      MARKETPLACE_URL: 'http://u:p@127.0.0.1:9',
      MARKETPLACE_ID: 'MP1',
      MARKETPLACE_SECRET: 'plain-secret-value',
    },
  ],
]

/**
 * `run` of a new module graph in which what the factory `name` of `module` makes (the
 * `stripeProvider` of `@cardport/stripe`, the `sqliteStore` of `@cardport/store-sqlite`) goes
 * through `wrap` first: for a test that changes how a provider or a store the CLI builds itself
 * answers (one that answers after an interrupt). The mock goes when the test finishes.
 */
export async function runWrapping<T extends object>(
  module: string,
  name: string,
  wrap: (made: T) => T,
): Promise<typeof run> {
  vi.resetModules()
  vi.doMock(module, async (importOriginal) => {
    const original = await importOriginal<Record<string, unknown>>()
    const factory = original[name] as (...args: unknown[]) => T
    return { ...original, [name]: (...args: unknown[]) => wrap(factory(...args)) }
  })
  onTestFinished(() => {
    vi.doUnmock(module)
  })
  return (await import('./program.js')).run
}
