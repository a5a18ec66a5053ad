import { Observable, type OperatorFunction } from 'rxjs';
import { invalidConfig } from '../contract/errors.js';
import type { Model } from '../contract/model.js';
import type { PredictResult } from '../contract/result.js';
import { resolvePredictConfig, type PredictConfig } from './internal/config.js';
import { assertSameSignature } from './internal/same-signature.js';
import { shadowInternals, tapSelect, type ShadowConfig, type ShadowEntry, type ShadowOperators, type Shadowed } from './internal/shadow-internals.js';
import { innerOptions, predictSplit, type SingleModelPredict } from './predict-split.js';
import { PREDICT_DEFAULTS, type PredictOptions } from './predict.js';
import { compareValues, type ShadowOptions } from './shadow.js';
import { isSplitModels, withSplitKey, type SplitModels } from './split-models.js';

const WHERE = 'predict';

/** Default `shadow.drainTimeoutMs`: how long a completed stream waits for the shadow's last records. */
export const SHADOW_DRAIN_TIMEOUT_MS = 5000;

function isModel(value: unknown): value is Model {
  return typeof value === 'object' && value !== null && typeof (value as Partial<Model>).run === 'function';
}

function resolveShadow<In, S, Out>(shadow: ShadowOptions<In, Out>, main: Model, mainIdentityKnown: boolean, config: PredictConfig<In, S, Out>): ShadowConfig<In, Out> {
  if (typeof shadow !== 'object' || shadow === null) throw invalidConfig(WHERE, 'shadow', 'an object { model, maxQueued?, compare?, onComparison?, comparisons? }', shadow);
  if (!isModel(shadow.model)) throw invalidConfig(WHERE, 'shadow.model', 'a Model (an object with run(inputs))', shadow.model);
  assertSameSignature(WHERE, 'shadow model', main, shadow.model);
  const maxQueued = shadow.maxQueued ?? config.batchSize * (config.concurrency + PREDICT_DEFAULTS.backpressureHeadroomBatches);
  if (typeof maxQueued !== 'number' || !Number.isInteger(maxQueued) || maxQueued < 1) throw invalidConfig(WHERE, 'shadow.maxQueued', 'a positive integer', maxQueued);
  const drainTimeoutMs = shadow.drainTimeoutMs ?? SHADOW_DRAIN_TIMEOUT_MS;
  if (typeof drainTimeoutMs !== 'number' || !Number.isFinite(drainTimeoutMs) || drainTimeoutMs < 0) throw invalidConfig(WHERE, 'shadow.drainTimeoutMs', 'a finite number of ms >= 0', drainTimeoutMs);
  for (const option of ['compare', 'onComparison'] as const) {
    if (shadow[option] !== undefined && typeof shadow[option] !== 'function') throw invalidConfig(WHERE, `shadow.${option}`, 'a function', shadow[option]);
  }
  const comparisons = shadow.comparisons;
  if (comparisons !== undefined && (typeof comparisons !== 'object' || comparisons === null)) {
    throw invalidConfig(WHERE, 'shadow.comparisons', 'an Observer (e.g. a Subject) with next and complete', comparisons);
  }
  return {
    maxQueued,
    drainTimeoutMs,
    compare: shadow.compare ?? compareValues,
    onComparison: shadow.onComparison,
    comparisons,
    shadowModel: { name: shadow.model.name, version: shadow.model.version },
    mainModel: mainIdentityKnown ? { name: main.name, version: main.version } : undefined,
    scheduler: config.scheduler,
  };
}

/**
 * `predict` with a `shadow`: checks the options once (as `predict` does, plus the shadow's), then
 * per subscription composes the main `predict` (one model, or a split) whose `select` hands each
 * sample to the shadow, and the shadow's own `predict` on those samples (unordered, no
 * backpressure, no `onBatch`), in `shadowInternals`.
 */
export function predictShadowed<In, S, Out>(model: Model | SplitModels<In>, options: PredictOptions<In, S, Out>, single: SingleModelPredict): OperatorFunction<In, PredictResult<In, Out>> {
  const split = isSplitModels(model) ? (model) : undefined;
  const main = split === undefined ? (model as Model) : split.variants[0]!.model;
  const config = resolvePredictConfig(main, options, PREDICT_DEFAULTS);
  const shadow = resolveShadow(options.shadow!, main, split === undefined, config);
  const shadowModel = options.shadow!.model;
  const select = config.select;
  const operators: ShadowOperators<In, S, Out> = {
    main(tap) {
      const mainOptions = innerOptions<In, Shadowed<In, Out>, S, Out>(options, { select: tapSelect(select, tap) }, ['shadow']);
      return split === undefined ? single(main, mainOptions) : predictSplit(withSplitKey(split, (record: Shadowed<In, Out>) => record.input), mainOptions, single);
    },
    shadow: single(shadowModel, innerOptions<In, ShadowEntry<In, Out, S>, S, Out>(options, { select: (entry) => entry.sample, ordered: false }, ['shadow', 'backpressure', 'onBatch'])),
  };
  if (split !== undefined) operators.main(() => {}); // checks the split's variants now, at creation
  return (source) => new Observable<PredictResult<In, Out>>((subscriber) => shadowInternals(source, subscriber, operators, shadow));
}
