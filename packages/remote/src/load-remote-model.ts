import { createHash } from 'node:crypto';
import { CHANNELS, RxmlError, hasSubscribers, publish, toRxmlError, type Model, type RunOptions, type TensorData, type TensorSpec } from '@rxml/core/contract';
import { dtypeOf, isSupportedDatatype, type V2Datatype } from './datatypes.js';
import { CallPolicy, type CircuitBreakerOptions, type RetryOptions } from './resilience.js';
import type { TlsOptions } from './transports/http.js';
import { TfServingRestTransport } from './transports/tf-serving-rest.js';
import type { ServerModelMetadata, Transport, WireTensorSpec } from './transports/transport.js';
import { V2GrpcTransport } from './transports/v2-grpc.js';
import { V2RestTransport } from './transports/v2-rest.js';

export type RemoteProtocol = 'v2' | 'tf-serving';
export type RemoteTransport = 'rest' | 'grpc';

/** A tensor declared by the caller, for servers that publish no metadata (KServe v1 alone). */
export interface RemoteTensorSpec {
  readonly name: string;
  /** Open Inference Protocol datatype, e.g. `FP32`, `FP64`, `INT64`. */
  readonly datatype: V2Datatype;
  /** `null` or -1 for a dimension of any size (the batch dimension first). */
  readonly shape: readonly (number | null)[];
}

export interface LoadRemoteModelOptions {
  /**
   * `'v2'`: the Open Inference Protocol (KServe v2: Triton, KServe, Seldon MLServer, OpenVINO Model
   * Server, TorchServe). `'tf-serving'`: TensorFlow Serving's REST `:predict` API (also KServe v1).
   * Default `'v2'`.
   */
  readonly protocol?: RemoteProtocol;
  /** `'rest'` (HTTP/1.1 keep-alive, undici) or `'grpc'` (HTTP/2, `@grpc/grpc-js`; v2 only). Default `'rest'`. */
  readonly transport?: RemoteTransport;
  /**
   * The server: `http://host:port[/prefix]` or `https://…` for REST; `host:port`, `grpc://host:port`
   * or `grpcs://host:port` (TLS) for gRPC.
   */
  readonly url: string;
  /** The model's name on the server. */
  readonly model: string;
  /** A model version to call; default: the server's choice (its metadata's first version names `Model.version`). */
  readonly version?: string;
  /** Deadline of each try of a request, ms (load-time metadata calls too). Default 10 000. */
  readonly timeoutMs?: number;
  /** Retries of retriable failures: a count, or backoff settings. Default 3 retries, 100 ms doubling to 2 s, jittered. */
  readonly retries?: number | RetryOptions;
  /** Fail fast while the server is down; `false` turns it off. Default 5 failures in a row, probe after 5 s. */
  readonly circuitBreaker?: CircuitBreakerOptions | false;
  /** Requests in flight at once over all operators using this model (more wait). Also the REST connection count. Default 8. */
  readonly maxInFlight?: number;
  /** Sent with every request (HTTP headers / gRPC metadata), e.g. `{ authorization: 'Bearer …' }`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** TLS settings for `https:` / `grpcs:` URLs (CA, client certificate for mutual TLS). */
  readonly tls?: TlsOptions;
  /**
   * v2 REST only: tensors as raw bytes (the v2 binary tensor data extension) instead of JSON numbers.
   * KServe and Triton support it, MLServer does not. Default false.
   */
  readonly binaryData?: boolean;
  /** Largest response accepted, bytes (`LIMIT_EXCEEDED` beyond). Default 64 MiB. */
  readonly maxResponseBytes?: number;
  /**
   * Largest request body sent, bytes: a batch whose encoded request is larger fails with
   * `LIMIT_EXCEEDED` (not retriable; naming the batch size, the bytes and this option) without being
   * sent. REST: the whole body (JSON, or JSON header + binary data); gRPC: the inputs' raw bytes.
   * Checked before the batch is encoded: exactly for binary data and gRPC; for JSON by a lower bound
   * (2 bytes per number but one, + the request around them; "is at least … bytes"), and again
   * exactly once encoded when the bound is under the limit. Default 64 MiB (about 800,000
   * four-feature float records as v2 JSON).
   */
  readonly maxRequestBytes?: number;
  /** TF-Serving only: the SignatureDef to call. Default the server's `serving_default`. */
  readonly signatureName?: string;
  /** The model's inputs, when the server publishes no metadata (KServe v1); ignored otherwise. */
  readonly inputs?: readonly RemoteTensorSpec[];
  /** The model's outputs to request, in the order `run` returns them; default every output in the metadata. */
  readonly outputs?: readonly RemoteTensorSpec[] | readonly string[];
  /**
   * Send one request of one all-zero record at load (when every input's shape is known past the
   * batch dimension): opens the connection, and names `Model.version` from the answer's
   * `model_version` when the metadata lists no version (MLServer). A model that rejects zeros fails
   * to load; turn it off then. Default true.
   */
  readonly warmUp?: boolean;
}

const DEFAULTS = {
  timeoutMs: 10_000,
  retries: 3,
  initialDelayMs: 100,
  maxDelayMs: 2_000,
  failures: 5,
  halfOpenAfterMs: 5_000,
  maxInFlight: 8,
  maxResponseBytes: 64 * 1024 * 1024,
  maxRequestBytes: 64 * 1024 * 1024,
} as const;

function invalid(message: string): RxmlError {
  return new RxmlError('INVALID_CONFIG', `loadRemoteModel: ${message}`);
}

function positive(name: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw invalid(`${name} must be a number ≥ ${min}, got ${String(value)}`);
  return value;
}

function wireSpec(spec: RemoteTensorSpec, kind: string): WireTensorSpec {
  if (!isSupportedDatatype(spec.datatype)) throw invalid(`${kind} ${spec.name}: datatype ${String(spec.datatype)} is not one of BOOL, INT8…INT64, UINT8…UINT64, FP32, FP64`);
  return { name: spec.name, datatype: spec.datatype, shape: spec.shape.map((d) => d ?? -1) };
}

function contractSpec(spec: WireTensorSpec): TensorSpec {
  return { name: spec.name, shape: spec.shape.map((d) => (d < 0 ? null : d)), dtype: dtypeOf(spec.datatype) };
}

/**
 * A model served by a model server, as an rxml `Model`: `predict`, `predictIris`, `predictKeras`
 * and `predictImage` run on it unchanged. At load it checks the model is ready and reads its
 * metadata (name, versions, inputs and outputs with shapes and datatypes); `Model.name` and
 * `Model.version` are the server's (a version the server does not name becomes
 * `unversioned-<hash of the metadata>`). `Model.runtime` is `remote-<protocol>-<transport>`.
 *
 * Each `run()` is one request for the whole micro-batch, with a deadline per try (`timeoutMs`),
 * retries with backoff for retriable failures (connect errors, HTTP 429/502/503/504, gRPC
 * UNAVAILABLE/RESOURCE_EXHAUSTED, deadlines), a circuit breaker, and at most `maxInFlight` requests
 * in flight. A failed `run()` rejects with an `RxmlError` (`MODEL_ERROR`, `retriable` set, the
 * server's message quoted), which `predict` turns into a failure result for each record of the
 * batch. Every try is published on `rxml:remote:request`; the load on `rxml:model:load`.
 *
 * Floats travel as the server's datatype and come back as `Float32Array` (FP64 rounded); integers
 * as `Int32Array`. Whoever loads the model disposes it: requests in flight are aborted (they reject with
 * `MODEL_ERROR` "… disposed") and the connections closed. `run(inputs, { signal })` aborts its request
 * when `signal` fires (`predict` fires it for calls whose subscriber has gone) and rejects with `ABORTED`.
 *
 * @throws RxmlError `INVALID_CONFIG` for bad options, `MODEL_LOAD_ERROR` when the server cannot be
 *   reached, the model is not ready, or its metadata is missing or uses unsupported datatypes.
 *
 * @example
 * const model = await loadRemoteModel({ url: 'http://127.0.0.1:8080', model: 'iris', timeoutMs: 500 });
 * records$.pipe(predictIris(model, { batch: { size: 64 }, concurrency: 4 }));
 */
export async function loadRemoteModel(options: LoadRemoteModelOptions): Promise<Model> {
  const startedAt = performance.now();
  const protocol = options.protocol ?? 'v2';
  const transportName = options.transport ?? 'rest';
  const runtime = `remote-${protocol}-${transportName}`;
  try {
    return await load(options, protocol, transportName, runtime);
  } catch (thrown) {
    const error = toRxmlError(thrown, 'MODEL_LOAD_ERROR');
    publish(CHANNELS.modelLoad, () => ({ name: options.model, runtime, format: 'remote', durationMs: performance.now() - startedAt, bytes: 0, ok: false, error }));
    throw error;
  }

  async function load(o: LoadRemoteModelOptions, p: RemoteProtocol, t: RemoteTransport, rt: string): Promise<Model> {
    if (typeof o !== 'object' || o === null) throw invalid('options must be an object');
    if (p !== 'v2' && p !== 'tf-serving') throw invalid(`protocol must be 'v2' or 'tf-serving', got ${String(p)}`);
    if (t !== 'rest' && t !== 'grpc') throw invalid(`transport must be 'rest' or 'grpc', got ${String(t)}`);
    if (p === 'tf-serving' && t === 'grpc') throw invalid(`protocol 'tf-serving' is REST only here; use protocol 'v2' for gRPC`);
    if (typeof o.url !== 'string' || o.url === '') throw invalid('url is required, e.g. http://127.0.0.1:8080');
    if (typeof o.model !== 'string' || o.model === '') throw invalid('model (the name on the server) is required');
    if (t === 'rest') {
      let parsed: URL;
      try {
        parsed = new URL(o.url);
      } catch {
        throw invalid(`url ${o.url} is not a URL`);
      }
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw invalid(`url ${o.url}: REST needs http: or https:`);
    }
    const retryOptions: RetryOptions = typeof o.retries === 'number' ? { retries: o.retries } : (o.retries ?? {});
    const retryPolicy = {
      retries: positive('retries', retryOptions.retries, DEFAULTS.retries, 0),
      initialDelayMs: positive('retries.initialDelayMs', retryOptions.initialDelayMs, DEFAULTS.initialDelayMs, 0),
      maxDelayMs: positive('retries.maxDelayMs', retryOptions.maxDelayMs, DEFAULTS.maxDelayMs, 0),
    };
    const breaker =
      o.circuitBreaker === false
        ? false
        : {
            failures: positive('circuitBreaker.failures', o.circuitBreaker?.failures, DEFAULTS.failures),
            halfOpenAfterMs: positive('circuitBreaker.halfOpenAfterMs', o.circuitBreaker?.halfOpenAfterMs, DEFAULTS.halfOpenAfterMs, 0),
          };
    const timeoutMs = positive('timeoutMs', o.timeoutMs, DEFAULTS.timeoutMs);
    const maxInFlight = Math.floor(positive('maxInFlight', o.maxInFlight, DEFAULTS.maxInFlight));
    const maxResponseBytes = positive('maxResponseBytes', o.maxResponseBytes, DEFAULTS.maxResponseBytes);
    const maxRequestBytes = positive('maxRequestBytes', o.maxRequestBytes, DEFAULTS.maxRequestBytes);
    const headers = { ...o.headers };
    const common = { url: o.url, model: o.model, version: o.version, headers, tls: o.tls, maxResponseBytes, maxRequestBytes };

    const transport: Transport =
      t === 'grpc'
        ? new V2GrpcTransport(common)
        : p === 'v2'
          ? new V2RestTransport({ ...common, connections: maxInFlight, binaryData: o.binaryData ?? false })
          : new TfServingRestTransport({ ...common, connections: maxInFlight, signatureName: o.signatureName });
    const policy = new CallPolicy({ timeoutMs, retry: retryPolicy, circuitBreaker: breaker, maxInFlight, url: transport.url });

    let metadata: ServerModelMetadata | undefined;
    let readyVersion: string | undefined;
    try {
      readyVersion = await policy.execute('MODEL_LOAD_ERROR', (signal) => transport.ready({ signal, code: 'MODEL_LOAD_ERROR' }));
      metadata = await policy.execute('MODEL_LOAD_ERROR', (signal) => transport.metadata({ signal, code: 'MODEL_LOAD_ERROR' }));
    } catch (error) {
      await transport.close();
      throw error;
    }
    const inputs = metadata !== undefined && metadata.inputs.length > 0 ? metadata.inputs : (o.inputs ?? []).map((s) => wireSpec(s, 'input'));
    const available = metadata?.outputs ?? [];
    const outputs = selectOutputs(o.outputs, available);
    if (inputs.length === 0 || outputs.length === 0) {
      await transport.close();
      throw new RxmlError(
        'MODEL_LOAD_ERROR',
        `model ${o.model} at ${transport.url}: the server lists no ${inputs.length === 0 ? 'inputs' : 'outputs'} for it` +
          ' (MLServer lists them only when model-settings.json declares them; KServe v1 has no metadata): declare them there, or pass inputs/outputs to loadRemoteModel',
      );
    }
    let warmVersion: string | undefined;
    if ((o.warmUp ?? true) && inputs.every((i) => i.shape.length > 0 && i.shape.slice(1).every((d) => d >= 0))) {
      const zeros = inputs.map((i) => {
        const shape = [1, ...i.shape.slice(1)];
        const n = shape.reduce((a, b) => a * b, 1);
        return { name: i.name, datatype: i.datatype, shape, data: dtypeOf(i.datatype) === 'float32' ? new Float32Array(n) : new Int32Array(n) };
      });
      try {
        warmVersion = (await policy.execute('MODEL_LOAD_ERROR', (signal) => transport.infer(zeros, outputs, { signal, code: 'MODEL_LOAD_ERROR' }))).modelVersion;
      } catch (error) {
        await transport.close();
        const detail = error instanceof Error ? error.message : String(error);
        throw new RxmlError('MODEL_LOAD_ERROR', `model ${o.model}: the warm-up request (one all-zero record) failed: ${detail} (pass warmUp: false for a model that rejects zeros)`, { cause: error });
      }
    }
    const name = metadata?.name !== undefined && metadata.name !== '' ? metadata.name : o.model;
    const version = o.version ?? metadata?.versions[0] ?? readyVersion ?? warmVersion ?? `unversioned-${createHash('sha256').update(JSON.stringify({ name, inputs, outputs })).digest('hex').slice(0, 12)}`;
    const model = new RemoteModel(name, version, rt, inputs, outputs, transport, policy, { url: transport.url, protocol: p, transport: t });
    publish(CHANNELS.modelLoad, () => ({ name, version, runtime: rt, format: 'remote', durationMs: performance.now() - startedAt, bytes: 0, ok: true }));
    return model;
  }
}

function selectOutputs(requested: LoadRemoteModelOptions['outputs'], available: readonly WireTensorSpec[]): WireTensorSpec[] {
  if (requested === undefined) return [...available];
  return requested.map((r) => {
    if (typeof r !== 'string') return available.find((a) => a.name === r.name) ?? wireSpec(r, 'output');
    const found = available.find((a) => a.name === r);
    if (found === undefined) {
      throw new RxmlError('MODEL_LOAD_ERROR', `output ${r} is not among the model's outputs (${available.map((a) => a.name).join(', ') || 'none listed'}); pass a { name, datatype, shape } spec instead`);
    }
    return found;
  });
}

class RemoteModel implements Model {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  private disposed = false;
  /** One controller per `run` in flight, aborted by `dispose()`. */
  private readonly inFlight = new Set<AbortController>();

  constructor(
    readonly name: string,
    readonly version: string,
    readonly runtime: string,
    private readonly wireInputs: readonly WireTensorSpec[],
    private readonly wireOutputs: readonly WireTensorSpec[],
    private readonly transport: Transport,
    private readonly policy: CallPolicy,
    private readonly where: { url: string; protocol: string; transport: string },
  ) {
    this.inputs = wireInputs.map(contractSpec);
    this.outputs = wireOutputs.map(contractSpec);
  }

  run(inputs: readonly TensorData[], options?: RunOptions): Promise<TensorData[]> {
    if (this.disposed) return Promise.reject(new RxmlError('MODEL_ERROR', `remote model ${this.name} was disposed`));
    if (inputs.length !== this.wireInputs.length) {
      return Promise.reject(new RxmlError('MODEL_ERROR', `remote model ${this.name} takes ${this.wireInputs.length} inputs (${this.wireInputs.map((i) => i.name).join(', ')}), got ${inputs.length}`));
    }
    const tensors = inputs.map((t, i) => ({ name: this.wireInputs[i]!.name, datatype: this.wireInputs[i]!.datatype, shape: [...t.shape], data: t.data }));
    const size = inputs[0]?.shape[0] ?? 0;
    const report = hasSubscribers(CHANNELS.remoteRequest)
      ? (attempt: number, outcome: 'ok' | 'retry' | 'failed' | 'circuit-open', durationMs: number, error: RxmlError | undefined): void =>
          publish(CHANNELS.remoteRequest, { model: this.name, ...this.where, size, durationMs, attempt, outcome, ...(error === undefined ? {} : { error }) })
      : undefined;
    // This call's own abort: by the caller's signal (its result is not wanted) or by dispose().
    const call = new AbortController();
    const caller = options?.signal;
    const onCallerAbort = (): void => {
      const reason: unknown = caller?.reason;
      call.abort(new RxmlError('ABORTED', `remote model ${this.name}: the request to ${this.where.url} was aborted by its caller${reason instanceof Error ? ` (${reason.message})` : ''}`, { cause: reason }));
    };
    if (caller?.aborted === true) onCallerAbort();
    else caller?.addEventListener('abort', onCallerAbort, { once: true });
    this.inFlight.add(call);
    const settled = (): void => {
      this.inFlight.delete(call);
      caller?.removeEventListener('abort', onCallerAbort);
    };
    return this.policy.execute('MODEL_ERROR', (signal) => this.transport.infer(tensors, this.wireOutputs, { signal, code: 'MODEL_ERROR' }), report, call.signal).then(
      (answer) => {
        settled();
        return answer.outputs;
      },
      (error: unknown) => {
        settled();
        throw error;
      },
    );
  }

  /** Aborts the requests in flight (they reject with `MODEL_ERROR` "… disposed") and closes the connections. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const error = new RxmlError('MODEL_ERROR', `remote model ${this.name} was disposed while its request to ${this.where.url} was in flight`);
    for (const call of this.inFlight) call.abort(error);
    this.inFlight.clear();
    void this.transport.close().catch(() => {});
  }
}
