/**
 * Batching, ordering and completion of `predict` in virtual time (RxJS TestScheduler marbles, no
 * real sleeps). The model here is an in-test `Model` (test/support/virtual-time.ts: output = input
 * × 10, each call lasting a given number of virtual ms) — these tests are about the engine's timing;
 * real tfjs models are exercised by predict.test.ts and predict-observe.test.ts.
 */
import { Observable, map, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { predict, type PredictOptions, type PredictResult } from '../src/index.js';
import { VirtualPromise, decodeNumbers, encodeNumbers, virtualModel, type VirtualModel } from './support/virtual-time.js';

const values = { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 };

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** The success result the operator emits for `input`, `latencyMs` virtual ms after it entered. */
function ok(model: VirtualModel, input: number, latencyMs: number): PredictResult<number, number> {
  return { ok: true, input, value: input * 10, model: { name: model.name, version: model.version }, latencyMs };
}

function options(testScheduler: TestScheduler, extra: Partial<PredictOptions<number, number, number>> = {}): PredictOptions<number, number, number> {
  return { encode: encodeNumbers, decode: decodeNumbers, scheduler: testScheduler, ...extra };
}

describe('predict in virtual time', () => {
  it('seals a partial batch maxLatencyMs after its first record', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: () => 2 });
      const source = cold<number>('-a-b 11ms |', values);
      // a enters at 1: the batch is due at 1 + 5 = 6, the model takes 2 ms.
      expectObservable(source.pipe(predict(model, options(ts, { batch: { size: 10, maxLatencyMs: 5 } })))).toBe('8ms (xy) 3ms |', {
        x: ok(model, 1, 7),
        y: ok(model, 2, 5),
      });
      ts.flush();
      expect(model.calls).toEqual([{ size: 2, at: 6 }]);
    });
  });

  it('sends a full batch at once, and the last partial one when the source completes', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: () => 2 });
      const source = cold<number>('-abc 20ms |', values);
      expectObservable(source.pipe(predict(model, options(ts, { batch: { size: 2, maxLatencyMs: 100 } })))).toBe('4ms (xy) 18ms (z|)', {
        x: ok(model, 1, 3),
        y: ok(model, 2, 2),
        z: ok(model, 3, 23),
      });
      ts.flush();
      expect(model.calls).toEqual([{ size: 2, at: 2 }, { size: 1, at: 24 }]);
    });
  });

  it('keeps input order when a later batch finishes first', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: (call) => (call === 0 ? 5 : 1) });
      const source = cold<number>('-ab 10ms |', values);
      // b's call ends at 3 (latencyMs is to its batch's result, 1 ms) but b waits for a (6).
      expectObservable(source.pipe(predict(model, options(ts, { batch: { size: 1 }, concurrency: 2 })))).toBe('6ms (xy) 3ms |', {
        x: ok(model, 1, 5),
        y: ok(model, 2, 1),
      });
    });
  });

  it('emits each batch as soon as it is done with ordered: false', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: (call) => (call === 0 ? 5 : 1) });
      const source = cold<number>('-ab 10ms |', values);
      expectObservable(source.pipe(predict(model, options(ts, { batch: { size: 1 }, concurrency: 2, ordered: false })))).toBe('---y--x 6ms |', {
        x: ok(model, 1, 5),
        y: ok(model, 2, 1),
      });
    });
  });

  it('runs at most `concurrency` calls; a due batch keeps filling while every slot is busy', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: () => 10 });
      // a is alone and due at 2; b..e arrive while its call runs (2..12) and go together at 12.
      const source = cold<number>('-a-bcde 30ms |', values);
      const result = source.pipe(predict(model, options(ts, { batch: { size: 8, maxLatencyMs: 1 } })));
      expectObservable(result).toBe('12ms a 9ms (bcde) 9ms |', {
        a: ok(model, 1, 11),
        b: ok(model, 2, 19),
        c: ok(model, 3, 18),
        d: ok(model, 4, 17),
        e: ok(model, 5, 16),
      });
      ts.flush();
      expect(model.calls).toEqual([{ size: 1, at: 2 }, { size: 4, at: 12 }]);
    });
  });

  it('completes only after the last batch is emitted', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: () => 4 });
      const source = cold<number>('-a|', values);
      // the source completes at 2: the pending batch goes at once (no latency wait), done at 6.
      expectObservable(source.pipe(predict(model, options(ts)))).toBe('6ms (x|)', { x: ok(model, 1, 5) });
    });
  });

  it('passes an error of the source through at once, dropping the batch in progress', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const model = virtualModel(ts, { delay: () => 1 });
      const source = cold<number>('-a-#', values, new Error('source broke'));
      expectObservable(source.pipe(predict(model, options(ts)))).toBe('---#', undefined, new Error('source broke'));
      expectSubscriptions(source.subscriptions).toBe('^--!');
      ts.flush();
      expect(model.calls).toEqual([]); // the latency timer (due at 6) was cancelled
    });
  });

  it('does not complete while a never-ending source is open', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable, expectSubscriptions }) => {
      const model = virtualModel(ts, { delay: () => 2 });
      const source = hot<number>('-a-b-', values);
      expectObservable(source.pipe(predict(model, options(ts)))).toBe('8ms (xy)', { x: ok(model, 1, 7), y: ok(model, 2, 5) });
      expectSubscriptions(source.subscriptions).toBe('^');
    });
  });

  it('stops after an early unsubscribe: no timer fires, no call starts, no result comes', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable, expectSubscriptions }) => {
      const model = virtualModel(ts, { delay: () => 2 });
      const source = cold<number>('-a-b 20ms |', values);
      expectObservable(source.pipe(predict(model, options(ts))), '^----!').toBe('');
      expectSubscriptions(source.subscriptions).toBe('^----!');
      ts.flush();
      expect(model.calls).toEqual([]);
    });
  });

  it('drops the results of a call still running at unsubscribe', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: () => 5 });
      const source = cold<number>('-a 20ms |', values);
      expectObservable(source.pipe(predict(model, options(ts, { batch: { size: 1 } }))), '^----!').toBe('');
      ts.flush();
      expect(model.calls).toEqual([{ size: 1, at: 1 }]);
    });
  });

  it("aborts the signal of a call still running at unsubscribe (Model.run's RunOptions), and only that one", () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      // Call 0 (record a at 1 ms) ends at 3 ms; call 1 (record b at 4 ms) is still running at 6 ms.
      const model = virtualModel(ts, { delay: (call) => (call === 0 ? 2 : 10) });
      const source = cold<number>('-a--b 20ms |', values);
      expectObservable(source.pipe(predict(model, options(ts, { batch: { size: 1 } }))), '^-----!').toBe('---x', { x: ok(model, 1, 2) });
      ts.flush();
      expect(model.calls).toEqual([
        { size: 1, at: 1 },
        { size: 1, at: 4 },
      ]);
      const [done, running] = model.signals;
      expect(done?.aborted).toBe(false);
      expect(running?.aborted).toBe(true);
      expect(running?.reason).toMatchObject({ code: 'ABORTED', message: 'predict: the subscription ended; the model calls in flight are no longer wanted' });
    });
  });

  it('aborts no signal when the stream completes', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: () => 2 });
      expectObservable(cold<number>('-a-b|', values).pipe(predict(model, options(ts, { batch: { size: 1 } })))).toBe('---x-(y|)', { x: ok(model, 1, 2), y: ok(model, 2, 2) });
      ts.flush();
      expect(model.signals.map((s) => s?.aborted)).toEqual([false, false]);
    });
  });

  it('completes at once for an empty source without calling the model', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts);
      expectObservable(cold<number>('|').pipe(predict(model, options(ts)))).toBe('|');
      ts.flush();
      expect(model.calls).toEqual([]);
    });
  });

  it('scores one record', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: () => 2 });
      expectObservable(cold<number>('-a|', values).pipe(predict(model, options(ts)))).toBe('4ms (x|)', { x: ok(model, 1, 3) });
    });
  });

  it('scores many records in batches of at most `size`, in order', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: () => 1 });
      const source = cold<number>('-abc-----def-----g|', values);
      expectObservable(source.pipe(predict(model, options(ts, { batch: { size: 3, maxLatencyMs: 50 } })))).toBe('4ms (abc) 3ms (def) 2ms (g|)', {
        a: ok(model, 1, 3),
        b: ok(model, 2, 2),
        c: ok(model, 3, 1),
        d: ok(model, 4, 3),
        e: ok(model, 5, 2),
        f: ok(model, 6, 1),
        g: ok(model, 7, 2),
      });
      ts.flush();
      expect(model.calls.map((c) => c.size)).toEqual([3, 3, 1]);
    });
  });

  it('gives every record of a failing call MODEL_ERROR and goes on with the next batch', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const model = virtualModel(ts, { delay: () => 1, fails: (call) => call === 0 });
      const source = cold<number>('-ab------c|', values);
      const outcomes = source.pipe(
        predict(model, options(ts, { batch: { size: 2 } })),
        map((r) => (r.ok ? `ok:${r.input}` : `${r.error.code}:${r.input}:${r.error.message}`)),
      );
      expectObservable(outcomes).toBe('---(xy) 4ms (z|)', {
        x: 'MODEL_ERROR:1:model times-ten: model call 0 failed',
        y: 'MODEL_ERROR:2:model times-ten: model call 0 failed',
        z: 'ok:3',
      });
    });
  });

  it('runs asynchronous selects selectConcurrency at a time, and keeps input order', () => {
    const ts = scheduler();
    const seen: string[] = [];
    let active = 0;
    let maxActive = 0;
    ts.run(({ cold }) => {
      const model = virtualModel(ts);
      // Each select takes (6 - input) virtual ms, so later records are selected sooner; 3 fails.
      const select = (x: number): PromiseLike<number> => {
        active++;
        maxActive = Math.max(maxActive, active);
        return VirtualPromise.settleAfter(ts, 6 - x, () => {
          active--;
          if (x === 3) throw new Error('cannot decode 3');
          return x;
        });
      };
      cold<number>('(abcde|)', values)
        .pipe(predict(model, options(ts, { select, selectConcurrency: 2, batch: { size: 5, maxLatencyMs: 0 } })))
        .subscribe({
          next: (r) => seen.push(`${ts.now()}:${r.ok ? r.input : `${r.error.code}:${r.input}`}`),
          complete: () => seen.push(`${ts.now()}:complete`),
        });
    });
    // a (5 ms) and b (4 ms) start at 0; c starts when b ends (4), d when a ends (5), e when c ends (7).
    // b's result waits for a's (5); c fails at 7, d is scored at 7, e at 8, then the stream completes.
    expect(seen).toEqual(['5:1', '5:2', '7:INVALID_INPUT:3', '7:4', '8:5', '8:complete']);
    expect(maxActive).toBe(2);
  });

  it('completes a never-ending source cut by take(n) and unsubscribes from it', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable, expectSubscriptions }) => {
      const model = virtualModel(ts, { delay: () => 1 });
      const source = hot<number>('-a-b-c-d-e-f-', values);
      expectObservable(source.pipe(predict(model, options(ts, { batch: { size: 1 } })), take(2))).toBe('--x-(y|)', { x: ok(model, 1, 1), y: ok(model, 2, 1) });
      expectSubscriptions(source.subscriptions).toBe('^---!');
    });
  });

  it('keeps the records held bounded by pausing a pull-based source while the model is slow', () => {
    const ts = scheduler();
    const total = 2000;
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
    ts.run(() => {
      const model = virtualModel(ts, { delay: () => 5 });
      // A pull-based source: pushes synchronously until paused, like a file reader or a Kafka consumer.
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
      source.pipe(predict(model, options(ts, { batch: { size: 50 }, backpressure: { control, highWaterMark: 200 } }))).subscribe({
        next: () => emitted++,
        complete: () => (completed = true),
      });
    });
    expect(completed).toBe(true);
    expect(emitted).toBe(total);
    expect(pauses).toBeGreaterThan(1);
    expect(maxHeld).toBeLessThanOrEqual(200);
  });
});
