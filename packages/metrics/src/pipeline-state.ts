/**
 * What the metrics handle knows about the running pipeline beyond the Prometheus series: totals for
 * the status line, each partition's lag and commit progress for the health check, the serving model
 * versions. Fed by `enableMetrics`' channel subscribers; read by `health()`, `snapshot()`, the status
 * line and the demo's live page.
 */

import type { KafkaOffset } from '@rxml/core/contract';

/** One assigned partition as the source last reported it. */
export interface PartitionState {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  /** End offset − committed offset, records; undefined until the source reported it. */
  readonly lag: number | undefined;
  /** Last committed offset (the next offset to consume), as Kafka commits it: a decimal string. */
  readonly committed: KafkaOffset | undefined;
  /** When the partition last made progress: its committed offset advanced or its lag was 0 (ms since epoch). */
  readonly progressAt: number;
}

/** A point-in-time copy of the counters (all counts since `enableMetrics`). */
export interface PipelineSnapshot {
  /** Records the sources emitted. */
  readonly recordsIn: number;
  /** Results written to an output topic. */
  readonly recordsOut: number;
  /** Records written to a dead-letter topic. */
  readonly deadLetters: number;
  /** Results of the predict operators: ok and failed. */
  readonly predictions: { readonly ok: number; readonly failed: number };
  /** Records emitted by a source and not yet completed (output acked). */
  readonly inFlight: number;
  /** True while a source is paused for backpressure. */
  readonly paused: boolean;
  /** Sum of the partitions' lags, records (undefined before any lag report). */
  readonly lag: number | undefined;
  readonly partitions: readonly PartitionState[];
  /** `name@version` of each model that ran a batch or was loaded/swapped in, latest first. */
  readonly models: readonly string[];
  /** Set once a source or sink failed, was fenced, or `reportFailure` was called. */
  readonly failure: { readonly kind: 'failed' | 'fenced'; readonly reason: string; readonly at: number } | undefined;
}

const keyOf = (group: string, topic: string, partition: number): string => `${group}\u0000${topic}\u0000${partition}`;

export class PipelineState {
  recordsIn = 0;
  recordsOut = 0;
  deadLetters = 0;
  predictedOk = 0;
  predictedFailed = 0;
  completed = 0;
  readonly pausedSources = new Set<string>();
  private readonly partitions = new Map<string, PartitionState>();
  /** model name → version, in order of last use. */
  private readonly models = new Map<string, string>();
  failure: PipelineSnapshot['failure'];

  constructor(private readonly now: () => number) {}

  useModel(name: string, version: string | undefined): void {
    if (version === undefined) return;
    if (this.models.get(name) === version) return;
    this.models.delete(name);
    this.models.set(name, version);
  }

  releaseModel(name: string, version: string): void {
    if (this.models.get(name) === version) this.models.delete(name);
  }

  lag(group: string, topic: string, partition: number, lag: number, committed: string | undefined): void {
    const key = keyOf(group, topic, partition);
    const before = this.partitions.get(key);
    const advanced = committed !== undefined && committed !== before?.committed;
    this.partitions.set(key, {
      group,
      topic,
      partition,
      lag,
      committed: committed ?? before?.committed,
      progressAt: before === undefined || advanced || lag === 0 ? this.now() : before.progressAt,
    });
  }

  committed(group: string, topic: string, partition: number, offset: KafkaOffset): void {
    const key = keyOf(group, topic, partition);
    const before = this.partitions.get(key);
    if (before?.committed === offset) return;
    this.partitions.set(key, { group, topic, partition, lag: before?.lag, committed: offset, progressAt: this.now() });
  }

  assigned(group: string, topic: string, partition: number): void {
    const key = keyOf(group, topic, partition);
    if (!this.partitions.has(key)) this.partitions.set(key, { group, topic, partition, lag: undefined, committed: undefined, progressAt: this.now() });
  }

  revoked(group: string, topic: string, partition: number): void {
    this.partitions.delete(keyOf(group, topic, partition));
  }

  /** Forgets every partition of `group` (the source closed). */
  closed(group: string): void {
    for (const [key, state] of this.partitions) if (state.group === group) this.partitions.delete(key);
    this.pausedSources.delete(group);
  }

  fail(kind: 'failed' | 'fenced', reason: string): void {
    // The first failure is the cause; later ones are usually its consequences.
    this.failure ??= { kind, reason, at: this.now() };
  }

  /** Partitions with lag > 0 whose committed offset has not advanced for `stuckAfterMs`. */
  stuck(stuckAfterMs: number): PartitionState[] {
    const now = this.now();
    return [...this.partitions.values()].filter((p) => p.lag !== undefined && p.lag > 0 && now - p.progressAt >= stuckAfterMs);
  }

  snapshot(): PipelineSnapshot {
    const partitions = [...this.partitions.values()];
    const lags = partitions.filter((p) => p.lag !== undefined);
    return {
      recordsIn: this.recordsIn,
      recordsOut: this.recordsOut,
      deadLetters: this.deadLetters,
      predictions: { ok: this.predictedOk, failed: this.predictedFailed },
      inFlight: Math.max(0, this.recordsIn - this.completed),
      paused: this.pausedSources.size > 0,
      lag: lags.length === 0 ? undefined : lags.reduce((sum, p) => sum + (p.lag ?? 0), 0),
      partitions,
      models: [...this.models].reverse().map(([name, version]) => `${name}@${version}`),
      failure: this.failure,
    };
  }
}
