import { subscribe, CHANNELS } from '@rxml/core/contract';
import { committedOffsets, createTopics } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { lastValueFrom, map, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromKafka, toKafka } from '../src/index.js';
import { javaConsume, javaProduce, type JavaRecord } from './support/java.js';
import { brokers, fresh, until } from './support/index.js';
import { BIG, header, ODD_HEADERS, score, sha256 } from './support/poison.js';

describe('no poison pills in exactly-once mode (Java client peer, real broker)', () => {
  it('a record the broker refuses inside a transaction is dead-lettered in the next one (no value; why, size, SHA-256): every input once, headers byte for byte, the pipeline goes on', async () => {
    const [input, output, dead, group] = [fresh('eos-poison-in'), fresh('eos-poison-out'), fresh('eos-poison-dlq'), fresh('eos-poison-group')];
    await createTopics(brokers(), [{ topic: input, partitions: 1 }, { topic: output, partitions: 1 }, { topic: dead, partitions: 1 }]);
    const bigValue = Buffer.from('x'.repeat(BIG));
    const oddHeaders = ODD_HEADERS;
    const plain = (i: number): JavaRecord => ({ partition: 0, key: Buffer.from(`k${i}`), value: Buffer.from(`ok-${i}`), headers: [] });
    // Records around the refused ones, so they share transactions with them.
    const records: JavaRecord[] = [
      plain(0),
      { partition: 0, key: Buffer.from('k1'), value: bigValue, headers: [['trace', Buffer.from('t-1')]] },
      { partition: 0, key: Buffer.from('k2'), value: Buffer.from('malformed'), headers: oddHeaders },
      ...Array.from({ length: 10 }, (_, i) => plain(3 + i)),
      { partition: 0, key: Buffer.from('k13'), value: Buffer.from('ok-big'), headers: [] },
      ...Array.from({ length: 10 }, (_, i) => plain(14 + i)),
    ];
    const TOTAL = records.length;
    // gzip: the Java producer's batch of the 1.2 MB record is small enough for the broker.
    await javaProduce(brokers(), input, records, { 'compression.type': 'gzip', 'max.request.size': 5_000_000 });

    const refusals: string[] = [];
    const unsubscribe = subscribe(CHANNELS.sink, (message) => {
      if (message.type === 'refused') refusals.push(message.code ?? '');
    });
    const started = Date.now();
    let delivered;
    try {
      delivered = await lastValueFrom(
        fromKafka({ brokers: brokers(), topic: input, groupId: group, deserialize: 'bytes', logLevel: logLevel.NOTHING }).pipe(
          map(score),
          toKafka({
            brokers: brokers(),
            topic: output,
            deadLetterTopic: dead,
            exactlyOnce: true,
            transactionalId: fresh('eos-poison-app'),
            logLevel: logLevel.NOTHING,
            maxMessageBytes: 5_000_000,
            // Short: the test fails fast instead of retrying for the default 2 minutes.
            deliveryTimeoutMs: 20_000,
          }),
          take(TOTAL),
          toArray(),
        ),
      );
    } finally {
      unsubscribe();
    }
    const tookMs = Date.now() - started;
    expect(delivered.map((d) => [d.result.input.key?.toString(), d.deadLetter, d.error?.code])).toEqual(
      records.map((r) => {
        const key = r.key!.toString();
        if (key === 'k1' || key === 'k13') return [key, true, 'LIMIT_EXCEEDED'];
        if (key === 'k2') return [key, true, 'INVALID_INPUT'];
        return [key, false, undefined];
      }),
    );
    // The two refused ones (the 1.2 MB input's dead letter, the 1.2 MB output), each once.
    expect(refusals).toEqual(['LIMIT_EXCEEDED', 'LIMIT_EXCEEDED']);
    await until(async () => (await committedOffsets(brokers(), group, input)).get(0) === String(TOTAL), 15_000, 'every input committed');

    // What read_committed readers see: every input exactly once, in the output or as a dead letter.
    const out = await javaConsume(brokers(), output, { 'isolation.level': 'read_committed' });
    const letters = await javaConsume(brokers(), dead, { 'isolation.level': 'read_committed' });
    expect(out.map((r) => r.key?.toString())).toEqual(records.map((r) => r.key!.toString()).filter((k) => !['k1', 'k2', 'k13'].includes(k)));
    expect(letters.map((r) => r.key?.toString())).toEqual(['k1', 'k2', 'k13']);
    const [big, odd, bigOut] = letters as [JavaRecord, JavaRecord, JavaRecord];

    // The 1.2 MB input: its dead letter (with the value) was refused; written without it.
    expect(big.value).toBeNull();
    expect(header(big, 'rxml-error-code')).toBe('LIMIT_EXCEEDED');
    expect(header(big, 'rxml-refused-reason')).toMatch(/MESSAGE_TOO_LARGE|larger than the max message size/i);
    expect(header(big, 'rxml-refused-value-bytes')).toBe(String(BIG));
    expect(header(big, 'rxml-refused-value-sha256')).toBe(sha256(bigValue));
    expect(header(big, 'trace')).toBe('t-1');
    expect(header(big, 'rxml-source-offset')).toBe('1');

    // The malformed record: value and every header as they came (null value, repeats), then rxml's.
    expect(odd.value?.toString()).toBe('malformed');
    expect(odd.headers.slice(0, oddHeaders.length)).toEqual(oddHeaders);
    expect(odd.headers.slice(oddHeaders.length).map(([n]) => n)).toEqual(['rxml-error-code', 'rxml-error-message', 'rxml-source-topic', 'rxml-source-partition', 'rxml-source-offset']);

    // The 1.2 MB output: dead-lettered without its value, with the output's own headers.
    expect(bigOut.value).toBeNull();
    expect(header(bigOut, 'rxml-model')).toBe('poison-test');
    expect(header(bigOut, 'rxml-error-code')).toBe('LIMIT_EXCEEDED');
    expect(header(bigOut, 'rxml-refused-topic')).toBe(output);
    expect(Number(header(bigOut, 'rxml-refused-value-bytes'))).toBeGreaterThan(BIG);
    expect(header(bigOut, 'rxml-source-offset')).toBe('13');
    console.log(`[exactly-once poison pills] ${TOTAL} inputs, 2 refused records isolated and dead-lettered in ${tookMs} ms`);
  });
});
