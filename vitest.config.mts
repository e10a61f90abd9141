import { defineConfig } from 'vitest/config';

// Two projects: unit tests beside the code (fast, no system parts), and end-to-end suites in test/
// that start real parts (dockerd, a registry, sshd hosts) in their global setup.
export default defineConfig({
  test: {
    teardownTimeout: 60_000,
    projects: [
      {
        test: {
          name: 'unit',
          // Unit tests first (seconds), then the e2e suites (minutes), each group with its own pool.
          sequence: { groupOrder: 0 },
          include: ['packages/*/src/**/*.test.ts'],
          environment: 'node',
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          sequence: { groupOrder: 1 },
          include: ['test/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/harness/global-setup.ts'],
          pool: 'forks',
          // Two cores: more workers only make each e2e suite slower.
          maxWorkers: 2,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
