import { isObservable, map, type Observable, type OperatorFunction } from 'rxjs';
import type { Model } from '../../contract/model.js';
import type { ModelSource } from '../../contract/model-source.js';
import { isSplitModels, mapSplitModels, type SplitModels } from '../../engine/split-models.js';
import type { PredictResult } from '../../contract/result.js';
import { RxmlError } from '../../contract/errors.js';
import { modelMismatch, predictFamily, type PredictTaskOptions, type Task } from '../task.js';
import { IMAGE_BATCH, imageTaskFactory, type ImageInput, type ImagePrediction, type ImageTaskOptions } from './image-task.js';
import type { ImageModel } from './load-image-model.js';

export { IMAGE_BATCH, type ImageInput, type ImageLabel, type ImagePrediction, type ImageTaskOptions } from './image-task.js';

/**
 * What `predictImage` runs on: one `ImageModel` (the caller's) or an `Observable<ImageModel>` of
 * versions, which the operator owns (it calls their `dispose()`; see `predict` for swapping).
 */
export type ImageModelSource = ImageModel | Observable<ImageModel>;

/**
 * `predictImage`'s options: the shared `PredictTaskOptions` (`select` returns an `ImageInput` or a
 * promise of one; batch default `IMAGE_BATCH`: 8 images, 20 ms; `selectConcurrency`: images
 * decoding at once, default 8 — sharp runs them in libuv's thread pool, `UV_THREADPOOL_SIZE`,
 * default 4 — so the next batch decodes while the current one is in the model) plus the image
 * task's `root`, `topK`, `fit` and limits.
 */
export interface PredictImageOptions<In> extends PredictTaskOptions<In, ImageInput, ImagePrediction>, ImageTaskOptions {
  /** @deprecated the old name of `selectConcurrency`; used only when `selectConcurrency` is not given. */
  readonly decodeConcurrency?: number;
}

/**
 * Labels images with an image classifier. Decoding (sharp, in libuv's thread pool) overlaps the
 * model call: the next batch decodes while the current one runs. A bad image yields an
 * `INVALID_INPUT` (or `LIMIT_EXCEEDED`) result for that record and the stream goes on.
 *
 * `model` is an `ImageModel` (the caller's, never disposed here) or an `Observable<ImageModel>`:
 * images are decoded for the first version's input size and normalization and labelled with its
 * labels, so a later version must have the same input size, normalization, labels and signature
 * (else it is refused); see `predict` for validation, swapping between batches and ownership.
 * `model` may also be a `splitModels(...)` A/B split whose variants are `ImageModelSource`s: each
 * variant must read images as the first variant does (input size, normalization, labels) and
 * results carry `variant`.
 *
 * @example
 * const mobilenet = await loadImageModel('mobilenet_v1_0.75_224');
 * paths$.pipe(
 *   map((path) => ({ path })),
 *   predictImage(mobilenet, { root: '/srv/images', topK: 3 }),
 * ).subscribe((r) => console.log(r.ok ? r.value.label : r.error.message));
 */
export function predictImage<In = ImageInput>(model: ImageModelSource | SplitModels<In, ImageModelSource>, options: PredictImageOptions<In> = {}): OperatorFunction<In, PredictResult<In, ImagePrediction>> {
  const { root, topK, fit, maxInputBytes, maxPixels, decodeTimeoutMs, decodeConcurrency, ...stream } = options;
  const taskFor = imageTaskFactory({
    ...(root === undefined ? {} : { root }),
    ...(topK === undefined ? {} : { topK }),
    ...(fit === undefined ? {} : { fit }),
    ...(maxInputBytes === undefined ? {} : { maxInputBytes }),
    ...(maxPixels === undefined ? {} : { maxPixels }),
    ...(decodeTimeoutMs === undefined ? {} : { decodeTimeoutMs }),
  });
  const selectConcurrency = stream.selectConcurrency ?? decodeConcurrency;
  const streamOptions = { ...stream, ...(selectConcurrency === undefined ? {} : { selectConcurrency }) };
  const family = { name: 'predictImage', batch: IMAGE_BATCH, fromFirstModel: true };
  if (isSplitModels(model)) {
    // Each variant becomes a Model source: a plain ImageModel stays the caller's (never disposed
    // here), a stream's ImageModels are owned (disposed by the operator as for one model).
    const images = new WeakMap<Model, ImageModel>();
    const wrappers = new WeakMap<ImageModel, Model>();
    const asModels = (source: ImageModelSource): ModelSource =>
      isObservable(source)
        ? source.pipe(map((image) => (isImageModel(image) ? ownedModel(image, images, wrappers) : (image as unknown as Model))))
        : isImageModel(source)
          ? ownedModel(source, images, wrappers)
          : source;
    // A shadow is a Model (e.g. an ImageModel's `model`), as with one ImageModel: checked by its
    // signature against the first variant's, not refused for not being an ImageModel.
    const shadows = new WeakSet<Model>();
    const noteShadow = (m: Model): Model => {
      if (typeof m === 'object' && m !== null) shadows.add(m);
      return m;
    };
    const shadowModel = streamOptions.shadow?.model;
    const withShadow =
      streamOptions.shadow === undefined || shadowModel === undefined
        ? streamOptions
        : { ...streamOptions, shadow: { ...streamOptions.shadow, model: isObservable(shadowModel) ? shadowModel.pipe(map(noteShadow)) : noteShadow(shadowModel) } };
    // The shadow reads images as the first plain ImageModel variant does (stream variants' images are not known at creation).
    const reference = model.variants.map((v) => v.model).find(isImageModel);
    const imageOf = (m: Model): ImageModel | undefined => images.get(m) ?? (shadows.has(m) ? reference : undefined);
    return predictFamily(mapSplitModels(model, asModels), family, (m) => imageFamilyTask(m, imageOf, taskFor, shadows), withShadow);
  }
  if (!isObservable(model)) {
    if (typeof model !== 'object' || model === null) throw new RxmlError('INVALID_CONFIG', `predictImage: model must be an ImageModel or an Observable<ImageModel>, got ${String(model)}`);
    const task = taskFor(model);
    return predictFamily(model.model, family, () => task, streamOptions);
  }
  // Each ImageModel becomes one Model (the same object every time it is emitted) whose dispose() is the ImageModel's.
  const images = new WeakMap<Model, ImageModel>();
  const wrappers = new WeakMap<ImageModel, Model>();
  const models = model.pipe(map((image) => (isImageModel(image) ? ownedModel(image, images, wrappers) : (image as unknown as Model))));
  return predictFamily(models, family, (m) => imageFamilyTask(m, images, taskFor), streamOptions);
}

function isImageModel(value: unknown): value is ImageModel {
  return typeof value === 'object' && value !== null && typeof (value as Partial<ImageModel>).model === 'object' && Array.isArray((value as Partial<ImageModel>).labels);
}

function ownedModel(image: ImageModel, images: WeakMap<Model, ImageModel>, wrappers: WeakMap<ImageModel, Model>): Model {
  let wrapper = wrappers.get(image);
  if (wrapper === undefined) {
    const inner = image.model;
    wrapper = {
      name: inner.name,
      version: inner.version,
      runtime: inner.runtime,
      inputs: inner.inputs,
      outputs: inner.outputs,
      run: (inputs, options) => inner.run(inputs, options),
      dispose: () => image.dispose(),
    };
    wrappers.set(image, wrapper);
    images.set(wrapper, image);
  }
  return wrapper;
}

/** The image task of `model`'s ImageModel; its `validate` also requires a candidate to read images the same way (a model in `shadows`: its signature only). */
function imageFamilyTask(
  model: Model,
  images: WeakMap<Model, ImageModel> | ((model: Model) => ImageModel | undefined),
  taskFor: (image: ImageModel) => Task<ImageInput, Float32Array, ImagePrediction>,
  shadows?: WeakSet<Model>,
): Task<ImageInput, Float32Array, ImagePrediction> {
  const imageOf = typeof images === 'function' ? images : (m: Model) => images.get(m);
  const image = imageOf(model);
  if (image === undefined && shadows?.has(model) === true) {
    throw modelMismatch('predictImage', model, 'a shadow over an A/B split reads images as the first plain ImageModel variant, and this split has none (only model streams)');
  }
  if (image === undefined) throw modelMismatch('predictImage', model, 'the model source must emit ImageModels (from loadImageModel)');
  const task = taskFor(image);
  return {
    ...task,
    validate(candidate) {
      task.validate(candidate);
      if (shadows?.has(candidate) === true) return; // a shadow: its signature is checked above
      const other = imageOf(candidate);
      if (other === undefined) throw modelMismatch('predictImage', candidate, 'the model source must emit ImageModels (from loadImageModel)');
      if (other === image) return;
      if (other.inputSize !== image.inputSize) throw modelMismatch('predictImage', candidate, `input size ${other.inputSize}, the first model's is ${image.inputSize}`);
      if (JSON.stringify(other.normalization) !== JSON.stringify(image.normalization)) throw modelMismatch('predictImage', candidate, "its normalization differs from the first model's");
      if (other.labels.length !== image.labels.length || other.labels.some((label, i) => label !== image.labels[i])) {
        throw modelMismatch('predictImage', candidate, "its labels differ from the first model's");
      }
    },
  };
}
