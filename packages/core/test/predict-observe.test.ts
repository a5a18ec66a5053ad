/**
 * What `predict` tells observers — the `onBatch` callback and the `rxml:predict:batch` /
 * `rxml:predict:result` diagnostics channels — on the real Iris model, and that no observer can
 * change a result or hang the stream.
 */
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CHANNELS,
  loadIrisModel,
  predict,
  subscribe,
  type CallbackErrorMessage,
  type Model,
  type PredictBatchMessage,
  type PredictOptions,
  type PredictResultMessage,
  type TensorData,
} from '../src/index.js';
import { numTensors, observe } from './support/helpers.js';

let iris: Model;
beforeAll(async () => {
  iris = await loadIrisModel();
});
afterAll(() => iris.dispose());

type Row = readonly number[];
const encode = (rows: readonly Row[]): TensorData => ({ data: Float32Array.from(rows.flat()), shape: [rows.length, 4] });
const decode = ([out]: readonly TensorData[], rows: readonly Row[]) => rows.map((_, i) => Array.from(out!.data.subarray(i * 3, i * 3 + 3)));
const rows = Array.from({ length: 100 }, (_, i): Row => [4 + (i % 4), 3, 1 + (i % 5), 0.2 + (i % 3)]);

const unsubscribers: (() => void)[] = [];
afterEach(() => {
  for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
});
function listen<N extends 'rxml:predict:batch' | 'rxml:predict:result' | 'rxml:callback:error'>(name: N): Parameters<Parameters<typeof subscribe<N>>[1]>[0][] {
  const seen: Parameters<Parameters<typeof subscribe<N>>[1]>[0][] = [];
  unsubscribers.push(subscribe(name, (message) => seen.push(message)));
  return seen;
}

function run(model: Model, extra: Partial<PredictOptions<Row, Row, number[]>> = {}) {
  return lastValueFrom(from(rows).pipe(predict(model, { encode, decode, batch: { size: 32, maxLatencyMs: 1000 }, ...extra }), toArray()));
}

describe('onBatch', () => {
  it('a throwing onBatch changes no result, and the stream completes (issue 10 bug)', async () => {
    const before = numTensors();
    const reference = await run(iris);
    const callbackErrors = listen(CHANNELS.callbackError) as CallbackErrorMessage[];
    let calls = 0;
    const results = await run(iris, {
      onBatch: () => {
        calls++;
        throw new Error('metrics exporter is down');
      },
    });
    expect(calls).toBe(4);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(results).toEqual(reference.map((r) => ({ ...r, latencyMs: expect.any(Number) as number })));
    expect(callbackErrors.map((m) => m.callback)).toEqual(['onBatch', 'onBatch', 'onBatch', 'onBatch']);
    expect(numTensors()).toBe(before);
  });

  it('an onBatch returning a rejected promise changes nothing and leaves no unhandled rejection', async () => {
    const callbackErrors = listen(CHANNELS.callbackError) as CallbackErrorMessage[];
    const results = await run(iris, { onBatch: () => Promise.reject(new Error('async exporter down')) });
    expect(results.filter((r) => r.ok)).toHaveLength(100);
    await new Promise((r) => setImmediate(r));
    expect(callbackErrors.filter((m) => m.callback === 'onBatch')).toHaveLength(4);
  });

  it('an onBatch throwing on a failed batch keeps MODEL_ERROR for that batch only and completes', async () => {
    const before = numTensors();
    const model = observe(iris, { failOnCall: (call) => call === 1 });
    const events: PredictBatchMessage[] = [];
    const results = await run(model, {
      onBatch: (event) => {
        events.push(event);
        throw new Error('boom');
      },
    });
    expect(results.map((r) => r.ok)).toEqual(rows.map((_, i) => i < 32 || i >= 64));
    expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.error.code === 'MODEL_ERROR')).toBe(true);
    expect(events.map((e) => [e.size, e.ok])).toEqual([[32, true], [32, false], [32, true], [4, true]]);
    expect(events[1]?.error?.message).toContain('model call 1 failed');
    expect(numTensors()).toBe(before);
  });

  it('gets the rxml:predict:batch payload: model, version, size, input bytes, duration, ok', async () => {
    const events: PredictBatchMessage[] = [];
    await run(iris, { onBatch: (event) => void events.push(event) });
    expect(events.map((e) => e.size)).toEqual([32, 32, 32, 4]);
    for (const e of events) {
      expect(e).toMatchObject({ model: iris.name, version: iris.version, ok: true, bytes: e.size * 4 * Float32Array.BYTES_PER_ELEMENT });
      expect(e.durationMs).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('rxml:predict:* channels', () => {
  it('publishes one batch message per model call and one result message per emitted result', async () => {
    const batches = listen(CHANNELS.predictBatch) as PredictBatchMessage[];
    const resultMessages = listen(CHANNELS.predictResult) as PredictResultMessage[];
    const results = await run(iris, {
      select: (row) => {
        if (row[0] === 7) throw new Error('unreadable row');
        return row;
      },
    });
    const failed = results.filter((r) => !r.ok).length;
    expect(failed).toBe(25);
    expect(batches.reduce((n, b) => n + b.size, 0)).toBe(100 - failed);
    expect(batches.every((b) => b.ok && b.model === iris.name && b.version === iris.version && b.bytes === b.size * 16)).toBe(true);
    expect(resultMessages).toHaveLength(100);
    expect(resultMessages.filter((m) => !m.ok).map((m) => m.code)).toEqual(Array<string>(failed).fill('INVALID_INPUT'));
    expect(resultMessages.filter((m) => m.ok).every((m) => m.latencyMs !== undefined && m.latencyMs >= 0 && m.code === undefined)).toBe(true);
  });

  it('reports a failed model call with ok: false and the error, and MODEL_ERROR per record', async () => {
    const before = numTensors();
    const batches = listen(CHANNELS.predictBatch) as PredictBatchMessage[];
    const resultMessages = listen(CHANNELS.predictResult) as PredictResultMessage[];
    await run(observe(iris, { failOnCall: (call) => call === 0 }));
    expect(batches.map((b) => b.ok)).toEqual([false, true, true, true]);
    expect(batches[0]?.error?.code).toBe('MODEL_ERROR');
    expect(resultMessages.filter((m) => m.code === 'MODEL_ERROR')).toHaveLength(32);
    expect(numTensors()).toBe(before);
  });

  it('a throwing subscriber changes no result and the stream completes', async () => {
    const before = numTensors();
    const reference = await run(iris);
    const callbackErrors = listen(CHANNELS.callbackError) as CallbackErrorMessage[];
    unsubscribers.push(
      subscribe(CHANNELS.predictBatch, () => {
        throw new Error('bad batch subscriber');
      }),
      subscribe(CHANNELS.predictResult, () => {
        throw new Error('bad result subscriber');
      }),
    );
    const results = await run(iris);
    expect(results).toEqual(reference.map((r) => ({ ...r, latencyMs: expect.any(Number) as number })));
    expect(callbackErrors.filter((m) => m.callback === 'subscriber:rxml:predict:batch')).toHaveLength(4);
    expect(callbackErrors.filter((m) => m.callback === 'subscriber:rxml:predict:result')).toHaveLength(100);
    expect(numTensors()).toBe(before);
  });

  it('a throwing subscriber of rxml:callback:error is called once per reported error (no recursion) and changes nothing', async () => {
    const reference = await run(iris);
    const calls: string[] = [];
    unsubscribers.push(
      subscribe(CHANNELS.callbackError, (message) => {
        calls.push(message.callback);
        throw new Error('broken error logger');
      }),
    );
    const results = await run(iris, {
      onBatch: () => {
        throw new Error('bad onBatch');
      },
    });
    expect(results).toEqual(reference.map((r) => ({ ...r, latencyMs: expect.any(Number) as number })));
    // 4 batches, 4 onBatch throws: the error subscriber sees each once, and its own throws are not published back to it.
    expect(calls).toEqual(['onBatch', 'onBatch', 'onBatch', 'onBatch']);
  });
});
