import { describe, expect, it } from 'vitest';
import { parseIrisInput } from '../src/index.js';

const message = (input: unknown): string => {
  try {
    parseIrisInput(input);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
};

describe('parseIrisInput: CSV lines', () => {
  it('reads plain decimal fields exactly as Number() does, the same as padded lines (the general path)', () => {
    const fields = ['5', '5.', '.5', '05.10', '0', '0.0', '99.999', '100', '4.3', '0.1', '2.675', '7.000000000001', '12.345678901234'];
    let seed = 7;
    const pick = (): string => fields[(seed = (seed * 48271) % 2147483647) % fields.length]!;
    for (let i = 0; i < 2_000; i++) {
      const row = [pick(), pick(), pick(), pick()];
      const line = row.join(',');
      const expected = row.map(Number);
      expect(parseIrisInput(line)).toEqual(expected);
      // Padding and quotes take the general path: same numbers.
      expect(parseIrisInput(` ${row.join(', ')} `)).toEqual(expected);
      expect(parseIrisInput(row.map((f) => `"${f}"`).join(','))).toEqual(expected);
    }
  });

  it('refuses what the general path refuses, with its messages', () => {
    expect(message('5.1,3.5,1.4')).toMatch(/expected 4 values .* got 3/);
    expect(message('5.1,3.5,1.4,0.2,9')).toMatch(/expected 4 values .* got 5/);
    expect(message('5.1,,1.4,0.2')).toMatch(/sepalWidth is "": /);
    expect(message('5.1,3.5.1,1.4,0.2')).toMatch(/sepalWidth is "3.5.1"/);
    expect(message('5.1,3.5,100.5,0.2')).toMatch(/petalLength is 100.5 cm, more than 100 cm/);
    expect(message('5.1,-3.5,1.4,0.2')).toMatch(/sepalWidth is negative/);
    expect(message('0x5,3.5,1.4,0.2')).toMatch(/sepalLength is "0x5"/);
    expect(message('1e999,3.5,1.4,0.2')).toMatch(/sepalLength is "1e999"/);
    expect(message('1234567890123456,3.5,1.4,0.2')).toMatch(/more than 100 cm/);
  });

  it('reads exponents and signs through the general path', () => {
    expect(parseIrisInput('5.1e0,+3.5,1.4E0,2e-1')).toEqual([5.1, 3.5, 1.4, 0.2]);
  });
});

describe('parseIrisInput: objects', () => {
  it('says to use select when it gets a whole source record instead of its value', () => {
    const record = { topic: 'IrisInputTopic', partition: 0, offset: '2', key: null, value: '5.1,3.5,1.4,0.2', headers: {}, timestamp: 0 };
    expect(message(record)).toMatch(/whole source record \(IrisInputTopic\[0\]@2\), not its value: pass select: \(r\) => r\.value/);
    // An object with the fields is read as it is, whatever else it has.
    expect(parseIrisInput({ topic: 't', offset: '1', value: 'x', sepalLength: 5.1, sepalWidth: 3.5, petalLength: 1.4, petalWidth: 0.2 })).toEqual([5.1, 3.5, 1.4, 0.2]);
    expect(message({ sepalLength: 5.1 })).toMatch(/sepalWidth is missing/);
  });
});
