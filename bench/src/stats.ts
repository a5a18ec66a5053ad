/** Small measurement helpers shared by every suite. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export interface LatencySummary {
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export function summarize(latenciesMs: readonly number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return { p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)) };
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Runs `fn` repeatedly for at least `minMs` (after one warm-up call) and returns calls/s. */
export async function rate(fn: () => Promise<number> | number, minMs: number): Promise<{ perSecond: number; units: number; ms: number }> {
  await fn();
  let units = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < minMs) {
    units += await fn();
    elapsed = performance.now() - start;
  }
  return { perSecond: (units * 1000) / elapsed, units, ms: elapsed };
}

/**
 * Measures several competitors in alternating rounds (A B C A B C …), each round at least
 * `minMs / rounds` long, and keeps each one's best round. On shared cores the CPU a process gets
 * drifts over seconds; alternating exposes every competitor to the same drift, and best-of keeps
 * the rounds least hurt by neighbours. Returns units/s per name.
 */
export async function interleavedRates<K extends string>(fns: Readonly<Record<K, () => Promise<number> | number>>, minMs: number, rounds = 3): Promise<Record<K, number>> {
  const names = Object.keys(fns) as K[];
  const best = {} as Record<K, number>;
  for (const name of names) {
    await fns[name](); // warm-up
    best[name] = 0;
  }
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      let units = 0;
      const start = performance.now();
      let elapsed = 0;
      while (elapsed < minMs / rounds) {
        units += await fns[name]();
        elapsed = performance.now() - start;
      }
      best[name] = Math.max(best[name], (units * 1000) / elapsed);
    }
  }
  return best;
}
