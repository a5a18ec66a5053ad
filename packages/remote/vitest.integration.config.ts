import { defineProject } from 'vitest/config';

/**
 * Integration tests against real model servers (MLServer, KServe) started on loopback ports by the
 * global setup, from the venvs of scripts/setup-model-servers.sh (which the setup runs first).
 */
export default defineProject({
  test: {
    name: 'remote-integration',
    include: ['test/**/*.integration.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 180_000,
    // Real brokers, servers and processes: a failure is run once more; .ci/summary.mjs names every test that
    // passed only on its retry (FLAKY lines), so a flaky one is seen, not hidden.
    retry: 1,
    hookTimeout: 900_000,
    // The files share two servers and the fault tests kill their own: one file at a time.
    fileParallelism: false,
  },
});
