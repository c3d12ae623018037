import { defineConfig } from 'vitest/config'
import { projects } from './vitest.workspace.js'

export default defineConfig({
  test: {
    projects,
    // Nothing here may reach the network: MSW and the emulators answer every request.
    testTimeout: 20_000,
  },
})
