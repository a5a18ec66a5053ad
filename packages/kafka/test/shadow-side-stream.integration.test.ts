/**
 * Issue 13's shadow on Kafka: fromKafka → predictIris(v1) with a shadow v2 whose comparisons go to
 * their own topic through `toKafka` (the side stream, `complete: false`), while the main results go
 * to the output topic. The main output is whole (every record once, v1's answers); every comparison
 * written carries the source record's key and the shadow's model headers, and its `agree` is what
 * the two models say on that record when run on their own.
 */
import { loadModelBytes, predictIris, saveModelBytes, trainIrisNetwork, type IrisPrediction, type Model, type ShadowComparison } from '@rxml/core';
import { createTopics, produce, readTopic } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { Subject, count, from, lastValueFrom, tap, toArray } from 'rxjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fromKafka, toKafka, type KafkaRecord } from '../src/index.js';
import { brokers, fresh, irisCsv, irisExamples } from './support/index.js';

const RECORDS = 3000;
let v1: Model;
let v2: Model;

beforeAll(async () => {
  const examples = irisExamples();
  // Two real Iris models: different seeds, few epochs, so they disagree on some records.
  const [a, b] = await Promise.all(
    [
      [1, 'v1'],
      [7, 'v2'],
    ].map(async ([seed, version]) => {
      const network = await trainIrisNetwork(examples, { seed: seed as number, epochs: 15 });
      try {
        return await loadModelBytes(await saveModelBytes(network), { name: `iris-${version as string}`, version: version as string });
      } finally {
        network.dispose();
      }
    }),
  );
  [v1, v2] = [a!, b!];
});
afterAll(() => {
  v1.dispose();
  v2.dispose();
});

it(`shadow on Kafka: ${RECORDS} records, main results to one topic, comparisons to another (side stream), agreement as the models say offline`, async () => {
  const [input, output, comparisonsTopic, group] = [fresh('shadow-in'), fresh('shadow-out'), fresh('shadow-cmp'), fresh('shadow-group')];
  await createTopics(brokers(), [{ topic: input, partitions: 3 }, { topic: output, partitions: 3 }, { topic: comparisonsTopic, partitions: 3 }]);
  const examples = irisExamples();
  const csvOf = (i: number): string => irisCsv(examples[i % examples.length]!);
  await produce(brokers(), input, Array.from({ length: RECORDS }, (_, i) => ({ key: `rec-${i}`, value: csvOf(i) })));

  const side = new Subject<ShadowComparison<KafkaRecord<string>, IrisPrediction>>();
  const sideWritten = lastValueFrom(side.pipe(toKafka({ brokers: brokers(), topic: comparisonsTopic, complete: false, logLevel: logLevel.NOTHING }), count()));
  const controller = new AbortController();
  let delivered = 0;
  const total = await lastValueFrom(
    fromKafka({ brokers: brokers(), topic: input, groupId: group, fromBeginning: true, signal: controller.signal, logLevel: logLevel.NOTHING }).pipe(
      predictIris(v1, { select: (r) => r.value, shadow: { model: v2, comparisons: side, maxQueued: 4096, maxEventLoopShare: 1 } }),
      toKafka({ brokers: brokers(), topic: output, logLevel: logLevel.NOTHING }),
      tap(() => {
        if (++delivered === RECORDS) controller.abort();
      }),
      count(),
    ),
  );
  expect(total).toBe(RECORDS);
  expect(await sideWritten).toBe(RECORDS);

  // What each model says on its own, per input.
  const speciesOf = async (model: Model): Promise<string[]> =>
    (await lastValueFrom(from(examples.map((e) => irisCsv(e))).pipe(predictIris(model), toArray()))).map((r) => (r.ok ? r.value.species : r.error.code));
  const [alone1, alone2] = [await speciesOf(v1), await speciesOf(v2)];
  const agreeOffline = (i: number): boolean => alone1[i % examples.length] === alone2[i % examples.length];
  expect(alone1.some((s, i) => s !== alone2[i])).toBe(true);

  const written = await readTopic(brokers(), output);
  expect(written).toHaveLength(RECORDS);
  expect(new Set(written.map((r) => r.key)).size).toBe(RECORDS);
  expect(written.every((r) => r.headers['rxml-model'] === 'iris-v1')).toBe(true);

  const compared = await readTopic(brokers(), comparisonsTopic);
  expect(compared).toHaveLength(RECORDS);
  expect(new Set(compared.map((r) => r.key)).size).toBe(RECORDS);
  for (const record of compared) {
    expect(record.headers['rxml-model']).toBe('iris-v2');
    const i = Number(String(record.key).slice('rec-'.length));
    const verdict = JSON.parse(String(record.value)) as { agree: boolean; main: { model: string; value: IrisPrediction }; shadow: { model: string; value: IrisPrediction }; dropped: number };
    expect(verdict.main.model).toBe('iris-v1');
    expect(verdict.shadow.model).toBe('iris-v2');
    expect(verdict.main.value.species).toBe(alone1[i % examples.length]);
    expect(verdict.agree).toBe(agreeOffline(i));
    expect(verdict.dropped).toBe(0);
  }
  const agreed = compared.filter((r) => (JSON.parse(String(r.value)) as { agree: boolean }).agree).length;
  const expected = Array.from({ length: RECORDS }, (_, i) => agreeOffline(i)).filter(Boolean).length;
  expect(agreed).toBe(expected);
  console.log(`[shadow on Kafka] ${RECORDS} records: agreement ${(100 * agreed / RECORDS).toFixed(2)} % (offline ${(100 * expected / RECORDS).toFixed(2)} %)`);
});
