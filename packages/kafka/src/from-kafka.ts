import { CHANNELS, guardCallback, publish } from '@rxml/core/contract';
import { Observable } from 'rxjs';
import { invalidConfig } from '@rxml/core/contract';
import { deserializerFor, type Deserializer, type DeserializerName } from './deserialize.js';
import type { ConsumerClient, TopicIdentityClient } from './internal/client.js';
import { DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES } from './internal/codecs.js';
import { KafkaSource, type KafkaSourceEvent } from './internal/kafka-source.js';
import type { IsolationLevel } from './internal/partition-session.js';
import { kafkajsConsumer } from './internal/kafkajs-client.js';
import { platformaticTopicIdentity } from './internal/topic-identity.js';
import { publishingSourceEvents } from './internal/source-channel.js';
import type { KafkaConnectionOptions } from './options.js';
import type { KafkaRecord } from './record.js';

export type { KafkaSourceEvent } from './internal/kafka-source.js';

export interface FromKafkaBaseOptions extends KafkaConnectionOptions {
  /** The topic to consume (or `topics`). */
  readonly topic?: string;
  /** Several topics to consume (or `topic`). */
  readonly topics?: readonly string[];
  /** Consumer group: offsets are committed for it and partitions shared among its members. */
  readonly groupId: string;
  /**
   * Where a group with no committed offset starts: the earliest record (true, default — like Kafka
   * Streams' `auto.offset.reset=earliest` for a new application) or only records written after it
   * joined (false, the plain Java consumer's `latest`).
   */
  readonly fromBeginning?: boolean;
  /**
   * A missing input topic is waited for (a line on stderr, an `rxml:source` event `waiting-for-topic`)
   * up to this long, ms, then the stream fails with a `KAFKA_ERROR` naming the topic. Default 60000.
   */
  readonly topicWaitMs?: number;
  /**
   * Most bytes held by records emitted but not completed, counted as key + value bytes + 1024 per
   * record (the objects the pipeline builds for it: ~1.2 KB measured). At this level fetching
   * pauses; it resumes at three quarters. Bounds memory whatever the backlog, like the Java
   * consumer's fetch buffer limits, without capping throughput at a record count. Default 64 MiB
   * (67108864: about 59,000 records of 100 B, 33,000 of 1 KB).
   */
  readonly maxInFlightBytes?: number;
  /**
   * Optional cap on the number of records emitted but not completed (pauses at it, resumes at three
   * quarters), for records that cost much more memory than their bytes (images decoded
   * downstream). Throughput is at most maxInFlight / end-to-end latency (Little's law), so keep it
   * in the thousands for small models. Default: no count cap (only `maxInFlightBytes`).
   */
  readonly maxInFlight?: number;
  /**
   * Largest value accepted, in bytes. Bigger ones become `LIMIT_EXCEEDED` error records (→ the
   * dead-letter topic) instead of reaching the model. Default 1 MiB.
   */
  readonly maxMessageBytes?: number;
  /** How often completed offsets are committed, ms. Default 200. */
  readonly commitIntervalMs?: number;
  /**
   * On abort: longest wait for in-flight records to complete before the final commit, ms. Default
   * 30000. It bounds this source only: downstream operators still finish what they hold (a model
   * call, sends in flight) before the pipeline completes (docs/kafka.md, "Shutdown").
   */
  readonly drainTimeoutMs?: number;
  /**
   * Graceful shutdown: on abort, fetching stops, in-flight records drain (up to `drainTimeoutMs`),
   * completed offsets are committed, the consumer leaves the group, and then the stream completes.
   */
  readonly signal?: AbortSignal;
  /** The group drops a member that sent no heartbeat for this long, ms. Default 30000. */
  readonly sessionTimeout?: number;
  /** Heartbeat period, ms; about a third of `sessionTimeout`. Default 3000. */
  readonly heartbeatInterval?: number;
  /** Time members have to rejoin during a rebalance, ms. Default 60000. */
  readonly rebalanceTimeout?: number;
  /** Most bytes fetched per partition per request. Default 1 MiB. */
  readonly maxBytesPerPartition?: number;
  /** Most bytes per fetch response. Default 10 MiB. */
  readonly maxBytes?: number;
  /**
   * Most bytes one compressed record batch (gzip, snappy, lz4, zstd) may inflate to. A batch over
   * it is not inflated (gzip and zstd stop at the bound; snappy and lz4 are checked before, from
   * the sizes their framing declares), so a small "zip bomb" batch cannot exhaust memory: it
   * becomes one `LIMIT_EXCEEDED` error record (offset = the batch's last offset, no key or value,
   * headers `rxml-batch-*` naming its offsets, record count, codec and sizes → the dead-letter
   * topic) and a `batch-skipped` event; the pipeline goes on and commits past it. Its records are
   * not processed. Default: `maxBytes` (10 MiB unless set), the most one fetch response may carry.
   */
  readonly maxDecompressedBatchBytes?: number;
  /**
   * Longest a fetch waits for data, ms. kafkajs also sleeps this long whenever every partition is
   * paused, so it delays every resume: keep it short. Default 100.
   */
  readonly maxWaitTimeInMs?: number;
  /**
   * Kafka's `isolation.level`. `read_committed` (default, as in kafkajs; the Java consumer's default
   * is `read_uncommitted`) reads only records of committed transactions and skips aborted ones;
   * `read_uncommitted` reads everything written. A `toKafka({ exactlyOnce: true })` sink requires
   * `read_committed` input.
   */
  readonly isolationLevel?: IsolationLevel;
  /**
   * Reports assignments, revocations, pauses, commits, lag (per partition, at each commit and
   * every 5 s), offset resets and crashes. Guarded: a throw is reported on `rxml:callback:error`
   * (warned once) and ignored. The same events are published on the `rxml:source` channel.
   */
  readonly onEvent?: (event: KafkaSourceEvent) => void;
  /** How often `lag` events are reported besides at commits, ms. Default 5000. */
  readonly lagIntervalMs?: number;
  /**
   * How often the input topics' IDs (Kafka topic IDs, KIP-516: a topic deleted and created again
   * gets a new one) are checked besides before every offset commit and at every assignment, ms.
   * A changed ID resets the topic's partitions to the new log's earliest offset (an `offset-reset`
   * event with reason `topic-recreated`), so a pipeline that commits rarely notices soon. Each check
   * is one Metadata request (on `@platformatic/kafka`'s admin client, same brokers, TLS and SASL).
   * 0 turns off this timer only: the check before each commit always runs. Not made with a ready
   * kafkajs `kafka` instance or a kafkajs-only SASL mechanism (aws, oauthbearer). Default 5000; at
   * most 2147483647 (Node's timer maximum), else `INVALID_CONFIG`.
   */
  readonly topicIdCheckIntervalMs?: number;
}

export interface FromKafkaOptions<V> extends FromKafkaBaseOptions {
  /** `string` (UTF-8, default), `json`, `bytes`, or a function; a throw makes an error record. */
  readonly deserialize?: DeserializerName | Deserializer<V>;
}

/** `maxInFlightBytes` default: 64 MiB. */
export const DEFAULT_MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;

function topicsOf(options: FromKafkaBaseOptions): string[] {
  const topics = [...(options.topics ?? []), ...(options.topic === undefined ? [] : [options.topic])];
  if (topics.length === 0) throw invalidConfig('fromKafka', 'topic or topics', 'at least one topic name', options.topics ?? options.topic);
  return topics;
}

/** @internal The client factory, replaceable for another Kafka client library. */
export function fromKafkaWith<V>(
  options: FromKafkaOptions<V>,
  createClient: (options: FromKafkaOptions<V>, topics: readonly string[]) => ConsumerClient,
  createTopicIdentity?: (options: FromKafkaOptions<V>) => TopicIdentityClient | undefined,
): Observable<KafkaRecord<V>> {
  const topics = topicsOf(options);
  const deserialize =
    typeof options.deserialize === 'function'
      ? options.deserialize
      : (deserializerFor(options.deserialize ?? 'string') as Deserializer<V>);
  const maxInFlight = options.maxInFlight ?? Number.POSITIVE_INFINITY;
  if (typeof maxInFlight !== 'number' || !(maxInFlight >= 1)) throw invalidConfig('fromKafka', 'maxInFlight', 'a number of records >= 1', maxInFlight);
  const maxDecompressedBatchBytes = options.maxDecompressedBatchBytes ?? options.maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES;
  if (typeof maxDecompressedBatchBytes !== 'number' || !Number.isSafeInteger(maxDecompressedBatchBytes) || maxDecompressedBatchBytes < 1) {
    throw invalidConfig('fromKafka', 'maxDecompressedBatchBytes', 'a whole number of bytes >= 1', maxDecompressedBatchBytes);
  }
  const maxInFlightBytes = options.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES;
  if (typeof maxInFlightBytes !== 'number' || !(maxInFlightBytes >= 1)) throw invalidConfig('fromKafka', 'maxInFlightBytes', 'a number of bytes >= 1', maxInFlightBytes);
  const topicIdCheckIntervalMs = options.topicIdCheckIntervalMs ?? 5_000;
  // At most Node's timer maximum: a longer interval (or Infinity) would fire every 1 ms (TimeoutOverflowWarning), a Metadata request storm.
  if (typeof topicIdCheckIntervalMs !== 'number' || !(topicIdCheckIntervalMs >= 0 && topicIdCheckIntervalMs <= 2_147_483_647)) {
    throw invalidConfig('fromKafka', 'topicIdCheckIntervalMs', 'a number of ms from 0 to 2147483647 (0: check only before commits)', topicIdCheckIntervalMs);
  }
  return new Observable<KafkaRecord<V>>((subscriber) => {
    const source = new KafkaSource<V>(createClient(options, topics), subscriber, {
      topicIdentity: createTopicIdentity?.(options),
      topicIdCheckIntervalMs,
      maxInFlight,
      maxInFlightBytes,
      deserialize,
      maxMessageBytes: options.maxMessageBytes ?? 1_048_576,
      commitIntervalMs: options.commitIntervalMs ?? 200,
      drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
      describe: `${topics.join(',')} (group ${options.groupId})`,
      group: options.groupId,
      ...(options.lagIntervalMs === undefined ? {} : { lagIntervalMs: options.lagIntervalMs }),
      signal: options.signal,
      isolationLevel: options.isolationLevel ?? 'read_committed',
      // Guarded: a throwing onEvent is reported on rxml:callback:error and never changes a record's fate.
      onEvent: publishingSourceEvents(options.groupId, options.onEvent === undefined ? undefined : guardCallback('onEvent', options.onEvent)),
    });
    source.start();
    return () => source.teardown();
  });
}

function kafkajsClient<V>(options: FromKafkaOptions<V>, topics: readonly string[]): ConsumerClient {
  const maxDecompressedBatchBytes = options.maxDecompressedBatchBytes ?? options.maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BATCH_BYTES;
  const consumer: Record<string, unknown> = {
    maxWaitTimeInMs: options.maxWaitTimeInMs ?? 100,
    readUncommitted: options.isolationLevel === 'read_uncommitted',
  };
  for (const key of ['sessionTimeout', 'heartbeatInterval', 'rebalanceTimeout', 'maxBytesPerPartition', 'maxBytes'] as const) {
    if (options[key] !== undefined) consumer[key] = options[key];
  }
  return kafkajsConsumer(options, {
    groupId: options.groupId,
    topics,
    fromBeginning: options.fromBeginning ?? true,
    consumer,
    topicWaitMs: options.topicWaitMs ?? 60_000,
    maxDecompressedBatchBytes,
    onWaitingForTopic: (missing) => {
      console.error(`[rxml:kafka] waiting for input topic ${missing.join(', ')} to exist (up to ${Math.round((options.topicWaitMs ?? 60_000) / 1000)} s)`);
      publish(CHANNELS.source, { source: 'kafka', type: 'waiting-for-topic', group: options.groupId, topic: missing.join(',') });
    },
  });
}

/**
 * A cold Observable of the records of `topic` for consumer group `groupId`. Each subscription is one
 * group member. Delivery is at-least-once: a record's offset is committed only after the record is
 * completed (`record.complete()`, which `toKafka` calls once the broker acked the output), and only
 * as part of its partition's contiguous completed prefix.
 *
 * @example
 * const model = await loadIrisModel();
 * fromKafka({ brokers, topic: 'IrisInputTopic', groupId: 'iris' })
 *   .pipe(
 *     predictIris(model, { select: (r) => r.value }),
 *     toKafka({ brokers, topic: 'IrisOutputTopic', deadLetterTopic: 'IrisDeadLetters' }),
 *   )
 *   .subscribe();
 */
export function fromKafka(options: FromKafkaBaseOptions & { readonly deserialize?: 'string' }): Observable<KafkaRecord<string>>;
export function fromKafka(options: FromKafkaBaseOptions & { readonly deserialize: 'json' }): Observable<KafkaRecord<unknown>>;
export function fromKafka(options: FromKafkaBaseOptions & { readonly deserialize: 'bytes' }): Observable<KafkaRecord<Buffer | null>>;
export function fromKafka<V>(options: FromKafkaBaseOptions & { readonly deserialize: Deserializer<V> }): Observable<KafkaRecord<V>>;
export function fromKafka<V>(options: FromKafkaOptions<V>): Observable<KafkaRecord<V>> {
  return fromKafkaWith(options, kafkajsClient, platformaticTopicIdentity);
}
