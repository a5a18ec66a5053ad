import { EMPTY, from, lastValueFrom, of, throwError, toArray, concat, type Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failures, loadIrisModel, predict, values, withRun, type Model, type PredictResult, type TensorData } from '../src/index.js';
import { numTensors, observe } from './support/helpers.js';

let iris: Model;
beforeAll(async () => {
  iris = await loadIrisModel();
});
afterAll(() => iris.dispose());

type Row = readonly number[];
const encode = (rows: readonly Row[]): TensorData => ({ data: Float32Array.from(rows.flat()), shape: [rows.length, 4] });
const decode = ([out]: readonly TensorData[], rows: readonly Row[]) => rows.map((_, i) => Array.from(out!.data.subarray(i * 3, i * 3 + 3)));
const row = (i: number): Row => [4 + (i % 4), 3, 1 + (i % 5), 0.2 + (i % 3)];

function run<In>(source: Observable<In>, op: (s: Observable<In>) => Observable<PredictResult<In, number[]>>) {
  return lastValueFrom(source.pipe(op, toArray()));
}

// Timing (latency flush, ordering under concurrency, completion, never-ending sources, early
// unsubscribe, backpressure) is tested in virtual time in predict-marbles.test.ts.
describe('predict on a real model (Iris, tfjs)', () => {
  it('completes without calling the model for an empty stream', async () => {
    const model = observe(iris);
    expect(await run(EMPTY, predict(model, { encode, decode }))).toEqual([]);
    expect(model.calls).toEqual([]);
  });

  it('scores one record and reports the model identity and latency', async () => {
    const [result] = await run(of(row(0)), predict(iris, { encode, decode }));
    expect(result?.ok).toBe(true);
    if (result?.ok !== true) return;
    expect(result.input).toEqual(row(0));
    expect(result.value).toHaveLength(3);
    expect(result.value.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(result.model).toEqual({ name: iris.name, version: iris.version });
    expect(result.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('makes exactly one model call for a batch of N records', async () => {
    const model = observe(iris);
    const results = await run(from(Array.from({ length: 100 }, (_, i) => row(i))), predict(model, { encode, decode, batch: { size: 100, maxLatencyMs: 1000 } }));
    expect(results).toHaveLength(100);
    expect(model.calls).toEqual([100]);
  });

  it('splits many records into batches of at most `size` and keeps input order', async () => {
    const model = observe(iris);
    const rows = Array.from({ length: 1000 }, (_, i) => row(i));
    const results = await run(from(rows), predict(model, { encode, decode, batch: { size: 64 } }));
    expect(results.map((r) => r.input)).toEqual(rows);
    expect(Math.max(...model.calls)).toBeLessThanOrEqual(64);
    expect(model.calls.reduce((a, b) => a + b, 0)).toBe(1000);
  });

  it('fails only the record whose select throws; the others are scored', async () => {
    const results = await run(
      from([1, 2, 3]),
      predict(iris, {
        select: (i: number) => {
          if (i === 2) throw new Error('bad record');
          return row(i);
        },
        encode,
        decode,
      }),
    );
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    const failure = results[1];
    expect(failure?.ok === false && failure.error.code).toBe('INVALID_INPUT');
    expect(failure?.ok === false && failure.error.message).toContain('bad record');
  });

  it('isolates the record whose encode fails inside a batch', async () => {
    const strictEncode = (rows: readonly Row[]): TensorData => {
      if (rows.some((r) => r.length !== 4)) throw new Error('row must have 4 values');
      return encode(rows);
    };
    const model = observe(iris);
    const input: Row[] = [row(0), [1, 2], row(1)];
    const results = await run(from(input), predict(model, { encode: strictEncode, decode, batch: { size: 3, maxLatencyMs: 1000 } }));
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(model.calls).toEqual([2]);
  });

  it('gives every record of a failing batch a MODEL_ERROR result and goes on', async () => {
    const model = observe(iris, { failOnCall: (call) => call === 1 });
    const rows = Array.from({ length: 30 }, (_, i) => row(i));
    const results = await run(from(rows), predict(model, { encode, decode, batch: { size: 10 } }));
    expect(results.map((r) => r.ok)).toEqual([...Array<boolean>(10).fill(true), ...Array<boolean>(10).fill(false), ...Array<boolean>(10).fill(true)]);
    const failed = results[15];
    expect(failed?.ok === false && failed.error.code).toBe('MODEL_ERROR');
  });

  it('turns a throwing decode into failure results, not a crash', async () => {
    const results = await run(from([row(0), row(1)]), predict(iris, { encode, decode: () => { throw new Error('decode bug'); } }));
    expect(results.every((r) => !r.ok && r.error.code === 'MODEL_ERROR')).toBe(true);
  });

  it('passes an error of the source through', async () => {
    await expect(run(concat(of(row(0)), throwError(() => new Error('source broke'))), predict(iris, { encode, decode }))).rejects.toThrow('source broke');
  });

  it('awaits an asynchronous select with bounded concurrency and keeps order', async () => {
    let active = 0;
    let maxActive = 0;
    const select = async (i: number): Promise<Row> => {
      active++;
      maxActive = Math.max(maxActive, active);
      for (let hop = 0; hop < (i * 7) % 5; hop++) await new Promise((r) => setImmediate(r)); // settle out of order, no sleep
      active--;
      if (i === 7) throw new Error('decode failed');
      return row(i);
    };
    const results = await run(from(Array.from({ length: 40 }, (_, i) => i)), predict(iris, { select, encode, decode, selectConcurrency: 3 }));
    expect(results.map((r) => r.input)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(results.filter((r) => !r.ok).map((r) => r.input)).toEqual([7]);
    expect(maxActive).toBeLessThanOrEqual(3);
  });

  it('splits results with values() and failures()', async () => {
    const results$ = from(['ok', 'bad', 'ok']).pipe(
      predict(iris, { select: (s: string) => { if (s === 'bad') throw new Error('bad'); return row(0); }, encode, decode }),
    );
    expect(await lastValueFrom(results$.pipe(values(), toArray()))).toHaveLength(2);
    expect((await lastValueFrom(results$.pipe(failures(), toArray()))).map((f) => f.input)).toEqual(['bad']);
  });

  it.each([
    ['one row for a batch of 4', (p: TensorData): TensorData => ({ data: p.data.slice(0, 3), shape: [1, 3] }), /model iris returned output .* with shape \[1, 3\] for a batch of 4 \(declared \[\?, 3\]\)/],
    ['the batch transposed, [3, 4]', (p: TensorData): TensorData => ({ data: p.data.slice(), shape: [3, 4] }), /with shape \[3, 4\] for a batch of 4 \(declared \[\?, 3\]\)/],
    ['extra rows, [8, 3]', (p: TensorData): TensorData => ({ data: Float32Array.from([...p.data, ...p.data]), shape: [8, 3] }), /with shape \[8, 3\] for a batch of 4/],
    ['fewer values than its shape says', (p: TensorData): TensorData => ({ data: p.data.slice(0, 6), shape: [4, 3] }), /returned output .* with 6 values for its shape \[4, 3\]/],
  ])('fails the batch with MODEL_ERROR when the model returns %s, instead of decoding past its outputs', async (_what, misshape, message) => {
    const before = numTensors();
    const model = withRun(iris, async (inputs, options) => {
      const [p] = await iris.run(inputs, options);
      return inputs[0]!.shape[0] === 4 && inputs[0]!.data[0] === 99 ? [misshape(p!)] : [p!];
    });
    // Batches of 4: the second one (first feature 99) gets the misshapen answer.
    const rows = Array.from({ length: 12 }, (_, i) => (i >= 4 && i < 8 ? [99, ...row(i).slice(1)] : row(i)));
    const results = await run(from(rows), predict(model, { encode, decode, batch: { size: 4 } }));
    results.forEach((r, i) => {
      if (i < 4 || i >= 8) return expect(r.ok).toBe(true);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('MODEL_ERROR');
        expect(r.error.message).toMatch(message);
      }
    });
    expect(numTensors()).toBe(before);
  });

  it('leaves no tensor behind after 10,000 records including failures', async () => {
    const before = numTensors();
    const model = observe(iris, { failOnCall: (call) => call % 7 === 3 });
    const input = Array.from({ length: 10_000 }, (_, i) => (i % 13 === 0 ? [Number.NaN] : row(i)));
    const strictEncode = (rows: readonly Row[]): TensorData => {
      if (rows.some((r) => r.length !== 4)) throw new Error('bad row');
      return encode(rows);
    };
    const results = await run(from(input), predict(model, { encode: strictEncode, decode, batch: { size: 128 } }));
    expect(results).toHaveLength(10_000);
    expect(results.some((r) => !r.ok)).toBe(true);
    expect(numTensors()).toBe(before);
  });
});
