import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { RxmlError, initBackend, type Model } from '@rxml/core';
import { SUPPORTED_KERAS_LAYERS, kerasLayersModel, loadKerasModel, readKerasArtifacts, type KerasArtifacts } from '../src/index.js';
import { numTensors } from './support/helpers.js';
import { KERAS_FIXTURES, flatten, maxAbsDiff, readExpectation, toTensorData } from './support/keras-fixtures.js';

beforeAll(async () => {
  await initBackend({ log: () => {} });
});

const fixture = (file: string) => `${KERAS_FIXTURES}${file}`;
const bytesOf = (file: string) => new Uint8Array(readFileSync(fixture(file)));
const configOf = (flavor: string) => readFileSync(fixture(`${flavor}/simple_mlp.config.json`), 'utf8');

async function loadError(load: () => Promise<Model>): Promise<RxmlError> {
  const before = numTensors();
  let model: Model | undefined;
  try {
    model = await load();
  } catch (error) {
    // A failed load keeps no tfjs variables alive.
    expect(numTensors()).toBe(before);
    expect(error).toBeInstanceOf(RxmlError);
    return error as RxmlError;
  }
  model.dispose();
  throw new Error('expected the load to fail');
}

async function expectMlpParity(model: Model, flavor: string): Promise<void> {
  const expected = readExpectation(flavor, 'simple_mlp');
  const [out] = await model.run(expected.inputs.map(toTensorData));
  expect(out?.shape).toEqual([3, 10]);
  expect(maxAbsDiff(out!.data, toTensorData(expected.outputs[0]!).data)).toBeLessThanOrEqual(1e-5);
}

describe('loadKerasModel: weights-only HDF5 plus a JSON config', () => {
  it.each([
    ['tf2', 'tf2/simple_mlp.legacy-weights.h5'],
    ['tf2', 'tf2/simple_mlp.weights.h5'],
    ['keras3', 'keras3/simple_mlp.weights.h5'],
  ])('%s: %s matches Keras', async (flavor, file) => {
    const model = await loadKerasModel(fixture(file), { config: configOf(flavor) });
    try {
      expect(model.name).toBe('simple_mlp');
      await expectMlpParity(model, flavor);
    } finally {
      model.dispose();
    }
  });

  it('accepts the config already parsed, and bytes instead of a path', async () => {
    const model = await loadKerasModel(bytesOf('tf2/simple_mlp.legacy-weights.h5'), { config: JSON.parse(configOf('tf2')) as object, name: 'mlp' });
    try {
      expect(model.name).toBe('mlp');
      await expectMlpParity(model, 'tf2');
    } finally {
      model.dispose();
    }
  });

  it('asks for the config when a weights-only file comes alone', async () => {
    const error = await loadError(() => loadKerasModel(fixture('tf2/simple_mlp.legacy-weights.h5')));
    expect(error.code).toBe('MODEL_LOAD_ERROR');
    expect(error.message).toMatch(/weights only.*options\.config/);
  });

  it('rejects weights that do not fit the config, naming the layer', async () => {
    const config = configOf('tf2').replace('"units": 64', '"units": 32');
    const error = await loadError(() => loadKerasModel(fixture('tf2/simple_mlp.legacy-weights.h5'), { config }));
    expect(error.code).toBe('MODEL_LOAD_ERROR');
    expect(error.message).toMatch(/do not fit|shape/i);
  });
});

describe('loadKerasModel: the oldest Keras 2.0-2.2 HDF5 layout', () => {
  // Assembled by the fixture script in the Keras 2.1 layout (bytes attributes, bare-list Sequential
  // config, `Model` class with 4-element inbound nodes) from simple_mlp's weights.
  it.each([
    ['tf2/simple_mlp.keras21-sequential.h5', 'sequential', 'dense_1_input'],
    ['tf2/simple_mlp.keras21-model.h5', 'simple_mlp', 'input_1'],
  ])('%s matches Keras', async (file, name, input) => {
    const model = await loadKerasModel(fixture(file));
    try {
      expect(model.name).toBe(name);
      expect(model.inputs.map((i) => i.name)).toEqual([input]);
      expect(model.outputs.map((o) => o.name)).toEqual(['dense_2']);
      await expectMlpParity(model, 'tf2');
    } finally {
      model.dispose();
    }
  });
});

describe('loadKerasModel: unsupported layers, activations and options fail at load time', () => {
  it.each(['tf2/custom_layer.h5', 'keras3/custom_layer.keras', 'keras3/custom_layer.h5'])('%s: a user-defined layer is named by class and name', async (file) => {
    const error = await loadError(() => loadKerasModel(fixture(file)));
    expect(error.code).toBe('MODEL_LOAD_ERROR');
    expect(error.message).toContain('ScaleLayer');
    expect(error.message).toContain("'times_three'");
  });

  it('lists the supported classes, without user-defined ones', () => {
    expect(SUPPORTED_KERAS_LAYERS).toEqual(expect.arrayContaining(['Dense', 'Conv2D', 'LSTM', 'GRU', 'Bidirectional', 'TimeDistributed', 'Embedding']));
    expect(SUPPORTED_KERAS_LAYERS).not.toContain('MultiHeadAttention');
    expect(SUPPORTED_KERAS_LAYERS).not.toContain('ScaleLayer');
  });

  it.each([
    ['a built-in layer tfjs-layers lacks', { class_name: 'MultiHeadAttention', config: { name: 'attention', num_heads: 2, key_dim: 4 } }, /layer 'attention' \(MultiHeadAttention\): this layer class is not supported/],
    ['causal padding, which tfjs-layers accepts but cannot run', { class_name: 'Conv1D', config: { name: 'conv', filters: 2, kernel_size: [2], padding: 'causal' } }, /layer 'conv' \(Conv1D\): unsupported option padding="causal"/],
    ['a nested model', { class_name: 'Sequential', config: { name: 'inner', layers: [] } }, /layer 'inner' \(Sequential\): nested models are not supported/],
  ])('%s', async (_what, layer, message) => {
    const config = JSON.parse(configOf('tf2')) as { config: { layers: unknown[] } };
    config.config.layers.splice(1, 0, layer);
    const error = await loadError(() => loadKerasModel(fixture('tf2/simple_mlp.legacy-weights.h5'), { config }));
    expect(error.message).toMatch(message);
  });

  it('an activation tfjs does not implement', async () => {
    const config = configOf('tf2').replace('"activation": "softmax"', '"activation": "exponential"');
    const error = await loadError(() => loadKerasModel(fixture('tf2/simple_mlp.legacy-weights.h5'), { config }));
    expect(error.message).toMatch(/layer 'dense_1' \(Dense\): unsupported activation "exponential"/);
  });

  it("Keras 3's hard_sigmoid, which differs from the Keras 2 formula tfjs implements", async () => {
    const config = configOf('keras3').replace('"activation": "relu"', '"activation": "hard_sigmoid"');
    const error = await loadError(() => loadKerasModel(fixture('keras3/simple_mlp.weights.h5'), { config }));
    expect(error.message).toMatch(/layer 'dense' \(Dense\): unsupported activation "hard_sigmoid"/);
  });

  it('an option tfjs cannot honour (LoRA on a Dense layer)', async () => {
    const config = configOf('keras3').replace('"quantization_config": null', '"lora_rank": 4, "quantization_config": null');
    const error = await loadError(() => loadKerasModel(fixture('keras3/simple_mlp.weights.h5'), { config }));
    expect(error.message).toMatch(/\(Dense\): unsupported option lora_rank=4/);
  });

  it('mixed precision (float16 compute) rather than silently computing in float32', async () => {
    const config = configOf('keras3').replaceAll('"name": "float32"', '"name": "mixed_float16"');
    const error = await loadError(() => loadKerasModel(fixture('keras3/simple_mlp.weights.h5'), { config }));
    expect(error.message).toMatch(/dtype "mixed_float16" is not supported/);
  });

});

describe('kerasLayersModel: a model tfjs builds but cannot run fails at load time', () => {
  it('runs the model once on zeros and disposes it when that throws', async () => {
    // Hand-made artifacts that bypass the option checks: tfjs-layers builds a causal Conv1D and
    // throws only when predicting.
    const converted = await readKerasArtifacts(fixture('tf2/simple_mlp.legacy-weights.h5'), { config: configOf('tf2') });
    const topology = {
      class_name: 'Sequential',
      config: {
        name: 'causal',
        layers: [
          { class_name: 'InputLayer', config: { batch_input_shape: [null, 4, 2], dtype: 'float32', name: 'in' } },
          { class_name: 'Conv1D', config: { name: 'conv', filters: 1, kernel_size: [2], padding: 'causal', use_bias: false } },
        ],
      },
    };
    const handMade: KerasArtifacts = {
      ...converted,
      model: { ...converted.model, modelName: 'causal', topology },
      artifacts: { ...converted.artifacts, modelTopology: topology, weightSpecs: [{ name: 'conv/kernel', shape: [2, 2, 1], dtype: 'float32' }], weightData: new Float32Array(4).buffer },
    };
    const before = numTensors();
    const error = await kerasLayersModel(handMade).then(
      (network) => {
        network.dispose();
        throw new Error('expected the load to fail');
      },
      (e: unknown) => e as RxmlError,
    );
    expect(error.code).toBe('MODEL_LOAD_ERROR');
    expect(error.message).toMatch(/tfjs cannot run model 'causal': .*CAUSAL/);
    expect(numTensors()).toBe(before);
  });
});

describe('loadKerasModel: corrupt, truncated and foreign files', () => {
  const mlpH5 = bytesOf('tf2/simple_mlp.h5');
  const mlpKeras = bytesOf('keras3/simple_mlp.keras');
  it.each([
    ['a truncated .h5', mlpH5.subarray(0, Math.floor(mlpH5.length / 2)), /not a readable HDF5 file \(corrupt or truncated\?\): truncated file: eof = \d+/],
    ['an .h5 cut just before its end', mlpH5.subarray(0, mlpH5.length - 10), /not a readable HDF5 file .*truncated file/],
    ['a truncated .keras', mlpKeras.subarray(0, Math.floor(mlpKeras.length / 2)), /not a readable \.keras archive/],
    ['an empty file', new Uint8Array(0), /neither an HDF5.*nor a \.keras archive/],
    ['a text file', new TextEncoder().encode('{"class_name": "Sequential"}'), /neither an HDF5.*nor a \.keras archive/],
    ['an HDF5 signature followed by junk', Uint8Array.from([...mlpH5.subarray(0, 8), ...new Uint8Array(4000).fill(7)]), /not a readable HDF5 file/],
  ])('%s', async (_what, bytes, message) => {
    const error = await loadError(() => loadKerasModel(bytes));
    expect(error.code).toBe('MODEL_LOAD_ERROR');
    expect(error.message).toMatch(message);
  });

  it('a missing file', async () => {
    const error = await loadError(() => loadKerasModel(fixture('tf2/no_such_model.h5')));
    expect(error.message).toMatch(/cannot read .*no_such_model\.h5/);
  });

  it('the same file loads fine afterwards (h5wasm state is not poisoned)', async () => {
    const model = await loadKerasModel(mlpH5);
    try {
      await expectMlpParity(model, 'tf2');
    } finally {
      model.dispose();
    }
  });
});

describe('loadKerasModel: resources', () => {
  it('load, predict and dispose leave no tensors behind', async () => {
    const cycle = async (file: string) => {
      const model = await loadKerasModel(fixture(file));
      const expected = readExpectation(file.split('/')[0]!, file.split('/')[1]!.replace(/\.(h5|keras)$/, ''));
      await model.run(expected.inputs.map(toTensorData));
      model.dispose();
    };
    const before = numTensors();
    for (const file of ['tf2/lstm_text.h5', 'keras3/lstm_text.keras', 'keras3/two_inputs.keras', 'keras3/bn_dropout.h5', 'tf2/small_cnn.h5', 'keras3/gru_reset_after.keras', 'tf2/rnn_stack.h5']) {
      await cycle(file);
    }
    expect(numTensors()).toBe(before);
  });

  it('readKerasArtifacts exposes the tfjs topology and weights, and the Keras names', async () => {
    const converted = await readKerasArtifacts(fixture('keras3/custom_named.keras'));
    expect(converted.format).toBe('keras');
    expect(converted.kerasVersion).toMatch(/^3\./);
    expect(converted.model.outputNames).toEqual(['scores>final']);
    const renamed = converted.model.layers.find((l) => l.kerasName === 'scores>final');
    expect(renamed?.name).toMatch(/^[A-Za-z0-9][-A-Za-z0-9._/]*$/);
    const specs = converted.artifacts.weightSpecs;
    expect(specs.map((s) => s.name)).toContain(`${renamed?.name}/kernel`);
    const floats = specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    expect(converted.artifacts.weightData.byteLength).toBe(floats * 4);
    expect((converted.artifacts.modelTopology as { class_name: string }).class_name).toBe('Functional');
  });
});

describe('loadKerasModel: architecture JSON + weights-only legacy .h5 from different sessions', () => {
  // Made by scripts/keras-fixtures/make_json_weights_pair.py: weights saved from one model instance
  // (conv1d, gru, time_distributed), the JSON from another (conv1d_1, gru_1, time_distributed_1).
  const seqConfig = () => readFileSync(fixture('tf2/seq_gru.config.json'), 'utf8');
  const seqCase = readExpectation('tf2', 'seq_gru') as ReturnType<typeof readExpectation> & { weights_file_layers: string[]; config_layers: string[] };
  const weights = 'tf2/seq_gru.legacy-weights.h5';

  async function expectSeqParity(model: Model): Promise<void> {
    const [out] = await model.run([toTensorData(seqCase.inputs[0]!)]);
    expect(out!.shape).toEqual([3, 6, 4]);
    expect(maxAbsDiff(Array.from(out!.data), flatten(seqCase.outputs[0]!.data))).toBeLessThanOrEqual(1e-5);
  }

  it('loads by layer order when the names differ, as Keras does, and predicts what Keras predicts', async () => {
    expect(seqCase.weights_file_layers).toEqual(['conv1d', 'gru', 'time_distributed']);
    expect(seqCase.config_layers).toEqual(['conv1d_1', 'gru_1', 'time_distributed_1']);
    const model = await loadKerasModel(fixture(weights), { config: seqConfig() });
    try {
      expect(model.outputs.map((o) => o.name)).toEqual(['time_distributed_1']);
      await expectSeqParity(model);
    } finally {
      model.dispose();
    }
  });

  it('loads by name when every name matches the file', async () => {
    const sameNames = seqConfig().replace(/"(conv1d|gru|time_distributed)_1"/g, '"$1"');
    const model = await loadKerasModel(fixture(weights), { config: sameNames });
    try {
      expect(model.outputs.map((o) => o.name)).toEqual(['time_distributed']);
      await expectSeqParity(model);
    } finally {
      model.dispose();
    }
  });

  it('by order, a different number of layers with weights is refused listing both sides', async () => {
    const config = JSON.parse(seqConfig()) as { config: { layers: unknown[] } };
    config.config.layers.push({ class_name: 'Dense', config: { name: 'extra', units: 2, activation: 'linear', use_bias: true } });
    const error = await loadError(() => loadKerasModel(fixture(weights), { config }));
    expect(error.message).toContain(
      "the layer names differ from the config's, so the weights are matched by layer order as Keras does, but the config has 4 layer(s) with weights ('conv1d_1', 'gru_1', 'time_distributed_1', 'extra') and the file 3 ('conv1d', 'gru', 'time_distributed')",
    );
  });

  it('by order, a layer whose weights do not fit names both layers and the user\'s class (GRU, not the internal one)', async () => {
    const config = JSON.parse(seqConfig()) as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
    const gru = config.config.layers.find((l) => l.class_name === 'GRU')!;
    gru.config['use_bias'] = false;
    const error = await loadError(() => loadKerasModel(fixture(weights), { config }));
    expect(error.message).toContain("layer 'gru_1' (GRU): expected 2 weight(s) (kernel, recurrent_kernel); the file's layer 'gru', its match by layer order (the names differ), has 3");
    expect(error.message).not.toMatch(/Rxml/);
  });
});

