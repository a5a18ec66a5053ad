import { Observable } from 'rxjs';
import { deserializerFor, type Deserializer, type DeserializerName } from './deserialize.js';
import type { ConsumerClient } from './internal/client.js';
import { KafkaSource, type KafkaSourceEvent } from './internal/kafka-source.js';
import { kafkajsConsumer } from './internal/kafkajs-client.js';
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
  /** With no committed offset, start from the earliest record (true) or only new ones (false, default). */
  readonly fromBeginning?: boolean;
  /**
   * Most records emitted but not completed. At this count fetching pauses; it resumes at three
   * quarters. Bounds memory whatever the backlog. Throughput is at most maxInFlight / end-to-end
   * latency (Little's law): a small model behind a 100 ms pipeline needs thousands. Default 1000.
   */
  readonly maxInFlight?: number;
  /**
   * Largest value accepted, in bytes. Bigger ones become `LIMIT_EXCEEDED` error records (→ the
   * dead-letter topic) instead of reaching the model. Default 1 MiB.
   */
  readonly maxMessageBytes?: number;
  /** How often completed offsets are committed, ms. Default 200. */
  readonly commitIntervalMs?: number;
  /** On abort: longest wait for in-flight records to complete before the final commit, ms. Default 30000. */
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
   * Longest a fetch waits for data, ms. kafkajs also sleeps this long whenever every partition is
   * paused, so it delays every resume: keep it short. Default 100.
   */
  readonly maxWaitTimeInMs?: number;
  /**
   * Reports assignments, revocations, pauses, commits, lag (per partition, at each commit and
   * every 5 s), offset resets and crashes. Guarded: a throw is reported on `rxml:callback:error`
   * (warned once) and ignored. The same events are published on the `rxml:source` channel.
   */
  readonly onEvent?: (event: KafkaSourceEvent) => void;
  /** How often `lag` events are reported besides at commits, ms. Default 5000. */
  readonly lagIntervalMs?: number;
}

export interface FromKafkaOptions<V> extends FromKafkaBaseOptions {
  /** `string` (UTF-8, default), `json`, `bytes`, or a function; a throw makes an error record. */
  readonly deserialize?: DeserializerName | Deserializer<V>;
}

function topicsOf(options: FromKafkaBaseOptions): string[] {
  const topics = [...(options.topics ?? []), ...(options.topic === undefined ? [] : [options.topic])];
  if (topics.length === 0) throw new TypeError('fromKafka needs `topic` or `topics`');
  return topics;
}

/** @internal The client factory, replaceable for another Kafka client library. */
export function fromKafkaWith<V>(
  options: FromKafkaOptions<V>,
  createClient: (options: FromKafkaOptions<V>, topics: readonly string[]) => ConsumerClient,
): Observable<KafkaRecord<V>> {
  const topics = topicsOf(options);
  const deserialize =
    typeof options.deserialize === 'function'
      ? options.deserialize
      : (deserializerFor(options.deserialize ?? 'string') as Deserializer<V>);
  const maxInFlight = options.maxInFlight ?? 1_000;
  if (!(maxInFlight >= 1)) throw new RangeError('maxInFlight must be at least 1');
  return new Observable<KafkaRecord<V>>((subscriber) => {
    const source = new KafkaSource<V>(createClient(options, topics), subscriber, {
      maxInFlight,
      deserialize,
      maxMessageBytes: options.maxMessageBytes ?? 1_048_576,
      commitIntervalMs: options.commitIntervalMs ?? 200,
      drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
      describe: `${topics.join(',')} (group ${options.groupId})`,
      groupId: options.groupId,
      ...(options.lagIntervalMs === undefined ? {} : { lagIntervalMs: options.lagIntervalMs }),
      signal: options.signal,
      onEvent: options.onEvent,
    });
    source.start();
    return () => source.teardown();
  });
}

function kafkajsClient<V>(options: FromKafkaOptions<V>, topics: readonly string[]): ConsumerClient {
  const consumer: Record<string, unknown> = {
    maxWaitTimeInMs: options.maxWaitTimeInMs ?? 100,
  };
  for (const key of ['sessionTimeout', 'heartbeatInterval', 'rebalanceTimeout', 'maxBytesPerPartition', 'maxBytes'] as const) {
    if (options[key] !== undefined) consumer[key] = options[key];
  }
  return kafkajsConsumer(options, { groupId: options.groupId, topics, fromBeginning: options.fromBeginning ?? false, consumer });
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
  return fromKafkaWith(options, kafkajsClient);
}
