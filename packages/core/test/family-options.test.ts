/**
 * The family operators share one options type (PredictTaskOptions): what one accepts, all accept.
 * Real models: the committed Iris model and a tiny real tfjs image classifier.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject, firstValueFrom, from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImageModel, loadIrisModel, predictImage, predictIris, type BatchEvent, type ImageModel, type Model } from '../src/index.js';
import { noiseImage, saveTinyModel } from './support/fixtures.js';

let iris: Model;
let image: ImageModel;
let dir: string;

beforeAll(async () => {
  iris = await loadIrisModel();
  dir = await mkdtemp(join(tmpdir(), 'rxml-family-'));
  await saveTinyModel(join(dir, 'tiny'), 32, 3);
  image = await loadImageModel({ path: join(dir, 'tiny'), inputSize: 32, normalization: { scale: 1 / 255, offset: 0 }, labels: ['a', 'b', 'c'] });
});
afterAll(async () => {
  iris.dispose();
  image.dispose();
  await rm(dir, { recursive: true, force: true });
});

const FLOWERS = ['5.1,3.5,1.4,0.2', '6.7,3.0,5.2,2.3', 'not,a,flower', '5.9,3.0,4.2,1.5'];

describe('predictIris', () => {
  it('accepts a select that returns a promise, with the same results as a synchronous one', async () => {
    const records = FLOWERS.map((value, i) => ({ key: String(i), value }));
    const sync = await lastValueFrom(from(records).pipe(predictIris(iris, { select: (r) => r.value }), toArray()));
    const async = await lastValueFrom(from(records).pipe(predictIris(iris, { select: (r) => Promise.resolve(r.value) }), toArray()));
    const summary = (rs: typeof sync) => rs.map((r) => (r.ok ? r.value.species : r.error.code));
    expect(summary(async)).toEqual(['setosa', 'virginica', 'INVALID_INPUT', 'versicolor']);
    expect(summary(async)).toEqual(summary(sync));
  });
});

describe('predictImage', () => {
  it('reports every model call to onBatch, and a throwing onBatch changes no result', async () => {
    const images = await Promise.all([1, 2, 3, 4, 5].map((seed) => noiseImage(40, 40, 'png', seed)));
    const events: BatchEvent[] = [];
    const results = await lastValueFrom(
      from(images).pipe(
        predictImage(image, {
          batch: { size: 2, maxLatencyMs: 1000 },
          onBatch: (event) => {
            events.push(event);
            throw new Error('a broken metrics callback');
          },
        }),
        toArray(),
      ),
    );
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true]);
    expect(events.map((e) => e.size)).toEqual([2, 2, 1]);
    expect(events.every((e) => e.ok && e.model === image.model.name)).toBe(true);
  });

  it('pauses a pull-based source at the high-water mark (backpressure) and resumes it', async () => {
    const image1 = await noiseImage(40, 40, 'png', 9);
    const source = new Subject<Buffer>();
    const calls: string[] = [];
    const control = { pause: () => calls.push('pause'), resume: () => calls.push('resume') };
    const done = firstValueFrom(source.pipe(predictImage(image, { batch: { size: 2, maxLatencyMs: 1 }, backpressure: { control, highWaterMark: 4, lowWaterMark: 1 } }), toArray()));
    for (let i = 0; i < 6; i++) source.next(image1);
    expect(calls[0]).toBe('pause');
    source.complete();
    const results = await done;
    expect(results.filter((r) => r.ok)).toHaveLength(6);
    expect(calls).toContain('resume');
  });
});
