import { Kafka, Partitioners, type Consumer, type ConsumerConfig, type Message, type Producer } from 'kafkajs';
import { kafkaConfig, type KafkaConnectionOptions } from '../options.js';
import type { LogGate } from './logger.js';
import { RxmlError } from '@rxml/core/contract';
import type {
  ConsumerClient,
  ConsumerHandlers,
  OutgoingMessage,
  PartitionOffset,
  ProducerClient,
  TopicPartition,
} from './client.js';
import { compressionId, type KafkaCompression } from './compression.js';

/** The client to use and the switch that silences its logs once its owner has stopped. */
function kafkaOf(options: KafkaConnectionOptions): { kafka: Kafka; gate: LogGate } {
  const gate: LogGate = { closed: false };
  return { kafka: options.kafka ?? new Kafka(kafkaConfig(options, gate)), gate };
}

export interface KafkajsConsumerSettings {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly fromBeginning: boolean;
  readonly consumer: Omit<ConsumerConfig, 'groupId'>;
  /** Longest wait for a missing input topic to appear before failing, ms (0: fail at once). */
  readonly topicWaitMs: number;
  /** Told once when a topic is missing and is being waited for. */
  readonly onWaitingForTopic?: (topics: readonly string[]) => void;
}

/**
 * Waits until every topic in `topics` exists (someone creates it, or a producer's auto-creation does),
 * polling the metadata once a second, up to `waitMs`.
 * @throws RxmlError KAFKA_ERROR naming the missing topics once `waitMs` has passed.
 */
async function awaitTopics(kafka: Kafka, topics: readonly string[], waitMs: number, onWaiting?: (topics: readonly string[]) => void): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + waitMs;
    let told = false;
    for (;;) {
      const existing = new Set(await admin.listTopics());
      const missing = topics.filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      if (Date.now() >= deadline) {
        throw new RxmlError('KAFKA_ERROR', `input topic${missing.length > 1 ? 's' : ''} ${missing.join(', ')} did not appear within ${Math.round(waitMs / 1000)} s (fromKafka option topicWaitMs): create ${missing.length > 1 ? 'them' : 'it'} or check the name`);
      }
      if (!told) {
        told = true;
        onWaiting?.(missing);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, Math.max(0, deadline - Date.now()))));
    }
  } finally {
    await admin.disconnect();
  }
}

/** `ConsumerClient` on kafkajs: eachBatch without auto-resolve and without auto-commit. */
export function kafkajsConsumer(connection: KafkaConnectionOptions, settings: KafkajsConsumerSettings): ConsumerClient {
  const { kafka, gate } = kafkaOf(connection);
  const consumer: Consumer = kafka.consumer({ ...settings.consumer, groupId: settings.groupId });
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
      await awaitTopics(kafka, settings.topics, settings.topicWaitMs, settings.onWaitingForTopic);
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
      try {
        await consumer.disconnect();
      } finally {
        gate.closed = true;
      }
    },
  };
}

export interface KafkajsProducerSettings {
  /** Record-batch compression. Default none. */
  readonly compression?: KafkaCompression;
}

/** `ProducerClient` on kafkajs: one `sendBatch` per call, acks from all in-sync replicas. */
export function kafkajsProducer(connection: KafkaConnectionOptions, settings: KafkajsProducerSettings = {}): ProducerClient {
  const { kafka, gate } = kafkaOf(connection);
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const compression = settings.compression === undefined || settings.compression === 'none' ? undefined : compressionId(settings.compression);
  return {
    connect: () => producer.connect(),
    async send(messages: readonly OutgoingMessage[]): Promise<void> {
      // kafkajs reads key, value and headers (and ignores `topic`), so the messages go as they are:
      // no per-message copy. Usually all go to one topic.
      const first = messages[0];
      if (first === undefined) return;
      let topicMessages: { topic: string; messages: Message[] }[];
      if (messages.every((m) => m.topic === first.topic)) {
        topicMessages = [{ topic: first.topic, messages: messages as unknown as Message[] }];
      } else {
        const byTopic = new Map<string, Message[]>();
        for (const m of messages) {
          let list = byTopic.get(m.topic);
          if (list === undefined) byTopic.set(m.topic, (list = []));
          list.push(m);
        }
        topicMessages = [...byTopic].map(([topic, list]) => ({ topic, messages: list }));
      }
      await producer.sendBatch({ acks: -1, ...(compression === undefined ? {} : { compression }), topicMessages });
    },
    isRetriable: isRetriableKafkaError,
    async disconnect(): Promise<void> {
      try {
        await producer.disconnect();
      } finally {
        gate.closed = true;
      }
    },
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
