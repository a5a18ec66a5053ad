import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RxmlError, toRxmlError } from '../errors.js';
import type { Model } from '../model/model.js';
import { IMAGE_MODEL_CATALOG, type Normalization } from './catalog.js';
import { ensureCachedModel, type ModelCacheOptions } from './model-cache.js';
import { loadModel } from '../model/load-model.js';

/** A loaded image classifier: the runtime-neutral model plus what `predictImage` needs to feed it. */
export interface ImageModel {
  readonly model: Model;
  /** Square input side in pixels. */
  readonly inputSize: number;
  readonly normalization: Normalization;
  /** Class names in output order. */
  readonly labels: readonly string[];
  /** Frees the model's weights. */
  dispose(): void;
}

/** Your own tfjs model directory (with `model.json`) and how to feed it. */
export interface ImageModelSpec {
  /** Directory holding `model.json` and its weight files. */
  readonly path: string;
  readonly inputSize: number;
  readonly normalization: Normalization;
  /** Class names in output order, or the path of a file with one per line. */
  readonly labels: readonly string[] | string;
}

export type LoadImageModelOptions = ModelCacheOptions;

/**
 * Loads a catalog model by name (downloading and verifying it into the cache on first use) or a
 * local tfjs model directory described by a spec.
 *
 * @example
 * const mobilenet = await loadImageModel('mobilenet_v1_0.75_224');
 * images$.pipe(predictImage(mobilenet, { topK: 3 }));
 */
export async function loadImageModel(
  nameOrSpec: string | ImageModelSpec,
  options: LoadImageModelOptions = {},
): Promise<ImageModel> {
  if (typeof nameOrSpec === 'string') {
    const entry = IMAGE_MODEL_CATALOG[nameOrSpec];
    if (entry === undefined) {
      throw new RxmlError(
        'MODEL_LOAD_ERROR',
        `unknown image model ${JSON.stringify(nameOrSpec)}; known: ${Object.keys(IMAGE_MODEL_CATALOG).join(', ')}`,
      );
    }
    const dir = await ensureCachedModel(entry, options);
    return assemble(dir, entry.inputSize, entry.normalization, join(dir, entry.labelsFile), entry.name);
  }
  return assemble(resolve(nameOrSpec.path), nameOrSpec.inputSize, nameOrSpec.normalization, nameOrSpec.labels);
}

async function assemble(
  dir: string,
  inputSize: number,
  normalization: Normalization,
  labelsOrFile: readonly string[] | string,
  name?: string,
): Promise<ImageModel> {
  if (!Number.isInteger(inputSize) || inputSize <= 0) {
    throw new RxmlError('MODEL_LOAD_ERROR', `inputSize must be a positive integer, got ${inputSize}`);
  }
  const labels = typeof labelsOrFile === 'string' ? await readLabels(labelsOrFile) : [...labelsOrFile];
  let model: Model;
  try {
    model = await loadModel(dir, name === undefined ? {} : { name });
  } catch (error) {
    throw toRxmlError(error, 'MODEL_LOAD_ERROR', `cannot load model from ${dir}`);
  }
  const check = checkShapes(model, inputSize, labels.length);
  if (check !== undefined) {
    model.dispose();
    throw new RxmlError('MODEL_LOAD_ERROR', `${dir}: ${check}`);
  }
  return { model, inputSize, normalization, labels, dispose: () => model.dispose() };
}

async function readLabels(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split(/\r?\n/).filter((line) => line.trim() !== '');
  } catch (error) {
    throw toRxmlError(error, 'MODEL_LOAD_ERROR', `cannot read labels ${file}`);
  }
}

function checkShapes(model: Model, inputSize: number, classes: number): string | undefined {
  const input = model.inputs[0];
  const output = model.outputs[0];
  if (model.inputs.length !== 1 || input === undefined || output === undefined) {
    return 'an image model needs exactly one input';
  }
  const [, h, w, c] = input.shape;
  if (input.shape.length !== 4 || (h !== null && h !== inputSize) || (w !== null && w !== inputSize) || c !== 3) {
    return `input shape [${input.shape.join(', ')}] does not take ${inputSize}x${inputSize} RGB images`;
  }
  const last = output.shape[output.shape.length - 1];
  if (output.shape.length !== 2 || last !== classes) {
    return `output shape [${output.shape.join(', ')}] does not match ${classes} labels`;
  }
  return undefined;
}
