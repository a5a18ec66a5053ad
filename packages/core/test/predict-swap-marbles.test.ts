/**
 * Model hot-swap in virtual time (RxJS TestScheduler marbles): `predict` on an `Observable<Model>`.
 * The models are in-test `Model`s (test/support/virtual-time.ts: output = input × 10 or × 100,
 * each call lasting a given number of virtual ms, dispose() recording the virtual time) — these
 * tests pin the engine's timing: when a version starts serving, which batch runs on which version,
 * when a replaced version is disposed. Real tfjs Iris models are swapped in predict-swap.test.ts.
 *
 * Every version's first call is its trial batch (one record of zeros), so `delay(0)` is the trial.
 */
import { Observable, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { predict, type Model, type ModelEvent, type PredictOptions, type PredictResult } from '../src/index.js';
import { decodeNumbers, encodeNumbers, virtualModel, type VirtualBehaviour, type VirtualModel } from './support/virtual-time.js';

const values = { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 };

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

function ok(model: VirtualModel, input: number, latencyMs: number, factor = 10): PredictResult<number, number> {
  return { ok: true, input, value: input * factor, model: { name: model.name, version: model.version }, latencyMs };
}

function options(ts: TestScheduler, events: ModelEvent[], extra: Partial<PredictOptions<number, number, number>> = {}): PredictOptions<number, number, number> {
  return { encode: encodeNumbers, decode: decodeNumbers, scheduler: ts, batch: { size: 1 }, onModelEvent: (e) => events.push(e), ...extra };
}

const times100 = (ts: TestScheduler, extra: VirtualBehaviour = {}): VirtualModel => virtualModel(ts, { version: 'v2', output: (x) => x * 100, ...extra });

/** Events as short strings: `swap v2 (after v1)`, `released v1`, `refused v2: …`. */
const summary = (events: readonly ModelEvent[]): string[] =>
  events.map((e) => `${e.type} ${e.version}${e.previousVersion === undefined ? '' : ` (after ${e.previousVersion})`}${e.type === 'refused' || e.type === 'source-error' ? `: ${e.reason}` : ''}`);

describe('predict on a model stream, in virtual time', () => {
  it('swaps between batches: batches before the new version is validated run on the old one, later ones on the new one', () => {
    const ts = scheduler();
    const events: ModelEvent[] = [];
    let v1!: VirtualModel;
    let v2!: VirtualModel;
    ts.run(({ cold, expectObservable }) => {
      v1 = virtualModel(ts, { delay: () => 2 });
      v2 = times100(ts, { delay: () => 2 });
      // v1 arrives at 0 (trial 0–2, serves from 2); v2 at 10 (trial 10–12, serves from 12).
      const models = cold<Model>('a 9ms b', { a: v1, b: v2 });
      const records = cold<number>('-a 5ms b 9ms c|', values);
      // a (1) waits for v1 (2) and is scored 2–4; b (7) 7–9 on v1; c (17) 17–19 on v2.
      expectObservable(records.pipe(predict(models, options(ts, events)))).toBe('4ms x 4ms y 9ms (z|)', {
        x: ok(v1, 1, 3),
        y: ok(v1, 2, 2),
        z: ok(v2, 3, 2, 100),
      });
    });
    expect(v1.calls).toEqual([{ size: 1, at: 0 }, { size: 1, at: 2 }, { size: 1, at: 7 }]);
    expect(v2.calls).toEqual([{ size: 1, at: 10 }, { size: 1, at: 17 }]);
    expect(v1.disposedAt).toEqual([12]); // no call in flight when v2 took over
    expect(v2.disposedAt).toEqual([19]); // the current one, when the stream completed
    expect(summary(events)).toEqual(['swap v1', 'swap v2 (after v1)', 'released v1', 'released v2']);
    expect(events.every((e) => e.operator === 'predict')).toBe(true);
  });

  it('finishes a batch in flight on the old version and disposes it only when that call returns', () => {
    const ts = scheduler();
    const events: ModelEvent[] = [];
    let v1!: VirtualModel;
    let v2!: VirtualModel;
    ts.run(({ cold, expectObservable }) => {
      v1 = virtualModel(ts, { delay: (call) => (call === 0 ? 1 : 10) });
      v2 = times100(ts, { delay: () => 1 });
      const models = cold<Model>('a 4ms b', { a: v1, b: v2 }); // v1 serves from 1, v2 from 6
      const records = cold<number>('--a 5ms b|', values);
      // a runs on v1 from 2 to 12; b (8) runs on v2 alongside (concurrency 2), 8–9, and waits for a.
      expectObservable(records.pipe(predict(models, options(ts, events, { concurrency: 2 })))).toBe('12ms (xy|)', {
        x: ok(v1, 1, 10),
        y: ok(v2, 2, 1, 100),
      });
      ts.schedule(() => expect(v1.disposedAt).toEqual([]), 11); // swapped out at 6, still running a
    });
    expect(v1.disposedAt).toEqual([12]);
    expect(summary(events)).toEqual(['swap v1', 'swap v2 (after v1)', 'released v1', 'released v2']);
  });

  it('holds records until the first version passed validation, and a batch waits for no one after that', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const v1 = virtualModel(ts, { delay: (call) => (call === 0 ? 3 : 1) });
      const models = cold<Model>('5ms a', { a: v1 }); // arrives at 5, serves from 8
      const records = cold<number>('ab 10ms c|', values);
      // a and b (0, 1) are held until 8 and go as one batch (size 2), done at 9; c (12) 12–13.
      expectObservable(records.pipe(predict(models, options(ts, [], { batch: { size: 2, maxLatencyMs: 0 } })))).toBe('9ms (xy) (z|)', {
        x: ok(v1, 1, 9),
        y: ok(v1, 2, 8),
        z: ok(v1, 3, 1),
      });
    });
  });

  it('refuses a version with a different signature: it is disposed at once and the current one keeps serving', () => {
    const ts = scheduler();
    const events: ModelEvent[] = [];
    let v2!: VirtualModel;
    ts.run(({ cold, expectObservable }) => {
      const v1 = virtualModel(ts, { delay: () => 1 });
      v2 = times100(ts, { inputs: [{ name: 'x', shape: [null, 2], dtype: 'float32' }] });
      const models = cold<Model>('a 4ms b', { a: v1, b: v2 });
      const records = cold<number>('--a 9ms b|', values);
      expectObservable(records.pipe(predict(models, options(ts, events)))).toBe('3ms x 9ms (y|)', { x: ok(v1, 1, 1), y: ok(v1, 2, 1) });
    });
    expect(v2.calls).toEqual([]); // refused on its signature: no trial batch
    expect(v2.disposedAt).toEqual([5]);
    expect(summary(events)).toEqual([
      'swap v1',
      "refused v2: predict: model 'times-ten' version v2 does not match the first model's signature: input 0 (x) has shape [?, 2], the first model's is [?, 1]",
      'released v1',
    ]);
    expect(events[1]?.error?.code).toBe('INVALID_CONFIG');
  });

  it('refuses a version whose trial batch gives a non-finite output, or fails', () => {
    const ts = scheduler();
    const events: ModelEvent[] = [];
    let nan!: VirtualModel;
    let broken!: VirtualModel;
    ts.run(({ cold, expectObservable }) => {
      const v1 = virtualModel(ts, { delay: () => 1 });
      nan = times100(ts, { output: () => Number.NaN, delay: () => 1 });
      broken = virtualModel(ts, { version: 'v3', fails: () => true, delay: () => 1 });
      const models = cold<Model>('a 4ms b 4ms c', { a: v1, b: nan, c: broken });
      const records = cold<number>('--a 14ms b|', values);
      expectObservable(records.pipe(predict(models, options(ts, events)))).toBe('3ms x 14ms (y|)', { x: ok(v1, 1, 1), y: ok(v1, 2, 1) });
    });
    expect(nan.disposedAt).toEqual([6]);
    expect(broken.disposedAt).toEqual([11]);
    expect(summary(events)).toEqual(['swap v1', 'refused v2: trial batch output y holds NaN at index 0 (finite values expected)', 'refused v3: trial batch failed: model call 0 failed', 'released v1']);
    expect(events.filter((e) => e.type === 'refused').map((e) => e.error?.code)).toEqual(['MODEL_LOAD_ERROR', 'MODEL_LOAD_ERROR']);
  });

  it('validates one version at a time: a newer one waits, and supersedes an older one still waiting', () => {
    const ts = scheduler();
    const events: ModelEvent[] = [];
    const models: VirtualModel[] = [];
    ts.run(({ cold, expectObservable }) => {
      const [v1, v2, v3, v4] = ['v1', 'v2', 'v3', 'v4'].map((version) => virtualModel(ts, { version, delay: () => 4 })) as [VirtualModel, VirtualModel, VirtualModel, VirtualModel];
      models.push(v1, v2, v3, v4);
      // v1 validated 0–4; v2, v3 arrive during it: v3 supersedes v2; v4 arrives while v3 is validated (4–8), then 8–12.
      const source = cold<Model>('abc---d', { a: v1, b: v2, c: v3, d: v4 });
      const records = cold<number>('13ms a|', values);
      expectObservable(records.pipe(predict(source, options(ts, events)))).toBe('17ms (x|)', { x: ok(v4, 1, 4) });
    });
    expect(models.map((m) => m.calls.map((c) => c.at))).toEqual([[0], [], [4], [8, 13]]);
    expect(summary(events)).toEqual([
      'refused v2: superseded by version v3 before it was validated',
      'swap v1',
      'swap v3 (after v1)',
      'released v1',
      'swap v4 (after v3)',
      'released v3',
      'released v4',
    ]);
  });

  it('announces a rollback to a version served before; ignores the current version emitted again', () => {
    const ts = scheduler();
    const events: ModelEvent[] = [];
    let v1!: VirtualModel;
    let v1again!: VirtualModel;
    let sameAsCurrent!: VirtualModel;
    ts.run(({ cold, expectObservable }) => {
      v1 = virtualModel(ts, { delay: () => 1 });
      const v2 = times100(ts, { delay: () => 1 });
      v1again = virtualModel(ts, { delay: () => 1 });
      sameAsCurrent = virtualModel(ts, { delay: () => 1 });
      // v1 (0), v2 (3), v1 again as a new object (6): a rollback; then a copy of it (9): ignored, disposed; then v1again itself (10): ignored, kept.
      const models = cold<Model>('a--b--c--de', { a: v1, b: v2, c: v1again, d: sameAsCurrent, e: v1again });
      const records = cold<number>('12ms a|', values);
      expectObservable(records.pipe(predict(models, options(ts, events)))).toBe('13ms (x|)', { x: ok(v1again, 1, 1) });
    });
    expect(summary(events)).toEqual(['swap v1', 'swap v2 (after v1)', 'released v1', 'rollback v1 (after v2)', 'released v2', 'released v1']);
    expect(events[3]?.reason).toBe('version v1 was served before by this operator');
    expect(sameAsCurrent.calls).toEqual([]);
    expect(sameAsCurrent.disposedAt).toEqual([9]);
    expect(v1again.disposedAt).toEqual([13]); // once, at the end, although it was emitted twice
  });

  it('errors with MODEL_LOAD_ERROR naming the source when the model source fails before a first model, and disposes nothing it does not own', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const models = cold<Model>('---#', undefined, new Error('cannot reach the model registry'));
      const records = cold<number>('-a-b-|', values);
      expectObservable(records.pipe(predict(models, options(ts, [])))).toBe(
        '---#',
        undefined,
        expect.objectContaining({
          code: 'MODEL_LOAD_ERROR',
          message: 'predict: the model source failed before a first model passed validation: cannot reach the model registry',
        }),
      );
    });
  });

  it('errors when the model source completes without a usable model, naming the last refusal', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const nan = virtualModel(ts, { output: () => Number.POSITIVE_INFINITY, delay: () => 1 });
      const models = cold<Model>('a|', { a: nan });
      expectObservable(cold<number>('-a 5ms |', values).pipe(predict(models, options(ts, [])))).toBe(
        '-#',
        undefined,
        expect.objectContaining({
          code: 'MODEL_LOAD_ERROR',
          message: 'predict: the model source completed without a model that passed validation (last refused: v1: trial batch output y holds Infinity at index 0 (finite values expected))',
        }),
      );
    });
  });

  it('keeps serving when the model source fails or completes after the first model (source-error event)', () => {
    const ts = scheduler();
    const events: ModelEvent[] = [];
    ts.run(({ cold, expectObservable }) => {
      const v1 = virtualModel(ts, { delay: () => 1 });
      const models = cold<Model>('a--#', { a: v1 }, new Error('registry went away'));
      const records = cold<number>('-a 5ms b|', values);
      expectObservable(records.pipe(predict(models, options(ts, events)))).toBe('2ms x 5ms (y|)', { x: ok(v1, 1, 1), y: ok(v1, 2, 1) });
    });
    expect(summary(events)).toEqual(['swap v1', 'source-error v1: the model source failed; version v1 keeps serving: predict: model source: registry went away', 'released v1']);
  });

  it('completes at once for an empty source, and never subscribes twice to the model source', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const models = cold<Model>('---a', { a: virtualModel(ts) });
      expectObservable(cold<number>('|').pipe(predict(models, options(ts, [])))).toBe('|');
      expectSubscriptions(models.subscriptions).toBe('(^!)');
    });
  });

  it('passes an error of the record source through and disposes the version it owns once its call in flight returns', () => {
    const ts = scheduler();
    let v1!: VirtualModel;
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      v1 = virtualModel(ts, { delay: (call) => (call === 0 ? 1 : 4) });
      const models = cold<Model>('a', { a: v1 });
      const records = cold<number>('--a-#', values, new Error('source broke'));
      expectObservable(records.pipe(predict(models, options(ts, [])))).toBe('----#', undefined, new Error('source broke'));
      expectSubscriptions(models.subscriptions).toBe('^---!');
    });
    expect(v1.calls.map((c) => c.at)).toEqual([0, 2]);
    expect(v1.disposedAt).toEqual([6]); // a's call (2–6) was in flight at the error
  });

  it('refuses something that is not a Model without touching it, and keeps serving', () => {
    const ts = scheduler();
    const events: ModelEvent[] = [];
    ts.run(({ cold, expectObservable }) => {
      const v1 = virtualModel(ts, { delay: () => 1 });
      const models = cold<Model>('a-b', { a: v1, b: { name: 'junk', version: '0' } as unknown as Model });
      expectObservable(cold<number>('---a|', values).pipe(predict(models, options(ts, events)))).toBe('----(x|)', { x: ok(v1, 1, 1) });
    });
    expect(summary(events)).toEqual(['swap v1', 'refused 0: predict: the model source emitted something that is not a Model (an object with run(inputs))', 'released v1']);
  });

  it('does not complete while a never-ending source is open; keeps swapping', () => {
    const ts = scheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const v1 = virtualModel(ts, { delay: () => 1 });
      const v2 = times100(ts, { delay: () => 1 });
      const models = cold<Model>('a 4ms b', { a: v1, b: v2 });
      expectObservable(hot<number>('--a-----b--', values).pipe(predict(models, options(ts, [])))).toBe('---x-----y', { x: ok(v1, 1, 1), y: ok(v2, 2, 1, 100) });
    });
  });

  it('on early unsubscribe: unsubscribes the model source, disposes the current version after its call in flight, a version under trial when its trial returns', () => {
    const ts = scheduler();
    const events: ModelEvent[] = [];
    let v1!: VirtualModel;
    let v2!: VirtualModel;
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      v1 = virtualModel(ts, { delay: (call) => (call === 0 ? 1 : 6) });
      v2 = times100(ts, { delay: () => 5 });
      const models = cold<Model>('a--b 10ms c', { a: v1, b: v2, c: virtualModel(ts, { version: 'v3' }) });
      const records = cold<number>('--a 20ms |', values);
      // a runs on v1 2–8; v2's trial runs 3–8; the subscriber leaves at 5.
      expectObservable(records.pipe(predict(models, options(ts, events))), '^----!').toBe('');
      expectSubscriptions(models.subscriptions).toBe('^----!');
      ts.schedule(() => expect([v1.disposedAt, v2.disposedAt]).toEqual([[], []]), 6);
    });
    expect(v1.disposedAt).toEqual([8]);
    expect(v2.disposedAt).toEqual([8]);
    expect(summary(events)).toEqual(['swap v1', 'released v1']);
  });

  it('a throwing onModelEvent changes nothing', () => {
    const ts = scheduler();
    let calls = 0;
    ts.run(({ cold, expectObservable }) => {
      const v1 = virtualModel(ts, { delay: () => 1 });
      const v2 = times100(ts, { delay: () => 1 });
      const models = cold<Model>('a 4ms b', { a: v1, b: v2 });
      const onModelEvent = (): never => {
        calls++;
        throw new Error('a broken event sink');
      };
      expectObservable(cold<number>('--a 5ms b|', values).pipe(predict(models, { ...options(ts, []), onModelEvent }))).toBe('---x 5ms (y|)', { x: ok(v1, 1, 1), y: ok(v2, 2, 1, 100) });
    });
    expect(calls).toBe(4); // swap v1, swap v2, released v1, released v2
  });

  it('keeps the records held before the first model bounded by pausing a pull-based source', () => {
    const ts = scheduler();
    const total = 1000;
    let produced = 0;
    let emitted = 0;
    let maxHeld = 0;
    let paused = false;
    let pauses = 0;
    let completed = false;
    const control = {
      pause: () => {
        paused = true;
        pauses++;
      },
      resume: () => {
        paused = false;
        pump();
      },
    };
    let pump = (): void => {};
    ts.run(({ cold }) => {
      const models = cold<Model>('50ms a', { a: virtualModel(ts, { delay: () => 5 }) });
      const source = new Observable<number>((subscriber) => {
        pump = () => {
          while (!paused && produced < total) {
            subscriber.next(produced++);
            maxHeld = Math.max(maxHeld, produced - emitted);
          }
          if (produced === total) subscriber.complete();
        };
        pump();
      });
      source.pipe(predict(models, options(ts, [], { batch: { size: 50 }, backpressure: { control, highWaterMark: 200 } }))).subscribe({
        next: () => emitted++,
        complete: () => (completed = true),
      });
      ts.schedule(() => expect([produced, emitted, paused]).toEqual([200, 0, true]), 49); // nothing ran yet: 200 held, paused
    });
    expect(completed).toBe(true);
    expect(emitted).toBe(total);
    expect(pauses).toBeGreaterThan(1);
    expect(maxHeld).toBeLessThanOrEqual(200);
  });

  it('names the model of each batch in onBatch and on failures of a model call', () => {
    const ts = scheduler();
    const batches: string[] = [];
    ts.run(({ cold, expectObservable }) => {
      const v1 = virtualModel(ts, { delay: () => 1, fails: (call) => call === 1 });
      const v2 = times100(ts, { delay: () => 1 });
      const models = cold<Model>('a 4ms b', { a: v1, b: v2 });
      const outcomes = cold<number>('--a 5ms b|', values).pipe(
        predict(models, options(ts, [], { onBatch: (e) => batches.push(`${e.version}:${e.ok}`) })),
        map((r) => `${r.ok ? 'ok' : r.error.code}@${r.model?.version ?? '?'}`),
      );
      expectObservable(outcomes).toBe('---x 5ms (y|)', { x: 'MODEL_ERROR@v1', y: 'ok@v2' });
    });
    expect(batches).toEqual(['v1:false', 'v2:true']);
  });
});
