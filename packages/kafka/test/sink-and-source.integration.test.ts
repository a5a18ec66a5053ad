import { loadIrisModel, predictIris, RxmlError, type Model } from '@rxml/core';
import { committedOffsets, createTopics, produce, readTopic } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { lastValueFrom, take, tap, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromKafka, toKafka } from '../src/index.js';
import { brokers, fresh, until } from './support/index.js';

describe('fromKafka / toKafka edge cases (real broker)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadIrisModel();
  });
  afterAll(() => model?.dispose());

  it('a broker that is down at start fails the stream with a clear error after bounded retries', async () => {
    const started = Date.now();
    const error = await lastValueFrom(
      fromKafka({ brokers: ['127.0.0.1:1'], topic: 'nowhere', groupId: fresh('g'), logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RxmlError);
    expect((error as RxmlError).code).toBe('KAFKA_ERROR');
    expect((error as RxmlError).message).toMatch(/cannot consume nowhere/);
    expect((error as RxmlError).message).toMatch(/ECONNREFUSED|Connection/i);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('without a dead-letter topic an error result fails the stream; what came before is written and committed, nothing after', async () => {
    const [input, output, group] = [fresh('nodlq-in'), fresh('nodlq-out'), fresh('nodlq-group')];
    await createTopics(brokers(), [{ topic: input, partitions: 1 }, { topic: output, partitions: 1 }]);
    await produce(brokers(), input, ['5.1,3.5,1.4,0.2', '6.3,2.9,5.6,1.8', 'not,a,flower', '5.0,3.6,1.4,0.2'].map((value) => ({ value })));
    const error = await lastValueFrom(
      fromKafka({ brokers: brokers(), topic: input, groupId: group, fromBeginning: true, logLevel: logLevel.NOTHING, commitIntervalMs: 20 }).pipe(
        predictIris(model, { select: (r) => r.value }),
        toKafka({ brokers: brokers(), topic: output, logLevel: logLevel.NOTHING }),
      ),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as RxmlError).code).toBe('INVALID_INPUT');
    // It names the record: topic, partition and offset, then the record's own problem.
    expect((error as RxmlError).message).toMatch(new RegExp(`^${input}\\[0\\]@2: iris input: .*no deadLetterTopic`));
    const written = await readTopic(brokers(), output);
    expect(written.length).toBe(2);
    // The stream failed, so the source unsubscribed: its commit of the two written records must still land.
    await until(async () => (await committedOffsets(brokers(), group, input)).get(0) === '2', 10_000, 'commit of offset 2');
  });

  it('oversized inputs and outputs go to the dead-letter topic as LIMIT_EXCEEDED', async () => {
    const [input, output, dead, group] = [fresh('big-in'), fresh('big-out'), fresh('big-dlq'), fresh('big-group')];
    await createTopics(brokers(), [{ topic: input, partitions: 1 }, { topic: output, partitions: 1 }, { topic: dead, partitions: 1 }]);
    await produce(brokers(), input, [
      { key: 'small', value: '5.1,3.5,1.4,0.2' },
      { key: 'big-input', value: `5.1,3.5,1.4,0.2${' '.repeat(5_000)}` },
      { key: 'big-output', value: '6.3,2.9,5.6,1.8' },
    ]);
    const delivered = await lastValueFrom(
      fromKafka({ brokers: brokers(), topic: input, groupId: group, fromBeginning: true, maxMessageBytes: 1_000, logLevel: logLevel.NOTHING }).pipe(
        predictIris(model, { select: (r) => r.value }),
        toKafka({
          brokers: brokers(),
          topic: output,
          deadLetterTopic: dead,
          maxMessageBytes: 2_000,
          logLevel: logLevel.NOTHING,
          // Pads one output past the limit.
          serialize: (value, result) => JSON.stringify({ ...value, pad: result.input.key?.toString() === 'big-output' ? 'x'.repeat(3_000) : '' }),
        }),
        take(3),
        toArray(),
      ),
    );
    expect(delivered.map((d) => [d.result.input.key?.toString(), d.deadLetter, d.error?.code])).toEqual([
      ['small', false, undefined],
      ['big-input', true, 'LIMIT_EXCEEDED'],
      ['big-output', true, 'LIMIT_EXCEEDED'],
    ]);
    const dlq = await readTopic(brokers(), dead);
    expect(dlq.map((d) => [d.key, d.headers['rxml-error-code'], d.headers['rxml-source-offset']])).toEqual([
      ['big-input', 'LIMIT_EXCEEDED', '1'],
      ['big-output', 'LIMIT_EXCEEDED', '2'],
    ]);
    expect((await readTopic(brokers(), output)).map((o) => o.key)).toEqual(['small']);
  });

  it('a user sink can complete records itself: offsets follow its completions', async () => {
    const [input, group] = [fresh('own-in'), fresh('own-group')];
    await createTopics(brokers(), [{ topic: input, partitions: 1 }]);
    await produce(brokers(), input, Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })));
    const controller = new AbortController();
    const seen: string[] = [];
    await lastValueFrom(
      fromKafka({ brokers: brokers(), topic: input, groupId: group, fromBeginning: true, signal: controller.signal, logLevel: logLevel.NOTHING, drainTimeoutMs: 1_000 }).pipe(
        tap((r) => {
          seen.push(r.value);
          // Completes 0..5 and 7, never 6: the commit must stop at 6.
          if (r.offset !== '6' && Number(r.offset) <= 7) r.complete();
          if (seen.length === 10) controller.abort();
        }),
        toArray(),
      ),
    );
    expect(seen.length).toBe(10);
    expect((await committedOffsets(brokers(), group, input)).get(0)).toBe('6');
  });
});
