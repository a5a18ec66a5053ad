import { CHANNELS, hasSubscribers, publish, RxmlError, type PredictResult } from '@rxml/core/contract';
import { Observable, type OperatorFunction } from 'rxjs';
import type { ModelIdentity } from '@rxml/core/contract';
import type { OutgoingMessage, OutgoingMessageHeaders, ProducerClient } from './internal/client.js';
import { compressionOf, type KafkaCompression } from './internal/compression.js';
import { chooseProducer, createProducer, logClients, type ProducerLibrary } from './internal/producers.js';
import { flatHeadersOf, headerListOf, headerListSize, isPerRecordError, isTooLarge, refusedDeadLetter, refusedError } from './internal/dead-letters.js';
import { publishSent } from './internal/sink-channel.js';
import { authorizationFailure, refusedTopics } from './internal/connection-errors.js';
import { sinkConnectFailure, withPermanentReason } from './internal/sink-connect.js';
import { exactlyOnceSink } from './internal/exactly-once.js';
import type { KafkaConnectionOptions } from './options.js';
import type { KafkaSourced } from './record.js';
import { invalidConfig, jsonTextOf } from '@rxml/core/contract';

/** Bad sizes and timeouts are refused when the sink is created (`INVALID_CONFIG` naming the option). */
function checkLimits(options: ToKafkaOptions<never, never>): void {
  const limits = [
    ['maxMessageBytes', options.maxMessageBytes, 'a number of bytes >= 1', 1],
    ['maxBatchMessages', options.maxBatchMessages, 'a number of messages >= 1', 1],
    ['maxBatchBytes', options.maxBatchBytes, 'a number of bytes >= 1', 1],
    ['maxInFlightSends', options.maxInFlightSends, 'a number of sends >= 1', 1],
    ['deliveryTimeoutMs', options.deliveryTimeoutMs, 'a number of ms >= 0', 0],
  ] as const;
  for (const [option, value, expected, min] of limits) {
    if (value !== undefined && (typeof value !== 'number' || !(value >= min))) throw invalidConfig('toKafka', option, expected, value);
  }
}

/** Where a result went, emitted once the broker acked it. */
export interface Delivered<In, Out> {
  readonly result: PredictResult<In, Out>;
  /** The topic it was written to: the output topic or the dead-letter topic. */
  readonly topic: string;
  readonly deadLetter: boolean;
  /** Why it went to the dead-letter topic (the result's error, or a sink-side one such as size). */
  readonly error?: RxmlError;
}

type Bytes = Buffer | string;

export interface ToKafkaOptions<In, Out> extends KafkaConnectionOptions {
  /** Output topic for `ok` results. */
  readonly topic: string;
  /**
   * Topic for error results and records that failed to deserialize (original key, value and headers
   * plus `rxml-error-*` and `rxml-source-*` headers). Without it, the first error result fails the
   * stream (nothing after it is written or committed).
   */
  readonly deadLetterTopic?: string;
  /**
   * Output value of an `ok` result. Default: the value's own JSON text when it has one
   * (`JSON_TEXT` in `@rxml/core/contract`; `predictIris`'s predictions: probabilities as the
   * shortest decimals of their float32 values), else `JSON.stringify(result.value)`.
   */
  readonly serialize?: (value: Out, result: PredictResult<In, Out>) => Bytes | null;
  /** Output key. Default: the source record's key. */
  readonly key?: (result: PredictResult<In, Out>) => Bytes | null;
  /** Extra headers of output messages. */
  readonly headers?: (result: PredictResult<In, Out>) => Readonly<Record<string, Bytes>>;
  /**
   * Largest output message (key + value + headers), bytes; a bigger one goes to the dead-letter
   * topic as `LIMIT_EXCEEDED`. Default 1000000 (below the broker's default `message.max.bytes`).
   */
  readonly maxMessageBytes?: number;
  /**
   * Most messages in one produce call. Default 2000: kafkajs groups messages per partition in
   * quadratic time, so much larger calls cost more CPU than they save.
   */
  readonly maxBatchMessages?: number;
  /**
   * Most produce calls in flight (pipelined: the next batch is sent while earlier ones wait for
   * their acks, like the Java producer's `max.in.flight.requests.per.connection`). A further call
   * starts only with a full batch (`maxBatchMessages` or `maxBatchBytes`), so light load sends one
   * small batch at a time. Records are completed and `Delivered` emitted in input order whatever
   * order the acks come in. 1 sends one batch at a time. Default 5. Either producer puts at most 5
   * requests per connection on the wire (Kafka's limit for its idempotent producer, which both are);
   * more sends wait in the connection's queue.
   */
  readonly maxInFlightSends?: number;
  /**
   * Most bytes in one produce call. kafkajs writes one record batch per partition and the broker
   * rejects batches over its `message.max.bytes` (1 MiB by default), so keep this below it.
   * Default 800000.
   */
  readonly maxBatchBytes?: number;
  /** How long retriable produce errors are retried before the stream fails, ms. Default 120000. */
  readonly deliveryTimeoutMs?: number;
  /** Complete source records after their output is acked, so their offsets get committed. Default true. */
  readonly complete?: boolean;
  /**
   * Record-batch compression: `'gzip'`, `'snappy'`, `'lz4'`, `'zstd'` or a kafkajs `CompressionTypes`
   * id. Default none.
   */
  readonly compression?: KafkaCompression | number;
  /**
   * Producer client library: `'platformatic'` (`@platformatic/kafka`, ~2× kafkajs' throughput at
   * half its CPU), `'kafkajs'`, or `'auto'`: platformatic unless the options need kafkajs (a ready
   * `kafka` instance, SASL aws/oauthbearer, zstd on Node < 22.15). Default `'auto'`, or the
   * `RXML_KAFKA_PRODUCER` environment variable. The choice and its reason are logged once.
   */
  readonly producer?: ProducerLibrary;
  /**
   * Exactly-once: outputs, dead letters and the input offsets are committed in one Kafka
   * transaction per input partition and batch, on a transactional kafkajs producer per input
   * partition (transactional id `<transactionalId>-<topic>-<partition>`), which fences earlier
   * owners of the partition (a killed process, a member that lost it in a rebalance). The input
   * must come from `fromKafka` with `isolationLevel: 'read_committed'` (its default); readers of
   * the output see each input once only with `read_committed`. Always on kafkajs, whatever
   * `producer` says. Default false (at-least-once). See docs/kafka.md, "Exactly-once".
   */
  readonly exactlyOnce?: boolean;
  /**
   * Required with `exactlyOnce`: the prefix of the transactional ids, the same for every instance
   * and run of the application (like Kafka Streams' `application.id`) so a restart fences the
   * process it replaces.
   */
  readonly transactionalId?: string;
  /**
   * With `exactlyOnce`: the broker aborts a transaction left open longer than this, ms (Kafka's
   * `transaction.timeout.ms`; at most the broker's `transaction.max.timeout.ms`, 15 min by default).
   * A transaction attempt taking longer is abandoned and retried. Default 60000.
   */
  readonly transactionTimeoutMs?: number;
  /**
   * Write the `rxml-model` and `rxml-model-version` headers, and `rxml-model-variant` for a result of a
   * `splitModels` A/B split (built once per model and variant). Default true.
   */
  readonly modelHeaders?: boolean;
  /** Write the per-record `rxml-latency-ms` header (formatted per record). Default true. */
  readonly latencyHeader?: boolean;
}

function asSourced(input: unknown): KafkaSourced | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const r = input as Partial<KafkaSourced>;
  return typeof r.topic === 'string' && typeof r.partition === 'number' && typeof r.complete === 'function'
    ? (input as KafkaSourced)
    : undefined;
}

function byteLength(value: Bytes | null): number {
  if (value === null) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/**
 * `String(Math.round(ms * 1000) / 1000)` (milliseconds to 3 decimals, shortest form: "1.5",
 * "12.034") with integer arithmetic: ~70 ns instead of ~250 ns for the double-to-string
 * conversion, the same text (checked on 2M values).
 */
export function formatLatency(ms: number): string {
  if (!(ms >= 0 && ms < 1e9)) return String(Math.round(ms * 1000) / 1000);
  const us = Math.round(ms * 1000);
  const whole = Math.trunc(us / 1000);
  const frac = us - whole * 1000;
  if (frac === 0) return `${whole}`;
  if (frac % 100 === 0) return `${whole}.${frac / 100}`;
  if (frac % 10 === 0) return `${whole}.${frac < 100 ? '0' : ''}${frac / 10}`;
  return `${whole}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}`;
}

/**
 * Why a produce call failed, naming the topics the broker refused when its answer says which (a
 * call carries every topic of its batch, e.g. the output and the dead-letter topic, and the broker
 * refuses them one by one): "producing 1 messages to dead-letter topic X failed after 1 attempts: the
 * broker refused it (TOPIC_AUTHORIZATION_FAILED: the principal needs Write on it): …". Without
 * per-topic errors, every topic of the call is named.
 */
function produceFailure(error: unknown, messages: readonly OutgoingMessage[], attempts: number, options: { readonly topic: string; readonly deadLetterTopic?: string | undefined }): string {
  const detail = withPermanentReason(error);
  const topics = [...new Set(messages.map((m) => m.topic))];
  const refusals = refusedTopics(error);
  const refused = topics.filter((t) => refusals.has(t));
  if (refused.length === 0) return `producing ${messages.length} messages to ${topics.join(', ')} failed after ${attempts} attempts: ${detail}`;
  const count = messages.filter((m) => refusals.has(m.topic)).length;
  const role = (t: string): string => (t === options.deadLetterTopic ? 'dead-letter topic' : t === options.topic ? 'output topic' : 'topic');
  const named = refused.map((t) => `${role(t)} ${t}`).join(' and ');
  const reasons = [...new Set(refused.map((t) => refusals.get(t)!))].join(', ');
  const acl = authorizationFailure(error) !== undefined ? `: the principal needs Write on ${refused.length > 1 ? 'them' : 'it'}` : '';
  return `producing ${count} messages to ${named} failed after ${attempts} attempts: the broker refused ${refused.length > 1 ? 'them' : 'it'} (${reasons}${acl}): ${detail}`;
}

/**
 * The error that stops a sink without a dead-letter topic, naming the record by its Kafka coordinates:
 * "IrisInputTopic[0]@2: iris input: expected 4 values … (no deadLetterTopic: the stream stops at this
 * record)". Same code and retriability; the result's own error is the cause.
 */
function namingRecord(source: KafkaSourced, error: RxmlError): RxmlError {
  return new RxmlError(error.code, `${source.topic}[${source.partition}]@${source.offset}: ${error.message} (no deadLetterTopic: the stream stops at this record)`, {
    cause: error,
    retriable: error.retriable,
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Per-record overhead in a v2 record batch (varints, attributes, timestamps), rounded up. */
const RECORD_OVERHEAD = 32;
/** Per-header overhead in a v2 record (varint lengths), rounded up. */
const HEADER_OVERHEAD = 8;

function headersSize(headers: Readonly<Record<string, Bytes>>): number {
  let size = 0;
  for (const name in headers) size += HEADER_OVERHEAD + Buffer.byteLength(name) + byteLength(headers[name] ?? null);
  return size;
}

function messageSize(key: Bytes | null, value: Bytes | null, headers: Readonly<Record<string, Bytes>>): number {
  return RECORD_OVERHEAD + byteLength(value) + byteLength(key) + headersSize(headers);
}

/** `rxml-model` / `rxml-model-version` (and `rxml-model-variant`) as bytes, built once per model and variant (not per record). */
interface ModelHeaders {
  readonly identity: ModelIdentity;
  readonly model: Buffer;
  readonly version: Buffer;
  /** The `splitModels` variant that answered, when the result names one. */
  readonly variantName: string | undefined;
  readonly variant: Buffer | undefined;
  /** Both headers alone, shared by every message when there is nothing per record. */
  readonly shared: OutgoingMessageHeaders;
  /** Wire bytes of `shared`. */
  readonly size: number;
}

const NO_HEADERS: OutgoingMessageHeaders = Object.freeze({});
const LATENCY_HEADER_SIZE = HEADER_OVERHEAD + 'rxml-latency-ms'.length;

function modelHeadersOf(identity: ModelIdentity, variantName: string | undefined, enabled: boolean): ModelHeaders {
  const model = Buffer.from(identity.name);
  const version = Buffer.from(identity.version);
  const variant = variantName === undefined ? undefined : Buffer.from(variantName);
  const shared: OutgoingMessageHeaders = !enabled
    ? NO_HEADERS
    : variant === undefined
      ? Object.freeze({ 'rxml-model': model, 'rxml-model-version': version })
      : Object.freeze({ 'rxml-model': model, 'rxml-model-version': version, 'rxml-model-variant': variant });
  return { identity, model, version, variantName, variant, shared, size: headersSize(shared) };
}

/** Variants whose headers are kept built at once (a split has a handful); beyond it the cache starts over. */
const MAX_CACHED_VARIANTS = 64;

/** A batch handed to the producer, settled in order. */
interface Send<In, Out> {
  readonly messages: readonly OutgoingMessage[];
  readonly delivered: readonly Delivered<In, Out>[];
  /** 0 in flight, 1 acked, 2 failed. */
  state: 0 | 1 | 2;
  error?: RxmlError;
}

/** @internal `toKafka` with a replaceable producer client. */
export function toKafkaWith<In, Out>(
  options: ToKafkaOptions<In, Out>,
  createProducer: (options: ToKafkaOptions<In, Out>) => ProducerClient,
): OperatorFunction<PredictResult<In, Out>, Delivered<In, Out>> {
  checkLimits(options);
  const maxMessageBytes = options.maxMessageBytes ?? 1_000_000;
  const maxBatch = Math.max(1, options.maxBatchMessages ?? 2_000);
  const maxBatchBytes = options.maxBatchBytes ?? 800_000;
  const maxInFlightSends = Math.max(1, options.maxInFlightSends ?? 5);
  const deliveryTimeoutMs = options.deliveryTimeoutMs ?? 120_000;
  const completeRecords = options.complete ?? true;
  // A value that writes its own JSON text (e.g. predictIris's) skips JSON.stringify's object walk.
  const serialize = options.serialize ?? ((value: Out) => jsonTextOf(value) ?? JSON.stringify(value) ?? null);
  const withModelHeaders = options.modelHeaders ?? true;
  const withLatency = options.latencyHeader ?? true;
  const extraHeaders = options.headers;
  const keyOf = options.key;
  const topic = options.topic;
  let modelHeaders: ModelHeaders | undefined;
  /** One entry per A/B variant, so results alternating between variants don't rebuild headers. */
  const variantHeaders = new Map<string, ModelHeaders>();

  const sameModel = (cached: ModelHeaders, model: ModelIdentity): boolean =>
    cached.identity === model || (cached.identity.name === model.name && cached.identity.version === model.version);
  const headersFor = (model: ModelIdentity, variant: string | undefined): ModelHeaders => {
    if (variant === undefined) {
      const cached = modelHeaders;
      if (cached !== undefined && sameModel(cached, model)) return cached;
      return (modelHeaders = modelHeadersOf(model, undefined, withModelHeaders));
    }
    const cached = variantHeaders.get(variant);
    if (cached !== undefined && sameModel(cached, model)) return cached;
    if (variantHeaders.size >= MAX_CACHED_VARIANTS) variantHeaders.clear();
    const built = modelHeadersOf(model, variant, withModelHeaders);
    variantHeaders.set(variant, built);
    return built;
  };

  const deadLetter = (result: PredictResult<In, Out>, error: RxmlError): [OutgoingMessage, Delivered<In, Out>, number] | RxmlError => {
    const source = asSourced(result.input);
    if (options.deadLetterTopic === undefined) return source === undefined ? error : namingRecord(source, error);
    // The source record's headers as they came (repeated names, null values), then rxml's.
    const headerList: (readonly [string, Bytes | null])[] = source === undefined ? [] : [...headerListOf(source.headers)];
    headerList.push(['rxml-error-code', error.code], ['rxml-error-message', error.message]);
    if (source !== undefined) {
      headerList.push(['rxml-source-topic', source.topic], ['rxml-source-partition', String(source.partition)], ['rxml-source-offset', source.offset]);
    }
    const key = source?.key ?? null;
    const value = source?.rawValue ?? null;
    return [
      { topic: options.deadLetterTopic, key, value, headers: flatHeadersOf(headerList), headerList },
      { result, topic: options.deadLetterTopic, deadLetter: true, error },
      RECORD_OVERHEAD + byteLength(value) + byteLength(key) + headerListSize(headerList),
    ];
  };

  /**
   * Turns one result into its output (or dead-letter) message and hands it to `enqueue` with its
   * `Delivered` and approximate wire size; returns the error instead when a failure result has no
   * dead-letter topic to go to. No wrapper object per record. (Other sinks, such as a transactional
   * one, can collect the three values the same way.)
   */
  const encodeResult = (result: PredictResult<In, Out>, enqueue: (message: OutgoingMessage, delivered: Delivered<In, Out>, size: number) => void): RxmlError | undefined => {
    if (!result.ok) {
      const dead = deadLetter(result, result.error);
      if (dead instanceof RxmlError) return dead;
      enqueue(dead[0], dead[1], dead[2]);
      return undefined;
    }
    let value: Bytes | null;
    let key: Bytes | null;
    let headers: OutgoingMessageHeaders;
    let size: number;
    try {
      value = serialize(result.value, result);
      key = keyOf === undefined ? (asSourced(result.input)?.key ?? null) : keyOf(result);
      const model = headersFor(result.model, result.variant);
      if (!withLatency && extraHeaders === undefined) {
        headers = model.shared;
        size = model.size;
      } else if (withModelHeaders && extraHeaders === undefined) {
        // The default: one literal of fixed shape per record, the two model buffers shared.
        const latency = formatLatency(result.latencyMs);
        headers =
          model.variant === undefined
            ? { 'rxml-model': model.model, 'rxml-model-version': model.version, 'rxml-latency-ms': latency }
            : { 'rxml-model': model.model, 'rxml-model-version': model.version, 'rxml-model-variant': model.variant, 'rxml-latency-ms': latency };
        size = model.size + LATENCY_HEADER_SIZE + latency.length;
      } else {
        const own: Record<string, Bytes> = withModelHeaders ? { ...model.shared } : {};
        size = model.size;
        if (withLatency) {
          const latency = formatLatency(result.latencyMs);
          own['rxml-latency-ms'] = latency;
          size += LATENCY_HEADER_SIZE + latency.length;
        }
        if (extraHeaders !== undefined) {
          const extra = extraHeaders(result);
          Object.assign(own, extra);
          size = headersSize(own);
        }
        headers = own;
      }
    } catch (thrown) {
      const detail = thrown instanceof Error ? thrown.message : String(thrown);
      const dead = deadLetter(result, new RxmlError('INVALID_INPUT', `cannot serialize the output: ${detail}`, { cause: thrown }));
      if (dead instanceof RxmlError) return dead;
      enqueue(dead[0], dead[1], dead[2]);
      return undefined;
    }
    size += RECORD_OVERHEAD + byteLength(value) + byteLength(key);
    if (size > maxMessageBytes) {
      const dead = deadLetter(result, new RxmlError('LIMIT_EXCEEDED', `output message of ${size} bytes exceeds maxMessageBytes ${maxMessageBytes}`));
      if (dead instanceof RxmlError) return dead;
      enqueue(dead[0], dead[1], dead[2]);
      return undefined;
    }
    enqueue({ topic, key, value, headers }, { result, topic, deadLetter: false }, size);
    return undefined;
  };

  if (options.exactlyOnce === true) {
    return exactlyOnceSink(options, (result) => {
      let prepared: { message: OutgoingMessage; delivered: Delivered<In, Out>; size: number } | undefined;
      const error = encodeResult(result, (message, delivered, size) => {
        prepared = { message, delivered, size };
      });
      return error ?? prepared!;
    });
  }

  return (source) =>
    new Observable<Delivered<In, Out>>((subscriber) => {
      const producer = createProducer(options);
      const connected = producer.connect();
      /**
       * `connected` stays rejected: retrying could only repeat this error until deliveryTimeoutMs.
       * The client has retried the connection itself (kafkajs ~10 s, platformatic 4 attempts), as
       * the source's consumer has — or, for a failure no retry fixes (refused credentials, an
       * untrusted certificate, a TLS listener without `ssl`), rxml's watch of its connections ended
       * that at the first one (tlsWatch, watchPlatformaticConnections).
       */
      const connectFailure = (error: unknown): RxmlError => sinkConnectFailure(error, options, producer.isRetriable(error));
      // A producer that cannot connect fails the stream at once, not at the first record: an input
      // that is empty for now must not hide a sink that can never write (sends already waiting for
      // the connection fail with the same error).
      connected.catch((error: unknown) => {
        if (closed || fatal !== undefined) return;
        fatal = connectFailure(error);
        schedule();
      });
      // Messages waiting for a send from index `head` on, with their Delivered and sizes (parallel
      // arrays: no wrapper object per record; taken by advancing `head`, compacted now and then).
      let queue: OutgoingMessage[] = [];
      let queueDelivered: Delivered<In, Out>[] = [];
      let queueSizes: number[] = [];
      let head = 0;
      let queueBytes = 0;
      const queued = (): number => queue.length - head;
      /** Sends in flight or settled but not yet reported, oldest first. */
      const sends: Send<In, Out>[] = [];
      let scheduled = false;
      let upstreamDone = false;
      let fatal: RxmlError | undefined;
      /** A send failed: later acked batches still complete their records but emit nothing. */
      let sendFailed = false;
      let closed = false;

      const enqueue = (message: OutgoingMessage, delivered: Delivered<In, Out>, size: number): void => {
        queue.push(message);
        queueDelivered.push(delivered);
        queueSizes.push(size);
        queueBytes += size;
      };

      const toMessage = (result: PredictResult<In, Out>): RxmlError | undefined => encodeResult(result, enqueue);

      const sendWithRetry = async (messages: readonly OutgoingMessage[]): Promise<void> => {
        const started = Date.now();
        let attempt = 0;
        for (;;) {
          try {
            await connected;
          } catch (error) {
            throw connectFailure(error);
          }
          try {
            await producer.send(messages);
            return;
          } catch (error) {
            attempt++;
            const retriable = producer.isRetriable(error);
            if (closed || !retriable || Date.now() - started >= deliveryTimeoutMs) {
              throw new RxmlError('KAFKA_ERROR', produceFailure(error, messages, attempt, options), { cause: error, retriable });
            }
            publish(CHANNELS.sink, () => ({ sink: 'kafka', type: 'produce-error', count: messages.length, error: new RxmlError('KAFKA_ERROR', String(error), { cause: error, retriable }) }));
            await sleep(Math.min(5_000, 200 * 2 ** Math.min(attempt, 5)));
          }
        }
      };

      /**
       * Sends a batch. When the broker refuses it for one record's sake (too large, invalid) or the
       * client cannot encode one, the batch goes again one message at a time, in order; each
       * refused message is replaced by a dead letter without its value (headers say why, with the
       * value's size and SHA-256) and its `Delivered` says so. Without a dead-letter topic, or when
       * even that is refused, the stream fails naming the record. Other failures fail the stream.
       */
      const deliver = async (messages: OutgoingMessage[], delivered: Delivered<In, Out>[]): Promise<void> => {
        try {
          await sendWithRetry(messages);
          return;
        } catch (error) {
          if (closed || !isPerRecordError(error)) throw error;
        }
        for (let i = 0; i < messages.length; i++) {
          const message = messages[i]!;
          let refusal: unknown;
          try {
            await sendWithRetry([message]);
            continue;
          } catch (error) {
            if (closed || !isPerRecordError(error)) throw error;
            refusal = (error as { cause?: unknown }).cause ?? error;
          }
          const d = delivered[i]!;
          const input = asSourced(d.result.input);
          const where = input === undefined ? undefined : { topic: input.topic, partition: input.partition, offset: input.offset };
          if (options.deadLetterTopic === undefined) throw refusedError(where, message.topic, refusal);
          const reason = refusedError(where, message.topic, refusal);
          const code = d.error?.code ?? (isTooLarge(refusal) ? 'LIMIT_EXCEEDED' : 'KAFKA_ERROR');
          let replaced: OutgoingMessage | undefined;
          for (const level of [1, 2] as const) {
            const candidate = refusedDeadLetter(message, options.deadLetterTopic, refusal, code, where, level);
            try {
              await sendWithRetry([candidate]);
              replaced = candidate;
              break;
            } catch (error) {
              if (closed || !isPerRecordError(error) || level === 2) throw refusedError(where, options.deadLetterTopic, error);
            }
          }
          messages[i] = replaced!;
          delivered[i] = { result: d.result, topic: options.deadLetterTopic, deadLetter: true, error: d.error ?? new RxmlError(code, reason.message, { cause: refusal }) };
          publish(CHANNELS.sink, () => ({ sink: 'kafka', type: 'refused', topic: message.topic, count: 1, code: delivered[i]!.error!.code, error: reason }));
        }
      };

      const finish = (): void => {
        if (closed) return;
        closed = true;
        void producer.disconnect().catch(() => undefined);
        if (fatal !== undefined) {
          publish(CHANNELS.sink, { sink: 'kafka', type: 'failed', topic: options.topic, error: fatal });
          subscriber.error(fatal);
        } else subscriber.complete();
      };

      /** Reports settled sends in order: acked ones complete their records and emit; a failed one fails the stream. */
      const settle = (): void => {
        while (sends.length > 0 && sends[0]!.state !== 0) {
          const done = sends.shift()!;
          if (done.state === 2) {
            fatal ??= done.error;
            sendFailed = true;
            queue = [];
            queueDelivered = [];
            queueSizes = [];
            head = 0;
            queueBytes = 0;
            continue;
          }
          // Acked by all in-sync replicas: now the source may commit these records. After a failure
          // the later acked batches still complete (their offsets stay behind the failed ones').
          if (completeRecords) for (const d of done.delivered) asSourced(d.result.input)?.complete();
          if (!closed && !sendFailed) for (const d of done.delivered) subscriber.next(d);
        }
        schedule();
      };

      const startSend = (): void => {
        let count = queued();
        let bytes = queueBytes;
        if (count > maxBatch || bytes > maxBatchBytes) {
          count = 0;
          bytes = 0;
          while (count < queued() && count < maxBatch) {
            const size = queueSizes[head + count]!;
            if (count > 0 && bytes + size > maxBatchBytes) break;
            bytes += size;
            count++;
          }
        }
        let messages: OutgoingMessage[];
        let delivered: Delivered<In, Out>[];
        if (head === 0 && count === queue.length) {
          messages = queue;
          delivered = queueDelivered;
          queue = [];
          queueDelivered = [];
          queueSizes = [];
        } else {
          messages = queue.slice(head, head + count);
          delivered = queueDelivered.slice(head, head + count);
          head += count;
          if (head === queue.length) {
            queue = [];
            queueDelivered = [];
            queueSizes = [];
            head = 0;
          } else if (head >= 4096 && head * 2 >= queue.length) {
            queue = queue.slice(head);
            queueDelivered = queueDelivered.slice(head);
            queueSizes = queueSizes.slice(head);
            head = 0;
          }
        }
        queueBytes -= bytes;
        const send: Send<In, Out> = { messages, delivered, state: 0 };
        sends.push(send);
        const sendStarted = performance.now();
        deliver(messages, delivered).then(
          () => {
            if (hasSubscribers(CHANNELS.sink)) {
              const ms = performance.now() - sendStarted;
              publishSent(delivered.map((d, i) => ({ topic: d.topic, size: messageBytes(messages[i]!), deadLetterCode: d.error?.code })), ms);
            }
            send.state = 1;
            settle();
          },
          (error: unknown) => {
            send.state = 2;
            send.error = error instanceof RxmlError ? error : new RxmlError('KAFKA_ERROR', String(error), { cause: error });
            settle();
          },
        );
      };

      const flush = (): void => {
        scheduled = false;
        if (closed) return;
        // One send at once for whatever is queued; more in flight only with full batches (or the
        // tail, once upstream ended). After a failed send the queue is empty: nothing more is sent.
        const ending = upstreamDone || fatal !== undefined;
        while (queued() > 0 && sends.length < maxInFlightSends && (sends.length === 0 || ending || queued() >= maxBatch || queueBytes >= maxBatchBytes)) {
          startSend();
        }
        if (sends.length === 0 && (queued() === 0 || fatal !== undefined) && (upstreamDone || fatal !== undefined)) finish();
      };

      // Coalesces whatever arrives in one turn of the event loop into one produce call: never one
      // request per record.
      const schedule = (): void => {
        if (scheduled || closed) return;
        scheduled = true;
        setImmediate(flush);
      };

      const subscription = source.subscribe({
        next: (result) => {
          if (fatal !== undefined || closed) return;
          const failure = toMessage(result);
          // No dead-letter topic: write what came before, then fail without completing this one.
          if (failure !== undefined) fatal = failure;
          if (!scheduled && (sends.length < maxInFlightSends || fatal !== undefined)) schedule();
        },
        error: (error: unknown) => {
          fatal = error instanceof RxmlError ? error : new RxmlError('KAFKA_ERROR', String(error), { cause: error });
          schedule();
        },
        complete: () => {
          upstreamDone = true;
          schedule();
        },
      });

      return () => {
        subscription.unsubscribe();
        if (!closed) {
          closed = true;
          // Sends in flight still complete their records when acked (their promises go on); then disconnect.
          void (async () => {
            while (sends.some((s) => s.state === 0)) await sleep(20);
            await producer.disconnect().catch(() => undefined);
          })();
        }
      };
    });
}

/**
 * Writes `predict*` results to Kafka: `ok` results to `topic` (value JSON by default, key kept from
 * the source record, headers `rxml-model`, `rxml-model-version`, `rxml-model-variant` when the result has a variant, `rxml-latency-ms`), error results
 * to `deadLetterTopic`. Sends in batches with acks from all in-sync replicas, retries retriable
 * errors, then completes the source records (so their offsets get committed) and emits what was
 * delivered.
 *
 * @example
 * fromKafka({ brokers, topic: 'IrisInputTopic', groupId: 'iris' }).pipe(
 *   predictIris(model, { select: (r) => r.value }),
 *   toKafka({ brokers, topic: 'IrisOutputTopic', deadLetterTopic: 'IrisDeadLetters' }),
 * );
 */
export function toKafka<In, Out>(options: ToKafkaOptions<In, Out>): OperatorFunction<PredictResult<In, Out>, Delivered<In, Out>> {
  return toKafkaWith(options, (o) => {
    const compression = compressionOf(o.compression);
    const chosen = chooseProducer(o.producer, o, compression);
    logClients(chosen, o);
    return createProducer(chosen, o, compression);
  });
}

/** Approximate wire bytes of a sent message (recomputed only for `rxml:sink` subscribers). */
function messageBytes(m: OutgoingMessage): number {
  return messageSize(m.key, m.value, m.headers);
}
