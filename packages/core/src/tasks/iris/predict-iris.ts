import type { OperatorFunction } from 'rxjs';
import { IRIS_SPECIES, parseIrisInput, type IrisInput, type IrisSpecies } from './iris-input.js';
import type { Model } from '../../contract/model.js';
import type { PredictResult } from '../../contract/result.js';
import { predict, type PredictOptions } from '../../engine/predict.js';

export interface IrisPrediction {
  readonly species: IrisSpecies;
  readonly probabilities: Readonly<Record<IrisSpecies, number>>;
}

export interface PredictIrisOptions<In> extends Pick<PredictOptions<In, IrisInput, IrisPrediction>, 'batch' | 'concurrency' | 'ordered' | 'backpressure' | 'onBatch'> {
  /** Picks the measurements out of each element; default: the element itself. */
  readonly select?: (input: In) => IrisInput;
}

type Row = readonly [number, number, number, number];

/**
 * The Iris family's batching policy: a 4-16-3 MLP costs almost nothing per record and ~50 µs per
 * call (tfjs-wasm; PERF-FACTS.md: ~1M samples/s at batch 256 vs 20–30k at batch 1), so batches fill
 * up to 256 records under load; at low load the 5 ms window closes them first, as before.
 */
export const IRIS_BATCH = Object.freeze({ size: 256, maxLatencyMs: 5 });

/**
 * Classifies iris flowers from their four measurements in cm. Accepts a CSV string
 * (`"5.4,3.9,1.7,0.4"`), an array of 4 numbers or `{ sepalLength, sepalWidth, petalLength,
 * petalWidth }`; a malformed record gets an `INVALID_INPUT` result naming the field. The model is
 * the caller's (e.g. `loadIrisModel()`); this operator never disposes it.
 *
 * @example
 * const model = await loadIrisModel();
 * from(['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4']).pipe(predictIris(model), values())
 *   .subscribe((p) => console.log(p.species)); // setosa, versicolor
 */
export function predictIris<In = IrisInput>(model: Model, options: PredictIrisOptions<In> = {}): OperatorFunction<In, PredictResult<In, IrisPrediction>> {
  const pick = options.select ?? ((input: In) => input as unknown as IrisInput);
  return predict<In, Row, IrisPrediction>(model, {
    ...options,
    batch: options.batch ?? IRIS_BATCH,
    select: (input) => parseIrisInput(pick(input)),
    encode: (rows) => {
      const data = new Float32Array(rows.length * 4);
      rows.forEach((row, i) => data.set(row, i * 4));
      return { data, shape: [rows.length, 4] };
    },
    decode: ([probabilities], rows) =>
      rows.map((_, i) => {
        const p = probabilities!.data.subarray(i * 3, i * 3 + 3);
        const best = p[0]! >= p[1]! ? (p[0]! >= p[2]! ? 0 : 2) : p[1]! >= p[2]! ? 1 : 2;
        return { species: IRIS_SPECIES[best], probabilities: { setosa: p[0]!, versicolor: p[1]!, virginica: p[2]! } };
      }),
  });
}
