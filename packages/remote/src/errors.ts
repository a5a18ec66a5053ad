import { RxmlError, isRxmlError, type RxmlErrorCode } from '@rxml/core/contract';

/**
 * HTTP statuses worth retrying: 429 Too Many Requests, 502 Bad Gateway, 503 Service Unavailable,
 * 504 Gateway Timeout (RFC 9110 §15.6, RFC 6585 §4): the server, or the proxy in front of it, is
 * overloaded or restarting. Every other status is the answer for this request (a 400 stays a 400).
 */
export const RETRIABLE_HTTP_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/**
 * Socket-level failures that mean "the server was not reached or went away": undici's and Node's
 * error codes. The request may be retried (an inference call has no side effects).
 */
const RETRIABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** gRPC status codes worth retrying (grpc/doc/statuscodes.md): UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED. */
export const RETRIABLE_GRPC_CODES: ReadonlySet<number> = new Set([14, 4, 8]);

const GRPC_CODE_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/** Cuts a server message to a length that fits a log line and a Kafka header. */
export function clip(text: string, max = 500): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** The server's own message out of an error body: v2's `{"error": "..."}`, FastAPI's `{"detail": ...}`, or the text. */
export function serverMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'object' && parsed !== null) {
      const record = parsed as Record<string, unknown>;
      for (const key of ['error', 'detail', 'message']) {
        const value = record[key];
        if (typeof value === 'string') return clip(value);
        if (value !== undefined) return clip(JSON.stringify(value));
      }
    }
  } catch {
    // not JSON: the text itself
  }
  return clip(body);
}

/** An HTTP answer other than 200, with the server's message. */
export function httpStatusError(code: RxmlErrorCode, what: string, status: number, body: string): RxmlError {
  const message = serverMessage(body);
  return new RxmlError(code, `${what}: HTTP ${status}${message === '' ? '' : `: ${message}`}`, { retriable: RETRIABLE_HTTP_STATUS.has(status) });
}

function errorCodeOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** A request that got no HTTP answer (refused, reset, closed): retriable when the code says the server was not reached. */
export function networkError(code: RxmlErrorCode, what: string, error: unknown): RxmlError {
  if (isRxmlError(error)) return error;
  const errno = errorCodeOf(error);
  const detail = error instanceof Error ? error.message : String(error);
  return new RxmlError(code, `${what}: ${errno === undefined ? '' : `${errno} `}${detail}`, { cause: error, retriable: errno !== undefined && RETRIABLE_NETWORK_CODES.has(errno) });
}

/** A failed gRPC call, with its status name and the server's details. */
export function grpcError(code: RxmlErrorCode, what: string, error: { code?: number; details?: string; message?: string }): RxmlError {
  const status = error.code ?? 2;
  const name = GRPC_CODE_NAMES[status] ?? `status ${status}`;
  return new RxmlError(code, `${what}: gRPC ${name}: ${clip(error.details ?? error.message ?? '')}`, { cause: error, retriable: RETRIABLE_GRPC_CODES.has(status) });
}
