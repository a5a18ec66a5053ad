/** loadOnnxModel reads through core's one byte reader: a path, a file: URL, an http URL or bytes give the same model. */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { contentVersion, type Model } from '@rxml/core';
import { loadOnnxModel } from '../src/index.js';

const FILE = fileURLToPath(new URL('./fixtures/onnx/flight-delay.onnx', import.meta.url));
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/models/flight-delay.onnx') res.end(readFileSync(FILE));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

it('a path, a file: URL and an http URL give the same name and the content version of the bytes', async () => {
  const bytes = new Uint8Array(readFileSync(FILE));
  const models: Model[] = [];
  try {
    for (const source of [FILE, pathToFileURL(FILE), `${base}flight-delay.onnx`]) models.push(await loadOnnxModel(source, { intraOpThreads: 1 }));
    models.push(await loadOnnxModel(bytes, { intraOpThreads: 1 }));
    expect(models.map((m) => m.name)).toEqual(['flight-delay', 'flight-delay', 'flight-delay', 'onnx-model']);
    expect(new Set(models.map((m) => m.version))).toEqual(new Set([contentVersion(bytes)]));
    expect(models.every((m) => JSON.stringify(m.inputs) === JSON.stringify(models[0]!.inputs))).toBe(true);
  } finally {
    for (const m of models) m.dispose();
  }
});

it('an http URL that answers 404 fails with MODEL_LOAD_ERROR naming the URL and the status', async () => {
  await expect(loadOnnxModel(`${base}missing.onnx`)).rejects.toMatchObject({
    code: 'MODEL_LOAD_ERROR',
    message: expect.stringMatching(/missing\.onnx.*HTTP 404/) as unknown,
  });
});
