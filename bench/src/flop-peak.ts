import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LayersModel } from '@tensorflow/tfjs-layers';

export interface FlopPeak {
  readonly isa: string;
  readonly threads: number;
  /** Best of the runs, fp32 GFLOP/s (an FMA counts 2 FLOPs). */
  readonly gflops: number;
  readonly runs: readonly number[];
}

const SOURCE = fileURLToPath(new URL('../native/fma-peak.cpp', import.meta.url));

/**
 * This machine's fp32 FMA peak, now: bench/native/fma-peak.cpp compiled with
 * `g++ -O3 -march=native` (cached by source hash in the temp dir) and run on `threads` threads.
 * Measured in the same run as the models because the cores are shared and their share varies.
 */
export function measureFlopPeak(ms: number, threads = availableParallelism()): FlopPeak {
  const source = readFileSync(SOURCE);
  const exe = join(tmpdir(), `rxml-fma-peak-${createHash('sha256').update(source).digest('hex').slice(0, 12)}`);
  if (!existsSync(exe)) execFileSync('g++', ['-O3', '-march=native', '-pthread', '-o', exe, SOURCE], { stdio: 'inherit' });
  const run = (): { isa: string; gflops: number } => JSON.parse(execFileSync(exe, [String(threads), String(ms)], { encoding: 'utf8' })) as { isa: string; gflops: number };
  const first = run();
  return { isa: first.isa, threads, gflops: first.gflops, runs: [first.gflops] };
}

export function combinePeaks(a: FlopPeak, b: FlopPeak): FlopPeak {
  const runs = [...a.runs, ...b.runs];
  return { ...a, gflops: Math.max(...runs), runs };
}

export interface FlopCount {
  /** FLOPs for one sample (2 per multiply-add), convolutions, depthwise convolutions and dense layers. */
  readonly perSample: number;
  readonly byLayerType: Readonly<Record<string, number>>;
}

/**
 * Counts a LayersModel's multiply-adds per sample from its layers' kernels and output shapes:
 * Conv2D out_h·out_w·k_h·k_w·c_in·c_out, DepthwiseConv2D out_h·out_w·k_h·k_w·c_in·multiplier, Dense
 * in·out (× leading dims). Bias, batch norm and activations are left out (ORT folds or fuses them,
 * and they are < 1 % of a CNN's work).
 */
export function countFlops(model: LayersModel): FlopCount {
  const byLayerType: Record<string, number> = {};
  let total = 0;
  for (const layer of model.layers) {
    const type = layer.getClassName();
    if (type !== 'Conv2D' && type !== 'DepthwiseConv2D' && type !== 'Dense') continue;
    const kernel = layer.getWeights()[0];
    if (kernel === undefined) continue;
    const out = layer.outputShape as (number | null)[];
    // kernel.shape is number[]; index with fallbacks so a malformed kernel counts as 0, not NaN.
    const k = kernel.shape.map((d) => d ?? 0);
    let macs: number;
    if (type === 'Dense') {
      const lead = out.slice(1, -1).reduce<number>((a, d) => a * (d ?? 1), 1);
      macs = lead * (k[0] ?? 0) * (k[1] ?? 0);
    } else {
      // channels-last output [batch, h, w, c]; kernel [kh, kw, c_in, c_out | multiplier]
      macs = (out[1] ?? 0) * (out[2] ?? 0) * (k[0] ?? 0) * (k[1] ?? 0) * (k[2] ?? 0) * (k[3] ?? 0);
    }
    byLayerType[type] = (byLayerType[type] ?? 0) + 2 * macs;
    total += 2 * macs;
  }
  return { perSample: total, byLayerType };
}
