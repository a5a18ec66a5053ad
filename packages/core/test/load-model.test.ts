import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IRIS_MODEL_DIR, loadIrisModel, loadModel, predictIris, type Model } from '../src/index.js';

let server: Server;
let base: string;
const requested: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requested.push(req.url ?? '');
    readFile(join(IRIS_MODEL_DIR, (req.url ?? '/').replace(/^\/models\/iris\//, '')))
      .then((body) => res.writeHead(200).end(body))
      .catch(() => res.writeHead(404).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/models/iris/`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const seed = ['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4', '4.6,3.4,1.4,0.3'];
const species = async (model: Model) =>
  (await lastValueFrom(from(seed).pipe(predictIris(model), toArray()))).map((r) => (r.ok ? r.value.species : r.error.code));

describe('loadModel', () => {
  it('loads the same model from a directory, a model.json path and an http URL, with the same version', async () => {
    const fromDir = await loadIrisModel();
    const fromFile = await loadModel(join(IRIS_MODEL_DIR, 'model.json'), { name: 'iris' });
    const fromUrl = await loadModel(base, { name: 'iris' });
    try {
      expect(fromFile.version).toBe(fromDir.version);
      expect(fromUrl.version).toBe(fromDir.version);
      expect(requested).toEqual(['/models/iris/model.json', '/models/iris/weights.bin']);
      expect(await species(fromUrl)).toEqual(['setosa', 'versicolor', 'setosa']);
      expect(await species(fromFile)).toEqual(await species(fromDir));
    } finally {
      for (const m of [fromDir, fromFile, fromUrl]) m.dispose();
    }
  });

  it('fails with MODEL_LOAD_ERROR for a missing directory or a URL that answers 404', async () => {
    await expect(loadModel('/nonexistent/model/dir')).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR' });
    await expect(loadModel(`${base}missing/`)).rejects.toMatchObject({ code: 'MODEL_LOAD_ERROR', message: expect.stringContaining('404') as unknown });
  });
});
