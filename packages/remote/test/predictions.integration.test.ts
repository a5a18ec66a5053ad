/**
 * Same inputs → same predictions: the Iris model served by real MLServer and KServe servers, over
 * every protocol/transport rxml speaks, against sklearn's own predictions (written by the script
 * that built the model) and against the embedded Iris model with the same weights.
 */
import { loadIrisModel, predictIris, IRIS_SPECIES, subscribe, type Model, type PredictResult, type IrisPrediction, type RemoteRequestMessage } from '@rxml/core';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadRemoteModel, type LoadRemoteModelOptions } from '../src/index.js';
import { expected, type Expected } from './support/model-servers.js';

let want: Expected;
let embedded: Model;
let embeddedResults: PredictResult<number[], IrisPrediction>[];

beforeAll(async () => {
  want = expected();
  embedded = await loadIrisModel();
  embeddedResults = await lastValueFrom(from(want.inputs).pipe(predictIris(embedded, { batch: { size: 32 } }), toArray()));
});
afterAll(() => embedded.dispose());

const cases: { title: string; options: () => LoadRemoteModelOptions }[] = [
  { title: 'MLServer, v2 REST (JSON)', options: () => ({ url: inject('mlserver').httpUrl, model: 'iris' }) },
  { title: 'MLServer, v2 gRPC (raw_input_contents)', options: () => ({ transport: 'grpc', url: inject('mlserver').grpcUrl, model: 'iris' }) },
  { title: 'KServe, v2 REST with binary tensor data', options: () => ({ url: inject('kserve').httpUrl, model: 'iris', binaryData: true }) },
  { title: 'KServe, v2 REST (JSON)', options: () => ({ url: inject('kserve').httpUrl, model: 'iris' }) },
  { title: 'KServe, TF-Serving-style v1 :predict', options: () => ({ protocol: 'tf-serving', url: inject('kserve').httpUrl, model: 'iris' }) },
];

describe.each(cases)('$title', ({ options }) => {
  let model: Model;
  beforeAll(async () => {
    model = await loadRemoteModel({ timeoutMs: 5_000, ...options() });
  });
  afterAll(() => model.dispose());

  it("reads the server's metadata: name, inputs and outputs with shapes and dtypes", () => {
    expect(model.name).toBe('iris');
    expect(model.inputs).toEqual([{ name: 'measurements', shape: [null, 4], dtype: 'float32' }]);
    expect(model.outputs).toEqual([{ name: 'predict_proba', shape: [null, 3], dtype: 'float32' }]);
    expect(model.runtime).toMatch(/^remote-(v2|tf-serving)-(rest|grpc)$/);
    expect(model.version).not.toBe('');
  });

  it("gives sklearn's own predictions and the embedded model's, one request per micro-batch", async () => {
    const requests: RemoteRequestMessage[] = [];
    const unsubscribe = subscribe('rxml:remote:request', (m) => requests.push(m));
    const results = await lastValueFrom(from(want.inputs).pipe(predictIris(model, { batch: { size: 32 }, concurrency: 2 }), toArray()));
    unsubscribe();
    expect(results).toHaveLength(want.inputs.length);
    results.forEach((r, i) => {
      if (!r.ok) throw r.error;
      const p = r.value.probabilities;
      // sklearn computes in float64; rxml carries float32: equal to float32 precision.
      [p.setosa, p.versicolor, p.virginica].forEach((v, k) => expect(v).toBeCloseTo(want.predict_proba[i]![k]!, 6));
      expect(r.value.species).toBe(IRIS_SPECIES[want.predict[i]!]);
      const e = embeddedResults[i]!;
      if (!e.ok) throw e.error;
      expect(r.value.species).toBe(e.value.species);
      [p.setosa, p.versicolor, p.virginica].forEach((v, k) => expect(v).toBeCloseTo([e.value.probabilities.setosa, e.value.probabilities.versicolor, e.value.probabilities.virginica][k]!, 5));
      expect(r.model).toEqual({ name: model.name, version: model.version });
    });
    // 153 records in batches of ≤ 32: 5 requests, each one try.
    expect(requests.map((m) => [m.outcome, m.attempt])).toEqual(Array.from({ length: 5 }, () => ['ok', 1]));
    expect(requests.reduce((n, m) => n + m.size, 0)).toBe(want.inputs.length);
  });
});

it("names Model.version from the server: MLServer's model-settings version", async () => {
  const model = await loadRemoteModel({ url: inject('mlserver').httpUrl, model: 'iris' });
  expect(model.version).toBe(want.version);
  model.dispose();
});

it('bounds response sizes: a batch answer over maxResponseBytes fails that batch with LIMIT_EXCEEDED', async () => {
  // Metadata (~200 B) and the one-record warm-up (~300 B) fit; a 64-record answer (~4 KB) does not.
  const model = await loadRemoteModel({ url: inject('mlserver').httpUrl, model: 'iris', maxResponseBytes: 1_000 });
  const results = await lastValueFrom(from(want.inputs.slice(0, 65)).pipe(predictIris(model, { batch: { size: 64 } }), toArray()));
  model.dispose();
  results.slice(0, 64).forEach((r) => {
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'LIMIT_EXCEEDED', retriable: false, message: expect.stringMatching(/more than maxResponseBytes \(1000\)/) as unknown });
  });
  expect(results[64]!.ok).toBe(true);
});
