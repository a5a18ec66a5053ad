import { RxmlError } from '@rxml/core/contract';
import type { MetricsHandle } from './enable-metrics.js';
import type { PipelineSnapshot } from './pipeline-state.js';

export interface StatusLineOptions {
  /** Period, ms. Default 10000. */
  readonly intervalMs?: number;
  /** Where a line goes (a logger's `info`, …). Default: stderr. A throw is ignored. */
  readonly log?: (line: string) => void;
  /** Clock, ms (tests). Default `performance.now`. */
  readonly now?: () => number;
}

/**
 * Formats one status line from two snapshots `elapsedMs` apart, e.g.
 * `rxml: in 1200 (+120, 12.0/s) out 1150 dead-lettered 30 in-flight 20 lag 5 model iris@3f2a… ok`.
 * The rate is records in per second over the period.
 */
export function formatStatusLine(current: PipelineSnapshot, previous: PipelineSnapshot | undefined, elapsedMs: number, health: string): string {
  const added = current.recordsIn - (previous?.recordsIn ?? 0);
  const rate = elapsedMs > 0 ? (added / elapsedMs) * 1000 : 0;
  const parts = [
    `in ${current.recordsIn} (+${added}, ${rate.toFixed(1)}/s)`,
    `out ${current.recordsOut}`,
    `dead-lettered ${current.deadLetters}`,
    `in-flight ${current.inFlight}${current.paused ? ' (paused)' : ''}`,
    `lag ${current.lag ?? '-'}`,
    `model ${current.models.length === 0 ? '-' : current.models.map((m) => m.replace(/@(.{12}).+$/, '@$1…')).join(',')}`,
    health,
  ];
  return `rxml: ${parts.join(' ')}`;
}

/**
 * Writes a status line every `intervalMs` (default 10 s) for people who read logs, not dashboards:
 * records in (with the rate over the period), out, dead-lettered, in flight, total lag, serving
 * model versions and the health status. The timer does not keep the process alive. Returns the
 * function that stops it.
 */
export function startStatusLine(metrics: MetricsHandle, options: StatusLineOptions = {}): () => void {
  const intervalMs = options.intervalMs ?? 10_000;
  if (!(intervalMs > 0)) throw new RxmlError('INVALID_CONFIG', `startStatusLine: intervalMs must be > 0, got ${intervalMs}`);
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => performance.now());
  let previous = metrics.snapshot();
  let previousAt = now();
  const timer = setInterval(() => {
    const current = metrics.snapshot();
    const at = now();
    try {
      log(formatStatusLine(current, previous, at - previousAt, metrics.health().status));
    } catch {
      // a logger that throws must not stop the status line, nor the pipeline
    }
    previous = current;
    previousAt = at;
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
