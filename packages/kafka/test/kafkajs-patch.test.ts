import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

// kafkajs 2.2.4's read_committed filter, as installed (with patches/kafkajs@2.2.4.patch).
const require = createRequire(import.meta.url);
const filterAbortedMessages = require('kafkajs/src/consumer/filterAbortedMessages') as (args: {
  messages: readonly { offset: string; key: Buffer | null; batchContext: { producerId: string; inTransaction: boolean } }[];
  abortedTransactions: readonly { firstOffset: string; producerId: string }[];
}) => { offset: string }[];

const record = (offset: number, producerId: string) => ({ offset: String(offset), key: Buffer.from(`k${offset}`), batchContext: { producerId, inTransaction: true } });

describe('kafkajs read_committed filter (patched)', () => {
  it('drops the records of every aborted transaction that started before the fetch, not only the first', () => {
    // Producers 7 and 8 both opened transactions before offset 100 (where this fetch starts) and
    // both were aborted; producer 9 committed. Unpatched kafkajs entered one aborted transaction per
    // message and returned 8's record at 100.
    const messages = [record(100, '8'), record(101, '7'), record(102, '9'), record(103, '8')];
    const kept = filterAbortedMessages({ messages, abortedTransactions: [{ firstOffset: '90', producerId: '7' }, { firstOffset: '95', producerId: '8' }] });
    expect(kept.map((m) => m.offset)).toEqual(['102']);
  });

  it('enters aborted transactions in first-offset order, though the broker lists them in abort-marker order', () => {
    // Producer 7's transaction started at 100 and was aborted after producer 8's, which started at
    // 101: the broker's transaction index lists 8 first. Unpatched kafkajs looked only at the head
    // of the list (101) and returned 7's record at 100.
    const messages = [record(100, '7'), record(101, '8'), record(102, '9'), record(103, '7')];
    const kept = filterAbortedMessages({ messages, abortedTransactions: [{ firstOffset: '101', producerId: '8' }, { firstOffset: '100', producerId: '7' }] });
    expect(kept.map((m) => m.offset)).toEqual(['102']);
  });
});

// kafkajs 2.2.4's record encoder and decoder, as installed (with patches/kafkajs@2.2.4.patch).
type Headers = Record<string, Buffer | string | null | (Buffer | string | null)[]>;
const encodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (record: { key: Buffer | null; value: Buffer | null; headers: Headers }) => { buffer: Buffer };
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => { readVarIntBytes(): Buffer };
const decodeRecord = require('kafkajs/src/protocol/recordBatch/record/v0/decoder') as (decoder: unknown, context: object) => { headers: Headers; value: Buffer | null };

describe('kafkajs record encoder (patched)', () => {
  it('writes a null header value as length -1 (Kafka record format) and keeps the other headers byte for byte', () => {
    const headers: Headers = { tenant: null, hop: [Buffer.from('gateway-a'), null, 'router-c'], bin: Buffer.from([0, 255, 1]), empty: Buffer.alloc(0) };
    // Unpatched kafkajs threw here: Buffer.byteLength(null).
    const encoded = encodeRecord({ key: Buffer.from('k'), value: null, headers }).buffer;
    const decoded = decodeRecord(new Decoder(new Decoder(encoded).readVarIntBytes()), { firstOffset: '0', firstTimestamp: '0' });
    expect(decoded.value).toBeNull();
    expect(decoded.headers).toEqual({ tenant: null, hop: [Buffer.from('gateway-a'), null, Buffer.from('router-c')], bin: Buffer.from([0, 255, 1]), empty: Buffer.alloc(0) });
    // "tenant" (varint length 6 zig-zag = 12), then the value's length -1 (zig-zag 1), nothing after it.
    const at = encoded.indexOf(Buffer.concat([Buffer.from([12]), Buffer.from('tenant')]));
    expect(encoded[at + 7]).toBe(1);
  });

  it('keeps headers in record order, interleaved repeated names included: the decoder attaches the list, the encoder writes it', () => {
    const LIST = Symbol.for('rxml.kafka.headerList');
    const list = [
      { key: 'hop', value: Buffer.from('gateway-a') },
      { key: 'tenant', value: null },
      { key: 'hop', value: Buffer.from('enricher-b') },
      { key: 'hop', value: Buffer.from('router-c') },
    ];
    // The object view groups names (hop, hop, hop, tenant); the list rides along and wins.
    const headers: Headers = { hop: [Buffer.from('gateway-a'), Buffer.from('enricher-b'), Buffer.from('router-c')], tenant: null };
    Object.defineProperty(headers, LIST, { value: list });
    const encoded = encodeRecord({ key: null, value: Buffer.from('v'), headers }).buffer;
    const decoded = decodeRecord(new Decoder(new Decoder(encoded).readVarIntBytes()), { firstOffset: '0', firstTimestamp: '0' });
    expect((decoded.headers as unknown as Record<symbol, unknown>)[LIST]).toEqual(list);
    expect(Object.keys(decoded.headers)).toEqual(['hop', 'tenant']); // the documented object shape is unchanged
    expect(decoded.headers.hop).toEqual([Buffer.from('gateway-a'), Buffer.from('enricher-b'), Buffer.from('router-c')]);
    // Without the list, kafkajs writes names grouped: hop, hop, hop, tenant.
    const grouped = encodeRecord({ key: null, value: Buffer.from('v'), headers: { ...headers } }).buffer;
    const regrouped = decodeRecord(new Decoder(new Decoder(grouped).readVarIntBytes()), { firstOffset: '0', firstTimestamp: '0' });
    expect(((regrouped.headers as unknown as Record<symbol, { key: string }[]>)[LIST] ?? []).map((h) => h.key)).toEqual(['hop', 'hop', 'hop', 'tenant']);
  });
});

// The record decoder computes offsets and timestamps with numbers when every term is a safe
// integer; the result must be the text kafkajs' own (BigInt-backed) Long arithmetic gives, whatever the terms.
const Long = require('kafkajs/src/utils/long') as { fromValue(v: string | number | bigint): unknown };
const { LOG_APPEND_TIME } = require('kafkajs/src/protocol/timestampTypes') as { LOG_APPEND_TIME: number };

function decodeWith(context: object, offsetDelta: number, timestampDelta: bigint): { offset: string; timestamp: string } {
  const encoded = encodeRecord({ offsetDelta, timestampDelta: Long.fromValue(timestampDelta), key: null, value: Buffer.from('v'), headers: {} } as never).buffer;
  return decodeRecord(new Decoder(new Decoder(encoded).readVarIntBytes()), context) as never;
}

describe('kafkajs record decoder (patched): offsets and timestamps', () => {
  const firsts = ['0', '1', '42', '1700000000000', '-1', String(2 ** 53 - 2), String(2 ** 53), '9223372036854775000', '-9223372036854775000'];
  const offsetDeltas = [0, 1, 63, 64, 8191, 8192, 2 ** 20, 2 ** 31 - 1];
  const timestampDeltas = [0n, 1n, -1n, 63n, -64n, 64n, 2n ** 47n - 1n, -(2n ** 47n), 2n ** 47n, 2n ** 48n, -(2n ** 48n) - 1n, 2n ** 55n, -(2n ** 62n), 2n ** 53n + 1n];

  it("equals kafkajs' Long arithmetic for safe, unsafe, negative and 7-to-9-byte deltas", () => {
    let checked = 0;
    for (const firstOffset of firsts) {
      for (const firstTimestamp of firsts) {
        for (const offsetDelta of offsetDeltas) {
          for (const timestampDelta of timestampDeltas) {
            const offset = BigInt(firstOffset) + BigInt(offsetDelta);
            const timestamp = BigInt(firstTimestamp) + timestampDelta;
            const decoded = decodeWith({ firstOffset, firstTimestamp }, offsetDelta, timestampDelta);
            expect(decoded.offset, `${firstOffset} + ${offsetDelta}`).toBe(String(offset));
            expect(decoded.timestamp, `${firstTimestamp} + ${timestampDelta}`).toBe(String(timestamp));
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(firsts.length ** 2 * offsetDeltas.length * timestampDeltas.length);
  });

  it('takes each batch\'s own first offset and timestamp when batches alternate', () => {
    expect(decodeWith({ firstOffset: '100', firstTimestamp: '5000' }, 3, 7n)).toMatchObject({ offset: '103', timestamp: '5007' });
    expect(decodeWith({ firstOffset: '9000', firstTimestamp: '1' }, 3, 0n)).toMatchObject({ offset: '9003', timestamp: '1' });
    expect(decodeWith({ firstOffset: '100', firstTimestamp: '5000' }, 4, -2n)).toMatchObject({ offset: '104', timestamp: '4998' });
  });

  it('uses the batch\'s max timestamp for log-append-time topics', () => {
    const decoded = decodeWith({ firstOffset: '0', firstTimestamp: '100', timestampType: LOG_APPEND_TIME, maxTimestamp: '123456' }, 0, 5n);
    expect(decoded.timestamp).toBe('123456');
  });

  it('gives records without headers an empty headers object of their own', () => {
    const a = decodeWith({ firstOffset: '0', firstTimestamp: '0' }, 0, 0n) as unknown as { headers: object };
    const b = decodeWith({ firstOffset: '0', firstTimestamp: '0' }, 1, 0n) as unknown as { headers: object };
    expect(a.headers).toEqual({});
    expect(a.headers).not.toBe(b.headers);
  });
});

// A signal in the retry options (what withRetryStop puts there) ends kafkajs' retry loops: a client
// rxml gave up on must not go on connecting through its remaining backoff.
const createRetry = require('kafkajs/src/retry') as (options: object) => <T>(fn: (bail: (error: Error) => void, retryCount: number) => Promise<T>) => Promise<T>;
const RETRY_ABORT = Symbol.for('rxml.kafka.retryAbort');
const connectionError = (): Error => Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true });

describe('kafkajs retry loop (patched): ends when its signal aborts', () => {
  it('rejects at once, between attempts, with the last error (not retriable), and makes no further attempt', async () => {
    const controller = new AbortController();
    let attempts = 0;
    const loop = createRetry({ retries: 5, initialRetryTime: 60_000, [RETRY_ABORT]: controller.signal })(() => {
      attempts++;
      return Promise.reject(connectionError());
    });
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    await expect(loop).rejects.toMatchObject({ name: 'KafkaJSNonRetriableError', message: 'Connection error: connect ECONNREFUSED', retriable: false });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(attempts).toBe(1);
  });

  it('gives an attempt that fails after the abort no retry', async () => {
    const controller = new AbortController();
    let attempts = 0;
    const loop = createRetry({ retries: 5, initialRetryTime: 60_000, [RETRY_ABORT]: controller.signal })(async () => {
      attempts++;
      controller.abort();
      throw connectionError();
    });
    await expect(loop).rejects.toMatchObject({ name: 'KafkaJSNonRetriableError', retriable: false });
    expect(attempts).toBe(1);
  });

  it('retries as before while the signal is not aborted, and without one', async () => {
    for (const options of [{ [RETRY_ABORT]: new AbortController().signal }, {}]) {
      let attempts = 0;
      const loop = createRetry({ retries: 2, initialRetryTime: 1, ...options })(async () => {
        attempts++;
        if (attempts < 3) throw connectionError();
        return 'connected';
      });
      await expect(loop).resolves.toBe('connected');
      expect(attempts).toBe(3);
    }
  });
});

// A produce request carries every topic of a batch; the broker answers per topic and partition.
type ProduceParse = (data: object) => Promise<unknown>;
const parseProduceV0 = (require('kafkajs/src/protocol/requests/produce/v0/response') as { parse: ProduceParse }).parse;
const parseProduceV3 = (require('kafkajs/src/protocol/requests/produce/v3/response') as { parse: ProduceParse }).parse;
const parseSaslHandshake = (require('kafkajs/src/protocol/requests/saslHandshake/v0/response') as { parse: ProduceParse }).parse;

describe('kafkajs protocol errors (patched): what the broker said is kept on the error', () => {
  it('a produce error lists the refused topics and partitions (v0 and v3+ responses)', async () => {
    const partition = (p: number, errorCode: number) => ({ partition: p, errorCode, baseOffset: '-1', logAppendTime: '-1', offset: '-1' });
    const data = { topics: [{ topicName: 'out', partitions: [partition(0, 0), partition(1, 0)] }, { topicName: 'dlq', partitions: [partition(0, 29)] }], throttleTime: 0 };
    for (const parse of [parseProduceV0, parseProduceV3]) {
      await expect(parse(data)).rejects.toMatchObject({
        type: 'TOPIC_AUTHORIZATION_FAILED',
        partitionErrors: [{ topic: 'dlq', partition: 0, errorCode: 29, type: 'TOPIC_AUTHORIZATION_FAILED' }],
      });
    }
    await expect(parseProduceV3({ topics: [{ topicName: 'out', partitions: [partition(0, 0)] }], throttleTime: 0 })).resolves.toBeDefined();
  });

  it('a refused SASL mechanism carries the mechanisms the broker offers', async () => {
    await expect(parseSaslHandshake({ errorCode: 33, enabledMechanisms: ['PLAIN', 'SCRAM-SHA-256'] })).rejects.toMatchObject({ type: 'UNSUPPORTED_SASL_MECHANISM', enabledMechanisms: ['PLAIN', 'SCRAM-SHA-256'] });
  });
});
