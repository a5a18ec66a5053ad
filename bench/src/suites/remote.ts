/**
 * The Iris pipeline embedded vs served by a model server (issue 14): `predictIris` on the embedded
 * model, and on the same weights served by Seldon MLServer over v2 REST (JSON) and v2 gRPC
 * (raw_input_contents), for batch sizes 1–256. Batch 1 with concurrency 1 is the seed's design (one
 * call per record); larger batches are one request per micro-batch. Records/s over an open stream,
 * and per-record latency (record in → result out, p50/p99) in a closed loop of one batch at a time.
 *
 * MLServer comes from .venv-models (scripts/setup-model-servers.sh, run first) on loopback ports,
 * in this process's machine: the server's Python competes for the same cores as the pipeline.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { activeBackend, loadIrisModel, predictIris, type Model } from '@rxml/core';
import { loadRemoteModel } from '@rxml/remote';
import { from, lastValueFrom, toArray } from 'rxjs';
import { round, summarize, type LatencySummary } from '../stats.js';

export interface RemotePoint {
  readonly model: 'embedded' | 'remote-rest' | 'remote-grpc';
  readonly batchSize: number;
  readonly concurrency: number;
  readonly records: number;
  readonly recordsPerSec: number;
  /** Per record, entering predictIris → its result, ms, in a closed loop (one batch at a time). */
  readonly latency: LatencySummary;
  readonly loadAvg1m: number;
}

export interface RemoteResult {
  readonly backend: string;
  readonly server: string;
  readonly points: readonly RemotePoint[];
}

const root = fileURLToPath(new URL('../../../', import.meta.url));

function sampleRow(i: number): number[] {
  return [4.3 + (i % 36) / 10, 2 + (i % 24) / 10, 1 + (i % 59) / 10, 0.1 + (i % 25) / 10];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

async function startMlserver(): Promise<{ http: string; grpc: string; child: ChildProcess }> {
  const setup = spawnSync('bash', [`${root}scripts/setup-model-servers.sh`], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (setup.status !== 0) throw new Error('scripts/setup-model-servers.sh failed');
  const [http, grpc, metrics] = [await freePort(), await freePort(), await freePort()];
  const child = spawn(`${root}.venv-models/mlserver/bin/mlserver`, ['start', `${root}.venv-models/models`], {
    env: { ...process.env, MLSERVER_HOST: '127.0.0.1', MLSERVER_HTTP_PORT: String(http), MLSERVER_GRPC_PORT: String(grpc), MLSERVER_METRICS_PORT: String(metrics) },
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${http}`;
  const deadline = Date.now() + 180_000;
  while (!(await fetch(`${url}/v2/models/iris/ready`).then((r) => r.status === 200, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('MLServer did not start');
    await new Promise((r) => setTimeout(r, 250));
  }
  return { http: url, grpc: `127.0.0.1:${grpc}`, child };
}

async function measure(model: Model, kind: RemotePoint['model'], batchSize: number, concurrency: number, records: number, latencyRounds: number): Promise<RemotePoint> {
  const rows = Array.from({ length: records }, (_, i) => sampleRow(i));
  const warm = rows.slice(0, Math.min(records, batchSize * 2));
  await lastValueFrom(from(warm).pipe(predictIris(model, { batch: { size: batchSize, maxLatencyMs: 2 }, concurrency }), toArray()));
  const t0 = performance.now();
  const results = await lastValueFrom(from(rows).pipe(predictIris(model, { batch: { size: batchSize, maxLatencyMs: 2 }, concurrency }), toArray()));
  const ms = performance.now() - t0;
  for (const r of results) if (!r.ok) throw r.error;
  // Latency: closed loop, one batch of records at a time (no backlog queueing in the figure).
  const latencies: number[] = [];
  for (let round = 0; round < latencyRounds; round++) {
    const batch = rows.slice((round * batchSize) % Math.max(1, records - batchSize), ((round * batchSize) % Math.max(1, records - batchSize)) + batchSize);
    for (const r of await lastValueFrom(from(batch).pipe(predictIris(model, { batch: { size: batchSize, maxLatencyMs: 2 } }), toArray()))) {
      if (!r.ok) throw r.error;
      latencies.push(r.latencyMs);
    }
  }
  return { model: kind, batchSize, concurrency, records, recordsPerSec: round((records * 1000) / ms, 1), latency: summarize(latencies), loadAvg1m: round((await import('node:os')).loadavg()[0]!, 2) };
}

export async function remoteSuite(quick: boolean): Promise<RemoteResult> {
  const backend = await activeBackend();
  const server = await startMlserver();
  const embedded = await loadIrisModel();
  const rest = await loadRemoteModel({ url: server.http, model: 'iris', timeoutMs: 30_000 });
  const grpc = await loadRemoteModel({ transport: 'grpc', url: server.grpc, model: 'iris', timeoutMs: 30_000 });
  const sizes = quick ? [1, 32] : [1, 8, 32, 64, 128, 256];
  const points: RemotePoint[] = [];
  try {
    for (const batchSize of sizes) {
      // Enough records for ≥ ~20 requests per point, bounded so batch 1 stays minutes, not hours.
      const records = quick ? Math.max(32, batchSize * 4) : Math.min(20_000, Math.max(1_000, batchSize * 40));
      // Batch 1, concurrency 1 = the seed's one call per record; batches run 4 requests in flight.
      const concurrency = batchSize === 1 ? 1 : 4;
      for (const [kind, model] of [['embedded', embedded], ['remote-rest', rest], ['remote-grpc', grpc]] as const) {
        points.push(await measure(model, kind, batchSize, concurrency, records, quick ? 5 : 50));
        process.stderr.write(`[remote] ${kind} batch ${batchSize}: ${points[points.length - 1]!.recordsPerSec} records/s\n`);
      }
    }
  } finally {
    embedded.dispose();
    rest.dispose();
    grpc.dispose();
    server.child.kill('SIGTERM');
  }
  return { backend: backend.name, server: 'Seldon MLServer 1.7.1 (mlserver-sklearn, parallel_workers 0), loopback', points };
}
