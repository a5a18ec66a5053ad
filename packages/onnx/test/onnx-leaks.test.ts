import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type Model } from '@rxml/core';
import { loadOnnxModel, tfjsToOnnx, toOnnxModel } from '../src/index.js';
import { numTensors } from './support/helpers.js';
import { seededFloats } from './support/onnx-helpers.js';

// A full GC before each reading, so collectable output arrays do not count as growth.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
async function rssMb(): Promise<number> {
  // Session release runs on ORT's side after dispose() returns; give it a moment.
  await new Promise((r) => setTimeout(r, 20));
  gc();
  return process.memoryUsage().rss / 2 ** 20;
}

let network: tfl.LayersModel;
let bytes: Uint8Array;
let model: Model;

beforeAll(async () => {
  await initBackend({ log: () => {} });
  // The seed's simple_mlp shape: cheap to run, so a leak per call shows up quickly.
  network = tfl.sequential({
    layers: [tfl.layers.dense({ inputShape: [100], units: 64, activation: 'relu' }), tfl.layers.dense({ units: 10, activation: 'softmax' })],
  });
  bytes = await tfjsToOnnx(network);
  model = await loadOnnxModel(bytes, { name: 'simple_mlp', intraOpThreads: 1 });
}, 60_000);
afterAll(() => {
  model.dispose();
  network.dispose();
});

describe('ONNX models leave nothing behind', () => {
  it('toOnnxModel creates and keeps no tfjs tensor', async () => {
    const before = numTensors();
    const converted = await toOnnxModel(network, { name: 'simple_mlp', version: 'v' });
    converted.dispose();
    expect(numTensors()).toBe(before);
  });

  it('a disposed model refuses to run; a batch in flight at dispose() still completes', async () => {
    const own = await loadOnnxModel(bytes);
    const input = { data: seededFloats(300, 1), shape: [3, 100] };
    const inFlight = own.run([input]);
    own.dispose();
    const [out] = await inFlight;
    expect(out!.shape).toEqual([3, 10]);
    await expect(own.run([input])).rejects.toMatchObject({ code: 'MODEL_ERROR', message: expect.stringContaining('disposed') as unknown });
    expect(() => own.dispose()).not.toThrow();
  });

  // 512 rows in and out are ~220 kB per call: leaking them for 600 calls would be ~130 MB.
  it('600 runs of 512 rows do not grow the process', async () => {
    const input = { data: seededFloats(512 * 100, 2), shape: [512, 100] };
    for (let i = 0; i < 300; i++) await model.run([input]);
    const before = await rssMb();
    for (let i = 0; i < 600; i++) await model.run([input]);
    expect((await rssMb()) - before).toBeLessThan(30);
  });

  // Measured with the flight-delay GBM: 80 cycles without dispose() grow the process by ~50 MB;
  // with it, by ~1 MB.
  it('80 load/run/dispose cycles do not grow the process', async () => {
    const gbm = new Uint8Array(await readFile(fileURLToPath(new URL('./fixtures/onnx/flight-delay.onnx', import.meta.url))));
    const input = { data: seededFloats(4 * 7, 3, 0, 12), shape: [4, 7] };
    const cycle = async () => {
      const m = await loadOnnxModel(gbm, { intraOpThreads: 1 });
      await m.run([input]);
      m.dispose();
    };
    for (let i = 0; i < 10; i++) await cycle();
    const before = await rssMb();
    for (let i = 0; i < 80; i++) await cycle();
    expect((await rssMb()) - before).toBeLessThan(15);
  });
});
