import { defineProject } from 'vitest/config';

/** Unit lane (no broker); `*.integration.test.ts` run in vitest.integration.config.ts. */
export default defineProject({
  test: { name: 'example-model-rollout', include: ['test/**/*.test.ts'], exclude: ['test/**/*.integration.test.ts'], passWithNoTests: true, testTimeout: 60_000 },
});
