import { RxmlError } from '@rxml/core/contract';
import { committedOffsets, createTopics, endOffsets, produce } from '@rxml/kafka-testkit';
import { CompressionCodecs, CompressionTypes, logLevel } from 'kafkajs';
import { lastValueFrom, tap, toArray, type Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromKafka, registerKafkaCodecs, type KafkaRecord, type KafkaSourceEvent } from '../src/index.js';
import { javaProduce, type JavaStep } from './support/java.js';
import { admin, recreateTopic } from './support/topics.js';
import { brokers, fresh, until, untilCommittedTo } from './support/index.js';

// Short group timeouts: a member that crashed or left must not hold the partitions for long.
const group = { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 6_000, logLevel: logLevel.NOTHING } as const;

describe('what real topics contain (real broker, Java client peer)', () => {
  it('a consumer crash commits the completed prefix before the stream errors', async () => {
    const [topic, groupId] = [fresh('crash-in'), fresh('crash-group')];
    await createTopics(brokers(), [{ topic, partitions: 1 }]);
    await produce(brokers(), topic, Array.from({ length: 2_000 }, (_, i) => ({ key: `k${i}`, value: `v${i} `.padEnd(1_000, '.') })), { batchSize: 500 });
    await javaProduce(brokers(), topic, Array.from({ length: 50 }, (_, i) => ({ partition: 0, key: Buffer.from(`z${i}`), value: Buffer.from(`zstd ${i} `.repeat(20)), headers: [] })), {
      'compression.type': 'zstd',
    });
    // A consumer whose kafkajs cannot read zstd (as before rxml registered codecs): it crashes for
    // good (KafkaJSNotImplemented) at the fetch that holds that batch, after ~2 MB of plain records
    // fetched 64 KiB at a time were completed.
    registerKafkaCodecs();
    const codecs = CompressionCodecs as Record<number, () => unknown>;
    const zstd = codecs[CompressionTypes.ZSTD]!;
    codecs[CompressionTypes.ZSTD] = () => {
      throw Object.assign(new Error('ZSTD compression not implemented'), { name: 'KafkaJSNotImplemented', retriable: false });
    };
    const events: KafkaSourceEvent[] = [];
    let completed = 0;
    try {
      const error = await lastValueFrom(
        // Periodic commits would come too late: only the crash path can commit in time.
        fromKafka({ ...group, brokers: brokers(), topic, groupId, fromBeginning: true, maxBytesPerPartition: 65_536, commitIntervalMs: 600_000, onEvent: (e) => events.push(e) }).pipe(
          tap((r) => {
            r.complete();
            completed++;
          }),
        ),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RxmlError);
      expect((error as RxmlError).code).toBe('KAFKA_ERROR');
      expect((error as RxmlError).message).toMatch(/ZSTD compression not implemented/);
    } finally {
      codecs[CompressionTypes.ZSTD] = zstd;
    }
    // Everything completed is committed (the records of the failing fetch were never emitted).
    expect(completed).toBeGreaterThan(1_500);
    expect((await committedOffsets(brokers(), groupId, topic)).get(0)).toBe(String(completed));
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['crashed', 'committed', 'closed']));
  });

  it('lag reaches zero past aborted transactions and transaction markers (read_committed)', async () => {
    const [topic, groupId] = [fresh('txn-in'), fresh('txn-group')];
    await createTopics(brokers(), [{ topic, partitions: 2 }]);
    // Transactions of 20 records over both partitions: committed, aborted, committed, aborted,
    // committed, and the log ends with an aborted one (its records and its marker are the tail).
    const steps: JavaStep[] = [];
    const outcomes = ['COMMIT', 'ABORT', 'COMMIT', 'ABORT', 'COMMIT', 'ABORT'] as const;
    outcomes.forEach((outcome, t) => {
      steps.push('BEGIN');
      for (let i = 0; i < 20; i++) {
        steps.push({ partition: i % 2, key: Buffer.from(`t${t}-${i}`), value: Buffer.from(`${outcome === 'COMMIT' ? 'kept' : 'aborted'} ${t}/${i}`), headers: [] });
      }
      // Sent before the outcome, so aborted records are in the log too (not just dropped by the producer).
      steps.push('FLUSH', outcome);
    });
    await javaProduce(brokers(), topic, steps, { 'transactional.id': fresh('txn-producer'), 'enable.idempotence': 'true' });
    const ends = await endOffsets(brokers(), topic);
    // Per partition: 60 records (30 committed, 30 aborted) and 6 transaction markers.
    expect([...ends.values()]).toEqual(['66', '66']);

    const events: KafkaSourceEvent[] = [];
    const controller = new AbortController();
    const seen: KafkaRecord<string>[] = [];
    const done = lastValueFrom(
      fromKafka({ ...group, brokers: brokers(), topic, groupId, fromBeginning: true, signal: controller.signal, commitIntervalMs: 20, lagIntervalMs: 200, onEvent: (e) => events.push(e) }).pipe(
        tap((r) => {
          seen.push(r);
          r.complete();
        }),
        toArray(),
      ),
    );
    await untilCommittedTo(ends, () => committedOffsets(brokers(), groupId, topic), 'committed offsets at the end offsets');
    await until(() => events.some((e) => e.type === 'lag' && e.lag === 0), 10_000, 'a lag event of 0');
    controller.abort();
    await done;
    expect(seen.length).toBe(60);
    expect(seen.every((r) => r.value.startsWith('kept'))).toBe(true);
    for (const partition of [0, 1]) {
      const last = events.filter((e): e is Extract<KafkaSourceEvent, { type: 'lag' }> => e.type === 'lag' && e.partition === partition).at(-1);
      expect(last).toMatchObject({ endOffset: '66', committed: '66', lag: 0 });
    }
  });

  it('records written after the topic was deleted and created again are all processed (offset reset)', async () => {
    const [topic, groupId] = [fresh('recreate-in'), fresh('recreate-group')];
    await createTopics(brokers(), [{ topic, partitions: 1 }]);
    await produce(brokers(), topic, Array.from({ length: 50 }, (_, i) => ({ value: `old-${i}` })));
    const events: KafkaSourceEvent[] = [];
    const seen: string[] = [];
    const controller = new AbortController();
    const done = lastValueFrom(
      fromKafka({ ...group, brokers: brokers(), topic, groupId, fromBeginning: true, signal: controller.signal, commitIntervalMs: 20, onEvent: (e) => events.push(e) }).pipe(
        tap((r) => {
          seen.push(r.value);
          r.complete();
        }),
        toArray(),
      ),
    );
    await until(async () => (await committedOffsets(brokers(), groupId, topic)).get(0) === '50', 30_000, 'old records committed');
    await recreateTopic(topic);
    // First fewer records than the old committed position (50), so the consumer's position is out of
    // range of the new log whenever it fetches; then the rest. (A log that grows past the old
    // position before the consumer's next fetch is only told apart by its topic ID:
    // topic-recreated.integration.test.ts.)
    await produce(brokers(), topic, Array.from({ length: 30 }, (_, i) => ({ value: `new-${i}`, partition: 0 })));
    await until(() => seen.filter((v) => v.startsWith('new-')).length >= 30, 60_000, 'the first 30 new records').catch((error: unknown) => {
      throw new Error(`${String(error)}; seen ${seen.length} (${seen.filter((v) => v.startsWith('new-')).length} new); events ${JSON.stringify(events.filter((e) => e.type !== 'lag' && e.type !== 'committed'))}`);
    });
    await produce(brokers(), topic, Array.from({ length: 30 }, (_, i) => ({ value: `new-${30 + i}`, partition: 0 })));
    await until(() => seen.filter((v) => v.startsWith('new-')).length >= 60, 60_000, 'all 60 new records').catch((error: unknown) => {
      throw new Error(`${String(error)}; seen ${seen.length} (${seen.filter((v) => v.startsWith('new-')).length} new); events ${JSON.stringify(events.filter((e) => e.type !== 'lag' && e.type !== 'committed'))}`);
    });
    await until(async () => (await committedOffsets(brokers(), groupId, topic)).get(0) === '60', 30_000, 'new records committed');
    controller.abort();
    await done;
    expect(new Set(seen.filter((v) => v.startsWith('new-')))).toEqual(new Set(Array.from({ length: 60 }, (_, i) => `new-${i}`)));
    expect(events).toContainEqual(expect.objectContaining({ type: 'offset-reset', topic, partition: 0 }));
    // Seen by the topic-ID check (after kafkajs' rejoin on the unknown topic, or before a commit) or by kafkajs' out-of-range reset.
    const reasons = events.flatMap((e) => (e.type === 'offset-reset' ? [e.reason] : []));
    expect(reasons.every((r) => r === 'topic-recreated' || r === 'out-of-range' || r === 'below-committed')).toBe(true);
  });

  it('records deleted under a lagging consumer (DeleteRecords) are reported; every record after is processed', async () => {
    const [topic, groupId] = [fresh('truncate-in'), fresh('truncate-group')];
    await createTopics(brokers(), [{ topic, partitions: 1 }]);
    await produce(brokers(), topic, Array.from({ length: 100 }, (_, i) => ({ value: `r${i}` })));
    const events: KafkaSourceEvent[] = [];
    const held: KafkaRecord<string>[] = [];
    const seen: string[] = [];
    let subscription: Subscription | undefined;
    const controller = new AbortController();
    const done = new Promise<void>((resolve, reject) => {
      subscription = fromKafka({ ...group, brokers: brokers(), topic, groupId, fromBeginning: true, signal: controller.signal, maxInFlight: 10, commitIntervalMs: 20, onEvent: (e) => events.push(e) }).subscribe({
        next: (r) => {
          seen.push(r.value);
          held.push(r);
        },
        error: reject,
        complete: resolve,
      });
    });
    await until(() => held.length === 10, 30_000, 'the first 10 records, then paused');
    await admin(async (a) => {
      await a.fetchTopicMetadata({ topics: [topic] });
      await a.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '50' }] });
    });
    for (const r of held.splice(0)) r.complete();
    const release = setInterval(() => held.splice(0).forEach((r) => r.complete()), 20);
    try {
      await until(async () => (await committedOffsets(brokers(), groupId, topic)).get(0) === '100', 60_000, 'every record after the deletion committed');
    } finally {
      clearInterval(release);
    }
    controller.abort();
    await done;
    subscription?.unsubscribe();
    expect(seen.slice(10)).toEqual(Array.from({ length: 50 }, (_, i) => `r${50 + i}`));
    expect(events).toContainEqual({ type: 'offset-reset', topic, partition: 0, from: '10', to: '50', reason: 'out-of-range' });
  });
});
