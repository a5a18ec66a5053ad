import { CHANNELS, publish, RxmlError } from '@rxml/core/contract';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { enableMetrics, formatStatusLine, serveMetrics, startStatusLine, type MetricsHandle } from '../src/index.js';

let handle: MetricsHandle | undefined;
afterEach(() => {
  handle?.close();
  handle = undefined;
});

/** The value of one sample line of the Prometheus text format (`name{labels} value`). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('enableMetrics', () => {
  it('turns channel messages into Prometheus series with base units and _total counters', async () => {
    const registry = new Registry();
    handle = enableMetrics({ registry, tensors: () => 42 });
    publish(CHANNELS.source, { source: 'kafka', type: 'fetch', group: 'g', topic: 'in', partition: 0, count: 5 });
    publish(CHANNELS.predictBatch, { model: 'iris', version: 'v1', size: 4, bytes: 64, durationMs: 2, ok: true });
    publish(CHANNELS.predictBatch, { model: 'iris', version: 'v1', size: 1, bytes: 16, durationMs: 3000, ok: false });
    for (let i = 0; i < 4; i++) publish(CHANNELS.predictResult, { model: 'iris', version: 'v1', ok: true, latencyMs: 4 });
    publish(CHANNELS.predictResult, { model: 'iris', version: 'v1', ok: false, code: 'INVALID_INPUT' });
    publish(CHANNELS.sink, { sink: 'kafka', type: 'delivered', topic: 'out', count: 4 });
    publish(CHANNELS.sink, { sink: 'kafka', type: 'dead-letter', topic: 'dlq', count: 1, code: 'INVALID_INPUT' });
    for (let i = 0; i < 5; i++) publish(CHANNELS.source, { source: 'kafka', type: 'completed', group: 'g', topic: 'in', count: 1, durationMs: 20 });
    publish(CHANNELS.source, { source: 'kafka', type: 'committed', group: 'g', topic: 'in', partition: 0, offset: '5', durationMs: 7 });
    publish(CHANNELS.source, { source: 'kafka', type: 'lag', group: 'g', topic: 'in', partition: 0, lag: 0, offset: '5' });
    publish(CHANNELS.modelLoad, { name: 'iris', version: 'v1', runtime: 'tfjs-wasm', format: 'tfjs', durationMs: 150, bytes: 1000, ok: true });
    publish(CHANNELS.modelLifecycle, { type: 'swap', name: 'iris', version: 'v2', previousVersion: 'v1' });
    publish(CHANNELS.callbackError, { callback: 'onBatch', error: new Error('boom') });
    publish(CHANNELS.shadowComparison, { type: 'compared', model: 'iris', version: 'v1', shadowModel: 'iris-next', shadowVersion: 'v9', agree: true, difference: 0.01 });
    publish(CHANNELS.shadowComparison, { type: 'compared', model: 'iris', version: 'v1', shadowModel: 'iris-next', shadowVersion: 'v9', agree: false, difference: 0.4 });
    publish(CHANNELS.shadowComparison, { type: 'compared', model: 'iris', version: 'v1', shadowModel: 'iris-next', shadowVersion: 'v9', agree: false, shadowCode: 'MODEL_ERROR' });
    publish(CHANNELS.shadowComparison, { type: 'dropped', shadowModel: 'iris-next', shadowVersion: 'v9', count: 100 });
    publish(CHANNELS.shadowComparison, { type: 'dropped', shadowModel: 'iris-next', shadowVersion: 'v9', count: 7 });

    const text = await registry.metrics();
    expect(sample(text, 'rxml_records_in_total{source="kafka",topic="in"}')).toBe(5);
    expect(sample(text, 'rxml_records_out_total{sink="kafka",topic="out",outcome="ok",code=""}')).toBe(4);
    expect(sample(text, 'rxml_records_out_total{sink="kafka",topic="dlq",outcome="dead_letter",code="INVALID_INPUT"}')).toBe(1);
    expect(sample(text, 'rxml_dead_letters_total{sink="kafka",topic="dlq",code="INVALID_INPUT"}')).toBe(1);
    expect(sample(text, 'rxml_predictions_total{model="iris",version="v1",outcome="ok",code=""}')).toBe(4);
    expect(sample(text, 'rxml_predictions_total{model="iris",version="v1",outcome="error",code="INVALID_INPUT"}')).toBe(1);
    expect(sample(text, 'rxml_predict_batch_size_count{model="iris"}')).toBe(2);
    expect(sample(text, 'rxml_predict_batch_size_sum{model="iris"}')).toBe(5);
    expect(sample(text, 'rxml_predict_batch_size_bucket{le="4",model="iris"}')).toBe(2);
    expect(sample(text, 'rxml_predict_batch_size_bucket{le="2",model="iris"}')).toBe(1);
    // Milliseconds in the payload, seconds in the metric.
    expect(sample(text, 'rxml_model_call_duration_seconds_sum{model="iris",version="v1",outcome="ok"}')).toBeCloseTo(0.002, 9);
    expect(sample(text, 'rxml_model_call_duration_seconds_bucket{le="2.5",model="iris",version="v1",outcome="error"}')).toBe(0);
    expect(sample(text, 'rxml_model_call_duration_seconds_bucket{le="5",model="iris",version="v1",outcome="error"}')).toBe(1);
    expect(sample(text, 'rxml_predict_latency_seconds_count{model="iris",version="v1"}')).toBe(4);
    expect(sample(text, 'rxml_end_to_end_latency_seconds_count{source="kafka",topic="in"}')).toBe(5);
    expect(sample(text, 'rxml_end_to_end_latency_seconds_sum{source="kafka",topic="in"}')).toBeCloseTo(0.1, 9);
    expect(sample(text, 'rxml_commit_duration_seconds_count{source="kafka",group="g"}')).toBe(1);
    expect(sample(text, 'rxml_consumer_lag{group="g",topic="in",partition="0"}')).toBe(0);
    expect(sample(text, 'rxml_records_in_flight')).toBe(0);
    expect(sample(text, 'rxml_model_loads_total{model="iris",version="v1",runtime="tfjs-wasm",format="tfjs",outcome="ok"}')).toBe(1);
    expect(sample(text, 'rxml_model_load_duration_seconds_sum{model="iris",runtime="tfjs-wasm"}')).toBeCloseTo(0.15, 9);
    expect(sample(text, 'rxml_model_lifecycle_events_total{model="iris",version="v2",type="swap"}')).toBe(1);
    // The swap replaced v1 as the serving version.
    expect(sample(text, 'rxml_model_info{model="iris",version="v2"}')).toBe(1);
    expect(sample(text, 'rxml_model_info{model="iris",version="v1"}')).toBeUndefined();
    expect(sample(text, 'rxml_callback_errors_total{callback="onBatch"}')).toBe(1);
    expect(sample(text, 'rxml_shadow_comparisons_total{model="iris",shadow_model="iris-next",outcome="agree"}')).toBe(1);
    expect(sample(text, 'rxml_shadow_comparisons_total{model="iris",shadow_model="iris-next",outcome="disagree"}')).toBe(1);
    expect(sample(text, 'rxml_shadow_comparisons_total{model="iris",shadow_model="iris-next",outcome="error"}')).toBe(1);
    expect(sample(text, 'rxml_shadow_dropped_total{shadow_model="iris-next"}')).toBe(107);
    expect(sample(text, 'rxml_tensors_held')).toBe(42);
    expect(sample(text, 'rxml_healthy')).toBe(1);
    expect(text).toMatch(/# TYPE rxml_model_call_duration_seconds histogram/);
    expect(text).toMatch(/# TYPE rxml_records_in_total counter/);

    const snapshot = handle.snapshot();
    expect(snapshot).toMatchObject({ recordsIn: 5, recordsOut: 4, deadLetters: 1, predictions: { ok: 4, failed: 1 }, inFlight: 0, lag: 0, models: ['iris@v2'] });
  });

  it('counts offset resets per topic and reason (a re-created topic, OFFSET_OUT_OF_RANGE)', async () => {
    const registry = new Registry();
    handle = enableMetrics({ registry });
    publish(CHANNELS.source, { source: 'kafka', type: 'offset-reset', group: 'g', topic: 't', partition: 0, offset: '0', reason: 'topic-recreated', previousTopicId: 'a', topicId: 'b' });
    publish(CHANNELS.source, { source: 'kafka', type: 'offset-reset', group: 'g', topic: 't', partition: 1, offset: '0', reason: 'topic-recreated' });
    publish(CHANNELS.source, { source: 'kafka', type: 'offset-reset', group: 'g', topic: 't', partition: 2, offset: '50', reason: 'out-of-range' });
    const text = await registry.metrics();
    expect(sample(text, 'rxml_offset_resets_total{source="kafka",group="g",topic="t",reason="topic-recreated"}')).toBe(2);
    expect(sample(text, 'rxml_offset_resets_total{source="kafka",group="g",topic="t",reason="out-of-range"}')).toBe(1);
  });

  it('counts in-flight records and the paused state from the source', async () => {
    const registry = new Registry();
    handle = enableMetrics({ registry, prefix: 'app_' });
    publish(CHANNELS.source, { source: 'kafka', type: 'fetch', group: 'g', topic: 't', partition: 1, count: 10 });
    publish(CHANNELS.source, { source: 'kafka', type: 'paused', group: 'g' });
    publish(CHANNELS.source, { source: 'kafka', type: 'completed', group: 'g', topic: 't', count: 3 });
    let text = await registry.metrics();
    expect(sample(text, 'app_records_in_flight')).toBe(7);
    expect(sample(text, 'app_source_paused{source="kafka",group="g"}')).toBe(1);
    expect(handle.snapshot().paused).toBe(true);
    publish(CHANNELS.source, { source: 'kafka', type: 'resumed', group: 'g' });
    text = await registry.metrics();
    expect(sample(text, 'app_source_paused{source="kafka",group="g"}')).toBe(0);
    expect(text).not.toMatch(/^rxml_/m);
  });

  it('health: stuck when a partition keeps lag > 0 with no commit progress, ok again when it commits', () => {
    let clock = 1_000_000;
    handle = enableMetrics({ registry: new Registry(), stuckAfterMs: 30_000, now: () => clock });
    publish(CHANNELS.source, { source: 'kafka', type: 'committed', group: 'g', topic: 't', partition: 0, offset: '10' });
    publish(CHANNELS.source, { source: 'kafka', type: 'lag', group: 'g', topic: 't', partition: 0, lag: 5, offset: '10' });
    expect(handle.health().status).toBe('ok');
    clock += 29_000;
    publish(CHANNELS.source, { source: 'kafka', type: 'lag', group: 'g', topic: 't', partition: 0, lag: 9, offset: '10' });
    expect(handle.health().status).toBe('ok');
    clock += 2_000;
    expect(handle.health()).toEqual({ status: 'stuck', reasons: ['t[0] (group g): lag 9 and no commit progress for 31 s'] });
    publish(CHANNELS.source, { source: 'kafka', type: 'committed', group: 'g', topic: 't', partition: 0, offset: '12' });
    expect(handle.health().status).toBe('ok');
    // A caught-up partition is never stuck, however long nothing arrives.
    publish(CHANNELS.source, { source: 'kafka', type: 'lag', group: 'g', topic: 't', partition: 0, lag: 0, offset: '19' });
    clock += 3_600_000;
    expect(handle.health().status).toBe('ok');
    // A revoked partition no longer counts.
    publish(CHANNELS.source, { source: 'kafka', type: 'lag', group: 'g', topic: 't', partition: 0, lag: 3 });
    clock += 60_000;
    expect(handle.health().status).toBe('stuck');
    publish(CHANNELS.source, { source: 'kafka', type: 'revoked', group: 'g', topic: 't', partition: 0 });
    expect(handle.health().status).toBe('ok');
  });

  it('health: failed on a source crash without restart, a failed sink or reportFailure; fenced on fencing', () => {
    handle = enableMetrics({ registry: new Registry() });
    publish(CHANNELS.source, { source: 'kafka', type: 'crashed', group: 'g', restarting: true, error: new RxmlError('KAFKA_ERROR', 'broker gone') });
    expect(handle.health().status).toBe('ok');
    publish(CHANNELS.source, { source: 'kafka', type: 'crashed', group: 'g', restarting: false, error: new RxmlError('KAFKA_ERROR', 'broker gone for good') });
    expect(handle.health()).toEqual({ status: 'failed', reasons: ['kafka source of group g crashed: KAFKA_ERROR: broker gone for good'] });
    handle.close();

    handle = enableMetrics({ registry: new Registry() });
    publish(CHANNELS.sink, { sink: 'kafka', type: 'fenced', topic: 'out', error: new RxmlError('KAFKA_ERROR', 'producer fenced') });
    expect(handle.health().status).toBe('fenced');
    handle.close();

    handle = enableMetrics({ registry: new Registry() });
    handle.reportFailure(new RxmlError('MODEL_ERROR', 'no dead-letter topic'));
    expect(handle.health()).toEqual({ status: 'failed', reasons: ['pipeline failed: MODEL_ERROR: no dead-letter topic'] });
  });

  it('close() unsubscribes and frees the names, so metrics can be enabled again', async () => {
    const registry = new Registry();
    handle = enableMetrics({ registry });
    let second: unknown;
    try {
      enableMetrics({ registry });
    } catch (error) {
      second = error;
    }
    expect(second).toBeInstanceOf(RxmlError);
    expect(second).toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(/rxml_records_in_total has already been registered.*close\(\) its handle first/) as unknown });
    handle.close();
    expect((await registry.metrics()).trim()).toBe('');
    publish(CHANNELS.source, { source: 'kafka', type: 'fetch', topic: 't', count: 3 });
    expect(handle.snapshot().recordsIn).toBe(0);
    handle = enableMetrics({ registry });
    publish(CHANNELS.source, { source: 'kafka', type: 'fetch', topic: 't', count: 2 });
    expect(sample(await registry.metrics(), 'rxml_records_in_total{source="kafka",topic="t"}')).toBe(2);
  });

  it('uses the default registry without options', async () => {
    const { register } = await import('prom-client');
    handle = enableMetrics();
    publish(CHANNELS.source, { source: 'kafka', type: 'fetch', topic: 'default-reg', count: 1 });
    expect(sample(await register.metrics(), 'rxml_records_in_total{source="kafka",topic="default-reg"}')).toBe(1);
  });

  it('a throwing tensors callback is isolated: the scrape reports the error, the pipeline is untouched', async () => {
    const registry = new Registry();
    handle = enableMetrics({ registry, tensors: () => { throw new Error('tfjs not loaded'); } });
    await expect(registry.metrics()).rejects.toThrow(/tfjs not loaded/);
    publish(CHANNELS.source, { source: 'kafka', type: 'fetch', topic: 't', count: 1 });
    expect(handle.snapshot().recordsIn).toBe(1);
  });
});

describe('serveMetrics', () => {
  it('serves /metrics in the Prometheus text format and /healthz (200 ok, 503 once failed)', async () => {
    const registry = new Registry();
    handle = enableMetrics({ registry });
    const server = await serveMetrics({ metrics: handle, port: 0, host: '127.0.0.1' });
    try {
      publish(CHANNELS.source, { source: 'kafka', type: 'fetch', topic: 't', count: 3 });
      const scrape = await fetch(`${server.url}/metrics`);
      expect(scrape.status).toBe(200);
      expect(scrape.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(sample(await scrape.text(), 'rxml_records_in_total{source="kafka",topic="t"}')).toBe(3);

      let health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', reasons: [] });
      publish(CHANNELS.sink, { sink: 'kafka', type: 'failed', topic: 'out', error: new RxmlError('KAFKA_ERROR', 'produce failed') });
      health = await fetch(`${server.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({ status: 'failed', reasons: ['kafka sink to out failed: KAFKA_ERROR: produce failed'] });
      expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
      expect((await fetch(`${server.url}/nope`)).status).toBe(404);
      const post = await fetch(`${server.url}/metrics`, { method: 'POST', body: 'x' });
      expect(post.status).toBe(405);
      expect(post.headers.get('allow')).toBe('GET, HEAD');
    } finally {
      await server.close();
    }
  });

  it('refuses a bad port with INVALID_CONFIG and reports a port in use', async () => {
    handle = enableMetrics({ registry: new Registry() });
    await expect(serveMetrics({ metrics: handle, port: 70_000 })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    const first = await serveMetrics({ metrics: handle, port: 0, host: '127.0.0.1' });
    try {
      await expect(serveMetrics({ metrics: handle, port: first.port, host: '127.0.0.1' })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await first.close();
    }
  });
});

describe('status line', () => {
  it('formats records in/out/dead-lettered, the rate over the period, lag and the model version', () => {
    const base = { recordsIn: 100, recordsOut: 90, deadLetters: 2, predictions: { ok: 90, failed: 2 }, inFlight: 8, paused: false, partitions: [], failure: undefined };
    const line = formatStatusLine(
      { ...base, recordsIn: 220, recordsOut: 200, deadLetters: 5, lag: 12, models: ['iris@0123456789abcdef0123'] },
      { ...base, lag: 30, models: [] },
      10_000,
      'ok',
    );
    expect(line).toBe('rxml: in 220 (+120, 12.0/s) out 200 dead-lettered 5 in-flight 8 lag 12 model iris@0123456789ab… ok');
  });

  it('writes a line every interval until stopped; a throwing logger is ignored', async () => {
    handle = enableMetrics({ registry: new Registry() });
    const lines: string[] = [];
    const stop = startStatusLine(handle, {
      intervalMs: 20,
      log: (line) => {
        lines.push(line);
        if (lines.length === 1) throw new Error('logger down');
      },
    });
    publish(CHANNELS.source, { source: 'kafka', type: 'fetch', topic: 't', count: 7 });
    // Timers fire late on a busy machine: wait for the lines rather than for a fixed time.
    for (let waited = 0; lines.length < 3 && waited < 5_000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    stop();
    const count = lines.length;
    expect(count).toBeGreaterThanOrEqual(3);
    expect(lines.at(-1)).toMatch(/^rxml: in 7 \(\+0, 0\.0\/s\) out 0 dead-lettered 0 in-flight 7 lag - model - ok$/);
    await new Promise((r) => setTimeout(r, 60));
    expect(lines.length).toBe(count);
    expect(() => startStatusLine(handle!, { intervalMs: 0 })).toThrow(/INVALID_CONFIG|intervalMs/);
  });
});

describe('docs/operations.md', () => {
  it('lists every metric enableMetrics registers, with its type', async () => {
    const { readFile } = await import('node:fs/promises');
    const doc = await readFile(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
    const registry = new Registry();
    handle = enableMetrics({ registry, tensors: () => 0 });
    const metrics = await registry.getMetricsAsJSON();
    expect(metrics.length).toBeGreaterThan(20);
    for (const metric of metrics) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${metric.name}\` |`));
      expect(row, `${metric.name} in the metric table`).toBeDefined();
      expect(row!.split('|')[2]!.trim()).toBe(metric.type);
    }
  });
});
