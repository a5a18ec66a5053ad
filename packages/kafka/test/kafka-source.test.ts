import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { fromKafkaWith } from '../src/from-kafka.js';
import type { ConsumerClient, ConsumerHandlers, FetchedMessage, PartitionOffset } from '../src/internal/client.js';
import type { KafkaRecord } from '../src/record.js';

/**
 * A scripted client behind the seam: the test plays the group coordinator (assignments,
 * rebalances) and the fetcher, and sees every commit and pause. The rules checked here (what is
 * committed, what is emitted after a rebalance) are also checked end to end on a real broker.
 */
class ScriptedClient implements ConsumerClient {
  handlers!: ConsumerHandlers;
  commits: PartitionOffset[][] = [];
  paused = false;
  stopped = false;
  start(handlers: ConsumerHandlers): Promise<void> {
    this.handlers = handlers;
    return Promise.resolve();
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  commit(offsets: readonly PartitionOffset[]): Promise<void> {
    this.commits.push([...offsets]);
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
  fetch(partition: number, from: number, to: number): number {
    const messages: FetchedMessage[] = [];
    for (let o = from; o < to; o++) messages.push({ offset: String(o), key: null, value: Buffer.from(`v${o}`), timestamp: '0' });
    return this.handlers.onBatch({ topic: 't', partition, messages });
  }
  lastCommitted(partition: number): string | undefined {
    return this.commits.flat().filter((c) => c.partition === partition).at(-1)?.offset;
  }
}

async function setup(maxInFlight = 100) {
  const client = new ScriptedClient();
  const controller = new AbortController();
  const records: KafkaRecord<string>[] = [];
  const completed = new Subject<void>();
  let done = false;
  fromKafkaWith<string>({ topic: 't', groupId: 'g', maxInFlight, commitIntervalMs: 1, drainTimeoutMs: 50, signal: controller.signal }, () => client).subscribe({
    next: (r) => records.push(r),
    complete: () => {
      done = true;
      completed.next();
    },
  });
  await Promise.resolve();
  await Promise.resolve();
  return { client, records, controller, isDone: () => done };
}

const tick = (ms = 10): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('KafkaSource commit and rebalance rules', () => {
  it('commits only the contiguous completed prefix of each partition', async () => {
    const { client, records } = await setup();
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    expect(client.fetch(0, 0, 5)).toBe(5);
    records[1]!.complete();
    await tick();
    expect(client.commits).toEqual([]);
    records[0]!.complete();
    await tick();
    expect(client.lastCommitted(0)).toBe('2');
    records[4]!.complete();
    records[3]!.complete();
    await tick();
    expect(client.lastCommitted(0)).toBe('2');
    records[2]!.complete();
    await tick();
    expect(client.lastCommitted(0)).toBe('5');
  });

  it('takes at most maxInFlight records, pauses, and resumes at three quarters', async () => {
    const { client, records } = await setup(20);
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    expect(client.fetch(0, 0, 50)).toBe(20);
    expect(client.paused).toBe(true);
    for (const r of records.slice(0, 4)) r.complete();
    expect(client.paused).toBe(true);
    records[4]!.complete();
    expect(client.paused).toBe(false);
    // The client re-fetches from the first record not taken.
    expect(client.fetch(0, 20, 50)).toBe(5);
    expect(records.map((r) => r.offset).slice(-1)).toEqual(['24']);
  });

  it('never commits a revoked partition and emits nothing while a rebalance is in progress', async () => {
    const { client, records } = await setup();
    client.handlers.onAssigned([{ topic: 't', partition: 0 }, { topic: 't', partition: 1 }], 'm1');
    client.fetch(0, 0, 3);
    client.fetch(1, 0, 3);
    client.handlers.onRebalancing();
    expect(client.fetch(0, 3, 6)).toBe(0);
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    for (const r of records) r.complete();
    await tick();
    expect(client.commits.flat().some((c) => c.partition === 1)).toBe(false);
    expect(client.lastCommitted(0)).toBe('3');
  });

  it('skips records of a kept partition that kafkajs fetches again after a rebalance', async () => {
    const { client, records } = await setup();
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    client.fetch(0, 0, 4);
    client.handlers.onRebalancing();
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    // Fetched again from the committed offset (nothing committed yet): 0..3 are not emitted twice.
    expect(client.fetch(0, 0, 6)).toBe(6);
    expect(records.map((r) => r.offset)).toEqual(['0', '1', '2', '3', '4', '5']);
  });

  it('treats everything as revoked when the group forgot this member (new member id)', async () => {
    const { client, records } = await setup();
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    client.fetch(0, 0, 2);
    client.handlers.onCrash(new Error('session expired'), true);
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm2');
    for (const r of records) r.complete();
    await tick();
    expect(client.commits).toEqual([]);
    // Re-delivered records are emitted again: the old ones may never be committed.
    client.fetch(0, 0, 2);
    expect(records.length).toBe(4);
  });

  it('graceful shutdown drains, commits, stops the client, then completes', async () => {
    const { client, records, controller, isDone } = await setup();
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    client.fetch(0, 0, 3);
    controller.abort();
    await tick();
    expect(client.paused).toBe(true);
    expect(isDone()).toBe(false);
    for (const r of records) r.complete();
    await tick(30);
    expect(client.lastCommitted(0)).toBe('3');
    expect(client.stopped).toBe(true);
    expect(isDone()).toBe(true);
  });

  it('deserialization failures become records carrying an input error', async () => {
    const client = new ScriptedClient();
    const records: KafkaRecord<unknown>[] = [];
    fromKafkaWith<unknown>({ topic: 't', groupId: 'g', deserialize: 'json' }, () => client).subscribe((r) => records.push(r));
    await tick();
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    client.handlers.onBatch({
      topic: 't',
      partition: 0,
      messages: [
        { offset: '0', key: null, value: Buffer.from('{"a":1}'), timestamp: '0' },
        { offset: '1', key: null, value: Buffer.from('{"a":'), timestamp: '0' },
      ],
    });
    const { inputErrorOf } = await import('@rxml/core');
    expect(records[0]!.value).toEqual({ a: 1 });
    expect(inputErrorOf(records[0])).toBeUndefined();
    expect(inputErrorOf(records[1])?.code).toBe('DESERIALIZATION_ERROR');
    expect(records[1]!.rawValue?.toString()).toBe('{"a":');
  });

  it('moves the committed position past filtered records (markers, aborted) at the end of a batch', async () => {
    const { client, records } = await setup();
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    const messages: FetchedMessage[] = [0, 1].map((o) => ({ offset: String(o), key: null, value: Buffer.from('v'), timestamp: '0' }));
    // Offsets 2..6 were aborted records and their marker: kafkajs hands over 0 and 1 only.
    expect(client.handlers.onBatch({ topic: 't', partition: 0, messages, lastOffset: '6', highWatermark: '7' })).toBe(2);
    records[0]!.complete();
    await tick();
    expect(client.lastCommitted(0)).toBe('1');
    records[1]!.complete();
    await tick();
    expect(client.lastCommitted(0)).toBe('7');
    // A range of filtered records only (never reaches eachBatch) moves it too.
    client.handlers.onBatch({ topic: 't', partition: 0, messages: [], lastOffset: '9', highWatermark: '10' });
    await tick();
    expect(client.lastCommitted(0)).toBe('10');
  });

  it('after an offset reset, records at offsets already seen are new records: all emitted, an event says so', async () => {
    const client = new ScriptedClient();
    const records: KafkaRecord<string>[] = [];
    const events: unknown[] = [];
    fromKafkaWith<string>({ topic: 't', groupId: 'g', commitIntervalMs: 1, onEvent: (e) => events.push(e) }, () => client).subscribe((r) => records.push(r));
    await tick();
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    client.fetch(0, 0, 5);
    for (const r of records) r.complete();
    await tick();
    expect(client.lastCommitted(0)).toBe('5');
    // The topic was created again: offsets 0.. are new. Below the committed position, so it cannot be a re-fetch.
    expect(client.fetch(0, 0, 3)).toBe(3);
    expect(records.map((r) => r.offset)).toEqual(['0', '1', '2', '3', '4', '0', '1', '2']);
    expect(events).toContainEqual({ type: 'offset-reset', topic: 't', partition: 0, from: '5', to: '0', reason: 'below-committed' });
    // Reported by the client (kafkajs' OFFSET_OUT_OF_RANGE reset) even at offsets above the commit.
    client.handlers.onOffsetReset?.({ topic: 't', partition: 0 });
    expect(client.fetch(0, 1, 2)).toBe(1);
    expect(records.at(-1)!.offset).toBe('1');
    expect(events.at(-1)).toEqual({ type: 'offset-reset', topic: 't', partition: 0, from: '3', to: '1', reason: 'out-of-range' });
  });

  it('a throwing onEvent is reported on rxml:callback:error and changes nothing', async () => {
    const { subscribe, CHANNELS } = await import('@rxml/core/contract');
    const reported: unknown[] = [];
    const sourceMessages: unknown[] = [];
    const off = subscribe(CHANNELS.callbackError, (m) => reported.push(m));
    const offSource = subscribe(CHANNELS.source, (m) => sourceMessages.push(m));
    try {
      const client = new ScriptedClient();
      const records: KafkaRecord<string>[] = [];
      fromKafkaWith<string>(
        { topic: 't', groupId: 'g', commitIntervalMs: 1, onEvent: () => { throw new Error('metrics down'); } },
        () => client,
      ).subscribe((r) => records.push(r));
      await tick();
      client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
      client.handlers.onBatch({ topic: 't', partition: 0, messages: [{ offset: '0', key: null, value: Buffer.from('v'), timestamp: '0' }], highWatermark: '1' });
      records[0]!.complete();
      await tick();
      expect(client.lastCommitted(0)).toBe('1');
      expect(reported.length).toBeGreaterThan(0);
      expect(sourceMessages).toContainEqual(expect.objectContaining({ source: 'kafka', type: 'committed', group: 'g', topic: 't', partition: 0, offset: '1' }));
      expect(sourceMessages).toContainEqual({ source: 'kafka', type: 'lag', group: 'g', topic: 't', partition: 0, offset: '1', lag: 0 });
    } finally {
      off();
      offSource();
    }
  });
});
