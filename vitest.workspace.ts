import { fileURLToPath } from 'node:url'
import type { TestProjectInlineConfiguration } from 'vitest/config'

/**
 * The test projects of the monorepo: one per package and example. `vitest.config.ts` passes
 * this list as `test.projects` (Vitest 4 dropped workspace files; the list lives here).
 *
 * Workspace packages resolve to their sources, so the tests need no build.
 */
const packages = [
  'core',
  'testing',
  'stripe',
  'marketplace',
  'store-sqlite',
  'store-postgres',
  'cli',
] as const
const examples: string[] = ['quickstart', 'express-webhooks', 'custom-provider', 'testing-with-msw']

const source = (path: string) => fileURLToPath(new URL(`./packages/${path}`, import.meta.url))

// Exact matches, so that `@cardport/testing/emulators` is not read as a path under
// `@cardport/testing`'s entry file.
const alias = [
  { find: /^@cardport\/testing\/emulators$/, replacement: source('testing/src/emulators.ts') },
  ...packages.map((name) => ({
    find: new RegExp(`^@cardport/${name}$`),
    replacement: source(`${name}/src/index.ts`),
  })),
]

export const projects: TestProjectInlineConfiguration[] = [
  ...packages.map((name) => ({
    // `extends: true` carries the root config's test options (timeouts) into every project.
    extends: true,
    resolve: { alias },
    test: {
      name,
      root: `./packages/${name}`,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    },
  })),
  ...examples.map((name) => ({
    extends: true,
    resolve: { alias },
    test: {
      name: `example-${name}`,
      root: `./examples/${name}`,
      include: ['src/**/*.test.ts'],
    },
  })),
  // The reliability suite (fault matrix, races, hostile input) over every adapter and store.
  {
    extends: true,
    resolve: { alias },
    test: { name: 'reliability', root: './reliability', include: ['src/**/*.test.ts'] },
  },
  // The repository's own checks (`scripts/`): that each fails where it should.
  { extends: true, test: { name: 'scripts', root: './scripts', include: ['*.test.mjs'] } },
]
