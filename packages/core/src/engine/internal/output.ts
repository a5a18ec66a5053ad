import type { Subscriber } from 'rxjs';
import { createFlowGuard, type FlowGuardConfig } from './flow-guard.js';
import { createSequencer } from './sequencer.js';

/** Stages 5 and 6 of an engine, wired once for `predict` and for a `splitModels` split. */
export interface OutputStage<R> {
  /** A record entered with this sequence number (input order): counted as held. */
  expect(this: void, seq: number): void;
  /** After a record entered and was handed on: pauses the source at the high-water mark. */
  received(this: void): void;
  /** Its result is ready: emitted in input order (or at once when unordered) unless the subscriber has gone. */
  settle(this: void, seq: number, result: R): void;
  /** Records entered and not yet emitted. */
  held(this: void): number;
}

export interface OutputStageConfig {
  readonly ordered: boolean;
  readonly backpressure: FlowGuardConfig | undefined;
}

/**
 * Stage 5 sequencer and stage 6 flow guard around a subscriber: results leave in input order (or
 * as they come), the records held inside pause / resume a pull-based source, and `emitted` runs
 * after each result reached the subscriber (instruments), `settled` after each `settle` (the
 * engine's completion check). A result settled after the subscriber closed is dropped.
 */
export function createOutputStage<R>(
  subscriber: Subscriber<R>,
  config: OutputStageConfig,
  emitted: ((result: R) => void) | undefined,
  settled: () => void,
): OutputStage<R> {
  const sequencer = createSequencer<R>(config.ordered, (result) => {
    subscriber.next(result);
    emitted?.(result);
    flow.released();
  });
  const flow = createFlowGuard(config.backpressure, () => sequencer.held());
  return {
    expect: (seq) => sequencer.expect(seq),
    received: () => flow.received(),
    settle: (seq, result) => {
      if (subscriber.closed) return;
      sequencer.put(seq, result);
      settled();
    },
    held: () => sequencer.held(),
  };
}
