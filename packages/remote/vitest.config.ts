import { defineProject } from 'vitest/config';

/** Unit tests: no model server needed. Integration tests run in vitest.integration.config.ts. */
export default defineProject({
  test: {
    name: 'remote',
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.integration.test.ts'],
    testTimeout: 60_000,
  },
});
