/** `predict` checks its options when the operator is created: INVALID_CONFIG naming the option and value. */
import { describe, expect, it } from 'vitest';
import { PREDICT_DEFAULTS, isRxmlError, loadImageModel, predict, predictImage, predictIris, predictKeras, type Model, type PredictOptions, type TensorData } from '../src/index.js';

// Never run: the options are refused before any record flows. An in-test Model value is enough.
const model: Model = {
  name: 'unused',
  version: 'v0',
  runtime: 'in-test',
  inputs: [],
  outputs: [],
  run: () => Promise.reject(new Error('not called')),
  dispose: () => {},
};
const encode = (xs: readonly number[]): TensorData => ({ data: Float32Array.from(xs), shape: [xs.length, 1] });
const decode = ([out]: readonly TensorData[]) => Array.from(out!.data);
const control = { pause: () => {}, resume: () => {} };

function refusal(options: Partial<PredictOptions<number, number, number>>, m: unknown = model): string {
  try {
    predict(m as Model, { encode, decode, ...options });
  } catch (error) {
    if (isRxmlError(error) && error.code === 'INVALID_CONFIG' && !error.retriable) return error.message;
    throw error;
  }
  throw new Error('accepted');
}

describe('predict options', () => {
  it.each([
    [{ batch: { size: 0 } }, 'predict: batch.size must be a positive integer, got 0'],
    [{ batch: { size: -3 } }, 'predict: batch.size must be a positive integer, got -3'],
    [{ batch: { size: 2.5 } }, 'predict: batch.size must be a positive integer, got 2.5'],
    [{ batch: { size: Number.NaN } }, 'predict: batch.size must be a positive integer, got NaN'],
    [{ batch: { maxLatencyMs: -1 } }, 'predict: batch.maxLatencyMs must be a finite number of ms >= 0, got -1'],
    [{ batch: { maxLatencyMs: Number.POSITIVE_INFINITY } }, 'predict: batch.maxLatencyMs must be a finite number of ms >= 0, got Infinity'],
    [{ concurrency: 0 }, 'predict: concurrency must be a positive integer, got 0'],
    [{ concurrency: 1.5 }, 'predict: concurrency must be a positive integer, got 1.5'],
    [{ selectConcurrency: Number.NaN }, 'predict: selectConcurrency must be a positive integer, got NaN'],
    [{ ordered: 'yes' as unknown as boolean }, 'predict: ordered must be a boolean, got "yes"'],
    [{ backpressure: { control, highWaterMark: 10, lowWaterMark: 10 } }, 'predict: backpressure.lowWaterMark must be an integer >= 0 and below highWaterMark (10), got 10'],
    [{ backpressure: { control, highWaterMark: 0 } }, 'predict: backpressure.highWaterMark must be a positive integer, got 0'],
    [{ backpressure: { control: {} as typeof control } }, 'predict: backpressure.control must be an object with pause() and resume(), got an object'],
    [{ onBatch: 42 as unknown as () => void }, 'predict: onBatch must be a function, got 42'],
    [{ encode: undefined as unknown as typeof encode }, 'predict: encode must be a function, got undefined'],
    [{ scheduler: {} as never }, 'predict: scheduler must be an RxJS SchedulerLike (schedule and now), got an object'],
  ] as const)('refuses %j', (options, message) => {
    expect(refusal(options as Partial<PredictOptions<number, number, number>>)).toBe(message);
  });

  it('refuses something that is not a model', () => {
    expect(refusal({}, { name: 'x' })).toBe('predict: model must be a Model (an object with run(inputs)) or an Observable<Model>, got an object');
  });

  it('accepts the edges: size 1, maxLatencyMs 0, lowWaterMark 0', () => {
    expect(() => predict(model, { encode, decode, batch: { size: 1, maxLatencyMs: 0 }, backpressure: { control, highWaterMark: 1, lowWaterMark: 0 } })).not.toThrow();
  });

  it('has one defaults object: 32 records, 5 ms, one call, 8 selects, ordered', () => {
    expect(PREDICT_DEFAULTS).toEqual({ batch: { size: 32, maxLatencyMs: 5 }, concurrency: 1, selectConcurrency: 8, ordered: true, backpressureHeadroomBatches: 2, firstModelTimeoutMs: 30_000 });
    expect(Object.isFrozen(PREDICT_DEFAULTS) && Object.isFrozen(PREDICT_DEFAULTS.batch)).toBe(true);
  });
});

describe('family options', () => {
  // In-test models with the signature each family checks (Task.validate) when the operator is created.
  const spec = (shape: (number | null)[]) => ({ name: 'x', shape, dtype: 'float32' as const });
  const irisShaped: Model = { ...model, inputs: [spec([null, 4])], outputs: [spec([null, 3])] };
  const imageShaped = (labels: string[]) => ({
    model: { ...model, inputs: [spec([null, 4, 4, 3])], outputs: [spec([null, labels.length])] },
    inputSize: 4,
    normalization: { scale: 1, offset: 0 },
    labels,
    dispose: () => {},
  });

  it('predictImage refuses a topK that is not a positive integer', () => {
    const image = imageShaped(['a', 'b']);
    expect(() => predictImage(image, { topK: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: 'predictImage: topK must be a positive integer, got 0' }) as Error);
    expect(() => predictImage(image, { topK: 9 })).not.toThrow(); // more than the labels: capped, as before
    expect(() => predictImage(image, { maxPixels: 0 })).toThrow('predictImage: maxPixels must be a number > 0, got 0');
    expect(() => predictImage(image, { decodeTimeoutMs: Number.NaN })).toThrow('predictImage: decodeTimeoutMs must be a number > 0, got NaN');
  });

  it('predictIris and predictImage pass bad batching options on to predict', () => {
    const image = imageShaped(['a']);
    expect(() => predictIris(irisShaped, { batch: { size: 0 } })).toThrow('predict: batch.size must be a positive integer, got 0');
    expect(() => predictImage(image, { concurrency: -1 })).toThrow('predict: concurrency must be a positive integer, got -1');
  });

  it("each family refuses a model whose signature does not fit (Task.validate), naming the model and the shapes", () => {
    expect(() => predictIris(model)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: "predictIris: model 'unused' does not fit: an Iris model takes one input [?, 4], this one takes none" }) as Error);
    const fiveFeatures: Model = { ...irisShaped, inputs: [spec([null, 5])] };
    expect(() => predictIris(fiveFeatures)).toThrow('an Iris model takes one input [?, 4], this one takes [?, 5]');
    expect(() => predictIris({ ...irisShaped, outputs: [spec([null, 2])] })).toThrow("an Iris model's first output is [?, 3] (3 species), this one's is [?, 2]");
    expect(() => predictIris({ ...irisShaped, inputs: [spec([null, null])] })).not.toThrow(); // free dimensions are accepted
    const image = imageShaped(['a', 'b']);
    expect(() => predictImage({ ...image, labels: ['a', 'b', 'c'] })).toThrow("predictImage: model 'unused' does not fit: output shape [?, 2] does not match 3 labels");
    expect(() => predictKeras(model)).toThrow("predictKeras: model 'unused' does not fit: a model needs at least one input and one output, this one has 0 and 0");
    expect(() => predictKeras(irisShaped)).not.toThrow();
  });

  it('predictImage still takes decodeConcurrency (deprecated) for selectConcurrency, and refuses a bad one through predict', () => {
    const image = imageShaped(['a']);
    expect(() => predictImage(image, { decodeConcurrency: 0 })).toThrow('predict: selectConcurrency must be a positive integer, got 0');
    expect(() => predictImage(image, { selectConcurrency: 0, decodeConcurrency: 4 })).toThrow('predict: selectConcurrency must be a positive integer, got 0');
  });

  it('loadImageModel refuses a bad inputSize or normalization before reading anything', async () => {
    const spec = { path: '/nonexistent', inputSize: 0, normalization: { scale: 1, offset: 0 }, labels: ['a'] };
    await expect(loadImageModel(spec)).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: 'loadImageModel: inputSize must be a positive integer, got 0' });
    await expect(loadImageModel({ ...spec, inputSize: 8, normalization: { scale: Number.NaN, offset: 0 } })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });
});
