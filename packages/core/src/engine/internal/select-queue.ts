import { toRxmlError, type RxmlError } from '../../contract/errors.js';
import { isThenable, whenSettled } from './settle.js';

/** A record on its way through the engine: its place in the input, the element and its model input. */
export interface Entry<In, S> {
  readonly seq: number;
  readonly input: In;
  readonly sample: S;
  /** `clock()` when the record entered the operator, ms. */
  readonly enteredAt: number;
}

export interface SelectQueue<In> {
  /** A record entered: select its sample now, or queue it while `concurrency` selects are pending. */
  push(seq: number, input: In, enteredAt: number): void;
  /** No select pending or queued. */
  idle(): boolean;
  /** Stop: drop the queue and ignore selects still pending (unsubscribe). */
  close(): void;
}

export interface SelectQueueStage<In, S> {
  readonly select: (input: In) => S | PromiseLike<S>;
  /** Asynchronous selects pending at once. */
  readonly concurrency: number;
  /** A sample is ready: hand it to the batcher. */
  readonly selected: (entry: Entry<In, S>) => void;
  /** `select` threw or rejected: that record fails `INVALID_INPUT`. */
  readonly failed: (seq: number, input: In, error: RxmlError) => void;
  /** An asynchronous select settled (the queue may have become idle). */
  readonly settled: () => void;
  readonly bug: (error: unknown) => void;
}

/**
 * Stage 1, select: picks each record's model input. A synchronous `select` runs at once; one that
 * returns a promise (decoding an image) counts against `concurrency`, and records arriving while
 * all slots are pending wait in a FIFO queue — like mergeMap's buffer of inner subscriptions.
 * Samples reach the batcher in the order they settle; the sequencer restores input order.
 */
export function createSelectQueue<In, S>(stage: SelectQueueStage<In, S>): SelectQueue<In> {
  const waiting: { seq: number; input: In; enteredAt: number }[] = [];
  let pending = 0;
  let closed = false;

  function start(seq: number, input: In, enteredAt: number): void {
    // Synchronous `select` (the common case: picking a field) goes straight through: no closures,
    // no promise machinery per record.
    let selected: S | PromiseLike<S>;
    try {
      selected = stage.select(input);
    } catch (cause) {
      if (!closed) stage.failed(seq, input, toRxmlError(cause, 'INVALID_INPUT'));
      return;
    }
    if (!isThenable(selected)) {
      if (!closed) stage.selected({ seq, input, sample: selected, enteredAt });
      return;
    }
    pending++;
    const thenable = selected;
    whenSettled(
      () => thenable,
      (sample) => {
        pending--;
        if (!closed) stage.selected({ seq, input, sample, enteredAt });
        afterAsync();
      },
      (cause) => {
        pending--;
        if (!closed) stage.failed(seq, input, toRxmlError(cause, 'INVALID_INPUT'));
        afterAsync();
      },
      stage.bug,
    );
  }

  function afterAsync(): void {
    if (closed) return;
    while (pending < stage.concurrency && waiting.length > 0) {
      const next = waiting.shift()!;
      start(next.seq, next.input, next.enteredAt);
    }
    stage.settled();
  }

  return {
    push(seq, input, enteredAt): void {
      if (closed) return;
      if (pending >= stage.concurrency) waiting.push({ seq, input, enteredAt });
      else start(seq, input, enteredAt);
    },
    idle: () => pending === 0 && waiting.length === 0,
    close(): void {
      closed = true;
      waiting.length = 0;
    },
  };
}
