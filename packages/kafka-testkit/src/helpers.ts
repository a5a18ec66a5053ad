import { randomUUID } from 'node:crypto';
import type { KafkaOffset } from '@rxml/core/contract';
import { Kafka, logLevel, type IHeaders, type KafkaConfig, type Message } from 'kafkajs';

/** One record as read back from a topic. */
export interface TopicRecord {
  readonly topic: string;
  readonly partition: number;
  /** Decimal string (`KafkaOffset`), like `KafkaRecord.offset` in @rxml/kafka and kafkajs (JSON-safe, exact past 2^53). */
  readonly offset: KafkaOffset;
  readonly key: string | null;
  readonly value: string | null;
  /**
   * Headers as UTF-8 text by name; a repeated name's values joined with `,`. A header without a
   * value (null, legal in Kafka) is left out here: see `headerList`.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** Every header in record order as (name, UTF-8 text or `null` for a header without a value), repeated names kept. */
  readonly headerList: readonly (readonly [string, string | null])[];
  readonly timestamp: number;
}

/** A record to produce. Strings are UTF-8 encoded; `partition` pins the partition. */
export interface ProduceRecord {
  readonly key?: string | Buffer | null;
  readonly value: string | Buffer | null;
  readonly partition?: number;
  readonly headers?: Readonly<Record<string, string | Buffer>>;
}

/**
 * Where the helpers connect: bootstrap addresses, or those plus TLS/SASL settings (a secured broker's
 * `security.admin`).
 */
export type KafkaTarget =
  | readonly string[]
  | { readonly brokers: readonly string[]; readonly ssl?: KafkaConfig['ssl']; readonly sasl?: KafkaConfig['sasl'] };

/** kafkajs connection fields of a target. */
export function connectionOf(target: KafkaTarget): Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> {
  if (Array.isArray(target)) return { brokers: [...(target as readonly string[])] };
  const t = target as Exclude<KafkaTarget, readonly string[]>;
  return { brokers: [...t.brokers], ...(t.ssl === undefined ? {} : { ssl: t.ssl }), ...(t.sasl === undefined ? {} : { sasl: t.sasl }) };
}

function client(target: KafkaTarget): Kafka {
  return new Kafka({
    clientId: 'rxml-kafka-testkit',
    ...connectionOf(target),
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 200 },
  });
}

/**
 * Retries what kafkajs calls retriable (a broker that just (re)started answers NOT_LEADER or
 * LEADER_NOT_AVAILABLE for a moment) for up to 30 s.
 */
async function retrying<T>(call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const retriable = (error as { retriable?: unknown }).retriable === true || (error as { name?: unknown }).name === 'KafkaJSNumberOfRetriesExceeded';
      if (!retriable || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/**
 * Creates topics (ignoring ones that exist) and waits until their leaders are known and serve: the
 * metadata names a leader before that broker has taken the partition over, and a produce request in
 * between is refused NOT_LEADER_OR_FOLLOWER. (A client retries that, but a test's first batches
 * refused while later pipelined ones are written tests something else than it means to: an
 * idempotent producer's first batch then comes after its later ones.) Each topic's offsets are
 * listed (ListOffsets goes to each partition's leader) until every partition answers.
 */
export async function createTopics(
  brokers: KafkaTarget,
  topics: readonly { readonly topic: string; readonly partitions?: number }[],
): Promise<void> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      // kafkajs' own leader wait trips over a transient UNKNOWN_TOPIC_OR_PARTITION on new brokers.
      waitForLeaders: false,
      topics: topics.map((t) => ({ topic: t.topic, numPartitions: t.partitions ?? 1, replicationFactor: 1 })),
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const { topics: metadata } = await admin.fetchTopicMetadata({ topics: topics.map((t) => t.topic) });
        const ready = topics.every((t) => {
          const m = metadata.find((x) => x.name === t.topic);
          return m !== undefined && m.partitions.length === (t.partitions ?? 1) && m.partitions.every((p) => p.leader >= 0);
        });
        if (ready) {
          for (const t of topics) await admin.fetchTopicOffsets(t.topic);
          return;
        }
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topics ${topics.map((t) => t.topic).join(', ')} have no leaders after 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Produces records in batches (never one request per record) with acks from all replicas.
 * Returns the number produced.
 */
export async function produce(
  brokers: KafkaTarget,
  topic: string,
  records: Iterable<ProduceRecord>,
  options: { readonly batchSize?: number } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 5_000;
  // Idempotent: kafkajs retries a whole request when one partition of it fails (e.g. a topic whose
  // partitions are still being created), and without idempotence that duplicates the others.
  const producer = client(brokers).producer({ allowAutoTopicCreation: true, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let count = 0;
  try {
    let batch: Message[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const messages = batch;
      batch = [];
      await producer.send({ topic, acks: -1, messages });
    };
    for (const record of records) {
      const message: Message = { value: record.value };
      if (record.key !== undefined) message.key = record.key;
      if (record.partition !== undefined) message.partition = record.partition;
      if (record.headers !== undefined) message.headers = { ...record.headers };
      batch.push(message);
      count++;
      if (batch.length >= batchSize) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return count;
}

/** Whether `topic` exists (one metadata request; never auto-creates it). */
export async function topicExists(brokers: KafkaTarget, topic: string): Promise<boolean> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const topics = await retrying(() => admin.listTopics());
    return topics.includes(topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * End offset (high watermark: the offset the next record will get) of every partition of `topic`,
 * partition → decimal string (`KafkaOffset`, as kafkajs' `fetchTopicOffsets` returns it). Compare
 * with `BigInt(a) < BigInt(b)`; sum with `BigInt`.
 */
export async function endOffsets(brokers: KafkaTarget, topic: string): Promise<Map<number, KafkaOffset>> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const offsets = await retrying(() => admin.fetchTopicOffsets(topic));
    return new Map(offsets.map((o) => [o.partition, o.high]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Offsets committed by `groupId` on `topic` (the next offset the group will read), partition →
 * decimal string (`KafkaOffset`); partitions without a commit are absent.
 */
export async function committedOffsets(
  brokers: KafkaTarget,
  groupId: string,
  topic: string,
): Promise<Map<number, KafkaOffset>> {
  const admin = client(brokers).admin();
  await admin.connect();
  try {
    const [entry] = await retrying(() => admin.fetchOffsets({ groupId, topics: [topic] }));
    const result = new Map<number, KafkaOffset>();
    for (const p of entry?.partitions ?? []) {
      // kafkajs reports '-1' for a partition without a commit.
      if (BigInt(p.offset) >= 0n) result.set(p.partition, p.offset);
    }
    return result;
  } finally {
    await admin.disconnect();
  }
}

type HeaderValue = Buffer | string | null | undefined;

function headerText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {}) as [string, HeaderValue | HeaderValue[]][]) {
    const present = (Array.isArray(value) ? value : [value]).filter((v): v is Buffer | string => v !== null && v !== undefined);
    if (present.length > 0) out[name] = present.map(String).join(',');
  }
  return out;
}

/** Record order, as @rxml/kafka's patched kafkajs decoder keeps it (Symbol.for('rxml.kafka.headerList')); else the object's order. */
function headerListText(headers: IHeaders | undefined): [string, string | null][] {
  const exact = (headers as { [key: symbol]: unknown } | undefined)?.[Symbol.for('rxml.kafka.headerList')];
  if (Array.isArray(exact)) return (exact as { key: string; value: HeaderValue }[]).map((h) => [h.key, h.value === null || h.value === undefined ? null : String(h.value)]);
  const list: [string, string | null][] = [];
  for (const [name, value] of Object.entries(headers ?? {}) as [string, HeaderValue | HeaderValue[]][]) {
    for (const v of Array.isArray(value) ? value : [value]) list.push([name, v === null || v === undefined ? null : String(v)]);
  }
  return list;
}

export interface ReadTopicOptions {
  /** Longest wait for the end offsets, ms. Default 60000. */
  readonly timeoutMs?: number;
  /**
   * `read_committed` (default): records of aborted transactions are skipped, as a downstream
   * consumer of an exactly-once pipeline reads. `read_uncommitted`: every record written.
   */
  readonly isolationLevel?: 'read_committed' | 'read_uncommitted';
}

/**
 * Reads `topic` from the beginning up to its current end offsets (taken when the call starts)
 * and returns the records in partition order. Uses a throw-away consumer group.
 */
export async function readTopic(
  brokers: KafkaTarget,
  topic: string,
  options: ReadTopicOptions = {},
): Promise<TopicRecord[]> {
  if (!(await topicExists(brokers, topic))) return [];
  const ends = new Map([...(await endOffsets(brokers, topic))].map(([p, end]) => [p, BigInt(end)] as const));
  const remaining = new Map([...ends].filter(([, end]) => end > 0n));
  const perPartition = new Map<number, TopicRecord[]>();
  if (remaining.size === 0) return [];
  const consumer = client(brokers).consumer({
    groupId: `rxml-testkit-read-${randomUUID()}`,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxWaitTimeInMs: 200,
    readUncommitted: options.isolationLevel === 'read_uncommitted',
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`readTopic(${topic}) timed out; still waiting on partitions ${[...remaining.keys()].join(',')}`)),
        options.timeoutMs ?? 60_000,
      );
      consumer
        .run({
          autoCommit: false,
          eachBatch: ({ batch }) => {
            const end = ends.get(batch.partition) ?? 0n;
            let list = perPartition.get(batch.partition);
            if (list === undefined) perPartition.set(batch.partition, (list = []));
            for (const m of batch.messages) {
              const offset = BigInt(m.offset);
              if (offset >= end) break;
              list.push({
                topic,
                partition: batch.partition,
                offset: m.offset,
                key: m.key === null ? null : m.key.toString(),
                value: m.value === null ? null : m.value.toString(),
                headers: headerText(m.headers),
                headerList: headerListText(m.headers),
                timestamp: Number(m.timestamp),
              });
            }
            const last = BigInt(batch.lastOffset());
            if (last + 1n >= end) remaining.delete(batch.partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return [...perPartition.keys()].sort((a, b) => a - b).flatMap((p) => perPartition.get(p) ?? []);
}
