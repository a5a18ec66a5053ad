import { createHash } from 'node:crypto';
import { dispose, io, tidy, zeros } from '@tensorflow/tfjs-core';
import { models, type LayersModel } from '@tensorflow/tfjs-layers';
import { RxmlError } from '../contract/errors.js';
import type { Model, TensorSpec } from '../contract/model.js';
import { tfjsModel } from '../runtimes/tfjs/tfjs-model.js';
import type { OnnxSessionOptions } from '../onnx/onnx-model.js';
import { toOnnxModel } from '../onnx/to-onnx-model.js';
import { activeBackend } from '../runtimes/tfjs/backend.js';
import { readKerasArtifacts, type KerasArtifacts, type KerasArtifactsOptions, type KerasSource } from './artifacts.js';
import { kerasLoadError } from './errors.js';
import { registerResetAfterGRU } from './gru-reset-after.js';

export interface LoadKerasModelOptions extends KerasArtifactsOptions {
  /** Name reported in results; defaults to the Keras model's own name. */
  readonly name?: string;
  /**
   * Which engine runs the model. `'tfjs'` (default): the active tfjs backend. `'onnx'`: the
   * loaded model is converted with `tfjsToOnnx` and runs on ONNX Runtime (needs the optional peer
   * `onnxruntime-node`; layers the converter lacks fail the load with `MODEL_LOAD_ERROR`).
   */
  readonly runtime?: 'tfjs' | 'onnx';
  /** ONNX Runtime session options for `runtime: 'onnx'`. */
  readonly onnx?: OnnxSessionOptions;
}

/**
 * Builds a tfjs `LayersModel` from converted Keras artifacts. The caller owns it (`dispose()`).
 * Separate from `loadKerasModel` for callers that want tfjs itself, e.g. to inspect layers.
 *
 * Does what `tf.loadLayersModel(tf.io.fromMemory(artifacts))` does, in two steps, so that a
 * model whose weights do not fit its topology is disposed instead of leaking its variables; then
 * runs it once on zeros, because tfjs-layers builds some layers its backends cannot run (it
 * throws only at predict time) and such a model must fail here, not on the first record.
 */
export async function kerasLayersModel(converted: KerasArtifacts): Promise<LayersModel> {
  const what = `tfjs-layers could not build model '${converted.model.modelName}'`;
  let network: LayersModel;
  registerResetAfterGRU();
  try {
    network = await models.modelFromJSON({ modelTopology: converted.model.topology });
  } catch (cause) {
    throw kerasLoadError(`${what}: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  let weights: ReturnType<typeof io.decodeWeights> | undefined;
  try {
    weights = io.decodeWeights(converted.artifacts.weightData, converted.artifacts.weightSpecs);
    network.loadWeights(weights, true);
  } catch (cause) {
    network.dispose();
    throw kerasLoadError(`${what}: the file's weights do not fit its layers: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  } finally {
    if (weights !== undefined) dispose(weights);
  }
  try {
    trialRun(network);
  } catch (cause) {
    network.dispose();
    throw kerasLoadError(`tfjs cannot run model '${converted.model.modelName}': ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  return network;
}

/** One prediction on a zero sample; skipped when an input has a free dimension besides the batch. */
function trialRun(network: LayersModel): void {
  const shapes = network.inputs.map((input) => input.shape.slice(1));
  if (shapes.some((shape) => shape.some((d) => d === null))) return;
  tidy(() => {
    const xs = network.inputs.map((input, i) => zeros([1, ...(shapes[i] as number[])], input.dtype));
    network.predict(xs.length === 1 ? xs[0]! : xs, { batchSize: 1 });
  });
}

function renamed(specs: readonly TensorSpec[], names: readonly string[]): TensorSpec[] {
  return specs.map((spec, i) => ({ ...spec, name: names[i] ?? spec.name }));
}

/**
 * Loads a Keras model saved by Python Keras — a Keras 3 `.keras` archive, a full-model `.h5`
 * from Keras 2.x/tf.keras (or Keras 3's legacy writer), or a weights-only `.h5` with
 * `options.config` — and returns it as an rxml `Model`, no Python involved. The version is a
 * hash of the file's bytes. Unsupported layers or options and corrupt files throw
 * `MODEL_LOAD_ERROR` here, never later as wrong predictions.
 *
 * @example
 * const model = await loadKerasModel('simple_mlp.h5');
 * from([features]).pipe(predictKeras(model), values()).subscribe((p) => console.log(p.output));
 */
export async function loadKerasModel(source: KerasSource, options: LoadKerasModelOptions = {}): Promise<Model> {
  const backend = await activeBackend();
  const converted = await readKerasArtifacts(source, options);
  const network = await kerasLayersModel(converted);
  const version = createHash('sha256').update(converted.bytes).digest('hex').slice(0, 16);
  const identity = { name: options.name ?? converted.model.modelName, version };
  let model: Model;
  if (options.runtime === 'onnx') {
    try {
      model = await toOnnxModel(network, identity, options.onnx ?? {});
    } finally {
      // The ONNX model holds its own copy of the weights.
      network.dispose();
    }
  } else {
    model = tfjsModel(network, identity, `tfjs-${backend.name}`);
  }
  if (model.inputs.length !== converted.model.inputNames.length || model.outputs.length !== converted.model.outputNames.length) {
    model.dispose();
    throw new RxmlError('MODEL_LOAD_ERROR', `Keras model '${converted.model.modelName}': tfjs built a model with different inputs/outputs than the Keras config`);
  }
  // Report Keras's names, not the ones rewritten for tfjs.
  return { ...model, inputs: renamed(model.inputs, converted.model.inputNames), outputs: renamed(model.outputs, converted.model.outputNames) };
}
