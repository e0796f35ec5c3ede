import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Tests that start real processes use distinct port ranges (test/helpers/ports.ts), so files can run in parallel.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
