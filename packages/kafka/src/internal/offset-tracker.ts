/** One emitted offset, from {@link OffsetTracker.track}; completed with {@link OffsetTracker.complete}. */
export interface TrackedOffset {
  readonly offset: number;
  done: boolean;
}

type Entry = TrackedOffset;

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
  private readonly entries: Entry[] = [];
  private head = 0;
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

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Registers an emitted offset; returns the handle to complete it. */
  add(offset: number): () => boolean {
    const entry = this.track(offset);
    return () => this.complete(entry);
  }

  /** Registers an emitted offset; {@link complete} it when done (no closure per offset). */
  track(offset: number): TrackedOffset {
    const entry: Entry = { offset, done: false };
    this.entries.push(entry);
    this.base ??= offset;
    this.next = offset + 1;
    return entry;
  }

  /** Marks a tracked offset done; false when it already was (completion is idempotent). */
  complete(entry: TrackedOffset): boolean {
    if (entry.done) return false;
    entry.done = true;
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
    this.entries.push({ offset: lastOffset, done: true });
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
    let last: number | undefined;
    while (this.head < this.entries.length && this.entries[this.head]!.done) {
      last = this.entries[this.head]!.offset;
      this.head++;
    }
    if (last !== undefined) this.committable = last + 1;
    // Compact now and then so the array does not grow with the stream.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}
