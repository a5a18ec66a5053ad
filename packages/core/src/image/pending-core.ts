// TEMPORARY stand-ins for core pieces being written on main (predict, tfjsModel, loadModel,
// initBackend). Same signatures as announced; this file is deleted when main lands.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tfl from '@tensorflow/tfjs-layers';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Observable, type OperatorFunction } from 'rxjs';
import { RxmlError, toRxmlError } from '../errors.js';
import type { Model, ModelIdentity, TensorData } from '../model/model.js';

export type PredictResult<In, Out> =
  | { readonly ok: true; readonly input: In; readonly value: Out; readonly model: ModelIdentity; readonly latencyMs: number }
  | { readonly ok: false; readonly input: In; readonly error: RxmlError };

export interface PredictOptions<In, S, Out> {
  readonly select?: (input: In) => S | PromiseLike<S>;
  readonly encode: (samples: readonly S[]) => TensorData | readonly TensorData[];
  readonly decode: (outputs: readonly TensorData[], samples: readonly S[]) => readonly Out[];
  readonly batch?: { readonly size?: number; readonly maxLatencyMs?: number };
  readonly concurrency?: number;
  readonly ordered?: boolean;
}

let backendReady: Promise<string> | undefined;
export function initBackend(): Promise<string> {
  backendReady ??= (async () => {
    for (const name of ['wasm', 'cpu']) {
      try {
        if (await tf.setBackend(name)) { await tf.ready(); return name; }
      } catch { /* next */ }
    }
    throw new RxmlError('BACKEND_UNAVAILABLE', 'no tfjs backend');
  })();
  return backendReady;
}

export async function loadModel(dir: string): Promise<Model> {
  const backend = await initBackend();
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
    modelTopology: object; weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  };
  const hash = createHash('sha256');
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) { const b = await readFile(join(dir, p)); hash.update(b); buffers.push(b); }
  }
  const all = Buffer.concat(buffers);
  const layers = await tfl.loadLayersModel({
    load: async () => ({
      modelTopology: json.modelTopology, weightSpecs: specs,
      weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer,
    }),
  });
  return tfjsModel(layers, { name: basename(dir), version: hash.digest('hex').slice(0, 16) }, backend);
}

export function tfjsModel(m: tfl.LayersModel, identity: ModelIdentity, backend = tf.getBackend()): Model {
  return {
    ...identity,
    runtime: `tfjs-${backend}`,
    inputs: m.inputs.map((t) => ({ name: t.name, shape: t.shape, dtype: 'float32' as const })),
    outputs: m.outputs.map((t) => ({ name: t.name, shape: t.shape, dtype: 'float32' as const })),
    async run(inputs) {
      const xs = inputs.map((i) => tf.tensor(i.data, [...i.shape]));
      try {
        const out = m.predict(xs.length === 1 ? xs[0]! : xs, { batchSize: inputs[0]!.shape[0]! });
        const arr = Array.isArray(out) ? out : [out as tf.Tensor];
        try {
          return await Promise.all(arr.map(async (t) => ({ data: (await t.data()) as Float32Array, shape: t.shape })));
        } finally { arr.forEach((t) => t.dispose()); }
      } finally { xs.forEach((t) => t.dispose()); }
    },
    dispose() { m.dispose(); },
  };
}

type Sel<In, S> = { input: In; ok: true; sample: S } | { input: In; ok: false; error: RxmlError };

export function predict<In, S, Out>(model: Model, options: PredictOptions<In, S, Out>): OperatorFunction<In, PredictResult<In, Out>> {
  const size = options.batch?.size ?? 32;
  const latency = options.batch?.maxLatencyMs ?? 10;
  const select = options.select ?? ((x: In) => x as unknown as S);
  return (source) => new Observable<PredictResult<In, Out>>((sub) => {
    let closed = false;
    const pending: Promise<Sel<In, S>>[] = [];
    let chain = Promise.resolve();
    let done = false;
    let inFlight = 0;
    const queue: In[] = [];
    const flush = async (): Promise<void> => {
      while (pending.length > 0 && !closed) {
        const batch = await Promise.all(pending.splice(0, size));
        inFlight -= batch.length; pump();
        const good = batch.filter((b): b is Extract<Sel<In, S>, { ok: true }> => b.ok);
        let outs: readonly Out[] = [];
        let err: RxmlError | undefined;
        const t0 = performance.now();
        if (good.length > 0) {
          try {
            const enc = options.encode(good.map((g) => g.sample));
            const res = await model.run(Array.isArray(enc) ? enc : [enc as TensorData]);
            outs = options.decode(res, good.map((g) => g.sample));
          } catch (e) { err = toRxmlError(e, 'MODEL_ERROR'); }
        }
        const latencyMs = performance.now() - t0;
        let k = 0;
        for (const b of batch) {
          if (closed) return;
          if (!b.ok) sub.next({ ok: false, input: b.input, error: b.error });
          else if (err) { k++; sub.next({ ok: false, input: b.input, error: err }); }
          else sub.next({ ok: true, input: b.input, value: outs[k++] as Out, model: { name: model.name, version: model.version }, latencyMs });
        }
      }
      if (done && inFlight === 0 && queue.length === 0 && !closed) sub.complete();
    };
    const pump = (): void => {
      while (queue.length > 0 && inFlight < size * 2) {
        const input = queue.shift() as In;
        inFlight++;
        pending.push(Promise.resolve().then(() => select(input)).then(
          (sample) => ({ input, ok: true as const, sample }),
          (e: unknown) => ({ input, ok: false as const, error: toRxmlError(e, 'INVALID_INPUT') }),
        ));
      }
      chain = chain.then(() => new Promise((r) => setTimeout(r, pending.length >= size ? 0 : latency))).then(flush)
        .catch((e: unknown) => sub.error(e));
    };
    const s = source.subscribe({
      next: (x) => { queue.push(x); pump(); },
      error: (e: unknown) => sub.error(e),
      complete: () => { done = true; pump(); },
    });
    return () => { closed = true; s.unsubscribe(); };
  });
}
