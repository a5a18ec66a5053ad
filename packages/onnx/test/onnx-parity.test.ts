import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRIS_MODEL_DIR, initBackend, isRxmlError, loadModel, tfjsModel, type Model, type TensorData } from '@rxml/core';
import { onnxRuntime, tfjsToOnnx, toOnnxModel } from '../src/index.js';
import { numTensors } from './support/helpers.js';
import { MOBILENET_DIR, loadLayers, maxAbsDiff, seededFloats } from './support/onnx-helpers.js';

const TOLERANCE = 1e-4;
const identity = (name: string) => ({ name, version: 'test' });

beforeAll(async () => {
  await initBackend({ log: () => {} });
}, 60_000);

/** Gives every weight of `network` seeded values (variances positive), so no layer is trivial. */
function randomizeWeights(network: tfl.LayersModel, seed: number): void {
  network.layers.forEach((layer, l) => {
    const fresh = layer.weights.map((w, k) => {
      const n = w.shape.reduce<number>((a, b) => a * (b ?? 1), 1);
      const positive = w.originalName.endsWith('variance');
      return tf.tensor(seededFloats(n, seed + 97 * l + k, positive ? 0.5 : -0.5, positive ? 1.5 : 0.5), w.shape.map((d) => d ?? 1));
    });
    if (fresh.length > 0) layer.setWeights(fresh);
    tf.dispose(fresh);
  });
}

function argmaxRows(out: TensorData): number[] {
  const classes = out.shape[out.shape.length - 1]!;
  const rows: number[] = [];
  for (let r = 0; r < out.data.length / classes; r++) {
    const row = Array.from(out.data.subarray(r * classes, (r + 1) * classes));
    rows.push(row.indexOf(Math.max(...row)));
  }
  return rows;
}

/** Runs the same input through the tfjs model and its ONNX conversion; both outputs must agree. */
async function expectParity(reference: Model, converted: Model, input: TensorData): Promise<number> {
  const [expected] = await reference.run([input]);
  const [actual] = await converted.run([input]);
  expect(actual!.shape).toEqual(expected!.shape);
  const diff = maxAbsDiff(actual!, expected!);
  expect(diff).toBeLessThan(TOLERANCE);
  return diff;
}

describe('tfjsToOnnx parity: MobileNet v1 0.75 (the shared model, Keras 2.1.4 topology)', () => {
  let network: tfl.LayersModel;
  let reference: Model;
  let converted: Model;

  beforeAll(async () => {
    network = await loadLayers(MOBILENET_DIR);
    reference = tfjsModel(network, identity('mobilenet'), 'tfjs');
    const before = numTensors();
    converted = await toOnnxModel(network, identity('mobilenet'), { intraOpThreads: 1 });
    // Conversion only reads the weights: no tfjs tensor is created or left behind.
    expect(numTensors()).toBe(before);
  }, 60_000);
  afterAll(() => {
    converted.dispose();
    reference.dispose();
  });

  it('keeps the tfjs input and output specs (channels-last)', () => {
    expect(converted.runtime).toBe('onnxruntime');
    expect(converted.inputs).toEqual(reference.inputs);
    expect(converted.outputs).toEqual(reference.outputs);
    expect(converted.inputs[0]).toEqual({ name: 'input_1', shape: [null, 224, 224, 3], dtype: 'float32' });
  });

  it('matches tfjs within 1e-4 on a batch of 2 random images, with the same top class', async () => {
    const input = { data: seededFloats(2 * 224 * 224 * 3, 11), shape: [2, 224, 224, 3] };
    await expectParity(reference, converted, input);
    const [a] = await converted.run([input]);
    const [b] = await reference.run([input]);
    expect(argmaxRows(a!)).toEqual(argmaxRows(b!));
  });

  it('matches tfjs on a smooth, image-like input (gradients per channel)', async () => {
    const data = new Float32Array(224 * 224 * 3);
    for (let y = 0; y < 224; y++) for (let x = 0; x < 224; x++) {
      const i = (y * 224 + x) * 3;
      data[i] = x / 112 - 1;
      data[i + 1] = y / 112 - 1;
      data[i + 2] = Math.sin((x + y) / 20);
    }
    await expectParity(reference, converted, { data, shape: [1, 224, 224, 3] });
  });
});

describe('loadModel(dir, { runtime: onnxRuntime() })', () => {
  it('loads MobileNet onto ONNX Runtime with the tfjs identity and specs, frees the tfjs copy, and agrees', async () => {
    const before = numTensors();
    const onnx = await loadModel(MOBILENET_DIR, { runtime: onnxRuntime({ intraOpThreads: 1 }) });
    expect(numTensors()).toBe(before);
    const tfjs = await loadModel(MOBILENET_DIR);
    try {
      expect(onnx.runtime).toBe('onnxruntime');
      expect({ name: onnx.name, version: onnx.version }).toEqual({ name: tfjs.name, version: tfjs.version });
      expect(onnx.inputs).toEqual(tfjs.inputs);
      expect(onnx.outputs).toEqual(tfjs.outputs);
      await expectParity(tfjs, onnx, { data: seededFloats(224 * 224 * 3, 41), shape: [1, 224, 224, 3] });
    } finally {
      onnx.dispose();
      tfjs.dispose();
    }
  });
});

describe('tfjsToOnnx parity: MLPs', () => {
  it("the committed Iris model (Dense 4→16 relu → 3 softmax) agrees on the seed's inputs", async () => {
    const network = await loadLayers(IRIS_MODEL_DIR);
    const reference = tfjsModel(network, identity('iris'), 'tfjs');
    const converted = await toOnnxModel(network, identity('iris'));
    try {
      const rows = [5.4, 3.9, 1.7, 0.4, 7.0, 3.2, 4.7, 1.4, 4.6, 3.4, 1.4, 0.3, 6.7, 3.0, 5.2, 2.3];
      await expectParity(reference, converted, { data: Float32Array.from(rows), shape: [4, 4] });
    } finally {
      converted.dispose();
      reference.dispose();
    }
  });

  it('a seeded random Iris-like MLP agrees on 64 random rows', async () => {
    const network = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [4], units: 16, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
        tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }),
      ],
    });
    randomizeWeights(network, 5);
    const reference = tfjsModel(network, identity('iris-like'), 'tfjs');
    const converted = await toOnnxModel(network, identity('iris-like'));
    try {
      await expectParity(reference, converted, { data: seededFloats(64 * 4, 6, 0, 8), shape: [64, 4] });
    } finally {
      converted.dispose();
      reference.dispose();
    }
  });

  it("the seed's simple_mlp shape (Dense 100→64 relu → 10 softmax) agrees at batch 1 and 256", async () => {
    const network = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [100], units: 64, activation: 'relu', name: 'hidden' }),
        tfl.layers.dense({ units: 10, activation: 'softmax', name: 'probabilities' }),
      ],
    });
    randomizeWeights(network, 21);
    const reference = tfjsModel(network, identity('simple_mlp'), 'tfjs');
    const converted = await toOnnxModel(network, identity('simple_mlp'));
    try {
      expect(converted.outputs).toEqual(reference.outputs);
      await expectParity(reference, converted, { data: seededFloats(100, 22), shape: [1, 100] });
      await expectParity(reference, converted, { data: seededFloats(256 * 100, 23), shape: [256, 100] });
    } finally {
      converted.dispose();
      reference.dispose();
    }
  });
});

describe('tfjsToOnnx parity: every other supported layer', () => {
  it('a functional CNN with padding, pools, separable/depthwise convs, un-folded BN, merges and activations agrees', async () => {
    const input = tfl.input({ shape: [17, 15, 3], name: 'pixels' });
    const padded = tfl.layers.zeroPadding2d({ padding: [[1, 2], [0, 1]] }).apply(input) as tfl.SymbolicTensor;
    const c1 = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(padded) as tfl.SymbolicTensor;
    // BN after an activation (not foldable) and in front of two consumers.
    const bn = tfl.layers.batchNormalization({ epsilon: 0.01 }).apply(c1) as tfl.SymbolicTensor;
    const left = tfl.layers.separableConv2d({ filters: 8, kernelSize: 3, padding: 'same', depthMultiplier: 2, activation: 'elu' }).apply(bn) as tfl.SymbolicTensor;
    const dw = tfl.layers.depthwiseConv2d({ kernelSize: [3, 2], depthMultiplier: 1, padding: 'same', useBias: true }).apply(bn) as tfl.SymbolicTensor;
    const right = tfl.layers.reLU({ maxValue: 6 }).apply(tfl.layers.batchNormalization().apply(dw)) as tfl.SymbolicTensor;
    const sum = tfl.layers.add().apply([left, right]) as tfl.SymbolicTensor;
    const leaky = tfl.layers.leakyReLU({ alpha: 0.1 }).apply(sum) as tfl.SymbolicTensor;
    const maxPooled = tfl.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(leaky) as tfl.SymbolicTensor;
    const avgPooled = tfl.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(leaky) as tfl.SymbolicTensor;
    const joined = tfl.layers.concatenate().apply([maxPooled, avgPooled]) as tfl.SymbolicTensor;
    const conv = tfl.layers.conv2d({ filters: 6, kernelSize: 1, dilationRate: 1, activation: 'tanh' }).apply(joined) as tfl.SymbolicTensor;
    const flat = tfl.layers.flatten().apply(tfl.layers.dropout({ rate: 0.5 }).apply(conv)) as tfl.SymbolicTensor;
    const globalMax = tfl.layers.globalMaxPooling2d({}).apply(joined) as tfl.SymbolicTensor;
    const features = tfl.layers.concatenate().apply([flat, globalMax]) as tfl.SymbolicTensor;
    const hidden = tfl.layers.dense({ units: 12, activation: 'sigmoid' }).apply(features) as tfl.SymbolicTensor;
    const scores = tfl.layers.dense({ units: 4 }).apply(hidden) as tfl.SymbolicTensor;
    const probabilities = tfl.layers.softmax({ name: 'probabilities' }).apply(scores) as tfl.SymbolicTensor;
    const mapped = tfl.layers.activation({ activation: 'softplus', name: 'softplus_map' }).apply(
      tfl.layers.reshape({ targetShape: [-1, 2] }).apply(conv),
    ) as tfl.SymbolicTensor;
    const network = tfl.model({ inputs: input, outputs: [probabilities, mapped] });
    randomizeWeights(network, 100);

    const reference = tfjsModel(network, identity('cnn'), 'tfjs');
    const converted = await toOnnxModel(network, identity('cnn'));
    try {
      expect(converted.outputs.map((o) => [o.name, o.dtype])).toEqual(reference.outputs.map((o) => [o.name, o.dtype]));
      // ORT may know a dimension tfjs left open (Reshape's -1); it must never contradict one.
      converted.outputs.forEach((o, i) => o.shape.forEach((d, k) => expect([null, d]).toContain(reference.outputs[i]!.shape[k])));
      const x = { data: seededFloats(3 * 17 * 15 * 3, 101), shape: [3, 17, 15, 3] };
      const expected = await reference.run([x]);
      const actual = await converted.run([x]);
      expect(actual.map((t) => t.shape)).toEqual(expected.map((t) => t.shape));
      actual.forEach((t, i) => expect(maxAbsDiff(t, expected[i]!)).toBeLessThan(TOLERANCE));
    } finally {
      converted.dispose();
      reference.dispose();
    }
  });

  it('handles inputs of any spatial size (SAME padding decided by ORT at run time)', async () => {
    const input = tfl.input({ shape: [null, null, 2] });
    const c = tfl.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    const p = tfl.layers.maxPooling2d({ poolSize: 2, padding: 'same' }).apply(c) as tfl.SymbolicTensor;
    const network = tfl.model({ inputs: input, outputs: tfl.layers.globalAveragePooling2d({}).apply(p) as tfl.SymbolicTensor });
    randomizeWeights(network, 31);
    const reference = tfjsModel(network, identity('fcn'), 'tfjs');
    const converted = await toOnnxModel(network, identity('fcn'));
    try {
      expect(converted.inputs[0]?.shape).toEqual([null, null, null, 2]);
      await expectParity(reference, converted, { data: seededFloats(9 * 7 * 2, 32), shape: [1, 9, 7, 2] });
      await expectParity(reference, converted, { data: seededFloats(2 * 16 * 11 * 2, 33), shape: [2, 16, 11, 2] });
    } finally {
      converted.dispose();
      reference.dispose();
    }
  });

  it('folds a BatchNormalization into the convolution before it (no BN arithmetic left in the graph)', async () => {
    const network = tfl.sequential({
      layers: [
        tfl.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, useBias: false, name: 'c' }),
        tfl.layers.batchNormalization({ name: 'bn' }),
        tfl.layers.activation({ activation: 'relu6', name: 'act' }),
      ],
    });
    randomizeWeights(network, 7);
    const bytes = await tfjsToOnnx(network);
    const text = new TextDecoder('latin1').decode(bytes);
    expect(text).toContain('Conv');
    expect(text).not.toContain('bn/scale');
    const reference = tfjsModel(network, identity('fold'), 'tfjs');
    const converted = await toOnnxModel(network, identity('fold'));
    try {
      await expectParity(reference, converted, { data: seededFloats(2 * 8 * 8 * 2, 8), shape: [2, 8, 8, 2] });
    } finally {
      converted.dispose();
      reference.dispose();
    }
  });
});

describe('tfjsToOnnx refuses what it cannot convert, at load time', () => {
  async function conversionError(network: tfl.LayersModel): Promise<unknown> {
    try {
      await tfjsToOnnx(network);
    } catch (error) {
      return error;
    } finally {
      network.dispose();
    }
    return undefined;
  }

  it('names an unsupported layer and its class', async () => {
    const network = tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [6], units: 8, name: 'ok' }), tfl.layers.layerNormalization({ name: 'my_norm' }), tfl.layers.dense({ units: 2 })],
    });
    const error = await conversionError(network);
    expect(isRxmlError(error) && error.code).toBe('MODEL_LOAD_ERROR');
    expect((error as Error).message).toMatch(/layer "my_norm" \(LayerNormalization\) to ONNX: LayerNormalization is not supported/);
  });

  it('names a supported layer with an unsupported configuration', async () => {
    const network = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, activation: 'mish', name: 'odd_activation' })] });
    const error = await conversionError(network);
    expect(isRxmlError(error) && error.code).toBe('MODEL_LOAD_ERROR');
    expect((error as Error).message).toMatch(/layer "odd_activation" \(Dense\).*activation "mish"/);
  });

  it('rejects a disposed tfjs model with MODEL_LOAD_ERROR', async () => {
    const network = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2 })] });
    network.dispose();
    await expect(tfjsToOnnx(network)).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR', message: expect.stringContaining('cannot convert model') as unknown });
  });

  it('toOnnxModel rejects the same way before creating a session', async () => {
    const network = tfl.sequential({ layers: [tfl.layers.conv1d({ inputShape: [10, 2], filters: 2, kernelSize: 3, name: 'temporal' })] });
    await expect(toOnnxModel(network, identity('conv1d'))).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR', message: expect.stringContaining('"temporal" (Conv1D)') as unknown });
    network.dispose();
  });
});
