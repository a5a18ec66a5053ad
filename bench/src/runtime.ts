import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import type { InferenceSession } from 'onnxruntime-node';
import {
  IMAGE_MODEL_CATALOG,
  activeBackend,
  ensureCachedModel,
  loadImageModel,
  loadModel,
  type ImageModel,
} from '@rxml/core';
import { onnxRuntime, tfjsToOnnx } from '@rxml/onnx';
import { loadRawNetwork } from './raw-network.js';

/**
 * The runtime a suite child measures: `onnx` runs the model on onnxruntime-node (tfjs, on wasm,
 * is only used to read and convert it); any other value is the tfjs backend forced by RXML_BACKEND.
 */
export function benchRuntime(): 'onnx' | 'tfjs' {
  return process.env['RXML_BENCH_RUNTIME'] === 'onnx' ? 'onnx' : 'tfjs';
}

/** The name of what this child measures: `onnx`, or the tfjs backend (`node`, `wasm`, `cpu`). */
export function variant(): string {
  return benchRuntime() === 'onnx' ? 'onnx' : (process.env['RXML_BACKEND'] ?? 'default');
}

/** Repo-relative shared model mirror: `../shared/models` next to the repository root. */
export const MODEL_MIRROR = process.env['RXML_MODEL_MIRROR'] ?? resolve(fileURLToPath(new URL('../../', import.meta.url)), '../shared/models');
export const MOBILENET = 'mobilenet_v1_0.75_224';

/** Same session settings for rxml's ONNX model and the raw ORT session it is compared against. */
export const ORT_THREADS = availableParallelism();

/** A raw batched call of the runtime's own library, no rxml in between. */
export interface RawRunner {
  readonly runtime: string;
  run(data: Float32Array, shape: readonly number[]): Promise<void> | void;
  dispose(): void;
}

export async function rawTfjs(network: LayersModel): Promise<RawRunner> {
  const backend = await activeBackend();
  return {
    runtime: `tfjs-${backend.name}`,
    run: (data, shape) => {
      tf.tidy(() => (network.predict(tf.tensor(data, [...shape]), { batchSize: shape[0] ?? 1 }) as tf.Tensor).dataSync());
    },
    dispose: () => network.dispose(),
  };
}

export async function rawOrt(network: LayersModel): Promise<RawRunner> {
  const ort = await import('onnxruntime-node');
  const bytes = await tfjsToOnnx(network);
  network.dispose();
  const session: InferenceSession = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    intraOpNumThreads: ORT_THREADS,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const input = session.inputNames[0]!;
  return {
    runtime: 'onnxruntime',
    run: async (data, shape) => {
      const out = await session.run({ [input]: new ort.Tensor('float32', data, [...shape]) });
      for (const t of Object.values(out)) void t.data;
    },
    dispose: () => void session.release(),
  };
}

/** The raw baseline for a LayersModel directory, on this child's runtime. */
export async function rawRunner(dir: string): Promise<RawRunner> {
  const network = await loadRawNetwork(dir);
  return benchRuntime() === 'onnx' ? rawOrt(network) : rawTfjs(network);
}

/** MobileNet as an rxml ImageModel on this child's runtime, plus its model directory. */
export async function loadMobileNet(): Promise<{ image: ImageModel; dir: string; runtime: string }> {
  const entry = IMAGE_MODEL_CATALOG[MOBILENET]!;
  const dir = await ensureCachedModel(entry, { mirror: MODEL_MIRROR });
  const tfjsImage = await loadImageModel(MOBILENET, { mirror: MODEL_MIRROR });
  if (benchRuntime() !== 'onnx') return { image: tfjsImage, dir, runtime: tfjsImage.model.runtime };
  tfjsImage.dispose();
  const model = await loadModel(dir, { name: MOBILENET, runtime: onnxRuntime({ intraOpThreads: ORT_THREADS }) });
  return { image: { ...tfjsImage, model, dispose: () => model.dispose() }, dir, runtime: model.runtime };
}
