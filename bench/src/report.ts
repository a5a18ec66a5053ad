import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

type Json = Record<string, unknown>;

function load(resultsDir: string): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const file of readdirSync(resultsDir).filter((f) => f.endsWith('.json'))) {
    out[file.replace(/\.json$/, '')] = JSON.parse(readFileSync(join(resultsDir, file), 'utf8')) as Json;
  }
  return out;
}

function table(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const fmt = (x: unknown): string => (typeof x === 'number' ? x.toLocaleString('en-US', { maximumFractionDigits: 3 }) : String(x));
const verdict = (value: number, target: number, higherIsBetter = true): string =>
  (higherIsBetter ? value >= target : value <= target) ? `met (${fmt(value)})` : `**missed** (${fmt(value)} vs ${fmt(target)})`;

interface Section {
  readonly markdown: string;
  readonly chartRows?: readonly Json[];
}

type Renderer = (result: Json) => Section;

const available = (result: Json): Json[] => (result['runs'] as Json[]).filter((r) => !('unavailable' in r));
const unavailableLines = (result: Json): string[] =>
  (result['runs'] as Json[]).filter((r) => 'unavailable' in r).flatMap((u) => [`\`${String(u['backend'])}\` not measured: ${String(u['unavailable'])}`, '']);

/** Each suite renders its own section; suites added later register here. */
export const RENDERERS: Record<string, Renderer> = {
  'iris-operator': (result) => {
    const runs = (result['runs'] as Json[]).filter((r) => !('unavailable' in r));
    const unavailable = (result['runs'] as Json[]).filter((r) => 'unavailable' in r);
    const parts: string[] = [
      '## 1–2. Operator overhead and micro-batching: `predictIris` vs raw `LayersModel.predict`',
      '',
      'Raw = `LayersModel.predict(x, { batchSize })` + `dataSync()` on a pre-built batch; operator = an open stream of records through `predictIris` (parsing and validation included). Throughputs are the best of 3 interleaved rounds (raw, operator, raw, …). Latency: raw per call; operator per record in a closed loop of one batch at a time.',
      '',
    ];
    const chartRows: Json[] = [];
    for (const run of runs) {
      const points = run['points'] as Json[];
      parts.push(`### backend \`${String(run['backend'])}\``, '');
      parts.push(
        table(
          ['batch', 'raw records/s', 'predictIris records/s', 'ratio (target ≥ 0.9)', 'raw p50 / p99 ms per call', 'operator p50 / p99 ms per record'],
          points.map((p) => {
            const rl = p['rawLatency'] as Json;
            const ol = p['operatorLatency'] as Json;
            return [fmt(p['batchSize']), fmt(p['rawRecordsPerSec']), fmt(p['operatorRecordsPerSec']), verdict(p['ratio'] as number, 0.9), `${fmt(rl['p50Ms'])} / ${fmt(rl['p99Ms'])}`, `${fmt(ol['p50Ms'])} / ${fmt(ol['p99Ms'])}`];
          }),
        ),
        '',
        `Micro-batching gain (best batch ${fmt(run['bestBatchSize'])} vs batch 1): ${verdict(run['microBatchingGain'] as number, 20)} ×, target ≥ 20 ×.`,
        '',
      );
      for (const p of points) {
        chartRows.push({ series: `predictIris (${String(run['backend'])})`, batch: p['batchSize'], recordsPerSec: p['operatorRecordsPerSec'] });
        chartRows.push({ series: `raw predict (${String(run['backend'])})`, batch: p['batchSize'], recordsPerSec: p['rawRecordsPerSec'] });
      }
    }
    for (const u of unavailable) parts.push(`Backend \`${String(u['backend'])}\` not measured: ${String(u['unavailable'])}`, '');
    return { markdown: parts.join('\n'), chartRows };
  },
  memory: (result) => {
    const parts: string[] = ['## 5. Memory over a long stream of Iris records', ''];
    for (const run of (result['runs'] as Json[]).filter((r) => !('unavailable' in r))) {
      const points = run['points'] as Json[];
      parts.push(
        table(['records', 'RSS MiB', 'heap used MiB', 'tf numTensors'], points.map((p) => [fmt(p['records']), fmt(p['rssMiB']), fmt(p['heapUsedMiB']), fmt(p['numTensors'])])),
        '',
        `RSS growth between the first and last checkpoint: ${verdict(run['rssGrowthPercent'] as number, 10, false)} % (target < 10 %). numTensors constant: ${run['numTensorsConstant'] === true ? 'yes' : '**no**'}.`,
        '',
      );
    }
    return { markdown: parts.join('\n') };
  },
  'image-operator': (result) => {
    const parts: string[] = [
      '## 1b. Operator overhead: `predictImage` (pre-decoded `{ pixels }`) vs the raw model call, MobileNet v1 0.75',
      '',
      'Raw = the runtime\'s own batched call on a pre-built batch (`LayersModel.predict(x, { batchSize })` or an ORT `InferenceSession.run` with the same session options). Throughputs are the best of 3 interleaved rounds (raw, operator, raw, operator, …), so both see the same neighbours.',
      '',
    ];
    const chartRows: Json[] = [];
    for (const run of available(result)) {
      const points = run['points'] as Json[];
      parts.push(`### \`${String(run['backend'])}\` (${String(run['runtime'])})`, '');
      parts.push(
        table(
          ['batch', 'raw images/s', 'predictImage images/s', 'ratio (target ≥ 0.9)', 'raw p50 / p99 ms per call', 'operator p50 / p99 ms per image'],
          points.map((p) => {
            const rl = p['rawLatency'] as Json;
            const ol = p['operatorLatency'] as Json;
            return [fmt(p['batchSize']), fmt(p['rawImagesPerSec']), fmt(p['operatorImagesPerSec']), verdict(p['ratio'] as number, 0.9), `${fmt(rl['p50Ms'])} / ${fmt(rl['p99Ms'])}`, `${fmt(ol['p50Ms'])} / ${fmt(ol['p99Ms'])}`];
          }),
        ),
        '',
      );
      for (const p of points) chartRows.push({ series: `predictImage (${String(run['backend'])})`, batch: p['batchSize'], recordsPerSec: p['operatorImagesPerSec'] });
    }
    parts.push(...unavailableLines(result));
    return { markdown: parts.join('\n'), chartRows };
  },
  'image-pipeline': (result) => {
    const runs = available(result);
    const parts: string[] = [
      '## 3. Image pipeline: bytes → sharp decode/resize → MobileNet → label',
      '',
      `Inputs: ${typeof runs[0]?.['images'] === 'string' ? runs[0]['images'] : 'n/a'}. Decode measured alone with 8 images in flight; inference alone is \`model.run\` at batch 8 on pre-decoded images; the serial bound is 1 / (decode cost + inference cost). The three are measured in 3 interleaved rounds, best round each. A ratio above 1 means decoding overlaps inference.`,
      '',
      table(
        ['runtime', 'pipeline images/s', 'decode images/s', 'inference images/s', '1/(decode+inference)', 'ratio (target ≥ 0.85)'],
        runs.map((r) => [`\`${String(r['backend'])}\``, fmt(r['pipelineImagesPerSec']), fmt(r['decodeImagesPerSec']), fmt(r['inferenceImagesPerSec']), fmt(r['serialBoundImagesPerSec']), verdict(r['ratio'] as number, 0.85)]),
      ),
      '',
      ...unavailableLines(result),
    ];
    return { markdown: parts.join('\n') };
  },
  runtimes: (result) => {
    const runs = available(result);
    const pct = (x: unknown): string => `${Number(((x as number) * 100).toPrecision(2))} %`;
    const first = runs[0];
    const wasm = runs.find((r) => r['backend'] === 'wasm');
    const onnx = runs.find((r) => r['backend'] === 'onnx');
    const parts: string[] = [
      '## 6. Runtimes and the FLOP peak (issue #7)',
      '',
      first === undefined
        ? ''
        : `MobileNet v1 0.75 costs ${fmt(Math.round((first['mobilenetFlopsPerImage'] as number) / 1e6))} MFLOP per image (2 × multiply-adds, counted from the model's Conv2D/DepthwiseConv2D/Dense kernels and output shapes by \`bench/src/flop-peak.ts\`); the Iris MLP ${fmt(first['irisFlopsPerRecord'])} FLOP per record. The peak is \`bench/native/fma-peak.cpp\` (${String((first['flopPeak'] as Json)['isa'])} FMA chains, \`g++ -O3 -march=native\`, one thread per core) measured before and after the models in the same process; best of the two.`,
      '',
      table(
        ['runtime', 'FLOP peak GFLOP/s (all cores)', 'MobileNet images/s (model, batch 8)', 'share of peak', 'image pipeline images/s', 'share of peak', 'Iris records/s (predictIris, batch 512)', 'share of peak'],
        runs.map((r) => [
          `\`${String(r['backend'])}\` (${String(r['runtime'])})`,
          fmt((r['flopPeak'] as Json)['gflops']),
          fmt(r['mobilenetImagesPerSec']),
          pct(r['mobilenetPeakShare']),
          fmt(r['pipelineImagesPerSec']),
          pct(r['pipelinePeakShare']),
          fmt(r['irisRecordsPerSec']),
          pct(r['irisPeakShare']),
        ]),
      ),
      '',
    ];
    if (onnx !== undefined) {
      const vsWasm = wasm === undefined ? undefined : (onnx['pipelineImagesPerSec'] as number) / (wasm['pipelineImagesPerSec'] as number);
      parts.push(
        `Targets: image pipeline on ONNX ≥ 5 × the wasm pipeline: ${vsWasm === undefined ? 'wasm not measured' : verdict(Math.round(vsWasm * 100) / 100, 5)}; ≥ 40 % of the FLOP peak: ${verdict(Math.round((onnx['pipelinePeakShare'] as number) * 1000) / 10, 40)} %.`,
        '',
      );
    }
    parts.push(...unavailableLines(result));
    return { markdown: parts.join('\n') };
  },
  remote: (result) => {
    const run = available(result)[0];
    const parts: string[] = ['## 7. Remote models: the Iris pipeline embedded vs served by MLServer (v2 REST, v2 gRPC)', ''];
    if (run !== undefined) {
      parts.push(
        `Server: ${String(run['server'])}, same weights as the embedded model. An open stream of records through \`predictIris\`; batch 1 with concurrency 1 is the seed's one call per record, larger batches are one request per micro-batch with 4 in flight. Records/s from a backlog; latency per record (entering the operator → its result) in a closed loop of one batch at a time. The server shares the machine's cores.`,
        '',
        table(
          ['model', 'batch', 'in flight', 'records', 'records/s', 'p50 / p99 ms per record', 'load'],
          (run['points'] as Json[]).map((p) => {
            const l = p['latency'] as Json;
            return [String(p['model']), fmt(p['batchSize']), fmt(p['concurrency']), fmt(p['records']), fmt(p['recordsPerSec']), `${fmt(l['p50Ms'])} / ${fmt(l['p99Ms'])}`, fmt(p['loadAvg1m'])];
          }),
        ),
        '',
      );
    }
    parts.push(...unavailableLines(result));
    return { markdown: parts.join('\n') };
  },
  shadow: (result) => {
    const run = available(result)[0];
    const parts: string[] = ['## 8. Shadow model: `predictIris` main-path throughput with a shadow 10× slower than the main model vs none', ''];
    if (run !== undefined) {
      const load = run['loadAvg1m'] as number[];
      const share = typeof run['maxEventLoopShare'] === 'number' ? `${fmt(run['maxEventLoopShare'] * 100)} %` : '10 %';
      const la = (x: unknown): string => (x === undefined ? '' : ` (load ${fmt(x)})`);
      parts.push(
        `**In memory (the worst case: ~0.5 µs per record on the main path, so any per-record cost of the shadow shows).** ${fmt(run['recordsPerRun'])} Iris records per run, arriving in chunks of ${fmt(run['chunk'])} (one macrotask each, like Kafka fetches), batch ${fmt(run['batchSize'])}; main model call ${fmt(run['mainCallMs'])} ms. The shadow's queue holds at most ${fmt(run['maxQueued'])} records (the default, batch × 3) and its metered work on this thread may take ${share} of the time (\`maxEventLoopShare\`, default); beyond either, records are dropped for the shadow. Records/s from the first record to the last main result, best of ${fmt(run['rounds'])} alternating rounds; ratio against no shadow in the same run. "waits": the real model, then a wait up to 10× the main call (a slower server or device); "computes": the real model run 10 times per call on the same thread (the worst case: it competes for the main path's CPU, bounded by \`maxEventLoopShare\`). 1-minute load average ${fmt(load[0])} before, ${fmt(load[1])} after (2 cores); each figure carries the load average when its best round ended.`,
        '',
        table(
          ['shadow', 'records/s', 'ratio (target ≥ 0.9)', 'compared', 'dropped', 'shadow ms per call'],
          (run['points'] as Json[]).map((p) => [String(p['shadow']), `${fmt(p['recordsPerSec'])}${la(p['loadAvg1m'])}`, p['shadow'] === 'none' ? '1' : verdict(p['ratio'] as number, 0.9), fmt(p['compared']), fmt(p['dropped']), fmt(p['shadowCallMs'])]),
        ),
        '',
      );
      const kafka = run['kafka'] as Json | undefined;
      if (kafka !== undefined && 'unavailable' in kafka) parts.push(`Kafka pipeline not measured: ${String(kafka['unavailable'])}`, '');
      else if (kafka !== undefined) {
        parts.push(
          `**Inside the README Kafka pipeline (where the promise is made).** \`fromKafka\` → \`predictIris\` (batch ${fmt(kafka['batchSize'])}, ${fmt(kafka['maxLatencyMs'])} ms, as in the README) → \`toKafka\` (default producer), ${fmt(kafka['valueBytes'])} B JSON values; broker: ${String(kafka['broker'])}, ${fmt(kafka['partitions'])} partitions, on the same cores. A pre-filled backlog of ${fmt(kafka['records'])} records, from the first record fetched to the last output acked, best of ${fmt(kafka['rounds'])} interleaved rounds (none, waits, computes, then again); main model call ${fmt(kafka['mainCallMs'])} ms on average (batches as they came). "waits": each call the real model, then a wait to 10× that call's time (10× the main call for the same batch); "computes": the model 10 times per call. CPU: the Node process's user + system time per record in that round (the broker's not included).`,
          '',
          table(
            ['shadow', 'records/s', 'ratio (target ≥ 0.9)', 'CPU µs/record', 'compared', 'dropped', 'shadow ms per call'],
            (kafka['points'] as Json[]).map((p) => [String(p['shadow']), `${fmt(p['recordsPerSec'])}${la(p['loadAvg1m'])}`, p['shadow'] === 'none' ? '1' : verdict(p['ratio'] as number, 0.9), fmt(p['cpuUsPerRecord']), fmt(p['compared']), fmt(p['dropped']), fmt(p['shadowCallMs'])]),
          ),
          '',
        );
      }
    }
    parts.push(...unavailableLines(result));
    return { markdown: parts.join('\n') };
  },
  kafka: (result) => {
    const run = available(result)[0];
    const parts: string[] = ['## 4. Kafka end to end: the README pipeline (`fromKafka` → `predictIris` → `toKafka`, default options) vs a raw passthrough of the same clients', ''];
    if (run !== undefined) {
      const la = (x: unknown): string => `load ${fmt(x)}`;
      parts.push(
        `Broker: ${String(run['broker'])}, ${fmt(run['partitions'])} partitions, one Node process (pipeline, broker clients and load generator); the broker is a JVM on the same cores. Throughput: a pre-filled backlog, from the first record fetched to the last output acked (acks = all), best of ${fmt(run['rounds'])} interleaved rounds (raw and rxml of every client combination in turn). CPU: the Node process's user + system time per record in that round (the broker's is not included); main thread: that of the JS thread alone (\`/proc\`, 10 ms ticks), the one a pipeline is bound by, and of it the garbage-collection pauses (\`gc\` performance entries). Latency: produced → read back from the output topic, at ${fmt(run['offeredPerSec'])} records/s offered. Every figure carries the 1-minute load average when it was taken (2 cores: above ~2 the figures are not quiet-machine figures).`,
        '',
        table(
          ['clients', 'value', 'records', 'raw records/s', 'rxml records/s', 'ratio (target ≥ 0.6)', 'rxml ≥ 100,000/s', 'raw / rxml CPU µs/record', 'raw / rxml main thread µs/record (of it GC pauses)', 'raw p50 / p99 ms', 'rxml p50 / p99 ms'],
          (run['points'] as Json[]).map((p) => {
            const raw = p['raw'] as Json;
            const rxml = p['rxml'] as Json;
            const rl = p['rawLatency'] as Json;
            const xl = p['rxmlLatency'] as Json;
            return [
              String(p['clients']),
              `${fmt(p['valueBytes'])} B`,
              fmt(p['records']),
              `${fmt(raw['recordsPerSec'])} (${la(raw['loadAvg1m'])})`,
              `${fmt(rxml['recordsPerSec'])} (${la(rxml['loadAvg1m'])})`,
              verdict(p['ratio'] as number, 0.6),
              verdict(rxml['recordsPerSec'] as number, 100_000),
              `${fmt(raw['cpuUsPerRecord'])} / ${fmt(rxml['cpuUsPerRecord'])}`,
              raw['mainThreadCpuUsPerRecord'] === undefined ? '–' : `${fmt(raw['mainThreadCpuUsPerRecord'])} (${fmt(raw['gcPauseUsPerRecord'])}) / ${fmt(rxml['mainThreadCpuUsPerRecord'])} (${fmt(rxml['gcPauseUsPerRecord'])})`,
              `${fmt(rl['p50Ms'])} / ${fmt(rl['p99Ms'])} (${la(rl['loadAvg1m'])})`,
              `${fmt(xl['p50Ms'])} / ${fmt(xl['p99Ms'])} (${la(xl['loadAvg1m'])})`,
            ];
          }),
        ),
        '',
        "rxml's own CPU per record: the same pipeline fed by a scripted consumer behind the client seam into a producer that acks at once (no client library, no broker), with a constant model (same specs, `run` returns fixed probabilities) and, for comparison, the real Iris model; process CPU, best of 3, less the scripted consumer's own part (it stands for the client library; measured alone in the same run, best of 3):",
        '',
        table(
          ['value', 'records', 'rxml µs/record (target ≤ 5)', 'with the Iris model µs/record', 'scripted consumer µs/record (subtracted)', 'load'],
          ((run['ownCpu'] as Json[] | undefined) ?? []).map((o) => [
            `${fmt(o['valueBytes'])} B`,
            fmt(o['records']),
            verdict(o['rxmlCpuUsPerRecord'] as number, 5, false),
            fmt(o['withModelCpuUsPerRecord']),
            o['feedCpuUsPerRecord'] === undefined ? '– (not subtracted)' : fmt(o['feedCpuUsPerRecord']),
            fmt(o['loadAvg1m']),
          ]),
        ),
        '',
      );
    }
    parts.push(...unavailableLines(result));
    return { markdown: parts.join('\n') };
  },
};

async function chartSvg(rows: readonly Json[]): Promise<string> {
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Records (Iris) or images (MobileNet) per second vs batch size (log scales)',
    width: 560,
    height: 320,
    data: { values: rows as Json[] },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'batch', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'batch size' },
      y: { field: 'recordsPerSec', type: 'quantitative', scale: { type: 'log' }, title: 'records or images / s' },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

/** Regenerates docs/benchmarks.md (and its SVG chart) from every bench/results/*.json. */
export async function writeReport(resultsDir: string, docsDir: string): Promise<void> {
  const results = load(resultsDir);
  const sections: string[] = [];
  const chartRows: Json[] = [];
  let machine: Json | undefined;
  for (const [name, render] of Object.entries(RENDERERS)) {
    const result = results[name];
    if (result === undefined) continue;
    machine ??= result['machine'] as Json;
    const section = render(result);
    sections.push(section.markdown);
    chartRows.push(...(section.chartRows ?? []));
  }
  if (chartRows.length > 0) writeFileSync(join(docsDir, 'benchmarks-throughput.svg'), await chartSvg(chartRows));
  const notesFile = join(docsDir, 'benchmarks-notes.md');
  const notes = existsSync(notesFile) ? readFileSync(notesFile, 'utf8') : '';
  const md = [
    '# Benchmarks',
    '',
    '_Generated by `pnpm bench` from `bench/results/*.json`; do not edit by hand (analysis lives in `docs/benchmarks-notes.md`, included below)._',
    '',
    'Every figure that matters is a **ratio measured in one run** against the raw library on the same machine: these machines vary up to ~1.8× between runs, so absolute numbers only compare within one file.',
    '',
    machine === undefined ? '' : `Machine: ${String(machine['cpu'])}, ${String(machine['cores'])} cores, ${String(machine['memoryGiB'])} GiB, Node ${String(machine['node'])}.`,
    '',
    chartRows.length > 0 ? '![throughput vs batch size](benchmarks-throughput.svg)\n' : '',
    ...sections,
    notes,
  ].join('\n');
  writeFileSync(join(docsDir, 'benchmarks.md'), md);
}
