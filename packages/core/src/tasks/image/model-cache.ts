import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { RxmlError, invalidConfig, toRxmlError } from '../../contract/errors.js';
import type { CatalogEntry, CatalogFile } from './catalog.js';
import { startProgress, type Progress, type ProgressStream } from './download-progress.js';

/** Where catalog models come from and where they are kept. */
export interface ModelCacheOptions {
  /**
   * Directory holding one sub-directory per downloaded model. Default: `$XDG_CACHE_HOME/rxml/models`
   * or `~/.cache/rxml/models`.
   */
  readonly cacheDir?: string;
  /**
   * Replaces the public source: a directory (or `file:` URL) or an `http(s)` URL base containing one
   * sub-directory per model name. Default: the `RXML_MODEL_MIRROR` environment variable. A relative
   * directory is resolved against the current working directory.
   */
  readonly mirror?: string;
  /** Per-file download timeout in milliseconds. Default 120 000. */
  readonly downloadTimeoutMs?: number;
  /**
   * Where a first-use download reports its progress: bytes, %, MB/s redrawn in place on a terminal;
   * one line when it starts and one when it ends otherwise. `false`: silent. Default: stderr.
   */
  readonly progress?: ProgressStream | false;
}

export function defaultCacheDir(): string {
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'rxml', 'models');
}

/**
 * Makes sure `entry`'s files are in the cache, verified, and returns their directory. A complete,
 * verified download is renamed into place in one step, so a crash or a bad file never leaves a
 * directory that a later run would trust.
 */
export async function ensureCachedModel(entry: CatalogEntry, options: ModelCacheOptions = {}): Promise<string> {
  const timeoutMs = options.downloadTimeoutMs ?? 120_000;
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) throw invalidConfig('loadImageModel', 'downloadTimeoutMs', 'a number of ms > 0', timeoutMs);
  const cacheDir = resolve(options.cacheDir ?? defaultCacheDir());
  const finalDir = join(cacheDir, entry.name);
  const mirror = mirrorSetting(options);
  if (await isVerified(finalDir, entry.files)) return finalDir;
  let tmpDir: string;
  try {
    // Present but not matching: a partial copy from an older layout or a tampered file. Start over.
    await rm(finalDir, { recursive: true, force: true });
    await mkdir(cacheDir, { recursive: true });
    tmpDir = await mkdtemp(join(cacheDir, `.${entry.name}.partial-`));
  } catch (error) {
    throw new RxmlError(
      'MODEL_LOAD_ERROR',
      `cannot fetch model ${entry.name}: cannot write the cache directory ${cacheDir} (${(error as Error).message}); ` +
        `set ${cacheDirSetting(options)} to a writable directory`,
      { cause: error },
    );
  }
  const failures: FileFailure[] = [];
  let untried = 0;
  try {
    const sources = sourcesFor(entry, mirror.value);
    const total = entry.files.reduce((sum, f) => sum + f.bytes, 0);
    const where = mirror.value === undefined || mirror.value === '' ? 'public copy' : `mirror ${mirror.value}`;
    const progress = startProgress(`downloading model ${entry.name} (${entry.files.length} files, ${where}; first use only)`, total, options.progress);
    // A few files at a time: the set is ~57 small files, latency dominates.
    const queue = [...entry.files];
    // After the first failure no worker takes another file, but files already in flight finish, so
    // each of them has its answer to report; all settle before the directory is removed, so no
    // late write lands in a directory being deleted.
    const stop = new AbortController();
    let failed = false;
    const worker = async (): Promise<void> => {
      for (let file = failed ? undefined : queue.shift(); file !== undefined; file = failed ? undefined : queue.shift()) {
        await fetchFirstVerified(sources, file, join(tmpDir, file.name), timeoutMs, stop.signal, progress).catch((error: unknown) => {
          failed = true;
          if (error instanceof FileFailure) failures.push(error);
          throw error;
        });
      }
    };
    const outcomes = await Promise.allSettled([worker(), worker(), worker(), worker()]);
    untried = queue.length;
    const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (rejected !== undefined) throw rejected.reason;
    progress.done();
    try {
      await rename(tmpDir, finalDir);
    } catch (error) {
      // Another process finished the same download first; use its copy if it is sound.
      if (!(await isVerified(finalDir, entry.files))) throw error;
      await rm(tmpDir, { recursive: true, force: true });
    }
    return finalDir;
  } catch (error) {
    await rm(tmpDir, { recursive: true, force: true });
    if (failures.length === 0) throw toRxmlError(error, 'MODEL_LOAD_ERROR', `cannot fetch model ${entry.name}`);
    throw new RxmlError('MODEL_LOAD_ERROR', loadFailureMessage(entry, failures, untried, { cacheDir, mirror, timeoutMs, options }), {
      cause: error,
      retriable: failures.every((f) => f.tries.some((t) => t.retriable)),
    });
  }
}

/** Where the mirror came from, to name the setting in errors. */
interface MirrorSetting {
  readonly value: string | undefined;
  readonly from: 'options.mirror' | 'RXML_MODEL_MIRROR' | undefined;
}

function mirrorSetting(options: ModelCacheOptions): MirrorSetting {
  if (options.mirror !== undefined) return { value: options.mirror, from: 'options.mirror' };
  const env = process.env['RXML_MODEL_MIRROR'];
  return env === undefined || env === '' ? { value: undefined, from: undefined } : { value: env, from: 'RXML_MODEL_MIRROR' };
}

function cacheDirSetting(options: ModelCacheOptions): string {
  return options.cacheDir !== undefined ? 'options.cacheDir' : 'XDG_CACHE_HOME (or the cacheDir option)';
}

/**
 * The whole story of a failed download, for the operator who reads it: the model, every file that
 * failed with each place tried and its answer, how many files were not tried after that, and the
 * settings that would fix it.
 */
function loadFailureMessage(
  entry: CatalogEntry,
  failures: readonly FileFailure[],
  untried: number,
  context: { cacheDir: string; mirror: MirrorSetting; timeoutMs: number; options: ModelCacheOptions },
): string {
  const files = [...failures]
    .sort((a, b) => entry.files.indexOf(a.file) - entry.files.indexOf(b.file))
    .map((f) => `${f.file.name}: ${f.tries.map((t) => `${t.where} → ${t.answer}`).join('; ')}`);
  const fix =
    context.mirror.from === undefined
      ? `set RXML_MODEL_MIRROR (or options.mirror) to a directory or http(s) URL holding ${entry.name}/ with these files, ` +
        `or put verified files in ${join(context.cacheDir, entry.name)}`
      : `check ${context.mirror.from}=${context.mirror.value ?? ''} (it must hold ${entry.name}/<file>), ` +
        `or put verified files in ${join(context.cacheDir, entry.name)}`;
  const timedOut = failures.some((f) => f.tries.some((t) => t.timedOut));
  const timeoutHint = timedOut ? `; or raise downloadTimeoutMs (now ${context.timeoutMs} ms)` : '';
  const notTried = untried > 0 ? ` (${untried} other file(s) not tried after the first failure)` : '';
  return (
    `cannot fetch model ${entry.name} into the cache directory ${context.cacheDir} (${cacheDirSetting(context.options)}): ` +
    `${files.join(' | ')}${notTried}. To fix: ${fix}${timeoutHint}`
  );
}

type Source = { readonly kind: 'dir'; readonly dir: string } | { readonly kind: 'url'; readonly base: string };

function sourcesFor(entry: CatalogEntry, mirror: string | undefined): Source[] {
  if (mirror === undefined || mirror === '') return entry.sources.map((base) => ({ kind: 'url', base }));
  if (/^https?:\/\//i.test(mirror)) return [{ kind: 'url', base: `${mirror.replace(/\/+$/, '')}/${entry.name}/` }];
  const dir = mirror.startsWith('file:') ? fileURLToPath(mirror) : resolve(mirror);
  return [{ kind: 'dir', dir: join(dir, entry.name) }];
}

/** One place a file was looked for, and what came back. */
interface Try {
  /** `GET <url>` or the file path. */
  readonly where: string;
  /** `HTTP 404`, `network error: connect ECONNREFUSED 127.0.0.1:9`, `integrity check failed (…)`, … */
  readonly answer: string;
  readonly retriable: boolean;
  readonly timedOut: boolean;
}

/** Every source failed for one file. */
class FileFailure extends Error {
  constructor(
    readonly file: CatalogFile,
    readonly tries: readonly Try[],
  ) {
    super(`${file.name}: ${tries.map((t) => `${t.where} → ${t.answer}`).join('; ')}`);
  }
}

/** What a failed attempt answered, in an operator's words. */
function answerOf(error: unknown, timeoutMs: number): Omit<Try, 'where'> {
  if (error instanceof RxmlError) return { answer: error.message, retriable: error.retriable, timedOut: false };
  const e = error as { name?: string; message?: string; code?: string; cause?: { name?: string; code?: string; message?: string } };
  if (e.name === 'TimeoutError' || (e.name === 'AbortError' && e.cause?.name === 'TimeoutError')) return { answer: `no answer within ${timeoutMs} ms (downloadTimeoutMs)`, retriable: true, timedOut: true };
  if (e.code === 'ENOENT') return { answer: 'no such file', retriable: false, timedOut: false };
  if (typeof e.code === 'string') return { answer: `${e.code}: ${e.message ?? ''}`, retriable: false, timedOut: false };
  // undici's fetch rejects with "fetch failed" and the real reason as its cause.
  const cause = e.cause;
  if (cause !== undefined && (cause.message !== undefined || cause.code !== undefined)) {
    return { answer: `network error: ${cause.message ?? cause.code ?? ''}`, retriable: true, timedOut: false };
  }
  return { answer: e.message ?? String(error), retriable: false, timedOut: false };
}

/**
 * Attempts per source for a retriable answer (HTTP 5xx or 429, a network error): the first try and
 * two more after 250 and 500 ms. Anything else (404, a bad digest, a timeout) moves on to the next
 * source at once.
 */
const ATTEMPTS_PER_SOURCE = 3;

/** Tries each source in turn, again on a retriable answer; only bytes with the catalog's digest are kept. */
async function fetchFirstVerified(
  sources: readonly Source[],
  file: CatalogFile,
  target: string,
  timeoutMs: number,
  stop: AbortSignal,
  progress: Progress,
): Promise<void> {
  const tries: Try[] = [];
  for (const source of sources) {
    for (let attempt = 1; ; attempt++) {
      try {
        await fetchVerified(source, file, target, timeoutMs, stop, progress);
        return;
      } catch (error) {
        await rm(target, { force: true });
        if (stop.aborted) throw error;
        const answer = answerOf(error, timeoutMs);
        if (answer.retriable && !answer.timedOut && attempt < ATTEMPTS_PER_SOURCE) {
          await sleep(250 * 2 ** (attempt - 1), undefined, { signal: stop });
          continue;
        }
        const where = source.kind === 'dir' ? join(source.dir, file.name) : `GET ${new URL(file.name, source.base).href}`;
        tries.push({ where, ...answer, answer: attempt > 1 ? `${answer.answer} (after ${attempt} attempts)` : answer.answer });
        break;
      }
    }
  }
  throw new FileFailure(file, tries);
}

async function fetchVerified(
  source: Source,
  file: CatalogFile,
  target: string,
  timeoutMs: number,
  stop: AbortSignal,
  progress: Progress,
): Promise<void> {
  const signal = AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]);
  let body: Readable;
  if (source.kind === 'dir') {
    body = createReadStream(join(source.dir, file.name));
  } else {
    const url = new URL(file.name, source.base).href;
    const response = await fetch(url, { signal, redirect: 'follow' });
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      throw new RxmlError('MODEL_LOAD_ERROR', `HTTP ${response.status}${response.statusText === '' ? '' : ` ${response.statusText}`}`, {
        retriable: response.status >= 500 || response.status === 429,
      });
    }
    body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }
  const check = new DigestCheck(file, progress);
  try {
    await pipeline(body, check, createWriteStream(target, { flags: 'wx' }), { signal });
    check.verify();
  } catch (error) {
    // A failed try's bytes are not progress: the file starts over (or the download fails).
    progress.add(-check.seenBytes);
    throw error;
  }
}

/** Hashes what passes through and stops a body that grows past the expected size. */
class DigestCheck extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;

  constructor(
    private readonly file: CatalogFile,
    private readonly progress: Progress,
  ) {
    super();
  }

  /** Bytes reported to the progress line (passed on to the file). */
  seenBytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.file.bytes) {
      callback(new RxmlError('MODEL_LOAD_ERROR', `larger than the expected ${this.file.bytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    this.progress.add(chunk.length);
    this.seenBytes += chunk.length;
    callback(null, chunk);
  }

  verify(): void {
    const digest = this.hash.digest('hex');
    if (this.seen !== this.file.bytes || digest !== this.file.sha256) {
      throw new RxmlError(
        'MODEL_LOAD_ERROR',
        `integrity check failed (sha256 ${digest}, ${this.seen} bytes; expected ${this.file.sha256}, ${this.file.bytes} bytes)`,
      );
    }
  }
}

async function isVerified(dir: string, files: readonly CatalogFile[]): Promise<boolean> {
  for (const file of files) {
    const path = join(dir, file.name);
    try {
      if ((await stat(path)).size !== file.bytes) return false;
      if (createHash('sha256').update(await readFile(path)).digest('hex') !== file.sha256) return false;
    } catch {
      return false;
    }
  }
  return true;
}
