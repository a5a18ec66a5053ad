import type { io } from '@tensorflow/tfjs-core';
import type { Model, ModelIdentity } from '../contract/model.js';

/**
 * A TensorFlow.js model as a format produced it: topology JSON plus weight specs and one weight
 * buffer (tfjs `ModelArtifacts`). Both the tfjs `model.json` format and the Keras reader
 * (`@rxml/keras`, which converts `.h5`/`.keras` files to this) produce it.
 */
export interface TfjsArtifacts {
  readonly format: 'tfjs';
  /** `'layers-model'` (Keras-style layers) or `'graph-model'` (a converted TensorFlow graph). */
  readonly modelType: 'layers-model' | 'graph-model';
  readonly artifacts: io.ModelArtifacts & { readonly weightSpecs: io.WeightsManifestEntry[]; readonly weightData: ArrayBuffer };
}

/** An ONNX model: the bytes of an `.onnx` file (a serialized `onnx.ModelProto`). */
export interface OnnxArtifacts {
  readonly format: 'onnx';
  readonly bytes: Uint8Array;
}

/**
 * What a format hands to a runtime: a discriminated union on `format`. A runtime opens the kinds
 * it knows and rejects the others with `MODEL_LOAD_ERROR` naming the runtime and the format.
 */
export type ModelArtifacts = TfjsArtifacts | OnnxArtifacts;

export interface OpenOptions {
  /** Where the artifacts came from (path, URL, `'bytes'`), for error messages. */
  readonly source?: string;
}

/**
 * An engine that runs models: turns artifacts into a runtime-neutral `Model`. A runtime is a value
 * (`tfjsRuntime()`, `onnxRuntime({ intraOpThreads: 2 })` from `@rxml/onnx`) passed to a loader's
 * `runtime` option, so a new engine is a new implementation of this interface, not a new string
 * that every loader switches on.
 *
 * Contract: `open` resolves to a model the caller owns (it calls `dispose()`), whose `name` and
 * `version` are `identity`'s; it does not keep or mutate `artifacts` after resolving; it rejects with
 * `MODEL_LOAD_ERROR` for artifacts it cannot run and `BACKEND_UNAVAILABLE` when its engine is not
 * installed.
 */
export interface Runtime {
  /** Short name, e.g. `'tfjs'`, `'onnxruntime'`. (The opened `Model.runtime` may be more precise, e.g. `tfjs-wasm`.) */
  readonly name: string;
  open(artifacts: ModelArtifacts, identity: ModelIdentity, options?: OpenOptions): Promise<Model>;
}
