import { defineProject } from 'vitest/config';

/** Unit lane: no broker. The real-pipeline tests are `*.integration.test.ts` (vitest.integration.config.ts). */
export default defineProject({
  test: {
    name: 'metrics',
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.integration.test.ts'],
    testTimeout: 60_000,
  },
});
