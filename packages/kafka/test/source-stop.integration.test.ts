/**
 * A source that was draining (its abort signal fired while records were still in flight) and whose
 * subscriber then went away (the pipeline failed downstream) stops at once: nobody can settle its
 * in-flight records any more. Before, the drain went on for the whole `drainTimeoutMs` (30 s by
 * default) with the consumer still in its group, holding its partitions: a pipeline restarted in the
 * same group got nothing for ~27 s (first-model-timeout.integration hit this in one run out of two).
 */
import { fileURLToPath } from 'node:url';
import { createTopics, produce } from '@rxml/kafka-testkit';
import { Kafka, logLevel } from 'kafkajs';
import { merge, mergeMap, NEVER, Subject, tap } from 'rxjs';
import { expect, it } from 'vitest';
import { fromKafka, type KafkaSourceEvent } from '../src/index.js';
import { brokers, fresh, until } from './support/index.js';
import { startKafkaProxy } from './support/kafka-proxy.js';
import { lifeAfterMarker } from './support/process-exit.js';

const RECORDS = 10;

it('aborted while records are in flight, then failed downstream: leaves its group within seconds, not after drainTimeoutMs, and commits nothing unsettled', async () => {
  const [topic, group] = [fresh('stop-in'), fresh('stop-group')];
  await createTopics(brokers(), [{ topic, partitions: 2 }]);
  await produce(brokers(), topic, Array.from({ length: RECORDS }, (_, i) => ({ key: `k${i}`, value: `v${i}` })));
  const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const controller = new AbortController();
    const events: KafkaSourceEvent[] = [];
    let emitted = 0;
    const failure = new Subject<never>();
    // The records are held forever (a model that never answers): none is ever settled.
    const pipeline = merge(
      fromKafka({ brokers: brokers(), topic, groupId: group, fromBeginning: true, signal: controller.signal, logLevel: logLevel.NOTHING, onEvent: (e) => events.push(e) }).pipe(
        tap(() => emitted++),
        mergeMap(() => NEVER),
      ),
      failure,
    );
    let error: unknown;
    pipeline.subscribe({ error: (e: unknown) => (error = e) });
    await until(() => emitted === RECORDS, 30_000, () => `${RECORDS} records emitted (${emitted})`);
    // The abort: the source stops fetching and waits for its in-flight records (up to 30 s by default).
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Then the pipeline fails downstream: the subscriber is gone, nothing will settle those records.
    const failedAt = Date.now();
    failure.error(new Error('downstream failed'));
    expect(error).toMatchObject({ message: 'downstream failed' });
    await until(async () => {
      const { groups } = await admin.describeGroups([group]);
      return groups[0]?.members.length === 0;
    }, 10_000, 'the group to have no member');
    expect(Date.now() - failedAt).toBeLessThan(10_000);
    expect(events.find((e) => e.type === 'closed')).toMatchObject({ type: 'closed', inFlight: RECORDS, drained: false });
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    expect(committed!.partitions.map((p) => p.offset)).toEqual(['-1', '-1']);
  } finally {
    await admin.disconnect();
  }
});

const EARLY_UNSUBSCRIBE = fileURLToPath(new URL('./fixtures/early-unsubscribe.mjs', import.meta.url));

/** Runs the fixture; resolves with how long the process lived after its unsubscribe, ms (undefined: it never unsubscribed). */
function unsubscribeAfter(delayMs: number, topic: string, group: string): ReturnType<typeof lifeAfterMarker> {
  return lifeAfterMarker(EARLY_UNSUBSCRIBE, { BROKERS: brokers().join(','), TOPIC: topic, GROUP: group, DELAY_MS: String(delayMs) }, /^unsubscribed$/m, 30_000);
}

// A sink that fails at once (a wrong password, no `ssl`) ends the pipeline while its source is still
// starting: connecting, subscribing, or joining its group. Whatever step the consumer is in, once
// unsubscribed it must leave nothing running (no socket, no heartbeat, no retry timer) to hold the process.
it('unsubscribed while its consumer is still starting (any step): the process ends within 3 s', async () => {
  const [topic, group] = [fresh('early-in'), fresh('early-group')];
  await createTopics(brokers(), [{ topic, partitions: 2 }]);
  for (const delayMs of [0, 40, 150, 400, 1_200]) {
    const run = await unsubscribeAfter(delayMs, topic, `${group}-${delayMs}`);
    console.log(`[source-stop] unsubscribed ${delayMs} ms after subscribing: the process ended ${String(run.afterMs)} ms later`);
    expect(run.afterMs, `unsubscribed after ${delayMs} ms: ${run.stdout} ${run.stderr}`).toBeDefined();
    expect(run.afterMs!, `unsubscribed after ${delayMs} ms: ${run.stderr}`).toBeLessThanOrEqual(3_000);
  }
});

// kafkajs' disconnect() does not end a JoinGroup already in flight: its answer, arriving after the
// disconnect, makes the consumer go on as the group's leader, and the connection it opens for that
// (seen in the secured suite under load: a process held 30 s by a TLS socket opened 1 ms after the
// stop) is never closed. A stopped source's client must open nothing and leave nothing open.
it('stopped while its JoinGroup is in flight (the answer comes after the stop): no connection is left open or opened later', async () => {
  const [topic, group] = [fresh('join-stop-in'), fresh('join-stop-group')];
  await createTopics(brokers(), [{ topic, partitions: 2 }]);
  const proxy = await startKafkaProxy(brokers()[0]!);
  try {
    const JOIN_GROUP = 11;
    proxy.holdResponses(JOIN_GROUP, 500);
    const events: KafkaSourceEvent[] = [];
    const subscription = fromKafka({ brokers: [proxy.address], topic, groupId: group, logLevel: logLevel.NOTHING, onEvent: (e) => events.push(e) }).subscribe();
    // The 2nd JoinGroup: the 1st is answered MEMBER_ID_REQUIRED (KIP-394), the 2nd makes it the leader.
    await proxy.requested(JOIN_GROUP, 2);
    subscription.unsubscribe();
    await until(() => events.some((e) => e.type === 'closed'), 10_000, () => `a closed event (${events.map((e) => e.type).join(', ')})`);
    const acceptedAtStop = proxy.accepted;
    // The held answers arrive 500 ms after their requests; give the client time to act on them.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect({ open: proxy.open, openedAfterStop: proxy.accepted - acceptedAtStop }).toEqual({ open: 0, openedAfterStop: 0 });
  } finally {
    await proxy.close();
  }
});
