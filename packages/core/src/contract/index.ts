/**
 * `@rxml/core/contract`: the types and values that sources, sinks, runtimes and remote models share.
 * It imports no runtime (no tfjs, no sharp, no ONNX), so a Kafka source or a metrics exporter can
 * depend on it without loading a model library.
 */
export { RXML_ERROR_CODES, RxmlError, invalidConfig, isRxmlError, toRxmlError, type RxmlErrorCode, type RxmlErrorOptions } from './errors.js';
export { INPUT_ERROR, inputErrorOf, withInputError, type PredictFailure, type PredictResult, type PredictSuccess, type WithInputError } from './result.js';
export { withRun, type DType, type Model, type ModelIdentity, type RunOptions, type TensorData, type TensorSpec } from './model.js';
export { isModelStream, type ModelSource } from './model-source.js';
export { MAX_MODEL_ID_BYTES, modelIdentityProblem } from './model-identity.js';
export type { Acknowledgeable, Acknowledgement } from './ack.js';
export type { KafkaOffset } from './offset.js';
export * from './diagnostics.js';
export { JSON_TEXT, float32Text, jsonTextOf, type WithJsonText } from './json-text.js';
export { ModelVersions, type ModelCandidate, type ModelSourceEventOptions } from '../sources/model-versions.js';
