import { defineProject } from 'vitest/config';

/** Unit lane: no broker. Tests that need one are `*.integration.test.ts` (vitest.integration.config.ts). */
export default defineProject({
  test: {
    name: 'kafka',
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.integration.test.ts'],
    testTimeout: 60_000,
  },
});
