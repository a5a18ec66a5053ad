import type { SchedulerLike } from 'rxjs';
import type { Model, RunOptions, TensorData } from '../../src/index.js';

type State<T> = { readonly kind: 'pending' } | { readonly kind: 'ok'; readonly value: T } | { readonly kind: 'failed'; readonly error: unknown };

/**
 * A thenable settled by an RxJS scheduler instead of the microtask queue: under `TestScheduler`
 * its callbacks run in the virtual frame it settles in, so marble tests can give a model call or an
 * asynchronous `select` a duration in virtual milliseconds. (Not a Promise: it settles
 * synchronously and does not adopt returned thenables — enough for the engine, which only calls
 * `then(ok, fail)`.)
 */
export class VirtualPromise<T> implements PromiseLike<T> {
  private state: State<T> = { kind: 'pending' };
  private readonly listeners: (() => void)[] = [];

  static settleAfter<T>(scheduler: SchedulerLike, delay: number, produce: () => T): VirtualPromise<T> {
    const promise = new VirtualPromise<T>();
    scheduler.schedule(() => {
      try {
        promise.resolve(produce());
      } catch (error) {
        promise.reject(error);
      }
    }, delay);
    return promise;
  }

  resolve(value: T): void {
    this.settle({ kind: 'ok', value });
  }

  reject(error: unknown): void {
    this.settle({ kind: 'failed', error });
  }

  then<R1 = T, R2 = never>(onOk?: ((value: T) => R1 | PromiseLike<R1>) | null, onFailed?: ((error: unknown) => R2 | PromiseLike<R2>) | null): PromiseLike<R1 | R2> {
    const next = new VirtualPromise<R1 | R2>();
    const run = (): void => {
      const state = this.state;
      try {
        if (state.kind === 'ok') next.resolve(onOk ? (onOk(state.value) as R1) : (state.value as unknown as R1));
        else if (state.kind === 'failed') {
          if (onFailed) next.resolve(onFailed(state.error) as R2);
          else next.reject(state.error);
        }
      } catch (error) {
        next.reject(error);
      }
    };
    if (this.state.kind === 'pending') this.listeners.push(run);
    else run();
    return next;
  }

  private settle(state: State<T>): void {
    if (this.state.kind !== 'pending') return;
    this.state = state;
    for (const listener of this.listeners.splice(0)) listener();
  }
}

/** One call of a {@link VirtualModel}: batch size and the virtual time it started. */
export interface VirtualCall {
  readonly size: number;
  readonly at: number;
}

export interface VirtualModel extends Model {
  readonly calls: VirtualCall[];
  /** The `signal` of each call's `RunOptions`, in call order. */
  readonly signals: (AbortSignal | undefined)[];
  /** Virtual times at which `dispose()` was called (more than one entry is a bug). */
  readonly disposedAt: number[];
}

export interface VirtualBehaviour {
  readonly delay?: (call: number) => number;
  readonly fails?: (call: number) => boolean;
  /** `Model.version`; default `v1`. */
  readonly version?: string;
  /** What each input value becomes; default × 10. */
  readonly output?: (x: number) => number;
  /** The input specs; default one `[null, 1]` float32 input. */
  readonly inputs?: Model['inputs'];
}

/**
 * An in-test `Model` for marble tests of the engine only (the behaviour of real models is tested
 * with real tfjs models elsewhere): input `[n, 1]` float32, output the input × 10 (or
 * `behaviour.output`). Each call takes `delay(call)` virtual ms on `scheduler` and throws
 * `model call N failed` when `fails(call)`. `run` returns a {@link VirtualPromise} (cast: the
 * `Model` type says Promise) so the engine sees the call end inside the virtual frame.
 */
export function virtualModel(scheduler: SchedulerLike, behaviour: VirtualBehaviour = {}): VirtualModel {
  const calls: VirtualCall[] = [];
  const signals: (AbortSignal | undefined)[] = [];
  const disposedAt: number[] = [];
  const output = behaviour.output ?? ((x: number) => x * 10);
  return {
    name: 'times-ten',
    version: behaviour.version ?? 'v1',
    runtime: 'in-test',
    inputs: behaviour.inputs ?? [{ name: 'x', shape: [null, 1], dtype: 'float32' }],
    outputs: [{ name: 'y', shape: [null, 1], dtype: 'float32' }],
    calls,
    signals,
    disposedAt,
    run(inputs: readonly TensorData[], options?: RunOptions): Promise<TensorData[]> {
      const call = calls.length;
      const input = inputs[0]!;
      calls.push({ size: input.shape[0] ?? 0, at: scheduler.now() });
      signals.push(options?.signal);
      const settled = VirtualPromise.settleAfter(scheduler, behaviour.delay?.(call) ?? 0, () => {
        if (behaviour.fails?.(call) === true) throw new Error(`model call ${call} failed`);
        return [{ data: Float32Array.from(input.data, output), shape: input.shape }];
      });
      return settled as unknown as Promise<TensorData[]>;
    },
    dispose() {
      disposedAt.push(scheduler.now());
    },
  };
}

/** `encode`/`decode` for {@link virtualModel}: one number per record. */
export const encodeNumbers = (xs: readonly number[]): TensorData => ({ data: Float32Array.from(xs), shape: [xs.length, 1] });
export const decodeNumbers = ([out]: readonly TensorData[]): number[] => Array.from(out!.data);
