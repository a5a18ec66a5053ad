import { RxmlError, type PredictResult } from '@rxml/core/contract';
import { Observable, type OperatorFunction } from 'rxjs';
import type { OutgoingMessage, ProducerClient } from './internal/client.js';
import { compressionId, type CompressionName } from './internal/codecs.js';
import { isRetriableKafkaError, kafkajsProducer } from './internal/kafkajs-client.js';
import type { KafkaConnectionOptions } from './options.js';
import type { KafkaSourced } from './record.js';

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
  /** Output value of an `ok` result. Default: `JSON.stringify(result.value)`. */
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
   * Compression of the produced record batches, by Kafka's `compression.type` name (`gzip`,
   * `snappy`, `lz4`, `zstd`, `none`) or kafkajs `CompressionTypes` id. Default none. Consumers in
   * any Kafka client read all four (codecs: see docs/kafka.md, "What real topics contain").
   */
  readonly compression?: CompressionName | number;
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

function flatHeaders(headers: KafkaSourced['headers']): Record<string, Bytes> {
  const out: Record<string, Bytes> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    // kafkajs delivers repeated header names as an array; keep the last, as most clients do.
    if (Array.isArray(value)) {
      const list = value as readonly Bytes[];
      out[name] = list[list.length - 1] ?? '';
    } else {
      out[name] = value as Bytes;
    }
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Pending<In, Out> {
  readonly delivered: Delivered<In, Out>;
  readonly message: OutgoingMessage;
  /** Approximate bytes on the wire. */
  readonly size: number;
}

/** Per-record overhead in a v2 record batch (varints, attributes, timestamps), rounded up. */
const RECORD_OVERHEAD = 32;

function messageSize(key: Bytes | null, value: Bytes | null, headers: Readonly<Record<string, Bytes>>): number {
  let size = RECORD_OVERHEAD + byteLength(value) + byteLength(key);
  for (const [name, h] of Object.entries(headers)) size += 8 + Buffer.byteLength(name) + byteLength(h);
  return size;
}

/** @internal `toKafka` with a replaceable producer client. */
export function toKafkaWith<In, Out>(
  options: ToKafkaOptions<In, Out>,
  createProducer: (options: ToKafkaOptions<In, Out>) => ProducerClient,
): OperatorFunction<PredictResult<In, Out>, Delivered<In, Out>> {
  const maxMessageBytes = options.maxMessageBytes ?? 1_000_000;
  const maxBatch = Math.max(1, options.maxBatchMessages ?? 2_000);
  const maxBatchBytes = options.maxBatchBytes ?? 800_000;
  const deliveryTimeoutMs = options.deliveryTimeoutMs ?? 120_000;
  const completeRecords = options.complete ?? true;
  const serialize = options.serialize ?? ((value: Out) => JSON.stringify(value) ?? null);

  const deadLetter = (result: PredictResult<In, Out>, error: RxmlError): Pending<In, Out> | RxmlError => {
    if (options.deadLetterTopic === undefined) return error;
    const source = asSourced(result.input);
    const headers: Record<string, Bytes> = {
      ...(source === undefined ? {} : flatHeaders(source.headers)),
      'rxml-error-code': error.code,
      'rxml-error-message': error.message,
    };
    if (source !== undefined) {
      headers['rxml-source-topic'] = source.topic;
      headers['rxml-source-partition'] = String(source.partition);
      headers['rxml-source-offset'] = source.offset;
    }
    const key = source?.key ?? null;
    const value = source?.rawValue ?? null;
    return {
      delivered: { result, topic: options.deadLetterTopic, deadLetter: true, error },
      message: { topic: options.deadLetterTopic, key, value, headers },
      size: messageSize(key, value, headers),
    };
  };

  const toMessage = (result: PredictResult<In, Out>): Pending<In, Out> | RxmlError => {
    if (!result.ok) return deadLetter(result, result.error);
    let value: Bytes | null;
    let key: Bytes | null;
    let headers: Record<string, Bytes>;
    try {
      value = serialize(result.value, result);
      key = options.key === undefined ? (asSourced(result.input)?.key ?? null) : options.key(result);
      headers = {
        'rxml-model': result.model.name,
        'rxml-model-version': result.model.version,
        'rxml-latency-ms': String(Math.round(result.latencyMs * 1000) / 1000),
        ...options.headers?.(result),
      };
    } catch (thrown) {
      const detail = thrown instanceof Error ? thrown.message : String(thrown);
      return deadLetter(result, new RxmlError('INVALID_INPUT', `cannot serialize the output: ${detail}`, { cause: thrown }));
    }
    const size = messageSize(key, value, headers);
    if (size > maxMessageBytes) {
      return deadLetter(result, new RxmlError('LIMIT_EXCEEDED', `output message of ${size} bytes exceeds maxMessageBytes ${maxMessageBytes}`));
    }
    return { delivered: { result, topic: options.topic, deadLetter: false }, message: { topic: options.topic, key, value, headers }, size };
  };

  return (source) =>
    new Observable<Delivered<In, Out>>((subscriber) => {
      const producer = createProducer(options);
      const connected = producer.connect();
      connected.catch(() => undefined);
      let queue: Pending<In, Out>[] = [];
      let sending = false;
      let scheduled = false;
      let upstreamDone = false;
      let fatal: RxmlError | undefined;
      let closed = false;

      const send = async (batch: readonly Pending<In, Out>[]): Promise<void> => {
        const started = Date.now();
        let attempt = 0;
        for (;;) {
          try {
            await connected;
            await producer.send(batch.map((p) => p.message));
            return;
          } catch (error) {
            attempt++;
            if (closed || !isRetriableKafkaError(error) || Date.now() - started >= deliveryTimeoutMs) {
              const detail = error instanceof Error ? error.message : String(error);
              throw new RxmlError('KAFKA_ERROR', `producing ${batch.length} messages failed after ${attempt} attempts: ${detail}`, {
                cause: error,
                retriable: isRetriableKafkaError(error),
              });
            }
            await sleep(Math.min(5_000, 200 * 2 ** Math.min(attempt, 5)));
          }
        }
      };

      const finish = (): void => {
        if (closed) return;
        closed = true;
        void producer.disconnect().catch(() => undefined);
        if (fatal !== undefined) subscriber.error(fatal);
        else subscriber.complete();
      };

      const flush = (): void => {
        scheduled = false;
        if (sending || closed) return;
        if (queue.length === 0) {
          if (upstreamDone || fatal !== undefined) finish();
          return;
        }
        let count = 0;
        let bytes = 0;
        while (count < queue.length && count < maxBatch && (count === 0 || bytes + queue[count]!.size <= maxBatchBytes)) {
          bytes += queue[count]!.size;
          count++;
        }
        const batch = count === queue.length ? queue : queue.slice(0, count);
        queue = count === queue.length ? [] : queue.slice(count);
        sending = true;
        send(batch).then(
          () => {
            sending = false;
            // Acked by all in-sync replicas: now the source may commit these records.
            if (completeRecords) for (const p of batch) asSourced(p.delivered.result.input)?.complete();
            if (!closed) for (const p of batch) subscriber.next(p.delivered);
            schedule();
          },
          (error: unknown) => {
            sending = false;
            fatal = error instanceof RxmlError ? error : new RxmlError('KAFKA_ERROR', String(error), { cause: error });
            queue = [];
            finish();
          },
        );
      };

      // Coalesces whatever arrives in one turn of the event loop (and while a send is in flight)
      // into one produce call: never one request per record.
      const schedule = (): void => {
        if (scheduled || sending || closed) return;
        scheduled = true;
        setImmediate(flush);
      };

      const subscription = source.subscribe({
        next: (result) => {
          if (fatal !== undefined || closed) return;
          const pending = toMessage(result);
          if (pending instanceof RxmlError) {
            // No dead-letter topic: write what came before, then fail without completing this one.
            fatal = pending;
          } else {
            queue.push(pending);
          }
          schedule();
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
          // A send in flight still completes its records when acked (its promise goes on); then disconnect.
          void (async () => {
            while (sending) await sleep(20);
            await producer.disconnect().catch(() => undefined);
          })();
        }
      };
    });
}

/**
 * Writes `predict*` results to Kafka: `ok` results to `topic` (value JSON by default, key kept from
 * the source record, headers `rxml-model`, `rxml-model-version`, `rxml-latency-ms`), error results
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
  return toKafkaWith(options, (o) =>
    kafkajsProducer(o, o.compression === undefined ? {} : { compression: compressionId(o.compression) }),
  );
}
