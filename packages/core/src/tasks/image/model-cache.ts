import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { RxmlError, toRxmlError } from '../../contract/errors.js';
import type { CatalogEntry, CatalogFile } from './catalog.js';

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
  const cacheDir = resolve(options.cacheDir ?? defaultCacheDir());
  const finalDir = join(cacheDir, entry.name);
  if (await isVerified(finalDir, entry.files)) return finalDir;
  // Present but not matching: a partial copy from an older layout or a tampered file. Start over.
  await rm(finalDir, { recursive: true, force: true });

  await mkdir(cacheDir, { recursive: true });
  const tmpDir = await mkdtemp(join(cacheDir, `.${entry.name}.partial-`));
  try {
    const sources = sourcesFor(entry, options.mirror ?? process.env['RXML_MODEL_MIRROR']);
    const timeoutMs = options.downloadTimeoutMs ?? 120_000;
    // A few files at a time: the set is ~57 small files, latency dominates.
    const queue = [...entry.files];
    // The first failure stops the other workers, and all of them settle before the directory is
    // removed, so no late write lands in a directory being deleted.
    const stop = new AbortController();
    const worker = async (): Promise<void> => {
      for (let file = queue.shift(); file !== undefined && !stop.signal.aborted; file = queue.shift()) {
        await fetchFirstVerified(sources, file, join(tmpDir, file.name), timeoutMs, stop.signal).catch((error: unknown) => {
          stop.abort(error);
          throw error;
        });
      }
    };
    const outcomes = await Promise.allSettled([worker(), worker(), worker(), worker()]);
    if (stop.signal.aborted) throw stop.signal.reason;
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
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
    throw toRxmlError(error, 'MODEL_LOAD_ERROR', `cannot fetch model ${entry.name}`);
  }
}

type Source = { readonly kind: 'dir'; readonly dir: string } | { readonly kind: 'url'; readonly base: string };

function sourcesFor(entry: CatalogEntry, mirror: string | undefined): Source[] {
  if (mirror === undefined || mirror === '') return entry.sources.map((base) => ({ kind: 'url', base }));
  if (/^https?:\/\//i.test(mirror)) return [{ kind: 'url', base: `${mirror.replace(/\/+$/, '')}/${entry.name}/` }];
  const dir = mirror.startsWith('file:') ? fileURLToPath(mirror) : resolve(mirror);
  return [{ kind: 'dir', dir: join(dir, entry.name) }];
}

/** Tries each source in turn; only bytes with the catalog's digest are kept. */
async function fetchFirstVerified(
  sources: readonly Source[],
  file: CatalogFile,
  target: string,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<void> {
  const failures: string[] = [];
  for (const source of sources) {
    try {
      await fetchVerified(source, file, target, timeoutMs, stop);
      return;
    } catch (error) {
      await rm(target, { force: true });
      if (stop.aborted) throw error;
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  throw new RxmlError('MODEL_LOAD_ERROR', failures.join('; '));
}

async function fetchVerified(
  source: Source,
  file: CatalogFile,
  target: string,
  timeoutMs: number,
  stop: AbortSignal,
): Promise<void> {
  const signal = AbortSignal.any([stop, AbortSignal.timeout(timeoutMs)]);
  let body: Readable;
  if (source.kind === 'dir') {
    body = createReadStream(join(source.dir, file.name));
  } else {
    const url = new URL(file.name, source.base).href;
    const response = await fetch(url, { signal, redirect: 'follow' });
    if (!response.ok || response.body === null) {
      throw new RxmlError('MODEL_LOAD_ERROR', `GET ${url}: HTTP ${response.status}`, {
        retriable: response.status >= 500 || response.status === 429,
      });
    }
    body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }
  const check = new DigestCheck(file);
  await pipeline(body, check, createWriteStream(target, { flags: 'wx' }), { signal });
  check.verify();
}

/** Hashes what passes through and stops a body that grows past the expected size. */
class DigestCheck extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;

  constructor(private readonly file: CatalogFile) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.file.bytes) {
      callback(new RxmlError('MODEL_LOAD_ERROR', `${this.file.name}: larger than the expected ${this.file.bytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  verify(): void {
    const digest = this.hash.digest('hex');
    if (this.seen !== this.file.bytes || digest !== this.file.sha256) {
      throw new RxmlError(
        'MODEL_LOAD_ERROR',
        `${this.file.name}: integrity check failed (sha256 ${digest}, ${this.seen} bytes; expected ${this.file.sha256}, ${this.file.bytes} bytes)`,
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
