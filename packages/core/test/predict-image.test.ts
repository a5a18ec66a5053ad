import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageModel, predictImage, preprocessImage, type ImageInput, type ImageModel, type PredictResult, type ImagePrediction } from '../src/index.js';
import { pngDeclaring } from './support/fixtures.js';
import { modelsMirror, seedImages } from './support/shared.js';

const BUTTERFLIES = new Set([
  'admiral',
  'ringlet, ringlet butterfly',
  'monarch, monarch butterfly, milkweed butterfly, Danaus plexippus',
  'cabbage butterfly',
  'sulphur butterfly, sulfur butterfly',
  'lycaenid, lycaenid butterfly',
]);

let mobilenet: ImageModel;
let cacheDir: string;
let root: string;

beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'rxml-cache-'));
  mobilenet = await loadImageModel('mobilenet_v1_0.75_224', { cacheDir, mirror: modelsMirror });
  // A root holding a few seed images, a text file, and a symlink to a file outside it.
  root = await mkdtemp(join(tmpdir(), 'rxml-images-'));
  await writeFile(join(root, 'plane.jpg'), await readFile(join(seedImages, 'trained_airplane_2.jpg')));
  await writeFile(join(root, 'notes.txt'), 'this is not an image\n');
  await writeFile(join(root, 'empty.jpg'), new Uint8Array(0));
  await symlink(join(seedImages, 'devil.png'), join(root, 'escape.png'));
  await symlink(join(root, 'plane.jpg'), join(root, 'inside-link.jpg'));
});
afterAll(async () => {
  mobilenet.dispose();
  await rm(cacheDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

function run<In>(inputs: In[], options: Parameters<typeof predictImage<In>>[1] = {}): Promise<PredictResult<In, ImagePrediction>[]> {
  return lastValueFrom(from(inputs).pipe(predictImage(mobilenet, { root, ...options }), toArray()));
}

describe('predictImage with MobileNet v1 0.75 on the seed images', () => {
  it("gives the seed's expected labels", async () => {
    const names = ['trained_airplane_2.jpg', 'trained_butterfly.jpg', 'devil.png'];
    const results = await lastValueFrom(
      from(names.map((path) => ({ path }))).pipe(predictImage(mobilenet, { root: seedImages, topK: 3 }), toArray()),
    );
    const top1 = new Map<string, string>();
    for (const r of results) {
      if (!r.ok) throw r.error;
      top1.set(r.input.path, r.value.label);
      console.log(`${r.input.path}: ${r.value.label} (${(r.value.probability * 100).toFixed(1)} %)`);
      expect(r.value.top).toHaveLength(3);
      expect(r.value.top[0]).toEqual({ label: r.value.label, probability: r.value.probability });
      expect(r.value.top[0]!.probability).toBeGreaterThanOrEqual(r.value.top[1]!.probability);
      expect(r.model.name).toBe('mobilenet_v1_0.75_224');
    }
    expect(top1.get('trained_airplane_2.jpg')).toBe('airliner');
    expect(BUTTERFLIES.has(top1.get('trained_butterfly.jpg') ?? '')).toBe(true);
    expect(top1.get('devil.png')).not.toBe('airliner');
  });

  it('labels image bytes the same as the path, and a fill resize still finds the airliner', async () => {
    const bytes = await readFile(join(seedImages, 'trained_airplane_2.jpg'));
    const [fromBytes, fromPath, filled] = await run<ImageInput>([bytes, { path: 'plane.jpg' }]).then(async (r) => [
      ...r,
      ...(await run<ImageInput>([new Uint8Array(bytes)], { fit: 'fill' })),
    ]);
    expect(fromBytes?.ok && fromPath?.ok && filled?.ok).toBe(true);
    if (!fromBytes?.ok || !fromPath?.ok || !filled?.ok) return;
    // Same pixels in; native TensorFlow may differ in the last float bits between batch positions.
    expect(fromBytes.value.top.map((t) => t.label)).toEqual(fromPath.value.top.map((t) => t.label));
    fromBytes.value.top.forEach((t, i) => expect(t.probability).toBeCloseTo(fromPath.value.top[i]!.probability, 6));
    expect(filled.value.label).toBe('airliner');
  });

  it('labels pre-decoded pixels like the bytes they came from, and refuses wrongly sized pixels', async () => {
    const bytes = await readFile(join(seedImages, 'trained_airplane_2.jpg'));
    const pixels = await preprocessImage(bytes, { inputSize: mobilenet.inputSize, normalization: mobilenet.normalization });
    const [fromBytes, fromPixels, short, notFloats] = await run<ImageInput>([
      bytes,
      { pixels },
      { pixels: pixels.subarray(1) },
      { pixels: new Uint8Array(pixels.length) as unknown as Float32Array },
    ]);
    expect(fromBytes?.ok && fromPixels?.ok).toBe(true);
    if (!fromBytes?.ok || !fromPixels?.ok) return;
    // Same pixels in; the two rows share one batch, so only float rounding may differ.
    expect(fromPixels.value.top.map((t) => t.label)).toEqual(fromBytes.value.top.map((t) => t.label));
    expect(fromPixels.value.probability).toBeCloseTo(fromBytes.value.probability, 4);
    expect(fromPixels.value.label).toBe('airliner');
    for (const bad of [short, notFloats]) {
      expect(bad?.ok).toBe(false);
      if (bad?.ok === false) expect(bad.error.code).toBe('INVALID_INPUT');
    }
  });

  it('refuses bad inputs one by one and still labels the valid image after each', async () => {
    const plane = await readFile(join(seedImages, 'trained_airplane_2.jpg'));
    const bad: [string, ImageInput][] = [
      ['traversal', { path: '../../../../etc/passwd' }],
      ['traversal inside', { path: 'sub/../../outside.jpg' }],
      ['absolute outside', { path: '/etc/passwd' }],
      ['symlink out of root', { path: 'escape.png' }],
      ['missing', { path: 'nope.jpg' }],
      ['0 bytes', new Uint8Array(0)],
      ['0-byte file', { path: 'empty.jpg' }],
      ['text file', { path: 'notes.txt' }],
      ['text bytes', Buffer.from('hello, world')],
      ['truncated JPEG', plane.subarray(0, plane.length >> 1)],
      ['PNG declaring 30000x30000', pngDeclaring(30000, 30000)],
    ];
    const inputs = bad.flatMap(([, input]) => [input, { path: 'plane.jpg' }]);
    const results = await run<ImageInput>(inputs, { batch: { size: 4 } });
    expect(results).toHaveLength(inputs.length);
    bad.forEach(([what], i) => {
      const failed = results[2 * i];
      const next = results[2 * i + 1];
      expect(failed?.ok, what).toBe(false);
      if (failed?.ok === false) {
        expect(failed.error.code, what).toBe(what === 'PNG declaring 30000x30000' ? 'LIMIT_EXCEEDED' : 'INVALID_INPUT');
        console.log(`${what}: ${failed.error.message}`);
      }
      expect(next?.ok && next.value.label, `valid image after ${what}`).toBe('airliner');
    });
  });

  it('follows a symlink that stays inside the root, accepts an absolute path inside it', async () => {
    const results = await run<ImageInput>([{ path: 'inside-link.jpg' }, { path: join(root, 'plane.jpg') }]);
    expect(results.map((r) => r.ok && r.value.label)).toEqual(['airliner', 'airliner']);
  });

  it('refuses path inputs without a root, files over maxInputBytes unread, too many pixels, too slow a decode', async () => {
    const noRoot = await lastValueFrom(from([{ path: join(root, 'plane.jpg') }]).pipe(predictImage(mobilenet), toArray()));
    expect(noRoot[0]?.ok === false && noRoot[0].error.message).toMatch(/need options.root/);
    const small = await run<ImageInput>([{ path: 'plane.jpg' }], { maxInputBytes: 1000 });
    expect(small[0]?.ok === false && small[0].error.message).toBe('image file is 13896 bytes, over maxInputBytes 1000 bytes (option maxInputBytes)');
    const fewPixels = await run<ImageInput>([{ path: 'plane.jpg' }], { maxPixels: 100 * 100 });
    expect(fewPixels[0]?.ok === false && fewPixels[0].error).toMatchObject({ code: 'LIMIT_EXCEEDED', message: 'image is 395×149 = 0.0589 MP, over maxPixels 0.01 MP (option maxPixels)' });
    // devil.png is a 370 KB PNG (no shrink-on-load): its decode takes far longer than 1 ms.
    const devil = await readFile(join(seedImages, 'devil.png'));
    const slow = await run<ImageInput>([devil, { path: 'plane.jpg' }], { decodeTimeoutMs: 1 });
    expect(slow[0]?.ok === false && slow[0].error.message).toMatch(/longer than decodeTimeoutMs 1 ms/);
  });

  it('leaks no tensors over seed images and failures', async () => {
    const before = tf.memory().numTensors;
    const inputs: ImageInput[] = [];
    for (let i = 0; i < 12; i++) inputs.push(i % 3 === 0 ? Buffer.from('junk') : { path: 'plane.jpg' });
    const results = await run(inputs, { batch: { size: 4 } });
    expect(results.filter((r) => r.ok)).toHaveLength(8);
    expect(tf.memory().numTensors).toBe(before);
  });
});
