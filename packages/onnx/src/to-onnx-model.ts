import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { Model, ModelIdentity } from '@rxml/core/contract';
import { onnxBytesModel, type OnnxSessionOptions } from './onnx-model.js';
import { tfjsToOnnx } from './tfjs-to-onnx.js';

/**
 * Runs a loaded tfjs `LayersModel` on ONNX Runtime: converts it with `tfjsToOnnx` and opens an ORT
 * session on the result. This is the `runtime: 'onnx'` path of the model loaders. The returned
 * `Model` takes and returns the same tensors (names, shapes, channels-last) as `tfjsModel` would.
 *
 * The tfjs model is only read: the caller still owns it and may dispose it as soon as this
 * resolves; the ONNX model keeps its own copy of the weights, freed by its `dispose()`.
 * Rejects with `MODEL_LOAD_ERROR` naming the first unsupported layer, or with
 * `BACKEND_UNAVAILABLE` when `onnxruntime-node` is not installed.
 *
 * @example
 * const network = await tf.loadLayersModel(handler);
 * const model = await toOnnxModel(network, { name: 'mobilenet', version: 'abc123' }, { intraOpThreads: 2 });
 * network.dispose();
 */
export async function toOnnxModel(layersModel: LayersModel, identity: ModelIdentity, options: OnnxSessionOptions = {}): Promise<Model> {
  const bytes = await tfjsToOnnx(layersModel);
  return onnxBytesModel(bytes, { name: identity.name, version: identity.version }, options);
}
