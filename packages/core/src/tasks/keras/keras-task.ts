import type { Model } from '../../contract/model.js';
import { DEFAULT_TASK_BATCH, modelMismatch, type Task } from '../task.js';
import { decodeKerasBatch, encodeKerasBatch, parseKerasInput, type KerasInput, type KerasPrediction, type KerasSample } from './keras-input.js';

/**
 * The Keras task for one model: any number of inputs and outputs, shapes from the model's own
 * signature. A record's sample (array, typed array, CSV, nested arrays; an array or an object by
 * input name for several inputs) is checked against `model.inputs`; outputs come back as
 * `{ output, shape }`, or one such entry per output name. Batch default: the engine's (32 records,
 * 5 ms): a Keras model's cost per record is unknown here.
 */
export function kerasTask(model: Model): Task<KerasInput, KerasSample, KerasPrediction> {
  return {
    name: 'predictKeras',
    batch: DEFAULT_TASK_BATCH,
    validate(candidate) {
      if (candidate.inputs.length === 0 || candidate.outputs.length === 0) {
        throw modelMismatch('predictKeras', candidate, `a model needs at least one input and one output, this one has ${candidate.inputs.length} and ${candidate.outputs.length}`);
      }
    },
    parse: (raw) => parseKerasInput(raw, model.inputs),
    encode: (samples) => encodeKerasBatch(samples, model.inputs),
    decode: (outputs, samples) => decodeKerasBatch(outputs, samples.length, model),
  };
}
