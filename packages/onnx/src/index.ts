/**
 * `@rxml/onnx`: ONNX Runtime (CPU) as an rxml `Runtime` (`onnxRuntime`), `.onnx` files as models
 * (`loadOnnxModel`), and a converter from tfjs LayersModels to ONNX (`tfjsToOnnx`).
 */
export { loadOnnxModel, type GraphOptimizationLevel, type LoadOnnxModelOptions, type OnnxSessionOptions } from './onnx-model.js';
export { onnxRuntime } from './onnx-runtime.js';
export { SUPPORTED_TFJS_LAYERS, tfjsToOnnx } from './tfjs-to-onnx.js';
export { toOnnxModel } from './to-onnx-model.js';
