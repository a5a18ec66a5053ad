import type { Model } from '../../contract/model.js';
import { shapeText } from '../task.js';

/**
 * Why a model cannot serve as an image classifier of `inputSize`² RGB pixels and `classes` labels,
 * or `undefined` when it can: one `[?, inputSize, inputSize, 3]` input (free sides accepted) and a
 * `[?, classes]` first output. Used at load (`loadImageModel`) and by the task's `validate`.
 */
export function imageSignatureProblem(model: Model, inputSize: number, classes: number): string | undefined {
  const input = model.inputs[0];
  const output = model.outputs[0];
  if (model.inputs.length !== 1 || input === undefined || output === undefined) {
    return 'an image model needs exactly one input';
  }
  const [, h, w, c] = input.shape;
  if (input.shape.length !== 4 || (h !== null && h !== inputSize) || (w !== null && w !== inputSize) || c !== 3) {
    return `input shape ${shapeText(input)} does not take ${inputSize}x${inputSize} RGB images`;
  }
  const last = output.shape[output.shape.length - 1];
  if (output.shape.length !== 2 || last !== classes) {
    return `output shape ${shapeText(output)} does not match ${classes} labels`;
  }
  return undefined;
}
