import { describe, expect, it } from 'vitest';
import { fromKafkaWith } from '../src/from-kafka.js';
import type { ConsumerClient, ConsumerHandlers, FetchedMessage, PartitionOffset, TopicIdentityClient, TopicPartition } from '../src/internal/client.js';
import { compareTopicIds, readTopicIds } from '../src/internal/topic-identity.js';
import type { KafkaSourceEvent } from '../src/internal/kafka-source.js';
import type { KafkaRecord } from '../src/record.js';

const A = '1b2c3d4e-0000-4000-8000-00000000000a';
const B = '1b2c3d4e-0000-4000-8000-00000000000b';
const ZERO = '00000000-0000-0000-0000-000000000000';

describe('compareTopicIds', () => {
  it('tells same, new, changed and missing topics apart', () => {
    const known = new Map([
      ['kept', A],
      ['recreated', A],
      ['gone', A],
    ]);
    const current = new Map<string, string | undefined>([
      ['kept', A],
      ['recreated', B],
      ['gone', undefined],
      ['first', B],
    ]);
    expect(Object.fromEntries(compareTopicIds(known, current, ['kept', 'recreated', 'gone', 'first']))).toEqual({
      kept: { status: 'same' },
      recreated: { status: 'changed', from: A, to: B },
      gone: { status: 'missing' },
      first: { status: 'new', id: B },
    });
  });

  it('a broker without topic IDs (all-zero UUID) is never reported as a change', () => {
    expect(compareTopicIds(new Map([['t', ZERO]]), new Map([['t', B]]), ['t']).get('t')).toEqual({ status: 'same' });
    expect(compareTopicIds(new Map([['t', A]]), new Map([['t', ZERO]]), ['t']).get('t')).toEqual({ status: 'same' });
  });
});

/** Topic IDs served from a script: `ids` now, or a failure while `failures` > 0. */
class ScriptedIdentity implements TopicIdentityClient {
  ids = new Map<string, string | undefined>([['t', A]]);
  failures = 0;
  requests = 0;
  earliest = '0';
  closed = false;
  topicIds(topics: readonly string[]): Promise<ReadonlyMap<string, string | undefined>> {
    this.requests++;
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Error('broker unreachable'));
    }
    return Promise.resolve(new Map(topics.map((t) => [t, this.ids.get(t)])));
  }
  earliestOffsets(_topic: string, partitions: readonly number[]): Promise<ReadonlyMap<number, string>> {
    return Promise.resolve(new Map(partitions.map((p) => [p, this.earliest])));
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

describe('readTopicIds', () => {
  it('asks again after a failure within the deadline', async () => {
    const identity = new ScriptedIdentity();
    identity.failures = 2;
    expect((await readTopicIds(identity, ['t'], Date.now() + 5_000)).get('t')).toBe(A);
    expect(identity.requests).toBe(3);
  });

  it('gives up at the deadline with the last failure', async () => {
    const identity = new ScriptedIdentity();
    identity.failures = 1_000;
    await expect(readTopicIds(identity, ['t'], Date.now() + 250)).rejects.toThrow('broker unreachable');
  });
});

class ScriptedClient implements ConsumerClient {
  handlers!: ConsumerHandlers;
  commits: PartitionOffset[][] = [];
  seeks: [TopicPartition, string][] = [];
  start(handlers: ConsumerHandlers): Promise<void> {
    this.handlers = handlers;
    return Promise.resolve();
  }
  pause(): void {}
  resume(): void {}
  /** Commits still to refuse (a coordinator moving, a rebalance starting). */
  failCommits = 0;
  commit(offsets: readonly PartitionOffset[]): Promise<void> {
    if (this.failCommits > 0) {
      this.failCommits--;
      return Promise.reject(new Error('REBALANCE_IN_PROGRESS'));
    }
    this.commits.push([...offsets]);
    return Promise.resolve();
  }
  seek(partition: TopicPartition, offset: string): void {
    this.seeks.push([partition, offset]);
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  fetch(from: number, to: number): number {
    const messages: FetchedMessage[] = [];
    for (let o = from; o < to; o++) messages.push({ offset: String(o), key: null, value: Buffer.from(`v${o}`), timestamp: '0' });
    return this.handlers.onBatch({ topic: 't', partition: 0, messages });
  }
}

const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function setup() {
  const client = new ScriptedClient();
  const identity = new ScriptedIdentity();
  const events: KafkaSourceEvent[] = [];
  const records: KafkaRecord<string>[] = [];
  const controller = new AbortController();
  fromKafkaWith<string>(
    { topic: 't', groupId: 'g', commitIntervalMs: 1, drainTimeoutMs: 50, topicIdCheckIntervalMs: 0, signal: controller.signal, onEvent: (e) => events.push(e) },
    () => client,
    () => identity,
  ).subscribe({ next: (r) => records.push(r) });
  await tick();
  client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
  await tick(); // the assignment's check records the topic's ID
  return { client, identity, events, records, controller };
}

describe('KafkaSource topic-ID check before commits', () => {
  it('commits when the ID is unchanged: one Metadata request per commit round', async () => {
    const { client, identity, records } = await setup();
    const before = identity.requests;
    client.fetch(0, 5);
    records.forEach((r) => r.complete());
    await tick();
    expect(client.commits.flat().at(-1)).toEqual({ topic: 't', partition: 0, offset: '5' });
    expect(identity.requests - before).toBe(client.commits.length);
  });

  it('metadata that cannot be read skips the commit round (an event), and the offsets are committed later', async () => {
    const { client, identity, events, records } = await setup();
    identity.failures = 1_000;
    client.fetch(0, 5);
    records.forEach((r) => r.complete());
    await until(() => events.some((e) => e.type === 'topic-id-check-failed'), 10_000);
    expect(client.commits).toEqual([]);
    expect(events.find((e) => e.type === 'topic-id-check-failed')).toMatchObject({ topics: ['t'] });
    identity.failures = 0;
    await until(() => client.commits.length > 0, 10_000);
    expect(client.commits.flat().at(-1)).toEqual({ topic: 't', partition: 0, offset: '5' });
  });

  it('a missing topic (deleted, not created again yet) is not committed', async () => {
    const { client, identity, records } = await setup();
    identity.ids.set('t', undefined);
    client.fetch(0, 5);
    records.forEach((r) => r.complete());
    await tick(100);
    expect(client.commits).toEqual([]);
  });

  it('a changed ID: the old position is not committed; the partition is reset to the new log earliest offset and read again', async () => {
    const { client, identity, events, records } = await setup();
    client.fetch(0, 50);
    records.forEach((r) => r.complete());
    await until(() => client.commits.length > 0, 5_000);
    expect(client.commits.flat().at(-1)?.offset).toBe('50');
    // Created again with 60 records; the consumer's fetch at 50 is in range of the new log.
    identity.ids.set('t', B);
    client.fetch(50, 60);
    records.slice(50).forEach((r) => r.complete());
    await until(() => events.some((e) => e.type === 'offset-reset'), 5_000);
    expect(events.find((e) => e.type === 'offset-reset')).toEqual({ type: 'offset-reset', topic: 't', partition: 0, from: '60', to: '0', reason: 'topic-recreated', previousTopicId: A, topicId: B });
    expect(client.seeks).toEqual([[{ topic: 't', partition: 0 }, '0']]);
    // Never 60 for the new log before its records 0..49 were read; the reset commits its earliest offset.
    expect(client.commits.flat().map((c) => c.offset)).toEqual(['50', '0']);
    expect(client.fetch(0, 60)).toBe(60);
    records.slice(60).forEach((r) => r.complete());
    await until(() => client.commits.flat().at(-1)?.offset === '60', 5_000);
    expect(records.slice(60).map((r) => r.offset)).toEqual(Array.from({ length: 60 }, (_, i) => String(i)));
  });

  it('a changed ID whose reset commit fails: the next round commits the new log start before any record completes', async () => {
    const { client, identity, events, records } = await setup();
    client.fetch(0, 50);
    records.forEach((r) => r.complete());
    await until(() => client.commits.length > 0, 5_000);
    identity.ids.set('t', B);
    client.failCommits = 1; // the reset's commit of the new log's earliest offset
    client.fetch(50, 60);
    records.slice(50).forEach((r) => r.complete());
    await until(() => events.some((e) => e.type === 'offset-reset'), 5_000);
    expect(events.some((e) => e.type === 'commit-failed')).toBe(true);
    // No record of the new log has completed, yet the group must not keep the old log's 50: a member
    // taking the partition over (or this one after a crash) would start there and skip 0..49.
    await until(() => client.commits.flat().at(-1)?.offset === '0', 5_000);
    expect(client.commits.flat().map((c) => c.offset)).toEqual(['50', '0']);
  });

  it('closing closes the topic-identity client', async () => {
    const { identity, controller } = await setup();
    controller.abort();
    await until(() => identity.closed, 5_000);
  });
});

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await tick(10);
  }
}
