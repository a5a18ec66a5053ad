import type { OperatorFunction } from 'rxjs';
import type { Model } from '../../contract/model.js';
import type { SplitModels } from '../../engine/split-models.js';
import type { PredictResult } from '../../contract/result.js';
import { predictTask, type PredictTaskOptions } from '../task.js';
import type { IrisInput } from './iris-input.js';
import { IRIS_TASK, type IrisPrediction } from './iris-task.js';

export { IRIS_BATCH, type IrisPrediction } from './iris-task.js';

/** `predictIris`'s options: the shared `PredictTaskOptions`; `select` returns an `IrisInput` (or a promise of one). Batch default: `IRIS_BATCH`. */
export type PredictIrisOptions<In> = PredictTaskOptions<In, IrisInput, IrisPrediction>;

/**
 * Classifies iris flowers from their four measurements in cm. Accepts a CSV string
 * (`"5.4,3.9,1.7,0.4"`), an array of 4 numbers or `{ sepalLength, sepalWidth, petalLength,
 * petalWidth }`; a malformed record gets an `INVALID_INPUT` result naming the field. The model is
 * the caller's (e.g. `loadIrisModel()`); this operator never disposes it. A model that does not
 * take `[?, 4]` and give `[?, 3]` is refused at creation (`INVALID_CONFIG`). `model` may be a
 * `splitModels(...)` A/B split; `shadow.compare` defaults to: same species, max |Δ probability|.
 *
 * @example
 * const model = await loadIrisModel();
 * from(['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4']).pipe(predictIris(model), values())
 *   .subscribe((p) => console.log(p.species)); // setosa, versicolor
 */
export function predictIris<In = IrisInput>(model: Model | SplitModels<In>, options: PredictIrisOptions<In> = {}): OperatorFunction<In, PredictResult<In, IrisPrediction>> {
  return predictTask(model, IRIS_TASK, options);
}
