import { loadIrisModel, predictIris, type Model } from '@rxml/core';
import { committedOffsets, createTopics, endOffsets, produce, readTopic } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { count, lastValueFrom, tap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromKafka, toKafka, type KafkaSourceEvent } from '../src/index.js';
import { brokers, fresh, irisCsv, irisExamples, slowed, until, untilCommittedTo } from './support/index.js';

const PARTITIONS = 4;
const PER_PARTITION = 3_000;

describe('rebalance: a second consumer joins mid-stream and later leaves (real broker)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadIrisModel();
  });
  afterAll(() => model?.dispose());

  it('loses nothing and keeps the order of each partition', async () => {
    const [input, output, dead, group] = [fresh('reb-in'), fresh('reb-out'), fresh('reb-dlq'), fresh('reb-group')];
    await createTopics(brokers(), [
      { topic: input, partitions: PARTITIONS },
      // One output partition: its order is the order in which the pipelines wrote.
      { topic: output, partitions: 1 },
      { topic: dead, partitions: 1 },
    ]);
    const examples = irisExamples();
    const records = [];
    for (let seq = 0; seq < PER_PARTITION; seq++) {
      for (let p = 0; p < PARTITIONS; p++) {
        records.push({ key: `${p}:${seq}`, partition: p, value: irisCsv(examples[(seq + p) % examples.length]!) });
      }
    }
    await produce(brokers(), input, records);

    const member = (name: string) => {
      const controller = new AbortController();
      const events: KafkaSourceEvent[] = [];
      const state = { delivered: 0, events, controller, done: Promise.resolve(0) };
      state.done = lastValueFrom(
        fromKafka({
          brokers: brokers(),
          topic: input,
          groupId: group,
          fromBeginning: true,
          maxInFlight: 300,
          sessionTimeout: 6_000,
          heartbeatInterval: 500,
          signal: controller.signal,
          logLevel: logLevel.NOTHING,
          clientId: name,
          onEvent: (e) => events.push(e),
        }).pipe(
          // ~2,000 records/s per member at most, so the stream is still running when members change.
          predictIris(slowed(model, 30), { select: (r) => r.value, batch: { size: 64 } }),
          toKafka({ brokers: brokers(), topic: output, deadLetterTopic: dead, logLevel: logLevel.NOTHING, maxBatchMessages: 200 }),
          tap(() => state.delivered++),
          count(),
        ),
      );
      return state;
    };

    const a = member('member-a');
    await until(() => a.delivered >= 1_500, 60_000, 'member A to make progress');
    const b = member('member-b');
    await until(() => b.delivered >= 1_000, 60_000, 'member B to get partitions and make progress');
    const aBeforeLeave = a.delivered;
    b.controller.abort();
    await b.done;
    expect(a.delivered + b.delivered).toBeLessThan(PARTITIONS * PER_PARTITION);

    const ends = await endOffsets(brokers(), input);
    await untilCommittedTo(ends, () => committedOffsets(brokers(), group, input), 'every offset committed after B left');
    a.controller.abort();
    await a.done;

    // B got partitions from A and gave them back: A saw revocations and new assignments.
    expect(a.events.some((e) => e.type === 'revoked')).toBe(true);
    expect(a.events.filter((e) => e.type === 'assigned').length).toBeGreaterThanOrEqual(2);
    expect(b.events.some((e) => e.type === 'assigned')).toBe(true);
    expect(a.delivered).toBeGreaterThan(aBeforeLeave);

    const outputs = await readTopic(brokers(), output);
    const firstSeen = new Set<string>();
    const lastSeq = new Map<number, number>();
    const outOfOrder: string[] = [];
    for (const o of outputs) {
      const key = o.key ?? '';
      if (firstSeen.has(key)) continue;
      firstSeen.add(key);
      const [p, seq] = key.split(':').map(Number) as [number, number];
      if ((lastSeq.get(p) ?? -1) > seq) outOfOrder.push(key);
      lastSeq.set(p, seq);
    }
    expect(outOfOrder).toEqual([]);
    const missing = records.map((r) => r.key).filter((k) => !firstSeen.has(k));
    expect(missing).toEqual([]);
    console.log(
      `[rebalance] A delivered ${a.delivered}, B delivered ${b.delivered}; ${outputs.length} outputs for ${records.length} inputs ` +
        `(${outputs.length - firstSeen.size} duplicates), per-partition order kept`,
    );
  });
});
