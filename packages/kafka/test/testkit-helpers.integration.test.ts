import { committedOffsets, createTopics, endOffsets, produce, readTopic, topicExists } from '@rxml/kafka-testkit';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { brokers, fresh, until } from './support/index.js';

// The testkit's helpers, against the broker the global setup started with `startKafka()` (its
// `restart()` is exercised by broker-restart.integration.test.ts).
describe('@rxml/kafka-testkit helpers (real broker)', () => {
  it('creates topics, produces, reads a topic to its end', async () => {
    const topic = fresh('testkit-a');
    await createTopics(brokers(), [{ topic, partitions: 3 }]);
    const n = await produce(
      brokers(),
      topic,
      Array.from({ length: 3_000 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, headers: { h: `${i}` } })),
    );
    expect(n).toBe(3_000);
    const ends = await endOffsets(brokers(), topic);
    expect(ends.size).toBe(3);
    expect([...ends.values()].reduce((a, b) => a + BigInt(b), 0n)).toBe(3_000n);
    const records = await readTopic(brokers(), topic);
    expect(records.length).toBe(3_000);
    expect(new Set(records.map((r) => r.value)).size).toBe(3_000);
    const k42 = records.find((r) => r.key === 'k42');
    expect(k42?.value).toBe('v42');
    expect(k42?.headers['h']).toBe('42');
    // One offset type across the packages: a decimal string, JSON-safe like KafkaRecord.offset.
    expect(typeof k42?.offset).toBe('string');
    expect(() => JSON.stringify(records[0])).not.toThrow();
    // endOffsets carries the same type: JSON round-trips, and each partition's end is its last record's offset + 1.
    expect(JSON.parse(JSON.stringify(Object.fromEntries(ends)))).toEqual(Object.fromEntries(ends));
    for (const [partition, end] of ends) {
      const last = records.filter((r) => r.partition === partition).at(-1);
      expect(last === undefined ? '0' : String(BigInt(last.offset) + 1n)).toBe(end);
    }
  });

  it('reads headers without a value (null) and repeated names in record order', async () => {
    const topic = fresh('testkit-headers');
    await createTopics(brokers(), [{ topic, partitions: 1 }]);
    const producer = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    try {
      // The patched kafkajs encoder writes this list in order; null = a header without a value.
      const headers = { a: ['1', '2'], b: null } as unknown as Record<string, string[]>;
      Object.defineProperty(headers, Symbol.for('rxml.kafka.headerList'), { value: [{ key: 'a', value: '1' }, { key: 'b', value: null }, { key: 'a', value: '2' }] });
      await producer.send({ topic, messages: [{ value: 'v', headers }] });
    } finally {
      await producer.disconnect();
    }
    const [record] = await readTopic(brokers(), topic);
    expect(record?.headerList).toEqual([['a', '1'], ['b', null], ['a', '2']]);
    expect(record?.headers).toEqual({ a: '1,2' });
  });

  it('reads a topic that does not exist as empty, at once, without creating it', async () => {
    const topic = fresh('testkit-missing');
    const started = Date.now();
    expect(await readTopic(brokers(), topic)).toEqual([]);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await topicExists(brokers(), topic)).toBe(false);
  });

  it('reports the committed offsets of a group', async () => {
    const [topic, group] = [fresh('testkit-b'), fresh('testkit-group')];
    await createTopics(brokers(), [{ topic, partitions: 2 }]);
    const consumer = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).consumer({ groupId: group });
    await consumer.connect();
    await consumer.subscribe({ topic });
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    await consumer.run({ autoCommit: false, eachBatch: async () => undefined });
    await joined;
    // kafkajs ignores commits until its runner is marked running, just after the join event.
    await until(
      async () => {
        await consumer.commitOffsets([{ topic, partition: 1, offset: '7' }]);
        return (await committedOffsets(brokers(), group, topic)).size > 0;
      },
      10_000,
      'the commit to land',
    );
    await consumer.disconnect();
    // A decimal string like every offset of rxml: JSON-safe (a bigint would make JSON.stringify throw).
    expect(JSON.stringify([...(await committedOffsets(brokers(), group, topic))])).toBe('[[1,"7"]]');
  });
});
