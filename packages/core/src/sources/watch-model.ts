import { createHash } from 'node:crypto';
import { lstat, readFile, readdir, realpath, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve } from 'node:path';
import { Observable } from 'rxjs';
import { UNKNOWN_MODEL } from '../contract/diagnostics.js';
import { RxmlError, invalidConfig } from '../contract/errors.js';
import type { Model } from '../contract/model.js';
import { loadModel } from '../formats/tfjs/load-model.js';
import { ModelVersions, type ModelSourceEventOptions } from './model-versions.js';

export interface WatchModelOptions extends ModelSourceEventOptions {
  /** Model name reported in results and events. Default: the loader's (tfjs: the topology's name or the folder's). */
  readonly name?: string;
  /**
   * Opens the watched path once a write is complete. Default `loadModel(path, { name })`: a tfjs
   * `model.json` folder, a `model.json` path, or a single-file tfjs model (`saveModelBytes`). For
   * Keras or ONNX pass their loader, e.g. `(path) => loadKerasModel(path)` from `@rxml/keras` or
   * `(path) => loadOnnxModel(path)` from `@rxml/onnx`. It must reject (not hang) for a broken
   * artifact; the rejection becomes a `refused` event.
   */
  readonly load?: (path: string) => Promise<Model>;
  /** How often the path is checked (`stat` of the file, or of each file in the folder), ms. Default 1000. */
  readonly intervalMs?: number;
  /**
   * A write is picked up only once the files' sizes and modification times have not changed for
   * this long, ms (so a model still being copied is not read half-written). Default 2000.
   */
  readonly stableMs?: number;
  /** Largest total size of the watched files read and hashed, bytes; a larger version is refused. Default 512 MiB. */
  readonly maxBytes?: number;
}

interface WatchedFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * A model source that watches a file or a folder and emits a model each time a new version has been
 * completely written there: the current one when subscribed (as soon as it is stable), then every
 * later change whose content (SHA-256 of the files) differs from the last one tried. Cold: each
 * subscription watches and loads on its own and owns the models it receives (an operator given this
 * source disposes them; see `ModelSource`).
 *
 * What is watched: a folder's regular files (not dotfiles, not subfolders; files reached through a
 * symbolic link that leaves the folder are ignored), or one file. Writing a new version by writing
 * to a temporary name and renaming it into place is always safe; a slow in-place write is picked up
 * only after `stableMs` without change, and if it is still read incomplete the load fails and the
 * version is refused; the next change is tried again. Checks by polling (`intervalMs`), which works
 * on every file system, network ones included.
 *
 * Never errors: a missing path is waited for; a version that cannot be read or loaded is announced as
 * `refused` on `rxml:model:lifecycle` (and `onModelEvent`) with the reason, and the watch goes on.
 *
 * @throws RxmlError `INVALID_CONFIG` at call time for a non-positive `intervalMs`, a negative
 *   `stableMs` or a non-positive `maxBytes`.
 *
 * @example
 * fromKafka({ topic: 'flowers', groupId: 'iris' }).pipe(
 *   predictIris(watchModel('/models/iris', { name: 'iris' }), { select: (r) => r.value }),
 *   toKafka({ topic: 'species' }),
 * );
 */
export function watchModel(path: string, options: WatchModelOptions = {}): Observable<Model> {
  const intervalMs = options.intervalMs ?? 1_000;
  const stableMs = options.stableMs ?? 2_000;
  const maxBytes = options.maxBytes ?? 512 * 1024 * 1024;
  if (!(intervalMs > 0)) throw invalidConfig('watchModel', 'intervalMs', 'a positive number of milliseconds', intervalMs);
  if (!(stableMs >= 0)) throw invalidConfig('watchModel', 'stableMs', 'a number of milliseconds ≥ 0', stableMs);
  if (!(maxBytes > 0)) throw invalidConfig('watchModel', 'maxBytes', 'a positive number of bytes', maxBytes);
  const root = resolve(path);
  const name = options.name ?? basename(root).replace(/\.[^.]+$/, '');
  const load = options.load ?? ((p: string) => loadModel(p, options.name === undefined ? {} : { name: options.name }));

  return new Observable<Model>((subscriber) => {
    const versions = new ModelVersions(subscriber, name, `watchModel ${root}`, options);
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let previous: string | undefined;
    let handled: string | undefined;

    const tick = async (): Promise<void> => {
      let missing = `${root} holds no files`;
      const files = await listFiles(root).catch((error: unknown) => {
        const code = (error as { code?: unknown } | null)?.code;
        missing = code === 'ENOENT' ? `${root} does not exist` : `${root} cannot be read: ${error instanceof Error ? error.message : String(error)}`;
        return undefined;
      });
      if (files === undefined || files.length === 0) {
        versions.nothingYet(`${missing}; watching it every ${intervalMs} ms`);
        previous = undefined;
        return;
      }
      versions.available(`${root} now holds ${files.length} file(s)`);
      const fingerprint = files.map((f) => `${f.path}\u0000${f.size}\u0000${f.mtimeMs}`).join('\n');
      const unchanged = previous === undefined || previous === fingerprint;
      previous = fingerprint;
      const newest = Math.max(...files.map((f) => f.mtimeMs));
      if (!unchanged || Date.now() - newest < stableMs || fingerprint === handled) return;
      handled = fingerprint;
      const total = files.reduce((sum, f) => sum + f.size, 0);
      if (total > maxBytes) {
        versions.refuse(UNKNOWN_MODEL, new RxmlError('LIMIT_EXCEEDED', `${root} holds ${total} bytes, over the limit of ${maxBytes} bytes (watchModel option maxBytes)`));
        return;
      }
      let hash: string;
      try {
        hash = await hashFiles(root, files);
      } catch (error) {
        // Changed or vanished while being read: try again on a later tick.
        handled = undefined;
        void error;
        return;
      }
      if (versions.seen(hash)) return;
      versions.offer([{ key: hash, version: hash.slice(0, 16), load: () => load(path) }]);
    };

    const loop = (): void => {
      void tick()
        .catch(() => {})
        .finally(() => {
          if (!stopped) timer = setTimeout(loop, intervalMs);
        });
    };
    loop();
    return () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      versions.close();
    };
  });
}

/** The regular files a watch covers: the file itself, or a folder's files that stay inside it. */
async function listFiles(root: string): Promise<WatchedFile[]> {
  const info = await stat(root);
  if (!info.isDirectory()) return [{ path: root, size: info.size, mtimeMs: info.mtimeMs }];
  const realRoot = await realpath(root);
  const files: WatchedFile[] = [];
  for (const entry of await readdir(root)) {
    if (entry.startsWith('.')) continue;
    const full = join(root, entry);
    const link = await lstat(full).catch(() => undefined);
    if (link === undefined) continue;
    if (link.isSymbolicLink()) {
      const target = await realpath(full).catch(() => undefined);
      const inside = target === undefined ? '..' : relative(realRoot, target);
      if (inside.startsWith('..') || isAbsolute(inside)) continue;
    }
    const file = link.isSymbolicLink() ? await stat(full).catch(() => undefined) : link;
    if (file?.isFile() !== true) continue;
    files.push({ path: full, size: file.size, mtimeMs: file.mtimeMs });
  }
  return files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** SHA-256 (hex) over each file's name and bytes, in name order. */
async function hashFiles(root: string, files: readonly WatchedFile[]): Promise<string> {
  const hash = createHash('sha256');
  for (const file of files) {
    const bytes = await readFile(file.path);
    if (bytes.byteLength !== file.size) throw new Error(`${file.path} changed while it was read`);
    hash.update(relative(root, file.path)).update('\u0000').update(bytes);
  }
  return hash.digest('hex');
}
