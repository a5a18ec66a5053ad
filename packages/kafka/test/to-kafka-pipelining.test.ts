import zlib from 'node:zlib';
import { JSON_TEXT, RxmlError, type PredictResult } from '@rxml/core/contract';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { OutgoingMessage, ProducerClient } from '../src/internal/client.js';
import { chooseProducer } from '../src/internal/producers.js';
import { kafkaConfig } from '../src/options.js';
import type { SASLOptions } from 'kafkajs';
import type { KafkaSourced } from '../src/record.js';
import { formatLatency, toKafkaWith, type Delivered } from '../src/to-kafka.js';

/** A producer behind the seam whose acks the test releases one send at a time, in any order. */
class HeldProducer implements ProducerClient {
  sends: { messages: readonly OutgoingMessage[]; ack: () => void; fail: (e: unknown) => void }[] = [];
  disconnected = false;
  connect(): Promise<void> {
    return Promise.resolve();
  }
  send(messages: readonly OutgoingMessage[]): Promise<void> {
    return new Promise((ack, fail) => this.sends.push({ messages, ack: () => ack(), fail }));
  }
  isRetriable(): boolean {
    return false;
  }
  disconnect(): Promise<void> {
    this.disconnected = true;
    return Promise.resolve();
  }
}

const model = { name: 'iris', version: 'v1' };

function record(offset: number, completed: number[]): KafkaSourced {
  return { topic: 'in', partition: 0, offset: String(offset), key: Buffer.from(`k${offset}`), rawValue: Buffer.from('x'), headers: {}, complete: () => completed.push(offset) };
}

const ok = (input: KafkaSourced): PredictResult<KafkaSourced, number> => ({ ok: true, input, value: Number(input.offset), model, latencyMs: 1.23456 });
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(options: { maxBatchMessages?: number; maxInFlightSends?: number; latencyHeader?: boolean } = {}) {
  const producer = new HeldProducer();
  const results = new Subject<PredictResult<KafkaSourced, number>>();
  const delivered: Delivered<KafkaSourced, number>[] = [];
  const completed: number[] = [];
  let error: unknown;
  let done = false;
  results.pipe(toKafkaWith({ topic: 'out', ...options }, () => producer)).subscribe({
    next: (d) => delivered.push(d),
    error: (e: unknown) => (error = e),
    complete: () => (done = true),
  });
  const push = (from: number, to: number): void => {
    for (let o = from; o < to; o++) results.next(ok(record(o, completed)));
  };
  return { producer, results, delivered, completed, push, error: () => error, done: () => done };
}

describe('toKafka pipelined sends (scripted producer)', () => {
  it('keeps up to maxInFlightSends full batches in flight and completes them in send order whatever order the acks come in', async () => {
    const t = setup({ maxBatchMessages: 10, maxInFlightSends: 3 });
    t.push(0, 5);
    await turn();
    expect(t.producer.sends).toHaveLength(1); // a partial batch goes alone
    t.push(5, 45); // 40 more: full batches of 10 pipeline behind it, up to 3 sends
    await turn();
    expect(t.producer.sends.map((s) => s.messages.length)).toEqual([5, 10, 10]);
    t.producer.sends[2]!.ack();
    t.producer.sends[1]!.ack();
    await turn();
    expect(t.completed).toEqual([]); // the first send is not acked: nothing after it completes yet
    t.producer.sends[0]!.ack();
    await turn();
    expect(t.completed).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect(t.delivered.map((d) => Number(d.result.input.offset))).toEqual(t.completed);
    // The rest (20) went out when slots freed.
    await turn();
    for (const s of t.producer.sends.slice(3)) s.ack();
    t.results.complete();
    await turn();
    await turn();
    for (const s of t.producer.sends.slice(3)) s.ack();
    await turn();
    expect(t.completed).toEqual(Array.from({ length: 45 }, (_, i) => i));
    expect(t.done()).toBe(true);
    expect(t.producer.disconnected).toBe(true);
  });

  it('a failed send fails the stream; nothing from it or after it is emitted, earlier batches are', async () => {
    const t = setup({ maxBatchMessages: 10, maxInFlightSends: 3 });
    t.push(0, 30);
    await turn();
    expect(t.producer.sends.map((s) => s.messages.length)).toEqual([10, 10, 10]);
    t.producer.sends[0]!.ack();
    // Not about one record (a refused record is sent again on its own: poison-pills test).
    t.producer.sends[1]!.fail(new Error('TOPIC_AUTHORIZATION_FAILED'));
    t.producer.sends[2]!.ack();
    await turn();
    await turn();
    expect(t.delivered).toHaveLength(10);
    expect(t.error()).toBeInstanceOf(RxmlError);
    expect((t.error() as RxmlError).code).toBe('KAFKA_ERROR');
    // Offsets 10–19 are never completed, so the source never commits past 9.
    expect(t.completed.filter((o) => o >= 10 && o < 20)).toEqual([]);
  });

  it('model headers are built once and shared; without the latency header every message shares one headers object', async () => {
    const t = setup({ latencyHeader: false });
    t.push(0, 3);
    await turn();
    const [a, b, c] = t.producer.sends[0]!.messages;
    expect(a!.headers).toBe(b!.headers);
    expect(b!.headers).toBe(c!.headers);
    expect(Buffer.from(a!.headers['rxml-model']!).toString()).toBe('iris');
    expect(Buffer.from(a!.headers['rxml-model-version']!).toString()).toBe('v1');
    expect(a!.headers['rxml-latency-ms']).toBeUndefined();
    const withLatency = setup();
    withLatency.push(0, 2);
    await turn();
    const [x, y] = withLatency.producer.sends[0]!.messages;
    expect(x!.headers['rxml-latency-ms']).toBe('1.235');
    expect(x!.headers['rxml-model']).toBe(y!.headers['rxml-model']); // the same Buffer
  });
});

describe('rxml-latency-ms text', () => {
  it('is String(Math.round(ms * 1000) / 1000) for any latency', () => {
    const samples = [0, 0.0004, 0.0005, 1, 1.5, 1.05, 1.005, 1.0005, 2.675, 12.034, 999_999.9999, -1, Number.NaN, Number.POSITIVE_INFINITY];
    for (let i = 0; i < 20_000; i++) samples.push(Math.random() * 10 ** (Math.random() * 7));
    for (const ms of samples) expect(formatLatency(ms)).toBe(String(Math.round(ms * 1000) / 1000));
  });
});

describe('producer choice', () => {
  it('auto picks platformatic unless the options need kafkajs, and says why', () => {
    const saved = process.env['RXML_KAFKA_PRODUCER'];
    delete process.env['RXML_KAFKA_PRODUCER'];
    try {
      expect(chooseProducer(undefined, { brokers: ['b:9092'] }, 'none').library).toBe('platformatic');
      expect(chooseProducer('kafkajs', { brokers: ['b:9092'] }, 'none').library).toBe('kafkajs');
      // TLS and SASL PLAIN/SCRAM stay on platformatic (tested against a secured broker).
      expect(chooseProducer(undefined, { brokers: ['b:9092'], ssl: true }, 'none').library).toBe('platformatic');
      expect(chooseProducer(undefined, { brokers: ['b:9092'], ssl: true, sasl: { mechanism: 'plain', username: 'u', password: 'p' } }, 'none').library).toBe('platformatic');
      // Mechanism names are case-insensitive (as in kafkajs); a typo is INVALID_CONFIG for both libraries.
      const upper = { mechanism: 'SCRAM-SHA-512', username: 'u', password: 'p' } as unknown as SASLOptions;
      expect(chooseProducer(undefined, { brokers: ['b:9092'], ssl: true, sasl: upper }, 'none').library).toBe('platformatic');
      const typo = { mechanism: 'scram-sha-1', username: 'u', password: 'p' } as unknown as SASLOptions;
      expect(() => chooseProducer(undefined, { brokers: ['b:9092'], sasl: typo }, 'none')).toThrow(/sasl\.mechanism "scram-sha-1" is not one of plain, scram-sha-256/);
      expect(() => chooseProducer('kafkajs', { brokers: ['b:9092'], sasl: typo }, 'none')).toThrow(/INVALID_CONFIG|not one of/);
      expect(() => kafkaConfig({ brokers: ['b:9092'], sasl: typo })).toThrow(/sasl\.mechanism "scram-sha-1"/);
      // A custom kafkajs mechanism (authenticationProvider) is kafkajs-only.
      const custom = { mechanism: 'my-sso', authenticationProvider: () => ({ authenticate: async () => undefined }) } as unknown as SASLOptions;
      expect(chooseProducer(undefined, { brokers: ['b:9092'], sasl: custom }, 'none')).toMatchObject({ library: 'kafkajs', reason: expect.stringContaining('my-sso') as unknown });
      expect(chooseProducer('platformatic', { brokers: ['b:9092'], sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } }, 'none').library).toBe('platformatic');
      const aws = chooseProducer(undefined, { brokers: ['b:9092'], sasl: { mechanism: 'aws', authorizationIdentity: 'a', accessKeyId: 'k', secretAccessKey: 's' } }, 'none');
      expect(aws).toMatchObject({ library: 'kafkajs', reason: expect.stringContaining('aws') as unknown });
      expect(() => chooseProducer('platformatic', { brokers: ['b:9092'], sasl: { mechanism: 'aws', authorizationIdentity: 'a', accessKeyId: 'k', secretAccessKey: 's' } }, 'none')).toThrow(/INVALID_CONFIG|aws/);
      // zstd: platformatic compresses it with Node's zlib, which has it from Node 22.15 on.
      const zstd = chooseProducer(undefined, { brokers: ['b:9092'] }, 'zstd');
      expect(zstd.library).toBe(typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function' ? 'platformatic' : 'kafkajs');
      process.env['RXML_KAFKA_PRODUCER'] = 'kafkajs';
      expect(chooseProducer(undefined, { brokers: ['b:9092'] }, 'none')).toMatchObject({ library: 'kafkajs', reason: "RXML_KAFKA_PRODUCER 'kafkajs'" });
      process.env['RXML_KAFKA_PRODUCER'] = 'platformatic';
      expect(chooseProducer(undefined, { brokers: ['b:9092'] }, 'none').library).toBe('platformatic');
      const envAws = chooseProducer(undefined, { brokers: ['b:9092'], sasl: { mechanism: 'aws', authorizationIdentity: 'a', accessKeyId: 'k', secretAccessKey: 's' } }, 'none');
      expect(envAws).toMatchObject({ library: 'kafkajs', reason: expect.stringContaining("RXML_KAFKA_PRODUCER 'platformatic', but SASL mechanism aws") as unknown });
      process.env['RXML_KAFKA_PRODUCER'] = 'nope';
      expect(() => chooseProducer(undefined, { brokers: ['b:9092'] }, 'none')).toThrow(/RXML_KAFKA_PRODUCER=nope/);
    } finally {
      if (saved === undefined) delete process.env['RXML_KAFKA_PRODUCER'];
      else process.env['RXML_KAFKA_PRODUCER'] = saved;
    }
  });

  it('writes a value with its own JSON text (JSON_TEXT) as that text, any other value as JSON.stringify writes it', async () => {
    const producer = new HeldProducer();
    const results = new Subject<PredictResult<KafkaSourced, unknown>>();
    results.pipe(toKafkaWith({ topic: 'out' }, () => producer)).subscribe();
    const own = { species: 'setosa', [JSON_TEXT]: () => '{"species":"setosa","own":true}' };
    results.next({ ok: true, input: record(0, []), value: own, model, latencyMs: 1 });
    results.next({ ok: true, input: record(1, []), value: { species: 'setosa', p: 0.5 }, model, latencyMs: 1 });
    await turn();
    expect(producer.sends.flatMap((s) => s.messages.map((m) => m.value))).toEqual(['{"species":"setosa","own":true}', '{"species":"setosa","p":0.5}']);
  });
});


describe('toKafka rxml-model-variant header', () => {
  it('writes which splitModels variant answered, built once per variant and model (results without a variant get no such header)', async () => {
    const producer = new HeldProducer();
    const results = new Subject<PredictResult<KafkaSourced, number>>();
    const completed: number[] = [];
    results.pipe(toKafkaWith({ topic: 'out', maxBatchMessages: 100 }, () => producer)).subscribe();
    const variants = ['control', 'candidate', 'control', undefined, 'candidate'];
    variants.forEach((variant, o) => results.next({ ...ok(record(o, completed)), ...(variant === undefined ? {} : { variant }) }));
    results.complete();
    await turn();
    const messages = producer.sends.flatMap((s) => s.messages);
    expect(messages.map((m) => m.headers['rxml-model-variant']?.toString())).toEqual(variants);
    expect(messages.every((m) => m.headers['rxml-model']?.toString() === 'iris' && m.headers['rxml-model-version']?.toString() === 'v1')).toBe(true);
    // The variant's bytes are shared by every message of that variant (not re-encoded per record).
    expect(messages[0]!.headers['rxml-model-variant']).toBe(messages[2]!.headers['rxml-model-variant']);
    expect(messages[1]!.headers['rxml-model-variant']).toBe(messages[4]!.headers['rxml-model-variant']);
    // Also without the latency header (the shared-headers path) and with headers(result).
    const second = new HeldProducer();
    const more = new Subject<PredictResult<KafkaSourced, number>>();
    more.pipe(toKafkaWith({ topic: 'out', latencyHeader: false }, () => second)).subscribe();
    more.next({ ...ok(record(0, completed)), variant: 'candidate' });
    more.complete();
    const third = new HeldProducer();
    const extra = new Subject<PredictResult<KafkaSourced, number>>();
    extra.pipe(toKafkaWith({ topic: 'out', headers: () => ({ tenant: 'a' }) }, () => third)).subscribe();
    extra.next({ ...ok(record(0, completed)), variant: 'candidate' });
    extra.complete();
    await turn();
    expect(second.sends[0]!.messages[0]!.headers['rxml-model-variant']?.toString()).toBe('candidate');
    expect(third.sends[0]!.messages[0]!.headers).toMatchObject({ 'rxml-model-variant': Buffer.from('candidate'), tenant: 'a' });
  });
});
