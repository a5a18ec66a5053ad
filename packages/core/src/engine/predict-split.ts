import { Observable, type OperatorFunction } from 'rxjs';
import { RxmlError } from '../contract/errors.js';
import type { Model } from '../contract/model.js';
import { isModelStream, type ModelSource } from '../contract/model-source.js';
import type { PredictResult } from '../contract/result.js';
import { resolvePredictConfig, type Codec, type StreamOptions } from './internal/config.js';
import { signatureMismatch } from './internal/model-slot.js';
import type { ModelPlan } from './internal/predict-internals.js';
import { splitInternals, type Routed, type VariantOperator } from './internal/split-internals.js';
import { PREDICT_DEFAULTS } from './predict.js';
import type { SplitModels } from './split-models.js';

/** `predictWithPlan` on one model source: the building block a split or a shadow composes. */
export type PlanRunner = <In, S, Out>(model: ModelSource, plan: ModelPlan<In, S, Out>, options: StreamOptions) => OperatorFunction<In, PredictResult<In, Out>>;

/** The plan for records wrapped in `Outer`: the same checks, a codec whose `select` reads through `from` (and may be replaced). */
export function wrapPlan<In, Outer, S, Out>(
  plan: ModelPlan<In, S, Out>,
  operator: string,
  select: (codec: Codec<In, S, Out>) => (outer: Outer) => S | PromiseLike<S>,
): ModelPlan<Outer, S, Out> {
  return {
    ...plan,
    operator,
    codec(first) {
      const codec = plan.codec(first);
      return { select: select(codec), encode: codec.encode, decode: codec.decode };
    },
  };
}

/**
 * The stream options of a `predict` composed under another (a variant's, the shadow's, the main
 * path's under a shadow): the caller's options — whatever fields they have — with `ordered`
 * replaced and the fields the outer layer handles removed.
 */
export function innerOptions(options: StreamOptions, replace: Pick<StreamOptions, 'ordered'>, remove: readonly (keyof StreamOptions)[]): StreamOptions {
  const copy: Record<string, unknown> = { ...options, ...replace };
  for (const key of remove) delete copy[key];
  return copy;
}

/** The plain `Model`s among model sources (an `Observable<Model>` is checked version by version by its own operator). */
export function plainModels(models: readonly ModelSource[]): Model[] {
  return models.filter((m): m is Model => !isModelStream(m));
}

/**
 * `predict` over a `splitModels` split: checks the stream options once (as `predict` does) and
 * that the variants given as plain models share one signature, builds one operator per variant
 * (unordered, no backpressure of its own; its lifecycle events name the operator
 * `<operator>:<variant>`) and hands them to `splitInternals`, which routes, restores the order and
 * applies `backpressure` to the records held across all variants.
 */
export function predictSplit<In, S, Out>(split: SplitModels<In>, plan: ModelPlan<In, S, Out>, options: StreamOptions, run: PlanRunner): OperatorFunction<In, PredictResult<In, Out>> {
  const config = resolvePredictConfig(options, PREDICT_DEFAULTS);
  const plain = plainModels(split.variants.map((v) => v.model));
  for (const model of plain) {
    const problem = signatureMismatch(model, plain[0]!);
    if (problem !== undefined) throw new RxmlError('INVALID_CONFIG', `${plan.operator}: splitModels variant model '${model.name}' does not match the first variant's signature: ${problem}`);
  }
  const inner = innerOptions(options, { ordered: false }, ['backpressure', 'shadow']);
  const variants: VariantOperator<In, Out>[] = split.variants.map((variant) => ({
    name: variant.name,
    operator: run(variant.model, wrapPlan<In, Routed<In>, S, Out>(plan, `${plan.operator}:${variant.name}`, (codec) => (routed) => codec.select(routed.input)), inner),
  }));
  return (source) => new Observable<PredictResult<In, Out>>((subscriber) => splitInternals(source, subscriber, split, variants, { ordered: config.ordered, backpressure: config.backpressure }));
}
