import type { OperatorFunction } from 'rxjs';
import type { Model } from '../../contract/model.js';
import type { PredictResult } from '../../contract/result.js';
import { predictTask, type PredictTaskOptions } from '../task.js';
import type { KerasInput, KerasPrediction } from './keras-input.js';
import { kerasTask } from './keras-task.js';

/** `predictKeras`'s options: the shared `PredictTaskOptions`; `select` returns a `KerasInput` (or a promise of one). */
export type PredictKerasOptions<In> = PredictTaskOptions<In, KerasInput>;

/**
 * Runs a Keras model (see `loadKerasModel` in `@rxml/keras`) on a stream, one record = one sample.
 * A sample is a `number[]`, `Float32Array`, CSV string or nested arrays in the input's shape — for
 * several inputs an array or an object keyed by input name. The value is `{ output, shape }`, or
 * one such entry per output name for multi-output models. A record of the wrong shape gets an
 * `INVALID_INPUT` result naming expected and actual shape; the rest of the stream goes on.
 *
 * @example
 * const model = await loadKerasModel('simple_mlp.h5');
 * csvLines$.pipe(predictKeras(model), values()).subscribe(({ output }) => console.log(output));
 */
export function predictKeras<In = KerasInput>(model: Model, options: PredictKerasOptions<In> = {}): OperatorFunction<In, PredictResult<In, KerasPrediction>> {
  return predictTask(model, kerasTask(model), options);
}
