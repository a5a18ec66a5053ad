import type { SchedulerLike, Subscription } from 'rxjs';

export interface BatchOptions {
  /** Most records in one model call; a positive integer. Default 32. */
  readonly size?: number;
  /**
   * Longest a record waits for its batch to fill, from the first record of the batch, in ms (>= 0).
   * Default 5. While every model call slot is busy, the batch keeps filling up to `size`.
   */
  readonly maxLatencyMs?: number;
}

export interface BatcherConfig {
  readonly size: number;
  readonly maxLatencyMs: number;
  /** Batches running at once. */
  readonly concurrency: number;
  /** Runs the latency timer. */
  readonly scheduler: SchedulerLike;
}

export interface Batcher<E> {
  add(entry: E): void;
  /** No more entries will come: flush what is pending without waiting for the timer. */
  end(): void;
  /** Nothing pending, queued or running. */
  idle(): boolean;
  /** Stop: drop pending work and timers (unsubscribe). */
  close(): void;
}

/**
 * Stage 2, batcher: groups entries into batches of at most `size`, sealing a partial batch when
 * `maxLatencyMs` has passed since its first entry (a timer on `scheduler`), and runs at most
 * `concurrency` batches at once. A batch whose time is up but finds every slot busy keeps growing
 * until a slot frees: a slow model gets bigger batches, not a growing queue of small ones. `run`
 * calls `done` once when the batch has settled (possibly synchronously); then `afterRun` is called.
 */
export function createBatcher<E>(config: BatcherConfig, run: (batch: readonly E[], done: () => void) => void, afterRun: () => void): Batcher<E> {
  const { size, maxLatencyMs, concurrency, scheduler } = config;
  let pending: E[] = [];
  const sealed: E[][] = [];
  let running = 0;
  let due = false;
  let ended = false;
  let closed = false;
  let timer: Subscription | undefined;

  const clearTimer = (): void => {
    timer?.unsubscribe();
    timer = undefined;
  };

  function dispatch(): void {
    while (!closed && running < concurrency) {
      let batch = sealed.shift();
      if (batch === undefined) {
        if (pending.length === 0 || !(due || ended)) return;
        batch = pending;
        pending = [];
        due = false;
        clearTimer();
      }
      running++;
      let finished = false;
      run(batch, () => {
        if (finished) return;
        finished = true;
        running--;
        dispatch();
        afterRun();
      });
    }
  }

  return {
    add(entry): void {
      if (closed) return;
      pending.push(entry);
      if (pending.length >= size) {
        sealed.push(pending);
        pending = [];
        due = false;
        clearTimer();
      } else if (pending.length === 1 && !ended) {
        timer = scheduler.schedule(() => {
          timer = undefined;
          due = true;
          dispatch();
        }, maxLatencyMs);
      }
      dispatch();
    },
    end(): void {
      ended = true;
      dispatch();
    },
    idle: () => pending.length === 0 && sealed.length === 0 && running === 0,
    close(): void {
      closed = true;
      clearTimer();
      pending = [];
      sealed.length = 0;
    },
  };
}
