/**
 * Model hot-swap with real tfjs models: `predictIris`, `predictKeras` and `predictImage` on an
 * `Observable` of versions. Versions are real networks: the committed Iris model, Iris networks
 * retrained here with another seed (different weights, different outputs), one with NaN weights,
 * one taking 5 features, and tiny real image classifiers. Every test checks that the tensors of
 * every model the operator owned are freed (`tf.memory().numTensors` back to its baseline).
 * The timing of swaps in virtual time is pinned by predict-swap-marbles.test.ts.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject, lastValueFrom, of, take, toArray, type Observable } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CHANNELS,
  loadImageModel,
  loadIrisModel,
  predictImage,
  predictIris,
  predictKeras,
  readIrisDataset,
  subscribe,
  trainIrisNetwork,
  withRun,
  type ImageModel,
  type IrisExample,
  type IrisPrediction,
  type Model,
  type ModelEvent,
  type PredictResult,
  type TensorData,
} from '../src/index.js';
import { activeBackend, tfjsModel } from '../src/runtimes/index.js';
import { noiseImage, saveTinyModel } from './support/fixtures.js';
import { SHARED, numTensors } from './support/helpers.js';

let examples: IrisExample[];
beforeAll(async () => {
  examples = await readIrisDataset(join(SHARED, 'seed/iris.txt'));
  await activeBackend();
});

const unsubscribers: (() => void)[] = [];
afterEach(() => {
  for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
});

const FLOWERS = ['5.1,3.5,1.4,0.2', '6.7,3.0,5.2,2.3', '5.9,3.0,4.2,1.5', '4.6,3.4,1.4,0.3'];

/** The trained Iris network without its optimizer's state (Adam's moments are tensors that dispose() of the network does not free). */
async function trainedIris(seed: number, epochs: number): Promise<tfl.LayersModel> {
  const network = await trainIrisNetwork(examples, { seed, epochs });
  network.optimizer.dispose();
  return network;
}

/** A retrained Iris network (another seed, few epochs: other weights, other probabilities) as a Model the test hands over. */
async function retrainedIris(seed: number, version: string, epochs = 20): Promise<Model> {
  return tfjsModel(await trainedIris(seed, epochs), { name: 'iris', version }, 'tfjs');
}

/** An Iris-shaped network whose weights are all NaN: it loads, fits the signature, and gives NaN. */
async function nanIris(): Promise<Model> {
  const network = await trainedIris(3, 1);
  const nan = network.getWeights().map((w) => tf.fill(w.shape, Number.NaN));
  network.setWeights(nan);
  tf.dispose(nan);
  return tfjsModel(network, { name: 'iris', version: 'nan-weights' }, 'tfjs');
}

/** A real network taking 5 features: does not fit the Iris task. */
function fiveFeatures(): Model {
  const network = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [5], units: 3, activation: 'softmax' })] });
  return tfjsModel(network, { name: 'iris', version: 'five-features' }, 'tfjs');
}

/** A model whose calls after its trial batch wait until `open()`; records its disposal. */
function gated(model: Model): Model & { open(): void; readonly disposed: () => boolean } {
  let calls = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  let disposed = false;
  const run = async (inputs: readonly TensorData[]): Promise<TensorData[]> => {
    if (calls++ > 0) await gate;
    return model.run(inputs);
  };
  const dispose = (): void => {
    disposed = true;
    model.dispose();
  };
  return { ...withRun(model, run, dispose), open, disposed: () => disposed };
}

/** Collects model events; `until` resolves with the first (past or future) event matching. */
function modelEvents(): { events: ModelEvent[]; onModelEvent: (e: ModelEvent) => void; until: (type: ModelEvent['type'], version?: string) => Promise<ModelEvent> } {
  const events: ModelEvent[] = [];
  const waiters: { match: (e: ModelEvent) => boolean; resolve: (e: ModelEvent) => void }[] = [];
  return {
    events,
    onModelEvent(event) {
      events.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.match(event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    },
    until(type, version) {
      const match = (e: ModelEvent): boolean => e.type === type && (version === undefined || e.version === version);
      const seen = events.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

/** Subscribes `source` and returns its results as they come, and its completion. */
function run<T>(source: Observable<T>): { results: T[]; done: Promise<void>; unsubscribe: () => void } {
  const results: T[] = [];
  let finish!: () => void;
  let failed!: (error: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    failed = reject;
  });
  const subscription = source.subscribe({ next: (r) => results.push(r), error: failed, complete: finish });
  return { results, done, unsubscribe: () => subscription.unsubscribe() };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** The Iris probabilities a model gives for one CSV flower, straight from the model. */
async function probabilities(model: Model, flower: string): Promise<number[]> {
  const [out] = await model.run([{ data: Float32Array.from(flower.split(',').map(Number)), shape: [1, 4] }]);
  return Array.from(out!.data);
}

const versionsOf = (results: readonly PredictResult<unknown, unknown>[]): (string | undefined)[] => results.map((r) => r.model?.version);
const probs = (r: PredictResult<string, IrisPrediction> | undefined): number[] => (r?.ok === true ? Object.values(r.value.probabilities) : []);

describe('predictIris on a stream of model versions (real tfjs models)', () => {
  it('holds records until the first version, swaps in a retrained one between batches; results and rxml:predict:batch name the version; all tensors freed', async () => {
    const baseline = numTensors();
    const v1 = await loadIrisModel();
    const v2 = await retrainedIris(7, 'retrained-7');
    const expected1 = await probabilities(v1, FLOWERS[0]!);
    const expected2 = await probabilities(v2, FLOWERS[0]!);
    expect(expected2).not.toEqual(expected1);
    const batches: string[] = [];
    unsubscribers.push(subscribe(CHANNELS.predictBatch, (m) => batches.push(m.version)));

    const models = new Subject<Model>();
    const records = new Subject<string>();
    const events = modelEvents();
    const stream = run(records.pipe(predictIris(models, { batch: { size: 4, maxLatencyMs: 1 }, onModelEvent: events.onModelEvent })));
    records.next(FLOWERS[0]!);
    records.next(FLOWERS[1]!);
    await new Promise((r) => setTimeout(r, 20));
    expect(stream.results).toEqual([]); // no model yet: held

    models.next(v1);
    await until(() => stream.results.length === 2, 'the held records');
    models.next(v2);
    await events.until('released', v1.version);
    records.next(FLOWERS[0]!);
    records.next(FLOWERS[2]!);
    records.complete();
    await stream.done;

    expect(versionsOf(stream.results)).toEqual([v1.version, v1.version, 'retrained-7', 'retrained-7']);
    expect(stream.results.every((r) => r.ok)).toBe(true);
    for (const [i, p] of probs(stream.results[0]).entries()) expect(p).toBeCloseTo(expected1[i]!, 6);
    for (const [i, p] of probs(stream.results[2]).entries()) expect(p).toBeCloseTo(expected2[i]!, 6);
    expect(batches).toEqual([v1.version, 'retrained-7']); // one batch of two records on each (trial batches are not record batches)
    expect(events.events.map((e) => `${e.type} ${e.version}${e.previousVersion === undefined ? '' : ` after ${e.previousVersion}`}`)).toEqual([
      `swap ${v1.version}`,
      `swap retrained-7 after ${v1.version}`,
      `released ${v1.version}`,
      'released retrained-7',
    ]);
    expect(events.events.every((e) => e.operator === 'predictIris' && e.name === 'iris')).toBe(true);
    expect(numTensors()).toBe(baseline);
  });

  it('finishes the batch in flight on the old version and disposes it only after that call returns', async () => {
    const baseline = numTensors();
    const v1 = gated(await loadIrisModel());
    const afterV1 = numTensors();
    const v2 = await retrainedIris(11, 'retrained-11');
    const v2Tensors = numTensors() - afterV1;
    const models = new Subject<Model>();
    const records = new Subject<string>();
    const events = modelEvents();
    const stream = run(records.pipe(predictIris(models, { batch: { size: 1 }, concurrency: 2, onModelEvent: events.onModelEvent })));
    models.next(v1);
    await events.until('swap', v1.version);
    records.next(FLOWERS[0]!); // its call on v1 waits at the gate
    models.next(v2);
    await events.until('swap', 'retrained-11');
    records.next(FLOWERS[1]!); // runs on v2 while the first call is still in flight on v1
    await new Promise((r) => setTimeout(r, 30));
    expect(v1.disposed()).toBe(false);
    expect(stream.results).toEqual([]); // the second waits for the first (input order)

    v1.open();
    await events.until('released', v1.version);
    expect(v1.disposed()).toBe(true);
    expect(numTensors()).toBe(baseline + v2Tensors);
    records.complete();
    await stream.done;
    expect(versionsOf(stream.results)).toEqual([v1.version, 'retrained-11']);
    expect(numTensors()).toBe(baseline);
  });

  it('refuses a wrong signature, NaN outputs and a model source error; the stream goes on with the current version; refused versions are freed at once', async () => {
    const baseline = numTensors();
    const v1 = await loadIrisModel();
    const withV1 = numTensors();
    const models = new Subject<Model>();
    const records = new Subject<string>();
    const events = modelEvents();
    const stream = run(records.pipe(predictIris(models, { batch: { size: 2, maxLatencyMs: 1 }, onModelEvent: events.onModelEvent })));
    models.next(v1);
    records.next(FLOWERS[0]!);
    await events.until('swap', v1.version);

    models.next(fiveFeatures());
    const wrong = await events.until('refused', 'five-features');
    expect(wrong.reason).toBe("predictIris: model 'iris' does not fit: an Iris model takes one input [?, 4], this one takes [?, 5]");
    expect(wrong.error?.code).toBe('INVALID_CONFIG');
    expect(numTensors()).toBe(withV1);

    models.next(await nanIris());
    const nan = await events.until('refused', 'nan-weights');
    expect(nan.reason).toBe('trial batch output species holds NaN at index 0 (finite values expected)');
    expect(nan.error?.code).toBe('MODEL_LOAD_ERROR');
    expect(numTensors()).toBe(withV1);

    models.error(new Error('model registry unreachable'));
    const failed = await events.until('source-error');
    expect(failed.version).toBe(v1.version);
    expect(failed.error?.message).toBe('predictIris: model source: model registry unreachable');

    records.next(FLOWERS[1]!);
    records.complete();
    await stream.done;
    expect(versionsOf(stream.results)).toEqual([v1.version, v1.version]);
    expect(stream.results.map((r) => r.ok && r.value.species)).toEqual(['setosa', 'virginica']);
    expect(numTensors()).toBe(baseline);
  });

  it('announces a rollback when an earlier version comes back', async () => {
    const baseline = numTensors();
    const models = new Subject<Model>();
    const records = new Subject<string>();
    const events = modelEvents();
    const stream = run(records.pipe(predictIris(models, { onModelEvent: events.onModelEvent })));
    const v1 = await loadIrisModel();
    models.next(v1);
    await events.until('swap', v1.version);
    models.next(await retrainedIris(5, 'retrained-5'));
    await events.until('swap', 'retrained-5');
    models.next(await loadIrisModel()); // the same artifact loaded again: same version
    const rollback = await events.until('rollback', v1.version);
    expect(rollback).toMatchObject({ previousVersion: 'retrained-5', reason: `version ${v1.version} was served before by this operator` });
    records.next(FLOWERS[0]!);
    records.complete();
    await stream.done;
    expect(versionsOf(stream.results)).toEqual([v1.version]);
    expect(numTensors()).toBe(baseline);
  });

  it('on early unsubscribe disposes the version it owns; a plain Model is never disposed', async () => {
    const baseline = numTensors();
    const plain = await loadIrisModel();
    const withPlain = numTensors();
    const flowers = Array.from({ length: 50 }, (_, i) => FLOWERS[i % 4]!);
    const firstTwo = await lastValueFrom(of(...flowers).pipe(predictIris(of(await loadIrisModel()), { batch: { size: 1 } }), take(2), toArray()));
    expect(firstTwo).toHaveLength(2);
    expect(numTensors()).toBe(withPlain);

    const plainResults = await lastValueFrom(of(...flowers).pipe(predictIris(plain, { batch: { size: 1 } }), take(2), toArray()));
    expect(plainResults).toHaveLength(2);
    expect(numTensors()).toBe(withPlain); // still loaded
    expect(await probabilities(plain, FLOWERS[0]!)).toHaveLength(3);
    plain.dispose();
    expect(numTensors()).toBe(baseline);
  });

  it('on unsubscribe aborts the trial batch of a version under validation (a remote model stops its request) and then disposes that version', async () => {
    const baseline = numTensors();
    const v1 = await loadIrisModel();
    const real = await retrainedIris(3, 'v2', 2);
    let trialSignal: AbortSignal | undefined;
    let disposed = false;
    // v2's trial batch hangs until its signal is aborted, like a remote model whose server does not answer.
    const v2 = withRun(
      real,
      (_inputs, options) =>
        new Promise((_resolve, reject) => {
          trialSignal = options?.signal;
          options?.signal?.addEventListener('abort', () => reject(options.signal!.reason as Error), { once: true });
        }),
      () => {
        disposed = true;
        real.dispose();
      },
    );
    const versions = new Subject<Model>();
    const flowers = new Subject<string>();
    const results: PredictResult<string, IrisPrediction>[] = [];
    const subscription = flowers.pipe(predictIris(versions, { batch: { size: 1 } })).subscribe((r) => results.push(r));
    versions.next(v1);
    flowers.next(FLOWERS[0]!);
    await until(() => results.length === 1, 'the first result');
    versions.next(v2);
    await until(() => trialSignal !== undefined, "v2's trial batch");
    expect(trialSignal!.aborted).toBe(false);
    subscription.unsubscribe();
    expect(trialSignal!.aborted).toBe(true);
    expect(trialSignal!.reason).toMatchObject({ code: 'ABORTED' });
    await until(() => disposed, 'v2 disposed');
    await until(() => numTensors() === baseline, 'every tensor freed');
  });

  it('errors with MODEL_LOAD_ERROR when the model source completes without a usable version, and frees what it refused', async () => {
    const baseline = numTensors();
    const refused = of<Model>(fiveFeatures());
    await expect(lastValueFrom(of(FLOWERS[0]!).pipe(predictIris(refused)))).rejects.toMatchObject({
      code: 'MODEL_LOAD_ERROR',
      message:
        "predictIris: the model source completed without a model that passed validation (last refused: five-features: predictIris: model 'iris' does not fit: an Iris model takes one input [?, 4], this one takes [?, 5])",
    });
    expect(numTensors()).toBe(baseline);
  });
});

describe('the other families on a stream of model versions', () => {
  it('predictKeras reads samples by the first version and refuses a later version of another signature', async () => {
    const baseline = numTensors();
    const v1 = await loadIrisModel();
    const models = new Subject<Model>();
    const records = new Subject<readonly number[]>();
    const events = modelEvents();
    const stream = run(records.pipe(predictKeras(models, { outputs: 'single', onModelEvent: events.onModelEvent })));
    models.next(v1);
    models.next(fiveFeatures());
    const refusal = await events.until('refused', 'five-features');
    expect(refusal.reason).toMatch(/^predictKeras: model 'iris' does not fit: version five-features does not match the first model's signature: input 0 \(.+\) has shape \[\?, 5\], the first model's is \[\?, 4\]$/);
    records.next([5.1, 3.5, 1.4, 0.2]);
    records.complete();
    await stream.done;
    expect(stream.results.map((r) => r.ok && r.value.shape)).toEqual([[3]]);
    expect(numTensors()).toBe(baseline);
  });

  describe('predictImage', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'rxml-swap-'));
      await saveTinyModel(join(dir, 'a'), 32, 3);
      await saveTinyModel(join(dir, 'b'), 32, 3); // other random weights: another version
    });
    afterAll(() => rm(dir, { recursive: true, force: true }));

    const spec = (name: string, labels = ['cat', 'dog', 'fox']) => ({ path: join(dir, name), inputSize: 32, normalization: { scale: 1 / 255, offset: 0 }, labels });

    it('swaps ImageModel versions, refuses one with other labels, and frees every one', async () => {
      const baseline = numTensors();
      const image = await noiseImage(40, 40, 'png', 3);
      const a: ImageModel = await loadImageModel(spec('a'));
      const b: ImageModel = await loadImageModel(spec('b'));
      const relabelled: ImageModel = await loadImageModel(spec('b', ['one', 'two', 'three']));
      expect(b.model.version).not.toBe(a.model.version);
      const models = new Subject<ImageModel>();
      const records = new Subject<Uint8Array>();
      const events = modelEvents();
      const stream = run(records.pipe(predictImage(models, { batch: { size: 1 }, onModelEvent: events.onModelEvent })));
      models.next(a);
      records.next(image);
      await until(() => stream.results.length === 1, 'the first image');
      models.next(relabelled);
      const refusal = await events.until('refused');
      expect(refusal.reason).toBe(`predictImage: model '${b.model.name}' does not fit: its labels differ from the first model's`);
      models.next(b);
      await events.until('released', a.model.version);
      records.next(image);
      records.complete();
      await stream.done;
      expect(versionsOf(stream.results)).toEqual([a.model.version, b.model.version]);
      expect(stream.results.map((r) => r.ok && ['cat', 'dog', 'fox'].includes(r.value.label))).toEqual([true, true]);
      expect(numTensors()).toBe(baseline);
    });
  });
});
