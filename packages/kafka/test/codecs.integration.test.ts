import type { PredictResult } from '@rxml/core/contract';
import { committedOffsets, createTopics } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { from, lastValueFrom, take, tap, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromKafka, toKafka, type KafkaCompression } from '../src/index.js';
import { javaConsume, javaProduce, storedBatchCodecs } from './support/java.js';
import { brokers, fresh, until } from './support/index.js';

const CODECS = ['gzip', 'snappy', 'lz4', 'zstd'] as const satisfies readonly KafkaCompression[];
const PER_CODEC = 300;

// Compressible values, big enough that every codec produces multi-record batches.
const valueOf = (codec: string, i: number): string => JSON.stringify({ codec, i, text: `${codec} record ${i} `.repeat(8) });

describe('every compression codec, both ways (Java client peer, real broker)', () => {
  it('fromKafka reads gzip, snappy, lz4 and zstd batches written by the Java producer, mixed in one partition', async () => {
    const [topic, group] = [fresh('codec-in'), fresh('codec-group')];
    await createTopics(brokers(), [{ topic, partitions: 1 }]);
    // A plain backlog first, then one run of the Java producer per codec (compression.type).
    await javaProduce(brokers(), topic, Array.from({ length: 50 }, (_, i) => ({ partition: 0, key: Buffer.from(`plain-${i}`), value: Buffer.from(valueOf('none', i)), headers: [] })));
    for (const codec of CODECS) {
      const records = Array.from({ length: PER_CODEC }, (_, i) => ({ partition: 0, key: Buffer.from(`${codec}-${i}`), value: Buffer.from(valueOf(codec, i)), headers: [] }));
      await javaProduce(brokers(), topic, records, { 'compression.type': codec, 'batch.size': 16_384 });
    }
    const stored = await storedBatchCodecs(topic, 0);
    if (stored !== undefined) expect(new Set(stored)).toEqual(new Set(['none', ...CODECS]));

    const total = 50 + PER_CODEC * CODECS.length;
    const records = await lastValueFrom(
      fromKafka({ brokers: brokers(), topic, groupId: group, fromBeginning: true, logLevel: logLevel.NOTHING, commitIntervalMs: 20 }).pipe(
        tap((r) => r.complete()),
        take(total),
        toArray(),
      ),
    );
    expect(records.map((r) => r.key?.toString())).toEqual([
      ...Array.from({ length: 50 }, (_, i) => `plain-${i}`),
      ...CODECS.flatMap((codec) => Array.from({ length: PER_CODEC }, (_, i) => `${codec}-${i}`)),
    ]);
    for (const r of records) {
      const [codec, i] = r.key!.toString().split('-') as [string, string];
      expect(r.value).toBe(valueOf(codec === 'plain' ? 'none' : codec, Number(i)));
    }
    await until(async () => (await committedOffsets(brokers(), group, topic)).get(0) === String(total), 15_000, 'commit of every record');
  });

  it.each(CODECS)('toKafka({ compression: %s }) writes batches in that codec; the Java consumer reads them back', async (codec) => {
    const topic = fresh(`codec-out-${codec}`);
    await createTopics(brokers(), [{ topic, partitions: 1 }]);
    const results: PredictResult<{ id: number }, { label: string }>[] = Array.from({ length: 500 }, (_, i) => ({
      ok: true,
      input: { id: i },
      value: { label: valueOf(codec, i) },
      model: { name: 'codec-test', version: '1' },
      latencyMs: 1,
    }));
    const delivered = await lastValueFrom(
      from(results).pipe(
        toKafka({ brokers: brokers(), topic, compression: codec, key: (r) => `k${r.input.id}`, logLevel: logLevel.NOTHING, maxBatchMessages: 250 }),
        toArray(),
      ),
    );
    expect(delivered.length).toBe(500);
    const stored = await storedBatchCodecs(topic, 0);
    if (stored !== undefined) expect(new Set(stored)).toEqual(new Set([codec]));

    // In input order: the two batches are pipelined (maxInFlightSends), and the producer puts them on
    // the wire in call order whatever their compression takes (patched kafkajs, see
    // produce-order.integration.test.ts).
    const read = await javaConsume(brokers(), topic);
    expect(read.map((r) => [r.key!.toString(), JSON.parse(r.value!.toString()) as unknown])).toEqual(results.map((r) => [`k${r.input.id}`, r.ok ? r.value : undefined]));
    expect(read[0]!.headers.map(([name]) => name)).toEqual(['rxml-model', 'rxml-model-version', 'rxml-latency-ms']);
  });
});
