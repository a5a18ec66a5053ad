import { Observable, type OperatorFunction } from 'rxjs';
import type { Model } from '../contract/model.js';
import type { PredictResult } from '../contract/result.js';
import { resolvePredictConfig } from './internal/config.js';
import { assertSameSignature } from './internal/same-signature.js';
import { splitInternals, type Routed, type VariantOperator } from './internal/split-internals.js';
import { PREDICT_DEFAULTS, type PredictOptions } from './predict.js';
import type { SplitModels } from './split-models.js';

/** `predict` on one model, the building block a split composes (one per variant). */
export type SingleModelPredict = <In, S, Out>(model: Model, options: PredictOptions<In, S, Out>) => OperatorFunction<In, PredictResult<In, Out>>;

/**
 * `predict` over a `splitModels` split: checks the options once (as `predict` does) and that
 * every variant has the first one's signature, builds one `predict` per variant (unordered, no
 * backpressure of its own) and hands them to `splitInternals`, which routes, restores the order
 * and applies `backpressure` to the records held across all variants.
 */
export function predictSplit<In, S, Out>(split: SplitModels<In>, options: PredictOptions<In, S, Out>, single: SingleModelPredict): OperatorFunction<In, PredictResult<In, Out>> {
  const first = split.variants[0]!.model;
  const config = resolvePredictConfig(first, options, PREDICT_DEFAULTS);
  for (const variant of split.variants) assertSameSignature('predict', `variant "${variant.name}" model`, first, variant.model);
  const select = config.select;
  const inner = innerOptions<In, Routed<In>, S, Out>(options, { ordered: false, select: (routed) => select(routed.input) }, ['backpressure', 'shadow']);
  const variants: VariantOperator<In, Out>[] = split.variants.map((variant) => ({ name: variant.name, operator: single(variant.model, inner) }));
  return (source) => new Observable<PredictResult<In, Out>>((subscriber) => splitInternals(source, subscriber, split, variants, { ordered: config.ordered, backpressure: config.backpressure }));
}

/**
 * The options of a `predict` composed under another (a variant's, the shadow's, the main path's
 * under a shadow): the caller's options — whatever fields they have — with `select` (and maybe
 * `ordered`) replaced for the wrapped element and the fields the outer layer handles removed.
 */
export function innerOptions<In, Inner, S, Out>(
  options: PredictOptions<In, S, Out>,
  replace: Pick<PredictOptions<Inner, S, Out>, 'select'> & Partial<Pick<PredictOptions<Inner, S, Out>, 'ordered' | 'onBatch'>>,
  remove: readonly (keyof PredictOptions<In, S, Out>)[],
): PredictOptions<Inner, S, Out> {
  const copy: Record<string, unknown> = { ...options, ...replace };
  for (const key of remove) delete copy[key];
  return copy as unknown as PredictOptions<Inner, S, Out>;
}
