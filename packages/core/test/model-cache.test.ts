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

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    const [, model, file] = url.pathname.split('/');
    if (model === undefined || file === undefined || file.includes('..')) {
      res.writeHead(404).end();
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
    expect((error as RxmlError).message).toMatch(/group29-shard1of1: integrity check failed/);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('takes each file from the first source that serves it with the right digest', async () => {
    const sources = [`${base}/flaky/`, `${base}/${entry.name}/`];
    const dir = await ensureCachedModel({ ...entry, sources }, { cacheDir });
    expect(requests.filter((r) => r.startsWith('/flaky/'))).toHaveLength(entry.files.length);
    expect(requests.filter((r) => r.startsWith(`/${entry.name}/`)).sort()).toEqual([`/${entry.name}/group3-shard1of1`, `/${entry.name}/labels.txt`]);
    expect(await readdir(dir)).toHaveLength(entry.files.length);
  });

  it('refuses a missing file (HTTP 404) and leaves nothing in the cache', async () => {
    const error = await ensureCachedModel(entry, { cacheDir, mirror: `${base}/nowhere` }).catch((e: unknown) => e);
    expect((error as RxmlError).code).toBe('MODEL_LOAD_ERROR');
    expect((error as RxmlError).message).toMatch(/HTTP 404/);
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
