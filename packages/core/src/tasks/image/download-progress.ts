/**
 * Download progress for first-run steps (the catalog model download). @rxml/kafka-testkit has the
 * same small reporter for its jar download: sharing it would make it public API of `@rxml/core`
 * (whose root re-exports all of `@rxml/core/contract`), which a progress line does not merit.
 */

/** Where progress goes: a terminal gets a line redrawn in place, anything else plain lines. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

export interface Progress {
  /** `bytes` more arrived. */
  add(bytes: number): void;
  /** The step finished: the final figures (a newline on a terminal, one line otherwise). */
  done(): void;
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

/**
 * One progress line: `label  12.3/44.5 MB  27 %  6.1 MB/s` (MB = 10^6 bytes, as Maven and most
 * download tools count). Without a known total (or past it, when the estimate was low) the `%` is left out.
 */
export function formatProgress(label: string, bytes: number, total: number | undefined, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? bytes / 1e6 / (elapsedMs / 1000) : 0;
  const size = total === undefined ? `${mb(bytes)} MB` : `${mb(bytes)}/${mb(total)} MB`;
  const percent = total === undefined || total <= 0 || bytes > total ? '' : `  ${Math.floor((bytes / total) * 100)} %`;
  return `${label}  ${size}${percent}  ${rate.toFixed(1)} MB/s`;
}

/**
 * Reports one long step (a download). On a TTY: the line is redrawn at most every 100 ms and ends
 * with the final figures. Otherwise: one line when the step starts (what and how big) and one when
 * it ends (bytes, time, MB/s), nothing in between, so logs stay short.
 */
export function startProgress(label: string, total: number | undefined, stream: ProgressStream | false = process.stderr, now: () => number = () => performance.now()): Progress {
  if (stream === false) return { add: () => {}, done: () => {} };
  const started = now();
  let bytes = 0;
  let drawnAt = -Infinity;
  const tty = stream.isTTY === true;
  if (!tty) stream.write(`${label}${total === undefined ? '' : ` (about ${mb(total)} MB)`}…\n`);
  const draw = (): void => {
    drawnAt = now();
    stream.write(`\r\x1b[2K${formatProgress(label, bytes, total, drawnAt - started)}`);
  };
  return {
    add(more: number): void {
      bytes += more;
      if (tty && now() - drawnAt >= 100) draw();
    },
    done(): void {
      const elapsed = now() - started;
      if (tty) {
        draw();
        stream.write('\n');
      } else {
        stream.write(`${label}: done, ${mb(bytes)} MB in ${(elapsed / 1000).toFixed(1)} s (${elapsed > 0 ? (bytes / 1e6 / (elapsed / 1000)).toFixed(1) : '0.0'} MB/s)\n`);
      }
    },
  };
}
