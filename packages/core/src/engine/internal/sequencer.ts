/**
 * Stage 5, sequencer: puts results back in input order (or passes them straight through when unordered) and counts the
 * records that entered but have not been emitted — the number backpressure is measured in.
 */
export interface Sequencer<T> {
  /** A record with this sequence number entered. */
  expect(seq: number): void;
  /** Its result is ready. */
  put(seq: number, result: T): void;
  /** Records entered and not yet emitted. */
  held(): number;
}

export function createSequencer<T>(ordered: boolean, emit: (result: T) => void): Sequencer<T> {
  let outstanding = 0;
  let nextToEmit = 0;
  const ready = new Map<number, T>();
  return {
    expect(): void {
      outstanding++;
    },
    put(seq, result): void {
      if (!ordered) {
        outstanding--;
        emit(result);
        return;
      }
      if (seq === nextToEmit) {
        // In order already (a batch settling in input order): no map entry per record.
        nextToEmit++;
        outstanding--;
        emit(result);
        if (ready.size === 0) return;
      } else ready.set(seq, result);
      while (ready.has(nextToEmit)) {
        const next = ready.get(nextToEmit) as T;
        ready.delete(nextToEmit);
        nextToEmit++;
        outstanding--;
        emit(next);
      }
    },
    held: () => outstanding,
  };
}
