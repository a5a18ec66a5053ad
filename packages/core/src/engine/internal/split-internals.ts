import { Subject, type Observable, type OperatorFunction, type Subscriber, type Subscription, type TeardownLogic } from 'rxjs';
import { inputErrorOf, withInputError, type PredictResult } from '../../contract/result.js';
import type { SplitModels } from '../split-models.js';
import { routeRecord } from '../split-models.js';
import type { FlowGuardConfig } from './flow-guard.js';
import { createOutputStage } from './output.js';

/** A record on its way to one variant: its place in the input and the element. */
export interface Routed<In> {
  readonly seq: number;
  readonly input: In;
}

/** One variant's operator: a whole `predict` on its model, fed the records routed to it. */
export interface VariantOperator<In, Out> {
  readonly name: string;
  readonly operator: OperatorFunction<Routed<In>, PredictResult<Routed<In>, Out>>;
}

export interface SplitConfig {
  readonly ordered: boolean;
  readonly backpressure: FlowGuardConfig | undefined;
}

/**
 * The engine behind a `splitModels` split, composed over one `predict` per variant:
 *
 * ```
 *            ┌─▶ Subject ─▶ predict(variant 0) ─┐
 * source ─▶ route (SHA-256 of key) ─▶ …        ├─▶ sequencer (input order) ─▶ subscriber
 *            └─▶ Subject ─▶ predict(variant n) ─┘        flow guard (records held)
 * ```
 *
 * Each variant batches and calls its own model; the variant operators run unordered and the
 * sequencer restores input order. A record whose key fails gets an `INVALID_INPUT` result (an
 * unreadable element keeps its own error). Results get the variant's name. Completes when the
 * source has completed and every variant has. Only an error of the source errors the output.
 */
export function splitInternals<In, Out>(
  source: Observable<In>,
  subscriber: Subscriber<PredictResult<In, Out>>,
  split: SplitModels<In>,
  variants: readonly VariantOperator<In, Out>[],
  config: SplitConfig,
): TeardownLogic {
  let nextSeq = 0;
  let sourceDone = false;
  let variantsDone = 0;
  const inputs = variants.map(() => new Subject<Routed<In>>());
  const subscriptions: Subscription[] = [];

  const output = createOutputStage<PredictResult<In, Out>>(subscriber, config, undefined, completeIfDone);
  const settle = output.settle;
  function completeIfDone(): void {
    if (sourceDone && variantsDone === variants.length && output.held() === 0) subscriber.complete();
  }

  variants.forEach((variant, i) => {
    subscriptions.push(
      inputs[i]!.pipe(variant.operator).subscribe({
        next: (r) => {
          // The engine made this result object for this record alone and keeps no reference to it
          // once emitted: put the caller's element back and name the variant rather than copy it.
          const seq = r.input.seq;
          const result = r as unknown as { input: In; variant: string };
          result.input = r.input.input;
          result.variant = variant.name;
          settle(seq, result as unknown as PredictResult<In, Out>);
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          variantsDone++;
          completeIfDone();
        },
      }),
    );
  });

  subscriptions.push(
    source.subscribe({
      next(input) {
        if (subscriber.closed) return;
        const seq = nextSeq++;
        output.expect(seq);
        const unreadable = inputErrorOf(input);
        const route = routeRecord(split, input);
        output.received();
        if (typeof route !== 'number') {
          settle(seq, { ok: false, input, error: (unreadable ?? route) });
          return;
        }
        const routed: Routed<In> = { seq, input };
        inputs[route]!.next(unreadable === undefined ? routed : withInputError(routed, unreadable));
      },
      error(error: unknown) {
        subscriber.error(error);
      },
      complete() {
        sourceDone = true;
        for (const input of inputs) input.complete();
        completeIfDone();
      },
    }),
  );

  return () => {
    for (const subscription of subscriptions) subscription.unsubscribe();
  };
}
