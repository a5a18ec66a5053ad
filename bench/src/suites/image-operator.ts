import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Subject, firstValueFrom, from, lastValueFrom, take, toArray, count } from 'rxjs';
import { predictImage, preprocessImage, type ImageModel } from '@rxml/core';
import { MODEL_MIRROR, loadMobileNet, rawRunner, variant } from '../runtime.js';
import { interleavedRates, round, summarize, type LatencySummary } from '../stats.js';

export interface ImageBatchPoint {
  readonly batchSize: number;
  readonly rawImagesPerSec: number;
  readonly operatorImagesPerSec: number;
  /** operator ÷ raw, measured in the same run. */
  readonly ratio: number;
  readonly rawLatency: LatencySummary;
  readonly operatorLatency: LatencySummary;
}

export interface ImageOperatorResult {
  readonly backend: string;
  readonly runtime: string;
  readonly points: readonly ImageBatchPoint[];
}

/** The seed images (real photos), as encoded bytes. */
export async function seedImageBytes(): Promise<Uint8Array[]> {
  const dir = resolve(MODEL_MIRROR, '../seed/images');
  const files = (await readdir(dir)).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  return Promise.all(files.map(async (f) => new Uint8Array(await readFile(join(dir, f)))));
}

export async function decodedSeedImages(image: ImageModel): Promise<Float32Array[]> {
  const bytes = await seedImageBytes();
  return Promise.all(bytes.map((b) => preprocessImage(b, { inputSize: image.inputSize, normalization: image.normalization })));
}

/**
 * `predictImage` on pre-decoded images (`{ pixels }`, no sharp) vs the runtime's own batched call on
 * a pre-built batch of the same size: what the operator (batching, copying into the batch, top-k,
 * result objects) costs around the model.
 */
export async function imageOperatorSuite(quick: boolean): Promise<ImageOperatorResult> {
  const { image, dir, runtime } = await loadMobileNet();
  const raw = await rawRunner(dir);
  const pixels = await decodedSeedImages(image);
  const pixelCount = image.inputSize * image.inputSize * 3;
  const minMs = quick ? 300 : 3000;
  const sizes = quick ? [1, 4] : [1, 4, 8, 16, 32];
  const points: ImageBatchPoint[] = [];
  try {
    for (const batchSize of sizes) {
      const data = new Float32Array(batchSize * pixelCount);
      for (let i = 0; i < batchSize; i++) data.set(pixels[i % pixels.length]!, i * pixelCount);
      const shape = [batchSize, image.inputSize, image.inputSize, 3];
      const rawCallMs: number[] = [];
      const options = { batch: { size: batchSize, maxLatencyMs: 1000 } } as const;
      // Each operator pass is a stream of a few full batches, so the batch size is what the model sees.
      const records = Array.from({ length: batchSize * (batchSize >= 16 ? 2 : 4) }, (_, i) => ({ pixels: pixels[i % pixels.length]! }));
      const rates = await interleavedRates(
        {
          raw: async () => {
            const t0 = performance.now();
            await raw.run(data, shape);
            rawCallMs.push(performance.now() - t0);
            return batchSize;
          },
          operator: () => lastValueFrom(from(records).pipe(predictImage(image, options), count())),
        },
        minMs,
      );
      const rawRate = { perSecond: rates.raw };
      const op = { perSecond: rates.operator };

      // Latency: closed loop, one batch pushed at a time, like the raw calls.
      const latencies: number[] = [];
      const input = new Subject<{ pixels: Float32Array }>();
      const results = input.pipe(predictImage(image, options));
      const meanCallMs = rawCallMs.reduce((a, b) => a + b, 0) / rawCallMs.length;
      const rounds = Math.max(2, Math.min(50, Math.ceil((quick ? 200 : 1000) / meanCallMs)));
      for (let r = 0; r < rounds; r++) {
        const batch = firstValueFrom(results.pipe(take(batchSize), toArray()));
        await Promise.resolve();
        for (let i = 0; i < batchSize; i++) input.next({ pixels: pixels[i % pixels.length]! });
        for (const res of await batch) if (res.ok) latencies.push(res.latencyMs);
      }
      input.complete();
      points.push({
        batchSize,
        rawImagesPerSec: round(rawRate.perSecond, 1),
        operatorImagesPerSec: round(op.perSecond, 1),
        ratio: round(op.perSecond / rawRate.perSecond),
        rawLatency: summarize(rawCallMs),
        operatorLatency: summarize(latencies),
      });
      process.stderr.write(`[image-operator] ${variant()} batch ${batchSize}: raw ${round(rawRate.perSecond, 1)} img/s, operator ${round(op.perSecond, 1)} img/s\n`);
    }
  } finally {
    image.dispose();
    raw.dispose();
  }
  return { backend: variant(), runtime, points };
}
