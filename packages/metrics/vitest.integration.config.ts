import { defineProject } from 'vitest/config';

/** Integration lane: a real pipeline on the testkit's Kafka broker (started by the test file). */
export default defineProject({
  test: {
    name: 'metrics-integration',
    include: ['test/**/*.integration.test.ts'],
    testTimeout: 120_000,
    // Real brokers, servers and processes: a failure is run once more; .ci/summary.mjs names every test that
    // passed only on its retry (FLAKY lines), so a flaky one is seen, not hidden.
    retry: 1,
    hookTimeout: 120_000,
  },
});
