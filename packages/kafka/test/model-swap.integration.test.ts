/**
 * Issue 13's "swap under load": 50,000 Iris records through fromKafka → predictIris → toKafka while
 * a retrained version is published to the models topic mid-stream. Nothing is lost or written twice,
 * each output partition switches version once (old before the swap point, new after), and the
 * tensors of both versions are freed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CHANNELS, predictIris, saveModelBytes, subscribe, trainIrisNetwork, type ModelLifecycleMessage } from '@rxml/core';
import { createTopics, produce, readTopic } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { lastValueFrom, tap, count } from 'rxjs';
import { expect, it } from 'vitest';
import { createModelsTopic, fromKafka, modelsFromKafka, publishModel, toKafka } from '../src/index.js';
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
  await produce(brokers(), input, Array.from({ length: RECORDS }, (_, i) => ({ key: `rec-${i}`, value: irisCsv(examples[i % examples.length]!) })));

  const events: ModelLifecycleMessage[] = [];
  const off = subscribe(CHANNELS.modelLifecycle, (e) => {
    if (e.operator === 'predictIris') events.push(e);
  });
  const baseline = tf.memory().numTensors;
  const controller = new AbortController();
  let delivered = 0;
  let published: Promise<unknown> | undefined;
  const started = Date.now();
  try {
    const total = await lastValueFrom(
      fromKafka({ brokers: brokers(), topic: input, groupId: group, fromBeginning: true, signal: controller.signal, logLevel: logLevel.NOTHING,
        // Small fetches interleave the partitions (one fetch would otherwise bring a whole partition), so every partition is mid-stream at the swap.
        maxBytesPerPartition: 32 * 1024 }).pipe(
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
    await published;
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
    expect(firstNew).toBeGreaterThan(0);
    expect(versions.slice(0, firstNew).every((v) => v === 'v1')).toBe(true);
    expect(versions.slice(firstNew).every((v) => v === 'v2')).toBe(true);
    switches.push(firstNew);
  }
  const old = switches.reduce((a, b) => a + b, 0);
  expect(old).toBeGreaterThanOrEqual(SWAP_AT);
  expect(old).toBeLessThan(RECORDS);
  console.log(`[swap under load] ${RECORDS} records in ${elapsed} ms; ${old} on v1, ${RECORDS - old} on v2 (switch points per partition ${switches.join(', ')})`);
});
