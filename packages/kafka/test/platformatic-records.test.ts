import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  compressionsAlgorithms,
  crc32c,
  createRecord,
  createRecordsBatch,
  NumericMap,
  readRecordsBatch,
  Reader,
  Writer,
  type CreateRecordsBatchOptions,
  type MessageRecord,
} from '@platformatic/kafka';

// @platformatic/kafka 1.35's record batch writer, as installed (with
// patches/@platformatic__kafka@1.35.0.patch: one buffer per batch). The reference below is the
// unpatched algorithm, built from the library's own per-record `createRecord` (which the patch
// leaves as it was) and its `Writer`, so the two must agree byte for byte.
function referenceBatch(messages: MessageRecord[], options: Partial<CreateRecordsBatchOptions> = {}): Buffer {
  const first = messages[0]!.timestamp!;
  let max = first;
  const records = Writer.create();
  messages.forEach((m, i) => {
    if (m.timestamp! > max) max = m.timestamp!;
    records.appendFrom(createRecord(m, i, first));
  });
  let attributes = options.transactionalId ? 0b10000 : 0;
  let body = records.buffer;
  if (options.compression !== undefined && options.compression !== 'none') {
    const algorithm = compressionsAlgorithms[options.compression];
    attributes |= algorithm.bitmask;
    body = algorithm.compressSync(body);
  }
  const writer = Writer.create()
    .appendInt16(attributes)
    .appendInt32(messages.length - 1)
    .appendInt64(first)
    .appendInt64(max)
    .appendInt64(options.producerId ?? -1n)
    .appendInt16(options.producerEpoch ?? 0)
    .appendInt32(options.sequences?.get(`${messages[0]!.topic}:${messages[0]!.partition}`) ?? 0)
    .appendInt32(messages.length)
    .appendFrom(Writer.create().append(body));
  return writer
    .appendUnsignedInt32(crc32c(writer.dynamicBuffer), false)
    .appendInt8(2, false)
    .appendInt32(0, false)
    .prependLength()
    .appendInt64(0n, false).buffer;
}

// kafkajs 2.2.4's record batch decoder: a second, independent reading of the bytes.
const require = createRequire(import.meta.url);
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
type KafkajsRecord = { key: Buffer | null; value: Buffer; headers: Record<string, Buffer>; offset: string; timestamp: string };
const kafkajsBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as unknown as (decoder: unknown) => Promise<{ records: KafkajsRecord[] }>;
const decodeWithKafkajs = (bytes: Buffer): Promise<{ records: KafkajsRecord[] }> => kafkajsBatch(new Decoder(bytes));

const batch = (messages: MessageRecord[], options: Partial<CreateRecordsBatchOptions> = {}): Buffer =>
  createRecordsBatch(messages, options as CreateRecordsBatchOptions).buffer;

const T0 = 1_764_547_200_000n; // 2025-12-01T00:00:00Z in ms
const b = (s: string): Buffer => Buffer.from(s);
const rxmlHeaders = (i: number): Map<Buffer, Buffer> =>
  new Map([
    [b('rxml-model'), b('iris')],
    [b('rxml-model-version'), b('1')],
    [b('rxml-latency-ms'), b(String(i % 97))],
  ]);
const irisMessages = (n: number): MessageRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    topic: 'out',
    partition: i % 3,
    key: b(`k${i}`),
    value: b(JSON.stringify({ label: 'setosa', probabilities: [0.9, 0.05, 0.05], i })),
    headers: rxmlHeaders(i),
    timestamp: T0 + BigInt(i % 5),
  }));

describe('@platformatic/kafka record batch writer (patched: one buffer per batch)', () => {
  it('writes the same bytes as the unpatched writer for rxml output records (3 headers, 300 records: 2-byte offset deltas)', () => {
    const messages = irisMessages(300);
    const patched = batch(messages);
    expect(patched.equals(referenceBatch(messages))).toBe(true);
  });

  it('hands the request a batch of a few buffers, however many records (the unpatched writer: ~20 per record with 3 headers)', () => {
    const one = createRecordsBatch(irisMessages(1), {} as CreateRecordsBatchOptions).buffers.length;
    expect(createRecordsBatch(irisMessages(2000), {} as CreateRecordsBatchOptions).buffers.length).toBe(one);
  });

  it('refuses values that are not bytes or strings (a Float32Array, an array), as the unpatched writer does, instead of mangling them', () => {
    for (const value of [new Float32Array([1.5]), new Uint16Array([513]), [0, 0]]) {
      expect(() => batch([{ topic: 't', value: value as unknown as Buffer, timestamp: T0 }])).toThrow(/must be a Buffer, a Uint8Array or a string/);
      expect(() => batch([{ topic: 't', value: b('v'), headers: new Map([[b('h'), value as unknown as Buffer]]), timestamp: T0 }])).toThrow(/must be a Buffer/);
    }
  });

  it('writes only the own keys of a headers object, as Object.entries gives them (not inherited ones)', () => {
    const inherited = Object.create({ polluted: 'p' }) as Record<string, string>;
    inherited['own'] = 'x';
    const withProto = batch([{ topic: 't', value: b('v'), headers: inherited as never, timestamp: T0 }]);
    const reference = referenceBatch([{ topic: 't', value: b('v'), headers: new Map([[b('own'), b('x')]]), timestamp: T0 }]);
    expect(withProto.equals(reference)).toBe(true);
  });

  it('writes string values and header values as their UTF-8 bytes, the same batch as with Buffers', () => {
    const asBuffers = irisMessages(20);
    asBuffers[3]!.value = b('ünïcödé ✓ 🦀');
    asBuffers[4]!.value = b('x'.repeat(64));
    asBuffers[5]!.value = b('y'.repeat(65));
    asBuffers[6]!.value = b('z'.repeat(63) + 'é');
    const asStrings = asBuffers.map((m) => ({
      ...m,
      value: m.value.toString() as unknown as Buffer,
      headers: new Map([...m.headers!].map(([k, v]) => [k, v.toString() as unknown as Buffer])),
    }));
    expect(batch(asStrings).equals(batch(asBuffers))).toBe(true);
  });

  it('takes headers as a plain object (what the patched client passes on without serializers): the same batch as a Map', () => {
    const asMaps = irisMessages(20);
    const asObjects = asMaps.map((m) => ({ ...m, headers: Object.fromEntries([...m.headers!].map(([k, v]) => [k.toString(), v.toString()])) as never }));
    expect(batch(asObjects).equals(batch(asMaps))).toBe(true);
  });

  it('matches on null keys and values, a null header value, no headers, empty values and multi-byte UTF-8', () => {
    const messages: MessageRecord[] = [
      { topic: 't', value: b('v'), timestamp: T0 },
      { topic: 't', key: b(''), value: b(''), headers: new Map(), timestamp: T0 },
      { topic: 't', key: b('ключ'), value: b('значение 🦀'), headers: new Map([[b('h'), null as unknown as Buffer]]), timestamp: T0 },
      { topic: 't', value: null as unknown as Buffer, headers: new Map([[b('å'), b('ø')]]), timestamp: T0 },
    ];
    expect(batch(messages).equals(referenceBatch(messages))).toBe(true);
  });

  it('matches on varint edges: 127/128/16383/16384-byte and 2 MiB values, negative and 2^30..2^31 ms timestamp deltas', () => {
    const sizes = [0, 63, 64, 127, 128, 8191, 8192, 16_383, 16_384, 2_097_152];
    const messages: MessageRecord[] = sizes.map((size, i) => ({ topic: 't', key: Buffer.alloc(size % 200, 1), value: Buffer.alloc(size, i), timestamp: T0 }));
    messages.push({ topic: 't', value: b('earlier'), timestamp: T0 - 5000n });
    messages.push({ topic: 't', value: b('later'), timestamp: T0 + 2n ** 30n + 7n });
    messages.push({ topic: 't', value: b('earlier still'), timestamp: T0 - 2n ** 30n - 7n });
    expect(batch(messages).equals(referenceBatch(messages))).toBe(true);
  });

  it('encodes timestamp deltas beyond ±2^31 ms as the 64-bit zig-zag varlong of Kafka (the unpatched writer zig-zagged them with a 32-bit sign)', async () => {
    const messages: MessageRecord[] = [
      { topic: 't', value: b('first'), timestamp: T0 },
      { topic: 't', value: b('far later'), timestamp: T0 + 2n ** 31n + 7n },
      { topic: 't', value: b('far earlier'), timestamp: T0 - 2n ** 35n },
    ];
    const read = readRecordsBatch(Reader.from(batch(messages)));
    expect(read.records.map((r) => r.timestampDelta)).toEqual([0n, 2n ** 31n + 7n, -(2n ** 35n)]);
    const { records } = await decodeWithKafkajs(batch(messages));
    expect(records.map((r) => BigInt(r.timestamp))).toEqual(messages.map((m) => m.timestamp));
  });

  it('matches with compression (gzip, snappy, lz4), producer id/epoch, sequences and the transactional flag', () => {
    const messages = irisMessages(50);
    expect(batch(messages, { compression: 'gzip' }).equals(referenceBatch(messages, { compression: 'gzip' }))).toBe(true);
    expect(batch(messages, { producerId: 42n, producerEpoch: 3 }).equals(referenceBatch(messages, { producerId: 42n, producerEpoch: 3 }))).toBe(true);
    for (const compression of ['snappy', 'lz4'] as const) {
      expect(batch(messages, { compression }).equals(referenceBatch(messages, { compression }))).toBe(true);
    }
    const sequences = new NumericMap([['out:0', 17]]);
    const transactional = { producerId: 7n, producerEpoch: 1, transactionalId: 'tx', sequences };
    const onePartition = messages.map((m) => ({ ...m, partition: 0 }));
    expect(batch(onePartition, transactional).equals(referenceBatch(onePartition, transactional))).toBe(true);
  });

  it('reads back (the library reader and the kafkajs decoder, an independent implementation) with every field', () => {
    const messages = irisMessages(5);
    delete messages[1]!.key;
    const bytes = batch(messages);
    const read = readRecordsBatch(Reader.from(bytes));
    expect(read.records.map((r) => [r.key?.toString() ?? null, r.value?.toString(), r.offsetDelta, Number(r.timestampDelta)])).toEqual(
      messages.map((m, i) => [m.key?.toString() ?? null, m.value.toString(), i, Number(m.timestamp! - T0)]),
    );
    expect(read.records[2]!.headers.map(([k, v]) => [k?.toString(), v?.toString()])).toEqual([
      ['rxml-model', 'iris'],
      ['rxml-model-version', '1'],
      ['rxml-latency-ms', '2'],
    ]);

    return decodeWithKafkajs(bytes).then(({ records }) => {
      expect(records.map((r) => [r.offset, r.key?.toString() ?? null, r.value.toString(), r.headers['rxml-latency-ms']?.toString()])).toEqual(
        messages.map((m, i) => [String(i), m.key?.toString() ?? null, m.value.toString(), String(i % 97)]),
      );
    });
  });
});
