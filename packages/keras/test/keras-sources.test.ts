/** loadKerasModel reads through core's one byte reader: a path, a file: URL, an http URL or bytes give the same model. */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend, type Model } from '@rxml/core';
import { loadKerasModel } from '../src/index.js';
import { KERAS_FIXTURES } from './support/keras-fixtures.js';

const FILE = `${KERAS_FIXTURES}keras3/simple_mlp.keras`;
let server: Server;
let base: string;

beforeAll(async () => {
  await initBackend({ log: () => {} });
  server = createServer((req, res) => {
    if (req.url === '/simple_mlp.keras') res.end(readFileSync(FILE));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('a path, a file: URL, an http URL and the bytes give the same name, version and predictions', async () => {
  const sources = [FILE, pathToFileURL(FILE), `${base}simple_mlp.keras`, new Uint8Array(readFileSync(FILE))];
  const models: Model[] = [];
  try {
    for (const source of sources) models.push(await loadKerasModel(source));
    const sample = { data: Float32Array.from({ length: 100 }, (_, i) => (i % 7) / 7), shape: [1, 100] };
    const outputs = await Promise.all(models.map(async (m) => Array.from((await m.run([sample]))[0]!.data)));
    expect(new Set(models.map((m) => `${m.name}@${m.version}`)).size).toBe(1);
    for (const out of outputs) expect(out).toEqual(outputs[0]);
  } finally {
    for (const m of models) m.dispose();
  }
});

it('an http URL that answers 404 fails with MODEL_LOAD_ERROR naming the URL and the status', async () => {
  await expect(loadKerasModel(`${base}missing.keras`)).rejects.toMatchObject({
    code: 'MODEL_LOAD_ERROR',
    message: expect.stringMatching(/missing\.keras.*HTTP 404/) as unknown,
  });
});
