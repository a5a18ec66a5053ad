import { createRequire } from 'node:module';
import { murmur2 as platformaticMurmur2 } from '@platformatic/kafka';
import { describe, expect, it } from 'vitest';
import { javaCompatiblePartition, murmur2 } from '../src/internal/murmur2.js';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (key: Buffer) => number;

describe('murmur2 (Kafka\'s partitioner hash)', () => {
  it('gives the Java client\'s values (Kafka UtilsTest.testMurmur2 vectors)', () => {
    const cases: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of cases) expect([key, murmur2(Buffer.from(key))]).toEqual([key, hash]);
  });

  it('agrees with kafkajs and @platformatic/kafka on 2,000 random keys of 0–70 bytes (every tail length)', () => {
    let seed = 12345;
    const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let n = 0; n < 2000; n++) {
      const key = Buffer.from(Array.from({ length: n % 71 }, () => Math.floor(random() * 256)));
      const expected = platformaticMurmur2(key);
      expect(murmur2(key)).toBe(expected);
      expect(kafkajsMurmur2(key)).toBe(expected);
    }
  });

  it('partitions like Java: murmur2(key) & 0x7fffffff (string keys as UTF-8), keyless records 0', () => {
    expect(javaCompatiblePartition(Buffer.from('21'))).toBe(-973932308 & 0x7fffffff);
    expect(javaCompatiblePartition(Buffer.from('21')) % 3).toBe(((-973932308 & 0x7fffffff) % 3));
    expect(javaCompatiblePartition('21')).toBe(-973932308 & 0x7fffffff);
    expect(javaCompatiblePartition('ключ')).toBe(murmur2(Buffer.from('ключ')) & 0x7fffffff);
    expect(javaCompatiblePartition(undefined)).toBe(0);
    expect(javaCompatiblePartition(null)).toBe(0);
  });
});
