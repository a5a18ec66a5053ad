/**
 * rxml's own CPU per record, alone (the kafka suite's `OwnCpu` scenario with the constant model: a
 * scripted consumer and an instant producer behind the client seam, no client library, no broker),
 * for profiling the hot path without a broker.
 *
 * Usage: node dist/own-cpu.js [--bytes 100] [--records 200000] [--runs 5] [--profile out.cpuprofile] [--heap out.heapprofile]
 *
 * Prints each run's process CPU (user + system) per record in µs, the scripted consumer's own part
 * (measured alone before each run) and their difference, rxml's figure; then the best. With
 * `--profile`, the V8 sampling profiler records the last run only (the earlier ones warm the JIT up)
 * and a summary of the top self-time frames is printed. With `--heap`, V8's sampling heap profiler
 * records the last run and the bytes allocated per record are printed by allocating frame.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { loadIrisModel } from '@rxml/core';
import { constantModel, feedCpuOnce, ownCpuOnce } from './suites/kafka.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : (process.argv[i + 1] ?? fallback);
}

const bytes = Number(arg('bytes', '100'));
const records = Number(arg('records', '200000'));
const runs = Number(arg('runs', '5'));
const profilePath = arg('profile', '');
const heapPath = arg('heap', '');

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

/** A profile frame's name: function + file:line, the path from `packages/` or `node_modules/` on. */
function frameKey({ functionName, url, lineNumber }: CallFrame): string {
  const file = url.replace(/^.*\/(packages|node_modules)\//, '$1/');
  return `${functionName || '(anonymous)'} ${file === '' ? '' : `${file}:${lineNumber + 1}`}`.trim();
}

/** The `top` largest entries of `self`, largest first, each line as `format` writes it. */
function topLines(self: ReadonlyMap<string, number>, top: number, format: (value: number, key: string) => string): string[] {
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, value]) => format(value, key));
}

interface HeapNode {
  readonly callFrame: CallFrame;
  readonly selfSize: number;
  readonly children: readonly HeapNode[];
}

/** Bytes allocated per record by frame, from a sampling heap profile's tree. */
function summarizeHeap(head: HeapNode, perRecords: number, top: number): string {
  const self = new Map<string, number>();
  const walk = (node: HeapNode): void => {
    const key = frameKey(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child);
  };
  walk(head);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  return [
    `allocated: ${(total / perRecords).toFixed(0)} B/record (sampled)`,
    ...topLines(self, top, (bytes, key) => `${(bytes / perRecords).toFixed(0).padStart(6)} B  ${key}`),
  ].join('\n');
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly hitCount?: number;
}

/** Self time per frame, as a share of all samples. */
function summarize(profile: { readonly nodes: readonly ProfileNode[]; readonly samples?: readonly number[] }, top: number): string {
  const total = profile.samples?.length ?? profile.nodes.reduce((n, node) => n + (node.hitCount ?? 0), 0);
  const self = new Map<string, number>();
  for (const node of profile.nodes) {
    const key = frameKey(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + (node.hitCount ?? 0));
  }
  return topLines(self, top, (hits, key) => `${((hits * 100) / total).toFixed(1).padStart(5)} %  ${key}`).join('\n');
}

const model = constantModel(await loadIrisModel());
const results: number[] = [];
for (let i = 0; i < runs; i++) {
  const last = i === runs - 1;
  const feed = await feedCpuOnce(bytes, records);
  let session: Session | undefined;
  if (last && (profilePath !== '' || heapPath !== '')) {
    session = new Session();
    session.connect();
    if (profilePath !== '') {
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
    }
    if (heapPath !== '') await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
  }
  const total = await ownCpuOnce(model, bytes, records);
  results.push(total - feed);
  if (session !== undefined) {
    if (profilePath !== '') {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(profilePath, JSON.stringify(profile));
      process.stdout.write(`${summarize(profile as never, 30)}\n`);
    }
    if (heapPath !== '') {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(heapPath, JSON.stringify(profile));
      process.stdout.write(`${summarizeHeap(profile.head, records, 30)}\n`);
    }
    session.disconnect();
  }
  process.stdout.write(`run ${i + 1}: ${results.at(-1)!.toFixed(2)} µs/record (whole run ${total.toFixed(2)}, scripted consumer alone ${feed.toFixed(2)})\n`);
}
process.stdout.write(
  `${bytes} B, ${records} records: best ${Math.min(...results).toFixed(2)} µs/record, median ${[...results].sort((a, b) => a - b)[Math.floor(results.length / 2)]!.toFixed(2)} (load average ${loadavg()[0]!.toFixed(2)})\n`,
);
process.exit(0);
