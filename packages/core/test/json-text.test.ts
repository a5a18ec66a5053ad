import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float32Text, jsonTextOf, JSON_TEXT } from '../src/contract/index.js';
import { loadIrisModel, predictIris, type Model } from '../src/index.js';

/** Fewest significant digits whose decimal reads back as the same float32 (the reference). */
function shortestDigits(x: number): number {
  for (let k = 1; k <= 9; k++) if (Math.fround(Number(x.toPrecision(k))) === x) return k;
  return 17;
}

describe('float32Text', () => {
  it('writes every float32 as a decimal that reads back as the same float32, never longer than the shortest', () => {
    // A fixed pseudo-random sequence (LCG) over the whole float32 range of probabilities.
    let seed = 12345;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 50_000; i++) {
      // Probabilities in [0, 1), then tiny ones (a softmax's 1e-19) and large ones, both signs.
      const x = Math.fround(i < 30_000 ? next() ** (1 + (i % 6)) : (next() - 0.5) * 10 ** Math.round((next() - 0.5) * 60));
      const text = float32Text(x);
      expect(Math.fround(Number(text))).toBe(x);
      expect(text).toMatch(/^-?(0|[1-9]\d*)(\.\d+)?(e[+-]\d+)?$/); // a JSON number
      const significant = text.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
      expect(significant.length, text).toBeLessThanOrEqual(Math.max(1, shortestDigits(x)));
    }
  });

  it('prints tiny values (a softmax\'s 1e-15, subnormals) and whole numbers exactly as the toPrecision search does', () => {
    // The reference: the shortest toPrecision(1 … 9) that reads back, as String prints its double.
    const reference = (x: number): string => {
      for (let k = 1; k <= 9; k++) {
        const text = x.toPrecision(k);
        if (Math.fround(Number(text)) === x) return String(Number(text));
      }
      return String(Number(x.toPrecision(9)));
    };
    const f32 = new Float32Array(1);
    const bits = new Uint32Array(f32.buffer);
    let seed = 99;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    let checked = 0;
    for (let i = 0; i < 100_000; i++) {
      // Random bit patterns with a biased exponent below 104 (values under 1e-7), subnormals included.
      bits[0] = ((next() % 104) << 23) | (next() & 0x7fffff);
      const x = f32[0]!;
      if (!(x > 0 && x < 1e-7)) continue;
      checked++;
      const text = float32Text(x);
      if (text !== reference(x)) expect(text, `float32Text(${x})`).toBe(reference(x));
    }
    expect(checked).toBeGreaterThan(90_000);
    for (const x of [Math.fround(1.7881962e-15), 1.401298464324817e-45, Math.fround(1e-38), Math.fround(9.99999e-8)]) expect(float32Text(x)).toBe(reference(x));
    for (const x of [1, 2, 3, 100, 12_345, 16_777_215]) expect(float32Text(x)).toBe(String(x));
  });

  it('prints the shortest float32 text in and out of the fast path, what JSON.stringify prints for numbers that are not float32, and null for NaN and ±Infinity', () => {
    expect(float32Text(Math.fround(0.9))).toBe('0.9');
    expect(float32Text(Math.fround(0.1))).toBe('0.1');
    expect(float32Text(Math.fround(1e-7))).toBe('0.0000001');
    // Out of the fast path: JSON.stringify would print the widened doubles' 17 digits.
    expect(float32Text(Math.fround(3.2701544e-19))).toBe('3.2701544e-19');
    expect(float32Text(Math.fround(1e-9))).toBe('1e-9');
    expect(float32Text(Math.fround(123.45))).toBe('123.45');
    expect(float32Text(Math.fround(-0.1))).toBe('-0.1');
    expect(float32Text(Math.fround(3e38))).toBe('3e+38');
    for (const x of [0, 1, 0.3, 2.5, -0.5, 1e300]) expect(float32Text(x)).toBe(JSON.stringify(x));
    for (const x of [NaN, Infinity, -Infinity]) expect(float32Text(x)).toBe('null');
  });

  it('jsonTextOf calls a value\'s own JSON_TEXT and nothing else', () => {
    expect(jsonTextOf({ [JSON_TEXT]: () => '{"a":1}' })).toBe('{"a":1}');
    for (const v of [null, undefined, 1, 'x', { a: 1 }, { [JSON_TEXT]: 'not a function' }]) expect(jsonTextOf(v)).toBeUndefined();
  });
});

describe("predictIris's predictions as JSON text", () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadIrisModel();
  });
  afterAll(() => model.dispose());

  it('has the fields and order JSON.stringify writes, the same species and the same float32 probabilities', async () => {
    const inputs = ['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4', '6.7,3.0,5.2,2.3', [5.9, 3.0, 5.1, 1.8], { sepalLength: 4.6, sepalWidth: 3.4, petalLength: 1.4, petalWidth: 0.3 }];
    const results = await lastValueFrom(from(inputs).pipe(predictIris(model), toArray()));
    for (const r of results) {
      if (!r.ok) throw r.error;
      const text = jsonTextOf(r.value);
      expect(text).toBeDefined();
      const own = JSON.parse(text!) as typeof r.value;
      const standard = JSON.parse(JSON.stringify(r.value)) as typeof r.value;
      expect(Object.keys(own)).toEqual(Object.keys(standard));
      expect(Object.keys(own.probabilities)).toEqual(Object.keys(standard.probabilities));
      expect(own.species).toBe(r.value.species);
      for (const k of ['setosa', 'versicolor', 'virginica'] as const) expect(Math.fround(own.probabilities[k])).toBe(r.value.probabilities[k]);
      expect(text!.length).toBeLessThanOrEqual(JSON.stringify(r.value).length);
    }
  });
});
