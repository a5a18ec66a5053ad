import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ensureCachedModel, IMAGE_MODEL_CATALOG, loadImageModel, RxmlError } from '../src/index.js';
import { modelsMirror } from './support/shared.js';

const entry = IMAGE_MODEL_CATALOG['mobilenet_v1_0.75_224']!;

/** Serves the shared model files over loopback HTTP; `corrupt` names a file served with one byte flipped. */
let server: Server;
let base: string;
let requests: string[] = [];
let corrupt: string | undefined;
/** File name → how many more times it is answered `503 Service Unavailable`. */
let busy = new Map<string, number>();

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    const [, model, file] = url.pathname.split('/');
    if (model === undefined || file === undefined || file.includes('..')) {
      res.writeHead(404).end();
      return;
    }
    const busyFor = busy.get(file) ?? 0;
    if (busyFor > 0) {
      busy.set(file, busyFor - 1);
      res.writeHead(503).end();
      return;
    }
    // `/flaky/<file>`: a public source that lacks labels.txt and serves one shard damaged.
    const flaky = model === 'flaky';
    if (flaky && file === 'labels.txt') {
      res.writeHead(404).end();
      return;
    }
    readFile(join(modelsMirror, flaky ? entry.name : model, file)).then(
      (bytes) => {
        if (file === corrupt || (flaky && file === 'group3-shard1of1')) bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
        res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((done) => server.close(() => done())));

let cacheDir: string;
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'rxml-cache-'));
  requests = [];
  corrupt = undefined;
  busy = new Map();
});
afterEach(() => rm(cacheDir, { recursive: true, force: true }));

describe('model download and cache', () => {
  it('downloads every file over HTTP, verifies it, and later loads from the cache without fetching', async () => {
    const dir = await ensureCachedModel(entry, { cacheDir, mirror: base });
    expect(dir).toBe(join(cacheDir, entry.name));
    expect(new Set(requests).size).toBe(entry.files.length);
    expect((await readdir(dir)).sort()).toEqual(entry.files.map((f) => f.name).sort());
    expect(await readdir(cacheDir)).toEqual([entry.name]);

    requests = [];
    const model = await loadImageModel(entry.name, { cacheDir, mirror: base });
    expect(requests).toEqual([]);
    expect(model.model.name).toBe(entry.name);
    expect(model.inputSize).toBe(224);
    expect(model.labels).toHaveLength(1000);
    expect(model.labels[404]).toBe('airliner');
    model.dispose();
  });

  it('refuses a corrupted file and leaves nothing in the cache', async () => {
    corrupt = 'group29-shard1of1';
    const error = await ensureCachedModel(entry, { cacheDir, mirror: base }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RxmlError);
    expect((error as RxmlError).code).toBe('MODEL_LOAD_ERROR');
    expect((error as RxmlError).message).toMatch(new RegExp(`group29-shard1of1: GET ${base}/${entry.name}/group29-shard1of1 → integrity check failed \\(sha256 [0-9a-f]{64}, 3076000 bytes; expected ${entry.files.find((f) => f.name === 'group29-shard1of1')!.sha256}, 3076000 bytes\\)`));
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('takes each file from the first source that serves it with the right digest', async () => {
    const sources = [`${base}/flaky/`, `${base}/${entry.name}/`];
    const dir = await ensureCachedModel({ ...entry, sources }, { cacheDir });
    expect(requests.filter((r) => r.startsWith('/flaky/'))).toHaveLength(entry.files.length);
    expect(requests.filter((r) => r.startsWith(`/${entry.name}/`)).sort()).toEqual([`/${entry.name}/group3-shard1of1`, `/${entry.name}/labels.txt`]);
    expect(await readdir(dir)).toHaveLength(entry.files.length);
  });

  it('shows download progress: a start and an end line on a pipe, bytes/%/MB/s redrawn on a terminal; a damaged try is not counted', async () => {
    const total = entry.files.reduce((sum, f) => sum + f.bytes, 0);
    const mb = (total / 1e6).toFixed(1);
    const pipe = { isTTY: false, text: '', write(t: string) { this.text += t; return true; } };
    // The flaky source serves one shard damaged: its bytes are taken back when the digest fails.
    await ensureCachedModel({ ...entry, sources: [`${base}/flaky/`, `${base}/${entry.name}/`] }, { cacheDir, progress: pipe });
    const lines = pipe.text.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(`downloading model ${entry.name} (${entry.files.length} files, public copy; first use only) (about ${mb} MB)…`);
    expect(lines[1]).toMatch(new RegExp(`^downloading model .*: done, ${mb.replace('.', '\\.')} MB in \\d+\\.\\d s \\(\\d+\\.\\d MB/s\\)$`));

    await rm(join(cacheDir, entry.name), { recursive: true });
    const tty = { isTTY: true, text: '', write(t: string) { this.text += t; return true; } };
    await ensureCachedModel(entry, { cacheDir, mirror: base, progress: tty });
    const frames = tty.text.split('\r\x1b[2K').filter((f) => f !== '');
    expect(frames.at(-1)).toMatch(new RegExp(`^downloading model .*  ${mb.replace('.', '\\.')}/${mb.replace('.', '\\.')} MB  100 %  \\d+\\.\\d MB/s\\n$`));
    for (const frame of frames.slice(0, -1)) expect(frame).toMatch(/ \d+\.\d\/\d+\.\d MB {2}\d+ % {2}\d+\.\d MB\/s$/);

    // Cached: nothing to report. progress: false is silent.
    const again = { isTTY: false, text: '', write(t: string) { this.text += t; return true; } };
    await ensureCachedModel(entry, { cacheDir, mirror: base, progress: again });
    expect(again.text).toBe('');
  });

  it('refuses a missing file (HTTP 404) and leaves nothing in the cache', async () => {
    const error = await ensureCachedModel(entry, { cacheDir, mirror: `${base}/nowhere` }).catch((e: unknown) => e);
    expect((error as RxmlError).code).toBe('MODEL_LOAD_ERROR');
    expect((error as RxmlError).message).toMatch(/HTTP 404/);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('retries a file answered 503 (retriable) on the same source, and 404 not at all', async () => {
    busy.set('labels.txt', 2);
    const dir = await ensureCachedModel(entry, { cacheDir, mirror: base });
    expect(requests.filter((r) => r.endsWith('/labels.txt'))).toHaveLength(3);
    expect((await readFile(join(dir, 'labels.txt'), 'utf8')).split('\n')[404]).toBe('airliner');

    await rm(cacheDir, { recursive: true, force: true });
    requests = [];
    const missing = await ensureCachedModel(entry, { cacheDir, mirror: `${base}/nowhere` }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'MODEL_LOAD_ERROR', retriable: false });
    expect(new Set(requests).size).toBe(requests.length); // no file asked twice
  });

  it('gives up after 3 attempts on a source that stays unavailable, with a retriable error', async () => {
    busy.set('labels.txt', 99);
    const error = await ensureCachedModel(entry, { cacheDir, mirror: base }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'MODEL_LOAD_ERROR', retriable: true });
    expect((error as RxmlError).message).toMatch(/labels\.txt: GET \S+ → HTTP 503 Service Unavailable \(after 3 attempts\)/);
    expect(requests.filter((r) => r.endsWith('/labels.txt'))).toHaveLength(3);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('replaces a tampered cached copy by downloading again', async () => {
    const dir = await ensureCachedModel(entry, { cacheDir, mirror: modelsMirror });
    await writeFile(join(dir, 'labels.txt'), 'not the labels\n');
    requests = [];
    await ensureCachedModel(entry, { cacheDir, mirror: base });
    expect(requests.length).toBe(entry.files.length);
    expect((await readFile(join(dir, 'labels.txt'), 'utf8')).split('\n')[404]).toBe('airliner');
  });

  it('takes the mirror from RXML_MODEL_MIRROR (a directory)', async () => {
    const saved = process.env['RXML_MODEL_MIRROR'];
    process.env['RXML_MODEL_MIRROR'] = modelsMirror;
    try {
      const dir = await ensureCachedModel(entry, { cacheDir });
      expect(await readdir(dir)).toHaveLength(entry.files.length);
    } finally {
      if (saved === undefined) delete process.env['RXML_MODEL_MIRROR'];
      else process.env['RXML_MODEL_MIRROR'] = saved;
    }
  });

  it('rejects an unknown model name', async () => {
    const error = await loadImageModel('resnet_9000', { cacheDir }).catch((e: unknown) => e);
    expect((error as RxmlError).code).toBe('MODEL_LOAD_ERROR');
    expect((error as RxmlError).message).toMatch(/known: mobilenet_v1_0.75_224/);
  });
});

/** A loopback port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

describe('load errors name the model, every file and URL tried with its answer, and the setting that fixes it', () => {
  const withoutEnvMirror = async <T>(fn: () => Promise<T>, value?: string): Promise<T> => {
    const saved = process.env['RXML_MODEL_MIRROR'];
    if (value === undefined) delete process.env['RXML_MODEL_MIRROR'];
    else process.env['RXML_MODEL_MIRROR'] = value;
    try {
      return await fn();
    } finally {
      if (saved === undefined) delete process.env['RXML_MODEL_MIRROR'];
      else process.env['RXML_MODEL_MIRROR'] = saved;
    }
  };

  it('offline, no mirror: each source of the first file with its HTTP status or network error, RXML_MODEL_MIRROR and the cache directory', async () => {
    const port = await closedPort();
    // The catalog's own sources stand in for the public ones: a 404 and a closed port, both on loopback.
    const offline = { ...entry, sources: [`${base}/gone/`, `http://127.0.0.1:${port}/models/`] };
    const error = (await withoutEnvMirror(() => ensureCachedModel(offline, { cacheDir }).catch((e: unknown) => e))) as RxmlError;
    expect(error.code).toBe('MODEL_LOAD_ERROR');
    const message = error.message;
    expect(message).toContain(`cannot fetch model ${entry.name} into the cache directory ${cacheDir} (options.cacheDir): `);
    // model.json is first in the queue, so it is always among the failures, with both answers.
    expect(message).toContain(`model.json: GET ${base}/gone/model.json → HTTP 404 Not Found; GET http://127.0.0.1:${port}/models/model.json → network error: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(message).toMatch(/\(\d+ other file\(s\) not tried after the first failure\)/);
    expect(message).toContain(`To fix: set RXML_MODEL_MIRROR (or options.mirror) to a directory or http(s) URL holding ${entry.name}/ with these files, or put verified files in ${join(cacheDir, entry.name)}`);
    expect(message).not.toContain('fetch failed');
    expect(error.retriable).toBe(true); // a source that did not answer may answer later
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('a mirror from RXML_MODEL_MIRROR that answers 404 is named with its value', async () => {
    const mirror = `${base}/nowhere`;
    const error = (await withoutEnvMirror(() => loadImageModel(entry.name, { cacheDir }).catch((e: unknown) => e), mirror)) as RxmlError;
    expect(error.code).toBe('MODEL_LOAD_ERROR');
    expect(error.message).toContain(`model.json: GET ${mirror}/${entry.name}/model.json → HTTP 404 Not Found`);
    expect(error.message).toContain(`To fix: check RXML_MODEL_MIRROR=${mirror} (it must hold ${entry.name}/<file>)`);
  });

  it('a mirror directory without the model names the paths looked at and options.mirror', async () => {
    const error = (await ensureCachedModel(entry, { cacheDir, mirror: cacheDir }).catch((e: unknown) => e)) as RxmlError;
    expect(error.message).toContain(`model.json: ${join(cacheDir, entry.name, 'model.json')} → no such file`);
    expect(error.message).toContain(`To fix: check options.mirror=${cacheDir}`);
  });

  it('a closed-port mirror is a retriable network error; a cache directory that cannot be written is named with its setting', async () => {
    const port = await closedPort();
    const refused = (await ensureCachedModel(entry, { cacheDir, mirror: `http://127.0.0.1:${port}` }).catch((e: unknown) => e)) as RxmlError;
    expect(refused.message).toContain(`model.json: GET http://127.0.0.1:${port}/${entry.name}/model.json → network error: connect ECONNREFUSED`);
    expect(refused.retriable).toBe(true);
    const file = join(cacheDir, 'a-file');
    await writeFile(file, 'not a directory');
    const unwritable = (await ensureCachedModel(entry, { cacheDir: join(file, 'models'), mirror: modelsMirror }).catch((e: unknown) => e)) as RxmlError;
    expect(unwritable.code).toBe('MODEL_LOAD_ERROR');
    expect(unwritable.message).toMatch(new RegExp(`cannot write the cache directory ${join(file, 'models')} \\(ENOTDIR.*\\); set options.cacheDir to a writable directory`));
  });
});
