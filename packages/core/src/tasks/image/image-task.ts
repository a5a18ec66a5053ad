import { RxmlError, invalidConfig } from '../../contract/errors.js';
import { modelMismatch, type Task } from '../task.js';
import { imageSignatureProblem } from './image-signature.js';
import type { ImageModel } from './load-image-model.js';
import { DEFAULT_LIMITS, preprocessImage, type ImageLimits, type ResizeFit } from './preprocess.js';
import { readBoundedFile, resolveUnderRoot } from './safe-path.js';

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

/** What the image task needs besides the model: where paths resolve, how many classes, how to fit, limits. */
export interface ImageTaskOptions extends ImageLimits {
  /**
   * Directory that `{ path }` inputs are resolved under. Paths escaping it (`..`, absolute, or a
   * symlink pointing out) are refused unopened. Without a root, path inputs are refused.
   */
  readonly root?: string;
  /** How many classes `top` lists. Default 5 (capped at the number of labels). */
  readonly topK?: number;
  /** How the image is fitted to the model's square input. Default `cover` (centre crop). */
  readonly fit?: ResizeFit;
}

/**
 * The image family's batching policy: 8 images per call (a MobileNet call costs ~10 ms per image,
 * so bigger batches add latency, not throughput) and 20 ms for a partial batch, long enough for
 * the decodes running alongside to fill it.
 */
export const IMAGE_BATCH = Object.freeze({ size: 8, maxLatencyMs: 20 });

/**
 * The image task for one `ImageModel`: an `ImageInput` (bytes, `{ path }` under `root`, or
 * pre-decoded `{ pixels }`) is decoded with sharp into normalized HWC floats (`parse`, async, run
 * `selectConcurrency` at a time, so decoding overlaps the model call); outputs become the top-k
 * labels. Throws `INVALID_CONFIG` for a bad `topK` or limit.
 */
export function imageTask(model: ImageModel, options: ImageTaskOptions = {}): Task<ImageInput, Float32Array, ImagePrediction> {
  return imageTaskFactory(options)(model);
}

/**
 * `imageTask` in two steps: the options are checked now (`INVALID_CONFIG` for a bad `topK` or
 * limit), the task is made for a model later — for a model stream, when its first version arrives.
 */
export function imageTaskFactory(options: ImageTaskOptions = {}): (model: ImageModel) => Task<ImageInput, Float32Array, ImagePrediction> {
  const wantedTopK = options.topK ?? 5;
  if (!Number.isInteger(wantedTopK) || wantedTopK < 1) throw invalidConfig('predictImage', 'topK', 'a positive integer', wantedTopK);
  const limits = {
    maxInputBytes: options.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes,
    maxPixels: options.maxPixels ?? DEFAULT_LIMITS.maxPixels,
    decodeTimeoutMs: options.decodeTimeoutMs ?? DEFAULT_LIMITS.decodeTimeoutMs,
  };
  for (const [option, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || Number.isNaN(value) || value <= 0) throw invalidConfig('predictImage', option, 'a number > 0', value);
  }
  return (model) => imageTaskFor(model, options, wantedTopK, limits);
}

function imageTaskFor(model: ImageModel, options: ImageTaskOptions, wantedTopK: number, limits: Required<ImageLimits>): Task<ImageInput, Float32Array, ImagePrediction> {
  const topK = Math.min(wantedTopK, model.labels.length);
  const size = model.inputSize;
  return {
    name: 'predictImage',
    batch: IMAGE_BATCH,
    validate(candidate) {
      const problem = imageSignatureProblem(candidate, size, model.labels.length);
      if (problem !== undefined) throw modelMismatch('predictImage', candidate, problem);
    },
    async parse(image) {
      if (typeof image === 'object' && image !== null && 'pixels' in image) return checkPixels(image.pixels, size);
      const bytes = await readImage(image, options.root, limits.maxInputBytes);
      return preprocessImage(bytes, { ...limits, inputSize: size, normalization: model.normalization, fit: options.fit ?? 'cover' });
    },
    encode(samples) {
      const pixels = size * size * 3;
      const data = new Float32Array(samples.length * pixels);
      samples.forEach((sample, i) => data.set(sample, i * pixels));
      return { data, shape: [samples.length, size, size, 3] };
    },
    decode(outputs, samples) {
      const probs = outputs[0];
      if (probs === undefined) throw new RxmlError('MODEL_ERROR', 'model returned no output');
      const classes = model.labels.length;
      return samples.map((_, row) => topClasses(probs.data.subarray(row * classes, (row + 1) * classes), model.labels, topK));
    },
    /** Shadow default: the same top-1 label; difference = |Δ| of the top-1 probabilities. */
    compare: (main, shadow) => ({ agree: main.label === shadow.label, difference: Math.abs(main.probability - shadow.probability) }),
  };
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
