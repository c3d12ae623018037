import { fileURLToPath } from 'node:url'
import type { TestProjectInlineConfiguration } from 'vitest/config'

/**
 * The test projects of the monorepo: one per package and example. `vitest.config.ts` passes
 * this list as `test.projects` (Vitest 4 dropped workspace files; the list lives here).
 *
 * Workspace packages resolve to their sources, so the tests need no build.
 */
const packages = ['core', 'testing'] as const
const examples: string[] = []

const alias = Object.fromEntries(
  packages.map((name) => [
    `@cardport/${name}`,
    fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url)),
  ]),
)

export const projects: TestProjectInlineConfiguration[] = [
  ...packages.map((name) => ({
    resolve: { alias },
    test: {
      name,
      root: `./packages/${name}`,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    },
  })),
  ...examples.map((name) => ({
    resolve: { alias },
    test: { name: `example-${name}`, root: `./examples/${name}`, include: ['**/*.test.ts'] },
  })),
]
