import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { predict, type Model, type TensorData } from '@rxml/core';
import { loadOnnxModel } from '../src/index.js';
import { loadOrt } from '../src/ort-runtime.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/onnx/', import.meta.url));
const MODEL_PATH = `${FIXTURES}flight-delay.onnx`;

/** One flight as in the seed's H2O example (Year dropped: the training data spans one year). */
interface Flight {
  readonly Month: number;
  readonly DayofMonth: number;
  readonly DayOfWeek: number;
  readonly CRSDepTime: number;
  readonly UniqueCarrier: string;
  readonly Origin: string;
  readonly Dest: string;
}

interface Vocab {
  readonly features: readonly (keyof Flight)[];
  readonly categories: Readonly<Record<'UniqueCarrier' | 'Origin' | 'Dest', readonly string[]>>;
}

interface Samples {
  readonly records: readonly Flight[];
  readonly features: readonly (readonly number[])[];
  readonly sklearnLabel: readonly number[];
  readonly sklearnProbabilities: readonly (readonly number[])[];
}

let vocab: Vocab;
let samples: Samples;
let model: Model;

beforeAll(async () => {
  vocab = JSON.parse(await readFile(`${FIXTURES}flight-delay.vocab.json`, 'utf8')) as Vocab;
  samples = JSON.parse(await readFile(`${FIXTURES}flight-delay.samples.json`, 'utf8')) as Samples;
  model = await loadOnnxModel(MODEL_PATH, { intraOpThreads: 1 });
}, 60_000);
afterAll(() => model.dispose());

/** The features the classifier was trained on; an unknown airport or carrier is invalid input. */
function encodeFlight(flight: Flight): number[] {
  return vocab.features.map((feature) => {
    const value = flight[feature];
    if (typeof value === 'number') return value;
    const code = vocab.categories[feature as keyof Vocab['categories']].indexOf(value);
    if (code < 0) throw new Error(`unknown ${feature} ${value}`);
    return code;
  });
}

const batch = (rows: readonly (readonly number[])[]): TensorData => ({ data: Float32Array.from(rows.flat()), shape: [rows.length, rows[0]?.length ?? 0] });

describe('loadOnnxModel: a scikit-learn gradient-boosted tree classifier (skl2onnx, zipmap=False)', () => {
  it('reads its inputs and outputs from the session metadata', () => {
    expect(model.name).toBe('flight-delay');
    expect(model.version).toMatch(/^[0-9a-f]{16}$/);
    expect(model.runtime).toBe('onnxruntime');
    expect(model.inputs).toEqual([{ name: 'features', shape: [null, 7], dtype: 'float32' }]);
    // label is int64 in the file: it crosses the Model boundary as int32.
    expect(model.outputs).toEqual([
      { name: 'label', shape: [null], dtype: 'int32' },
      { name: 'probabilities', shape: [null, 2], dtype: 'float32' },
    ]);
  });

  it("gives scikit-learn's own labels and probabilities for held-out flights", async () => {
    const [label, probabilities] = await model.run([batch(samples.features)]);
    expect(label!.data).toBeInstanceOf(Int32Array);
    expect(Array.from(label!.data)).toEqual(samples.sklearnLabel);
    expect(probabilities!.shape).toEqual([samples.features.length, 2]);
    samples.sklearnProbabilities.flat().forEach((p, i) => expect(Math.abs(probabilities!.data[i]! - p)).toBeLessThan(1e-4));
  });

  it('runs through predict unchanged: batches, in order, a bad record fails alone', async () => {
    const flights: Flight[] = [...samples.records.slice(0, 20), { ...samples.records[0]!, Origin: 'XXX' }, ...samples.records.slice(20, 30)];
    const results = await lastValueFrom(
      from(flights).pipe(
        predict(model, {
          select: encodeFlight,
          encode: batch,
          decode: ([label, probabilities], rows) =>
            rows.map((_, i) => ({ delayed: label!.data[i] === 1 ? 'YES' : 'NO', probability: probabilities!.data[i * 2 + 1]! })),
          batch: { size: 8, maxLatencyMs: 5 },
        }),
        toArray(),
      ),
    );
    expect(results).toHaveLength(31);
    expect(results.map((r) => r.ok)).toEqual(flights.map((f) => f.Origin !== 'XXX'));
    const failed = results[20];
    expect(failed?.ok === false && failed.error.code).toBe('INVALID_INPUT');
    const expected = [...samples.sklearnLabel.slice(0, 20), undefined, ...samples.sklearnLabel.slice(20, 30)];
    results.forEach((r, i) => {
      if (!r.ok) return;
      expect(r.input).toBe(flights[i]);
      expect(r.value.delayed).toBe(expected[i] === 1 ? 'YES' : 'NO');
      expect(r.model).toEqual({ name: 'flight-delay', version: model.version });
    });
  });

  it('serves concurrent calls on one session (predict concurrency > 1) with the same results', async () => {
    const slices = [0, 12, 24, 36].map((start) => samples.features.slice(start, start + 12));
    const outputs = await Promise.all(slices.map((rows) => model.run([batch(rows)])));
    expect(outputs.flatMap(([label]) => Array.from(label!.data))).toEqual(samples.sklearnLabel);
  });

  it('hashes the bytes for the version, so path and bytes loads agree', async () => {
    const bytes = new Uint8Array(await readFile(MODEL_PATH));
    const fromBytes = await loadOnnxModel(bytes, { name: 'flight-delay', graphOptimizationLevel: 'disabled' });
    try {
      expect(fromBytes.version).toBe(model.version);
      const [label] = await fromBytes.run([batch(samples.features.slice(0, 5))]);
      expect(Array.from(label!.data)).toEqual(samples.sklearnLabel.slice(0, 5));
    } finally {
      fromBytes.dispose();
    }
  });
});

describe('loadOnnxModel: errors are typed', () => {
  it.each([
    ['a wrong feature count', [{ data: new Float32Array(6), shape: [1, 6] }], /takes shape \[\?, 7\], got \[1, 6\]/],
    ['data not matching the shape', [{ data: new Float32Array(13), shape: [2, 7] }], /14 values\) but 13 values/],
    ['int32 data for a float input', [{ data: new Int32Array(7), shape: [1, 7] }], /takes float32 data/],
    ['two inputs for one', [{ data: new Float32Array(7), shape: [1, 7] }, { data: new Float32Array(7), shape: [1, 7] }], /takes 1 input\(s\), got 2/],
  ])('rejects %s as INVALID_INPUT', async (_, inputs, message) => {
    await expect(model.run(inputs)).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(message) as unknown });
  });

  it('fails to load a missing file or bytes that are not ONNX with MODEL_LOAD_ERROR', async () => {
    await expect(loadOnnxModel(`${FIXTURES}missing.onnx`)).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR' });
    await expect(loadOnnxModel(new TextEncoder().encode('not a model'))).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR' });
  });

  it('refuses a non-positive thread count', async () => {
    await expect(loadOnnxModel(MODEL_PATH, { intraOpThreads: 0 })).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: 'onnx: intraOpThreads must be a positive integer, got 0' });
  });

  it('reports a missing onnxruntime-node as BACKEND_UNAVAILABLE', async () => {
    await expect(loadOrt('onnxruntime-node-not-installed')).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      message: expect.stringContaining('ONNXRUNTIME_NODE_INSTALL=skip') as unknown,
    });
  });

  it('@rxml/core runs tfjs models and @rxml/onnx imports in a process where onnxruntime-node cannot be resolved', async () => {
    // A resolve hook makes the package unresolvable, as on a machine that never installed it.
    const hook = `export async function resolve(s, c, next) { if (s === 'onnxruntime-node') { const e = new Error("Cannot find package 'onnxruntime-node'"); e.code = 'ERR_MODULE_NOT_FOUND'; throw e; } return next(s, c); }`;
    const script = `
      import { register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));
      const core = await import(${JSON.stringify(new URL('../../core/dist/index.js', import.meta.url).href)});
      const onnx = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const iris = await core.loadIrisModel();
      const [out] = await iris.run([{ data: Float32Array.of(5.4, 3.9, 1.7, 0.4), shape: [1, 4] }]);
      iris.dispose();
      const error = await onnx.loadOnnxModel(${JSON.stringify(MODEL_PATH)}).then(() => null, (e) => e);
      console.log(JSON.stringify({ irisOutputs: out.data.length, code: error && error.code }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, RXML_BACKEND: 'cpu' } });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ irisOutputs: 3, code: 'BACKEND_UNAVAILABLE' });
  });
});
