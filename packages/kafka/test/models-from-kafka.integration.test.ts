import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs-core';
import { CHANNELS, loadModelBytes, saveModelBytes, subscribe, trainIrisNetwork, type Model, type ModelLifecycleMessage } from '@rxml/core';
import { Kafka, logLevel } from 'kafkajs';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createModelsTopic, MODEL_HEADERS, modelsFromKafka, publishModel } from '../src/index.js';
import { brokers, fresh, irisExamples, until } from './support/index.js';
import { produce } from '@rxml/kafka-testkit';

const FLOWERS = [5.1, 3.5, 1.4, 0.2, 7.0, 3.2, 4.7, 1.4, 6.3, 3.3, 6.0, 2.5];
async function outputs(model: Model): Promise<number[]> {
  const [out] = await model.run([{ data: Float32Array.from(FLOWERS), shape: [3, 4] }]);
  return Array.from(out!.data);
}

/** Subscribes to a models source, collecting models and the lifecycle events it publishes. */
function follow(topic: string, extra: Partial<Parameters<typeof modelsFromKafka>[0]> = {}): { models: Model[]; events: ModelLifecycleMessage[]; errors: unknown[]; stop(): void } {
  const models: Model[] = [];
  const events: ModelLifecycleMessage[] = [];
  const errors: unknown[] = [];
  const source = `modelsFromKafka ${topic}`;
  const off = subscribe(CHANNELS.modelLifecycle, (e) => {
    if (e.source === source) events.push(e);
  });
  const subscription: Subscription = modelsFromKafka({ brokers: brokers(), topic, name: 'iris', logLevel: logLevel.NOTHING, ...extra }).subscribe({
    next: (m) => models.push(m),
    error: (e: unknown) => errors.push(e),
  });
  return {
    models,
    events,
    errors,
    stop() {
      subscription.unsubscribe();
      off();
      for (const m of models) m.dispose();
    },
  };
}

describe('modelsFromKafka / publishModel (real broker)', () => {
  /** Three real Iris versions (retrained with other seeds), single-file form. */
  const versions: Uint8Array[] = [];
  const expected: number[][] = [];
  let server: Server;
  let base: string;
  const served = new Map<string, Uint8Array>();

  beforeAll(async () => {
    for (const seed of [1, 2, 3]) {
      const network = await trainIrisNetwork(irisExamples(), { seed, epochs: 30 });
      versions.push(await saveModelBytes(network));
      network.dispose();
      const model = await loadModelBytes(versions.at(-1)!);
      expected.push(await outputs(model));
      model.dispose();
    }
    server = createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-length': body.byteLength }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('createModelsTopic makes a compacted topic; publishModel refuses an inline artifact over the message limit', async () => {
    const topic = fresh('models');
    expect(await createModelsTopic({ brokers: brokers(), topic, maxMessageBytes: 2_000_000, logLevel: logLevel.NOTHING })).toBe(true);
    expect(await createModelsTopic({ brokers: brokers(), topic, logLevel: logLevel.NOTHING })).toBe(false);
    const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic, configNames: ['cleanup.policy', 'max.message.bytes'] }] });
      const entries = Object.fromEntries(described.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
      expect(entries).toEqual({ 'cleanup.policy': 'compact', 'max.message.bytes': '2000000' });
    } finally {
      await admin.disconnect();
    }
    await expect(publishModel({ brokers: brokers(), topic, name: 'iris', bytes: new Uint8Array(3_000), maxMessageBytes: 2_000, logLevel: logLevel.NOTHING })).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
      message: expect.stringMatching(/pass its url/) as unknown,
    });
  });

  it('a new reader converges on the latest version; later ones arrive; corrupt, hash-mismatched and disallowed records are refused and the stream goes on', async () => {
    const topic = fresh('models');
    await createModelsTopic({ brokers: brokers(), topic, partitions: 2, logLevel: logLevel.NOTHING });
    const before = tf.memory().numTensors;
    const v1 = await publishModel({ brokers: brokers(), topic, name: 'iris', bytes: versions[0]!, version: 'v1', logLevel: logLevel.NOTHING });
    expect(v1).toMatchObject({ version: 'v1', location: 'inline', sha256: createHash('sha256').update(versions[0]!).digest('hex') });
    await publishModel({ brokers: brokers(), topic, name: 'iris', bytes: versions[1]!, version: 'v2', logLevel: logLevel.NOTHING });
    // Another model's record on the same topic: never loaded by this reader.
    await publishModel({ brokers: brokers(), topic, name: 'other', bytes: versions[2]!, version: 'o1', logLevel: logLevel.NOTHING });

    const reader = follow(topic);
    try {
      await until(() => reader.models.length === 1, 30_000, 'the caught-up version');
      expect(reader.models[0]).toMatchObject({ name: 'iris', version: 'v2' });
      expect(await outputs(reader.models[0]!)).toEqual(expected[1]);

      // A corrupt artifact whose hash header matches its (corrupt) bytes: the loader refuses it.
      const corrupt = new TextEncoder().encode('{"modelTopology":{},"weightSpecs":[],"weightData":"AAAA"}');
      await publishModel({ brokers: brokers(), topic, name: 'iris', bytes: corrupt, version: 'v-corrupt', logLevel: logLevel.NOTHING });
      // Bytes that do not match their hash header (written by hand, as a broken producer would).
      const sha = createHash('sha256').update(versions[0]!).digest('hex');
      await produce(brokers(), topic, [{ key: 'iris', value: Buffer.from(versions[2]!), headers: { [MODEL_HEADERS.version]: 'v-mismatch', [MODEL_HEADERS.sha256]: sha } }]);
      // A reference to a file: URL is never read.
      await produce(brokers(), topic, [{ key: 'iris', value: 'file:///etc/passwd', headers: { [MODEL_HEADERS.version]: 'v-file', [MODEL_HEADERS.sha256]: sha, [MODEL_HEADERS.location]: 'url' } }]);
      // A 900 KB version (every output record would carry it in a header): publishModel refuses to
      // write it; written by hand, the reader refuses it without echoing it.
      await expect(publishModel({ brokers: brokers(), topic, name: 'iris', bytes: versions[2]!, version: 'V'.repeat(900_000), logLevel: logLevel.NOTHING })).rejects.toMatchObject({
        code: 'INVALID_CONFIG',
        message: expect.stringMatching(/version is 900000 bytes.*256/) as unknown,
      });
      await produce(brokers(), topic, [{ key: 'iris', value: Buffer.from(versions[2]!), headers: { [MODEL_HEADERS.version]: 'V'.repeat(900_000), [MODEL_HEADERS.sha256]: createHash('sha256').update(versions[2]!).digest('hex') } }]);
      await until(() => reader.events.length === 4, 30_000, 'four refusals');
      const long = reader.events.find((e) => e.version === 'unknown')!;
      expect(long).toMatchObject({ type: 'refused', name: 'iris' });
      expect(long.reason).toMatch(/version is 900000 bytes .*over the limit of 256 bytes/);
      expect(JSON.stringify(long).length).toBeLessThan(2_000);
      const byVersion = Object.fromEntries(reader.events.map((e) => [e.version, e]));
      expect(byVersion['v-corrupt']).toMatchObject({ type: 'refused', name: 'iris', reason: expect.stringMatching(/weight|tfjs/i) as unknown });
      expect(byVersion['v-mismatch']!.reason).toMatch(/SHA-256 mismatch/);
      expect(byVersion['v-file']!.reason).toMatch(/file: URLs are not downloaded/);
      expect(reader.models.length).toBe(1);

      // By reference (a real HTTP server), hash checked: loaded and emitted.
      served.set('/iris-v3.json', versions[2]!);
      await publishModel({ brokers: brokers(), topic, name: 'iris', bytes: versions[2]!, url: `${base}/iris-v3.json`, version: 'v3', logLevel: logLevel.NOTHING });
      await until(() => reader.models.length === 2, 30_000, 'v3 by URL');
      expect(reader.models[1]!.version).toBe('v3');
      expect(await outputs(reader.models[1]!)).toEqual(expected[2]);
      expect(reader.errors).toEqual([]);

      // A replica started now converges on v3 at once.
      const replica = follow(topic);
      try {
        await until(() => replica.models.length === 1, 30_000, 'the replica');
        expect(replica.models[0]!.version).toBe('v3');
      } finally {
        replica.stop();
      }
    } finally {
      reader.stop();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('when the latest record is refused, a new reader falls back to the newest good one before it', async () => {
    const topic = fresh('models');
    await createModelsTopic({ brokers: brokers(), topic, logLevel: logLevel.NOTHING });
    await publishModel({ brokers: brokers(), topic, name: 'iris', bytes: versions[0]!, version: 'good', logLevel: logLevel.NOTHING });
    // Served bytes that differ from the published hash.
    served.set('/tampered.json', versions[1]!);
    await publishModel({ brokers: brokers(), topic, name: 'iris', bytes: versions[2]!, url: `${base}/tampered.json`, version: 'tampered', logLevel: logLevel.NOTHING });
    const reader = follow(topic);
    try {
      await until(() => reader.models.length === 1, 30_000, 'the fallback');
      expect(reader.models[0]!.version).toBe('good');
      expect(reader.events).toMatchObject([{ type: 'refused', version: 'tampered', reason: expect.stringMatching(/SHA-256 mismatch/) as unknown }]);
    } finally {
      reader.stop();
    }
  });

  it('a topic that does not exist yet is waited for; an empty topic emits nothing until a model is published; brokers that cannot be reached fail the stream with KAFKA_ERROR', async () => {
    const topic = fresh('models');
    const reader = follow(topic);
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      // Not silent: the missing topic is announced once.
      expect(reader.events.map((e) => [e.type, e.reason])).toEqual([['waiting', expect.stringMatching(/does not exist/)]]);
      await createModelsTopic({ brokers: brokers(), topic, logLevel: logLevel.NOTHING });
      await new Promise((r) => setTimeout(r, 1_500));
      expect(reader.models).toEqual([]);
      expect(reader.errors).toEqual([]);
      // It appeared, but holds no record of the model yet: announced once too.
      expect(reader.events.map((e) => [e.type, e.reason])).toEqual([
        ['waiting', expect.stringMatching(/does not exist/)],
        ['available', expect.stringMatching(/exists/)],
        ['waiting', expect.stringMatching(/holds no record of model 'iris'/)],
      ]);
      await publishModel({ brokers: brokers(), topic, name: 'iris', bytes: versions[0]!, logLevel: logLevel.NOTHING });
      await until(() => reader.models.length === 1, 30_000, 'the first version');
      expect(reader.events.at(-1)).toMatchObject({ type: 'available', source: `modelsFromKafka ${topic}` });
      expect(reader.models[0]!.version).toBe(createHash('sha256').update(versions[0]!).digest('hex').slice(0, 16));
    } finally {
      reader.stop();
    }
    const down = follow(topic, { brokers: ['127.0.0.1:1'], retry: { retries: 1, initialRetryTime: 100 } });
    try {
      await until(() => down.errors.length === 1, 30_000, 'the error');
      expect(down.errors[0]).toMatchObject({ code: 'KAFKA_ERROR', message: expect.stringMatching(/cannot read/) as unknown });
    } finally {
      down.stop();
    }
  });
});
