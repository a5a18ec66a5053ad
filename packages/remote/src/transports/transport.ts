import type { RxmlErrorCode, TensorData } from '@rxml/core/contract';
import type { V2Datatype } from '../datatypes.js';

/** A tensor as the server describes it: v2 datatype, shape with -1 for any size. */
export interface WireTensorSpec {
  readonly name: string;
  readonly datatype: V2Datatype;
  readonly shape: readonly number[];
}

/** What a server says about a model (v2 model metadata, or its TF-Serving equivalent). */
export interface ServerModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly WireTensorSpec[];
  readonly outputs: readonly WireTensorSpec[];
}

/** One input of a request: the contract's data plus its wire name and datatype. */
export interface WireTensor {
  readonly name: string;
  readonly datatype: V2Datatype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array;
}

export interface InferAnswer {
  readonly outputs: TensorData[];
  /** The version that answered, when the server says (v2 `model_version`). */
  readonly modelVersion?: string;
}

/** What every request carries: a deadline signal and the error code to report failures with. */
export interface CallContext {
  readonly signal: AbortSignal;
  /** `MODEL_LOAD_ERROR` while loading, `MODEL_ERROR` for inference calls. */
  readonly code: RxmlErrorCode;
}

/**
 * One protocol over one transport. Every method throws `RxmlError` (with `retriable` set for
 * failures a retry can fix) and honours `context.signal`.
 */
export interface Transport {
  /** For messages and `rxml:remote:request`: the server's URL. */
  readonly url: string;
  /** Fails unless the model is ready to serve; returns the serving version when the answer names it (TF Serving). */
  ready(context: CallContext): Promise<string | undefined>;
  /** The model's metadata; `undefined` when the server does not publish any (KServe v1). */
  metadata(context: CallContext): Promise<ServerModelMetadata | undefined>;
  /** One inference request: `inputs` in model order; returns `outputs` in the requested order. */
  infer(inputs: readonly WireTensor[], outputs: readonly WireTensorSpec[], context: CallContext): Promise<InferAnswer>;
  close(): Promise<void>;
}
