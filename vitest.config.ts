import { defineConfig } from 'vitest/config';

/**
 * Every lane: each package and example is a unit project (no broker, no network), and the ones with
 * `*.integration.test.ts` files have an `<name>-integration` project too (real Kafka broker).
 * `pnpm test` runs all; `pnpm test:unit` / `pnpm test:integration` one lane.
 */
export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*', 'packages/*/vitest.integration.config.ts', 'examples/*/vitest.integration.config.ts'],
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
