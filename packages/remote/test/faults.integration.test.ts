/**
 * Failure semantics against real servers, with a loopback fault proxy where the network misbehaves:
 * a server killed mid-stream and restarted (retries, nothing lost), a 2 s stall against a 500 ms
 * deadline (retried, then MODEL_ERROR, the stream goes on), a 400 on one batch (only that batch
 * fails, with the server's message), and the circuit breaker opening and closing.
 */
import { IRIS_SPECIES, predict, predictIris, type Model, type TensorData } from '@rxml/core';
import { Subject, firstValueFrom, from, interval, lastValueFrom, map, take, tap, toArray, filter, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadRemoteModel } from '../src/index.js';
import { collectRemoteRequests } from './support/remote-requests.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { expected, mlserver, type Expected, type ServerProcess } from './support/model-servers.js';

let want: Expected;
const requests = collectRemoteRequests();
beforeAll(() => {
  want = expected();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const nth = (i: number): number[] => want.inputs[i % want.inputs.length]!;

describe('a server killed mid-stream and restarted', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await mlserver();
    await server.start();
  });
  afterAll(() => server.stop());

  it('retries the batches in flight until it is back: every record scored, none lost', async () => {
    const model = await loadRemoteModel({
      url: server.httpUrl,
      model: 'iris',
      timeoutMs: 3_000,
      // A budget that spans a restart (~5-30 s here): up to 150 retries, backoff capped at 1 s.
      retries: { retries: 150, initialDelayMs: 100, maxDelayMs: 1_000 },
      circuitBreaker: { failures: 3, halfOpenAfterMs: 500 },
    });
    const total = 300;
    let seen = 0;
    let killed: Promise<void> | undefined;
    const results = await lastValueFrom(
      interval(10).pipe(
        take(total),
        map((i) => ({ i, row: nth(i) })),
        predictIris(model, { select: (r) => r.row, batch: { size: 8, maxLatencyMs: 5 }, concurrency: 2 }),
        tap(() => {
          if (++seen === 40) killed = server.kill().then(() => server.start());
        }),
        toArray(),
      ),
    );
    await killed;
    model.dispose();
    expect(results).toHaveLength(total);
    results.forEach((r) => {
      if (!r.ok) throw r.error;
      expect(r.value.species).toBe(IRIS_SPECIES[want.predict[r.input.i % want.inputs.length]!]);
    });
    expect(results.map((r) => r.input.i)).toEqual(Array.from({ length: total }, (_, i) => i));
    // The outage was seen and ridden out by retries (and the breaker failing fast meanwhile).
    expect(requests.some((m) => m.outcome === 'retry' || m.outcome === 'circuit-open')).toBe(true);
    expect(requests.filter((m) => m.outcome === 'failed')).toEqual([]);
  });
});

describe.each(['rest', 'grpc'] as const)('a 2 s stall against a 500 ms deadline (%s)', (transport) => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    const target = transport === 'rest' ? inject('mlserver').httpUrl : `http://${inject('mlserver').grpcUrl}`;
    proxy = await startFaultProxy(Number(new URL(target).port));
  });
  afterAll(() => proxy.close());

  it('retries, gives that batch MODEL_ERROR once the retry budget is spent, and the stream goes on', async () => {
    const model = await loadRemoteModel({
      transport,
      url: transport === 'rest' ? proxy.url : `127.0.0.1:${proxy.port}`,
      model: 'iris',
      timeoutMs: 500,
      retries: { retries: 2, initialDelayMs: 50, maxDelayMs: 100 },
      circuitBreaker: false,
    });
    const source = new Subject<number>();
    const results$ = source.pipe(predictIris(model, { select: (i) => nth(i), batch: { size: 4, maxLatencyMs: 5 } }), toArray());
    const done = lastValueFrom(results$);
    const firstFour = firstValueFrom(requests$(() => requests.filter((m) => m.outcome === 'failed').length === 1));

    proxy.latencyMs = 2_000;
    const startedAt = Date.now();
    for (let i = 0; i < 4; i++) source.next(i);
    await firstFour;
    const failedAfter = Date.now() - startedAt;
    proxy.latencyMs = 0;
    await sleep(2_500); // bytes already held by the stall drain first
    for (let i = 4; i < 8; i++) source.next(i);
    source.complete();
    const results = await done;
    model.dispose();

    expect(results).toHaveLength(8);
    for (const r of results.slice(0, 4)) {
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.error.code).toBe('MODEL_ERROR');
      expect(r.error.retriable).toBe(true);
      expect(r.error.message).toMatch(/deadline exceeded.*500 ms/);
    }
    results.slice(4).forEach((r, k) => {
      if (!r.ok) throw r.error;
      expect(r.value.species).toBe(IRIS_SPECIES[want.predict[4 + k]!]);
    });
    // 3 tries of 500 ms each (+ backoff), not one 2 s wait.
    const stalled = requests.filter((m) => m.outcome !== 'ok');
    expect(stalled.map((m) => [m.attempt, m.outcome])).toEqual([
      [1, 'retry'],
      [2, 'retry'],
      [3, 'failed'],
    ]);
    stalled.forEach((m) => expect(m.durationMs).toBeLessThan(1_000));
    expect(failedAfter).toBeGreaterThanOrEqual(1_500);
  });
});

/** Emits (once) when `check()` holds, polling the collected channel messages. */
function requests$(check: () => boolean): Observable<true> {
  return interval(20).pipe(
    filter(check),
    map(() => true as const),
    take(1),
  );
}

describe('a 400 on one batch', () => {
  it("fails only that batch's records, with the server's message, without retrying", async () => {
    const model = await loadRemoteModel({ url: inject('kserve').httpUrl, model: 'iris', binaryData: true });
    // Rows 4-7 have 5 measurements: KServe's model rejects that batch with 400 (InvalidInput).
    const rows = Array.from({ length: 12 }, (_, i) => (i >= 4 && i < 8 ? [...nth(i), 1] : nth(i)));
    const results = await lastValueFrom(
      from(rows).pipe(
        predict<number[], number[], number>(model, {
          encode: (batch): TensorData => ({ data: Float32Array.from(batch.flat()), shape: [batch.length, batch[0]!.length] }),
          decode: ([p], batch) => batch.map((_, i) => Array.from(p!.data.subarray(i * 3, i * 3 + 3)).indexOf(Math.max(...p!.data.subarray(i * 3, i * 3 + 3)))),
          batch: { size: 4 },
        }),
        toArray(),
      ),
    );
    model.dispose();
    results.forEach((r, i) => {
      if (i >= 4 && i < 8) {
        expect(r.ok).toBe(false);
        if (r.ok) return;
        expect(r.error.code).toBe('MODEL_ERROR');
        expect(r.error.retriable).toBe(false);
        expect(r.error.message).toMatch(/HTTP 400: iris expects measurements of shape \[n, 4\].*got \[4, 5\]/);
      } else {
        if (!r.ok) throw r.error;
        expect(r.value).toBe(want.predict[i]);
      }
    });
    expect(requests.map((m) => [m.outcome, m.attempt])).toEqual([
      ['ok', 1],
      ['failed', 1],
      ['ok', 1],
    ]);
  });
});

describe('a non-retriable gRPC answer', () => {
  it("fails only that batch, once, with the gRPC status and the server's details", async () => {
    const model = await loadRemoteModel({ transport: 'grpc', url: inject('mlserver').grpcUrl, model: 'iris' });
    const rows = Array.from({ length: 8 }, (_, i) => (i >= 4 ? [...nth(i), 1] : nth(i)));
    const results = await lastValueFrom(
      from(rows).pipe(
        predict<number[], number[], number>(model, {
          encode: (batch): TensorData => ({ data: Float32Array.from(batch.flat()), shape: [batch.length, batch[0]!.length] }),
          decode: (_outputs, batch) => batch.map(() => 0),
          batch: { size: 4 },
        }),
        toArray(),
      ),
    );
    model.dispose();
    expect(results.slice(0, 4).every((r) => r.ok)).toBe(true);
    for (const r of results.slice(4)) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error).toMatchObject({ code: 'MODEL_ERROR', retriable: false, message: expect.stringMatching(/gRPC (INVALID_ARGUMENT|INTERNAL|UNKNOWN): \S/) as unknown });
    }
    expect(requests.map((m) => [m.outcome, m.attempt])).toEqual([
      ['ok', 1],
      ['failed', 1],
    ]);
  });
});

describe('the circuit breaker', () => {
  let proxy: FaultProxy;
  let model: Model;
  beforeAll(async () => {
    proxy = await startFaultProxy(Number(new URL(inject('mlserver').httpUrl).port));
    model = await loadRemoteModel({ url: proxy.url, model: 'iris', retries: 0, circuitBreaker: { failures: 3, halfOpenAfterMs: 1_000 } });
  });
  afterAll(async () => {
    model.dispose();
    await proxy.close();
  });

  const score = (n: number) => lastValueFrom(from(Array.from({ length: n }, (_, i) => i)).pipe(predictIris(model, { select: nth, batch: { size: 2 } }), toArray()));

  it('opens after 3 failures in a row and fails fast without calling the server, then a probe closes it', async () => {
    proxy.serviceUnavailable = true;
    const before = proxy.requests;
    const down = await score(12);
    // 6 batches: 3 reached the server (503), then the circuit was open: no request, at once.
    expect(proxy.requests - before).toBe(3);
    expect(requests.map((m) => m.outcome)).toEqual(['failed', 'failed', 'failed', 'circuit-open', 'circuit-open', 'circuit-open']);
    down.forEach((r, i) => {
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.code).toBe('MODEL_ERROR');
      expect(r.error.retriable).toBe(true);
      expect(r.error.message).toMatch(i < 6 ? /HTTP 503: fault proxy: service unavailable/ : /circuit open: .* failed 3 times in a row/);
    });
    requests.slice(3).forEach((m) => expect(m.durationMs).toBeLessThan(50));

    proxy.serviceUnavailable = false;
    requests.length = 0;
    await sleep(1_100);
    const back = await score(6);
    back.forEach((r, i) => {
      if (!r.ok) throw r.error;
      expect(r.value.species).toBe(IRIS_SPECIES[want.predict[i]!]);
    });
    expect(requests.map((m) => m.outcome)).toEqual(['ok', 'ok', 'ok']);
    expect(proxy.requests - before).toBe(3 + 3);
  });
});
