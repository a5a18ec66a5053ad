import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { RxmlError, invalidConfig, toRxmlError } from '../../contract/errors.js';
import { CHANNELS, publish } from '../../contract/diagnostics.js';
import type { Model } from '../../contract/model.js';
import { IMAGE_MODEL_CATALOG, type Normalization } from './catalog.js';
import { imageSignatureProblem } from './image-signature.js';
import { ensureCachedModel, type ModelCacheOptions } from './model-cache.js';
import { loadTfjsModel, type LoadModelOptions } from '../../formats/tfjs/load-model.js';
import type { Runtime } from '../../runtimes/runtime.js';

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

export interface LoadImageModelOptions extends ModelCacheOptions {
  /**
   * Which engine runs the model, as a value: `tfjsRuntime()` (default, the active tfjs backend) or
   * e.g. `onnxRuntime({ intraOpThreads })` from `@rxml/onnx` (the LayersModel converted and run on
   * ONNX Runtime).
   */
  readonly runtime?: Runtime;
}

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
  const started = performance.now();
  const name = typeof nameOrSpec === 'string' ? nameOrSpec : nameOrSpec.path;
  const bytes = typeof nameOrSpec === 'string' ? (IMAGE_MODEL_CATALOG[nameOrSpec]?.files.reduce((sum, f) => sum + f.bytes, 0) ?? 0) : 0;
  try {
    const loaded = await loadImageModelUnobserved(nameOrSpec, options);
    const { model } = loaded;
    publish(CHANNELS.modelLoad, () => ({ name: model.name, version: model.version, runtime: model.runtime, format: 'tfjs', durationMs: performance.now() - started, bytes, ok: true }));
    return loaded;
  } catch (error) {
    publish(CHANNELS.modelLoad, () => ({ name, durationMs: performance.now() - started, bytes, ok: false, error: toRxmlError(error, 'MODEL_LOAD_ERROR') }));
    throw error;
  }
}

async function loadImageModelUnobserved(nameOrSpec: string | ImageModelSpec, options: LoadImageModelOptions): Promise<ImageModel> {
  if (typeof nameOrSpec === 'string') {
    const entry = IMAGE_MODEL_CATALOG[nameOrSpec];
    if (entry === undefined) {
      throw new RxmlError(
        'MODEL_LOAD_ERROR',
        `unknown image model ${JSON.stringify(nameOrSpec)}; known: ${Object.keys(IMAGE_MODEL_CATALOG).join(', ')}`,
      );
    }
    const dir = await ensureCachedModel(entry, options);
    return assemble(dir, entry.inputSize, entry.normalization, join(dir, entry.labelsFile), runtimeOptions(options, entry.name));
  }
  return assemble(resolve(nameOrSpec.path), nameOrSpec.inputSize, nameOrSpec.normalization, nameOrSpec.labels, runtimeOptions(options));
}

async function assemble(
  dir: string,
  inputSize: number,
  normalization: Normalization,
  labelsOrFile: readonly string[] | string,
  loadOptions: LoadModelOptions,
): Promise<ImageModel> {
  if (!Number.isInteger(inputSize) || inputSize <= 0) {
    throw invalidConfig('loadImageModel', 'inputSize', 'a positive integer', inputSize);
  }
  const badNormalization = invalidNormalization(normalization);
  if (badNormalization !== undefined) throw new RxmlError('INVALID_CONFIG', `loadImageModel: ${badNormalization}`);
  const labels = typeof labelsOrFile === 'string' ? await readLabels(labelsOrFile) : [...labelsOrFile];
  let model: Model;
  try {
    model = await loadTfjsModel(dir, loadOptions);
  } catch (error) {
    throw toRxmlError(error, 'MODEL_LOAD_ERROR', `cannot load model from ${dir}`);
  }
  const check = imageSignatureProblem(model, inputSize, labels.length);
  if (check !== undefined) {
    model.dispose();
    throw new RxmlError('MODEL_LOAD_ERROR', `${dir}: ${check}`);
  }
  return { model, inputSize, normalization, labels, dispose: () => model.dispose() };
}

function runtimeOptions(options: LoadImageModelOptions, name?: string): LoadModelOptions {
  return {
    ...(name === undefined ? {} : { name }),
    ...(options.runtime === undefined ? {} : { runtime: options.runtime }),
  };
}

async function readLabels(file: string): Promise<string[]> {
  try {
    // Line n is class n: only the trailing newline(s) go, a blank line inside would shift every class.
    return (await readFile(file, 'utf8')).replace(/(\r?\n)+$/, '').split(/\r?\n/);
  } catch (error) {
    throw toRxmlError(error, 'MODEL_LOAD_ERROR', `cannot read labels ${file}`);
  }
}

function invalidNormalization(n: Normalization): string | undefined {
  if ('scale' in n) {
    return Number.isFinite(n.scale) && Number.isFinite(n.offset) ? undefined : 'normalization scale and offset must be finite numbers';
  }
  const ok = n.mean.length === 3 && n.std.length === 3 && n.mean.every(Number.isFinite) && n.std.every((s) => Number.isFinite(s) && s !== 0);
  return ok ? undefined : 'normalization needs 3 finite means and 3 finite, non-zero standard deviations';
}

