import { defineProject } from 'vitest/config';

/** Integration lane: the demo through a real Kafka broker. */
export default defineProject({ test: { name: 'example-image-recognition-integration', include: ['test/**/*.integration.test.ts'], testTimeout: 180_000, retry: 1 } });
