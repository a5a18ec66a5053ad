import { defineProject } from 'vitest/config';

/** Unit lane (nothing here); `*.integration.test.ts` run in vitest.integration.config.ts. */
export default defineProject({
  test: { name: 'example-iris-remote', include: ['test/**/*.test.ts'], exclude: ['test/**/*.integration.test.ts'], passWithNoTests: true },
});
