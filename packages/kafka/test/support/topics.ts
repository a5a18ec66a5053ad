import { endOffsets } from '@rxml/kafka-testkit';
import { Kafka, logLevel } from 'kafkajs';
import { brokers, until } from './index.js';

/** Runs `use` with a connected kafkajs admin client of the test broker, disconnected afterwards. */
export async function admin<T>(use: (a: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
  const a = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
  await a.connect();
  try {
    return await use(a);
  } finally {
    await a.disconnect();
  }
}

/**
 * Deletes `topic` and waits until it exists again, empty, with one partition. The broker deletes
 * asynchronously, and a running consumer's metadata requests may auto-create the topic again
 * (auto.create.topics.enable, as on many clusters): either way, partition 0 exists again at end offset 0.
 */
export async function recreateTopic(topic: string): Promise<void> {
  await admin((a) => a.deleteTopics({ topics: [topic] }));
  await until(
    async () => {
      await admin((a) => a.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: false })).catch(() => false);
      return (await endOffsets(brokers(), topic)).get(0) === '0';
    },
    30_000,
    `topic ${topic} created again`,
  );
}
