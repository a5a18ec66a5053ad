import type { OperatorFunction } from 'rxjs';
import { decodeKerasBatch, encodeKerasBatch, parseKerasInput, type KerasInput, type KerasPrediction, type KerasSample } from './keras-input.js';
import type { Model } from '../../contract/model.js';
import type { PredictResult } from '../../contract/result.js';
import { predict, type PredictOptions } from '../../engine/predict.js';

export interface PredictKerasOptions<In> extends Pick<PredictOptions<In, KerasSample, KerasPrediction>, 'batch' | 'concurrency' | 'selectConcurrency' | 'ordered' | 'backpressure' | 'onBatch'> {
  /** Picks the sample out of each element (may be async); default: the element itself. Throwing fails that record only. */
  readonly select?: (input: In) => KerasInput | PromiseLike<KerasInput>;
}

function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * Runs a Keras model (see `loadKerasModel`) on a stream, one record = one sample. A sample is a
 * `number[]`, `Float32Array`, CSV string or nested arrays in the input's shape — for several
 * inputs an array or an object keyed by input name. The value is `{ output, shape }`, or one
 * such entry per output name for multi-output models. A record of the wrong shape gets an
 * `INVALID_INPUT` result naming expected and actual shape; the rest of the stream goes on.
 *
 * @example
 * const model = await loadKerasModel('simple_mlp.h5');
 * csvLines$.pipe(predictKeras(model), values()).subscribe(({ output }) => console.log(output));
 */
export function predictKeras<In = KerasInput>(model: Model, options: PredictKerasOptions<In> = {}): OperatorFunction<In, PredictResult<In, KerasPrediction>> {
  const pick = options.select ?? ((input: In) => input as unknown as KerasInput);
  return predict<In, KerasSample, KerasPrediction>(model, {
    ...options,
    select: (input) => {
      const picked = pick(input);
      return isThenable(picked) ? Promise.resolve(picked).then((p) => parseKerasInput(p, model.inputs)) : parseKerasInput(picked, model.inputs);
    },
    encode: (samples) => encodeKerasBatch(samples, model.inputs),
    decode: (outputs, samples) => decodeKerasBatch(outputs, samples.length, model),
  });
}
