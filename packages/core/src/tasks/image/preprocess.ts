import type Sharp from 'sharp';
import { RxmlError } from '../../contract/errors.js';
import type { Normalization } from './catalog.js';
import { FORMAT_NAMES, describeStart, readImageHeader, type AcceptedImageFormat, type ImageHeader } from './image-header.js';

/** Safety limits for untrusted images. Every field has a safe default. */
export interface ImageLimits {
  /** Largest encoded input accepted, in bytes (`LIMIT_EXCEEDED` above it). Default 20 MiB. */
  readonly maxInputBytes?: number;
  /**
   * Largest decoded size accepted, in pixels (width x height), checked from the image's header
   * before any pixel is decoded (`LIMIT_EXCEEDED` naming the size, e.g. `image is 65536×65536 =
   * 4295 MP, over maxPixels 40 MP`). Default 40 megapixels.
   */
  readonly maxPixels?: number;
  /** Time one decode may take, in milliseconds (`LIMIT_EXCEEDED` after it). Default 10 000. */
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

/**
 * Decodes one encoded image into the model's input: auto-oriented from EXIF, alpha flattened onto
 * white, sRGB, resized to `inputSize` square, HWC float32 normalized.
 *
 * Failures name *this* input's problem, from what its own bytes say (format from the magic bytes,
 * dimensions and structure from the header), never libvips' error text, which is per thread and
 * can carry other images' failures. Reasons (see docs/errors.md, "Input failure reasons"):
 * `INVALID_INPUT` with `empty input`, `not an image (starts with …)`, `unsupported format: <name>`,
 * `truncated <FORMAT>`, `corrupt <FORMAT> header`, `corrupt <FORMAT> data`; `LIMIT_EXCEEDED` naming
 * the limit, the measured value and the option (`maxInputBytes`, `maxPixels`, `decodeTimeoutMs`).
 * The pixel limit is checked from the header before any pixel is decoded.
 */
export async function preprocessImage(bytes: Uint8Array, options: PreprocessOptions): Promise<Float32Array> {
  const maxInputBytes = options.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes;
  const maxPixels = options.maxPixels ?? DEFAULT_LIMITS.maxPixels;
  const timeoutMs = options.decodeTimeoutMs ?? DEFAULT_LIMITS.decodeTimeoutMs;
  if (bytes.byteLength === 0) throw new RxmlError('INVALID_INPUT', 'empty input: the image has 0 bytes');
  if (bytes.byteLength > maxInputBytes) {
    throw new RxmlError('LIMIT_EXCEEDED', `image is ${bytes.byteLength} bytes, over maxInputBytes ${maxInputBytes} bytes (option maxInputBytes)`);
  }
  const header = checkHeader(bytes, maxPixels);
  // Before the decode clock starts: the first call imports sharp.
  const sharp = await loadSharp();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new RxmlError('LIMIT_EXCEEDED', `image decode took longer than decodeTimeoutMs ${timeoutMs} ms (option decodeTimeoutMs)`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([decode(sharp, bytes, header, options, maxPixels, timeoutMs), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type SharpFactory = typeof Sharp;
let sharpModule: Promise<SharpFactory> | undefined;

/**
 * Imports sharp (and so libvips) on the first image decode, not when `@rxml/core` is imported: an
 * Iris or Keras pipeline never loads it. A failed import is not cached (a later call may succeed).
 *
 * @throws RxmlError `BACKEND_UNAVAILABLE` when sharp cannot be loaded.
 */
function loadSharp(): Promise<SharpFactory> {
  sharpModule ??= import('sharp').then(
    (m) => m.default,
    (cause: unknown) => {
      sharpModule = undefined;
      throw new RxmlError('BACKEND_UNAVAILABLE', `cannot load sharp (libvips) to decode images: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`, { cause });
    },
  );
  return sharpModule;
}

type Decodable = Extract<ImageHeader, { format: AcceptedImageFormat }>;

/** Refuses what the bytes themselves rule out, before sharp sees them. */
function checkHeader(bytes: Uint8Array, maxPixels: number): Decodable {
  const header = readImageHeader(bytes);
  if (header.format === 'unknown') throw new RxmlError('INVALID_INPUT', `not an image (${describeStart(bytes)}, ${bytes.byteLength} bytes)`);
  if (header.format === 'other') throw new RxmlError('INVALID_INPUT', `unsupported format: ${header.name} (${bytes.byteLength} bytes)`);
  const name = FORMAT_NAMES[header.format];
  const size = header.width !== undefined && header.height !== undefined ? `, ${header.width}×${header.height} from the header` : '';
  if (header.problem?.kind === 'truncated') {
    throw new RxmlError('INVALID_INPUT', `truncated ${name}: ${header.problem.detail} (${bytes.byteLength} bytes${size})`);
  }
  if (header.problem?.kind === 'corrupt-header') {
    throw new RxmlError('INVALID_INPUT', `corrupt ${name} header: ${header.problem.detail} (${bytes.byteLength} bytes${size})`);
  }
  if (header.problem?.kind === 'corrupt-data') {
    throw new RxmlError('INVALID_INPUT', `corrupt ${name} data: ${header.problem.detail} (${bytes.byteLength} bytes${size})`);
  }
  if (header.width !== undefined && header.height !== undefined) checkPixels(header.width, header.height, maxPixels);
  return header;
}

function checkPixels(width: number, height: number, maxPixels: number): void {
  const pixels = width * height;
  if (pixels > maxPixels) {
    throw new RxmlError('LIMIT_EXCEEDED', `image is ${width}×${height} = ${megapixels(pixels)} MP, over maxPixels ${megapixels(maxPixels)} MP (option maxPixels)`);
  }
}

/** Megapixels (10^6 pixels) for messages: whole numbers from 10 MP, 3 significant digits below. */
function megapixels(pixels: number): string {
  const mp = pixels / 1e6;
  return mp >= 10 ? String(Math.round(mp)) : String(Number(mp.toPrecision(3)));
}

async function decode(
  sharp: SharpFactory,
  bytes: Uint8Array,
  header: Decodable,
  options: PreprocessOptions,
  maxPixels: number,
  timeoutMs: number,
): Promise<Float32Array> {
  const size = options.inputSize;
  const name = FORMAT_NAMES[header.format];
  // What the header already told us, to place a decoder failure; the decoder's own text is not
  // used (it is per libvips thread, not per image) and is kept only as the error's cause.
  const known = `${bytes.byteLength} bytes${header.width === undefined ? '' : `, ${header.width}×${header.height} from the header`}`;
  // failOn 'error' also refuses truncated data; 'warning' (sharp's default) rejects too many real photos.
  // limitInputPixels stays as a second guard behind the header check.
  const image = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error', pages: 1, page: 0, autoOrient: true });
  let meta: Awaited<ReturnType<typeof image.metadata>>;
  try {
    meta = await image.metadata();
  } catch (cause) {
    const why = header.anomaly ?? 'the decoder could not read the header';
    throw new RxmlError('INVALID_INPUT', `corrupt ${name} header: ${why} (${known})`, { cause });
  }
  if (meta.format !== header.format) {
    throw new RxmlError('INVALID_INPUT', `corrupt ${name} header: the decoder reads it as ${meta.format ?? 'unknown'} (${known})`);
  }
  if (header.width === undefined && meta.width !== undefined && meta.height !== undefined) checkPixels(meta.width, meta.height, maxPixels);
  const pipeline = image
    // libvips' own timeout stops the work in the thread pool; the race above only stops the waiting.
    .timeout({ seconds: Math.max(1, Math.ceil(timeoutMs / 1000)) })
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .resize(size, size, { fit: options.fit ?? 'cover', position: 'centre' })
    .raw();
  let decoded: Awaited<ReturnType<typeof pipeline.toBuffer>>;
  try {
    decoded = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (cause) {
    // Stray bytes in a JPEG header are tolerated by libjpeg; when decoding then fails, they are why.
    if (header.anomaly !== undefined && header.anomaly.endsWith('in the header')) {
      throw new RxmlError('INVALID_INPUT', `corrupt ${name} header: ${header.anomaly} (${known})`, { cause });
    }
    const where = header.anomaly === undefined ? 'the decoder failed inside the image data' : `the decoder failed inside the image data after ${header.anomaly}`;
    throw new RxmlError('INVALID_INPUT', `corrupt ${name} data: ${where} (${known})`, { cause });
  }
  const { data, info } = decoded;
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
