import { Pool } from 'undici';
import { RxmlError, type RxmlErrorCode } from '@rxml/core/contract';
import { httpStatusError, networkError } from '../errors.js';

export interface HttpOptions {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls: TlsOptions | undefined;
  /** Keep-alive connections to the server. */
  readonly connections: number;
  readonly maxResponseBytes: number;
}

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

/** A keep-alive connection pool to one server (undici `Pool`) with bounded response bodies. */
export class HttpClient {
  readonly base: string;
  private readonly pool: Pool;
  private readonly prefix: string;

  constructor(private readonly options: HttpOptions) {
    const url = new URL(options.url);
    this.prefix = url.pathname.replace(/\/+$/, '');
    this.base = `${url.origin}${this.prefix}`;
    const tls = options.tls;
    this.pool = new Pool(url.origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      ...(tls === undefined ? {} : { connect: { ...tls } }),
    });
  }

  async request(method: 'GET' | 'POST', path: string, code: RxmlErrorCode, what: string, signal: AbortSignal, body?: { bytes: Buffer | string; headers: Record<string, string> }): Promise<HttpResponse> {
    let response;
    try {
      response = await this.pool.request({
        method,
        path: `${this.prefix}${path}`,
        headers: { ...this.options.headers, ...body?.headers },
        ...(body === undefined ? {} : { body: body.bytes }),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new RxmlError(code, `${what}: aborted`, { cause: error, retriable: true });
      throw networkError(code, what, error);
    }
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
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new RxmlError(code, `${what}: aborted`, { cause: error, retriable: true });
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
