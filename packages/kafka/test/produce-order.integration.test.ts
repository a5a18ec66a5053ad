import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import { type PredictResult } from '@rxml/core/contract';
import { createTopics, readTopic } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { registerKafkaCodecs, toKafka, type KafkaCompression, type KafkaLogger, type ProducerLibrary } from '../src/index.js';
import { brokers, collectProduceErrors, fresh } from './support/index.js';

/**
 * docs/kafka.md, "Order:": per partition the output follows the input order (only a retried produce
 * error may let a batch land after batches sent behind it). `toKafka` pipelines up to
 * `maxInFlightSends` produce calls, so the producer must put each call's request on the wire in call
 * order whatever its compression and however many partitions it spans.
 *
 * The input is made to tempt a reordering: small batches (`maxBatchMessages` 40, 5 in flight, the
 * first five started in one turn of the event loop), in blocks of 40 records that alternate between
 * big incompressible values, tiny values and mid-size compressible ones (so one batch takes much
 * longer to compress than the next), and between keys spread over all partitions and one hot key (so
 * one batch spans 4 partitions, the next only one).
 */
const PARTITIONS = 4;
const RECORDS = 2_400;
const BLOCK = 40;
const model = { name: 'order', version: '1' };
/** `@platformatic/kafka` compresses zstd with Node's zlib, which has it from Node 22.15. */
const nodeZstd = typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function';

interface Row {
  readonly i: number;
  readonly pad: string;
}

function padOf(i: number): string {
  const block = Math.floor(i / BLOCK);
  switch (block % 3) {
    case 0:
      return randomBytes(3_000 + (block % 5) * 1_000).toString('base64'); // 4-9 KB, incompressible-ish
    case 1:
      return ''; // tiny
    default:
      return `record ${i} `.repeat(40); // ~500 B, very compressible
  }
}

/** The hot key in every other block: that block's batch goes to one partition only. */
const keyOf = (i: number): string => (Math.floor(i / BLOCK) % 2 === 1 ? 'hot' : `key-${i % 17}`);

describe.each<ProducerLibrary>(['kafkajs', 'platformatic'])('toKafka with the %s producer keeps per-partition order with pipelined sends (real broker)', (producer) => {
  it.for<KafkaCompression>(['none', 'gzip', 'snappy', 'lz4', 'zstd'])('compression %s: per partition, offsets follow the input order', async (compression, { skip }) => {
    if (producer === 'platformatic' && compression === 'zstd' && !nodeZstd) skip(`@platformatic/kafka has no zstd on Node ${process.version}`);
    registerKafkaCodecs(); // readTopic's kafkajs consumer decodes snappy, lz4 and zstd with them
    const topic = fresh(`order-${producer}-${compression}`);
    await createTopics(brokers(), [{ topic, partitions: PARTITIONS }]);
    const results: PredictResult<{ key: string }, Row>[] = Array.from({ length: RECORDS }, (_, i) => ({
      ok: true,
      input: { key: keyOf(i) },
      value: { i, pad: padOf(i) },
      model,
      latencyMs: 1,
    }));

    // A retried produce error may legitimately reorder (docs): record them (rxml's retries on the
    // sink channel, the client's own in its log) to tell that case apart.
    const produceErrors: string[] = [];
    const keep = (message: string, fields: Readonly<Record<string, unknown>>): void => {
      produceErrors.push(`${message} ${JSON.stringify(fields['error'] ?? '')}`);
    };
    // kafkajs logs each request as it is queued and each response at DEBUG: the most produce
    // requests waiting for their acks at once shows the sends are still pipelined on the wire.
    let outstanding = 0;
    let mostOutstanding = 0;
    const debug = (message: string, fields: Readonly<Record<string, unknown>>): void => {
      if (/Request Produce\b/.test(message)) mostOutstanding = Math.max(mostOutstanding, ++outstanding);
      else if (/Response Produce\b/.test(message)) outstanding--;
      else if (/retr|error/i.test(message)) keep(message, fields);
    };
    const logger: KafkaLogger = { error: keep, warn: keep, info: () => undefined, debug };
    const stopCollecting = collectProduceErrors(produceErrors);
    try {
      const delivered = await lastValueFrom(
        from(results).pipe(
          toKafka({ brokers: brokers(), topic, producer, compression, key: (r) => r.input.key, maxBatchMessages: BLOCK, maxInFlightSends: 5, logger, logLevel: logLevel.DEBUG }),
          toArray(),
        ),
      );
      expect(delivered.length).toBe(RECORDS);
    } finally {
      stopCollecting();
    }

    const written = await readTopic(brokers(), topic);
    const perPartition = new Map<number, number[]>();
    for (const r of written) {
      let list = perPartition.get(r.partition);
      if (list === undefined) perPartition.set(r.partition, (list = []));
      list.push((JSON.parse(r.value ?? 'null') as Row).i);
    }
    // Every record written (a retried batch may be written twice), and every partition in use.
    const retried = produceErrors.length === 0 ? 'no produce error retried' : `produce errors retried: ${produceErrors.join('; ')}`;
    const missing = RECORDS - new Set(written.map((r) => (JSON.parse(r.value ?? 'null') as Row).i)).size;
    expect(perPartition.size).toBe(PARTITIONS);

    // Per partition, the inputs' indexes in offset order must be increasing. Reported as the number
    // of records written after a later input of their partition, and the first such place.
    const reorders: string[] = [];
    for (const [partition, indexes] of [...perPartition].sort(([a], [b]) => a - b)) {
      let max = -1;
      let late = 0;
      let first: string | undefined;
      for (const [at, i] of indexes.entries()) {
        if (i < max) {
          late++;
          first ??= `offset ${at}: input ${i} after input ${max}`;
        }
        max = Math.max(max, i);
      }
      if (late > 0) reorders.push(`partition ${partition}: ${late} of ${indexes.length} records out of input order (first at ${first})`);
    }
    const copies = written.length - RECORDS + missing;
    const outcome = `${missing} missing, ${copies} copies, ${reorders.length === 0 ? 'in order' : reorders.join('; ')}`;
    expect(outcome, `${retried}; got: ${outcome}`).toBe('0 missing, 0 copies, in order');
    if (producer === 'kafkajs') expect(mostOutstanding, 'most produce requests in flight at once').toBeGreaterThan(1);
  });
});
