import { RxmlError, type TensorData } from '@rxml/core/contract';
import { datatypeOfTf, flattenJson, fromWire, jsonNumbersMinBytes, nest, toJsonNumbers, toWire } from '../datatypes.js';
import { HttpClient, checkRequestSize, parseJson, type HttpOptions } from './http.js';
import { parseV2Metadata } from './v2-metadata.js';
import { checkSize, pickOutputs } from './v2-rest.js';
import type { CallContext, InferAnswer, ServerModelMetadata, Transport, WireTensor, WireTensorSpec } from './transport.js';

export interface TfServingRestOptions extends HttpOptions {
  readonly model: string;
  readonly version: string | undefined;
  /** SignatureDef to call; default the server's (`serving_default`). */
  readonly signatureName: string | undefined;
}

interface TfTensorInfo {
  readonly dtype?: string;
  readonly tensor_shape?: { readonly dim?: readonly { readonly size?: string | number }[]; readonly unknown_rank?: boolean };
}

/**
 * TensorFlow Serving's REST API (also KServe's v1 protocol): `POST /v1/models/{name}[/versions/{v}]:predict`
 * with the row format (`{"instances": [...]}`, one entry per record) and `{"predictions": [...]}` back.
 * Metadata comes from `GET …/metadata` (TF Serving's SignatureDef); servers without it (KServe v1)
 * are asked for v2 metadata (`GET /v2/models/{name}`, KServe serves both), else the caller's
 * `inputs`/`outputs` are used. JSON only: the format has no binary encoding for numbers.
 */
export class TfServingRestTransport implements Transport {
  readonly url: string;
  private readonly http: HttpClient;
  private readonly modelPath: string;

  constructor(private readonly options: TfServingRestOptions) {
    this.http = new HttpClient(options);
    this.url = this.http.base;
    this.modelPath = `/v1/models/${encodeURIComponent(options.model)}${options.version === undefined ? '' : `/versions/${encodeURIComponent(options.version)}`}`;
  }

  async ready(context: CallContext): Promise<string | undefined> {
    const what = `model ${this.options.model} status (GET ${this.url}${this.modelPath})`;
    const body = parseJson(context.code, what, (await this.http.requestOk('GET', this.modelPath, context.code, what, context.signal)).body) as {
      ready?: unknown;
      model_version_status?: { version?: string | number; state?: string }[];
    };
    // KServe v1: {"name", "ready"}; TF Serving: {"model_version_status": [{"version", "state": "AVAILABLE"}]}.
    const ready = body.ready === true || (body.model_version_status ?? []).some((s) => s.state === 'AVAILABLE');
    if (!ready) throw new RxmlError(context.code, `${what}: the model is not ready (${JSON.stringify(body).slice(0, 200)})`, { retriable: true });
    const available = (body.model_version_status ?? []).find((s) => s.state === 'AVAILABLE');
    return available?.version === undefined ? undefined : String(available.version);
  }

  async metadata(context: CallContext): Promise<ServerModelMetadata | undefined> {
    const what = `model ${this.options.model} metadata (GET ${this.url}${this.modelPath}/metadata)`;
    const response = await this.http.request('GET', `${this.modelPath}/metadata`, context.code, what, context.signal);
    if (response.status === 200) return this.fromSignature(parseJson(context.code, what, response.body), what);
    if (response.status !== 404 && response.status !== 405) {
      throw new RxmlError(context.code, `${what}: HTTP ${response.status}: ${response.body.toString('utf8').slice(0, 300)}`, { retriable: response.status >= 500 });
    }
    // KServe: v1 has no metadata endpoint, but the same server answers v2 metadata.
    const v2what = `model ${this.options.model} metadata (GET ${this.url}/v2/models/${this.options.model})`;
    const v2 = await this.http.request('GET', `/v2/models/${encodeURIComponent(this.options.model)}`, context.code, v2what, context.signal);
    if (v2.status !== 200) return undefined;
    return parseV2Metadata(parseJson(context.code, v2what, v2.body), v2what);
  }

  private fromSignature(value: unknown, what: string): ServerModelMetadata {
    const body = value as { model_spec?: { name?: string; version?: string }; metadata?: { signature_def?: { signature_def?: Record<string, { inputs?: Record<string, TfTensorInfo>; outputs?: Record<string, TfTensorInfo> }> } } };
    const signatures = body.metadata?.signature_def?.signature_def ?? {};
    const key = this.options.signatureName ?? 'serving_default';
    const signature = signatures[key];
    if (signature === undefined) throw new RxmlError('MODEL_LOAD_ERROR', `${what}: no signature ${key} (has ${Object.keys(signatures).join(', ') || 'none'})`);
    const specs = (map: Record<string, TfTensorInfo> | undefined, kind: string): WireTensorSpec[] =>
      Object.entries(map ?? {})
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, info]) => {
          const datatype = datatypeOfTf(info.dtype ?? '');
          if (datatype === undefined) throw new RxmlError('MODEL_LOAD_ERROR', `${what}: ${kind} ${name} has dtype ${info.dtype ?? '?'}, which rxml does not support`);
          const shape = info.tensor_shape?.unknown_rank === true ? [-1] : (info.tensor_shape?.dim ?? []).map((d) => Number(d.size ?? -1));
          return { name, datatype, shape };
        });
    return {
      name: body.model_spec?.name ?? this.options.model,
      versions: body.model_spec?.version === undefined ? [] : [String(body.model_spec.version)],
      platform: 'tensorflow',
      inputs: specs(signature.inputs, 'input'),
      outputs: specs(signature.outputs, 'output'),
    };
  }

  async infer(inputs: readonly WireTensor[], outputs: readonly WireTensorSpec[], context: CallContext): Promise<InferAnswer> {
    const what = `model ${this.options.model} prediction (POST ${this.url}${this.modelPath}:predict)`;
    const batch = inputs[0]?.shape[0] ?? 0;
    const limit = this.options.maxRequestBytes;
    const request: Record<string, unknown> = { instances: [] };
    if (this.options.signatureName !== undefined) request['signature_name'] = this.options.signatureName;
    // Before encoding: the request with no instances + a lower bound for the numbers they hold.
    const skeleton = Buffer.byteLength(JSON.stringify(request), 'utf8');
    checkRequestSize(context.code, what, batch, inputs.reduce((n, input) => n + jsonNumbersMinBytes(input.data.length), skeleton), limit, 'at least');
    // Row format: one instance per record; a named object per instance when the model has several inputs.
    const columns = inputs.map((input) => nest(toJsonNumbers(toWire(input.data, input.datatype)), input.shape));
    const instances = inputs.length === 1 ? columns[0]! : Array.from({ length: batch }, (_, i) => Object.fromEntries(inputs.map((input, j) => [input.name, columns[j]![i]])));
    request['instances'] = instances;
    const bytes = Buffer.from(JSON.stringify(request), 'utf8');
    checkRequestSize(context.code, what, batch, bytes.length, limit);
    const response = await this.http.requestOk('POST', `${this.modelPath}:predict`, context.code, what, context.signal, { bytes, headers: { 'content-type': 'application/json' } });
    const predictions = (parseJson('MODEL_ERROR', what, response.body) as { predictions?: unknown }).predictions;
    if (!Array.isArray(predictions)) throw new RxmlError('MODEL_ERROR', `${what}: the answer has no predictions list`);
    if (predictions.length !== batch) throw new RxmlError('MODEL_ERROR', `${what}: ${predictions.length} predictions for ${batch} instances`);
    const byName = new Map<string, TensorData>();
    outputs.forEach((spec) => {
      // One output: each prediction is that output's value; several: an object keyed by output name.
      const rows = outputs.length === 1 ? predictions : predictions.map((p) => (p as Record<string, unknown>)[spec.name]);
      const values = flattenJson(rows, spec.name);
      const inner = spec.shape.slice(1);
      const perRow = batch === 0 ? 0 : values.length / batch;
      const shape = inner.length === 0 && perRow === 1 ? [batch] : [batch, ...(inner.some((d) => d < 0) || inner.length === 0 ? [perRow] : inner)];
      const data = fromWire(values, spec.datatype);
      checkSize(data, shape, spec.name, what);
      byName.set(spec.name, { data, shape });
    });
    return { outputs: pickOutputs(byName, outputs, what) };
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
