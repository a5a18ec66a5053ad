import { Observable, Subject, type Observer, type OperatorFunction, type SchedulerLike, type Subscriber, type Subscription, type TeardownLogic } from 'rxjs';
import { CHANNELS, guardCallback, hasSubscribers, publish, type ShadowComparisonMessage } from '../../contract/diagnostics.js';
import { toRxmlError } from '../../contract/errors.js';
import type { ModelIdentity } from '../../contract/model.js';
import { inputErrorOf, type PredictResult } from '../../contract/result.js';
import type { ShadowAgreement, ShadowComparison, ShadowSide, ShadowVerdict } from '../shadow.js';
import { isThenable } from './settle.js';

const RESERVED = 1;
const QUEUED = 2;
const DONE = 3;

/**
 * A record on the main path that holds a place in the shadow's queue: the element and its shadow
 * bookkeeping. Records that find the queue full (or the event-loop budget spent) enter the main
 * path as they are, unwrapped: a dropped record costs the main path nothing but an `instanceof`.
 */
export class ShadowRecord<In, Out> {
  /** RESERVED (a place taken at entry) → QUEUED (its sample went to the shadow) → DONE. */
  state: number = RESERVED;
  main: PredictResult<In, Out> | undefined = undefined;
  shadow: PredictResult<ShadowEntry<In, Out, unknown>, Out> | undefined = undefined;
  /** The sample the main path selected, once it has (the shadow's model input). */
  sample: unknown = undefined;
  constructor(readonly input: In) {}
  /** A record is its own {@link ShadowEntry}: no object per hand-off. */
  get record(): ShadowRecord<In, Out> {
    return this;
  }
}

/** What the main operator gets: the element, or the element wrapped when it has a place in the shadow's queue. */
export type MainInput<In, Out> = In | ShadowRecord<In, Out>;

/** The element of a main-path input. */
export function elementOf<In, Out>(input: MainInput<In, Out>): In {
  return input instanceof ShadowRecord ? (input.input) : input;
}

/** What the shadow's own `predict` gets: the record and the sample the main path selected for it. */
export interface ShadowEntry<In, Out, S> {
  readonly record: ShadowRecord<In, Out>;
  readonly sample: S;
}

/** `ShadowOptions` with defaults applied and values checked. */
export interface ShadowConfig<In, Out> {
  readonly maxQueued: number;
  /**
   * Records admitted or dropped on one decision: the event-loop budget is read once per this many
   * records (the main batch size), so a dropped record costs the main path a counter, not a clock read.
   */
  readonly admitBlock: number;
  /** Share of wall time the shadow's work (encode, model calls' synchronous part, decode, comparisons) may take on this thread, in (0, 1]; 1 = no limit. */
  readonly maxEventLoopShare: number;
  readonly drainTimeoutMs: number;
  readonly compare: (main: Out, shadow: Out) => ShadowAgreement;
  readonly onComparison: ((comparison: ShadowComparison<In, Out>) => unknown) | undefined;
  readonly comparisons: Partial<Observer<ShadowComparison<In, Out>>> | undefined;
  /** Identity of the shadow model, for events before its first result. */
  readonly shadowModel: ModelIdentity;
  /** Identity of the main model for a failure result (absent under a split: the variant's is not known). */
  readonly mainModel: ModelIdentity | undefined;
  readonly scheduler: SchedulerLike;
}

/** Both operators a shadowed subscription composes, built once when the operator is created. */
export interface ShadowOperators<In, S, Out> {
  /**
   * The main `predict` (one model or a split) with `select` wrapped by `tap`, which sets the sample
   * aside for the shadow, and `encode` preceded by `handOff`, which hands the samples set aside to
   * the shadow at once: once per main batch, not once per record.
   */
  readonly main: (tap: (record: ShadowRecord<In, Out>, sample: S) => void, handOff: () => void) => OperatorFunction<MainInput<In, Out>, PredictResult<MainInput<In, Out>, Out>>;
  /**
   * The shadow's `predict`, unordered, on the main path's samples; its work on this thread (encode,
   * the synchronous part of each model call, and everything that runs when a call settles: decode,
   * results, comparisons) runs inside `meter`, which charges its time to the event-loop budget.
   */
  readonly shadow: (meter: Meter) => OperatorFunction<ShadowEntry<In, Out, S>, PredictResult<ShadowEntry<In, Out, S>, Out>>;
}

/**
 * Runs `work` and charges its wall time to the shadow's event-loop budget; nested calls are charged
 * once, by the outermost (two clock reads per metered stretch of work, whatever it holds).
 */
export type Meter = <T>(work: () => T) => T;

/** Drop counts are published on `rxml:shadow:comparison` every this many drops (and at the end). */
const DROP_REPORT_EVERY = 100;

/** The event-loop budget may save up this much wall time's worth of blocking (ms × share): bursts up to 100 ms. */
const BUDGET_WINDOW_MS = 100;

/**
 * A token bucket over the time the shadow's work takes on this thread: it fills at `share` ms per
 * ms of wall time (up to `share × 100 ms`) and each piece of work's time is taken out of it. A
 * record is handed to the shadow only while the bucket is not empty, so a shadow that computes on
 * this thread gets at most `share` of it over time, however slow it is.
 */
function eventLoopBudget(share: number): { allows(): boolean; spend(ms: number): void } {
  if (share >= 1) return { allows: () => true, spend: () => {} };
  const cap = share * BUDGET_WINDOW_MS;
  // Empty at the start: a new subscription gets no burst beyond its share (a short stream would otherwise give the shadow the whole burst on top).
  let tokens = 0;
  let at = performance.now();
  return {
    allows(): boolean {
      const now = performance.now();
      tokens = Math.min(cap, tokens + (now - at) * share);
      at = now;
      return tokens >= 0;
    },
    spend(ms: number): void {
      tokens -= ms;
    },
  };
}

/**
 * The engine behind the `shadow` option, composed over two `predict`s:
 *
 * ```
 * source ─▶ admit ─▶ predict(main) ─────────────────────────────────────────────▶ unwrap ─▶ subscriber
 *   block admitted (budget, once per │ select(sample) ─▶ tap: set aside                │ main result
 *   batch.size records) and queued   │ encode(batch)  ─▶ hand-off: the samples set aside ─▶ Subject
 *   < maxQueued? yes: ShadowRecord   │                    ─▶ predict(shadow) ─▶ pair ─▶ compare ─▶ onComparison,
 *   no: dropped++, element as is                                                      comparisons.next,
 *                                                                                     rxml:shadow:comparison
 * ```
 *
 * The main results go out as soon as the main `predict` emits them: the shadow never holds them
 * back. What the shadow may take from the main path is bounded twice: records (`maxQueued`) and
 * event-loop time (`maxEventLoopShare` of wall time, a token bucket charged by `meter`: the
 * hand-off, the shadow's encode, the synchronous part of its model calls and everything that runs
 * when one settles — decode, results, comparisons). A dropped record costs the main path a counter;
 * an admitted one a `ShadowRecord` (its own shadow entry) and an array slot until its main batch
 * hands the batch's samples over at once. A record's main result is kept (beside its element) only while its shadow result is
 * pending, so at most `maxQueued` records are held for the shadow. The output completes when the
 * main path has completed and the shadow has emptied its queue, or after `drainTimeoutMs` (the
 * records still queued count as dropped). A shadow that fails (its model source errors) stops
 * comparing (`failed` event); the main path goes on.
 */
export function shadowInternals<In, S, Out>(
  source: Observable<In>,
  subscriber: Subscriber<PredictResult<In, Out>>,
  operators: ShadowOperators<In, S, Out>,
  config: ShadowConfig<In, Out>,
): TeardownLogic {
  const onComparison = config.onComparison === undefined ? undefined : guardCallback('shadow.onComparison', config.onComparison);
  const observer = config.comparisons;
  const toObserver = observer?.next === undefined ? undefined : guardCallback('shadow.comparisons.next', (c: ShadowComparison<In, Out>) => observer.next!(c));
  const completeObserver = guardCallback('shadow.comparisons.complete', () => observer?.complete?.());
  // A throwing compare is reported like a throwing callback (rxml:callback:error) by rethrowing inside a guard.
  const reportCompareError = guardCallback('shadow.compare', (error: unknown) => {
    throw error;
  });

  let queued = 0;
  let dropped = 0;
  let unreportedDrops = 0;
  let mainDone = false;
  let shadowStopped = false;
  let ended = false;
  let drainTimer: Subscription | undefined;
  let shadowIdentity: ModelIdentity = config.shadowModel;
  const toShadow = new Subject<ShadowEntry<In, Out, S>>();
  const subscriptions: Subscription[] = [];

  function reportDrops(): void {
    if (unreportedDrops === 0) return;
    const count = unreportedDrops;
    unreportedDrops = 0;
    publish(CHANNELS.shadowComparison, () => ({ type: 'dropped', shadowModel: shadowIdentity.name, shadowVersion: shadowIdentity.version, count }));
  }

  function drop(count: number): void {
    dropped += count;
    unreportedDrops += count;
    if (unreportedDrops >= DROP_REPORT_EVERY) reportDrops();
  }

  const budget = eventLoopBudget(config.maxEventLoopShare);
  let metering = false;
  const meter: Meter = (work) => {
    if (metering) return work();
    metering = true;
    const started = performance.now();
    try {
      return work();
    } finally {
      metering = false;
      budget.spend(performance.now() - started);
    }
  };

  /** Records left in the current admission block, and whether the budget admits them. */
  let blockLeft = 0;
  let admitting = false;

  /**
   * A record entering: a place in the shadow's queue if there is one and its block is admitted,
   * else dropped for the shadow. The budget is asked once per `admitBlock` records (one clock read):
   * a dropped record costs two integer compares and a counter.
   */
  function admit(input: In): MainInput<In, Out> {
    if (ended || shadowStopped) return input;
    if (blockLeft === 0) {
      blockLeft = config.admitBlock;
      admitting = budget.allows();
    }
    blockLeft--;
    if (!admitting || queued >= config.maxQueued) {
      dropped++;
      if (++unreportedDrops >= DROP_REPORT_EVERY) reportDrops();
      return input;
    }
    if (inputErrorOf(input) !== undefined) return input; // unreadable: the main path fails it; nothing to compare
    queued++;
    return new ShadowRecord<In, Out>(input);
  }

  /** Samples set aside for the shadow since the last hand-off (in the order the main path selected them). */
  let setAside: ShadowEntry<In, Out, S>[] = [];

  /** Hands the samples set aside to the shadow, metered as one stretch of its work. */
  function handOff(): void {
    if (setAside.length === 0) return;
    const entries = setAside;
    setAside = [];
    meter(() => {
      for (const entry of entries) {
        if (ended || shadowStopped) return;
        toShadow.next(entry);
      }
    });
  }

  /** A place is given back without a comparison (its select failed: the main result is a failure of its own). */
  function release(record: ShadowRecord<In, Out>): void {
    record.state = DONE;
    if (ended || shadowStopped) return; // the places were all given back at once
    queued--;
    completeIfDrained();
  }

  function tap(record: ShadowRecord<In, Out>, sample: S): void {
    if (ended || shadowStopped || record.state !== RESERVED) return;
    record.state = QUEUED;
    record.sample = sample;
    setAside.push(record as ShadowRecord<In, Out> & ShadowEntry<In, Out, S>);
  }

  function side(result: PredictResult<unknown, Out>, fallback: ModelIdentity | undefined): ShadowSide<Out> {
    if (result.ok) return { model: result.model.name, version: result.model.version, ok: true, value: result.value, latencyMs: result.latencyMs };
    const model = result.model ?? fallback;
    return model === undefined ? { ok: false, code: result.error.code } : { model: model.name, version: model.version, ok: false, code: result.error.code };
  }

  function compared(record: ShadowRecord<In, Out>): void {
    const main = record.main!;
    const shadow = record.shadow!;
    record.main = undefined;
    record.shadow = undefined;
    record.sample = undefined;
    record.state = DONE;
    queued--;
    let agree = false;
    let difference: number | undefined;
    if (main.ok && shadow.ok) {
      try {
        const agreement = config.compare(main.value, shadow.value);
        agree = agreement.agree === true;
        if (typeof agreement.difference === 'number') difference = agreement.difference;
      } catch (error) {
        reportCompareError(error);
        return;
      }
    }
    const variant = main.variant;
    const mainId = main.model ?? (variant === undefined ? config.mainModel : undefined);
    const shadowId = shadow.model ?? shadowIdentity;
    if (onComparison !== undefined || toObserver !== undefined) {
      const value: { -readonly [K in keyof ShadowVerdict<Out>]: ShadowVerdict<Out>[K] } = { agree, main: side(main, mainId), shadow: side(shadow, shadowId), dropped };
      if (difference !== undefined) value.difference = difference;
      if (variant !== undefined) value.variant = variant;
      const comparison: ShadowComparison<In, Out> = { ok: true, input: record.input, value, model: shadowId, latencyMs: shadow.ok ? shadow.latencyMs : 0 };
      onComparison?.(comparison);
      toObserver?.(comparison);
    }
    if (hasSubscribers(CHANNELS.shadowComparison)) {
      // Built field by field: optional fields are left out, not set to undefined.
      const message: { -readonly [K in keyof ShadowComparisonMessage]: ShadowComparisonMessage[K] } = { type: 'compared', shadowModel: shadowId.name, shadowVersion: shadowId.version, agree };
      if (mainId !== undefined) {
        message.model = mainId.name;
        message.version = mainId.version;
      }
      if (variant !== undefined) message.variant = variant;
      if (difference !== undefined) message.difference = difference;
      if (main.ok) message.latencyMs = main.latencyMs;
      else message.code = main.error.code;
      if (shadow.ok) message.shadowLatencyMs = shadow.latencyMs;
      else message.shadowCode = shadow.error.code;
      publish(CHANNELS.shadowComparison, message);
    }
  }

  /** A comparison (compare, callbacks, channel) is the shadow's work on this thread too: it counts against its budget (once, when it runs inside a metered shadow call). */
  function meteredCompare(record: ShadowRecord<In, Out>): void {
    meter(() => compared(record));
  }

  function end(): void {
    if (ended) return;
    ended = true;
    drainTimer?.unsubscribe();
    drainTimer = undefined;
    if (queued > 0) drop(queued);
    queued = 0;
    setAside = [];
    reportDrops();
    completeObserver();
  }

  function completeIfDrained(): void {
    if (!mainDone || subscriber.closed) return;
    if (queued > 0 && !shadowStopped) return;
    end();
    subscriber.complete();
  }

  // The shadow first, so that a synchronous main path finds it subscribed.
  subscriptions.push(
    toShadow.pipe(operators.shadow(meter)).subscribe({
      next(result) {
        const record = result.input.record;
        if (result.ok) shadowIdentity = result.model;
        if (record.state !== QUEUED || ended || shadowStopped) return;
        record.shadow = result;
        if (record.main !== undefined) meteredCompare(record);
        completeIfDrained();
      },
      error(error: unknown) {
        stopShadow(error);
      },
      complete() {
        // Only after toShadow completed (the end) — nothing to do.
      },
    }),
  );

  function stopShadow(error: unknown): void {
    if (shadowStopped) return;
    shadowStopped = true;
    const reason = toRxmlError(error, 'MODEL_ERROR', `shadow model ${shadowIdentity.name}`);
    publish(CHANNELS.shadowComparison, () => ({ type: 'failed', shadowModel: shadowIdentity.name, shadowVersion: shadowIdentity.version, error: reason }));
    if (queued > 0) drop(queued);
    queued = 0;
    setAside = [];
    completeIfDrained();
  }

  // The source, each element admitted (wrapped) or not: a plain subscriber, no Subject between (one hop less per record).
  const admitted = new Observable<MainInput<In, Out>>((main) =>
    source.subscribe({
      next(input) {
        if (subscriber.closed) return;
        main.next(admit(input));
      },
      error: (error: unknown) => main.error(error),
      complete: () => main.complete(),
    }),
  );
  subscriptions.push(
    admitted.pipe(operators.main(tap, handOff)).subscribe({
      next(result) {
        if (subscriber.closed) return;
        const record = result.input;
        if (!(record instanceof ShadowRecord)) {
          subscriber.next(result as PredictResult<In, Out>);
          return;
        }
        // The engine made this result object for this record alone and keeps no reference to it once
        // emitted: put the caller's element back in place rather than copying the result.
        (result as { input: unknown }).input = record.input;
        const main = result as PredictResult<In, Out>;
        subscriber.next(main);
        // The main result is out; now its comparison, once the shadow has answered.
        if (record.state === RESERVED) release(record);
        else if (record.state === QUEUED && !ended && !shadowStopped) {
          record.main = main;
          if (record.shadow !== undefined) {
            meteredCompare(record);
            completeIfDrained();
          }
        }
      },
      error(error: unknown) {
        end();
        subscriber.error(error);
      },
      complete() {
        handOff(); // none left in practice: every main batch hands off before its encode
        mainDone = true;
        if (queued > 0 && !shadowStopped) {
          drainTimer = config.scheduler.schedule(() => {
            drainTimer = undefined;
            end();
            subscriber.complete();
          }, config.drainTimeoutMs);
        }
        completeIfDrained();
      },
    }),
  );

  return () => {
    end();
    for (const subscription of subscriptions) subscription.unsubscribe();
  };
}

/** Wraps a `select` so that the sample of a record holding a place in the shadow's queue is also handed to `tap` (after it resolves, for a promise). */
export function tapSelect<In, Out, S>(
  select: (input: In) => S | PromiseLike<S>,
  tap: (record: ShadowRecord<In, Out>, sample: S) => void,
): (input: MainInput<In, Out>) => S | PromiseLike<S> {
  return (input) => {
    if (!(input instanceof ShadowRecord)) return select(input);
    const record = input;
    const sample = select(record.input);
    if (!isThenable(sample)) {
      tap(record, sample);
      return sample;
    }
    return sample.then((resolved) => {
      tap(record, resolved);
      return resolved;
    });
  };
}
