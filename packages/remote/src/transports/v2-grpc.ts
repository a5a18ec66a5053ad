import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { RxmlError } from '@rxml/core/contract';
import { fromBytes, fromWire, rawByteLength, toBytes, toWire, type V2Datatype } from '../datatypes.js';
import { grpcError } from '../errors.js';
import { checkRequestSize, type TlsOptions } from './http.js';
import { checkSize, requestId } from './v2-rest.js';
import { checkedOutputs, type AnsweredTensor } from './answer-check.js';
import { parseV2Metadata } from './v2-metadata.js';
import type { CallContext, InferAnswer, ServerModelMetadata, Transport, WireTensor, WireTensorSpec } from './transport.js';

/** The Open Inference Protocol's gRPC API, committed with the package (`proto/grpc_predict_v2.proto`). */
export const GRPC_PREDICT_V2_PROTO = fileURLToPath(new URL('../../proto/grpc_predict_v2.proto', import.meta.url));

export interface V2GrpcOptions {
  /** `host:port`, `grpc://host:port`, `http://host:port` (plaintext) or `grpcs://` / `https://` (TLS). */
  readonly url: string;
  readonly model: string;
  readonly version: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls: TlsOptions | undefined;
  readonly maxResponseBytes: number;
  /** Largest request sent (the inputs' raw bytes), bytes: `LIMIT_EXCEEDED` beyond, before the inputs are encoded. */
  readonly maxRequestBytes: number;
}

interface TensorContents {
  readonly bool_contents?: boolean[];
  readonly int_contents?: number[];
  readonly int64_contents?: number[];
  readonly uint_contents?: number[];
  readonly uint64_contents?: number[];
  readonly fp32_contents?: number[];
  readonly fp64_contents?: number[];
}

interface InferResponse {
  readonly outputs: { name: string; datatype: string; shape: number[]; contents?: TensorContents | null }[];
  readonly raw_output_contents: Buffer[];
  readonly model_version: string;
}

type Callback<T> = (error: grpc.ServiceError | null, value?: T) => void;
type Unary<Req, Res> = (request: Req, metadata: grpc.Metadata, options: grpc.CallOptions, callback: Callback<Res>) => grpc.ClientUnaryCall;

interface InferenceClient extends grpc.Client {
  ModelReady: Unary<{ name: string; version: string }, { ready: boolean }>;
  ModelMetadata: Unary<{ name: string; version: string }, unknown>;
  ModelInfer: Unary<unknown, InferResponse>;
}

let packageDefinition: grpc.GrpcObject | undefined;
function inferenceService(): grpc.ServiceClientConstructor {
  packageDefinition ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(GRPC_PREDICT_V2_PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true }),
  );
  return (packageDefinition['inference'] as grpc.GrpcObject)['GRPCInferenceService'] as grpc.ServiceClientConstructor;
}

function target(url: string): { address: string; secure: boolean } {
  const match = /^(grpcs?|https?):\/\/(.+?)\/?$/.exec(url);
  if (match === null) return { address: url, secure: false };
  return { address: match[2]!, secure: match[1] === 'grpcs' || match[1] === 'https' };
}

const CONTENTS_FIELD: Readonly<Record<V2Datatype, keyof TensorContents>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
};

/**
 * Open Inference Protocol (KServe v2) over gRPC (`@grpc/grpc-js`, one HTTP/2 connection with
 * keep-alive pings): inputs go as `raw_input_contents` (little-endian bytes, no per-element
 * encoding); outputs are read from `raw_output_contents` or typed `contents`, whichever the server
 * sends. Each call carries a gRPC deadline and is cancelled when the rxml deadline fires first.
 */
export class V2GrpcTransport implements Transport {
  readonly url: string;
  private readonly client: InferenceClient;

  constructor(private readonly options: V2GrpcOptions) {
    const { address, secure } = target(options.url);
    this.url = options.url;
    const tls = options.tls;
    const credentials =
      secure || tls !== undefined
        ? grpc.credentials.createSsl(
            tls?.ca === undefined ? null : Buffer.from(tls.ca),
            tls?.key === undefined ? null : Buffer.from(tls.key),
            tls?.cert === undefined ? null : Buffer.from(tls.cert),
            tls?.rejectUnauthorized === false ? { rejectUnauthorized: false } : {},
          )
        : grpc.credentials.createInsecure();
    const Service = inferenceService();
    this.client = new Service(address, credentials, {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.max_receive_message_length': options.maxResponseBytes,
      'grpc.max_send_message_length': -1,
      ...(tls?.servername === undefined ? {} : { 'grpc.ssl_target_name_override': tls.servername }),
    }) as unknown as InferenceClient;
  }

  private call<Req, Res>(method: Unary<Req, Res>, request: Req, context: CallContext, what: string): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(this.options.headers)) metadata.set(key.toLowerCase(), value);
      const onAbort = (): void => call.cancel();
      const call = method.call(this.client, request, metadata, {}, (error, value) => {
        context.signal.removeEventListener('abort', onAbort);
        if (error !== null) {
          if (context.signal.aborted && context.signal.reason instanceof Error) reject(context.signal.reason);
          else reject(grpcError(context.code, what, error));
        } else resolve(value as Res);
      });
      if (context.signal.aborted) call.cancel();
      else context.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private get version(): string {
    return this.options.version ?? '';
  }

  async ready(context: CallContext): Promise<undefined> {
    const what = `model ${this.options.model} readiness (gRPC ModelReady at ${this.url})`;
    const answer = await this.call(this.client.ModelReady, { name: this.options.model, version: this.version }, context, what);
    if (!answer.ready) throw new RxmlError(context.code, `${what}: the server says the model is not ready`, { retriable: true });
    return undefined;
  }

  async metadata(context: CallContext): Promise<ServerModelMetadata> {
    const what = `model ${this.options.model} metadata (gRPC ModelMetadata at ${this.url})`;
    return parseV2Metadata(await this.call(this.client.ModelMetadata, { name: this.options.model, version: this.version }, context, what), what);
  }

  async infer(inputs: readonly WireTensor[], outputs: readonly WireTensorSpec[], context: CallContext): Promise<InferAnswer> {
    const requestName = `gRPC ModelInfer at ${this.url}`;
    const what = `model ${this.options.model} inference (${requestName})`;
    const batch = inputs[0]?.shape[0] ?? 0;
    // The raw contents' size is known exactly before encoding: refuse an oversized batch without it.
    checkRequestSize(context.code, what, batch, inputs.reduce((n, i) => n + rawByteLength(i.data, i.datatype), 0), this.options.maxRequestBytes);
    const request = {
      model_name: this.options.model,
      model_version: this.version,
      id: requestId(),
      inputs: inputs.map((i) => ({ name: i.name, datatype: i.datatype, shape: i.shape })),
      outputs: outputs.map((o) => ({ name: o.name })),
      raw_input_contents: inputs.map((i) => toBytes(toWire(i.data, i.datatype))),
    };
    const response = await this.call(this.client.ModelInfer, request, context, what);
    const byName = new Map<string, AnsweredTensor>();
    response.outputs.forEach((output, index) => {
      const datatype = output.datatype as V2Datatype;
      if (!Object.hasOwn(CONTENTS_FIELD, datatype)) throw new RxmlError('MODEL_ERROR', `${what}: output ${output.name} has datatype ${output.datatype}, which rxml does not support`);
      const raw = response.raw_output_contents[index];
      const data = raw !== undefined && response.raw_output_contents.length > 0 ? fromBytes(raw, datatype, output.name) : fromWire(output.contents?.[CONTENTS_FIELD[datatype]] ?? [], datatype);
      const shape = output.shape.map(Number);
      checkSize(data, shape, output.name, what);
      byName.set(output.name, { data, shape, datatype });
    });
    const picked = checkedOutputs(byName, outputs, { model: this.options.model, batch, request: requestName });
    return response.model_version === '' ? { outputs: picked } : { outputs: picked, modelVersion: response.model_version };
  }

  close(): Promise<void> {
    this.client.close();
    return Promise.resolve();
  }
}
