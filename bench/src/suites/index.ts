import { imageOperatorSuite } from './image-operator.js';
import { imagePipelineSuite } from './image-pipeline.js';
import { irisOperatorSuite } from './iris-operator.js';
import { kafkaSuite } from './kafka.js';
import { memorySuite } from './memory.js';
import { remoteSuite } from './remote.js';
import { runtimesSuite } from './runtimes.js';
import { shadowSuite } from './shadow.js';

/** Every suite: name → function(quick) → JSON-serialisable result. */
export const SUITES = {
  'iris-operator': irisOperatorSuite,
  memory: memorySuite,
  'image-operator': imageOperatorSuite,
  'image-pipeline': imagePipelineSuite,
  runtimes: runtimesSuite,
  kafka: kafkaSuite,
  remote: remoteSuite,
  shadow: shadowSuite,
} as const satisfies Record<string, (quick: boolean) => Promise<unknown>>;

export type SuiteName = keyof typeof SUITES;
