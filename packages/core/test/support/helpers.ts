import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { Model, TensorData } from '../../src/index.js';

/** The repo root; `../shared` beside it holds the read-only seed data and models. */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const SHARED = fileURLToPath(new URL('../../../../../shared/', import.meta.url));

/** A real model, observed: counts calls and batch sizes, optionally delays or fails them. */
export interface ObservedModel extends Model {
  readonly calls: number[];
}

export function observe(
  model: Model,
  behaviour: { delayMs?: (call: number) => number; failOnCall?: (call: number) => boolean } = {},
): ObservedModel {
  const calls: number[] = [];
  return {
    ...model,
    calls,
    run: async (inputs: readonly TensorData[]) => {
      const call = calls.length;
      calls.push(inputs[0]?.shape[0] ?? 0);
      const delay = behaviour.delayMs?.(call) ?? 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      if (behaviour.failOnCall?.(call) === true) throw new Error(`model call ${call} failed`);
      return model.run(inputs);
    },
    dispose: () => model.dispose(),
  };
}

export function numTensors(): number {
  return tf.memory().numTensors;
}
