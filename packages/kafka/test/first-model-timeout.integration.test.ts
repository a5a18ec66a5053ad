/**
 * A pipeline whose models topic stays empty: fromKafka → predictIris(modelsFromKafka(empty)) →
 * toKafka. Before firstModelTimeoutMs the output never ended once the input was aborted; now it
 * errors with a retriable MODEL_LOAD_ERROR, nothing is written, dead-lettered or committed, and a
 * restart (with a model published) reads and scores every record.
 */
import { CHANNELS, predictIris, saveModelBytes, subscribe, trainIrisNetwork, type ModelLifecycleMessage } from '@rxml/core';
import { createTopics, produce, readTopic } from '@rxml/kafka-testkit';
import { Kafka, logLevel } from 'kafkajs';
import { count, lastValueFrom, tap } from 'rxjs';
import { expect, it } from 'vitest';
import { createModelsTopic, fromKafka, modelsFromKafka, publishModel, toKafka } from '../src/index.js';
import { brokers, fresh, irisCsv, irisExamples } from './support/index.js';

const RECORDS = 20;

it('an empty models topic: after the input is aborted the output errors (retriable MODEL_LOAD_ERROR) within firstModelTimeoutMs; nothing written, dead-lettered or committed; a restart scores every record', async () => {
  const [input, output, dead, models, group] = [fresh('fmt-in'), fresh('fmt-out'), fresh('fmt-dlq'), fresh('fmt-models'), fresh('fmt-group')];
  await createTopics(brokers(), [{ topic: input }, { topic: output }, { topic: dead }]);
  await createModelsTopic({ brokers: brokers(), topic: models, logLevel: logLevel.NOTHING });
  const examples = irisExamples();
  await produce(brokers(), input, Array.from({ length: RECORDS }, (_, i) => ({ key: `rec-${i}`, value: irisCsv(examples[i % examples.length]!) })));

  const events: ModelLifecycleMessage[] = [];
  const off = subscribe(CHANNELS.modelLifecycle, (e) => {
    if (e.source === `modelsFromKafka ${models}` || e.operator === 'predictIris') events.push(e);
  });
  const pipeline = (signal: AbortSignal, timeoutMs: number) =>
    fromKafka({ brokers: brokers(), topic: input, groupId: group, fromBeginning: true, signal, logLevel: logLevel.NOTHING }).pipe(
      predictIris(modelsFromKafka({ brokers: brokers(), topic: models, name: 'iris', logLevel: logLevel.NOTHING }), { select: (r) => r.value, firstModelTimeoutMs: timeoutMs }),
      toKafka({ brokers: brokers(), topic: output, deadLetterTopic: dead, logLevel: logLevel.NOTHING }),
    );
  try {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1_500);
    const started = Date.now();
    const error = await lastValueFrom(pipeline(controller.signal, 4_000)).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(error).toMatchObject({ code: 'MODEL_LOAD_ERROR', retriable: true, message: expect.stringMatching(/^predictIris: no model version passed validation within 4000 ms .*\d+ record\(s\) held/) as unknown });
    // Not silent meanwhile: the source said the topic holds no model, the operator that it waits.
    expect(events.find((e) => e.type === 'waiting' && e.source !== undefined)?.reason).toMatch(/holds no record of model 'iris'/);
    expect(events.find((e) => e.type === 'waiting' && e.operator === 'predictIris')).toMatchObject({ heldRecords: RECORDS });
    expect(await readTopic(brokers(), output)).toEqual([]);
    expect(await readTopic(brokers(), dead)).toEqual([]);
    const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [input] });
      expect(committed!.partitions.every((p) => p.offset === '-1')).toBe(true);
    } finally {
      await admin.disconnect();
    }

    // The restart: a model is published; every record is read again and scored.
    const network = await trainIrisNetwork(examples, { seed: 1, epochs: 5 });
    const bytes = await saveModelBytes(network);
    network.dispose();
    await publishModel({ brokers: brokers(), topic: models, name: 'iris', bytes, version: 'v1', logLevel: logLevel.NOTHING });
    const again = new AbortController();
    let delivered = 0;
    const total = await lastValueFrom(
      pipeline(again.signal, 30_000).pipe(
        tap(() => {
          if (++delivered === RECORDS) again.abort();
        }),
        count(),
      ),
    );
    expect(total).toBe(RECORDS);
    const written = await readTopic(brokers(), output);
    expect(new Set(written.map((r) => r.key)).size).toBe(RECORDS);
    expect(written.every((r) => r.headers['rxml-model-version'] === 'v1')).toBe(true);
  } finally {
    off();
  }
});
