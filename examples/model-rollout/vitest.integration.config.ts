import { defineProject } from 'vitest/config';

/** Integration lane: the example against its own testkit broker (or KAFKA_BROKERS). */
export default defineProject({ test: { name: 'example-model-rollout-integration', include: ['test/**/*.integration.test.ts'], testTimeout: 180_000, retry: 1 } });
