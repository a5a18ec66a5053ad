import { loadIrisModel, predictIris, type Model } from '@rxml/core';
import { startKafka, type KafkaTestBroker, type TopicRecord } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { count, lastValueFrom, tap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromKafka, toKafka } from '../src/index.js';
import { startPipeline } from './support/pipeline-process.js';
import { fresh, irisCsv, irisExamples, until, untilCommittedTo } from './support/index.js';

/** Every 50th input is malformed: it must come out exactly once too, as a dead letter. */
function inputs(total: number): { key: string; value: string }[] {
  const examples = irisExamples();
  return Array.from({ length: total }, (_, i) => ({ key: `r${i}`, value: i % 50 === 7 ? `oops,${i}` : irisCsv(examples[i % examples.length]!) }));
}

/** How often each input key appears in the output and dead-letter records. */
function tally(records: readonly TopicRecord[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const r of records) seen.set(r.key ?? '', (seen.get(r.key ?? '') ?? 0) + 1);
  return seen;
}

function exactlyOnceReport(total: number, output: readonly TopicRecord[], dead: readonly TopicRecord[]): { lost: string[]; duplicated: string[] } {
  const seen = tally([...output, ...dead]);
  const lost: string[] = [];
  const duplicated: string[] = [];
  for (let i = 0; i < total; i++) {
    const n = seen.get(`r${i}`) ?? 0;
    if (n === 0) lost.push(`r${i}`);
    if (n > 1) duplicated.push(`r${i}×${n}`);
  }
  return { lost, duplicated };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Own broker: the test restarts it.
describe.skipIf(process.env['KAFKA_BROKERS'] !== undefined && process.env['KAFKA_BROKERS'] !== '')('exactly-once (real broker)', () => {
  let kafka: KafkaTestBroker;
  beforeAll(async () => {
    kafka = await startKafka({ ignoreEnv: true, defaultPartitions: 3 });
  });
  afterAll(async () => {
    await kafka?.stop();
  });

  it('writes outputs, dead letters and offsets in transactions: read_committed sees each input once', async () => {
    const TOTAL = 3_000;
    const [input, output, dead, group] = [fresh('eos-in'), fresh('eos-out'), fresh('eos-dlq'), fresh('eos-group')];
    await kafka.createTopic(input, 3);
    await kafka.createTopic(output, 3);
    await kafka.createTopic(dead, 1);
    await kafka.produce(input, inputs(TOTAL));
    const model: Model = await loadIrisModel();
    const controller = new AbortController();
    let delivered = 0;
    try {
      const done = lastValueFrom(
        fromKafka({ brokers: kafka.brokers, topic: input, groupId: group, fromBeginning: true, signal: controller.signal, logLevel: logLevel.NOTHING }).pipe(
          // Results out of input order: a transaction must still never commit past a missing record.
          predictIris(model, { select: (r) => r.value, batch: { size: 64 }, ordered: false }),
          toKafka({ brokers: kafka.brokers, topic: output, deadLetterTopic: dead, exactlyOnce: true, transactionalId: fresh('eos-app'), logLevel: logLevel.NOTHING }),
          tap(() => delivered++),
          count(),
        ),
      );
      const ends = await kafka.endOffsets(input);
      await untilCommittedTo(ends, () => kafka.committedOffsets(group, input), 'every offset committed');
      controller.abort();
      expect(await done).toBe(TOTAL);
    } finally {
      model.dispose();
    }
    const [out, dlq] = [await kafka.readTopic(output), await kafka.readTopic(dead)];
    const { lost, duplicated } = exactlyOnceReport(TOTAL, out, dlq);
    expect(lost).toEqual([]);
    expect(duplicated).toEqual([]);
    expect(dlq.length).toBe(60);
    expect(dlq[0]!.headers['rxml-error-code']).toBe('INVALID_INPUT');
  });

  it('20 × kill -9 of the pipeline process and a broker restart: every input exactly once, nothing lost', async () => {
    const TOTAL = 15_000;
    const KILLS = 20;
    const [input, output, dead, group] = [fresh('eos-kill-in'), fresh('eos-kill-out'), fresh('eos-kill-dlq'), fresh('eos-kill-group')];
    await kafka.createTopic(input, 3);
    await kafka.createTopic(output, 3);
    await kafka.createTopic(dead, 1);
    await kafka.produce(input, inputs(TOTAL));
    const env = { BROKERS: kafka.brokers.join(','), INPUT: input, OUTPUT: output, DLQ: dead, GROUP: group, TRANSACTIONAL_ID: fresh('eos-kill-app') };
    const started = Date.now();

    const killedAt: number[] = [];
    for (let kill = 0; kill < KILLS; kill++) {
      // A slightly slowed model, so 20 short runs do not finish the input.
      const run = startPipeline({ ...env, SLOW_MS: '10' });
      // Mid-stream, at a random point: usually while a transaction is open.
      const threshold = 100 + Math.floor(Math.random() * 250);
      await until(() => run.delivered >= threshold, 60_000, `pipeline run ${kill + 1} to deliver ${threshold} records`);
      await sleep(Math.random() * 100);
      run.child.kill('SIGKILL');
      expect(await run.exited).toBe(null);
      killedAt.push(run.delivered);
      console.log(`[exactly-once] kill ${kill + 1} after ${run.delivered} deliveries, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    const killsDone = Date.now();
    const committedBefore = [...(await kafka.committedOffsets(group, input)).values()].reduce((a, b) => a + BigInt(b), 0n);
    expect(committedBefore).toBeLessThan(BigInt(TOTAL));

    // The last run goes through a broker restart (slowed model, so the restart lands mid-stream).
    let last = startPipeline({ ...env, SLOW_MS: '50', EVENTS: '1' });
    await until(() => last.delivered >= 200, 60_000, 'the last run to deliver records');
    const beforeRestart = last.delivered;
    await kafka.restart();
    const afterRestart = last.delivered;
    // kafkajs can still fail the consumer with a non-retriable "group coordinator not found" after a
    // broker restart (the restart flake of issue 11, fixed in the source separately): then the run is
    // started again, as a supervisor would, and exactly-once must still hold.
    let rerunsAfterRestart = 0;
    const ends = await kafka.endOffsets(input);
    let committed: ReadonlyMap<number, string> = new Map();
    await until(
      async () => {
        if (last.child.exitCode !== null) {
          rerunsAfterRestart++;
          last = startPipeline({ ...env, EVENTS: '1' });
        }
        committed = await kafka.committedOffsets(group, input);
        return [...ends].every(([partition, end]) => committed.get(partition) === end);
      },
      180_000,
      () =>
        `the last run to commit every offset: committed ${JSON.stringify([...committed])} of ends ${JSON.stringify([...ends])}; ` +
        `the last run (pid ${last.child.pid ?? '?'}, ${rerunsAfterRestart} reruns) delivered ${last.delivered}; its last source events:\n${last.events.slice(-60).join('\n')}`,
    );
    console.log(`[exactly-once] everything committed after ${((Date.now() - started) / 1000).toFixed(1)} s; stopping the last run`);
    last.child.kill('SIGTERM');
    expect(await last.exited).toBe(0);

    const [out, dlq] = [await kafka.readTopic(output), await kafka.readTopic(dead)];
    const { lost, duplicated } = exactlyOnceReport(TOTAL, out, dlq);
    if (lost.length > 0 || duplicated.length > 0) {
      console.log(`[exactly-once] ${lost.length} lost, ${duplicated.length} duplicated; the last run's source events (pid ${last.child.pid ?? '?'}):\n${last.events.join('\n')}`);
    }
    expect(lost).toEqual([]);
    expect(duplicated).toEqual([]);
    expect(out.length + dlq.length).toBe(TOTAL);
    // What the killed runs wrote in transactions that never committed: there, but invisible to read_committed.
    const uncommitted = await kafka.readTopic(output, { isolationLevel: 'read_uncommitted' });
    console.log(
      `[exactly-once] ${KILLS} kills after ${killedAt.join(', ')} deliveries (${((killsDone - started) / 1000).toFixed(1)} s); ` +
        `broker restart between ${beforeRestart} and ${afterRestart} deliveries of the last run (${rerunsAfterRestart} reruns after it); ` +
        `read_committed: ${out.length} outputs + ${dlq.length} dead letters for ${TOTAL} inputs, 0 lost, 0 duplicates; ` +
        `read_uncommitted: ${uncommitted.length - out.length} records of aborted transactions; total ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(afterRestart).toBeLessThan(TOTAL - Number(committedBefore));
  }, 600_000);
  it('fences a zombie: a stalled member (SIGSTOP) loses its partitions, wakes up (SIGCONT) and writes nothing twice', async () => {
    const TOTAL = 12_000;
    const [input, output, dead, group] = [fresh('eos-zombie-in'), fresh('eos-zombie-out'), fresh('eos-zombie-dlq'), fresh('eos-zombie-group')];
    await kafka.createTopic(input, 3);
    await kafka.createTopic(output, 3);
    await kafka.createTopic(dead, 1);
    await kafka.produce(input, inputs(TOTAL));
    const env = { BROKERS: kafka.brokers.join(','), INPUT: input, OUTPUT: output, DLQ: dead, GROUP: group, TRANSACTIONAL_ID: fresh('eos-zombie-app'), SLOW_MS: '50' };
    const zombie = startPipeline(env);
    await until(() => zombie.delivered >= 300, 60_000, 'the first member to deliver records');
    // Stalled mid-stream (a long GC pause, a frozen VM): no heartbeats, a transaction left open.
    zombie.child.kill('SIGSTOP');
    const stalledAt = zombie.delivered;
    const other = startPipeline(env);
    // The group drops the stalled member after its 2 s session; the other member takes every
    // partition and fences the stalled one's transactional ids.
    await until(() => other.delivered >= 1_000, 60_000, 'the second member to take over');
    zombie.child.kill('SIGCONT');
    const ends = await kafka.endOffsets(input);
    await untilCommittedTo(ends, () => kafka.committedOffsets(group, input), 'every offset committed by the two members');
    zombie.child.kill('SIGTERM');
    other.child.kill('SIGTERM');
    expect(await other.exited).toBe(0);
    await zombie.exited;
    const [out, dlq] = [await kafka.readTopic(output), await kafka.readTopic(dead)];
    const { lost, duplicated } = exactlyOnceReport(TOTAL, out, dlq);
    expect(lost).toEqual([]);
    expect(duplicated).toEqual([]);
    console.log(
      `[exactly-once] zombie: stalled after ${stalledAt} deliveries, woke up and delivered ${zombie.delivered - stalledAt} more; ` +
        `the other member delivered ${other.delivered}; ${out.length} outputs + ${dlq.length} dead letters for ${TOTAL} inputs, 0 lost, 0 duplicates`,
    );
  });
});
