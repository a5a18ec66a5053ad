import { CHANNELS, inputErrorOf, RxmlError, subscribe, type ModelLifecycleMessage, type PredictResult } from '@rxml/core/contract';
import { committedOffsets, createTopics, endOffsets } from '@rxml/kafka-testkit';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { lastValueFrom, map, take, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromKafka, modelsFromKafka, registerKafkaCodecs, toKafka, type KafkaRecord, type KafkaSourceEvent } from '../src/index.js';
import { javaConsume, javaProduce, type JavaRecord } from './support/java.js';
import { brokers, fresh, until } from './support/index.js';

/** The consumers' fetch bound, so the derived default bound is 2 MiB. */
const MAX_BYTES = 2 * 1024 * 1024;
const MiB = 1024 * 1024;

/** `ok-*` values succeed, anything else (the skipped batches' stand-ins) fails. */
function score(record: KafkaRecord<Buffer | null>): PredictResult<KafkaRecord<Buffer | null>, { label: string }> {
  const unreadable = inputErrorOf(record);
  if (unreadable !== undefined) return { ok: false, input: record, error: unreadable };
  const text = record.value?.subarray(0, 12).toString('latin1') ?? '';
  if (text.startsWith('ok-')) return { ok: true, input: record, value: { label: text }, model: { name: 'bomb-test', version: '1' }, latencyMs: 1 };
  return { ok: false, input: record, error: new RxmlError('INVALID_INPUT', `cannot score ${JSON.stringify(text)}`) };
}

/** A zip-bomb-like batch: `n` records of 1 MiB of zeros each (gzip ~1000:1, zstd more, lz4 ~250:1, snappy ~21:1). */
const bomb = (tag: string, n = 8): { key: Buffer; value: Buffer }[] => Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`${tag}-${i}`), value: Buffer.alloc(MiB) }));

/** Ordinary compressible text, `bytes` long, starting with `ok-`. */
const text = (tag: string, bytes: number): Buffer => Buffer.from(`ok-${tag} `.padEnd(bytes, `${tag} lorem ipsum dolor sit amet `));

const header = (r: JavaRecord, name: string): string | undefined => r.headers.filter(([n]) => n === name).at(-1)?.[1]?.toString();

describe('compressed batches that inflate past maxDecompressedBatchBytes (real broker)', () => {
  // One input topic for both tests: bombs in each codec between ordinary records and batches.
  const input = fresh('bomb-in');
  const bombs: { codec: string; first: number; last: number }[] = [];
  let total = 0;

  beforeAll(async () => {
    await createTopics(brokers(), [{ topic: input, partitions: 1 }]);
    registerKafkaCodecs();
    const producer = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    // One send = one record batch of the partition, in that codec.
    const send = async (messages: { key: Buffer; value: Buffer }[], compression: CompressionTypes): Promise<void> => {
      await producer.send({ topic: input, compression, messages: messages.map((m) => ({ ...m, partition: 0 })) });
    };
    const bombBy = async (codec: string, write: () => Promise<unknown>, n = 8): Promise<void> => {
      bombs.push({ codec, first: total, last: total + n - 1 });
      await write();
      total += n;
    };
    try {
      await send([{ key: Buffer.from('plain-0'), value: Buffer.from('ok-plain-0') }], CompressionTypes.None);
      total += 1;
      await bombBy('gzip', () => send(bomb('gzip'), CompressionTypes.GZIP));
      // The Java producer: xerial-framed snappy, streaming zstd frames without a content size.
      const java = (codec: string) => () =>
        javaProduce(
          brokers(),
          input,
          bomb(codec).map((m) => ({ partition: 0, ...m, headers: [] })),
          { 'compression.type': codec, 'batch.size': 64 * MiB, 'linger.ms': 5_000, 'max.request.size': 64 * MiB, 'buffer.memory': 128 * MiB },
        );
      await bombBy('snappy', java('snappy'));
      await bombBy('lz4', () => send(bomb('lz4'), CompressionTypes.LZ4));
      await bombBy('zstd', java('zstd'));
      // Ordinary compressed batches under the bound (1.2 MB of text each) go through untouched.
      for (const [tag, codec] of [['gzip-ok', CompressionTypes.GZIP], ['lz4-ok', CompressionTypes.LZ4], ['zstd-ok', CompressionTypes.ZSTD], ['snappy-ok', CompressionTypes.Snappy]] as const) {
        await send([0, 1, 2].map((i) => ({ key: Buffer.from(`${tag}-${i}`), value: text(`${tag}-${i}`, 400_000) })), codec);
        total += 3;
      }
      await send([{ key: Buffer.from('plain-last'), value: Buffer.from('ok-plain-last') }], CompressionTypes.None);
      total += 1;
    } finally {
      await producer.disconnect();
    }
    expect((await endOffsets(brokers(), input)).get(0)).toBe(String(total));
  }, 120_000);

  it.each([{ mode: 'at-least-once' }, { mode: 'exactly-once' }])(
    '$mode: each bomb becomes one LIMIT_EXCEEDED dead letter and a batch-skipped event with its offsets; ordinary batches are processed; everything is committed',
    async ({ mode }) => {
      const [output, dead, group] = [fresh('bomb-out'), fresh('bomb-dlq'), fresh('bomb-group')];
      await createTopics(brokers(), [{ topic: output, partitions: 1 }, { topic: dead, partitions: 1 }]);
      const events: KafkaSourceEvent[] = [];
      const expected = total - bombs.reduce((n, b) => n + (b.last - b.first + 1), 0) + bombs.length;
      const delivered = await lastValueFrom(
        fromKafka({ brokers: brokers(), topic: input, groupId: group, deserialize: 'bytes', maxBytes: MAX_BYTES, logLevel: logLevel.NOTHING, onEvent: (e) => events.push(e) }).pipe(
          map(score),
          toKafka({
            brokers: brokers(),
            topic: output,
            deadLetterTopic: dead,
            logLevel: logLevel.NOTHING,
            ...(mode === 'exactly-once' ? { exactlyOnce: true, transactionalId: fresh('bomb-app'), deliveryTimeoutMs: 20_000 } : {}),
          }),
          take(expected),
          toArray(),
        ),
      );
      await until(async () => (await committedOffsets(brokers(), group, input)).get(0) === String(total), 15_000, 'every input offset committed');

      // One dead letter per bomb, at the bomb's last offset, in input order with the others.
      const letters = delivered.filter((d) => d.deadLetter);
      expect(letters.map((d) => d.result.input.offset)).toEqual(bombs.map((b) => String(b.last)));
      for (const [i, d] of letters.entries()) {
        expect(d.error?.code).toBe('LIMIT_EXCEEDED');
        expect(d.error?.message).toContain(`${input}[0]@${bombs[i]!.first}..${bombs[i]!.last} (8 records, ${bombs[i]!.codec}`);
        expect(d.error?.message).toContain(`over maxDecompressedBatchBytes ${MAX_BYTES}`);
      }
      expect(delivered.filter((d) => !d.deadLetter).map((d) => d.result.input.key?.toString())).toEqual([
        'plain-0',
        ...['gzip-ok', 'lz4-ok', 'zstd-ok', 'snappy-ok'].flatMap((tag) => [0, 1, 2].map((i) => `${tag}-${i}`)),
        'plain-last',
      ]);

      const skipped = events.filter((e): e is Extract<KafkaSourceEvent, { type: 'batch-skipped' }> => e.type === 'batch-skipped');
      expect(skipped.map((e) => [e.codec, e.firstOffset, e.lastOffset, e.records, e.limit])).toEqual(bombs.map((b) => [b.codec, String(b.first), String(b.last), 8, MAX_BYTES]));
      for (const e of skipped) {
        expect(e.error).toBeInstanceOf(RxmlError);
        expect(e.decompressedBytes).toBeGreaterThan(MAX_BYTES);
        // Never inflated whole: gzip and zstd stopped one byte past the bound.
        if (e.codec === 'gzip' || e.codec === 'zstd') expect(e.decompressedBytes).toBe(MAX_BYTES + 1);
        // Snappy declares its 8 MiB of values plus the records' framing.
        if (e.codec === 'snappy') expect(e.decompressedBytes - 8 * MiB).toSatisfy((extra: number) => extra > 0 && extra < 1_000);
      }

      // What a read_committed Java consumer sees in the dead-letter topic: one letter per bomb, saying which offsets.
      const read = await javaConsume(brokers(), dead, { 'isolation.level': 'read_committed' });
      expect(read.map((r) => [header(r, 'rxml-batch-codec'), header(r, 'rxml-batch-first-offset'), header(r, 'rxml-batch-last-offset'), header(r, 'rxml-batch-records'), header(r, 'rxml-source-offset')])).toEqual(
        bombs.map((b) => [b.codec, String(b.first), String(b.last), '8', String(b.last)]),
      );
      for (const r of read) {
        expect(r.key).toBeNull();
        expect(r.value).toBeNull();
        expect(header(r, 'rxml-error-code')).toBe('LIMIT_EXCEEDED');
      }
      expect((await javaConsume(brokers(), output, { 'isolation.level': 'read_committed' })).length).toBe(expected - bombs.length);
    },
  );

  it('modelsFromKafka: a batch inflating past maxArtifactBytes + 1 MiB (at least 10 MiB) is a refused event naming its offsets', async () => {
    const topic = fresh('bomb-models');
    await createTopics(brokers(), [{ topic, partitions: 1 }]);
    const producer = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    try {
      // 12 records of the model, 1 MiB of zeros each, one gzip batch: 12 MiB inflated, over max(10 MiB, 1 MiB + 1 MiB).
      await producer.send({ topic, compression: CompressionTypes.GZIP, messages: Array.from({ length: 12 }, () => ({ key: 'iris', value: Buffer.alloc(MiB), partition: 0 })) });
    } finally {
      await producer.disconnect();
    }
    const events: ModelLifecycleMessage[] = [];
    const off = subscribe(CHANNELS.modelLifecycle, (e) => {
      if (e.source === `modelsFromKafka ${topic}`) events.push(e);
    });
    const subscription = modelsFromKafka({ brokers: brokers(), topic, name: 'iris', maxArtifactBytes: MiB, logLevel: logLevel.NOTHING }).subscribe();
    try {
      await until(() => events.some((e) => e.type === 'refused'), 30_000, 'a refused event for the skipped batch');
    } finally {
      subscription.unsubscribe();
      off();
    }
    const refused = events.find((e) => e.type === 'refused')!;
    expect(refused.error?.code).toBe('LIMIT_EXCEEDED');
    expect(refused.reason).toContain(`${topic}[0]@0..11: a gzip batch of 12 records inflating to more than ${10 * MiB} bytes`);
  });
});
