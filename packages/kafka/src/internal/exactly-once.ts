import { CHANNELS, publish, RxmlError, type PredictResult } from '@rxml/core/contract';
import type { OperatorFunction } from 'rxjs';
import type { KafkaSourced } from '../record.js';
import type { Delivered, ToKafkaOptions } from '../to-kafka.js';
import { compressionId, compressionOf } from './compression.js';
import { headerListSize, isTooLarge, refusedDeadLetter, refusedError, type WhereFrom } from './dead-letters.js';
import { isRetriableKafkaError } from './kafkajs-client.js';
import { sinkConnectFailure } from './sink-connect.js';
import { transactionalSink, type PreparedMessage } from './transactional-sink.js';

/** Per-record overhead in a v2 record batch, rounded up (as toKafka counts it). */
const RECORD_OVERHEAD = 32;

/**
 * The dead letter of a message the broker refused inside a transaction, as the at-least-once sink
 * writes it (no value; reason, size and SHA-256 in headers): level 1 keeps the message's headers,
 * level 2 only rxml's. Without a dead-letter topic, or past level 2, the stream's error.
 */
function refusedInTransaction<In, Out>(
  deadLetterTopic: string | undefined,
  refused: PreparedMessage<Delivered<In, Out>>,
  reason: unknown,
  level: number,
): PreparedMessage<Delivered<In, Out>> | RxmlError {
  const d = refused.delivered;
  const input = d.result.input as Partial<KafkaSourced> | undefined;
  const where: WhereFrom | undefined =
    typeof input?.topic === 'string' && typeof input.partition === 'number' && typeof input.offset === 'string'
      ? { topic: input.topic, partition: input.partition, offset: input.offset }
      : undefined;
  if (deadLetterTopic === undefined || level > 2) return refusedError(where, level > 2 ? (deadLetterTopic ?? refused.message.topic) : refused.message.topic, reason);
  const code = d.error?.code ?? (isTooLarge(reason) ? 'LIMIT_EXCEEDED' : 'KAFKA_ERROR');
  const message = refusedDeadLetter(refused.message, deadLetterTopic, reason, code, where, level === 1 ? 1 : 2);
  const why = refusedError(where, refused.message.topic, reason);
  const error = d.error ?? new RxmlError(code, why.message, { cause: reason });
  publish(CHANNELS.sink, () => ({ sink: 'kafka', type: 'refused', topic: refused.message.topic, count: 1, code: error.code, error: why }));
  const keyBytes = message.key === null ? 0 : Buffer.byteLength(message.key);
  return {
    message,
    delivered: { result: d.result, topic: deadLetterTopic, deadLetter: true, error },
    size: RECORD_OVERHEAD + keyBytes + headerListSize(message.headerList ?? []),
  };
}

/**
 * `toKafka` with `exactlyOnce: true`: checks the options and hands over to the transactional sink.
 * It always runs on kafkajs' transactional producer (whichever producer the at-least-once mode uses).
 */
export function exactlyOnceSink<In, Out>(
  options: ToKafkaOptions<In, Out>,
  prepare: (result: PredictResult<In, Out>) => PreparedMessage<Delivered<In, Out>> | RxmlError,
): OperatorFunction<PredictResult<In, Out>, Delivered<In, Out>> {
  const transactionalId = options.transactionalId;
  if (typeof transactionalId !== 'string' || transactionalId.length === 0) {
    throw new RxmlError('INVALID_CONFIG', 'toKafka({ exactlyOnce: true }) needs `transactionalId`: a name for the application, the same in every instance and run');
  }
  const transactionTimeoutMs = options.transactionTimeoutMs ?? 60_000;
  if (!(transactionTimeoutMs >= 1_000)) {
    throw new RxmlError('INVALID_CONFIG', `transactionTimeoutMs must be at least 1000 ms, got ${String(options.transactionTimeoutMs)}`);
  }
  if (options.complete === false) {
    throw new RxmlError('INVALID_CONFIG', 'toKafka({ exactlyOnce: true }) commits the input offsets itself: `complete: false` does not apply');
  }
  return transactionalSink<PredictResult<In, Out>, Delivered<In, Out>>(
    {
      ...options,
      transactionalId,
      transactionTimeoutMs,
      maxBatchMessages: Math.max(1, options.maxBatchMessages ?? 2_000),
      maxBatchBytes: options.maxBatchBytes ?? 800_000,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 120_000,
      compression: compressionOf(options.compression) === 'none' ? undefined : compressionId(compressionOf(options.compression)),
      // The at-least-once sink's texts (its "cannot connect the producer for <topic>: …").
      connectFailure: (error) => sinkConnectFailure(error, options, isRetriableKafkaError(error)),
    },
    prepare,
    (result) => result.input,
    (refused, reason, level) => refusedInTransaction(options.deadLetterTopic, refused, reason, level),
  );
}
