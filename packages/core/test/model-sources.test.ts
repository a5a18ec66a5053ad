import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { Subscriber, type Subscription } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CHANNELS,
  IRIS_MODEL_DIR,
  contentVersion,
  loadIrisModel,
  loadModel,
  loadModelBytes,
  pollModel,
  readIrisDataset,
  saveModelBytes,
  subscribe,
  trainIrisNetwork,
  watchModel,
  type Model,
  type ModelLifecycleMessage,
  type SourceMessage,
  ModelVersions,
  UNKNOWN_MODEL,
} from '../src/index.js';
import { numTensors, SHARED } from './support/helpers.js';

/** A setosa, a versicolor and a virginica from the seed. */
const FLOWERS = [
  [5.1, 3.5, 1.4, 0.2],
  [7.0, 3.2, 4.7, 1.4],
  [6.3, 3.3, 6.0, 2.5],
];

async function probabilities(model: Model): Promise<number[]> {
  const [out] = await model.run([{ data: Float32Array.from(FLOWERS.flat()), shape: [3, 4] }]);
  return Array.from(out!.data);
}

/** Collects what a source emits and the lifecycle events it publishes. */
function collect(source: ReturnType<typeof watchModel>): { models: Model[]; events: ModelLifecycleMessage[]; subscription: Subscription; stop(): void } {
  const models: Model[] = [];
  const events: ModelLifecycleMessage[] = [];
  const unsubscribe = subscribe(CHANNELS.modelLifecycle, (e) => events.push(e));
  const subscription = source.subscribe((m) => models.push(m));
  return {
    models,
    events,
    subscription,
    stop() {
      subscription.unsubscribe();
      unsubscribe();
      for (const m of models) m.dispose();
    },
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let retrained: LayersModel;
let retrainedBytes: Uint8Array;
let dir: string;

beforeAll(async () => {
  // A real retrained Iris version: another seed, fewer epochs (different weights, same signature).
  const examples = await readIrisDataset(join(SHARED, 'seed/iris.txt'));
  retrained = await trainIrisNetwork(examples, { seed: 7, epochs: 40 });
  retrainedBytes = await saveModelBytes(retrained);
});
afterAll(() => retrained?.dispose());
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('single-file tfjs model (saveModelBytes / loadModelBytes)', () => {
  it('round-trips a trained network: same outputs, version = content hash, loadable from a file too; tensors freed', async () => {
    const before = numTensors();
    const model = await loadModelBytes(retrainedBytes, { name: 'iris' });
    try {
      expect(model.name).toBe('iris');
      expect(model.version).toBe(contentVersion(retrainedBytes));
      const expected = tf.tidy(() => Array.from((retrained.predict(tf.tensor2d(FLOWERS)) as tf.Tensor).dataSync()));
      const got = await probabilities(model);
      got.forEach((p, i) => expect(p).toBeCloseTo(expected[i]!, 5));
      dir = await mkdtemp(join(tmpdir(), 'rxml-single-'));
      await writeFile(join(dir, 'iris.json'), retrainedBytes);
      const fromFile = await loadModel(join(dir, 'iris.json'), { name: 'iris' });
      expect(fromFile.version).toBe(model.version);
      expect(await probabilities(fromFile)).toEqual(got);
      fromFile.dispose();
      // An explicit version (e.g. a Kafka header) is reported as given.
      const labelled = await loadModelBytes(retrainedBytes, { name: 'iris', version: 'v2' });
      expect(labelled.version).toBe('v2');
      labelled.dispose();
    } finally {
      model.dispose();
    }
    expect(numTensors()).toBe(before);
  });

  it('refuses bytes that are not a single-file model with MODEL_LOAD_ERROR saying why', async () => {
    const before = numTensors();
    await expect(loadModelBytes(new Uint8Array([0xff, 0xfe, 0x00]))).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR', message: expect.stringMatching(/not UTF-8 JSON/) as unknown });
    const modelJson = await readFile(join(IRIS_MODEL_DIR, 'model.json'));
    await expect(loadModelBytes(modelJson)).rejects.toMatchObject({ message: expect.stringMatching(/no base64 "weightData"/) as unknown });
    // Weights cut short: tfjs-layers cannot fit them to the topology.
    const parsed = JSON.parse(new TextDecoder().decode(retrainedBytes)) as { weightData: string };
    const cut = new TextEncoder().encode(JSON.stringify({ ...parsed, weightData: parsed.weightData.slice(0, 100) }));
    await expect(loadModelBytes(cut)).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR', message: expect.stringMatching(/weights do not fit/) as unknown });
    expect(numTensors()).toBe(before);
  });

  it('a model.json whose weight paths leave its folder is refused', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rxml-escape-'));
    await mkdir(join(dir, 'model'));
    await copyFile(join(IRIS_MODEL_DIR, 'weights.bin'), join(dir, 'outside.bin'));
    const json = JSON.parse(await readFile(join(IRIS_MODEL_DIR, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    json.weightsManifest[0]!.paths = ['../outside.bin'];
    await writeFile(join(dir, 'model', 'model.json'), JSON.stringify(json));
    await expect(loadModel(join(dir, 'model'))).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR', message: expect.stringMatching(/leaves the model's folder/) as unknown });
  });
});

describe('watchModel', () => {
  const options = { name: 'iris', intervalMs: 25, stableMs: 250 };

  it('emits the current version, then a new one only once its slow in-place write is complete; a version that is complete but broken is refused and the watch goes on', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rxml-watch-'));
    await copyFile(join(IRIS_MODEL_DIR, 'model.json'), join(dir, 'model.json'));
    await copyFile(join(IRIS_MODEL_DIR, 'weights.bin'), join(dir, 'weights.bin'));
    const shipped = await loadIrisModel();
    const shippedVersion = shipped.version;
    const shippedOutputs = await probabilities(shipped);
    shipped.dispose();
    const before = numTensors();
    const watch = collect(watchModel(dir, options));
    try {
      await until(() => watch.models.length === 1, 'the first version');
      expect(watch.models[0]!.version).toBe(shippedVersion);
      expect(await probabilities(watch.models[0]!)).toEqual(shippedOutputs);

      // A new version written slowly in place: the weights arrive in 3 pieces 100 ms apart (less than stableMs).
      const v2 = await loadModelBytes(retrainedBytes, { name: 'iris' });
      const v2Outputs = await probabilities(v2);
      v2.dispose();
      const { topology, weights } = splitSingleFile(retrainedBytes);
      await writeFile(join(dir, 'model.json'), topology);
      const third = Math.ceil(weights.byteLength / 3);
      await writeFile(join(dir, 'weights.bin'), weights.subarray(0, third));
      await sleep(100);
      await writeFile(join(dir, 'weights.bin'), weights.subarray(0, 2 * third));
      await sleep(100);
      await writeFile(join(dir, 'weights.bin'), weights);
      await until(() => watch.models.length === 2, 'the second version');
      expect(await probabilities(watch.models[1]!)).toEqual(v2Outputs);
      expect(watch.events).toEqual([]);

      // Complete but broken (weights truncated for good): refused with the reason, nothing emitted.
      await writeFile(join(dir, 'weights.bin'), weights.subarray(0, 64));
      await until(() => watch.events.length === 1, 'the refusal');
      expect(watch.events[0]).toMatchObject({ type: 'refused', name: 'iris', source: `watchModel ${dir}`, reason: expect.stringMatching(/weights/) as unknown });
      expect(watch.events[0]!.error?.code).toBe('MODEL_LOAD_ERROR');
      await sleep(300);
      expect(watch.models.length).toBe(2);

      // The shipped model again, written by rename (atomic): emitted.
      await copyFile(join(IRIS_MODEL_DIR, 'weights.bin'), join(dir, '.weights.tmp'));
      await copyFile(join(IRIS_MODEL_DIR, 'model.json'), join(dir, 'model.json'));
      await rename(join(dir, '.weights.tmp'), join(dir, 'weights.bin'));
      await until(() => watch.models.length === 3, 'the third version');
      expect(watch.models[2]!.version).toBe(shippedVersion);
    } finally {
      watch.stop();
    }
    expect(numTensors()).toBe(before);
  });

  it('watches a single file, waits for a missing one, ignores files linked from outside the folder, and loads nothing after unsubscribe', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rxml-watch-file-'));
    const file = join(dir, 'iris.json');
    const watch = collect(watchModel(file, options));
    try {
      await sleep(150);
      expect(watch.models).toEqual([]);
      await writeFile(file, retrainedBytes);
      await until(() => watch.models.length === 1, 'the file version');
      expect(watch.models[0]!.version).toBe(contentVersion(retrainedBytes));
    } finally {
      watch.stop();
    }

    // Folder watch: a symlink to a file outside the folder is not part of the version.
    const inside = join(dir, 'model');
    await mkdir(inside);
    await writeFile(join(inside, 'iris.json'), retrainedBytes);
    await writeFile(join(dir, 'secret.txt'), 'not a model file');
    await symlink(join(dir, 'secret.txt'), join(inside, 'secret-link'));
    const seen: string[] = [];
    const folder = collect(watchModel(inside, { ...options, load: async (path) => {
      seen.push(path);
      return loadModel(join(path, 'iris.json'), { name: 'iris' });
    } }));
    try {
      await until(() => folder.models.length === 1, 'the folder version');
      expect(seen).toEqual([inside]);
      // Changing the outside file changes nothing.
      await writeFile(join(dir, 'secret.txt'), 'changed');
      await sleep(400);
      expect(folder.models.length).toBe(1);
    } finally {
      folder.stop();
    }
    // After unsubscribe, a new version is not loaded.
    await writeFile(join(inside, 'iris.json'), await saveModelBytes(retrained));
    await sleep(400);
    expect(seen.length).toBe(1);
  });

  it('a throwing onModelEvent changes nothing (reported on rxml:callback:error); a model still loading when the subscriber leaves is disposed, not emitted', async () => {
    dir = await mkdtemp(join(tmpdir(), 'rxml-watch-guard-'));
    const file = join(dir, 'iris.json');
    await writeFile(file, new TextEncoder().encode('{"weightData":"AAAA","weightSpecs":[]}'));
    const callbackErrors: unknown[] = [];
    const offErrors = subscribe(CHANNELS.callbackError, (e) => callbackErrors.push(e.callback));
    const thrower = collect(watchModel(file, { ...options, onModelEvent: () => {
      throw new Error('listener bug');
    } }));
    try {
      await until(() => thrower.events.length === 1, 'the refusal');
      expect(callbackErrors).toContain('onModelEvent');
      // The watch goes on: a good version written after it is emitted.
      await writeFile(file, retrainedBytes);
      await until(() => thrower.models.length === 1, 'the good version');
    } finally {
      thrower.stop();
      offErrors();
    }

    const before = numTensors();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let loaded: Model | undefined;
    const emitted: Model[] = [];
    const subscription = watchModel(file, { ...options, load: async (path) => {
      loaded = await loadModel(path, { name: 'iris' });
      await gate;
      return loaded;
    } }).subscribe((m) => emitted.push(m));
    await until(() => loaded !== undefined, 'the load');
    subscription.unsubscribe();
    release();
    await sleep(50);
    expect(emitted).toEqual([]);
    expect(numTensors()).toBe(before);
  });

  it('checks its options', () => {
    expect(() => watchModel('/x', { intervalMs: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => watchModel('/x', { stableMs: -1 })).toThrow(/stableMs/);
  });
});

describe('pollModel (a real node:http server with ETags)', () => {
  let server: Server;
  let url: string;
  let body: Uint8Array = new Uint8Array();
  let status = 200;
  const requests: { ifNoneMatch: string | undefined; status: number }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 20)}"`;
      const answer = (code: number, payload?: Uint8Array): void => {
        requests.push({ ifNoneMatch: req.headers['if-none-match'], status: code });
        if (code === 200) res.writeHead(200, { etag, 'content-type': 'application/json' }).end(payload);
        else res.writeHead(code, code === 304 ? { etag } : {}).end();
      };
      if (status !== 200) answer(status);
      else if (req.headers['if-none-match'] === etag) answer(304);
      else answer(200, body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/iris.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('emits the first version, costs a 304 while unchanged, emits a new one when it changes; failures and oversize are reported and polling goes on', async () => {
    const shippedBytes = await shippedSingleFile();
    body = shippedBytes;
    requests.length = 0;
    const sourceEvents: SourceMessage[] = [];
    const unsubscribe = subscribe(CHANNELS.source, (e) => {
      if (e.source === 'pollModel') sourceEvents.push(e);
    });
    const before = numTensors();
    const poll = collect(pollModel(url, { name: 'iris', intervalMs: 30, maxBytes: 100_000 }));
    try {
      await until(() => poll.models.length === 1, 'the first version');
      expect(poll.models[0]!.version).toBe(contentVersion(shippedBytes));
      const shipped = await loadIrisModel();
      expect(await probabilities(poll.models[0]!)).toEqual(await probabilities(shipped));
      shipped.dispose();
      await until(() => requests.filter((r) => r.status === 304).length >= 3, 'three 304s');
      // Every request after the first sent the ETag it got.
      expect(requests[0]!.ifNoneMatch).toBeUndefined();
      expect(requests.slice(1).every((r) => r.ifNoneMatch !== undefined)).toBe(true);
      expect(poll.models.length).toBe(1);

      body = retrainedBytes;
      await until(() => poll.models.length === 2, 'the second version');
      expect(poll.models[1]!.version).toBe(contentVersion(retrainedBytes));

      // The server fails for a while: reported on rxml:source, the current version stays.
      status = 503;
      await until(() => sourceEvents.some((e) => e.type === 'poll-failed'), 'a poll-failed event');
      expect(sourceEvents.find((e) => e.type === 'poll-failed')!.error?.message).toMatch(/HTTP 503/);
      status = 200;

      // Over maxBytes: refused once (not downloaded again while its ETag stays), nothing emitted.
      body = new Uint8Array(200_000).fill(32);
      await until(() => poll.events.length === 1, 'the oversize refusal');
      // Never downloaded, so no content version: the documented placeholder, not the ETag.
      expect(poll.events[0]).toMatchObject({ type: 'refused', name: 'iris', source: `pollModel ${url}`, version: UNKNOWN_MODEL });
      expect(poll.events[0]!.error?.code).toBe('LIMIT_EXCEEDED');
      const after = requests.length;
      await until(() => requests.length >= after + 3, 'more polls');
      expect(requests.slice(after).every((r) => r.status === 304)).toBe(true);

      // Garbage (small): refused, then a good one again is emitted.
      body = new TextEncoder().encode('{"not":"a model"}');
      await until(() => poll.events.length === 2, 'the corrupt refusal');
      expect(poll.events[1]!.reason).toMatch(/weightData/);
      // Read, so refused under its content version (what the model's version would have been).
      expect(poll.events[1]!.version).toBe(contentVersion(new TextEncoder().encode('{"not":"a model"}')));
      body = shippedBytes;
      await until(() => poll.models.length === 3, 'the third version');
      expect(poll.models.length).toBe(3);
    } finally {
      poll.stop();
      unsubscribe();
    }
    expect(numTensors()).toBe(before);
    const count = requests.length;
    await sleep(150);
    expect(requests.length).toBe(count);
  });

  it('a refused connection, a timeout and HTTP 429/503 are retriable poll failures; a refused connection names ECONNREFUSED', async () => {
    const sourceEvents: SourceMessage[] = [];
    const unsubscribe = subscribe(CHANNELS.source, (e) => {
      if (e.source === 'pollModel' && e.type === 'poll-failed') sourceEvents.push(e);
    });
    // A port nobody listens on: a server that was closed.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    // A server that never answers: the request times out.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/iris.json`;
    const deadUrl = `http://127.0.0.1:${deadPort}/iris.json`;
    const subscriptions: Subscription[] = [];
    try {
      subscriptions.push(pollModel(deadUrl, { intervalMs: 10_000 }).subscribe());
      subscriptions.push(pollModel(silentUrl, { intervalMs: 10_000, requestTimeoutMs: 100 }).subscribe());
      await until(() => sourceEvents.some((e) => e.url === deadUrl) && sourceEvents.some((e) => e.url === silentUrl), 'both failures');
      const refused = sourceEvents.find((e) => e.url === deadUrl)!.error!;
      expect(refused).toMatchObject({ code: 'MODEL_LOAD_ERROR', retriable: true });
      expect(refused.message).toMatch(/ECONNREFUSED/);
      const timedOut = sourceEvents.find((e) => e.url === silentUrl)!.error!;
      expect(timedOut).toMatchObject({ code: 'MODEL_LOAD_ERROR', retriable: true });
      expect(timedOut.message).toMatch(/ETIMEDOUT/);
      for (const code of [429, 503]) {
        status = code;
        subscriptions.push(pollModel(`${url}?${code}`, { intervalMs: 10_000 }).subscribe());
        await until(() => sourceEvents.some((e) => e.url === `${url}?${code}`), `HTTP ${code}`);
        expect(sourceEvents.find((e) => e.url === `${url}?${code}`)!.error).toMatchObject({ code: 'MODEL_LOAD_ERROR', retriable: true, message: expect.stringContaining(`HTTP ${code}`) });
      }
      status = 404;
      subscriptions.push(pollModel(`${url}?404`, { intervalMs: 10_000 }).subscribe());
      await until(() => sourceEvents.some((e) => e.url === `${url}?404`), 'HTTP 404');
      expect(sourceEvents.find((e) => e.url === `${url}?404`)!.error).toMatchObject({ retriable: false });
    } finally {
      status = 200;
      for (const s of subscriptions) s.unsubscribe();
      unsubscribe();
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('checks its options', () => {
    expect(() => pollModel('file:///etc/passwd')).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => pollModel('http://x/', { maxBytes: 0 })).toThrow(/maxBytes/);
  });
});

/** A single-file model as a model.json with one weight file (what a training job writes). */
function splitSingleFile(bytes: Uint8Array): { topology: string; weights: Buffer } {
  const single = JSON.parse(new TextDecoder().decode(bytes)) as { modelTopology: unknown; weightSpecs: unknown; weightData: string; format: string };
  return {
    topology: JSON.stringify({ format: single.format, modelTopology: single.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: single.weightSpecs }] }),
    weights: Buffer.from(single.weightData, 'base64'),
  };
}

/** The shipped Iris model (a model.json folder) in single-file form. */
async function shippedSingleFile(): Promise<Uint8Array> {
  const json = JSON.parse(await readFile(join(IRIS_MODEL_DIR, 'model.json'), 'utf8')) as { modelTopology: unknown; weightsManifest: { weights: unknown[] }[] };
  const weights = await readFile(join(IRIS_MODEL_DIR, 'weights.bin'));
  return new TextEncoder().encode(JSON.stringify({ format: 'layers-model', modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0]!.weights, weightData: weights.toString('base64') }));
}

describe('ModelVersions (what every model source shares)', () => {
  it('a candidate replaced before it was loaded is announced as refused (superseded), under its own version', async () => {
    const events: ModelLifecycleMessage[] = [];
    const emitted: Model[] = [];
    const versions = new ModelVersions(new Subscriber<Model>({ next: (m: Model) => void emitted.push(m), error: () => {}, complete: () => {} }), 'iris', 'test source', { onModelEvent: (e) => events.push(e) });
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const loads: string[] = [];
    const candidate = (version: string, wait?: Promise<void>) => ({
      key: version,
      version,
      load: async () => {
        loads.push(version);
        await wait;
        return { name: 'iris', version, inputs: [], outputs: [], run: () => Promise.resolve([]), dispose: () => {} } as unknown as Model;
      },
    });
    versions.offer([candidate('aaaa', slow)]);
    versions.offer([candidate('bbbb')]);
    versions.offer([candidate('cccc')]);
    expect(events).toEqual([expect.objectContaining({ type: 'refused', name: 'iris', version: 'bbbb', source: 'test source', reason: expect.stringMatching(/superseded by version cccc/) as unknown })]);
    release();
    await until(() => emitted.length === 2, 'two models');
    expect(loads).toEqual(['aaaa', 'cccc']);
    expect(emitted.map((m) => m.version)).toEqual(['aaaa', 'cccc']);
    versions.close();
  });
});
