/**
 * The seam between rxml and a Kafka client library. `fromKafka`/`toKafka` only talk to these
 * interfaces; `kafkajs-client.ts` implements them on kafkajs, `platformatic-producer.ts` the producer
 * on `@platformatic/kafka`, and `producers.ts` picks the producer. Another client (e.g. one that
 * speaks KIP-848) can replace one without changing the public API.
 */

import type { KafkaOffset } from '@rxml/core/contract';
import type { SkippedBatch } from './codecs.js';

/** Header values as Kafka clients deliver them. */
export type RawHeaders = Readonly<Record<string, Buffer | string | readonly (Buffer | string)[] | undefined>>;

export interface FetchedMessage {
  readonly offset: KafkaOffset;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: RawHeaders | undefined;
  readonly timestamp: string;
  /**
   * Set on the one stand-in message of a compressed batch that was not inflated (over
   * `maxDecompressedBatchBytes`): its offset is the batch's last offset, key and value are null.
   */
  readonly skippedBatch?: SkippedBatch;
}

export interface FetchedBatch {
  readonly topic: string;
  readonly partition: number;
  /**
   * The records to process, in offset order: without transaction markers and records of aborted
   * transactions (read_committed), which the client filters out. Empty when the fetched range held
   * only such records.
   */
  readonly messages: readonly FetchedMessage[];
  /**
   * Offset of the last record of the fetched range, filtered ones included (a marker, an aborted
   * record, a compacted gap): when every message is taken, the position moves past it, so the
   * committed offset reaches the end offset like the Java consumer's. Absent = the last message's.
   */
  readonly lastOffset?: KafkaOffset;
  /** The partition's end offset (high watermark) the broker reported with this fetch. */
  readonly highWatermark?: KafkaOffset;
}

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface PartitionOffset extends TopicPartition {
  /** The next offset to consume (last processed + 1), as Kafka commits it: a decimal string. */
  readonly offset: KafkaOffset;
}

export interface ConsumerHandlers {
  /**
   * A fetched batch of one partition, in offset order. Returns how many messages from the start of
   * the batch were taken; the client fetches the rest again later (after `resume()` if paused).
   * Must not block: slow work happens outside, so the client keeps heart-beating.
   */
  onBatch(batch: FetchedBatch): number;
  /** The group started a rebalance: assignments are about to change. */
  onRebalancing(): void;
  /** This member's assignment after a (re)join. `memberId` changes when the group forgot us. */
  onAssigned(assignment: readonly TopicPartition[], memberId: string): void;
  /** The client failed. With `restarting`, it reconnects and rejoins by itself. */
  onCrash(error: Error, restarting: boolean): void;
  /**
   * The fetch position of a partition was reset (OFFSET_OUT_OF_RANGE: the topic was deleted and
   * created again, the log truncated, or retention deleted unread records): the next batch of it
   * starts at the reset position, whatever offsets were seen before.
   */
  onOffsetReset?(partition: TopicPartition): void;
}

export interface ConsumerClient {
  /** Connects, subscribes and starts fetching. Rejects when the brokers cannot be reached. */
  start(handlers: ConsumerHandlers): Promise<void>;
  /** Stops fetching every subscribed topic; heartbeats go on. */
  pause(): void;
  resume(): void;
  /** Commits offsets of partitions this member owns. */
  commit(offsets: readonly PartitionOffset[]): Promise<void>;
  /**
   * Moves the fetch position of an owned partition to `offset` (a decimal string): batches fetched
   * from the old position that were not handed over yet are dropped, the next batch of the
   * partition starts there. Nothing is committed.
   */
  seek?(partition: TopicPartition, offset: KafkaOffset): void;
  /**
   * After the client crashed and left the group: commits `offsets` for the group only if it has no
   * other member (which would own these partitions now); rejects otherwise. Gives up (its client
   * disconnected, its retries ended) when `signal` aborts.
   */
  commitDetached?(offsets: readonly PartitionOffset[], signal?: AbortSignal): Promise<void>;
  /** Leaves the group and disconnects. */
  stop(): Promise<void>;
}

/**
 * Kafka topic IDs (KIP-516, Metadata v10+): a topic deleted and created again under the same name
 * gets a new ID, which tells its new log from the old one when the offsets alone cannot (kafkajs
 * reads no topic IDs). The source asks this before every offset commit.
 */
export interface TopicIdentityClient {
  /**
   * One Metadata request: each topic's ID now (a UUID string), `undefined` for a topic that does not
   * exist at the moment. Rejects when the metadata cannot be read (broker unreachable, timeout).
   */
  topicIds(topics: readonly string[]): Promise<ReadonlyMap<string, string | undefined>>;
  /** One ListOffsets request: each partition's earliest offset now (decimal strings). */
  earliestOffsets(topic: string, partitions: readonly number[]): Promise<ReadonlyMap<number, KafkaOffset>>;
  close(): Promise<void>;
}

export interface OutgoingMessage {
  readonly topic: string;
  readonly key: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly headers: OutgoingMessageHeaders;
  /**
   * The exact header list, in order, repeated names and null values included (dead letters copy
   * their source record's headers this way). When set, producers write it instead of `headers`.
   */
  readonly headerList?: HeaderList;
}

/** Record headers as (name, value) pairs in record order; `null` is a header without a value. */
export type HeaderList = readonly (readonly [string, Buffer | string | null])[];

export interface OutgoingMessageHeaders {
  readonly [name: string]: Buffer | string;
}

/**
 * A producer client. `send` may be called again before an earlier call settled (pipelined sends);
 * the client must then put the messages of the earlier call on the wire first, so per-partition
 * order follows call order when no send fails.
 */
export interface ProducerClient {
  connect(): Promise<void>;
  /**
   * Sends all messages in as few requests as possible and resolves when every one is acked by all
   * in-sync replicas. `headers` objects may be shared between messages and must not be changed.
   */
  send(messages: readonly OutgoingMessage[]): Promise<void>;
  /** Whether repeating a failed `send` can help (connection loss, leader change, timeouts). */
  isRetriable(error: unknown): boolean;
  disconnect(): Promise<void>;
}

/** Whether retrying a failed client call can help (connection loss, leader change, timeouts). */
export type RetriableCheck = (error: unknown) => boolean;

/** A partition's offsets: `low` = earliest kept, `high` = end (next offset to be written). */
export interface PartitionRange {
  readonly partition: number;
  readonly low: bigint;
  readonly high: bigint;
}

/**
 * Reads every partition of one topic from its beginning, without committing anything (the models
 * topic: each reader rebuilds the latest state from the log). `modelsFromKafka` talks to this.
 */
export interface TopicReaderClient {
  /** Each partition's earliest and end offsets now (the end to reach before the reader is caught up). */
  /**
   * Each partition's offsets; waits (up to 60 s) for a topic that does not exist yet, calling
   * `missing` once if it has to, and gives up early (rejects) when `signal` aborts.
   */
  offsets(wait?: { readonly missing?: () => void; readonly signal?: AbortSignal }): Promise<readonly PartitionRange[]>;
  /** Connects and starts fetching from the earliest offset of every partition. */
  start(handlers: { onBatch(batch: FetchedBatch): void; onCrash(error: Error, restarting: boolean): void }): Promise<void>;
  stop(): Promise<void>;
}

/** Creates a topic (nothing when it exists) with Kafka topic configs such as `cleanup.policy`. */
export interface TopicAdminClient {
  createTopic(topic: string, partitions: number, configs: Readonly<Record<string, string>>): Promise<boolean>;
}
