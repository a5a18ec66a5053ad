import sharp from 'sharp';
import { RxmlError } from '../../contract/errors.js';
import type { Normalization } from './catalog.js';

/** Safety limits for untrusted images. Every field has a safe default. */
export interface ImageLimits {
  /** Largest encoded input accepted, in bytes. Default 20 MiB. */
  readonly maxInputBytes?: number;
  /**
   * Largest decoded size accepted, in pixels (width x height), checked from the header before any
   * pixel is decoded (sharp's `limitInputPixels`). Default 40 megapixels.
   */
  readonly maxPixels?: number;
  /** Time one decode may take, in milliseconds. Default 10 000. */
  readonly decodeTimeoutMs?: number;
}

/** How an image is fitted to the model's square input. */
export type ResizeFit =
  /** Scale to cover the square and crop the centre: keeps the aspect ratio (default). */
  | 'cover'
  /** Stretch to the square: keeps the whole picture, distorts the aspect ratio. */
  | 'fill';

export interface PreprocessOptions extends ImageLimits {
  readonly inputSize: number;
  readonly normalization: Normalization;
  readonly fit?: ResizeFit;
}

export const DEFAULT_LIMITS = {
  maxInputBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
  decodeTimeoutMs: 10_000,
} as const satisfies Required<ImageLimits>;

/** Formats accepted as input; others (SVG, PDF, TIFF, HEIF, raw) are refused before decoding. */
const ACCEPTED_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'gif']);

/**
 * Decodes one encoded image into the model's input: auto-oriented from EXIF, alpha flattened onto
 * white, sRGB, resized to `inputSize` square, HWC float32 normalized. Anything wrong with the bytes
 * is an `INVALID_INPUT` error; nothing is decoded past the limits.
 */
export async function preprocessImage(bytes: Uint8Array, options: PreprocessOptions): Promise<Float32Array> {
  const maxInputBytes = options.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes;
  const maxPixels = options.maxPixels ?? DEFAULT_LIMITS.maxPixels;
  const timeoutMs = options.decodeTimeoutMs ?? DEFAULT_LIMITS.decodeTimeoutMs;
  if (bytes.byteLength === 0) throw new RxmlError('INVALID_INPUT', 'image is empty (0 bytes)');
  if (bytes.byteLength > maxInputBytes) {
    throw new RxmlError('INVALID_INPUT', `image is ${bytes.byteLength} bytes, over the ${maxInputBytes}-byte limit`);
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RxmlError('INVALID_INPUT', `image decode took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([decode(bytes, options, maxPixels, timeoutMs), timeout]);
  } catch (error) {
    if (error instanceof RxmlError) throw error;
    const detail = error instanceof Error ? error.message : String(error);
    throw new RxmlError('INVALID_INPUT', `cannot decode image: ${detail}`, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

async function decode(
  bytes: Uint8Array,
  options: PreprocessOptions,
  maxPixels: number,
  timeoutMs: number,
): Promise<Float32Array> {
  const size = options.inputSize;
  // failOn 'error' also refuses truncated data; 'warning' (sharp's default) rejects too many real photos.
  const image = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error', pages: 1, page: 0, autoOrient: true });
  const meta = await image.metadata();
  if (meta.format === undefined || !ACCEPTED_FORMATS.has(meta.format)) {
    throw new RxmlError('INVALID_INPUT', `unsupported image format: ${meta.format ?? 'unknown'}`);
  }
  // libvips' own timeout stops the work in the thread pool; the race above only stops the waiting.
  const { data, info } = await image
    .timeout({ seconds: Math.max(1, Math.ceil(timeoutMs / 1000)) })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(size, size, { fit: options.fit ?? 'cover', position: 'centre' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) {
    throw new RxmlError('INVALID_INPUT', `decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return normalize(data, options.normalization);
}

function normalize(rgb: Uint8Array, normalization: Normalization): Float32Array {
  const out = new Float32Array(rgb.length);
  if ('scale' in normalization) {
    const { scale, offset } = normalization;
    for (let i = 0; i < rgb.length; i++) out[i] = (rgb[i] as number) * scale + offset;
    return out;
  }
  const [m0, m1, m2] = normalization.mean;
  const [s0, s1, s2] = normalization.std;
  for (let i = 0; i < rgb.length; i += 3) {
    out[i] = ((rgb[i] as number) - m0) / s0;
    out[i + 1] = ((rgb[i + 1] as number) - m1) / s1;
    out[i + 2] = ((rgb[i + 2] as number) - m2) / s2;
  }
  return out;
}
