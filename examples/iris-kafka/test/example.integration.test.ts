import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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

async function waitFor(output: () => string, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = pattern.exec(output());
    if (m !== null) return m;
    if (Date.now() > deadline) throw new Error(`no ${String(pattern)} in:\n${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it('scores the seed flowers through Kafka, dead-letters malformed lines and shuts down cleanly on SIGTERM', async () => {
  // A broker from the testkit CLI (or the cluster in KAFKA_BROKERS), handed to the example like any cluster.
  let brokers = process.env['KAFKA_BROKERS'] ?? '';
  if (brokers === '') {
    const cli = run(fileURLToPath(new URL('../../../packages/kafka-testkit/dist/cli.js', import.meta.url)), {});
    brokers = (await waitFor(cli.output, /KAFKA_BROKERS=(\S+)/, 150_000))[1]!;
  }
  const example = run(fileURLToPath(new URL('../dist/main.js', import.meta.url)), {
    KAFKA_BROKERS: brokers,
    IRIS_TOPIC_SUFFIX: `-${Date.now()}`,
  });
  await waitFor(example.output, /progress: 155 records, 153 predictions, 2 dead-lettered/, 120_000);
  example.child.kill('SIGTERM');
  expect(await example.exited).toBe(0);
  const out = example.output();
  expect(out).toMatch(/5\.4,3\.9,1\.7,0\.4 -> setosa/);
  expect(out).toMatch(/7\.0,3\.2,4\.7,1\.4 -> versicolor/);
  expect(out).toMatch(/4\.6,3\.4,1\.4,0\.3 -> setosa/);
  expect(out).toMatch(/dead letter flower-153: INVALID_INPUT/);
  expect(out).toMatch(/SIGTERM: draining/);
  // Everything processed was committed: the three partitions' offsets add up to all 155 records.
  const committed = /committed offsets ((?:\d+:\d+ ?)+)/.exec(out)?.[1] ?? '';
  const sum = committed.trim().split(' ').reduce((a, po) => a + Number(po.split(':')[1]), 0);
  expect(sum).toBe(155);
  for (const child of children) child.kill('SIGTERM');
});
