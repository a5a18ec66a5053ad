import { isObservable, type Observable } from 'rxjs';
import type { Model } from './model.js';

/**
 * What an operator (`predict`, `predictIris`, `predictImage`, `predictKeras`, `predictTask`) runs
 * on: one `Model`, or an `Observable<Model>` that emits new versions while the stream runs (from
 * `watchModel`, `pollModel`, `modelsFromKafka` or your own). With an observable, the operator
 * waits for the first model before its first model call, validates each later one off the hot path
 * and swaps it in between batches; it owns every model the observable emits (it disposes a
 * replaced model after its last call returns, a refused one at once, the current one when the
 * stream ends). A plain `Model` stays the caller's and is never disposed by the operator.
 */
export type ModelSource = Model | Observable<Model>;

/** True for an `Observable<Model>` (a model source that emits versions), false for a plain `Model`. */
export function isModelStream(source: ModelSource): source is Observable<Model> {
  return isObservable(source);
}
