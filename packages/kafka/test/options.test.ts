/** Bad `fromKafka` options are refused as RxmlError('INVALID_CONFIG') naming the option (no broker needed). */
import { describe, expect, it } from 'vitest';
import { fromKafka } from '../src/index.js';

function errorOf(subscribeTo: () => { subscribe: (o: { error: (e: unknown) => void }) => { unsubscribe(): void } }): Promise<unknown> {
  return new Promise((resolve) => {
    try {
      subscribeTo().subscribe({ error: resolve }).unsubscribe();
    } catch (error) {
      resolve(error);
    }
  });
}

describe('fromKafka options', () => {
  it('needs a topic', async () => {
    expect(await errorOf(() => fromKafka({ brokers: ['localhost:1'], groupId: 'g' }))).toMatchObject({
      code: 'INVALID_CONFIG',
      retriable: false,
      message: 'fromKafka: topic or topics must be at least one topic name, got undefined',
    });
  });

  it('needs maxInFlight >= 1', async () => {
    expect(await errorOf(() => fromKafka({ brokers: ['localhost:1'], groupId: 'g', topic: 't', maxInFlight: 0 }))).toMatchObject({
      code: 'INVALID_CONFIG',
      message: 'fromKafka: maxInFlight must be a number of records >= 1, got 0',
    });
  });

  it('needs brokers or a kafka client', async () => {
    expect(await errorOf(() => fromKafka({ brokers: [], groupId: 'g', topic: 't' }))).toMatchObject({
      code: 'INVALID_CONFIG',
      message: 'Kafka options need `brokers` (a list of host:port) or a `kafka` client, or KAFKA_BROKERS in the environment',
    });
  });
});
