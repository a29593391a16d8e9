import { defineConfig } from 'vitest/config';

// One Vitest run covers every workspace; suites that start child processes get generous timeouts.
export default defineConfig({
  test: {
    include: ['server/test/**/*.test.ts', 'sdk/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The scaled run's own PostgreSQL database (server/test/backends.ts).
    globalSetup: ['server/test/global-setup.ts'],
  },
});
