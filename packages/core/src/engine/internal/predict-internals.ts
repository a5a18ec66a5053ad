import type { Observable, Subscriber, TeardownLogic } from 'rxjs';
import type { RxmlError } from '../../contract/errors.js';
import type { Model } from '../../contract/model.js';
import { inputErrorOf, type PredictResult } from '../../contract/result.js';
import { createBatcher } from './batcher.js';
import type { PredictConfig } from './config.js';
import { encodeIsolatingFailures, inputBytes } from './encode.js';
import { createFlowGuard } from './flow-guard.js';
import { createInstruments } from './instruments.js';
import { callModel } from './model-call.js';
import { createSelectQueue, type Entry } from './select-queue.js';
import { createSequencer } from './sequencer.js';

/**
 * The engine behind `predict` (as RxJS's `mergeInternals` is behind `mergeMap`): wires the stages
 * for one subscription and returns its teardown.
 *
 * ```
 * source ─▶ 1 select queue ─▶ 2 batcher ─▶ 3 encode ─▶ 4 model call ─▶ 5 sequencer ─▶ subscriber
 *              (async select,     (size /      (per-record   (model.run +     (input order,
 *               bounded)           latency      isolation)    decode)          held count)
 *                                  timer)                         │                │
 *                                                        7 instruments    6 flow guard (pause/resume)
 *                                                     (onBatch, rxml:predict:*)
 * 8 completion: the source completed, no select pending, no batch pending or running, nothing held.
 * ```
 *
 * Every record gets exactly one result: a failure at any stage settles that record (or that
 * batch) and the stream goes on. Only an error of the source errors the output.
 */
export function predictInternals<In, S, Out>(
  source: Observable<In>,
  subscriber: Subscriber<PredictResult<In, Out>>,
  model: Model,
  config: PredictConfig<In, S, Out>,
): TeardownLogic {
  const { clock } = config;
  const identity = { name: model.name, version: model.version };
  const instruments = createInstruments(model, config.onBatch);
  const bug = (error: unknown): void => subscriber.error(error);
  let nextSeq = 0;
  let sourceDone = false;

  // 5 sequencer and 6 flow guard: results leave in input order (or as they come), and the records
  // held inside pause / resume a pull-based source.
  const sequencer = createSequencer<PredictResult<In, Out>>(config.ordered, (result) => {
    subscriber.next(result);
    instruments.result(result);
    flow.released();
  });
  const flow = createFlowGuard(config.backpressure, () => sequencer.held());

  const settle = (seq: number, result: PredictResult<In, Out>): void => {
    if (subscriber.closed) return;
    sequencer.put(seq, result);
    completeIfDone();
  };
  const fail = (seq: number, input: In, error: RxmlError): void => settle(seq, { ok: false, input, error });

  // 1 select queue
  const selectQueue = createSelectQueue<In, S>({
    select: config.select,
    concurrency: config.selectConcurrency,
    selected: (entry) => batcher.add(entry),
    failed: fail,
    settled: () => {
      endBatchesIfLast();
      completeIfDone();
    },
    bug,
  });

  // 2 batcher, running 3 encode and 4 model call for each batch
  const batcher = createBatcher<Entry<In, S>>(
    { size: config.batchSize, maxLatencyMs: config.maxLatencyMs, concurrency: config.concurrency, scheduler: config.scheduler },
    runBatch,
    completeIfDone,
  );

  function runBatch(batch: readonly Entry<In, S>[], done: () => void): void {
    const encoded = encodeIsolatingFailures(batch, config.encode, (entry, error) => fail(entry.seq, entry.input, error));
    if (encoded === undefined) {
      done();
      return;
    }
    const { entries, inputs } = encoded;
    const startedAt = clock();
    callModel(
      model,
      inputs,
      entries.map((e) => e.sample),
      config.decode,
      clock,
      (outcome) => {
        // 7 instruments first: a throwing onBatch or subscriber is isolated and cannot touch the results below.
        instruments.batch(entries.length, inputBytes(inputs), outcome.endedAt - startedAt, outcome.ok ? undefined : outcome.error);
        if (outcome.ok) {
          entries.forEach((e, i) =>
            settle(e.seq, { ok: true, input: e.input, value: outcome.values[i] as Out, model: identity, latencyMs: outcome.endedAt - e.enteredAt }),
          );
        } else {
          for (const e of entries) fail(e.seq, e.input, outcome.error);
        }
        done();
      },
      bug,
    );
  }

  // 8 completion
  function endBatchesIfLast(): void {
    if (sourceDone && selectQueue.idle()) batcher.end();
  }
  function completeIfDone(): void {
    if (sourceDone && selectQueue.idle() && batcher.idle() && sequencer.held() === 0) subscriber.complete();
  }

  const subscription = source.subscribe({
    next(input) {
      if (subscriber.closed) return; // a synchronous source still emitting after an early unsubscribe
      const seq = nextSeq++;
      const enteredAt = clock();
      sequencer.expect(seq);
      const unreadable = inputErrorOf(input);
      if (unreadable !== undefined) fail(seq, input, unreadable);
      else selectQueue.push(seq, input, enteredAt);
      flow.received();
    },
    error(error: unknown) {
      subscriber.error(error);
    },
    complete() {
      sourceDone = true;
      endBatchesIfLast();
      completeIfDone();
    },
  });

  return () => {
    subscription.unsubscribe();
    selectQueue.close();
    batcher.close();
  };
}
