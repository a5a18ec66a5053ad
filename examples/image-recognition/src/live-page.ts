/**
 * The demo's live page: the pipeline process serves a static page (no build step), uPlot from
 * node_modules for the charts, and a Server-Sent Events stream of what flows through — each image
 * with its label and probabilities (or its dead-letter reason), and once a second the throughput,
 * latency and consumer lag. `/metrics` and `/healthz` (`@rxml/metrics`) are on the same server.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImagePrediction, PredictResult } from '@rxml/core';
import { CHANNELS, subscribe } from '@rxml/core/contract';
import { serveMetrics, type MetricsHandle, type MetricsServer } from '@rxml/metrics';

/** One image as the page shows it. */
export interface FeedItem {
  readonly id: number;
  readonly key: string;
  readonly ok: boolean;
  readonly label?: string;
  readonly probability?: number;
  readonly top?: readonly { readonly label: string; readonly probability: number }[];
  /** Dead-letter reason: the error's code and message. */
  readonly code?: string;
  readonly reason?: string;
  /** Time in the predict operator, ms. */
  readonly latencyMs?: number;
  /** Whether `/image/<id>` has the image. */
  readonly image: boolean;
  readonly at: number;
}

/** One point of the charts (once a second). */
export interface StatsPoint {
  /** Seconds since epoch. */
  readonly t: number;
  /** Records in per second over the last second. */
  readonly rate: number;
  /** Median and 95th percentile of the operator latency of the last second's results, ms (null: none). */
  readonly p50: number | null;
  readonly p95: number | null;
  /** Total consumer lag, records (null without Kafka). */
  readonly lag: number | null;
  readonly recordsIn: number;
  readonly recordsOut: number;
  readonly deadLetters: number;
  readonly health: string;
}

const HISTORY = 200;
const SERIES = 600;
const MAX_IMAGE_BYTES = 4 * 1024 * 1024;
const STATIC = fileURLToPath(new URL('../static/', import.meta.url));
const require = createRequire(import.meta.url);
const UPLOT = dirname(require.resolve('uplot/package.json'));

const FILES: Record<string, { path: string; type: string }> = {
  '/': { path: join(STATIC, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { path: join(STATIC, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/style.css': { path: join(STATIC, 'style.css'), type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.iife.min.js': { path: join(UPLOT, 'dist', 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.min.css': { path: join(UPLOT, 'dist', 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** The image type of `bytes` from its magic number, or undefined (then it is not served). */
function imageType(bytes: Buffer): string | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (bytes.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  return undefined;
}

export interface LivePageOptions {
  readonly metrics: MetricsHandle;
  /** TCP port (0: any free one). */
  readonly port: number;
  /** Default `127.0.0.1`: the demo's page is for this machine. */
  readonly host?: string;
}

export class LivePage {
  private readonly items: FeedItem[] = [];
  private readonly deadLetters: FeedItem[] = [];
  private readonly series: StatsPoint[] = [];
  private readonly images = new Map<number, { bytes: Buffer; type: string }>();
  private readonly clients = new Set<ServerResponse>();
  private latencies: number[] = [];
  private nextId = 1;
  private lastIn = 0;
  /** Last lag each partition reported: it stays on the page after the consumer closed. */
  private readonly lags = new Map<string, number>();
  private readonly unsubscribe = subscribe(CHANNELS.source, (m) => {
    if (m.type === 'lag' && m.lag !== undefined) this.lags.set(`${m.group ?? ''} ${m.topic ?? ''} ${m.partition ?? ''}`, m.lag);
  });
  private lastAt = performance.now();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly metrics: MetricsHandle,
    private server: MetricsServer | undefined,
  ) {}

  /** Starts the server (also serving `/metrics` and `/healthz`) and the once-a-second stats. */
  static async start(options: LivePageOptions): Promise<LivePage> {
    const page = new LivePage(options.metrics, undefined);
    page.server = await serveMetrics({
      metrics: options.metrics,
      port: options.port,
      host: options.host ?? '127.0.0.1',
      fallback: (req, res) => page.route(req, res),
    });
    page.timer = setInterval(() => page.tick(), 1_000);
    page.timer.unref();
    return page;
  }

  get url(): string {
    return this.server?.url ?? '';
  }

  /** One image's result; `image` are its bytes when known (shown as a thumbnail). */
  add(key: string, result: PredictResult<unknown, ImagePrediction>, image: Buffer | undefined): void {
    const id = this.nextId++;
    const type = image !== undefined && image.length <= MAX_IMAGE_BYTES ? imageType(image) : undefined;
    if (type !== undefined) this.images.set(id, { bytes: image!, type });
    const base = { id, key, image: type !== undefined, at: Date.now() };
    let item: FeedItem;
    if (result.ok) {
      const { label, probability, top } = result.value;
      item = { ...base, ok: true, label, probability, top: top.map((t) => ({ label: t.label, probability: t.probability })), latencyMs: result.latencyMs };
      this.latencies.push(result.latencyMs);
    } else {
      item = { ...base, ok: false, code: result.error.code, reason: result.error.message };
      this.deadLetters.push(item);
      if (this.deadLetters.length > HISTORY) this.deadLetters.shift();
    }
    this.items.push(item);
    if (this.items.length > HISTORY) {
      const dropped = this.items.shift()!;
      this.images.delete(dropped.id);
    }
    this.send('item', item);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe();
    for (const client of this.clients) client.end();
    this.clients.clear();
    await this.server?.close();
  }

  private tick(): void {
    const snapshot = this.metrics.snapshot();
    const now = performance.now();
    const sorted = this.latencies.sort((a, b) => a - b);
    const pick = (q: number): number | null => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
    const point: StatsPoint = {
      t: Date.now() / 1000,
      rate: ((snapshot.recordsIn - this.lastIn) / (now - this.lastAt)) * 1000,
      p50: pick(0.5),
      p95: pick(0.95),
      lag: this.lags.size === 0 ? null : [...this.lags.values()].reduce((a, b) => a + b, 0),
      recordsIn: snapshot.recordsIn,
      recordsOut: snapshot.recordsOut,
      deadLetters: snapshot.deadLetters,
      health: this.metrics.health().status,
    };
    this.latencies = [];
    this.lastIn = snapshot.recordsIn;
    this.lastAt = now;
    this.series.push(point);
    if (this.series.length > SERIES) this.series.shift();
    this.send('stats', point);
  }

  private send(event: string, data: unknown): void {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const client of this.clients) client.write(frame);
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/events') return this.subscribe(req, res);
    const image = /^\/image\/(\d+)$/.exec(path);
    if (image !== null) {
      const found = this.images.get(Number(image[1]));
      if (found === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': found.type, 'cache-control': 'max-age=3600' }).end(found.bytes);
      return;
    }
    const file = FILES[path];
    if (file === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' });
    createReadStream(file.path)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  /** SSE: first what happened so far (a page opened late still sees every image), then live events. */
  private subscribe(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`event: history\ndata: ${JSON.stringify({ items: this.items, deadLetters: this.deadLetters, series: this.series })}\n\n`);
    this.clients.add(res);
    req.on('close', () => this.clients.delete(res));
  }
}

/** The image bytes of a message: its value in `bytes` mode, the file under `root` in `paths` mode. */
export async function imageBytes(mode: 'paths' | 'bytes', root: string, value: Buffer | null, ok: boolean): Promise<Buffer | undefined> {
  if (value === null) return undefined;
  if (mode === 'bytes') return value;
  // Only files the pipeline already read under the root (ok results): a refused path is never opened.
  if (!ok) return undefined;
  const path = resolve(root, value.toString('utf8'));
  if (!path.startsWith(resolve(root) + sep)) return undefined;
  return readFile(path).catch(() => undefined);
}
