import { RxmlError, type TensorData } from '@rxml/core/contract';
import { flattenJson, fromBytes, fromWire, isSupportedDatatype, jsonNumbersMinBytes, rawByteLength, toBytes, toJsonNumbers, toWire, type V2Datatype } from '../datatypes.js';
import { HttpClient, checkRequestSize, parseJson, type HttpOptions } from './http.js';
import { parseV2Metadata } from './v2-metadata.js';
import { checkedOutputs, type AnswerContext, type AnsweredTensor } from './answer-check.js';
import type { CallContext, InferAnswer, ServerModelMetadata, Transport, WireTensor, WireTensorSpec } from './transport.js';

/** Header of the v2 binary tensor data extension: byte length of the JSON part that starts the body. */
export const INFERENCE_HEADER_CONTENT_LENGTH = 'inference-header-content-length';

export interface V2RestOptions extends HttpOptions {
  readonly model: string;
  readonly version: string | undefined;
  /** Send inputs and ask for outputs as binary tensor data (v2 binary data extension) instead of JSON. */
  readonly binaryData: boolean;
}

interface JsonOutput {
  readonly name?: unknown;
  readonly datatype?: unknown;
  readonly shape?: unknown;
  readonly data?: unknown;
  readonly parameters?: { readonly binary_data_size?: unknown };
}

/**
 * Open Inference Protocol (KServe v2) over HTTP/REST: `GET /v2/models/{name}[/versions/{v}]`,
 * `GET …/ready`, `POST …/infer`. With `binaryData`, tensors travel as raw little-endian bytes after
 * the JSON header (the binary tensor data extension: `Inference-Header-Content-Length`,
 * `binary_data_size`, `binary_data`), which KServe and Triton speak; MLServer speaks JSON only.
 */
export class V2RestTransport implements Transport {
  readonly url: string;
  private readonly http: HttpClient;
  private readonly modelPath: string;

  constructor(private readonly options: V2RestOptions) {
    this.http = new HttpClient(options);
    this.url = this.http.base;
    this.modelPath = `/v2/models/${encodeURIComponent(options.model)}${options.version === undefined ? '' : `/versions/${encodeURIComponent(options.version)}`}`;
  }

  async ready(context: CallContext): Promise<undefined> {
    await this.http.requestOk('GET', `${this.modelPath}/ready`, context.code, `model ${this.options.model} readiness (GET ${this.url}${this.modelPath}/ready)`, context.signal);
    return undefined;
  }

  async metadata(context: CallContext): Promise<ServerModelMetadata> {
    const what = `model ${this.options.model} metadata (GET ${this.url}${this.modelPath})`;
    const response = await this.http.requestOk('GET', this.modelPath, context.code, what, context.signal);
    return parseV2Metadata(parseJson(context.code, what, response.body), what);
  }

  async infer(inputs: readonly WireTensor[], outputs: readonly WireTensorSpec[], context: CallContext): Promise<InferAnswer> {
    const request = `POST ${this.url}${this.modelPath}/infer`;
    const what = `model ${this.options.model} inference (${request})`;
    const batch = inputs[0]?.shape[0] ?? 0;
    const limit = this.options.maxRequestBytes;
    const id = requestId();
    let body: { bytes: Buffer; headers: Record<string, string> };
    if (this.options.binaryData) {
      // The size is known before encoding: the JSON header (which only names the sizes) + the raw bytes.
      const sizes = inputs.map((input) => rawByteLength(input.data, input.datatype));
      const header = {
        id,
        inputs: inputs.map((input, k) => ({ name: input.name, shape: input.shape, datatype: input.datatype, parameters: { binary_data_size: sizes[k]! } })),
        outputs: outputs.map((o) => ({ name: o.name, parameters: { binary_data: true } })),
      };
      const json = Buffer.from(JSON.stringify(header), 'utf8');
      const total = sizes.reduce((n, size) => n + size, json.length);
      checkRequestSize(context.code, what, batch, total, limit);
      const raws = inputs.map((input) => toBytes(toWire(input.data, input.datatype)));
      body = { bytes: Buffer.concat([json, ...raws]), headers: { 'content-type': 'application/octet-stream', [INFERENCE_HEADER_CONTENT_LENGTH]: String(json.length) } };
    } else {
      const inferRequest = (data: (input: WireTensor) => readonly number[]): unknown => ({
        id,
        inputs: inputs.map((input) => ({ name: input.name, shape: input.shape, datatype: input.datatype, data: data(input) })),
        outputs: outputs.map((o) => ({ name: o.name })),
      });
      // Before encoding: the request with empty data lists + a lower bound for the numbers in them.
      const skeleton = Buffer.byteLength(JSON.stringify(inferRequest(() => [])), 'utf8');
      checkRequestSize(context.code, what, batch, inputs.reduce((n, input) => n + jsonNumbersMinBytes(input.data.length), skeleton), limit, 'at least');
      const json = Buffer.from(JSON.stringify(inferRequest((input) => toJsonNumbers(toWire(input.data, input.datatype)))), 'utf8');
      checkRequestSize(context.code, what, batch, json.length, limit);
      body = { bytes: json, headers: { 'content-type': 'application/json' } };
    }
    const response = await this.http.requestOk('POST', `${this.modelPath}/infer`, context.code, what, context.signal, body);
    return decodeInferResponse(response.body, response.headers[INFERENCE_HEADER_CONTENT_LENGTH], outputs, { model: this.options.model, batch, request });
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

let sequence = 0;
/** A request id (v2 `id`, echoed in the answer and in server logs): process-unique, cheap. */
export function requestId(): string {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  return `rxml-${process.pid}-${sequence}`;
}

/**
 * Decodes a v2 inference response (JSON, or JSON header + binary tensor data) into the requested
 * outputs, in order, each checked against the batch size sent and its declared shape and datatype
 * (`checkedOutputs`): an answer that does not fit is a non-retriable `MODEL_ERROR`.
 */
export function decodeInferResponse(body: Buffer, headerLength: string | string[] | undefined, wanted: readonly WireTensorSpec[], context: AnswerContext): InferAnswer {
  const what = `model ${context.model} inference (${context.request})`;
  const jsonLength = headerLength === undefined ? body.length : Number(Array.isArray(headerLength) ? headerLength[0] : headerLength);
  if (!Number.isInteger(jsonLength) || jsonLength < 0 || jsonLength > body.length) {
    throw new RxmlError('MODEL_ERROR', `${what}: ${INFERENCE_HEADER_CONTENT_LENGTH} ${String(headerLength)} does not fit a ${body.length}-byte body`);
  }
  const parsed = parseJson('MODEL_ERROR', what, body.subarray(0, jsonLength)) as { outputs?: unknown; model_version?: unknown };
  if (!Array.isArray(parsed.outputs)) throw new RxmlError('MODEL_ERROR', `${what}: the answer has no outputs`);
  let offset = jsonLength;
  const byName = new Map<string, AnsweredTensor>();
  for (const output of parsed.outputs as JsonOutput[]) {
    const name = String(output.name);
    const datatype = String(output.datatype);
    if (!isSupportedDatatype(datatype)) throw new RxmlError('MODEL_ERROR', `${what}: output ${name} has datatype ${datatype}, which rxml does not support`);
    const shape = Array.isArray(output.shape) ? output.shape.map(Number) : [];
    const size = output.parameters?.binary_data_size;
    let data: Float32Array | Int32Array;
    if (size !== undefined) {
      const n = Number(size);
      if (!Number.isInteger(n) || n < 0 || offset + n > body.length) throw new RxmlError('MODEL_ERROR', `${what}: output ${name}'s binary_data_size ${JSON.stringify(size)} overruns the body`);
      data = fromBytes(body.subarray(offset, offset + n), datatype, name);
      offset += n;
    } else {
      data = fromWire(flattenJson(output.data, name), datatype);
    }
    checkSize(data, shape, name, what);
    byName.set(name, { data, shape, datatype });
  }
  const outputs = checkedOutputs(byName, wanted, context);
  return typeof parsed.model_version === 'string' && parsed.model_version !== '' ? { outputs, modelVersion: parsed.model_version } : { outputs };
}

export function checkSize(data: { length: number }, shape: readonly number[], name: string, what: string): void {
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new RxmlError('MODEL_ERROR', `${what}: output ${name} has ${data.length} values for shape [${shape.join(', ')}]`);
}

export function pickOutputs(byName: ReadonlyMap<string, TensorData>, wanted: readonly WireTensorSpec[], what: string): TensorData[] {
  return wanted.map((spec) => {
    const tensor = byName.get(spec.name);
    if (tensor === undefined) throw new RxmlError('MODEL_ERROR', `${what}: the answer lacks output ${spec.name} (got ${[...byName.keys()].join(', ') || 'none'})`);
    return tensor;
  });
}

export type { V2Datatype };
