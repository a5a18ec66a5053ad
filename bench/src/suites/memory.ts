import * as tf from '@tensorflow/tfjs-core';
import { Observable, lastValueFrom, count, tap } from 'rxjs';
import { activeBackend, loadIrisModel, predictIris, type FlowControl } from '@rxml/core';
import { round } from '../stats.js';

export interface MemoryPoint {
  readonly records: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly numTensors: number;
}

export interface MemoryResult {
  readonly backend: string;
  readonly points: readonly MemoryPoint[];
  /** RSS growth from the first checkpoint to the last, in percent. */
  readonly rssGrowthPercent: number;
  readonly numTensorsConstant: boolean;
}

function snapshot(records: number): MemoryPoint {
  const m = process.memoryUsage();
  return { records, rssMiB: round(m.rss / 2 ** 20, 1), heapUsedMiB: round(m.heapUsed / 2 ** 20, 1), numTensors: tf.memory().numTensors };
}

/** A pull-based source of `total` Iris records that honours pause/resume (what fromKafka does). */
function irisSource(total: number, control: { current?: FlowControl }): Observable<string> {
  return new Observable<string>((subscriber) => {
    let produced = 0;
    let paused = false;
    const pump = (): void => {
      while (!paused && produced < total && !subscriber.closed) {
        subscriber.next(`${4.3 + (produced % 36) / 10},${2 + (produced % 24) / 10},${1 + (produced % 59) / 10},${0.1 + (produced % 25) / 10}`);
        produced++;
      }
      if (produced === total) subscriber.complete();
    };
    control.current = { pause: () => (paused = true), resume: () => { paused = false; setImmediate(pump); } };
    pump();
  });
}

/** RSS and numTensors at start, after 100k and after 1M Iris records (quick: 10k and 100k). */
export async function memorySuite(quick: boolean): Promise<MemoryResult> {
  const backend = await activeBackend();
  const model = await loadIrisModel();
  const checkpoints = quick ? [10_000, 100_000] : [100_000, 1_000_000];
  const total = checkpoints[checkpoints.length - 1]!;
  const points: MemoryPoint[] = [snapshot(0)];
  const control: { current?: FlowControl } = {};
  let done = 0;
  try {
    await lastValueFrom(
      irisSource(total, control).pipe(
        predictIris(model, {
          batch: { size: 512, maxLatencyMs: 5 },
          backpressure: { control: { pause: () => control.current?.pause(), resume: () => control.current?.resume() }, highWaterMark: 4096 },
        }),
        tap(() => {
          done++;
          if (checkpoints.includes(done)) {
            global.gc?.();
            points.push(snapshot(done));
          }
        }),
        count(),
      ),
    );
  } finally {
    model.dispose();
  }
  const first = points[1]!;
  const last = points[points.length - 1]!;
  return {
    backend: backend.name,
    points,
    rssGrowthPercent: round(((last.rssMiB - first.rssMiB) / first.rssMiB) * 100, 1),
    numTensorsConstant: points.every((p) => p.numTensors === points[0]!.numTensors),
  };
}
