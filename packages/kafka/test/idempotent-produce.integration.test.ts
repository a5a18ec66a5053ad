import { createTopics } from '@rxml/kafka-testkit';
import { describe, expect, it } from 'vitest';
import { type ProducerLibrary } from '../src/index.js';
import { brokers, collectProduceErrors, fresh, writtenOutcome } from './support/index.js';
import { producePipelined } from './support/pipelined.js';
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

describe.each<ProducerLibrary>(['platformatic', 'kafkajs'])('toKafka with the %s producer, answers to written produce requests lost (real broker, proxy)', (producer) => {
  it('the client repeats the requests by itself and nothing is written twice or out of order', async () => {
    const topic = fresh(`idem-${producer}`);
    await createTopics(brokers(), [{ topic, partitions: PARTITIONS }]);
    const proxy = await startKafkaProxy(brokers()[0]!);
    proxy.dropProduceResponse(3);
    // Errors rxml itself retried (surfaced by the client): those may write a batch again (docs).
    const rxmlRetries: string[] = [];
    const stopCollecting = collectProduceErrors(rxmlRetries);
    try {
      const delivered = await producePipelined({ brokers: [proxy.address], topic, producer, records: RECORDS, batch: BATCH });
      expect(delivered).toBe(RECORDS);
    } finally {
      stopCollecting();
      await proxy.close();
    }
    expect(proxy.dropped, 'connections closed by the proxy after a written produce request').toBe(1);

    const outcome = await writtenOutcome(topic, RECORDS);
    const context = `${proxy.produceRequests} produce requests through the proxy; ${rxmlRetries.length === 0 ? 'no produce error reached rxml' : `rxml retried: ${rxmlRetries.join('; ')}`}`;
    expect(outcome, context).toBe('0 missing, 0 copies, in order');
    // The repeat was the client's own: rxml saw no error.
    expect(rxmlRetries, context).toEqual([]);
  });
});
