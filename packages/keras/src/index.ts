/**
 * `@rxml/keras`: reads Keras models saved by Python Keras (`.keras` archives, full-model and
 * weights-only `.h5`) into tfjs artifacts, and loads them as rxml `Model`s on any `Runtime`.
 */
export { loadKerasModel, kerasLayersModel, type LoadKerasModelOptions } from './load-keras.js';
export { readKerasArtifacts, type KerasArtifacts, type KerasArtifactsOptions, type KerasFileFormat, type KerasSource } from './artifacts.js';
export { SUPPORTED_KERAS_LAYERS } from './layers.js';
