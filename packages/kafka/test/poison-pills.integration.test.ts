import { committedOffsets, createTopics } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { lastValueFrom, map, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromKafka, toKafka, type ProducerLibrary } from '../src/index.js';
import { javaConsume, javaProduce, type JavaRecord } from './support/java.js';
import { brokers, fresh, until } from './support/index.js';
import { BIG, header, ODD_HEADERS, score, sha256 } from './support/poison.js';

describe.each<ProducerLibrary>(['platformatic', 'kafkajs'])('no poison pills (producer %s, Java client peer, real broker)', (producer) => {
  it('a record the broker refuses still gets a dead letter (no value; why, size, SHA-256); headers are copied as they came; the pipeline goes on', async () => {
    const [input, output, dead, group] = [fresh('poison-in'), fresh('poison-out'), fresh('poison-dlq'), fresh('poison-group')];
    await createTopics(brokers(), [{ topic: input, partitions: 1 }, { topic: output, partitions: 1 }, { topic: dead, partitions: 1 }]);
    const bigValue = Buffer.from('x'.repeat(BIG));
    const oddHeaders = ODD_HEADERS;
    // gzip: the Java producer's batch of the 1.2 MB record is small enough for the broker.
    await javaProduce(
      brokers(),
      input,
      [
        { partition: 0, key: Buffer.from('k0'), value: Buffer.from('ok-0'), headers: [] },
        { partition: 0, key: Buffer.from('k1'), value: bigValue, headers: [['trace', Buffer.from('t-1')]] },
        { partition: 0, key: Buffer.from('k2'), value: Buffer.from('malformed'), headers: oddHeaders },
        { partition: 0, key: Buffer.from('k3'), value: Buffer.from('ok-big'), headers: [] },
        { partition: 0, key: Buffer.from('k4'), value: Buffer.from('ok-4'), headers: [] },
      ],
      { 'compression.type': 'gzip', 'max.request.size': 5_000_000 },
    );

    const delivered = await lastValueFrom(
      fromKafka({ brokers: brokers(), topic: input, groupId: group, deserialize: 'bytes', logLevel: logLevel.NOTHING, commitIntervalMs: 20 }).pipe(
        map(score),
        toKafka({ brokers: brokers(), topic: output, deadLetterTopic: dead, producer, logLevel: logLevel.NOTHING, maxMessageBytes: 5_000_000 }),
        take(5),
        toArray(),
      ),
    );
    expect(delivered.map((d) => [d.result.input.key?.toString(), d.deadLetter, d.error?.code])).toEqual([
      ['k0', false, undefined],
      ['k1', true, 'LIMIT_EXCEEDED'],
      ['k2', true, 'INVALID_INPUT'],
      ['k3', true, 'LIMIT_EXCEEDED'],
      ['k4', false, undefined],
    ]);
    await until(async () => (await committedOffsets(brokers(), group, input)).get(0) === '5', 15_000, 'every input committed');

    expect((await javaConsume(brokers(), output)).map((r) => r.key?.toString())).toEqual(['k0', 'k4']);
    // By key: a refused batch is sent again record by record while later batches go on (pipelined sends).
    const letters = (await javaConsume(brokers(), dead)).sort((a, b) => a.key!.compare(b.key!));
    expect(letters.map((r) => r.key?.toString())).toEqual(['k1', 'k2', 'k3']);
    const [big, odd, bigOut] = letters as [JavaRecord, JavaRecord, JavaRecord];

    // The 1.2 MB input: refused by the broker as a dead letter with its value, written without it.
    expect(big.value).toBeNull();
    expect(header(big, 'rxml-error-code')).toBe('LIMIT_EXCEEDED');
    expect(header(big, 'rxml-refused-reason')).toMatch(/MESSAGE_TOO_LARGE|larger than the max message size/i);
    expect(header(big, 'rxml-refused-value-bytes')).toBe(String(BIG));
    expect(header(big, 'rxml-refused-value-sha256')).toBe(sha256(bigValue));
    expect(header(big, 'trace')).toBe('t-1');
    expect(header(big, 'rxml-source-offset')).toBe('1');

    // The malformed record with a null header and a repeated one: copied as they came, value and
    // every header in order, null (length -1) and repeats included, then rxml's — with kafkajs too
    // (its encoder is patched to write null header values).
    expect(odd.value?.toString()).toBe('malformed');
    expect(odd.headers.slice(0, oddHeaders.length)).toEqual(oddHeaders);
    expect(odd.headers.slice(oddHeaders.length).map(([n]) => n)).toEqual(['rxml-error-code', 'rxml-error-message', 'rxml-source-topic', 'rxml-source-partition', 'rxml-source-offset']);

    // An output over the broker's limit: dead-lettered (refused topic = the output topic), no value.
    expect(bigOut.value).toBeNull();
    expect(header(bigOut, 'rxml-error-code')).toBe('LIMIT_EXCEEDED');
    expect(header(bigOut, 'rxml-refused-topic')).toBe(output);
    expect(Number(header(bigOut, 'rxml-refused-value-bytes'))).toBeGreaterThan(BIG);
    expect(header(bigOut, 'rxml-source-offset')).toBe('3');
  });
});
