import { createHash } from 'node:crypto';
import { Observable } from 'rxjs';
import { readBody, tooLarge } from '../artifacts/read-bytes.js';
import { CHANNELS, UNKNOWN_MODEL, publish } from '../contract/diagnostics.js';
import { RxmlError, invalidConfig, isRxmlError, toRxmlError } from '../contract/errors.js';
import type { Model } from '../contract/model.js';
import { loadModelBytes } from '../formats/tfjs/load-model.js';
import { ModelVersions, type ModelSourceEventOptions } from './model-versions.js';

export interface PollModelOptions extends ModelSourceEventOptions {
  /** Model name reported in results and events. Default: the loader's (tfjs: the topology's name). */
  readonly name?: string;
  /**
   * Opens the downloaded artifact bytes. Default `loadModelBytes(bytes, { name })`: the single-file
   * tfjs form (`saveModelBytes`). For Keras or ONNX pass their loader, e.g.
   * `(bytes) => loadKerasModel(bytes)` from `@rxml/keras`. A rejection becomes a `refused` event.
   */
  readonly load?: (bytes: Uint8Array, url: string) => Promise<Model>;
  /** Time between two requests, ms (from the end of one to the start of the next). Default 30000. */
  readonly intervalMs?: number;
  /** Longest a request (headers and body) may take, ms; a slower one is abandoned and retried on the next poll. Default 30000. */
  readonly requestTimeoutMs?: number;
  /** Largest accepted artifact, bytes (checked against `Content-Length`, then while the body arrives). Default 256 MiB. */
  readonly maxBytes?: number;
  /** Extra request headers, e.g. `{ authorization: 'Bearer …' }`. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * A model source that polls an http(s) URL serving one model artifact (by default the single-file
 * tfjs form written by `saveModelBytes`) and emits a model for the first version and for every later
 * one. Conditional requests: each poll sends `If-None-Match` with the last `ETag` (and
 * `If-Modified-Since` with the last `Last-Modified`), so an unchanged model costs a `304 Not Modified`
 * and no body; a `200` whose bytes hash (SHA-256) like the last version tried is ignored too. Uses
 * Node's `fetch` (undici). Cold: each subscription polls and loads on its own and owns the models it
 * receives.
 *
 * Never errors: a failed request (network error, timeout, HTTP status other than 200/304) is
 * published on `rxml:source` (`source: 'pollModel'`, `type: 'poll-failed'`, `error` a
 * `MODEL_LOAD_ERROR`, retriable for a failed connection or timeout — its message names the cause's
 * code, e.g. `ECONNREFUSED`, `ETIMEDOUT` — and for HTTP 5xx, 408 and 429) and retried on the next
 * poll; an artifact that is over `maxBytes` or does not load is announced as `refused` on
 * `rxml:model:lifecycle` (and `onModelEvent`).
 *
 * @throws RxmlError `INVALID_CONFIG` at call time for a URL that is not http(s) or non-positive
 *   `intervalMs`, `requestTimeoutMs` or `maxBytes`.
 *
 * @example
 * const iris = pollModel('https://models.example.com/iris.json', { name: 'iris', intervalMs: 60_000 });
 * flowers$.pipe(predictIris(iris));
 */
export function pollModel(url: string | URL, options: PollModelOptions = {}): Observable<Model> {
  const href = url instanceof URL ? url.href : url;
  if (!/^https?:\/\//i.test(href)) throw invalidConfig('pollModel', 'url', 'an http: or https: URL', href);
  const intervalMs = options.intervalMs ?? 30_000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const maxBytes = options.maxBytes ?? 256 * 1024 * 1024;
  if (!(intervalMs > 0)) throw invalidConfig('pollModel', 'intervalMs', 'a positive number of milliseconds', intervalMs);
  if (!(requestTimeoutMs > 0)) throw invalidConfig('pollModel', 'requestTimeoutMs', 'a positive number of milliseconds', requestTimeoutMs);
  if (!(maxBytes > 0)) throw invalidConfig('pollModel', 'maxBytes', 'a positive number of bytes', maxBytes);
  const name = options.name ?? new URL(href).pathname.split('/').pop()?.replace(/\.[^.]+$/, '') ?? 'model';
  const load = options.load ?? ((bytes: Uint8Array) => loadModelBytes(bytes, options.name === undefined ? {} : { name: options.name }));

  return new Observable<Model>((subscriber) => {
    const versions = new ModelVersions(subscriber, name, `pollModel ${href}`, options);
    const stop = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let etag: string | undefined;
    let lastModified: string | undefined;

    const poll = async (): Promise<void> => {
      const started = performance.now();
      const headers: Record<string, string> = { ...options.headers };
      if (etag !== undefined) headers['if-none-match'] = etag;
      if (lastModified !== undefined) headers['if-modified-since'] = lastModified;
      const failed = (error: unknown): void => {
        if (stop.signal.aborted) return;
        publish(CHANNELS.source, () => ({ source: 'pollModel', type: 'poll-failed', url: href, durationMs: performance.now() - started, error: toRxmlError(error, 'MODEL_LOAD_ERROR', `GET ${href}`) }));
      };
      const signal = AbortSignal.any([stop.signal, AbortSignal.timeout(requestTimeoutMs)]);
      let response: Response;
      try {
        response = await fetch(href, { headers, signal });
      } catch (error) {
        return failed(requestFailure(href, error));
      }
      if (response.status === 304) {
        await response.body?.cancel().catch(() => {});
        return;
      }
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => {});
        return failed(new RxmlError('MODEL_LOAD_ERROR', `GET ${href}: HTTP ${response.status}`, { retriable: response.status >= 500 || response.status === 429 || response.status === 408 }));
      }
      const tag = response.headers.get('etag') ?? undefined;
      const modified = response.headers.get('last-modified') ?? undefined;
      const declared = Number(response.headers.get('content-length') ?? Number.NaN);
      let bytes: Uint8Array;
      try {
        if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge(href, declared, maxBytes);
        bytes = await readBody(response, maxBytes, href);
      } catch (error) {
        await response.body?.cancel().catch(() => {});
        if (!(isRxmlError(error) && error.message.includes('(option maxBytes)'))) return failed(isRxmlError(error) ? error : requestFailure(href, error));
        // Over the limit: refused once for this ETag, not downloaded again until the ETag changes.
        [etag, lastModified] = [tag, modified];
        return versions.refuse(UNKNOWN_MODEL, new RxmlError('LIMIT_EXCEEDED', `${error.message.replace('(option maxBytes)', '(pollModel option maxBytes)')}`, { cause: error }));
      }
      [etag, lastModified] = [tag, modified];
      publish(CHANNELS.source, () => ({ source: 'pollModel', type: 'fetched', url: href, count: 1, durationMs: performance.now() - started }));
      const hash = createHash('sha256').update(bytes).digest('hex');
      if (versions.seen(hash)) return;
      versions.offer([{ key: hash, version: hash.slice(0, 16), load: () => load(bytes, href) }]);
    };

    const loop = (): void => {
      void poll()
        .catch(() => {})
        .finally(() => {
          if (!stop.signal.aborted) timer = setTimeout(loop, intervalMs);
        });
    };
    loop();
    return () => {
      stop.abort();
      if (timer !== undefined) clearTimeout(timer);
      versions.close();
    };
  });
}

/**
 * A request that got no complete answer (connection refused or reset, DNS failure, timeout): a
 * retriable `MODEL_LOAD_ERROR` whose message names the cause's code (`ECONNREFUSED`, `ENOTFOUND`,
 * `UND_ERR_CONNECT_TIMEOUT`, … from undici's `cause`; `ETIMEDOUT` for `requestTimeoutMs`).
 */
function requestFailure(href: string, error: unknown): RxmlError {
  const cause = (error as { cause?: unknown } | null)?.cause;
  const causeCode = (cause as { code?: unknown } | null | undefined)?.code;
  const name = (error as { name?: unknown } | null)?.name;
  const code = typeof causeCode === 'string' ? causeCode : name === 'TimeoutError' ? 'ETIMEDOUT' : undefined;
  const detail = [error instanceof Error ? error.message : String(error), cause instanceof Error ? cause.message : undefined].filter((m) => m !== undefined && m !== '');
  return new RxmlError('MODEL_LOAD_ERROR', `GET ${href}: request failed${code === undefined ? '' : ` (${code})`}: ${[...new Set(detail)].join(': ')}`, { retriable: true, cause: error });
}
