import { RxmlError, type PredictResult } from '@rxml/core/contract';
import type { OperatorFunction } from 'rxjs';
import type { Delivered, ToKafkaOptions } from '../to-kafka.js';
import { compressionId, compressionOf } from './compression.js';
import { transactionalSink, type PreparedMessage } from './transactional-sink.js';

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
    },
    prepare,
    (result) => result.input,
  );
}
