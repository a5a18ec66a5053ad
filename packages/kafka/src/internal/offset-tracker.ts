interface Entry {
  readonly offset: number;
  done: boolean;
}

/**
 * Offsets of one assigned partition that were emitted and not yet completed, in emission order.
 * Records of a partition are emitted in offset order, so the committable position is the offset
 * after the longest completed prefix: offset 7 done while 5 is pending commits nothing past 4.
 */
export class OffsetTracker {
  private readonly entries: Entry[] = [];
  private head = 0;
  /** Next offset to emit; lower ones were already emitted in this assignment (a re-fetch). */
  next: number | undefined;
  /** Offset to commit (last completed prefix + 1), when it moved past `committed`. */
  committable: number | undefined;
  committed: number | undefined;
  revoked = false;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {}

  /** Registers an emitted offset; returns the handle to complete it. */
  add(offset: number): () => boolean {
    const entry: Entry = { offset, done: false };
    this.entries.push(entry);
    this.next = offset + 1;
    return () => {
      if (entry.done) return false;
      entry.done = true;
      if (!this.revoked) this.advance();
      return true;
    };
  }

  pending(): number {
    return this.entries.length - this.head;
  }

  /** True when there is a position to commit that is not committed yet. */
  dirty(): boolean {
    return this.committable !== undefined && this.committable !== this.committed;
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
