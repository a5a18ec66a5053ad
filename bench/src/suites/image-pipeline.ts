import sharp from 'sharp';
import { from, lastValueFrom, count } from 'rxjs';
import { predictImage, preprocessImage, type ImageModel } from '@rxml/core';
import { loadMobileNet, variant } from '../runtime.js';
import { interleavedRates, round } from '../stats.js';
import { seedImageBytes } from './image-operator.js';

/** Images in flight while decoding: predictImage's default `decodeConcurrency`. */
const DECODE_CONCURRENCY = 8;
const BATCH = 8;

export interface PipelineMeasure {
  /** bytes → predictImage (sharp decode/resize + model) → label, images/s. */
  readonly pipelineImagesPerSec: number;
  /** preprocessImage alone, `DECODE_CONCURRENCY` in flight (both cores), images/s. */
  readonly decodeImagesPerSec: number;
  /** The model alone (`model.run`, batch 8, pre-decoded), images/s. */
  readonly inferenceImagesPerSec: number;
  /** 1 / (decode cost + inference cost): the rate with no overlap at all. */
  readonly serialBoundImagesPerSec: number;
  /** pipeline ÷ serial bound: > 1 means decoding overlaps inference. */
  readonly ratio: number;
}

export interface ImagePipelineResult extends PipelineMeasure {
  readonly backend: string;
  readonly runtime: string;
  readonly images: string;
}

/**
 * The stream inputs: the seed photos re-encoded as 640×480 JPEG (quality 85), like camera frames.
 * The seed's 2000×2000 PNG alone would cost as much to decode as ~20 such frames and make the
 * figure a PNG benchmark.
 */
export async function cameraFrames(): Promise<Uint8Array[]> {
  const seeds = await seedImageBytes();
  return Promise.all(
    seeds.map(async (b) => new Uint8Array(await sharp(b).flatten({ background: '#ffffff' }).resize(640, 480, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer())),
  );
}
export const FRAMES_DESCRIPTION = 'the 4 seed photos re-encoded as 640×480 JPEG q85';

/** The three rates, measured back to back in this process. */
export async function measurePipeline(image: ImageModel, frames: readonly Uint8Array[], quick: boolean): Promise<PipelineMeasure> {
  const minMs = quick ? 450 : 6000;
  const pre = { inputSize: image.inputSize, normalization: image.normalization } as const;
  const pixels = await Promise.all(frames.map((f) => preprocessImage(f, pre)));

  const decodeOnce = async (): Promise<number> => {
    const n = 32;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) await preprocessImage(frames[next++ % frames.length]!, pre);
    };
    await Promise.all(Array.from({ length: DECODE_CONCURRENCY }, worker));
    return n;
  };
  const size = image.inputSize;
  const batch = new Float32Array(BATCH * size * size * 3);
  for (let i = 0; i < BATCH; i++) batch.set(pixels[i % pixels.length]!, i * size * size * 3);
  const records = Array.from({ length: BATCH * 6 }, (_, i) => frames[i % frames.length]!);
  const rates = await interleavedRates(
    {
      decode: decodeOnce,
      inference: async () => {
        await image.model.run([{ data: batch, shape: [BATCH, size, size, 3] }]);
        return BATCH;
      },
      pipeline: () =>
        lastValueFrom(from(records).pipe(predictImage(image, { batch: { size: BATCH, maxLatencyMs: 50 }, selectConcurrency: DECODE_CONCURRENCY }), count())),
    },
    minMs,
  );
  const decodeImagesPerSec = rates.decode;
  const inferenceImagesPerSec = rates.inference;
  const pipelineImagesPerSec = rates.pipeline;
  const serial = 1 / (1 / decodeImagesPerSec + 1 / inferenceImagesPerSec);
  return {
    pipelineImagesPerSec: round(pipelineImagesPerSec, 1),
    decodeImagesPerSec: round(decodeImagesPerSec, 1),
    inferenceImagesPerSec: round(inferenceImagesPerSec, 1),
    serialBoundImagesPerSec: round(serial, 1),
    ratio: round(pipelineImagesPerSec / serial),
  };
}

/** bytes → sharp decode/resize → MobileNet → label, vs the separately measured costs. */
export async function imagePipelineSuite(quick: boolean): Promise<ImagePipelineResult> {
  const { image, runtime } = await loadMobileNet();
  try {
    const m = await measurePipeline(image, await cameraFrames(), quick);
    process.stderr.write(`[image-pipeline] ${variant()}: ${JSON.stringify(m)}\n`);
    return { backend: variant(), runtime, images: FRAMES_DESCRIPTION, ...m };
  } finally {
    image.dispose();
  }
}
