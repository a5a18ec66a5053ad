import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { RxmlError } from '../contract/errors.js';

/**
 * Where a model file's bytes come from: a file path, a `file:` URL, an `http:`/`https:` URL (as a
 * string or a `URL`), or the bytes themselves (e.g. read from a message or a bundle).
 */
export type ByteSource = string | URL | Uint8Array;

export interface ReadBytesOptions {
  /**
   * Largest accepted size in bytes; a larger file or response fails with `MODEL_LOAD_ERROR` before
   * it is read whole (checked against `stat` / `Content-Length`, then against what arrived).
   * Default: no limit.
   */
  readonly maxBytes?: number;
}

const HTTP = /^https?:\/\//i;

/** True for an `http:`/`https:` URL string. */
export function isHttpUrl(location: string): boolean {
  return HTTP.test(location);
}

/**
 * How a source is named in error messages and default model names: the path, the URL, or
 * `'bytes'` for an in-memory buffer.
 */
export function describeSource(source: ByteSource): string {
  if (source instanceof Uint8Array) return 'bytes';
  return source instanceof URL ? source.href : source;
}

/**
 * The file system path or http(s) URL a string or `URL` source names (`file:` URLs become paths).
 * `undefined` for bytes.
 */
export function locationOf(source: ByteSource): string | undefined {
  if (source instanceof Uint8Array) return undefined;
  const text = source instanceof URL ? source.href : source;
  return text.startsWith('file:') ? fileURLToPath(text) : text;
}

/**
 * Reads a model file's bytes from any `ByteSource`: the one byte reader every format uses (tfjs
 * `model.json` and its weight files, Keras `.h5`/`.keras`, ONNX `.onnx`). Bytes are returned as
 * given (not copied).
 *
 * @throws RxmlError `MODEL_LOAD_ERROR` naming the path or URL and why (missing file, HTTP status,
 *   network error, over `maxBytes`).
 */
export async function readBytes(source: ByteSource, options: ReadBytesOptions = {}): Promise<Uint8Array> {
  const max = options.maxBytes ?? Number.POSITIVE_INFINITY;
  if (source instanceof Uint8Array) {
    if (source.byteLength > max) throw tooLarge('the model bytes', source.byteLength, max);
    return source;
  }
  const location = locationOf(source)!;
  if (isHttpUrl(location)) return fetchBytes(location, max);
  try {
    if (Number.isFinite(max)) {
      const size = (await stat(location)).size;
      if (size > max) throw tooLarge(location, size, max);
    }
    return new Uint8Array(await readFile(location));
  } catch (cause) {
    if (cause instanceof RxmlError) throw cause;
    throw new RxmlError('MODEL_LOAD_ERROR', `cannot read ${location}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

async function fetchBytes(url: string, max: number): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new RxmlError('MODEL_LOAD_ERROR', `cannot read ${url}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, retriable: true });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new RxmlError('MODEL_LOAD_ERROR', `cannot read ${url}: GET ${url}: HTTP ${response.status}`, { retriable: response.status >= 500 });
  }
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > max) {
    await response.body?.cancel();
    throw tooLarge(url, declared, max);
  }
  return readBody(response, max, url);
}

/**
 * Reads a fetch `Response` body, failing with `MODEL_LOAD_ERROR` as soon as more than `max` bytes
 * arrived (a body without `Content-Length` is never buffered past the limit).
 * @internal
 */
export async function readBody(response: Response, max: number, url: string): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (cause) {
      throw new RxmlError('MODEL_LOAD_ERROR', `cannot read ${url}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause, retriable: true });
    }
    if (chunk.done) break;
    total += chunk.value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(url, total, max);
    }
    chunks.push(chunk.value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.byteLength;
  }
  return bytes;
}

/** @internal */
export function tooLarge(what: string, size: number, max: number): RxmlError {
  return new RxmlError('MODEL_LOAD_ERROR', `${what} is ${size} bytes, over the limit of ${max} bytes (option maxBytes)`);
}
