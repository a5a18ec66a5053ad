import { loadIrisModel, predictIris, type Model } from '@rxml/core';
import { committedOffsets, createTopics, endOffsets, produce, readTopic, type ProduceRecord } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { from, lastValueFrom, map, tap, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromKafka, toKafka } from '../src/index.js';
import { brokers, fresh, irisCsv, irisExamples } from './support/index.js';

const TOTAL = 10_000;

/** A value as Confluent's serializers frame it: magic byte 0, schema id 200 (4 bytes, big-endian), then JSON. */
const FRAMED = Buffer.concat([Buffer.from([0, 0, 0, 0, 200]), Buffer.from('{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2}')]);

/**
 * Six kinds of poison: not numbers, too few fields, invalid UTF-8, no value at all, a
 * Schema-Registry-framed value, JSON under the default string deserializer. Each dead letter's
 * message must say what was wrong with that record and, where one fits, which option to use.
 */
function malformed(i: number): { value: string | Buffer | null; code: string; message: RegExp } {
  switch (i % 6) {
    case 0:
      return { value: 'five,three,one,zero', code: 'INVALID_INPUT', message: /sepalLength is "five": not a decimal number/ };
    case 1:
      return { value: '5.1,3.5', code: 'INVALID_INPUT', message: /expected 4 values/ };
    case 2:
      return { value: Buffer.from([0x35, 0x2e, 0x31, 0xff, 0xfe, 0x2c]), code: 'DESERIALIZATION_ERROR', message: /not valid UTF-8 text \(starts with 35 2e 31 ff fe 2c\)/ };
    case 3:
      return { value: null, code: 'DESERIALIZATION_ERROR', message: /tombstone/ };
    case 4:
      return { value: FRAMED, code: 'DESERIALIZATION_ERROR', message: /starts with the Confluent Schema Registry magic byte, schema id 200: use a registry-aware deserializer/ };
    default:
      return { value: '{"sepalLength":5.1,"sepalWidth":3.5,"petalLength":1.4,"petalWidth":0.2}', code: 'INVALID_INPUT', message: /JSON text .*fromKafka\(\{ deserialize: 'json' \}\)/ };
  }
}

describe('fromKafka → predictIris → toKafka with a dead-letter topic (real broker)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadIrisModel();
  });
  afterAll(() => model?.dispose());

  it('10,000 records, 5 % malformed: one correct prediction per valid record, every malformed one dead-lettered with its reason, offsets committed to the end', async () => {
    const [input, output, dead, group] = [fresh('iris-in'), fresh('iris-out'), fresh('iris-dlq'), fresh('iris-group')];
    await createTopics(brokers(), [
      { topic: input, partitions: 3 },
      { topic: output, partitions: 3 },
      { topic: dead, partitions: 1 },
    ]);

    const examples = irisExamples();
    const records: (ProduceRecord & { id: string; bad?: { code: string; message: RegExp } })[] = [];
    let badCount = 0;
    for (let i = 0; i < TOTAL; i++) {
      const id = `r${i}`;
      if (i % 20 === 7) {
        const bad = malformed(badCount++);
        records.push({ id, key: id, value: bad.value, headers: { origin: 'test' }, bad });
      } else {
        records.push({ id, key: id, value: irisCsv(examples[i % examples.length]!), headers: { origin: 'test' } });
      }
    }
    await produce(brokers(), input, records);

    // What the model says about each valid input, computed without Kafka.
    const valid = records.filter((r) => r.bad === undefined);
    const expected = new Map(
      (await lastValueFrom(from(valid).pipe(predictIris(model, { select: (r) => r.value as string }), toArray()))).map((r) => [
        r.input.id,
        r.ok ? r.value.species : 'error',
      ]),
    );

    const controller = new AbortController();
    let delivered = 0;
    const started = Date.now();
    const done = lastValueFrom(
      fromKafka({ brokers: brokers(), topic: input, groupId: group, fromBeginning: true, signal: controller.signal, maxInFlight: 2_000, logLevel: logLevel.NOTHING }).pipe(
        predictIris(model, { select: (r) => r.value, batch: { size: 256 } }),
        toKafka({ brokers: brokers(), topic: output, deadLetterTopic: dead, logLevel: logLevel.NOTHING }),
        tap(() => {
          if (++delivered === TOTAL) controller.abort();
        }),
        map(() => 1),
        toArray(),
      ),
    );
    const emitted = await done;
    const seconds = (Date.now() - started) / 1000;
    console.log(`[iris] ${TOTAL} records through Kafka in ${seconds.toFixed(2)} s (${Math.round(TOTAL / seconds)} records/s incl. group join)`);
    expect(emitted.length).toBe(TOTAL);

    const outputs = await readTopic(brokers(), output);
    expect(outputs.length).toBe(valid.length);
    const byKey = new Map<string, (typeof outputs)[number][]>();
    for (const o of outputs) byKey.set(o.key ?? '', [...(byKey.get(o.key ?? '') ?? []), o]);
    for (const r of valid) {
      const got = byKey.get(r.id);
      expect(got?.length, `outputs for ${r.id}`).toBe(1);
      const prediction = JSON.parse(got![0]!.value!) as { species: string };
      expect(prediction.species).toBe(expected.get(r.id));
      expect(got![0]!.headers['rxml-model']).toBe(model.name);
      expect(got![0]!.headers['rxml-model-version']).toBe(model.version);
      expect(Number(got![0]!.headers['rxml-latency-ms'])).toBeGreaterThanOrEqual(0);
    }

    const dlq = await readTopic(brokers(), dead);
    const bad = records.filter((r) => r.bad !== undefined);
    expect(dlq.length).toBe(bad.length);
    const dlqByKey = new Map(dlq.map((d) => [d.key, d]));
    for (const r of bad) {
      const d = dlqByKey.get(r.id);
      expect(d, `dead letter for ${r.id}`).toBeDefined();
      expect(d!.headers['rxml-error-code']).toBe(r.bad!.code);
      expect(d!.headers['rxml-error-message'], `dead-letter message for ${r.id}`).toMatch(r.bad!.message);
      expect(d!.headers['rxml-source-topic']).toBe(input);
      expect(d!.headers['origin']).toBe('test');
      const partition = Number(d!.headers['rxml-source-partition']);
      const offset = d!.headers['rxml-source-offset'];
      expect(Number.isInteger(partition)).toBe(true);
      expect(offset).toMatch(/^\d+$/);
      const original = r.value === null ? null : Buffer.from(r.value as string | Buffer).toString();
      expect(d!.value).toBe(original);
    }

    const ends = await endOffsets(brokers(), input);
    const committed = await committedOffsets(brokers(), group, input);
    expect([...committed].sort()).toEqual([...ends].sort());
  });
});
