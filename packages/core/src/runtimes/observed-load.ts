import { CHANNELS, publish } from '../contract/diagnostics.js';
import { toRxmlError } from '../contract/errors.js';
import type { Model } from '../contract/model.js';

/**
 * Runs one model load and publishes it on `rxml:model:load` (name, version, runtime, format, wall
 * time in ms, artifact bytes read, outcome): every loader of every format goes through this, so
 * metrics see each load once. `load` reports the bytes it read through `countBytes`.
 */
export async function observedLoad(format: string, fallbackName: string, load: (countBytes: (bytes: number) => void) => Promise<Model>): Promise<Model> {
  const started = performance.now();
  let bytes = 0;
  try {
    const model = await load((n) => {
      bytes += n;
    });
    publish(CHANNELS.modelLoad, () => ({ name: model.name, version: model.version, runtime: model.runtime, format, durationMs: performance.now() - started, bytes, ok: true }));
    return model;
  } catch (error) {
    publish(CHANNELS.modelLoad, () => ({ name: fallbackName, format, durationMs: performance.now() - started, bytes, ok: false, error: toRxmlError(error, 'MODEL_LOAD_ERROR') }));
    throw error;
  }
}
