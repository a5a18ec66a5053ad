import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const shared = [process.env['RXML_SHARED_DIR'], join(repo, '../shared'), join(repo, '../../shared')].find(
  (dir) => dir !== undefined && existsSync(join(dir, 'seed', 'images')),
)!;

let cacheDir: string;
let root: string;
beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'rxml-example-cache-'));
  root = await mkdtemp(join(tmpdir(), 'rxml-example-images-'));
  for (const name of await readdir(join(shared, 'seed', 'images'))) await copyFile(join(shared, 'seed', 'images', name), join(root, name));
  await writeFile(join(root, 'broken.jpg'), 'not a jpeg');
});
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

it('image paths on the input topic -> labels on the output topic, the broken image on the dead-letter topic (real broker)', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [main, '--no-page', '--cache-dir', cacheDir, '--images', root], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  console.log(stdout);
  expect(stdout).toMatch(/^(embedded Kafka broker at|using the Kafka cluster at)/m);
  expect(stdout).toMatch(/^trained_airplane_2\.jpg: airliner \(\d+\.\d %\)$/m);
  expect(stdout).toMatch(/^trained_butterfly\.jpg: (admiral|ringlet|monarch|cabbage butterfly|sulphur butterfly|lycaenid)/m);
  expect(stdout).toMatch(/^devil\.png: /m);
  expect(stdout).not.toMatch(/^devil\.png: airliner/m);
  expect(stdout).toMatch(/^broken\.jpg: INVALID_INPUT /m);
  expect(stdout).toMatch(/^read back: 4 labels on ImageOutputTopic\S*, 1 on ImageDeadLetters/m);
  expect(stdout).toMatch(/4 labelled, 1 refused, .* via Kafka/);
}, 300_000);
