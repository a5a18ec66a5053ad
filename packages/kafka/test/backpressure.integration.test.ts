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

describe('resuming after backpressure (real broker)', () => {
  it('a resume wakes the consumer at once: no wait of maxWaitTimeInMs per pause (unpatched kafkajs slept it through)', async () => {
    const [input, group] = [fresh('resume-in'), fresh('resume-group')];
    await createTopics(brokers(), [{ topic: input, partitions: 1 }]);
    const RECORDS = 400;
    const MAX_WAIT_MS = 8_000;
    await produce(
      brokers(),
      input,
      (function* () {
        for (let i = 0; i < RECORDS; i++) yield { value: String(i) };
      })(),
    );
    const controller = new AbortController();
    let resumedAt: number | undefined;
    const gaps: number[] = [];
    let pauses = 0;
    let seen = 0;
    const done = lastValueFrom(
      fromKafka({
        brokers: brokers(),
        topic: input,
        groupId: group,
        fromBeginning: true,
        maxInFlight: 50,
        maxWaitTimeInMs: MAX_WAIT_MS,
        signal: controller.signal,
        logLevel: logLevel.NOTHING,
        onEvent: (e) => {
          if (e.type === 'paused') pauses++;
          if (e.type === 'resumed') resumedAt = performance.now();
        },
      }).pipe(
        tap((record) => {
          // The first record after a resume: how long the consumer took to fetch again.
          if (resumedAt !== undefined) {
            gaps.push(performance.now() - resumedAt);
            resumedAt = undefined;
          }
          seen++;
          // Completed a little later, so the window fills and the source pauses.
          setTimeout(() => record.complete(), 5);
        }),
        count(),
      ),
    );
    await until(() => seen >= RECORDS, 120_000, `${RECORDS} records through ${RECORDS / 50}+ pauses`);
    controller.abort();
    await done;
    console.log(`[resume] ${pauses} pauses, gaps after resume: max ${Math.round(Math.max(...gaps))} ms, median ${Math.round(gaps.sort((a, b) => a - b)[gaps.length >> 1] ?? 0)} ms`);
    expect(pauses).toBeGreaterThanOrEqual(RECORDS / 50 - 1);
    expect(gaps.length).toBeGreaterThanOrEqual(RECORDS / 50 - 2);
    // Unpatched, kafkajs' fetch loop sleeps maxWaitTimeInMs (8 s) whenever every partition is paused,
    // so the gaps are ~8 s; woken by resume, a gap is one fetch round trip.
    expect(Math.max(...gaps)).toBeLessThan(MAX_WAIT_MS / 2);
  }, 180_000);
});
