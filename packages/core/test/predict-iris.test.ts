import { join } from 'node:path';
import { EMPTY, NEVER, Subject, concat, from, interval, lastValueFrom, map, of, take, throwError, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateIris, loadIrisModel, predictIris, readIrisDataset, splitIrisDataset, trainIrisNetwork, type IrisInput, type Model } from '../src/index.js';
import { SHARED, numTensors, observe } from './support/helpers.js';

let model: Model;
beforeAll(async () => {
  model = await loadIrisModel();
});
afterAll(() => model.dispose());

const classify = (inputs: readonly IrisInput[]) => lastValueFrom(from(inputs).pipe(predictIris(model), toArray()));

describe('predictIris', () => {
  it("labels the seed's three inputs setosa, versicolor, setosa", async () => {
    const results = await classify(['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4', '4.6,3.4,1.4,0.3']);
    expect(results.map((r) => r.ok && r.value.species)).toEqual(['setosa', 'versicolor', 'setosa']);
    const first = results[0];
    if (first?.ok !== true) throw new Error('expected a prediction');
    const p = first.value.probabilities;
    expect(p.setosa + p.versicolor + p.virginica).toBeCloseTo(1, 5);
    expect(p.setosa).toBeGreaterThan(0.5);
  });

  it('accepts a CSV string, an array and named measurements alike', async () => {
    const results = await classify(['6.7,3.0,5.2,2.3', [6.7, 3.0, 5.2, 2.3], { sepalLength: 6.7, sepalWidth: 3.0, petalLength: 5.2, petalWidth: 2.3 }]);
    const values = results.map((r) => (r.ok ? r.value : undefined));
    expect(values[0]?.species).toBe('virginica');
    expect(values[1]).toEqual(values[0]);
    expect(values[2]).toEqual(values[0]);
  });

  it.each([
    ['5.1,3.5,1.4', 'expected 4 values'],
    ['5.1,3.5,1.4,0.2,9', 'expected 4 values'],
    ['5.1,abc,1.4,0.2', 'sepalWidth is "abc": not a decimal number'],
    ['5.1,,1.4,0.2', 'sepalWidth is "": empty'],
    ['', 'empty'],
    [[5.1, 3.5, Number.NaN, 0.2], 'petalLength is NaN, not a number'],
    [[5.1, 3.5, 1.4, Number.POSITIVE_INFINITY], 'petalWidth is Infinity, not finite'],
    ['0x5,3.5,1.4,0.2', 'sepalLength is "0x5": hexadecimal, not a decimal number'],
    ['0b101,3.5,1.4,0.2', 'sepalLength is "0b101": binary, not a decimal number'],
    ['5.1,0o7,1.4,0.2', 'sepalWidth is "0o7": octal, not a decimal number'],
    ['5.1,3.5,Infinity,0.2', 'petalLength is "Infinity": infinite, not a finite number'],
    ['5.1,3.5, ,0.2', 'petalLength is " ": only whitespace'],
    ['5.1,3.5,1.4,1_0', 'petalWidth is "1_0": not a decimal number'],
    ['"5,1","3.5","1.4","0.2"', 'sepalLength is "5,1": a decimal comma; use a decimal point'],
    ['"5.1,3.5,1.4,0.2', 'unterminated quoted field in "\\"5.1,3.5,1.4,0.2"'],
    [`5.1,${'x'.repeat(200)},1.4,0.2`, `sepalWidth is "${'x'.repeat(40)}"… (200 characters): not a decimal number`],
    [{ sepalLength: '0x5', sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2 }, 'sepalLength is "0x5": hexadecimal'],
    [{ sepalLength: true, sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2 }, 'sepalLength is boolean, not a number'],
    ['[5.1,3.5,1.4,0.2]', `the record is JSON text ("[5.1,3.5,1.4,0.2]"), not CSV: parse it before predictIris, e.g. fromKafka({ deserialize: 'json' })`],
    ['{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2}', `the record is JSON text ("{\\"sepalLength\\":5.1,\\"sepalWidth\\":3.5,\\"pet"… (71 characters)), not CSV: parse it before predictIris, e.g. fromKafka({ deserialize: 'json' })`],
    [new Float32Array([5.1, 3.5, 1.4]), 'expected 4 values (sepalLength, sepalWidth, petalLength, petalWidth), got 3 in the Float32Array'],
    [Buffer.from('5.1,3.5,1.4,0.2'), "got 15 raw bytes (a Buffer): decode them first, e.g. fromKafka({ deserialize: 'string' })"],
    [42, 'got 42'],
    ['-5.1,3.5,1.4,0.2', 'sepalLength is negative'],
    ['5.1,3.5,1400,0.2', 'petalLength is 1400 cm'],
    [{ sepalLength: 5.1, sepalWidth: 3.5, petalLength: 1.4 }, 'petalWidth is missing'],
  ] as [IrisInput, string][])('rejects %j with INVALID_INPUT naming the problem (%s), and scores the next record', async (bad, reason) => {
    const [failure, next] = await classify([bad, '5.4,3.9,1.7,0.4']);
    expect(failure?.ok).toBe(false);
    if (failure?.ok !== false) return;
    expect(failure.error.code).toBe('INVALID_INPUT');
    expect(failure.error.message).toContain(reason);
    expect(next?.ok && next.value.species).toBe('setosa');
  });

  it('accepts quoted CSV fields (RFC 4180), padded fields, exponents and numeric typed arrays like the plain forms', async () => {
    const results = await classify([
      '6.7,3.0,5.2,2.3',
      '"6.7","3.0","5.2","2.3"',
      ' 6.7 , "3.0",5.2e0 , 0.23E+1',
      new Float32Array([6.7, 3.0, 5.2, 2.3]),
      new Float64Array([6.7, 3.0, 5.2, 2.3]),
      { sepalLength: '6.7', sepalWidth: '3.0', petalLength: '5.2', petalWidth: '2.3' } as unknown as IrisInput,
    ]);
    const first = results[0];
    if (first?.ok !== true) throw new Error('expected a prediction');
    expect(first.value.species).toBe('virginica');
    for (const r of results.slice(1)) {
      if (!r.ok) throw r.error;
      expect(r.value.species).toBe('virginica');
      // Float32Array rounds 6.7 etc. to float32, which the model sees anyway: same probabilities.
      expect(r.value.probabilities.virginica).toBeCloseTo(first.value.probabilities.virginica, 6);
    }
  });

  it('completes on an empty stream without calling the model', async () => {
    const observed = observe(model);
    expect(await lastValueFrom(EMPTY.pipe(predictIris(observed), toArray()))).toEqual([]);
    expect(observed.calls).toEqual([]);
  });

  it('takes records out of any element with select and keeps the element as input', async () => {
    const records = [{ key: 'a', value: '5.4,3.9,1.7,0.4' }, { key: 'b', value: '7.0,3.2,4.7,1.4' }];
    const results = await lastValueFrom(from(records).pipe(predictIris(model, { select: (r) => r.value }), toArray()));
    expect(results.map((r) => r.input.key)).toEqual(['a', 'b']);
  });

  it('fails only the record whose select callback throws', async () => {
    const results = await lastValueFrom(
      from([1, 2, 3]).pipe(predictIris(model, { select: (i: number) => { if (i === 2) throw new Error('no value'); return '5.4,3.9,1.7,0.4'; } }), toArray()),
    );
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
  });

  it('passes a source error through', async () => {
    await expect(lastValueFrom(concat(of('5.4,3.9,1.7,0.4'), throwError(() => new Error('broken'))).pipe(predictIris(model), toArray()))).rejects.toThrow('broken');
  });

  it('runs on a never-ending source with take, and stops after an early unsubscribe', async () => {
    const taken = await lastValueFrom(interval(1).pipe(map(() => '4.6,3.4,1.4,0.3'), predictIris(model, { batch: { size: 4, maxLatencyMs: 1 } }), take(10), toArray()));
    expect(taken).toHaveLength(10);
    const source = new Subject<string>();
    const seen: unknown[] = [];
    const sub = concat(source, NEVER).pipe(predictIris(model)).subscribe((r) => seen.push(r));
    source.next('4.6,3.4,1.4,0.3');
    sub.unsubscribe();
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toEqual([]);
  });

  it('scores the whole data set in one model call per batch, accurately, without leaking tensors', async () => {
    const data = await readIrisDataset(join(SHARED, 'seed/iris.txt'));
    const before = numTensors();
    const observed = observe(model);
    const results = await lastValueFrom(from(data).pipe(predictIris(observed, { select: (e) => e.features, batch: { size: 150, maxLatencyMs: 1000 } }), toArray()));
    expect(observed.calls).toEqual([150]);
    const correct = results.filter((r) => r.ok && ['setosa', 'versicolor', 'virginica'][r.input.label] === r.value.species).length;
    expect(correct / data.length).toBeGreaterThanOrEqual(0.97);
    expect(numTensors()).toBe(before);
  });
});

describe('the committed Iris model', () => {
  it('reaches ≥ 0.95 on the held-out fifth and ≥ 0.97 on all 150 flowers', async () => {
    const data = await readIrisDataset(join(SHARED, 'seed/iris.txt'));
    const { test } = splitIrisDataset(data);
    expect(test).toHaveLength(30);
    expect(await evaluateIris(model, test)).toBeGreaterThanOrEqual(0.95);
    expect(await evaluateIris(model, data)).toBeGreaterThanOrEqual(0.97);
  });

  it('has a name and a content-hash version', () => {
    expect(model.name).toBe('iris');
    expect(model.version).toMatch(/^[0-9a-f]{16}$/);
    expect(model.inputs[0]?.shape).toEqual([null, 4]);
  });
});

describe('trainIrisNetwork', () => {
  it('leaves no tensor behind once the networks it returned are disposed (its Adam optimizer is disposed too)', async () => {
    const data = await readIrisDataset(join(SHARED, 'seed/iris.txt'));
    const examples = data.slice(0, 30);
    const before = numTensors();
    for (const seed of [1, 2]) {
      const network = await trainIrisNetwork(examples, { seed, epochs: 2 });
      network.dispose();
    }
    expect(numTensors()).toBe(before);
  });
});
