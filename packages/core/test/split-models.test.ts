/**
 * `splitModels` A/B splits with real tfjs Iris models: the split matches the weights on 10,000 keys,
 * a key never changes variant, each variant batches and calls its own model, results carry
 * `variant` and come out in input order, bad keys and bad weights get typed errors, and the RxJS
 * operator checklist.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { EMPTY, NEVER, Subject, concat, defer, from, lastValueFrom, map, of, take, throwError, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHANNELS,
  IRIS_SPECIES,
  loadIrisModel,
  predict,
  predictIris,
  predictKeras,
  readIrisDataset,
  splitModels,
  subscribe,
  type CallbackErrorMessage,
  type IrisPrediction,
  type Model,
  type ModelLifecycleMessage,
  type ModelVariant,
  type PredictResult,
} from '../src/index.js';
import { SHARED, numTensors, observe } from './support/helpers.js';
import { PERMUTED, loadIrisCopy, loadPermutedIris } from './support/iris-variants.js';

let main: Model;
let copy: Model;
let permuted: Model;
let rows: number[][];
beforeAll(async () => {
  const [a, b, c, examples] = await Promise.all([loadIrisModel(), loadIrisCopy(), loadPermutedIris(), readIrisDataset(join(SHARED, 'seed/iris.txt'))]);
  [main, copy, permuted] = [a, b, c];
  rows = examples.map((e) => [...e.features]);
});
afterAll(() => {
  main.dispose();
  copy.dispose();
  permuted.dispose();
});

interface Keyed {
  readonly user: string;
  readonly features: readonly number[];
}

const byUser = { key: (r: Keyed) => r.user };
const select = (r: Keyed) => r.features as number[];

describe('splitModels: routing', () => {
  it('splits 10,000 keys 70/20/10 within statistical tolerance (4 standard deviations), through the operator', async () => {
    const split = splitModels<Keyed>(
      [
        { name: 'a', model: main, weight: 70 },
        { name: 'b', model: copy, weight: 20 },
        { name: 'c', model: permuted, weight: 10 },
      ],
      byUser,
    );
    const records = Array.from({ length: 10_000 }, (_, i) => ({ user: `user-${i}`, features: rows[i % rows.length]! }));
    const results = await lastValueFrom(from(records).pipe(predictIris(split, { select }), toArray()));
    expect(results).toHaveLength(10_000);
    const counts = { a: 0, b: 0, c: 0 };
    for (const r of results) counts[r.variant as keyof typeof counts]++;
    for (const [name, p] of [['a', 0.7], ['b', 0.2], ['c', 0.1]] as const) {
      const sd = Math.sqrt(10_000 * p * (1 - p));
      expect(Math.abs(counts[name] - 10_000 * p), `${name}: ${counts[name]}`).toBeLessThan(4 * sd);
    }
  });

  it('a key always gets the same variant: within a run, across runs and across equal splits; the variant is SHA-256(key)’s first 48 bits in the cumulative weights', async () => {
    const variants: ModelVariant[] = [
      { name: 'control', model: main, weight: 1 },
      { name: 'candidate', model: permuted, weight: 1 },
    ];
    const split = splitModels<Keyed>(variants, byUser);
    const records = Array.from({ length: 3000 }, (_, i) => ({ user: `u${i % 300}`, features: rows[i % rows.length]! }));
    const run = () => lastValueFrom(from(records).pipe(predictIris(split, { select }), toArray()));
    const [first, second] = [await run(), await run()];
    const seen = new Map<string, string>();
    for (const r of first) {
      const user = r.input.user;
      expect(seen.get(user) ?? r.variant).toBe(r.variant);
      seen.set(user, r.variant!);
    }
    expect(seen.size).toBe(300);
    expect(second.map((r) => r.variant)).toEqual(first.map((r) => r.variant));
    const again = splitModels<Keyed>(variants.map((v) => ({ ...v })), byUser);
    const documented = (key: string) => (createHash('sha256').update(key).digest().readUIntBE(0, 6) / 2 ** 48 < 0.5 ? 0 : 1);
    for (let i = 0; i < 300; i++) {
      expect(again.variantIndexOf(`u${i}`)).toBe(split.variantIndexOf(`u${i}`));
      expect(split.variantIndexOf(`u${i}`)).toBe(documented(`u${i}`));
      expect(split.variantIndexOf(new TextEncoder().encode(`u${i}`))).toBe(documented(`u${i}`));
    }
  });

  it('a variant of weight 0 gets no record', () => {
    const split = splitModels(
      [
        { name: 'off', model: main, weight: 0 },
        { name: 'on', model: copy, weight: 3 },
        { name: 'off-too', model: permuted, weight: 0 },
      ],
      { key: (k: string) => k },
    );
    for (let i = 0; i < 2000; i++) expect(split.variantIndexOf(`k${i}`)).toBe(1);
  });
});

describe('splitModels: results', () => {
  it('each variant runs its own batches on its own model; results are in input order and say which variant answered', async () => {
    const before = numTensors();
    const a = observe(main);
    const b = observe(permuted);
    const split = splitModels<Keyed>(
      [
        { name: 'control', model: a, weight: 1 },
        { name: 'candidate', model: b, weight: 1 },
      ],
      byUser,
    );
    const records = rows.map((features, i) => ({ user: `user-${i}`, features }));
    const plain = await lastValueFrom(from(rows).pipe(predictIris(main), toArray()));
    const results = await lastValueFrom(from(records).pipe(predictIris(split, { select, batch: { size: 16, maxLatencyMs: 1 } }), toArray()));
    expect(results.map((r) => r.input)).toEqual(records);
    const control = results.filter((r) => r.variant === 'control');
    const candidate = results.filter((r) => r.variant === 'candidate');
    expect(control.length + candidate.length).toBe(150);
    expect(a.calls.reduce((x, y) => x + y, 0)).toBe(control.length);
    expect(b.calls.reduce((x, y) => x + y, 0)).toBe(candidate.length);
    expect(Math.max(...a.calls, ...b.calls)).toBeLessThanOrEqual(16);
    results.forEach((r, i) => {
      if (!r.ok) throw new Error('expected a prediction');
      const expected = (plain[i] as { value: IrisPrediction }).value.species;
      // The candidate is the model with setosa and virginica swapped.
      expect(r.value.species).toBe(r.variant === 'control' ? expected : IRIS_SPECIES[PERMUTED[IRIS_SPECIES.indexOf(expected)]!]);
      expect(r.model.name).toBe(r.variant === 'control' ? 'iris' : 'iris-permuted');
    });
    expect(numTensors()).toBe(before);
  });

  it('ordered: false emits every result (each variant as its batches finish)', async () => {
    const slow = observe(copy, { delayMs: () => 30 });
    const split = splitModels<Keyed>(
      [
        { name: 'slow', model: slow, weight: 1 },
        { name: 'fast', model: main, weight: 1 },
      ],
      byUser,
    );
    const records = rows.slice(0, 40).map((features, i) => ({ user: `user-${i}`, features }));
    const results = await lastValueFrom(from(records).pipe(predictIris(split, { select, ordered: false, batch: { size: 64, maxLatencyMs: 1 } }), toArray()));
    expect(results).toHaveLength(40);
    expect(new Set(results.map((r) => r.input))).toEqual(new Set(records));
    // The fast variant's batch finished first.
    expect(results[0]!.variant).toBe('fast');
  });

  it('a key that throws or is not a string/bytes fails that record with INVALID_INPUT (no variant); a failing variant model fails its records with the variant named', async () => {
    const broken = observe(copy, { failOnCall: () => true });
    const split = splitModels<Keyed>(
      [
        { name: 'ok', model: main, weight: 1 },
        { name: 'broken', model: broken, weight: 1 },
      ],
      {
        key: (r) => {
          if (r.user === 'throws') throw new Error('no user');
          return r.user === 'number' ? (42 as unknown as string) : r.user;
        },
      },
    );
    const records: Keyed[] = [{ user: 'throws', features: rows[0]! }, { user: 'number', features: rows[0]! }, ...rows.slice(0, 20).map((features, i) => ({ user: `user-${i}`, features }))];
    const results = await lastValueFrom(from(records).pipe(predictIris(split, { select }), toArray()));
    expect(results[0]).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: 'splitModels: key(record) threw: no user' } });
    expect(results[0]!.variant).toBeUndefined();
    expect(results[1]).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: 'splitModels: key(record) returned number, expected a string or a Uint8Array' } });
    for (const r of results.slice(2)) {
      if (r.variant === 'broken') expect(r).toMatchObject({ ok: false, error: { code: 'MODEL_ERROR' }, variant: 'broken' });
      else expect(r).toMatchObject({ ok: true, variant: 'ok' });
    }
  });

  it('works under plain predict and predictKeras too', async () => {
    const split = splitModels<Keyed>(
      [
        { name: 'a', model: main, weight: 1 },
        { name: 'b', model: copy, weight: 1 },
      ],
      byUser,
    );
    const records = rows.slice(0, 10).map((features, i) => ({ user: `user-${i}`, features }));
    const viaPredict = await lastValueFrom(
      from(records).pipe(
        predict(split, {
          select,
          encode: (xs: readonly number[][]) => ({ data: Float32Array.from(xs.flat()), shape: [xs.length, 4] }),
          decode: ([out], xs) => xs.map((_, i) => out!.data[i * 3]!),
        }),
        toArray(),
      ),
    );
    const viaKeras = await lastValueFrom(from(records).pipe(predictKeras(split, { select, outputs: 'single' }), toArray()));
    expect(viaPredict.map((r) => r.variant)).toEqual(viaKeras.map((r) => r.variant));
    viaKeras.forEach((r, i) => expect(r.ok && r.value.output[0]).toBeCloseTo((viaPredict[i] as { value: number }).value, 6));
  });
});

describe('splitModels: configuration errors (INVALID_CONFIG, at creation)', () => {
  // The table is built before beforeAll has loaded the models: `null` stands for the Iris model.
  const v = (name: string, weight: number, model: unknown = null): ModelVariant => ({ name, model: model as Model, weight });
  const withModels = (variants: readonly ModelVariant[]) => variants.map((x) => ({ ...x, model: x.model ?? main }));
  it.each([
    [[], 'splitModels: variants must be a non-empty array'],
    [[v('a', -1)], 'splitModels: variants[0].weight ("a") must be a finite number >= 0, got -1'],
    [[v('a', Number.NaN)], 'variants[0].weight ("a") must be a finite number >= 0, got NaN'],
    [[v('a', Number.POSITIVE_INFINITY)], 'got Infinity'],
    [[v('a', '1' as unknown as number)], 'variants[0].weight ("a") must be a finite number >= 0, got "1"'],
    [[v('a', 0), v('b', 0)], 'splitModels: the weights sum to 0'],
    [[v('a', 1), v('a', 1)], 'variants[1].name "a" is used by another variant'],
    [[v('', 1)], 'variants[0].name must be a non-empty string'],
    [[v('a', 1, { name: 'x' })], 'variants[0].model ("a") must be a Model'],
  ])('%# refuses %j', (variants, message) => {
    expect(() => splitModels(withModels(variants as ModelVariant[]), { key: (x: string) => x })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', message: expect.stringContaining(message) }));
  });

  it('refuses a key that is not a function', () => {
    expect(() => splitModels(withModels([v('a', 1)]), { key: 'user' as unknown as (x: string) => string })).toThrow(/splitModels: key must be a function/);
  });

  it('refuses variants of different signatures, and (family operators) a variant that does not fit the task', () => {
    const wide: Model = { ...copy, name: 'wide', outputs: [{ name: 'y', shape: [null, 5], dtype: 'float32' }] };
    const split = splitModels<number[]>(withModels([v('a', 1), { name: 'wide', model: wide, weight: 1 }]), { key: (x) => String(x) });
    expect(() => predict(split, { encode: () => ({ data: new Float32Array(), shape: [0, 4] }), decode: () => [] })).toThrow(
      /predict: splitModels variant model 'wide' does not match the first variant's signature: output 0 \(y\) has shape \[\?, 5\]/,
    );
    expect(() => predictIris(split)).toThrow(/predictIris: model 'wide' does not fit/);
  });
});

describe('splitModels: RxJS operator checklist', () => {
  const split = () =>
    splitModels<number[]>(
      [
        { name: 'a', model: main, weight: 1 },
        { name: 'b', model: copy, weight: 1 },
      ],
      { key: (x) => x.join(',') },
    );

  it('empty: completes with nothing', async () => {
    expect(await lastValueFrom(EMPTY.pipe(predictIris(split()), toArray()))).toEqual([]);
  });

  it('one: one result with its variant', async () => {
    const [r] = await lastValueFrom(of(rows[0]!).pipe(predictIris(split()), toArray()));
    expect(r).toMatchObject({ ok: true, variant: expect.stringMatching(/^[ab]$/) });
  });

  it('error: the results before the error, then the error', async () => {
    const seen: PredictResult<number[], IrisPrediction>[] = [];
    const error = await new Promise((resolve) => {
      concat(from(rows.slice(0, 5)), throwError(() => new Error('source broke')))
        .pipe(predictIris(split()))
        .subscribe({ next: (r) => seen.push(r), error: resolve });
    });
    expect((error as Error).message).toBe('source broke');
  });

  it('never-ending: results flow without completion; unsubscribe ends both variants; tensors back to baseline', async () => {
    const before = numTensors();
    const seen: unknown[] = [];
    const sub = concat(from(rows.slice(0, 20)), NEVER)
      .pipe(predictIris(split()))
      .subscribe((r) => seen.push(r));
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toHaveLength(20);
    expect(sub.closed).toBe(false);
    sub.unsubscribe();
    expect(numTensors()).toBe(before);
  });

  it('early unsubscribe (take): no more model calls after it', async () => {
    const a = observe(main, { delayMs: () => 10 });
    const b = observe(copy, { delayMs: () => 10 });
    const s = splitModels<number[]>(
      [
        { name: 'a', model: a, weight: 1 },
        { name: 'b', model: b, weight: 1 },
      ],
      { key: (x) => x.join(',') },
    );
    const source = new Subject<number[]>();
    const got = lastValueFrom(source.pipe(predictIris(s, { batch: { size: 4, maxLatencyMs: 1 } }), take(2), toArray()));
    for (const row of rows.slice(0, 8)) source.next(row);
    expect(await got).toHaveLength(2);
    const calls = a.calls.length + b.calls.length;
    for (const row of rows.slice(8, 40)) source.next(row);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.calls.length + b.calls.length).toBe(calls);
  });

  it('callback throws (onBatch, under every variant): the results are unchanged', async () => {
    const errors: CallbackErrorMessage[] = [];
    const stop = subscribe(CHANNELS.callbackError, (m) => errors.push(m));
    try {
      const expected = await lastValueFrom(from(rows.slice(0, 30)).pipe(predictIris(split()), map((r) => [r.variant, r.ok && r.value.species]), toArray()));
      const got = await lastValueFrom(
        from(rows.slice(0, 30)).pipe(
          predictIris(split(), {
            onBatch: () => {
              throw new Error('onBatch threw');
            },
          }),
          map((r) => [r.variant, r.ok && r.value.species]),
          toArray(),
        ),
      );
      expect(got).toEqual(expected);
      expect(errors.filter((e) => e.callback === 'onBatch').length).toBeGreaterThanOrEqual(2);
    } finally {
      stop();
    }
  });

  it('backpressure counts the records held across variants: pauses at the high-water mark and resumes', async () => {
    const events: string[] = [];
    const slow = observe(main, { delayMs: () => 20 });
    const s = splitModels<number[]>(
      [
        { name: 'a', model: slow, weight: 1 },
        { name: 'b', model: copy, weight: 1 },
      ],
      { key: (x) => x.join(',') },
    );
    const results = await lastValueFrom(
      from(rows).pipe(
        predictIris(s, { batch: { size: 8, maxLatencyMs: 1 }, backpressure: { control: { pause: () => events.push('pause'), resume: () => events.push('resume') }, highWaterMark: 20, lowWaterMark: 5 } }),
        toArray(),
      ),
    );
    expect(results).toHaveLength(150);
    expect(events[0]).toBe('pause');
    expect(events).toContain('resume');
  });
});

describe('splitModels: model sources (Observable<Model>) as variants', () => {
  it('a variant given as an Observable<Model> is owned by the operator: it answers once loaded, its events name <operator>:<variant>, and it is disposed at the end', async () => {
    const before = numTensors();
    const events: ModelLifecycleMessage[] = [];
    const stop = subscribe(CHANNELS.modelLifecycle, (m) => events.push(m));
    try {
      const split = splitModels<Keyed>(
        [
          { name: 'control', model: main, weight: 1 },
          { name: 'candidate', model: defer(() => loadPermutedIris('iris-candidate')), weight: 1 },
        ],
        byUser,
      );
      const records = rows.map((features, i) => ({ user: `user-${i}`, features }));
      const results = await lastValueFrom(from(records).pipe(predictIris(split, { select }), toArray()));
      expect(results.every((r) => r.ok)).toBe(true);
      const candidate = results.filter((r) => r.variant === 'candidate');
      expect(candidate.length).toBeGreaterThan(40);
      expect(candidate.every((r) => r.ok && r.model.name === 'iris-candidate')).toBe(true);
      expect(events.filter((e) => e.operator === 'predictIris:candidate').map((e) => e.type)).toContain('released');
      expect(numTensors()).toBe(before);
    } finally {
      stop();
    }
  });
});
