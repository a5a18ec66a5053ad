import { defineProject } from 'vitest/config';

export default defineProject({ test: { name: 'example-iris-kafka', include: ['test/**/*.test.ts'], testTimeout: 180_000 } });
