import * as tf from '@tensorflow/tfjs-core';
import { IRIS_MODEL_DIR, activeBackend, layersModelFromArtifacts, loadModel, tfjsModel, type Model, type Runtime } from '../../src/index.js';

/**
 * The shipped Iris model with the species columns of its output layer permuted: its probability of
 * species `i` is the shipped model's probability of species `PERMUTED[i]`. So its answers are known
 * from the shipped model's: setosa ↔ virginica swapped, versicolor kept — a "known pair" for
 * shadow agreement numbers.
 */
export const PERMUTED = [2, 1, 0] as const;

/** A tfjs runtime (a `Runtime` value, the seam loadModel takes) that permutes the output layer's columns. */
function permutingRuntime(): Runtime {
  return {
    name: 'tfjs',
    async open(artifacts, identity) {
      if (artifacts.format !== 'tfjs') throw new Error('tfjs artifacts expected');
      const backend = await activeBackend();
      const network = await layersModelFromArtifacts(artifacts.artifacts, identity.name);
      const layer = network.getLayer('species');
      const [kernel, bias] = layer.getWeights();
      const permuted = [tf.gather(kernel!, [...PERMUTED], 1), tf.gather(bias!, [...PERMUTED])];
      layer.setWeights(permuted);
      tf.dispose(permuted);
      return tfjsModel(network, { name: identity.name, version: `${identity.version}-permuted` }, `tfjs-${backend.name}`);
    },
  };
}

/** The shipped Iris model, loaded again under its own name (a second copy of the same weights). */
export function loadIrisCopy(name = 'iris-copy'): Promise<Model> {
  return loadModel(IRIS_MODEL_DIR, { name });
}

/** The shipped Iris model with setosa and virginica swapped in its output (see {@link PERMUTED}). */
export function loadPermutedIris(name = 'iris-permuted'): Promise<Model> {
  return loadModel(IRIS_MODEL_DIR, { name, runtime: permutingRuntime() });
}
