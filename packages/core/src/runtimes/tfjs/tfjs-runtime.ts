import { dispose, io, tidy, zeros } from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { models, type LayersModel } from '@tensorflow/tfjs-layers';
import { RxmlError } from '../../contract/errors.js';
import type { Model, ModelIdentity } from '../../contract/model.js';
import type { ModelArtifacts, OpenOptions, Runtime, TfjsArtifacts } from '../runtime.js';
import { activeBackend } from './backend.js';
import { tfjsModel } from './tfjs-model.js';

function message(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * Builds a tfjs `LayersModel` from layers-model artifacts. The caller owns it (`dispose()`).
 *
 * Does what `tf.loadLayersModel(tf.io.fromMemory(artifacts))` does, in two steps, so that a
 * model whose weights do not fit its topology is disposed instead of leaking its variables; then
 * runs it once on zeros (a warm-up), because tfjs-layers builds some layers its backends cannot
 * run (it throws only at predict time) and such a model must fail here, not on the first record.
 * The trial run is skipped when an input has a free dimension besides the batch.
 *
 * @param name the model's name, for error messages.
 * @throws RxmlError `MODEL_LOAD_ERROR`: the topology does not build, the weights do not fit, or tfjs
 *   cannot run the model.
 */
export async function layersModelFromArtifacts(artifacts: TfjsArtifacts['artifacts'], name: string): Promise<LayersModel> {
  await activeBackend();
  const what = `tfjs-layers could not build model '${name}'`;
  let network: LayersModel;
  try {
    network = await models.modelFromJSON({ modelTopology: artifacts.modelTopology as Parameters<typeof models.modelFromJSON>[0]["modelTopology"] });
  } catch (cause) {
    throw new RxmlError('MODEL_LOAD_ERROR', `${what}: ${message(cause)}`, { cause });
  }
  let weights: ReturnType<typeof io.decodeWeights> | undefined;
  try {
    weights = io.decodeWeights(artifacts.weightData, artifacts.weightSpecs);
    network.loadWeights(weights, true);
  } catch (cause) {
    network.dispose();
    throw new RxmlError('MODEL_LOAD_ERROR', `${what}: the file's weights do not fit its layers: ${message(cause)}`, { cause });
  } finally {
    if (weights !== undefined) dispose(weights);
  }
  try {
    trialRun(network);
  } catch (cause) {
    network.dispose();
    throw new RxmlError('MODEL_LOAD_ERROR', `tfjs cannot run model '${name}': ${message(cause)}`, { cause });
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

/**
 * The TensorFlow.js runtime: runs tfjs artifacts (from `model.json` or a Keras file) on the active
 * tfjs backend (tfjs-node, wasm or cpu; see `initBackend`). The opened model's `runtime` is
 * `tfjs-<backend>`, e.g. `tfjs-wasm`. It cannot run ONNX bytes (use `onnxRuntime()` from
 * `@rxml/onnx`). The default runtime of every loader.
 */
export function tfjsRuntime(): Runtime {
  return TFJS_RUNTIME;
}

const TFJS_RUNTIME: Runtime = {
  name: 'tfjs',
  async open(artifacts: ModelArtifacts, identity: ModelIdentity, options: OpenOptions = {}): Promise<Model> {
    if (artifacts.format !== 'tfjs') {
      throw new RxmlError('MODEL_LOAD_ERROR', `the tfjs runtime cannot open ${artifacts.format} artifacts${options.source === undefined ? '' : ` (${options.source})`}; open them with onnxRuntime() from @rxml/onnx`);
    }
    const backend = await activeBackend();
    const network =
      artifacts.modelType === 'graph-model'
        ? await loadGraphModel(io.fromMemory(artifacts.artifacts)).catch((cause: unknown) => {
            throw new RxmlError('MODEL_LOAD_ERROR', `tfjs-converter could not build graph model '${identity.name}': ${message(cause)}`, { cause });
          })
        : await layersModelFromArtifacts(artifacts.artifacts, identity.name);
    return tfjsModel(network, identity, `tfjs-${backend.name}`);
  },
};
