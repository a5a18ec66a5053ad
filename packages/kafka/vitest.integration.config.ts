import { defineProject } from 'vitest/config';

/** Integration lane: one real Kafka broker (testkit, or KAFKA_BROKERS) started by the global setup for these files only. */
export default defineProject({
  test: {
    name: 'kafka-integration',
    include: ['test/**/*.integration.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
