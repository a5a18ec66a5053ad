import type { OperatorFunction, SchedulerLike } from 'rxjs';
import { RxmlError } from '../contract/errors.js';
import type { Model, TensorData, TensorSpec } from '../contract/model.js';
import type { PredictResult } from '../contract/result.js';
import type { BatchOptions } from '../engine/internal/batcher.js';
import { PREDICT_DEFAULTS, predict, type BackpressureOptions, type BatchEvent } from '../engine/predict.js';
import type { ShadowAgreement, ShadowOptions } from '../engine/shadow.js';
import { isSplitModels, type SplitModels } from '../engine/split-models.js';

/**
 * What a model family knows about its models — everything `predict` needs besides the stream
 * options: how a record's raw value becomes a sample, how samples become model inputs, how model
 * outputs become values, whether a model fits, and how to batch. `predictIris`, `predictImage` and
 * `predictKeras` are each a `Task` handed to `predictTask`; a new family is one new `Task`.
 *
 * @typeParam Raw what `select` returns for a record (e.g. a CSV line, image bytes).
 * @typeParam S one parsed sample, what `encode` batches.
 * @typeParam Out one record's value in a successful `PredictResult`.
 */
export interface Task<Raw, S, Out> {
  /** The operator's name, used in error messages (e.g. `predictIris`). */
  readonly name: string;
  /**
   * The family's batching policy: records per model call and how long a partial batch waits (ms).
   * The caller's `batch` overrides it field by field.
   */
  readonly batch: Required<BatchOptions>;
  /**
   * Checks that the model's signature (inputs, outputs, shapes) fits the family, once, when the
   * operator is created. Throws `RxmlError('INVALID_CONFIG')` naming the model and the mismatch.
   * Dimensions the model leaves free (`null`) are accepted.
   */
  validate(model: Model): void;
  /**
   * Turns one record's raw value into a sample; may be async (image decoding). Throws
   * `RxmlError('INVALID_INPUT')` naming that record's problem.
   */
  parse(raw: Raw): S | PromiseLike<S>;
  /** Samples → model inputs (one `TensorData` per model input, `shape[0]` = samples). */
  encode(samples: readonly S[]): TensorData | readonly TensorData[];
  /** Model outputs → one value per sample, in order. */
  decode(outputs: readonly TensorData[], samples: readonly S[]): readonly Out[];
  /**
   * The family's default `shadow.compare`: whether a main and a shadow value agree (e.g. the same
   * class) and how far apart they are. Without it, `predict`'s default (deep equality, max |Δ|).
   */
  compare?(main: Out, shadow: Out): ShadowAgreement;
}

/**
 * The options every family operator (`predictIris`, `predictImage`, `predictKeras`, your own
 * `predictTask`) accepts: one type, so they cannot drift apart. Each field is `predict`'s; only
 * `select` is typed by the family's raw input.
 */
export interface PredictTaskOptions<In, Raw, Out = unknown> {
  /**
   * Picks the family's input out of each element (e.g. a Kafka record's `value`); may return a
   * promise, resolved `selectConcurrency` at a time. Throwing (or rejecting) marks that record
   * `INVALID_INPUT`. Default: the element itself.
   */
  readonly select?: (input: In) => Raw | PromiseLike<Raw>;
  /** Records per model call and how long a partial batch waits (ms). Defaults: the family's (`Task.batch`). */
  readonly batch?: BatchOptions;
  /** Model calls in flight at once; a positive integer. Default 1. */
  readonly concurrency?: number;
  /** `select` + parse calls in flight at once (e.g. image decodes); a positive integer. Default 8. */
  readonly selectConcurrency?: number;
  /** Emit results in input order (default). `false` emits each batch as soon as it is done. */
  readonly ordered?: boolean;
  /** Pause/resume a pull-based source so the records held inside stay bounded. */
  readonly backpressure?: BackpressureOptions;
  /** Called after each model call with the `rxml:predict:batch` payload; guarded (a throw changes nothing). */
  readonly onBatch?: (event: BatchEvent) => unknown;
  /** Scheduler for the batch timer and clock (RxJS `TestScheduler` in tests). Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /**
   * A shadow model scored on the same parsed samples, compared with the main model record by
   * record; its results never reach this output. `compare` defaults to the family's (`Task.compare`).
   * The shadow model must fit the task (`Task.validate`) and have the main model's signature.
   * See `ShadowOptions`.
   */
  readonly shadow?: ShadowOptions<In, Out>;
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * Runs a family's `Task` on a stream: validates the model against the task, merges the batch
 * options over the family's defaults, and hands everything to `predict`. One `PredictResult` per
 * element, as `predict` documents. `model` may be a `splitModels(...)` A/B split (every variant is
 * validated against the task); `options.shadow` a shadow model (validated too; `compare` defaults
 * to `task.compare`).
 *
 * @throws RxmlError `INVALID_CONFIG` (at creation) when a model does not fit the task or an option is invalid.
 */
export function predictTask<In, Raw, S, Out>(
  model: Model | SplitModels<In>,
  task: Task<Raw, S, Out>,
  options: PredictTaskOptions<In, Raw, Out> = {},
): OperatorFunction<In, PredictResult<In, Out>> {
  for (const each of isSplitModels(model) ? model.variants.map((v) => v.model) : [model]) task.validate(each);
  const shadow = withTaskCompare(options.shadow, task);
  const pick = options.select ?? ((input: In) => input as unknown as Raw);
  const parse = (raw: Raw): S | PromiseLike<S> => task.parse(raw);
  return predict<In, S, Out>(model, {
    ...options,
    // Field by field over the family's policy; a non-object is passed on for predict to refuse.
    batch: typeof options.batch === 'object' && options.batch !== null ? { ...task.batch, ...options.batch } : (options.batch ?? task.batch),
    select: (input) => {
      const raw = pick(input);
      return isThenable(raw) ? Promise.resolve(raw).then(parse) : parse(raw);
    },
    encode: (samples) => task.encode(samples),
    decode: (outputs, samples) => task.decode(outputs, samples),
    ...(shadow === undefined ? {} : { shadow }),
  });
}

/** The shadow options with the task's `compare` as default, after checking the shadow model fits the task. */
function withTaskCompare<In, Raw, S, Out>(shadow: ShadowOptions<In, Out> | undefined, task: Task<Raw, S, Out>): ShadowOptions<In, Out> | undefined {
  if (typeof shadow !== 'object' || shadow === null) return shadow; // undefined, or a bad value for predict to refuse
  if (typeof shadow.model === 'object' && shadow.model !== null && typeof (shadow.model as Partial<Model>).run === 'function') task.validate(shadow.model);
  if (shadow.compare !== undefined || task.compare === undefined) return shadow;
  const compare = task.compare.bind(task);
  return { ...shadow, compare };
}

/** The engine's default batch (`PREDICT_DEFAULTS.batch`), for families with no policy of their own. */
export const DEFAULT_TASK_BATCH: Required<BatchOptions> = PREDICT_DEFAULTS.batch;

/**
 * Shared by tasks' `validate`: whether a spec's dimensions match the wanted ones (`null` on either
 * side matches anything). `want` lists the dimensions after the batch dimension.
 */
export function fitsShape(spec: TensorSpec | undefined, want: readonly (number | null)[]): boolean {
  if (spec === undefined) return false;
  const dims = spec.shape.slice(1);
  return dims.length === want.length && dims.every((d, i) => d === null || want[i] === null || d === want[i]);
}

/** The `INVALID_CONFIG` error of a model that does not fit a task. */
export function modelMismatch(task: string, model: Model, detail: string): RxmlError {
  return new RxmlError('INVALID_CONFIG', `${task}: model '${model.name}' does not fit: ${detail}`);
}

/** A spec's shape for messages: `[?, 4]`. */
export function shapeText(spec: TensorSpec | undefined): string {
  return spec === undefined ? 'none' : `[${spec.shape.map((d) => d ?? '?').join(', ')}]`;
}
