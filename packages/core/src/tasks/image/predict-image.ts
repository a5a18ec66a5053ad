import type { OperatorFunction } from 'rxjs';
import type { PredictResult } from '../../contract/result.js';
import { predictTask, type PredictTaskOptions } from '../task.js';
import { imageTask, type ImageInput, type ImagePrediction, type ImageTaskOptions } from './image-task.js';
import type { ImageModel } from './load-image-model.js';

export { IMAGE_BATCH, type ImageInput, type ImageLabel, type ImagePrediction, type ImageTaskOptions } from './image-task.js';

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
 * @example
 * const mobilenet = await loadImageModel('mobilenet_v1_0.75_224');
 * paths$.pipe(
 *   map((path) => ({ path })),
 *   predictImage(mobilenet, { root: '/srv/images', topK: 3 }),
 * ).subscribe((r) => console.log(r.ok ? r.value.label : r.error.message));
 */
export function predictImage<In = ImageInput>(model: ImageModel, options: PredictImageOptions<In> = {}): OperatorFunction<In, PredictResult<In, ImagePrediction>> {
  const { root, topK, fit, maxInputBytes, maxPixels, decodeTimeoutMs, decodeConcurrency, ...stream } = options;
  const task = imageTask(model, {
    ...(root === undefined ? {} : { root }),
    ...(topK === undefined ? {} : { topK }),
    ...(fit === undefined ? {} : { fit }),
    ...(maxInputBytes === undefined ? {} : { maxInputBytes }),
    ...(maxPixels === undefined ? {} : { maxPixels }),
    ...(decodeTimeoutMs === undefined ? {} : { decodeTimeoutMs }),
  });
  const selectConcurrency = stream.selectConcurrency ?? decodeConcurrency;
  return predictTask(model.model, task, { ...stream, ...(selectConcurrency === undefined ? {} : { selectConcurrency }) });
}
