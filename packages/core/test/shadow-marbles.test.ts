/**
 * The shadow and the split in virtual time (RxJS TestScheduler marbles, in-test models from
 * support/virtual-time.ts — the timing of the engine only; real models are in shadow.test.ts and
 * split-models.test.ts): a 10× slower shadow does not move a single main result by one frame, its
 * queue bound drops exactly the records that find it full, and the output completes once the
 * shadow has drained.
 */
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { predict, splitModels, type PredictOptions, type ShadowComparison } from '../src/index.js';
import { decodeNumbers, encodeNumbers, virtualModel } from './support/virtual-time.js';

const values = { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8 };

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

function options(ts: TestScheduler, extra: Partial<PredictOptions<number, number, number>> = {}): PredictOptions<number, number, number> {
  return { encode: encodeNumbers, decode: decodeNumbers, scheduler: ts, batch: { size: 1, maxLatencyMs: 0 }, ...extra };
}

describe('shadow in virtual time', () => {
  it('a shadow 10× slower than the main model: the main results leave at the same frames as without it; records finding the queue full are dropped', () => {
    const source = '-a-b-c-d-e-f-g-h|';
    const withoutShadow: unknown[] = [];
    const plain = scheduler();
    plain.run(({ cold }) => {
      const model = virtualModel(plain, { delay: () => 1 });
      cold<number>(source, values)
        .pipe(predict(model, options(plain)))
        .subscribe({ next: (r) => withoutShadow.push([plain.now(), r]), complete: () => withoutShadow.push([plain.now(), 'complete']) });
    });

    const ts = scheduler();
    const comparisons: ShadowComparison<number, number>[] = [];
    const events: unknown[] = [];
    ts.run(({ cold }) => {
      const model = virtualModel(ts, { delay: () => 1 });
      const shadow = { ...virtualModel(ts, { delay: () => 10 }), name: 'slow' };
      cold<number>(source, values)
        .pipe(predict(model, options(ts, { shadow: { model: shadow, maxQueued: 2, maxEventLoopShare: 1, onComparison: (c) => comparisons.push(c) } })))
        .subscribe({ next: (r) => events.push([ts.now(), r]), complete: () => events.push([ts.now(), 'complete']) });
    });
    // (maxEventLoopShare 1: the event-loop budget runs on the wall clock, not in virtual time; the queue bound is what is tested here.)
    // Same results at the same frames; only the completion waits for the shadow's last record.
    expect(events.slice(0, -1)).toEqual(withoutShadow.slice(0, -1));
    // Records enter at 1, 3, …, 15; the shadow (one call at a time, 10 ms each, queue of 2) takes
    // a at 1 (done 11) and queues b at 3; c, d, e find the queue full; f enters at 11 just before a's
    // shadow call settles (the source's emission was scheduled first), so it is dropped too; a is
    // compared at 11 and b starts (done 21); g is queued at 13; h (15) finds it full. b is compared
    // at 21, g runs 21–31 and is compared at 31, when the output completes.
    expect(comparisons.map((c) => c.input)).toEqual([1, 2, 7]);
    expect(comparisons.map((c) => c.value.dropped)).toEqual([4, 5, 5]);
    expect(comparisons.every((c) => c.value.agree && c.value.difference === 0)).toBe(true);
    expect(comparisons.map((c) => c.latencyMs)).toEqual([10, 18, 18]);
    expect(events.at(-1)).toEqual([31, 'complete']);
    expect(withoutShadow.at(-1)).toEqual([16, 'complete']);
  });

  it('under a split, each variant batches on its own and the output keeps input order', () => {
    const ts = scheduler();
    const events: unknown[] = [];
    let routes: string[] = [];
    ts.run(({ cold }) => {
      const fast = virtualModel(ts, { delay: () => 1 });
      const slow = { ...virtualModel(ts, { delay: () => 5 }), name: 'slow' };
      const split = splitModels<number>(
        [
          { name: 'fast', model: fast, weight: 1 },
          { name: 'slow', model: slow, weight: 1 },
        ],
        { key: (x) => `key-${x}` },
      );
      routes = [1, 2, 3, 4].map((x) => split.variants[split.variantIndexOf(`key-${x}`)]!.name);
      cold<number>('-a-b-c-d|', values)
        .pipe(predict(split, options(ts)))
        .subscribe({ next: (r) => events.push([ts.now(), r.input, r.variant]), complete: () => events.push([ts.now(), 'complete']) });
    });
    // Record i enters at 1 + 2i; its variant runs one call at a time (batch size 1), 1 ms (fast) or
    // 5 ms (slow); the record leaves once it and every record before it are done.
    const free: Record<string, number> = { fast: 0, slow: 0 };
    let ready = 0;
    const expected: unknown[] = routes.map((route, i) => {
      free[route] = Math.max(1 + 2 * i, free[route]!) + (route === 'fast' ? 1 : 5);
      ready = Math.max(ready, free[route]!);
      return [ready, i + 1, route];
    });
    expected.push([Math.max(ready, 8), 'complete']);
    expect(new Set(routes)).toEqual(new Set(['fast', 'slow']));
    expect(events).toEqual(expected);
  });
});
