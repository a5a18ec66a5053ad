import { beforeAll, describe, expect, it } from 'vitest';
import { RxmlError, initBackend } from '@rxml/core';
import { onnxRuntime } from '@rxml/onnx';
import { loadKerasModel } from '../src/index.js';
import { numTensors } from './support/helpers.js';
import { KERAS_FIXTURES, maxAbsDiff, readExpectation, toTensorData } from './support/keras-fixtures.js';

beforeAll(async () => {
  await initBackend({ log: () => {} });
});

describe('loadKerasModel(..., { runtime: onnxRuntime() }): Keras files on ONNX Runtime', () => {
  it.each([
    'tf2/simple_mlp.h5',
    'keras3/simple_mlp.keras',
    'tf2/small_cnn.h5',
    'keras3/small_cnn.keras',
    'keras3/two_inputs.keras',
    'tf2/two_inputs.h5',
  ])("%s predicts what Keras predicted, with Keras's names", async (file) => {
    const [flavor, base] = file.split('/') as [string, string];
    const expected = readExpectation(flavor, base.replace(/\.(h5|keras)$/, ''));
    const before = numTensors();
    const model = await loadKerasModel(`${KERAS_FIXTURES}${file}`, { runtime: onnxRuntime() });
    try {
      // The tfjs copy is freed once converted.
      expect(numTensors()).toBe(before);
      expect(model.runtime).toBe('onnxruntime');
      expect(model.inputs.map((i) => i.name)).toEqual(expected.inputs.map((i) => i.name));
      expect(model.outputs.map((o) => o.name)).toEqual(expected.outputs.map((o) => o.name));
      const outputs = await model.run(expected.inputs.map(toTensorData));
      expected.outputs.forEach((want, i) => {
        expect(outputs[i]?.shape).toEqual(want.shape);
        expect(maxAbsDiff(outputs[i]!.data, toTensorData(want).data)).toBeLessThanOrEqual(1e-5);
      });
    } finally {
      model.dispose();
    }
  });

  it('a layer the ONNX converter lacks fails the load, naming it, and frees the tfjs model', async () => {
    const before = numTensors();
    const error = await loadKerasModel(`${KERAS_FIXTURES}keras3/bn_dropout.keras`, { runtime: onnxRuntime() }).then(
      (model) => {
        model.dispose();
        throw new Error('expected the load to fail');
      },
      (e: unknown) => e as RxmlError,
    );
    expect(error).toBeInstanceOf(RxmlError);
    expect(error.code).toBe('MODEL_LOAD_ERROR');
    expect(error.message).toContain('LayerNormalization');
    expect(numTensors()).toBe(before);
  });

  it("a Keras GRU (reset_after=True, run by rxml's own tfjs class) is refused naming GRU, the user's class", async () => {
    const before = numTensors();
    const error = await loadKerasModel(`${KERAS_FIXTURES}tf2/plain_gru.h5`, { runtime: onnxRuntime() }).then(
      (model) => {
        model.dispose();
        throw new Error('expected the load to fail');
      },
      (e: unknown) => e as RxmlError,
    );
    expect(error.code).toBe('MODEL_LOAD_ERROR');
    expect(error.message).toMatch(/cannot convert layer "gru(_\d+)?" \(GRU\) to ONNX: GRU is not supported/);
    expect(error.message).not.toMatch(/Rxml|ResetAfter/);
    expect(numTensors()).toBe(before);
  });
});
