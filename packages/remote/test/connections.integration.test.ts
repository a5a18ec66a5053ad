/**
 * REST connections and request sizes against the real MLServer: a keep-alive connection the server
 * closed while this process's event loop was busy is not a failure, a large batch goes through at
 * its first try, and a request body over maxRequestBytes fails its batch with LIMIT_EXCEEDED
 * before anything is sent.
 */
import { IRIS_SPECIES, predictIris, type IrisPrediction, type PredictResult } from '@rxml/core';
import { from, lastValueFrom, toArray } from 'rxjs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { loadRemoteModel } from '../src/index.js';
import { collectRemoteRequests } from './support/remote-requests.js';
import { expected, type Expected } from './support/model-servers.js';

let want: Expected;
const requests = collectRemoteRequests();
beforeAll(() => {
  want = expected();
});

const nth = (i: number): number[] => want.inputs[i % want.inputs.length]!;

function expectSklearn(result: PredictResult<number[], IrisPrediction>, i: number): void {
  if (!result.ok) throw result.error;
  const p = result.value.probabilities;
  [p.setosa, p.versicolor, p.virginica].forEach((v, k) => expect(v).toBeCloseTo(want.predict_proba[i % want.inputs.length]![k]!, 6));
  expect(result.value.species).toBe(IRIS_SPECIES[want.predict[i % want.inputs.length]!]);
}

/** Blocks this thread (the event loop) for `ms`, as a long synchronous encode or any other busy stretch would. */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe('a pooled connection the server closed while the event loop was busy (REST)', () => {
  // MLServer's HTTP server (uvicorn) closes a keep-alive connection after 5 s idle. Blocked for 6 s,
  // this process has not read that close when it sends the next request on the pooled connection:
  // a small body meets "other side closed" (UND_ERR_SOCKET), a large one EPIPE while writing.
  it.each([
    ['one record (UND_ERR_SOCKET "other side closed")', 1],
    ['100,000 records, 8 MB of JSON (EPIPE while writing)', 100_000],
  ])('%s: the batch is answered at its first try, no retry, nothing for the circuit breaker', async (_what, records) => {
    const model = await loadRemoteModel({ url: inject('mlserver').httpUrl, model: 'iris', retries: 0, timeoutMs: 60_000 });
    // loadRemoteModel left its connections (ready, metadata, warm-up) idle in the pool.
    blockEventLoop(6_000);
    const rows = Array.from({ length: records }, (_, i) => nth(i));
    const results = await lastValueFrom(from(rows).pipe(predictIris(model, { batch: { size: records, maxLatencyMs: 1_000 } }), toArray()));
    model.dispose();

    expect(results).toHaveLength(records);
    for (let i = 0; i < records; i += Math.max(1, Math.floor(records / 500))) expectSklearn(results[i]!, i);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(requests.map((m) => [m.outcome, m.attempt])).toEqual([['ok', 1]]);
  });
});

describe('large batches (REST)', () => {
  it('500,000 records in one batch (40 MB of JSON, under the 64 MiB default maxRequestBytes) are answered at the first try', async () => {
    const model = await loadRemoteModel({ url: inject('mlserver').httpUrl, model: 'iris', retries: 0, timeoutMs: 120_000 });
    const records = 500_000;
    const results = await lastValueFrom(from(Array.from({ length: records }, (_, i) => nth(i))).pipe(predictIris(model, { batch: { size: records, maxLatencyMs: 1_000 } }), toArray()));
    model.dispose();
    expect(results).toHaveLength(records);
    expect(results.every((r) => r.ok)).toBe(true);
    for (let i = 0; i < records; i += 997) expectSklearn(results[i]!, i);
    expect(requests.map((m) => [m.outcome, m.attempt, m.size])).toEqual([['ok', 1, records]]);
  });
});

describe.each(['rest', 'grpc'] as const)('maxRequestBytes (%s)', (transport) => {
  it('a batch whose request is larger fails with LIMIT_EXCEEDED naming the batch and the bytes, without a retry; smaller batches go through', async () => {
    const model = await loadRemoteModel({
      transport,
      url: transport === 'rest' ? inject('mlserver').httpUrl : inject('mlserver').grpcUrl,
      model: 'iris',
      // REST: ~80 bytes of JSON per record; gRPC: 16 raw bytes per record.
      maxRequestBytes: 2_000,
    });
    const rows = Array.from({ length: 210 }, (_, i) => nth(i));
    const results = await lastValueFrom(
      from(rows).pipe(
        predictIris(model, { batch: { size: 200, maxLatencyMs: 1_000 } }),
        toArray(),
      ),
    );
    // 210 records: one batch of 200 (too large), then one of 10.
    model.dispose();
    results.slice(0, 200).forEach((r) => {
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error).toMatchObject({ code: 'LIMIT_EXCEEDED', retriable: false });
      expect(r.error.message).toMatch(/model iris inference \(.*\): the request for a batch of 200 records is \d+ bytes, more than maxRequestBytes \(2000\); send smaller batches \(batch\.size\) or raise maxRequestBytes/);
    });
    results.slice(200).forEach((r, k) => expectSklearn(r, 200 + k));
    expect(requests.map((m) => [m.outcome, m.attempt, m.error?.code])).toEqual([
      ['failed', 1, 'LIMIT_EXCEEDED'],
      ['ok', 1, undefined],
    ]);
  });
});
