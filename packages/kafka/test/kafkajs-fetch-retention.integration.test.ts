import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createTopics, produce } from '@rxml/kafka-testkit';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { brokers, fresh, until } from './support/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

// patches/kafkajs@2.2.4.patch, src/consumer/fetcher.js: kafkajs' fetch loop is an async function
// whose suspended frame kept the last iteration's batches while it awaited the next fetch, so each
// fetch response's decoded messages lived one fetch longer than their handler needed them (through
// the next fetch's round trip, or as long as a paused consumer waits).
describe("kafkajs' fetch loop (patched)", () => {
  it('lets a handled batch be collected while it waits for the next fetch', async () => {
    const topic = fresh('fetch-retention');
    await createTopics(brokers(), [{ topic, partitions: 1 }]);
    await produce(
      brokers(),
      topic,
      Array.from({ length: 200 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
    );
    const kafka = new Kafka({ clientId: 'fetch-retention', brokers: brokers(), logLevel: logLevel.NOTHING });
    // A long wait: once the topic is read, the loop sits in a fetch the broker holds for 3 s.
    const consumer = kafka.consumer({ groupId: fresh('fetch-retention'), maxWaitTimeInMs: 3_000 });
    const handled: WeakRef<object>[] = [];
    let seen = 0;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: ({ batch }) => {
          seen += batch.messages.length;
          handled.push(new WeakRef(batch.messages), new WeakRef(batch.messages[0]!));
          return Promise.resolve();
        },
      });
      await until(() => seen === 200, 30_000, 'the 200 records');
      // The next fetch is under way (nothing more to read): collect, then look at the handled batches.
      await new Promise((resolve) => setTimeout(resolve, 500));
      gc();
      await new Promise((resolve) => setTimeout(resolve, 0));
      gc();
      expect(handled.length).toBeGreaterThan(0);
      expect(handled.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    } finally {
      await consumer.disconnect();
    }
  });
});
