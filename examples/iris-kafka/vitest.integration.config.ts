import { defineProject } from 'vitest/config';

/** Integration lane: the example against a broker from the testkit CLI (or KAFKA_BROKERS). */
export default defineProject({ test: { name: 'example-iris-kafka-integration', include: ['test/**/*.integration.test.ts'], testTimeout: 180_000, retry: 1 } });
