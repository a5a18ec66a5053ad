import type { PredictResult } from '@rxml/core/contract';
import { createTopics, readTopic } from '@rxml/kafka-testkit';
import { Partitioners } from 'kafkajs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { toKafka, type KafkaCompression, type ProducerLibrary } from '../src/index.js';
import { brokers, fresh } from './support/index.js';

const PARTITIONS = 3;
const model = { name: 'iris', version: 'sha256:abc' };
const kafkajsPartition = Partitioners.DefaultPartitioner();

/** Where kafkajs' (= Java's) default partitioner puts a key: every producer must agree. */
function expectedPartition(topic: string, key: string): number {
  const partitionMetadata = Array.from({ length: PARTITIONS }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
  return kafkajsPartition({ topic, partitionMetadata, message: { key, value: null } });
}

describe.each<ProducerLibrary>(['kafkajs', 'platformatic'])('toKafka with the %s producer (real broker)', (producer) => {
  it.each<KafkaCompression>(['none', 'gzip'])('writes keys to the Java-compatible partition, values and headers byte-exact, compression %s', async (compression) => {
    const topic = fresh(`producer-${producer}-${compression}`);
    await createTopics(brokers(), [{ topic, partitions: PARTITIONS }]);
    const inputs = Array.from({ length: 300 }, (_, i) => `key-${i}-ü`);
    const results: PredictResult<string, { n: number; s: string }>[] = inputs.map((input, i) => ({ ok: true, input, value: { n: i, s: 'ü€' }, model, latencyMs: 0.5 }));
    const delivered = await lastValueFrom(from(results).pipe(toKafka({ brokers: brokers(), topic, producer, compression, key: (r) => r.input }), toArray()));
    expect(delivered.map((d) => d.result.input)).toEqual(inputs); // emitted in input order
    // At-least-once: a produce request that fails for some partitions of a just-created topic is
    // retried whole, so copies are allowed; every key must be there, each copy byte-exact.
    const written = await readTopic(brokers(), topic);
    expect(new Set(written.map((r) => r.key))).toEqual(new Set(inputs));
    for (const r of written) {
      const i = inputs.indexOf(r.key ?? '');
      expect(i).toBeGreaterThanOrEqual(0);
      expect(r.partition).toBe(expectedPartition(topic, r.key ?? ''));
      expect(r.value).toBe(JSON.stringify({ n: i, s: 'ü€' }));
      expect(r.headers).toEqual({ 'rxml-model': 'iris', 'rxml-model-version': 'sha256:abc', 'rxml-latency-ms': '0.5' });
    }
    // Per partition, the output keeps the input order (first copies).
    for (let p = 0; p < PARTITIONS; p++) {
      const order = [...new Set(written.filter((r) => r.partition === p).map((r) => inputs.indexOf(r.key ?? '')))];
      expect(order).toEqual([...order].sort((a, b) => a - b));
    }
  });
});
