import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const shared = [process.env['RXML_SHARED_DIR'], join(repo, '../shared'), join(repo, '../../shared')].find(
  (dir) => dir !== undefined && existsSync(join(dir, 'seed', 'images')),
)!;
/** Debian's chromium (`apt-get install -y chromium`; .ci/run installs it). */
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const artifacts = join(repo, 'test-results');

let cacheDir: string;
let root: string;
let browser: Browser | undefined;
let demo: ChildProcessByStdio<null, Readable, Readable> | undefined;
beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  cacheDir = await mkdtemp(join(tmpdir(), 'rxml-live-cache-'));
  root = await mkdtemp(join(tmpdir(), 'rxml-live-images-'));
  for (const name of await readdir(join(shared, 'seed', 'images'))) await copyFile(join(shared, 'seed', 'images', name), join(root, name));
  await writeFile(join(root, 'broken.jpg'), 'not a jpeg');
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
});
afterAll(async () => {
  await browser?.close();
  if (demo !== undefined && demo.exitCode === null) demo.kill('SIGKILL');
  await rm(cacheDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

/** Waits for a stdout line matching `pattern`; returns its match. */
function waitForLine(stdout: Readable, output: { text: string }, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = output.text.match(pattern);
      if (match !== null) {
        clearTimeout(timer);
        stdout.off('data', check);
        resolve(match);
      }
    };
    const timer = setTimeout(() => {
      stdout.off('data', check);
      reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms; output so far:\n${output.text}`));
    }, timeoutMs);
    stdout.on('data', check);
    check();
  });
}

async function cardText(page: Page, key: string): Promise<string> {
  return page.locator('#feed > li', { has: page.locator('.key', { hasText: key }) }).first().innerText();
}

it('pnpm demo serves a live page: the seed images with labels and probabilities, the dead letter with its reason, counters, charts; Ctrl-C stops it', async () => {
  const output = { text: '' };
  demo = spawn(process.execPath, [main, '--port', '0', '--cache-dir', cacheDir, '--images', root], { stdio: ['ignore', 'pipe', 'pipe'] });
  demo.stdout.setEncoding('utf8').on('data', (chunk: string) => (output.text += chunk));
  demo.stderr.setEncoding('utf8').on('data', (chunk: string) => (output.text += chunk));
  const [, url] = await waitForLine(demo.stdout, output, /^live page: (http:\/\/\S+)/m, 60_000);

  // Opened before the broker and the model are up: the images arrive over SSE as they are labelled.
  const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(url!);
  await page.locator('#connection', { hasText: 'live' }).waitFor({ timeout: 10_000 });
  await waitForLine(demo.stdout, output, /^read back: /m, 180_000);
  const shown = Date.now();
  await page.waitForFunction(() => document.querySelectorAll('#feed > li').length === 5, undefined, { timeout: 5_000 });
  console.log(`[live page] all 5 images on the page ${Date.now() - shown} ms after the pipeline read back its output`);
  expect(output.text).toMatch(/^embedded Kafka broker at|^using the Kafka cluster at/m);

  expect(await cardText(page, 'trained_airplane_2.jpg')).toMatch(/airliner \d+\.\d %/);
  expect(await cardText(page, 'trained_airplane_1.jpg')).toMatch(/airliner \d+\.\d %/);
  expect(await cardText(page, 'trained_butterfly.jpg')).toMatch(/admiral|ringlet|monarch|cabbage butterfly|sulphur butterfly|lycaenid/);
  const devil = await cardText(page, 'devil.png');
  expect(devil).not.toMatch(/^airliner/m);
  // Top-3 probabilities, as percentages.
  expect((devil.match(/\d+\.\d %/g) ?? []).length).toBeGreaterThanOrEqual(3);
  expect(await cardText(page, 'broken.jpg')).toMatch(/INVALID_INPUT: /);
  // Thumbnails are the real images, decoded by the browser.
  const widths = await page.locator('#feed img').evaluateAll((imgs) => imgs.map((img) => (img as HTMLImageElement).naturalWidth));
  expect(widths.length).toBe(4);
  for (const w of widths) expect(w).toBeGreaterThan(0);
  // The dead letter's reason in the table.
  const dead = await page.locator('#dead tbody').innerText();
  expect(dead).toMatch(/broken\.jpg\s+INVALID_INPUT\s+\S+/);

  // Counters and charts follow the once-a-second stats: 5 in, 4 labelled, 1 dead letter, lag 0.
  const counters = (): Promise<string> => page.evaluate(() => ['c-in', 'c-out', 'c-dead', 'c-lag'].map((id) => document.getElementById(id)!.textContent).join(' '));
  const deadline = Date.now() + 10_000;
  while ((await counters()) !== '5 4 1 0' && Date.now() < deadline) await page.waitForTimeout(200);
  expect(await counters()).toBe('5 4 1 0');
  expect(await page.locator('#c-health').innerText()).toBe('ok');
  expect(await page.locator('#charts canvas').count()).toBe(3);

  // A page opened after the run replays what happened.
  const late = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
  await late.goto(url!);
  await late.waitForFunction(() => document.querySelectorAll('#feed > li').length === 5, undefined, { timeout: 5_000 });
  await late.waitForTimeout(1_500);
  await mkdir(artifacts, { recursive: true });
  await late.screenshot({ path: join(artifacts, 'live-page.png'), fullPage: true });

  // The same server answers Prometheus and the probes.
  const metrics = await (await fetch(`${url}/metrics`)).text();
  expect(metrics).toMatch(/^rxml_records_in_total\{source="kafka",topic="ImageInputTopic"\} 5$/m);
  expect(metrics).toMatch(/^rxml_dead_letters_total\{sink="kafka",topic="ImageDeadLetters",code="INVALID_INPUT"\} 1$/m);
  expect((await fetch(`${url}/healthz`)).status).toBe(200);

  // It keeps serving until Ctrl-C.
  expect(demo.exitCode).toBeNull();
  const exited = new Promise<number | null>((resolve) => demo!.once('exit', (code) => resolve(code)));
  demo.kill('SIGINT');
  expect(await exited).toBe(0);
}, 300_000);
