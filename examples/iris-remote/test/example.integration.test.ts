/**
 * The example end to end: a Kafka broker from the testkit CLI, MLServer from .venv-models; the
 * output topic holds, for every flower, the same species as the embedded pipeline and the same
 * probabilities (to float32 precision), and the malformed lines are dead-lettered.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadIrisModel, predictIris, readIrisDataset } from '@rxml/core';
import { readTopic } from '@rxml/kafka-testkit';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, expect, it } from 'vitest';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

function run(script: string, env: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out, exited: new Promise((resolve) => child.on('exit', resolve)) };
}

async function waitFor(output: () => string, pattern: RegExp, timeoutMs: number, child?: ChildProcess): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(output());
    if (m !== null) return m;
    if (Date.now() > deadline) throw new Error(`no ${String(pattern)} in:\n${output()}`);
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`exited (${String(child.exitCode ?? child.signalCode)}) before ${String(pattern)}:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Prediction {
  species: string;
  probabilities: { setosa: number; versicolor: number; virginica: number };
}

it.each(['rest', 'grpc'])('serves the Iris pipeline from MLServer over %s: same output topic contents as the embedded pipeline', async (transport) => {
  let brokers = process.env['KAFKA_BROKERS'] ?? '';
  if (brokers === '') {
    const cli = run(fileURLToPath(new URL('../../../packages/kafka-testkit/dist/cli.js', import.meta.url)), {});
    brokers = (await waitFor(cli.output, /KAFKA_BROKERS=(\S+)/, 150_000))[1]!;
  }
  const suffix = `-${transport}-${Date.now()}`;
  const example = run(fileURLToPath(new URL('../dist/main.js', import.meta.url)), { KAFKA_BROKERS: brokers, IRIS_TOPIC_SUFFIX: suffix, IRIS_TRANSPORT: transport });
  await waitFor(example.output, /progress: 155 records, 153 predictions, 2 dead-lettered/, 400_000, example.child);
  example.child.kill('SIGTERM');
  expect(await example.exited).toBe(0);
  const out = example.output();
  expect(out).toMatch(new RegExp(`model iris@sha256-\\w+ on remote-v2-${transport}`));
  expect(out).toMatch(/5\.4,3\.9,1\.7,0\.4 -> setosa/);
  expect(out).toMatch(/7\.0,3\.2,4\.7,1\.4 -> versicolor/);
  expect(out).toMatch(/dead letter flower-153: INVALID_INPUT/);

  // The embedded pipeline's predictions for the same records.
  const flowers = (await readIrisDataset(fileURLToPath(new URL('../../../../shared/seed/iris.txt', import.meta.url)))).map((f) => f.features.join(','));
  const inputs = ['5.4,3.9,1.7,0.4', '7.0,3.2,4.7,1.4', '4.6,3.4,1.4,0.3', ...flowers];
  const embedded = await loadIrisModel();
  const local = await lastValueFrom(from(inputs).pipe(predictIris(embedded), toArray()));
  embedded.dispose();

  const output = await readTopic(brokers.split(','), `IrisOutputTopic${suffix}`);
  expect(output).toHaveLength(153);
  const byKey = new Map(output.map((r) => [r.key, JSON.parse(r.value!) as Prediction]));
  local.forEach((e, i) => {
    if (!e.ok) throw e.error;
    const remote = byKey.get(`flower-${i}`)!;
    expect(remote.species).toBe(e.value.species);
    expect(remote.probabilities.setosa).toBeCloseTo(e.value.probabilities.setosa, 5);
    expect(remote.probabilities.versicolor).toBeCloseTo(e.value.probabilities.versicolor, 5);
    expect(remote.probabilities.virginica).toBeCloseTo(e.value.probabilities.virginica, 5);
  });
  const dead = await readTopic(brokers.split(','), `IrisDeadLetters${suffix}`);
  expect(dead.map((r) => r.key).sort()).toEqual(['flower-153', 'flower-154']);
});
