/**
 * `@rxml/remote`: models served by a model server, behind the same operators as embedded ones.
 * `loadRemoteModel()` returns a `Model` (the `@rxml/core/contract` interface) that calls the server
 * once per micro-batch over the Open Inference Protocol (KServe v2: REST or gRPC) or TF Serving's
 * REST API, with deadlines, retries, a circuit breaker and bounded in-flight requests.
 */
export { loadRemoteModel, type LoadRemoteModelOptions, type RemoteProtocol, type RemoteTensorSpec, type RemoteTransport } from './load-remote-model.js';
export type { CircuitBreakerOptions, RetryOptions } from './resilience.js';
export type { TlsOptions } from './transports/http.js';
export type { V2Datatype } from './datatypes.js';
export { GRPC_PREDICT_V2_PROTO } from './transports/v2-grpc.js';
