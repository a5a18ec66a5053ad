import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as tf from '@tensorflow/tfjs-core';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import { loadLayersModel, type LayersModel } from '@tensorflow/tfjs-layers';
import { io } from '@tensorflow/tfjs-core';
import { RxmlError } from '../../contract/errors.js';
import { activeBackend } from '../../runtimes/tfjs/backend.js';
import type { Model } from '../../contract/model.js';
import { tfjsModel } from '../../runtimes/tfjs/tfjs-model.js';
import type { OnnxSessionOptions } from '../../onnx/onnx-model.js';
import { toOnnxModel } from '../../onnx/to-onnx-model.js';

export interface LoadModelOptions {
  /** Name reported in results and headers; defaults to the model's own name or its folder name. */
  readonly name?: string;
  /** Force the format instead of detecting it from `model.json`. */
  readonly format?: 'layers-model' | 'graph-model';
  /**
   * Which engine runs the model. `'tfjs'` (default): the active tfjs backend. `'onnx'`: a
   * LayersModel is converted with `tfjsToOnnx` and runs on ONNX Runtime (needs the optional peer
   * `onnxruntime-node`); same inputs, outputs and version, `runtime: 'onnxruntime'`.
   */
  readonly runtime?: 'tfjs' | 'onnx';
  /** ONNX Runtime session options (threads, optimization level) for `runtime: 'onnx'`. */
  readonly onnx?: OnnxSessionOptions;
}

interface ModelJson {
  readonly format?: string;
  readonly modelTopology?: Record<string, unknown>;
  readonly weightsManifest?: readonly { paths: readonly string[]; weights: tf.io.WeightsManifestEntry[] }[];
  readonly [key: string]: unknown;
}

/** Reads a file next to `model.json`, from disk or over http(s). */
type Reader = (relative: string) => Promise<Uint8Array>;

function readerFor(location: string): { base: string; read: Reader } {
  if (/^https?:\/\//i.test(location)) {
    const url = new URL(location.endsWith('.json') ? location : `${location.replace(/\/?$/, '/')}model.json`);
    return {
      base: url.href,
      read: async (relative) => {
        const target = new URL(relative, url);
        const response = await fetch(target);
        if (!response.ok) throw new Error(`GET ${target.href}: HTTP ${response.status}`);
        return new Uint8Array(await response.arrayBuffer());
      },
    };
  }
  const path = location.startsWith('file:') ? fileURLToPath(location) : location;
  return {
    base: pathToFileURL(path).href,
    read: async (relative) => new Uint8Array(await readFile(join(path, relative))),
  };
}

async function locate(dirOrUrl: string): Promise<{ root: string; file: string }> {
  if (/^https?:\/\//i.test(dirOrUrl)) return { root: dirOrUrl, file: 'model.json' };
  const path = dirOrUrl.startsWith('file:') ? fileURLToPath(dirOrUrl) : dirOrUrl;
  const isDir = (await stat(path)).isDirectory();
  if (isDir) return { root: path, file: 'model.json' };
  const slash = path.lastIndexOf('/');
  return { root: slash < 0 ? '.' : path.slice(0, slash), file: path.slice(slash + 1) };
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
 * a directory, a `model.json` path, or an http(s) URL. The caller owns the returned model and must
 * `dispose()` it; operators never do.
 *
 * @example
 * const model = await loadModel('./models/iris');
 * from([[5.1, 3.5, 1.4, 0.2]]).pipe(predictIris(model)).subscribe(console.log);
 */
export async function loadModel(dirOrUrl: string, options: LoadModelOptions = {}): Promise<Model> {
  const backend = await activeBackend();
  let json: ModelJson;
  const hash = createHash('sha256');
  const { root, file } = await locate(dirOrUrl).catch((cause: unknown) => {
    throw new RxmlError('MODEL_LOAD_ERROR', `cannot find a model at ${dirOrUrl}`, { cause });
  });
  const { read } = readerFor(root);
  let weightData: ArrayBuffer;
  try {
    const jsonBytes = await read(file);
    hash.update(jsonBytes);
    json = JSON.parse(new TextDecoder().decode(jsonBytes)) as ModelJson;
    const weightSpecs: tf.io.WeightsManifestEntry[] = [];
    const chunks: Uint8Array[] = [];
    for (const group of json.weightsManifest ?? []) {
      weightSpecs.push(...group.weights);
      for (const path of group.paths) {
        const bytes = await read(path);
        hash.update(bytes);
        chunks.push(bytes);
      }
    }
    weightData = concat(chunks);
    const format = options.format ?? detectFormat(json);
    const artifacts: tf.io.ModelArtifacts = {
      modelTopology: json.modelTopology ?? {},
      weightSpecs,
      weightData,
      format,
    };
    if (json['signature'] !== undefined) artifacts.signature = json['signature'] as object;
    if (json['userDefinedMetadata'] !== undefined) artifacts.userDefinedMetadata = json['userDefinedMetadata'] as Record<string, object>;
    const handler = io.fromMemory(artifacts);
    if (options.runtime === 'onnx' && format === 'graph-model') {
      throw new RxmlError('MODEL_LOAD_ERROR', `runtime 'onnx' converts tfjs LayersModels only; ${dirOrUrl} is a GraphModel (export it to ONNX with tf2onnx and use loadOnnxModel)`);
    }
    const network = format === 'graph-model' ? await loadGraphModel(handler) : await loadLayersModel(handler);
    const version = hash.digest('hex').slice(0, 16);
    const identity = { name: options.name ?? defaultName(json, root), version };
    if (options.runtime === 'onnx') {
      // The ONNX model holds its own copy of the weights; the tfjs one is only needed to convert.
      try {
        return await toOnnxModel(network as LayersModel, identity, options.onnx ?? {});
      } finally {
        network.dispose();
      }
    }
    return tfjsModel(network, identity, `tfjs-${backend.name}`);
  } catch (cause) {
    if (cause instanceof RxmlError) throw cause;
    throw new RxmlError('MODEL_LOAD_ERROR', `cannot load the tfjs model at ${dirOrUrl}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
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
