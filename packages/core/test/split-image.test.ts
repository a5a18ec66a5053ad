/**
 * `predictImage` on a `splitModels` A/B split, with real tiny CNNs: each record is answered by the
 * variant its key routes to (the same label and probability that variant gives on its own), results
 * name the variant, a model stream variant is owned and disposed, and a variant that reads images
 * differently is refused at creation.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom, of, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageModel, predictImage, splitModels, type ImageModel, type ImageModelSource, type ImagePrediction, type PredictResult } from '../src/index.js';
import { noiseImage, saveTinyModel } from './support/fixtures.js';
import { numTensors } from './support/helpers.js';

const LABELS = ['a', 'b', 'c', 'd', 'e'];
let dir: string;
let spec: (name: string, size?: number) => { path: string; inputSize: number; normalization: { scale: number; offset: number }; labels: string };
let current: ImageModel;
let candidate: ImageModel;
let images: { key: string; image: Buffer }[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rxml-split-image-'));
  spec = (name, size = 32) => ({ path: join(dir, name), inputSize: size, normalization: { scale: 1 / 127.5, offset: -1 }, labels: join(dir, 'labels.txt') });
  await writeFile(join(dir, 'labels.txt'), LABELS.join('\n'));
  // Two real tiny CNNs with different random weights, and one with another input size.
  await saveTinyModel(join(dir, 'current'));
  await saveTinyModel(join(dir, 'candidate'));
  await saveTinyModel(join(dir, 'wide'), 48);
  [current, candidate] = await Promise.all([loadImageModel(spec('current')), loadImageModel(spec('candidate'))]);
  images = await Promise.all(Array.from({ length: 40 }, async (_, i) => ({ key: `camera-${i}`, image: await noiseImage(40 + i, 36 + i, 'png', i + 1) })));
});
afterAll(async () => {
  current.dispose();
  candidate.dispose();
  await rm(dir, { recursive: true, force: true });
});

const alone = async (model: ImageModel): Promise<ImagePrediction[]> =>
  (await lastValueFrom(from(images).pipe(predictImage(model, { select: (r) => r.image }), toArray()))).map((r) => {
    if (!r.ok) throw r.error;
    return r.value;
  });

describe('predictImage on a splitModels A/B split', () => {
  it('each record is answered by the variant its key routes to, as that model alone answers it; results name the variant', async () => {
    const [byCurrent, byCandidate] = [await alone(current), await alone(candidate)];
    const before = numTensors();
    const split = splitModels<{ key: string; image: Buffer }, ImageModel>(
      [
        { name: 'current', model: current, weight: 50 },
        { name: 'candidate', model: candidate, weight: 50 },
      ],
      { key: (r) => r.key },
    );
    const results = await lastValueFrom(from(images).pipe(predictImage(split, { select: (r) => r.image }), toArray()));
    expect(results).toHaveLength(images.length);
    const variants = new Set<string>();
    results.forEach((r: PredictResult<{ key: string; image: Buffer }, ImagePrediction>, i) => {
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.input).toBe(images[i]); // input order kept
      const expected = split.variantIndexOf(images[i]!.key) === 0 ? 'current' : 'candidate';
      expect(r.variant).toBe(expected);
      variants.add(r.variant!);
      const own = (expected === 'current' ? byCurrent : byCandidate)[i]!;
      expect(r.value.label).toBe(own.label);
      expect(r.value.probability).toBeCloseTo(own.probability, 5);
    });
    expect([...variants].sort()).toEqual(['candidate', 'current']); // 40 keys at 50/50: both answer
    expect(numTensors()).toBe(before);
  });

  it('a model stream variant is owned: its ImageModel is disposed when the stream ends; the caller’s plain variant is not', async () => {
    const streamed = await loadImageModel(spec('candidate'));
    let disposed = 0;
    const owned: ImageModel = { ...streamed, dispose: () => ((disposed += 1), streamed.dispose()) };
    const split = splitModels<{ key: string; image: Buffer }, ImageModelSource>(
      [
        { name: 'current', model: current, weight: 1 },
        { name: 'candidate', model: of(owned), weight: 1 },
      ],
      { key: (r) => r.key },
    );
    const results = await lastValueFrom(from(images).pipe(predictImage(split, { select: (r) => r.image }), toArray()));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(new Set(results.map((r) => (r.ok ? r.variant : undefined)))).toEqual(new Set(['current', 'candidate']));
    expect(disposed).toBe(1);
    // The caller's model still runs.
    expect((await alone(current)).length).toBe(images.length);
  });

  it('takes a shadow (a Model, as predictImage on one ImageModel does): every record compared with the variant that answered; main results as without it; tensors back to baseline', async () => {
    const split = splitModels<{ key: string; image: Buffer }, ImageModel>(
      [
        { name: 'current', model: current, weight: 1 },
        { name: 'candidate', model: candidate, weight: 1 },
      ],
      { key: (r) => r.key },
    );
    const plain = await lastValueFrom(from(images).pipe(predictImage(split, { select: (r) => r.image }), toArray()));
    const before = numTensors();
    const comparisons: { variant?: string; agree: boolean }[] = [];
    // The candidate's Model shadows both variants: it agrees with itself wherever the candidate answered.
    const results = await lastValueFrom(
      from(images).pipe(predictImage(split, { select: (r) => r.image, shadow: { model: candidate.model, maxEventLoopShare: 1, maxQueued: images.length, onComparison: (c) => comparisons.push(c.value) } }), toArray()),
    );
    // Same variant and label; probabilities to 1e-5 (native TensorFlow's kernels may round differently
    // when the batches are made up differently, as they are with a shadow beside them).
    expect(results.map((r) => (r.ok ? [r.variant, r.value.label] : r.error.code))).toEqual(plain.map((r) => (r.ok ? [r.variant, r.value.label] : r.error.code)));
    results.forEach((r, i) => {
      const p = plain[i]!;
      if (r.ok && p.ok) expect(r.value.probability).toBeCloseTo(p.value.probability, 5);
    });
    expect(comparisons).toHaveLength(images.length);
    expect(comparisons.filter((c) => c.variant === 'candidate').every((c) => c.agree)).toBe(true);
    expect(numTensors()).toBe(before);
  });

  it('refuses at creation a variant that reads images differently (another input size), naming it', async () => {
    const wide = await loadImageModel(spec('wide', 48));
    try {
      const split = splitModels<{ key: string; image: Buffer }, ImageModel>(
        [
          { name: 'current', model: current, weight: 1 },
          { name: 'wide', model: wide, weight: 1 },
        ],
        { key: (r) => r.key },
      );
      expect(() => predictImage(split, { select: (r) => r.image })).toThrow(/predictImage: model 'wide' does not fit: .*48, 48/);
    } finally {
      wide.dispose();
    }
  });

  it('splitModels refuses a variant that is neither a Model, an ImageModel nor an Observable', () => {
    expect(() => splitModels([{ name: 'x', model: { labels: [] } as never, weight: 1 }], { key: () => 'k' })).toThrow(/variants\[0\]\.model \("x"\).*ImageModel/);
  });
});
