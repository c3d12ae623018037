import { describe, it } from 'vitest'

/** What both suites register: a check with the `describe` block it belongs to. */
interface Check {
  readonly group: string
  readonly title: string
}

/**
 * Registers one Vitest test per check, inside a `describe` per group (in order of first
 * appearance), all inside `describe(name)`.
 *
 * @internal
 */
export function registerChecks<T extends Check>(
  name: string,
  checks: readonly T[],
  run: (check: T) => Promise<void>,
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
        for (const check of members) it(check.title, () => run(check), timeout)
      })
    }
  })
}
