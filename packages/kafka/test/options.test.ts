/** Bad `fromKafka` / `toKafka` options are refused as RxmlError('INVALID_CONFIG') naming the option (no broker needed). */
import { describe, expect, it } from 'vitest';
import { fromKafka, toKafka } from '../src/index.js';

function errorOf(subscribeTo: () => { subscribe: (o: { error: (e: unknown) => void }) => { unsubscribe(): void } }): Promise<unknown> {
  return new Promise((resolve) => {
    try {
      subscribeTo().subscribe({ error: resolve }).unsubscribe();
    } catch (error) {
      resolve(error);
    }
  });
}

describe('fromKafka and toKafka options', () => {
  it('needs a topic', async () => {
    expect(await errorOf(() => fromKafka({ brokers: ['localhost:1'], groupId: 'g' }))).toMatchObject({
      code: 'INVALID_CONFIG',
      retriable: false,
      message: 'fromKafka: topic or topics must be at least one topic name, got undefined',
    });
  });

  it('refuses a topicIdCheckIntervalMs past the timer maximum (Node would fire it every 1 ms: a Metadata request storm)', async () => {
    for (const topicIdCheckIntervalMs of [Infinity, 3e9, -1, Number.NaN]) {
      expect(await errorOf(() => fromKafka({ brokers: ['localhost:1'], groupId: 'g', topic: 't', topicIdCheckIntervalMs }))).toMatchObject({
        code: 'INVALID_CONFIG',
        message: `fromKafka: topicIdCheckIntervalMs must be a number of ms from 0 to 2147483647 (0: check only before commits), got ${String(topicIdCheckIntervalMs)}`,
      });
    }
  });

  it('needs maxInFlight >= 1', async () => {
    expect(await errorOf(() => fromKafka({ brokers: ['localhost:1'], groupId: 'g', topic: 't', maxInFlight: 0 }))).toMatchObject({
      code: 'INVALID_CONFIG',
      message: 'fromKafka: maxInFlight must be a number of records >= 1, got 0',
    });
  });

  it('needs maxDecompressedBatchBytes to be a whole number of bytes >= 1', async () => {
    expect(await errorOf(() => fromKafka({ brokers: ['localhost:1'], groupId: 'g', topic: 't', maxDecompressedBatchBytes: 0 }))).toMatchObject({
      code: 'INVALID_CONFIG',
      message: 'fromKafka: maxDecompressedBatchBytes must be a whole number of bytes >= 1, got 0',
    });
  });

  it('needs brokers or a kafka client', async () => {
    expect(await errorOf(() => fromKafka({ brokers: [], groupId: 'g', topic: 't' }))).toMatchObject({
      code: 'INVALID_CONFIG',
      message: 'Kafka options need `brokers` (a list of host:port) or a `kafka` client, or KAFKA_BROKERS in the environment',
    });
  });

  it('toKafka refuses sizes and timeouts out of range when it is created', () => {
    expect(() => toKafka({ brokers: ['localhost:1'], topic: 't', maxBatchMessages: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG', message: 'toKafka: maxBatchMessages must be a number of messages >= 1, got 0' }) as Error,
    );
    expect(() => toKafka({ brokers: ['localhost:1'], topic: 't', deliveryTimeoutMs: Number.NaN })).toThrow('toKafka: deliveryTimeoutMs must be a number of ms >= 0, got NaN');
    expect(() => toKafka({ brokers: ['localhost:1'], topic: 't', maxMessageBytes: 2_000_000 })).not.toThrow();
  });
});
