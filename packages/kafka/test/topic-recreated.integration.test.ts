import { createServer, type Socket } from 'node:net';
import { CHANNELS, subscribe, type PredictResult, type SourceMessage } from '@rxml/core/contract';
import { committedOffsets, createTopics, endOffsets, produce, readTopic } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { from, map, mergeMap, of, tap, type Subscription } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromKafka, toKafka, type KafkaRecord, type KafkaSourceEvent } from '../src/index.js';
import { recreateTopic } from './support/topics.js';
import { brokers, fresh, until } from './support/index.js';

const echo = (record: KafkaRecord<string>): PredictResult<KafkaRecord<string>, string> => ({ ok: true, input: record, value: record.value, model: { name: 'echo', version: '1' }, latencyMs: 0 });

// Short group timeouts: a member that left must not hold the partitions for long.
const group = { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 6_000, logLevel: logLevel.NOTHING } as const;

const OLD = 50;
const NEW = 60;

/**
 * The race kafkajs cannot see (it reads no topic IDs): the pipeline processed offsets 0..49 of the
 * input topic and committed 50, then is held between fetches — backpressure: it holds the 10
 * records of a second input topic (maxInFlight 10), so the consumer is paused and fetches nothing —
 * while the input topic is deleted and created again with 60 new records, past the old position.
 * When it resumes, its fetch at 50 is in range of the new log. Only the topic-ID check before the
 * commit tells the logs apart (the timer is off: `topicIdCheckIntervalMs: 0`).
 */
async function recreatedWhileHeld(exactlyOnce: boolean): Promise<{ output: string[]; events: KafkaSourceEvent[]; violations: string[]; channel: SourceMessage[] }> {
  const [topic, hold, output, groupId] = [fresh('race-in'), fresh('race-hold'), fresh('race-out'), fresh('race-group')];
  await createTopics(brokers(), [
    { topic, partitions: 1 },
    { topic: hold, partitions: 1 },
    { topic: output, partitions: 1 },
  ]);
  await produce(brokers(), topic, Array.from({ length: OLD }, (_, i) => ({ key: `old-${i}`, value: `old-${i}`, partition: 0 })));
  const events: KafkaSourceEvent[] = [];
  /** `rxml:source` messages about `topic` (what a metrics subscriber sees). */
  const channel: SourceMessage[] = [];
  const unsubscribeChannel = subscribe(CHANNELS.source, (m) => {
    if (m.topic === topic && m.type === 'offset-reset') channel.push(m);
  });
  /** Input records of `topic` the pipeline was handed, in order. */
  const seen: string[] = [];
  let recreated = false;
  /** Commits of `topic` after the re-creation that passed a new record the pipeline never had. */
  const violations: string[] = [];
  let paused = false;
  const onEvent = (e: KafkaSourceEvent): void => {
    events.push(e);
    if (e.type === 'paused') paused = true;
    if (e.type === 'resumed') paused = false;
    if (e.type !== 'committed' || !recreated) return;
    for (const o of e.offsets) {
      if (o.topic !== topic) continue;
      const missing = Array.from({ length: Number(o.offset) }, (_, i) => `new-${i}`).filter((v) => !seen.includes(v));
      if (missing.length > 0) violations.push(`committed ${o.offset} without ${missing.length} new records (${missing.slice(0, 3).join(', ')}…)`);
    }
  };
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let failure: unknown;
  let subscription: Subscription | undefined;
  try {
    subscription = fromKafka({ ...group, brokers: brokers(), topics: [topic, hold], groupId, fromBeginning: true, maxInFlight: 10, commitIntervalMs: 50, topicIdCheckIntervalMs: 0, onEvent })
      .pipe(
        tap((r) => {
          if (r.topic === topic) seen.push(r.value);
        }),
        mergeMap((r) => (r.topic === hold ? from(gate).pipe(map(() => r)) : of(r))),
        map(echo),
        toKafka({
          brokers: brokers(),
          topic: output,
          key: (r) => r.input.value,
          serialize: (value) => value,
          logLevel: logLevel.NOTHING,
          ...(exactlyOnce ? { exactlyOnce: true, transactionalId: fresh('race-app'), deliveryTimeoutMs: 30_000 } : {}),
        }),
      )
      .subscribe({ error: (e: unknown) => (failure = e) });
    const committed = async (): Promise<string | undefined> => (await committedOffsets(brokers(), groupId, topic)).get(0);
    await until(async () => (await committed()) === String(OLD), 30_000, 'the old records committed');
    // Held: the 10 records of the second topic stay in flight, so the consumer pauses.
    await produce(brokers(), hold, Array.from({ length: 10 }, (_, i) => ({ key: `hold-${i}`, value: `hold-${i}`, partition: 0 })));
    await until(() => paused, 30_000, 'the consumer paused by the held records');
    await recreateTopic(topic);
    recreated = true;
    await produce(brokers(), topic, Array.from({ length: NEW }, (_, i) => ({ key: `new-${i}`, value: `new-${i}`, partition: 0 })));
    expect((await endOffsets(brokers(), topic)).get(0)).toBe(String(NEW));
    expect(paused).toBe(true); // nothing was fetched in between
    release();
    const newSeen = (): number => new Set(seen.filter((v) => v.startsWith('new-'))).size;
    await until(async () => newSeen() === NEW && (await committed()) === String(NEW), 30_000, `all ${NEW} new records processed and committed`).catch((error: unknown) => {
      throw new Error(
        `${String(error)}; new records seen ${newSeen()}: ${seen.filter((v) => v.startsWith('new-')).join(',')}; stream error ${String(failure ?? 'none')}; events ${JSON.stringify(events.filter((e) => e.type === 'offset-reset' || e.type === 'topic-id-check-failed'))}`,
      );
    });
  } finally {
    subscription?.unsubscribe();
    unsubscribeChannel();
  }
  expect(failure).toBeUndefined();
  const records = await readTopic(brokers(), output, { isolationLevel: 'read_committed' });
  return { output: records.map((r) => r.value ?? '').filter((v) => v.startsWith('new-')), events, violations, channel };
}

describe('a topic deleted and created again under a running pipeline (topic IDs, real broker)', () => {
  it('at-least-once: 60 new records written past the held consumer position 50 all reach the output; no commit skips any', async () => {
    const { output, events, violations, channel } = await recreatedWhileHeld(false);
    const counts = new Map<string, number>();
    for (const v of output) counts.set(v, (counts.get(v) ?? 0) + 1);
    const expected = Array.from({ length: NEW }, (_, i) => `new-${i}`);
    expect(expected.filter((v) => !counts.has(v))).toEqual([]);
    // Duplicates are allowed (at-least-once): the records 50..59 read before the check are read again.
    const duplicates = [...counts].filter(([, n]) => n > 1).map(([v]) => v);
    console.log(`at-least-once: ${output.length} outputs for ${NEW} new records, duplicated: ${duplicates.join(',') || 'none'}`);
    expect(violations).toEqual([]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'offset-reset', partition: 0, reason: 'topic-recreated', from: '60', to: '0', previousTopicId: expect.any(String), topicId: expect.any(String) }));
    // The same on the rxml:source channel, for metrics subscribers.
    expect(channel).toContainEqual(expect.objectContaining({ source: 'kafka', type: 'offset-reset', partition: 0, offset: '0', reason: 'topic-recreated', previousTopicId: expect.any(String), topicId: expect.any(String) }));
  });

  it('exactly-once: the transaction that would commit the old position is aborted; read_committed sees each of the 60 new outputs once', async () => {
    const { output, events, violations } = await recreatedWhileHeld(true);
    const expected = Array.from({ length: NEW }, (_, i) => `new-${i}`);
    expect([...output].sort()).toEqual([...expected].sort());
    expect(violations).toEqual([]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'offset-reset', partition: 0, reason: 'topic-recreated', to: '0' }));
  });
});

describe('the topic-ID check with a hung bootstrap broker (real broker)', () => {
  it('a bootstrap broker listed first that accepts connections but never answers does not stop the commits: the check asks the next broker', async () => {
    // A port nothing listens on while the consumer starts (kafkajs then uses the real broker), that
    // later accepts connections and never answers: a hung broker, which kafkajs no longer uses but
    // the check's admin client asks first.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const [topic, output, groupId] = [fresh('hung-in'), fresh('hung-out'), fresh('hung-group')];
    await createTopics(brokers(), [
      { topic, partitions: 1 },
      { topic: output, partitions: 1 },
    ]);
    const batch = (tag: string) => Array.from({ length: 10 }, (_, i) => ({ key: `${tag}-${i}`, value: `${tag}-${i}`, partition: 0 }));
    await produce(brokers(), topic, batch('before'));
    const events: KafkaSourceEvent[] = [];
    let failure: unknown;
    const sockets: Socket[] = [];
    const hung = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
    });
    const subscription = fromKafka({ ...group, brokers: [`127.0.0.1:${port}`, ...brokers()], topic, groupId, fromBeginning: true, commitIntervalMs: 50, topicIdCheckIntervalMs: 0, onEvent: (e) => events.push(e) })
      .pipe(map(echo), toKafka({ brokers: brokers(), topic: output, key: (r) => r.input.value, serialize: (value) => value, logLevel: logLevel.NOTHING }))
      .subscribe({ error: (e: unknown) => (failure = e) });
    const committed = async (): Promise<string | undefined> => (await committedOffsets(brokers(), groupId, topic)).get(0);
    try {
      await until(async () => (await committed()) === '10', 30_000, 'the first records committed');
      await new Promise<void>((resolve) => hung.listen(port, '127.0.0.1', resolve));
      await produce(brokers(), topic, batch('after'));
      await until(async () => (await committed()) === '20', 20_000, 'the records produced after the broker hung committed').catch((error: unknown) => {
        throw new Error(`${String(error)}; topic-ID checks failed: ${events.filter((e) => e.type === 'topic-id-check-failed').length}`);
      });
      expect(sockets.length).toBeGreaterThan(0); // the check did ask the hung broker
    } finally {
      subscription.unsubscribe();
      for (const socket of sockets) socket.destroy();
      hung.close();
    }
    expect(failure).toBeUndefined();
  });
});
