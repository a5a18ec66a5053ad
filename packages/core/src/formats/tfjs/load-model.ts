import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { io } from '@tensorflow/tfjs-core';
import type * as tf from '@tensorflow/tfjs-core';
import { describeSource, isHttpUrl, locationOf, readBytes, type ByteSource } from '../../artifacts/read-bytes.js';
import { contentVersion } from '../../artifacts/version.js';
import { RxmlError, toRxmlError } from '../../contract/errors.js';
import type { Model } from '../../contract/model.js';
import type { Runtime, TfjsArtifacts } from '../../runtimes/runtime.js';
import { tfjsRuntime } from '../../runtimes/tfjs/tfjs-runtime.js';
import { observedLoad } from '../../runtimes/observed-load.js';

export interface LoadModelOptions {
  /** Name reported in results and headers; defaults to the model's own name or its folder name. */
  readonly name?: string;
  /** Force the format instead of detecting it from `model.json`. */
  readonly format?: 'layers-model' | 'graph-model';
  /**
   * Which engine runs the model, as a value. Default `tfjsRuntime()`: the active tfjs backend.
   * `onnxRuntime({ intraOpThreads })` from `@rxml/onnx` converts a LayersModel with `tfjsToOnnx` and
   * runs it on ONNX Runtime (same inputs, outputs and version; `runtime: 'onnxruntime'`).
   */
  readonly runtime?: Runtime;
}

interface ModelJson {
  readonly format?: string;
  readonly modelTopology?: Record<string, unknown>;
  readonly weightsManifest?: readonly { paths: readonly string[]; weights: tf.io.WeightsManifestEntry[] }[];
  /** Single-file form (`saveModelBytes`): the weight specs and the weights as base64, beside the topology. */
  readonly weightSpecs?: tf.io.WeightsManifestEntry[];
  readonly weightData?: string;
  readonly [key: string]: unknown;
}

/** The `model.json` to read and how to reach the files beside it. */
interface Located {
  readonly json: ByteSource;
  /** A name for the folder, for the default model name. */
  readonly root: string;
  sibling(relative: string): ByteSource;
}

async function locate(source: string | URL): Promise<Located> {
  const location = locationOf(source)!;
  if (isHttpUrl(location)) {
    const url = new URL(location.endsWith('.json') ? location : `${location.replace(/\/?$/, '/')}model.json`);
    return {
      json: url.href,
      root: location,
      sibling: (path) => {
        const weights = new URL(path, url);
        // A manifest cannot send the loader to another server.
        if (weights.origin !== url.origin) throw new RxmlError('MODEL_LOAD_ERROR', `weight path ${path} of ${url.href} leaves the model's origin ${url.origin}`);
        return weights.href;
      },
    };
  }
  const isDir = (await stat(location)).isDirectory();
  const root = isDir ? location : dirname(location);
  return {
    json: isDir ? join(location, 'model.json') : location,
    root,
    sibling: (path) => {
      // A manifest cannot make the loader read files outside the model's folder.
      const full = resolve(root, path);
      const inside = relative(resolve(root), full);
      if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) throw new RxmlError('MODEL_LOAD_ERROR', `weight path ${path} of ${location} leaves the model's folder ${root}`);
      return full;
    },
  };
}

function detectFormat(json: ModelJson): 'layers-model' | 'graph-model' {
  if (json.format === 'layers-model' || json.format === 'graph-model') return json.format;
  const topology = json.modelTopology ?? {};
  return 'node' in topology ? 'graph-model' : 'layers-model';
}

function defaultName(json: ModelJson, location: string): string {
  const config = (json.modelTopology?.['model_config'] as { config?: { name?: unknown } } | undefined)?.config;
  if (typeof config?.name === 'string' && config.name !== '') return config.name;
  return location.replace(/\/model\.json$/, '').replace(/\/$/, '').split('/').pop() ?? 'model';
}

/**
 * Loads a TensorFlow.js `model.json` (LayersModel or GraphModel, detected) and its weight files from
 * a directory, a `model.json` path, a `file:` URL or an http(s) URL, and opens it on
 * `options.runtime` (default: tfjs). The version is `contentVersion(model.json, ...weight files)`.
 * The caller owns the returned model and must `dispose()` it; operators never do.
 *
 * @throws RxmlError `MODEL_LOAD_ERROR` naming the location (missing file, HTTP status, bad JSON,
 *   weights that do not fit), `BACKEND_UNAVAILABLE` when the runtime's engine is not installed.
 *
 * @example
 * const model = await loadModel('./models/iris');
 * from([[5.1, 3.5, 1.4, 0.2]]).pipe(predictIris(model)).subscribe(console.log);
 */
export function loadModel(dirOrUrl: string | URL, options: LoadModelOptions = {}): Promise<Model> {
  return observedLoad('tfjs', options.name ?? describeSource(dirOrUrl), (countBytes) => loadTfjsModel(dirOrUrl, options, countBytes));
}

/** @internal `loadModel` without the `rxml:model:load` event (for loaders that publish their own, e.g. `loadImageModel`). */
export async function loadTfjsModel(dirOrUrl: string | URL, options: LoadModelOptions = {}, countBytes: (bytes: number) => void = () => {}): Promise<Model> {
  const what = describeSource(dirOrUrl);
  const runtime = options.runtime ?? tfjsRuntime();
  const located = await locate(dirOrUrl).catch((cause: unknown) => {
    throw new RxmlError('MODEL_LOAD_ERROR', `cannot find a model at ${what}`, { cause });
  });
  try {
    const jsonBytes = await readBytes(located.json);
    const json = JSON.parse(new TextDecoder().decode(jsonBytes)) as ModelJson;
    if (typeof json.weightData === 'string') {
      countBytes(jsonBytes.byteLength);
      return await openSingleFile(json, jsonBytes, { ...options, name: options.name ?? defaultName(json, located.root) }, what);
    }
    const weightSpecs: tf.io.WeightsManifestEntry[] = [];
    const chunks: Uint8Array[] = [];
    for (const group of json.weightsManifest ?? []) {
      weightSpecs.push(...group.weights);
      for (const path of group.paths) chunks.push(await readBytes(located.sibling(path)));
    }
    const modelType = options.format ?? detectFormat(json);
    const artifacts: TfjsArtifacts['artifacts'] = { modelTopology: json.modelTopology ?? {}, weightSpecs, weightData: concat(chunks), format: modelType };
    if (json['signature'] !== undefined) artifacts.signature = json['signature'] as object;
    if (json['userDefinedMetadata'] !== undefined) artifacts.userDefinedMetadata = json['userDefinedMetadata'] as Record<string, object>;
    countBytes(jsonBytes.byteLength + chunks.reduce((sum, c) => sum + c.byteLength, 0));
    const identity = { name: options.name ?? defaultName(json, located.root), version: contentVersion(jsonBytes, ...chunks) };
    return await runtime.open({ format: 'tfjs', modelType, artifacts }, identity, { source: what });
  } catch (cause) {
    throw toRxmlError(cause, 'MODEL_LOAD_ERROR', `cannot load the tfjs model at ${what}`);
  }
}

function concat(chunks: readonly Uint8Array[]): ArrayBuffer {
  const total = chunks.reduce((sum, c) => sum + c.byteLength, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out.buffer;
}

/** Options of `loadModelBytes`: those of `loadModel`, plus the version to report. */
export interface LoadModelBytesOptions extends LoadModelOptions {
  /** Version reported in results and headers; default `contentVersion(bytes)` (16 hex digits of the SHA-256). */
  readonly version?: string;
}

/**
 * Loads a TensorFlow.js model from the bytes of its single-file form (what `saveModelBytes`
 * writes: tfjs' own `ModelArtifacts` as UTF-8 JSON with `weightData` base64-encoded, the shape tfjs'
 * browser storage handlers use), e.g. a Kafka record's value or an HTTP response body. The caller
 * owns the returned model. The default name is the topology's model name; the default version is
 * `contentVersion(bytes)`.
 *
 * @throws RxmlError `MODEL_LOAD_ERROR` when the bytes are not a single-file tfjs model (not JSON, no
 *   `weightData`, weights that do not fit the topology), `BACKEND_UNAVAILABLE` as `loadModel`.
 */
export function loadModelBytes(bytes: Uint8Array, options: LoadModelBytesOptions = {}): Promise<Model> {
  return observedLoad('tfjs', options.name ?? 'bytes', async (countBytes) => {
    let json: ModelJson;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as ModelJson;
    } catch (cause) {
      throw new RxmlError('MODEL_LOAD_ERROR', `the ${bytes.byteLength} model bytes are not a single-file tfjs model (not UTF-8 JSON): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    }
    if (typeof json !== 'object' || json === null || typeof json.weightData !== 'string') {
      throw new RxmlError('MODEL_LOAD_ERROR', `the ${bytes.byteLength} model bytes are not a single-file tfjs model (no base64 "weightData"; a model.json with weight files loads with loadModel)`);
    }
    countBytes(bytes.byteLength);
    return openSingleFile(json, bytes, { ...options, name: options.name ?? defaultName(json, 'model') }, 'bytes');
  });
}

async function openSingleFile(json: ModelJson, bytes: Uint8Array, options: LoadModelBytesOptions & { name: string }, what: string): Promise<Model> {
  try {
    if (!Array.isArray(json.weightSpecs)) throw new Error('"weightSpecs" is missing');
    const modelType = options.format ?? detectFormat(json);
    const artifacts: TfjsArtifacts['artifacts'] = {
      modelTopology: json.modelTopology ?? {},
      weightSpecs: json.weightSpecs,
      weightData: base64ToArrayBuffer(json.weightData!),
      format: modelType,
    };
    if (json['signature'] !== undefined) artifacts.signature = json['signature'] as object;
    if (json['userDefinedMetadata'] !== undefined) artifacts.userDefinedMetadata = json['userDefinedMetadata'] as Record<string, object>;
    const identity = { name: options.name, version: options.version ?? contentVersion(bytes) };
    return await (options.runtime ?? tfjsRuntime()).open({ format: 'tfjs', modelType, artifacts }, identity, { source: what });
  } catch (cause) {
    throw toRxmlError(cause, 'MODEL_LOAD_ERROR', `cannot load the single-file tfjs model (${what})`);
  }
}

/**
 * The single-file form of a tfjs `LayersModel` (e.g. one retrained with `trainIrisNetwork`): tfjs'
 * own `ModelArtifacts` (`modelTopology`, `weightSpecs`, `format`) as UTF-8 JSON with `weightData`
 * base64-encoded (standard base64, RFC 4648), so a model fits in one file, one HTTP body or
 * one Kafka record. Base64 makes it ~4/3 of the weight bytes (the Iris model: about 4 KB).
 * `loadModelBytes`, `loadModel` (a path to such a file), `watchModel`, `pollModel` and
 * `modelsFromKafka` load it. The network stays the caller's.
 */
export async function saveModelBytes(network: { save(handler: tf.io.IOHandler): Promise<tf.io.SaveResult> }): Promise<Uint8Array> {
  let bytes: Uint8Array | undefined;
  await network.save(
    io.withSaveHandler((artifacts) => {
      if (artifacts.weightData === undefined) throw new RxmlError('MODEL_LOAD_ERROR', 'saveModelBytes: the model has no weights');
      const weightData = io.CompositeArrayBuffer.join(artifacts.weightData);
      const single = {
        format: artifacts.format ?? 'layers-model',
        generatedBy: 'rxml saveModelBytes',
        modelTopology: artifacts.modelTopology,
        weightSpecs: artifacts.weightSpecs,
        weightData: Buffer.from(weightData).toString('base64'),
      };
      bytes = new TextEncoder().encode(JSON.stringify(single));
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    }),
  );
  return bytes!;
}

function base64ToArrayBuffer(text: string): ArrayBuffer {
  const bytes = Buffer.from(text, 'base64');
  return new Uint8Array(bytes).buffer;
}
