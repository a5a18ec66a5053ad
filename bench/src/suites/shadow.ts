import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { Observable, lastValueFrom, tap, count } from 'rxjs';
import { CHANNELS, IRIS_MODEL_DIR, SHADOW_EVENT_LOOP_SHARE, activeBackend, loadIrisModel, loadModel, predictIris, subscribe, type Model, type TensorData } from '@rxml/core';
import { startKafka } from '@rxml/kafka-testkit';
import { round } from '../stats.js';
import { PARTITIONS, fill, load1, rxmlPipeline } from './kafka.js';

export interface ShadowPoint {
  /** `none`, or how the shadow is made 10× slower than the main model. */
  readonly shadow: string;
  /** Main-path records/s: records ÷ time from the first record to the last main result (the shadow's drain after it is not counted). */
  readonly recordsPerSec: number;
  /** recordsPerSec ÷ the same without a shadow, best rounds of the same run. */
  readonly ratio: number;
  /** Records the shadow compared / dropped in the last round. */
  readonly compared: number;
  readonly dropped: number;
  /** Mean wall time of one shadow model call in the last round, ms. */
  readonly shadowCallMs: number;
  /** 1-minute load average when the best round ended. */
  readonly loadAvg1m: number;
}

/** One shadow kind in the Kafka pipeline (best of the interleaved rounds). */
export interface ShadowKafkaPoint extends ShadowPoint {
  /** Node process CPU (user + system) per record in the best round, µs (the broker is another process). */
  readonly cpuUsPerRecord: number;
}

/**
 * The README pipeline (`fromKafka` → `predictIris` with the README's batch → `toKafka`, default
 * producer) on the testkit broker, over a pre-filled backlog, with and without the shadow.
 */
export interface ShadowKafkaResult {
  readonly broker: string;
  readonly partitions: number;
  readonly records: number;
  readonly valueBytes: number;
  readonly batchSize: number;
  readonly maxLatencyMs: number;
  readonly rounds: number;
  /** Mean wall time of one main model call in the runs without a shadow (batches as they came), ms. */
  readonly mainCallMs: number;
  readonly points: readonly ShadowKafkaPoint[];
}

export interface ShadowResult {
  readonly backend: string;
  readonly recordsPerRun: number;
  readonly rounds: number;
  readonly batchSize: number;
  /** Records per chunk of the source (a Kafka fetch), one macrotask each. */
  readonly chunk: number;
  /** Mean wall time of one main model call (batch `batchSize`), ms, measured before the rounds. */
  readonly mainCallMs: number;
  readonly maxQueued: number;
  readonly points: readonly ShadowPoint[];
  /** 1-minute load average before and after the rounds (2 cores: above ~2 the machine was not quiet). */
  readonly loadAvg1m: readonly [number, number];
  /** Default `shadow.maxEventLoopShare` the runs used. */
  readonly maxEventLoopShare: number;
  /** The same comparison inside the README Kafka pipeline; absent when no broker could start. */
  readonly kafka: ShadowKafkaResult | { readonly unavailable: string };
}

function sampleRow(i: number): number[] {
  return [4.3 + (i % 36) / 10, 2 + (i % 24) / 10, 1 + (i % 59) / 10, 0.1 + (i % 25) / 10];
}

/** `total` records in chunks of `chunk`, one chunk per macrotask — how records arrive from fromKafka's fetches. */
function chunkedSource(records: readonly number[][], chunk: number): Observable<number[]> {
  return new Observable<number[]>((subscriber) => {
    let at = 0;
    let timer: NodeJS.Immediate | undefined;
    const next = (): void => {
      const end = Math.min(records.length, at + chunk);
      for (; at < end && !subscriber.closed; at++) subscriber.next(records[at]!);
      if (at >= records.length) subscriber.complete();
      else timer = setImmediate(next);
    };
    timer = setImmediate(next);
    return () => clearImmediate(timer);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The real Iris model, each call lasting 10× the main model's: the real call, then a wait (a slower
 * server or device). `callMs`: the main call's time; `undefined`: 10× this call's own real part
 * (batches of every size, as in a Kafka pipeline).
 */
function waitingShadow(model: Model, callMs: number | undefined, calls: number[]): Model {
  return {
    ...model,
    name: 'iris-shadow-waits',
    async run(inputs: readonly TensorData[]): Promise<TensorData[]> {
      const started = performance.now();
      const out = await model.run(inputs);
      const rest = 10 * (callMs ?? performance.now() - started) - (performance.now() - started);
      if (rest > 0) await sleep(rest);
      calls.push(performance.now() - started);
      return out;
    },
  };
}

/** The real Iris model run 10 times per call, synchronously: 10× the main model's CPU on the same thread (a bigger model). */
function computingShadow(model: Model, calls: number[]): Model {
  return {
    ...model,
    name: 'iris-shadow-computes',
    async run(inputs: readonly TensorData[]): Promise<TensorData[]> {
      const started = performance.now();
      // Ten calls started at once: a tfjs call computes synchronously, so this blocks like one model 10× the size.
      const outs = await Promise.all(Array.from({ length: 10 }, () => model.run(inputs)));
      calls.push(performance.now() - started);
      return outs[0]!;
    },
  };
}

/** The three shadows compared (none, one that waits, one that computes) and the call times they record. */
function shadowKinds(base: Model, callMs: number | undefined) {
  const waitCalls: number[] = [];
  const computeCalls: number[] = [];
  const kinds = {
    none: undefined,
    '10× slower (waits)': waitingShadow(base, callMs, waitCalls),
    '10× slower (computes)': computingShadow(base, computeCalls),
  } as const;
  return { kinds, waitCalls, computeCalls };
}
type Kind = keyof ReturnType<typeof shadowKinds>['kinds'];

/**
 * Main-path throughput of `predictIris` with a shadow 10× slower than the main model vs without a
 * shadow, in one process, alternating rounds (best round each). Two kinds of slow shadow: one
 * whose calls wait (a remote or slower device: little CPU here) and one that computes 10× more on
 * the same thread (the worst case: it competes for the main path's CPU; only its bounded queue
 * limits it).
 */
export async function shadowSuite(quick: boolean): Promise<ShadowResult> {
  const backend = await activeBackend();
  const main = await loadIrisModel();
  const base = await loadModel(IRIS_MODEL_DIR, { name: 'iris-shadow' });
  const recordsPerRun = quick ? 20_000 : 200_000;
  const rounds = quick ? 2 : 5;
  const batchSize = 256;
  const chunk = 500;
  const maxQueued = batchSize * 3;
  const records = Array.from({ length: recordsPerRun }, (_, i) => sampleRow(i));
  const load0 = loadavg()[0]!;

  // The main model's call time at this batch size, from its own batch events.
  const durations: number[] = [];
  for (let i = 0; i < 3; i++) {
    await lastValueFrom(chunkedSource(records, chunk).pipe(predictIris(main, { batch: { size: batchSize, maxLatencyMs: 5 }, onBatch: (b) => durations.push(b.durationMs) }), count()));
  }
  const recent = durations.slice(-Math.max(10, Math.floor(durations.length / 3)));
  const mainCallMs = recent.reduce((a, b) => a + b, 0) / recent.length;

  const { kinds, waitCalls, computeCalls } = shadowKinds(base, mainCallMs);
  const best: Record<Kind, number> = { none: 0, '10× slower (waits)': 0, '10× slower (computes)': 0 };
  const bestLoad: Record<Kind, number> = { none: 0, '10× slower (waits)': 0, '10× slower (computes)': 0 };
  const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  const none = { compared: 0, dropped: 0, callMs: 0 };
  const last: Record<Kind, { compared: number; dropped: number; callMs: number }> = { none, '10× slower (waits)': none, '10× slower (computes)': none };

  let dropped = 0;
  const stop = subscribe(CHANNELS.shadowComparison, (m) => {
    if (m.type === 'dropped') dropped += m.count ?? 0;
  });
  try {
    for (let round_ = 0; round_ < rounds; round_++) {
      for (const kind of Object.keys(kinds) as Kind[]) {
        waitCalls.length = 0;
        computeCalls.length = 0;
        dropped = 0;
        let compared = 0;
        let lastResultAt = 0;
        const shadowModel = kinds[kind];
        const started = performance.now();
        await lastValueFrom(
          chunkedSource(records, chunk).pipe(
            predictIris(main, {
              batch: { size: batchSize, maxLatencyMs: 5 },
              ...(shadowModel === undefined ? {} : { shadow: { model: shadowModel, maxQueued, onComparison: () => compared++ } }),
            }),
            tap(() => (lastResultAt = performance.now())),
            count(),
          ),
        );
        const perSec = (recordsPerRun * 1000) / (lastResultAt - started);
        if (perSec > best[kind]) bestLoad[kind] = load1();
        best[kind] = Math.max(best[kind], perSec);
        last[kind] = { compared, dropped, callMs: mean(kind === 'none' ? [] : kind === '10× slower (waits)' ? waitCalls : computeCalls) };
      }
    }
  } finally {
    stop();
  }
  const points = (Object.keys(kinds) as Kind[]).map((kind) => ({
    shadow: kind,
    recordsPerSec: round(best[kind], 0),
    ratio: round(best[kind] / best.none),
    compared: last[kind].compared,
    dropped: last[kind].dropped,
    shadowCallMs: round(last[kind].callMs, 2),
    loadAvg1m: bestLoad[kind],
  }));
  for (const p of points) process.stderr.write(`[shadow] in memory, ${p.shadow}: ${p.recordsPerSec} records/s, ratio ${p.ratio} (compared ${p.compared}, dropped ${p.dropped}, load average ${p.loadAvg1m})\n`);
  let kafka: ShadowResult['kafka'];
  try {
    kafka = await kafkaCase(quick, main, base);
  } catch (error) {
    kafka = { unavailable: String(error) };
    process.stderr.write(`[shadow] kafka case unavailable: ${String(error)}\n`);
  }
  const result: ShadowResult = {
    backend: backend.name,
    recordsPerRun,
    rounds,
    batchSize,
    chunk,
    mainCallMs: round(mainCallMs, 3),
    maxQueued,
    points,
    loadAvg1m: [round(load0, 2), round(loadavg()[0]!, 2)],
    maxEventLoopShare: SHADOW_EVENT_LOOP_SHARE,
    kafka,
  };
  main.dispose();
  base.dispose();
  return result;
}

/**
 * The README Iris pipeline on the testkit broker (the kafka suite's helpers: backlog fill, pipeline),
 * 100 B JSON values, README batch (256, 5 ms), default producer: no shadow, a shadow that waits
 * (each call 10× its own real model call: 10× the main call for the same batch) and one that
 * computes (the model 10 times per call), in interleaved rounds; best round each.
 */
async function kafkaCase(quick: boolean, main: Model, base: Model): Promise<ShadowKafkaResult> {
  const records = quick ? 10_000 : 150_000;
  const rounds = quick ? 1 : 3;
  const valueBytes = 100;
  const batch = { size: 256, maxLatencyMs: 5 };
  const broker = await startKafka({ defaultPartitions: PARTITIONS });
  const kafka = new Kafka({ clientId: 'rxml-bench-shadow', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const { kinds, waitCalls, computeCalls } = shadowKinds(base, undefined);
  const mainCalls: number[] = [];
  const best = new Map<Kind, ShadowKafkaPoint>();
  let dropped = 0;
  const stop = subscribe(CHANNELS.shadowComparison, (m) => {
    if (m.type === 'dropped') dropped += m.count ?? 0;
  });
  try {
    const input = `shadow-in-${randomUUID().slice(0, 8)}`;
    await broker.createTopic(input, PARTITIONS);
    const filler = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await filler.connect();
    await fill(filler, input, records, valueBytes);
    await filler.disconnect();
    let run = 0;
    // One unmeasured run first, so that the first measured kind does not pay for the JIT and the connections' warm-up.
    {
      const to = `${input}-out-${run++}`;
      await broker.createTopic(to, PARTITIONS);
      await broker.createTopic(`${to}-dlq`, 1);
      const warmUp = rxmlPipeline(broker.brokers, main, undefined, input, to, records, { batch });
      await warmUp.done;
      await warmUp.stop();
    }
    for (let r = 0; r < rounds; r++) {
      for (const kind of Object.keys(kinds) as Kind[]) {
        const to = `${input}-out-${run++}`;
        await broker.createTopic(to, PARTITIONS);
        await broker.createTopic(`${to}-dlq`, 1);
        waitCalls.length = 0;
        computeCalls.length = 0;
        dropped = 0;
        let compared = 0;
        const shadowModel = kinds[kind];
        const cpu0 = process.cpuUsage();
        const pipeline = rxmlPipeline(broker.brokers, main, undefined, input, to, records, {
          batch,
          ...(shadowModel === undefined ? { onBatch: (b) => void mainCalls.push(b.durationMs) } : { shadow: { model: shadowModel, onComparison: () => void compared++ } }),
        });
        const [first, last] = await pipeline.done;
        const cpu = process.cpuUsage(cpu0);
        await pipeline.stop();
        const calls = kind === '10× slower (waits)' ? waitCalls : computeCalls;
        const point: ShadowKafkaPoint = {
          shadow: kind,
          recordsPerSec: round((records * 1000) / (last - first), 0),
          ratio: 0,
          compared,
          dropped,
          shadowCallMs: round(calls.length === 0 ? 0 : calls.reduce((a, b) => a + b, 0) / calls.length, 2),
          loadAvg1m: load1(),
          cpuUsPerRecord: round((cpu.user + cpu.system) / records, 2),
        };
        process.stderr.write(`[shadow] kafka, ${kind}: ${point.recordsPerSec} records/s, ${point.cpuUsPerRecord} µs CPU/record (compared ${compared}, dropped ${dropped}, load average ${point.loadAvg1m})\n`);
        if ((best.get(kind)?.recordsPerSec ?? 0) < point.recordsPerSec) best.set(kind, point);
      }
    }
  } finally {
    stop();
    await broker.stop();
  }
  const none = best.get('none')!.recordsPerSec;
  const points = (Object.keys(kinds) as Kind[]).map((kind) => ({ ...best.get(kind)!, ratio: round(best.get(kind)!.recordsPerSec / none) }));
  for (const p of points) process.stderr.write(`[shadow] kafka, ${p.shadow}: best ${p.recordsPerSec} records/s, ratio ${p.ratio} (load average ${p.loadAvg1m})\n`);
  return {
    broker: broker.external ? 'KAFKA_BROKERS' : 'kafka-testkit (single node, KRaft)',
    partitions: PARTITIONS,
    records,
    valueBytes,
    batchSize: batch.size,
    maxLatencyMs: batch.maxLatencyMs,
    rounds,
    mainCallMs: round(mainCalls.length === 0 ? 0 : mainCalls.reduce((a, b) => a + b, 0) / mainCalls.length, 3),
    points,
  };
}
