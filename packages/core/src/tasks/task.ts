import type { OperatorFunction } from 'rxjs';
import { RxmlError } from '../contract/errors.js';
import type { Model, TensorData, TensorSpec } from '../contract/model.js';
import { isModelStream, type ModelSource } from '../contract/model-source.js';
import type { PredictResult } from '../contract/result.js';
import type { BatchOptions } from '../engine/internal/batcher.js';
import { checkModelSource, type Codec } from '../engine/internal/config.js';
import { signatureMismatch, zeroProbe } from '../engine/internal/model-slot.js';
import { PREDICT_DEFAULTS, predictWithPlan, type PredictOptions } from '../engine/predict.js';
import { compareValues, type ShadowAgreement, type ShadowOptions } from '../engine/shadow.js';
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
   * Checks that the model's signature (inputs, outputs, shapes) fits the family: once, when the
   * operator is created, for a plain `Model`; for each version of an `Observable<Model>` before it
   * may serve (a version that fails is refused). Throws `RxmlError('INVALID_CONFIG')` naming the
   * model and the mismatch. Dimensions the model leaves free (`null`) are accepted.
   */
  validate(model: Model): void;
  /**
   * The trial batch a new version of a model stream must run with all-finite float outputs before
   * it is swapped in: model inputs as `encode` returns them (`shape[0]` = samples). Optional:
   * default one sample of zeros per input, `null` dimensions = 1.
   */
  probe?(model: Model): readonly TensorData[];
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
 * `predictTask`) accepts: one type, so they cannot drift apart. Each field is `predict`'s
 * (`PredictOptions`, whose docs the inherited fields carry); `encode`/`decode` come from the
 * family's `Task`, `select` is typed by the family's raw input, and `batch` defaults to the family's.
 */
export interface PredictTaskOptions<In, Raw, Out = unknown>
  extends Omit<PredictOptions<In, Raw, Out>, 'select' | 'encode' | 'decode' | 'batch' | 'selectConcurrency' | 'shadow'> {
  /**
   * Picks the family's input out of each element (e.g. a Kafka record's `value`); may return a
   * promise, resolved `selectConcurrency` at a time. Throwing (or rejecting) marks that record
   * `INVALID_INPUT`. Default: the element itself.
   */
  readonly select?: (input: In) => Raw | PromiseLike<Raw>;
  /** Records per model call and how long a partial batch waits (ms). Defaults: the family's (`Task.batch`). */
  readonly batch?: BatchOptions;
  /** `select` + parse calls in flight at once (e.g. image decodes); a positive integer. Default 8. */
  readonly selectConcurrency?: number;
  /**
   * A shadow model (a `ModelSource`) scored on the same parsed samples and compared with the main
   * model record by record; its results never reach this output. It must fit the task and have
   * the main model's signature; `compare` defaults to the family's (`Task.compare`). See `ShadowOptions`.
   */
  readonly shadow?: ShadowOptions<In, Out>;
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * Runs a family's `Task` on a stream: validates the model against the task, merges the batch
 * options over the family's defaults, and hands everything to `predict`. One `PredictResult` per
 * element, as `predict` documents. `model` is a `ModelSource`: a plain `Model` (validated here,
 * never disposed) or an `Observable<Model>` whose versions are each validated by `task.validate`
 * and a trial batch (`task.probe`, default zeros) before they are swapped in between batches; the
 * operator owns and disposes those (see `predict`). `model` may also be a `splitModels(...)` A/B
 * split (each plain variant validated here), and `options.shadow` a shadow model (validated too;
 * `compare` defaults to `task.compare`).
 *
 * @throws RxmlError `INVALID_CONFIG` (at creation) when a plain model does not fit the task or an option is invalid.
 */
export function predictTask<In, Raw, S, Out>(
  model: ModelSource | SplitModels<In>,
  task: Task<Raw, S, Out>,
  options: PredictTaskOptions<In, Raw, Out> = {},
): OperatorFunction<In, PredictResult<In, Out>> {
  return predictFamily(model, { name: task.name, batch: task.batch, fromFirstModel: false }, () => task, options);
}

/** @internal What a family operator is before it has a model: its name, batch policy and whether its task is built from the model. */
export interface FamilyPlan {
  readonly name: string;
  readonly batch: Required<BatchOptions>;
  /**
   * The task is built from the model (`predictKeras`, `predictImage`: the encoding follows its
   * signature). With a model stream the first model's task serves every version, so a later
   * version must also have the first one's signature.
   */
  readonly fromFirstModel: boolean;
}

/**
 * @internal `predictTask` for a task that may depend on the model: `taskOf(model)` gives the task
 * (once for a plain `Model`, at creation; for a model stream once per subscription, from its first
 * model, and for each candidate version to validate it).
 */
export function predictFamily<In, Raw, S, Out>(
  model: ModelSource | SplitModels<In>,
  family: FamilyPlan,
  taskOf: (model: Model) => Task<Raw, S, Out>,
  options: PredictTaskOptions<In, Raw, Out> = {},
): OperatorFunction<In, PredictResult<In, Out>> {
  // A split: every variant is a model source; the plain ones are validated now (the first one's
  // task stands for all when the task is built from the model).
  const sources = isSplitModels(model) ? model.variants.map((v) => v.model) : [model];
  for (const each of sources) checkModelSource(each);
  const plain = sources.filter((m): m is Model => !isModelStream(m));
  const fixed = plain.length === 0 ? undefined : taskOf(plain[0]!);
  for (const each of plain) (family.fromFirstModel ? fixed! : taskOf(each)).validate(each);
  // The task that decided the last codec: the family's compare for a shadow whose main model is a stream.
  let latest = fixed;
  const pick = options.select ?? ((input: In) => input as unknown as Raw);
  const codecOf = (task: Task<Raw, S, Out>): Codec<In, S, Out> => {
    const parse = (raw: Raw): S | PromiseLike<S> => task.parse(raw);
    return {
      select: (input) => {
        const raw = pick(input);
        return isThenable(raw) ? Promise.resolve(raw).then(parse) : parse(raw);
      },
      encode: (samples) => task.encode(samples),
      decode: (outputs, samples) => task.decode(outputs, samples),
    };
  };
  return predictWithPlan<In, S, Out>(
    model,
    {
      operator: family.name,
      check(candidate, first) {
        if (first === undefined || !family.fromFirstModel) {
          taskOf(candidate).validate(candidate);
          return;
        }
        taskOf(first).validate(candidate);
        const problem = signatureMismatch(candidate, first);
        if (problem !== undefined) throw modelMismatch(family.name, candidate, `version ${candidate.version} does not match the first model's signature: ${problem}`);
      },
      probe: (candidate) => taskOf(candidate).probe?.(candidate) ?? zeroProbe(candidate.inputs),
      codec: (first) => codecOf((latest = fixed ?? taskOf(first))),
    },
    {
      ...options,
      ...(options.shadow === undefined ? {} : { shadow: withTaskCompare(options.shadow, () => latest) }),
      // Field by field over the family's policy; a non-object is passed on for predict to refuse.
      batch: typeof options.batch === 'object' && options.batch !== null ? { ...family.batch, ...options.batch } : (options.batch ?? family.batch),
    },
  );
}

/** The shadow options with the task's `compare` as default (read when a record is compared: the task may come from the first model). */
function withTaskCompare<In, Raw, S, Out>(shadow: ShadowOptions<In, Out>, taskNow: () => Task<Raw, S, Out> | undefined): ShadowOptions<In, Out> {
  if (typeof shadow !== 'object' || shadow === null || shadow.compare !== undefined) return shadow; // a bad value is predict's to refuse
  return { ...shadow, compare: (main, shadowValue) => (taskNow()?.compare?.(main, shadowValue) ?? compareValues(main, shadowValue)) };
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
