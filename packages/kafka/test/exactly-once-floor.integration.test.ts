import { committedOffsets, createTopics } from '@rxml/kafka-testkit';
import { Kafka, logLevel, type Transaction } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { stableCommittedOffset } from '../src/internal/transactional-sink.js';
import { brokers, fresh, until } from './support/index.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Where a read settled, or 'pending' when it has not within `ms`. */
async function settledWithin<T>(read: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'pending'> {
  const outcome = read.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  return Promise.race([outcome, sleep(ms).then(() => 'pending' as const)]);
}

describe('exactly-once sink: the floor read (real broker)', () => {
  it('waits for a transaction that has sent its offsets but not committed: never the offset before it', async () => {
    const [input, group] = [fresh('eos-floor-in'), fresh('eos-floor-group')];
    await createTopics(brokers(), [{ topic: input, partitions: 1 }]);
    // The group's coordinator is up (a fresh broker creates __consumer_offsets at the first look-up).
    await until(async () => (await committedOffsets(brokers(), group, input)).size >= 0, 60_000, 'the group coordinator');
    // Patient retries, as the sink's clients have them in the kill tests: the open transaction below lasts ~3 s.
    const kafka = new Kafka({ brokers: brokers(), clientId: 'eos-floor', logLevel: logLevel.NOTHING, retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1_000 } });
    const producer = kafka.producer({ transactionalId: fresh('eos-floor-app'), maxInFlightRequests: 1, idempotent: true });
    const admin = kafka.admin();
    await producer.connect();
    await admin.connect();
    // Right after a commit the coordinator may still be completing it (writing its markers):
    // AddOffsetsToTxn answers CONCURRENT_TRANSACTIONS then, which kafkajs does not retry here (nor
    // a group coordinator still loading on a fresh broker).
    const sendOffsets = async (transaction: Transaction, offset: number): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await transaction.sendOffsets({ consumerGroupId: group, topics: [{ topic: input, partitions: [{ partition: 0, offset: String(offset) }] }] });
        } catch (error) {
          // kafkajs marks CONCURRENT_TRANSACTIONS retriable.
          if ((error as { retriable?: unknown }).retriable !== true || attempt >= 50) throw error;
          await sleep(100);
        }
      }
    };
    let open: Transaction | undefined;
    try {
      // The previous owner's last committed transaction: records up to 1399 written, offset 1400.
      const first = await producer.transaction();
      await sendOffsets(first, 1_400);
      await first.commit();
      expect(await stableCommittedOffset(admin, group, input, 0)).toBe(1_400);

      // Its next transaction has sent offset 1600 (TxnOffsetCommit: pending in the group coordinator)
      // and is still open, or completing, when a new owner reads its floor.
      open = await producer.transaction();
      await sendOffsets(open, 1_600);
      const read = stableCommittedOffset(admin, group, input, 0);
      // Unfixed: 1400 at once (OffsetFetch without require_stable), and the new session would write 1400..1599 again.
      expect(await settledWithin(read, 3_000)).toBe('pending');
      await open.commit();
      open = undefined;
      expect(await settledWithin(read, 15_000)).toEqual({ value: 1_600 });

      // An aborted transaction's offsets are waited for too, then dropped: the floor stays 1600.
      open = await producer.transaction();
      await sendOffsets(open, 1_800);
      const afterAbort = stableCommittedOffset(admin, group, input, 0);
      expect(await settledWithin(afterAbort, 2_000)).toBe('pending');
      await open.abort();
      open = undefined;
      expect(await settledWithin(afterAbort, 15_000)).toEqual({ value: 1_600 });
    } finally {
      await open?.abort().catch(() => undefined);
      await producer.disconnect();
      await admin.disconnect();
    }
  }, 90_000);
});
