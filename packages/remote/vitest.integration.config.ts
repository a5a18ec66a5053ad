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
    hookTimeout: 900_000,
    // The files share two servers and the fault tests kill their own: one file at a time.
    fileParallelism: false,
  },
});
