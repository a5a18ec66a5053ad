import type { OperatorFunction } from 'rxjs';
import { RxmlError, invalidConfig } from '../../contract/errors.js';
import type { ImageModel } from './load-image-model.js';
import { DEFAULT_LIMITS, preprocessImage, type ImageLimits, type ResizeFit } from './preprocess.js';
import { readBoundedFile, resolveUnderRoot } from './safe-path.js';
import type { PredictResult } from '../../contract/result.js';
import { PREDICT_DEFAULTS, predict } from '../../engine/predict.js';

/**
 * Encoded image bytes (JPEG, PNG, WebP, GIF: first frame), a file under `options.root`, or an image
 * already decoded into the model's input (`pixels`: inputSize × inputSize × 3, HWC, normalized as
 * the model expects, e.g. from `preprocessImage` or a video decoder), which skips decoding.
 */
export type ImageInput = Uint8Array | { readonly path: string } | { readonly pixels: Float32Array };

export interface ImageLabel {
  readonly label: string;
  readonly probability: number;
}

/** The best class and the `topK` best, most probable first. */
export interface ImagePrediction extends ImageLabel {
  readonly top: readonly ImageLabel[];
}

export interface PredictImageOptions<In> extends ImageLimits {
  /**
   * Picks the image out of each record (e.g. a Kafka message's value or a path field). Default:
   * the record itself is the image input. Throwing gives `INVALID_INPUT` for that record.
   */
  readonly select?: (input: In) => ImageInput | PromiseLike<ImageInput>;
  /**
   * Directory that `{ path }` inputs are resolved under. Paths escaping it (`..`, absolute, or a
   * symlink pointing out) are refused unopened. Without a root, path inputs are refused.
   */
  readonly root?: string;
  /** How many classes `top` lists. Default 5. */
  readonly topK?: number;
  /** How the image is fitted to the model's square input. Default `cover` (centre crop). */
  readonly fit?: ResizeFit;
  /** Images per model call, and how long a partial batch may wait. Defaults: 8 images, 20 ms. */
  readonly batch?: { readonly size?: number; readonly maxLatencyMs?: number };
  /**
   * Images decoding at once (sharp runs them in libuv's thread pool, `UV_THREADPOOL_SIZE`, default 4).
   * Default 8, so the next batch is decoded while the current one is in the model.
   */
  readonly decodeConcurrency?: number;
  /** Model calls in flight. Default 1 (one call already uses the CPU the backend gives it). */
  readonly concurrency?: number;
  /** Emit results in input order. Default true. */
  readonly ordered?: boolean;
}

/**
 * Labels images with an image classifier. Decoding (sharp, in libuv's thread pool) overlaps the
 * model call: the next batch decodes while the current one runs. A bad image yields an
 * `INVALID_INPUT` result for that record and the stream goes on.
 *
 * @example
 * const mobilenet = await loadImageModel('mobilenet_v1_0.75_224');
 * paths$.pipe(
 *   map((path) => ({ path })),
 *   predictImage(mobilenet, { root: '/srv/images', topK: 3 }),
 * ).subscribe((r) => console.log(r.ok ? r.value.label : r.error.message));
 */
export function predictImage<In = ImageInput>(
  model: ImageModel,
  options: PredictImageOptions<In> = {},
): OperatorFunction<In, PredictResult<In, ImagePrediction>> {
  const wantedTopK = options.topK ?? 5;
  if (!Number.isInteger(wantedTopK) || wantedTopK < 1) throw invalidConfig('predictImage', 'topK', 'a positive integer', wantedTopK);
  const topK = Math.min(wantedTopK, model.labels.length);
  const size = model.inputSize;
  const limits = {
    maxInputBytes: options.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes,
    maxPixels: options.maxPixels ?? DEFAULT_LIMITS.maxPixels,
    decodeTimeoutMs: options.decodeTimeoutMs ?? DEFAULT_LIMITS.decodeTimeoutMs,
  };
  for (const [option, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) throw invalidConfig('predictImage', option, 'a number > 0', value);
  }
  const pick = options.select ?? ((input: In) => input as unknown as ImageInput);

  const load = async (input: In): Promise<Float32Array> => {
    const image = await pick(input);
    if (typeof image === 'object' && image !== null && 'pixels' in image) return checkPixels(image.pixels, size);
    const bytes = await readImage(image, options.root, limits.maxInputBytes);
    return preprocessImage(bytes, { ...limits, inputSize: size, normalization: model.normalization, fit: options.fit ?? 'cover' });
  };

  return predict<In, Float32Array, ImagePrediction>(model.model, {
    select: load,
    encode: (samples) => {
      const pixels = size * size * 3;
      const data = new Float32Array(samples.length * pixels);
      samples.forEach((sample, i) => data.set(sample, i * pixels));
      return { data, shape: [samples.length, size, size, 3] };
    },
    decode: (outputs, samples) => {
      const probs = outputs[0];
      if (probs === undefined) throw new RxmlError('MODEL_ERROR', 'model returned no output');
      const classes = model.labels.length;
      return samples.map((_, row) => topClasses(probs.data.subarray(row * classes, (row + 1) * classes), model.labels, topK));
    },
    batch: { size: options.batch?.size ?? 8, maxLatencyMs: options.batch?.maxLatencyMs ?? 20 },
    concurrency: options.concurrency ?? PREDICT_DEFAULTS.concurrency,
    selectConcurrency: options.decodeConcurrency ?? PREDICT_DEFAULTS.selectConcurrency,
    ordered: options.ordered ?? PREDICT_DEFAULTS.ordered,
  });
}

function checkPixels(pixels: unknown, size: number): Float32Array {
  const expected = size * size * 3;
  if (!(pixels instanceof Float32Array) || pixels.length !== expected) {
    const got = pixels instanceof Float32Array ? `${pixels.length} floats` : 'not a Float32Array';
    throw new RxmlError('INVALID_INPUT', `pre-decoded pixels must be a Float32Array of ${size}x${size}x3 = ${expected} floats, got ${got}`);
  }
  return pixels;
}

async function readImage(image: Uint8Array | { readonly path: string }, root: string | undefined, maxBytes: number): Promise<Uint8Array> {
  if (image instanceof Uint8Array) return image;
  if (typeof image !== 'object' || image === null || typeof image.path !== 'string') {
    throw new RxmlError('INVALID_INPUT', 'image input must be bytes (Uint8Array) or { path }');
  }
  if (root === undefined) throw new RxmlError('INVALID_INPUT', 'path inputs need options.root');
  return readBoundedFile(await resolveUnderRoot(root, image.path), maxBytes);
}

/** The k largest entries by a single pass with a small sorted window (k << classes). */
function topClasses(row: Float32Array | Int32Array, labels: readonly string[], k: number): ImagePrediction {
  const best: { index: number; p: number }[] = [];
  for (let i = 0; i < row.length; i++) {
    const p = row[i] as number;
    if (best.length === k && p <= (best[k - 1] as { p: number }).p) continue;
    let at = best.length;
    while (at > 0 && (best[at - 1] as { p: number }).p < p) at--;
    best.splice(at, 0, { index: i, p });
    if (best.length > k) best.pop();
  }
  const top = best.map(({ index, p }) => ({ label: labels[index] ?? String(index), probability: p }));
  const first = top[0] ?? { label: '', probability: 0 };
  return { label: first.label, probability: first.probability, top };
}
