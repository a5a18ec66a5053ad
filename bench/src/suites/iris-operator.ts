import * as tf from '@tensorflow/tfjs-core';
import { Subject, firstValueFrom, from, lastValueFrom, take, toArray, count } from 'rxjs';
import { IRIS_MODEL_DIR, activeBackend, loadIrisModel, predictIris } from '@rxml/core';
import { loadRawNetwork } from '../raw-network.js';
import { interleavedRates, rate, round, summarize, type LatencySummary } from '../stats.js';

export interface BatchPoint {
  readonly batchSize: number;
  readonly rawRecordsPerSec: number;
  readonly operatorRecordsPerSec: number;
  /** operator ÷ raw, measured in the same run. */
  readonly ratio: number;
  readonly rawLatency: LatencySummary;
  readonly operatorLatency: LatencySummary;
}

export interface IrisOperatorResult {
  readonly backend: string;
  readonly points: readonly BatchPoint[];
  /** Best-batch operator records/s ÷ batch-1 operator records/s. */
  readonly microBatchingGain: number;
  readonly bestBatchSize: number;
}

function sampleRow(i: number): number[] {
  return [4.3 + (i % 36) / 10, 2 + (i % 24) / 10, 1 + (i % 59) / 10, 0.1 + (i % 25) / 10];
}

/** predictIris vs raw `LayersModel.predict` on pre-built batches of the same size, same process. */
export async function irisOperatorSuite(quick: boolean): Promise<IrisOperatorResult> {
  const backend = await activeBackend();
  const model = await loadIrisModel();
  const network = await loadRawNetwork(IRIS_MODEL_DIR);
  const minMs = quick ? 150 : 1500;
  const sizes = quick ? [1, 32, 512] : [1, 8, 32, 128, 512];
  const points: BatchPoint[] = [];
  try {
    for (const batchSize of sizes) {
      const x = tf.tensor2d(Array.from({ length: batchSize }, (_, i) => sampleRow(i)));
      const rawCallMs: number[] = [];
      const rawCall = (): number => {
        const t0 = performance.now();
        tf.tidy(() => (network.predict(x, { batchSize }) as tf.Tensor).dataSync());
        rawCallMs.push(performance.now() - t0);
        return batchSize;
      };
      // Size one operator run to ~10 ms of raw work, so both sides are sampled equally often.
      const probe = await rate(rawCall, Math.min(100, minMs));
      const perRun = Math.max(batchSize * 4, Math.min(200_000, Math.ceil(probe.perSecond * 0.01)));
      const records = Array.from({ length: perRun }, (_, i) => sampleRow(i));
      const operatorRun = (): Promise<number> =>
        lastValueFrom(from(records).pipe(predictIris(model, { batch: { size: batchSize, maxLatencyMs: 1000 } }), count()));
      // Alternating rounds, best round each: drift on shared cores hits raw and operator alike.
      const rates = await interleavedRates({ raw: rawCall, operator: operatorRun }, minMs * 2);
      x.dispose();
      const raw = { perSecond: rates.raw };
      const op = { perSecond: rates.operator };

      // Latency: closed loop, one batch of records pushed at a time, like the raw calls.
      const latencies: number[] = [];
      const input = new Subject<number[]>();
      const results = input.pipe(predictIris(model, { batch: { size: batchSize, maxLatencyMs: 1000 } }));
      const rounds = Math.max(20, Math.min(500, Math.floor(rawCallMs.length / 2)));
      for (let r = 0; r < rounds; r++) {
        const batch = firstValueFrom(results.pipe(take(batchSize), toArray()));
        await Promise.resolve();
        for (let i = 0; i < batchSize; i++) input.next(sampleRow(i));
        for (const res of await batch) if (res.ok) latencies.push(res.latencyMs);
      }
      points.push({
        batchSize,
        rawRecordsPerSec: round(raw.perSecond, 0),
        operatorRecordsPerSec: round(op.perSecond, 0),
        ratio: round(op.perSecond / raw.perSecond),
        rawLatency: summarize(rawCallMs),
        operatorLatency: summarize(latencies),
      });
    }
  } finally {
    model.dispose();
    network.dispose();
  }
  const batch1 = points.find((p) => p.batchSize === 1)!;
  const best = points.reduce((a, b) => (b.operatorRecordsPerSec > a.operatorRecordsPerSec ? b : a));
  return {
    backend: backend.name,
    points,
    microBatchingGain: round(best.operatorRecordsPerSec / batch1.operatorRecordsPerSec, 1),
    bestBatchSize: best.batchSize,
  };
}
