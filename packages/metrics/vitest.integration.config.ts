import { defineProject } from 'vitest/config';

/** Integration lane: a real pipeline on the testkit's Kafka broker (started by the test file). */
export default defineProject({
  test: {
    name: 'metrics-integration',
    include: ['test/**/*.integration.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
