import { describe, it } from 'vitest'

/** What both suites register: a check with the `describe` block it belongs to. */
interface Check {
  readonly group: string
  readonly title: string
}

/** Marks the running check skipped, with why: a rule about an optional method the store lacks. */
export type SkipCheck = (note: string) => never

/**
 * Registers one Vitest test per check, inside a `describe` per group (in order of first
 * appearance), all inside `describe(name)`.
 *
 * @internal
 */
export function registerChecks<T extends Check>(
  name: string,
  checks: readonly T[],
  run: (check: T, skip: SkipCheck) => Promise<void>,
  timeout: number | undefined,
): void {
  const groups = new Map<string, T[]>()
  for (const check of checks) {
    const group = groups.get(check.group) ?? []
    group.push(check)
    groups.set(check.group, group)
  }
  describe(name, () => {
    for (const [group, members] of groups) {
      describe(group, () => {
        for (const check of members) {
          it(check.title, (context) => run(check, (note) => context.skip(note)), timeout)
        }
      })
    }
  })
}
