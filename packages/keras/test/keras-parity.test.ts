import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, type Model } from '@rxml/core';
import { loadKerasModel } from '../src/index.js';
import { KERAS_FIXTURES, fixtureFiles, maxAbsDiff, readExpectation, toTensorData } from './support/keras-fixtures.js';
import { numTensors } from './support/helpers.js';

beforeAll(async () => {
  await initBackend({ log: () => {} });
});

const files = fixtureFiles();

describe('Keras parity: rxml predictions match Keras within 1e-5', () => {
  it('finds every fixture in both formats', () => {
    const names = files.map((f) => f.file);
    for (const model of ['simple_mlp', 'small_cnn', 'lstm_text', 'two_inputs', 'bn_dropout', 'custom_named', 'rnn_stack', 'lstm_masked', 'gru_reset_after', 'seq_tagger']) {
      expect(names).toContain(`tf2/${model}.h5`);
      expect(names).toContain(`keras3/${model}.keras`);
      expect(names).toContain(`keras3/${model}.h5`);
    }
  });

  describe.each(files)('$file', ({ flavor, model: name, file }) => {
    const expected = readExpectation(flavor, name);
    let model: Model;
    beforeAll(async () => {
      model = await loadKerasModel(`${KERAS_FIXTURES}${file}`);
    });
    afterAll(() => model.dispose());

    it('has Keras\'s name, inputs and outputs', () => {
      expect(model.name).toBe(expected.model);
      expect(model.inputs.map((i) => i.name)).toEqual(expected.inputs.map((i) => i.name));
      expect(model.outputs.map((o) => o.name)).toEqual(expected.outputs.map((o) => o.name));
      expect(model.version).toMatch(/^[0-9a-f]{16}$/);
    });

    it('predicts what Keras predicted', async () => {
      const before = numTensors();
      const outputs = await model.run(expected.inputs.map(toTensorData));
      expect(numTensors()).toBe(before);
      expect(outputs).toHaveLength(expected.outputs.length);
      expected.outputs.forEach((want, i) => {
        const got = outputs[i]!;
        expect(got.shape).toEqual(want.shape);
        expect(maxAbsDiff(got.data, toTensorData(want).data)).toBeLessThanOrEqual(1e-5);
      });
    });
  });
});
