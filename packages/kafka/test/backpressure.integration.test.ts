import { loadIrisModel, predictIris, type Model } from '@rxml/core';
import { committedOffsets, createTopics, produce } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { count, lastValueFrom, tap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromKafka, toKafka, type KafkaSourceEvent } from '../src/index.js';
import { brokers, fresh, slowed, until } from './support/index.js';

const BACKLOG = 200_000;
const MAX_IN_FLIGHT = 1_000;
const SESSION_TIMEOUT = 3_000;
const MODEL_CALL_MS = 4_000;

describe('backpressure with a slow model and a 200,000-record backlog (real broker)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadIrisModel();
  });
  afterAll(() => model?.dispose());

  it('holds at most maxInFlight records, keeps its group membership through model calls longer than the session timeout, and commits exactly what it completed', async () => {
    const [input, output, dead, group] = [fresh('bp-in'), fresh('bp-out'), fresh('bp-dlq'), fresh('bp-group')];
    await createTopics(brokers(), [
      { topic: input, partitions: 2 },
      { topic: output, partitions: 1 },
      { topic: dead, partitions: 1 },
    ]);
    const value = '6.3,2.9,5.6,1.8';
    await produce(
      brokers(),
      input,
      (function* () {
        for (let i = 0; i < BACKLOG; i++) yield { value };
      })(),
      { batchSize: 10_000 },
    );

    const controller = new AbortController();
    const events: KafkaSourceEvent[] = [];
    let emitted = 0;
    let delivered = 0;
    let maxHeld = 0;
    const done = lastValueFrom(
      fromKafka({
        brokers: brokers(),
        topic: input,
        groupId: group,
        fromBeginning: true,
        maxInFlight: MAX_IN_FLIGHT,
        sessionTimeout: SESSION_TIMEOUT,
        heartbeatInterval: 500,
        signal: controller.signal,
        logLevel: logLevel.NOTHING,
        onEvent: (e) => events.push(e),
      }).pipe(
        tap(() => {
          emitted++;
          maxHeld = Math.max(maxHeld, emitted - delivered);
        }),
        // Each model call takes longer than the session timeout: only heartbeats sent while the
        // model is busy keep this member in the group.
        predictIris(slowed(model, MODEL_CALL_MS), { select: (r) => r.value, batch: { size: 500 } }),
        toKafka({ brokers: brokers(), topic: output, deadLetterTopic: dead, logLevel: logLevel.NOTHING }),
        tap(() => delivered++),
        count(),
      ),
    );

    await until(() => delivered >= 3 * 500, 60_000, 'three slow model calls');
    controller.abort();
    await done;

    console.log(`[backpressure] backlog ${BACKLOG}, maxInFlight ${MAX_IN_FLIGHT}: emitted ${emitted}, delivered ${delivered}, most held ${maxHeld}; ` +
      `${events.filter((e) => e.type === 'paused').length} pauses`);
    expect(maxHeld).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    expect(maxHeld).toBeGreaterThan(0);
    expect(emitted).toBeLessThan(BACKLOG / 10);
    expect(events.some((e) => e.type === 'paused')).toBe(true);
    // Graceful shutdown drained everything that was emitted.
    expect(delivered).toBe(emitted);
    // Never kicked out of the group although every model call outlasted the session timeout.
    // (A fresh broker may still be loading the offsets topic before the first join: start-up noise.)
    const afterJoin = events.slice(events.findIndex((e) => e.type === 'assigned'));
    expect(afterJoin.filter((e) => e.type === 'rebalancing' || e.type === 'crashed' || e.type === 'revoked')).toEqual([]);
    expect(afterJoin.filter((e) => e.type === 'assigned').length).toBe(1);
    const committed = await committedOffsets(brokers(), group, input);
    expect([...committed.values()].reduce((a, b) => a + BigInt(b), 0n)).toBe(BigInt(delivered));
  });
});
