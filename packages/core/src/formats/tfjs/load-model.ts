import { stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
    return { json: url.href, root: location, sibling: (relative) => new URL(relative, url).href };
  }
  const isDir = (await stat(location)).isDirectory();
  const root = isDir ? location : dirname(location);
  return { json: isDir ? join(location, 'model.json') : location, root, sibling: (relative) => join(root, relative) };
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
