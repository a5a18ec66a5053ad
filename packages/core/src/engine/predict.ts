import { Observable, type OperatorFunction } from 'rxjs';
import { RxmlError, toRxmlError } from '../contract/errors.js';
import type { Model, TensorData } from '../contract/model.js';
import { inputErrorOf, type PredictResult } from '../contract/result.js';
import { createBatcher, type BatchOptions } from './internal/batcher.js';
import { createSequencer } from './internal/sequencer.js';

/** How a pull-based source is told to stop and restart pushing. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

export interface BackpressureOptions {
  /** Called when the records held inside the operator reach `highWaterMark`, and below `lowWaterMark`. */
  readonly control: FlowControl;
  /** Records held (received, not yet emitted) at which the source is paused. Default: batch size × (concurrency + 2). */
  readonly highWaterMark?: number;
  /** Records held at which a paused source is resumed. Default: half the high-water mark. */
  readonly lowWaterMark?: number;
}

/** Emitted after every model call, for metrics (like kafkajs' instrumentation events). */
export interface BatchEvent {
  readonly model: string;
  readonly size: number;
  readonly durationMs: number;
  readonly ok: boolean;
}

export interface PredictOptions<In, S, Out> {
  /**
   * Picks the model input out of each element (a Kafka record, an event, …). Throwing marks that
   * record `INVALID_INPUT`; may return a promise (e.g. decoding an image), run `selectConcurrency` at
   * a time. Default: the element itself.
   */
  readonly select?: (input: In) => S | PromiseLike<S>;
  /** Turns one batch of samples into the model's inputs (one `TensorData` per model input). */
  readonly encode: (samples: readonly S[]) => TensorData | readonly TensorData[];
  /** Turns the model's outputs for a batch into one value per sample, in order. */
  readonly decode: (outputs: readonly TensorData[], samples: readonly S[]) => readonly Out[];
  /** Micro-batching: up to `size` records (default 32) or `maxLatencyMs` (default 5) after the first. */
  readonly batch?: BatchOptions;
  /** Model calls in flight at once. Default 1. */
  readonly concurrency?: number;
  /** Asynchronous `select` calls in flight at once. Default 8. */
  readonly selectConcurrency?: number;
  /** Emit results in input order (default). `false` emits each batch as soon as it is done. */
  readonly ordered?: boolean;
  /** Pause/resume a pull-based source so the records held inside stay bounded. */
  readonly backpressure?: BackpressureOptions;
  /** Called after each model call. */
  readonly onBatch?: (event: BatchEvent) => void;
}

interface Entry<In, S> {
  readonly seq: number;
  readonly input: In;
  readonly sample: S;
  readonly enteredAt: number;
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function asList(encoded: TensorData | readonly TensorData[]): readonly TensorData[] {
  return 'data' in encoded ? [encoded] : (encoded);
}

/**
 * The primitive every rxml operator is built from: selects each element's model input, groups
 * records into micro-batches, runs one model call per batch with bounded concurrency, and emits one
 * `PredictResult` per element — in input order unless `ordered: false`. A record that fails gets a
 * failure result of its own; the stream goes on. Owns nothing of the caller's: the model is never
 * disposed here; all tensors are created and freed inside `model.run`.
 *
 * @example
 * from([[1, 2], [3, 4]]).pipe(
 *   predict(model, {
 *     encode: (rows) => ({ data: Float32Array.from(rows.flat()), shape: [rows.length, 2] }),
 *     decode: ([out], rows) => rows.map((_, i) => out!.data[i]!),
 *     batch: { size: 64, maxLatencyMs: 5 },
 *   }),
 * ).subscribe((r) => console.log(r.ok ? r.value : r.error.message));
 */
export function predict<In, S = In, Out = unknown>(
  model: Model,
  options: PredictOptions<In, S, Out>,
): OperatorFunction<In, PredictResult<In, Out>> {
  const select = options.select ?? ((input: In) => input as unknown as S);
  const concurrency = Math.max(1, options.concurrency ?? 1);
  const selectConcurrency = Math.max(1, options.selectConcurrency ?? 8);
  const identity = { name: model.name, version: model.version };

  return (source) =>
    new Observable<PredictResult<In, Out>>((subscriber) => {
      let nextSeq = 0;
      let sourceDone = false;
      let selecting = 0;
      const waitingForSelect: { seq: number; input: In; enteredAt: number }[] = [];

      const sequencer = createSequencer<PredictResult<In, Out>>(options.ordered ?? true, (result) => {
        subscriber.next(result);
        flow.released();
      });
      const flow = flowGuard(options.backpressure, (options.batch?.size ?? 32) * (concurrency + 2), () => sequencer.held());
      const settle = (seq: number, result: PredictResult<In, Out>): void => {
        if (subscriber.closed) return;
        sequencer.put(seq, result);
        maybeComplete();
      };
      const fail = (seq: number, input: In, error: RxmlError): void => settle(seq, { ok: false, input, error });

      const batcher = createBatcher<Entry<In, S>>(options.batch ?? {}, concurrency, (batch) => runBatch(batch), () => maybeComplete());

      function runBatch(batch: readonly Entry<In, S>[]): Promise<void> {
        const encoded = encodeIsolatingFailures(batch);
        if (encoded === undefined) return Promise.resolve();
        const { entries, inputs } = encoded;
        const startedAt = performance.now();
        return Promise.resolve()
          .then(() => model.run(inputs))
          .then(
            (outputs) => {
              const values = options.decode(outputs, entries.map((e) => e.sample));
              if (values.length !== entries.length) {
                throw new RxmlError('MODEL_ERROR', `decode returned ${values.length} values for a batch of ${entries.length}`);
              }
              const now = performance.now();
              options.onBatch?.({ model: model.name, size: entries.length, durationMs: now - startedAt, ok: true });
              entries.forEach((e, i) =>
                settle(e.seq, { ok: true, input: e.input, value: values[i] as Out, model: identity, latencyMs: now - e.enteredAt }),
              );
            },
          )
          .catch((cause: unknown) => {
            options.onBatch?.({ model: model.name, size: entries.length, durationMs: performance.now() - startedAt, ok: false });
            const error = toRxmlError(cause, 'MODEL_ERROR', `model ${model.name}`);
            for (const e of entries) fail(e.seq, e.input, error);
          });
      }

      /** Encodes the batch; if that throws, finds the records at fault one by one and fails only them. */
      function encodeIsolatingFailures(batch: readonly Entry<In, S>[]): { entries: readonly Entry<In, S>[]; inputs: readonly TensorData[] } | undefined {
        try {
          return { entries: batch, inputs: asList(options.encode(batch.map((e) => e.sample))) };
        } catch {
          const survivors = batch.filter((e) => {
            try {
              options.encode([e.sample]);
              return true;
            } catch (cause) {
              fail(e.seq, e.input, toRxmlError(cause, 'INVALID_INPUT'));
              return false;
            }
          });
          if (survivors.length === 0) return undefined;
          try {
            return { entries: survivors, inputs: asList(options.encode(survivors.map((e) => e.sample))) };
          } catch (cause) {
            for (const e of survivors) fail(e.seq, e.input, toRxmlError(cause, 'INVALID_INPUT'));
            return undefined;
          }
        }
      }

      function accept(seq: number, input: In, enteredAt: number): void {
        let selected: S | PromiseLike<S>;
        try {
          selected = select(input);
        } catch (cause) {
          fail(seq, input, toRxmlError(cause, 'INVALID_INPUT'));
          return;
        }
        if (!isThenable(selected)) {
          batcher.add({ seq, input, sample: selected, enteredAt });
          return;
        }
        selecting++;
        Promise.resolve(selected).then(
          (sample) => {
            selecting--;
            if (!subscriber.closed) batcher.add({ seq, input, sample, enteredAt });
            drainSelectQueue();
          },
          (cause: unknown) => {
            selecting--;
            fail(seq, input, toRxmlError(cause, 'INVALID_INPUT'));
            drainSelectQueue();
          },
        );
      }

      function drainSelectQueue(): void {
        while (selecting < selectConcurrency && waitingForSelect.length > 0 && !subscriber.closed) {
          const next = waitingForSelect.shift()!;
          accept(next.seq, next.input, next.enteredAt);
        }
        if (sourceDone && selecting === 0 && waitingForSelect.length === 0) batcher.end();
        maybeComplete();
      }

      function maybeComplete(): void {
        if (sourceDone && selecting === 0 && waitingForSelect.length === 0 && batcher.idle() && sequencer.held() === 0) {
          subscriber.complete();
        }
      }

      const subscription = source.subscribe({
        next(input) {
          const seq = nextSeq++;
          const enteredAt = performance.now();
          sequencer.expect(seq);
          const unreadable = inputErrorOf(input);
          if (unreadable !== undefined) fail(seq, input, unreadable);
          else if (selecting >= selectConcurrency) waitingForSelect.push({ seq, input, enteredAt });
          else accept(seq, input, enteredAt);
          flow.received();
        },
        error(err: unknown) {
          subscriber.error(err);
        },
        complete() {
          sourceDone = true;
          if (selecting === 0 && waitingForSelect.length === 0) batcher.end();
          maybeComplete();
        },
      });

      return () => {
        subscription.unsubscribe();
        batcher.close();
      };
    });
}

/** Pauses the source at the high-water mark and resumes it at the low-water mark. */
function flowGuard(options: BackpressureOptions | undefined, defaultHigh: number, held: () => number) {
  if (options === undefined) return { received: () => {}, released: () => {} };
  const high = Math.max(1, options.highWaterMark ?? defaultHigh);
  const low = Math.min(high - 1, options.lowWaterMark ?? Math.floor(high / 2));
  let paused = false;
  return {
    received(): void {
      if (!paused && held() >= high) {
        paused = true;
        options.control.pause();
      }
    },
    released(): void {
      if (paused && held() <= low) {
        paused = false;
        options.control.resume();
      }
    },
  };
}
