import type { Observable, Subscriber, TeardownLogic } from 'rxjs';
import { RxmlError } from '../../contract/errors.js';
import type { Model } from '../../contract/model.js';
import { isModelStream, type ModelSource } from '../../contract/model-source.js';
import { inputErrorOf, type PredictResult } from '../../contract/result.js';
import { createBatcher } from './batcher.js';
import type { Codec, PredictConfig } from './config.js';
import { encodeIsolatingFailures, inputBytes } from './encode.js';
import { createInstruments } from './instruments.js';
import { createOutputStage } from './output.js';
import { callModel } from './model-call.js';
import { fixedSlot, swappingSlot, type ModelSlot, type VersionCheck } from './model-slot.js';
import { createSelectQueue, type Entry } from './select-queue.js';

/**
 * What an operator runs besides its stream options: its name, how records are encoded (`codec`,
 * built once from the first model: a family's encoding may depend on the model's signature) and
 * how a new version of a model stream is judged (`check`, `probe`).
 */
export interface ModelPlan<In, S, Out> extends VersionCheck {
  /** e.g. `predict`, `predictIris`: names the operator in model events and errors. */
  readonly operator: string;
  /** The codec for a subscription, from its first model (a plain `Model`: that model). */
  readonly codec: (first: Model) => Codec<In, S, Out>;
}

/**
 * The engine behind `predict` (as RxJS's `mergeInternals` is behind `mergeMap`): wires the stages
 * for one subscription and returns its teardown.
 *
 * ```
 * source ─▶ 0 held until ─▶ 1 select queue ─▶ 2 batcher ─▶ 3 encode ─▶ 4 model call ─▶ 5 sequencer ─▶ subscriber
 *           the first model    (async select,     (size /      (per-record   (lease from      (input order,
 *           (model stream)      bounded)           latency      isolation)    4a model slot,   held count)
 *                                                  timer)                     model.run,           │
 *                                                                             decode)     6 flow guard (pause/resume)
 *                                                                 7 instruments (onBatch, rxml:predict:*)
 * 8 completion: the source completed, no record held, no select pending, no batch pending or running.
 * ```
 *
 * With a plain `Model` the slot is fixed and records flow at once. With an `Observable<Model>`
 * records that arrive before the first model has passed validation are held (counted by the
 * sequencer, so the flow guard bounds them) and enter the select queue when it is ready; every
 * batch takes a lease on the model serving when its call starts (4a, model-slot.ts).
 *
 * Every record gets exactly one result: a failure at any stage settles that record (or that
 * batch) and the stream goes on. Only an error of the source, or a model source that ends without
 * ever giving a usable model, errors the output.
 */
export function predictInternals<In, S, Out>(
  source: Observable<In>,
  subscriber: Subscriber<PredictResult<In, Out>>,
  models: ModelSource,
  plan: ModelPlan<In, S, Out>,
  config: PredictConfig,
): TeardownLogic {
  const { clock } = config;
  const instruments = createInstruments(config.onBatch);
  const bug = (error: unknown): void => subscriber.error(error);
  // One controller per model call in flight, aborted at teardown: their results are no longer wanted (Model.run's signal).
  const calls = new Set<AbortController>();
  let nextSeq = 0;
  let sourceDone = false;
  /** Set once the first model serves (a plain Model: at once); until then records wait in `held`. */
  let codec: Codec<In, S, Out> | undefined = isModelStream(models) ? undefined : plan.codec(models);
  let held: { seq: number; input: In; enteredAt: number }[] = [];

  // 5 sequencer and 6 flow guard: results leave in input order (or as they come), and the records
  // held inside pause / resume a pull-based source.
  const output = createOutputStage<PredictResult<In, Out>>(subscriber, config, (result) => instruments.result(result, slotIdentity), completeIfDone);
  const settle = output.settle;
  const fail = (seq: number, input: In, error: RxmlError): void => settle(seq, { ok: false, input, error });

  // 1 select queue
  const selectQueue = createSelectQueue<In, S>({
    select: codec === undefined ? (input) => (codec as Codec<In, S, Out>).select(input) : codec.select,
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
    const { encode, decode } = codec as Codec<In, S, Out>;
    const encoded = encodeIsolatingFailures(batch, encode, (entry, error) => fail(entry.seq, entry.input, error));
    if (encoded === undefined) {
      done();
      return;
    }
    const { entries, inputs } = encoded;
    // 4a the batch runs on the model serving now, whatever is swapped in while it runs.
    const lease = slot.acquire();
    const startedAt = clock();
    const call = new AbortController();
    calls.add(call);
    callModel(
      lease.model,
      inputs,
      entries.map((e) => e.sample),
      decode,
      clock,
      (outcome) => {
        calls.delete(call);
        lease.release();
        const model = lease.identity;
        // 7 instruments first: a throwing onBatch or subscriber is isolated and cannot touch the results below.
        instruments.batch(model, entries.length, inputBytes(inputs), outcome.endedAt - startedAt, outcome.ok ? undefined : outcome.error);
        if (outcome.ok) {
          entries.forEach((e, i) => settle(e.seq, { ok: true, input: e.input, value: outcome.values[i] as Out, model, latencyMs: outcome.endedAt - e.enteredAt }));
        } else {
          for (const e of entries) settle(e.seq, { ok: false, input: e.input, error: outcome.error, model });
        }
        done();
      },
      bug,
      call.signal,
    );
  }

  // 0 / 4a model slot: a plain Model serves at once; a model stream once its first version passed validation.
  function enter(seq: number, input: In, enteredAt: number): void {
    const unreadable = inputErrorOf(input);
    if (unreadable !== undefined) fail(seq, input, unreadable);
    else selectQueue.push(seq, input, enteredAt);
  }
  function ready(first: Model): void {
    codec = plan.codec(first);
    const waiting = held;
    held = [];
    for (const record of waiting) {
      if (subscriber.closed) return;
      enter(record.seq, record.input, record.enteredAt);
    }
    endBatchesIfLast();
    completeIfDone();
  }
  const slot: ModelSlot = isModelStream(models)
    ? swappingSlot(models, {
        operator: plan.operator,
        check: plan.check,
        probe: plan.probe,
        onModelEvent: config.onModelEvent,
        ready,
        failed: (error) => subscriber.error(error),
        bug,
        firstModelTimeoutMs: config.firstModelTimeoutMs,
        held: () => output.held(),
      })
    : fixedSlot(models);
  const slotIdentity = (): ReturnType<ModelSlot['identity']> => slot.identity();

  // 8 completion
  function endBatchesIfLast(): void {
    if (sourceDone && codec !== undefined && selectQueue.idle()) batcher.end();
  }
  function completeIfDone(): void {
    if (sourceDone && held.length === 0 && selectQueue.idle() && batcher.idle() && output.held() === 0) subscriber.complete();
  }

  const subscription = source.subscribe({
    next(input) {
      if (subscriber.closed) return; // a synchronous source still emitting after an early unsubscribe
      const seq = nextSeq++;
      const enteredAt = clock();
      output.expect(seq);
      if (codec === undefined) held.push({ seq, input, enteredAt });
      else enter(seq, input, enteredAt);
      output.received();
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
    held = [];
    // Calls still in flight (a completed stream has none) are told their results are not wanted.
    if (calls.size > 0) {
      const reason = new RxmlError('ABORTED', `${plan.operator}: the subscription ended; the model calls in flight are no longer wanted`);
      for (const call of calls) call.abort(reason);
      calls.clear();
    }
    // Disposes what the operator owns once the calls still in flight have returned (their leases).
    slot.close();
  };
}
