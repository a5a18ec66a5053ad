import { type PredictResult } from '@rxml/core/contract';
import { committedOffsets, createTopics, endOffsets } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { map, type Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromKafka, toKafka, type KafkaRecord, type KafkaSourceEvent } from '../src/index.js';
import { javaConsume, javaProduce, type JavaStep } from './support/java.js';
import { brokers, fresh, until } from './support/index.js';

const echo = (record: KafkaRecord<string>): PredictResult<KafkaRecord<string>, string> => ({ ok: true, input: record, value: record.value, model: { name: 'echo', version: '1' }, latencyMs: 0 });

const txn = (tag: string, n: number, end: 'COMMIT' | 'ABORT'): JavaStep[] => [
  'BEGIN',
  ...Array.from({ length: n }, (_, i) => ({ partition: 0, key: Buffer.from(`${tag}-${i}`), value: Buffer.from(`${tag}-${i}`), headers: [] })),
  // Written before the transaction ends (an abort would otherwise drop them unsent).
  'FLUSH',
  end,
];

describe('exactly-once lag (transactional input written by the Java producer, real broker)', () => {
  it('commits past transaction markers and aborted records: the committed offset reaches the end offset and the last lag event is 0', async () => {
    const [input, output, group] = [fresh('eos-lag-in'), fresh('eos-lag-out'), fresh('eos-lag-group')];
    await createTopics(brokers(), [{ topic: input, partitions: 1 }, { topic: output, partitions: 1 }]);
    const producerProps = { 'transactional.id': fresh('eos-lag-upstream') };
    // 20 committed records, then their commit marker: end offset 21.
    await javaProduce(brokers(), input, txn('a', 20, 'COMMIT'), producerProps);
    const events: KafkaSourceEvent[] = [];
    const delivered: string[] = [];
    let subscription: Subscription | undefined;
    try {
      subscription = fromKafka({ brokers: brokers(), topic: input, groupId: group, logLevel: logLevel.NOTHING, lagIntervalMs: 200, onEvent: (e) => events.push(e) })
        .pipe(map(echo), toKafka({ brokers: brokers(), topic: output, exactlyOnce: true, transactionalId: fresh('eos-lag-app'), logLevel: logLevel.NOTHING, deliveryTimeoutMs: 20_000 }))
        .subscribe({ next: (d) => delivered.push(String(d.result.input.key)) });
      const committed = async (): Promise<string | undefined> => (await committedOffsets(brokers(), group, input)).get(0);
      // Before: the transaction committed the last record + 1 (20) and the lag stayed 1.
      await until(async () => (await committed()) === '21', 20_000, 'the committed offset to pass the commit marker (21)');
      expect(delivered.length).toBe(20);

      // Then a transaction that is aborted, then one more committed: only markers and aborted records
      // in between, fetched after everything before was written (an offsets-only transaction).
      await javaProduce(brokers(), input, [...txn('b', 5, 'ABORT'), ...txn('c', 3, 'COMMIT'), ...txn('d', 4, 'ABORT')], producerProps);
      const end = (await endOffsets(brokers(), input)).get(0);
      expect(end).toBe('36'); // 21 + 5 + 1 + 3 + 1 + 4 + 1
      await until(async () => (await committed()) === end, 20_000, `the committed offset to reach the end offset ${end}`);
      await until(() => events.some((e) => e.type === 'lag' && e.committed === end), 5_000, 'a lag event at the end offset');
    } finally {
      subscription?.unsubscribe();
    }
    expect(delivered).toEqual([...Array.from({ length: 20 }, (_, i) => `a-${i}`), 'c-0', 'c-1', 'c-2']);
    const lags = events.filter((e): e is Extract<KafkaSourceEvent, { type: 'lag' }> => e.type === 'lag');
    expect(lags.at(-1)).toMatchObject({ endOffset: '36', committed: '36', lag: 0 });
    // The sink's transactions are reported as the source's commits.
    expect(events.some((e) => e.type === 'committed' && e.offsets.some((o) => o.offset === '36'))).toBe(true);
    // Each committed input once in the output (read_committed), no aborted one.
    expect((await javaConsume(brokers(), output, { 'isolation.level': 'read_committed' })).map((r) => r.key?.toString())).toEqual(delivered);
  });
});
