import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadModel } from '../../formats/tfjs/load-model.js';
import type { Runtime } from '../../runtimes/runtime.js';
import type { Model } from '../../contract/model.js';
import { activeBackend } from '../../runtimes/tfjs/backend.js';
import type { IrisExample } from './iris-dataset.js';

/** Where the Iris model trained by `pnpm --filter @rxml/core train:iris` is committed. */
export const IRIS_MODEL_DIR = fileURLToPath(new URL('../../../models/iris/', import.meta.url));

export interface LoadIrisModelOptions {
  /** Which engine runs the model, as a value; default `tfjsRuntime()`. */
  readonly runtime?: Runtime;
}

/**
 * Loads the Iris classifier shipped with `@rxml/core` (4 measurements in cm → 3 species
 * probabilities), offline. The caller owns it and disposes it.
 */
export function loadIrisModel(options: LoadIrisModelOptions = {}): Promise<Model> {
  return loadModel(IRIS_MODEL_DIR, { name: 'iris', ...(options.runtime === undefined ? {} : { runtime: options.runtime }) });
}

export interface TrainIrisOptions {
  readonly seed?: number;
  readonly epochs?: number;
}

/**
 * Trains the Iris MLP deterministically: seeded initialisers, full-batch training, no shuffling.
 * Returns the tfjs network (caller disposes it).
 */
export async function trainIrisNetwork(examples: readonly IrisExample[], options: TrainIrisOptions = {}): Promise<tfl.LayersModel> {
  await activeBackend();
  const seed = options.seed ?? 42;
  const network = tfl.sequential({ name: 'iris' });
  network.add(tfl.layers.dense({ inputShape: [4], units: 16, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }), name: 'hidden' }));
  network.add(tfl.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }), name: 'species' }));
  // tfjs disposes only optimizers it made from a string: this one (10 tensors of Adam state) is ours.
  const optimizer = tf.train.adam(0.02);
  network.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const xs = tf.tensor2d(examples.map((e) => [...e.features]), [examples.length, 4]);
  const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(examples.map((e) => e.label), 'int32'), 3));
  try {
    await network.fit(xs, ys, { epochs: options.epochs ?? 300, batchSize: examples.length, shuffle: false, verbose: 0 });
  } finally {
    xs.dispose();
    ys.dispose();
    optimizer.dispose();
  }
  return network;
}
