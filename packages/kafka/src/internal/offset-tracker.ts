/**
 * One emitted offset, from {@link OffsetTracker.track}: its position in the tracker's emission
 * order (a number, not an object per record); completed with {@link OffsetTracker.complete}.
 */
export type TrackedOffset = number;

/**
 * Offsets of one assigned partition that were emitted and not yet completed, in emission order.
 * Records of a partition are emitted in offset order, so the committable position is the offset
 * after the longest completed prefix: offset 7 done while 5 is pending commits nothing past 4.
 *
 * Offsets the client fetched but never hands over (transaction markers, aborted records,
 * compacted gaps) are entered with {@link skipTo} as already done, so the committed position
 * passes them once everything before them is completed, and the lag reaches zero.
 */
export class OffsetTracker {
  /** Emitted offsets in emission order (parallel arrays: no object per record), from `head` on pending or not yet passed. */
  private entries: number[] = [];
  private done: boolean[] = [];
  private head = 0;
  /** Emission position of `entries[0]` (grows as compaction drops the passed prefix). */
  private first = 0;
  /** Next offset to emit; lower ones were already emitted in this assignment (a re-fetch). */
  next: number | undefined;
  /** Offset to commit (last completed prefix + 1), when it moved past `committed`. */
  committable: number | undefined;
  committed: number | undefined;
  /** First offset seen in this assignment: the group's committed position (or the reset position) then. */
  base: number | undefined;
  /** Latest end offset (high watermark) the broker reported for the partition. */
  highWatermark: number | undefined;
  revoked = false;
  /**
   * Set when this tracker started after the topic was deleted and created again: the earliest
   * offset of the new log, committed by the source at the reset. An exactly-once sink takes it as
   * the committed position (the group's may still be the old log's).
   */
  resetFloor: number | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Registers an emitted offset; returns the handle to complete it. */
  add(offset: number): () => boolean {
    const entry = this.track(offset);
    return () => this.complete(entry);
  }

  /** Registers an emitted offset; {@link complete} it when done (no closure or object per offset). */
  track(offset: number): TrackedOffset {
    const position = this.first + this.entries.length;
    this.entries.push(offset);
    this.done.push(false);
    this.base ??= offset;
    this.next = offset + 1;
    return position;
  }

  /** Marks a tracked offset done; false when it already was (completion is idempotent). */
  complete(position: TrackedOffset): boolean {
    const i = position - this.first;
    // Below `first`: compacted away, which only happens to completed entries.
    if (i < 0 || this.done[i] !== false) return false;
    this.done[i] = true;
    if (!this.revoked) this.advance();
    return true;
  }

  /**
   * Everything up to `lastOffset` that was not emitted needs no processing (filtered by the
   * client). Returns true when that moved the committable position.
   */
  skipTo(lastOffset: number, firstOffset: number = lastOffset): boolean {
    if (this.next !== undefined && lastOffset < this.next) return false;
    this.base ??= firstOffset;
    this.entries.push(lastOffset);
    this.done.push(true);
    this.next = lastOffset + 1;
    const before = this.committable;
    if (!this.revoked) this.advance();
    return this.committable !== before;
  }

  /**
   * Whether an offset below `next` can be a re-fetch of what this assignment already emitted
   * (after a rebalance that kept the partition, the client fetches again from the committed
   * position, which is never below `committed` or `base`). Lower means the log changed under us.
   */
  isRefetch(offset: number): boolean {
    const floor = this.committed ?? this.base;
    return floor === undefined || offset >= floor;
  }

  pending(): number {
    return this.entries.length - this.head;
  }

  /** True when there is a position to commit that is not committed yet. */
  dirty(): boolean {
    return this.committable !== undefined && this.committable !== this.committed;
  }

  /** End offset − committed (or − the starting position before the first commit); undefined when unknown. */
  lag(): number | undefined {
    const position = this.committed ?? this.base;
    if (this.highWatermark === undefined || position === undefined) return undefined;
    return Math.max(0, this.highWatermark - position);
  }

  private advance(): void {
    const { entries, done } = this;
    let head = this.head;
    if (head >= entries.length || !done[head]) return;
    while (head < entries.length && done[head]) head++;
    this.committable = entries[head - 1]! + 1;
    this.head = head;
    // Compact now and then so the arrays do not grow with the stream.
    if (head > 1024 && head * 2 > entries.length) {
      this.entries = entries.slice(head);
      this.done = done.slice(head);
      this.first += head;
      this.head = 0;
    }
  }
}
