import { type PredictResult } from '@rxml/core/contract';
import { createTopics, readTopic } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { toKafka, type ProducerLibrary } from '../src/index.js';
import { brokers, collectProduceErrors, fresh } from './support/index.js';
import { startKafkaProxy } from './support/kafka-proxy.js';

/**
 * docs/kafka.md, "Idempotent producer": a produce request the broker wrote but whose answer the
 * client never got (the connection dropped, a timeout) is repeated by the client library itself;
 * the broker must recognise the repeat (producer id + sequence numbers) instead of writing the
 * records again, and batches pipelined behind it must keep their place.
 *
 * Deterministic: the producer talks to the real broker through a proxy (support/kafka-proxy.ts)
 * that lets the 3rd produce request through, waits for the broker's answer (so its records are
 * written) and then closes the producer's connection instead of forwarding it. The requests
 * pipelined behind it on that connection were written too and lose their answers with it.
 */
const PARTITIONS = 3;
const RECORDS = 2_000;
const BATCH = 100;
const model = { name: 'idem', version: '1' };

interface Row {
  readonly i: number;
}

describe.each<ProducerLibrary>(['platformatic', 'kafkajs'])('toKafka with the %s producer, answers to written produce requests lost (real broker, proxy)', (producer) => {
  it('the client repeats the requests by itself and nothing is written twice or out of order', async () => {
    const topic = fresh(`idem-${producer}`);
    await createTopics(brokers(), [{ topic, partitions: PARTITIONS }]);
    const proxy = await startKafkaProxy(brokers()[0]!);
    proxy.dropProduceResponse(3);
    const results: PredictResult<{ key: string }, Row>[] = Array.from({ length: RECORDS }, (_, i) => ({
      ok: true,
      input: { key: `key-${i % 11}` },
      value: { i },
      model,
      latencyMs: 1,
    }));
    // Errors rxml itself retried (surfaced by the client): those may write a batch again (docs).
    const rxmlRetries: string[] = [];
    const stopCollecting = collectProduceErrors(rxmlRetries);
    try {
      const delivered = await lastValueFrom(
        from(results).pipe(
          toKafka({
            brokers: [proxy.address],
            topic,
            producer,
            key: (r) => r.input.key,
            maxBatchMessages: BATCH,
            maxInFlightSends: 5,
            logLevel: logLevel.NOTHING,
            // Each client's retry of a lost answer comes after its own backoff; keep it short.
            retry: { initialRetryTime: 100, retries: 5 },
          }),
          toArray(),
        ),
      );
      expect(delivered.length).toBe(RECORDS);
    } finally {
      stopCollecting();
      await proxy.close();
    }
    expect(proxy.dropped, 'connections closed by the proxy after a written produce request').toBe(1);

    const written = await readTopic(brokers(), topic);
    const perPartition = new Map<number, number[]>();
    for (const r of written) {
      let list = perPartition.get(r.partition);
      if (list === undefined) perPartition.set(r.partition, (list = []));
      list.push((JSON.parse(r.value ?? 'null') as Row).i);
    }
    const distinct = new Set(written.map((r) => (JSON.parse(r.value ?? 'null') as Row).i)).size;
    const missing = RECORDS - distinct;
    const copies = written.length - distinct;
    const reorders: string[] = [];
    for (const [partition, indexes] of [...perPartition].sort(([a], [b]) => a - b)) {
      let max = -1;
      let late = 0;
      for (const i of indexes) {
        if (i < max) late++;
        max = Math.max(max, i);
      }
      if (late > 0) reorders.push(`partition ${partition}: ${late} of ${indexes.length} records after a later input`);
    }
    const outcome = `${missing} missing, ${copies} copies, ${reorders.length === 0 ? 'in order' : reorders.join('; ')}`;
    const context = `${proxy.produceRequests} produce requests through the proxy; ${rxmlRetries.length === 0 ? 'no produce error reached rxml' : `rxml retried: ${rxmlRetries.join('; ')}`}`;
    expect(outcome, context).toBe('0 missing, 0 copies, in order');
    // The repeat was the client's own: rxml saw no error.
    expect(rxmlRetries, context).toEqual([]);
  });
});
