import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, type KafkaTestBroker } from '../src/index.js';

// The CLI (`rxml-kafka`) is exercised by examples/iris-kafka's test, which gets its broker from it.
describe('startKafka (real broker)', () => {
  let kafka: KafkaTestBroker;

  beforeAll(async () => {
    kafka = await startKafka({ ignoreEnv: true });
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  it('creates topics, produces, reads to the end, and keeps data across restart()', async () => {
    await kafka.createTopic('testkit-a', 3);
    const n = await kafka.produce(
      'testkit-a',
      Array.from({ length: 3_000 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, headers: { h: `${i}` } })),
    );
    expect(n).toBe(3_000);
    const ends = await kafka.endOffsets('testkit-a');
    expect([...ends.values()].reduce((a, b) => a + b, 0n)).toBe(3_000n);

    const before = await kafka.readTopic('testkit-a');
    expect(new Set(before.map((r) => r.value)).size).toBe(3_000);
    const byKey = new Map(before.map((r) => [r.key, r]));
    expect(byKey.get('k42')?.value).toBe('v42');
    expect(byKey.get('k42')?.headers['h']).toBe('42');

    await kafka.restart();
    const after = await kafka.readTopic('testkit-a');
    expect(after.map((r) => r.value)).toEqual(before.map((r) => r.value));
    await kafka.produce('testkit-a', [{ value: 'after-restart' }]);
    expect((await kafka.readTopic('testkit-a')).length).toBe(3_001);
  });

  it('reports committed offsets of a group', async () => {
    const { Kafka, logLevel } = await import('kafkajs');
    await kafka.createTopic('testkit-b', 2);
    const consumer = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: 'g-b' });
    await consumer.connect();
    await consumer.subscribe({ topic: 'testkit-b' });
    await consumer.run({ autoCommit: false, eachBatch: async () => undefined });
    await new Promise((r) => setTimeout(r, 500));
    await consumer.commitOffsets([{ topic: 'testkit-b', partition: 1, offset: '7' }]);
    await consumer.disconnect();
    const committed = await kafka.committedOffsets('g-b', 'testkit-b');
    expect([...committed]).toEqual([[1, 7n]]);
  });
});
