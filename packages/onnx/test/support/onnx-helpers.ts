import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { TensorData } from '@rxml/core';
import { sharedDir } from './shared.js';

/** The shared MobileNet v1 0.75 LayersModel (`../shared` beside the repo, as in CI). */
export const MOBILENET_DIR = join(sharedDir, 'models/mobilenet_v1_0.75_224');

interface ModelJson {
  readonly modelTopology: object;
  readonly weightsManifest: readonly { readonly paths: readonly string[]; readonly weights: tf.io.WeightsManifestEntry[] }[];
}

/** Loads a tfjs LayersModel directory as the raw tfjs network (the converter's input). */
export async function loadLayers(dir: string): Promise<tfl.LayersModel> {
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJson;
  const chunks = await Promise.all(json.weightsManifest.flatMap((g) => g.paths.map((p) => readFile(join(dir, p)))));
  const all = Buffer.concat(chunks);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  const weightSpecs = json.weightsManifest.flatMap((g) => g.weights);
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs, weightData }));
}

/** Deterministic pseudo-random floats in [lo, hi) (mulberry32), so failures reproduce. */
export function seededFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}

export function maxAbsDiff(a: TensorData, b: TensorData): number {
  if (a.data.length !== b.data.length) return Number.POSITIVE_INFINITY;
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
  return max;
}
