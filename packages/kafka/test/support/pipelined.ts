import { type PredictResult } from '@rxml/core/contract';
import { logLevel } from 'kafkajs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { toKafka, type ProducerLibrary } from '../../src/index.js';

/**
 * Writes inputs 0 … records − 1 (values JSON `{ "i": n }`, keys spread over 11 values, so over every
 * partition) through `toKafka` with `producer`, batches of `batch` messages and 5 sends in flight,
 * to `brokers` (e.g. a test proxy's address). Client retries are short (100 ms first backoff, 5
 * tries): a client's repeat of a lost answer comes soon. Resolves with the number delivered; rejects
 * with the stream's error. Read the topic back with `writtenOutcome`.
 */
export async function producePipelined(options: {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly producer: ProducerLibrary;
  readonly records: number;
  readonly batch: number;
  readonly deliveryTimeoutMs?: number;
}): Promise<number> {
  const model = { name: 'pipelined', version: '1' };
  const results: PredictResult<{ key: string }, { i: number }>[] = Array.from({ length: options.records }, (_, i) => ({
    ok: true,
    input: { key: `key-${i % 11}` },
    value: { i },
    model,
    latencyMs: 1,
  }));
  const delivered = await lastValueFrom(
    from(results).pipe(
      toKafka({
        brokers: [...options.brokers],
        topic: options.topic,
        producer: options.producer,
        key: (r) => r.input.key,
        maxBatchMessages: options.batch,
        maxInFlightSends: 5,
        logLevel: logLevel.NOTHING,
        retry: { initialRetryTime: 100, retries: 5 },
        ...(options.deliveryTimeoutMs === undefined ? {} : { deliveryTimeoutMs: options.deliveryTimeoutMs }),
      }),
      toArray(),
    ),
  );
  return delivered.length;
}
