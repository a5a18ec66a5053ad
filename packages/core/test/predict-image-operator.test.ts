import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EMPTY, Observable, from, interval, lastValueFrom, map, of, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageModel, predictImage, RxmlError, type ImageInput, type ImageModel } from '../src/index.js';
import { noiseImage, pngDeclaring, saveTinyModel } from './support/fixtures.js';

// A small real tfjs model (32x32 input, 5 classes) so that a thousand model calls stay quick.
const LABELS = ['a', 'b', 'c', 'd', 'e'];
let dir: string;
let model: ImageModel;
let images: Buffer[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rxml-tiny-'));
  await saveTinyModel(join(dir, 'tiny'));
  await writeFile(join(dir, 'tiny', 'labels.txt'), LABELS.join('\n'));
  model = await loadImageModel({
    path: join(dir, 'tiny'),
    inputSize: 32,
    normalization: { mean: [123.7, 116.3, 103.5], std: [58.4, 57.1, 57.4] },
    labels: join(dir, 'tiny', 'labels.txt'),
  });
  images = await Promise.all([
    noiseImage(48, 40, 'png', 1),
    noiseImage(64, 64, 'jpeg', 2),
    noiseImage(30, 50, 'webp', 3),
    noiseImage(40, 40, 'gif', 4),
  ]);
});
afterAll(async () => {
  model.dispose();
  await rm(dir, { recursive: true, force: true });
});

const labelled = (r: { ok: boolean }): boolean => r.ok;

describe('own model directory', () => {
  it('loads with a spec and labels every accepted format', async () => {
    expect(model.labels).toEqual(LABELS);
    const results = await lastValueFrom(of(...images).pipe(predictImage(model, { topK: 2 }), toArray()));
    for (const r of results) {
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(LABELS).toContain(r.value.label);
      expect(r.value.top).toHaveLength(2);
      const sum = r.value.top.reduce((s, t) => s + t.probability, 0);
      expect(sum).toBeLessThanOrEqual(1.0001);
    }
  });

  it('refuses a spec whose labels, input size or normalization do not fit', async () => {
    const error = await loadImageModel({ path: join(dir, 'tiny'), inputSize: 32, normalization: { scale: 1, offset: 0 }, labels: ['x'] }).catch(
      (e: unknown) => e,
    );
    expect((error as RxmlError).code).toBe('MODEL_LOAD_ERROR');
    expect((error as RxmlError).message).toMatch(/does not match 1 labels/);
    await expect(
      loadImageModel({ path: join(dir, 'tiny'), inputSize: 224, normalization: { scale: 1, offset: 0 }, labels: LABELS }),
    ).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR' });
    await expect(
      loadImageModel({ path: join(dir, 'tiny'), inputSize: 32, normalization: { mean: [0, 0, 0], std: [1, 0, 1] }, labels: LABELS }),
    ).rejects.toMatchObject({ code: 'INVALID_CONFIG' }); // a bad option, refused before reading (docs/errors.md)
  });
});

describe('predictImage operator checklist', () => {
  it('empty source completes with nothing', async () => {
    expect(await lastValueFrom(EMPTY.pipe(predictImage(model), toArray()))).toEqual([]);
  });

  it('one image gives one result', async () => {
    const results = await lastValueFrom(of(images[0]!).pipe(predictImage(model), toArray()));
    expect(results).toHaveLength(1);
    expect(results[0]?.ok).toBe(true);
  });

  it('many images keep their order', async () => {
    const inputs = Array.from({ length: 50 }, (_, i) => images[i % images.length]!);
    const results = await lastValueFrom(from(inputs).pipe(predictImage(model, { batch: { size: 8 } }), toArray()));
    expect(results.map((r) => r.input)).toEqual(inputs);
    expect(results.every(labelled)).toBe(true);
  });

  it('an error in the source is passed on', async () => {
    const failing = new Observable<ImageInput>((s) => {
      s.next(images[0]!);
      s.error(new Error('source broke'));
    });
    await expect(lastValueFrom(failing.pipe(predictImage(model), toArray()))).rejects.toThrow('source broke');
  });

  it('a never-ending source with take(n) completes', async () => {
    const results = await lastValueFrom(
      interval(1).pipe(
        map((i) => images[i % images.length]!),
        predictImage(model),
        take(5),
        toArray(),
      ),
    );
    expect(results).toHaveLength(5);
  });

  it('early unsubscribe stops results and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const seen: unknown[] = [];
    const sub = interval(1)
      .pipe(
        map((i) => images[i % images.length]!),
        predictImage(model),
      )
      .subscribe((r) => seen.push(r));
    await new Promise((r) => setTimeout(r, 150));
    sub.unsubscribe();
    const count = seen.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(seen.length).toBe(count);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('select throwing gives INVALID_INPUT for that record only', async () => {
    const records = [{ id: 1 }, { id: 2 }, { id: 3 }];
    const results = await lastValueFrom(
      from(records).pipe(
        predictImage(model, {
          select: (r) => {
            if (r.id === 2) throw new Error('no image in record 2');
            return images[0]!;
          },
        }),
        toArray(),
      ),
    );
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[1]?.ok === false && results[1].error.code).toBe('INVALID_INPUT');
    expect(results.map((r) => r.input)).toEqual(records);
  });
});

describe('decoding overlaps inference', () => {
  it('decodes the next images while a batch is in the model', async () => {
    const calls: { start: number; end: number }[] = [];
    const slow: ImageModel = {
      ...model,
      model: {
        ...model.model,
        run: async (inputs) => {
          const call = { start: performance.now(), end: Infinity };
          calls.push(call);
          await new Promise((r) => setTimeout(r, 150));
          const out = await model.model.run(inputs);
          call.end = performance.now();
          return out;
        },
      },
    };
    const decodeStarts: number[] = [];
    const results = await lastValueFrom(
      from(Array.from({ length: 16 }, (_, i) => i)).pipe(
        predictImage(slow, {
          batch: { size: 4, maxLatencyMs: 1 },
          decodeConcurrency: 4,
          select: (i) => {
            decodeStarts.push(performance.now());
            return images[i % images.length]!;
          },
        }),
        toArray(),
      ),
    );
    expect(results.every(labelled)).toBe(true);
    expect(calls.length).toBeGreaterThanOrEqual(4);
    const first = calls[0]!;
    const duringFirstCall = decodeStarts.filter((t) => t > first.start && t < first.end).length;
    expect(duringFirstCall).toBeGreaterThan(0);
  });
});

describe('tensor leaks', () => {
  it('leaves no tensor behind over 1,000 images including failures', async () => {
    const bad = [Buffer.alloc(0), Buffer.from('not an image'), images[1]!.subarray(0, 100), pngDeclaring(30000, 30000)];
    const inputs = Array.from({ length: 1000 }, (_, i) => (i % 10 === 9 ? bad[i % bad.length]! : images[i % images.length]!));
    const before = tf.memory().numTensors;
    const started = performance.now();
    const results = await lastValueFrom(from(inputs).pipe(predictImage(model, { batch: { size: 32 } }), toArray()));
    const ms = performance.now() - started;
    console.log(`1000 images (100 bad) through a 32x32 model: ${ms.toFixed(0)} ms`);
    expect(results).toHaveLength(1000);
    expect(results.filter(labelled)).toHaveLength(900);
    // The 30000×30000 PNG is over maxPixels (LIMIT_EXCEEDED); the others are not images (INVALID_INPUT).
    expect(new Set(results.map((r) => (r.ok ? 'ok' : r.error.code)))).toEqual(new Set(['ok', 'INVALID_INPUT', 'LIMIT_EXCEEDED']));
    expect(tf.memory().numTensors).toBe(before);
  });
});
