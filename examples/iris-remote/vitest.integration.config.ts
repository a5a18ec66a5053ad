import { defineProject } from 'vitest/config';

/** Integration lane: the example against a broker from the testkit CLI and MLServer from .venv-models. */
export default defineProject({ test: { name: 'example-iris-remote-integration', include: ['test/**/*.integration.test.ts'], testTimeout: 600_000, retry: 1 } });
