/**
 * The runtime-neutral model seen by every operator. Tensors never cross this boundary: operators
 * hand over plain typed arrays and get plain typed arrays back, so a tfjs model (any backend) and an
 * ONNX Runtime model are interchangeable behind `predict`.
 */
export type DType = 'float32' | 'int32';

/** A dense, row-major tensor as plain data. `shape[0]` is the batch dimension for model I/O. */
export interface TensorData {
  readonly data: Float32Array | Int32Array;
  readonly shape: readonly number[];
}

/** One model input or output: its name, shape (`null` = any size, e.g. batch) and dtype. */
export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly (number | null)[];
  readonly dtype: DType;
}

export interface ModelIdentity {
  readonly name: string;
  /** Content hash of the model's files: changes whenever the weights or topology change. */
  readonly version: string;
}

/** What a caller tells `Model.run` besides the inputs. */
export interface RunOptions {
  /**
   * Aborted when the caller no longer wants this call's result: `predict` aborts the calls in
   * flight of a subscription that ends before they return (the subscriber unsubscribed, or the
   * output errored). A model that can stop its work (a remote model: the request) stops it and
   * rejects; one that cannot ignores the signal, and its result is dropped. `signal.reason` says why.
   */
  readonly signal?: AbortSignal;
}

export interface Model extends ModelIdentity {
  /** Which engine runs it, e.g. `tfjs-wasm`, `tfjs-cpu`, `tfjs-tensorflow`, `onnxruntime`. */
  readonly runtime: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /**
   * Runs one batch. `inputs` are in the order of `this.inputs`; the result is in the order of
   * `this.outputs`. The caller owns the returned arrays; the model keeps no reference to them.
   * `options.signal` (optional to honour) tells the model the result is no longer wanted.
   */
  run(inputs: readonly TensorData[], options?: RunOptions): Promise<TensorData[]>;
  /** Frees the model's weights. Operators never call this: whoever loaded the model owns it. */
  dispose(): void;
}

/**
 * The same model (name, version, runtime, input and output specs) with another `run` — e.g. one
 * that meters, delays or gates the calls and then calls `model.run` (passing its `RunOptions` on, so
 * the call can still be aborted). `dispose` defaults to
 * `model.dispose()`. A new plain object: `model` itself is not changed.
 */
export function withRun(model: Model, run: Model['run'], dispose: () => void = () => model.dispose()): Model {
  return { name: model.name, version: model.version, runtime: model.runtime, inputs: model.inputs, outputs: model.outputs, run, dispose };
}
