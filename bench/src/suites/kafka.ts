import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { Kafka, Partitioners, logLevel, type Consumer, type Producer } from 'kafkajs';
import { tap } from 'rxjs';
import { loadIrisModel, predictIris, type IrisInput, type Model } from '@rxml/core';
import { fromKafka, toKafka } from '@rxml/kafka';
import { startKafka } from '@rxml/kafka-testkit';
import { variant } from '../runtime.js';
import { round, summarize, type LatencySummary } from '../stats.js';

const PARTITIONS = 3;
/** Messages per produce request, the same for rxml (`toKafka`'s default) and the raw passthrough. */
const SEND_CHUNK = 2000;
/** Records emitted but not yet acked that fromKafka allows; a stream setting, like a fetch size. */
const MAX_IN_FLIGHT = 20_000;
const OFFERED_PER_SEC = 1000;

export interface KafkaPoint {
  readonly valueBytes: number;
  readonly records: number;
  /** Raw kafkajs consume → produce (no model), records/s from the first record fetched to the last acked. */
  readonly rawRecordsPerSec: number;
  /** fromKafka → predictIris → toKafka, same measure. */
  readonly rxmlRecordsPerSec: number;
  /** rxml ÷ raw, same run. */
  readonly ratio: number;
  /** End to end (produced → read back from the output topic) at `OFFERED_PER_SEC`. */
  readonly rawLatency: LatencySummary;
  readonly rxmlLatency: LatencySummary;
}

export interface KafkaResult {
  readonly backend: string;
  readonly broker: string;
  readonly partitions: number;
  readonly offeredPerSec: number;
  readonly points: readonly KafkaPoint[];
}

/** A JSON Iris record padded with a `note` field to exactly `bytes` bytes. */
function irisValue(i: number, bytes: number): Buffer {
  const base = `{"sepalLength":${(4.3 + (i % 36) / 10).toFixed(1)},"sepalWidth":${(2 + (i % 24) / 10).toFixed(1)},"petalLength":${(1 + (i % 59) / 10).toFixed(1)},"petalWidth":${(0.1 + (i % 25) / 10).toFixed(1)},"note":"`;
  const pad = Math.max(0, bytes - base.length - 2);
  return Buffer.from(`${base}${'x'.repeat(pad)}"}`);
}

async function fill(producer: Producer, topic: string, count: number, bytes: number): Promise<void> {
  const inFlight: Promise<unknown>[] = [];
  for (let start = 0; start < count; start += SEND_CHUNK) {
    const messages = Array.from({ length: Math.min(SEND_CHUNK, count - start) }, (_, j) => ({ key: String(start + j), value: irisValue(start + j, bytes) }));
    inFlight.push(producer.send({ topic, acks: -1, messages }));
    if (inFlight.length >= 4) await inFlight.shift();
  }
  await Promise.all(inFlight);
}

interface Pipeline {
  /** Resolves once the consumer has joined its group and got its partitions. */
  readonly ready: Promise<void>;
  /** Resolves with [first record seen, last record acked] (ms) after `count` records. */
  readonly done: Promise<[number, number]>;
  stop(): Promise<void>;
}

function rawPassthrough(kafka: Kafka, from: string, to: string, count: number): Pipeline {
  const consumer: Consumer = kafka.consumer({ groupId: `raw-${randomUUID()}`, maxWaitTimeInMs: 500 });
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: true, createPartitioner: Partitioners.DefaultPartitioner });
  let first = 0;
  let seen = 0;
  let resolveDone: (v: [number, number]) => void = () => undefined;
  const done = new Promise<[number, number]>((r) => (resolveDone = r));
  const ready = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  const started = (async () => {
    await Promise.all([consumer.connect(), producer.connect()]);
    await consumer.subscribe({ topic: from, fromBeginning: true });
    await consumer.run({
      autoCommitInterval: 200,
      eachBatch: async ({ batch }) => {
        if (first === 0) first = performance.now();
        for (let i = 0; i < batch.messages.length; i += SEND_CHUNK) {
          const chunk = batch.messages.slice(i, i + SEND_CHUNK);
          await producer.sendBatch({ acks: -1, topicMessages: [{ topic: to, messages: chunk.map((m) => ({ key: m.key, value: m.value })) }] });
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
      await producer.disconnect();
    },
  };
}

function rxmlPipeline(brokers: string[], model: Model, from: string, to: string, count: number): Pipeline {
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
    maxInFlight: MAX_IN_FLIGHT,
    signal: abort.signal,
    onEvent: (e) => {
      if (e.type === 'assigned') assigned();
    },
  })
    .pipe(
      tap(() => {
        if (first === 0) first = performance.now();
      }),
      predictIris(model, { select: (r) => r.value as IrisInput, batch: { size: 512, maxLatencyMs: 2 } }),
      toKafka({ brokers, topic: to, deadLetterTopic: `${to}-dlq` }),
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

/** Offers `OFFERED_PER_SEC` records for `seconds` (keys carry the send time) and reads them back from `out`. */
async function latencyAtLoad(kafka: Kafka, input: string, out: string, bytes: number, seconds: number, start: () => Pipeline): Promise<LatencySummary> {
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
  await Promise.all([reader.disconnect(), producer.disconnect(), pipeline.stop()]);
  return summarize(latencies);
}

/**
 * With RXML_BENCH_PROFILE=<dir>, CPU-profiles one throughput phase alone (the fill and the other
 * phases use the same kafkajs code, so a whole-process --cpu-prof would mix them) into <dir>/<name>.cpuprofile.
 */
async function profile(name: string): Promise<() => Promise<void>> {
  const dir = process.env['RXML_BENCH_PROFILE'];
  if (dir === undefined || dir === '') return () => Promise.resolve();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile: result } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(result));
    session.disconnect();
  };
}

/** consume → predictIris → produce vs a raw kafkajs passthrough, on a real broker, same process. */
export async function kafkaSuite(quick: boolean): Promise<KafkaResult> {
  const broker = await startKafka({ defaultPartitions: PARTITIONS });
  const kafka = new Kafka({ clientId: 'rxml-bench', brokers: broker.brokers, logLevel: logLevel.NOTHING });
  const model = await loadIrisModel();
  const points: KafkaPoint[] = [];
  try {
    const filler = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await filler.connect();
    for (const bytes of [100, 1000]) {
      const records = quick ? 10_000 : bytes === 100 ? 200_000 : 100_000;
      const id = `${bytes}-${randomUUID().slice(0, 8)}`;
      const input = `bench-in-${id}`;
      for (const t of [input, `bench-raw-${id}`, `bench-rxml-${id}`, `bench-rxml-${id}-dlq`]) await broker.createTopic(t, PARTITIONS);
      await fill(filler, input, records, bytes);

      const measure = async (name: string, start: () => Pipeline): Promise<number> => {
        const stopProfile = await profile(`kafka-${name}-${bytes}`);
        const p = start();
        const [first, last] = await p.done;
        await stopProfile();
        await p.stop();
        return (records * 1000) / (last - first);
      };
      const raw = await measure('raw', () => rawPassthrough(kafka, input, `bench-raw-${id}`, records));
      const rxml = await measure('rxml', () => rxmlPipeline(broker.brokers, model, input, `bench-rxml-${id}`, records));
      process.stderr.write(`[kafka] ${bytes} B: raw ${round(raw, 0)} rec/s, rxml ${round(rxml, 0)} rec/s\n`);

      // Latency: fresh input topics so the backlog above is not replayed.
      const seconds = quick ? 2 : 8;
      const latIn = `bench-lat-in-${id}`;
      for (const t of [latIn, `bench-lat-raw-${id}`, `bench-lat-rxml-${id}`, `bench-lat-rxml-${id}-dlq`]) await broker.createTopic(t, PARTITIONS);
      const rawLatency = await latencyAtLoad(kafka, latIn, `bench-lat-raw-${id}`, bytes, seconds, () => rawPassthrough(kafka, latIn, `bench-lat-raw-${id}`, Number.MAX_SAFE_INTEGER));
      const latIn2 = `bench-lat2-in-${id}`;
      await broker.createTopic(latIn2, PARTITIONS);
      const rxmlLatency = await latencyAtLoad(kafka, latIn2, `bench-lat-rxml-${id}`, bytes, seconds, () => rxmlPipeline(broker.brokers, model, latIn2, `bench-lat-rxml-${id}`, Number.MAX_SAFE_INTEGER));
      process.stderr.write(`[kafka] ${bytes} B latency: raw ${JSON.stringify(rawLatency)}, rxml ${JSON.stringify(rxmlLatency)}\n`);
      points.push({ valueBytes: bytes, records, rawRecordsPerSec: round(raw, 0), rxmlRecordsPerSec: round(rxml, 0), ratio: round(rxml / raw), rawLatency, rxmlLatency });
    }
    await filler.disconnect();
  } finally {
    model.dispose();
    await broker.stop();
  }
  return { backend: variant(), broker: broker.external ? 'KAFKA_BROKERS' : 'kafka-testkit (single node, KRaft)', partitions: PARTITIONS, offeredPerSec: OFFERED_PER_SEC, points };
}
