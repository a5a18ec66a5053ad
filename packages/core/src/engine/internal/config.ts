import { asyncScheduler, isObservable, type SchedulerLike } from 'rxjs';
import { invalidConfig } from '../../contract/errors.js';
import type { ModelLifecycleMessage, PredictBatchMessage } from '../../contract/diagnostics.js';
import type { Model } from '../../contract/model.js';
import type { PredictDefaults, PredictOptions } from '../predict.js';
import type { Decode } from './model-call.js';
import type { Encode } from './encode.js';
import type { FlowGuardConfig } from './flow-guard.js';

/** `predict`'s stream options (everything but `select`/`encode`/`decode`), as the family operators pass them. */
export type StreamOptions = Omit<PredictOptions<never, never, never>, 'select' | 'encode' | 'decode'>;

/** How records become model inputs and outputs become values: `predict`'s own functions, or a task's. */
export interface Codec<In, S, Out> {
  readonly select: (input: In) => S | PromiseLike<S>;
  readonly encode: Encode<S>;
  readonly decode: Decode<S, Out>;
}

/** `predict`'s stream options with every default applied and every value checked. */
export interface PredictConfig {
  readonly batchSize: number;
  readonly maxLatencyMs: number;
  readonly concurrency: number;
  readonly selectConcurrency: number;
  readonly ordered: boolean;
  readonly backpressure: FlowGuardConfig | undefined;
  readonly onBatch: ((event: PredictBatchMessage) => unknown) | undefined;
  readonly onModelEvent: ((event: ModelLifecycleMessage) => unknown) | undefined;
  /** Longest wait for a model stream's first version, ms; `Infinity` = no limit. */
  readonly firstModelTimeoutMs: number;
  /** Runs the batcher's latency timer. */
  readonly scheduler: SchedulerLike;
  /** Timestamps for `latencyMs` / `durationMs`, ms. */
  readonly clock: () => number;
}

const WHERE = 'predict';
/** The longest delay `setTimeout` takes (2^31 − 1 ms, about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

function positiveInteger(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw invalidConfig(WHERE, option, 'a positive integer', value);
  return value;
}

function isFunction(value: unknown): value is (...args: never[]) => unknown {
  return typeof value === 'function';
}

function optionalFunction<F>(option: string, value: F | undefined): F | undefined {
  if (value !== undefined && !isFunction(value)) throw invalidConfig(WHERE, option, 'a function', value);
  return value;
}

/** Checks the model argument: a `Model` (an object with `run`) or an `Observable<Model>`. */
export function checkModelSource(model: unknown): void {
  if (isObservable(model)) return;
  if (typeof model !== 'object' || model === null || !isFunction((model as Partial<Model>).run)) {
    throw invalidConfig(WHERE, 'model', 'a Model (an object with run(inputs)) or an Observable<Model>', model);
  }
}

/** Checks `predict`'s `encode`, `decode` and `select` (default: the element itself). */
export function resolveCodec<In, S, Out>(options: PredictOptions<In, S, Out>): Codec<In, S, Out> {
  if (typeof options !== 'object' || options === null) throw invalidConfig(WHERE, 'options', 'an object with encode and decode', options);
  if (!isFunction(options.encode)) throw invalidConfig(WHERE, 'encode', 'a function', options.encode);
  if (!isFunction(options.decode)) throw invalidConfig(WHERE, 'decode', 'a function', options.decode);
  const select = optionalFunction('select', options.select) ?? ((input: In) => input as unknown as S);
  return { select, encode: options.encode, decode: options.decode };
}

/**
 * Stage 0, config: applies the defaults (`PREDICT_DEFAULTS`) and checks every option once, when the operator is
 * created — a bad value throws `RxmlError('INVALID_CONFIG')` naming the option and the value, e.g.
 * `predict: batch.size must be a positive integer, got 0`.
 */
export function resolvePredictConfig(options: StreamOptions, defaults: PredictDefaults): PredictConfig {
  if (typeof options !== 'object' || options === null) throw invalidConfig(WHERE, 'options', 'an object', options);
  const onBatch = optionalFunction('onBatch', options.onBatch);
  const onModelEvent = optionalFunction('onModelEvent', options.onModelEvent);

  const batch = options.batch ?? {};
  if (typeof batch !== 'object' || batch === null) throw invalidConfig(WHERE, 'batch', 'an object { size?, maxLatencyMs? }', batch);
  const batchSize = positiveInteger('batch.size', batch.size ?? defaults.batch.size);
  const maxLatencyMs = batch.maxLatencyMs ?? defaults.batch.maxLatencyMs;
  if (typeof maxLatencyMs !== 'number' || !Number.isFinite(maxLatencyMs) || maxLatencyMs < 0) {
    throw invalidConfig(WHERE, 'batch.maxLatencyMs', 'a finite number of ms >= 0', maxLatencyMs);
  }
  const concurrency = positiveInteger('concurrency', options.concurrency ?? defaults.concurrency);
  const selectConcurrency = positiveInteger('selectConcurrency', options.selectConcurrency ?? defaults.selectConcurrency);
  const ordered = options.ordered ?? defaults.ordered;
  if (typeof ordered !== 'boolean') throw invalidConfig(WHERE, 'ordered', 'a boolean', ordered);

  const firstModelTimeoutMs = options.firstModelTimeoutMs ?? defaults.firstModelTimeoutMs;
  if (typeof firstModelTimeoutMs !== 'number' || Number.isNaN(firstModelTimeoutMs) || firstModelTimeoutMs <= 0 || firstModelTimeoutMs > MAX_TIMER_MS) {
    if (firstModelTimeoutMs !== Infinity) throw invalidConfig(WHERE, 'firstModelTimeoutMs', `a number of ms > 0 and at most ${MAX_TIMER_MS}, or Infinity (no limit)`, firstModelTimeoutMs);
  }

  const scheduler = options.scheduler;
  if (scheduler !== undefined && (typeof scheduler !== 'object' || scheduler === null || typeof scheduler.schedule !== 'function' || typeof scheduler.now !== 'function')) {
    throw invalidConfig(WHERE, 'scheduler', 'an RxJS SchedulerLike (schedule and now)', scheduler);
  }

  return {
    batchSize,
    maxLatencyMs,
    concurrency,
    selectConcurrency,
    ordered,
    backpressure: resolveBackpressure(options.backpressure, defaultHighWaterMark(batchSize, concurrency, defaults)),
    onBatch,
    onModelEvent,
    firstModelTimeoutMs,
    scheduler: scheduler ?? asyncScheduler,
    clock: scheduler === undefined ? () => performance.now() : () => scheduler.now(),
  };
}

function resolveBackpressure(options: PredictOptions<never, never, never>['backpressure'], defaultHigh: number): FlowGuardConfig | undefined {
  if (options === undefined) return undefined;
  const control = (options as { control?: unknown } | null)?.control as { pause?: unknown; resume?: unknown } | undefined | null;
  if (typeof control !== 'object' || control === null || !isFunction(control.pause) || !isFunction(control.resume)) {
    throw invalidConfig(WHERE, 'backpressure.control', 'an object with pause() and resume()', control);
  }
  const highWaterMark = positiveInteger('backpressure.highWaterMark', options.highWaterMark ?? defaultHigh);
  const lowWaterMark = options.lowWaterMark ?? Math.floor(highWaterMark / 2);
  if (typeof lowWaterMark !== 'number' || !Number.isInteger(lowWaterMark) || lowWaterMark < 0 || lowWaterMark >= highWaterMark) {
    throw invalidConfig(WHERE, 'backpressure.lowWaterMark', `an integer >= 0 and below highWaterMark (${highWaterMark})`, lowWaterMark);
  }
  return { control: options.control, highWaterMark, lowWaterMark };
}

/** Records held before a pull-based source is paused, by default: `batch.size × (concurrency + backpressureHeadroomBatches)`. */
export function defaultHighWaterMark(batchSize: number, concurrency: number, defaults: PredictDefaults): number {
  return batchSize * (concurrency + defaults.backpressureHeadroomBatches);
}
