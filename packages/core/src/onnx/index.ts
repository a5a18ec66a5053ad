export { loadOnnxModel, type GraphOptimizationLevel, type LoadOnnxModelOptions, type OnnxSessionOptions } from './onnx-model.js';
export { SUPPORTED_TFJS_LAYERS, tfjsToOnnx } from './tfjs-to-onnx.js';
export { toOnnxModel } from './to-onnx-model.js';
