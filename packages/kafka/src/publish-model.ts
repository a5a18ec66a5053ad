import { createHash } from 'node:crypto';
import { RxmlError, invalidConfig, modelIdentityProblem } from '@rxml/core/contract';
import type { ProducerClient, TopicAdminClient } from './internal/client.js';
import { kafkajsProducer, kafkajsTopicAdmin } from './internal/kafkajs-client.js';
import { MODEL_HEADERS } from './models-topic.js';
import type { KafkaConnectionOptions } from './options.js';

/** Kafka's default `max.message.bytes` of a topic (1048588) less room for the key, headers and batch overhead. */
const DEFAULT_MAX_MESSAGE_BYTES = 1_000_000;

export interface PublishModelOptions extends KafkaConnectionOptions {
  /** The models topic. */
  readonly topic: string;
  /** The model name: the record key (compaction keeps the latest record per name). */
  readonly name: string;
  /** The artifact (e.g. `saveModelBytes(network)`, an `.onnx` file's bytes). Hashed (SHA-256) in every case. */
  readonly bytes: Uint8Array;
  /**
   * Publish by reference: the artifact is served at this http(s) URL (the exact `bytes` given; the
   * readers check the hash), and the record carries the URL instead of the bytes. Needed for
   * artifacts over `maxMessageBytes`.
   */
  readonly url?: string;
  /** The version readers report (`model.version`). Default: the first 16 hex digits of the SHA-256 (like `contentVersion`). */
  readonly version?: string;
  /**
   * The largest record value the topic takes, bytes (its `max.message.bytes`, less overhead). An
   * inline artifact over it is rejected before anything is sent. Default 1000000.
   */
  readonly maxMessageBytes?: number;
}

export interface PublishedModel {
  readonly name: string;
  readonly version: string;
  /** SHA-256 of the artifact bytes, hex. */
  readonly sha256: string;
  /** Artifact size, bytes. */
  readonly bytes: number;
  readonly location: 'inline' | 'url';
}

/** @internal */
export type PublishClients = { producer(options: PublishModelOptions): ProducerClient };

/**
 * Writes one model version to a models topic (the format of `MODEL_HEADERS`), acknowledged by all
 * in-sync replicas: key = `name`, value = the artifact bytes (or `url`), headers = version, SHA-256
 * and location. Every `modelsFromKafka` reader of `name` then loads it.
 *
 * @throws RxmlError `LIMIT_EXCEEDED` when the artifact is over `maxMessageBytes` and no `url` is
 *   given (nothing is sent); `INVALID_CONFIG` for a missing topic or name, a `name` or `version`
 *   over 256 bytes of UTF-8 or holding a control character (`MAX_MODEL_ID_BYTES`), or a `url` that is not
 *   http(s); `KAFKA_ERROR` when the broker does not acknowledge it.
 */
export async function publishModel(options: PublishModelOptions, clients: PublishClients = { producer: (o) => kafkajsProducer(o) }): Promise<PublishedModel> {
  if (typeof options.topic !== 'string' || options.topic === '') throw invalidConfig('publishModel', 'topic', 'a topic name', options.topic);
  if (typeof options.name !== 'string' || options.name === '') throw invalidConfig('publishModel', 'name', 'the model name', options.name);
  for (const field of ['name', 'version'] as const) {
    const value = options[field];
    const problem = value === undefined ? undefined : modelIdentityProblem(field, value);
    if (problem !== undefined) throw new RxmlError('INVALID_CONFIG', `publishModel: ${problem} (at most MAX_MODEL_ID_BYTES = 256 bytes of UTF-8, no control characters; it is written into every output record's headers)`);
  }
  if (options.url !== undefined && !/^https?:\/\//i.test(options.url)) throw invalidConfig('publishModel', 'url', 'an http: or https: URL', options.url);
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const sha256 = createHash('sha256').update(options.bytes).digest('hex');
  const version = options.version ?? sha256.slice(0, 16);
  const location = options.url === undefined ? 'inline' : 'url';
  if (location === 'inline' && options.bytes.byteLength > maxMessageBytes) {
    throw new RxmlError(
      'LIMIT_EXCEEDED',
      `publishModel: model '${options.name}' is ${options.bytes.byteLength} bytes, over the topic's limit of ${maxMessageBytes} bytes (option maxMessageBytes): serve it over http(s) and pass its url (readers check its SHA-256)`,
    );
  }
  const producer = clients.producer(options);
  try {
    await producer.connect();
    await producer.send([
      {
        topic: options.topic,
        key: options.name,
        value: location === 'inline' ? Buffer.from(options.bytes.buffer, options.bytes.byteOffset, options.bytes.byteLength) : options.url!,
        headers: { [MODEL_HEADERS.version]: version, [MODEL_HEADERS.sha256]: sha256, [MODEL_HEADERS.location]: location },
      },
    ]);
  } catch (cause) {
    throw new RxmlError('KAFKA_ERROR', `publishModel: cannot write model '${options.name}' to ${options.topic}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, retriable: true });
  } finally {
    await producer.disconnect().catch(() => {});
  }
  return { name: options.name, version, sha256, bytes: options.bytes.byteLength, location };
}

export interface CreateModelsTopicOptions extends KafkaConnectionOptions {
  readonly topic: string;
  /** Partitions. Default 1 (a handful of models; readers read every partition anyway). */
  readonly partitions?: number;
  /** The topic's `max.message.bytes`: the largest inline artifact plus overhead. Default Kafka's (1048588). */
  readonly maxMessageBytes?: number;
}

/**
 * Creates a models topic if it does not exist: `cleanup.policy=compact` (Kafka keeps at least the
 * latest record per model name forever, so a reader started any time later still finds every model),
 * optionally with `max.message.bytes`. Resolves `true` when it created it, `false` when it existed.
 *
 * @throws RxmlError `KAFKA_ERROR` when the brokers refuse or cannot be reached.
 */
export async function createModelsTopic(options: CreateModelsTopicOptions, admin: TopicAdminClient = kafkajsTopicAdmin(options)): Promise<boolean> {
  const configs: Record<string, string> = { 'cleanup.policy': 'compact' };
  if (options.maxMessageBytes !== undefined) configs['max.message.bytes'] = String(options.maxMessageBytes);
  try {
    return await admin.createTopic(options.topic, options.partitions ?? 1, configs);
  } catch (cause) {
    throw new RxmlError('KAFKA_ERROR', `createModelsTopic: cannot create ${options.topic}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
