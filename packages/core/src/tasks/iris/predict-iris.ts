import type { OperatorFunction } from 'rxjs';
import type { ModelSource } from '../../contract/model-source.js';
import type { PredictResult } from '../../contract/result.js';
import type { SplitModels } from '../../engine/split-models.js';
import { predictTask, type PredictTaskOptions } from '../task.js';
import type { IrisInput } from './iris-input.js';
import { IRIS_TASK, type IrisPrediction } from './iris-task.js';

export { IRIS_BATCH, type IrisPrediction } from './iris-task.js';

/** `predictIris`'s options: the shared `PredictTaskOptions`; `select` returns an `IrisInput` (or a promise of one). Batch default: `IRIS_BATCH`. */
export type PredictIrisOptions<In> = PredictTaskOptions<In, IrisInput, IrisPrediction>;

/**
 * Classifies iris flowers from their four measurements in cm. Accepts a CSV string
 * (`"5.4,3.9,1.7,0.4"`), an array of 4 numbers or `{ sepalLength, sepalWidth, petalLength,
 * petalWidth }`; a malformed record gets an `INVALID_INPUT` result naming the field. `model` is a
 * `ModelSource`: a `Model` (e.g. `loadIrisModel()`), the caller's, never disposed here — one that
 * does not take `[?, 4]` and give `[?, 3]` is refused at creation (`INVALID_CONFIG`); or an
 * `Observable<Model>` of versions, each validated (same check + a trial batch) and swapped in
 * between batches, owned and disposed by the operator (see `predict`); or a `splitModels(...)` A/B
 * split of such sources. `shadow.compare` defaults to: the same species, max |Δ probability|.
 *
 * @example
 * const model = await loadIrisModel();
 * from(['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4']).pipe(predictIris(model), values())
 *   .subscribe((p) => console.log(p.species)); // setosa, versicolor
 */
export function predictIris<In = IrisInput>(model: ModelSource | SplitModels<In>, options: PredictIrisOptions<In> = {}): OperatorFunction<In, PredictResult<In, IrisPrediction>> {
  return predictTask(model, IRIS_TASK, options);
}
