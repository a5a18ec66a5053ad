import { defineProject } from 'vitest/config';

/** Integration lane: the demo through a real Kafka broker. `hookTimeout`: the live-page test launches Chromium in its `beforeAll`, which took over the default 10 s on a loaded CI machine (ci22). */
export default defineProject({ test: { name: 'example-image-recognition-integration', include: ['test/**/*.integration.test.ts'], testTimeout: 180_000, retry: 1, hookTimeout: 120_000 } });
