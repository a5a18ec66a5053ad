/**
 * The `shadow` option with real tfjs Iris models: a known pair (the shipped model, a copy of it,
 * and a copy whose setosa/virginica outputs are swapped — so every agreement number is known from
 * the main model's own answers), the bounded queue and drop counter with a 10× slower shadow, the
 * comparison channel and side stream, and the RxJS operator checklist.
 */
import { join } from 'node:path';
import { EMPTY, NEVER, Observable, Subject, concat, defer, from, lastValueFrom, map, of, take, throwError, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CHANNELS,
  IRIS_SPECIES,
  loadIrisModel,
  predict,
  predictIris,
  readIrisDataset,
  splitModels,
  subscribe,
  type CallbackErrorMessage,
  type IrisExample,
  type IrisPrediction,
  type Model,
  type ModelLifecycleMessage,
  type PredictResult,
  type ShadowComparison,
  type ShadowComparisonMessage,
  type ShadowOptions,
} from '../src/index.js';
import { SHARED, numTensors, observe } from './support/helpers.js';
import { PERMUTED, loadIrisCopy, loadPermutedIris } from './support/iris-variants.js';

let main: Model;
let copy: Model;
let permuted: Model;
let examples: IrisExample[];
let rows: number[][];
beforeAll(async () => {
  [main, copy, permuted, examples] = await Promise.all([loadIrisModel(), loadIrisCopy(), loadPermutedIris(), readIrisDataset(join(SHARED, 'seed/iris.txt'))]);
  rows = examples.map((e) => [...e.features]);
});
afterAll(() => {
  main.dispose();
  copy.dispose();
  permuted.dispose();
});

type Comparison = ShadowComparison<number[], IrisPrediction>;

/** Runs `predictIris(main)` with a shadow and collects the main output and every comparison. */
async function runShadowed(
  source: Observable<number[]>,
  shadow: Omit<ShadowOptions<number[], IrisPrediction>, 'onComparison'>,
  extra: { batch?: { size: number; maxLatencyMs: number } } = {},
): Promise<{ results: PredictResult<number[], IrisPrediction>[]; comparisons: Comparison[] }> {
  const comparisons: Comparison[] = [];
  const results = await lastValueFrom(source.pipe(predictIris(main, { ...extra, shadow: { ...shadow, onComparison: (c) => comparisons.push(c) } }), toArray()));
  return { results, comparisons };
}

function listen(): { messages: ShadowComparisonMessage[]; stop: () => void } {
  const messages: ShadowComparisonMessage[] = [];
  const stop = subscribe(CHANNELS.shadowComparison, (m) => messages.push(m));
  return { messages, stop };
}

describe('shadow: agreement on a known pair of real models', () => {
  it('a model against a copy of itself agrees on all 150 Iris records with difference 0, and the main output is what it is without a shadow', async () => {
    const before = numTensors();
    const plain = await lastValueFrom(from(rows).pipe(predictIris(main), toArray()));
    const { results, comparisons } = await runShadowed(from(rows), { model: copy });
    expect(results).toEqual(plain.map((r) => ({ ...r, latencyMs: expect.any(Number) })));
    expect(comparisons).toHaveLength(150);
    expect(comparisons.filter((c) => c.value.agree)).toHaveLength(150);
    expect(comparisons.every((c) => c.value.difference === 0)).toBe(true);
    expect(comparisons.map((c) => c.input)).toEqual(rows);
    expect(comparisons[0]).toMatchObject({
      ok: true,
      model: { name: 'iris-copy', version: copy.version },
      value: { main: { model: 'iris', version: main.version, ok: true }, shadow: { model: 'iris-copy', ok: true }, dropped: 0 },
    });
    expect(numTensors()).toBe(before);
  });

  it('against the model with setosa and virginica swapped: agrees exactly on the records the main model calls versicolor; difference = |p(setosa) − p(virginica)|', async () => {
    const { messages, stop } = listen();
    try {
      const { results, comparisons } = await runShadowed(from(rows), { model: permuted });
      const mainValues = results.map((r) => (r.ok ? r.value : undefined));
      const versicolor = mainValues.filter((v) => v?.species === 'versicolor').length;
      // The shipped model is accurate on the seed set: about a third of the records are versicolor.
      expect(versicolor).toBeGreaterThan(40);
      expect(versicolor).toBeLessThan(60);
      expect(comparisons).toHaveLength(150);
      expect(comparisons.filter((c) => c.value.agree)).toHaveLength(versicolor);
      comparisons.forEach((c, i) => {
        const m = mainValues[i]!;
        const s = c.value.shadow.value!;
        expect(s.species).toBe(IRIS_SPECIES[PERMUTED[IRIS_SPECIES.indexOf(m.species)]!]);
        expect(c.value.agree).toBe(m.species === 'versicolor');
        expect(c.value.difference).toBeCloseTo(Math.abs(m.probabilities.setosa - m.probabilities.virginica), 5);
      });
      const compared = messages.filter((m) => m.type === 'compared');
      expect(compared).toHaveLength(150);
      expect(compared.filter((m) => m.agree === true)).toHaveLength(versicolor);
      expect(compared[0]).toMatchObject({ model: 'iris', version: main.version, shadowModel: 'iris-permuted', shadowVersion: permuted.version });
      expect(messages.filter((m) => m.type === 'dropped')).toEqual([]);
    } finally {
      stop();
    }
  });

  it('plain predict compares with deep equality and the max |Δ| of the numbers by default', async () => {
    const comparisons: ShadowComparison<number[], number[]>[] = [];
    const encode = (xs: readonly number[][]) => ({ data: Float32Array.from(xs.flat()), shape: [xs.length, 4] });
    const decode = ([out]: readonly { data: Float32Array | Int32Array }[], xs: readonly number[][]) => xs.map((_, i) => Array.from(out!.data.subarray(i * 3, i * 3 + 3)));
    await lastValueFrom(from(rows.slice(0, 10)).pipe(predict(main, { encode, decode, shadow: { model: permuted, onComparison: (c) => comparisons.push(c) } }), toArray()));
    expect(comparisons).toHaveLength(10);
    for (const c of comparisons) {
      const m = c.value.main.value!;
      expect(c.value.agree).toBe(false);
      expect(c.value.difference).toBeCloseTo(Math.abs(m[0]! - m[2]!), 5);
    }
  });
});

// The queue-bound tests set maxEventLoopShare 1: the event-loop budget (wall-clock, tested on its own
// below) would otherwise drop blocks too, depending on how fast this machine runs the shadow.
describe('shadow: bounded queue, drop counter', () => {
  it('a 10× slower shadow gets at most maxQueued records at a time; the rest are dropped and counted; compared + dropped = records', async () => {
    const { messages, stop } = listen();
    try {
      const slow = observe(copy, { delayMs: () => 30 });
      const fast = observe(main);
      const n = 2000;
      const input = Array.from({ length: n }, (_, i) => rows[i % rows.length]!);
      const comparisons: Comparison[] = [];
      const started = performance.now();
      const results = await lastValueFrom(
        from(input).pipe(
          predictIris(fast, { batch: { size: 64, maxLatencyMs: 1 }, shadow: { model: slow, maxQueued: 100, maxEventLoopShare: 1, onComparison: (c) => comparisons.push(c) } }),
          toArray(),
        ),
      );
      expect(results).toHaveLength(n);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(results.map((r) => r.input)).toEqual(input);
      // The burst is selected synchronously: the first 100 records fill the queue, the other 1900 are dropped.
      expect(comparisons).toHaveLength(100);
      const dropped = messages.filter((m) => m.type === 'dropped').reduce((sum, m) => sum + m.count!, 0);
      expect(dropped).toBe(1900);
      expect(comparisons.at(-1)!.value.dropped).toBe(1900);
      expect(slow.calls.reduce((a, b) => a + b, 0)).toBe(100);
      expect(Math.max(...slow.calls)).toBeLessThanOrEqual(64);
      expect(fast.calls.reduce((a, b) => a + b, 0)).toBe(n);
      expect(performance.now() - started).toBeGreaterThan(0);
    } finally {
      stop();
    }
  });

  it('a record dropped for the shadow costs the main path no clock read: the event-loop budget is asked once per batch.size records', async () => {
    const n = 3000;
    const input = Array.from({ length: n }, (_, i) => rows[i % rows.length]!);
    // Blocks this thread 20 ms per call without reading the clock: one call spends the budget for the whole run.
    const blocking: Model = {
      ...copy,
      name: 'blocking',
      run(inputs) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        return copy.run(inputs);
      },
    };
    const clockReads = async (shadow?: Omit<ShadowOptions<number[], IrisPrediction>, 'onComparison'>): Promise<{ reads: number; comparisons: number }> => {
      let comparisons = 0;
      const now = vi.spyOn(performance, 'now');
      try {
        const options = { batch: { size: 100, maxLatencyMs: 1 }, ...(shadow === undefined ? {} : { shadow: { ...shadow, onComparison: () => comparisons++ } }) };
        const results = await lastValueFrom(from(input).pipe(predictIris(main, options), toArray()));
        expect(results.filter((r) => r.ok)).toHaveLength(n);
        return { reads: now.mock.calls.length, comparisons };
      } finally {
        now.mockRestore();
      }
    };
    const { messages, stop } = listen();
    try {
      const plain = await clockReads();
      const shadowed = await clockReads({ model: blocking, maxEventLoopShare: 0.01 });
      const dropped = messages.filter((m) => m.type === 'dropped').reduce((sum, m) => sum + m.count!, 0);
      // The first block of 100 is admitted (the bucket starts empty, not in debt); its call puts the
      // bucket 20 ms in debt, which takes 2 s to refill at 1 %: every later block is dropped whole.
      expect(shadowed.comparisons).toBe(100);
      expect(dropped).toBe(n - 100);
      // The 2,900 dropped records add no clock read (one per record would be 2,900 more): the shadow
      // adds one read per block of 100 records entering, a few per record it compares (its own
      // engine's entry time, the comparison's meter) and two per metered stretch.
      expect(shadowed.reads - plain.reads).toBeLessThanOrEqual(n / 100 + 4 * shadowed.comparisons + 10);
    } finally {
      stop();
    }
  });

  it('records arriving over time: the queue refills as the shadow catches up, and compared + dropped = records', async () => {
    const { messages, stop } = listen();
    try {
      const slow = observe(copy, { delayMs: () => 20 });
      const comparisons: Comparison[] = [];
      const source = new Subject<number[]>();
      const done = lastValueFrom(
        source.pipe(predictIris(main, { batch: { size: 8, maxLatencyMs: 1 }, shadow: { model: slow, maxQueued: 16, maxEventLoopShare: 1, onComparison: (c) => comparisons.push(c) } }), toArray()),
      );
      for (let burst = 0; burst < 6; burst++) {
        for (let i = 0; i < 40; i++) source.next(rows[i]!);
        await new Promise((r) => setTimeout(r, 60));
      }
      source.complete();
      const results = await done;
      expect(results).toHaveLength(240);
      const dropped = messages.filter((m) => m.type === 'dropped').reduce((sum, m) => sum + m.count!, 0);
      expect(comparisons.length + dropped).toBe(240);
      // More than one queue's worth: the queue emptied and refilled between bursts.
      expect(comparisons.length).toBeGreaterThan(16);
      expect(comparisons.every((c) => c.value.agree)).toBe(true);
    } finally {
      stop();
    }
  });

  it('a shadow that computes on this thread gets at most maxEventLoopShare of the time: calls that block 10 ms each, share 0.1', async () => {
    const blockingCalls: number[] = [];
    const busy: Model = {
      ...copy,
      name: 'busy',
      run(inputs) {
        const until = performance.now() + 10;
        while (performance.now() < until) {
          // blocks the event loop like a model 10× the size computing synchronously
        }
        blockingCalls.push(inputs[0]!.shape[0]!);
        return copy.run(inputs);
      },
    };
    const ticks = 40;
    const started = performance.now();
    const source = new Observable<number[]>((subscriber) => {
      let tick = 0;
      const timer = setInterval(() => {
        for (let i = 0; i < 10; i++) subscriber.next(rows[(tick * 10 + i) % rows.length]!);
        if (++tick === ticks) {
          clearInterval(timer);
          subscriber.complete();
        }
      }, 10);
      return () => clearInterval(timer);
    });
    const { results, comparisons } = await runShadowed(source, { model: busy, maxEventLoopShare: 0.1 }, { batch: { size: 8, maxLatencyMs: 1 } });
    const wall = performance.now() - started;
    expect(results.filter((r) => r.ok)).toHaveLength(ticks * 10);
    // Blocking allowed: 10 % of the wall time plus the bucket's 10 ms, plus the one call that empties it.
    expect(blockingCalls.length * 10).toBeLessThanOrEqual(0.1 * wall + 10 + 10);
    expect(comparisons.length).toBeGreaterThan(0);
    expect(comparisons.at(-1)!.value.dropped).toBeGreaterThan(0);
  });

  it('a shadow that never answers delays neither the results nor, beyond drainTimeoutMs, the completion; its queue counts as dropped', async () => {
    const { messages, stop } = listen();
    try {
      const hung: Model = { ...copy, name: 'hung', run: () => new Promise(() => {}) };
      const started = performance.now();
      const { results, comparisons } = await runShadowed(from(rows.slice(0, 20)), { model: hung, maxQueued: 5, drainTimeoutMs: 50 });
      expect(results.filter((r) => r.ok)).toHaveLength(20);
      expect(comparisons).toEqual([]);
      expect(messages.filter((m) => m.type === 'dropped').reduce((sum, m) => sum + m.count!, 0)).toBe(20);
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      stop();
    }
  });

  it('a failing shadow model gives comparisons that disagree with its error code; the main results are untouched', async () => {
    const failing = observe(copy, { failOnCall: () => true });
    const { results, comparisons } = await runShadowed(from(rows.slice(0, 5)), { model: failing });
    expect(results.every((r) => r.ok)).toBe(true);
    expect(comparisons).toHaveLength(5);
    expect(comparisons.every((c) => !c.value.agree && c.value.shadow.ok === false && c.value.shadow.code === 'MODEL_ERROR' && c.value.difference === undefined)).toBe(true);
  });
});

describe('shadow: side stream (for toKafka)', () => {
  it('comparisons go to an Observer as PredictSuccess-shaped records (value = verdict, model = the shadow), completed when the operator completes', async () => {
    const side = new Subject<Comparison>();
    const collected = lastValueFrom(side.pipe(toArray()));
    await lastValueFrom(from(rows.slice(0, 30)).pipe(predictIris(main, { shadow: { model: permuted, comparisons: side } }), toArray()));
    const got = await collected;
    expect(got).toHaveLength(30);
    expect(got.every((c) => c.ok && c.model.name === 'iris-permuted' && typeof c.value.agree === 'boolean' && c.latencyMs >= 0)).toBe(true);
    expect(JSON.parse(JSON.stringify(got[0]!.value))).toMatchObject({ main: { model: 'iris' }, shadow: { model: 'iris-permuted' }, dropped: 0 });
  });
});

describe('shadow: options are checked at creation', () => {
  it.each([
    [{ model: {} }, 'shadow.model must be a Model'],
    [{ maxQueued: 0 }, 'shadow.maxQueued must be a positive integer, got 0'],
    [{ maxQueued: 1.5 }, 'shadow.maxQueued must be a positive integer, got 1.5'],
    [{ drainTimeoutMs: -1 }, 'shadow.drainTimeoutMs must be a finite number of ms >= 0, got -1'],
    [{ maxEventLoopShare: 0 }, 'shadow.maxEventLoopShare must be a number > 0 and <= 1, got 0'],
    [{ maxEventLoopShare: 1.5 }, 'shadow.maxEventLoopShare must be a number > 0 and <= 1, got 1.5'],
    [{ compare: 'yes' }, 'shadow.compare must be a function'],
    [{ onComparison: 3 }, 'shadow.onComparison must be a function'],
  ])('%j → INVALID_CONFIG (%s)', (bad, message) => {
    const shadow = { model: copy, ...bad } as unknown as ShadowOptions<number[], IrisPrediction>;
    expect(() => predictIris(main, { shadow })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining(message) }));
  });

  it('refuses a shadow model with another signature (INVALID_CONFIG naming both)', () => {
    const wide: Model = { ...copy, name: 'wide', outputs: [{ name: 'y', shape: [null, 5], dtype: 'float32' }] };
    expect(() => predictIris(main, { shadow: { model: wide } })).toThrow(/predictIris: model 'wide' does not fit/);
    expect(() => predict(main, { encode: () => ({ data: new Float32Array(), shape: [0, 4] }), decode: () => [], shadow: { model: wide } })).toThrow(
      /predict: shadow model 'wide' does not match the signature of 'iris': output 0 \(y\) has shape \[\?, 5\]/,
    );
  });
});

describe('shadow: RxJS operator checklist', () => {
  const op = (extra: Partial<ShadowOptions<number[], IrisPrediction>> = {}) => predictIris<number[]>(main, { shadow: { model: copy, ...extra } });

  it('empty: completes at once, no comparison, the side stream completes', async () => {
    const side = new Subject<Comparison>();
    const sideDone = lastValueFrom(side.pipe(toArray()));
    expect(await lastValueFrom(EMPTY.pipe(op({ comparisons: side }), toArray()))).toEqual([]);
    expect(await sideDone).toEqual([]);
  });

  it('one: one result, one comparison', async () => {
    const { results, comparisons } = await runShadowed(of(rows[0]!), { model: copy });
    expect(results).toHaveLength(1);
    expect(comparisons).toHaveLength(1);
  });

  it('error: the source error reaches the output after the results before it; the side stream completes', async () => {
    const side = new Subject<Comparison>();
    const sideDone = lastValueFrom(side.pipe(toArray()));
    const seen: PredictResult<number[], IrisPrediction>[] = [];
    const error = await new Promise((resolve) => {
      concat(from(rows.slice(0, 3)), throwError(() => new Error('source broke')))
        .pipe(op({ comparisons: side }))
        .subscribe({ next: (r) => seen.push(r), error: resolve });
    });
    expect((error as Error).message).toBe('source broke');
    expect(await sideDone).toBeInstanceOf(Array);
  });

  it('never-ending: results flow, comparisons flow, no completion; unsubscribe ends it and tensors are back to baseline', async () => {
    const before = numTensors();
    const comparisons: Comparison[] = [];
    const results: unknown[] = [];
    const sub = concat(from(rows.slice(0, 10)), NEVER)
      .pipe(op({ onComparison: (c) => comparisons.push(c) }))
      .subscribe((r) => results.push(r));
    await new Promise((r) => setTimeout(r, 200));
    expect(results).toHaveLength(10);
    expect(comparisons).toHaveLength(10);
    expect(sub.closed).toBe(false);
    sub.unsubscribe();
    expect(numTensors()).toBe(before);
  });

  it('early unsubscribe (take): stops the shadow too; no comparison after it; tensors back to baseline', async () => {
    const before = numTensors();
    const slow = observe(copy, { delayMs: () => 20 });
    const comparisons: Comparison[] = [];
    const got = await lastValueFrom(from(rows).pipe(predictIris(main, { batch: { size: 16, maxLatencyMs: 1 }, shadow: { model: slow, onComparison: (c) => comparisons.push(c) } }), take(3), toArray()));
    expect(got).toHaveLength(3);
    const after = comparisons.length;
    await new Promise((r) => setTimeout(r, 100));
    expect(comparisons.length).toBe(after);
    expect(numTensors()).toBe(before);
  });

  it('callback throws (onComparison, comparisons.next, compare): main results unchanged, each reported on rxml:callback:error', async () => {
    const errors: CallbackErrorMessage[] = [];
    const stop = subscribe(CHANNELS.callbackError, (m) => errors.push(m));
    try {
      const plain = await lastValueFrom(from(rows.slice(0, 4)).pipe(predictIris(main), map((r) => r.ok && r.value), toArray()));
      const shadowed = await lastValueFrom(
        from(rows.slice(0, 4)).pipe(
          predictIris(main, {
            shadow: {
              model: copy,
              onComparison: () => {
                throw new Error('onComparison threw');
              },
              comparisons: { next: () => Promise.reject(new Error('next rejected')) as unknown as void },
            },
          }),
          map((r) => r.ok && r.value),
          toArray(),
        ),
      );
      expect(shadowed).toEqual(plain);
      const withCompare = await lastValueFrom(
        from(rows.slice(0, 4)).pipe(
          predictIris(main, {
            shadow: {
              model: copy,
              compare: () => {
                throw new Error('compare threw');
              },
            },
          }),
          map((r) => r.ok && r.value),
          toArray(),
        ),
      );
      expect(withCompare).toEqual(plain);
      await new Promise((r) => setTimeout(r, 0));
      const by = (label: string) => errors.filter((e) => e.callback === label).length;
      expect(by('shadow.onComparison')).toBe(4);
      expect(by('shadow.comparisons.next')).toBe(4);
      expect(by('shadow.compare')).toBe(4);
    } finally {
      stop();
    }
  });
});

describe('shadow: a model source (Observable<Model>) as the shadow', () => {
  it('the operator owns the shadow versions it receives: comparisons carry the version, events name the operator <name>:shadow, and the version is disposed at the end', async () => {
    const before = numTensors();
    const events: ModelLifecycleMessage[] = [];
    const stop = subscribe(CHANNELS.modelLifecycle, (m) => events.push(m));
    try {
      const { results, comparisons } = await runShadowed(from(rows), { model: defer(() => loadPermutedIris('iris-candidate')) });
      expect(results.filter((r) => r.ok)).toHaveLength(150);
      expect(comparisons).toHaveLength(150);
      expect(comparisons.every((c) => c.model.name === 'iris-candidate' && c.value.shadow.model === 'iris-candidate')).toBe(true);
      expect(comparisons.filter((c) => c.value.agree).length).toBe(results.filter((r) => r.ok && r.value.species === 'versicolor').length);
      expect(events.filter((e) => e.operator === 'predictIris:shadow').map((e) => e.type)).toContain('released');
      expect(numTensors()).toBe(before);
    } finally {
      stop();
    }
  });

  it('a shadow source that fails before its first model stops the shadow (a failed event) and the main path goes on', async () => {
    const { messages, stop } = listen();
    try {
      const { results, comparisons } = await runShadowed(from(rows.slice(0, 20)), { model: throwError(() => new Error('no such model')) });
      expect(results.filter((r) => r.ok)).toHaveLength(20);
      expect(comparisons).toEqual([]);
      const failed = messages.find((m) => m.type === 'failed');
      expect(failed?.error?.code).toBe('MODEL_LOAD_ERROR');
      expect(failed?.error?.message).toContain('no such model');
    } finally {
      stop();
    }
  });
});

describe('shadow over an A/B split', () => {
  it('each comparison names the variant that answered on the main side; the shadow is compared with whichever variant it was', async () => {
    const split = splitModels<number[]>(
      [
        { name: 'control', model: main, weight: 1 },
        { name: 'swapped', model: permuted, weight: 1 },
      ],
      { key: (x) => x.join(',') },
    );
    const comparisons: Comparison[] = [];
    const results = await lastValueFrom(from(rows).pipe(predictIris(split, { shadow: { model: copy, onComparison: (c) => comparisons.push(c) } }), toArray()));
    expect(results.map((r) => r.input)).toEqual(rows);
    expect(comparisons).toHaveLength(150);
    const variantOf = new Map(results.map((r) => [r.input, r.variant]));
    for (const c of comparisons) {
      expect(c.value.variant).toBe(variantOf.get(c.input));
      // The copy agrees with the control everywhere; with the swapped variant only on versicolor.
      // The split's batches are not the shadow's, and native TensorFlow (oneDNN) rounds a row
      // differently in batches of other sizes: same weights, differences of float32 rounding only.
      if (c.value.variant === 'control') {
        expect(c.value.agree).toBe(true);
        expect(c.value.difference).toBeLessThan(1e-6);
      }
      else expect(c.value.agree).toBe(c.value.shadow.value!.species === 'versicolor');
    }
    expect(new Set(comparisons.map((c) => c.value.variant))).toEqual(new Set(['control', 'swapped']));
  });
});
