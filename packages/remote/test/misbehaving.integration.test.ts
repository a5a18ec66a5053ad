/**
 * A real MLServer serving a model that misbehaves on purpose (test/fixtures/misbehaving/misbehaving.py:
 * sklearn's real Iris answer, unless a record's petal width is a marker): answers whose shape or
 * datatype do not fit the request's batch or the model's metadata fail their batch with a typed
 * error instead of becoming results, over REST and gRPC.
 */
import { IRIS_SPECIES, predictIris, subscribe, type Model, type PredictResult, type IrisPrediction, type RemoteRequestMessage } from '@rxml/core';
import { readFileSync, writeFileSync } from 'node:fs';
import { filter, firstValueFrom, from, interval, lastValueFrom, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadRemoteModel, type LoadRemoteModelOptions } from '../src/index.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { MISBEHAVING_MODEL, expected, misbehavingMlserver, type Expected, type ServerProcess } from './support/model-servers.js';

let want: Expected;
let server: ServerProcess & { readonly eventLog: string };
const requests: RemoteRequestMessage[] = [];
let unsubscribe: () => void;

beforeAll(async () => {
  want = expected();
  unsubscribe = subscribe('rxml:remote:request', (m) => requests.push(m));
  server = await misbehavingMlserver();
  await server.start();
});
afterAll(async () => {
  unsubscribe();
  await server.stop();
});
afterEach(() => {
  requests.length = 0;
  writeFileSync(server.eventLog, '');
});

const TRANSPORTS = ['rest', 'grpc'] as const;
type Transport = (typeof TRANSPORTS)[number];

function load(transport: Transport, options: Partial<LoadRemoteModelOptions> = {}): Promise<Model> {
  return loadRemoteModel({ transport, url: transport === 'rest' ? server.httpUrl : server.grpcUrl!, model: MISBEHAVING_MODEL, retries: { retries: 2, initialDelayMs: 10 }, ...options });
}

/** Record `i` of the Iris test inputs; with a marker, its petal width becomes the marker (the model scores it as 0.2). */
const row = (i: number, marker?: number): number[] => {
  const r = [...want.inputs[i % want.inputs.length]!];
  if (marker !== undefined) r[3] = marker;
  return r;
};

function expectSklearn(result: PredictResult<number[], IrisPrediction>, i: number): void {
  if (!result.ok) throw result.error;
  const p = result.value.probabilities;
  [p.setosa, p.versicolor, p.virginica].forEach((v, k) => expect(v).toBeCloseTo(want.predict_proba[i]![k]!, 6));
  expect(result.value.species).toBe(IRIS_SPECIES[want.predict[i]!]);
}

describe.each(TRANSPORTS)('answers that do not fit the batch or the metadata (%s)', (transport) => {
  // Each case: one batch of 4 whose last record carries the marker; the batches around it are clean.
  const bad = [
    { marker: 91, what: 'shape [1, 3] for a batch of 4', message: /model iris-misbehaving answered output predict_proba with shape \[1, 3\] for a batch of 4 \(declared \[-1, 3\]\)/ },
    { marker: 92, what: 'INT64 where the metadata says FP64', message: /model iris-misbehaving answered output predict_proba as INT64, declared FP64/ },
    { marker: 93, what: 'transposed [3, 4] (the right number of values)', message: /model iris-misbehaving answered output predict_proba with shape \[3, 4\] for a batch of 4 \(declared \[-1, 3\]\)/ },
    { marker: 94, what: 'extra rows [8, 3]', message: /model iris-misbehaving answered output predict_proba with shape \[8, 3\] for a batch of 4 \(declared \[-1, 3\]\)/ },
    { marker: 96, what: 'rank 1 [12]', message: /model iris-misbehaving answered output predict_proba with shape \[12\] for a batch of 4 \(declared \[-1, 3\]\)/ },
  ];

  it.each(bad)('$what: that batch fails with MODEL_ERROR (not retried), the batches around it are right', async ({ marker, message }) => {
    const model = await load(transport);
    // Batches: 0-3 clean, 4-7 with the marker on record 7, 8-11 clean.
    const rows = Array.from({ length: 12 }, (_, i) => row(i, i === 7 ? marker : undefined));
    const results = await lastValueFrom(from(rows).pipe(predictIris(model, { batch: { size: 4 } }), toArray()));
    model.dispose();

    expect(results).toHaveLength(12);
    results.forEach((r, i) => {
      if (i < 4 || i >= 8) return expectSklearn(r, i);
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error).toMatchObject({ code: 'MODEL_ERROR', retriable: false });
      expect(r.error.message).toMatch(message);
      expect(r.model).toEqual({ name: model.name, version: model.version });
    });
    // One try each: a wrong answer is not retried (nor counted by the circuit breaker).
    expect(requests.map((m) => [m.outcome, m.attempt])).toEqual([
      ['ok', 1],
      ['failed', 1],
      ['ok', 1],
    ]);
  });

  it('FP32 where the metadata says FP64 (a float for a float) is accepted: the values are right', async () => {
    const model = await load(transport);
    const rows = Array.from({ length: 8 }, (_, i) => row(i, i === 7 ? 95 : undefined));
    const results = await lastValueFrom(from(rows).pipe(predictIris(model, { batch: { size: 4 } }), toArray()));
    model.dispose();
    results.forEach((r, i) => {
      // Record 7 is scored with petal width 0.2 instead of its own: ok, but not the expected values.
      if (i === 7) expect(r.ok).toBe(true);
      else expectSklearn(r, i);
    });
  });
});

/** Lines of the misbehaving model's event log (its slow requests: started / finished / cancelled). */
const events = (): string[] => readFileSync(server.eventLog, 'utf8').split('\n').filter((l) => l !== '');

/** Resolves once the server has logged `line` (polled every 20 ms, up to 10 s). */
async function logged(pattern: RegExp): Promise<string> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const line = events().find((l) => pattern.test(l));
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`the server never logged ${String(pattern)}; log: ${events().join(' | ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A record the misbehaving model answers after sleeping `seconds` (marker 98; petal length = seconds). */
const slow = (seconds: number): number[] => [5.1, 3.5, seconds, 98];

describe.each(TRANSPORTS)('a request nobody waits for any more (%s)', (transport) => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    // REST: a pass-through proxy shows the request's connection being closed (MLServer's REST
    // handler itself is not cancelled by a closed connection; its gRPC handler is).
    proxy = await startFaultProxy(Number(new URL(transport === 'rest' ? server.httpUrl : `http://${server.grpcUrl!}`).port));
  });
  afterAll(() => proxy.close());
  const url = (): string => (transport === 'rest' ? proxy.url : `127.0.0.1:${proxy.port}`);

  /**
   * What the server side saw of the aborted request `id`: its connection closed (REST: HTTP/1.1 has
   * no other way to cancel a request; `closedBefore` is the proxy's count before the abort), its
   * handler cancelled (gRPC: the stream is reset, the connection stays).
   */
  async function serverHeardOfIt(id: string, closedBefore: number): Promise<void> {
    if (transport === 'grpc') await logged(new RegExp(`^cancelled ${id}$`));
    else await firstValueFrom(interval(5).pipe(filter(() => proxy.closedConnections > closedBefore)));
  }

  it('unsubscribing aborts it: the call settles at once, its slot is free for the next batch, the server hears of it', async () => {
    // One slot: a request still holding it would make the next batch wait for the 5 s answer.
    const model = await load(transport, { url: url(), maxInFlight: 1, retries: 0, timeoutMs: 30_000 });
    const results: unknown[] = [];
    const subscription = from([slow(5)]).pipe(predictIris(model, { batch: { size: 1 } })).subscribe((r) => results.push(r));
    const id = (await logged(/^started /)).slice('started '.length);
    const closedBefore = proxy.closedConnections;
    const unsubscribedAt = performance.now();
    subscription.unsubscribe();
    // The call settled (its try is reported failed, ABORTED) without waiting for the server's answer.
    await firstValueFrom(interval(5).pipe(filter(() => requests.length > 0)));
    const settledAfter = performance.now() - unsubscribedAt;
    expect(requests.map((m) => [m.outcome, m.attempt, m.error?.code])).toEqual([['failed', 1, 'ABORTED']]);
    expect(requests[0]!.error!.message).toMatch(/remote model iris-misbehaving: the request to .* was aborted by its caller \(predictIris: the subscription ended/);
    expect(settledAfter).toBeLessThan(1_000);
    await serverHeardOfIt(id, closedBefore);

    // The slot is free: the next batch is answered while the server is still sleeping on the first.
    const next = await lastValueFrom(from([row(0)]).pipe(predictIris(model, { batch: { size: 1 } }), toArray()));
    expectSklearn(next[0]!, 0);
    expect(events()).not.toContain(`finished ${id}`);
    expect(results).toEqual([]);
    model.dispose();
  });

  it('dispose() aborts it and the call queued behind it: both reject at once with MODEL_ERROR "… disposed", the server hears of it', async () => {
    const model = await load(transport, { url: url(), maxInFlight: 1, retries: 0, timeoutMs: 30_000 });
    const settle = (call: Promise<unknown>): Promise<unknown> =>
      call.then(
        () => 'answered',
        (error: unknown) => error,
      );
    const inFlight = settle(model.run([{ data: Float32Array.from(slow(5)), shape: [1, 4] }]));
    const id = (await logged(/^started /)).slice('started '.length);
    // maxInFlight 1: this one waits for the slot.
    const queued = settle(model.run([{ data: Float32Array.from(row(0)), shape: [1, 4] }]));
    const closedBefore = proxy.closedConnections;
    const disposedAt = performance.now();
    model.dispose();
    const errors = await Promise.all([inFlight, queued]);
    expect(performance.now() - disposedAt).toBeLessThan(1_000);
    for (const error of errors) {
      expect(error).toMatchObject({ code: 'MODEL_ERROR', retriable: false });
      expect((error as Error).message).toMatch(/remote model iris-misbehaving was disposed while its request to .* was in flight/);
    }
    await serverHeardOfIt(id, closedBefore);
    expect(events()).not.toContain(`finished ${id}`);
  });
});
