import { mkdtemp, cp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Observable, Subject, concatMap, from, lastValueFrom, timer, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CHANNELS,
  IRIS_MODEL_DIR,
  UNKNOWN_MODEL,
  loadIrisModel,
  predictIris,
  subscribe,
  watchModel,
  type Model,
  type ModelLifecycleMessage,
} from '../src/index.js';
import { numTensors } from './support/helpers.js';

const ROWS = ['5.1,3.5,1.4,0.2', '7.0,3.2,4.7,1.4', '6.3,3.3,6.0,2.5'];

/** A model source that never emits; says whether it is still subscribed. */
function silentSource(): { source: Observable<Model>; subscribed: () => boolean } {
  let live = 0;
  const source = new Observable<Model>(() => {
    live++;
    return () => {
      live--;
    };
  });
  return { source, subscribed: () => live > 0 };
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

describe('firstModelTimeoutMs: a model stream whose first version never comes', () => {
  it('errors the output of a finished input with a retriable MODEL_LOAD_ERROR (operator, time waited, records held) and unsubscribes the source; no record gets a result', async () => {
    const { source, subscribed } = silentSource();
    const results: unknown[] = [];
    const started = performance.now();
    const error = await new Promise<unknown>((resolve) => {
      from(ROWS)
        .pipe(predictIris(source, { firstModelTimeoutMs: 300 }))
        .subscribe({ next: (r) => results.push(r), error: resolve, complete: () => resolve('completed') });
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(error).toMatchObject({ code: 'MODEL_LOAD_ERROR', retriable: true });
    const message = (error as Error).message;
    expect(message).toMatch(/^predictIris: no model version passed validation within 300 ms/);
    expect(message).toMatch(/waited \d+ ms, 3 record\(s\) held/);
    expect(results).toEqual([]);
    expect(subscribed()).toBe(false);
  });

  it('from(rows).pipe(predictIris(watchModel(missing))) ends (the watch stops) and names the missing path in a waiting event', async () => {
    const missing = join(tmpdir(), `rxml-missing-${process.pid}-${Date.now()}`);
    const events: ModelLifecycleMessage[] = [];
    const operatorEvents: ModelLifecycleMessage[] = [];
    cleanups.push(subscribe(CHANNELS.modelLifecycle, (e) => events.push(e)));
    const error = await lastValueFrom(
      from(ROWS).pipe(predictIris(watchModel(missing, { intervalMs: 20 }), { firstModelTimeoutMs: 400, onModelEvent: (e) => operatorEvents.push(e) }), toArray()),
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MODEL_LOAD_ERROR', retriable: true });
    // The source said why, once.
    const sourceWaiting = events.filter((e) => e.type === 'waiting' && e.source !== undefined);
    expect(sourceWaiting).toHaveLength(1);
    expect(sourceWaiting[0]).toMatchObject({ source: `watchModel ${missing}`, version: UNKNOWN_MODEL });
    expect(sourceWaiting[0]!.reason).toMatch(/does not exist/);
    // The operator announced its wait once (after half the timeout), with the records held; its onModelEvent got it.
    const waiting = operatorEvents.filter((e) => e.type === 'waiting');
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatchObject({ operator: 'predictIris', heldRecords: 3, name: UNKNOWN_MODEL, version: UNKNOWN_MODEL });
    expect(waiting[0]!.waitedMs).toBeGreaterThanOrEqual(190);
    // The watch stopped: nothing more is published about the path.
    const count = events.length;
    await new Promise((r) => setTimeout(r, 150));
    expect(events.length).toBe(count);
  });

  it('names the last refusal', async () => {
    const error = await lastValueFrom(
      from(ROWS).pipe(predictIris(new Observable<Model>((s) => s.next({ name: 'broken' } as unknown as Model)), { firstModelTimeoutMs: 200 }), toArray()),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/last refused: .*not a Model/);
  });

  it('a finite input followed by a model arriving within the timeout is scored in full; tensors back to baseline', async () => {
    (await loadIrisModel()).dispose(); // the backend is up before counting
    const before = numTensors();
    const results = await lastValueFrom(from(ROWS).pipe(predictIris(timer(150).pipe(concatMap(() => loadIrisModel())), { firstModelTimeoutMs: 5_000 }), toArray()));
    expect(results.map((r) => r.ok && r.value.species)).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(numTensors()).toBe(before);
  });

  it('a model arriving after the waiting event but in time: the operator waits, scores, and completes; the source announces the path once it appears', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rxml-appears-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'iris');
    const events: ModelLifecycleMessage[] = [];
    const input = new Subject<string>();
    const done = lastValueFrom(input.pipe(predictIris(watchModel(path, { intervalMs: 20, stableMs: 0, onModelEvent: (e) => events.push(e) }), { firstModelTimeoutMs: 10_000 }), toArray()));
    for (const row of ROWS) input.next(row);
    input.complete();
    await new Promise((r) => setTimeout(r, 100));
    expect(events.map((e) => e.type)).toEqual(['waiting']);
    await cp(IRIS_MODEL_DIR, path, { recursive: true });
    const results = await done;
    expect(results.map((r) => r.ok && r.value.species)).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(events.map((e) => e.type)).toEqual(['waiting', 'available']);
  });

  it('checks the option: a number of ms > 0 or Infinity', () => {
    const { source } = silentSource();
    for (const bad of [0, -1, Number.NaN, '5', 2 ** 31]) {
      expect(() => predictIris(source, { firstModelTimeoutMs: bad as number })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining('firstModelTimeoutMs') }));
    }
    expect(() => predictIris(source, { firstModelTimeoutMs: Infinity })).not.toThrow();
  });
});
