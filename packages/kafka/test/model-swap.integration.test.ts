/**
 * Issue 13's "swap under load": 50,000 Iris records through fromKafka → predictIris → toKafka while
 * a retrained version is published to the models topic mid-stream. Nothing is lost or written twice,
 * each output partition switches version once (old before the swap point, new after), and the
 * tensors of both versions are freed.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { CHANNELS, predictIris, saveModelBytes, subscribe, trainIrisNetwork, type ModelLifecycleMessage } from '@rxml/core';
import { createTopics, produce, readTopic } from '@rxml/kafka-testkit';
import { Kafka, logLevel } from 'kafkajs';
import { lastValueFrom, tap, count } from 'rxjs';
import { expect, it } from 'vitest';
import { createModelsTopic, fromKafka, MODEL_HEADERS, modelsFromKafka, publishModel, toKafka } from '../src/index.js';
import { brokers, fresh, irisCsv, irisExamples } from './support/index.js';

const RECORDS = 50_000;
const SWAP_AT = 15_000;

it(`swap under load: ${RECORDS} records, a new version published mid-stream: 0 lost, 0 duplicated, one switch per partition, tensors freed`, async () => {
  const [input, output, models, group] = [fresh('swap-in'), fresh('swap-out'), fresh('swap-models'), fresh('swap-group')];
  await createTopics(brokers(), [{ topic: input, partitions: 3 }, { topic: output, partitions: 3 }]);
  await createModelsTopic({ brokers: brokers(), topic: models, logLevel: logLevel.NOTHING });
  const examples = irisExamples();
  const [v1Bytes, v2Bytes] = await Promise.all([1, 2].map(async (seed) => {
    const network = await trainIrisNetwork(examples, { seed, epochs: 30 });
    try {
      return await saveModelBytes(network);
    } finally {
      network.dispose();
    }
  }));
  await publishModel({ brokers: brokers(), topic: models, name: 'iris', bytes: v1Bytes!, version: 'v1', logLevel: logLevel.NOTHING });
  // 40,000 records wait in the topic when the pipeline starts; v2 is published after 15,000 deliveries,
  // so it is swapped in while records wait (typically). The last 10,000 are produced once v2 serves,
  // so every partition has records on both sides of the swap whatever the timing.
  const producer = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).producer({ idempotent: true });
  await producer.connect();
  let produced = 0;
  const send = async (from: number, to: number): Promise<void> => {
    await producer.send({ topic: input, acks: -1, messages: Array.from({ length: to - from }, (_, j) => ({ key: `rec-${from + j}`, value: irisCsv(examples[(from + j) % examples.length]!) })) });
    produced = to;
  };
  await send(0, 40_000);
  let rest: Promise<void> | undefined;

  const events: ModelLifecycleMessage[] = [];
  let delivered = 0;
  /** Records produced but not yet delivered when v2 took over (at most 2,000 of them in the pipeline). */
  let waitingAtSwap = -1;
  const off = subscribe(CHANNELS.modelLifecycle, (e) => {
    if (e.operator !== 'predictIris') return;
    events.push(e);
    if (e.type === 'swap' && e.version === 'v2') {
      waitingAtSwap = produced - delivered;
      rest ??= send(40_000, RECORDS).finally(() => producer.disconnect());
    }
  });
  const baseline = tf.memory().numTensors;
  const controller = new AbortController();
  let published: Promise<unknown> | undefined;
  const started = Date.now();
  try {
    const total = await lastValueFrom(
      // At most 2,000 records between source and sink (the rest wait in Kafka): the model scores at the sink's pace, so records are still unscored when v2 arrives.
      fromKafka({ brokers: brokers(), topic: input, groupId: group, fromBeginning: true, signal: controller.signal, logLevel: logLevel.NOTHING, maxInFlight: 2_000 }).pipe(
        predictIris(modelsFromKafka({ brokers: brokers(), topic: models, name: 'iris', logLevel: logLevel.NOTHING }), { select: (r) => r.value, batch: { size: 64, maxLatencyMs: 5 } }),
        toKafka({ brokers: brokers(), topic: output, logLevel: logLevel.NOTHING }),
        tap(() => {
          delivered++;
          if (delivered === SWAP_AT) published = publishModel({ brokers: brokers(), topic: models, name: 'iris', bytes: v2Bytes!, version: 'v2', logLevel: logLevel.NOTHING });
          if (delivered === RECORDS) controller.abort();
        }),
        count(),
      ),
    );
    expect(total).toBe(RECORDS);
    await Promise.all([published, rest]);
  } finally {
    off();
  }
  const elapsed = Date.now() - started;

  // The operator released both versions (v1 after the swap, v2 at teardown): tensors back to baseline.
  expect(tf.memory().numTensors).toBe(baseline);
  // The first version comes in as a swap from nothing, then one swap v1 → v2.
  expect(events.filter((e) => e.type === 'swap').map((e) => [e.previousVersion, e.version])).toEqual([
    [undefined, 'v1'],
    ['v1', 'v2'],
  ]);
  expect(events.filter((e) => e.type === 'released').map((e) => e.version).sort()).toEqual(['v1', 'v2']);
  expect(events.filter((e) => e.type === 'refused')).toEqual([]);

  const written = await readTopic(brokers(), output);
  // 0 lost, 0 duplicated.
  expect(written.length).toBe(RECORDS);
  expect(new Set(written.map((r) => r.key)).size).toBe(RECORDS);
  // Per partition, in offset order: v1 … v1 v2 … v2 (one switch point), and the switch happened mid-stream.
  const switches: number[] = [];
  for (const partition of [0, 1, 2]) {
    const versions = written.filter((r) => r.partition === partition).map((r) => r.headers['rxml-model-version']);
    const firstNew = versions.indexOf('v2');
    // Every partition got records after the swap (the last 10,000 were produced then); one that had
    // not been reached before it is all v2 (its switch point is 0).
    expect(firstNew).toBeGreaterThanOrEqual(0);
    expect(versions.slice(0, firstNew).every((v) => v === 'v1')).toBe(true);
    expect(versions.slice(firstNew).every((v) => v === 'v2')).toBe(true);
    switches.push(firstNew);
  }
  expect(switches.some((at) => at > 0)).toBe(true);
  const old = switches.reduce((a, b) => a + b, 0);
  expect(old).toBeGreaterThanOrEqual(SWAP_AT);
  expect(old).toBeLessThan(RECORDS);
  console.log(`[swap under load] ${RECORDS} records in ${elapsed} ms; ${old} on v1, ${RECORDS - old} on v2 (switch points per partition ${switches.join(', ')}); ${waitingAtSwap} records waiting at the swap`);
});

it('a corrupt artifact, a wrong-signature model and a hash mismatch published mid-stream are each refused; the stream goes on with the old version', async () => {
  const RECORDS_BAD = 6_000;
  const [input, output, models, group] = [fresh('bad-in'), fresh('bad-out'), fresh('bad-models'), fresh('bad-group')];
  await createTopics(brokers(), [{ topic: input, partitions: 3 }, { topic: output, partitions: 3 }]);
  await createModelsTopic({ brokers: brokers(), topic: models, logLevel: logLevel.NOTHING });
  const examples = irisExamples();
  const network = await trainIrisNetwork(examples, { seed: 1, epochs: 20 });
  const v1 = await saveModelBytes(network);
  network.dispose();
  // A real model of another signature: 5 inputs instead of Iris' 4.
  const other = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [5], units: 3, activation: 'softmax' })] });
  const wrongSignature = await saveModelBytes(other);
  other.dispose();
  const corrupt = new TextEncoder().encode('{"modelTopology":{"class_name":"Sequential"},"weightSpecs":[],"weightData":""}');
  await publishModel({ brokers: brokers(), topic: models, name: 'iris', bytes: v1, version: 'v1', logLevel: logLevel.NOTHING });
  const records = (from: number, to: number) => Array.from({ length: to - from }, (_, j) => ({ key: `rec-${from + j}`, value: irisCsv(examples[(from + j) % examples.length]!) }));
  // The first half now; the second half once the three bad versions were refused (the stream must go on).
  await produce(brokers(), input, records(0, RECORDS_BAD / 2));

  const events: ModelLifecycleMessage[] = [];
  let secondHalf: Promise<unknown> | undefined;
  const off = subscribe(CHANNELS.modelLifecycle, (e) => {
    events.push(e);
    if (events.filter((x) => x.type === 'refused').length === 3) secondHalf ??= produce(brokers(), input, records(RECORDS_BAD / 2, RECORDS_BAD));
  });
  const baseline = tf.memory().numTensors;
  const controller = new AbortController();
  let delivered = 0;
  let bad: Promise<unknown> | undefined;
  try {
    await lastValueFrom(
      fromKafka({ brokers: brokers(), topic: input, groupId: group, fromBeginning: true, signal: controller.signal, logLevel: logLevel.NOTHING, maxBytesPerPartition: 8 * 1024 }).pipe(
        predictIris(modelsFromKafka({ brokers: brokers(), topic: models, name: 'iris', logLevel: logLevel.NOTHING }), { select: (r) => r.value }),
        toKafka({ brokers: brokers(), topic: output, logLevel: logLevel.NOTHING }),
        tap(() => {
          delivered++;
          if (delivered === 500) {
            bad = (async () => {
              await publishModel({ brokers: brokers(), topic: models, name: 'iris', bytes: corrupt, version: 'corrupt', logLevel: logLevel.NOTHING });
              await publishModel({ brokers: brokers(), topic: models, name: 'iris', bytes: wrongSignature, version: 'wrong-signature', logLevel: logLevel.NOTHING });
              // The bytes of v1 under the hash of other bytes.
              const sha = createHash('sha256').update(corrupt).digest('hex');
              await produce(brokers(), models, [{ key: 'iris', value: Buffer.from(v1), headers: { [MODEL_HEADERS.version]: 'mismatch', [MODEL_HEADERS.sha256]: sha } }]);
            })();
          }
          if (delivered === RECORDS_BAD) controller.abort();
        }),
        count(),
      ),
    );
    await Promise.all([bad, secondHalf]);
  } finally {
    off();
  }
  const refused = Object.fromEntries(events.filter((e) => e.type === 'refused').map((e) => [e.version, e]));
  expect(Object.keys(refused).sort()).toEqual(['corrupt', 'mismatch', 'wrong-signature']);
  // The source refuses what it cannot load or verify; the operator refuses what does not fit the task.
  expect(refused['corrupt']).toMatchObject({ source: `modelsFromKafka ${models}` });
  expect(refused['mismatch']).toMatchObject({ source: `modelsFromKafka ${models}`, reason: expect.stringMatching(/SHA-256 mismatch/) as unknown });
  expect(refused['wrong-signature']).toMatchObject({ operator: 'predictIris' });
  expect(events.filter((e) => e.type === 'swap').map((e) => e.version)).toEqual(['v1']);
  // The refused model of another signature and v1 (at teardown) were disposed.
  expect(tf.memory().numTensors).toBe(baseline);
  const written = await readTopic(brokers(), output);
  expect(written.length).toBe(RECORDS_BAD);
  expect(new Set(written.map((r) => r.key)).size).toBe(RECORDS_BAD);
  expect(written.every((r) => r.headers['rxml-model-version'] === 'v1')).toBe(true);
});
