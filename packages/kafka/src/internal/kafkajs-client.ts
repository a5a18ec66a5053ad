import { Kafka, Partitioners, type Consumer, type ConsumerConfig, type Producer } from 'kafkajs';
import { registerKafkaCodecs } from './codecs.js';
import { kafkaConfig, type KafkaConnectionOptions } from '../options.js';
import type {
  ConsumerClient,
  ConsumerHandlers,
  OutgoingMessage,
  PartitionOffset,
  ProducerClient,
  TopicPartition,
} from './client.js';

function kafkaOf(options: KafkaConnectionOptions): Kafka {
  // snappy, lz4 and zstd on the kafkajs module this package imports (kafkajs has gzip only).
  registerKafkaCodecs();
  return options.kafka ?? new Kafka(kafkaConfig(options));
}

export interface KafkajsConsumerSettings {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly fromBeginning: boolean;
  readonly consumer: Omit<ConsumerConfig, 'groupId'>;
}

/** `ConsumerClient` on kafkajs: eachBatch without auto-resolve and without auto-commit. */
export function kafkajsConsumer(connection: KafkaConnectionOptions, settings: KafkajsConsumerSettings): ConsumerClient {
  const consumer: Consumer = kafkaOf(connection).consumer({ ...settings.consumer, groupId: settings.groupId });
  const topics = settings.topics.map((topic) => ({ topic }));
  const removers: (() => void)[] = [];

  return {
    async start(handlers: ConsumerHandlers): Promise<void> {
      removers.push(
        consumer.on(consumer.events.REBALANCING, () => handlers.onRebalancing()),
        consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
          const assignment: TopicPartition[] = [];
          for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
            for (const partition of partitions) assignment.push({ topic, partition });
          }
          handlers.onAssigned(assignment, payload.memberId);
        }),
        consumer.on(consumer.events.CRASH, ({ payload }) => handlers.onCrash(payload.error, payload.restart)),
      );
      await consumer.connect();
      await consumer.subscribe({ topics: [...settings.topics], fromBeginning: settings.fromBeginning });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        // Returns at once: the records are handed to the stream, the model runs outside this call, so
        // kafkajs' fetch loop (which sends the heartbeats) never waits for a model.
        eachBatch: (payload) => {
          const taken = handlers.onBatch(payload.batch);
          const last = payload.batch.messages[taken - 1];
          // Resolving moves kafkajs' fetch position only; commits are ours (see fromKafka).
          if (last !== undefined) payload.resolveOffset(last.offset);
          return Promise.resolve();
        },
      });
    },
    pause: () => consumer.pause(topics),
    resume: () => consumer.resume(topics),
    async commit(offsets: readonly PartitionOffset[]): Promise<void> {
      if (offsets.length === 0) return;
      await consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
    },
    async stop(): Promise<void> {
      for (const remove of removers.splice(0)) remove();
      await consumer.disconnect();
    },
  };
}

export interface KafkajsProducerSettings {
  /** kafkajs compression codec id (`CompressionTypes`). */
  readonly compression?: number;
}

/** `ProducerClient` on kafkajs: one `sendBatch` per call, acks from all in-sync replicas. */
export function kafkajsProducer(connection: KafkaConnectionOptions, settings: KafkajsProducerSettings = {}): ProducerClient {
  const producer: Producer = kafkaOf(connection).producer({
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  return {
    connect: () => producer.connect(),
    async send(messages: readonly OutgoingMessage[]): Promise<void> {
      const byTopic = new Map<string, { key: Buffer | string | null; value: Buffer | string | null; headers: Record<string, Buffer | string> }[]>();
      for (const m of messages) {
        let list = byTopic.get(m.topic);
        if (list === undefined) byTopic.set(m.topic, (list = []));
        list.push({ key: m.key, value: m.value, headers: { ...m.headers } });
      }
      await producer.sendBatch({
        acks: -1,
        ...(settings.compression === undefined ? {} : { compression: settings.compression }),
        topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
      });
    },
    disconnect: () => producer.disconnect(),
  };
}

/**
 * kafkajs marks transient failures `retriable`; when its own retries ran out it wraps the last one
 * in `KafkaJSNumberOfRetriesExceeded`, which is worth retrying again if that cause was transient.
 */
export function isRetriableKafkaError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; retriable?: unknown; cause?: unknown; originalError?: unknown };
  if (e.retriable === true) return true;
  if (e.name === 'KafkaJSNumberOfRetriesExceeded') return isRetriableKafkaError(e.cause ?? e.originalError);
  // Connection-level failures while a broker restarts.
  return e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSRequestTimeoutError' || e.name === 'KafkaJSBrokerNotFound';
}
