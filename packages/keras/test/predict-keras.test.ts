import { EMPTY, NEVER, Subject, concat, from, interval, lastValueFrom, map, of, take, throwError, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, predictKeras, values, type KerasInput, type KerasOutput, type KerasPrediction, type Model } from '@rxml/core';
import { loadKerasModel } from '../src/index.js';
import { numTensors, observe } from './support/helpers.js';
import { KERAS_FIXTURES, flatten, maxAbsDiff, readExpectation } from './support/keras-fixtures.js';

let mlp: Model;
let twoInputs: Model;
let cnn: Model;
let lstm: Model;
const mlpCase = readExpectation('tf2', 'simple_mlp');
const twoCase = readExpectation('keras3', 'two_inputs');
const cnnCase = readExpectation('keras3', 'small_cnn');
const lstmCase = readExpectation('keras3', 'lstm_text');

beforeAll(async () => {
  await initBackend({ log: () => {} });
  mlp = await loadKerasModel(`${KERAS_FIXTURES}tf2/simple_mlp.h5`);
  twoInputs = await loadKerasModel(`${KERAS_FIXTURES}keras3/two_inputs.keras`);
  cnn = await loadKerasModel(`${KERAS_FIXTURES}keras3/small_cnn.keras`);
  lstm = await loadKerasModel(`${KERAS_FIXTURES}keras3/lstm_text.keras`);
});
afterAll(() => {
  for (const m of [mlp, twoInputs, cnn, lstm]) m.dispose();
});

type Nested = number | Nested[];
const samples = (entry: { data: Nested }): Nested[] => entry.data as Nested[];
const mlpRows = samples(mlpCase.inputs[0]!) as number[][];
const mlpWant = samples(mlpCase.outputs[0]!) as number[][];
const run = <T>(model: Model, inputs: readonly T[]) => lastValueFrom(from(inputs).pipe(predictKeras<T>(model), toArray()));
const single = (p: KerasPrediction | undefined): KerasOutput => p as KerasOutput;

describe('predictKeras', () => {
  it("matches Keras's predictions for number[], Float32Array, Float64Array and CSV records", async () => {
    const inputs: KerasInput[] = [mlpRows[0]!, Float32Array.from(mlpRows[1]!), mlpRows[2]!.join(','), Float64Array.from(mlpRows[0]!)];
    const results = await run(mlp, inputs);
    expect(results).toHaveLength(4);
    results.forEach((r, j) => {
      const i = j % 3;
      if (!r.ok) throw r.error;
      expect(single(r.value).shape).toEqual([10]);
      expect(maxAbsDiff(single(r.value).output, mlpWant[i]!)).toBeLessThanOrEqual(1e-5);
      expect(r.model).toEqual({ name: 'simple_mlp', version: mlp.version });
    });
  });

  it('takes nested arrays in the input shape (a 12×12×3 image) and flat row-major lists alike', async () => {
    const images = samples(cnnCase.inputs[0]!);
    const want = samples(cnnCase.outputs[0]!) as number[][];
    const results = await run(cnn, [images[0]!, flatten(images[1]!)]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    results.forEach((r, i) => {
      if (!r.ok) throw r.error;
      expect(maxAbsDiff(single(r.value).output, want[i]!)).toBeLessThanOrEqual(1e-5);
    });
  });

  it('feeds int32 token ids to an Embedding + LSTM model', async () => {
    const tokens = samples(lstmCase.inputs[0]!) as number[][];
    const want = samples(lstmCase.outputs[0]!) as number[][];
    const results = await run(lstm, tokens);
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    results.forEach((r, i) => {
      if (!r.ok) throw r.error;
      expect(maxAbsDiff(single(r.value).output, want[i]!)).toBeLessThanOrEqual(1e-5);
    });
    const [fractional] = await run(lstm, [[0, 0, 0, 1.5, 2, 3, 4, 5, 6, 7]]);
    expect(fractional?.ok === false && fractional.error.message).toMatch(/takes integers/);
  });

  it('multi-input models take an array or an object keyed by input name; multi-output gives one entry per output', async () => {
    const numeric = samples(twoCase.inputs[0]!) as number[][];
    const extra = samples(twoCase.inputs[1]!) as number[][];
    const results = await run<KerasInput>(twoInputs, [
      [numeric[0]!, extra[0]!],
      { numeric: numeric[1]!, extra: extra[1]! },
      { extra: extra[2]!.join(','), numeric: numeric[2]!.join(',') },
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    results.forEach((r, i) => {
      if (!r.ok) throw r.error;
      const value = r.value as Record<string, KerasOutput>;
      expect(Object.keys(value)).toEqual(['label', 'score']);
      expect(value['label']?.shape).toEqual([3]);
      expect(value['score']?.shape).toEqual([1]);
      expect(maxAbsDiff(value['label']!.output, (samples(twoCase.outputs[0]!) as number[][])[i]!)).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(value['score']!.output, (samples(twoCase.outputs[1]!) as number[][])[i]!)).toBeLessThanOrEqual(1e-5);
    });
  });

  it.each([
    [[1, 2, 3], "input 'input_1' expects shape [100] (100 values), got 3 values"],
    ['1,2,x', `value #2 is the text "x", not a number (not a decimal number)`],
    ['a,b,c', `input 'input_1' value #0 is the text "a", not a number`],
    ['1,0x10,3', `value #1 is the text "0x10", not a number (hexadecimal, not a decimal number)`],
    ['1,,3', `value #1 is the text "", not a number (empty)`],
    ['1,Infinity,3', `value #1 is the text "Infinity", not a number (infinite, not a finite number)`],
    [[1, '2' as unknown as number], `value #1 is the text "2", not a number`],
    [{ nope: 1 } as unknown as KerasInput, 'must be numbers, a CSV string or nested arrays; got object'],
    ['', 'empty string'],
    [[[1, 2], [3]], 'ragged'],
    [[1, Number.NaN, ...new Array<number>(98).fill(0)], 'value #1 is NaN, not a finite number'],
    [new Float64Array(3), "input 'input_1' expects shape [100] (100 values), got 3 values"],
    [42 as unknown as KerasInput, 'must be numbers'],
  ] as [KerasInput, string][])('INVALID_INPUT for %j naming the problem (%s), and the next record is scored', async (bad, reason) => {
    const [failure, next] = await run(mlp, [bad, mlpRows[0]!]);
    expect(failure?.ok).toBe(false);
    if (failure?.ok !== false) return;
    expect(failure.error.code).toBe('INVALID_INPUT');
    expect(failure.error.message.replace(mlp.inputs[0]!.name, 'input_1')).toContain(reason);
    expect(next?.ok).toBe(true);
  });

  it('names expected and actual shape for nested input of the wrong shape, and missing inputs by name', async () => {
    const [wrongImage] = await run(cnn, [[[1, 2, 3]]]);
    expect(wrongImage?.ok === false && wrongImage.error.message).toMatch(/input 'image' expects shape \[12, 12, 3\] \(432 values\), got shape \[1, 3\]/);
    const [missing, wrongCount] = await run<KerasInput>(twoInputs, [{ numeric: new Array<number>(8).fill(0) }, [new Array<number>(8).fill(0)]]);
    expect(missing?.ok === false && missing.error.message).toMatch(/input 'extra' is missing/);
    expect(wrongCount?.ok === false && wrongCount.error.message).toMatch(/takes 2 inputs \(numeric, extra\), got an array of 1/);
  });

  it('completes on an empty stream without calling the model', async () => {
    const observed = observe(mlp);
    expect(await lastValueFrom(EMPTY.pipe(predictKeras(observed), toArray()))).toEqual([]);
    expect(observed.calls).toEqual([]);
  });

  it('scores many records in micro-batches, in order, without leaking tensors', async () => {
    const observed = observe(mlp);
    const before = numTensors();
    const many = Array.from({ length: 100 }, (_, i) => mlpRows[i % 3]!);
    const results = await lastValueFrom(from(many).pipe(predictKeras(observed, { batch: { size: 32, maxLatencyMs: 50 } }), values(), toArray()));
    expect(results).toHaveLength(100);
    expect(observed.calls).toEqual([32, 32, 32, 4]);
    results.forEach((v, i) => expect(maxAbsDiff(single(v).output, mlpWant[i % 3]!)).toBeLessThanOrEqual(1e-5));
    expect(numTensors()).toBe(before);
  });

  it('select picks the sample (sync or async) and keeps the element as input; a throwing select fails only its record', async () => {
    const records = [{ id: 'a', features: mlpRows[0]! }, { id: 'b', features: mlpRows[1]! }, { id: 'c', features: mlpRows[2]! }];
    const results = await lastValueFrom(
      from(records).pipe(
        predictKeras(mlp, {
          select: (r) => {
            if (r.id === 'b') throw new Error('no features for b');
            return r.id === 'c' ? Promise.resolve(r.features) : r.features;
          },
        }),
        toArray(),
      ),
    );
    expect(results.map((r) => [r.input.id, r.ok])).toEqual([['a', true], ['b', false], ['c', true]]);
    const failed = results[1];
    expect(failed?.ok === false && failed.error.code).toBe('INVALID_INPUT');
    expect(failed?.ok === false && failed.error.message).toContain('no features for b');
  });

  it('passes a source error through', async () => {
    await expect(lastValueFrom(concat(of(mlpRows[0]!), throwError(() => new Error('broken'))).pipe(predictKeras(mlp), toArray()))).rejects.toThrow('broken');
  });

  it('runs on a never-ending source with take, and stops after an early unsubscribe', async () => {
    const taken = await lastValueFrom(interval(1).pipe(map(() => mlpRows[0]!), predictKeras(mlp, { batch: { size: 4, maxLatencyMs: 1 } }), take(10), toArray()));
    expect(taken).toHaveLength(10);
    expect(taken.every((r) => r.ok)).toBe(true);
    const source = new Subject<number[]>();
    const seen: unknown[] = [];
    const sub = concat(source, NEVER).pipe(predictKeras(mlp)).subscribe((r) => seen.push(r));
    source.next(mlpRows[0]!);
    sub.unsubscribe();
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toEqual([]);
  });
});

describe("predictKeras's outputs option (types without casts)", () => {
  it("outputs: 'single' gives KerasOutput values, checked against the model", async () => {
    const row = Array.from({ length: mlp.inputs[0]?.shape[1] ?? 0 }, () => 0.5);
    const [prediction] = await lastValueFrom(from([row]).pipe(predictKeras(mlp, { outputs: 'single' }), values(), toArray()));
    // No cast: the overload types the value as KerasOutput.
    const output: readonly number[] | undefined = prediction?.output;
    expect(output?.length).toBeGreaterThan(0);
    expect(() => predictKeras(mlp, { outputs: 'named' })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }) as Error);
  });
});
