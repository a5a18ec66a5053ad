import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadIrisModel, parseIrisDataset, predictIris, type Model } from '@rxml/core';
import { fromKafka, toKafka } from '@rxml/kafka';
import { committedOffsets, createTopics, endOffsets, produce, startKafka, type KafkaTestBroker, type ProduceRecord } from '@rxml/kafka-testkit';
import { logLevel } from 'kafkajs';
import { Registry } from 'prom-client';
import { lastValueFrom, tap } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enableMetrics, serveMetrics, type MetricsHandle, type MetricsServer } from '../src/index.js';

const quiet = { logLevel: logLevel.NOTHING };
const fresh = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const iris = parseIrisDataset(readFileSync(fileURLToPath(new URL('../../../../shared/seed/iris.txt', import.meta.url)), 'utf8'));

/** Every sample of a scrape: `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function scrape(server: MetricsServer): Promise<Map<string, number>> {
  const response = await fetch(`${server.url}/metrics`);
  expect(response.status).toBe(200);
  return parse(await response.text());
}

async function until(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let kafka: KafkaTestBroker;
let model: Model;
beforeAll(async () => {
  [kafka, model] = await Promise.all([startKafka({ defaultPartitions: 3 }), loadIrisModel()]);
});
afterAll(async () => {
  model?.dispose();
  await kafka?.stop();
});

describe('metrics of a real pipeline (fromKafka → predictIris → toKafka on the testkit broker)', () => {
  let metrics: MetricsHandle;
  let server: MetricsServer;
  beforeAll(async () => {
    metrics = enableMetrics({ registry: new Registry(), stuckAfterMs: 60_000 });
    server = await serveMetrics({ metrics, port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await server?.close();
    metrics?.close();
  });

  it('counts what was sent exactly, by outcome and error code, and lag reaches 0 on every partition', async () => {
    const [input, output, dead, group] = [fresh('m-in'), fresh('m-out'), fresh('m-dlq'), fresh('m-group')];
    const brokers = kafka.brokers;
    await createTopics(brokers, [{ topic: input, partitions: 3 }, { topic: output, partitions: 3 }, { topic: dead }]);
    const TOTAL = 1_200;
    const records: ProduceRecord[] = [];
    let notNumbers = 0;
    let noValue = 0;
    for (let i = 0; i < TOTAL; i++) {
      if (i % 40 === 3) {
        records.push({ key: `r${i}`, value: 'five,three,one,zero' });
        notNumbers++;
      } else if (i % 40 === 17) {
        records.push({ key: `r${i}`, value: null });
        noValue++;
      } else {
        records.push({ key: `r${i}`, value: iris[i % iris.length]!.features.join(',') });
      }
    }
    const valid = TOTAL - notNumbers - noValue;
    await produce(brokers, input, records);

    const stop = new AbortController();
    let delivered = 0;
    const scrapes: Map<string, number>[] = [];
    const inTotal = `rxml_records_in_total{source="kafka",topic="${input}"}`;
    // Scrape while the pipeline runs: counters only ever grow.
    const scraping = (async () => {
      while (!stop.signal.aborted) {
        scrapes.push(await scrape(server));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const running = lastValueFrom(
      fromKafka({ brokers, topic: input, groupId: group, fromBeginning: true, signal: stop.signal, maxInFlight: 200, ...quiet }).pipe(
        predictIris(model, { select: (r) => r.value, batch: { size: 32 } }),
        toKafka({ brokers, topic: output, deadLetterTopic: dead, ...quiet }),
        tap(() => void delivered++),
      ),
      { defaultValue: undefined },
    );

    const ends = await endOffsets(brokers, input);
    expect([...ends.values()].reduce((a, b) => a + BigInt(b), 0n)).toBe(BigInt(TOTAL));
    await until(async () => delivered === TOTAL, 120_000, 'every record delivered');
    // Completed offsets are committed every 200 ms: the lag gauge of every partition reaches 0.
    const lagOf = (s: Map<string, number>, partition: number): number | undefined =>
      s.get(`rxml_consumer_lag{group="${group}",topic="${input}",partition="${partition}"}`);
    await until(async () => {
      const s = await scrape(server);
      return [0, 1, 2].every((p) => lagOf(s, p) === 0);
    }, 30_000, 'consumer lag 0 on every partition');
    const final = await scrape(server);
    stop.abort();
    await running;
    await scraping;

    // What the broker says agrees: committed = end offsets.
    const committed = await committedOffsets(brokers, group, input);
    expect([...committed].sort()).toEqual([...ends].sort());

    expect(final.get(inTotal)).toBe(TOTAL);
    expect(final.get(`rxml_records_out_total{sink="kafka",topic="${output}",outcome="ok",code=""}`)).toBe(valid);
    expect(final.get(`rxml_records_out_total{sink="kafka",topic="${dead}",outcome="dead_letter",code="INVALID_INPUT"}`)).toBe(notNumbers);
    expect(final.get(`rxml_records_out_total{sink="kafka",topic="${dead}",outcome="dead_letter",code="DESERIALIZATION_ERROR"}`)).toBe(noValue);
    expect(final.get(`rxml_dead_letters_total{sink="kafka",topic="${dead}",code="INVALID_INPUT"}`)).toBe(notNumbers);
    expect(final.get(`rxml_predictions_total{model="${model.name}",version="${model.version}",outcome="ok",code=""}`)).toBe(valid);
    expect(final.get(`rxml_predictions_total{model="${model.name}",version="${model.version}",outcome="error",code="INVALID_INPUT"}`)).toBe(notNumbers);
    expect(final.get(`rxml_predictions_total{model="${model.name}",version="${model.version}",outcome="error",code="DESERIALIZATION_ERROR"}`)).toBe(noValue);
    // Batch sizes add up to the records that reached the model; no batch is larger than 32.
    expect(final.get(`rxml_predict_batch_size_sum{model="${model.name}"}`)).toBe(valid);
    expect(final.get(`rxml_predict_batch_size_bucket{le="32",model="${model.name}"}`)).toBe(final.get(`rxml_predict_batch_size_count{model="${model.name}"}`));
    expect(final.get(`rxml_model_call_duration_seconds_count{model="${model.name}",version="${model.version}",outcome="ok"}`)).toBe(
      final.get(`rxml_predict_batch_size_count{model="${model.name}"}`),
    );
    expect(final.get(`rxml_predict_latency_seconds_count{model="${model.name}",version="${model.version}"}`)).toBe(valid);
    expect(final.get(`rxml_end_to_end_latency_seconds_count{source="kafka",topic="${input}"}`)).toBe(TOTAL);
    expect(final.get(`rxml_commit_duration_seconds_count{source="kafka",group="${group}"}`)).toBeGreaterThan(0);
    expect(final.get(`rxml_model_info{model="${model.name}",version="${model.version}"}`)).toBe(1);
    expect(final.get('rxml_records_in_flight')).toBe(0);
    expect(final.get('rxml_healthy')).toBe(1);

    // Scrapes taken during the run saw the counters grow and never go past what was sent.
    const seen = scrapes.map((s) => s.get(inTotal) ?? 0);
    expect(seen.length).toBeGreaterThan(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(Math.max(...seen)).toBeLessThanOrEqual(TOTAL);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(metrics.snapshot()).toMatchObject({ recordsIn: TOTAL, recordsOut: valid, deadLetters: notNumbers + noValue, inFlight: 0 });
  });

  it('/healthz turns 503 "failed" when the stream fails (an error result and no dead-letter topic)', async () => {
    const [input, output, group] = [fresh('f-in'), fresh('f-out'), fresh('f-group')];
    const brokers = kafka.brokers;
    await createTopics(brokers, [{ topic: input, partitions: 1 }, { topic: output, partitions: 1 }]);
    await produce(brokers, input, [{ key: 'good', value: '5.1,3.5,1.4,0.2' }, { key: 'bad', value: 'not,a,flower' }]);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    const failed = lastValueFrom(
      fromKafka({ brokers, topic: input, groupId: group, fromBeginning: true, ...quiet }).pipe(
        predictIris(model, { select: (r) => r.value }),
        toKafka({ brokers, topic: output, ...quiet }),
      ),
    );
    await expect(failed).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { status: string; reasons: string[] };
    expect(body.status).toBe('failed');
    expect(body.reasons[0]).toMatch(new RegExp(`kafka sink to ${output} failed: INVALID_INPUT`));
    expect((await scrape(server)).get('rxml_healthy')).toBe(0);
  });

  it('/healthz turns 503 "stuck" while a partition has lag and no commit progress (a model call that hangs)', async () => {
    const stuckMetrics = enableMetrics({ registry: new Registry(), prefix: 'stuck_', stuckAfterMs: 1_500 });
    const stuckServer = await serveMetrics({ metrics: stuckMetrics, port: 0, host: '127.0.0.1' });
    const [input, output, group] = [fresh('s-in'), fresh('s-out'), fresh('s-group')];
    const brokers = kafka.brokers;
    await createTopics(brokers, [{ topic: input, partitions: 1 }, { topic: output, partitions: 1 }]);
    await produce(brokers, input, Array.from({ length: 20 }, (_, i) => ({ key: `r${i}`, value: iris[i]!.features.join(',') })));
    // The real Iris model behind a call that never returns: a wedged runtime, a deadlocked native call.
    const hung: Model = { ...model, name: model.name, version: model.version, run: () => new Promise(() => {}), dispose: () => {} };
    const stop = new AbortController();
    const running = fromKafka({ brokers, topic: input, groupId: group, fromBeginning: true, signal: stop.signal, drainTimeoutMs: 500, ...quiet })
      .pipe(
        predictIris(hung, { select: (r) => r.value }),
        toKafka({ brokers, topic: output, ...quiet }),
      )
      .subscribe({ error: () => undefined });
    try {
      const healthz = async (): Promise<{ status: number; body: { status: string; reasons: string[] } }> => {
        const response = await fetch(`${stuckServer.url}/healthz`);
        return { status: response.status, body: (await response.json()) as { status: string; reasons: string[] } };
      };
      // Records are fetched (lag 20 reported) and never completed: ok at first, stuck after 1.5 s.
      await until(async () => (stuckMetrics.snapshot().lag ?? 0) === 20, 30_000, 'lag 20 reported');
      expect((await healthz()).status).toBe(200);
      await until(async () => (await healthz()).status === 503, 10_000, '/healthz 503');
      const { body } = await healthz();
      expect(body.status).toBe('stuck');
      expect(body.reasons[0]).toMatch(new RegExp(`^${input}\\[0\\] \\(group ${group}\\): lag 20 and no commit progress for \\d+ s$`));
      expect((await scrape(stuckServer)).get('stuck_healthy')).toBe(0);
    } finally {
      // The hung batch never ends, so the stream cannot complete: drain briefly, then unsubscribe.
      stop.abort();
      await new Promise((r) => setTimeout(r, 1_000));
      running.unsubscribe();
      await stuckServer.close();
      stuckMetrics.close();
    }
  });
});
