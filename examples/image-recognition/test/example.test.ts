import { execFile, spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const shared = [process.env['RXML_SHARED_DIR'], join(repo, '../shared'), join(repo, '../../shared')].find(
  (dir) => dir !== undefined && existsSync(join(dir, 'seed', 'images')),
)!;
const BUTTERFLY = /^trained_butterfly\.jpg: (admiral|ringlet|monarch|cabbage butterfly|sulphur butterfly|lycaenid)/m;

let cacheDir: string;
let root: string;
beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'rxml-example-cache-'));
  // The seed images plus one file that only pretends to be an image.
  root = await mkdtemp(join(tmpdir(), 'rxml-example-images-'));
  for (const name of await readdir(join(shared, 'seed', 'images'))) await copyFile(join(shared, 'seed', 'images', name), join(root, name));
  await writeFile(join(root, 'broken.jpg'), 'not a jpeg');
});
afterAll(async () => {
  await rm(cacheDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

async function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [main, '--no-page', '--cache-dir', cacheDir, ...args], { env, encoding: 'utf8' });
  return stdout;
}

function expectSeedLabels(out: string): void {
  expect(out).toMatch(/^trained_airplane_2\.jpg: airliner \(\d+\.\d %\)$/m);
  expect(out).toMatch(BUTTERFLY);
  expect(out).toMatch(/^devil\.png: /m);
  expect(out).not.toMatch(/^devil\.png: airliner/m);
}

describe('image-recognition example', () => {
  it('labels the seed images sent as paths, without Kafka', async () => {
    const out = await run(['--no-kafka']);
    console.log(out);
    expect(out).toMatch(/running without Kafka \(--no-kafka\)/);
    expectSeedLabels(out);
    expect(out).toMatch(/4 labelled, 0 refused/);
  });

  it('labels image bytes sent in the message value, refusing the broken one (model on ONNX Runtime)', async () => {
    const out = await run(['--no-kafka', '--mode', 'bytes', '--images', root, '--runtime', 'onnx']);
    expect(out).toMatch(/ on onnxruntime;/);
    expectSeedLabels(out);
    expect(out).toMatch(/^broken\.jpg: INVALID_INPUT /m);
    expect(out).toMatch(/4 labelled, 1 refused/);
  });

  it('falls back to running without Kafka when Java is missing, and says so', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: '/nonexistent' };
    delete env['KAFKA_BROKERS'];
    const out = await run([], env);
    expect(out).toMatch(/Java not found.*running the same pipeline without Kafka/);
    expectSeedLabels(out);
  });

  // `script` (util-linux) gives the example a terminal, the only place a progress bar is drawn.
  it.skipIf(spawnSync('script', ['--version']).status !== 0)('draws a progress bar on a terminal for more than a handful of images, keeping every line', async () => {
    const log = join(cacheDir, 'terminal.log');
    const command = [process.execPath, main, '--no-page', '--no-kafka', '--repeat', '2', '--cache-dir', cacheDir].map((a) => `'${a}'`).join(' ');
    await promisify(execFile)('script', ['-qec', command, log], { encoding: 'utf8' });
    const screen = await readFile(log, 'utf8');
    for (let i = 0; i <= 8; i++) expect(screen).toContain(`${i}/8`);
    expect(screen.match(/trained_airplane_2\.jpg: airliner/g)).toHaveLength(2);
    expect(screen).toMatch(/8 labelled, 0 refused/);
    // Output to a pipe gets no bar.
    expect(await run(['--no-kafka', '--repeat', '2'])).not.toMatch(/\d\/8/);
  });
});
