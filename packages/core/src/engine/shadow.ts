import type { Observer } from 'rxjs';
import type { RxmlErrorCode } from '../contract/errors.js';
import type { ModelSource } from '../contract/model-source.js';
import type { PredictSuccess } from '../contract/result.js';

/** What a `compare` function says about one record scored by both models. */
export interface ShadowAgreement {
  /** The two values agree (e.g. the same species, the same top-1 label). */
  readonly agree: boolean;
  /** How far apart the values are (e.g. max |Δ| of the probabilities); omitted when not meaningful. */
  readonly difference?: number;
}

/** One side (main or shadow) of a comparison, as plain data. */
export interface ShadowSide<Out> {
  /** Name and version of the model that answered (absent when the record failed before a model ran). */
  readonly model?: string;
  readonly version?: string;
  readonly ok: boolean;
  readonly value?: Out;
  /** Error code of a failed side. */
  readonly code?: RxmlErrorCode;
  /** Main: record entering the operator → result; shadow: hand-off to the shadow → result; ms. */
  readonly latencyMs?: number;
}

/** The value of a {@link ShadowComparison}: the verdict and both sides. */
export interface ShadowVerdict<Out> {
  /** Both sides succeeded and `compare` says they agree. */
  readonly agree: boolean;
  /** `compare`'s difference, when both sides succeeded and it gave one. */
  readonly difference?: number;
  readonly main: ShadowSide<Out>;
  readonly shadow: ShadowSide<Out>;
  /** The `splitModels` variant that answered on the main side. */
  readonly variant?: string;
  /** Records the shadow did not see so far in this subscription (its queue was full): a running total. */
  readonly dropped: number;
}

/**
 * One record scored by both the main model and the shadow. Shaped as a `PredictSuccess` whose
 * `value` is the verdict and whose `model` is the shadow's, so a stream of comparisons pipes
 * straight into `toKafka` (with `complete: false`: the main sink completes the source records).
 */
export type ShadowComparison<In, Out> = PredictSuccess<In, ShadowVerdict<Out>>;

/**
 * The `shadow` option of `predict` and the family operators: a second model that sees the same
 * records (the same parsed samples: nothing is decoded twice) and whose results never reach the
 * main output — only comparisons do.
 *
 * The shadow has its own micro-batches and model calls (same `batch` and `concurrency` as the main
 * path). It may fall behind: a record is handed to it only while fewer than `maxQueued` records
 * wait for it and its work on this thread has taken less than `maxEventLoopShare` of the time;
 * else the record is dropped for the shadow (counted: `dropped`; a counter, no allocation and no
 * clock read per record). The main path never waits for the shadow: the samples set aside for it
 * are handed over once per main batch, and its cost is about twice that share of the event loop
 * (measured by the bench suite `shadow`). When the source completes, the output completes once
 * the shadow has finished the records it holds, or after `drainTimeoutMs` (those still held count
 * as dropped).
 */
export interface ShadowOptions<In, Out> {
  /**
   * The shadow model source; it must fit the operator (e.g. `predictIris`' task) and have the main
   * model's signature (inputs and outputs: count, dtype, fixed dimensions) — checked at creation
   * for plain models (`INVALID_CONFIG`), version by version for an `Observable<Model>`. A `Model`
   * stays the caller's (never disposed); the versions of an `Observable<Model>` are owned by the
   * operator like any `ModelSource` (lifecycle events name the operator `<operator>:shadow`). A
   * shadow source that fails stops the shadow (a `failed` event); the main path goes on.
   */
  readonly model: ModelSource;
  /**
   * Most records handed to the shadow and not yet compared; a positive integer. Beyond it records
   * are dropped for the shadow (the main path is not affected). Default: `batch.size ×
   * (concurrency + 2)`, the main path's default high-water mark.
   */
  readonly maxQueued?: number;
  /**
   * Compares one record's main and shadow values. Default: the family's (`predictIris`: same
   * species, max |Δ probability|; `predictImage`: same top-1 label, |Δ top-1 probability|;
   * `predictKeras`: same argmax per output, max |Δ|), for `predict`: `agree` when the values are
   * deeply equal, `difference` the max |Δ| of their numbers. A throw is reported on
   * `rxml:callback:error` and that record gives no comparison.
   */
  readonly compare?: (main: Out, shadow: Out) => ShadowAgreement;
  /**
   * Called with each comparison. Guarded: a throw (or a rejected promise) goes to
   * `rxml:callback:error` and changes nothing.
   */
  readonly onComparison?: (comparison: ShadowComparison<In, Out>) => unknown;
  /**
   * Gets each comparison as `next`, and `complete` when the operator's subscription ends — e.g. an
   * RxJS `Subject` whose side of the pipeline writes to Kafka:
   * `comparisons.pipe(toKafka({ topic: 'iris-shadow', complete: false }))`. Guarded like
   * `onComparison`. Use one observer per subscription of the operator.
   */
  readonly comparisons?: Partial<Observer<ShadowComparison<In, Out>>>;
  /**
   * Largest share of wall time the shadow's work may take on this thread: its encode and decode,
   * the synchronous part of its `model.run` calls (all of a tfjs call on this thread, next to
   * nothing for a remote model or ONNX Runtime's thread pool) and the comparisons; a number in
   * (0, 1], 1 = no limit. A token bucket (bursts up to `share × 100 ms`): while it is empty, records
   * are dropped for the shadow (counted in `dropped`), so a shadow that is slow because it computes
   * more cannot take about this share of the CPU from the main path. The bucket starts empty and
   * is asked once per `batch.size` records entering (that many are admitted or dropped together).
   * What it cannot meter — each admitted record's bookkeeping on the main path and the garbage it
   * leaves, a model's own asynchronous continuations — costs about as much again (bench suite
   * `shadow`). Default 0.03 (`SHADOW_EVENT_LOOP_SHARE`): in the README Kafka pipeline the main path
   * keeps ≥ 0.9 × its throughput without a shadow.
   */
  readonly maxEventLoopShare?: number;
  /** After the source completes, how long to wait for the shadow's last records, ms (>= 0). Default 5000. */
  readonly drainTimeoutMs?: number;
}

/**
 * `predict`'s default `compare`: `agree` when the values are deeply equal (numbers, strings,
 * booleans, arrays, typed arrays, plain objects), `difference` the largest |Δ| between numbers at
 * the same place (absent when the values hold no numbers or differ in structure).
 */
export function compareValues(main: unknown, shadow: unknown): ShadowAgreement {
  const state = { equal: true, sameShape: true, numbers: 0, max: 0 };
  walk(main, shadow, state);
  return state.sameShape && state.numbers > 0 ? { agree: state.equal, difference: state.max } : { agree: state.equal };
}

interface WalkState {
  equal: boolean;
  sameShape: boolean;
  numbers: number;
  max: number;
}

function walk(a: unknown, b: unknown, state: WalkState): void {
  if (typeof a === 'number' && typeof b === 'number') {
    state.numbers++;
    const d = Math.abs(a - b);
    if (a !== b && !(Number.isNaN(a) && Number.isNaN(b))) state.equal = false;
    if (d > state.max || Number.isNaN(d)) state.max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    return;
  }
  const listA = asList(a);
  const listB = asList(b);
  if (listA !== undefined || listB !== undefined) {
    if (listA === undefined || listB === undefined || listA.length !== listB.length) {
      state.equal = false;
      state.sameShape = false;
      return;
    }
    for (let i = 0; i < listA.length; i++) walk(listA[i], listB[i], state);
    return;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length || keys.some((k) => !Object.hasOwn(b, k))) {
      state.equal = false;
      state.sameShape = false;
      return;
    }
    for (const k of keys) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], state);
    return;
  }
  if (a !== b) {
    state.equal = false;
    if (typeof a !== typeof b) state.sameShape = false;
  }
}

function asList(value: unknown): ArrayLike<unknown> | undefined {
  if (Array.isArray(value)) return value as unknown[];
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return value as unknown as ArrayLike<unknown>;
  return undefined;
}
