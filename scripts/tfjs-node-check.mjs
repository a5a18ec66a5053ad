#!/usr/bin/env node
// Checks and measures the tfjs-node backend staged by scripts/setup-tfjs-node.mjs.
//
//   node scripts/tfjs-node-check.mjs --smoke   import from packages/core, matMul, tfjs-layers predict
//   node scripts/tfjs-node-check.mjs --bench   + MobileNet v1 0.75 parity and images/s, node vs wasm
//     [--iters N]  timed batches per batch size (default 20)
//
// Modules are resolved the way packages/core resolves them, so a pass here means
// `import('@tensorflow/tfjs-node')` works for @rxml/core, with the same tfjs-core instance.

import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const coreRequire = createRequire(path.join(root, 'packages/core/package.json'));
const importFromCore = async (spec) => import(pathToFileURL(coreRequire.resolve(spec)).href);

const bench = process.argv.includes('--bench');
const itersArg = process.argv.indexOf('--iters');
const ITERS = itersArg > 0 ? Number(process.argv[itersArg + 1]) : 20;
// shared/ sits beside the repo (CI, /work/main); a worktree under /work/wt/ is one level deeper.
const sharedDir = process.env.RXML_SHARED_DIR
  ?? [path.resolve(root, '../shared'), path.resolve(root, '../../shared')].find((d) => fs.existsSync(d))
  ?? path.resolve(root, '../shared');
const MODEL_DIR = path.join(sharedDir, 'models/mobilenet_v1_0.75_224');
const IMAGES_DIR = path.join(sharedDir, 'seed/images');

function check(cond, msg) {
  if (!cond) {
    console.error(`tfjs-node check FAILED: ${msg}`);
    process.exit(1);
  }
}

const tfn = await importFromCore('@tensorflow/tfjs-node').catch((e) => {
  check(false, `cannot import @tensorflow/tfjs-node (run \`pnpm setup:tfjs-node\`): ${String(e).split('\n')[0]}`);
});
const tf = await importFromCore('@tensorflow/tfjs-core');
check(tf.getBackend() === 'tensorflow', `active backend is ${tf.getBackend()}, not tensorflow`);
// One engine for both: @rxml/core's tfjs-core must see the backend tfjs-node registered.
check(tf.engine() === tfn.engine(), 'tfjs-node and @rxml/core resolved different tfjs-core instances');
const tfVersion = tf.backend().binding.TF_Version;
console.log(`tfjs-node ${tfn.version['tfjs-node']} on TensorFlow ${tfVersion}`);

const tensorsBefore = tf.memory().numTensors;

// matMul against a plain-JS product of random matrices.
{
  const [m, k, n] = [7, 13, 5];
  const a = Float32Array.from({ length: m * k }, () => Math.random() - 0.5);
  const b = Float32Array.from({ length: k * n }, () => Math.random() - 0.5);
  const got = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])).dataSync());
  let maxErr = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let x = 0; x < k; x++) s += a[i * k + x] * b[x * n + j];
      maxErr = Math.max(maxErr, Math.abs(s - got[i * n + j]));
    }
  }
  check(maxErr < 1e-5, `matMul differs from the JS product by ${maxErr}`);
  console.log(`matMul ${m}x${k}x${n}: max |err| vs JS = ${maxErr.toExponential(2)}`);
}

// A tfjs-layers model with random weights, predicted natively and on the pure-JS cpu backend.
{
  const model = tfn.sequential({
    layers: [
      tfn.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: 'relu' }),
      tfn.layers.flatten(),
      tfn.layers.dense({ units: 16, activation: 'relu' }),
      tfn.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
  const xData = Float32Array.from({ length: 2 * 8 * 8 * 3 }, () => Math.random());
  const predict = () => tf.tidy(() => model.predict(tf.tensor4d(xData, [2, 8, 8, 3]), { batchSize: 2 }).dataSync());
  const native = predict();
  await tf.setBackend('cpu');
  const prod = tf.env().getBool('PROD');
  tf.env().set('PROD', true); // silences the cpu backend's "install the node backend" banner
  const js = predict();
  tf.env().set('PROD', prod);
  await tf.setBackend('tensorflow');
  model.dispose();
  let maxErr = 0;
  for (let i = 0; i < js.length; i++) maxErr = Math.max(maxErr, Math.abs(js[i] - native[i]));
  check(native.length === 6 && maxErr < 1e-5, `layers predict differs from the cpu backend by ${maxErr}`);
  console.log(`tfjs-layers predict [2,8,8,3] -> [2,3]: max |diff| vs cpu backend = ${maxErr.toExponential(2)}`);
}
check(tf.memory().numTensors === tensorsBefore, `leaked ${tf.memory().numTensors - tensorsBefore} tensors`);
console.log('tfjs-node smoke check passed');

if (bench) {
  await importFromCore('@tensorflow/tfjs-backend-wasm');
  const labels = fs.readFileSync(path.join(MODEL_DIR, 'labels.txt'), 'utf8').split('\n');

  // Decode once (natively) so both backends see identical pixels.
  const images = fs.readdirSync(IMAGES_DIR).sort().map((f) => {
    const px = tf.tidy(() => {
      const img = tfn.node.decodeImage(fs.readFileSync(path.join(IMAGES_DIR, f)), 3);
      return tf.image.resizeBilinear(img, [224, 224]).div(127.5).sub(1).dataSync();
    });
    return { file: f, px };
  });

  const results = {};
  for (const backend of ['tensorflow', 'wasm']) {
    await tf.setBackend(backend);
    await tf.ready();
    const model = await tfn.loadLayersModel(tfn.io.fileSystem(path.join(MODEL_DIR, 'model.json')));
    const probs = images.map(({ px }) =>
      tf.tidy(() => model.predict(tf.tensor4d(px, [1, 224, 224, 3]), { batchSize: 1 }).dataSync()));
    const r = { top1: {}, probs };
    images.forEach(({ file }, i) => {
      const p = probs[i];
      const best = p.indexOf(Math.max(...p));
      r.top1[file] = `${labels[best]} (${p[best].toFixed(3)})`;
    });
    for (const bs of [1, 8]) {
      const x = tf.randomUniform([bs, 224, 224, 3], -1, 1);
      const once = async () => {
        const t0 = performance.now();
        const y = model.predict(x, { batchSize: bs });
        await y.data();
        y.dispose();
        return performance.now() - t0;
      };
      await once();
      await once();
      const iters = Math.max(3, Math.round(bs === 1 ? ITERS : ITERS / 2));
      const times = [];
      for (let i = 0; i < iters; i++) times.push(await once());
      x.dispose();
      // The CPU is shared: the median is the typical figure, the best one the uncontended capacity.
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)];
      const best = times[0];
      r[`batch${bs}`] = {
        iters,
        medianMs: +median.toFixed(1),
        imagesPerSec: +((bs * 1000) / median).toFixed(1),
        bestImagesPerSec: +((bs * 1000) / best).toFixed(1),
      };
    }
    model.dispose();
    results[backend] = r;
  }
  await tf.setBackend('tensorflow');

  let maxDiff = 0;
  results.tensorflow.probs.forEach((p, i) => {
    const q = results.wasm.probs[i];
    for (let j = 0; j < p.length; j++) maxDiff = Math.max(maxDiff, Math.abs(p[j] - q[j]));
  });
  console.log(`\nMobileNet v1 0.75 224 (TensorFlow ${tfVersion}); max |prob diff| node vs wasm = ${maxDiff.toExponential(2)}`);
  for (const { file } of images) {
    console.log(`  ${file}: node ${results.tensorflow.top1[file]} | wasm ${results.wasm.top1[file]}`);
    check(results.tensorflow.top1[file].split(' (')[0] === results.wasm.top1[file].split(' (')[0],
      `top-1 differs between node and wasm for ${file}`);
  }
  check(maxDiff < 1e-3, `node and wasm probabilities differ by ${maxDiff}`);
  console.log(`\nbackend     batch  median ms  images/s (median)  images/s (best)   [loadavg ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}]`);
  for (const backend of ['tensorflow', 'wasm']) {
    for (const bs of [1, 8]) {
      const { medianMs, imagesPerSec, bestImagesPerSec } = results[backend][`batch${bs}`];
      console.log(`${backend.padEnd(11)} ${String(bs).padStart(5)} ${String(medianMs).padStart(10)} ${String(imagesPerSec).padStart(18)} ${String(bestImagesPerSec).padStart(16)}`);
    }
  }
  if (process.env.TFJS_NODE_CHECK_JSON) {
    const { tensorflow, wasm } = results;
    console.log(JSON.stringify({ tfVersion, loadavg: os.loadavg(), maxDiff,
      tensorflow: { batch1: tensorflow.batch1, batch8: tensorflow.batch8 },
      wasm: { batch1: wasm.batch1, batch8: wasm.batch8 } }));
  }
  for (const bs of [1, 8]) {
    const ratio = results.tensorflow[`batch${bs}`].imagesPerSec / results.wasm[`batch${bs}`].imagesPerSec;
    console.log(`node / wasm at batch ${bs} (medians): ${ratio.toFixed(1)}x`);
  }
}
