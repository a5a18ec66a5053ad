/**
 * `pnpm bench [--quick] [suite…]`: runs every suite (per tfjs backend where it matters) in child
 * processes, writes bench/results/<suite>.json and regenerates docs/benchmarks.md with its chart.
 * `--quick` runs each suite for seconds (CI smoke) and writes to bench/results/quick/ only.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { machineInfo } from './machine.js';
import { writeReport } from './report.js';
import { SUITES, type SuiteName } from './suites/index.js';

const quick = process.argv.includes('--quick');
const only = process.argv.slice(2).filter((a) => !a.startsWith('--')) as SuiteName[];
const benchRoot = fileURLToPath(new URL('../', import.meta.url));
const resultsDir = join(benchRoot, 'results', quick ? 'quick' : '');
mkdirSync(resultsDir, { recursive: true });

/**
 * What each suite runs on, one child process each: a tfjs backend (`node` = tfjs-node, only where
 * `pnpm setup:tfjs-node` was run; `wasm`; `cpu`, too slow for CNNs) or `onnx` (onnxruntime-node).
 */
const BACKENDS: Record<SuiteName, readonly string[]> = {
  'iris-operator': ['node', 'wasm', 'cpu'],
  memory: ['wasm'],
  'image-operator': ['node', 'wasm', 'onnx'],
  'image-pipeline': ['node', 'wasm', 'onnx'],
  runtimes: ['node', 'wasm', 'onnx'],
  kafka: ['wasm'],
  remote: ['wasm'],
  shadow: ['wasm'],
};

/** CI smoke (`--quick`): every suite once, on one variant, so the whole run stays well under 2 minutes. */
const QUICK_BACKENDS: Record<SuiteName, readonly string[]> = {
  'iris-operator': ['wasm'],
  memory: ['wasm'],
  'image-operator': ['onnx'],
  'image-pipeline': ['wasm'],
  runtimes: ['onnx'],
  kafka: ['wasm'],
  remote: ['wasm'],
  shadow: ['wasm'],
};

function runSuite(name: SuiteName, backend: string): unknown {
  const child = spawnSync(process.execPath, ['--expose-gc', join(benchRoot, 'dist/suite.js'), name, ...(quick ? ['--quick'] : [])], {
    env: backend === 'onnx' ? { ...process.env, RXML_BACKEND: 'wasm', RXML_BENCH_RUNTIME: 'onnx' } : { ...process.env, RXML_BACKEND: backend },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 * 2 ** 20,
  });
  process.stderr.write(child.stderr.split('\n').filter((l) => l.startsWith('[')).map((l) => `  ${l}\n`).join(''));
  if (child.status !== 0) {
    const why = child.stderr.split('\n').find((l) => l.includes('BACKEND_UNAVAILABLE') || l.includes('unavailable')) ?? child.stderr.slice(-2000);
    return { backend, unavailable: why.trim() };
  }
  const lines = child.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as unknown;
}

if (process.argv.includes('--report-only')) {
  await writeReport(join(benchRoot, 'results'), join(benchRoot, '../docs'));
  process.exit(0);
}
const machine = machineInfo();
const names = (only.length > 0 ? only : (Object.keys(SUITES) as SuiteName[]));
const written: Record<string, unknown> = {};
for (const name of names) {
  const runs = (quick ? QUICK_BACKENDS : BACKENDS)[name].map((backend) => {
    process.stderr.write(`[bench] ${name} on ${backend}${quick ? ' (quick)' : ''}…\n`);
    return runSuite(name, backend);
  });
  const file = join(resultsDir, `${name}.json`);
  const result = { suite: name, quick, date: new Date().toISOString(), machine, runs };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  written[name] = result;
  process.stderr.write(`[bench] wrote ${file}\n`);
}
if (!quick) await writeReport(join(benchRoot, 'results'), join(benchRoot, '../docs'));
console.log(JSON.stringify(written, null, 2));
