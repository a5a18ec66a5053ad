export * from './errors.js';
export type * from './model/model.js';
export * from './image/catalog.js';
export { ensureCachedModel, defaultCacheDir, type ModelCacheOptions } from './image/model-cache.js';
export { loadImageModel, type ImageModel, type ImageModelSpec, type LoadImageModelOptions } from './image/load-image-model.js';
export { preprocessImage, DEFAULT_LIMITS, type ImageLimits, type PreprocessOptions, type ResizeFit } from './image/preprocess.js';
export * from './operators/predict-image.js';
// TEMPORARY until main's predict/tfjsModel land.
export { predict, tfjsModel, loadModel, initBackend, type PredictResult, type PredictOptions } from './image/pending-core.js';
