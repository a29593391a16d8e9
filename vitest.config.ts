import { defineConfig } from 'vitest/config';

// One Vitest run covers every workspace; suites that start child processes get generous timeouts.
export default defineConfig({
  test: {
    include: ['server/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
