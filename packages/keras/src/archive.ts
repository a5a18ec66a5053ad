import { unzipSync } from 'fflate';
import { kerasLoadError } from './errors.js';

/** The parts of a Keras 3 `.keras` archive rxml needs. */
export interface KerasArchive {
  readonly configJson: string;
  readonly kerasVersion: string | undefined;
  readonly weightsH5: Uint8Array;
}

export function readKerasArchive(bytes: Uint8Array, what: string): KerasArchive {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => ['config.json', 'metadata.json', 'model.weights.h5'].includes(f.name) });
  } catch (cause) {
    throw kerasLoadError(`${what} is not a readable .keras archive (corrupt or truncated zip): ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  const config = files['config.json'];
  if (config === undefined) throw kerasLoadError(`${what} has no config.json: not a Keras 3 model archive`);
  const weights = files['model.weights.h5'];
  if (weights === undefined) {
    throw kerasLoadError(`${what} has no model.weights.h5 (sharded or non-HDF5 weight storage is not supported)`);
  }
  const decoder = new TextDecoder();
  let kerasVersion: string | undefined;
  const metadata = files['metadata.json'];
  if (metadata !== undefined) {
    try {
      const parsed = JSON.parse(decoder.decode(metadata)) as { keras_version?: unknown };
      if (typeof parsed.keras_version === 'string') kerasVersion = parsed.keras_version;
    } catch {
      // metadata.json is informational; the config decides what loads.
    }
  }
  return { configJson: decoder.decode(config), kerasVersion, weightsH5: weights };
}
