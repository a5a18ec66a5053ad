/**
 * `@rxml/core/runtime`: the seam between formats and runtimes. A format (tfjs `model.json`, Keras
 * in `@rxml/keras`, ONNX in `@rxml/onnx`) reads bytes with `readBytes`, versions them with
 * `contentVersion` and produces `ModelArtifacts`; a `Runtime` opens artifacts into a `Model`.
 * Packages that add a format or a runtime import this entry (it loads tfjs, never sharp).
 */
export type { ModelArtifacts, OnnxArtifacts, OpenOptions, Runtime, TfjsArtifacts } from './runtime.js';
export { layersModelFromArtifacts, tfjsRuntime } from './tfjs/tfjs-runtime.js';
export { tfjsModel, type TfjsNetwork } from './tfjs/tfjs-model.js';
export { activeBackend, initBackend, type BackendInfo, type BackendName, type InitBackendOptions } from './tfjs/backend.js';
export { contentVersion, describeSource, isHttpUrl, locationOf, readBytes, type ByteSource, type ReadBytesOptions } from '../artifacts/index.js';
export { observedLoad } from './observed-load.js';
export { loadModelBytes, type LoadModelBytesOptions } from '../formats/tfjs/load-model.js';
