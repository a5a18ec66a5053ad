/**
 * The family `compare` defaults of the `shadow` option, with real models: predictImage (top-1
 * label, |Δ top-1 probability|) on two small real tfjs image models, predictKeras (argmax, max |Δ|)
 * on the Iris model and its permuted copy. The expected agreement is computed from each model run
 * on its own.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageModel, loadIrisModel, predictImage, predictKeras, type ImageModel, type ImagePrediction, type KerasOutput, type Model, type ShadowComparison } from '../src/index.js';
import { noiseImage, saveTinyModel } from './support/fixtures.js';
import { loadPermutedIris } from './support/iris-variants.js';

const LABELS = ['a', 'b', 'c', 'd', 'e'];
let dir: string;
let first: ImageModel;
let second: ImageModel;
let images: Buffer[];
let iris: Model;
let permuted: Model;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rxml-shadow-'));
  const spec = (name: string) => ({ path: join(dir, name), inputSize: 32, normalization: { scale: 1 / 127.5, offset: -1 }, labels: join(dir, 'labels.txt') });
  await writeFile(join(dir, 'labels.txt'), LABELS.join('\n'));
  // Two real tiny CNNs with different random weights.
  await saveTinyModel(join(dir, 'one'));
  await saveTinyModel(join(dir, 'two'));
  [first, second, iris, permuted] = await Promise.all([loadImageModel(spec('one')), loadImageModel(spec('two')), loadIrisModel(), loadPermutedIris()]);
  images = await Promise.all(Array.from({ length: 24 }, (_, i) => noiseImage(40 + i, 36 + i, 'png', i + 1)));
});
afterAll(async () => {
  first.dispose();
  second.dispose();
  iris.dispose();
  permuted.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('shadow compare defaults of the families', () => {
  it('predictImage: agree = the same top-1 label, difference = |Δ top-1 probability|, as each model says on its own', async () => {
    const alone = async (m: ImageModel) => (await lastValueFrom(from(images).pipe(predictImage(m), toArray()))).map((r) => (r.ok ? r.value : undefined));
    const [a, b] = [await alone(first), await alone(second)];
    const comparisons: ShadowComparison<Buffer, ImagePrediction>[] = [];
    const results = await lastValueFrom(from(images).pipe(predictImage(first, { shadow: { model: second.model, onComparison: (c) => comparisons.push(c) } }), toArray()));
    // The main path's results are the model's own: same labels, probabilities to 1e-5 (native
    // TensorFlow's kernels may round differently when the batches are made up differently).
    expect(results.map((r) => r.ok && r.value.label)).toEqual(a.map((p) => p!.label));
    results.forEach((r, i) => {
      const own = a[i]!;
      if (!r.ok) throw new Error(`image ${i} failed: ${r.error.message}`);
      expect(r.value.top.map((t) => t.label)).toEqual(own.top.map((t) => t.label));
      r.value.top.forEach((t, j) => expect(t.probability).toBeCloseTo(own.top[j]!.probability, 5));
    });
    expect(comparisons).toHaveLength(images.length);
    comparisons.forEach((c) => {
      const i = images.indexOf(c.input);
      expect(c.value.agree).toBe(a[i]!.label === b[i]!.label);
      expect(c.value.difference).toBeCloseTo(Math.abs(a[i]!.probability - b[i]!.probability), 5);
    });
  });

  it('predictImage refuses a shadow that does not fit the image task (another input size)', () => {
    expect(() => predictImage(first, { shadow: { model: iris } })).toThrow(/predictImage: model 'iris' does not fit/);
  });

  it('predictKeras: agree = the same argmax, difference = max |Δ| of the outputs', async () => {
    const rows = [
      [5.1, 3.5, 1.4, 0.2],
      [6.4, 3.2, 4.5, 1.5],
      [6.3, 3.3, 6.0, 2.5],
      [5.9, 3.0, 4.2, 1.5],
    ];
    const comparisons: ShadowComparison<number[], KerasOutput>[] = [];
    const results = await lastValueFrom(
      from(rows).pipe(predictKeras(iris, { outputs: 'single', shadow: { model: permuted, onComparison: (c) => comparisons.push(c as ShadowComparison<number[], KerasOutput>) } }), toArray()),
    );
    expect(comparisons).toHaveLength(4);
    comparisons.forEach((c, i) => {
      const p = (results[i] as { value: KerasOutput }).value.output;
      const best = p.indexOf(Math.max(...p));
      // The permuted model swaps outputs 0 and 2: same argmax only for class 1 (versicolor).
      expect(c.value.agree).toBe(best === 1);
      expect(c.value.difference).toBeCloseTo(Math.abs(p[0]! - p[2]!), 5);
    });
    expect(comparisons.filter((c) => c.value.agree).length).toBe(2);
  });
});
