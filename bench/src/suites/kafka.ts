import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { Producer as PlatformaticProducer, ProduceAcks, compatibilityPartitioner } from '@platformatic/kafka';
import { Kafka, Partitioners, logLevel, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import { tap } from 'rxjs';
import { loadIrisModel, predictIris, type IrisInput, type Model, type PredictIrisOptions } from '@rxml/core';
import { fromKafka, toKafka, type KafkaRecord } from '@rxml/kafka';
import { fromKafkaWith, toKafkaWith, type ConsumerClient, type ConsumerHandlers, type FetchedMessage, type ProducerClient } from '@rxml/kafka/internal';
import { startKafka } from '@rxml/kafka-testkit';
import { variant } from '../runtime.js';
import { round, summarize, type LatencySummary } from '../stats.js';
import { gcPauses, mainThreadCpuMs } from '../thread-cpu.js';

export const PARTITIONS = 3;
/** Messages per produce request of the raw passthrough (toKafka's default `maxBatchMessages`). */
const SEND_CHUNK = 2000;
const OFFERED_PER_SEC = 1000;

/** The client combinations offered by @rxml/kafka: the consumer is kafkajs, the producer varies. */
const PRODUCERS = ['kafkajs', 'platformatic'] as const;
export type ProducerName = (typeof PRODUCERS)[number];

export interface KafkaSide {
  /** Records/s from the first record fetched to the last acked: best of the interleaved rounds. */
  readonly recordsPerSec: number;
  /** Node process CPU (user + system) per record in that round, µs: pipeline, clients and model (the broker is another process). */
  readonly cpuUsPerRecord: number;
  /**
   * CPU of the main (JS) thread alone per record, µs (`/proc`, 10 ms ticks; absent off Linux): the
   * thread a pipeline is bound by, while `cpuUsPerRecord` also counts V8's GC helpers and libuv.
   */
  readonly mainThreadCpuUsPerRecord?: number;
  /** Garbage-collection pauses of the main thread per record, µs (`gc` performance entries). */
  readonly gcPauseUsPerRecord: number;
  /** 1-minute load average when that round ended. */
  readonly loadAvg1m: number;
}

export interface KafkaPoint {
  /** `kafkajs consumer + <producer> producer`. */
  readonly clients: string;
  readonly producer: ProducerName;
  readonly valueBytes: number;
  readonly records: number;
  /** Consume → produce with the same client libraries, no model, no rxml. */
  readonly raw: KafkaSide;
  /** The README pipeline with default options: fromKafka → predictIris → toKafka. */
  readonly rxml: KafkaSide;
  /** rxml ÷ raw records/s, same run. */
  readonly ratio: number;
  /** End to end (produced → read back from the output topic) at `OFFERED_PER_SEC`. */
  readonly rawLatency: LatencySummary & { readonly loadAvg1m: number };
  readonly rxmlLatency: LatencySummary & { readonly loadAvg1m: number };
}

/**
 * rxml's own CPU per record: the same README pipeline fed by a scripted consumer behind the client
 * seam (fetched batches of 500 prepared messages) into a producer that acks at once, so no client
 * library and no broker run, and with a model whose `run` returns constant probabilities at once
 * (same identity and tensor specs as the Iris model): what is left is rxml (source, predict with
 * Iris parsing/encoding/decoding, sink, JSON in and out). Process CPU, so load on the machine
 * barely moves it (wall-clock model time would).
 */
export interface OwnCpu {
  readonly valueBytes: number;
  readonly records: number;
  /**
   * Process CPU per record with the constant model, less the scripted consumer's own part
   * (`feedCpuUsPerRecord`: it stands for the client library), µs (target ≤ 5). Best of 3.
   */
  readonly rxmlCpuUsPerRecord: number;
  /** The same with the real Iris model (tfjs), µs. Best of 3. */
  readonly withModelCpuUsPerRecord: number;
  /** The scripted consumer alone (its fetched-message objects, offset strings, their GC), µs per record. Best of 3. */
  readonly feedCpuUsPerRecord: number;
  readonly loadAvg1m: number;
}

/** A stand-in with the Iris model's identity and specs whose `run` costs nothing: constant probabilities. */
export function constantModel(model: Model): Model {
  return {
    name: model.name,
    version: model.version,
    runtime: 'constant (bench)',
    inputs: model.inputs,
    outputs: model.outputs,
    run: (inputs) => {
      const n = inputs[0]?.shape[0] ?? 0;
      const data = new Float32Array(n * 3);
      // Element writes, not `data.set([…])`: an array literal per record would be the model's cost counted as rxml's.
      for (let i = 0; i < n * 3; i += 3) {
        data[i] = 0.9;
        data[i + 1] = 0.09;
        data[i + 2] = 0.01;
      }
      return Promise.resolve([{ data, shape: [n, 3] }]);
    },
    dispose: () => undefined,
  };
}

export interface KafkaResult {
  readonly ownCpu: readonly OwnCpu[];
  readonly backend: string;
  readonly broker: string;
  readonly partitions: number;
  readonly offeredPerSec: number;
  readonly rounds: number;
  readonly points: readonly KafkaPoint[];
}

export const load1 = (): number => round(loadavg()[0] ?? 0, 2);

/** A JSON Iris record padded with a `note` field to exactly `bytes` bytes. */
export function irisValue(i: number, bytes: number): Buffer {
  const base = `{"sepalLength":${(4.3 + (i % 36) / 10).toFixed(1)},"sepalWidth":${(2 + (i % 24) / 10).toFixed(1)},"petalLength":${(1 + (i % 59) / 10).toFixed(1)},"petalWidth":${(0.1 + (i % 25) / 10).toFixed(1)},"note":"`;
  const pad = Math.max(0, bytes - base.length - 2);
  return Buffer.from(`${base}${'x'.repeat(pad)}"}`);
}

export async function fill(producer: Producer, topic: string, count: number, bytes: number): Promise<void> {
  const inFlight: Promise<unknown>[] = [];
  for (let start = 0; start < count; start += SEND_CHUNK) {
    const messages = Array.from({ length: Math.min(SEND_CHUNK, count - start) }, (_, j) => ({ key: String(start + j), value: irisValue(start + j, bytes) }));
    inFlight.push(producer.send({ topic, acks: -1, messages }));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
}

export interface Pipeline {
  /** Resolves once the consumer has joined its group and got its partitions. */
  readonly ready: Promise<void>;
  /** Resolves with [first record seen, last record acked] (ms) after `count` records. */
  readonly done: Promise<[number, number]>;
  stop(): Promise<void>;
}

/** The raw passthrough's producer: the same library `toKafka` uses in that combination, acks = all. */
interface RawProducer {
  send(topic: string, messages: readonly KafkaMessage[]): Promise<void>;
  close(): Promise<void>;
}

function rawProducer(name: ProducerName, kafka: Kafka, brokers: readonly string[]): RawProducer {
  if (name === 'kafkajs') {
    const producer: Producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
    const connected = producer.connect();
    return {
      send: async (topic, messages) => {
        await connected;
        await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages: messages.map((m) => ({ key: m.key, value: m.value })) }] });
      },
      close: () => producer.disconnect(),
    };
  }
  const producer = new PlatformaticProducer({ clientId: 'rxml-bench-raw', bootstrapBrokers: [...brokers], acks: ProduceAcks.ALL, partitioner: compatibilityPartitioner, autocreateTopics: true });
  return {
    send: async (topic, messages) => {
      await producer.send({ messages: messages.map((m) => ({ topic, ...(m.key === null ? {} : { key: m.key }), ...(m.value === null ? {} : { value: m.value }) })) });
    },
    close: () => producer.close(),
  };
}

function rawPassthrough(kafka: Kafka, brokers: readonly string[], producerName: ProducerName, from: string, to: string, count: number): Pipeline {
  const consumer: Consumer = kafka.consumer({ groupId: `raw-${randomUUID()}`, maxWaitTimeInMs: 500 });
  const producer = rawProducer(producerName, kafka, brokers);
  let first = 0;
  let seen = 0;
  let resolveDone: (v: [number, number]) => void = () => undefined;
  const done = new Promise<[number, number]>((r) => (resolveDone = r));
  const ready = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  const started = (async () => {
    await consumer.connect();
    await consumer.subscribe({ topic: from, fromBeginning: true });
    await consumer.run({
      autoCommitInterval: 200,
      eachBatch: async ({ batch }) => {
        if (first === 0) first = performance.now();
        for (let i = 0; i < batch.messages.length; i += SEND_CHUNK) {
          const chunk = batch.messages.slice(i, i + SEND_CHUNK);
          await producer.send(to, chunk);
          seen += chunk.length;
        }
        if (seen >= count) resolveDone([first, performance.now()]);
      },
    });
  })();
  return {
    ready,
    done,
    stop: async () => {
      await started;
      await consumer.disconnect();
      await producer.close();
    },
  };
}

/** Numeric options from a JSON object in environment variable `name` (tuning experiments; the benchmark's figures use none). */
function experimentOptions(name: string): Record<string, number> {
  const text = process.env[name];
  return text ? (JSON.parse(text) as Record<string, number>) : {};
}

/**
 * The README pipeline, default options (only `deserialize: 'json'` for the JSON values, and the
 * producer under test: `undefined` for toKafka's default), plus `options` for `predictIris` (the
 * shadow suite's `batch`, `shadow`, `onBatch`).
 */
export function rxmlPipeline(
  brokers: string[],
  model: Model,
  producer: ProducerName | undefined,
  from: string,
  to: string,
  count: number,
  options: Omit<PredictIrisOptions<KafkaRecord<unknown>>, 'select'> = {},
): Pipeline {
  const abort = new AbortController();
  let first = 0;
  let seen = 0;
  let resolveDone: (v: [number, number]) => void = () => undefined;
  const done = new Promise<[number, number]>((r) => (resolveDone = r));
  let finished: () => void = () => undefined;
  const closed = new Promise<void>((r) => (finished = r));
  let assigned: () => void = () => undefined;
  const ready = new Promise<void>((r) => (assigned = r));
  const subscription = fromKafka({
    brokers,
    topic: from,
    groupId: `rxml-${randomUUID()}`,
    fromBeginning: true,
    deserialize: 'json',
    signal: abort.signal,
    // RXML_BENCH_KAFKA_SOURCE_OPTIONS='{"maxInFlightBytes":16777216}': more fromKafka options, for experiments.
    ...experimentOptions('RXML_BENCH_KAFKA_SOURCE_OPTIONS'),
    onEvent: (e) => {
      if (e.type === 'assigned') assigned();
    },
  })
    .pipe(
      tap(() => {
        if (first === 0) first = performance.now();
      }),
      predictIris(model, { ...options, select: (r) => r.value as IrisInput }),
      toKafka({
        brokers,
        topic: to,
        deadLetterTopic: `${to}-dlq`,
        ...(producer === undefined ? {} : { producer }),
        // RXML_BENCH_KAFKA_SINK_OPTIONS='{"maxBatchMessages":4000}': more toKafka options, for experiments.
        ...experimentOptions('RXML_BENCH_KAFKA_SINK_OPTIONS'),
      }),
    )
    .subscribe({
      next: () => {
        if (++seen === count) resolveDone([first, performance.now()]);
      },
      error: (e: unknown) => {
        process.stderr.write(`[kafka] rxml pipeline failed: ${String(e)}\n`);
        finished();
      },
      complete: () => finished(),
    });
  return {
    ready,
    done,
    stop: async () => {
      abort.abort();
      await Promise.race([closed, new Promise((r) => setTimeout(r, 10_000))]);
      subscription.unsubscribe();
    },
  };
}

/** See `OwnCpu`. Best of 3 runs each, alternating. */
export async function measureOwnCpu(irisModel: Model, bytes: number, records: number): Promise<OwnCpu> {
  const run = (model: Model): Promise<number> => ownCpuOnce(model, bytes, records);
  const constant = constantModel(irisModel);
  let own = Number.POSITIVE_INFINITY;
  let withModel = Number.POSITIVE_INFINITY;
  let feed = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    feed = Math.min(feed, await feedCpuOnce(bytes, records));
    own = Math.min(own, await run(constant));
    withModel = Math.min(withModel, await run(irisModel));
  }
  const result = {
    valueBytes: bytes,
    records,
    rxmlCpuUsPerRecord: round(own - feed, 2),
    withModelCpuUsPerRecord: round(withModel - feed, 2),
    feedCpuUsPerRecord: round(feed, 2),
    loadAvg1m: load1(),
  };
  process.stderr.write(
    `[kafka] ${bytes} B rxml's own CPU (no client library, no broker, constant model): ${result.rxmlCpuUsPerRecord} µs/record; with the Iris model ${result.withModelCpuUsPerRecord} µs/record; ` +
      `the scripted consumer's own part, subtracted from both: ${result.feedCpuUsPerRecord} (load average ${result.loadAvg1m})\n`,
  );
  return result;
}

/**
 * The scripted consumer: batches of 500 JSON Iris records (`bytes` each) per partition, round-robin,
 * as fast as the handler takes them, pausing and resuming as asked. It stands for the client
 * library: {@link feedCpuOnce} measures what it costs alone.
 */
function scriptedConsumer(bytes: number, records: number): { readonly client: ConsumerClient; readonly fed: () => number; readonly handlers: () => ConsumerHandlers | undefined; readonly pump: () => void } {
  const values = Array.from({ length: 1000 }, (_, i) => irisValue(i, bytes));
  // Keys made once, like values: a client hands over slices of its fetch response, so building
  // them here per record (Buffer.from of a string) would count the harness' work as rxml's.
  const keys = Array.from({ length: 1000 }, (_, i) => Buffer.from(String(i)));
  let handlers: ConsumerHandlers | undefined;
  let paused = false;
  let fed = 0;
  const next = [0, 0, 0];
  const pump = (): void => {
    while (handlers !== undefined && !paused && fed < records) {
      const partition = fed % PARTITIONS;
      const messages: FetchedMessage[] = [];
      for (let i = 0; i < 500; i++) messages.push({ offset: String(next[partition]! + i), key: keys[(fed + i) % keys.length]!, value: values[(fed + i) % values.length]!, timestamp: '1700000000000' });
      const taken = handlers.onBatch({ topic: 'in', partition, messages });
      next[partition]! += taken;
      fed += taken;
      if (taken < messages.length) break;
    }
    if (fed < records && !paused) setImmediate(pump);
  };
  const client: ConsumerClient = {
    start: (h) => {
      handlers = h;
      return Promise.resolve();
    },
    pause: () => void (paused = true),
    resume: () => {
      paused = false;
      pump();
    },
    commit: () => Promise.resolve(),
    stop: () => Promise.resolve(),
  };
  return { client, fed: () => fed, handlers: () => handlers, pump };
}

/**
 * The scripted consumer alone, into a handler that takes every batch and keeps nothing: process CPU
 * per record, µs. That is the client library's part of {@link ownCpuOnce}'s figure (making the
 * fetched-message objects and their offset strings, and collecting them), subtracted from it.
 */
export async function feedCpuOnce(bytes: number, records: number): Promise<number> {
  const { client, fed, pump } = scriptedConsumer(bytes, records);
  await client.start({ onBatch: (batch) => batch.messages.length, onRebalancing: () => undefined, onAssigned: () => undefined, onCrash: () => undefined });
  const cpu0 = process.cpuUsage();
  pump();
  while (fed() < records) await new Promise((r) => setImmediate(r));
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / records;
}

/**
 * One run of the own-CPU scenario (see `OwnCpu`): process CPU per record, µs, of the whole run —
 * the scripted consumer's own part included ({@link feedCpuOnce} measures that to subtract).
 */
export async function ownCpuOnce(model: Model, bytes: number, records: number): Promise<number> {
  const { client, handlers, pump } = scriptedConsumer(bytes, records);
  const producer: ProducerClient = { connect: () => Promise.resolve(), send: () => Promise.resolve(), isRetriable: () => false, disconnect: () => Promise.resolve() };
  let done = 0;
  const abort = new AbortController();
  const finished = new Promise<void>((resolve) => {
    fromKafkaWith({ topic: 'in', groupId: 'own', deserialize: 'json', signal: abort.signal }, () => client)
      .pipe(
        predictIris(model, { select: (r) => r.value as IrisInput }),
        toKafkaWith({ topic: 'out', deadLetterTopic: 'dlq' }, () => producer),
      )
      .subscribe({ next: () => void (++done === records && resolve()) });
  });
  await new Promise((r) => setTimeout(r, 10));
  handlers()?.onAssigned(Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: 'in', partition })), 'member');
  const cpu0 = process.cpuUsage();
  pump();
  await finished;
  const cpu = process.cpuUsage(cpu0);
  abort.abort();
  return (cpu.user + cpu.system) / records;
}

/** Offers `OFFERED_PER_SEC` records for `seconds` (keys carry the send time) and reads them back from `out`. */
async function latencyAtLoad(kafka: Kafka, input: string, out: string, bytes: number, seconds: number, start: () => Pipeline): Promise<LatencySummary & { loadAvg1m: number }> {
  const pipeline = start();
  const reader = kafka.consumer({ groupId: `lat-${randomUUID()}`, maxWaitTimeInMs: 100 });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await Promise.all([reader.connect(), producer.connect()]);
  await reader.subscribe({ topic: out, fromBeginning: false });
  const latencies: number[] = [];
  let joined = false;
  const joinedP = new Promise<void>((r) => reader.on(reader.events.GROUP_JOIN, () => ((joined = true), r())));
  await reader.run({
    eachBatch: ({ batch }) => {
      const now = performance.now();
      for (const m of batch.messages) {
        const sent = Number(m.key?.toString().split(':')[1]);
        if (Number.isFinite(sent)) latencies.push(now - sent);
      }
      return Promise.resolve();
    },
  });
  if (!joined) await joinedP;
  await pipeline.ready;
  // Let the first fetches settle (they wait up to maxWaitTimeInMs on empty topics).
  await new Promise((r) => setTimeout(r, 1000));
  const total = OFFERED_PER_SEC * seconds;
  const tick = 10;
  const perTick = (OFFERED_PER_SEC * tick) / 1000;
  const t0 = performance.now();
  for (let sent = 0, n = 0; sent < total; n++) {
    const due = t0 + n * tick;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const messages = Array.from({ length: perTick }, (_, j) => ({ key: `lat:${performance.now()}:${sent + j}`, value: irisValue(sent + j, bytes) }));
    void producer.send({ topic: input, acks: -1, messages });
    sent += perTick;
  }
  const deadline = performance.now() + 10_000;
  while (latencies.length < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const loadAvg1m = load1();
  await Promise.all([reader.disconnect(), producer.disconnect(), pipeline.stop()]);
  return { ...summarize(latencies), loadAvg1m };
}

/**
 * With RXML_BENCH_PROFILE=<dir>, CPU-profiles one throughput phase alone (the fill and the other
 * phases use the same kafkajs code, so a whole-process --cpu-prof would mix them) into <dir>/<name>.cpuprofile.
 */
async function profile(name: string): Promise<() => Promise<void>> {
  const dir = process.env['RXML_BENCH_PROFILE'];
  if (dir === undefined || dir === '') return () => Promise.resolve();
  // RXML_BENCH_PROFILE_SNAPSHOT=<ms>: one heap snapshot that many ms into the phase instead (what is
  // alive while records are in flight), <dir>/<name>.heapsnapshot.
  const snapshotAfterMs = Number(process.env['RXML_BENCH_PROFILE_SNAPSHOT']);
  if (snapshotAfterMs > 0) {
    const timer = setTimeout(() => writeHeapSnapshot(join(dir, `${name}.heapsnapshot`)), snapshotAfterMs);
    return () => {
      clearTimeout(timer);
      return Promise.resolve();
    };
  }
  const session = new Session();
  session.connect();
  // RXML_BENCH_PROFILE_HEAP=1: an allocation-sampling profile instead (what the garbage collector
  // collects: every object sampled, also those dead by the next scavenge), <dir>/<name>.heapprofile.
  if (process.env['RXML_BENCH_PROFILE_HEAP'] === '1') {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as object);
    return async () => {
      const { profile: result } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(join(dir, `${name}.heapprofile`), JSON.stringify(result));
      session.disconnect();
    };
  }
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile: result } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(result));
    session.disconnect();
  };
}

/**
 * The README pipeline (default options) vs a raw consume → produce passthrough of the same client
 * combination, per producer library and value size, in interleaved rounds (raw kafkajs, rxml
 * kafkajs, raw platformatic, rxml platformatic, then again) on one real broker, best round each.
 */
export async function kafkaSuite(quick: boolean): Promise<KafkaResult> {
  const broker = await startKafka({ defaultPartitions: PARTITIONS });
  const kafka = new Kafka({ clientId: 'rxml-bench', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const model = await loadIrisModel();
  const points: KafkaPoint[] = [];
  const ownCpu: OwnCpu[] = [];
  for (const bytes of [100, 1000]) ownCpu.push(await measureOwnCpu(model, bytes, quick ? 50_000 : 400_000));
  const rounds = quick ? 1 : 3;
  // RXML_BENCH_KAFKA_RECORDS=<n>: records per throughput phase (e.g. a --quick run long enough to profile).
  const recordsEnv = Number(process.env['RXML_BENCH_KAFKA_RECORDS']);
  const recordsOverride = Number.isInteger(recordsEnv) && recordsEnv > 0 ? recordsEnv : undefined;
  const only = process.env['RXML_BENCH_KAFKA_PRODUCERS']?.split(',').filter((p): p is ProducerName => (PRODUCERS as readonly string[]).includes(p));
  const producers = only !== undefined && only.length > 0 ? only : PRODUCERS;
  try {
    const filler = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await filler.connect();
    for (const bytes of [100, 1000]) {
      const records = recordsOverride ?? (quick ? 10_000 : bytes === 100 ? 200_000 : 100_000);
      const id = `${bytes}-${randomUUID().slice(0, 8)}`;
      const input = `bench-in-${id}`;
      await broker.createTopic(input, PARTITIONS);
      await fill(filler, input, records, bytes);

      let run = 0;
      const measure = async (name: string, start: (to: string) => Pipeline): Promise<KafkaSide> => {
        const to = `bench-out-${id}-${run++}`;
        await broker.createTopic(to, PARTITIONS);
        await broker.createTopic(`${to}-dlq`, 1);
        const stopProfile = await profile(`kafka-${name}-${bytes}`);
        const cpu0 = process.cpuUsage();
        const thread0 = mainThreadCpuMs();
        const gc = gcPauses();
        const p = start(to);
        const [first, last] = await p.done;
        const cpu = process.cpuUsage(cpu0);
        const thread1 = mainThreadCpuMs();
        const gcMs = gc();
        await stopProfile();
        await p.stop();
        const side: KafkaSide = {
          recordsPerSec: round((records * 1000) / (last - first), 0),
          cpuUsPerRecord: round((cpu.user + cpu.system) / records, 2),
          ...(thread0 === undefined || thread1 === undefined ? {} : { mainThreadCpuUsPerRecord: round(((thread1 - thread0) * 1000) / records, 2) }),
          gcPauseUsPerRecord: round((gcMs * 1000) / records, 2),
          loadAvg1m: load1(),
        };
        const thread = side.mainThreadCpuUsPerRecord === undefined ? '' : `, main thread ${side.mainThreadCpuUsPerRecord}`;
        process.stderr.write(`[kafka] ${bytes} B ${name}: ${side.recordsPerSec} rec/s, ${side.cpuUsPerRecord} µs CPU/record${thread}, GC pauses ${side.gcPauseUsPerRecord} (load average ${side.loadAvg1m})\n`);
        return side;
      };
      const best = new Map<string, KafkaSide>();
      const keep = (key: string, side: KafkaSide): void => {
        const old = best.get(key);
        if (old === undefined || side.recordsPerSec > old.recordsPerSec) best.set(key, side);
      };
      for (let r = 0; r < rounds; r++) {
        for (const producer of producers) {
          keep(`raw-${producer}`, await measure(`raw-${producer}`, (to) => rawPassthrough(kafka, broker.brokers, producer, input, to, records)));
          keep(`rxml-${producer}`, await measure(`rxml-${producer}`, (to) => rxmlPipeline(broker.brokers, model, producer, input, to, records)));
        }
      }

      for (const producer of producers) {
        // Latency: fresh input topics so the backlog above is not replayed.
        const seconds = quick ? 1 : 8;
        const lat = `${id}-${producer}`;
        const rawIn = `bench-lat-in-raw-${lat}`;
        const rxmlIn = `bench-lat-in-rxml-${lat}`;
        for (const t of [rawIn, rxmlIn, `bench-lat-raw-${lat}`, `bench-lat-rxml-${lat}`]) await broker.createTopic(t, PARTITIONS);
        await broker.createTopic(`bench-lat-rxml-${lat}-dlq`, 1);
        const rawLatency = await latencyAtLoad(kafka, rawIn, `bench-lat-raw-${lat}`, bytes, seconds, () => rawPassthrough(kafka, broker.brokers, producer, rawIn, `bench-lat-raw-${lat}`, Number.MAX_SAFE_INTEGER));
        const rxmlLatency = await latencyAtLoad(kafka, rxmlIn, `bench-lat-rxml-${lat}`, bytes, seconds, () => rxmlPipeline(broker.brokers, model, producer, rxmlIn, `bench-lat-rxml-${lat}`, Number.MAX_SAFE_INTEGER));
        process.stderr.write(`[kafka] ${bytes} B ${producer} latency at ${OFFERED_PER_SEC}/s: raw ${JSON.stringify(rawLatency)}, rxml ${JSON.stringify(rxmlLatency)}\n`);
        const raw = best.get(`raw-${producer}`)!;
        const rxml = best.get(`rxml-${producer}`)!;
        points.push({ clients: `kafkajs consumer + ${producer} producer`, producer, valueBytes: bytes, records, raw, rxml, ratio: round(rxml.recordsPerSec / raw.recordsPerSec), rawLatency, rxmlLatency });
      }
    }
    await filler.disconnect();
  } finally {
    model.dispose();
    await broker.stop();
  }
  return { ownCpu, backend: variant(), broker: broker.external ? 'KAFKA_BROKERS' : 'kafka-testkit (single node, KRaft)', partitions: PARTITIONS, offeredPerSec: OFFERED_PER_SEC, rounds, points };
}
