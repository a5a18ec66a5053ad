import { filter, map, type OperatorFunction } from 'rxjs';
import type { PredictFailure, PredictResult } from '../contract/result.js';

/**
 * Keeps the values of successful predictions and drops failures — for pipelines that log or route
 * failures elsewhere (see `failures()`), or do not care.
 *
 * @example
 * records$.pipe(predictIris(model), values()).subscribe((v) => console.log(v.species));
 */
export function values<In, Out>(): OperatorFunction<PredictResult<In, Out>, Out> {
  return (source) =>
    source.pipe(
      filter((r): r is Extract<PredictResult<In, Out>, { ok: true }> => r.ok),
      map((r) => r.value),
    );
}

/**
 * Keeps only the failures, each with its input and typed `RxmlError`.
 *
 * @example
 * results$.pipe(failures()).subscribe((f) => console.warn(f.error.code, f.error.message));
 */
export function failures<In, Out>(): OperatorFunction<PredictResult<In, Out>, PredictFailure<In>> {
  return filter((r): r is PredictFailure<In> => !r.ok);
}
