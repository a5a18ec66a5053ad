import { Client, Pool, buildConnector, type Dispatcher } from 'undici';
import { RxmlError, type RxmlErrorCode } from '@rxml/core/contract';
import { httpStatusError, networkError } from '../errors.js';

export interface HttpOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls: TlsOptions | undefined;
  /** Keep-alive connections to the server. */
  readonly connections: number;
  readonly maxResponseBytes: number;
  /** Largest request body sent, bytes (`LIMIT_EXCEEDED` beyond, before the body is encoded when possible: see `checkRequestSize`). */
  readonly maxRequestBytes: number;
}

/**
 * How long an idle pooled connection is kept, ms: below the idle timeouts of the servers in front
 * of models (uvicorn — MLServer, KServe — and Node close idle keep-alive connections after 5 s), so
 * that normally this side closes first and never sends on a connection the server is closing.
 * (undici's own default; a server's `Keep-Alive: timeout=…` hint lowers it further.)
 */
export const KEEP_ALIVE_TIMEOUT_MS = 4_000;

/** Errors that mean "the connection was closed under the request before any answer": stale when the socket was reused. */
const STALE_CONNECTION_CODES: ReadonlySet<string> = new Set(['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET']);

/** TLS settings for an `https:` URL (PEM strings or buffers, as in `tls.connect`). */
export interface TlsOptions {
  /** CA certificates to trust instead of Node's bundled ones. */
  readonly ca?: string | Buffer;
  /** Client certificate and key, for servers that require mutual TLS. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  /** Default true. Turn off only for a test server with a self-signed certificate. */
  readonly rejectUnauthorized?: boolean;
  /** Server name to verify (SNI), when it differs from the URL's host. */
  readonly servername?: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/**
 * A keep-alive connection pool to one server (undici `Pool`) with bounded response bodies.
 *
 * A pooled connection can be dead without this process knowing: the server closed it after its
 * idle timeout while this event loop was busy (e.g. JSON-encoding a large batch for seconds), so the
 * close was not read yet when the next request was written on it. That request fails before any
 * byte of answer (`EPIPE` while writing a large body, `UND_ERR_SOCKET` "other side closed" or
 * `ECONNRESET` for a small one). Such a failure on a *reused* connection (one that had already
 * carried an answer) is retried once, at once, on a new connection of its own, inside the same try:
 * no backoff, no retry counted, nothing for the circuit breaker. The same failure on a new
 * connection is the server's doing and is reported as usual (retriable).
 */
export class HttpClient {
  readonly base: string;
  private readonly pool: Pool;
  private readonly prefix: string;
  private readonly origin: string;
  private readonly connect: buildConnector.connector;
  /** Socket errors raised on connections that had already read an answer: their request met a stale connection. */
  private readonly staleErrors = new WeakSet<object>();

  constructor(private readonly options: HttpOptions) {
    const url = new URL(options.url);
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.base = `${url.origin}${this.prefix}`;
    this.origin = url.origin;
    const base = buildConnector({ ...options.tls });
    this.connect = (connectOptions, callback) =>
      base(connectOptions, (...args) => {
        // undici calls back with the error alone when the connection fails: no socket then.
        const socket = args[1] ?? undefined;
        if (socket !== undefined) {
          socket.on('error', (error: unknown) => {
            if (socket.bytesRead > 0 && typeof error === 'object' && error !== null) this.staleErrors.add(error);
          });
        }
        callback(...args);
      });
    this.pool = new Pool(url.origin, { connections: options.connections, pipelining: 1, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, connect: this.connect });
  }

  async request(method: 'GET' | 'POST', path: string, code: RxmlErrorCode, what: string, signal: AbortSignal, body?: { bytes: Buffer | string; headers: Record<string, string> }): Promise<HttpResponse> {
    const request: Dispatcher.RequestOptions = {
      method,
      path: `${this.prefix}${path}`,
      headers: { ...this.options.headers, ...body?.headers },
      ...(body === undefined ? {} : { body: body.bytes }),
      signal,
    };
    let response: Dispatcher.ResponseData;
    let fresh: Client | undefined;
    try {
      response = await this.pool.request(request);
    } catch (error) {
      if (signal.aborted) throw abortedError(code, what, signal, error);
      if (!this.isStale(error)) throw networkError(code, what, error);
      // The pooled connection was dead before the request went out: once more, on a new connection.
      fresh = new Client(this.origin, { pipelining: 1, connect: this.connect });
      try {
        response = await fresh.request(request);
      } catch (retryError) {
        void fresh.destroy().catch(() => {});
        if (signal.aborted) throw abortedError(code, what, signal, retryError);
        throw networkError(code, what, retryError);
      }
    }
    try {
      return await this.read(response, code, what, signal);
    } finally {
      if (fresh !== undefined) void fresh.close().catch(() => {});
    }
  }

  private isStale(error: unknown): boolean {
    if (typeof error !== 'object' || error === null || !this.staleErrors.has(error)) return false;
    const errno = (error as { code?: unknown }).code;
    return typeof errno === 'string' && STALE_CONNECTION_CODES.has(errno);
  }

  private async read(response: Dispatcher.ResponseData, code: RxmlErrorCode, what: string, signal: AbortSignal): Promise<HttpResponse> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      const declared = Number(response.headers['content-length'] ?? NaN);
      if (declared > this.options.maxResponseBytes) throw tooLarge(code, what, declared, this.options.maxResponseBytes);
      for await (const chunk of response.body) {
        const buffer = chunk as Buffer;
        size += buffer.length;
        if (size > this.options.maxResponseBytes) throw tooLarge(code, what, size, this.options.maxResponseBytes);
        chunks.push(buffer);
      }
    } catch (error) {
      response.body.destroy();
      if (error instanceof RxmlError) throw error;
      if (signal.aborted) throw abortedError(code, what, signal, error);
      throw networkError(code, what, error);
    }
    return { status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks, size) };
  }

  /** Like `request`, but any status other than 200 throws, with the server's message. */
  async requestOk(method: 'GET' | 'POST', path: string, code: RxmlErrorCode, what: string, signal: AbortSignal, body?: { bytes: Buffer | string; headers: Record<string, string> }): Promise<HttpResponse> {
    const response = await this.request(method, path, code, what, signal, body);
    if (response.status !== 200) throw httpStatusError(code, what, response.status, response.body.toString('utf8'));
    return response;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

function abortedError(code: RxmlErrorCode, what: string, signal: AbortSignal, error: unknown): Error {
  return signal.reason instanceof Error ? signal.reason : new RxmlError(code, `${what}: aborted`, { cause: error, retriable: true });
}

/**
 * Fails a request whose body would be larger than `maxRequestBytes`, before it is sent: a body that
 * large costs this process its encoding and a copy, and servers refuse or drop it in ways that say
 * little (a reset connection, a 413); a clear `LIMIT_EXCEEDED` naming the batch says what to change.
 *
 * The transports call it before encoding a batch, with the body's exact size when it is known
 * without encoding (binary data, gRPC raw contents) or with a lower bound (`'at least'`: JSON, see
 * `jsonNumbersMinBytes`), so that a batch far over the limit is refused without spending the
 * encoding; a JSON body the bound lets through is checked again, exactly, once encoded.
 *
 * @param batch records in the batch (for the message)
 * @param bytes the request's size in bytes: exact, or a lower bound when `size` is `'at least'`
 * @param limit `maxRequestBytes`, bytes
 * @throws RxmlError `LIMIT_EXCEEDED` (`MODEL_LOAD_ERROR` when `code` is, while loading), not
 *   retriable, "… the request for a batch of N records is [at least] B bytes, more than
 *   maxRequestBytes (L) …", when `bytes > limit`
 */
export function checkRequestSize(code: RxmlErrorCode, what: string, batch: number, bytes: number, limit: number, size: 'exact' | 'at least' = 'exact'): void {
  if (bytes <= limit) return;
  throw new RxmlError(
    code === 'MODEL_LOAD_ERROR' ? code : 'LIMIT_EXCEEDED',
    `${what}: the request for a batch of ${batch} records is ${size === 'at least' ? 'at least ' : ''}${bytes} bytes, more than maxRequestBytes (${limit}); send smaller batches (batch.size) or raise maxRequestBytes`,
  );
}

function tooLarge(code: RxmlErrorCode, what: string, bytes: number, limit: number): RxmlError {
  return new RxmlError(code === 'MODEL_LOAD_ERROR' ? code : 'LIMIT_EXCEEDED', `${what}: the response is ${bytes} bytes, more than maxResponseBytes (${limit})`);
}

/** Parses a JSON body, or fails naming the request. */
export function parseJson(code: RxmlErrorCode, what: string, body: Buffer | string): unknown {
  try {
    return JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as unknown;
  } catch (error) {
    throw new RxmlError(code, `${what}: the server's answer is not JSON: ${(error as Error).message}`, { cause: error });
  }
}
