import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { RxmlError, invalidConfig } from '@rxml/core/contract';
import type { DType, Model, ModelIdentity, TensorData, TensorSpec } from '@rxml/core/contract';
import { contentVersion, describeSource, locationOf, observedLoad, readBytes, type ByteSource } from '@rxml/core/runtime';
import { loadOrt, type Ort } from './ort-runtime.js';

/** How much ONNX Runtime rewrites the graph before running it (fusions, constant folding, layout). */
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

export interface OnnxSessionOptions {
  /**
   * Threads ONNX Runtime uses inside one operator (a convolution, a matrix product). Default: every
   * core Node sees (`os.availableParallelism()`): ORT's own default counts physical cores only, which
   * leaves half of a hyper-threaded VM idle. Two sessions with one thread each do not scale as well
   * as one session with two threads, so prefer raising this over loading the model twice.
   */
  readonly intraOpThreads?: number;
  /** Graph rewrites ORT applies when the session is created. Default `'all'`. */
  readonly graphOptimizationLevel?: GraphOptimizationLevel;
  /**
   * Whether idle intra-op threads busy-wait for the next piece of work (ORT's default, `true`).
   * Spinning lowers latency on cores that are otherwise idle, but on cores shared with other work
   * (image decoding, Kafka, other processes) the spinning threads take CPU time from it; set
   * `false` there.
   */
  readonly spinning?: boolean;
}

export interface LoadOnnxModelOptions extends OnnxSessionOptions {
  /** Name reported in results; default: the file name without `.onnx`, or `onnx-model` for bytes. */
  readonly name?: string;
  /** Version reported in results; default: the first 16 hex digits of the model bytes' SHA-256. */
  readonly version?: string;
}

const RUNTIME = 'onnxruntime';

/**
 * Loads an `.onnx` file (a path, a `file:` or http(s) URL, or its bytes) into an ONNX Runtime
 * session on the CPU and returns it as an rxml `Model`, interchangeable with a tfjs one behind
 * `predict`. Needs the peer `onnxruntime-node`; without it this rejects with `BACKEND_UNAVAILABLE`.
 * The same as `loadModel`-style loaders with `runtime: onnxRuntime(options)`, for ONNX files.
 *
 * `int64` inputs and outputs (common in scikit-learn exports) cross the `Model` boundary as
 * `Int32Array`, converted on the way in and out; other non-float types are refused at load time.
 *
 * @throws RxmlError `MODEL_LOAD_ERROR` naming the path or URL (missing, HTTP status, not ONNX).
 *
 * @example
 * const model = await loadOnnxModel('./flight-delay.onnx', { intraOpThreads: 2 });
 * const [label, probabilities] = await model.run([{ data: features, shape: [1, 6] }]);
 * model.dispose();
 */
export function loadOnnxModel(source: ByteSource, options: LoadOnnxModelOptions = {}): Promise<Model> {
  return observedLoad('onnx', options.name ?? describeSource(source), (countBytes) => loadOnnx(source, options, countBytes));
}

async function loadOnnx(source: ByteSource, options: LoadOnnxModelOptions, countBytes: (bytes: number) => void): Promise<Model> {
  const bytes = await readBytes(source).catch((cause: unknown) => {
    throw new RxmlError('MODEL_LOAD_ERROR', `cannot read the ONNX model: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  });
  const location = locationOf(source);
  const file = location?.split(/[\\/]/).pop();
  const name = options.name ?? (file === undefined || file === '' ? 'onnx-model' : basename(file, extname(file)));
  countBytes(bytes.byteLength);
  const version = options.version ?? contentVersion(bytes);
  return onnxBytesModel(bytes, { name, version }, options);
}

/** Creates the session for already-built ONNX bytes; shared with the tfjs converter's path. */
export async function onnxBytesModel(bytes: Uint8Array, identity: ModelIdentity, options: OnnxSessionOptions = {}): Promise<Model> {
  const threads = options.intraOpThreads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    throw invalidConfig('onnx', 'intraOpThreads', 'a positive integer', threads);
  }
  const ort = await loadOrt();
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      // One model call is one graph run; parallel branches are rare in these models and inter-op
      // threads would compete with the intra-op ones for the same cores.
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      // Session config entries, flattened by the binding to `session.intra_op.allow_spinning`.
      ...(options.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
    });
  } catch (cause) {
    throw new RxmlError('MODEL_LOAD_ERROR', `ONNX Runtime cannot load model ${identity.name}: ${messageOf(cause)}`, { cause });
  }
  try {
    return sessionModel(ort, session, identity);
  } catch (error) {
    void session.release().catch(() => undefined);
    throw error;
  }
}

type OrtElement = 'float32' | 'int32' | 'int64';

interface Port {
  readonly spec: TensorSpec;
  readonly ortType: OrtElement;
}

function portsOf(metadata: readonly InferenceSession.ValueMetadata[], model: string, side: string): Port[] {
  return metadata.map((value) => {
    if (!value.isTensor) {
      throw new RxmlError('MODEL_LOAD_ERROR', `${model}: ${side} "${value.name}" is not a tensor (e.g. a ZipMap sequence); export it as a plain tensor (skl2onnx: zipmap=False)`);
    }
    const ortType = value.type;
    if (ortType !== 'float32' && ortType !== 'int32' && ortType !== 'int64') {
      throw new RxmlError('MODEL_LOAD_ERROR', `${model}: ${side} "${value.name}" has element type ${ortType}; only float32, int32 and int64 are supported`);
    }
    const dtype: DType = ortType === 'float32' ? 'float32' : 'int32';
    // Symbolic ("batch") and unknown (-1) dimensions both mean "any size" in a TensorSpec.
    const shape = value.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null));
    return { spec: { name: value.name, shape, dtype }, ortType };
  });
}

function sessionModel(ort: Ort, session: InferenceSession, identity: ModelIdentity): Model {
  const inputPorts = portsOf(session.inputMetadata, identity.name, 'input');
  const outputPorts = portsOf(session.outputMetadata, identity.name, 'output');
  let disposed = false;
  let inFlight = 0;
  let released = false;

  const release = (): void => {
    if (released) return;
    released = true;
    // release() is asynchronous but dispose() is not: nothing can observe a failure here, and the
    // session is unusable either way.
    void session.release().catch(() => undefined);
  };

  const run = async (feeds: readonly TensorData[]): Promise<TensorData[]> => {
    if (disposed) throw new RxmlError('MODEL_ERROR', `model ${identity.name} has been disposed`);
    const ortFeeds = toFeeds(ort, feeds, inputPorts, identity.name);
    inFlight += 1;
    let results: InferenceSession.ReturnType;
    try {
      results = await session.run(ortFeeds);
    } catch (cause) {
      throw new RxmlError('MODEL_ERROR', `model ${identity.name} failed: ${messageOf(cause)}`, { cause });
    } finally {
      inFlight -= 1;
      if (disposed && inFlight === 0) release();
    }
    return outputPorts.map(({ spec }) => {
      const value = results[spec.name];
      if (value === undefined) throw new RxmlError('MODEL_ERROR', `model ${identity.name} produced no output "${spec.name}"`);
      return fromOrt(value, spec.name, identity.name);
    });
  };

  return {
    ...identity,
    runtime: RUNTIME,
    inputs: inputPorts.map((p) => p.spec),
    outputs: outputPorts.map((p) => p.spec),
    run,
    dispose(): void {
      if (disposed) return;
      disposed = true;
      // A batch still running keeps the session until it finishes; releasing under it would crash.
      if (inFlight === 0) release();
    },
  };
}

function toFeeds(ort: Ort, feeds: readonly TensorData[], ports: readonly Port[], model: string): Record<string, OrtTensor> {
  if (feeds.length !== ports.length) {
    throw new RxmlError('INVALID_INPUT', `model ${model} takes ${ports.length} input(s), got ${feeds.length}`);
  }
  const out: Record<string, OrtTensor> = {};
  ports.forEach(({ spec, ortType }, i) => {
    const feed = feeds[i]!;
    checkShape(feed, spec, model);
    const dims = [...feed.shape];
    if (ortType === 'float32') {
      if (!(feed.data instanceof Float32Array)) throw new RxmlError('INVALID_INPUT', `model ${model}: input "${spec.name}" takes float32 data, got Int32Array`);
      out[spec.name] = new ort.Tensor('float32', feed.data, dims);
    } else if (!(feed.data instanceof Int32Array)) {
      throw new RxmlError('INVALID_INPUT', `model ${model}: input "${spec.name}" takes int32 data, got Float32Array`);
    } else if (ortType === 'int32') {
      out[spec.name] = new ort.Tensor('int32', feed.data, dims);
    } else {
      out[spec.name] = new ort.Tensor('int64', BigInt64Array.from(feed.data, (v) => BigInt(v)), dims);
    }
  });
  return out;
}

function checkShape(feed: TensorData, spec: TensorSpec, model: string): void {
  const size = feed.shape.reduce((a, b) => a * b, 1);
  if (size !== feed.data.length) {
    throw new RxmlError('INVALID_INPUT', `model ${model}: input "${spec.name}" has shape [${feed.shape.join(', ')}] (${size} values) but ${feed.data.length} values`);
  }
  // An empty spec shape means ORT does not know the rank; let ORT judge then.
  if (spec.shape.length === 0) return;
  const fits = feed.shape.length === spec.shape.length && spec.shape.every((d, k) => d === null || d === feed.shape[k]);
  if (!fits) {
    const want = spec.shape.map((d) => (d === null ? '?' : String(d))).join(', ');
    throw new RxmlError('INVALID_INPUT', `model ${model}: input "${spec.name}" takes shape [${want}], got [${feed.shape.join(', ')}]`);
  }
}

function fromOrt(value: OrtTensor, name: string, model: string): TensorData {
  const shape = [...value.dims];
  const data = value.data;
  if (data instanceof Float32Array || data instanceof Int32Array) return { data, shape };
  if (data instanceof BigInt64Array) {
    const ints = new Int32Array(data.length);
    for (let k = 0; k < data.length; k++) {
      const v = data[k]!;
      if (v > 2147483647n || v < -2147483648n) throw new RxmlError('MODEL_ERROR', `model ${model}: output "${name}" holds ${v}, outside int32`);
      ints[k] = Number(v);
    }
    return { data: ints, shape };
  }
  throw new RxmlError('MODEL_ERROR', `model ${model}: output "${name}" has unsupported element type ${value.type}`);
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
