import { defineProject } from 'vitest/config';

/** Integration lane: one real Kafka broker (testkit, or KAFKA_BROKERS) started by the global setup for these files only. */
export default defineProject({
  test: {
    name: 'kafka-integration',
    include: ['test/**/*.integration.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    // Real brokers, servers and processes: a failure is run once more; .ci/summary.mjs names every test that
    // passed only on its retry (FLAKY lines), so a flaky one is seen, not hidden.
    retry: 1,
    hookTimeout: 120_000,
  },
});
