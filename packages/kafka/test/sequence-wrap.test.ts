import { createRequire } from 'node:module';
import { createRecordsBatch, kGetApi, kGetBootstrapConnection, kGetConnection, kMetadata, Producer, type CreateRecordsBatchOptions, type MessageRecord } from '@platformatic/kafka';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * docs/kafka.md, "Idempotent producer": both producers number a partition's records as Kafka does.
 * Sequence numbers are INT32: after 2^31 - 1 (a valid sequence) comes 0, and a batch that crosses the
 * wrap carries the rest over (Java's DefaultRecordBatch.incrementSequence: the sequence `n` records
 * after `base` is (base + n) mod 2^31). The broker refuses a batch whose first sequence is not the one
 * after the previous batch's last (OUT_OF_ORDER_SEQUENCE_NUMBER). The real-broker test is
 * sequence-wrap.integration.test.ts.
 */
const MAX = 2 ** 31 - 1;
const SEAM = 'RXML_KAFKA_TEST_FIRST_SEQUENCE';

// kafkajs 2.2.4's sequence bookkeeping, as installed (with patches/kafkajs@2.2.4.patch): rxml's patched
// produce path reserves each call's numbers with getSequence and then updateSequence.
const require = createRequire(import.meta.url);
interface EosManager {
  initProducerId(): Promise<void>;
  getSequence(topic: string, partition: number): number;
  updateSequence(topic: string, partition: number, increment: number): void;
}
const createEosManager = require('kafkajs/src/producer/eosManager') as (options: { logger: object; cluster: object }) => EosManager;

async function initializedEosManager(): Promise<EosManager> {
  const logger = { debug() {}, info() {}, warn() {}, error() {}, namespace: () => logger };
  const broker = { initProducerId: () => Promise.resolve({ producerId: 4000, producerEpoch: 0 }) };
  const cluster = { retry: { retries: 0 }, refreshMetadataIfNecessary: () => Promise.resolve(), findControllerBroker: () => Promise.resolve(broker) };
  const eos = createEosManager({ logger, cluster });
  await eos.initProducerId();
  return eos;
}

describe('kafkajs sequence numbers (patched eosManager): wrap as Kafka does', () => {
  // [next sequence of the partition, records in the call, next sequence after the call]
  const cases: [number, number, number][] = [
    [0, 5, 5],
    [MAX - 10, 10, MAX], // 2^31 - 1 is a valid sequence (kafkajs 2.2.4 went to 0 here)
    [MAX, 1, 0], // after it comes 0
    [MAX - 9, 10, 0], // the batch ends at 2^31 - 1
    [MAX - 2, 5, 2], // straddles: MAX-2, MAX-1, MAX, 0, 1 (kafkajs 2.2.4 lost the 2: 0)
    [MAX - 2, 100, 97],
    [MAX, 2000, 1999],
  ];

  it.each(cases)('from %i, a call with %i record(s) leaves %i', async (base, increment, after) => {
    const eos = await initializedEosManager();
    eos.updateSequence('t', 0, base); // from 0
    expect(eos.getSequence('t', 0), 'the starting sequence').toBe(base);
    eos.updateSequence('t', 0, increment);
    expect(eos.getSequence('t', 0)).toBe(after);
  });

  it('equals (base + n) mod 2^31 for every base within 40 of the wrap and every n up to 50, per partition', async () => {
    const eos = await initializedEosManager();
    let partition = 0;
    for (let base = MAX - 40; base <= MAX; base++) {
      for (let n = 1; n <= 50; n++, partition++) {
        eos.updateSequence('t', partition, base);
        eos.updateSequence('t', partition, n);
        expect(eos.getSequence('t', partition), `${base} + ${n}`).toBe((base + n) % 2 ** 31);
      }
    }
    expect(partition).toBe(41 * 50);
  });
});

// @platformatic/kafka 1.35's idempotent producer (with patches/@platformatic__kafka@1.35.0.patch): each
// send reserves its first sequence per partition, which goes into the record batch. The producer runs
// without a broker: its hooks for metadata, connections and APIs (exported symbols) are replaced by
// in-memory ones; the batch is written by the library's own createRecordsBatch, from the send's options.
const TOPIC = 't';

async function platformaticFirstSequences(first: number | undefined, sends: readonly number[]): Promise<number[]> {
  const firsts: number[] = [];
  const producer = new Producer({ clientId: 'rxml-seqwrap-unit', bootstrapBrokers: ['127.0.0.1:1'], idempotent: true });
  const metadata = {
    id: 'offline',
    brokers: new Map([[1, { nodeId: 1, host: '127.0.0.1', port: 1 }]]),
    controllerId: 1,
    topics: new Map([[TOPIC, { id: 'topic-id', partitionsCount: 1, partitions: [{ leader: 1, leaderEpoch: 0, replicas: [1], isr: [1] }], lastUpdate: 0 }]]),
    lastUpdate: Date.now(),
  };
  type Callback = (error: Error | null, value?: unknown) => void;
  const initProducerId = (...args: unknown[]): void => (args.at(-1) as Callback)(null, { producerId: 5000n, producerEpoch: 0 });
  const produce = (_connection: unknown, _acks: number, _timeout: number, messages: MessageRecord[], options: CreateRecordsBatchOptions, callback: Callback): void => {
    // record batch v2: the first sequence is the INT32 at byte 53 (after baseOffset ... producerEpoch)
    firsts.push(createRecordsBatch(messages, options).buffer.readInt32BE(53));
    callback(null, { responses: [{ name: TOPIC, partitionResponses: [{ index: 0, errorCode: 0, baseOffset: 0n }] }] });
  };
  Object.assign(producer, {
    [kMetadata]: (_options: unknown, callback: Callback) => callback(null, metadata),
    [kGetBootstrapConnection]: (callback: Callback) => callback(null, {}),
    [kGetConnection]: (_broker: unknown, callback: Callback) => callback(null, {}),
    [kGetApi]: (name: string, callback: Callback) => callback(null, name === 'InitProducerId' ? initProducerId : name === 'Produce' ? produce : undefined),
  });
  if (first !== undefined) process.env[SEAM] = String(first);
  try {
    for (const count of sends) {
      await producer.send({ messages: Array.from({ length: count }, (_, i) => ({ topic: TOPIC, partition: 0, value: Buffer.from(String(i)) })) });
    }
  } finally {
    delete process.env[SEAM];
    await producer.close();
  }
  return firsts;
}

describe('@platformatic/kafka sequence numbers (patched producer): wrap as Kafka does', () => {
  afterEach(() => {
    delete process.env[SEAM];
  });

  it('goes through 2^31 - 1 (a valid sequence) to 0, one record per send', async () => {
    expect(await platformaticFirstSequences(MAX - 2, [1, 1, 1, 1, 1])).toEqual([MAX - 2, MAX - 1, MAX, 0, 1]);
  });

  it('carries the rest of a batch that straddles the wrap over to the next batch', async () => {
    // MAX-2, MAX-1, MAX, 0, 1 | 2 ... 6 | 7
    expect(await platformaticFirstSequences(MAX - 2, [5, 5, 1])).toEqual([MAX - 2, 2, 7]);
    // a batch that ends exactly at 2^31 - 1, then one that starts at it
    expect(await platformaticFirstSequences(MAX - 9, [10, 3])).toEqual([MAX - 9, 0]);
    expect(await platformaticFirstSequences(MAX - 10, [10, 3, 1])).toEqual([MAX - 10, MAX, 2]);
  });

  it('starts a new producer id at 0 without the test seam', async () => {
    expect(await platformaticFirstSequences(undefined, [3, 2])).toEqual([0, 3]);
  });
});
