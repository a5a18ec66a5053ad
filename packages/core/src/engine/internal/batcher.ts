export interface BatchOptions {
  /** Most records in one model call. Default 32. */
  readonly size?: number;
  /**
   * Longest a record waits for its batch to fill, from the first record of the batch, in ms.
   * Default 5. While every model call slot is busy, the batch keeps filling up to `size`.
   */
  readonly maxLatencyMs?: number;
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
 * Groups entries into batches of at most `size`, sealing a partial batch when `maxLatencyMs` has
 * passed since its first entry, and runs at most `concurrency` batches at once. A batch whose time is
 * up but finds every slot busy keeps growing until a slot frees: a slow model gets bigger batches,
 * not a growing queue of small ones.
 */
export function createBatcher<E>(
  options: BatchOptions,
  concurrency: number,
  run: (batch: readonly E[]) => Promise<void>,
  afterRun: () => void,
): Batcher<E> {
  const size = Math.max(1, Math.floor(options.size ?? 32));
  const maxLatencyMs = Math.max(0, options.maxLatencyMs ?? 5);
  let pending: E[] = [];
  const sealed: E[][] = [];
  let running = 0;
  let due = false;
  let ended = false;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const clearTimer = (): void => {
    if (timer !== undefined) clearTimeout(timer);
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
      void run(batch).finally(() => {
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
        timer = setTimeout(() => {
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
