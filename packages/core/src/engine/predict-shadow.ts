import { Observable, isObservable, map, type OperatorFunction } from 'rxjs';
import { RxmlError, invalidConfig } from '../contract/errors.js';
import { withRun, type Model, type TensorData } from '../contract/model.js';
import { isModelStream, type ModelSource } from '../contract/model-source.js';
import type { PredictResult } from '../contract/result.js';
import { resolvePredictConfig, type PredictConfig, type StreamOptions } from './internal/config.js';
import { signatureMismatch } from './internal/model-slot.js';
import type { ModelPlan } from './internal/predict-internals.js';
import { isThenable } from './internal/settle.js';
import { elementOf, shadowInternals, tapSelect, type MainInput, type Meter, type ShadowConfig, type ShadowEntry, type ShadowOperators } from './internal/shadow-internals.js';
import { innerOptions, plainModels, predictSplit, wrapPlan, type PlanRunner } from './predict-split.js';
import { PREDICT_DEFAULTS } from './predict.js';
import { compareValues, type ShadowOptions } from './shadow.js';
import { isSplitModels, withSplitKey, type SplitModels } from './split-models.js';

/** Default `shadow.drainTimeoutMs`: how long a completed stream waits for the shadow's last records. */
export const SHADOW_DRAIN_TIMEOUT_MS = 5000;

/**
 * Default `shadow.maxEventLoopShare`: the shadow's metered work may take 3 % of the wall time on this
 * thread. What the meter cannot see (each admitted record's bookkeeping on the main path, the
 * garbage it leaves, a model's own continuations) costs about as much again in the bench suite
 * `shadow`, so on a main path that keeps this thread busy (a Kafka pipeline working off a backlog)
 * 3 % leaves it ≥ 0.9 × its throughput without a shadow, with room for the fixed per-record
 * hand-off (bench suite `shadow`, docs/benchmarks.md).
 */
export const SHADOW_EVENT_LOOP_SHARE = 0.03;

/**
 * The same model, its work on this thread charged to `meter`: the synchronous part of each `run`
 * call, and — through the thenable it returns — the caller's continuation when the call settles
 * (for the engine: decode, the results and their comparisons), as one stretch each.
 */
function metered(model: Model, meter: Meter): Model {
  return withRun(model, (inputs, options) => {
    const outputs = meter(() => model.run(inputs, options));
    if (!isThenable(outputs)) return outputs;
    // A thenable, not a promise: the engine's callbacks run inside the meter; the engine never chains on `then`'s return.
    const later: PromiseLike<TensorData[]> = {
      then: (ok, fail) =>
        outputs.then(
          ok === undefined || ok === null ? undefined : (value) => meter(() => ok(value)),
          fail === undefined || fail === null ? undefined : (error: unknown) => meter(() => fail(error)),
        ),
    };
    return later as Promise<TensorData[]>;
  });
}

/** A model source whose models are all {@link metered} (an observable's versions keep their ownership: disposing the wrapper disposes the model). */
function meteredSource(source: ModelSource, meter: Meter): ModelSource {
  return isModelStream(source) ? source.pipe(map((model) => metered(model, meter))) : metered(source, meter);
}

function isModelSource(value: unknown): value is ModelSource {
  return isObservable(value) || (typeof value === 'object' && value !== null && typeof (value as Partial<Model>).run === 'function');
}

function resolveShadow<In, S, Out>(where: string, shadow: ShadowOptions<In, Out>, mains: readonly Model[], mainIdentityKnown: boolean, plan: ModelPlan<In, S, Out>, config: PredictConfig): ShadowConfig<In, Out> {
  if (typeof shadow !== 'object' || shadow === null) throw invalidConfig(where, 'shadow', 'an object { model, maxQueued?, compare?, onComparison?, comparisons? }', shadow);
  const model = shadow.model;
  if (!isModelSource(model)) throw invalidConfig(where, 'shadow.model', 'a Model (an object with run(inputs)) or an Observable<Model>', model);
  if (!isModelStream(model)) {
    plan.check(model, undefined);
    const main = mains[0];
    const problem = main === undefined ? undefined : signatureMismatch(model, main);
    if (problem !== undefined) throw new RxmlError('INVALID_CONFIG', `${where}: shadow model '${model.name}' does not match the signature of '${main!.name}': ${problem}`);
  }
  const maxEventLoopShare = shadow.maxEventLoopShare ?? SHADOW_EVENT_LOOP_SHARE;
  if (typeof maxEventLoopShare !== 'number' || !(maxEventLoopShare > 0 && maxEventLoopShare <= 1)) {
    throw invalidConfig(where, 'shadow.maxEventLoopShare', 'a number > 0 and <= 1', maxEventLoopShare);
  }
  const maxQueued = shadow.maxQueued ?? config.batchSize * (config.concurrency + PREDICT_DEFAULTS.backpressureHeadroomBatches);
  if (typeof maxQueued !== 'number' || !Number.isInteger(maxQueued) || maxQueued < 1) throw invalidConfig(where, 'shadow.maxQueued', 'a positive integer', maxQueued);
  const drainTimeoutMs = shadow.drainTimeoutMs ?? SHADOW_DRAIN_TIMEOUT_MS;
  if (typeof drainTimeoutMs !== 'number' || !Number.isFinite(drainTimeoutMs) || drainTimeoutMs < 0) throw invalidConfig(where, 'shadow.drainTimeoutMs', 'a finite number of ms >= 0', drainTimeoutMs);
  for (const option of ['compare', 'onComparison'] as const) {
    if (shadow[option] !== undefined && typeof shadow[option] !== 'function') throw invalidConfig(where, `shadow.${option}`, 'a function', shadow[option]);
  }
  const comparisons = shadow.comparisons;
  if (comparisons !== undefined && (typeof comparisons !== 'object' || comparisons === null)) {
    throw invalidConfig(where, 'shadow.comparisons', 'an Observer (e.g. a Subject) with next and complete', comparisons);
  }
  const identity = isModelStream(model) ? { name: 'shadow', version: '' } : { name: model.name, version: model.version };
  const main = mains[0];
  return {
    maxQueued,
    admitBlock: config.batchSize,
    maxEventLoopShare,
    drainTimeoutMs,
    compare: shadow.compare ?? compareValues,
    onComparison: shadow.onComparison,
    comparisons,
    shadowModel: identity,
    mainModel: mainIdentityKnown && main !== undefined ? { name: main.name, version: main.version } : undefined,
    scheduler: config.scheduler,
  };
}

/**
 * `predict` with a `shadow`: checks the options once (as `predict` does, plus the shadow's: a plain
 * shadow model must pass the operator's check and have the main model's signature), then per
 * subscription composes the main operator (one model source, or a split) whose `select` hands each
 * sample to the shadow, and the shadow's own operator on those samples (unordered, no
 * backpressure, no `onBatch`; its lifecycle events name the operator `<operator>:shadow`), in
 * `shadowInternals`.
 */
export function predictShadowed<In, S, Out>(
  model: ModelSource | SplitModels<In>,
  plan: ModelPlan<In, S, Out>,
  options: StreamOptions,
  run: PlanRunner,
): OperatorFunction<In, PredictResult<In, Out>> {
  const split = isSplitModels(model) ? (model) : undefined;
  const mains = plainModels(split === undefined ? [model as ModelSource] : split.variants.map((v) => v.model));
  const config = resolvePredictConfig(options, PREDICT_DEFAULTS);
  const shadowOptions = options.shadow as ShadowOptions<In, Out>;
  const shadow = resolveShadow(plan.operator, shadowOptions, mains, split === undefined, plan, config);
  const mainOptions = innerOptions(options, {}, ['shadow']);
  const shadowInner = innerOptions(options, { ordered: false }, ['shadow', 'backpressure', 'onBatch']);
  const operators: ShadowOperators<In, S, Out> = {
    main(tap, handOff) {
      const tapped = wrapPlan<In, MainInput<In, Out>, S, Out>(plan, plan.operator, (codec) => tapSelect(codec.select, tap));
      // Each main batch hands the samples set aside to the shadow just before its encode: once per batch.
      const mainPlan: ModelPlan<MainInput<In, Out>, S, Out> = {
        ...tapped,
        codec(first) {
          const codec = tapped.codec(first);
          return {
            select: codec.select,
            encode: (samples) => {
              handOff();
              return codec.encode(samples);
            },
            decode: codec.decode,
          };
        },
      };
      return split === undefined
        ? run(model as ModelSource, mainPlan, mainOptions)
        : predictSplit(withSplitKey(split, (input: MainInput<In, Out>) => elementOf(input)), mainPlan, mainOptions, run);
    },
    shadow(meter) {
      const shadowPlan = wrapPlan<In, ShadowEntry<In, Out, S>, S, Out>(plan, `${plan.operator}:shadow`, () => (entry) => entry.sample);
      if (shadow.maxEventLoopShare >= 1) return run(shadowOptions.model, shadowPlan, shadowInner);
      // Metered: the shadow's encode (a batch sealed by its timer), its model calls' synchronous part and what runs when they settle.
      const meteredPlan: ModelPlan<ShadowEntry<In, Out, S>, S, Out> = {
        ...shadowPlan,
        codec(first) {
          const codec = shadowPlan.codec(first);
          return { select: codec.select, encode: (samples) => meter(() => codec.encode(samples)), decode: codec.decode };
        },
      };
      return run(meteredSource(shadowOptions.model, meter), meteredPlan, shadowInner);
    },
  };
  if (split !== undefined) operators.main(() => {}, () => {}); // checks the split's variants now, at creation
  return (source) => new Observable<PredictResult<In, Out>>((subscriber) => shadowInternals(source, subscriber, operators, shadow));
}
