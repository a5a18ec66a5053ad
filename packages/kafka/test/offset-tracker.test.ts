import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../src/internal/offset-tracker.js';

describe('OffsetTracker: contiguous completed prefix', () => {
  it('commits nothing past a pending offset (7 done while 5 is in flight commits nothing past 4)', () => {
    const t = new OffsetTracker('t', 0);
    const done = new Map([3, 4, 5, 6, 7].map((o) => [o, t.add(o)]));
    done.get(3)!();
    done.get(4)!();
    expect(t.committable).toBe(5);
    done.get(7)!();
    done.get(6)!();
    expect(t.committable).toBe(5);
    done.get(5)!();
    expect(t.committable).toBe(8);
    expect(t.pending()).toBe(0);
  });

  it('handles gaps in offsets (compaction, transaction markers) and repeated completion', () => {
    const t = new OffsetTracker('t', 1);
    const a = t.add(10);
    const b = t.add(15);
    expect(t.next).toBe(16);
    expect(b()).toBe(true);
    expect(b()).toBe(false);
    expect(t.committable).toBeUndefined();
    a();
    expect(t.committable).toBe(16);
    expect(t.dirty()).toBe(true);
    t.committed = 16;
    expect(t.dirty()).toBe(false);
  });

  it('a revoked partition never gets a new commit position', () => {
    const t = new OffsetTracker('t', 2);
    const a = t.add(0);
    t.revoked = true;
    a();
    expect(t.committable).toBeUndefined();
  });

  it('stays small over a long stream', () => {
    const t = new OffsetTracker('t', 0);
    for (let o = 0; o < 100_000; o++) t.add(o)();
    expect(t.committable).toBe(100_000);
    expect(t.pending()).toBe(0);
    expect((t as unknown as { entries: unknown[] }).entries.length).toBeLessThan(2_100);
  });
});
