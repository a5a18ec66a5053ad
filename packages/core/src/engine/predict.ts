import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import type { ModelLifecycleMessage, PredictBatchMessage } from '../contract/diagnostics.js';
import { RxmlError } from '../contract/errors.js';
import type { TensorData } from '../contract/model.js';
import type { ModelSource } from '../contract/model-source.js';
import type { PredictResult } from '../contract/result.js';
import type { BatchOptions } from './internal/batcher.js';
import { checkModelSource, resolveCodec, resolvePredictConfig, type StreamOptions } from './internal/config.js';
import { signatureMismatch } from './internal/model-slot.js';
import { predictInternals, type ModelPlan } from './internal/predict-internals.js';
import { predictShadowed } from './predict-shadow.js';
import { predictSplit } from './predict-split.js';
import type { ShadowOptions } from './shadow.js';
import { isSplitModels, type SplitModels } from './split-models.js';

/** How a pull-based source is told to stop and restart pushing. */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

export interface BackpressureOptions {
  /** Called when the records held inside the operator reach `highWaterMark`, and below `lowWaterMark`. */
  readonly control: FlowControl;
  /**
   * Records held (received, not yet emitted) at which the source is paused; a positive integer.
   * Default: `batch.size × (concurrency + 2)`.
   */
  readonly highWaterMark?: number;
  /** Records held at which a paused source is resumed; an integer below `highWaterMark`. Default: half the high-water mark. */
  readonly lowWaterMark?: number;
}

/**
 * What `onBatch` gets after every model call: the `rxml:predict:batch` payload — `model`, `version`,
 * `size` (records), `bytes` (model input bytes), `durationMs` (wall time of `model.run`, ms, on the
 * operator's clock), `ok` and, when the call failed, `error`.
 */
export type BatchEvent = PredictBatchMessage;

/**
 * What `onModelEvent` gets when the operator runs on an `Observable<Model>`: the
 * `rxml:model:lifecycle` payload — `type` (`swap`, `rollback`, `refused`, `released`,
 * `source-error`), `name` and `version` of the version concerned, `previousVersion` (swap,
 * rollback), `reason` in words, `error` (refused, source-error) and `operator` (e.g. `predictIris`).
 */
export type ModelEvent = ModelLifecycleMessage;

export interface PredictOptions<In, S, Out> {
  /**
   * Picks the model input out of each element (a Kafka record, an event, …). Throwing marks that
   * record `INVALID_INPUT`; may return a promise (e.g. decoding an image), run `selectConcurrency` at
   * a time. Default: the element itself.
   */
  readonly select?: (input: In) => S | PromiseLike<S>;
  /**
   * Turns one batch of samples into the model's inputs (one `TensorData` per model input, in the
   * order of `model.inputs`, `shape[0]` = batch size). If it throws, each record is encoded on its
   * own and only the records at fault fail (`INVALID_INPUT`).
   */
  readonly encode: (samples: readonly S[]) => TensorData | readonly TensorData[];
  /**
   * Turns the model's outputs for a batch into one value per sample, in order. Throwing, or
   * returning a different number of values, fails the batch with `MODEL_ERROR`.
   */
  readonly decode: (outputs: readonly TensorData[], samples: readonly S[]) => readonly Out[];
  /** Micro-batching: up to `size` records (default 32) or `maxLatencyMs` (default 5) after the first. */
  readonly batch?: BatchOptions;
  /** Model calls in flight at once; a positive integer. Default 1. */
  readonly concurrency?: number;
  /** Asynchronous `select` calls in flight at once; a positive integer. Default 8. */
  readonly selectConcurrency?: number;
  /** Emit results in input order (default). `false` emits each batch as soon as it is done. */
  readonly ordered?: boolean;
  /** Pause/resume a pull-based source so the records held inside stay bounded. */
  readonly backpressure?: BackpressureOptions;
  /**
   * Called after each model call with the `rxml:predict:batch` payload. Guarded: if it throws (or
   * returns a rejected promise) the error goes to `rxml:callback:error` and nothing else changes.
   */
  readonly onBatch?: (event: BatchEvent) => unknown;
  /**
   * Called for each model lifecycle event when the model is an `Observable<Model>` (never for a
   * plain `Model`): a version swapped in or rolled back, refused, released (disposed), or the model
   * source failing — the `rxml:model:lifecycle` payload, also published there. Guarded like
   * `onBatch`: a throw or a rejected promise goes to `rxml:callback:error` and changes nothing.
   */
  readonly onModelEvent?: (event: ModelEvent) => unknown;
  /**
   * With an `Observable<Model>`: the longest wait for the first version to pass validation, ms,
   * from the operator's subscription. Until then records are held (not failed); if none has passed
   * by then, the output errors with a retriable `RxmlError('MODEL_LOAD_ERROR')` naming the operator,
   * the time waited, the records held and the last refusal, and the model source is unsubscribed
   * (its timers and consumers stop, the process may exit). The held records get no result each:
   * nothing is dead-lettered or committed for them, so a Kafka pipeline restarted later reads them
   * again. A `waiting` event is published once after 5 s (or half this, when shorter). A number
   * > 0 (at most 2^31 − 1), or `Infinity` to wait forever. Default 30000 (`PREDICT_DEFAULTS`).
   * Ignored for a plain `Model`. `INVALID_CONFIG` for another value.
   */
  readonly firstModelTimeoutMs?: number;
  /**
   * Scheduler for the batch latency timer and the clock of `latencyMs`/`durationMs` (its `now()`,
   * ms). Default: `asyncScheduler` for the timer and `performance.now()` for timestamps. Pass RxJS's
   * `TestScheduler` to test batching in virtual time.
   */
  readonly scheduler?: SchedulerLike;
  /**
   * A shadow model that sees the same records (the same samples: `select` runs once) and whose
   * results never reach this output: each record's main and shadow results are compared
   * (`onComparison`, `comparisons`, `rxml:shadow:comparison`). Bounded: records beyond `maxQueued`
   * waiting for the shadow are dropped for it (counted), never delaying the main path. See
   * {@link ShadowOptions}.
   */
  readonly shadow?: ShadowOptions<In, Out>;
}

/**
 * The defaults `predict` applies, exported so the family operators (`predictIris`, `predictImage`,
 * `predictKeras`) start from the same values and override only what their model family needs.
 * `backpressureHeadroomBatches`: the default high-water mark is `batch.size × (concurrency + it)`
 * — the calls in flight plus one batch filling and one ready.
 */
export const PREDICT_DEFAULTS = Object.freeze({
  batch: Object.freeze({ size: 32, maxLatencyMs: 5 }),
  concurrency: 1,
  selectConcurrency: 8,
  ordered: true,
  backpressureHeadroomBatches: 2,
  firstModelTimeoutMs: 30_000,
} as const);

export type PredictDefaults = typeof PREDICT_DEFAULTS;

/**
 * The primitive every rxml operator is built from: selects each element's model input, groups
 * records into micro-batches, runs one model call per batch with bounded concurrency, and emits one
 * `PredictResult` per element — in input order unless `ordered: false`. A record that fails gets a
 * failure result of its own; the stream goes on; only an error of the source errors the output.
 * All tensors are created and freed inside `model.run`. Publishes `rxml:predict:batch` per model
 * call and `rxml:predict:result` per result (see `@rxml/core/contract`), each naming the model
 * (name, version) that ran the batch.
 *
 * `model` is a `ModelSource`:
 * - a `Model`: the caller's; never disposed here.
 * - an `Observable<Model>` of versions (`watchModel`, `pollModel`, `modelsFromKafka` or your own),
 *   subscribed once per subscription of the operator. Records that arrive before the first model
 *   are held (bounded by `backpressure`). Each version is validated off the hot path — same number
 *   of inputs and outputs, dtypes and fixed dimensions as the first model, and a trial batch of
 *   zeros (`null` dimensions = 1) whose float outputs are all finite — then swapped in between
 *   batches: a batch runs on the version serving when its call starts, so calls in flight finish
 *   on the old one. The operator owns every model the observable emits: it disposes a replaced
 *   version after its last call returns, a refused one at once, the current one when the stream
 *   ends (after calls in flight). Events go to `onModelEvent` and `rxml:model:lifecycle`. If the
 *   observable errors or completes before any version passed validation, the output errors with
 *   `MODEL_LOAD_ERROR`; afterwards the current version keeps serving.
 *
 * `model` may also be a `splitModels(...)` A/B split: each record goes to one variant by a stable
 * hash of its key, each variant batches and calls its own model (each a `ModelSource`), and
 * results carry `variant`. With `shadow`, a second model scores the same records for comparison only.
 *
 * Options are checked here, when the operator is created: a bad value throws
 * `RxmlError('INVALID_CONFIG')` naming the option and the value. The work is done by
 * `predictInternals` (engine/internal/), one named stage per file.
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
export function predict<In, S = In, Out = unknown>(model: ModelSource | SplitModels<In>, options: PredictOptions<In, S, Out>): OperatorFunction<In, PredictResult<In, Out>> {
  if (!isSplitModels(model)) checkModelSource(model);
  const codec = resolveCodec(options);
  return predictWithPlan(
    model,
    {
      operator: 'predict',
      check(candidate, first) {
        const problem = first === undefined ? undefined : signatureMismatch(candidate, first);
        if (problem !== undefined) throw new RxmlError('INVALID_CONFIG', `predict: model '${candidate.name}' version ${candidate.version} does not match the first model's signature: ${problem}`);
      },
      probe: undefined,
      codec: () => codec,
    },
    options,
  );
}

/**
 * @internal The operator behind `predict` and `predictTask`: a model source, the plan (how the
 * operator encodes records and judges new versions) and the stream options, checked here.
 */
export function predictWithPlan<In, S, Out>(model: ModelSource | SplitModels<In>, plan: ModelPlan<In, S, Out>, options: StreamOptions): OperatorFunction<In, PredictResult<In, Out>> {
  // A split and a shadow are composed of this same operator, one per model source.
  if (typeof options === 'object' && options !== null && options.shadow !== undefined) return predictShadowed(model, plan, options, predictWithPlan);
  if (isSplitModels(model)) return predictSplit(model, plan, options, predictWithPlan);
  checkModelSource(model);
  const config = resolvePredictConfig(options, PREDICT_DEFAULTS);
  return (source) => new Observable<PredictResult<In, Out>>((subscriber) => predictInternals(source, subscriber, model, plan, config));
}
