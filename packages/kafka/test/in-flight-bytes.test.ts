import { describe, expect, it } from 'vitest';
import { fromKafkaWith } from '../src/from-kafka.js';
import type { ConsumerClient, ConsumerHandlers, FetchedMessage } from '../src/internal/client.js';
import { RECORD_OVERHEAD_BYTES } from '../src/internal/kafka-source.js';
import type { KafkaRecord } from '../src/record.js';

/** A scripted consumer behind the seam: the test plays the fetcher and sees pauses. */
class ScriptedClient implements ConsumerClient {
  handlers!: ConsumerHandlers;
  paused = false;
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
  commit(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  fetch(from: number, to: number, valueBytes: number): number {
    const messages: FetchedMessage[] = [];
    for (let o = from; o < to; o++) messages.push({ offset: String(o), key: null, value: Buffer.alloc(valueBytes, 1), timestamp: '0' });
    return this.handlers.onBatch({ topic: 't', partition: 0, messages });
  }
}

describe('fromKafka bounds in-flight memory in bytes', () => {
  it('with no count cap, pauses when the bytes of records not yet completed reach maxInFlightBytes and resumes at three quarters', async () => {
    const client = new ScriptedClient();
    const records: KafkaRecord<Buffer | null>[] = [];
    const perRecord = RECORD_OVERHEAD_BYTES + 1000;
    const controller = new AbortController();
    fromKafkaWith<Buffer | null>({ topic: 't', groupId: 'g', deserialize: 'bytes', maxInFlightBytes: perRecord * 10, signal: controller.signal, drainTimeoutMs: 10 }, () => client).subscribe((r) => records.push(r));
    await Promise.resolve();
    client.handlers.onAssigned([{ topic: 't', partition: 0 }], 'm1');
    await Promise.resolve();
    await Promise.resolve();
    expect(client.fetch(0, 100, 1000)).toBe(10);
    expect(records).toHaveLength(10);
    expect(client.paused).toBe(true);
    records.slice(0, 2).forEach((r) => r.complete());
    expect(client.paused).toBe(true); // 8 × perRecord > three quarters
    records[2]!.complete();
    expect(client.paused).toBe(false);
    // Small records: many more fit in the same bytes.
    expect(client.fetch(10, 1000, 10)).toBeGreaterThan(3);
    controller.abort();
  });
});
