import { irisOperatorSuite } from './iris-operator.js';
import { memorySuite } from './memory.js';

/** Every suite: name → function(quick) → JSON-serialisable result. */
export const SUITES = {
  'iris-operator': irisOperatorSuite,
  memory: memorySuite,
} as const satisfies Record<string, (quick: boolean) => Promise<unknown>>;

export type SuiteName = keyof typeof SUITES;
