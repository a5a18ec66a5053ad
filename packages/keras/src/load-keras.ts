import type { LayersModel } from '@tensorflow/tfjs-layers';
import { RxmlError, isRxmlError, type Model, type TensorSpec } from '@rxml/core/contract';
import { contentVersion, describeSource, layersModelFromArtifacts, observedLoad, tfjsRuntime, type Runtime } from '@rxml/core/runtime';
import { readKerasArtifacts, type KerasArtifacts, type KerasArtifactsOptions, type KerasSource } from './artifacts.js';
import { kerasLoadError } from './errors.js';
import { registerResetAfterGRU } from './gru-reset-after.js';

export interface LoadKerasModelOptions extends KerasArtifactsOptions {
  /** Name reported in results; defaults to the Keras model's own name. */
  readonly name?: string;
  /**
   * Which engine runs the model, as a value. Default `tfjsRuntime()`: the active tfjs backend.
   * `onnxRuntime({ intraOpThreads })` from `@rxml/onnx`: the model is converted with `tfjsToOnnx`
   * and runs on ONNX Runtime (layers the converter lacks fail the load with `MODEL_LOAD_ERROR`).
   */
  readonly runtime?: Runtime;
}

/**
 * Builds a tfjs `LayersModel` from converted Keras artifacts. The caller owns it (`dispose()`).
 * Separate from `loadKerasModel` for callers that want tfjs itself, e.g. to inspect layers.
 *
 * Registers rxml's reset-after GRU layer, then builds with core's `layersModelFromArtifacts`: a
 * model whose weights do not fit its topology is disposed instead of leaking its variables, and
 * the model runs once on zeros, because tfjs-layers builds some layers its backends cannot run (it
 * throws only at predict time) and such a model must fail here, not on the first record.
 *
 * @throws RxmlError `MODEL_LOAD_ERROR` (message starts with `Keras model:`).
 */
export async function kerasLayersModel(converted: KerasArtifacts): Promise<LayersModel> {
  registerResetAfterGRU();
  return layersModelFromArtifacts(converted.artifacts, converted.model.modelName).catch((cause: unknown) => {
    throw asKerasError(cause);
  });
}

function asKerasError(cause: unknown): unknown {
  return isRxmlError(cause) && cause.code === 'MODEL_LOAD_ERROR' && !cause.message.startsWith('Keras model:') ? kerasLoadError(cause.message, cause) : cause;
}

function renamed(specs: readonly TensorSpec[], names: readonly string[]): TensorSpec[] {
  return specs.map((spec, i) => ({ ...spec, name: names[i] ?? spec.name }));
}

/**
 * Loads a Keras model saved by Python Keras — a Keras 3 `.keras` archive, a full-model `.h5`
 * from Keras 2.x/tf.keras (or Keras 3's legacy writer), or a weights-only `.h5` with
 * `options.config` — and returns it as an rxml `Model`, no Python involved. The version is a
 * hash of the file's bytes (`contentVersion`). The file may be a path, a `file:` or http(s) URL, or
 * bytes. Unsupported layers or options and corrupt files throw
 * `MODEL_LOAD_ERROR` here, never later as wrong predictions.
 *
 * @example
 * const model = await loadKerasModel('simple_mlp.h5');
 * from([features]).pipe(predictKeras(model), values()).subscribe((p) => console.log(p.output));
 */
export function loadKerasModel(source: KerasSource, options: LoadKerasModelOptions = {}): Promise<Model> {
  return observedLoad('keras', options.name ?? describeSource(source), (countBytes) => loadKeras(source, options, countBytes));
}

async function loadKeras(source: KerasSource, options: LoadKerasModelOptions, countBytes: (bytes: number) => void): Promise<Model> {
  const runtime = options.runtime ?? tfjsRuntime();
  const converted = await readKerasArtifacts(source, options);
  countBytes(converted.bytes.byteLength);
  // The tfjs topology may name rxml's reset-after GRU class; any runtime that builds it needs it.
  registerResetAfterGRU();
  const identity = { name: options.name ?? converted.model.modelName, version: contentVersion(converted.bytes) };
  let model: Model;
  try {
    model = await runtime.open({ format: 'tfjs', modelType: 'layers-model', artifacts: converted.artifacts }, identity, { source: describeSource(source) });
  } catch (cause) {
    throw asKerasError(cause);
  }
  if (model.inputs.length !== converted.model.inputNames.length || model.outputs.length !== converted.model.outputNames.length) {
    model.dispose();
    throw new RxmlError('MODEL_LOAD_ERROR', `Keras model '${converted.model.modelName}': ${runtime.name} built a model with different inputs/outputs than the Keras config`);
  }
  // Report Keras's names, not the ones rewritten for tfjs.
  return { ...model, inputs: renamed(model.inputs, converted.model.inputNames), outputs: renamed(model.outputs, converted.model.outputNames) };
}
