import zlib from 'node:zlib';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { Producer, ProduceAcks, createRecordsBatch, type MessageRecord, type ProducerOptions, type SASLOptions as PlatformaticSasl } from '@platformatic/kafka';
import { RxmlError } from '@rxml/core/contract';
import { kafkaConnectionFromEnv, resolvedConnection } from '../env.js';
import type { KafkaConnectionOptions } from '../options.js';
import type { OutgoingMessage, ProducerClient } from './client.js';
import type { KafkaCompression } from './compression.js';
import { javaCompatiblePartition } from './murmur2.js';
import { isProducerStateError, permanentConnectionFailure } from './connection-errors.js';
import { watchPlatformaticConnections } from './platformatic-watch.js';
import { failFastOn } from './tls-watch.js';

type Bytes = Buffer | string;

/** Accepts the seam's `Buffer | string`; UTF-8 for strings. */
const bytes = (data?: Bytes | null): Buffer | undefined =>
  data === undefined || data === null ? undefined : typeof data === 'string' ? Buffer.from(data) : data;

/**
 * Whether the installed `@platformatic/kafka` has rxml's record writer
 * (patches/@platformatic__kafka@1.35.0.patch in the rxml repo: a batch's records encoded into one
 * buffer; strings written as UTF-8 in place; a message's headers object taken as it is). The
 * unpatched writer takes Buffers only, so without it serializers turn strings into Buffers first.
 * Probed once, by encoding.
 */
export const platformaticRecordWriter: 'one buffer per batch' | 'unpatched' = (() => {
  try {
    // The unpatched writer throws on a string value; the patched one writes its UTF-8 bytes, and as
    // many buffers for 50 records as for one.
    const messages = (n: number): MessageRecord[] => Array.from({ length: n }, () => ({ topic: 'probe', value: 'é', headers: { h: 'v' }, timestamp: 0n }) as unknown as MessageRecord);
    const one = createRecordsBatch(messages(1));
    const many = createRecordsBatch(messages(50));
    return one.buffer.includes(Buffer.from('é')) && many.buffers.length === one.buffers.length ? 'one buffer per batch' : 'unpatched';
  } catch {
    return 'unpatched';
  }
})();

/** Header names repeat on every message (`rxml-model`, …): their bytes are encoded once. */
const headerNames = new Map<string, Buffer>();
const headerName = (name?: Bytes | null): Buffer | undefined => {
  if (typeof name !== 'string') return bytes(name);
  let buffer = headerNames.get(name);
  if (buffer === undefined) {
    buffer = Buffer.from(name);
    if (headerNames.size < 1024) headerNames.set(name, buffer);
  }
  return buffer;
};

const SASL_MECHANISMS: Readonly<Record<string, 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'>> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

/**
 * Why `@platformatic/kafka` cannot serve these options (so kafkajs produces), or undefined when it can.
 * It cannot reuse a ready kafkajs `kafka` instance, speaks SASL PLAIN/SCRAM but not kafkajs' `aws`
 * or its oauthbearer provider, and compresses zstd only where Node's zlib has it (Node ≥ 22.15).
 */
export function platformaticUnsupported(given: KafkaConnectionOptions, compression: KafkaCompression): string | undefined {
  if (given.kafka !== undefined) return 'a ready kafkajs `kafka` instance was given';
  const connection = given.brokers === undefined && given.sasl === undefined ? { ...kafkaConnectionFromEnv(), ...given } : given;
  if (connection.sasl !== undefined && SASL_MECHANISMS[connection.sasl.mechanism.toLowerCase()] === undefined) {
    return `SASL mechanism ${connection.sasl.mechanism} is kafkajs-only`;
  }
  if (compression === 'zstd' && typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync !== 'function') {
    return `zstd compression needs Node's zlib zstd (Node >= 22.15; this is ${process.version})`;
  }
  return undefined;
}

/**
 * kafkajs-style retriability for `@platformatic/kafka` errors: its own `canRetry` flag (network
 * errors, retriable broker error codes), request timeouts (safe to repeat with acks=all: at worst a
 * duplicate), responses cut short by a connection loss, and aggregates whose every member is retriable.
 */
export function isRetriablePlatformaticError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  // Refused credentials and untrusted certificates come wrapped in a NetworkError with canRetry.
  if (permanentConnectionFailure(error) !== undefined) return false;
  const e = error as { canRetry?: unknown; name?: unknown; code?: unknown; errors?: unknown; cause?: unknown };
  if (e.canRetry === true) return true;
  if (e.name === 'TimeoutError' || e.code === 'PLT_KFK_TIMEOUT' || e.code === 'PLT_KFK_NETWORK') return true;
  // A response cut short by a connection loss (broker restart) fails to decode: worth a retry
  // (acks=all, at worst a duplicate). Seen in the broker-restart test's loop of 20.
  if (e.code === 'OUT_OF_BOUNDS') return true;
  // The idempotent producer's "start again with a new producer id": after a failed send the patched
  // client takes a new id for the next one (see `platformaticProducer`), so a repeat is accepted.
  if (isProducerStateError((e as { apiId?: unknown }).apiId)) return true;
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.every(isRetriablePlatformaticError);
  return false;
}

/** The connection fields of `@platformatic/kafka` clients (`BaseOptions`) that rxml's connection options map to. */
export interface PlatformaticConnection {
  clientId: string;
  bootstrapBrokers: string[];
  connectTimeout?: number;
  /** The client's wait for an answer (kafkajs' `requestTimeout`). */
  requestTimeout: number;
  /** Sent to the broker (e.g. a produce request's timeout); the client does not wait on it. */
  timeout: number;
  tls?: TlsConnectionOptions;
  sasl?: PlatformaticSasl;
}

/**
 * rxml's connection options (or, without `brokers`, the environment's: `kafkaConnectionFromEnv`)
 * as `@platformatic/kafka` client options: brokers, client id, TLS, SASL PLAIN/SCRAM, timeouts.
 * Check {@link platformaticUnsupported} first: a kafkajs-only SASL mechanism is left out here.
 * @throws RxmlError INVALID_CONFIG without brokers.
 */
export function platformaticConnection(given: KafkaConnectionOptions): PlatformaticConnection {
  // Like kafkajs' config: without `brokers`, the connection comes from the environment.
  const connection = resolvedConnection(given);
  const brokers = connection.brokers;
  if (brokers === undefined || brokers.length === 0) {
    throw new RxmlError('INVALID_CONFIG', 'Kafka options need `brokers` (a list of host:port) or a `kafka` client, or KAFKA_BROKERS in the environment');
  }
  const options: PlatformaticConnection = {
    clientId: connection.clientId ?? 'rxml',
    bootstrapBrokers: [...brokers],
    ...(connection.connectionTimeout === undefined ? {} : { connectTimeout: connection.connectionTimeout }),
    // kafkajs' `requestTimeout` is how long the client waits for an answer: platformatic's
    // `requestTimeout`. Its `timeout` only travels to the broker; both get the same value.
    requestTimeout: connection.requestTimeout ?? 30_000,
    timeout: connection.requestTimeout ?? 30_000,
  };
  if (connection.ssl !== undefined && connection.ssl !== false) options.tls = connection.ssl === true ? {} : connection.ssl;
  if (connection.sasl !== undefined) {
    const sasl = connection.sasl as { mechanism: string; username?: string; password?: string };
    const mechanism = SASL_MECHANISMS[sasl.mechanism.toLowerCase()];
    if (mechanism !== undefined) {
      options.sasl = { mechanism, ...(sasl.username === undefined ? {} : { username: sasl.username }), ...(sasl.password === undefined ? {} : { password: sasl.password }) };
    }
  }
  return options;
}

export interface PlatformaticProducerSettings {
  readonly compression: KafkaCompression;
}

/**
 * `ProducerClient` on `@platformatic/kafka` 1.35 (pure TypeScript): one `send` per call with
 * acks = -1, Java-compatible murmur2 partitioning (the same partition as kafkajs' and Java's default
 * partitioner for a key), up to 5 requests in flight per broker connection, idempotent: a request
 * the client repeats by itself (a lost answer, a timeout) carries the same producer id and sequence
 * numbers, and the broker acknowledges a batch it already has instead of writing it again. rxml's
 * patch of the library makes that hold with pipelined calls (each call reserves its sequence numbers
 * in call order; the library advanced them only on a response) and starts a new producer id after a
 * failed call. Pipelined calls keep
 * their order on the wire: with its metadata and connection at hand it builds (and compresses,
 * synchronously) a call's request and queues it on the connection within the call; otherwise calls
 * wait, in order, on the same metadata or connection callbacks.
 */
export function platformaticProducer(given: KafkaConnectionOptions, settings: PlatformaticProducerSettings): ProducerClient {
  const options: ProducerOptions<Bytes, Bytes, string, Bytes> = {
    ...platformaticConnection(given),
    acks: ProduceAcks.ALL,
    // Kafka's idempotent producer (the Java client's default since 3.0): no duplicates or reordering
    // from the client's own retries. Needs acks = -1 and at most 5 requests in flight per connection
    // (the library's default, which rxml's patch keeps instead of the library's 1).
    idempotent: true,
    // The library's default; with `idempotent` it would retry forever instead, past deliveryTimeoutMs.
    retries: 3,
    autocreateTopics: true,
    // Java's default partitioner for keyed records (kafkajs' too); @platformatic/kafka's own
    // `compatibilityPartitioner` computes the same hash on BigInts (~600 bytes of garbage a record).
    partitioner: (_message, key) => javaCompatiblePartition(key),
    // The patched record writer takes the seam's Buffers and strings as they are: no serializers,
    // and then the client hands each message's headers object to it without copying it into Maps.
    ...(platformaticRecordWriter === 'unpatched' ? { serializers: { key: bytes, value: bytes, headerKey: headerName, headerValue: bytes } } : {}),
    ...(settings.compression === 'none' ? {} : { compression: settings.compression }),
  };
  const producer = new Producer<Bytes, Bytes, string, Bytes>(options);
  // Refused credentials, an untrusted certificate, or (without `tls`) a listener that speaks TLS fail
  // connect and send at once instead of after the client's retries, as with kafkajs (see tlsWatch).
  const watch = watchPlatformaticConnections(producer.instanceId, options.tls !== undefined);
  const failFast = failFastOn(watch.failed);
  return {
    // No connect step: it connects on first use. A metadata request surfaces an unreachable broker early.
    connect: async () => {
      await failFast(producer.metadata({ topics: [] }));
    },
    async send(messages: readonly OutgoingMessage[]): Promise<void> {
      // The seam's messages have the shape platformatic reads (topic, key, value, headers); null
      // keys and values go through `bytes` to undefined. No per-message copy.
      // A message with an exact header list (dead letters) goes as a Map keyed by distinct Buffers:
      // repeated names stay separate entries, null values are written as null.
      const sent = messages.some((m) => m.headerList !== undefined)
        ? messages.map((m) => (m.headerList === undefined ? m : { ...m, headers: new Map(m.headerList.map(([name, value]) => [Buffer.from(name), value])) }))
        : messages;
      await failFast(producer.send({ messages: sent as never }));
    },
    isRetriable: isRetriablePlatformaticError,
    disconnect: async () => {
      // close() ends the connections gracefully; one still in its TLS handshake or SASL exchange (a
      // client failed at its start) may not end until the broker closes it, and must not hold the
      // process: whatever is still open after close() (or 250 ms) is destroyed.
      const closing = producer.close();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closing.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, 250)))]);
      clearTimeout(timer);
      watch.destroySockets();
      watch.stop();
      await closing;
    },
  };
}
