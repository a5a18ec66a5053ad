import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageModel, loadModel, predictImage, type ImageModel, type ImagePrediction, type PredictResult } from '@rxml/core';
import { onnxRuntime } from '../src/index.js';
import { modelsMirror, seedImages } from './support/shared.js';
import { MOBILENET_DIR } from './support/onnx-helpers.js';

const SEED_IMAGES = ['trained_airplane_1.jpg', 'trained_airplane_2.jpg', 'trained_butterfly.jpg', 'devil.png'];

let tfjs: ImageModel;
let onnx: ImageModel;

beforeAll(async () => {
  const spec = { path: MOBILENET_DIR, inputSize: 224, normalization: { scale: 1 / 127.5, offset: -1 }, labels: join(MOBILENET_DIR, 'labels.txt') };
  tfjs = await loadImageModel(spec);
  // The same image model with its network on ONNX Runtime: predictImage takes it unchanged.
  const model = await loadModel(MOBILENET_DIR, { runtime: onnxRuntime({ intraOpThreads: 1 }) });
  onnx = { ...tfjs, model, dispose: () => model.dispose() };
}, 60_000);
afterAll(() => {
  onnx.dispose();
  tfjs.dispose();
});

function classify(model: ImageModel): Promise<PredictResult<{ path: string }, ImagePrediction>[]> {
  return lastValueFrom(from(SEED_IMAGES.map((path) => ({ path }))).pipe(predictImage(model, { root: seedImages, topK: 5 }), toArray()));
}

describe('MobileNet on ONNX Runtime through predictImage', () => {
  it("gives the seed's images the same labels and probabilities as tfjs", async () => {
    const [expected, actual] = [await classify(tfjs), await classify(onnx)];
    expect(actual).toHaveLength(SEED_IMAGES.length);
    actual.forEach((result, i) => {
      const reference = expected[i]!;
      if (!result.ok || !reference.ok) throw new Error(`${SEED_IMAGES[i]} failed`);
      expect(result.model).toEqual(reference.model);
      expect(result.value.top.map((t) => t.label)).toEqual(reference.value.top.map((t) => t.label));
      result.value.top.forEach((t, k) => expect(Math.abs(t.probability - reference.value.top[k]!.probability)).toBeLessThan(1e-4));
    });
    const labels = actual.map((r) => (r.ok ? r.value.label : ''));
    console.log(SEED_IMAGES.map((name, i) => `${name}: ${labels[i]}`).join('; '));
    // The seed's expectations (shared/README.md): airliners, a butterfly, the devil not an airliner.
    expect(labels[1]).toBe('airliner');
    expect(labels[2]).toMatch(/butterfly|admiral|ringlet/);
    expect(labels[3]).not.toBe('airliner');
  });

  it('loadImageModel(catalog name, { runtime: onnxRuntime() }) gives the same labels as tfjs', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'rxml-cache-'));
    const onnx = await loadImageModel('mobilenet_v1_0.75_224', { cacheDir, mirror: modelsMirror, runtime: onnxRuntime({ intraOpThreads: 1 }) });
    try {
      expect(onnx.model.runtime).toBe('onnxruntime');
      const names = ['trained_airplane_2.jpg', 'trained_butterfly.jpg', 'devil.png'].map((path) => ({ path }));
      const label = (m: ImageModel) => lastValueFrom(from(names).pipe(predictImage(m, { root: seedImages }), toArray()));
      const [onOnnx, onTfjs] = [await label(onnx), await label(tfjs)];
      onOnnx.forEach((r, i) => {
        const t = onTfjs[i]!;
        if (!r.ok || !t.ok) throw new Error('both runtimes should label every seed image');
        console.log(`onnx ${r.input.path}: ${r.value.label} (${(r.value.probability * 100).toFixed(1)} %)`);
        expect(r.value.top.map((x) => x.label)).toEqual(t.value.top.map((x) => x.label));
        expect(Math.abs(r.value.probability - t.value.probability)).toBeLessThan(1e-3);
      });
    } finally {
      onnx.dispose();
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
});
