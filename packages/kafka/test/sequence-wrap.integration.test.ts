import { createTopics } from '@rxml/kafka-testkit';
import { describe, expect, it } from 'vitest';
import { type ProducerLibrary } from '../src/index.js';
import { brokers, collectProduceErrors, fresh, writtenOutcome } from './support/index.js';
import { producePipelined } from './support/pipelined.js';
import { startKafkaProxy, type ProducedBatch } from './support/kafka-proxy.js';

/**
 * docs/kafka.md, "Idempotent producer": a record batch's sequence numbers are INT32 and wrap to 0
 * after 2^31 - 1, the count carried over (a batch may straddle the wrap), exactly as the broker
 * computes them; a producer that wraps otherwise has its next batch refused with
 * OUT_OF_ORDER_SEQUENCE_NUMBER after 2^31 records on one partition under one producer id (~6 h at
 * 100k records/s on one partition).
 *
 * Without writing 2^31 records: rxml's patches of both libraries have a test-only seam,
 * RXML_KAFKA_TEST_FIRST_SEQUENCE, with which a new idempotent producer id numbers each partition's
 * records from that number instead of 0 (the broker takes any first sequence from a producer id it has
 * no state for). The producer talks to the real broker through a proxy (support/kafka-proxy.ts) that
 * decodes each Produce request's batch headers and the broker's answer for each partition.
 */
const MAX = 2 ** 31 - 1; // Java's Integer.MAX_VALUE, the largest sequence number
const FIRST = MAX - 2;
const PARTITIONS = 2;
const RECORDS = 400;
const BATCH = 40;

/** Kafka's DefaultRecordBatch.incrementSequence: the sequence `increment` records after `base`. */
function incrementSequence(base: number, increment: number): number {
  return base > MAX - increment ? increment - (MAX - base) - 1 : base + increment;
}

const ERROR_NAMES: Readonly<Record<number, string>> = {
  45: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
  46: 'DUPLICATE_SEQUENCE_NUMBER',
  47: 'INVALID_PRODUCER_EPOCH',
  59: 'UNKNOWN_PRODUCER_ID',
};

const describeBatch = (b: ProducedBatch): string =>
  `p${b.partition} pid ${b.producerId} seq ${b.baseSequence}+${b.records}: ${b.errorCode === undefined ? 'no answer' : (ERROR_NAMES[b.errorCode] ?? `error ${b.errorCode}`)}`;

describe.each<ProducerLibrary>(['platformatic', 'kafkajs'])('toKafka with the %s producer, sequence numbers across the INT32 wrap (real broker, proxy)', (producer) => {
  it('a producer id whose partitions start at 2^31 - 3 goes on past 2^31 - 1 from 0 as Kafka counts: no batch refused, one producer id, every record once and in order', async () => {
    const topic = fresh(`seqwrap-${producer}`);
    await createTopics(brokers(), [{ topic, partitions: PARTITIONS }]);
    const proxy = await startKafkaProxy(brokers()[0]!, { recordBatches: true });
    const rxmlRetries: string[] = [];
    const stopCollecting = collectProduceErrors(rxmlRetries);
    let delivered = 0;
    let failure: unknown;
    process.env['RXML_KAFKA_TEST_FIRST_SEQUENCE'] = String(FIRST);
    try {
      delivered = await producePipelined({ brokers: [proxy.address], topic, producer, records: RECORDS, batch: BATCH, deliveryTimeoutMs: 60_000 });
    } catch (error) {
      failure = error;
    } finally {
      delete process.env['RXML_KAFKA_TEST_FIRST_SEQUENCE'];
      stopCollecting();
      await proxy.close();
    }

    expect(proxy.undecoded).toEqual([]);
    const batches = proxy.produceBatches.filter((b) => b.topic === topic);
    const refused = batches.filter((b) => b.errorCode !== 0);
    const context = `${batches.length} batches, the first sent: ${batches.slice(0, 6).map(describeBatch).join('; ')}`;
    // Every batch the broker was sent, it wrote (no OUT_OF_ORDER_SEQUENCE_NUMBER), under one producer
    // id and epoch (none taken after a failure), and no error reached rxml (it would have retried the call).
    expect(
      {
        refused: `${refused.length} of ${batches.length}${refused.length === 0 ? '' : `, the first: ${refused.slice(0, 4).map(describeBatch).join('; ')}`}`,
        producerIds: new Set(batches.map((b) => `${b.producerId}/${b.producerEpoch}`)).size,
        errorsRxmlRetried: rxmlRetries.length,
        failure: failure === undefined ? 'none' : String(failure),
        delivered,
      },
      context,
    ).toEqual({ refused: `0 of ${batches.length}`, producerIds: 1, errorsRxmlRetried: 0, failure: 'none', delivered: RECORDS });
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const own = batches.filter((b) => b.partition === partition);
      const total = own.reduce((sum, b) => sum + b.records, 0);
      // Enough records to cross the wrap (the keys spread over both partitions).
      expect(total, `records to partition ${partition}`).toBeGreaterThan(10);
      // Each batch starts where the one before it ended, as the broker counts (FIRST + total wraps
      // to total - 3): the chain the broker checks, the straddling batch included.
      let next = FIRST;
      const expected = own.map((b) => {
        const text = `${next}+${b.records}`;
        next = incrementSequence(next, b.records);
        return text;
      });
      expect(own.map((b) => `${b.baseSequence}+${b.records}`), `partition ${partition}`).toEqual(expected);
      expect(next, `partition ${partition}: the sequence after ${FIRST} + ${total} records`).toBe(total - 3);
      expect(own.filter((b) => b.baseSequence < FIRST).length, `partition ${partition}: batches after the wrap`).toBeGreaterThan(0);
    }

    expect(await writtenOutcome(topic, RECORDS), context).toBe('0 missing, 0 copies, in order');
  });
});
