import type * as tf from '@tensorflow/tfjs-core';
import { describeSource, readBytes, type ByteSource } from '@rxml/core/runtime';
import { readKerasArchive } from './archive.js';
import { normalizeConfig, type NormalizedConfig } from './config.js';
import { kerasLoadError, unsupportedLayer } from './errors.js';
import { isGroup, stringAttr, withHdf5 } from './hdf5.js';
import { parseJson, type Json } from './json.js';
import { readWeights, type LayerWeights } from './weights.js';

/**
 * A Keras model file: a path, a `file:` or http(s) URL, or its bytes (e.g. read from a message);
 * read with core's one byte reader (`readBytes`).
 */
export type KerasSource = ByteSource;

export interface KerasArtifactsOptions {
  /**
   * The architecture for a weights-only HDF5 file: the JSON of Keras's `model.to_json()` (as a
   * string or parsed). Ignored when the file carries its own config.
   */
  readonly config?: string | object;
}

/** Which kind of file it was. */
export type KerasFileFormat = 'keras' | 'h5' | 'weights-h5';

/**
 * A Keras model converted to tfjs `ModelArtifacts` (Keras 2 topology JSON + float32 weights),
 * plus what the conversion learned. Runtime-neutral: another converter (e.g. to ONNX) can start
 * from `artifacts.modelTopology` and `weightSpecs`/`weightData` without touching Keras files.
 */
export interface KerasArtifacts {
  readonly artifacts: tf.io.ModelArtifacts & { readonly weightSpecs: tf.io.WeightsManifestEntry[]; readonly weightData: ArrayBuffer };
  readonly format: KerasFileFormat;
  /** The Keras version that saved the file, when it says. */
  readonly kerasVersion: string | undefined;
  readonly model: NormalizedConfig;
  /** The file's bytes (for hashing: the model version). */
  readonly bytes: Uint8Array;
}

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const ZIP_SIGNATURE = [0x50, 0x4b, 0x03, 0x04];

function startsWith(bytes: Uint8Array, signature: readonly number[], offset = 0): boolean {
  return bytes.length >= offset + signature.length && signature.every((b, i) => bytes[offset + i] === b);
}

function isHdf5(bytes: Uint8Array): boolean {
  // HDF5 allows a user block before the superblock, at 0, 512, 1024, 2048, … bytes.
  for (let offset = 0; offset < bytes.length; offset = offset === 0 ? 512 : offset * 2) {
    if (startsWith(bytes, HDF5_SIGNATURE, offset)) return true;
    if (offset >= 1 << 20) break;
  }
  return false;
}

async function readSource(source: KerasSource): Promise<{ bytes: Uint8Array; what: string }> {
  const what = source instanceof Uint8Array ? 'the model (given as bytes)' : describeSource(source);
  try {
    return { bytes: await readBytes(source), what };
  } catch (cause) {
    throw kerasLoadError(cause instanceof Error ? cause.message : String(cause), cause);
  }
}

function fail(message: string, cause: unknown): Error {
  return kerasLoadError(message, cause);
}

/**
 * Reads a Keras `.keras` archive, a full-model `.h5` (Keras 2.0 through Keras 3's legacy writer)
 * or a weights-only `.h5` plus `options.config`, and converts it to tfjs `ModelArtifacts`.
 * Unsupported layers, activations and options, and corrupt or truncated files, fail here with
 * `MODEL_LOAD_ERROR`.
 */
export async function readKerasArtifacts(source: KerasSource, options: KerasArtifactsOptions = {}): Promise<KerasArtifacts> {
  const { bytes, what } = await readSource(source);
  const external = options.config === undefined ? undefined : typeof options.config === 'string' ? parseJson(options.config, 'options.config', fail) : (options.config as Json);

  if (startsWith(bytes, ZIP_SIGNATURE)) {
    const archive = readKerasArchive(bytes, what);
    const model = normalizeConfig(parseJson(archive.configJson, `${what}: config.json`, fail), archive.kerasVersion);
    const weights = await withHdf5(archive.weightsH5, `${what}: model.weights.h5`, (file) => readWeights(file, model, what));
    return finish(bytes, 'keras', archive.kerasVersion, model, weights);
  }
  if (!isHdf5(bytes)) {
    throw kerasLoadError(`${what} is neither an HDF5 (.h5) file nor a .keras archive (${bytes.length} bytes, no HDF5 or zip signature)`);
  }
  return withHdf5(bytes, what, (file) => {
    const ownConfig = stringAttr(file, 'model_config');
    const weightsGroup = file.get('model_weights');
    const kerasVersion = stringAttr(file, 'keras_version') ?? (isGroup(weightsGroup) ? stringAttr(weightsGroup, 'keras_version') : undefined);
    const rawConfig = ownConfig !== undefined ? parseJson(ownConfig, `${what}: model_config`, fail) : external;
    if (rawConfig === undefined) {
      throw kerasLoadError(`${what} holds weights only (no model_config); pass the architecture as options.config (Keras's model.to_json())`);
    }
    const model = normalizeConfig(rawConfig, kerasVersion ?? configVersion(rawConfig));
    return finish(bytes, ownConfig !== undefined ? 'h5' : 'weights-h5', kerasVersion, model, readWeights(file, model, what));
  });
}

function configVersion(raw: Json): string | undefined {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && typeof raw['keras_version'] === 'string' ? raw['keras_version'] : undefined;
}

function finish(bytes: Uint8Array, format: KerasFileFormat, kerasVersion: string | undefined, model: NormalizedConfig, weights: LayerWeights): KerasArtifacts {
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const arrays: Float32Array[] = [];
  for (const layer of model.layers) {
    const found = weights.get(layer.kerasName) ?? [];
    if (found.length !== layer.weightNames.length) {
      throw unsupportedLayer(
        layer.className,
        layer.kerasName,
        `expected ${layer.weightNames.length} weight(s) (${layer.weightNames.map((n) => n.split('/').pop()).join(', ') || 'none'}), the file has ${found.length}`,
      );
    }
    found.forEach((w, i) => {
      weightSpecs.push({ name: layer.weightNames[i]!, shape: [...w.shape], dtype: 'float32' });
      arrays.push(w.data);
    });
  }
  const total = arrays.reduce((n, a) => n + a.length, 0);
  const all = new Float32Array(total);
  let offset = 0;
  for (const a of arrays) {
    all.set(a, offset);
    offset += a.length;
  }
  return {
    artifacts: {
      modelTopology: model.topology,
      weightSpecs,
      weightData: all.buffer,
      format: 'layers-model',
      generatedBy: `keras v${kerasVersion ?? 'unknown'}`,
      convertedBy: 'rxml keras loader',
    },
    format,
    kerasVersion,
    model,
    bytes,
  };
}
