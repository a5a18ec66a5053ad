import type { Model } from '../../contract/model.js';
import { DEFAULT_TASK_BATCH, modelMismatch, type Task } from '../task.js';
import type { ShadowAgreement } from '../../engine/shadow.js';
import { decodeKerasBatch, encodeKerasBatch, parseKerasInput, type KerasInput, type KerasOutput, type KerasPrediction, type KerasSample } from './keras-input.js';

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
    compare: compareKeras,
  };
}

function isKerasOutput(value: KerasPrediction): value is KerasOutput {
  return Array.isArray((value as Partial<KerasOutput>).output);
}

function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Shadow default for Keras values: `agree` when every output has the same argmax (the same class
 * for a classifier) and the same length; difference = max |Δ| over every output value.
 */
export function compareKeras(main: KerasPrediction, shadow: KerasPrediction): ShadowAgreement {
  const pairs: [KerasOutput, KerasOutput | undefined][] = isKerasOutput(main)
    ? [[main, isKerasOutput(shadow) ? shadow : undefined]]
    : Object.entries(main).map(([name, out]) => [out, isKerasOutput(shadow) ? undefined : shadow[name]]);
  let agree = true;
  let difference = 0;
  for (const [a, b] of pairs) {
    if (b === undefined || a.output.length !== b.output.length) return { agree: false };
    if (argmax(a.output) !== argmax(b.output)) agree = false;
    for (let i = 0; i < a.output.length; i++) difference = Math.max(difference, Math.abs(a.output[i]! - b.output[i]!));
  }
  return { agree, difference };
}
