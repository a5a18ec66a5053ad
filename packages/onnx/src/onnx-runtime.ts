import { RxmlError, type Model, type ModelIdentity } from '@rxml/core/contract';
import { layersModelFromArtifacts, type ModelArtifacts, type OpenOptions, type Runtime } from '@rxml/core/runtime';
import { onnxBytesModel, type OnnxSessionOptions } from './onnx-model.js';
import { toOnnxModel } from './to-onnx-model.js';

/**
 * The ONNX Runtime runtime (CPU, `onnxruntime-node`), as a value for any loader's `runtime` option:
 *
 * - ONNX artifacts (`.onnx` bytes) open as they are;
 * - tfjs layers-model artifacts (a `model.json` LayersModel, a Keras file) are converted with
 *   `tfjsToOnnx` first; the tfjs network built for the conversion is disposed before this
 *   resolves, the ONNX session keeps its own copy of the weights. Layers the converter lacks fail
 *   the load with `MODEL_LOAD_ERROR` naming the layer. tfjs graph models are refused (export them
 *   to ONNX with tf2onnx and load the `.onnx`).
 *
 * Opened models report `runtime: 'onnxruntime'`, and take and return the same tensors (names,
 * shapes, channels-last) as the tfjs runtime would. Without `onnxruntime-node` installed, `open`
 * rejects with `BACKEND_UNAVAILABLE`.
 *
 * @example
 * const model = await loadModel('./models/iris', { runtime: onnxRuntime({ intraOpThreads: 2 }) });
 */
export function onnxRuntime(options: OnnxSessionOptions = {}): Runtime {
  return {
    name: 'onnxruntime',
    async open(artifacts: ModelArtifacts, identity: ModelIdentity, openOptions: OpenOptions = {}): Promise<Model> {
      if (artifacts.format === 'onnx') return onnxBytesModel(artifacts.bytes, identity, options);
      if (artifacts.modelType === 'graph-model') {
        const at = openOptions.source === undefined ? '' : ` ${openOptions.source} is a GraphModel`;
        throw new RxmlError('MODEL_LOAD_ERROR', `onnxRuntime converts tfjs LayersModels only;${at} (export it to ONNX with tf2onnx and use loadOnnxModel)`);
      }
      const network = await layersModelFromArtifacts(artifacts.artifacts, identity.name);
      try {
        return await toOnnxModel(network, identity, options);
      } finally {
        network.dispose();
      }
    },
  };
}
