import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RxmlError } from '@rxml/core/contract';
import type { MetricsHandle } from './enable-metrics.js';

export interface ServeMetricsOptions {
  /** The handle of `enableMetrics`: its registry is served on `/metrics`, its `health()` on `/healthz`. */
  readonly metrics: MetricsHandle;
  /** TCP port; 0 picks a free one (read it from `url`). Default 9464 (the OpenTelemetry Prometheus exporter's). */
  readonly port?: number;
  /** Interface to listen on. Default `0.0.0.0` (a pod's probes and Prometheus come from outside). */
  readonly host?: string;
  /**
   * More routes served by the same server (e.g. a live page): called for every request that is not
   * a GET or HEAD of `/metrics`, `/healthz` or `/readyz`; must end the response. Default: 405 (with
   * `Allow: GET, HEAD`) for another method on those paths, 404 elsewhere.
   */
  readonly fallback?: RequestListener;
}

export interface MetricsServer {
  /** `http://host:port` the server listens on (`localhost` when bound to every interface). */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Stops listening and closes idle and streaming connections. */
  close(): Promise<void>;
}

/**
 * An HTTP server (node:http) for Prometheus and Kubernetes probes:
 * - `GET /metrics` — the registry in the Prometheus text format (`text/plain; version=0.0.4`);
 * - `GET /healthz` — liveness: 200 `{"status":"ok"}` while `health()` is ok, 503 with the status
 *   (`stuck`, `fenced`, `failed`) and its reasons otherwise;
 * - `GET /readyz` — readiness: like `/healthz` (a stuck or failed consumer should get no traffic
 *   either; rxml pipelines take none, so it mostly serves dashboards).
 *
 * Rejects with `INVALID_CONFIG` for a bad port and with the listen error (e.g. `EADDRINUSE`).
 */
export async function serveMetrics(options: ServeMetricsOptions): Promise<MetricsServer> {
  const port = options.port ?? 9464;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RxmlError('INVALID_CONFIG', `serveMetrics: port must be an integer 0…65535, got ${String(port)}`);
  }
  const host = options.host ?? '0.0.0.0';
  const { metrics } = options;

  const health = (res: ServerResponse): void => {
    const report = metrics.health();
    res.writeHead(report.status === 'ok' ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(report));
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/metrics') {
        metrics.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': metrics.registry.contentType });
            res.end(req.method === 'HEAD' ? undefined : text);
          },
          (error: unknown) => {
            res.writeHead(500, { 'content-type': 'text/plain' });
            res.end(`collecting metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
          },
        );
        return;
      }
      if (path === '/healthz' || path === '/readyz') return health(res);
    }
    if (options.fallback !== undefined) return options.fallback(req, res);
    if (path === '/metrics' || path === '/healthz' || path === '/readyz') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' });
      res.end(`method ${req.method ?? '?'} not allowed on ${path}: use GET or HEAD\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found: try /metrics or /healthz\n');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${address.port}`,
    port: address.port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
