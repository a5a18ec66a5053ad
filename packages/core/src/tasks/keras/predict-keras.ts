import type { OperatorFunction } from 'rxjs';
import type { Model } from '../../contract/model.js';
import type { PredictResult } from '../../contract/result.js';
import type { ModelSource } from '../../contract/model-source.js';
import type { SplitModels } from '../../engine/split-models.js';
import { predictFamily, DEFAULT_TASK_BATCH, type PredictTaskOptions } from '../task.js';
import { RxmlError } from '../../contract/errors.js';
import type { KerasInput, KerasOutput, KerasPrediction } from './keras-input.js';
import { kerasTask } from './keras-task.js';

/** `predictKeras`'s options: the shared `PredictTaskOptions`; `select` returns a `KerasInput` (or a promise of one). */
export type PredictKerasOptions<In> = PredictTaskOptions<In, KerasInput, KerasPrediction> & {
  /**
   * The shape of each value, for the types: `'single'` — the model has one output and each value is
   * that `KerasOutput`; `'named'` — one `KerasOutput` per output name. Checked against the model when
   * the operator is created (`INVALID_CONFIG` if it does not match; with a model stream, each
   * version that does not match is refused). Unset: `KerasPrediction`, the union of both.
   */
  readonly outputs?: 'single' | 'named';
};

/**
 * Runs a Keras model (see `loadKerasModel` in `@rxml/keras`) on a stream, one record = one sample.
 * A sample is a `number[]`, `Float32Array`, CSV string or nested arrays in the input's shape — for
 * several inputs an array or an object keyed by input name. The value is `{ output, shape }`, or
 * one such entry per output name for multi-output models. A record of the wrong shape gets an
 * `INVALID_INPUT` result naming expected and actual shape; the rest of the stream goes on.
 * `model` is a `ModelSource`: a `Model` (the caller's) or an `Observable<Model>` of versions; with
 * a stream, samples are read and outputs named by the first version's signature, and a later
 * version must have the same one (else it is refused; see `predict` for swapping and ownership).
 * `model` may also be a `splitModels(...)` A/B split (variants of one signature); `shadow.compare`
 * defaults to: the same argmax per output, max |Δ| of the values.
 *
 * @example
 * const model = await loadKerasModel('simple_mlp.h5');
 * csvLines$.pipe(predictKeras(model), values()).subscribe(({ output }) => console.log(output));
 */
export function predictKeras<In = KerasInput>(model: ModelSource | SplitModels<In>, options: PredictKerasOptions<In> & { readonly outputs: 'single' }): OperatorFunction<In, PredictResult<In, KerasOutput>>;
export function predictKeras<In = KerasInput>(model: ModelSource | SplitModels<In>, options: PredictKerasOptions<In> & { readonly outputs: 'named' }): OperatorFunction<In, PredictResult<In, Readonly<Record<string, KerasOutput>>>>;
export function predictKeras<In = KerasInput>(model: ModelSource | SplitModels<In>, options?: PredictKerasOptions<In>): OperatorFunction<In, PredictResult<In, KerasPrediction>>;
export function predictKeras<In = KerasInput>(model: ModelSource | SplitModels<In>, options: PredictKerasOptions<In> = {}): OperatorFunction<In, PredictResult<In, KerasPrediction>> {
  const { outputs, ...rest } = options;
  if (outputs !== undefined && outputs !== 'single' && outputs !== 'named') throw new RxmlError('INVALID_CONFIG', `predictKeras: outputs must be 'single' or 'named', got ${String(outputs)}`);
  const checkOutputs = (candidate: Model): void => {
    if (outputs !== undefined && (outputs === 'single') !== (candidate.outputs.length === 1)) {
      throw new RxmlError('INVALID_CONFIG', `predictKeras: outputs: '${outputs}' but model ${candidate.name} has ${candidate.outputs.length} output(s) (${candidate.outputs.map((o) => o.name).join(', ')})`);
    }
  };
  return predictFamily(model, { name: 'predictKeras', batch: DEFAULT_TASK_BATCH, fromFirstModel: true }, (m) => {
    const task = kerasTask(m);
    return {
      ...task,
      validate(candidate) {
        checkOutputs(candidate);
        task.validate(candidate);
      },
    };
  }, rest);
}
