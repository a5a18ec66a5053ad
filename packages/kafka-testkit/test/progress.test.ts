import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { downloadedBytes, ensureKafkaJars } from '../src/jars.js';
import { formatProgress, startProgress } from '../src/progress.js';

/** A stream that records what is written, as a terminal (isTTY) or a pipe. */
function recorder(isTTY: boolean): { isTTY: boolean; text: string; write(s: string): boolean } {
  return {
    isTTY,
    text: '',
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

describe('download progress', () => {
  it("reads the bytes of Maven's transfer lines (Maven counts kB/MB in powers of 10)", () => {
    expect(downloadedBytes('[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/org/apache/kafka/kafka_2.13/4.4.0/kafka_2.13-4.4.0.jar (6.9 MB at 4.1 MB/s)')).toBe(6_900_000);
    expect(downloadedBytes('Downloaded from central: https://repo/x.pom (8.8 kB at 214 kB/s)')).toBe(8_800);
    expect(downloadedBytes('Downloaded from central: https://repo/x.sha1 (40 B at 1 kB/s)')).toBe(40);
    expect(downloadedBytes('[INFO] Downloading from central: https://repo/x.jar')).toBe(0);
    expect(downloadedBytes('[INFO] BUILD SUCCESS')).toBe(0);
  });

  it('formats bytes, % and MB/s, leaving out the % when the total is unknown or was exceeded', () => {
    expect(formatProgress('jars', 12_300_000, 44_500_000, 2_000)).toBe('jars  12.3/44.5 MB  27 %  6.2 MB/s');
    expect(formatProgress('jars', 12_300_000, undefined, 2_000)).toBe('jars  12.3 MB  6.2 MB/s');
    expect(formatProgress('jars', 50_000_000, 44_500_000, 10_000)).toBe('jars  50.0/44.5 MB  5.0 MB/s');
  });

  it('on a terminal: redraws one line in place (at most every 100 ms) and ends it with the final figures', () => {
    let clock = 0;
    const tty = recorder(true);
    const progress = startProgress('model', 10_000_000, tty, () => clock);
    for (let i = 0; i < 10; i++) {
      clock += 50;
      progress.add(1_000_000);
    }
    progress.done();
    const frames = tty.text.split('\r\x1b[2K').filter((f) => f !== '');
    expect(frames.length).toBe(6); // 5 redraws in 500 ms + the final one
    expect(frames.at(-1)).toBe('model  10.0/10.0 MB  100 %  20.0 MB/s\n');
    expect(tty.text.split('\n').length).toBe(2);
  });

  it('elsewhere: one line when the step starts and one when it ends, nothing in between', () => {
    let clock = 0;
    const pipe = recorder(false);
    const progress = startProgress('downloading jars', 63_000_000, pipe, () => clock);
    for (let i = 0; i < 63; i++) progress.add(1_000_000);
    clock = 9_000;
    progress.done();
    expect(pipe.text).toBe('downloading jars (about 63.0 MB)…\ndownloading jars: done, 63.0 MB in 9.0 s (7.0 MB/s)\n');
  });

  it('ensureKafkaJars reports the first-run step of a fresh jar cache (Maven, real run) and nothing once cached', async () => {
    const cacheRoot = await mkdtemp(join(tmpdir(), 'rxml-jars-'));
    try {
      const pipe = recorder(false);
      const libs = await ensureKafkaJars({ cacheRoot, progress: pipe });
      expect((await readdir(libs)).some((f) => /^kafka_2\.13-.*\.jar$/.test(f))).toBe(true);
      expect(pipe.text).toMatch(/^downloading the Kafka \S+ broker jars \(Maven Central, first run only\) \(about \d+\.\d MB\)…\n.*: done, \d+\.\d MB in \d+\.\d s \(\d+\.\d MB\/s\)\n$/);
      const again = recorder(false);
      await ensureKafkaJars({ cacheRoot, progress: again });
      expect(again.text).toBe('');
    } finally {
      await rm(cacheRoot, { recursive: true, force: true });
    }
  }, 300_000);
});
