import { Subject, type Observable, type Observer, type OperatorFunction, type SchedulerLike, type Subscriber, type Subscription, type TeardownLogic } from 'rxjs';
import { CHANNELS, guardCallback, hasSubscribers, publish, type ShadowComparisonMessage } from '../../contract/diagnostics.js';
import { toRxmlError } from '../../contract/errors.js';
import type { ModelIdentity } from '../../contract/model.js';
import { inputErrorOf, withInputError, type PredictResult } from '../../contract/result.js';
import type { ShadowAgreement, ShadowComparison, ShadowSide } from '../shadow.js';
import { isThenable } from './settle.js';

/** A record on the main path when a shadow runs: the element and its shadow bookkeeping. */
export interface Shadowed<In, Out> {
  readonly input: In;
  /** Handed to the shadow and not yet compared. */
  queued: boolean;
  main?: PredictResult<Shadowed<In, Out>, Out> | undefined;
  shadow?: PredictResult<ShadowEntry<In, Out, unknown>, Out> | undefined;
}

/** What the shadow's own `predict` gets: the record and the sample the main path selected for it. */
export interface ShadowEntry<In, Out, S> {
  readonly record: Shadowed<In, Out>;
  readonly sample: S;
}

/** `ShadowOptions` with defaults applied and values checked. */
export interface ShadowConfig<In, Out> {
  readonly maxQueued: number;
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
  /** The main `predict` (one model or a split) with `select` wrapped by `tap`, which hands the sample to the shadow. */
  readonly main: (tap: (record: Shadowed<In, Out>, sample: S) => void) => OperatorFunction<Shadowed<In, Out>, PredictResult<Shadowed<In, Out>, Out>>;
  /** The shadow's `predict`, unordered, on the main path's samples. */
  readonly shadow: OperatorFunction<ShadowEntry<In, Out, S>, PredictResult<ShadowEntry<In, Out, S>, Out>>;
}

/** Drop counts are published on `rxml:shadow:comparison` every this many drops (and at the end). */
const DROP_REPORT_EVERY = 100;

/**
 * The engine behind the `shadow` option, composed over two `predict`s:
 *
 * ```
 * source ─▶ wrap ─▶ predict(main) ───────────────────────────────▶ unwrap ─▶ subscriber
 *                     │ select(sample) ─▶ tap: queued < maxQueued?     │ main result
 *                     │                     yes ─▶ Subject ─▶ predict(shadow) ─▶ pair ─▶ compare ─▶ onComparison,
 *                     │                     no  ─▶ dropped++                               comparisons.next,
 *                                                                                          rxml:shadow:comparison
 * ```
 *
 * The main results go out as soon as the main `predict` emits them: the shadow never holds them
 * back. A record's main result is kept (beside its element) only while its shadow result is
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

  function tap(record: Shadowed<In, Out>, sample: S): void {
    if (ended || shadowStopped) return;
    if (queued >= config.maxQueued) {
      drop(1);
      return;
    }
    queued++;
    record.queued = true;
    toShadow.next({ record, sample });
  }

  function side(result: PredictResult<unknown, Out>, fallback: ModelIdentity | undefined): ShadowSide<Out> {
    if (result.ok) return { model: result.model.name, version: result.model.version, ok: true, value: result.value, latencyMs: result.latencyMs };
    return fallback === undefined ? { ok: false, code: result.error.code } : { model: fallback.name, version: fallback.version, ok: false, code: result.error.code };
  }

  function compared(record: Shadowed<In, Out>): void {
    const main = record.main!;
    const shadow = record.shadow!;
    record.main = undefined;
    record.shadow = undefined;
    record.queued = false;
    queued--;
    let agreement: ShadowAgreement = { agree: false };
    if (main.ok && shadow.ok) {
      try {
        agreement = config.compare(main.value, shadow.value);
      } catch (error) {
        reportCompareError(error);
        return;
      }
    }
    const variant = main.variant;
    const verdictMain = side(main, variant === undefined ? config.mainModel : undefined);
    const shadowId = shadow.ok ? shadow.model : shadowIdentity;
    const verdictShadow = side(shadow, shadowId);
    const agree = main.ok && shadow.ok && agreement.agree === true;
    const difference = main.ok && shadow.ok && typeof agreement.difference === 'number' ? agreement.difference : undefined;
    if (onComparison !== undefined || toObserver !== undefined) {
      const comparison: ShadowComparison<In, Out> = {
        ok: true,
        input: record.input,
        value: {
          agree,
          ...(difference === undefined ? {} : { difference }),
          main: verdictMain,
          shadow: verdictShadow,
          ...(variant === undefined ? {} : { variant }),
          dropped,
        },
        model: shadowIdentity,
        latencyMs: shadow.ok ? shadow.latencyMs : 0,
      };
      onComparison?.(comparison);
      toObserver?.(comparison);
    }
    if (hasSubscribers(CHANNELS.shadowComparison)) {
      const message: ShadowComparisonMessage = {
        type: 'compared',
        ...(verdictMain.model === undefined ? {} : { model: verdictMain.model, version: verdictMain.version }),
        ...(variant === undefined ? {} : { variant }),
        shadowModel: shadowId.name,
        shadowVersion: shadowId.version,
        agree,
        ...(difference === undefined ? {} : { difference }),
        ...(verdictMain.latencyMs === undefined ? {} : { latencyMs: verdictMain.latencyMs }),
        ...(verdictShadow.latencyMs === undefined ? {} : { shadowLatencyMs: verdictShadow.latencyMs }),
        ...(verdictMain.code === undefined ? {} : { code: verdictMain.code }),
        ...(verdictShadow.code === undefined ? {} : { shadowCode: verdictShadow.code }),
      };
      publish(CHANNELS.shadowComparison, message);
    }
  }

  function end(): void {
    if (ended) return;
    ended = true;
    drainTimer?.unsubscribe();
    drainTimer = undefined;
    if (queued > 0) drop(queued);
    queued = 0;
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
    toShadow.pipe(operators.shadow).subscribe({
      next(result) {
        const record = result.input.record;
        if (result.ok) shadowIdentity = result.model;
        if (!record.queued || ended) return;
        record.shadow = result;
        if (record.main !== undefined) compared(record);
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
    completeIfDrained();
  }

  const wrapped = new Subject<Shadowed<In, Out>>();
  subscriptions.push(
    wrapped.pipe(operators.main(tap)).subscribe({
      next(result) {
        const record = result.input;
        if (subscriber.closed) return;
        subscriber.next({ ...result, input: record.input });
        // The main result is out; now its comparison, if the shadow has answered already.
        if (record.queued && !ended) {
          record.main = result;
          if (record.shadow !== undefined) compared(record);
        }
      },
      error(error: unknown) {
        end();
        subscriber.error(error);
      },
      complete() {
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

  subscriptions.push(
    source.subscribe({
      next(input) {
        if (subscriber.closed) return;
        const record: Shadowed<In, Out> = { input, queued: false };
        const unreadable = inputErrorOf(input);
        wrapped.next(unreadable === undefined ? record : withInputError(record, unreadable));
      },
      error: (error: unknown) => wrapped.error(error),
      complete: () => wrapped.complete(),
    }),
  );

  return () => {
    end();
    for (const subscription of subscriptions) subscription.unsubscribe();
  };
}

/** Wraps a `select` so that each sample is also handed to `tap` (after it resolves, for a promise). */
export function tapSelect<In, Out, S>(
  select: (input: In) => S | PromiseLike<S>,
  tap: (record: Shadowed<In, Out>, sample: S) => void,
): (record: Shadowed<In, Out>) => S | PromiseLike<S> {
  return (record) => {
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
