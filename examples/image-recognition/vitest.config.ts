import { defineProject } from 'vitest/config';

/** Unit lane (no broker); `*.integration.test.ts` run in vitest.integration.config.ts. */
export default defineProject({
  test: { name: 'example-image-recognition', include: ['test/**/*.test.ts'], exclude: ['test/**/*.integration.test.ts'], testTimeout: 120_000 },
});
