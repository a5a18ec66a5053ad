// Measures MobileNet v1 0.75 (the shared tfjs LayersModel) on ONNX Runtime (converted with
// tfjsToOnnx) and on tfjs-backend-wasm, in the same process, at batch 1 and 8. Not a test: numbers
// depend on the machine and on whoever else uses its cores. Prints one JSON line per result and a
// summary table.
//
//   pnpm --filter @rxml/onnx measure [--seconds 3] [--rounds 3] [--shared ../shared]
//
// Uses the built dist/ (run `tsc -b` first; the package script does).
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tfjsModel } from '@rxml/core';
import { toOnnxModel } from '../dist/index.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    shared: { type: 'string', default: process.env.RXML_SHARED_DIR ?? fileURLToPath(new URL('../../../../shared', import.meta.url)) },
  },
});
const seconds = Number(args.seconds);
// Rows are interleaved round by round and the median kept: on shared cores the load drifts.
const rounds = Number(args.rounds);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const modelDir = join(resolve(args.shared), 'models/mobilenet_v1_0.75_224');

async function loadLayers(dir) {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
  const chunks = await Promise.all(json.weightsManifest.flatMap((g) => g.paths.map((p) => readFile(join(dir, p)))));
  const all = Buffer.concat(chunks);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest.flatMap((g) => g.weights), weightData }));
}

/** Multiply-adds ×2 of the convolutions and dense layers, from the tfjs layer shapes. */
function flopsPerImage(network) {
  let flops = 0;
  for (const layer of network.layers) {
    const out = layer.outputShape;
    const kernel = layer.weights.find((w) => /kernel$/.test(w.originalName));
    if (kernel === undefined) continue;
    const [kh, kw, cin, cout] = kernel.shape;
    const spatial = out.length === 4 ? out[1] * out[2] : 1;
    if (layer.getClassName() === 'DepthwiseConv2D') flops += 2 * kh * kw * cin * cout * spatial;
    else if (kernel.shape.length === 4) flops += 2 * kh * kw * cin * cout * spatial;
    else flops += 2 * kernel.shape[0] * kernel.shape[1];
  }
  return flops;
}

function randomImages(batch, seed) {
  const data = new Float32Array(batch * 224 * 224 * 3);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    data[i] = s / 2 ** 31 - 1;
  }
  return { data, shape: [batch, 224, 224, 3] };
}

async function measure(model, batch) {
  const input = randomImages(batch, batch);
  for (let i = 0; i < 3; i++) await model.run([input]);
  let images = 0;
  const started = performance.now();
  while (performance.now() - started < seconds * 1000) {
    await model.run([input]);
    images += batch;
  }
  const ms = performance.now() - started;
  return { imagesPerSecond: (images * 1000) / ms, msPerImage: ms / images };
}

const backend = await initBackend({ log: () => {} });
const network = await loadLayers(modelDir);
const gflop = flopsPerImage(network) / 1e9;
const cores = availableParallelism();
const runtimes = [
  { label: `tfjs-${backend.name}`, model: tfjsModel(network, { name: 'mobilenet_v1_0.75_224', version: 'measure' }, `tfjs-${backend.name}`) },
  { label: `onnxruntime ${cores} threads`, model: await toOnnxModel(network, { name: 'mobilenet_v1_0.75_224', version: 'measure' }, { intraOpThreads: cores }) },
  { label: `onnxruntime ${cores} thr no spin`, model: await toOnnxModel(network, { name: 'mobilenet_v1_0.75_224', version: 'measure' }, { intraOpThreads: cores, spinning: false }) },
  { label: 'onnxruntime 1 thread', model: await toOnnxModel(network, { name: 'mobilenet_v1_0.75_224', version: 'measure' }, { intraOpThreads: 1 }) },
];

const samples = new Map();
for (let round = 0; round < rounds; round++) {
  for (const batch of [1, 8]) {
    for (const { label, model } of runtimes) {
      const { imagesPerSecond } = await measure(model, batch);
      const key = `${label}|${batch}`;
      samples.set(key, [...(samples.get(key) ?? []), imagesPerSecond]);
      console.log(JSON.stringify({ round, runtime: label, batch, imagesPerSecond }));
    }
  }
}
const results = [];
for (const batch of [1, 8]) {
  for (const { label } of runtimes) {
    const imagesPerSecond = median(samples.get(`${label}|${batch}`));
    results.push({ runtime: label, batch, imagesPerSecond, msPerImage: 1000 / imagesPerSecond, gflopPerSecond: imagesPerSecond * gflop });
  }
}
// The tfjs wrapper owns the network: disposing it frees the tfjs weights.
for (const { model } of runtimes) model.dispose();

// The seed's simple_mlp shape (Dense 100→64 relu → 10 softmax): per-call overhead dominates.
const mlp = tfl.sequential({
  layers: [tfl.layers.dense({ inputShape: [100], units: 64, activation: 'relu' }), tfl.layers.dense({ units: 10, activation: 'softmax' })],
});
const mlpRuntimes = [
  { label: `tfjs-${backend.name}`, model: tfjsModel(mlp, { name: 'simple_mlp', version: 'measure' }, `tfjs-${backend.name}`) },
  { label: 'onnxruntime 1 thread', model: await toOnnxModel(mlp, { name: 'simple_mlp', version: 'measure' }, { intraOpThreads: 1 }) },
];
const mlpResults = [];
for (const batch of [1, 256]) {
  const input = { data: randomImages(1, batch).data.subarray(0, batch * 100), shape: [batch, 100] };
  for (const { label, model } of mlpRuntimes) {
    for (let i = 0; i < 50; i++) await model.run([input]);
    let calls = 0;
    const started = performance.now();
    while (performance.now() - started < Math.min(seconds, 2) * 1000) {
      await model.run([input]);
      calls += 1;
    }
    const ms = performance.now() - started;
    const row = { model: 'simple_mlp', runtime: label, batch, usPerCall: (ms * 1000) / calls, samplesPerSecond: (calls * batch * 1000) / ms };
    mlpResults.push(row);
    console.log(JSON.stringify(row));
  }
}
for (const { model } of mlpRuntimes) model.dispose();

console.log(`\nMobileNet v1 0.75 224: ${gflop.toFixed(3)} GFLOP/image; ${cores} cores; median of ${rounds} rounds of ${seconds}s per row`);
console.log('runtime                    batch   images/s   ms/image   GFLOP/s   ×tfjs');
for (const row of results) {
  const base = results.find((r) => r.batch === row.batch && r.runtime.startsWith('tfjs'));
  console.log(
    `${row.runtime.padEnd(26)} ${String(row.batch).padStart(5)} ${row.imagesPerSecond.toFixed(1).padStart(10)} ${row.msPerImage.toFixed(2).padStart(10)} ${row.gflopPerSecond.toFixed(1).padStart(9)} ${(row.imagesPerSecond / base.imagesPerSecond).toFixed(1).padStart(7)}`,
  );
}

console.log('\nsimple_mlp (Dense 100→64 relu → 10 softmax)');
console.log('runtime                    batch    µs/call   samples/s');
for (const row of mlpResults) {
  console.log(`${row.runtime.padEnd(26)} ${String(row.batch).padStart(5)} ${row.usPerCall.toFixed(1).padStart(10)} ${Math.round(row.samplesPerSecond).toString().padStart(11)}`);
}
